//! Logging in and out, sessions, and the signed-in subscriber's profile.

use identity_core::domain::{Channel, LoginHandle, SessionId};
use identity_core::model::ClientAction;
use identity_core::secret::Secret;
use identity_core::{LoginRequest, SessionInfo};
use poem::Request;
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use time::OffsetDateTime;

use super::ApiTags;
use crate::AppState;
use crate::auth::{Client, SubscriberAuth, clear_session_cookie, session_cookie};
use crate::problem::{Problem, ProblemResponse, ProblemType};

/// Sessions and the profile.
pub struct SessionApi;

/// A login.
#[derive(Object, Debug)]
#[oai(deny_unknown_fields)]
pub struct LoginBody {
    /// The ЛС number, an email, or a phone starting with `+`.
    #[oai(validator(min_length = 1, max_length = 254))]
    pub login: String,
    /// The password.
    #[oai(validator(min_length = 1, max_length = 1024))]
    pub password: String,
    /// `true` for an API client: the session token comes back in the body and no cookie is
    /// set. Browsers leave it out and get the `HttpOnly` cookie.
    #[oai(default)]
    pub token: bool,
}

/// A session just opened.
#[derive(Object, Debug)]
pub struct NewSessionDto {
    /// The cabinet.
    pub subscriber_id: String,
    /// The session, for listing and ending it.
    pub session_id: String,
    /// When it ends whatever its use.
    pub expires_at: OffsetDateTime,
    /// How long it may stay unused, in seconds.
    pub idle_timeout_seconds: i64,
    /// The bearer token — only when the login asked for it.
    #[oai(skip_serializing_if_is_none)]
    pub token: Option<String>,
}

/// The answer to a login.
#[derive(ApiResponse)]
pub enum LoginResponse {
    /// Logged in.
    #[oai(status = 201)]
    Created(
        Json<NewSessionDto>,
        /// The session cookie (browser logins).
        #[oai(header = "Set-Cookie")]
        Option<String>,
    ),
}

/// A response with no body that may change the session cookie.
#[derive(ApiResponse)]
pub enum CookieNoContent {
    /// Done.
    #[oai(status = 204)]
    Done(
        /// Clears the session cookie.
        #[oai(header = "Set-Cookie")]
        Option<String>,
    ),
}

/// A live session.
#[derive(Object, Debug)]
pub struct SessionDto {
    /// Id, for ending it.
    pub id: String,
    /// When it started.
    pub created_at: OffsetDateTime,
    /// Last recorded activity (recorded at most once a minute).
    pub last_seen_at: OffsetDateTime,
    /// `web`, `mobile_app`, `operator` or `api`.
    pub channel: String,
    /// The device (browser) it was opened on.
    #[oai(skip_serializing_if_is_none)]
    pub device: Option<String>,
    /// Whether this is the session of the request.
    pub current: bool,
}

/// How many sessions were ended.
#[derive(Object, Debug)]
pub struct EndedDto {
    /// Sessions ended.
    pub ended: u32,
}

/// The signed-in subscriber.
#[derive(Object, Debug)]
pub struct ProfileDto {
    /// The cabinet.
    pub id: String,
    /// Full name.
    pub name: String,
    /// The ЛС the cabinet was registered with.
    #[oai(skip_serializing_if_is_none)]
    pub account_number: Option<String>,
    /// Its supplier.
    #[oai(skip_serializing_if_is_none)]
    pub supplier_id: Option<String>,
    /// The confirmed phone.
    #[oai(skip_serializing_if_is_none)]
    pub phone: Option<String>,
    /// The confirmed email.
    #[oai(skip_serializing_if_is_none)]
    pub email: Option<String>,
    /// An email waiting for confirmation by link.
    #[oai(skip_serializing_if_is_none)]
    pub pending_email: Option<String>,
    /// When the cabinet was created.
    pub created_at: OffsetDateTime,
}

/// The channel's name on the wire.
pub fn channel_name(c: Channel) -> &'static str {
    match c {
        Channel::Web => "web",
        Channel::MobileApp => "mobile_app",
        Channel::Operator => "operator",
        Channel::Api => "api",
    }
}

