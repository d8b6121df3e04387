//! Records the ports exchange: subscribers, linked ЛС, sessions, one-time challenges,
//! consents, security events, messages and throttling keys (with the client actions that are
//! throttled per client address); subscribers' questions and their answers; back-office
//! operators, their API keys and sessions.
//!
//! These are domain records, not database rows: adapters convert them at the edge. Fields are
//! public because adapters must rebuild the records from storage; every field holds an already
//! parsed domain value.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::crypto::{SecretDigest, to_hex};
use crate::domain::{
    AccountNumber, AccountRef, Address, ApiKeyId, ChallengeId, ClientInfo, ConsentId, Email,
    InvalidId, LoginHandle, MeterNumber, OperatorId, OperatorLogin, OperatorSessionId, PersonName,
    Phone, QuestionId, QuestionText, SessionId, SubscriberId, SupplierId,
};
use crate::password::PasswordHash;
use crate::secret::Secret;

/// A subscriber's cabinet.
#[derive(Clone, Debug, PartialEq)]
pub struct Subscriber {
    /// Its id.
    pub id: SubscriberId,
    /// The name the subscriber gave (editable in settings).
    pub name: PersonName,
    /// The ЛС the cabinet was registered with, if it was registered by ЛС; its number is a
    /// login handle.
    pub account: Option<AccountRef>,
    /// The verified phone, a login handle.
    pub phone: Option<Phone>,
    /// The verified email, a login handle.
    pub email: Option<Email>,
    /// An email waiting for its confirmation link (after registration or a change of email);
    /// not a login handle. Only a link for this address can take effect; it can be re-sent.
    pub pending_email: Option<Email>,
    /// The password hash; `None` until a password is set.
    pub password_hash: Option<PasswordHash>,
    /// Active or blocked.
    pub status: CabinetStatus,
    /// When the cabinet was created.
    pub created_at: OffsetDateTime,
    /// The stored version, for optimistic concurrency: [`crate::ports::SubscriberRepository::update`]
    /// writes only if it is unchanged, and increments it.
    pub version: u64,
}

impl Subscriber {
    /// The login handles this cabinet owns: its registration ЛС number, phone and email.
    pub fn handles(&self) -> Vec<LoginHandle> {
        let mut handles = Vec::with_capacity(3);
        if let Some(account) = &self.account {
            handles.push(LoginHandle::Account(account.number.clone()));
        }
        if let Some(phone) = &self.phone {
            handles.push(LoginHandle::Phone(phone.clone()));
        }
        if let Some(email) = &self.email {
            handles.push(LoginHandle::Email(email.clone()));
        }
        handles
    }

    /// Strings a password must not contain and that the strength estimator should know about.
    pub(crate) fn personal_words(&self) -> Vec<String> {
        let mut words: Vec<String> = self
            .handles()
            .iter()
            .map(|h| h.as_str().to_owned())
            .collect();
        if let Some(phone) = &self.phone {
            words.push(phone.digits().to_owned());
        }
        if let Some(email) = &self.email {
            words.push(email.local_part().to_owned());
        }
        words
    }

    /// Whether the cabinet is blocked.
    pub fn is_blocked(&self) -> bool {
        matches!(self.status, CabinetStatus::Blocked { .. })
    }
}

/// Whether a cabinet can be used.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CabinetStatus {
    /// Usable.
    Active,
    /// Blocked ("my cabinet was hacked"); password recovery or an operator unblocks it.
    Blocked {
        /// When.
        at: OffsetDateTime,
        /// By whom.
        by: BlockedBy,
    },
}

/// Who blocked a cabinet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum BlockedBy {
    /// The subscriber, from a session.
    Subscriber,
    /// An operator (identified by the caller), on the subscriber's request.
    Operator {
        /// The operator's identifier in the back office.
        operator: String,
    },
}

/// How a subscriber proved a right to an ЛС.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LinkProof {
    /// At registration, by ЛС number and the holder's name.
    HolderName,
    /// At registration, by ЛС number and the number of a meter on it.
    MeterNumber,
    /// By the code printed on the payment document (case-sensitive).
    PaymentDocumentCode,
    /// By house, flat and ЛС number.
    Address,
    /// By the ЛС number and the password of the cabinet registered with it.
    CabinetPassword,
}

