//! [`SecurityEvent`] ⇄ `security_events` row. The kind is stored as a tag (`kind`) and a JSON
//! `detail` of this module's own shape ([`DetailDto`]).

use identity_core::domain::{ConsentId, SessionId, SubscriberId};
use identity_core::model::{BlockedBy, SecurityEvent, SecurityEventKind};
use identity_core::ports::PortError;
use serde::{Deserialize, Serialize};

use super::{Row, channel_tag, proof_from_tag, proof_tag, to_nanos};
use crate::entity::security_event::{ActiveModel, Model};

const TABLE: &str = "security_events";

/// The stored form of an event's kind.
#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
enum DetailDto {
    Registered,
    SignedIn {
        session: String,
    },
    SignInFailed,
    SessionEnded {
        session: String,
    },
    SignedOutEverywhere {
        sessions: u32,
    },
    PasswordChanged,
    PasswordRecovered,
    EmailChanged,
    PhoneChanged,
    PersonalDataChanged,
    AccountLinked {
        supplier: String,
        number: String,
        proof: String,
    },
    LinkProofRejected,
    AccountUnlinked {
        supplier: String,
        number: String,
    },
    ActiveAccountSwitched {
        supplier: String,
        number: String,
    },
    CabinetBlocked {
        by: String,
        operator: Option<String>,
    },
    CabinetUnblocked {
        operator: String,
    },
    ConsentGiven {
        consent: String,
    },
    ConsentWithdrawn {
        consent: String,
    },
}

impl DetailDto {
    fn tag(&self) -> &'static str {
        match self {
            Self::Registered => "registered",
            Self::SignedIn { .. } => "signed_in",
            Self::SignInFailed => "sign_in_failed",
            Self::SessionEnded { .. } => "session_ended",
            Self::SignedOutEverywhere { .. } => "signed_out_everywhere",
            Self::PasswordChanged => "password_changed",
            Self::PasswordRecovered => "password_recovered",
            Self::EmailChanged => "email_changed",
            Self::PhoneChanged => "phone_changed",
            Self::PersonalDataChanged => "personal_data_changed",
            Self::AccountLinked { .. } => "account_linked",
            Self::LinkProofRejected => "link_proof_rejected",
            Self::AccountUnlinked { .. } => "account_unlinked",
            Self::ActiveAccountSwitched { .. } => "active_account_switched",
            Self::CabinetBlocked { .. } => "cabinet_blocked",
            Self::CabinetUnblocked { .. } => "cabinet_unblocked",
            Self::ConsentGiven { .. } => "consent_given",
            Self::ConsentWithdrawn { .. } => "consent_withdrawn",
        }
    }
}

fn to_dto(kind: &SecurityEventKind) -> DetailDto {
    use SecurityEventKind as K;
    match kind {
        K::Registered => DetailDto::Registered,
        K::SignedIn { session } => DetailDto::SignedIn {
            session: session.to_string(),
        },
        K::SignInFailed => DetailDto::SignInFailed,
        K::SessionEnded { session } => DetailDto::SessionEnded {
            session: session.to_string(),
        },
        K::SignedOutEverywhere { sessions } => DetailDto::SignedOutEverywhere {
            sessions: *sessions,
        },
        K::PasswordChanged => DetailDto::PasswordChanged,
        K::PasswordRecovered => DetailDto::PasswordRecovered,
        K::EmailChanged => DetailDto::EmailChanged,
        K::PhoneChanged => DetailDto::PhoneChanged,
        K::PersonalDataChanged => DetailDto::PersonalDataChanged,
        K::AccountLinked { account, proof } => DetailDto::AccountLinked {
            supplier: account.supplier.as_str().to_owned(),
            number: account.number.as_str().to_owned(),
            proof: proof_tag(*proof).to_owned(),
        },
        K::LinkProofRejected => DetailDto::LinkProofRejected,
        K::AccountUnlinked { account } => DetailDto::AccountUnlinked {
            supplier: account.supplier.as_str().to_owned(),
            number: account.number.as_str().to_owned(),
        },
        K::ActiveAccountSwitched { account } => DetailDto::ActiveAccountSwitched {
            supplier: account.supplier.as_str().to_owned(),
            number: account.number.as_str().to_owned(),
        },
        K::CabinetBlocked { by } => match by {
            BlockedBy::Subscriber => DetailDto::CabinetBlocked {
                by: "subscriber".to_owned(),
                operator: None,
            },
            BlockedBy::Operator { operator } => DetailDto::CabinetBlocked {
                by: "operator".to_owned(),
                operator: Some(operator.clone()),
            },
        },
        K::CabinetUnblocked { operator } => DetailDto::CabinetUnblocked {
            operator: operator.clone(),
        },
        K::ConsentGiven { consent } => DetailDto::ConsentGiven {
            consent: consent.to_string(),
        },
        K::ConsentWithdrawn { consent } => DetailDto::ConsentWithdrawn {
            consent: consent.to_string(),
        },
    }
}

