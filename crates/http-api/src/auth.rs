//! Who is calling: the subscriber's session from a cookie (browsers) or a bearer token (API
//! clients), and where the request came from.
//!
//! - The cookie `abonent_session` is `HttpOnly`, `SameSite=Lax`, `Path=/`, and `Secure` when the
//!   public address is `https`. A request authenticated by the cookie that changes something
//!   (any method but GET, HEAD, OPTIONS) must come from the cabinet's own origin: an `Origin`
//!   of another site, or `Sec-Fetch-Site: cross-site`, is refused with `csrf-rejected`.
//! - A bearer token is returned only when the login asks for it, so browsers never hold one.
//!
//! **Invariant:** the token never appears in a log line; nothing reads it but the core's
//! `SecretDigest::of_token`, which hashes it (in `IdentityService::authenticate`, or here for
//! an account-scoped request, whose session is read with its link and judged by
//! `IdentityService::admit`).

use std::net::IpAddr;

use identity_core::crypto::SecretDigest;
use identity_core::domain::{Channel, ClientInfo};
use identity_core::model::OperatorRole;
use identity_core::secret::Secret;
use identity_core::service::OperatorPrincipal;
use identity_core::{Authenticated, UserMessage};
use poem::Request;
use poem::http::{Method, header};
use poem_openapi::SecurityScheme;
use poem_openapi::auth::{ApiKey, Bearer};

use crate::AppState;
use crate::problem::{Problem, ProblemType};

/// The name of the session cookie.
pub const SESSION_COOKIE: &str = "abonent_session";

/// An authenticated subscriber and how the request was authenticated.
#[derive(Debug, Clone)]
pub struct Cabinet {
    /// The proof the core issued.
    pub auth: Authenticated,
    /// Authenticated by the cookie (a browser) rather than a bearer token.
    pub via_cookie: bool,
    /// For an account-scoped operation (a path with `{account_id}`), the gate's answer read
    /// with the session ([`crate::state::LinkedAccounts::session_with_link`]):
    /// [`crate::api::accounts::linked_account`] then need not read it again.
    pub gate: Option<Gate>,
}

/// The gate's answer for one ЛС, read together with the session.
#[derive(Debug, Clone)]
pub struct Gate {
    /// The ЛС asked about (the path's `{account_id}`).
    pub account: u64,
    /// The link and the ЛС, if it is linked to the cabinet; why they could not be read
    /// (answered as `service-unavailable` when the operation asks the gate, after the session
    /// was admitted).
    pub link: Result<
        Option<(
            identity_core::model::LinkedAccount,
            billing_core::model::Account,
        )>,
        String,
    >,
}

/// A bearer token from `POST /api/v1/session` with `"token": true`.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", bearer_format = "opaque", checker = "check_bearer")]
pub struct BearerSession(pub Cabinet);

/// The session cookie a browser login sets.
#[derive(SecurityScheme)]
#[oai(
    ty = "api_key",
    key_name = "abonent_session",
    key_in = "cookie",
    checker = "check_cookie"
)]
pub struct CookieSession(pub Cabinet);

/// A signed-in subscriber: by bearer token or by cookie.
#[derive(SecurityScheme)]
pub enum SubscriberAuth {
    /// `Authorization: Bearer <token>`.
    Bearer(BearerSession),
    /// The `abonent_session` cookie.
    Cookie(CookieSession),
}

impl SubscriberAuth {
    /// The authenticated cabinet.
    pub fn cabinet(&self) -> &Cabinet {
        match self {
            SubscriberAuth::Bearer(BearerSession(c)) | SubscriberAuth::Cookie(CookieSession(c)) => {
                c
            }
        }
    }

    /// The core's proof.
    pub fn auth(&self) -> &Authenticated {
        &self.cabinet().auth
    }
}

fn app_state(req: &Request) -> Result<&AppState, Problem> {
    req.data::<AppState>()
        .ok_or_else(|| Problem::unavailable("authentication", &"the application state is missing"))
}

/// The prefix of every account-scoped operation's path: `/api/v1/accounts/{account_id}/…`.
const ACCOUNT_PATHS: &str = "/api/v1/accounts/";

