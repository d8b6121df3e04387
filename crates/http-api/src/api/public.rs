//! Public information a visitor needs before logging in: a captcha challenge and the text of
//! the consent to personal-data processing that registration records.

use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use super::ApiTags;
use crate::AppState;
use crate::problem::{Problem, ProblemResponse, ProblemType};

/// Public endpoints.
pub struct PublicApi;

/// A captcha challenge: show `question` (or `image_svg`), send back `"<id>:<answer>"`.
#[derive(Object, Debug, Clone, PartialEq, Eq)]
pub struct CaptchaDto {
    /// The challenge id.
    pub id: String,
    /// The question as text.
    pub question: String,
    /// The question as an SVG image.
    pub image_svg: String,
    /// Seconds the challenge stays valid.
    pub expires_in_seconds: u64,
    /// The answer — only in sandbox mode, so scripts and tests can pass the captcha.
    #[oai(skip_serializing_if_is_none)]
    pub sandbox_answer: Option<String>,
}

/// The consent to personal-data processing (152-ФЗ ст. 9) in force.
#[derive(Object, Debug, Clone, PartialEq, Eq)]
pub struct ConsentDocumentDto {
    /// The version a registration must name in `consent_version`.
    pub version: String,
    /// The text shown to the person.
    pub text: String,
    /// Lowercase hex SHA-256 of `text`, recorded with every consent.
    pub sha256: String,
}

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Public")]
impl PublicApi {
    /// A new captcha challenge (registration and recovery ask for one).
    #[oai(path = "/captcha", method = "get", operation_id = "getCaptcha")]
    async fn captcha(&self, state: Data<&AppState>) -> Result<Json<CaptchaDto>, ProblemResponse> {
        state.captcha.issue().await.map(Json).map_err(|e| {
            tracing::error!(error = %e, "captcha issue failed");
            Problem::new(ProblemType::ServiceUnavailable).into()
        })
    }

    /// The consent to personal-data processing a registration agrees to.
    #[oai(
        path = "/consent-document",
        method = "get",
        operation_id = "getConsentDocument"
    )]
    async fn consent_document(&self, state: Data<&AppState>) -> Json<ConsentDocumentDto> {
        let consent = &state.settings.consent;
        Json(ConsentDocumentDto {
            version: consent.version.clone(),
            text: consent.text.clone(),
            sha256: consent.document().text_sha256().to_owned(),
        })
    }
}