/// An ЛС linked to a cabinet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkedAccount {
    /// The ЛС.
    pub account: AccountRef,
    /// The proof used.
    pub proof: LinkProof,
    /// When.
    pub linked_at: OffsetDateTime,
    /// Whether this is the ЛС the cabinet currently shows.
    pub active: bool,
}

/// What the supplier's records say about one ЛС (returned by the account directory).
#[derive(Clone, Debug)]
pub struct AccountFacts {
    /// The ЛС.
    pub account: AccountRef,
    /// The holder's name on file.
    pub holder: PersonName,
    /// The premise.
    pub address: Address,
    /// Meters installed on the ЛС.
    pub meters: Vec<MeterNumber>,
    /// The code printed on the payment document, if the supplier prints one.
    pub payment_code: Option<Secret<String>>,
}

/// A stored session. The token itself is never stored, only its digest.
#[derive(Clone, Debug, PartialEq)]
pub struct SessionRecord {
    /// Id for listing and revoking.
    pub id: SessionId,
    /// Whose session.
    pub subscriber: SubscriberId,
    /// SHA-256 digest of the token.
    pub token_digest: SecretDigest,
    /// Login time; the absolute lifetime runs from here.
    pub created_at: OffsetDateTime,
    /// Last recorded activity; the idle timeout runs from here. Recorded at most once per
    /// [`crate::policy::SessionPolicy::touch_interval`], so it may be up to that much behind
    /// the last request.
    pub last_seen_at: OffsetDateTime,
    /// When revoked, if revoked.
    pub revoked_at: Option<OffsetDateTime>,
    /// Where the login came from.
    pub client: ClientInfo,
}

impl SessionRecord {
    /// Whether the session may be used at `now` under the given lifetimes: not revoked, not
    /// idle for `idle` or longer, not older than `absolute`.
    pub fn is_live(&self, now: OffsetDateTime, idle: Duration, absolute: Duration) -> bool {
        self.revoked_at.is_none()
            && now < self.last_seen_at + idle
            && now < self.created_at + absolute
    }
}

/// The consent text a subscriber agreed to: its version label and the SHA-256 of its text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentDocument {
    version: String,
    text_sha256: String,
}

impl ConsentDocument {
    /// Identifies the consent text `text` published as `version`.
    pub fn new(version: impl Into<String>, text: &str) -> Self {
        use sha2::{Digest, Sha256};
        Self {
            version: version.into(),
            text_sha256: to_hex(&Sha256::digest(text.as_bytes())),
        }
    }

    /// Rebuilds a document read back from storage.
    pub fn from_parts(version: String, text_sha256: String) -> Self {
        Self {
            version,
            text_sha256,
        }
    }

    /// The version label.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The lowercase hex SHA-256 of the text.
    pub fn text_sha256(&self) -> &str {
        &self.text_sha256
    }
}

/// A consent to personal-data processing (152-ФЗ ст. 9): what, when, through which channel,
/// and whether it was withdrawn.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consent {
    /// Id.
    pub id: ConsentId,
    /// Who consented.
    pub subscriber: SubscriberId,
    /// To which text.
    pub document: ConsentDocument,
    /// When.
    pub given_at: OffsetDateTime,
    /// Through which channel.
    pub client: ClientInfo,
    /// When withdrawn, if withdrawn.
    pub withdrawn_at: Option<OffsetDateTime>,
}

/// A registration waiting for its phone code.
#[derive(Clone, Debug, PartialEq)]
pub struct RegistrationDraft {
    /// The new cabinet's id, fixed when the draft is made.
    pub subscriber: SubscriberId,
    /// The subscriber's name.
    pub name: PersonName,
    /// The phone the code was sent to.
    pub phone: Phone,
    /// The email to confirm by link after the phone is confirmed.
    pub email: Option<Email>,
    /// The ЛС proven at registration by ЛС (with the proof used).
    pub account: Option<(AccountRef, LinkProof)>,
    /// The password hash, when the password was given up front (registration by phone).
    pub password_hash: Option<PasswordHash>,
    /// The consent given, and when.
    pub consent: ConsentDocument,
    /// When the consent was given.
    pub consented_at: OffsetDateTime,
    /// Where the registration came from.
    pub client: ClientInfo,
}