/// The ЛС an account-scoped operation names: the `{account_id}` segment of its path, if it is
/// one an ЛС can have (ids are stored as `i64`; anything else is answered by the operation
/// itself). Read from the path, not the router's parameters: poem-openapi names those by
/// position (`param0`), not by the operation's argument.
fn path_account(req: &Request) -> Option<u64> {
    req.uri()
        .path()
        .strip_prefix(ACCOUNT_PATHS)?
        .split('/')
        .next()?
        .parse::<u64>()
        .ok()
        .filter(|id| i64::try_from(*id).is_ok())
}

/// Where a bearer check that failed for another reason than the credential leaves its answer.
///
/// [`SubscriberAuth`] tries the bearer token, then the cookie ([`OperatorAuth`]: the bearer
/// token, then the API key), and poem-openapi answers with the **last** member's error: a
/// bearer request the database could not check (503) would be answered as the cookie's absence
/// (401) — and a client told 401 throws its token away. [`keep_bearer_failures`] puts an empty
/// slot into every request, the bearer checks record their non-401 answer in it
/// ([`keep_failure`]), and a 401 that comes back is replaced by what was recorded.
#[derive(Clone, Default)]
struct BearerFailure(std::sync::Arc<std::sync::Mutex<Option<Problem>>>);

/// Middleware for the routes that take [`SubscriberAuth`]: see [`BearerFailure`].
pub(crate) async fn keep_bearer_failures<E: poem::Endpoint>(
    ep: E,
    mut req: Request,
) -> poem::Result<poem::Response> {
    let slot = BearerFailure::default();
    req.extensions_mut().insert(slot.clone());
    let answer = ep.call(req).await.map(poem::IntoResponse::into_response);
    match answer {
        Err(e) if e.status() == poem::http::StatusCode::UNAUTHORIZED => {
            let kept = slot.0.lock().map(|mut kept| kept.take()).unwrap_or(None);
            Err(kept.map_or(e, poem::Error::from))
        }
        other => other,
    }
}

/// Records `problem` for [`keep_bearer_failures`] unless it is about the credential (401).
fn keep_failure(req: &Request, problem: &Problem) {
    if problem.kind.status() != poem::http::StatusCode::UNAUTHORIZED {
        put_failure(req, Some(problem.clone()));
    }
}

/// Forgets a recorded bearer failure: the cookie or API key tried after it authenticated the
/// request, so a 401 the handler answers is its own.
fn forget_failure(req: &Request) {
    put_failure(req, None);
}

fn put_failure(req: &Request, problem: Option<Problem>) {
    if let Some(slot) = req.extensions().get::<BearerFailure>()
        && let Ok(mut kept) = slot.0.lock()
    {
        *kept = problem;
    }
}

async fn check(req: &Request, token: String, via_cookie: bool) -> poem::Result<Cabinet> {
    let answer = check_session(req, token).await;
    match (&answer, via_cookie) {
        (Err(problem), false) => keep_failure(req, problem),
        (Ok(_), true) => forget_failure(req),
        _ => {}
    }
    let cabinet = answer?;
    Ok(Cabinet {
        via_cookie,
        ..cabinet
    })
}

/// The session behind `token`, judged (the gate's link read with it on account-scoped paths).
async fn check_session(req: &Request, token: String) -> Result<Cabinet, Problem> {
    let state = app_state(req)?;
    let token = Secret::new(token);
    let (admitted, gate) = match path_account(req) {
        None => (state.identity.authenticate(&token).await, None),
        Some(account) => {
            // An account-scoped operation asks the gate next: one read for the session and
            // the link, judged by the core as `authenticate` would judge it.
            let digest = SecretDigest::of_token(token.expose());
            let (found, link) = state
                .links
                .session_with_link(&digest, billing_core::ids::AccountId::new(account))
                .await
                .map_err(|e| Problem::unavailable("find a session with its link", &e.0))?;
            let admitted = state.identity.admit(&digest, found).await;
            let link = link.map_err(|e| e.0);
            (admitted, Some(Gate { account, link }))
        }
    };
    let auth = admitted.map_err(Problem::from)?;
    Ok(Cabinet {
        auth,
        via_cookie: false,
        gate,
    })
}

