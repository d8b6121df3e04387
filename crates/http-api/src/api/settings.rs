//! The signed-in subscriber's settings (seeds 002, 003, 004): password, email, name, the
//! consents given, the security log and "my cabinet was hacked" (block); and password
//! recovery for one who cannot sign in (seeds 001, 002).

use identity_core::domain::{ChallengeId, ConsentId, Email, PersonName, Phone};
use identity_core::model::{ClientAction, SecurityEventKind};
use identity_core::secret::Secret;
use identity_core::{ChangePassword, RecoveryRequest, RecoveryTarget};
use poem::Request;
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use time::OffsetDateTime;

use super::ApiTags;
use super::registration::{Accepted, NoContent, invalid};
use super::session::{CookieNoContent, channel_name};
use crate::AppState;
use crate::auth::{Client, SubscriberAuth, clear_session_cookie};
use crate::problem::{Problem, ProblemResponse, ProblemType};

/// Settings and recovery.
pub struct SettingsApi;

/// A password change.
#[derive(Object, Debug)]
#[oai(deny_unknown_fields)]
pub struct ChangePasswordBody {
    /// The current password.
    #[oai(validator(min_length = 1, max_length = 1024))]
    pub old: String,
    /// The new password.
    #[oai(validator(min_length = 1, max_length = 1024))]
    pub new: String,
    /// The new password again.
    #[oai(validator(min_length = 1, max_length = 1024))]
    pub new_repeat: String,
}

/// A new email, typed twice; a confirmation link goes to it.
#[derive(Object, Debug)]
#[oai(deny_unknown_fields)]
pub struct ChangeEmailBody {
    /// The new address.
    #[oai(validator(min_length = 1, max_length = 254))]
    pub email: String,
    /// The new address again.
    #[oai(validator(min_length = 1, max_length = 254))]
    pub email_repeat: String,
}

/// A corrected name.
#[derive(Object, Debug)]
#[oai(deny_unknown_fields)]
pub struct NameBody {
    /// Full name.
    #[oai(validator(min_length = 1, max_length = 200))]
    pub name: String,
}

/// Start a recovery: give the email or the phone of the cabinet.
#[derive(Object, Debug)]
#[oai(deny_unknown_fields)]
pub struct RecoveryBody {
    /// The cabinet's email: a link goes to it.
    #[oai(validator(max_length = 254))]
    pub email: Option<String>,
    /// The cabinet's phone: an SMS code goes to it.
    #[oai(validator(max_length = 32))]
    pub phone: Option<String>,
    /// The captcha: `"<id>:<answer>"`.
    #[oai(validator(min_length = 1, max_length = 100))]
    pub captcha: String,
}

/// A recovery was started.
#[derive(Object, Debug)]
pub struct RecoveryStarted {
    /// For a phone: the challenge to complete with the SMS code.
    #[oai(skip_serializing_if_is_none)]
    pub challenge_id: Option<String>,
}

/// A new password by the emailed link.
#[derive(Object, Debug)]
#[oai(deny_unknown_fields)]
pub struct RecoveryLinkBody {
    /// The `token` of the link.
    #[oai(validator(min_length = 1, max_length = 256))]
    pub token: String,
    /// The new password.
    #[oai(validator(min_length = 1, max_length = 1024))]
    pub password: String,
    /// The new password again.
    #[oai(validator(min_length = 1, max_length = 1024))]
    pub password_repeat: String,
}

/// A new password by the SMS code.
#[derive(Object, Debug)]
#[oai(deny_unknown_fields)]
pub struct RecoveryCodeBody {
    /// The code.
    #[oai(validator(min_length = 1, max_length = 16))]
    pub code: String,
    /// The new password.
    #[oai(validator(min_length = 1, max_length = 1024))]
    pub password: String,
    /// The new password again.
    #[oai(validator(min_length = 1, max_length = 1024))]
    pub password_repeat: String,
}

/// Recovery started.
#[derive(ApiResponse)]
pub enum RecoveryAccepted {
    /// The link or code was sent if the email or phone has a cabinet (the answer is the same
    /// either way).
    #[oai(status = 202)]
    Sent(Json<RecoveryStarted>),
}