/// What a challenge is for; the payload the flow needs once the secret is proven.
#[derive(Clone, Debug, PartialEq)]
pub enum ChallengePurpose {
    /// Confirms the phone of a new registration (SMS code).
    Registration(Box<RegistrationDraft>),
    /// Confirms an email address for a cabinet (emailed link).
    ConfirmEmail {
        /// The cabinet.
        subscriber: SubscriberId,
        /// The address to confirm.
        email: Email,
    },
    /// Recovers a password by emailed link.
    RecoverByEmail {
        /// The cabinet.
        subscriber: SubscriberId,
    },
    /// Recovers a password by SMS code.
    RecoverByPhone {
        /// The cabinet.
        subscriber: SubscriberId,
    },
    /// Confirms a new phone for a cabinet (SMS code to the new number).
    ChangePhone {
        /// The cabinet.
        subscriber: SubscriberId,
        /// The new phone.
        phone: Phone,
    },
    /// A registration by ЛС whose ЛС already has a cabinet. The requester is answered exactly
    /// like a new registration: a real code goes to the phone they gave, it can be resent and
    /// entered under the same limits, and completing it checks and hashes the password. But it
    /// can never create a cabinet: completion always ends in "already registered", the answer
    /// a new registration gets when its ЛС is taken before it completes. The owner is notified
    /// when it is issued.
    DecoyRegistration(Box<RegistrationDraft>),
    /// A stand-in whose code nobody knows, issued where a real challenge would reveal that a
    /// phone is (or is not) registered. It behaves like a real one in every observable way.
    Decoy {
        /// The phone a real challenge would have gone to (for rate limiting and resends).
        phone: Phone,
        /// Whether resends go to the phone as an "already registered" notice (the phone has a
        /// cabinet) or nowhere.
        notify: bool,
    },
}

impl ChallengePurpose {
    /// The phone a code for this purpose goes to, if it is an SMS code.
    pub fn phone(&self) -> Option<&Phone> {
        match self {
            Self::Registration(draft) | Self::DecoyRegistration(draft) => Some(&draft.phone),
            Self::ChangePhone { phone, .. } | Self::Decoy { phone, .. } => Some(phone),
            Self::ConfirmEmail { .. }
            | Self::RecoverByEmail { .. }
            | Self::RecoverByPhone { .. } => None,
        }
    }

    /// The cabinet whose password this challenge recovers, if it is a recovery link or code.
    /// Adapters store it alongside the challenge so that
    /// [`crate::ports::ChallengeRepository::consume_recovery`] can find a cabinet's recovery
    /// challenges.
    pub fn recovers(&self) -> Option<SubscriberId> {
        match self {
            Self::RecoverByEmail { subscriber } | Self::RecoverByPhone { subscriber } => {
                Some(*subscriber)
            }
            Self::Registration(_)
            | Self::DecoyRegistration(_)
            | Self::ConfirmEmail { .. }
            | Self::ChangePhone { .. }
            | Self::Decoy { .. } => None,
        }
    }
}

/// A one-time code or link: stored as a digest, single use, limited in time and attempts.
#[derive(Clone, Debug, PartialEq)]
pub struct Challenge {
    /// Id (given to the client for codes; links carry only the token).
    pub id: ChallengeId,
    /// What it is for.
    pub purpose: ChallengePurpose,
    /// Digest of the code (bound to the id) or of the link token.
    pub digest: SecretDigest,
    /// When the current secret was issued.
    pub issued_at: OffsetDateTime,
    /// When it stops being accepted.
    pub expires_at: OffsetDateTime,
    /// Wrong codes entered for the current secret.
    pub failed_attempts: u32,
    /// When it was used, if used.
    pub consumed_at: Option<OffsetDateTime>,
}

/// The result of one atomic [`crate::ports::ChallengeRepository::attempt`].
#[derive(Clone, Debug, PartialEq)]
pub enum AttemptOutcome {
    /// No such challenge.
    Missing,
    /// Already used.
    Used,
    /// Past its deadline.
    Expired,
    /// The attempt limit had already been reached; the code was not compared.
    Exhausted,
    /// Wrong code; the failed attempts now number this many.
    Wrong {
        /// The new count of failed attempts.
        failed_attempts: u32,
    },
    /// The code matched; the challenge as it is now (not yet used up).
    Matched(Box<Challenge>),
}

/// Why a challenge refused a secret, before any write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChallengeState {
    /// It may be tried.
    Open,
    /// Already used.
    Used,
    /// Past its deadline.
    Expired,
    /// Too many wrong codes.
    Exhausted,
}

