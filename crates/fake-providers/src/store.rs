//! [`SandboxStore`]: the storage the sandbox providers need — the **outbox** of rendered SMS
//! and email (read by the sandbox inbox and by black-box tests) and the **captcha
//! challenges** — with its own plain types and error.
//!
//! The trait lives here, in the adapter that consumes it; the composition root implements it
//! over the database (a newtype around storage's inherent `outbox_*`/`captcha_*` methods), so
//! this crate never depends on the storage adapter. `MemorySandboxStore` (with the
//! `test-support` feature, and in this crate's tests) keeps everything in memory.
//!
//! Outbox rows hold codes and links in clear text: sandbox only (see the crate docs).

use async_trait::async_trait;
use identity_core::ports::PortError;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// The `kind` of an outbox message carrying a one-time code.
pub const KIND_CODE: &str = "code";
/// The `kind` of an outbox message carrying a one-time link.
pub const KIND_LINK: &str = "link";
/// The `kind` of an outbox message that only informs (password changed, cabinet blocked, …).
pub const KIND_NOTICE: &str = "notice";

/// How a message travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageChannel {
    /// SMS to a phone number.
    Sms,
    /// Email to an address.
    Email,
}

impl MessageChannel {
    /// The lowercase tag (`"sms"`, `"email"`), as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sms => "sms",
            Self::Email => "email",
        }
    }
}

/// A rendered message to put in the outbox.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxMessage {
    /// SMS or email.
    pub channel: MessageChannel,
    /// The phone in E.164 (`+79161234567`) or the email address.
    pub recipient: String,
    /// What it carries: [`KIND_CODE`], [`KIND_LINK`], [`KIND_NOTICE`],
    /// [`crate::gateway::KIND_3DS`] (a payment's confirmation code) or
    /// [`crate::fiscal::KIND_RECEIPT`] (an electronic fiscal receipt).
    pub kind: String,
    /// The email subject; `None` for SMS.
    pub subject: Option<String>,
    /// The text as the subscriber would read it, codes and links included.
    pub body: String,
    /// What the message belongs to, if anything (for example a payment id), for tests to find
    /// it.
    pub correlation: Option<String>,
    /// When it was put in the outbox.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// A message in the outbox with the id the store gave it (ids grow with every message).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredMessage {
    /// Its id, greater than that of every earlier message.
    pub id: u64,
    /// The message.
    #[serde(flatten)]
    pub message: OutboxMessage,
}

/// A captcha challenge as stored: only the SHA-256 digest of its answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaptchaRow {
    /// Its id: 32 lowercase hex characters.
    pub id: String,
    /// SHA-256 of the answer's text.
    pub answer_digest: [u8; 32],
    /// When it was issued.
    pub issued_at: OffsetDateTime,
    /// When it stops being accepted.
    pub expires_at: OffsetDateTime,
}

/// A [`SandboxStore`] call failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The write would store a second row with the same key (a captcha id). Nothing was
    /// written.
    #[error("the sandbox store already holds a row with this key")]
    Duplicate,
    /// The store failed (unreachable database, corrupt row, …); English, for logs.
    #[error("sandbox store unavailable: {0}")]
    Unavailable(String),
}

impl From<StoreError> for PortError {
    fn from(e: StoreError) -> Self {
        PortError::new(e.to_string())
    }
}

/// Storage for the sandbox providers.
#[async_trait]
pub trait SandboxStore: Send + Sync {
    /// Appends `message` to the outbox and returns its id, greater than every id before it.
    async fn push_message(&self, message: &OutboxMessage) -> Result<u64, StoreError>;

    /// Outbox messages, oldest first (ascending id), to `to` only if given (exactly this
    /// recipient):
    ///
    /// - with `after`, the first `limit` messages whose id is greater than `after` — a cursor
    ///   that never skips a message (poll again with the last id seen);
    /// - without it, the latest `limit` messages.
    async fn messages(
        &self,
        to: Option<&str>,
        after: Option<u64>,
        limit: u32,
    ) -> Result<Vec<StoredMessage>, StoreError>;

    /// Deletes the messages created before `before`; returns how many.
    async fn purge_messages(&self, before: OffsetDateTime) -> Result<u64, StoreError>;

    /// Stores a new captcha challenge, unused. [`StoreError::Duplicate`] if its id exists.
    async fn put_captcha(&self, captcha: &CaptchaRow) -> Result<(), StoreError>;

    /// Uses up the challenge `id` and says whether `answer_digest` is its answer's digest, as
    /// ONE atomic step: if the challenge exists, is unused and `now` is before its
    /// `expires_at`, it becomes used — **whatever the answer** (one attempt per challenge, so
    /// a small answer space cannot be searched) — and the result is whether the digests are
    /// equal; otherwise nothing changes and the result is false. However many calls race, at
    /// most one returns true.
    async fn use_captcha(
        &self,
        id: &str,
        answer_digest: &[u8; 32],
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// Deletes the challenges that expired before `before` (used or not); returns how many.
    async fn purge_captchas(&self, before: OffsetDateTime) -> Result<u64, StoreError>;
}

#[cfg(any(test, feature = "test-support"))]
pub use memory::MemorySandboxStore;

#[cfg(any(test, feature = "test-support"))]
mod memory {
    use std::collections::HashMap;
    use std::sync::{Mutex, MutexGuard, PoisonError};

