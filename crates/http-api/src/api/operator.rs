//! The supplier's operators: log in (a session token) or use an API key (`X-Api-Key`), with
//! roles — Admin (everything), Billing (data, billing runs), Support (cabinets, questions).
//! Cabinets: find by login, block, unblock. API keys: create (an Admin's session only; the
//! key is shown once), list, revoke.

use identity_core::domain::{ApiKeyId, LoginHandle, OperatorLogin, SubscriberId};
use identity_core::model::{CabinetStatus, ClientAction, OperatorRole};
use identity_core::secret::Secret;
use identity_core::service::{NewApiKey, OperatorLoginRequest, OperatorVia};
use poem::Request;
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};
use time::OffsetDateTime;

use super::ApiTags;
use super::registration::{NoContent, invalid};
use crate::AppState;
use crate::auth::{Client, OperatorAuth};
use crate::problem::{Problem, ProblemResponse, ProblemType};

/// The operator API.
pub struct OperatorApi;

/// An operator role.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum RoleDto {
    /// Everything, including API keys.
    Admin,
    /// Reference data, imports, billing runs, key rates.
    Billing,
    /// Cabinets and questions.
    Support,
}

impl From<OperatorRole> for RoleDto {
    fn from(r: OperatorRole) -> Self {
        match r {
            OperatorRole::Admin => Self::Admin,
            OperatorRole::Billing => Self::Billing,
            OperatorRole::Support => Self::Support,
        }
    }
}

impl From<RoleDto> for OperatorRole {
    fn from(r: RoleDto) -> Self {
        match r {
            RoleDto::Admin => Self::Admin,
            RoleDto::Billing => Self::Billing,
            RoleDto::Support => Self::Support,
        }
    }
}

/// An operator's login.
#[derive(Object, Debug)]
#[oai(deny_unknown_fields)]
pub struct OperatorLoginBody {
    /// The login.
    #[oai(validator(min_length = 1, max_length = 64))]
    pub login: String,
    /// The password.
    #[oai(validator(min_length = 1, max_length = 1024))]
    pub password: String,
}

/// An operator session: send the token as `Authorization: Bearer`.
#[derive(Object, Debug)]
pub struct OperatorSessionDto {
    /// The token, shown once.
    pub token: String,
    /// The operator.
    pub operator_id: String,
    /// The role.
    pub role: RoleDto,
    /// When the session ends whatever its use.
    pub expires_at: OffsetDateTime,
    /// How long it may stay unused, in seconds.
    pub idle_timeout_seconds: i64,
}

/// Who is calling.
#[derive(Object, Debug)]
pub struct OperatorMeDto {
    /// The operator.
    pub operator_id: String,
    /// The role in effect.
    pub role: RoleDto,
    /// `session` or `api_key`.
    pub via: String,
}

/// A cabinet as an operator sees it (contacts masked).
#[derive(Object, Debug)]
pub struct CabinetDto {
    /// The cabinet (`subscriber_id` of block/unblock).
    pub subscriber_id: String,
    /// The name the subscriber gave.
    pub name: String,
    /// The registration ЛС (number masked), if registered by ЛС.
    #[oai(nullable)]
    pub account: Option<String>,
    /// The masked phone.
    #[oai(nullable)]
    pub phone: Option<String>,
    /// The masked email.
    #[oai(nullable)]
    pub email: Option<String>,
    /// Whether it is blocked.
    pub blocked: bool,
    /// When it was blocked.
    #[oai(nullable)]
    pub blocked_at: Option<OffsetDateTime>,
    /// When it was created.
    pub created_at: OffsetDateTime,
}

/// A new API key's name and role.
#[derive(Object, Debug)]
#[oai(deny_unknown_fields)]
pub struct NewApiKeyBody {
    /// What the key is for (1–100 characters).
    #[oai(validator(min_length = 1, max_length = 100))]
    pub name: String,
    /// What requests with the key may do (at most the creator's role).
    pub role: RoleDto,
}

/// An API key just created.
#[derive(Object, Debug)]
pub struct CreatedApiKeyDto {
    /// Its id, for revoking.
    pub id: String,
    /// The key (`ak_…`), shown once: send it as `X-Api-Key`.
    pub key: String,
    /// Its name.
    pub name: String,
    /// Its role.
    pub role: RoleDto,
    /// When created.
    pub created_at: OffsetDateTime,
}

