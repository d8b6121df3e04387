//! [`IdentityService`]: every use case of a subscriber's cabinet, one method each, over the
//! [`Ports`]; [`QuestionService`] (subscribers' questions and operators' answers, over
//! [`QuestionPorts`]) and [`OperatorService`] (back-office operators, their sessions and API
//! keys, over [`OperatorPorts`]) beside it. The flows are split by topic into the submodules;
//! each operation has its own error enum with a Russian [`UserMessage`].
//!
//! The two services beside [`IdentityService`] have ports of their own, so adding them left
//! [`Ports`] and [`IdentityService::new`] unchanged; each ports struct can be built from the
//! shared adapters of a [`Ports`] plus its own repositories ([`QuestionPorts::new`],
//! [`OperatorPorts::new`]).
//!
//! Conventions shared by all flows:
//! - the state change happens first, then the security log entry; a failure of either is the
//!   operation's `Unexpected` error;
//! - codes and links are delivered or the operation fails (the subscriber can retry);
//!   informational notices ("your password was changed") are best effort, because the state
//!   change they describe has already happened;
//! - wherever an answer could reveal whether a phone, email or ЛС is registered, the flow does
//!   the same work and gives the same answer either way (decoy challenges, dummy hashes,
//!   throttling keyed by handle).

mod account;
mod admission;
mod linking;
mod operators;
mod questions;
mod recovery;
mod registration;
mod sessions;
mod settings;

use std::sync::{Arc, OnceLock};

use time::{Duration, OffsetDateTime};

use crate::crypto::{SecretDigest, new_code, new_token, random_bytes};
use crate::domain::{ChallengeId, ClientInfo, Email, Phone, SessionId, SubscriberId};
use crate::errors::{UNEXPECTED_RU, UserMessage};
use crate::model::{
    AttemptOutcome, Challenge, ChallengePurpose, ChallengeState, Message, Reservation,
    SecurityEvent, SecurityEventKind, Subscriber, ThrottleKey,
};
use crate::password::PasswordHash;
use crate::policy::{RateLimit, SecurityPolicy};
use crate::ports::{
    AccountDirectory, CaptchaVerifier, ChallengeRepository, Clock, ConsentRepository, EmailSender,
    LinkRepository, PasswordHasher, PortError, Random, SecurityLog, SessionRepository, SmsSender,
    SubscriberRepository, ThrottleRepository, WriteError,
};
use crate::secret::Secret;

pub use account::*;
pub use admission::*;
pub use linking::*;
pub use operators::*;
pub use questions::*;
pub use recovery::*;
pub use registration::*;
pub use sessions::*;
pub use settings::*;

/// The adapters an [`IdentityService`] works through. Built once by the composition root.
#[derive(Clone)]
pub struct Ports {
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Randomness for ids, tokens, codes and salts.
    pub random: Arc<dyn Random>,
    /// Password hashing (production: [`crate::password::Argon2idHasher`]).
    pub hasher: Arc<dyn PasswordHasher>,
    /// Cabinets.
    pub subscribers: Arc<dyn SubscriberRepository>,
    /// Linked ЛС.
    pub links: Arc<dyn LinkRepository>,
    /// Sessions.
    pub sessions: Arc<dyn SessionRepository>,
    /// One-time codes and links.
    pub challenges: Arc<dyn ChallengeRepository>,
    /// Throttling counters.
    pub throttle: Arc<dyn ThrottleRepository>,
    /// Consents.
    pub consents: Arc<dyn ConsentRepository>,
    /// The security log.
    pub security_log: Arc<dyn SecurityLog>,
    /// SMS.
    pub sms: Arc<dyn SmsSender>,
    /// Email.
    pub email: Arc<dyn EmailSender>,
    /// Captcha checks.
    pub captcha: Arc<dyn CaptchaVerifier>,
    /// The suppliers' ЛС records.
    pub directory: Arc<dyn AccountDirectory>,
}

/// Every identity use case. Cheap to share behind an `Arc`; holds no per-request state.
pub struct IdentityService {
    ports: Ports,
    policy: SecurityPolicy,
    dummy_hash: DummyHash,
}

/// The hash an unknown login is checked against, so that it costs one hash verification
/// like a known one. Computed once, on first use or at warm-up.
#[derive(Default)]
struct DummyHash(OnceLock<PasswordHash>);

