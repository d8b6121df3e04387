//! [`PendingRecalculation`] ⇄ `recalculations` row: the kind as a tag, the amount as exact
//! money, `applied_in` NULL while pending.

use billing_core::ids::{AccountId, ReadingId};
use billing_core::ports::{
    NewRecalculation, PendingRecalculation, RecalculationId, RecalculationKind, RepoError,
};

use super::Row;
use super::billing::{day_text, money, period_code, service_tag, to_db_id};
use crate::CorruptRow;
use crate::entity::recalculation;

/// The tag of a recalculation kind.
pub fn kind_tag(kind: RecalculationKind) -> &'static str {
    match kind {
        RecalculationKind::ControlCheck => "control_check",
        RecalculationKind::ReadingCorrection => "reading_correction",
    }
}

/// The row of a new, pending correction whose reading was stored as `reading`.
pub fn to_row(
    r: &NewRecalculation,
    reading: ReadingId,
) -> Result<recalculation::ActiveModel, RepoError> {
    use sea_orm::ActiveValue::{NotSet, Set};
    Ok(recalculation::ActiveModel {
        id: NotSet,
        account_id: Set(to_db_id(r.account.get())?),
        service: Set(service_tag(r.service).to_owned()),
        of_period: Set(period_code(r.of_period)),
        billed_from: Set(period_code(r.billed_from)),
        amount: Set(money(r.amount)),
        reason: Set(r.reason.clone()),
        kind: Set(kind_tag(r.kind).to_owned()),
        recorded_on: Set(day_text(r.recorded_on)),
        reading_id: Set(to_db_id(reading.get())?),
        applied_in: Set(None),
    })
}

/// The pending correction `new` became once stored with `id`.
pub fn stored(
    id: RecalculationId,
    new: &NewRecalculation,
    reading: ReadingId,
) -> PendingRecalculation {
    PendingRecalculation {
        id,
        account: new.account,
        service: new.service,
        of_period: new.of_period,
        billed_from: new.billed_from,
        amount: new.amount,
        reason: new.reason.clone(),
        kind: new.kind,
        recorded_on: new.recorded_on,
        reading,
    }
}

/// The correction a row stores.
pub fn from_row(m: recalculation::Model) -> Result<PendingRecalculation, CorruptRow> {
    let row = Row::new("recalculations", format!("id {}", m.id));
    let kind = [
        RecalculationKind::ControlCheck,
        RecalculationKind::ReadingCorrection,
    ]
    .into_iter()
    .find(|k| kind_tag(*k) == m.kind)
    .ok_or_else(|| row.bad("kind", format!("unknown tag '{}'", m.kind)))?;
    Ok(PendingRecalculation {
        id: RecalculationId::new(row.id("id", m.id)?),
        account: AccountId::new(row.id("account_id", m.account_id)?),
        service: row.service("service", Some(&m.service))?,
        of_period: row.period("of_period", m.of_period)?,
        billed_from: row.period("billed_from", m.billed_from)?,
        amount: row.money("amount", &m.amount)?,
        reason: m.reason,
        kind,
        recorded_on: row.day("recorded_on", &m.recorded_on)?,
        reading: ReadingId::new(row.id("reading_id", m.reading_id)?),
    })
}