async fn check_bearer(req: &Request, bearer: Bearer) -> poem::Result<Cabinet> {
    check(req, bearer.token, false).await
}

async fn check_cookie(req: &Request, key: ApiKey) -> poem::Result<Cabinet> {
    let state = app_state(req)?;
    if !same_origin(req, &state.settings.public_url) {
        return Err(Problem::new(ProblemType::CsrfRejected).into());
    }
    check(req, key.key, true).await
}

/// An operator's session token (`POST /api/v1/operator/session`).
#[derive(SecurityScheme)]
#[oai(
    ty = "bearer",
    bearer_format = "opaque",
    checker = "check_operator_bearer"
)]
pub struct OperatorBearer(pub OperatorPrincipal);

/// An operator's API key (`ak_…`), for integrations.
#[derive(SecurityScheme)]
#[oai(
    ty = "api_key",
    key_name = "X-Api-Key",
    key_in = "header",
    checker = "check_operator_key"
)]
pub struct OperatorApiKey(pub OperatorPrincipal);

/// A signed-in operator: by session token or by API key.
#[derive(SecurityScheme)]
pub enum OperatorAuth {
    /// `Authorization: Bearer <operator session token>`.
    Bearer(OperatorBearer),
    /// `X-Api-Key: ak_…`.
    ApiKey(OperatorApiKey),
}

impl OperatorAuth {
    /// Who is acting, with which role.
    pub fn principal(&self) -> &OperatorPrincipal {
        match self {
            OperatorAuth::Bearer(OperatorBearer(p)) | OperatorAuth::ApiKey(OperatorApiKey(p)) => p,
        }
    }

    /// The principal if its role allows `needed` (Admin allows everything); `forbidden`
    /// otherwise.
    pub fn require(&self, needed: OperatorRole) -> Result<&OperatorPrincipal, Problem> {
        let p = self.principal();
        p.require(needed)
            .map_err(|e| Problem::with_detail(ProblemType::Forbidden, e.user_message()))?;
        Ok(p)
    }
}

async fn check_operator(req: &Request, credential: String) -> Result<OperatorPrincipal, Problem> {
    let state = app_state(req)?;
    state
        .operators
        .authenticate_operator(&Secret::new(credential))
        .await
        .map_err(Problem::from)
}

async fn check_operator_bearer(req: &Request, bearer: Bearer) -> poem::Result<OperatorPrincipal> {
    let answer = check_operator(req, bearer.token).await;
    if let Err(problem) = &answer {
        keep_failure(req, problem);
    }
    Ok(answer?)
}

async fn check_operator_key(req: &Request, key: ApiKey) -> poem::Result<OperatorPrincipal> {
    let principal = check_operator(req, key.key).await?;
    forget_failure(req);
    Ok(principal)
}

/// Whether a cookie-authenticated request may act: safe methods always; others only from
/// the cabinet's own origin (or from a client that sends no browser origin headers at all).
pub fn same_origin(req: &Request, public_url: &str) -> bool {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return true;
    }
    if let Some(origin) = req.headers().get(header::ORIGIN) {
        let Ok(origin) = origin.to_str() else {
            return false;
        };
        return origin_of(public_url) == origin.trim_end_matches('/');
    }
    match req
        .headers()
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
    {
        Some(site) => matches!(site, "same-origin" | "none"),
        None => true,
    }
}

/// `scheme://host[:port]` of a URL.
fn origin_of(url: &str) -> &str {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let end = rest.find('/').map_or(url.len(), |i| scheme.len() + 3 + i);
            &url[..end]
        }
        None => url,
    }
}

/// The `Set-Cookie` value that opens a browser session.
pub fn session_cookie(token: &str, max_age_seconds: i64, secure: bool) -> String {
    format!(
        "{SESSION_COOKIE}={token}; Path=/; Max-Age={max_age_seconds}; HttpOnly; SameSite=Lax{}",
        if secure { "; Secure" } else { "" }
    )
}

/// The `Set-Cookie` value that ends a browser session.
pub fn clear_session_cookie(secure: bool) -> String {
    session_cookie("", 0, secure)
}