    use async_trait::async_trait;
    use time::OffsetDateTime;

    use super::{CaptchaRow, OutboxMessage, SandboxStore, StoreError, StoredMessage};

    /// A [`SandboxStore`] in memory, for tests (feature `test-support`). Every call is atomic
    /// (one mutex).
    #[derive(Debug, Default)]
    pub struct MemorySandboxStore {
        inner: Mutex<Inner>,
    }

    #[derive(Debug, Default)]
    struct Inner {
        last_id: u64,
        messages: Vec<StoredMessage>,
        captchas: HashMap<String, (CaptchaRow, Option<OffsetDateTime>)>,
    }

    /// Whether two digests are equal, in time independent of where they differ.
    pub(super) fn digests_equal(a: &[u8; 32], b: &[u8; 32]) -> bool {
        a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }

    impl MemorySandboxStore {
        /// An empty store.
        pub fn new() -> Self {
            Self::default()
        }

        fn lock(&self) -> MutexGuard<'_, Inner> {
            self.inner.lock().unwrap_or_else(PoisonError::into_inner)
        }
    }

    #[async_trait]
    impl SandboxStore for MemorySandboxStore {
        async fn push_message(&self, message: &OutboxMessage) -> Result<u64, StoreError> {
            let mut inner = self.lock();
            inner.last_id += 1;
            let id = inner.last_id;
            inner.messages.push(StoredMessage {
                id,
                message: message.clone(),
            });
            Ok(id)
        }

        async fn messages(
            &self,
            to: Option<&str>,
            after: Option<u64>,
            limit: u32,
        ) -> Result<Vec<StoredMessage>, StoreError> {
            let inner = self.lock();
            let limit = usize::try_from(limit).unwrap_or(usize::MAX);
            let matching = inner
                .messages
                .iter()
                .filter(|m| to.is_none_or(|to| m.message.recipient == to))
                .filter(|m| after.is_none_or(|after| m.id > after));
            let found: Vec<StoredMessage> = if after.is_some() {
                matching.take(limit).cloned().collect()
            } else {
                let mut latest: Vec<_> = matching.rev().take(limit).cloned().collect();
                latest.reverse();
                latest
            };
            Ok(found)
        }

        async fn purge_messages(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
            let mut inner = self.lock();
            let was = inner.messages.len();
            inner.messages.retain(|m| m.message.created_at >= before);
            Ok(u64::try_from(was - inner.messages.len()).unwrap_or(u64::MAX))
        }

        async fn put_captcha(&self, captcha: &CaptchaRow) -> Result<(), StoreError> {
            let mut inner = self.lock();
            if inner.captchas.contains_key(&captcha.id) {
                return Err(StoreError::Duplicate);
            }
            inner
                .captchas
                .insert(captcha.id.clone(), (captcha.clone(), None));
            Ok(())
        }

        async fn use_captcha(
            &self,
            id: &str,
            answer_digest: &[u8; 32],
            now: OffsetDateTime,
        ) -> Result<bool, StoreError> {
            let mut inner = self.lock();
            let Some((row, used_at)) = inner.captchas.get_mut(id) else {
                return Ok(false);
            };
            if used_at.is_some() || now >= row.expires_at {
                return Ok(false);
            }
            *used_at = Some(now);
            Ok(digests_equal(&row.answer_digest, answer_digest))
        }

        async fn purge_captchas(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
            let mut inner = self.lock();
            let was = inner.captchas.len();
            inner
                .captchas
                .retain(|_, (row, _)| row.expires_at >= before);
            Ok(u64::try_from(was - inner.captchas.len()).unwrap_or(u64::MAX))
        }
    }
}

#[cfg(test)]
mod tests {
    use time::Duration;
    use time::macros::datetime;

    use super::memory::digests_equal;
    use super::*;

    const T0: OffsetDateTime = datetime!(2026-12-01 10:00 UTC);

    fn message(to: &str, n: i64) -> OutboxMessage {
        OutboxMessage {
            channel: MessageChannel::Sms,
            recipient: to.to_owned(),
            kind: KIND_CODE.to_owned(),
            subject: None,
            body: format!("Код подтверждения: {n}"),
            correlation: None,
            created_at: T0 + Duration::minutes(n),
        }
    }

    fn ids(found: &[StoredMessage]) -> Vec<u64> {
        found.iter().map(|m| m.id).collect()
    }

