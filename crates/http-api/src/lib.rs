//! # http-api
//!
//! The Abonent HTTP API: [poem] endpoints described by [poem_openapi], over the two cores.
//! This crate holds no concrete adapter: the `server` crate builds an [`AppState`] from
//! `storage-seaorm`, the sandbox providers and the cores, and serves [`routes`].
//!
//! - [`api_service`] is the OpenAPI service (every documented operation, under `/api/v1`
//!   except the probes); [`openapi_json`] renders its document, committed at
//!   `docs/openapi.json` (a test fails when the file is stale).
//! - [`problem`]: every error is `application/problem+json` (RFC 9457) with a stable `type`.
//! - [`pages`]: the pages emailed links open (`/l/confirm-email`, `/l/recover`).
//! - [`webhook`]: the payment gateway's signed notifications (`POST /webhooks/payments`).
//! - [`limits`]: the request body limit, answered with 413 whether or not the request says
//!   its length.
//!
//! **Invariant:** no handler answers with an internal error text: storage and provider
//! failures are logged with the request id and answered with the `service-unavailable` problem.
#![deny(missing_docs)]

pub mod api;
pub mod auth;
pub mod idempotency;
pub mod limits;
mod map;
mod map_billing;
pub mod pages;
pub mod problem;
pub mod proxy;
mod state;
pub mod webhook;

pub use state::{
    AppState, CaptchaIssuer, ConsentText, DEFAULT_CONSENT_TEXT, DEFAULT_CONSENT_VERSION,
    FoundHouse, HouseSearch, HttpSettings, LinkedAccounts, Readiness, ReadinessError,
    SessionAndLink,
};

use poem::{Endpoint, EndpointExt, Route};
use poem_openapi::OpenApiService;

/// The title of the OpenAPI document.
pub const API_TITLE: &str = "Abonent API";

/// Every API struct of the service, as one OpenAPI service.
pub type Apis = (
    api::meta::MetaApi,
    api::public::PublicApi,
    api::registration::RegistrationApi,
    api::session::SessionApi,
    api::settings::SettingsApi,
    api::accounts::AccountsApi,
    api::cabinet::CabinetApi,
    api::operator::OperatorApi,
    api::readings::ReadingsApi,
    api::questions::QuestionsApi,
    api::payments::PaymentsApi,
    api::backoffice::BackofficeApi,
    api::imports::ImportsApi,
);

/// The OpenAPI service of every documented operation. The document names no server: the same
/// document describes every deployment (the committed `docs/openapi.json` is one file).
pub fn api_service() -> OpenApiService<Apis, ()> {
    OpenApiService::new(
        (
            api::meta::MetaApi,
            api::public::PublicApi,
            api::registration::RegistrationApi,
            api::session::SessionApi,
            api::settings::SettingsApi,
            api::accounts::AccountsApi,
            api::cabinet::CabinetApi,
            api::operator::OperatorApi,
            api::readings::ReadingsApi,
            api::questions::QuestionsApi,
            api::payments::PaymentsApi,
            api::backoffice::BackofficeApi,
            api::imports::ImportsApi,
        ),
        API_TITLE,
        env!("CARGO_PKG_VERSION"),
    )
    .description(
        "The personal cabinet of a utility supplier's subscribers and the supplier's operator \
         API. Errors are application/problem+json (RFC 9457) with a stable `type`; money is a \
         decimal string with two decimals; periods are `YYYY-MM`.",
    )
}

/// The OpenAPI document as pretty-printed JSON (what `/openapi.json` serves).
pub fn openapi_json() -> String {
    api_service().spec()
}

/// The whole HTTP application: the API, `/openapi.json`, the interactive docs at `/docs`,
/// the body limit and the problem+json error mapping, with `state` in every request.
/// `sandbox`, when the sandbox providers are selected, is served under `/sandbox` (outside
/// the OpenAPI document, so the document is the same for every deployment).
pub fn routes(state: AppState, sandbox: Option<Route>) -> impl Endpoint {
    let service = api_service();
    let spec = service.spec_endpoint();
    let docs = service.swagger_ui();
    let limit = state.settings.body_limit;
    let mut app = Route::new()
        .nest("/", service)
        .at("/openapi.json", spec)
        .nest("/docs", docs)
        .nest("/l", pages::routes())
        .at("/webhooks/payments", poem::post(webhook::payment_webhook));
    if let Some(sandbox) = sandbox {
        app = app.nest("/sandbox", sandbox);
    }
    let proxies = std::sync::Arc::new(state.settings.trusted_proxies.clone());
    // The body limit; the import route alone takes files up to `imports::BODY_LIMIT`.
    api::imports::with_body_limits(app, limit)
        // A bearer token the service could not check is not answered as a missing cookie.
        .around(auth::keep_bearer_failures)
        // The client's address behind the operator's reverse proxies (see `proxy`).
        .around(move |ep, req| {
            let proxies = std::sync::Arc::clone(&proxies);
            async move {
                if proxies.is_empty() {
                    ep.call(req).await
                } else {
                    proxy::record_client_address(ep, req, &proxies).await
                }
            }
        })
        // A panic is a bug: answered 500 `internal` (logged), the connection kept.
        .with(poem::middleware::CatchPanic::new())
        .catch_all_error(problem::from_poem_error)
        .data(state)
}
