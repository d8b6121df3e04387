//! [`ChargeSet`] ⇄ a `charge_sets` row.
//!
//! The set's header is columns; its lines are one JSON array in bill order, each element the
//! JSON of the domain's [`ChargeLine`] — quantity, unit, price, tariff, days and the basis that
//! explains it (until migration 37 each line was a `charge_lines` row holding that same JSON).
//! The volumes are the JSON of the domain's `PeriodVolume`s keyed by this adapter's service
//! tags; the applied recalculations are this adapter's own JSON. The golden tests below pin
//! every JSON form, so a change of a domain type's serde form fails a test instead of silently
//! changing what is stored. Reading back, a line of another account or period, or a total that
//! is not the sum of the lines, is a corrupt row.

use billing_core::charge::ChargeLine;
use billing_core::ids::{AccountId, ReadingId, RecalculationId, SupplierId};
use billing_core::ports::{ChargeSet, PendingRecalculation, RecalculationKind, RepoError};
use billing_core::volume::PeriodVolume;
use serde::{Deserialize, Serialize};

use super::Row;
use super::billing::{day_text, money, period_code, service_tag, to_db_id};
use super::recalculation::kind_tag;
use crate::CorruptRow;
use crate::entity::charge_set;

/// The table name of set rows.
pub const SETS: &str = "charge_sets";

/// A stored applied recalculation (this adapter's JSON form).
#[derive(Serialize, Deserialize)]
struct StoredRecalculation {
    id: u64,
    account: u64,
    service: String,
    of_period: i32,
    billed_from: i32,
    amount: String,
    reason: String,
    kind: String,
    recorded_on: String,
    reading: u64,
}

/// The `charge_sets` row of `set`.
pub fn set_row(set: &ChargeSet) -> Result<charge_set::Model, RepoError> {
    let volumes: Vec<(&str, &PeriodVolume)> = set
        .volumes
        .iter()
        .map(|(s, v)| (service_tag(*s), v))
        .collect();
    let recalculations: Vec<StoredRecalculation> = set
        .recalculations
        .iter()
        .map(|r| StoredRecalculation {
            id: r.id.get(),
            account: r.account.get(),
            service: service_tag(r.service).to_owned(),
            of_period: period_code(r.of_period),
            billed_from: period_code(r.billed_from),
            amount: r.amount.amount().to_string(),
            reason: r.reason.clone(),
            kind: kind_tag(r.kind).to_owned(),
            recorded_on: day_text(r.recorded_on),
            reading: r.reading.get(),
        })
        .collect();
    let json = |e: serde_json::Error| RepoError::Unavailable(format!("encode charge set: {e}"));
    Ok(charge_set::Model {
        account_id: to_db_id(set.account.get())?,
        period: period_code(set.period),
        supplier_id: to_db_id(set.supplier.get())?,
        posted_on: day_text(set.posted_on),
        due_date: day_text(set.due_date),
        total: money(set.total()),
        volumes: serde_json::to_string(&volumes).map_err(json)?,
        recalculations: serde_json::to_string(&recalculations).map_err(json)?,
        lines: serde_json::to_string(&set.lines).map_err(json)?,
    })
}