/// Where a request came from: the channel and device for the security log, and the client
/// address for per-address limits.
#[derive(Debug, Clone)]
pub struct Client {
    /// Channel and device.
    pub info: ClientInfo,
    /// The peer's address (`unknown` when not an IP connection).
    pub address: String,
}

/// The longest user-agent kept.
const DEVICE_MAX: usize = 200;

impl Client {
    /// Reads the request and admits it under the per-address limit of `action`
    /// (`rate-limited` when the address is over it).
    pub async fn admitted(
        state: &AppState,
        req: &Request,
        action: identity_core::model::ClientAction,
    ) -> Result<Self, Problem> {
        let client = Self::of(req);
        state
            .identity
            .admit_client(&client.address, action)
            .await
            .map_err(Problem::from)?;
        Ok(client)
    }

    /// Reads the request: `Web` when it carries the session cookie or looks like a browser
    /// (`Sec-Fetch-Mode`), `Api` otherwise.
    pub fn of(req: &Request) -> Self {
        let has_cookie = req
            .headers()
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .any(|c| c.trim_start().starts_with("abonent_session="));
        let browser = has_cookie || req.headers().contains_key("sec-fetch-mode");
        let device = req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| {
                ua.chars()
                    .filter(|c| !c.is_control())
                    .take(DEVICE_MAX)
                    .collect()
            });
        // Behind a trusted proxy the proxy layer has found the client; otherwise the peer.
        let address = req
            .extensions()
            .get::<crate::proxy::ClientAddress>()
            .map(|c| c.0)
            .or_else(|| req.remote_addr().as_socket_addr().map(|a| a.ip()))
            .map_or_else(|| "unknown".to_owned(), |ip: IpAddr| ip.to_string());
        Client {
            info: ClientInfo {
                channel: if browser { Channel::Web } else { Channel::Api },
                device,
            },
            address,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_of_a_url() {
        assert_eq!(
            origin_of("https://lk.example.ru/cabinet"),
            "https://lk.example.ru"
        );
        assert_eq!(origin_of("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
    }

    #[test]
    fn cross_site_changes_are_refused() {
        let base = "https://lk.example.ru";
        let post = |headers: &[(&str, &str)]| {
            let mut b = Request::builder().method(Method::POST).uri_str("/x");
            for (k, v) in headers {
                b = b.header(*k, *v);
            }
            same_origin(&b.finish(), base)
        };
        assert!(post(&[("origin", "https://lk.example.ru")]));
        assert!(!post(&[("origin", "https://evil.example")]));
        assert!(!post(&[("sec-fetch-site", "cross-site")]));
        assert!(post(&[("sec-fetch-site", "same-origin")]));
        assert!(post(&[]), "curl and other non-browser clients");
        let get = Request::builder()
            .method(Method::GET)
            .header("origin", "https://evil.example")
            .finish();
        assert!(same_origin(&get, base), "reads are not changes");
    }

    #[test]
    fn cookie_attributes() {
        let c = session_cookie("abc", 60, true);
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Lax") && c.ends_with("Secure"));
        assert!(!session_cookie("abc", 60, false).contains("Secure"));
        assert!(clear_session_cookie(false).contains("Max-Age=0"));
    }
}

#[cfg(test)]
mod path_account_tests {
    use super::path_account;

    #[test]
    fn the_account_comes_from_account_scoped_paths_only() {
        for (uri, expected) in [
            ("/api/v1/accounts/42/readings", Some(42)),
            ("/api/v1/accounts/42/readings/7?x=1", Some(42)),
            ("/api/v1/accounts/42", Some(42)),
            ("/api/v1/accounts", None),
            ("/api/v1/accounts/", None),
            ("/api/v1/accounts/link-by-code", None),
            (
                "/api/v1/accounts/9223372036854775807/meters",
                Some(i64::MAX as u64),
            ),
            ("/api/v1/accounts/9223372036854775808/meters", None),
            ("/api/v1/accounts/-1/meters", None),
            ("/api/v1/me/accounts/42", None),
        ] {
            let req = poem::Request::builder().uri_str(uri).finish();
            assert_eq!(path_account(&req), expected, "{uri}");
        }
    }
}