impl DummyHash {
    async fn get(&self, hasher: &dyn PasswordHasher) -> Result<PasswordHash, PortError> {
        if let Some(hash) = self.0.get() {
            return Ok(hash.clone());
        }
        let hash = hasher
            .hash(&Secret::from("dummy password for timing"))
            .await?;
        Ok(self.0.get_or_init(|| hash).clone())
    }

    /// Verifies `password` (normalised) against `hash`, or against the dummy hash when there
    /// is none, so both paths cost one hash verification. Never true without a real hash.
    async fn verify(
        &self,
        hasher: &dyn PasswordHasher,
        password: &Secret<String>,
        hash: Option<&PasswordHash>,
    ) -> Result<bool, PortError> {
        let password = crate::password::normalise(password);
        match hash {
            Some(hash) => hasher.verify(&password, hash).await,
            None => {
                let dummy = self.get(hasher).await?;
                hasher.verify(&password, &dummy).await.map(|_| false)
            }
        }
    }
}

/// Takes one attempt under `limit` for `key` in one atomic step of the adapter (check and
/// record together); `Err(wait)` when the limit is reached and nothing was recorded.
async fn reserve_attempt(
    throttle: &dyn ThrottleRepository,
    limit: &RateLimit,
    key: &ThrottleKey,
    now: OffsetDateTime,
) -> Result<Result<(), Duration>, PortError> {
    Ok(match throttle.reserve(key, limit, now).await? {
        Reservation::Granted => Ok(()),
        Reservation::Refused { retry_after } => Err(retry_after),
    })
}

/// Why a one-time code or link was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CodeRejected {
    /// Wrong code, or no such code or link.
    #[error("invalid code or link")]
    Invalid,
    /// Past its deadline.
    #[error("code or link expired")]
    Expired,
    /// Already used.
    #[error("code or link already used")]
    Used,
    /// Too many wrong entries; a new code is needed.
    #[error("too many wrong codes")]
    TooManyAttempts,
}

impl UserMessage for CodeRejected {
    fn user_message(&self) -> &'static str {
        match self {
            Self::Invalid => "Неверный код или ссылка.",
            Self::Expired => "Срок действия кода или ссылки истёк. Запросите новый.",
            Self::Used => "Этот код или ссылка уже использованы.",
            Self::TooManyAttempts => "Слишком много неверных попыток. Запросите новый код.",
        }
    }
}

/// Proof that a request carries a live session: made only by
/// [`IdentityService::authenticate`], required by every signed-in operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated {
    subscriber: SubscriberId,
    session: SessionId,
}

impl Authenticated {
    /// The signed-in cabinet.
    pub fn subscriber(&self) -> SubscriberId {
        self.subscriber
    }

    /// The session used.
    pub fn session(&self) -> SessionId {
        self.session
    }

    /// Builds the proof without a session check, for tests of crates that use this one.
    #[cfg(any(test, feature = "mocks"))]
    pub fn new_unchecked(subscriber: SubscriberId, session: SessionId) -> Self {
        Self {
            subscriber,
            session,
        }
    }
}

/// How many times a use case re-reads and re-applies a change of a cabinet that lost a race
/// with another write (optimistic concurrency) before it gives up.
pub const UPDATE_ATTEMPTS: u32 = 3;

/// Why [`IdentityService::modify_subscriber`] did not write.
enum ModifyError<E> {
    /// No such cabinet.
    Missing,
    /// The change itself refused (for example the password it checked changed meanwhile).
    Rejected(E),
    /// The change would give a login handle two owners.
    Duplicate,
    /// A port failed, or the cabinet kept changing under us.
    Port(PortError),
}

impl<E: From<PortError>> ModifyError<E> {
    /// The operation's error: `duplicate` for a uniqueness violation, `Unexpected` for a
    /// missing cabinet or a port failure.
    fn into_error(self, duplicate: impl FnOnce() -> E) -> E {
        match self {
            Self::Missing => PortError::new("cabinet not found while updating it").into(),
            Self::Rejected(error) => error,
            Self::Duplicate => duplicate(),
            Self::Port(error) => error.into(),
        }
    }
}

