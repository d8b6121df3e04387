//! Ports: everything the identity core needs from the outside world, as traits.
//!
//! Adapters live in other crates (storage-seaorm, fake-providers, server). Each trait states its
//! contract; where a contract says MUST, the core's safety depends on it (for example atomic
//! consumption of one-time codes). [`Clock`] and [`Random`] are synchronous because neither has
//! anything to wait for; every other port is async (`async-trait`).
//!
//! With the `mocks` feature (and in this crate's tests) every port has a `mockall` mock named
//! `Mock<Trait>`.

use time::OffsetDateTime;

use crate::crypto::SecretDigest;
use crate::domain::{
    AccountRef, ApiKeyId, ChallengeId, ConsentId, Email, LoginHandle, OperatorId, OperatorLogin,
    OperatorSessionId, Phone, QuestionId, SessionId, SubscriberId, SupplierId,
};
use crate::model::{
    AccountFacts, Answer, ApiKeyRecord, AttemptOutcome, Challenge, Consent, LinkedAccount, Message,
    Operator, OperatorSessionRecord, Question, QuestionCursor, Reservation, SecurityEvent,
    SessionRecord, Subscriber, ThrottleKey,
};
use crate::password::PasswordHash;
use crate::policy::RateLimit;
use crate::secret::Secret;

/// A port failed (storage unreachable, SMS gateway down, …). Opaque to the core: every use
/// case turns it into its `Unexpected` variant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("port failure: {message}")]
pub struct PortError {
    message: String,
}

impl PortError {
    /// A failure described by `message` (English, for logs; never shown to subscribers).
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }

    /// The description given by the adapter.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// A write that can violate a uniqueness rule or lose a race with another write.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteError {
    /// The write would break a uniqueness rule stated in the port's contract (for example a
    /// login handle that already belongs to another cabinet). Nothing was written.
    #[error("uniqueness violation")]
    Duplicate,
    /// Optimistic concurrency: the record changed since it was read (its version is no longer
    /// the one the write was based on). Nothing was written; read it again and retry.
    #[error("the record changed since it was read")]
    Conflict,
    /// The adapter failed.
    #[error(transparent)]
    Port(#[from] PortError),
}

/// The current time. Adapters return UTC.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> OffsetDateTime;
}

/// A cryptographically secure random source (for example the operating system's).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait Random: Send + Sync {
    /// Fills `buf` with random bytes. MUST be suitable for secrets (CSPRNG).
    fn fill(&self, buf: &mut [u8]) -> Result<(), PortError>;
}

/// Password hashing. [`crate::password::Argon2idHasher`] is the production implementation;
/// tests may use a fast fake. An adapter in an async server should run the work on a blocking
/// thread pool.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait::async_trait]
pub trait PasswordHasher: Send + Sync {
    /// Hashes `password` with a fresh salt.
    async fn hash(&self, password: &Secret<String>) -> Result<PasswordHash, PortError>;
    /// Whether `password` matches `hash`. MUST take the same time for a match and a mismatch.
    async fn verify(
        &self,
        password: &Secret<String>,
        hash: &PasswordHash,
    ) -> Result<bool, PortError>;
}

/// Subscribers (cabinets) and their login handles.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait::async_trait]
pub trait SubscriberRepository: Send + Sync {
    /// Stores a new subscriber as given (its [`Subscriber::version`] is the first version). MUST
    /// fail with [`WriteError::Duplicate`], atomically and without storing anything, if the id
    /// or any of [`Subscriber::handles`] already belongs to another subscriber.
    async fn insert(&self, subscriber: &Subscriber) -> Result<(), WriteError>;
    /// Replaces the stored subscriber with the same id, as one compare-and-swap on the version:
    /// the write happens only if the stored [`Subscriber::version`] still equals
    /// `subscriber.version`, and it stores the record with `version + 1` (for example
    /// `UPDATE … SET …, version = version + 1 WHERE id = $1 AND version = $2`).
    ///
    /// MUST fail without writing: with [`WriteError::Conflict`] if the stored version differs
    /// (another write got there first) or the subscriber is gone, and with
    /// [`WriteError::Duplicate`] if a handle would then belong to two subscribers.
    async fn update(&self, subscriber: &Subscriber) -> Result<(), WriteError>;
    /// The subscriber with this id.
    async fn get(&self, id: SubscriberId) -> Result<Option<Subscriber>, PortError>;
    /// The subscriber who owns this login handle.
    async fn find_by_handle(&self, handle: &LoginHandle) -> Result<Option<Subscriber>, PortError>;
}

