//! [`Meter`] ⇄ `meters` row: registers as scheme tag, digits, decimals and coefficient;
//! lifecycle days as `YYYY-MM-DD`.

use billing_core::ids::{AccountId, MeterId};
use billing_core::meter::{Meter, RegisterSpec};
use billing_core::ports::RepoError;

use super::Row;
use super::billing::{day_text, scheme_tag, service_tag, to_db_id, to_db_int};
use crate::CorruptRow;
use crate::entity::{Exact, meter};

/// The row of a meter.
pub fn to_row(m: &Meter) -> Result<meter::ActiveModel, RepoError> {
    use sea_orm::ActiveValue::Set;
    Ok(meter::ActiveModel {
        id: Set(to_db_id(m.id.get())?),
        account_id: Set(m.account.map(|a| to_db_id(a.get())).transpose()?),
        service: Set(service_tag(m.service).to_owned()),
        serial: Set(m.serial.clone()),
        scheme: Set(scheme_tag(m.registers.scheme).to_owned()),
        digits: Set(to_db_int(m.registers.digits, "digits")?),
        decimals: Set(to_db_int(m.registers.decimals, "decimals")?),
        coefficient: Set(Exact::of(m.registers.coefficient)),
        installed_on: Set(day_text(m.installed_on)),
        commissioned_on: Set(m.commissioned_on.map(day_text)),
        verification_due: Set(m.verification_due.map(day_text)),
        failed_on: Set(m.failed_on.map(day_text)),
        removed_on: Set(m.removed_on.map(day_text)),
        automatic: Set(m.automatic),
    })
}

/// The meter a row stores.
pub fn from_row(m: meter::Model) -> Result<Meter, CorruptRow> {
    let row = Row::new("meters", format!("id {}", m.id));
    Ok(Meter {
        id: MeterId::new(row.id("id", m.id)?),
        account: m
            .account_id
            .map(|a| row.id("account_id", a).map(AccountId::new))
            .transpose()?,
        service: row.service("service", Some(&m.service))?,
        serial: m.serial,
        registers: RegisterSpec {
            scheme: row.scheme("scheme", &m.scheme)?,
            digits: row.int("digits", m.digits)?,
            decimals: row.int("decimals", m.decimals)?,
            coefficient: row.decimal("coefficient", &m.coefficient)?,
        },
        installed_on: row.day("installed_on", &m.installed_on)?,
        commissioned_on: row.opt_day("commissioned_on", m.commissioned_on.as_deref())?,
        verification_due: row.opt_day("verification_due", m.verification_due.as_deref())?,
        failed_on: row.opt_day("failed_on", m.failed_on.as_deref())?,
        removed_on: row.opt_day("removed_on", m.removed_on.as_deref())?,
        automatic: m.automatic,
    })
}