/// An event of the security log.
#[derive(Object, Debug)]
pub struct SecurityEventDto {
    /// When.
    pub at: OffsetDateTime,
    /// What: `registered`, `signed_in`, `sign_in_failed`, `password_changed`, … .
    pub kind: String,
    /// `web`, `mobile_app`, `operator` or `api`.
    pub channel: String,
    /// The device.
    #[oai(skip_serializing_if_is_none)]
    pub device: Option<String>,
}

/// A consent given.
#[derive(Object, Debug)]
pub struct ConsentDto {
    /// Id, for withdrawing it.
    pub id: String,
    /// The document's version.
    pub version: String,
    /// SHA-256 of the text agreed to.
    pub sha256: String,
    /// When it was given.
    pub given_at: OffsetDateTime,
    /// When it was withdrawn.
    #[oai(skip_serializing_if_is_none)]
    pub withdrawn_at: Option<OffsetDateTime>,
}

/// A consent to give.
#[derive(Object, Debug)]
#[oai(deny_unknown_fields)]
pub struct GiveConsentBody {
    /// The version of the document in force (`GET /api/v1/consent-document`).
    #[oai(validator(min_length = 1, max_length = 64))]
    pub version: String,
}

/// The consent just given.
#[derive(Object, Debug)]
pub struct ConsentGiven {
    /// Its id.
    pub consent_id: String,
}

/// A consent was recorded.
#[derive(ApiResponse)]
pub enum ConsentCreated {
    /// Recorded.
    #[oai(status = 201)]
    Created(Json<ConsentGiven>),
}

