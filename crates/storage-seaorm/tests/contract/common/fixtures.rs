//! Fixtures: domain records built from small numbers, a fixed start time (tests never read the
//! clock) and a digest helper.

use identity_core::crypto::SecretDigest;
use identity_core::domain::{
    AccountNumber, AccountRef, ChallengeId, Channel, ClientInfo, ConsentId, Email, PersonName,
    Phone, SessionId, SubscriberId, SupplierId,
};
use identity_core::model::{
    CabinetStatus, Challenge, ChallengePurpose, Consent, ConsentDocument, LinkProof, LinkedAccount,
    SecurityEvent, SecurityEventKind, SessionRecord, Subscriber,
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