/// For updates that cannot give a handle two owners: a uniqueness violation is unexpected.
fn unexpected_duplicate<E: From<PortError>>() -> E {
    PortError::new("unexpected uniqueness violation").into()
}

impl<E> From<PortError> for ModifyError<E> {
    fn from(error: PortError) -> Self {
        Self::Port(error)
    }
}

/// A digest that no code or token can match: the digest of 256 fresh random bits nobody
/// ever sees. Decoy challenges carry it.
fn unguessable_digest(random: &dyn Random) -> Result<SecretDigest, PortError> {
    let (_never_shown, digest) = new_token(random)?;
    Ok(digest)
}

/// What to send when a code is issued.
enum Delivery {
    /// The code itself, by SMS.
    Code(crate::model::Purpose),
    /// An "already registered" notice instead of the code.
    Notice,
    /// Nothing (a decoy for an unknown phone).
    Nothing,
}

impl IdentityService {
    /// A service over `ports` with `policy`.
    pub fn new(ports: Ports, policy: SecurityPolicy) -> Self {
        Self {
            ports,
            policy,
            dummy_hash: DummyHash::default(),
        }
    }

    /// The policy in force.
    pub fn policy(&self) -> &SecurityPolicy {
        &self.policy
    }

    /// Computes the dummy hash used to make unknown logins cost as much as known ones. Call it
    /// at start-up; otherwise the first unknown login computes it (and is slower once).
    pub async fn warm_up(&self) -> Result<(), PortError> {
        self.dummy_hash().await.map(|_| ())
    }

    async fn dummy_hash(&self) -> Result<PasswordHash, PortError> {
        self.dummy_hash.get(&*self.ports.hasher).await
    }

    /// Verifies `password` against `hash`, or against the dummy hash when there is none, so
    /// both paths cost one hash verification. Never true without a real hash.
    async fn verify_password(
        &self,
        password: &Secret<String>,
        hash: Option<&PasswordHash>,
    ) -> Result<bool, PortError> {
        self.dummy_hash
            .verify(&*self.ports.hasher, password, hash)
            .await
    }

    fn now(&self) -> OffsetDateTime {
        self.ports.clock.now()
    }

    async fn captcha_ok(&self, answer: &Secret<String>) -> Result<bool, PortError> {
        self.ports.captcha.verify(answer).await
    }

    /// Takes one attempt under `limit` for `key` in one atomic step of the adapter (check and
    /// record together); `Err(wait)` when the limit is reached and nothing was recorded. The
    /// attempt counts from now on, even while the work it guards is still running; give it
    /// back with [`Self::release`] if it turns out not to count.
    async fn reserve(
        &self,
        limit: &RateLimit,
        key: &ThrottleKey,
        now: OffsetDateTime,
    ) -> Result<Result<(), Duration>, PortError> {
        reserve_attempt(&*self.ports.throttle, limit, key, now).await
    }

    /// Gives back an attempt reserved at `now` that does not count (a right password, an
    /// accepted proof, a message that was not sent).
    async fn release(&self, key: &ThrottleKey, now: OffsetDateTime) -> Result<(), PortError> {
        self.ports.throttle.release(key, now).await
    }

    async fn log(
        &self,
        subscriber: SubscriberId,
        kind: SecurityEventKind,
        client: &ClientInfo,
        at: OffsetDateTime,
    ) -> Result<(), PortError> {
        let event = SecurityEvent {
            subscriber,
            at,
            kind,
            client: client.clone(),
        };
        self.ports.security_log.append(&event).await
    }

    /// Best-effort notices: a failure is ignored because the change they report is done.
    async fn notify(&self, subscriber: &Subscriber, message: Message) {
        if let Some(phone) = &subscriber.phone {
            let _ignored = self.ports.sms.send(phone, &message).await;
        }
        if let Some(email) = &subscriber.email {
            let _ignored = self.ports.email.send(email, &message).await;
        }
    }

    async fn fetch_subscriber(&self, id: SubscriberId) -> Result<Subscriber, PortError> {
        self.ports
            .subscribers
            .get(id)
            .await?
            .ok_or_else(|| PortError::new("signed-in subscriber not found"))
    }