/// The wire name of a security event.
pub fn event_name(kind: &SecurityEventKind) -> &'static str {
    match kind {
        SecurityEventKind::Registered => "registered",
        SecurityEventKind::SignedIn { .. } => "signed_in",
        SecurityEventKind::SignInFailed => "sign_in_failed",
        SecurityEventKind::SessionEnded { .. } => "session_ended",
        SecurityEventKind::SignedOutEverywhere { .. } => "signed_out_everywhere",
        SecurityEventKind::PasswordChanged => "password_changed",
        SecurityEventKind::PasswordRecovered => "password_recovered",
        SecurityEventKind::EmailChanged => "email_changed",
        SecurityEventKind::PhoneChanged => "phone_changed",
        SecurityEventKind::PersonalDataChanged => "personal_data_changed",
        SecurityEventKind::AccountLinked { .. } => "account_linked",
        SecurityEventKind::LinkProofRejected => "link_proof_rejected",
        SecurityEventKind::AccountUnlinked { .. } => "account_unlinked",
        SecurityEventKind::ActiveAccountSwitched { .. } => "active_account_switched",
        SecurityEventKind::CabinetBlocked { .. } => "cabinet_blocked",
        SecurityEventKind::CabinetUnblocked { .. } => "cabinet_unblocked",
        SecurityEventKind::ConsentGiven { .. } => "consent_given",
        SecurityEventKind::ConsentWithdrawn { .. } => "consent_withdrawn",
    }
}

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Settings")]
impl SettingsApi {
    /// Change the password (the current one is asked again). Other sessions stay open; a
    /// notice goes to the subscriber's contacts.
    #[oai(
        path = "/me/password",
        method = "post",
        operation_id = "changePassword"
    )]
    async fn change_password(
        &self,
        state: Data<&AppState>,
        req: &Request,
        auth: SubscriberAuth,
        body: Json<ChangePasswordBody>,
    ) -> Result<NoContent, ProblemResponse> {
        let client = Client::of(req);
        let body = body.0;
        state
            .identity
            .change_password(
                auth.auth(),
                ChangePassword {
                    old: Secret::new(body.old),
                    new: Secret::new(body.new),
                    new_repeat: Secret::new(body.new_repeat),
                },
                &client.info,
            )
            .await
            .map_err(Problem::from)?;
        Ok(NoContent::Done)
    }

    /// Change the email: a confirmation link goes to the new address (and a notice to the
    /// old one); the new address takes effect when the link is opened.
    #[oai(path = "/me/email", method = "post", operation_id = "changeEmail")]
    async fn change_email(
        &self,
        state: Data<&AppState>,
        req: &Request,
        auth: SubscriberAuth,
        body: Json<ChangeEmailBody>,
    ) -> Result<Accepted, ProblemResponse> {
        let email = Email::parse(&body.email).map_err(|e| invalid("email", &e))?;
        let repeat = Email::parse(&body.email_repeat).map_err(|e| invalid("email_repeat", &e))?;
        Client::admitted(&state, req, ClientAction::SendCode).await?;
        state
            .identity
            .request_email_change(auth.auth(), &email, &repeat)
            .await
            .map_err(Problem::from)?;
        Ok(Accepted::Sent)
    }

    /// Correct the name.
    #[oai(path = "/me/name", method = "put", operation_id = "changeName")]
    async fn change_name(
        &self,
        state: Data<&AppState>,
        req: &Request,
        auth: SubscriberAuth,
        body: Json<NameBody>,
    ) -> Result<NoContent, ProblemResponse> {
        let name = PersonName::parse(&body.name).map_err(|e| invalid("name", &e))?;
        let client = Client::of(req);
        state
            .identity
            .update_personal_data(auth.auth(), name, &client.info)
            .await
            .map_err(Problem::from)?;
        Ok(NoContent::Done)
    }

    /// "My cabinet was hacked": blocks the cabinet and ends every session. Password recovery
    /// (or an operator) unblocks it.
    #[oai(path = "/me/block", method = "post", operation_id = "blockCabinet")]
    async fn block(
        &self,
        state: Data<&AppState>,
        req: &Request,
        auth: SubscriberAuth,
    ) -> Result<CookieNoContent, ProblemResponse> {
        let client = Client::of(req);
        state
            .identity
            .block_cabinet(auth.auth(), &client.info)
            .await
            .map_err(Problem::from)?;
        Ok(CookieNoContent::Done(Some(clear_session_cookie(
            state.settings.secure_cookies(),
        ))))
    }

    /// The security log, newest first.
    #[oai(
        path = "/me/security-log",
        method = "get",
        operation_id = "securityLog"
    )]
    async fn security_log(
        &self,
        state: Data<&AppState>,
        auth: SubscriberAuth,
        /// How many events (1–200, default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "200")))]
        limit: Query<Option<u32>>,
    ) -> Result<Json<Vec<SecurityEventDto>>, ProblemResponse> {
        let events = state
            .identity
            .security_log(auth.auth(), limit.0.unwrap_or(50))
            .await
            .map_err(Problem::from)?;
        Ok(Json(
            events
                .into_iter()
                .map(|e| SecurityEventDto {
                    at: e.at,
                    kind: event_name(&e.kind).to_owned(),
                    channel: channel_name(e.client.channel).to_owned(),
                    device: e.client.device,
                })
                .collect(),
        ))
    }

    /// The consents to personal-data processing given, withdrawn ones included.
    #[oai(path = "/me/consents", method = "get", operation_id = "listConsents")]
    async fn consents(
        &self,
        state: Data<&AppState>,
        auth: SubscriberAuth,
    ) -> Result<Json<Vec<ConsentDto>>, ProblemResponse> {
        let list = state
            .identity
            .list_consents(auth.auth())
            .await
            .map_err(Problem::from)?;
        Ok(Json(
            list.into_iter()
                .map(|c| ConsentDto {
                    id: c.id.to_string(),
                    version: c.document.version().to_owned(),
                    sha256: c.document.text_sha256().to_owned(),
                    given_at: c.given_at,
                    withdrawn_at: c.withdrawn_at,
                })
                .collect(),
        ))
    }

    /// Give the consent in force again (for example after its text changed).
    #[oai(path = "/me/consents", method = "post", operation_id = "giveConsent")]
    async fn give_consent(
        &self,
        state: Data<&AppState>,
        req: &Request,
        auth: SubscriberAuth,
        body: Json<GiveConsentBody>,
    ) -> Result<ConsentCreated, ProblemResponse> {
        let consent = &state.settings.consent;
        if body.version != consent.version {
            let mut p = Problem::new(ProblemType::InvalidRequest);
            p.reason = Some(format!("version must be the current `{}`", consent.version));
            return Err(p.into());
        }
        let client = Client::of(req);
        let id = state
            .identity
            .give_consent(auth.auth(), consent.document(), &client.info)
            .await
            .map_err(Problem::from)?;
        Ok(ConsentCreated::Created(Json(ConsentGiven {
            consent_id: id.to_string(),
        })))
    }

    /// Withdraw a consent (152-ФЗ ст. 9 ч. 2).
    #[oai(
        path = "/me/consents/:id",
        method = "delete",
        operation_id = "withdrawConsent"
    )]
    async fn withdraw_consent(
        &self,
        state: Data<&AppState>,
        req: &Request,
        auth: SubscriberAuth,
        id: Path<String>,
    ) -> Result<NoContent, ProblemResponse> {
        let id = ConsentId::parse(&id.0).map_err(|_| Problem::new(ProblemType::NotFound))?;
        let client = Client::of(req);
        state
            .identity
            .withdraw_consent(auth.auth(), id, &client.info)
            .await
            .map_err(Problem::from)?;
        Ok(NoContent::Done)
    }

    /// Start a password recovery by email (a link) or phone (an SMS code). The answer is the
    /// same whether or not the email or phone has a cabinet.
    #[oai(path = "/recoveries", method = "post", operation_id = "startRecovery")]
    async fn start_recovery(
        &self,
        state: Data<&AppState>,
        req: &Request,
        body: Json<RecoveryBody>,
    ) -> Result<RecoveryAccepted, ProblemResponse> {
        let body = body.0;
        let target = match (body.email.as_deref(), body.phone.as_deref()) {
            (Some(e), None) => {
                RecoveryTarget::Email(Email::parse(e).map_err(|err| invalid("email", &err))?)
            }
            (None, Some(p)) => {
                RecoveryTarget::Phone(Phone::parse(p).map_err(|err| invalid("phone", &err))?)
            }
            _ => {
                let mut p = Problem::with_detail(
                    ProblemType::InvalidRequest,
                    "Укажите адрес электронной почты или номер телефона.",
                );
                p.reason = Some("give exactly one of `email` and `phone`".to_owned());
                return Err(p.into());
            }
        };
        Client::admitted(&state, req, ClientAction::SendCode).await?;
        let challenge = state
            .identity
            .start_recovery(RecoveryRequest {
                target,
                captcha: Secret::new(body.captcha),
            })
            .await
            .map_err(Problem::from)?;
        Ok(RecoveryAccepted::Sent(Json(RecoveryStarted {
            challenge_id: challenge.map(|c| c.to_string()),
        })))
    }

    /// Set a new password with the emailed recovery link. Unblocks a blocked cabinet and ends
    /// every session.
    #[oai(
        path = "/recoveries/link",
        method = "post",
        operation_id = "completeRecoveryByLink"
    )]
    async fn recover_by_link(
        &self,
        state: Data<&AppState>,
        req: &Request,
        body: Json<RecoveryLinkBody>,
    ) -> Result<NoContent, ProblemResponse> {
        let client = Client::of(req);
        let body = body.0;
        state
            .identity
            .complete_recovery_by_link(
                &Secret::new(body.token),
                &Secret::new(body.password),
                &Secret::new(body.password_repeat),
                &client.info,
            )
            .await
            .map_err(Problem::from)?;
        Ok(NoContent::Done)
    }

    /// Set a new password with the SMS recovery code.
    #[oai(
        path = "/recoveries/:challenge/complete",
        method = "post",
        operation_id = "completeRecoveryByCode"
    )]
    async fn recover_by_code(
        &self,
        state: Data<&AppState>,
        req: &Request,
        challenge: Path<String>,
        body: Json<RecoveryCodeBody>,
    ) -> Result<NoContent, ProblemResponse> {
        let id =
            ChallengeId::parse(&challenge.0).map_err(|_| Problem::new(ProblemType::NotFound))?;
        let client = Client::of(req);
        let body = body.0;
        state
            .identity
            .complete_recovery_by_code(
                id,
                &Secret::new(body.code),
                &Secret::new(body.password),
                &Secret::new(body.password_repeat),
                &client.info,
            )
            .await
            .map_err(Problem::from)?;
        Ok(NoContent::Done)
    }
}
