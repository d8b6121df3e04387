//! [`Challenge`] ⇄ `challenges` row. The purpose is stored as a tag (`purpose`) and a JSON
//! payload of this module's own shape ([`PayloadDto`]), so renaming a domain type never changes
//! what is stored; reading it back re-parses every value.

use identity_core::domain::{ChallengeId, Email, PersonName, Phone, SubscriberId};
use identity_core::model::{Challenge, ChallengePurpose, ConsentDocument, RegistrationDraft};
use identity_core::password::PasswordHash;
use identity_core::ports::PortError;
use serde::{Deserialize, Serialize};

use super::{Row, channel_tag, proof_from_tag, proof_tag, to_nanos};
use crate::entity::challenge::Model;

const TABLE: &str = "challenges";

/// The stored form of a challenge's purpose.
#[derive(Serialize, Deserialize)]
#[serde(tag = "purpose", rename_all = "snake_case", deny_unknown_fields)]
enum PayloadDto {
    Registration(DraftDto),
    DecoyRegistration(DraftDto),
    ConfirmEmail { subscriber: String, email: String },
    RecoverByEmail { subscriber: String },
    RecoverByPhone { subscriber: String },
    ChangePhone { subscriber: String, phone: String },
    Decoy { phone: String, notify: bool },
}

impl PayloadDto {
    fn tag(&self) -> &'static str {
        match self {
            Self::Registration(_) => "registration",
            Self::DecoyRegistration(_) => "decoy_registration",
            Self::ConfirmEmail { .. } => "confirm_email",
            Self::RecoverByEmail { .. } => "recover_by_email",
            Self::RecoverByPhone { .. } => "recover_by_phone",
            Self::ChangePhone { .. } => "change_phone",
            Self::Decoy { .. } => "decoy",
        }
    }
}

/// The stored form of a [`RegistrationDraft`]: the password only as its hash.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct DraftDto {
    subscriber: String,
    name: String,
    phone: String,
    email: Option<String>,
    account_supplier: Option<String>,
    account_number: Option<String>,
    account_proof: Option<String>,
    password_hash: Option<String>,
    consent_version: String,
    consent_text_sha256: String,
    consented_at: i64,
    channel: String,
    device: Option<String>,
}

fn draft_to_dto(d: &RegistrationDraft) -> Result<DraftDto, PortError> {
    Ok(DraftDto {
        subscriber: d.subscriber.to_string(),
        name: d.name.as_str().to_owned(),
        phone: d.phone.as_str().to_owned(),
        email: d.email.as_ref().map(|e| e.as_str().to_owned()),
        account_supplier: d
            .account
            .as_ref()
            .map(|(a, _)| a.supplier.as_str().to_owned()),
        account_number: d
            .account
            .as_ref()
            .map(|(a, _)| a.number.as_str().to_owned()),
        account_proof: d.account.as_ref().map(|(_, p)| proof_tag(*p).to_owned()),
        password_hash: d.password_hash.as_ref().map(|h| h.as_phc().to_owned()),
        consent_version: d.consent.version().to_owned(),
        consent_text_sha256: d.consent.text_sha256().to_owned(),
        consented_at: to_nanos(d.consented_at)?,
        channel: channel_tag(d.client.channel).to_owned(),
        device: d.client.device.clone(),
    })
}

fn draft_from_dto(row: &Row, d: DraftDto) -> Result<RegistrationDraft, crate::CorruptRow> {
    let account = match (d.account_supplier, d.account_number, d.account_proof) {
        (Some(supplier), Some(number), Some(proof)) => Some((
            row.account(&supplier, &number)?,
            proof_from_tag(&proof)
                .ok_or_else(|| row.bad("payload.account_proof", "unknown tag"))?,
        )),
        (None, None, None) => None,
        _ => return Err(row.bad("payload.account_*", "partly set")),
    };
    Ok(RegistrationDraft {
        subscriber: row.parse("payload.subscriber", SubscriberId::parse(&d.subscriber))?,
        name: row.parse("payload.name", PersonName::parse(&d.name))?,
        phone: row.parse("payload.phone", Phone::parse(&d.phone))?,
        email: d
            .email
            .as_deref()
            .map(|e| row.parse("payload.email", Email::parse(e)))
            .transpose()?,
        account,
        password_hash: d.password_hash.map(PasswordHash::from_phc),
        consent: ConsentDocument::from_parts(d.consent_version, d.consent_text_sha256),
        consented_at: row.time("payload.consented_at", d.consented_at)?,
        client: row.client(&d.channel, d.device)?,
    })
}