/// The ЛС linked to each cabinet. One ЛС may be linked to several cabinets (for example two
/// owners of one flat), but only once to each.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait::async_trait]
pub trait LinkRepository: Send + Sync {
    /// Every ЛС linked to `subscriber`, oldest first.
    async fn list(&self, subscriber: SubscriberId) -> Result<Vec<LinkedAccount>, PortError>;
    /// Links an ЛС. MUST fail with [`WriteError::Duplicate`] if it is already linked to this
    /// subscriber. If `link.active` is true, every other link of the subscriber MUST become
    /// inactive.
    async fn insert(
        &self,
        subscriber: SubscriberId,
        link: &LinkedAccount,
    ) -> Result<(), WriteError>;
    /// Unlinks an ЛС; false if it was not linked.
    async fn remove(
        &self,
        subscriber: SubscriberId,
        account: &AccountRef,
    ) -> Result<bool, PortError>;
    /// Makes this ЛС the only active one; false (and no change) if it is not linked.
    async fn set_active(
        &self,
        subscriber: SubscriberId,
        account: &AccountRef,
    ) -> Result<bool, PortError>;
}

/// Sessions, found by the digest of their token.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait::async_trait]
pub trait SessionRepository: Send + Sync {
    /// Stores a new session.
    async fn insert(&self, session: &SessionRecord) -> Result<(), PortError>;
    /// The session whose token has this digest, revoked or not, with the subscriber it belongs
    /// to (`None` if that cabinet no longer exists). Authentication asks this on every request,
    /// so a store should answer it in one read (a join), not two.
    async fn find_with_subscriber(
        &self,
        digest: &SecretDigest,
    ) -> Result<Option<(SessionRecord, Option<Subscriber>)>, PortError>;
    /// Records activity on a session (moves the idle deadline). The core calls it at most once
    /// per [`crate::policy::SessionPolicy::touch_interval`] of a session's use, not on every
    /// request.
    async fn touch(&self, id: SessionId, at: OffsetDateTime) -> Result<(), PortError>;
    /// Revokes one session of `subscriber`; false if there is no such unrevoked session.
    async fn revoke(
        &self,
        subscriber: SubscriberId,
        id: SessionId,
        at: OffsetDateTime,
    ) -> Result<bool, PortError>;
    /// Revokes every unrevoked session of `subscriber` except `keep`; returns how many.
    async fn revoke_all(
        &self,
        subscriber: SubscriberId,
        keep: Option<SessionId>,
        at: OffsetDateTime,
    ) -> Result<u32, PortError>;
    /// The unrevoked sessions of `subscriber` (the core filters out expired ones).
    async fn list(&self, subscriber: SubscriberId) -> Result<Vec<SessionRecord>, PortError>;
}

