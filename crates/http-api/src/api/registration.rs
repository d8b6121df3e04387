//! Registration by phone and email (seed 001): the form → an SMS code → the cabinet, then an
//! emailed link confirms the email. Registration by ЛС (seeds 002, 003): the ЛС number with
//! the holder's name (or a meter's number) → an SMS code → the password → the cabinet, with
//! the ЛС linked.

use identity_core::UserMessage;
use identity_core::domain::{
    AccountNumber, AccountRef, ChallengeId, Email, MeterNumber, PersonName, Phone, SupplierId,
};
use identity_core::model::ClientAction;
use identity_core::secret::Secret;
use identity_core::service::AccountRegistration;
use identity_core::{PhoneRegistration, model::ConsentDocument};
use poem::Request;
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::ApiTags;
use crate::AppState;
use crate::auth::{Client, SubscriberAuth};
use crate::problem::{Problem, ProblemResponse, ProblemType};

/// Registration and confirmation.
pub struct RegistrationApi;

/// The registration form (by phone and email).
#[derive(Object, Debug)]
#[oai(deny_unknown_fields)]
pub struct PhoneRegistrationBody {
    /// Full name (фамилия, имя, отчество).
    #[oai(validator(min_length = 1, max_length = 200))]
    pub name: String,
    /// Mobile phone, `+7…` or `8…`; the SMS code goes here.
    #[oai(validator(min_length = 1, max_length = 32))]
    pub phone: String,
    /// Email; a confirmation link goes here once the phone is confirmed.
    #[oai(validator(min_length = 1, max_length = 254))]
    pub email: String,
    /// The password.
    #[oai(validator(min_length = 1, max_length = 1024))]
    pub password: String,
    /// The password again.
    #[oai(validator(min_length = 1, max_length = 1024))]
    pub password_repeat: String,
    /// The captcha: `"<id>:<answer>"` (see `GET /api/v1/captcha`).
    #[oai(validator(min_length = 1, max_length = 100))]
    pub captcha: String,
    /// The version of the consent document agreed to (`GET /api/v1/consent-document`).
    #[oai(validator(min_length = 1, max_length = 64))]
    pub consent_version: String,
}

/// The registration form by ЛС.
#[derive(Object, Debug)]
#[oai(deny_unknown_fields)]
pub struct AccountRegistrationBody {
    /// The supplier keeping the ЛС (its id, `GET /api/v1/suppliers/{id}`).
    #[oai(validator(
        minimum(value = "1"),
        maximum(value = "9223372036854775808", exclusive = true)
    ))]
    pub supplier_id: u64,
    /// The ЛС number as printed on the payment document.
    #[oai(validator(min_length = 1, max_length = 32))]
    pub account_number: String,
    /// The holder's name: full, or the surname with initials (`Иванов И. И.`).
    #[oai(validator(min_length = 1, max_length = 200))]
    pub name: String,
    /// If the name on file differs: the serial number of a meter installed on the ЛС.
    #[oai(validator(min_length = 1, max_length = 64))]
    pub meter_number: Option<String>,
    /// Mobile phone, `+7…` or `8…`; the SMS code goes here.
    #[oai(validator(min_length = 1, max_length = 32))]
    pub phone: String,
    /// Email (optional); a confirmation link goes here once the cabinet exists.
    #[oai(validator(min_length = 1, max_length = 254))]
    pub email: Option<String>,
    /// The captcha: `"<id>:<answer>"` (see `GET /api/v1/captcha`).
    #[oai(validator(min_length = 1, max_length = 100))]
    pub captcha: String,
    /// The version of the consent document agreed to (`GET /api/v1/consent-document`).
    #[oai(validator(min_length = 1, max_length = 64))]
    pub consent_version: String,
}

/// The SMS code and the new password that complete a registration by ЛС.
#[derive(Object, Debug)]
#[oai(deny_unknown_fields)]
pub struct CompleteRegistrationBody {
    /// The code from the SMS.
    #[oai(validator(min_length = 1, max_length = 16))]
    pub code: String,
    /// The password.
    #[oai(validator(min_length = 1, max_length = 1024))]
    pub password: String,
    /// The password again.
    #[oai(validator(min_length = 1, max_length = 1024))]
    pub password_repeat: String,
}

/// A code was sent; confirm it with the challenge id.
#[derive(Object, Debug)]
pub struct ChallengeDto {
    /// The challenge to confirm.
    pub challenge_id: String,
}

/// The code from the SMS.
#[derive(Object, Debug)]
#[oai(deny_unknown_fields)]
pub struct CodeBody {
    /// The code.
    #[oai(validator(min_length = 1, max_length = 16))]
    pub code: String,
}