/// The set stored as `set`.
pub fn to_set(set: charge_set::Model) -> Result<ChargeSet, CorruptRow> {
    let row = Row::new(
        SETS,
        format!("account {} period {}", set.account_id, set.period),
    );
    let account = AccountId::new(row.id("account_id", set.account_id)?);
    let period = row.period("period", set.period)?;
    let volumes: Vec<(String, PeriodVolume)> =
        serde_json::from_str(&set.volumes).map_err(|e| row.bad("volumes", e))?;
    let volumes = volumes
        .into_iter()
        .map(|(s, v)| Ok((row.service("volumes", Some(&s))?, v)))
        .collect::<Result<Vec<_>, CorruptRow>>()?;
    let stored: Vec<StoredRecalculation> =
        serde_json::from_str(&set.recalculations).map_err(|e| row.bad("recalculations", e))?;
    let recalculations = stored
        .into_iter()
        .map(|r| {
            let col = "recalculations";
            Ok(PendingRecalculation {
                id: RecalculationId::new(r.id),
                account: AccountId::new(r.account),
                service: row.service(col, Some(&r.service))?,
                of_period: row.period(col, r.of_period)?,
                billed_from: row.period(col, r.billed_from)?,
                amount: row.money(col, &crate::entity::Exact(r.amount))?,
                reason: r.reason,
                kind: match r.kind.as_str() {
                    "control_check" => RecalculationKind::ControlCheck,
                    "reading_correction" => RecalculationKind::ReadingCorrection,
                    other => return Err(row.bad(col, format!("unknown kind '{other}'"))),
                },
                recorded_on: row.day(col, &r.recorded_on)?,
                reading: ReadingId::new(r.reading),
            })
        })
        .collect::<Result<Vec<_>, CorruptRow>>()?;
    let lines: Vec<ChargeLine> =
        serde_json::from_str(&set.lines).map_err(|e| row.bad("lines", e))?;
    if let Some(i) = lines
        .iter()
        .position(|l| l.account != account || l.period != period)
    {
        return Err(row.bad("lines", format!("line {i} belongs to another set")));
    }
    let out = ChargeSet {
        account,
        supplier: SupplierId::new(row.id("supplier_id", set.supplier_id)?),
        period,
        posted_on: row.day("posted_on", &set.posted_on)?,
        due_date: row.day("due_date", &set.due_date)?,
        volumes,
        lines,
        recalculations,
    };
    if row.money("total", &set.total)? != out.total() {
        return Err(row.bad("total", "disagrees with the sum of the lines"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use billing_core::charge::ChargeBasis;
    use billing_core::meter::{Zone, ZoneValues};
    use billing_core::money::Money;
    use billing_core::period::Period;
    use billing_core::service::{ServiceKind, Unit};
    use billing_core::tariff::Tier;
    use billing_core::volume::{VolumeBasis, VolumeKind};
    use rust_decimal::Decimal;
    use time::macros::date;

    use super::*;

    fn sample() -> ChargeSet {
        let period = Period::new(2026, 10).unwrap();
        let account = AccountId::new(7);
        let closing = ZoneValues::single(Decimal::new(5910, 0));
        ChargeSet {
            account,
            supplier: SupplierId::new(1),
            period,
            posted_on: date!(2026 - 11 - 01),
            due_date: date!(2026 - 11 - 10),
            volumes: vec![(
                ServiceKind::Electricity,
                PeriodVolume {
                    kind: VolumeKind::Readings,
                    values: ZoneValues::single(Decimal::new(110, 0)),
                    basis: VolumeBasis::Readings {
                        meter: billing_core::ids::MeterId::new(3),
                        opening: ZoneValues::single(Decimal::new(5800, 0)),
                        closing,
                        coefficient: Decimal::ONE,
                        rollover: false,
                        replacement: false,
                    },
                },
            )],
            lines: vec![
                ChargeLine {
                    account,
                    period,
                    service: ServiceKind::Electricity,
                    zone: Zone::Total,
                    tier: Tier::Base,
                    quantity: Decimal::new(110, 0),
                    unit: Unit::KilowattHour,
                    unit_price: Decimal::new(652, 2),
                    amount: Money::from_kopecks(71_720),
                    tariff: Some(billing_core::ids::TariffId::new(2)),
                    days: None,
                    basis: ChargeBasis::Recalculation {
                        of_period: Period::new(2026, 9).unwrap(),
                        reason: "контрольная проверка".into(),
                    },
                },
                ChargeLine {
                    account,
                    period,
                    service: ServiceKind::Electricity,
                    zone: Zone::Total,
                    tier: Tier::Base,
                    quantity: Decimal::new(110, 0),
                    unit: Unit::KilowattHour,
                    unit_price: Decimal::new(652, 2),
                    amount: Money::from_kopecks(71_720),
                    tariff: None,
                    days: Some((date!(2026 - 10 - 01), date!(2026 - 10 - 31))),
                    basis: ChargeBasis::Volume(VolumeBasis::Norm {
                        norm: Decimal::new(90, 0),
                        factor: Decimal::new(2, 0),
                        coefficient: Some(Decimal::new(15, 1)),
                        reason: billing_core::volume::EstimateReason::NoMeter,
                    }),
                },
            ],
            recalculations: vec![PendingRecalculation {
                id: RecalculationId::new(4),
                account,
                service: ServiceKind::Electricity,
                of_period: Period::new(2026, 9).unwrap(),
                billed_from: period,
                amount: Money::from_kopecks(-1_250),
                reason: "контрольная проверка".into(),
                kind: RecalculationKind::ControlCheck,
                recorded_on: date!(2026 - 10 - 15),
                reading: ReadingId::new(9),
            }],
        }
    }

    #[test]
    fn round_trip() {
        let set = sample();
        let back = to_set(set_row(&set).unwrap()).unwrap();
        assert_eq!(back, set);
    }

    /// Pins the stored JSON forms: if this fails, a domain type's serde form changed and rows
    /// already stored would no longer read back — write a migration, do not just update the
    /// strings.
    #[test]
    fn golden_json() {
        let set = sample();
        let row = set_row(&set).unwrap();
        assert_eq!(
            row.volumes,
            r#"[["electricity",{"kind":"readings","values":{"scheme":"single","values":["110","0","0"]},"basis":{"kind":"readings","meter":3,"opening":{"scheme":"single","values":["5800","0","0"]},"closing":{"scheme":"single","values":["5910","0","0"]},"coefficient":"1","rollover":false,"replacement":false}}]]"#
        );
        assert_eq!(
            row.recalculations,
            r#"[{"id":4,"account":7,"service":"electricity","of_period":202609,"billed_from":202610,"amount":"-12.50","reason":"контрольная проверка","kind":"control_check","recorded_on":"2026-10-15","reading":9}]"#
        );
        // The lines: one JSON array of the lines' JSON, in bill order (as `charge_lines.line`
        // held each of them before migration 37).
        let first = r#"{"account":7,"period":"2026-10","service":"electricity","zone":"total","tier":"base","quantity":"110","unit":"kilowatt_hour","unit_price":"6.52","amount":"717.20","tariff":2,"days":null,"basis":{"basis":"recalculation","of_period":"2026-09","reason":"контрольная проверка"}}"#;
        let second = r#"{"account":7,"period":"2026-10","service":"electricity","zone":"total","tier":"base","quantity":"110","unit":"kilowatt_hour","unit_price":"6.52","amount":"717.20","tariff":null,"days":[[2026,274],[2026,304]],"basis":{"basis":"volume","kind":"norm","norm":"90","factor":"2","coefficient":"1.5","reason":"no_meter"}}"#;
        assert_eq!(row.lines, format!("[{first},{second}]"));
    }

    #[test]
    fn disagreeing_columns_are_corrupt() {
        let set = sample();
        let mut head = set_row(&set).unwrap();
        head.total = money(Money::from_kopecks(1));
        assert!(to_set(head).is_err());
        let mut head = set_row(&set).unwrap();
        head.volumes = "[".into();
        assert!(to_set(head).is_err());
        // Lines missing (the total no longer adds up), unreadable, or of another set.
        let mut head = set_row(&set).unwrap();
        head.lines = "[]".into();
        assert!(to_set(head).is_err());
        let mut head = set_row(&set).unwrap();
        head.lines = "[{".into();
        assert!(to_set(head).is_err());
        let mut other = set.clone();
        for line in &mut other.lines {
            line.account = AccountId::new(8);
        }
        let mut head = set_row(&set).unwrap();
        head.lines = set_row(&other).unwrap().lines;
        assert!(to_set(head).is_err());
    }
}