/// An API key (never the key itself).
#[derive(Object, Debug)]
pub struct ApiKeyDto {
    /// Its id.
    pub id: String,
    /// The operator who created it.
    pub operator_id: String,
    /// Its name.
    pub name: String,
    /// Its role.
    pub role: RoleDto,
    /// When created.
    pub created_at: OffsetDateTime,
    /// When revoked.
    #[oai(nullable)]
    pub revoked_at: Option<OffsetDateTime>,
}

/// A session was opened.
#[derive(ApiResponse)]
pub enum OperatorLoggedIn {
    /// Logged in.
    #[oai(status = 201)]
    Created(Json<OperatorSessionDto>),
}

/// A key was created.
#[derive(ApiResponse)]
pub enum ApiKeyCreated {
    /// Created; the key is in the body, once.
    #[oai(status = 201)]
    Created(Json<CreatedApiKeyDto>),
}

fn subscriber(id: &str) -> Result<SubscriberId, Problem> {
    SubscriberId::parse(id).map_err(|_| Problem::new(ProblemType::NotFound))
}

fn operator_name(auth: &OperatorAuth) -> String {
    format!("operator:{}", auth.principal().id())
}

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Operator")]
impl OperatorApi {
    /// Log an operator in: a session token for `Authorization: Bearer`. A wrong password and
    /// an unknown login answer alike; failures are limited per login and per address.
    #[oai(
        path = "/operator/session",
        method = "post",
        operation_id = "operatorLogin"
    )]
    async fn login(
        &self,
        state: Data<&AppState>,
        req: &Request,
        body: Json<OperatorLoginBody>,
    ) -> Result<OperatorLoggedIn, ProblemResponse> {
        Client::admitted(&state, req, ClientAction::Login).await?;
        let body = body.0;
        // A login that cannot exist is answered like a wrong password.
        let Ok(login) = OperatorLogin::parse(&body.login) else {
            return Err(Problem::new(ProblemType::LoginFailed).into());
        };
        let session = state
            .operators
            .operator_login(OperatorLoginRequest {
                login,
                password: Secret::new(body.password),
            })
            .await
            .map_err(Problem::from)?;
        Ok(OperatorLoggedIn::Created(Json(OperatorSessionDto {
            token: session.token.expose().to_owned(),
            operator_id: session.operator.to_string(),
            role: session.role.into(),
            expires_at: session.expires_at,
            idle_timeout_seconds: session.idle_timeout.whole_seconds(),
        })))
    }

    /// End the operator session.
    #[oai(
        path = "/operator/session",
        method = "delete",
        operation_id = "operatorLogout"
    )]
    async fn logout(
        &self,
        state: Data<&AppState>,
        auth: OperatorAuth,
    ) -> Result<NoContent, ProblemResponse> {
        state
            .operators
            .logout(auth.principal())
            .await
            .map_err(Problem::from)?;
        Ok(NoContent::Done)
    }

    /// Who is calling, with which role.
    #[oai(path = "/operator/me", method = "get", operation_id = "operatorMe")]
    async fn me(&self, auth: OperatorAuth) -> Json<OperatorMeDto> {
        let p = auth.principal();
        Json(OperatorMeDto {
            operator_id: p.id().to_string(),
            role: p.role().into(),
            via: match p.via() {
                OperatorVia::Session(_) => "session",
                OperatorVia::Key(_) => "api_key",
            }
            .to_owned(),
        })
    }

    /// Find a cabinet by a login (ЛС number, phone or email) — Support.
    #[oai(
        path = "/operator/cabinets",
        method = "get",
        operation_id = "operatorFindCabinet"
    )]
    async fn find_cabinet(
        &self,
        state: Data<&AppState>,
        auth: OperatorAuth,
        /// An ЛС number, a phone (`+7…`) or an email.
        #[oai(validator(min_length = 1, max_length = 254))]
        login: Query<String>,
    ) -> Result<Json<CabinetDto>, ProblemResponse> {
        auth.require(OperatorRole::Support)?;
        let handle = LoginHandle::parse_any(&login.0).map_err(|e| invalid("login", &e))?;
        let found = state
            .identity
            .find_cabinet(&handle)
            .await
            .map_err(Problem::from)?
            .ok_or_else(|| Problem::new(ProblemType::NotFound))?;
        let (blocked, blocked_at) = match &found.status {
            CabinetStatus::Active => (false, None),
            CabinetStatus::Blocked { at, .. } => (true, Some(*at)),
        };
        Ok(Json(CabinetDto {
            subscriber_id: found.id.to_string(),
            name: found.name.to_string(),
            account: found
                .account
                .map(|a| format!("{} / {}", a.supplier, a.number)),
            phone: found.phone,
            email: found.email,
            blocked,
            blocked_at,
            created_at: found.created_at,
        }))
    }

    /// Block a cabinet (all its sessions end) — Support. Only recovery by the subscriber or
    /// an operator's unblock opens it again.
    #[oai(
        path = "/operator/cabinets/:subscriber_id/block",
        method = "post",
        operation_id = "operatorBlockCabinet"
    )]
    async fn block(
        &self,
        state: Data<&AppState>,
        req: &Request,
        auth: OperatorAuth,
        subscriber_id: Path<String>,
    ) -> Result<NoContent, ProblemResponse> {
        auth.require(OperatorRole::Support)?;
        let id = subscriber(&subscriber_id.0)?;
        state
            .identity
            .block_cabinet_by_operator(id, &operator_name(&auth), &Client::of(req).info)
            .await
            .map_err(Problem::from)?;
        Ok(NoContent::Done)
    }

    /// Unblock a cabinet — Support.
    #[oai(
        path = "/operator/cabinets/:subscriber_id/unblock",
        method = "post",
        operation_id = "operatorUnblockCabinet"
    )]
    async fn unblock(
        &self,
        state: Data<&AppState>,
        req: &Request,
        auth: OperatorAuth,
        subscriber_id: Path<String>,
    ) -> Result<NoContent, ProblemResponse> {
        auth.require(OperatorRole::Support)?;
        let id = subscriber(&subscriber_id.0)?;
        state
            .identity
            .unblock_cabinet_by_operator(id, &operator_name(&auth), &Client::of(req).info)
            .await
            .map_err(Problem::from)?;
        Ok(NoContent::Done)
    }

    /// Create an API key — an Admin, logged in with a password (not with another key).
    #[oai(
        path = "/operator/api-keys",
        method = "post",
        operation_id = "operatorCreateApiKey"
    )]
    async fn create_key(
        &self,
        state: Data<&AppState>,
        auth: OperatorAuth,
        body: Json<NewApiKeyBody>,
    ) -> Result<ApiKeyCreated, ProblemResponse> {
        let created = state
            .operators
            .create_api_key(
                auth.principal(),
                NewApiKey {
                    name: body.0.name,
                    role: body.0.role.into(),
                },
            )
            .await
            .map_err(Problem::from)?;
        Ok(ApiKeyCreated::Created(Json(CreatedApiKeyDto {
            id: created.id.to_string(),
            key: created.key.expose().to_owned(),
            name: created.name,
            role: created.role.into(),
            created_at: created.created_at,
        })))
    }

    /// The API keys — Admin.
    #[oai(
        path = "/operator/api-keys",
        method = "get",
        operation_id = "operatorListApiKeys"
    )]
    async fn list_keys(
        &self,
        state: Data<&AppState>,
        auth: OperatorAuth,
    ) -> Result<Json<Vec<ApiKeyDto>>, ProblemResponse> {
        let keys = state
            .operators
            .list_api_keys(auth.principal())
            .await
            .map_err(Problem::from)?;
        Ok(Json(
            keys.into_iter()
                .map(|k| ApiKeyDto {
                    id: k.id.to_string(),
                    operator_id: k.operator.to_string(),
                    name: k.name,
                    role: k.role.into(),
                    created_at: k.created_at,
                    revoked_at: k.revoked_at,
                })
                .collect(),
        ))
    }

    /// Revoke an API key — Admin.
    #[oai(
        path = "/operator/api-keys/:key_id",
        method = "delete",
        operation_id = "operatorRevokeApiKey"
    )]
    async fn revoke_key(
        &self,
        state: Data<&AppState>,
        auth: OperatorAuth,
        key_id: Path<String>,
    ) -> Result<NoContent, ProblemResponse> {
        let id = ApiKeyId::parse(&key_id.0).map_err(|_| Problem::new(ProblemType::NotFound))?;
        state
            .operators
            .revoke_api_key(auth.principal(), id)
            .await
            .map_err(Problem::from)?;
        Ok(NoContent::Done)
    }
}
