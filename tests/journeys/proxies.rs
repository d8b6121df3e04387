//! Client addresses behind a reverse proxy: the per-address limits (here: 20 registrations an
//! hour) count each subscriber behind a **trusted** proxy by the address the proxy forwards,
//! and ignore a forwarding header from anyone else.

use abonent_tests::{Backend, TestService};
use http_api::proxy::TrustedProxies;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Starts a registration by phone from `forwarded_for` (sent as `X-Forwarded-For`) with a
/// wrong captcha: refused, but counted under the client address's registration limit.
async fn register_from(svc: &TestService, forwarded_for: &str, i: u32) -> reqwest::Response {
    let consent: Value = svc.get_json("/api/v1/consent-document").await;
    reqwest::Client::new()
        .post(svc.url("/api/v1/registrations/phone"))
        .header("x-forwarded-for", forwarded_for)
        .json(&json!({
            "name": "Орлов Олег Олегович", "phone": format!("+7916{:07}", 5_000_000 + i),
            "email": format!("orlov{i}@example.ru"), "password": "Снег-на-крыше-2026",
            "password_repeat": "Снег-на-крыше-2026", "captcha": "00000000:0",
            "consent_version": consent["version"] }))
        .send()
        .await
        .unwrap()
}

/// Sends the 20 registrations an address may start in an hour, none of them limited.
async fn use_up_the_limit(svc: &TestService, forwarded_for: &str) {
    for i in 0..20 {
        let resp = register_from(svc, forwarded_for, i).await;
        assert_ne!(
            resp.status(),
            StatusCode::TOO_MANY_REQUESTS,
            "request {i} from {forwarded_for}"
        );
    }
}

pub(crate) async fn behind_a_trusted_proxy_each_client_has_its_own_limits(backend: Backend) {
    let svc = TestService::start_with(backend, |config| {
        config.trusted_proxies = TrustedProxies::parse("127.0.0.1").unwrap();
    })
    .await;
    use_up_the_limit(&svc, "203.0.113.1").await;
    let resp = register_from(&svc, "203.0.113.1", 20).await;
    svc.assert_problem(resp, 429, "rate-limited").await;
    // Another subscriber behind the same proxy is not limited…
    let resp = register_from(&svc, "203.0.113.2", 21).await;
    assert_ne!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    // …and the limited one cannot escape by prepending an address: only the right-most entry
    // (the one the proxy appended) is believed.
    let resp = register_from(&svc, "198.51.100.7, 203.0.113.1", 22).await;
    svc.assert_problem(resp, 429, "rate-limited").await;
    svc.stop().await;
}

pub(crate) async fn a_forwarding_header_from_an_untrusted_peer_is_ignored(backend: Backend) {
    // No proxy is trusted (the default): every request here comes from 127.0.0.1, whatever
    // address it claims.
    let svc = TestService::start(backend).await;
    use_up_the_limit(&svc, "203.0.113.1").await;
    let resp = register_from(&svc, "203.0.113.99", 20).await;
    svc.assert_problem(resp, 429, "rate-limited").await;
    svc.stop().await;
}
