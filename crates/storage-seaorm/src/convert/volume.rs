//! `volume_history` rows ⇄ ([`ServiceKind`], [`PastVolume`]): the kind as a tag, the register
//! values as `;`-separated exact decimals, and the origin of the row — [`BILLED`] (written
//! with the charge set that billed the period) or [`IMPORTED`] (history from a previous
//! system, which an import may replace; a billed row it may not).

use billing_core::ids::AccountId;
use billing_core::ports::RepoError;
use billing_core::service::ServiceKind;
use billing_core::volume::PastVolume;

use super::Row;
use super::billing::{period_code, service_tag, to_db_id, volume_kind_tag, zone_values_text};
use crate::CorruptRow;
use crate::entity::volume;

/// The origin of a volume stored with the charge set that billed it.
pub const BILLED: &str = "billed";
/// The origin of a volume imported from a previous system.
pub const IMPORTED: &str = "imported";

/// The row of `account`'s volume of `service`, of origin [`BILLED`] or [`IMPORTED`].
pub fn to_row(
    account: AccountId,
    service: ServiceKind,
    v: &PastVolume,
    origin: &'static str,
) -> Result<volume::ActiveModel, RepoError> {
    use sea_orm::ActiveValue::Set;
    Ok(volume::ActiveModel {
        account_id: Set(to_db_id(account.get())?),
        service: Set(service_tag(service).to_owned()),
        period: Set(period_code(v.period)),
        kind: Set(volume_kind_tag(v.kind).to_owned()),
        register_values: Set(zone_values_text(&v.values)),
        origin: Set(origin.to_owned()),
    })
}

/// The volume a row stores.
pub fn from_row(m: volume::Model) -> Result<PastVolume, CorruptRow> {
    let row = Row::new(
        "volume_history",
        format!(
            "account {} service {} period {}",
            m.account_id, m.service, m.period
        ),
    );
    if m.origin != BILLED && m.origin != IMPORTED {
        return Err(row.bad("origin", format!("unknown tag '{}'", m.origin)));
    }
    Ok(PastVolume {
        period: row.period("period", m.period)?,
        kind: row.volume_kind("kind", &m.kind)?,
        values: row.zone_values("register_values", &m.register_values)?,
    })
}
