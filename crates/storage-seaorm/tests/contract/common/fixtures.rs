//! Fixtures: domain records built from small numbers, a fixed start time (tests never read the
//! clock) and a digest helper.

use identity_core::crypto::SecretDigest;
use identity_core::domain::{
    AccountNumber, AccountRef, ApiKeyId, ChallengeId, Channel, ClientInfo, ConsentId, Email,
    OperatorId, OperatorLogin, OperatorSessionId, PersonName, Phone, QuestionId, QuestionText,
    SessionId, SubscriberId, SupplierId,
};
use identity_core::model::{
    Answer, ApiKeyRecord, CabinetStatus, Challenge, ChallengePurpose, Consent, ConsentDocument,
    LinkProof, LinkedAccount, Operator, OperatorRole, OperatorSessionRecord, Question,
    QuestionTopic, SecurityEvent, SecurityEventKind, SessionRecord, Subscriber,
};
use identity_core::password::PasswordHash;
use storage_seaorm::Storage;
use time::OffsetDateTime;
use time::macros::datetime;

/// The start of every test's timeline.
pub const T0: OffsetDateTime = datetime!(2025-03-01 10:00 UTC);

/// `T0 + seconds`.
pub fn at(seconds: i64) -> OffsetDateTime {
    T0 + time::Duration::seconds(seconds)
}

pub fn subscriber_id(n: u8) -> SubscriberId {
    SubscriberId::from_bytes([n; 16])
}

pub fn session_id(n: u8) -> SessionId {
    SessionId::from_bytes([n; 16])
}

pub fn challenge_id(n: u8) -> ChallengeId {
    ChallengeId::from_bytes([n; 16])
}

pub fn consent_id(n: u8) -> ConsentId {
    ConsentId::from_bytes([n; 16])
}

/// The digest of the token `token`.
pub fn digest(token: &str) -> SecretDigest {
    SecretDigest::of_token(token)
}

pub fn phone(n: u8) -> Phone {
    Phone::parse(&format!("+79160000{n:03}")).unwrap()
}

pub fn email(n: u8) -> Email {
    Email::parse(&format!("user{n}@example.ru")).unwrap()
}

pub fn account(supplier: &str, number: u32) -> AccountRef {
    AccountRef {
        supplier: SupplierId::parse(supplier).unwrap(),
        number: AccountNumber::parse(&number.to_string()).unwrap(),
    }
}

pub fn web() -> ClientInfo {
    ClientInfo {
        channel: Channel::Web,
        device: Some("Firefox 130 on Linux".to_owned()),
    }
}

/// Cabinet `n` with every handle: ЛС `1000n` at `ES-1`, phone and email derived from `n`.
pub fn subscriber(n: u8) -> Subscriber {
    Subscriber {
        id: subscriber_id(n),
        name: PersonName::parse("Иванов Иван Фёдорович").unwrap(),
        account: Some(account("ES-1", 1000 + u32::from(n))),
        phone: Some(phone(n)),
        email: Some(email(n)),
        pending_email: None,
        password_hash: Some(PasswordHash::from_phc(format!(
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ${n}"
        ))),
        status: CabinetStatus::Active,
        created_at: T0,
        version: 0,
    }
}

/// Stores cabinet `n` (other tables reference cabinets).
pub async fn stored_subscriber(storage: &Storage, n: u8) -> Subscriber {
    use identity_core::ports::SubscriberRepository;
    let s = subscriber(n);
    storage.insert(&s).await.unwrap();
    s
}

pub fn link(account: AccountRef, seconds: i64, active: bool) -> LinkedAccount {
    LinkedAccount {
        account,
        proof: LinkProof::PaymentDocumentCode,
        linked_at: at(seconds),
        active,
    }
}

pub fn session(n: u8, subscriber: SubscriberId, seconds: i64) -> SessionRecord {
    SessionRecord {
        id: session_id(n),
        subscriber,
        token_digest: digest(&format!("session-token-{n}")),
        created_at: at(seconds),
        last_seen_at: at(seconds),
        revoked_at: None,
        client: web(),
    }
}