impl Challenge {
    /// Whether the challenge can still be tried at `now`, given the attempt limit.
    pub fn state(&self, now: OffsetDateTime, max_attempts: u32) -> ChallengeState {
        if self.consumed_at.is_some() {
            ChallengeState::Used
        } else if now >= self.expires_at {
            ChallengeState::Expired
        } else if self.failed_attempts >= max_attempts {
            ChallengeState::Exhausted
        } else {
            ChallengeState::Open
        }
    }
}

/// What kind of thing a one-time code or link confirms; tells the adapter which text to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Purpose {
    /// Registration.
    Registration,
    /// Confirming an email address.
    ConfirmEmail,
    /// Password recovery.
    Recovery,
    /// Changing the phone.
    ChangePhone,
}

/// A message to a subscriber; the adapter renders it (SMS text, email with a link).
#[derive(Clone, Debug)]
pub enum Message {
    /// A one-time code.
    Code {
        /// The code.
        code: Secret<String>,
        /// What it is for.
        purpose: Purpose,
        /// How long it is valid.
        valid_for: Duration,
    },
    /// A link carrying a one-time token.
    Link {
        /// The token to put in the link.
        token: Secret<String>,
        /// What it is for.
        purpose: Purpose,
        /// How long it is valid.
        valid_for: Duration,
    },
    /// Someone tried to register, or to add to a cabinet, a phone, email or ЛС that already
    /// has a cabinet: "if it was you, log in or recover your password".
    AlreadyRegistered,
    /// The password was changed or recovered.
    PasswordChanged,
    /// A change of the email address was requested (sent to the old address).
    EmailChangeRequested,
    /// The phone number was changed (sent to the old number).
    PhoneChanged,
    /// The cabinet was blocked.
    CabinetBlocked,
    /// An operator answered the subscriber's question. The message only says so (with the
    /// topic); the answer itself is read in the cabinet, so no correspondence travels by SMS
    /// or email.
    QuestionAnswered {
        /// The question, for a link to it in the cabinet.
        question: QuestionId,
        /// Its topic.
        topic: QuestionTopic,
    },
}

/// What a security event records.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SecurityEventKind {
    /// The cabinet was created.
    Registered,
    /// A login succeeded.
    SignedIn {
        /// The new session.
        session: SessionId,
    },
    /// A login with a wrong password (the handle belonged to this cabinet).
    SignInFailed,
    /// One session ended by logout or revocation.
    SessionEnded {
        /// Which.
        session: SessionId,
    },
    /// Every session ended ("log out everywhere").
    SignedOutEverywhere {
        /// How many sessions ended.
        sessions: u32,
    },
    /// The password was changed in settings.
    PasswordChanged,
    /// The password was set through recovery.
    PasswordRecovered,
    /// A new email was confirmed.
    EmailChanged,
    /// A new phone was confirmed.
    PhoneChanged,
    /// Personal data changed.
    PersonalDataChanged,
    /// An ЛС was linked.
    AccountLinked {
        /// Which.
        account: AccountRef,
        /// With which proof.
        proof: LinkProof,
    },
    /// A linking proof was rejected.
    LinkProofRejected,
    /// An ЛС was unlinked.
    AccountUnlinked {
        /// Which.
        account: AccountRef,
    },
    /// Another ЛС became active.
    ActiveAccountSwitched {
        /// Which.
        account: AccountRef,
    },
    /// The cabinet was blocked.
    CabinetBlocked {
        /// By whom.
        by: BlockedBy,
    },
    /// An operator unblocked the cabinet (password recovery, which also unblocks, is logged
    /// as [`SecurityEventKind::PasswordRecovered`]).
    CabinetUnblocked {
        /// The operator's identifier in the back office.
        operator: String,
    },
    /// A consent was recorded.
    ConsentGiven {
        /// Which.
        consent: ConsentId,
    },
    /// A consent was withdrawn.
    ConsentWithdrawn {
        /// Which.
        consent: ConsentId,
    },
}

/// One entry of the security log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityEvent {
    /// Whose cabinet.
    pub subscriber: SubscriberId,
    /// When.
    pub at: OffsetDateTime,
    /// What happened.
    pub kind: SecurityEventKind,
    /// Through which channel and device.
    pub client: ClientInfo,
}