fn from_dto(row: &Row, d: DetailDto) -> Result<SecurityEventKind, crate::CorruptRow> {
    use SecurityEventKind as K;
    let session = |s: &str| row.parse("detail.session", SessionId::parse(s));
    let consent = |s: &str| row.parse("detail.consent", ConsentId::parse(s));
    Ok(match d {
        DetailDto::Registered => K::Registered,
        DetailDto::SignedIn { session: s } => K::SignedIn {
            session: session(&s)?,
        },
        DetailDto::SignInFailed => K::SignInFailed,
        DetailDto::SessionEnded { session: s } => K::SessionEnded {
            session: session(&s)?,
        },
        DetailDto::SignedOutEverywhere { sessions } => K::SignedOutEverywhere { sessions },
        DetailDto::PasswordChanged => K::PasswordChanged,
        DetailDto::PasswordRecovered => K::PasswordRecovered,
        DetailDto::EmailChanged => K::EmailChanged,
        DetailDto::PhoneChanged => K::PhoneChanged,
        DetailDto::PersonalDataChanged => K::PersonalDataChanged,
        DetailDto::AccountLinked {
            supplier,
            number,
            proof,
        } => K::AccountLinked {
            account: row.account(&supplier, &number)?,
            proof: proof_from_tag(&proof).ok_or_else(|| row.bad("detail.proof", "unknown tag"))?,
        },
        DetailDto::LinkProofRejected => K::LinkProofRejected,
        DetailDto::AccountUnlinked { supplier, number } => K::AccountUnlinked {
            account: row.account(&supplier, &number)?,
        },
        DetailDto::ActiveAccountSwitched { supplier, number } => K::ActiveAccountSwitched {
            account: row.account(&supplier, &number)?,
        },
        DetailDto::CabinetBlocked { by, operator } => K::CabinetBlocked {
            by: match (by.as_str(), operator) {
                ("subscriber", None) => BlockedBy::Subscriber,
                ("operator", Some(operator)) => BlockedBy::Operator { operator },
                _ => return Err(row.bad("detail.by", "inconsistent block record")),
            },
        },
        DetailDto::CabinetUnblocked { operator } => K::CabinetUnblocked { operator },
        DetailDto::ConsentGiven { consent: c } => K::ConsentGiven {
            consent: consent(&c)?,
        },
        DetailDto::ConsentWithdrawn { consent: c } => K::ConsentWithdrawn {
            consent: consent(&c)?,
        },
    })
}

/// The row (without its `seq`) that stores `e`.
pub fn to_row(e: &SecurityEvent) -> Result<ActiveModel, PortError> {
    use sea_orm::ActiveValue::{NotSet, Set};
    let dto = to_dto(&e.kind);
    let detail = serde_json::to_string(&dto)
        .map_err(|err| PortError::new(format!("cannot encode a security event: {err}")))?;
    Ok(ActiveModel {
        seq: NotSet,
        subscriber_id: Set(e.subscriber.to_string()),
        at: Set(to_nanos(e.at)?),
        kind: Set(dto.tag().to_owned()),
        detail: Set(detail),
        channel: Set(channel_tag(e.client.channel).to_owned()),
        device: Set(e.client.device.clone()),
    })
}

/// The event a row stores. The `kind` tag must agree with the detail.
pub fn from_row(m: Model) -> Result<SecurityEvent, crate::CorruptRow> {
    let row = Row::new(TABLE, format!("seq {}", m.seq));
    let dto: DetailDto = serde_json::from_str(&m.detail).map_err(|e| row.bad("detail", e))?;
    if dto.tag() != m.kind {
        return Err(row.bad("kind", "does not match the detail"));
    }
    Ok(SecurityEvent {
        subscriber: row.parse("subscriber_id", SubscriberId::parse(&m.subscriber_id))?,
        at: row.time("at", m.at)?,
        kind: from_dto(&row, dto)?,
        client: row.client(&m.channel, m.device)?,
    })
}

#[cfg(test)]
mod tests {
    use identity_core::domain::{
        AccountNumber, AccountRef, Channel, ClientInfo, SessionId, SupplierId,
    };
    use identity_core::model::LinkProof;
    use time::macros::datetime;

    use super::*;

    fn account() -> AccountRef {
        AccountRef {
            supplier: SupplierId::parse("globus").unwrap(),
            number: AccountNumber::parse("0012345").unwrap(),
        }
    }