    #[tokio::test]
    async fn outbox_ids_grow_and_messages_filter_by_recipient_and_cursor() {
        let store = MemorySandboxStore::new();
        let mut pushed = Vec::new();
        for n in 0..6 {
            let to = if n % 2 == 0 { "+79160000001" } else { "a@b.ru" };
            pushed.push(store.push_message(&message(to, n)).await.unwrap());
        }
        assert!(pushed.windows(2).all(|w| w[0] < w[1]), "{pushed:?}");

        let all = store.messages(None, None, 100).await.unwrap();
        assert_eq!(ids(&all), pushed);
        assert_eq!(all[1].message, message("a@b.ru", 1));

        let to_phone = store
            .messages(Some("+79160000001"), None, 100)
            .await
            .unwrap();
        assert_eq!(ids(&to_phone), [pushed[0], pushed[2], pushed[4]]);
        // Without a cursor: the latest `limit`, oldest first.
        let latest = store.messages(None, None, 2).await.unwrap();
        assert_eq!(ids(&latest), [pushed[4], pushed[5]]);
        // With a cursor: the first `limit` after it.
        let page = store.messages(None, Some(pushed[1]), 2).await.unwrap();
        assert_eq!(ids(&page), [pushed[2], pushed[3]]);
        let after_last = store.messages(None, Some(pushed[5]), 2).await.unwrap();
        assert!(after_last.is_empty());
        assert!(
            store
                .messages(Some("nobody"), None, 10)
                .await
                .unwrap()
                .is_empty()
        );
    }

    #[tokio::test]
    async fn purge_deletes_only_older_messages() {
        let store = MemorySandboxStore::new();
        for n in 0..4 {
            store.push_message(&message("x", n)).await.unwrap();
        }
        let purged = store
            .purge_messages(T0 + Duration::minutes(2))
            .await
            .unwrap();
        assert_eq!(purged, 2);
        let left = store.messages(None, None, 10).await.unwrap();
        assert_eq!(ids(&left), [3, 4]);
        // Ids are never reused after a purge.
        assert_eq!(store.push_message(&message("x", 9)).await.unwrap(), 5);
    }

    #[tokio::test]
    async fn a_captcha_is_used_once_and_a_wrong_answer_uses_it_up() {
        let store = MemorySandboxStore::new();
        let row = CaptchaRow {
            id: "a".repeat(32),
            answer_digest: [7; 32],
            issued_at: T0,
            expires_at: T0 + Duration::minutes(10),
        };
        store.put_captcha(&row).await.unwrap();
        assert_eq!(store.put_captcha(&row).await, Err(StoreError::Duplicate));
        assert!(store.use_captcha(&row.id, &[7; 32], T0).await.unwrap());
        assert!(!store.use_captcha(&row.id, &[7; 32], T0).await.unwrap());

        let other = CaptchaRow {
            id: "b".repeat(32),
            ..row.clone()
        };
        store.put_captcha(&other).await.unwrap();
        assert!(!store.use_captcha(&other.id, &[8; 32], T0).await.unwrap());
        assert!(!store.use_captcha(&other.id, &[7; 32], T0).await.unwrap());

        let late = CaptchaRow {
            id: "c".repeat(32),
            ..row.clone()
        };
        store.put_captcha(&late).await.unwrap();
        assert!(
            !store
                .use_captcha(&late.id, &[7; 32], late.expires_at)
                .await
                .unwrap()
        );
        assert!(!store.use_captcha("missing", &[7; 32], T0).await.unwrap());

        assert_eq!(store.purge_captchas(late.expires_at).await.unwrap(), 0);
        assert_eq!(
            store
                .purge_captchas(late.expires_at + Duration::SECOND)
                .await
                .unwrap(),
            3
        );
    }

    #[test]
    fn messages_serialise_flat_with_rfc3339_times() {
        let stored = StoredMessage {
            id: 3,
            message: OutboxMessage {
                channel: MessageChannel::Email,
                subject: Some("Тема".to_owned()),
                ..message("a@b.ru", 0)
            },
        };
        let json = serde_json::to_value(&stored).unwrap();
        assert_eq!(json["id"], 3);
        assert_eq!(json["channel"], "email");
        assert_eq!(json["recipient"], "a@b.ru");
        assert_eq!(json["kind"], "code");
        assert_eq!(json["subject"], "Тема");
        assert_eq!(json["created_at"], "2026-12-01T10:00:00Z");
        let back: StoredMessage = serde_json::from_value(json).unwrap();
        assert_eq!(back, stored);
        assert_eq!(MessageChannel::Sms.as_str(), "sms");
    }

    #[test]
    fn digests_compare_whole() {
        let a = [1u8; 32];
        let mut b = a;
        assert!(digests_equal(&a, &b));
        b[31] = 2;
        assert!(!digests_equal(&a, &b));
        let error: PortError = StoreError::Unavailable("db down".to_owned()).into();
        assert!(error.message().contains("db down"));
    }
}