/// What a throttled counter is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ThrottleScope {
    /// Failed logins (and failed old-password checks) per account.
    Login,
    /// Codes and links sent per phone or email.
    Delivery,
    /// Failed linking proofs per subscriber.
    LinkProof,
    /// Failed ЛС identity proofs at registration, per ЛС.
    RegistrationProof,
    /// "Someone is registering your ЛС" notices, per cabinet.
    OwnerNotice,
    /// Requests per client address and [`ClientAction`].
    ClientAddress,
    /// Questions asked per subscriber.
    Question,
}

/// What a client does that is limited per client address
/// ([`crate::IdentityService::admit_client`], [`crate::policy::ClientAddressLimits`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ClientAction {
    /// A login attempt.
    Login,
    /// Starting a registration, by phone or by ЛС (its first code counts here).
    Registration,
    /// Any other request that sends a code or a link: resending a code or an email link,
    /// starting a recovery, changing the email or the phone.
    SendCode,
    /// A linking attempt, with any proof.
    Linking,
}

impl ClientAction {
    /// Every action.
    pub const ALL: [Self; 4] = [
        Self::Login,
        Self::Registration,
        Self::SendCode,
        Self::Linking,
    ];

    /// A short stable name, part of the throttling key.
    pub fn tag(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::Registration => "registration",
            Self::SendCode => "send_code",
            Self::Linking => "linking",
        }
    }
}

/// The answer of [`crate::ports::ThrottleRepository::reserve`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reservation {
    /// The attempt fits the limit and is now recorded (it counts until released or cleared).
    Granted,
    /// The limit is reached; nothing was recorded.
    Refused {
        /// How long to wait before the next attempt can fit.
        retry_after: Duration,
    },
}

/// The key of a throttled counter: a scope and a subject (a subscriber id, a login handle, a
/// phone, an email, an ЛС number, or an action and a client address).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ThrottleKey {
    /// What is counted.
    pub scope: ThrottleScope,
    /// For whom.
    pub subject: String,
}

impl ThrottleKey {
    /// Failed logins of one cabinet.
    pub fn login_subscriber(id: SubscriberId) -> Self {
        Self {
            scope: ThrottleScope::Login,
            subject: format!("subscriber:{id}"),
        }
    }

    /// Failed logins with a handle that belongs to no cabinet (throttled the same way, so the
    /// answers do not reveal which handles exist).
    pub fn login_handle(handle: &LoginHandle) -> Self {
        Self {
            scope: ThrottleScope::Login,
            subject: format!("handle:{}", handle.as_str()),
        }
    }

    /// Failed logins of one back-office operator (same scope and limit as subscribers' logins;
    /// the `operator:` subject keeps the counts apart).
    pub fn login_operator(id: OperatorId) -> Self {
        Self {
            scope: ThrottleScope::Login,
            subject: format!("operator:{id}"),
        }
    }

    /// Failed operator logins with a login that belongs to no operator.
    pub fn login_operator_name(login: &OperatorLogin) -> Self {
        Self {
            scope: ThrottleScope::Login,
            subject: format!("operator_login:{login}"),
        }
    }

    /// Questions asked by one subscriber.
    pub fn question(id: SubscriberId) -> Self {
        Self {
            scope: ThrottleScope::Question,
            subject: format!("subscriber:{id}"),
        }
    }

    /// Messages sent to one phone.
    pub fn delivery_phone(phone: &Phone) -> Self {
        Self {
            scope: ThrottleScope::Delivery,
            subject: format!("phone:{phone}"),
        }
    }

    /// Messages sent to one email.
    pub fn delivery_email(email: &Email) -> Self {
        Self {
            scope: ThrottleScope::Delivery,
            subject: format!("email:{email}"),
        }
    }

    /// Failed linking proofs of one subscriber.
    pub fn link_proof(id: SubscriberId) -> Self {
        Self {
            scope: ThrottleScope::LinkProof,
            subject: format!("subscriber:{id}"),
        }
    }

    /// "Someone is registering your ЛС" notices sent to one cabinet's owner.
    pub fn owner_notice(id: SubscriberId) -> Self {
        Self {
            scope: ThrottleScope::OwnerNotice,
            subject: format!("subscriber:{id}"),
        }
    }

    /// Failed identity proofs at registration for one ЛС number.
    pub fn registration_proof(number: &AccountNumber) -> Self {
        Self {
            scope: ThrottleScope::RegistrationProof,
            subject: format!("account:{number}"),
        }
    }