/// One-time codes and links.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait::async_trait]
pub trait ChallengeRepository: Send + Sync {
    /// Stores a new challenge.
    async fn insert(&self, challenge: &Challenge) -> Result<(), PortError>;
    /// The challenge with this id.
    async fn get(&self, id: ChallengeId) -> Result<Option<Challenge>, PortError>;
    /// The challenge whose secret has this digest (links carry only the token).
    async fn find_by_digest(&self, digest: &SecretDigest) -> Result<Option<Challenge>, PortError>;
    /// Tries a code against a challenge, as ONE atomic step (for example a single conditional
    /// `UPDATE … SET failed_attempts = failed_attempts + (digest <> $2)::int WHERE id = $1 AND
    /// consumed_at IS NULL AND expires_at > $now AND failed_attempts < $max RETURNING …`):
    ///
    /// - missing → [`AttemptOutcome::Missing`]; used → [`AttemptOutcome::Used`]; `at` not
    ///   before `expires_at` → [`AttemptOutcome::Expired`]; `failed_attempts >= max_attempts`
    ///   → [`AttemptOutcome::Exhausted`] — in these cases nothing changes;
    /// - otherwise, if `presented` differs from the stored digest, `failed_attempts` grows by
    ///   one and [`AttemptOutcome::Wrong`] carries the new count;
    /// - otherwise [`AttemptOutcome::Matched`] carries the challenge (nothing changes; the
    ///   flow uses it up with [`ChallengeRepository::consume`]).
    ///
    /// Because the limit check, the comparison and the count are one step, however many
    /// attempts run concurrently at most `max_attempts` wrong codes are ever compared.
    async fn attempt(
        &self,
        id: ChallengeId,
        presented: &SecretDigest,
        at: OffsetDateTime,
        max_attempts: u32,
    ) -> Result<AttemptOutcome, PortError>;
    /// Marks the challenge used, as ONE atomic compare-and-set that succeeds (true) only if,
    /// at that moment, it is unused, its digest is still `digest` (not reissued since it was
    /// matched), `at` is before `expires_at` and `failed_attempts < max_attempts`. So a correct
    /// code that raced with the last allowed wrong one, or with a resend, is never accepted.
    async fn consume(
        &self,
        id: ChallengeId,
        digest: &SecretDigest,
        at: OffsetDateTime,
        max_attempts: u32,
    ) -> Result<bool, PortError>;
    /// Like [`ChallengeRepository::consume`] for a recovery challenge, and in the same atomic
    /// step marks used (at `at`) every other unused recovery challenge of the same cabinet
    /// ([`crate::model::ChallengePurpose::recovers`]), so one successful recovery leaves no
    /// other recovery link or code usable. False, and nothing changes, if the compare-and-set
    /// on `id` fails.
    ///
    /// MUST lock the cabinet's recovery challenges before the compare-and-set, so that of two
    /// recovery challenges of one cabinet used concurrently at most one succeeds. For example,
    /// in one transaction:
    ///
    /// ```sql
    /// SELECT id FROM challenges WHERE recovers = (SELECT recovers FROM challenges WHERE id = $1)
    ///     ORDER BY id FOR UPDATE;
    /// UPDATE challenges SET consumed_at = $at WHERE id = $1 AND consumed_at IS NULL
    ///     AND digest = $2 AND expires_at > $at AND failed_attempts < $max;   -- 0 rows: stop
    /// UPDATE challenges SET consumed_at = $at
    ///     WHERE recovers = $subscriber AND consumed_at IS NULL;
    /// COMMIT;
    /// ```
    async fn consume_recovery(
        &self,
        id: ChallengeId,
        digest: &SecretDigest,
        at: OffsetDateTime,
        max_attempts: u32,
    ) -> Result<bool, PortError>;
    /// Replaces the secret of an unused challenge (a resent code): new digest, new deadline,
    /// failed attempts back to zero. False if the challenge is missing or used.
    async fn reissue(
        &self,
        id: ChallengeId,
        digest: &SecretDigest,
        issued_at: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<bool, PortError>;
}

/// Throttled attempts (logins and old-password checks, sent codes and links, linking and
/// registration proofs), as timestamps per [`ThrottleKey`].
///
/// A use case takes an attempt with [`ThrottleRepository::reserve`] *before* the guarded work
/// (the password check, the directory lookup, the message), so the limit also counts attempts
/// still in flight; an attempt that turns out not to count (a right password, an accepted
/// proof, a message not sent after all) is given back with [`ThrottleRepository::release`].
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait::async_trait]
pub trait ThrottleRepository: Send + Sync {
    /// Takes one attempt for `key` at `at` if `limit` allows it, as ONE atomic step: the
    /// events of `key` since `at - limit.lookback()` are read, [`RateLimit::check`] decides
    /// against them and `at`, and only on [`Reservation::Granted`] is the event `at` recorded
    /// — with no other reservation of the same key in between. On
    /// [`Reservation::Refused`] nothing is recorded.
    ///
    /// MUST serialise reservations of one key, so that however many run concurrently the
    /// recorded events are exactly those a one-at-a-time caller of [`RateLimit::check`] would
    /// have allowed (never more than `limit.max_events` in any window, the minimum interval
    /// and back-off kept). For example, in one transaction:
    ///
    /// ```sql
    /// INSERT INTO throttle_keys (key) VALUES ($1) ON CONFLICT DO NOTHING;
    /// SELECT 1 FROM throttle_keys WHERE key = $1 FOR UPDATE;       -- the key's lock
    /// SELECT at FROM throttle_events WHERE key = $1 AND at > $2;   -- $2 = at - lookback
    /// -- limit.check(&events, at) in the adapter (pure code from this crate), then only if Ok:
    /// INSERT INTO throttle_events (key, at) VALUES ($1, $3);
    /// COMMIT;
    /// ```
    ///
    /// (or the same statements under `SERIALIZABLE` isolation, retried on a serialisation
    /// failure). Reading, deciding and writing in separate transactions is the race this
    /// method exists to prevent.
    async fn reserve(
        &self,
        key: &ThrottleKey,
        limit: &RateLimit,
        at: OffsetDateTime,
    ) -> Result<Reservation, PortError>;
    /// Gives back one attempt reserved for `key` at `at` (it turned out not to count): removes
    /// one event of `key` with exactly that time, if there is one. Events with the same key and
    /// time are interchangeable, so any one of them may go (for example
    /// `DELETE FROM throttle_events WHERE ctid = (SELECT ctid FROM throttle_events WHERE key = $1
    /// AND at = $2 LIMIT 1)`).
    async fn release(&self, key: &ThrottleKey, at: OffsetDateTime) -> Result<(), PortError>;
    /// Forgets every event for `key` (after a successful login).
    async fn clear(&self, key: &ThrottleKey) -> Result<(), PortError>;
}

