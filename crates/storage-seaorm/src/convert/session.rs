//! [`SessionRecord`] ⇄ `sessions` row.

use identity_core::domain::{SessionId, SubscriberId};
use identity_core::model::SessionRecord;
use identity_core::ports::PortError;

use super::{Row, channel_tag, to_nanos};
use crate::entity::session::Model;

const TABLE: &str = "sessions";

/// The row that stores `s`.
pub fn to_row(s: &SessionRecord) -> Result<Model, PortError> {
    Ok(Model {
        id: s.id.to_string(),
        subscriber_id: s.subscriber.to_string(),
        token_digest: s.token_digest.as_bytes().to_vec(),
        created_at: to_nanos(s.created_at)?,
        last_seen_at: to_nanos(s.last_seen_at)?,
        revoked_at: s.revoked_at.map(to_nanos).transpose()?,
        channel: channel_tag(s.client.channel).to_owned(),
        device: s.client.device.clone(),
    })
}

/// The session a row stores.
pub fn from_row(m: Model) -> Result<SessionRecord, crate::CorruptRow> {
    let row = Row::new(TABLE, m.id.clone());
    Ok(SessionRecord {
        id: row.parse("id", SessionId::parse(&m.id))?,
        subscriber: row.parse("subscriber_id", SubscriberId::parse(&m.subscriber_id))?,
        token_digest: row.digest("token_digest", &m.token_digest)?,
        created_at: row.time("created_at", m.created_at)?,
        last_seen_at: row.time("last_seen_at", m.last_seen_at)?,
        revoked_at: row.opt_time("revoked_at", m.revoked_at)?,
        client: row.client(&m.channel, m.device)?,
    })
}
