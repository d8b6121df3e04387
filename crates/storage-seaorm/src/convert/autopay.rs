//! [`AutopaySettings`] ⇄ an `autopay_settings` row.
//!
//! The mode is a tag (`full_debt`, `fixed`) and the fixed amount its own nullable column, set
//! for `fixed` only; money is [`Exact`](crate::entity::Exact), the day a SMALLINT, the version
//! BIGINT. Reading back, an unknown tag, a `fixed` row without an amount or a `full_debt` row
//! with one, an amount that does not parse, a day that is not a `u8` or a version below 1 (a
//! stored row has been written at least once) is a [`CorruptRow`].

use billing_core::autopay::{AutopayMode, AutopaySettings};
use billing_core::ids::AccountId;
use billing_core::ports::RepoError;

use super::Row;
use super::billing::{money, to_db_id};
use crate::CorruptRow;
use crate::entity::autopay_setting::Model;

/// The table name.
pub const TABLE: &str = "autopay_settings";

/// The most characters a payer reference may have (the column is `VARCHAR(64)`).
pub const PAYER_MAX_CHARS: usize = 64;

const FULL_DEBT: &str = "full_debt";
const FIXED: &str = "fixed";

/// The tag of a mode in the `mode` column.
pub fn mode_tag(mode: AutopayMode) -> &'static str {
    match mode {
        AutopayMode::FullDebt => FULL_DEBT,
        AutopayMode::Fixed(_) => FIXED,
    }
}

/// The payer as stored: refused (nothing is written) when it is longer than the column allows,
/// rather than truncated on one backend and stored whole on the other.
fn payer_column(payer: &str) -> Result<&str, RepoError> {
    if payer.chars().count() > PAYER_MAX_CHARS {
        return Err(RepoError::Unavailable(format!(
            "payer reference longer than {PAYER_MAX_CHARS} characters"
        )));
    }
    Ok(payer)
}

/// The row that stores `settings` as version `version`.
pub fn to_row(settings: &AutopaySettings, version: u64) -> Result<Model, RepoError> {
    let amount = match settings.mode {
        AutopayMode::FullDebt => None,
        AutopayMode::Fixed(amount) => Some(money(amount)),
    };
    Ok(Model {
        account_id: to_db_id(settings.account.get())?,
        payer: payer_column(&settings.payer)?.to_owned(),
        enabled: settings.enabled,
        mode: mode_tag(settings.mode).to_owned(),
        amount,
        day_of_month: i16::from(settings.day_of_month),
        limit_amount: settings.limit.map(money),
        version: i64::try_from(version).map_err(|_| {
            RepoError::Unavailable(format!("autopay version {version} is too large to store"))
        })?,
    })
}

/// The settings a row stores.
pub fn from_row(m: Model) -> Result<AutopaySettings, CorruptRow> {
    let row = Row::new(
        TABLE,
        format!("account_id {}, payer {}", m.account_id, m.payer),
    );
    let mode = match (m.mode.as_str(), &m.amount) {
        (FULL_DEBT, None) => AutopayMode::FullDebt,
        (FIXED, Some(amount)) => AutopayMode::Fixed(row.money("amount", amount)?),
        (FULL_DEBT, Some(_)) => return Err(row.bad("amount", "set in mode full_debt")),
        (FIXED, None) => return Err(row.bad("amount", "missing in mode fixed")),
        (tag, _) => return Err(row.bad("mode", format!("unknown tag '{tag}'"))),
    };
    let version = row.id("version", m.version)?;
    if version == 0 {
        return Err(row.bad("version", "0 is never stored"));
    }
    Ok(AutopaySettings {
        account: AccountId::new(row.id("account_id", m.account_id)?),
        enabled: m.enabled,
        mode,
        day_of_month: u8::try_from(m.day_of_month)
            .map_err(|_| row.bad("day_of_month", format!("{} is not a day", m.day_of_month)))?,
        limit: m
            .limit_amount
            .as_ref()
            .map(|limit| row.money("limit_amount", limit))
            .transpose()?,
        version,
        payer: m.payer,
    })
}

#[cfg(test)]
mod tests {
    use billing_core::money::Money;

    use super::*;

    fn settings(mode: AutopayMode, limit: Option<Money>) -> AutopaySettings {
        AutopaySettings {
            account: AccountId::new(1_000_001),
            payer: "0123456789abcdef0123456789abcdef".into(),
            enabled: true,
            mode,
            day_of_month: 28,
            limit,
            version: 0,
        }
    }

    #[test]
    fn settings_round_trip_in_both_modes() {
        for s in [
            settings(AutopayMode::FullDebt, None),
            settings(AutopayMode::FullDebt, Some(Money::from_kopecks(150_001))),
            settings(AutopayMode::Fixed(Money::from_kopecks(12_345)), None),
            settings(
                AutopayMode::Fixed(Money::from_roubles(500)),
                Some(Money::from_roubles(700)),
            ),
        ] {
            let row = to_row(&s, 3).unwrap();
            assert_eq!(row.mode, mode_tag(s.mode));
            assert_eq!(row.version, 3);
            assert_eq!(from_row(row).unwrap(), AutopaySettings { version: 3, ..s });
        }
    }

    #[test]
    fn a_payer_too_long_for_the_column_is_refused() {
        let mut s = settings(AutopayMode::FullDebt, None);
        s.payer = "я".repeat(PAYER_MAX_CHARS);
        assert!(to_row(&s, 1).is_ok());
        s.payer.push('я');
        assert!(matches!(to_row(&s, 1), Err(RepoError::Unavailable(_))));
    }

    #[test]
    fn a_damaged_row_is_a_corrupt_row() {
        let fixed = to_row(
            &settings(AutopayMode::Fixed(Money::from_roubles(500)), None),
            1,
        )
        .unwrap();
        let debt = to_row(&settings(AutopayMode::FullDebt, None), 1).unwrap();
        for (damaged, column) in [
            (
                Model {
                    amount: None,
                    ..fixed.clone()
                },
                "amount",
            ),
            (
                Model {
                    amount: fixed.amount.clone(),
                    ..debt.clone()
                },
                "amount",
            ),
            (
                Model {
                    mode: "weekly".into(),
                    ..debt.clone()
                },
                "mode",
            ),
            (
                Model {
                    amount: Some(crate::entity::Exact("5.0.0".into())),
                    ..fixed.clone()
                },
                "amount",
            ),
            (
                Model {
                    limit_amount: Some(crate::entity::Exact("1.001".into())),
                    ..debt.clone()
                },
                "limit_amount",
            ),
            (
                Model {
                    day_of_month: 300,
                    ..debt.clone()
                },
                "day_of_month",
            ),
            (
                Model {
                    version: 0,
                    ..debt.clone()
                },
                "version",
            ),
            (
                Model {
                    account_id: -1,
                    ..debt.clone()
                },
                "account_id",
            ),
        ] {
            let message = from_row(damaged).unwrap_err().to_string();
            assert!(
                message.starts_with("corrupt row in autopay_settings (account_id ")
                    && message.contains(&format!("{column}: ")),
                "{column}: {message}"
            );
        }
    }
}