/// The token from an emailed link.
#[derive(Object, Debug)]
#[oai(deny_unknown_fields)]
pub struct TokenBody {
    /// The `token` parameter of the link.
    #[oai(validator(min_length = 1, max_length = 256))]
    pub token: String,
}

/// The cabinet just created.
#[derive(Object, Debug)]
pub struct RegisteredDto {
    /// The cabinet.
    pub subscriber_id: String,
}

/// A code was sent.
#[derive(ApiResponse)]
pub enum ChallengeSent {
    /// Sent (or, if the phone already has a cabinet, a notice was sent instead — the answer
    /// is the same).
    #[oai(status = 202)]
    Sent(Json<ChallengeDto>),
}

/// Accepted for delivery.
#[derive(ApiResponse)]
pub enum Accepted {
    /// Sent.
    #[oai(status = 202)]
    Sent,
}

/// The cabinet was created.
#[derive(ApiResponse)]
pub enum Registered {
    /// Created.
    #[oai(status = 201)]
    Created(Json<RegisteredDto>),
}

/// Done, nothing to return.
#[derive(ApiResponse)]
pub enum NoContent {
    /// Done.
    #[oai(status = 204)]
    Done,
}

/// A field that did not parse, as a problem naming it.
pub fn invalid(field: &str, e: &dyn UserMessage) -> Problem {
    let mut p = Problem::with_detail(ProblemType::InvalidRequest, e.user_message());
    p.reason = Some(format!("invalid field `{field}`"));
    p
}

/// The consent document in force, or a problem if the client agreed to another version.
fn current_consent(state: &AppState, version: &str) -> Result<ConsentDocument, Problem> {
    let consent = &state.settings.consent;
    if version == consent.version {
        return Ok(consent.document());
    }
    let mut p = Problem::with_detail(
        ProblemType::InvalidRequest,
        "Текст согласия на обработку персональных данных обновился. Ознакомьтесь с ним и подтвердите согласие ещё раз.",
    );
    p.reason = Some(format!(
        "consent_version must be the current `{}`",
        consent.version
    ));
    Err(p)
}