    /// Issues an SMS code challenge for `purpose` to `phone`, obeying the delivery limit.
    /// `Ok(Err(wait))` when the phone has had too many codes.
    async fn issue_code(
        &self,
        purpose: ChallengePurpose,
        phone: &Phone,
        ttl: Duration,
        delivery: Delivery,
        now: OffsetDateTime,
    ) -> Result<Result<ChallengeId, Duration>, PortError> {
        let key = ThrottleKey::delivery_phone(phone);
        if let Err(wait) = self.reserve(&self.policy.delivery, &key, now).await? {
            return Ok(Err(wait));
        }
        let id = ChallengeId::from_bytes(random_bytes(&*self.ports.random)?);
        let code = new_code(&*self.ports.random, self.policy.codes.digits)?;
        let digest = if matches!(purpose, ChallengePurpose::Decoy { .. }) {
            unguessable_digest(&*self.ports.random)?
        } else {
            SecretDigest::of_code(id.as_bytes(), code.expose())
        };
        let challenge = Challenge {
            id,
            purpose,
            digest,
            issued_at: now,
            expires_at: now + ttl,
            failed_attempts: 0,
            consumed_at: None,
        };
        self.ports.challenges.insert(&challenge).await?;
        self.deliver_code(phone, code, ttl, delivery).await?;
        Ok(Ok(id))
    }

    async fn deliver_code(
        &self,
        phone: &Phone,
        code: Secret<String>,
        ttl: Duration,
        delivery: Delivery,
    ) -> Result<(), PortError> {
        match delivery {
            Delivery::Code(purpose) => {
                self.ports
                    .sms
                    .send(
                        phone,
                        &Message::Code {
                            code,
                            purpose,
                            valid_for: ttl,
                        },
                    )
                    .await
            }
            Delivery::Notice => {
                self.ports
                    .sms
                    .send(phone, &Message::AlreadyRegistered)
                    .await
            }
            Delivery::Nothing => Ok(()),
        }
    }

    /// Emails a link for `purpose` (or, with `purpose` `None`, an "already registered" notice),
    /// obeying the delivery limit. `Ok(Err(wait))` when the address has had too many messages.
    async fn issue_link(
        &self,
        purpose: Option<(ChallengePurpose, crate::model::Purpose)>,
        email: &Email,
        ttl: Duration,
        now: OffsetDateTime,
    ) -> Result<Result<(), Duration>, PortError> {
        let key = ThrottleKey::delivery_email(email);
        if let Err(wait) = self.reserve(&self.policy.delivery, &key, now).await? {
            return Ok(Err(wait));
        }
        let message = match purpose {
            Some((purpose, kind)) => {
                let (token, digest) = new_token(&*self.ports.random)?;
                let challenge = Challenge {
                    id: ChallengeId::from_bytes(random_bytes(&*self.ports.random)?),
                    purpose,
                    digest,
                    issued_at: now,
                    expires_at: now + ttl,
                    failed_attempts: 0,
                    consumed_at: None,
                };
                self.ports.challenges.insert(&challenge).await?;
                Message::Link {
                    token,
                    purpose: kind,
                    valid_for: ttl,
                }
            }
            None => Message::AlreadyRegistered,
        };
        self.ports.email.send(email, &message).await?;
        Ok(Ok(()))
    }

    /// Tries a code against its challenge in one atomic step of the adapter (limit check,
    /// comparison and count together), without using it up. A decoy never matches.
    async fn check_code(
        &self,
        id: ChallengeId,
        code: &Secret<String>,
        now: OffsetDateTime,
    ) -> Result<Result<Challenge, CodeRejected>, PortError> {
        let max = self.policy.codes.max_attempts;
        let presented = SecretDigest::of_code(id.as_bytes(), code.expose().trim());
        let outcome = self
            .ports
            .challenges
            .attempt(id, &presented, now, max)
            .await?;
        Ok(match outcome {
            AttemptOutcome::Matched(challenge) => {
                if matches!(challenge.purpose, ChallengePurpose::Decoy { .. }) {
                    // Unreachable with digests from `unguessable_digest`; refuse regardless.
                    // (A `DecoyRegistration` code is real and matches: its flow refuses it
                    // later, exactly where a new registration of a taken ЛС is refused.)
                    Err(CodeRejected::Invalid)
                } else {
                    Ok(*challenge)
                }
            }
            AttemptOutcome::Wrong { failed_attempts } if failed_attempts >= max => {
                Err(CodeRejected::TooManyAttempts)
            }
            AttemptOutcome::Wrong { .. } | AttemptOutcome::Missing => Err(CodeRejected::Invalid),
            AttemptOutcome::Used => Err(CodeRejected::Used),
            AttemptOutcome::Expired => Err(CodeRejected::Expired),
            AttemptOutcome::Exhausted => Err(CodeRejected::TooManyAttempts),
        })
    }