/// Consents to personal-data processing (152-ФЗ).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait::async_trait]
pub trait ConsentRepository: Send + Sync {
    /// Stores a consent.
    async fn insert(&self, consent: &Consent) -> Result<(), PortError>;
    /// Every consent of `subscriber`, withdrawn ones included, oldest first.
    async fn list(&self, subscriber: SubscriberId) -> Result<Vec<Consent>, PortError>;
    /// Marks a consent withdrawn; false if `subscriber` has no such unwithdrawn consent.
    async fn withdraw(
        &self,
        subscriber: SubscriberId,
        id: ConsentId,
        at: OffsetDateTime,
    ) -> Result<bool, PortError>;
}

/// The append-only security log a subscriber can read.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait::async_trait]
pub trait SecurityLog: Send + Sync {
    /// Appends an event.
    async fn append(&self, event: &SecurityEvent) -> Result<(), PortError>;
    /// The latest `limit` events of `subscriber`, newest first.
    async fn list(
        &self,
        subscriber: SubscriberId,
        limit: u32,
    ) -> Result<Vec<SecurityEvent>, PortError>;
}

/// Sends SMS messages. The adapter renders the text of each [`Message`]. It SHOULD only queue
/// the message and return, so that the time an answer takes does not tell whether a message
/// was sent (registration and recovery must not reveal which phones have a cabinet).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait::async_trait]
pub trait SmsSender: Send + Sync {
    /// Sends `message` to `to`.
    async fn send(&self, to: &Phone, message: &Message) -> Result<(), PortError>;
}

/// Sends email. The adapter renders the text of each [`Message`] and builds link URLs from
/// the token. It SHOULD only queue the message and return (see [`SmsSender`]).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait::async_trait]
pub trait EmailSender: Send + Sync {
    /// Sends `message` to `to`.
    async fn send(&self, to: &Email, message: &Message) -> Result<(), PortError>;
}

/// Checks a captcha answer with the captcha provider.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait::async_trait]
pub trait CaptchaVerifier: Send + Sync {
    /// Whether the answer is right. Each answer MUST be accepted at most once.
    async fn verify(&self, answer: &Secret<String>) -> Result<bool, PortError>;
}

/// The suppliers' records of ЛС, implemented over billing storage by the composition root.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait::async_trait]
pub trait AccountDirectory: Send + Sync {
    /// The facts about one ЛС.
    async fn find(&self, account: &AccountRef) -> Result<Option<AccountFacts>, PortError>;
    /// The ЛС whose payment-document code is exactly `code`. The core compares the code again
    /// case-sensitively, so a case-insensitive index is safe.
    async fn find_by_payment_code(&self, code: &str) -> Result<Option<AccountFacts>, PortError>;
}

