//! Seeds 002–004, readings: on the demo ЛС whose meter last read 99993 — submit 00007 in the
//! window (a rollover: 14 kWh) → the same again is 409 → a value that is not a number is 400
//! → a value below the last that is no plausible rollover is 422 with its reason → correct it → replay the correction with the
//! same `Idempotency-Key` (the first answer again) → the key with another body is 422 →
//! a crash leaves the correction's key claimed: in progress, then (stale) run again and refused,
//! never applied twice →
//! cancel → submit after the window: accepted for the next period (`late`).

use abonent_tests::{Backend, TestService};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::accounts::register_by_account;
use crate::register_login::PASSWORD;

const PHONE: &str = "+79160000044";

async fn send(
    svc: &TestService,
    method: reqwest::Method,
    path: &str,
    key: Option<&str>,
    body: Value,
) -> reqwest::Response {
    let mut req = svc.client.request(method, svc.url(path)).json(&body);
    if let Some(key) = key {
        req = req.header("Idempotency-Key", key);
    }
    req.send().await.unwrap()
}

pub(crate) async fn submit_correct_replay_cancel_and_late(backend: Backend) {
    let svc = TestService::start(backend).await;
    register_by_account(
        &svc,
        json!({ "supplier_id": 1, "account_number": "7700100004",
                "name": "Кузнецова Мария Ивановна", "phone": PHONE }),
        PHONE,
        PASSWORD,
    )
    .await;
    let resp = send(
        &svc,
        reqwest::Method::POST,
        "/api/v1/session",
        None,
        json!({ "login": PHONE, "password": PASSWORD }),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    svc.set_clock_to_day(20).await;
    let post = reqwest::Method::POST;

    // 99993 → 00007: a rollover of 14 kWh, in the window.
    let resp = send(
        &svc,
        post.clone(),
        "/api/v1/accounts/4/readings",
        Some("first-try"),
        json!({ "meter_id": 4, "values": ["00007"] }),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert!(resp.headers().get("idempotent-replayed").is_none());
    let first: Value = resp.json().await.unwrap();
    assert_eq!(first["values"], json!(["7"]));
    assert_eq!(first["consumption"], json!(["14"]));
    assert_eq!(first["rollover"], json!([true]));
    assert_eq!(first["late"], false);
    assert!(
        first["message"].as_str().unwrap().contains("приняты"),
        "{first}"
    );
    let reading = first["reading_id"].as_u64().unwrap();

    // The same request with the same key: the first answer again, marked.
    let replay = send(
        &svc,
        post.clone(),
        "/api/v1/accounts/4/readings",
        Some("first-try"),
        json!({ "meter_id": 4, "values": ["00007"] }),
    )
    .await;
    assert_eq!(replay.status(), StatusCode::CREATED);
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    let replayed: Value = replay.json().await.unwrap();
    assert_eq!(replayed, first);
    // The key with another body: refused.
    let reused = send(
        &svc,
        post.clone(),
        "/api/v1/accounts/4/readings",
        Some("first-try"),
        json!({ "meter_id": 4, "values": ["00008"] }),
    )
    .await;
    svc.assert_problem(reused, 422, "idempotency-key-reused")
        .await;
    // Without a key, a second reading for the period: correct it instead.
    let twice = send(
        &svc,
        post.clone(),
        "/api/v1/accounts/4/readings",
        None,
        json!({ "meter_id": 4, "values": ["00009"] }),
    )
    .await;
    svc.assert_problem(twice, 409, "reading-already-submitted")
        .await;
    // Not a number; a bad key; another ЛС's meter.
    let nan = send(
        &svc,
        post.clone(),
        "/api/v1/accounts/4/readings",
        None,
        json!({ "meter_id": 4, "values": ["12a"] }),
    )
    .await;
    let nan = svc.assert_problem(nan, 400, "invalid-request").await;
    assert!(
        nan["reason"].as_str().unwrap().contains("values[0]"),
        "{nan}"
    );
    let bad_key = send(
        &svc,
        post.clone(),
        "/api/v1/accounts/4/readings",
        Some("a key with spaces"),
        json!({ "meter_id": 4, "values": ["7"] }),
    )
    .await;
    svc.assert_problem(bad_key, 400, "invalid-request").await;
    let not_ours = send(
        &svc,
        post.clone(),
        "/api/v1/accounts/4/readings",
        None,
        json!({ "meter_id": 1, "values": ["7"] }),
    )
    .await;
    svc.assert_problem(not_ours, 404, "not-found").await;

    // Correct it: 50000 is below 99993 and no plausible rollover — refused with its reason;
    // a sane value is accepted.
    let path = format!("/api/v1/accounts/4/readings/{reading}");
    let jump = send(
        &svc,
        reqwest::Method::PUT,
        &path,
        None,
        json!({ "values": ["50000"] }),
    )
    .await;
    let jump = svc.assert_problem(jump, 422, "reading-rejected").await;
    assert_eq!(jump["reason"], "lower_than_previous", "{jump}");
    let fixed = send(
        &svc,
        reqwest::Method::PUT,
        &path,
        Some("fix-1"),
        json!({ "values": ["00010"] }),
    )
    .await;
    assert_eq!(fixed.status(), StatusCode::OK);
    let fixed: Value = fixed.json().await.unwrap();
    assert_eq!(fixed["consumption"], json!(["17"]));
    let corrected = fixed["reading_id"].as_u64().unwrap();
    assert_ne!(corrected, reading);
    let again = send(
        &svc,
        reqwest::Method::PUT,
        &path,
        Some("fix-1"),
        json!({ "values": ["00010"] }),
    )
    .await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    // The process crashed after the correction but before it kept the response: the key is
    // left claimed. A retry is told it is in progress while the claim's lease runs…
    let crashed = svc
        .execute_behind_the_service(
            "UPDATE idempotency_keys SET status = NULL, body = NULL, completed_at = NULL \
             WHERE \"key\" = 'fix-1'",
        )
        .await;
    assert_eq!(crashed, 1);
    let fix_again = || {
        send(
            &svc,
            reqwest::Method::PUT,
            &path,
            Some("fix-1"),
            json!({ "values": ["00010"] }),
        )
    };
    svc.assert_problem(fix_again().await, 409, "idempotency-key-in-progress")
        .await;
    // …and once it is stale the retry runs the request again — which cannot correct the
    // reading twice: the refusal is the answer (and is kept), not a second correction.
    svc.advance_clock(61).await;
    for _ in 0..2 {
        svc.assert_problem(fix_again().await, 409, "reading-not-changeable")
            .await;
    }
    // The refusal is what the key keeps now (so the second retry was a replay).
    let kept = svc
        .execute_behind_the_service(
            "UPDATE idempotency_keys SET status = status \
             WHERE \"key\" = 'fix-1' AND status = 409 AND body IS NOT NULL",
        )
        .await;
    assert_eq!(kept, 1);
    // The old reading is superseded: correcting it again (without the key) is refused.
    let stale = send(
        &svc,
        reqwest::Method::PUT,
        &path,
        None,
        json!({ "values": ["00011"] }),
    )
    .await;
    svc.assert_problem(stale, 409, "reading-not-changeable")
        .await;

    // Cancel the correction, then submit after the window: the next period, `late`.
    let cancelled = svc
        .client
        .delete(svc.url(&format!("/api/v1/accounts/4/readings/{corrected}")))
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status(), StatusCode::OK);
    let cancelled: Value = cancelled.json().await.unwrap();
    assert_eq!(cancelled["status"], "cancelled");
    svc.set_clock_to_day(27).await;
    // A week later the session has expired: log in again.
    let resp = send(
        &svc,
        reqwest::Method::POST,
        "/api/v1/session",
        None,
        json!({ "login": PHONE, "password": PASSWORD }),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let late = send(
        &svc,
        post,
        "/api/v1/accounts/4/readings",
        None,
        json!({ "meter_id": 4, "values": ["00012"] }),
    )
    .await;
    assert_eq!(late.status(), StatusCode::CREATED);
    let late: Value = late.json().await.unwrap();
    assert_eq!(late["late"], true, "{late}");
    assert_ne!(late["period"], first["period"]);
    assert!(
        late["message"].as_str().unwrap().contains("по среднему"),
        "{late}"
    );
    svc.stop().await;
}
