//! [`Consent`] ⇄ `consents` row.

use identity_core::domain::{ConsentId, SubscriberId};
use identity_core::model::{Consent, ConsentDocument};
use identity_core::ports::PortError;

use super::{Row, channel_tag, to_nanos};
use crate::entity::consent::{ActiveModel, Model};

const TABLE: &str = "consents";

/// The row (without its `seq`) that stores `c`.
pub fn to_row(c: &Consent) -> Result<ActiveModel, PortError> {
    use sea_orm::ActiveValue::{NotSet, Set};
    Ok(ActiveModel {
        seq: NotSet,
        id: Set(c.id.to_string()),
        subscriber_id: Set(c.subscriber.to_string()),
        document_version: Set(c.document.version().to_owned()),
        text_sha256: Set(c.document.text_sha256().to_owned()),
        given_at: Set(to_nanos(c.given_at)?),
        channel: Set(channel_tag(c.client.channel).to_owned()),
        device: Set(c.client.device.clone()),
        withdrawn_at: Set(c.withdrawn_at.map(to_nanos).transpose()?),
    })
}

/// The consent a row stores.
pub fn from_row(m: Model) -> Result<Consent, crate::CorruptRow> {
    let row = Row::new(TABLE, m.id.clone());
    let sha_ok = m.text_sha256.len() == 64 && m.text_sha256.bytes().all(|b| b.is_ascii_hexdigit());
    if !sha_ok {
        return Err(row.bad("text_sha256", "expected 64 hex digits"));
    }
    Ok(Consent {
        id: row.parse("id", ConsentId::parse(&m.id))?,
        subscriber: row.parse("subscriber_id", SubscriberId::parse(&m.subscriber_id))?,
        document: ConsentDocument::from_parts(m.document_version, m.text_sha256),
        given_at: row.time("given_at", m.given_at)?,
        client: row.client(&m.channel, m.device)?,
        withdrawn_at: row.opt_time("withdrawn_at", m.withdrawn_at)?,
    })
}