fn purpose_to_dto(p: &ChallengePurpose) -> Result<PayloadDto, PortError> {
    Ok(match p {
        ChallengePurpose::Registration(d) => PayloadDto::Registration(draft_to_dto(d)?),
        ChallengePurpose::DecoyRegistration(d) => PayloadDto::DecoyRegistration(draft_to_dto(d)?),
        ChallengePurpose::ConfirmEmail { subscriber, email } => PayloadDto::ConfirmEmail {
            subscriber: subscriber.to_string(),
            email: email.as_str().to_owned(),
        },
        ChallengePurpose::RecoverByEmail { subscriber } => PayloadDto::RecoverByEmail {
            subscriber: subscriber.to_string(),
        },
        ChallengePurpose::RecoverByPhone { subscriber } => PayloadDto::RecoverByPhone {
            subscriber: subscriber.to_string(),
        },
        ChallengePurpose::ChangePhone { subscriber, phone } => PayloadDto::ChangePhone {
            subscriber: subscriber.to_string(),
            phone: phone.as_str().to_owned(),
        },
        ChallengePurpose::Decoy { phone, notify } => PayloadDto::Decoy {
            phone: phone.as_str().to_owned(),
            notify: *notify,
        },
    })
}

fn purpose_from_dto(row: &Row, p: PayloadDto) -> Result<ChallengePurpose, crate::CorruptRow> {
    let subscriber = |s: &str| row.parse("payload.subscriber", SubscriberId::parse(s));
    Ok(match p {
        PayloadDto::Registration(d) => {
            ChallengePurpose::Registration(Box::new(draft_from_dto(row, d)?))
        }
        PayloadDto::DecoyRegistration(d) => {
            ChallengePurpose::DecoyRegistration(Box::new(draft_from_dto(row, d)?))
        }
        PayloadDto::ConfirmEmail {
            subscriber: s,
            email,
        } => ChallengePurpose::ConfirmEmail {
            subscriber: subscriber(&s)?,
            email: row.parse("payload.email", Email::parse(&email))?,
        },
        PayloadDto::RecoverByEmail { subscriber: s } => ChallengePurpose::RecoverByEmail {
            subscriber: subscriber(&s)?,
        },
        PayloadDto::RecoverByPhone { subscriber: s } => ChallengePurpose::RecoverByPhone {
            subscriber: subscriber(&s)?,
        },
        PayloadDto::ChangePhone {
            subscriber: s,
            phone,
        } => ChallengePurpose::ChangePhone {
            subscriber: subscriber(&s)?,
            phone: row.parse("payload.phone", Phone::parse(&phone))?,
        },
        PayloadDto::Decoy { phone, notify } => ChallengePurpose::Decoy {
            phone: row.parse("payload.phone", Phone::parse(&phone))?,
            notify,
        },
    })
}

/// The row that stores `c`.
pub fn to_row(c: &Challenge) -> Result<Model, PortError> {
    let dto = purpose_to_dto(&c.purpose)?;
    let payload = serde_json::to_string(&dto)
        .map_err(|e| PortError::new(format!("cannot encode a challenge payload: {e}")))?;
    Ok(Model {
        id: c.id.to_string(),
        purpose: dto.tag().to_owned(),
        payload,
        recovers: c.purpose.recovers().map(|s| s.to_string()),
        digest: c.digest.as_bytes().to_vec(),
        issued_at: to_nanos(c.issued_at)?,
        expires_at: to_nanos(c.expires_at)?,
        failed_attempts: i64::from(c.failed_attempts),
        consumed_at: c.consumed_at.map(to_nanos).transpose()?,
    })
}

/// The challenge a row stores. The `purpose` tag and the `recovers` column must agree with the
/// payload.
pub fn from_row(m: Model) -> Result<Challenge, crate::CorruptRow> {
    let row = Row::new(TABLE, m.id.clone());
    let dto: PayloadDto = serde_json::from_str(&m.payload).map_err(|e| row.bad("payload", e))?;
    if dto.tag() != m.purpose {
        return Err(row.bad("purpose", "does not match the payload"));
    }
    let purpose = purpose_from_dto(&row, dto)?;
    if purpose.recovers().map(|s| s.to_string()) != m.recovers {
        return Err(row.bad("recovers", "does not match the payload"));
    }
    Ok(Challenge {
        id: row.parse("id", ChallengeId::parse(&m.id))?,
        purpose,
        digest: row.digest("digest", &m.digest)?,
        issued_at: row.time("issued_at", m.issued_at)?,
        expires_at: row.time("expires_at", m.expires_at)?,
        failed_attempts: row.count("failed_attempts", m.failed_attempts)?,
        consumed_at: row.opt_time("consumed_at", m.consumed_at)?,
    })
}
