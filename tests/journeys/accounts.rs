//! Seeds 000–003 on the demo supplier: register by ЛС (holder's name; another by a meter's
//! number) → the SMS code → the password → log in by ЛС number → the linked ЛС → link three
//! more by the three proofs (payment-document code, house and flat, another cabinet's
//! password) → switch → an ЛС that is not linked answers 404 whether or not it exists →
//! unlink.

use abonent_tests::{Backend, TestService};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::register_login::{PASSWORD, code_in};

const FIRST_PHONE: &str = "+79160000011";
const SECOND_PHONE: &str = "+79160000022";
const SECOND_PASSWORD: &str = "Второй-кабинет-2026";

/// Starts a registration by ЛС; returns the response.
async fn start(svc: &TestService, body: Value) -> reqwest::Response {
    let consent: Value = svc.get_json("/api/v1/consent-document").await;
    let mut body = body;
    body["captcha"] = json!(svc.captcha_answer().await);
    body["consent_version"] = consent["version"].clone();
    svc.client
        .post(svc.url("/api/v1/registrations/account"))
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// Registers by ЛС (the proof in `body`) with `phone` and `password`; returns the cabinet id.
pub(crate) async fn register_by_account(
    svc: &TestService,
    body: Value,
    phone: &str,
    password: &str,
) -> String {
    let resp = start(svc, body).await;
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    let started: Value = resp.json().await.unwrap();
    let challenge = started["challenge_id"].as_str().unwrap().to_owned();
    let code = code_in(svc.last_message(phone).await["body"].as_str().unwrap());
    let complete = |password: &str, repeat: &str| {
        svc.client
            .post(svc.url(&format!("/api/v1/registrations/{challenge}/complete")))
            .json(&json!({ "code": code, "password": password, "password_repeat": repeat }))
            .send()
    };
    // Two different entries: refused, and the code is not used up.
    let resp = complete(password, "что-то другое").await.unwrap();
    svc.assert_problem(resp, 422, "password-rejected").await;
    let resp = complete(password, password).await.unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let created: Value = resp.json().await.unwrap();
    created["subscriber_id"].as_str().unwrap().to_owned()
}

/// Registers a cabinet by the demo ЛС `number` of `holder` with `phone` and logs the service's
/// client in (cookie session).
pub(crate) async fn cabinet_of(svc: &TestService, number: &str, holder: &str, phone: &str) {
    register_by_account(
        svc,
        json!({ "supplier_id": 1, "account_number": number, "name": holder, "phone": phone }),
        phone,
        crate::register_login::PASSWORD,
    )
    .await;
    let resp = post(
        svc,
        "/api/v1/session",
        json!({ "login": phone, "password": crate::register_login::PASSWORD }),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
}

async fn post(svc: &TestService, path: &str, body: Value) -> reqwest::Response {
    svc.client
        .post(svc.url(path))
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn accounts(svc: &TestService) -> Vec<Value> {
    let list = svc.get_json("/api/v1/accounts").await;
    list.as_array().unwrap().clone()
}

fn active_number(list: &[Value]) -> String {
    let active: Vec<_> = list.iter().filter(|a| a["active"] == true).collect();
    assert_eq!(active.len(), 1, "exactly one active ЛС: {list:?}");
    active[0]["number"].as_str().unwrap().to_owned()
}

pub(crate) async fn register_by_account_link_three_ways_switch_and_unlink(backend: Backend) {
    let svc = TestService::start(backend).await;

    // A wrong holder's name and an unknown ЛС answer alike.
    let wrong_name = start(
        &svc,
        json!({ "supplier_id": 1, "account_number": "7700100002", "name": "Орлов Олег Олегович",
                "phone": FIRST_PHONE }),
    )
    .await;
    svc.assert_problem(wrong_name, 422, "holder-not-confirmed")
        .await;
    let unknown = start(
        &svc,
        json!({ "supplier_id": 1, "account_number": "7799999999", "name": "Орлов Олег Олегович",
                "phone": FIRST_PHONE }),
    )
    .await;
    svc.assert_problem(unknown, 422, "holder-not-confirmed")
        .await;

    // The other cabinet first: ЛС 7700100003 proven by its meter's number.
    register_by_account(
        &svc,
        json!({ "supplier_id": 1, "account_number": "7700100003", "name": "Сидорова Анна",
                "meter_number": "031234567", "phone": SECOND_PHONE }),
        SECOND_PHONE,
        SECOND_PASSWORD,
    )
    .await;

    // Our cabinet: ЛС 7700100001 by the holder's name, then log in by the ЛС number.
    register_by_account(
        &svc,
        json!({ "supplier_id": 1, "account_number": "7700100001",
                "name": "Иванов Иван Иванович", "phone": FIRST_PHONE,
                "email": "ivanov@example.ru" }),
        FIRST_PHONE,
        PASSWORD,
    )
    .await;
    let resp = post(
        &svc,
        "/api/v1/session",
        json!({ "login": "7700100001", "password": PASSWORD }),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::CREATED);

    let list = accounts(&svc).await;
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["account_id"], 1);
    assert_eq!(list[0]["supplier_id"], "1");
    assert_eq!(list[0]["number"], "7700100001");
    assert_eq!(list[0]["address"], "г. Тула, ул. Ленина, д. 10, кв. 1");
    assert_eq!(list[0]["proof"], "holder_name");
    assert_eq!(list[0]["active"], true);

    // 1. The payment-document code, case-sensitive.
    let resp = post(
        &svc,
        "/api/v1/accounts/link/payment-code",
        json!({ "code": "hv4nW8cTz3" }),
    )
    .await;
    svc.assert_problem(resp, 422, "link-proof-rejected").await;
    let resp = post(
        &svc,
        "/api/v1/accounts/link/payment-code",
        json!({ "code": "Hv4nW8cTz3" }),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let linked: Value = resp.json().await.unwrap();
    assert_eq!(linked["account_id"], 2);
    assert_eq!(linked["proof"], "payment_document_code");
    assert_eq!(linked["active"], false);
    let again = post(
        &svc,
        "/api/v1/accounts/link/payment-code",
        json!({ "code": "Hv4nW8cTz3" }),
    )
    .await;
    svc.assert_problem(again, 409, "already-linked").await;

    // 2. House (found by the address picker) and ЛС number; a private house has no flat.
    let houses = svc
        .get_json("/api/v1/suppliers/1/houses?q=%D1%8F%D1%81%D0%BD%D0%B0%D1%8F") // «ясная»
        .await;
    let houses = houses.as_array().unwrap();
    assert_eq!(houses.len(), 1, "{houses:?}");
    let house = houses[0]["house_id"].clone();
    let resp = post(
        &svc,
        "/api/v1/accounts/link/address",
        json!({ "supplier_id": 1, "account_number": "7700200001", "house_id": house, "flat": "7" }),
    )
    .await;
    svc.assert_problem(resp, 422, "link-proof-rejected").await;
    let resp = post(
        &svc,
        "/api/v1/accounts/link/address",
        json!({ "supplier_id": 1, "account_number": "7700200001", "house_id": house }),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let linked: Value = resp.json().await.unwrap();
    assert_eq!(linked["account_id"], 5);
    assert_eq!(
        linked["address"],
        "Тульская обл., д. Ясная Поляна, ул. Садовая, д. 7"
    );

    // 3. Another cabinet's ЛС and password.
    let resp = post(
        &svc,
        "/api/v1/accounts/link/cabinet-password",
        json!({ "account_number": "7700100003", "password": "не-тот-пароль-1" }),
    )
    .await;
    svc.assert_problem(resp, 422, "link-proof-rejected").await;
    // That was the third wrong proof: three are free, then the cabinet waits (from 2 s,
    // doubling) — even with the right password.
    let link_by_password = || {
        post(
            &svc,
            "/api/v1/accounts/link/cabinet-password",
            json!({ "account_number": "7700100003", "password": SECOND_PASSWORD }),
        )
    };
    let resp = link_by_password().await;
    assert!(resp.headers().contains_key("retry-after"));
    svc.assert_problem(resp, 429, "rate-limited").await;
    svc.advance_clock(60).await;
    let resp = link_by_password().await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let linked: Value = resp.json().await.unwrap();
    assert_eq!(linked["account_id"], 3);
    assert_eq!(linked["proof"], "cabinet_password");

    let list = accounts(&svc).await;
    let numbers: Vec<_> = list.iter().map(|a| a["number"].as_str().unwrap()).collect();
    assert_eq!(
        numbers,
        ["7700100001", "7700100002", "7700200001", "7700100003"]
    );
    assert_eq!(active_number(&list), "7700100001");

    // Switch.
    let resp = post(&svc, "/api/v1/accounts/3/activate", json!(null)).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(active_number(&accounts(&svc).await), "7700100003");

    // Not linked: an existing ЛС of someone else and an id no ЛС has answer the same.
    let theirs = post(&svc, "/api/v1/accounts/4/activate", json!(null)).await;
    let theirs = svc.assert_problem(theirs, 404, "not-linked").await;
    let nobody = post(&svc, "/api/v1/accounts/999999/activate", json!(null)).await;
    let nobody = svc.assert_problem(nobody, 404, "not-linked").await;
    assert_eq!(theirs, nobody);

    // Unlink the active ЛС: the oldest remaining one becomes active.
    let resp = svc
        .client
        .delete(svc.url("/api/v1/accounts/3"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let list = accounts(&svc).await;
    assert_eq!(list.len(), 3);
    assert_eq!(active_number(&list), "7700100001");
    let resp = svc
        .client
        .delete(svc.url("/api/v1/accounts/3"))
        .send()
        .await
        .unwrap();
    svc.assert_problem(resp, 404, "not-linked").await;

    // Without a session: 401.
    let anonymous = reqwest::Client::new()
        .get(svc.url("/api/v1/accounts"))
        .send()
        .await
        .unwrap();
    svc.assert_problem(anonymous, 401, "unauthorized").await;
    svc.stop().await;
}

pub(crate) async fn wrong_link_proofs_are_throttled(backend: Backend) {
    let svc = TestService::start(backend).await;
    register_by_account(
        &svc,
        json!({ "supplier_id": 1, "account_number": "7700100001",
                "name": "Иванов Иван Иванович", "phone": FIRST_PHONE }),
        FIRST_PHONE,
        PASSWORD,
    )
    .await;
    let resp = post(
        &svc,
        "/api/v1/session",
        json!({ "login": FIRST_PHONE, "password": PASSWORD }),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    // Wrong codes until the cabinet's linking limit answers 429 with Retry-After.
    let mut limited = None;
    for attempt in 0..50 {
        let resp = post(
            &svc,
            "/api/v1/accounts/link/payment-code",
            json!({ "code": format!("WrongCode{attempt:02}") }),
        )
        .await;
        if resp.status() == StatusCode::TOO_MANY_REQUESTS {
            assert!(resp.headers().contains_key("retry-after"));
            limited = Some(attempt);
            svc.assert_problem(resp, 429, "rate-limited").await;
            break;
        }
        svc.assert_problem(resp, 422, "link-proof-rejected").await;
    }
    let limited = limited.expect("wrong codes are limited");
    assert!(
        limited >= 3,
        "at least a few attempts are allowed ({limited})"
    );
    // Even the right code waits now.
    let resp = post(
        &svc,
        "/api/v1/accounts/link/payment-code",
        json!({ "code": "Hv4nW8cTz3" }),
    )
    .await;
    svc.assert_problem(resp, 429, "rate-limited").await;
    svc.stop().await;
}

/// Logs `phone` in for an API client; its bearer token.
async fn bearer_login(svc: &TestService, phone: &str) -> String {
    let resp = post(
        svc,
        "/api/v1/session",
        json!({ "login": phone, "password": PASSWORD, "token": true }),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    resp.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Damaged rows (SQLite lets a column hold text where a time belongs; PostgreSQL refuses the
/// damage, so this runs on SQLite only). A damaged link row: an account-scoped request of a
/// live session is `service-unavailable` — the gate cannot be read — but a revoked session's
/// is still `unauthorized`, as the session is judged before the link is looked at. A damaged
/// session row, a subscriber's or an operator's: a bearer request is `service-unavailable`, not
/// `unauthorized`.
pub(crate) async fn a_damaged_link_row_does_not_hide_a_revoked_session() {
    let svc = TestService::start(Backend::Sqlite).await;
    const PHONE: &str = "+79160000033";
    cabinet_of(&svc, "7700100001", "Иванов Иван Иванович", PHONE).await;
    let token = bearer_login(&svc, PHONE).await;
    let list = svc.get_json_as("/api/v1/accounts", &token).await;
    let id = list[0]["account_id"].as_u64().unwrap();
    let meters = |token: String| {
        let path = format!("/api/v1/accounts/{id}/meters");
        let client = reqwest::Client::new();
        let url = svc.url(&path);
        async move { client.get(url).bearer_auth(token).send().await.unwrap() }
    };
    assert_eq!(meters(token.clone()).await.status(), StatusCode::OK);
    svc.execute_behind_the_service("UPDATE linked_accounts SET linked_at = 'x'")
        .await;
    svc.assert_problem(meters(token.clone()).await, 503, "service-unavailable")
        .await;
    let logout = reqwest::Client::new()
        .delete(svc.url("/api/v1/session"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    svc.assert_problem(meters(token).await, 401, "unauthorized")
        .await;

    // A session row the service cannot read: a bearer client is told the service is
    // unavailable, not that its token is invalid (it would throw the token away) — though the
    // cookie, tried after the bearer token, is absent.
    let token = bearer_login(&svc, PHONE).await;
    svc.execute_behind_the_service("UPDATE sessions SET created_at = 'x'")
        .await;
    svc.assert_problem(meters(token.clone()).await, 503, "service-unavailable")
        .await;
    let sessions = reqwest::Client::new()
        .get(svc.url("/api/v1/sessions"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    svc.assert_problem(sessions, 503, "service-unavailable")
        .await;
    let anonymous = reqwest::Client::new()
        .get(svc.url("/api/v1/sessions"))
        .send()
        .await
        .unwrap();
    svc.assert_problem(anonymous, 401, "unauthorized").await;

    // The same for an operator's bearer token (tried before the API key).
    let resp = crate::operator::operator_login(
        &svc,
        crate::operator::ADMIN,
        crate::operator::ADMIN_PASSWORD,
    )
    .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let operator = resp.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let me = || {
        reqwest::Client::new()
            .get(svc.url("/api/v1/operator/me"))
            .bearer_auth(&operator)
            .send()
    };
    assert_eq!(me().await.unwrap().status(), StatusCode::OK);
    svc.execute_behind_the_service("UPDATE operator_sessions SET created_at = 'x'")
        .await;
    svc.assert_problem(me().await.unwrap(), 503, "service-unavailable")
        .await;
    svc.stop().await;
}