/// A recovery-by-email challenge of `subscriber` whose link token is `token`, valid 1 hour.
pub fn challenge(n: u8, purpose: ChallengePurpose, token: &str) -> Challenge {
    Challenge {
        id: challenge_id(n),
        purpose,
        digest: digest(token),
        issued_at: T0,
        expires_at: at(3600),
        failed_attempts: 0,
        consumed_at: None,
    }
}

pub fn consent(n: u8, subscriber: SubscriberId, seconds: i64) -> Consent {
    Consent {
        id: consent_id(n),
        subscriber,
        document: ConsentDocument::new("2025-01", "Согласие на обработку персональных данных"),
        given_at: at(seconds),
        client: web(),
        withdrawn_at: None,
    }
}

pub fn event(subscriber: SubscriberId, seconds: i64, kind: SecurityEventKind) -> SecurityEvent {
    SecurityEvent {
        subscriber,
        at: at(seconds),
        kind,
        client: ClientInfo::new(Channel::MobileApp),
    }
}

pub fn question_id(n: u8) -> QuestionId {
    QuestionId::from_bytes([n; 16])
}

pub fn operator_id(n: u8) -> OperatorId {
    OperatorId::from_bytes([n; 16])
}

pub fn api_key_id(n: u8) -> ApiKeyId {
    ApiKeyId::from_bytes([n; 16])
}

pub fn operator_session_id(n: u8) -> OperatorSessionId {
    OperatorSessionId::from_bytes([n; 16])
}

pub fn text(words: &str) -> QuestionText {
    QuestionText::parse(words).unwrap()
}

/// Open question `n` of `subscriber` about `account`, asked at `T0 + seconds`.
pub fn question(
    n: u8,
    subscriber: SubscriberId,
    account: Option<AccountRef>,
    seconds: i64,
) -> Question {
    Question {
        id: question_id(n),
        subscriber,
        account,
        topic: QuestionTopic::Readings,
        text: text(&format!(
            "Вопрос {n}: почему показания\nне приняты?\tСчётчик № 0417"
        )),
        asked_at: at(seconds),
        answer: None,
    }
}

/// An answer by operator `operator` at `T0 + seconds`.
pub fn answer(operator: u8, seconds: i64, words: &str) -> Answer {
    Answer {
        text: text(words),
        operator: operator_id(operator),
        at: at(seconds),
    }
}

/// Operator `n` with login `operator-n` and `role`, enabled, created at `T0`.
pub fn operator(n: u8, role: OperatorRole) -> Operator {
    Operator {
        id: operator_id(n),
        login: OperatorLogin::parse(&format!("operator-{n}")).unwrap(),
        name: PersonName::parse("Петрова Анна Сергеевна").unwrap(),
        password_hash: PasswordHash::from_phc(format!(
            "$argon2id$v=19$m=19456,t=2,p=1$b3BlcmF0b3I${n}"
        )),
        role,
        created_at: T0,
        disabled_at: None,
    }
}

/// Stores operator `n` (keys and sessions reference operators).
pub async fn stored_operator(storage: &Storage, n: u8, role: OperatorRole) -> Operator {
    use identity_core::ports::OperatorRepository;
    let o = operator(n, role);
    storage.insert(&o).await.unwrap();
    o
}

/// API key `n` of `operator` (its key is `api-key-n`), created at `T0 + seconds`.
pub fn api_key(n: u8, operator: OperatorId, seconds: i64) -> ApiKeyRecord {
    ApiKeyRecord {
        id: api_key_id(n),
        operator,
        name: format!("Выгрузка в 1С № {n}"),
        digest: digest(&format!("api-key-{n}")),
        role: OperatorRole::Billing,
        created_at: at(seconds),
        revoked_at: None,
    }
}

/// Session `n` of `operator` (its token is `operator-token-n`), opened at `T0 + seconds`.
pub fn operator_session(n: u8, operator: OperatorId, seconds: i64) -> OperatorSessionRecord {
    OperatorSessionRecord {
        id: operator_session_id(n),
        operator,
        token_digest: digest(&format!("operator-token-{n}")),
        created_at: at(seconds),
        last_seen_at: at(seconds),
        revoked_at: None,
    }
}