    /// Requests of one kind from one client address, for example `login:203.0.113.7`.
    ///
    /// The address is normalised so that one client is one key: a port is dropped
    /// (`203.0.113.7:51234`, `[2001:db8::1]:443`), an IPv4-mapped IPv6 address counts as its
    /// IPv4 address, and an IPv6 address counts as its /64 network (one subscriber line is
    /// usually given a whole /64, so counting single addresses would let one client rotate
    /// through billions of keys). Text that is not an IP address is kept as given (trimmed,
    /// lowercased, at most 64 characters) under an `other:` prefix.
    pub fn client_address(action: ClientAction, address: &str) -> Self {
        Self {
            scope: ThrottleScope::ClientAddress,
            subject: format!("{}:{}", action.tag(), normalise_address(address)),
        }
    }
}

/// What a subscriber's question is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum QuestionTopic {
    /// Meter readings.
    Readings,
    /// Charges (начисления).
    Charges,
    /// Payments.
    Payments,
    /// Payment documents and other documents.
    Documents,
    /// Anything else.
    Other,
}

impl QuestionTopic {
    /// Every topic, in the order a form lists them.
    pub const ALL: [Self; 5] = [
        Self::Readings,
        Self::Charges,
        Self::Payments,
        Self::Documents,
        Self::Other,
    ];

    /// The Russian label shown to subscribers and operators.
    pub fn label(self) -> &'static str {
        match self {
            Self::Readings => "Показания",
            Self::Charges => "Начисления",
            Self::Payments => "Оплата",
            Self::Documents => "Документы",
            Self::Other => "Другое",
        }
    }

    /// A short stable name, for storage and APIs.
    pub fn tag(self) -> &'static str {
        match self {
            Self::Readings => "readings",
            Self::Charges => "charges",
            Self::Payments => "payments",
            Self::Documents => "documents",
            Self::Other => "other",
        }
    }

    /// The topic whose [`QuestionTopic::tag`] is `tag`.
    pub fn from_tag(tag: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.tag() == tag)
    }
}

/// An operator's answer to a question.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// The text.
    pub text: QuestionText,
    /// Who answered.
    pub operator: OperatorId,
    /// When.
    pub at: OffsetDateTime,
}

/// A subscriber's question to the supplier, with its answer once there is one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Question {
    /// Its id.
    pub id: QuestionId,
    /// Who asked.
    pub subscriber: SubscriberId,
    /// The ЛС (linked to the cabinet when asked) the question is about, if any; its supplier
    /// is the one that answers.
    pub account: Option<AccountRef>,
    /// The topic.
    pub topic: QuestionTopic,
    /// The text.
    pub text: QuestionText,
    /// When it was asked.
    pub asked_at: OffsetDateTime,
    /// The answer; `None` while the question is open. Set once, never changed.
    pub answer: Option<Answer>,
}

impl Question {
    /// Whether it awaits an answer.
    pub fn is_open(&self) -> bool {
        self.answer.is_none()
    }

    /// The supplier the question is addressed to (that of its ЛС), if it names an ЛС.
    pub fn supplier(&self) -> Option<&SupplierId> {
        self.account.as_ref().map(|a| &a.supplier)
    }

    /// Its place in the operators' queue, for continuing a listing after it.
    pub fn cursor(&self) -> QuestionCursor {
        QuestionCursor {
            asked_at: self.asked_at,
            id: self.id,
        }
    }
}

/// A position in the operators' queue of open questions, which is ordered by
/// `(asked_at, id)`, oldest first: a listing "after" a cursor continues with the questions
/// that come strictly later in that order. It stays valid when the question it was taken from
/// is answered or deleted.
///
/// Its text form (`Display`, [`QuestionCursor::parse`]) is `{unix nanoseconds}_{id}`, opaque
/// to clients.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct QuestionCursor {
    /// When the question at the cursor was asked.
    pub asked_at: OffsetDateTime,
    /// Its id (breaks ties between questions asked at the same instant).
    pub id: QuestionId,
}

impl QuestionCursor {
    /// Parses the text form made by `Display`.
    pub fn parse(text: &str) -> Result<Self, InvalidId> {
        let (nanos, id) = text.trim().rsplit_once('_').ok_or(InvalidId)?;
        let nanos: i128 = nanos.parse().map_err(|_| InvalidId)?;
        let asked_at = OffsetDateTime::from_unix_timestamp_nanos(nanos).map_err(|_| InvalidId)?;
        Ok(Self {
            asked_at,
            id: QuestionId::parse(id)?,
        })
    }
}

