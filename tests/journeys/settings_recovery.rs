//! Seeds 002–004: change the password, see the security log and consents, block the cabinet
//! ("I was hacked"), recover by the SMS code — which unblocks it — and log in again.

use abonent_tests::{Backend, TestService};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::register_login::{EMAIL, PASSWORD, PHONE, code_in, registered_cabinet};

async fn login(svc: &TestService, login: &str, password: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(svc.url("/api/v1/session"))
        .json(&json!({ "login": login, "password": password, "token": true }))
        .send()
        .await
        .unwrap()
}

async fn token(svc: &TestService, login_: &str, password: &str) -> String {
    let resp = login(svc, login_, password).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let body: Value = resp.json().await.unwrap();
    body["token"].as_str().unwrap().to_owned()
}

pub(crate) async fn change_password_block_and_recover(backend: Backend) {
    let svc = TestService::start(backend).await;
    registered_cabinet(&svc).await;
    let api = reqwest::Client::new();
    let t = token(&svc, PHONE, PASSWORD).await;
    let new_password = "Тёплый-ветер-с-юга-7";

    let resp = api
        .post(svc.url("/api/v1/me/password"))
        .bearer_auth(&t)
        .json(&json!({ "old": "не тот", "new": new_password, "new_repeat": new_password }))
        .send()
        .await
        .unwrap();
    svc.assert_problem(resp, 422, "wrong-password").await;
    let resp = api
        .post(svc.url("/api/v1/me/password"))
        .bearer_auth(&t)
        .json(&json!({ "old": PASSWORD, "new": "123", "new_repeat": "123" }))
        .send()
        .await
        .unwrap();
    svc.assert_problem(resp, 422, "password-rejected").await;
    let resp = api
        .post(svc.url("/api/v1/me/password"))
        .bearer_auth(&t)
        .json(&json!({ "old": PASSWORD, "new": new_password, "new_repeat": new_password }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let old = login(&svc, PHONE, PASSWORD).await;
    svc.assert_problem(old, 401, "login-failed").await;
    let t = token(&svc, PHONE, new_password).await;

    let log: Value = svc.get_json_as("/api/v1/me/security-log", &t).await;
    let kinds: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    for kind in [
        "registered",
        "signed_in",
        "sign_in_failed",
        "password_changed",
    ] {
        assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
    }
    let consents: Value = svc.get_json_as("/api/v1/me/consents", &t).await;
    assert_eq!(consents.as_array().unwrap().len(), 1, "{consents}");

    // "My cabinet was hacked": blocked, every session ends, login refused.
    let resp = api
        .post(svc.url("/api/v1/me/block"))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let resp = api
        .get(svc.url("/api/v1/me"))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    svc.assert_problem(resp, 401, "unauthorized").await;
    let resp = login(&svc, PHONE, new_password).await;
    svc.assert_problem(resp, 403, "cabinet-blocked").await;

    // Recovery by SMS code unblocks the cabinet with a new password.
    svc.advance_clock(61).await;
    let answer = svc.captcha_answer().await;
    let resp = api
        .post(svc.url("/api/v1/recoveries"))
        .json(&json!({ "phone": PHONE, "captcha": answer }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    let started: Value = resp.json().await.unwrap();
    let challenge = started["challenge_id"].as_str().unwrap().to_owned();
    let code = code_in(svc.last_message(PHONE).await["body"].as_str().unwrap());
    let recovered = "Зимний-вечер-у-реки-9";
    let resp = api
        .post(svc.url(&format!("/api/v1/recoveries/{challenge}/complete")))
        .json(&json!({ "code": code, "password": recovered, "password_repeat": recovered }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let t = token(&svc, EMAIL, recovered).await;
    let me: Value = svc.get_json_as("/api/v1/me", &t).await;
    assert_eq!(me["phone"], PHONE);
    svc.stop().await;
}

pub(crate) async fn recovery_answers_alike_for_an_unknown_email(backend: Backend) {
    let svc = TestService::start(backend).await;
    let answer = svc.captcha_answer().await;
    let resp = svc
        .client
        .post(svc.url("/api/v1/recoveries"))
        .json(&json!({ "email": "nobody@example.ru", "captcha": answer }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    assert!(svc.messages("nobody@example.ru").await.is_empty());
    // The captcha was used up: the same answer again fails.
    let resp = svc
        .client
        .post(svc.url("/api/v1/recoveries"))
        .json(&json!({ "email": "nobody@example.ru", "captcha": answer }))
        .send()
        .await
        .unwrap();
    svc.assert_problem(resp, 422, "captcha-failed").await;
    let resp = svc
        .client
        .post(svc.url("/api/v1/recoveries"))
        .json(&json!({ "captcha": "x:1" }))
        .send()
        .await
        .unwrap();
    svc.assert_problem(resp, 400, "invalid-request").await;
    svc.stop().await;
}

pub(crate) async fn emailed_links_open_pages_that_work_without_a_script(backend: Backend) {
    let svc = TestService::start(backend).await;
    crate::register_login::registered_cabinet(&svc).await;
    svc.advance_clock(61).await; // one message a minute to an address
    let answer = svc.captcha_answer().await;
    let resp = svc
        .client
        .post(svc.url("/api/v1/recoveries"))
        .json(&json!({ "email": EMAIL, "captcha": answer }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    let letter = svc.last_message(EMAIL).await;
    let body = letter["body"].as_str().unwrap();
    assert!(
        body.contains(&format!("{}/l/recover?token=", svc.base)),
        "{body}"
    );
    let token = crate::register_login::token_in(body);

    // Opening the link shows the form and changes nothing.
    let page = svc
        .client
        .get(svc.url(&format!("/l/recover?token={token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("name=\"password_repeat\"")
    );

    // A weak password shows the form again; the link stays usable.
    let weak = svc
        .client
        .post(svc.url("/l/recover"))
        .form(&[
            ("token", token.as_str()),
            ("password", "123"),
            ("password_repeat", "123"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(weak.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(weak.text().await.unwrap().contains("name=\"token\""));
    let fresh = "Ночной-поезд-на-север-5";
    let done = svc
        .client
        .post(svc.url("/l/recover"))
        .form(&[
            ("token", token.as_str()),
            ("password", fresh),
            ("password_repeat", fresh),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), StatusCode::OK);
    assert!(done.text().await.unwrap().contains("Пароль изменён"));
    let again = svc
        .client
        .post(svc.url("/l/recover"))
        .form(&[
            ("token", token.as_str()),
            ("password", fresh),
            ("password_repeat", fresh),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        again.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "single use"
    );
    let resp = login(&svc, EMAIL, fresh).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let resp = svc.client.get(svc.url("/l/recover")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    svc.stop().await;
}

pub(crate) async fn the_email_confirmation_page_confirms_only_when_its_button_is_pressed(
    backend: Backend,
) {
    let svc = TestService::start(backend).await;
    crate::register_login::confirmed_phone(&svc).await;
    let token =
        crate::register_login::token_in(svc.last_message(EMAIL).await["body"].as_str().unwrap());
    let page = svc
        .client
        .get(svc.url(&format!("/l/confirm-email?token={token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    // Opening the page did not confirm: the email is not yet a login.
    let resp = login(&svc, EMAIL, PASSWORD).await;
    svc.assert_problem(resp, 401, "login-failed").await;
    let done = svc
        .client
        .post(svc.url("/l/confirm-email"))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), StatusCode::OK);
    assert!(done.text().await.unwrap().contains("Адрес подтверждён"));
    let resp = login(&svc, EMAIL, PASSWORD).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    svc.stop().await;
}
