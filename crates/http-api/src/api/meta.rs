//! Probes: `/health` (the process answers) and `/ready` (it can take traffic).

use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::ApiTags;
use crate::AppState;
use crate::problem::{Problem, ProblemBody, ProblemType};

/// The probes.
pub struct MetaApi;

/// The answer of a probe.
#[derive(Object, Debug, Clone, PartialEq, Eq)]
pub struct ProbeStatus {
    /// `ok` (health) or `ready` (readiness).
    pub status: String,
    /// The service's version.
    pub version: String,
}

/// The answer of `/ready`.
#[derive(ApiResponse)]
pub enum ReadyResponse {
    /// The database answers and its schema is current.
    #[oai(status = 200)]
    Ready(Json<ProbeStatus>),
    /// Not ready; the reason is in the log.
    #[oai(status = 503, content_type = "application/problem+json")]
    NotReady(Json<ProblemBody>),
}

#[OpenApi(tag = "ApiTags::Meta")]
impl MetaApi {
    /// Liveness: the process answers HTTP. Always 200 while it runs.
    #[oai(path = "/health", method = "get", operation_id = "health")]
    async fn health(&self) -> Json<ProbeStatus> {
        Json(ProbeStatus {
            status: "ok".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
        })
    }

    /// Readiness: the database answers and every migration is applied.
    #[oai(path = "/ready", method = "get", operation_id = "ready")]
    async fn ready(&self, state: Data<&AppState>) -> ReadyResponse {
        match state.readiness.check().await {
            Ok(()) => ReadyResponse::Ready(Json(ProbeStatus {
                status: "ready".to_owned(),
                version: env!("CARGO_PKG_VERSION").to_owned(),
            })),
            Err(e) => {
                tracing::warn!(error = %e, "not ready");
                ReadyResponse::NotReady(Json(Problem::new(ProblemType::ServiceUnavailable).body()))
            }
        }
    }
}