impl std::fmt::Display for QuestionCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}_{}", self.asked_at.unix_timestamp_nanos(), self.id)
    }
}

/// What a back-office operator (or an API key) may do. [`OperatorRole::Admin`] may do
/// everything; each other role only its own work.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum OperatorRole {
    /// Manages operators and API keys, and may do everything the other roles may.
    Admin,
    /// Billing work: imports, billing runs, payments, refunds.
    Billing,
    /// Subscriber support: answering questions, finding, blocking and unblocking cabinets.
    Support,
}

impl OperatorRole {
    /// Every role.
    pub const ALL: [Self; 3] = [Self::Admin, Self::Billing, Self::Support];

    /// Whether this role may do what `needed` may: `Admin` may do everything, any other role
    /// only its own.
    pub fn permits(self, needed: Self) -> bool {
        self == Self::Admin || self == needed
    }

    /// The Russian label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Admin => "Администратор",
            Self::Billing => "Расчёты",
            Self::Support => "Поддержка абонентов",
        }
    }

    /// A short stable name, for storage and APIs.
    pub fn tag(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Billing => "billing",
            Self::Support => "support",
        }
    }

    /// The role whose [`OperatorRole::tag`] is `tag`.
    pub fn from_tag(tag: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.tag() == tag)
    }
}

/// A back-office operator.
#[derive(Clone, Debug, PartialEq)]
pub struct Operator {
    /// Its id.
    pub id: OperatorId,
    /// The login (unique).
    pub login: OperatorLogin,
    /// The operator's name.
    pub name: PersonName,
    /// The Argon2id hash of the password.
    pub password_hash: PasswordHash,
    /// What the operator may do.
    pub role: OperatorRole,
    /// When the operator was created.
    pub created_at: OffsetDateTime,
    /// When disabled, if disabled: a disabled operator cannot log in, and neither their
    /// sessions nor their API keys authenticate.
    pub disabled_at: Option<OffsetDateTime>,
}

impl Operator {
    /// Whether the operator is disabled.
    pub fn is_disabled(&self) -> bool {
        self.disabled_at.is_some()
    }
}

/// An API key of an operator, for programs. The key itself is shown once and never stored,
/// only its digest.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiKeyRecord {
    /// Id, for listing and revoking.
    pub id: ApiKeyId,
    /// The operator who created it and answers for it; the key stops working when the
    /// operator is disabled.
    pub operator: OperatorId,
    /// What the key is for (a label given at creation).
    pub name: String,
    /// SHA-256 digest of the key.
    pub digest: SecretDigest,
    /// What a request with the key may do.
    pub role: OperatorRole,
    /// When it was created.
    pub created_at: OffsetDateTime,
    /// When revoked, if revoked.
    pub revoked_at: Option<OffsetDateTime>,
}

/// A stored operator session. The token itself is never stored, only its digest.
#[derive(Clone, Debug, PartialEq)]
pub struct OperatorSessionRecord {
    /// Id, for revoking.
    pub id: OperatorSessionId,
    /// Whose session.
    pub operator: OperatorId,
    /// SHA-256 digest of the token.
    pub token_digest: SecretDigest,
    /// Login time; the absolute lifetime runs from here.
    pub created_at: OffsetDateTime,
    /// Last recorded activity (recorded at most once per
    /// [`crate::policy::SessionPolicy::touch_interval`]); the idle timeout runs from here.
    pub last_seen_at: OffsetDateTime,
    /// When revoked, if revoked.
    pub revoked_at: Option<OffsetDateTime>,
}

impl OperatorSessionRecord {
    /// Whether the session may be used at `now` under the given lifetimes (as
    /// [`SessionRecord::is_live`]).
    pub fn is_live(&self, now: OffsetDateTime, idle: Duration, absolute: Duration) -> bool {
        self.revoked_at.is_none()
            && now < self.last_seen_at + idle
            && now < self.created_at + absolute
    }
}

