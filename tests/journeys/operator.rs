//! The operator API on the demo operator: log in (a wrong password and an unknown login
//! answer alike) → create a Support API key → find a cabinet with the key → block it (the
//! subscriber cannot log in) → unblock → a Support key cannot mint keys → revoke the key →
//! log out.

use abonent_tests::{Backend, TestService};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::register_login::{PASSWORD, PHONE, registered_cabinet};

pub(crate) const ADMIN: &str = "admin";
pub(crate) const ADMIN_PASSWORD: &str = "Демо-оператор-2026";

pub(crate) async fn operator_login(
    svc: &TestService,
    login: &str,
    password: &str,
) -> reqwest::Response {
    reqwest::Client::new()
        .post(svc.url("/api/v1/operator/session"))
        .json(&json!({ "login": login, "password": password }))
        .send()
        .await
        .unwrap()
}

async fn subscriber_login(svc: &TestService) -> reqwest::Response {
    reqwest::Client::new()
        .post(svc.url("/api/v1/session"))
        .json(&json!({ "login": PHONE, "password": PASSWORD }))
        .send()
        .await
        .unwrap()
}

pub(crate) async fn operator_logs_in_mints_a_key_and_blocks_and_unblocks_a_cabinet(
    backend: Backend,
) {
    let svc = TestService::start(backend).await;
    let subscriber = registered_cabinet(&svc).await;
    let http = reqwest::Client::new();

    let wrong = operator_login(&svc, ADMIN, "не-тот-пароль-1").await;
    let wrong = svc.assert_problem(wrong, 401, "login-failed").await;
    let unknown = operator_login(&svc, "nobody", "не-тот-пароль-1").await;
    let unknown = svc.assert_problem(unknown, 401, "login-failed").await;
    assert_eq!(wrong, unknown);

    let resp = operator_login(&svc, ADMIN, ADMIN_PASSWORD).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let session: Value = resp.json().await.unwrap();
    let token = session["token"].as_str().unwrap().to_owned();
    assert_eq!(session["role"], "admin");
    let me: Value = http
        .get(svc.url("/api/v1/operator/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["via"], "session");

    // A Support key, shown once.
    let resp = http
        .post(svc.url("/api/v1/operator/api-keys"))
        .bearer_auth(&token)
        .json(&json!({ "name": "контакт-центр", "role": "support" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let created: Value = resp.json().await.unwrap();
    let key = created["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("ak_"), "{key}");
    let listed: Value = http
        .get(svc.url("/api/v1/operator/api-keys"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert!(
        !listed.to_string().contains(&key),
        "the key is never listed"
    );

    // With the key: find the cabinet by its phone.
    let found = http
        .get(svc.url("/api/v1/operator/cabinets"))
        .query(&[("login", PHONE)])
        .header("x-api-key", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(found.status(), StatusCode::OK);
    let found: Value = found.json().await.unwrap();
    assert_eq!(found["subscriber_id"], subscriber.as_str());
    assert_eq!(found["blocked"], false);
    assert!(
        !found["phone"].as_str().unwrap().contains("1234567"),
        "{found}"
    );

    // A Support key cannot mint keys.
    let resp = http
        .post(svc.url("/api/v1/operator/api-keys"))
        .header("x-api-key", &key)
        .json(&json!({ "name": "ещё один", "role": "support" }))
        .send()
        .await
        .unwrap();
    svc.assert_problem(resp, 403, "forbidden").await;

    // Block: the subscriber cannot log in; unblock: they can.
    let op = |path: String| http.post(svc.url(&path)).header("x-api-key", &key).send();
    let resp = op(format!("/api/v1/operator/cabinets/{subscriber}/block"))
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    svc.assert_problem(subscriber_login(&svc).await, 403, "cabinet-blocked")
        .await;
    let resp = op(format!("/api/v1/operator/cabinets/{subscriber}/unblock"))
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let again = op(format!("/api/v1/operator/cabinets/{subscriber}/unblock"))
        .await
        .unwrap();
    svc.assert_problem(again, 409, "cabinet-not-blocked").await;
    assert_eq!(subscriber_login(&svc).await.status(), StatusCode::CREATED);
    let nobody = op("/api/v1/operator/cabinets/00000000000000000000000000000000/block".into())
        .await
        .unwrap();
    svc.assert_problem(nobody, 404, "not-found").await;

    // Revoke the key: it stops working.
    let id = created["id"].as_str().unwrap();
    let resp = http
        .delete(svc.url(&format!("/api/v1/operator/api-keys/{id}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let revoked = http
        .get(svc.url("/api/v1/operator/me"))
        .header("x-api-key", &key)
        .send()
        .await
        .unwrap();
    svc.assert_problem(revoked, 401, "unauthorized").await;

    // A subscriber's session is no operator credential; nor is nothing.
    let anonymous = http
        .get(svc.url("/api/v1/operator/me"))
        .send()
        .await
        .unwrap();
    svc.assert_problem(anonymous, 401, "unauthorized").await;

    // Log out: the token stops working.
    let resp = http
        .delete(svc.url("/api/v1/operator/session"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let ended = http
        .get(svc.url("/api/v1/operator/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    svc.assert_problem(ended, 401, "unauthorized").await;
    svc.stop().await;
}