    /// Finds the challenge a link token belongs to, without using it up.
    async fn check_link(
        &self,
        token: &Secret<String>,
        now: OffsetDateTime,
    ) -> Result<Result<Challenge, CodeRejected>, PortError> {
        let digest = SecretDigest::of_token(token.expose().trim());
        let Some(challenge) = self.ports.challenges.find_by_digest(&digest).await? else {
            return Ok(Err(CodeRejected::Invalid));
        };
        if !challenge.digest.ct_eq(&digest) {
            return Ok(Err(CodeRejected::Invalid));
        }
        Ok(match rejection(challenge.state(now, u32::MAX)) {
            Some(rejected) => Err(rejected),
            None => Ok(challenge),
        })
    }

    /// Uses a checked challenge up, through the adapter's atomic compare-and-set (unused, same
    /// digest, not expired, under the attempt limit); a recovery challenge also uses up every
    /// other recovery challenge of its cabinet in the same step. If it fails, says why: another
    /// request used it (or another recovery of the cabinet succeeded), it expired, the attempt
    /// limit was reached meanwhile, or it was reissued.
    async fn consume(
        &self,
        challenge: &Challenge,
        now: OffsetDateTime,
    ) -> Result<Result<(), CodeRejected>, PortError> {
        let max = self.policy.codes.max_attempts;
        let challenges = &self.ports.challenges;
        let (id, digest) = (challenge.id, &challenge.digest);
        let done = if challenge.purpose.recovers().is_some() {
            challenges.consume_recovery(id, digest, now, max).await?
        } else {
            challenges.consume(id, digest, now, max).await?
        };
        if done {
            return Ok(Ok(()));
        }
        let current = self.ports.challenges.get(challenge.id).await?;
        Ok(Err(current
            .and_then(|c| rejection(c.state(now, max)))
            .unwrap_or(CodeRejected::Invalid)))
    }

    /// Applies `change` to the stored cabinet and writes it with the repository's
    /// compare-and-swap on [`Subscriber::version`]. When another write got there first it reads
    /// the cabinet again and re-applies `change` (which must decide afresh from the record it
    /// is given), at most [`UPDATE_ATTEMPTS`] times; then it reports the contention as a port
    /// failure, which every flow turns into its `Unexpected` error ("try again later").
    async fn modify_subscriber<E>(
        &self,
        id: SubscriberId,
        mut change: impl FnMut(&mut Subscriber) -> Result<(), E>,
    ) -> Result<Subscriber, ModifyError<E>> {
        for _ in 0..UPDATE_ATTEMPTS {
            let mut record = self
                .ports
                .subscribers
                .get(id)
                .await?
                .ok_or(ModifyError::Missing)?;
            change(&mut record).map_err(ModifyError::Rejected)?;
            match self.ports.subscribers.update(&record).await {
                Ok(()) => {
                    record.version = record.version.saturating_add(1);
                    return Ok(record);
                }
                Err(WriteError::Conflict) => {}
                Err(WriteError::Duplicate) => return Err(ModifyError::Duplicate),
                Err(WriteError::Port(e)) => return Err(e.into()),
            }
        }
        Err(PortError::new("the cabinet kept changing concurrently; gave up updating it").into())
    }