/// The form of a client address that [`ThrottleKey::client_address`] counts under.
fn normalise_address(address: &str) -> String {
    let text = address.trim();
    let ip = text
        .parse::<IpAddr>()
        .ok()
        .or_else(|| text.parse::<SocketAddr>().ok().map(|s| s.ip()));
    match ip.as_ref().map(IpAddr::to_canonical) {
        Some(IpAddr::V4(v4)) => v4.to_string(),
        Some(IpAddr::V6(v6)) => {
            let [a, b, c, d, ..] = v6.segments();
            format!("{}/64", Ipv6Addr::new(a, b, c, d, 0, 0, 0, 0))
        }
        None => {
            let other: String = text.to_lowercase().chars().take(64).collect();
            format!("other:{other}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject(address: &str) -> String {
        ThrottleKey::client_address(ClientAction::Login, address).subject
    }

    #[test]
    fn client_addresses_are_counted_per_client() {
        assert_eq!(subject("203.0.113.7"), "login:203.0.113.7");
        // A port, surrounding spaces and an IPv4-mapped form are the same client.
        assert_eq!(subject(" 203.0.113.7:51234 "), "login:203.0.113.7");
        assert_eq!(subject("::ffff:203.0.113.7"), "login:203.0.113.7");
        // IPv6 counts per /64: addresses of one subscriber line share a key.
        assert_eq!(subject("2001:db8:1:2::1"), "login:2001:db8:1:2::/64");
        assert_eq!(
            subject("[2001:DB8:1:2:ffff:ffff:ffff:ffff]:443"),
            "login:2001:db8:1:2::/64"
        );
        assert_ne!(subject("2001:db8:1:3::1"), subject("2001:db8:1:2::1"));
        // Anything else is kept, bounded.
        assert_eq!(subject("Unknown"), "login:other:unknown");
        assert_eq!(subject(&"x".repeat(500)).len(), "login:other:".len() + 64);
    }

    #[test]
    fn topics_and_roles_have_stable_tags_and_russian_labels() {
        for topic in QuestionTopic::ALL {
            assert_eq!(QuestionTopic::from_tag(topic.tag()), Some(topic));
            assert!(topic.label().chars().all(|c| !c.is_ascii_alphabetic()));
        }
        assert_eq!(QuestionTopic::from_tag("Readings"), None);
        for role in OperatorRole::ALL {
            assert_eq!(OperatorRole::from_tag(role.tag()), Some(role));
            assert!(!role.label().is_empty());
            assert!(OperatorRole::Admin.permits(role));
            assert!(role.permits(role));
        }
        assert_eq!(OperatorRole::from_tag("root"), None);
        assert!(!OperatorRole::Support.permits(OperatorRole::Billing));
        assert!(!OperatorRole::Billing.permits(OperatorRole::Admin));
    }

    #[test]
    fn question_cursors_round_trip_through_text() {
        let cursor = QuestionCursor {
            asked_at: time::macros::datetime!(2025-03-01 10:00:00.123456789 UTC),
            id: QuestionId::from_bytes([0xab; 16]),
        };
        let text = cursor.to_string();
        assert_eq!(QuestionCursor::parse(&text), Ok(cursor));
        let early = QuestionCursor {
            asked_at: time::macros::datetime!(1960-01-01 0:00 UTC),
            ..cursor
        };
        assert_eq!(QuestionCursor::parse(&early.to_string()), Ok(early));
        for bad in ["", "123", "x_abababababababababababababababab", "1_zz"] {
            assert_eq!(QuestionCursor::parse(bad), Err(InvalidId), "{bad}");
        }
        // Different scopes, different subjects: an operator's failures never count against
        // a subscriber (or an unknown handle) and the other way round.
        let id = OperatorId::from_bytes([1; 16]);
        let login = OperatorLogin::parse("ivanova").unwrap();
        assert_eq!(ThrottleKey::login_operator(id).scope, ThrottleScope::Login);
        assert_ne!(
            ThrottleKey::login_operator_name(&login),
            ThrottleKey::login_handle(&LoginHandle::Email(Email::parse("a@b.ru").unwrap()))
        );
        assert_eq!(
            ThrottleKey::question(SubscriberId::from_bytes([1; 16])).scope,
            ThrottleScope::Question
        );
    }

    #[test]
    fn each_action_has_its_own_key() {
        let keys: Vec<ThrottleKey> = ClientAction::ALL
            .iter()
            .map(|a| ThrottleKey::client_address(*a, "198.51.100.1"))
            .collect();
        assert!(keys.iter().all(|k| k.scope == ThrottleScope::ClientAddress));
        let mut subjects: Vec<&str> = keys.iter().map(|k| k.subject.as_str()).collect();
        subjects.sort_unstable();
        subjects.dedup();
        assert_eq!(subjects.len(), ClientAction::ALL.len());
    }
}
