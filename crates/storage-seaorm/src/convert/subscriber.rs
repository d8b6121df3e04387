//! [`Subscriber`] ⇄ `subscribers` row.

use identity_core::domain::{Email, PersonName, Phone, SubscriberId};
use identity_core::model::{BlockedBy, CabinetStatus, Subscriber};
use identity_core::password::PasswordHash;
use identity_core::ports::PortError;

use super::{Row, to_db_count, to_nanos};
use crate::entity::subscriber::Model;

const TABLE: &str = "subscribers";

/// The row that stores `s` (its `version` as given).
pub fn to_row(s: &Subscriber) -> Result<Model, PortError> {
    let (blocked_at, blocked_by, blocked_operator) = match &s.status {
        CabinetStatus::Active => (None, None, None),
        CabinetStatus::Blocked { at, by } => {
            let (by, operator) = match by {
                BlockedBy::Subscriber => ("subscriber", None),
                BlockedBy::Operator { operator } => ("operator", Some(operator.clone())),
            };
            (Some(to_nanos(*at)?), Some(by.to_owned()), operator)
        }
    };
    Ok(Model {
        id: s.id.to_string(),
        name: s.name.as_str().to_owned(),
        account_supplier: s.account.as_ref().map(|a| a.supplier.as_str().to_owned()),
        account_number: s.account.as_ref().map(|a| a.number.as_str().to_owned()),
        phone: s.phone.as_ref().map(|p| p.as_str().to_owned()),
        email: s.email.as_ref().map(|e| e.as_str().to_owned()),
        pending_email: s.pending_email.as_ref().map(|e| e.as_str().to_owned()),
        password_hash: s.password_hash.as_ref().map(|h| h.as_phc().to_owned()),
        blocked_at,
        blocked_by,
        blocked_operator,
        created_at: to_nanos(s.created_at)?,
        version: to_db_count(s.version, "subscriber version")?,
    })
}

/// The subscriber a row stores.
pub fn from_row(m: Model) -> Result<Subscriber, crate::CorruptRow> {
    let row = Row::new(TABLE, m.id.clone());
    let account = match (&m.account_supplier, &m.account_number) {
        (Some(supplier), Some(number)) => Some(row.account(supplier, number)?),
        (None, None) => None,
        _ => {
            return Err(row.bad(
                "account_supplier/account_number",
                "one is set without the other",
            ));
        }
    };
    let status = match (m.blocked_at, m.blocked_by.as_deref(), m.blocked_operator) {
        (None, None, None) => CabinetStatus::Active,
        (Some(at), Some("subscriber"), None) => CabinetStatus::Blocked {
            at: row.time("blocked_at", at)?,
            by: BlockedBy::Subscriber,
        },
        (Some(at), Some("operator"), Some(operator)) => CabinetStatus::Blocked {
            at: row.time("blocked_at", at)?,
            by: BlockedBy::Operator { operator },
        },
        _ => {
            return Err(row.bad(
                "blocked_at/blocked_by/blocked_operator",
                "inconsistent block record",
            ));
        }
    };
    Ok(Subscriber {
        id: row.parse("id", SubscriberId::parse(&m.id))?,
        name: row.parse("name", PersonName::parse(&m.name))?,
        account,
        phone: m
            .phone
            .as_deref()
            .map(|p| row.parse("phone", Phone::parse(p)))
            .transpose()?,
        email: m
            .email
            .as_deref()
            .map(|e| row.parse("email", Email::parse(e)))
            .transpose()?,
        pending_email: m
            .pending_email
            .as_deref()
            .map(|e| row.parse("pending_email", Email::parse(e)))
            .transpose()?,
        password_hash: m.password_hash.map(PasswordHash::from_phc),
        status,
        created_at: row.time("created_at", m.created_at)?,
        version: u64::try_from(m.version)
            .map_err(|_| row.bad("version", format!("{} is negative", m.version)))?,
    })
}