/// Subscribers' questions and operators' answers.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait::async_trait]
pub trait QuestionRepository: Send + Sync {
    /// Stores a new question. MUST fail with [`WriteError::Duplicate`], storing nothing, if
    /// its id is taken.
    async fn insert(&self, question: &Question) -> Result<(), WriteError>;
    /// The question with this id, answered or not.
    async fn get(&self, id: QuestionId) -> Result<Option<Question>, PortError>;
    /// The latest `limit` questions of `subscriber`, newest first (by `asked_at`, then id,
    /// both descending).
    async fn list_by_subscriber(
        &self,
        subscriber: SubscriberId,
        limit: u32,
    ) -> Result<Vec<Question>, PortError>;
    /// At most `limit` unanswered questions, oldest first by `(asked_at, id)`: only those
    /// about an ЛС of `supplier` if it is given, and only those strictly after `after` in that
    /// order if it is given (keyset pagination: `WHERE answered_at IS NULL AND (asked_at, id)
    /// > ($after_at, $after_id) ORDER BY asked_at, id LIMIT $limit`).
    async fn list_open(
        &self,
        supplier: Option<SupplierId>,
        after: Option<QuestionCursor>,
        limit: u32,
    ) -> Result<Vec<Question>, PortError>;
    /// Sets the answer of an unanswered question, as ONE conditional update (for example
    /// `UPDATE questions SET answer = $2, answered_by = $3, answered_at = $4 WHERE id = $1 AND
    /// answered_at IS NULL`): true if this call set it; false, and nothing changes, if the
    /// question is missing or already answered. So of two answers racing for one question
    /// exactly one is stored and the other is told so.
    async fn answer(&self, id: QuestionId, answer: &Answer) -> Result<bool, PortError>;
}

/// Back-office operators.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait::async_trait]
pub trait OperatorRepository: Send + Sync {
    /// Stores a new operator. MUST fail with [`WriteError::Duplicate`], atomically and
    /// storing nothing, if the id or the login is taken (a unique index on the login).
    async fn insert(&self, operator: &Operator) -> Result<(), WriteError>;
    /// The operator with this id, disabled or not.
    async fn get(&self, id: OperatorId) -> Result<Option<Operator>, PortError>;
    /// The operator with this login, disabled or not.
    async fn find_by_login(&self, login: &OperatorLogin) -> Result<Option<Operator>, PortError>;
}

/// Operators' API keys, found by the digest of the key.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait::async_trait]
pub trait ApiKeyRepository: Send + Sync {
    /// Stores a new key. MUST fail with [`WriteError::Duplicate`], storing nothing, if its id
    /// or digest is taken.
    async fn insert(&self, key: &ApiKeyRecord) -> Result<(), WriteError>;
    /// The key whose digest this is, revoked or not.
    async fn find_by_key_digest(
        &self,
        digest: &SecretDigest,
    ) -> Result<Option<ApiKeyRecord>, PortError>;
    /// Every key, revoked ones included, oldest first.
    async fn list(&self) -> Result<Vec<ApiKeyRecord>, PortError>;
    /// Revokes a key, as one conditional update (`… WHERE id = $1 AND revoked_at IS NULL`):
    /// true if this call revoked it; false if there is no such unrevoked key.
    async fn revoke(&self, id: ApiKeyId, at: OffsetDateTime) -> Result<bool, PortError>;
}

/// Operators' sessions, found by the digest of their token.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait::async_trait]
pub trait OperatorSessionRepository: Send + Sync {
    /// Stores a new session.
    async fn insert(&self, session: &OperatorSessionRecord) -> Result<(), PortError>;
    /// The session whose token has this digest, revoked or not.
    async fn find_by_token(
        &self,
        digest: &SecretDigest,
    ) -> Result<Option<OperatorSessionRecord>, PortError>;
    /// Records activity on a session (moves its idle deadline); called at most once per
    /// [`crate::policy::SessionPolicy::touch_interval`] of a session's use.
    async fn touch(&self, id: OperatorSessionId, at: OffsetDateTime) -> Result<(), PortError>;
    /// Revokes a session; false if there is no such unrevoked session.
    async fn revoke(&self, id: OperatorSessionId, at: OffsetDateTime) -> Result<bool, PortError>;
}
