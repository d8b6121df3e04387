//! Storage for the sandbox providers, as inherent methods on [`Storage`] with this crate's own
//! types (storage does not depend on `fake-providers`; the composition root adapts these
//! methods to its `SandboxStore` trait with a newtype):
//!
//! - the **outbox** (`outbox_messages`): [`Storage::outbox_push`], [`Storage::outbox_messages`],
//!   [`Storage::outbox_purge`]. Ids come from the database's sequence (`bigserial`; SQLite
//!   `AUTOINCREMENT`), so they only grow and are never reused, even after a purge — a reader's
//!   "after id" cursor never misses a message written after it.
//! - **captcha challenges** (`captcha_challenges`): [`Storage::captcha_put`],
//!   [`Storage::captcha_use`], [`Storage::captcha_purge`]. Using a challenge is ONE conditional
//!   `UPDATE … SET used_at = $now WHERE id = $id AND used_at IS NULL AND expires_at > $now
//!   RETURNING answer_digest`: whatever the answer, at most one caller ever gets the row back
//!   (on PostgreSQL a racing UPDATE waits for the winner's row lock and then no longer matches;
//!   SQLite runs one writer at a time), and the digests are compared afterwards in constant
//!   time.
//!
//! **Sandbox only:** outbox bodies hold codes and links in clear text, the one documented
//! exception to "no secret reaches the database" (see `docs/plans/issue-5.md`, decision 8).
//! The tables are always created, but only a server running sandbox providers writes them.
//!
//! These rows have no domain record, so their conversions live here rather than in
//! `convert`; a damaged row is still a [`crate::CorruptRow`] turned into a [`PortError`].

use identity_core::crypto::SecretDigest;
use identity_core::ports::{PortError, WriteError};
use sea_orm::{
    ActiveValue, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use time::OffsetDateTime;

use crate::convert::{Row, to_nanos};
use crate::entity::{captcha_challenge, outbox_message};
use crate::error::{CorruptRow, port, write};
use crate::storage::Storage;

/// How an outbox message travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OutboxChannel {
    /// SMS (stored as `sms`).
    Sms,
    /// Email (stored as `email`).
    Email,
}

impl OutboxChannel {
    /// The stored tag.
    pub fn tag(self) -> &'static str {
        match self {
            Self::Sms => "sms",
            Self::Email => "email",
        }
    }

    fn from_tag(tag: &str) -> Option<Self> {
        Some(match tag {
            "sms" => Self::Sms,
            "email" => Self::Email,
            _ => return None,
        })
    }
}

/// A message to append to the outbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewOutboxMessage {
    /// SMS or email.
    pub channel: OutboxChannel,
    /// The phone or email address.
    pub recipient: String,
    /// What it carries (`code`, `link`, `notice`, …; at most 16 characters).
    pub kind: String,
    /// The email subject; `None` for SMS.
    pub subject: Option<String>,
    /// The rendered text.
    pub body: String,
    /// What it belongs to, if anything (for example a payment id).
    pub correlation: Option<String>,
    /// When it was queued.
    pub created_at: OffsetDateTime,
}

/// A message in the outbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxRow {
    /// Its id, greater than that of every message stored before it.
    pub id: u64,
    /// SMS or email.
    pub channel: OutboxChannel,
    /// The phone or email address.
    pub recipient: String,
    /// What it carries.
    pub kind: String,
    /// The email subject; `None` for SMS.
    pub subject: Option<String>,
    /// The rendered text.
    pub body: String,
    /// What it belongs to, if anything.
    pub correlation: Option<String>,
    /// When it was queued.
    pub created_at: OffsetDateTime,
}

/// A captcha challenge to store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaptchaRecord {
    /// Its id (at most 32 characters; the sandbox uses 32 lowercase hex).
    pub id: String,
    /// SHA-256 of its answer.
    pub answer_digest: [u8; 32],
    /// When it was issued.
    pub issued_at: OffsetDateTime,
    /// When it stops being accepted.
    pub expires_at: OffsetDateTime,
}

const OUTBOX: &str = "outbox_messages";

fn outbox_from_row(row: outbox_message::Model) -> Result<OutboxRow, CorruptRow> {
    let at = Row::new(OUTBOX, row.id.to_string());
    Ok(OutboxRow {
        id: u64::try_from(row.id).map_err(|_| at.bad("id", "negative"))?,
        channel: OutboxChannel::from_tag(&row.channel)
            .ok_or_else(|| at.bad("channel", format!("unknown tag {:?}", row.channel)))?,
        created_at: at.time("created_at", row.created_at)?,
        recipient: row.recipient,
        kind: row.kind,
        subject: row.subject,
        body: row.body,
        correlation: row.correlation,
    })
}

impl Storage {
    /// Appends `message` to the outbox and returns its id (greater than every id before it,
    /// never reused).
    pub async fn outbox_push(&self, message: &NewOutboxMessage) -> Result<u64, PortError> {
        let row = outbox_message::ActiveModel {
            id: ActiveValue::NotSet,
            channel: ActiveValue::Set(message.channel.tag().to_owned()),
            recipient: ActiveValue::Set(message.recipient.clone()),
            kind: ActiveValue::Set(message.kind.clone()),
            subject: ActiveValue::Set(message.subject.clone()),
            body: ActiveValue::Set(message.body.clone()),
            correlation: ActiveValue::Set(message.correlation.clone()),
            created_at: ActiveValue::Set(to_nanos(message.created_at)?),
        };
        let id = outbox_message::Entity::insert(row)
            .exec(self.db())
            .await
            .map_err(|e| port("push an outbox message", e))?
            .last_insert_id;
        u64::try_from(id).map_err(|_| PortError::new(format!("outbox id {id} is negative")))
    }