    /// Every kind with its stored tag and detail. The detail JSON is a database format: a
    /// change here is a migration, not a refactoring.
    fn golden() -> Vec<(SecurityEventKind, &'static str, &'static str)> {
        use SecurityEventKind as K;
        let session = SessionId::from_bytes([0xab; 16]);
        let consent = ConsentId::from_bytes([0x01; 16]);
        vec![
            (K::Registered, "registered", r#"{"kind":"registered"}"#),
            (
                K::SignedIn { session },
                "signed_in",
                r#"{"kind":"signed_in","session":"abababababababababababababababab"}"#,
            ),
            (
                K::SignInFailed,
                "sign_in_failed",
                r#"{"kind":"sign_in_failed"}"#,
            ),
            (
                K::SessionEnded { session },
                "session_ended",
                r#"{"kind":"session_ended","session":"abababababababababababababababab"}"#,
            ),
            (
                K::SignedOutEverywhere { sessions: 3 },
                "signed_out_everywhere",
                r#"{"kind":"signed_out_everywhere","sessions":3}"#,
            ),
            (
                K::PasswordChanged,
                "password_changed",
                r#"{"kind":"password_changed"}"#,
            ),
            (
                K::PasswordRecovered,
                "password_recovered",
                r#"{"kind":"password_recovered"}"#,
            ),
            (
                K::EmailChanged,
                "email_changed",
                r#"{"kind":"email_changed"}"#,
            ),
            (
                K::PhoneChanged,
                "phone_changed",
                r#"{"kind":"phone_changed"}"#,
            ),
            (
                K::PersonalDataChanged,
                "personal_data_changed",
                r#"{"kind":"personal_data_changed"}"#,
            ),
            (
                K::AccountLinked {
                    account: account(),
                    proof: LinkProof::Address,
                },
                "account_linked",
                r#"{"kind":"account_linked","supplier":"globus","number":"0012345","proof":"address"}"#,
            ),
            (
                K::LinkProofRejected,
                "link_proof_rejected",
                r#"{"kind":"link_proof_rejected"}"#,
            ),
            (
                K::AccountUnlinked { account: account() },
                "account_unlinked",
                r#"{"kind":"account_unlinked","supplier":"globus","number":"0012345"}"#,
            ),
            (
                K::ActiveAccountSwitched { account: account() },
                "active_account_switched",
                r#"{"kind":"active_account_switched","supplier":"globus","number":"0012345"}"#,
            ),
            (
                K::CabinetBlocked {
                    by: BlockedBy::Subscriber,
                },
                "cabinet_blocked",
                r#"{"kind":"cabinet_blocked","by":"subscriber","operator":null}"#,
            ),
            (
                K::CabinetBlocked {
                    by: BlockedBy::Operator {
                        operator: "op-7".to_owned(),
                    },
                },
                "cabinet_blocked",
                r#"{"kind":"cabinet_blocked","by":"operator","operator":"op-7"}"#,
            ),
            (
                K::CabinetUnblocked {
                    operator: "op-7".to_owned(),
                },
                "cabinet_unblocked",
                r#"{"kind":"cabinet_unblocked","operator":"op-7"}"#,
            ),
            (
                K::ConsentGiven { consent },
                "consent_given",
                r#"{"kind":"consent_given","consent":"01010101010101010101010101010101"}"#,
            ),
            (
                K::ConsentWithdrawn { consent },
                "consent_withdrawn",
                r#"{"kind":"consent_withdrawn","consent":"01010101010101010101010101010101"}"#,
            ),
        ]
    }

    fn stored(event: &SecurityEvent) -> Model {
        let row = to_row(event).unwrap();
        Model {
            seq: 1,
            subscriber_id: row.subscriber_id.unwrap(),
            at: row.at.unwrap(),
            kind: row.kind.unwrap(),
            detail: row.detail.unwrap(),
            channel: row.channel.unwrap(),
            device: row.device.unwrap(),
        }
    }

    #[test]
    fn golden_tags_and_details_round_trip() {
        for (kind, tag, detail) in golden() {
            let event = SecurityEvent {
                subscriber: SubscriberId::from_bytes([0x11; 16]),
                at: datetime!(2025-03-01 10:00 UTC),
                kind,
                client: ClientInfo::new(Channel::Operator),
            };
            let row = stored(&event);
            assert_eq!((row.kind.as_str(), row.detail.as_str()), (tag, detail));
            assert_eq!(from_row(row).unwrap(), event);
        }
    }

    #[test]
    fn an_unblock_without_its_operator_is_a_corrupt_row() {
        let event = SecurityEvent {
            subscriber: SubscriberId::from_bytes([0x11; 16]),
            at: datetime!(2025-03-01 10:00 UTC),
            kind: SecurityEventKind::CabinetUnblocked {
                operator: "op-7".to_owned(),
            },
            client: ClientInfo::new(Channel::Operator),
        };
        let mut row = stored(&event);
        row.kind = "cabinet_unblocked".to_owned();
        row.detail = r#"{"kind":"cabinet_unblocked"}"#.to_owned();
        assert!(from_row(row.clone()).is_err());
        // A tag that disagrees with the detail is refused too.
        row.detail = r#"{"kind":"cabinet_unblocked","operator":"op-7"}"#.to_owned();
        row.kind = "cabinet_blocked".to_owned();
        assert!(from_row(row).is_err());
    }
}