fn challenge(id: &str) -> Result<ChallengeId, Problem> {
    ChallengeId::parse(id).map_err(|_| Problem::new(ProblemType::NotFound))
}

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Registration")]
impl RegistrationApi {
    /// Register by phone and email: checks the captcha and the password and sends an SMS
    /// code to the phone. Confirm with `POST /registrations/{challenge_id}/confirm`.
    #[oai(
        path = "/registrations/phone",
        method = "post",
        operation_id = "registerByPhone"
    )]
    async fn register_by_phone(
        &self,
        state: Data<&AppState>,
        req: &Request,
        body: Json<PhoneRegistrationBody>,
    ) -> Result<ChallengeSent, ProblemResponse> {
        let body = body.0;
        let name = PersonName::parse(&body.name).map_err(|e| invalid("name", &e))?;
        let phone = Phone::parse(&body.phone).map_err(|e| invalid("phone", &e))?;
        let email = Email::parse(&body.email).map_err(|e| invalid("email", &e))?;
        let consent = current_consent(&state, &body.consent_version)?;
        let client = Client::admitted(&state, req, ClientAction::Registration).await?;
        let id = state
            .identity
            .start_registration_by_phone(PhoneRegistration {
                name,
                phone,
                email,
                password: Secret::new(body.password),
                password_repeat: Secret::new(body.password_repeat),
                captcha: Secret::new(body.captcha),
                consent,
                client: client.info,
            })
            .await
            .map_err(Problem::from)?;
        Ok(ChallengeSent::Sent(Json(ChallengeDto {
            challenge_id: id.to_string(),
        })))
    }

    /// Register by ЛС: the ЛС number with the holder's name (or, if the name on file differs,
    /// a meter's serial number) and a phone for the SMS code. Complete with
    /// `POST /registrations/{challenge_id}/complete`. An unknown ЛС and a wrong name answer
    /// alike (`holder-not-confirmed`).
    #[oai(
        path = "/registrations/account",
        method = "post",
        operation_id = "registerByAccount"
    )]
    async fn register_by_account(
        &self,
        state: Data<&AppState>,
        req: &Request,
        body: Json<AccountRegistrationBody>,
    ) -> Result<ChallengeSent, ProblemResponse> {
        let body = body.0;
        let supplier = SupplierId::parse(&body.supplier_id.to_string())
            .map_err(|e| invalid("supplier_id", &e))?;
        let number = AccountNumber::parse(&body.account_number)
            .map_err(|e| invalid("account_number", &e))?;
        let name = PersonName::parse(&body.name).map_err(|e| invalid("name", &e))?;
        let meter = body
            .meter_number
            .as_deref()
            .map(MeterNumber::parse)
            .transpose()
            .map_err(|e| invalid("meter_number", &e))?;
        let phone = Phone::parse(&body.phone).map_err(|e| invalid("phone", &e))?;
        let email = body
            .email
            .as_deref()
            .map(Email::parse)
            .transpose()
            .map_err(|e| invalid("email", &e))?;
        let consent = current_consent(&state, &body.consent_version)?;
        let client = Client::admitted(&state, req, ClientAction::Registration).await?;
        let id = state
            .identity
            .start_registration_by_account(AccountRegistration {
                account: AccountRef { supplier, number },
                name,
                meter,
                phone,
                email,
                captcha: Secret::new(body.captcha),
                consent,
                client: client.info,
            })
            .await
            .map_err(Problem::from)?;
        Ok(ChallengeSent::Sent(Json(ChallengeDto {
            challenge_id: id.to_string(),
        })))
    }

    /// Complete a registration by ЛС with the SMS code and the new password: creates the
    /// cabinet (the ЛС number and the phone are its logins) with the ЛС linked. A refused
    /// password does not use up the code.
    #[oai(
        path = "/registrations/:challenge_id/complete",
        method = "post",
        operation_id = "completeRegistrationByAccount"
    )]
    async fn complete(
        &self,
        state: Data<&AppState>,
        challenge_id: Path<String>,
        body: Json<CompleteRegistrationBody>,
    ) -> Result<Registered, ProblemResponse> {
        let id = challenge(&challenge_id.0)?;
        let body = body.0;
        let subscriber = state
            .identity
            .complete_registration_by_account(
                id,
                &Secret::new(body.code),
                &Secret::new(body.password),
                &Secret::new(body.password_repeat),
            )
            .await
            .map_err(Problem::from)?;
        Ok(Registered::Created(Json(RegisteredDto {
            subscriber_id: subscriber.to_string(),
        })))
    }

    /// Confirm a registration by phone with the SMS code: creates the cabinet (the phone is
    /// its login) and emails a link to confirm the email.
    #[oai(
        path = "/registrations/:challenge_id/confirm",
        method = "post",
        operation_id = "confirmRegistration"
    )]
    async fn confirm(
        &self,
        state: Data<&AppState>,
        challenge_id: Path<String>,
        body: Json<CodeBody>,
    ) -> Result<Registered, ProblemResponse> {
        let id = challenge(&challenge_id.0)?;
        let subscriber = state
            .identity
            .confirm_registration(id, &Secret::new(body.0.code))
            .await
            .map_err(Problem::from)?;
        Ok(Registered::Created(Json(RegisteredDto {
            subscriber_id: subscriber.to_string(),
        })))
    }

    /// Send a new code for a challenge ("didn't get the code?").
    #[oai(
        path = "/challenges/:challenge_id/resend",
        method = "post",
        operation_id = "resendCode"
    )]
    async fn resend(
        &self,
        state: Data<&AppState>,
        req: &Request,
        challenge_id: Path<String>,
    ) -> Result<Accepted, ProblemResponse> {
        let id = challenge(&challenge_id.0)?;
        Client::admitted(&state, req, ClientAction::SendCode).await?;
        state
            .identity
            .resend_code(id)
            .await
            .map_err(Problem::from)?;
        Ok(Accepted::Sent)
    }

    /// Confirm an email with the token from the emailed link.
    #[oai(
        path = "/email-confirmations",
        method = "post",
        operation_id = "confirmEmail"
    )]
    async fn confirm_email(
        &self,
        state: Data<&AppState>,
        req: &Request,
        body: Json<TokenBody>,
    ) -> Result<NoContent, ProblemResponse> {
        let client = Client::of(req);
        state
            .identity
            .confirm_email(&Secret::new(body.0.token), &client.info)
            .await
            .map_err(Problem::from)?;
        Ok(NoContent::Done)
    }

    /// Send the email confirmation link again.
    #[oai(
        path = "/me/email/resend",
        method = "post",
        operation_id = "resendEmailConfirmation"
    )]
    async fn resend_email(
        &self,
        state: Data<&AppState>,
        req: &Request,
        auth: SubscriberAuth,
    ) -> Result<Accepted, ProblemResponse> {
        Client::admitted(&state, req, ClientAction::SendCode).await?;
        state
            .identity
            .resend_email_confirmation(auth.auth())
            .await
            .map_err(Problem::from)?;
        Ok(Accepted::Sent)
    }
}