    /// Outbox messages, oldest first (ascending id), to exactly `to` if given:
    ///
    /// - with `after`, the first `limit` messages whose id is greater than `after` (a cursor
    ///   that never skips one);
    /// - without it, the latest `limit` messages.
    pub async fn outbox_messages(
        &self,
        to: Option<&str>,
        after: Option<u64>,
        limit: u32,
    ) -> Result<Vec<OutboxRow>, PortError> {
        use outbox_message::{Column, Entity};
        let mut query = Entity::find();
        if let Some(to) = to {
            query = query.filter(Column::Recipient.eq(to));
        }
        let rows = match after {
            Some(after) => {
                let after = i64::try_from(after).unwrap_or(i64::MAX);
                query
                    .filter(Column::Id.gt(after))
                    .order_by_asc(Column::Id)
                    .limit(u64::from(limit))
                    .all(self.db())
                    .await
            }
            None => query
                .order_by_desc(Column::Id)
                .limit(u64::from(limit))
                .all(self.db())
                .await
                .map(|mut rows| {
                    rows.reverse();
                    rows
                }),
        }
        .map_err(|e| port("read the outbox", e))?;
        rows.into_iter()
            .map(|row| outbox_from_row(row).map_err(PortError::from))
            .collect()
    }

    /// Deletes the outbox messages queued before `before`; returns how many.
    pub async fn outbox_purge(&self, before: OffsetDateTime) -> Result<u64, PortError> {
        use outbox_message::{Column, Entity};
        let done = Entity::delete_many()
            .filter(Column::CreatedAt.lt(to_nanos(before)?))
            .exec(self.db())
            .await
            .map_err(|e| port("purge the outbox", e))?;
        Ok(done.rows_affected)
    }

    /// Stores a new, unused captcha challenge. [`WriteError::Duplicate`] if its id exists.
    pub async fn captcha_put(&self, captcha: &CaptchaRecord) -> Result<(), WriteError> {
        let row = captcha_challenge::ActiveModel {
            id: ActiveValue::Set(captcha.id.clone()),
            answer_digest: ActiveValue::Set(captcha.answer_digest.to_vec()),
            issued_at: ActiveValue::Set(to_nanos(captcha.issued_at)?),
            expires_at: ActiveValue::Set(to_nanos(captcha.expires_at)?),
            used_at: ActiveValue::Set(None),
        };
        captcha_challenge::Entity::insert(row)
            .exec_without_returning(self.db())
            .await
            .map_err(|e| write("store a captcha", e))?;
        Ok(())
    }

    /// Uses up the challenge `id` and says whether `answer_digest` is its answer's digest, as
    /// ONE conditional UPDATE: if it exists, is unused and `now` is before its deadline, it
    /// becomes used **whatever the answer** (one attempt per challenge) and the result is
    /// whether the digests are equal (compared in constant time); otherwise nothing changes
    /// and the result is false. However many calls race, at most one returns true.
    pub async fn captcha_use(
        &self,
        id: &str,
        answer_digest: &[u8; 32],
        now: OffsetDateTime,
    ) -> Result<bool, PortError> {
        let now = to_nanos(now)?;
        let statement = self.statement(
            "UPDATE captcha_challenges SET used_at = $1 \
             WHERE id = $2 AND used_at IS NULL AND expires_at > $3 \
             RETURNING answer_digest",
            [now.into(), id.into(), now.into()],
        );
        let fail = |e| port("use a captcha", e);
        let Some(row) = self.db().query_one_raw(statement).await.map_err(fail)? else {
            return Ok(false);
        };
        let stored: Vec<u8> = row.try_get("", "answer_digest").map_err(fail)?;
        let stored = Row::new("captcha_challenges", id).digest("answer_digest", &stored)?;
        Ok(SecretDigest::from_bytes(*answer_digest).ct_eq(&stored))
    }

    /// Deletes the captcha challenges whose deadline is before `before` (used or not);
    /// returns how many.
    pub async fn captcha_purge(&self, before: OffsetDateTime) -> Result<u64, PortError> {
        use captcha_challenge::{Column, Entity};
        let done = Entity::delete_many()
            .filter(Column::ExpiresAt.lt(to_nanos(before)?))
            .exec(self.db())
            .await
            .map_err(|e| port("purge captchas", e))?;
        Ok(done.rows_affected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_tags_round_trip() {
        for channel in [OutboxChannel::Sms, OutboxChannel::Email] {
            assert_eq!(OutboxChannel::from_tag(channel.tag()), Some(channel));
        }
        assert_eq!(OutboxChannel::from_tag("fax"), None);
    }

    #[test]
    fn a_bad_row_is_corrupt_not_a_panic() {
        let row = outbox_message::Model {
            id: 7,
            channel: "fax".to_owned(),
            recipient: "x".to_owned(),
            kind: "code".to_owned(),
            subject: None,
            body: "b".to_owned(),
            correlation: None,
            created_at: 0,
        };
        let err = outbox_from_row(row.clone()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "corrupt row in outbox_messages (7): channel: unknown tag \"fax\""
        );
        let negative = outbox_message::Model {
            id: -1,
            channel: "sms".to_owned(),
            ..row
        };
        assert!(outbox_from_row(negative).is_err());
    }
}
