//! Seed 001: register by phone and email → the SMS code from the sandbox inbox → the cabinet
//! → the emailed link confirms the email → log in by email (browser cookie) and by phone
//! (bearer token) → profile, sessions → wrong password and unknown login answer alike →
//! a cross-site change is refused → log out.

use abonent_tests::{Backend, TestService};
use reqwest::StatusCode;
use serde_json::{Value, json};

pub(crate) const PHONE: &str = "+79161234567";
pub(crate) const EMAIL: &str = "ivanova@example.ru";
pub(crate) const PASSWORD: &str = "Снег-на-крыше-2026";

/// The first run of at least four digits in `text`.
pub(crate) fn code_in(text: &str) -> String {
    let mut run = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            run.push(c);
        } else if run.len() >= 4 {
            return run;
        } else {
            run.clear();
        }
    }
    assert!(run.len() >= 4, "no code in {text:?}");
    run
}

/// The value of the `token` parameter of the first link in `text`.
pub(crate) fn token_in(text: &str) -> String {
    let start = text.find("token=").expect("a link with a token") + "token=".len();
    text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_' || *c == '%')
        .collect()
}

pub(crate) async fn register(svc: &TestService) -> Value {
    let consent: Value = svc.get_json("/api/v1/consent-document").await;
    let resp = svc
        .client
        .post(svc.url("/api/v1/registrations/phone"))
        .json(&json!({
            "name": "Иванова Мария Петровна",
            "phone": PHONE,
            "email": EMAIL,
            "password": PASSWORD,
            "password_repeat": PASSWORD,
            "captcha": svc.captcha_answer().await,
            "consent_version": consent["version"],
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    resp.json().await.unwrap()
}

/// Registers and confirms a cabinet (phone and email confirmed); returns its id.
pub(crate) async fn registered_cabinet(svc: &TestService) -> String {
    let subscriber = confirmed_phone(svc).await;
    let token = token_in(svc.last_message(EMAIL).await["body"].as_str().unwrap());
    let resp = svc
        .client
        .post(svc.url("/api/v1/email-confirmations"))
        .json(&json!({ "token": token }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    subscriber
}

/// Registers and confirms the phone by the SMS code (the email link is left unopened);
/// returns the cabinet's id.
pub(crate) async fn confirmed_phone(svc: &TestService) -> String {
    let started = register(svc).await;
    let challenge = started["challenge_id"].as_str().unwrap().to_owned();
    let code = code_in(svc.last_message(PHONE).await["body"].as_str().unwrap());
    let resp = svc
        .client
        .post(svc.url(&format!("/api/v1/registrations/{challenge}/confirm")))
        .json(&json!({ "code": code }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let created: Value = resp.json().await.unwrap();
    created["subscriber_id"].as_str().unwrap().to_owned()
}

pub(crate) async fn register_by_phone_confirm_and_log_in(backend: Backend) {
    let svc = TestService::start(backend).await;
    let started = register(&svc).await;
    let challenge = started["challenge_id"].as_str().unwrap().to_owned();

    // A wrong code is refused with its own type and leaves the challenge usable.
    let sms = svc.last_message(PHONE).await;
    let code = code_in(sms["body"].as_str().unwrap());
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let resp = svc
        .client
        .post(svc.url(&format!("/api/v1/registrations/{challenge}/confirm")))
        .json(&json!({ "code": wrong }))
        .send()
        .await
        .unwrap();
    svc.assert_problem(resp, 422, "code-invalid").await;

    let resp = svc
        .client
        .post(svc.url(&format!("/api/v1/registrations/{challenge}/confirm")))
        .json(&json!({ "code": code }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let created: Value = resp.json().await.unwrap();
    let subscriber = created["subscriber_id"].as_str().unwrap().to_owned();

    // The same code again: used.
    let resp = svc
        .client
        .post(svc.url(&format!("/api/v1/registrations/{challenge}/confirm")))
        .json(&json!({ "code": code }))
        .send()
        .await
        .unwrap();
    svc.assert_problem(resp, 422, "code-used").await;

    // The email link.
    let letter = svc.last_message(EMAIL).await;
    let token = token_in(letter["body"].as_str().unwrap());
    let resp = svc
        .client
        .post(svc.url("/api/v1/email-confirmations"))
        .json(&json!({ "token": token }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);

    // Browser login by email: an HttpOnly cookie, no token in the body.
    let resp = svc
        .client
        .post(svc.url("/api/v1/session"))
        .json(&json!({ "login": EMAIL, "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let cookie = resp
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap()
        .to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let body: Value = resp.json().await.unwrap();
    assert!(body.get("token").is_none(), "{body}");
    let me: Value = svc.get_json("/api/v1/me").await;
    assert_eq!(me["id"], subscriber.as_str());
    assert_eq!(me["email"], EMAIL);
    assert_eq!(me["phone"], PHONE);
    assert_eq!(me["name"], "Иванова Мария Петровна");

    // API login by phone: a bearer token, no cookie.
    let api = reqwest::Client::new();
    let resp = api
        .post(svc.url("/api/v1/session"))
        .json(&json!({ "login": PHONE, "password": PASSWORD, "token": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert!(resp.headers().get("set-cookie").is_none());
    let body: Value = resp.json().await.unwrap();
    let token = body["token"].as_str().unwrap().to_owned();
    let sessions: Value = api
        .get(svc.url("/api/v1/sessions"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let sessions = sessions.as_array().unwrap();
    assert_eq!(sessions.len(), 2, "{sessions:?}");
    assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);

    // Wrong password and unknown login: the same answer.
    let wrong = api
        .post(svc.url("/api/v1/session"))
        .json(&json!({ "login": EMAIL, "password": "не тот пароль" }))
        .send()
        .await
        .unwrap();
    let wrong = svc.assert_problem(wrong, 401, "login-failed").await;
    let unknown = api
        .post(svc.url("/api/v1/session"))
        .json(&json!({ "login": "nobody@example.ru", "password": "не тот пароль" }))
        .send()
        .await
        .unwrap();
    let unknown = svc.assert_problem(unknown, 401, "login-failed").await;
    assert_eq!(wrong, unknown);

    // A cookie-authenticated change from another site is refused; from the cabinet it works.
    let resp = svc
        .client
        .delete(svc.url("/api/v1/session"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    svc.assert_problem(resp, 403, "csrf-rejected").await;
    let resp = svc
        .client
        .delete(svc.url("/api/v1/session"))
        .header("origin", svc.base.as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let resp = svc.client.get(svc.url("/api/v1/me")).send().await.unwrap();
    svc.assert_problem(resp, 401, "unauthorized").await;

    // The bearer session lives on.
    let resp = api
        .get(svc.url("/api/v1/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    svc.stop().await;
}

pub(crate) async fn registering_a_taken_phone_answers_alike_and_notifies_the_owner(
    backend: Backend,
) {
    let svc = TestService::start(backend).await;
    let first = register(&svc).await;
    let code = code_in(svc.last_message(PHONE).await["body"].as_str().unwrap());
    let challenge = first["challenge_id"].as_str().unwrap();
    let resp = svc
        .client
        .post(svc.url(&format!("/api/v1/registrations/{challenge}/confirm")))
        .json(&json!({ "code": code }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let before = svc.messages(PHONE).await.len();
    // Within a minute another code to the same phone is refused (delivery limit) …
    let resp = svc
        .client
        .post(svc.url("/api/v1/registrations/phone"))
        .json(&json!({
            "name": "Петров Пётр", "phone": PHONE, "email": "petrov@example.ru",
            "password": PASSWORD, "password_repeat": PASSWORD,
            "captcha": svc.captcha_answer().await,
            "consent_version": "2026-11",
        }))
        .send()
        .await
        .unwrap();
    let limited = svc.assert_problem(resp, 429, "rate-limited").await;
    assert!(
        limited["retry_after_seconds"].as_u64().unwrap() >= 1,
        "{limited}"
    );
    // … a minute later the answer is the same as for a new phone, and the owner is told.
    svc.advance_clock(61).await;
    let again = register(&svc).await;
    assert!(again["challenge_id"].as_str().is_some(), "{again}");
    let after = svc.messages(PHONE).await;
    assert_eq!(after.len(), before + 1);
    let notice = after.last().unwrap();
    assert_eq!(notice["kind"], "notice", "{notice}");
    svc.stop().await;
}

pub(crate) async fn bad_registration_input_is_a_400_naming_the_field(backend: Backend) {
    let svc = TestService::start(backend).await;
    let resp = svc
        .client
        .post(svc.url("/api/v1/registrations/phone"))
        .json(&json!({
            "name": "Иванова Мария", "phone": "12", "email": EMAIL, "password": PASSWORD,
            "password_repeat": PASSWORD, "captcha": "x:1", "consent_version": "2026-11",
        }))
        .send()
        .await
        .unwrap();
    let body = svc.assert_problem(resp, 400, "invalid-request").await;
    assert!(body["reason"].as_str().unwrap().contains("phone"), "{body}");
    let resp = svc
        .client
        .post(svc.url("/api/v1/registrations/phone"))
        .json(&json!({ "name": "x", "unexpected": 1 }))
        .send()
        .await
        .unwrap();
    svc.assert_problem(resp, 400, "invalid-request").await;
    let resp = svc
        .client
        .post(svc.url("/api/v1/registrations/phone"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    svc.assert_problem(resp, 400, "invalid-request").await;
    svc.stop().await;
}
