//! [`LinkedAccount`] ⇄ `linked_accounts` row.

use identity_core::domain::SubscriberId;
use identity_core::model::LinkedAccount;
use identity_core::ports::PortError;

use super::{Row, proof_from_tag, proof_tag, to_nanos};
use crate::entity::linked_account::{ActiveModel, Model};

const TABLE: &str = "linked_accounts";

/// The row (without its `seq`, which the database assigns) that links `link` to `subscriber`.
pub fn to_row(subscriber: SubscriberId, link: &LinkedAccount) -> Result<ActiveModel, PortError> {
    use sea_orm::ActiveValue::{NotSet, Set};
    Ok(ActiveModel {
        seq: NotSet,
        subscriber_id: Set(subscriber.to_string()),
        supplier: Set(link.account.supplier.as_str().to_owned()),
        number: Set(link.account.number.as_str().to_owned()),
        proof: Set(proof_tag(link.proof).to_owned()),
        linked_at: Set(to_nanos(link.linked_at)?),
        active: Set(link.active),
    })
}

/// The link a row stores.
pub fn from_row(m: Model) -> Result<LinkedAccount, crate::CorruptRow> {
    let row = Row::new(TABLE, format!("seq {}", m.seq));
    Ok(LinkedAccount {
        account: row.account(&m.supplier, &m.number)?,
        proof: proof_from_tag(&m.proof).ok_or_else(|| row.bad("proof", "unknown tag"))?,
        linked_at: row.time("linked_at", m.linked_at)?,
        active: m.active,
    })
}