fn session_dto(s: SessionInfo) -> SessionDto {
    SessionDto {
        id: s.id.to_string(),
        created_at: s.created_at,
        last_seen_at: s.last_seen_at,
        channel: channel_name(s.client.channel).to_owned(),
        device: s.client.device,
        current: s.current,
    }
}

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Session")]
impl SessionApi {
    /// Log in by ЛС number, email or phone (`+7…`) and password.
    ///
    /// Unknown login and wrong password get the same answer; failed attempts are throttled
    /// per cabinet and per client address.
    #[oai(path = "/session", method = "post", operation_id = "login")]
    async fn login(
        &self,
        state: Data<&AppState>,
        req: &Request,
        body: Json<LoginBody>,
    ) -> Result<LoginResponse, ProblemResponse> {
        let client = Client::admitted(&state, req, ClientAction::Login).await?;
        let handle = LoginHandle::parse_any(&body.login)
            .map_err(|_| Problem::new(ProblemType::LoginFailed))?;
        let LoginBody {
            password,
            token: wants_token,
            ..
        } = body.0;
        let session = state
            .identity
            .login(LoginRequest {
                handle,
                password: Secret::new(password),
                client: client.info,
            })
            .await
            .map_err(Problem::from)?;
        let token = session.token.expose().clone();
        let max_age = (session.expires_at - OffsetDateTime::now_utc()).whole_seconds();
        let dto = NewSessionDto {
            subscriber_id: session.subscriber.to_string(),
            session_id: session.session.to_string(),
            expires_at: session.expires_at,
            idle_timeout_seconds: session.idle_timeout.whole_seconds(),
            token: wants_token.then(|| token.clone()),
        };
        let cookie = (!wants_token)
            .then(|| session_cookie(&token, max_age.max(0), state.settings.secure_cookies()));
        Ok(LoginResponse::Created(Json(dto), cookie))
    }

    /// Log out: end this session (and clear the cookie).
    #[oai(path = "/session", method = "delete", operation_id = "logout")]
    async fn logout(
        &self,
        state: Data<&AppState>,
        req: &Request,
        auth: SubscriberAuth,
    ) -> Result<CookieNoContent, ProblemResponse> {
        let client = Client::of(req);
        state
            .identity
            .logout(auth.auth(), &client.info)
            .await
            .map_err(Problem::from)?;
        let cookie = auth
            .cabinet()
            .via_cookie
            .then(|| clear_session_cookie(state.settings.secure_cookies()));
        Ok(CookieNoContent::Done(cookie))
    }

    /// The cabinet's live sessions, the current one marked.
    #[oai(path = "/sessions", method = "get", operation_id = "listSessions")]
    async fn sessions(
        &self,
        state: Data<&AppState>,
        auth: SubscriberAuth,
    ) -> Result<Json<Vec<SessionDto>>, ProblemResponse> {
        let list = state
            .identity
            .list_sessions(auth.auth())
            .await
            .map_err(Problem::from)?;
        Ok(Json(list.into_iter().map(session_dto).collect()))
    }

    /// End one session (for example on a lost phone).
    #[oai(path = "/sessions/:id", method = "delete", operation_id = "endSession")]
    async fn end_session(
        &self,
        state: Data<&AppState>,
        req: &Request,
        auth: SubscriberAuth,
        id: Path<String>,
    ) -> Result<CookieNoContent, ProblemResponse> {
        let id = SessionId::parse(&id.0).map_err(|_| Problem::new(ProblemType::NotFound))?;
        let client = Client::of(req);
        state
            .identity
            .revoke_session(auth.auth(), id, &client.info)
            .await
            .map_err(Problem::from)?;
        let own = auth.auth().session() == id && auth.cabinet().via_cookie;
        Ok(CookieNoContent::Done(own.then(|| {
            clear_session_cookie(state.settings.secure_cookies())
        })))
    }

    /// End every session of the cabinet, this one included.
    #[oai(
        path = "/sessions/logout-everywhere",
        method = "post",
        operation_id = "logoutEverywhere"
    )]
    async fn logout_everywhere(
        &self,
        state: Data<&AppState>,
        req: &Request,
        auth: SubscriberAuth,
    ) -> Result<Json<EndedDto>, ProblemResponse> {
        let client = Client::of(req);
        let ended = state
            .identity
            .logout_everywhere(auth.auth(), &client.info)
            .await
            .map_err(Problem::from)?;
        Ok(Json(EndedDto { ended }))
    }

    /// The signed-in subscriber's profile.
    #[oai(path = "/me", method = "get", operation_id = "getProfile")]
    async fn me(
        &self,
        state: Data<&AppState>,
        auth: SubscriberAuth,
    ) -> Result<Json<ProfileDto>, ProblemResponse> {
        let p = state
            .identity
            .profile(auth.auth())
            .await
            .map_err(Problem::from)?;
        Ok(Json(ProfileDto {
            id: p.id.to_string(),
            name: p.name.as_str().to_owned(),
            account_number: p.account.as_ref().map(|a| a.number.as_str().to_owned()),
            supplier_id: p.account.as_ref().map(|a| a.supplier.as_str().to_owned()),
            phone: p.phone.map(|x| x.as_str().to_owned()),
            email: p.email.map(|x| x.as_str().to_owned()),
            pending_email: p.pending_email.map(|x| x.as_str().to_owned()),
            created_at: p.created_at,
        }))
    }
}