    /// Sends a new code for an unused challenge (the "didn't get the code?" button): new code,
    /// new deadline, attempts reset, same delivery limit as the first code.
    pub async fn resend_code(&self, id: ChallengeId) -> Result<(), ResendCodeError> {
        let now = self.now();
        let challenge = self
            .ports
            .challenges
            .get(id)
            .await?
            .ok_or(ResendCodeError::NotFound)?;
        if challenge.consumed_at.is_some() {
            return Err(ResendCodeError::NotFound);
        }
        let (phone, delivery) = match &challenge.purpose {
            ChallengePurpose::Registration(draft) | ChallengePurpose::DecoyRegistration(draft) => (
                draft.phone.clone(),
                Delivery::Code(crate::model::Purpose::Registration),
            ),
            ChallengePurpose::ChangePhone { phone, .. } => (
                phone.clone(),
                Delivery::Code(crate::model::Purpose::ChangePhone),
            ),
            ChallengePurpose::Decoy { phone, notify } => (
                phone.clone(),
                if *notify {
                    Delivery::Notice
                } else {
                    Delivery::Nothing
                },
            ),
            ChallengePurpose::RecoverByPhone { subscriber } => {
                let phone = self
                    .ports
                    .subscribers
                    .get(*subscriber)
                    .await?
                    .and_then(|s| s.phone)
                    .ok_or(ResendCodeError::NotFound)?;
                (phone, Delivery::Code(crate::model::Purpose::Recovery))
            }
            ChallengePurpose::ConfirmEmail { .. } | ChallengePurpose::RecoverByEmail { .. } => {
                return Err(ResendCodeError::NotFound);
            }
        };
        let ttl = match challenge.purpose {
            ChallengePurpose::RecoverByPhone { .. } => {
                self.policy.codes.ttl.min(self.policy.codes.recovery_ttl)
            }
            _ => self.policy.codes.ttl,
        };
        let key = ThrottleKey::delivery_phone(&phone);
        if let Err(retry_after) = self.reserve(&self.policy.delivery, &key, now).await? {
            return Err(ResendCodeError::TooManyCodes { retry_after });
        }
        let code = new_code(&*self.ports.random, self.policy.codes.digits)?;
        let digest = if matches!(challenge.purpose, ChallengePurpose::Decoy { .. }) {
            unguessable_digest(&*self.ports.random)?
        } else {
            SecretDigest::of_code(id.as_bytes(), code.expose())
        };
        if !self
            .ports
            .challenges
            .reissue(id, &digest, now, now + ttl)
            .await?
        {
            // Used meanwhile: nothing is sent, so the reservation does not count.
            self.release(&key, now).await?;
            return Err(ResendCodeError::NotFound);
        }
        self.deliver_code(&phone, code, ttl, delivery).await?;
        Ok(())
    }
}

fn rejection(state: ChallengeState) -> Option<CodeRejected> {
    match state {
        ChallengeState::Open => None,
        ChallengeState::Used => Some(CodeRejected::Used),
        ChallengeState::Expired => Some(CodeRejected::Expired),
        ChallengeState::Exhausted => Some(CodeRejected::TooManyAttempts),
    }
}

/// Errors of [`IdentityService::resend_code`].
#[derive(Debug, thiserror::Error)]
pub enum ResendCodeError {
    /// No unused code challenge with this id.
    #[error("no pending code with this id")]
    NotFound,
    /// Too many codes to this phone; wait `retry_after`.
    #[error("too many codes, retry after {retry_after}")]
    TooManyCodes {
        /// How long to wait.
        retry_after: Duration,
    },
    /// A port failed.
    #[error("unexpected failure")]
    Unexpected(#[from] PortError),
}

impl UserMessage for ResendCodeError {
    fn user_message(&self) -> &'static str {
        match self {
            Self::NotFound => "Запрос не найден. Начните заново.",
            Self::TooManyCodes { .. } => "Код уже отправлен. Новый можно запросить чуть позже.",
            Self::Unexpected(_) => UNEXPECTED_RU,
        }
    }
}

/// Declares an error enum for an operation whose only failure is a port failure.
macro_rules! port_only_error {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, thiserror::Error)]
        pub enum $name {
            /// A port failed.
            #[error("unexpected failure")]
            Unexpected(#[from] crate::ports::PortError),
        }

        impl crate::errors::UserMessage for $name {
            fn user_message(&self) -> &'static str {
                crate::errors::UNEXPECTED_RU
            }
        }
    };
}
pub(crate) use port_only_error;

#[cfg(test)]
mod concurrency_tests;
#[cfg(test)]
mod flow_tests;
#[cfg(test)]
mod mock_tests;
#[cfg(test)]
mod operator_tests;
#[cfg(test)]
mod property_tests;
#[cfg(test)]
mod question_tests;
#[cfg(test)]
pub(crate) mod testkit;
#[cfg(test)]
mod throttle_race_tests;
