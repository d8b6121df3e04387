//! Seeds 003, 004, paying online: the debtor's proposal → amounts the rules refuse → part of
//! the debt split by service through the sandbox gateway's page (with a card whose webhook the
//! gateway delivers twice: credited once) → a declined card (nothing credited) → a card that
//! asks for the confirmation code (SMS, a wrong code, the right one) → a payment whose webhook
//! is late, found by polling its status, and one nobody polls, found by the service's own
//! reconciliation → forged, stale and unknown notifications refused, the
//! balance unmoved; a fiscal receipt for each credited payment, sent once → an operator
//! refunds part of a payment on a written request (through the gateway, with a return receipt).

use abonent_tests::{Backend, TestService, WEBHOOK_SECRET, eventually};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::accounts::cabinet_of;

const PHONE: &str = "+79160000055";

/// Kopecks of a money string ("1234.50" → 123450).
fn kopecks(v: &Value) -> i64 {
    let s = v
        .as_str()
        .unwrap_or_else(|| panic!("money string, got {v}"));
    let (r, k) = s.split_once('.').unwrap();
    let sign = if r.starts_with('-') { -1 } else { 1 };
    r.parse::<i64>().unwrap() * 100 + sign * k.parse::<i64>().unwrap()
}

async fn balance(svc: &TestService) -> i64 {
    kopecks(&svc.get_json("/api/v1/accounts/1/balance").await["balance"])
}

async fn start(svc: &TestService, key: Option<&str>, body: Value) -> reqwest::Response {
    let mut req = svc
        .client
        .post(svc.url("/api/v1/accounts/1/payments"))
        .json(&body);
    if let Some(key) = key {
        req = req.header("Idempotency-Key", key);
    }
    req.send().await.unwrap()
}

/// Starts a payment of `amount` and returns (ledger payment id, sandbox payment id, page URL).
async fn started(svc: &TestService, amount: &str) -> (u64, String, String) {
    let resp = start(svc, None, json!({ "amount": amount })).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let body: Value = resp.json().await.unwrap();
    let url = body["confirmation_url"].as_str().unwrap().to_owned();
    let sandbox_id = url.rsplit('/').next().unwrap().to_owned();
    (
        body["payment"]["payment_id"].as_u64().unwrap(),
        sandbox_id,
        url,
    )
}

/// The gateway's page as the payer's browser gets it.
async fn page_html(svc: &TestService, page: &str) -> String {
    svc.client
        .get(page)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// Submits a card on the gateway's page (the client follows the redirect).
async fn pay_with(svc: &TestService, page: &str, card: &str) -> reqwest::Response {
    svc.client
        .post(page)
        .form(&[("number", card), ("expiry", "12/39"), ("cvc", "123")])
        .send()
        .await
        .unwrap()
}

/// Waits until every notification of the sandbox payment `id` is delivered; returns them.
async fn delivered(svc: &TestService, id: &str, count: usize) -> Vec<Value> {
    eventually(
        &format!("the notifications of {id} delivered"),
        async || {
            let list = svc
                .get_json(&format!("/sandbox/webhooks?payment_id={id}"))
                .await;
            let list = list.as_array().cloned().unwrap_or_default();
            (list.len() >= count && list.iter().all(|d| !d["delivered_at"].is_null()))
                .then_some(list)
        },
    )
    .await
}

async fn payment(svc: &TestService, id: u64) -> Value {
    svc.get_json(&format!("/api/v1/accounts/1/payments/{id}"))
        .await
}

/// POSTs a notification body to the webhook with a signature header (if any).
async fn notify(svc: &TestService, body: &Value, signature: Option<String>) -> reqwest::Response {
    let mut req = reqwest::Client::new()
        .post(svc.url("/webhooks/payments"))
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(signature) = signature {
        req = req.header("Abonent-Signature", signature);
    }
    req.send().await.unwrap()
}

async fn service_now(svc: &TestService) -> i64 {
    let state = svc.get_json("/sandbox/clock").await;
    time::OffsetDateTime::parse(
        state["now"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap()
    .unix_timestamp()
}

pub(crate) async fn pay_part_of_the_debt_through_the_sandbox_page(backend: Backend) {
    let svc = TestService::start(backend).await;
    cabinet_of(&svc, "7700100001", "Иванов Иван Иванович", PHONE).await;

    // The proposal: the debt by service, its total, the minimum.
    let proposal = svc.get_json("/api/v1/accounts/1/payment-proposal").await;
    let total = kopecks(&proposal["total"]);
    assert!(total > 60_000, "{proposal}");
    assert_eq!(proposal["minimum"], "50.00", "{proposal}");
    let by_service: i64 = proposal["debt_by_service"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| kopecks(&p["amount"]))
        .sum();
    assert_eq!(by_service, total, "{proposal}");
    let before = balance(&svc).await;
    assert_eq!(before, total);

    // What the rules refuse.
    let resp = start(&svc, None, json!({ "amount": "10.00" })).await;
    svc.assert_problem(resp, 422, "payment-amount-invalid")
        .await;
    let resp = start(&svc, None, json!({ "amount": "12.345" })).await;
    svc.assert_problem(resp, 400, "invalid-request").await;
    let resp = start(
        &svc,
        None,
        json!({ "amount": "600.00", "split": [
            { "service": "electricity", "amount": "500.00" },
            { "service": "electricity_common", "amount": "50.00" } ] }),
    )
    .await;
    svc.assert_problem(resp, 422, "payment-split-invalid").await;
    let resp = start(
        &svc,
        None,
        json!({ "amount": "600.00", "receipt": { "email": "нет" } }),
    )
    .await;
    svc.assert_problem(resp, 400, "invalid-request").await;

    // 600.00 split by service, with an Idempotency-Key: replayed, not started twice.
    let body = json!({ "amount": "600.00", "split": [
        { "service": "electricity", "amount": "550.00" },
        { "service": "electricity_common", "amount": "50.00" } ] });
    let resp = start(&svc, Some("pay-600"), body.clone()).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let first: Value = resp.json().await.unwrap();
    assert_eq!(first["payment"]["state"], "pending", "{first}");
    assert_eq!(first["payment"]["split"][0]["amount"], "550.00", "{first}");
    let resp = start(&svc, Some("pay-600"), body).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert_eq!(resp.headers()["idempotent-replayed"], "true");
    let again: Value = resp.json().await.unwrap();
    assert_eq!(again, first);
    let page = first["confirmation_url"].as_str().unwrap().to_owned();
    assert!(page.starts_with(&svc.url("/sandbox/pay/")), "{page}");
    let sandbox_id = page.rsplit('/').next().unwrap().to_owned();
    let payment_id = first["payment"]["payment_id"].as_u64().unwrap();
    assert_eq!(
        balance(&svc).await,
        before,
        "a started payment moves nothing"
    );

    // The page shows the amount; a card that fails Luhn is refused on the page.
    let html = page_html(&svc, &page).await;
    assert!(html.contains("600,00 ₽"), "{html}");
    let resp = pay_with(&svc, &page, "2200 0000 0000 0005").await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(resp.text().await.unwrap().contains("role=\"alert\""));

    // The card whose notification is delivered twice: back to the cabinet, credited once.
    let resp = pay_with(&svc, &page, "2200 0000 0000 0046").await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.url().path().ends_with("/l/payment-return"),
        "{}",
        resp.url()
    );
    let deliveries = delivered(&svc, &sandbox_id, 2).await;
    assert_eq!(deliveries.len(), 2, "{deliveries:?}");
    for d in &deliveries {
        assert_eq!(d["last_status"], 200, "{d}");
        assert_eq!(d["event_type"], "payment.succeeded", "{d}");
    }
    assert_eq!(balance(&svc).await, before - 60_000);
    let paid = payment(&svc, payment_id).await;
    assert_eq!(paid["state"], "succeeded", "{paid}");
    let html = page_html(&svc, &page).await;
    assert!(html.contains("Платёж выполнен"), "{html}");

    // One fiscal receipt (54-ФЗ) despite the duplicate notification, registered, its items
    // adding up to the payment, and sent once by SMS (the cabinet has no email).
    let receipts = svc
        .get_json(&format!(
            "/api/v1/accounts/1/payments/{payment_id}/receipts"
        ))
        .await;
    let receipts = receipts.as_array().unwrap().clone();
    assert_eq!(receipts.len(), 1, "{receipts:?}");
    let receipt = &receipts[0];
    assert_eq!(receipt["kind"], "income", "{receipt}");
    assert_eq!(receipt["total"], "600.00", "{receipt}");
    let items: i64 = receipt["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| kopecks(&i["amount"]))
        .sum();
    assert_eq!(items, 60_000, "{receipt}");
    assert_eq!(receipt["sent_to"], PHONE, "{receipt}");
    assert_eq!(
        receipt["registration"]["fiscal_number"], "9999078900012345",
        "{receipt}"
    );
    let sent: Vec<Value> = svc
        .messages(PHONE)
        .await
        .into_iter()
        .filter(|m| m["kind"] == "receipt")
        .collect();
    assert_eq!(sent.len(), 1, "{sent:?}");
    let text = sent[0]["body"].as_str().unwrap();
    assert!(text.contains("600,00"), "{text}");
    assert!(text.contains("fn=9999078900012345"), "{text}");

    // A declined card: the payment fails, nothing is credited.
    let (declined, declined_sbx, page) = started(&svc, "100.00").await;
    let resp = pay_with(&svc, &page, "2200000000000020").await;
    assert_eq!(resp.status(), StatusCode::OK);
    delivered(&svc, &declined_sbx, 1).await;
    let failed = payment(&svc, declined).await;
    assert_eq!(failed["state"], "failed", "{failed}");
    assert_eq!(failed["failure_reason"], "Недостаточно средств", "{failed}");
    let none = svc
        .get_json(&format!("/api/v1/accounts/1/payments/{declined}/receipts"))
        .await;
    assert_eq!(none, json!([]), "a declined payment has no receipt");
    assert_eq!(balance(&svc).await, before - 60_000);

    // The confirmation-code card: the code goes by SMS; a wrong code is refused on the page.
    let (coded, coded_sbx, page) = started(&svc, "100.00").await;
    let resp = pay_with(&svc, &page, "2200000000000012").await;
    assert_eq!(resp.status(), StatusCode::OK);
    let html = resp.text().await.unwrap();
    assert!(html.contains("name=\"code\""), "{html}");
    let sms = svc.last_message(PHONE).await;
    assert_eq!(sms["kind"], "3ds", "{sms}");
    assert!(sms["body"].as_str().unwrap().contains("123456"), "{sms}");
    let confirm = format!("{page}/confirm");
    let resp = svc
        .client
        .post(&confirm)
        .form(&[("code", "000000")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let resp = svc
        .client
        .post(&confirm)
        .form(&[("code", "123456")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    delivered(&svc, &coded_sbx, 1).await;
    assert_eq!(payment(&svc, coded).await["state"], "succeeded");
    assert_eq!(balance(&svc).await, before - 70_000);

    // The late notification: the status read asks the gateway and credits at once; the late
    // notification then changes nothing.
    let (late, late_sbx, page) = started(&svc, "100.00").await;
    let resp = pay_with(&svc, &page, "2200000000000061").await;
    assert_eq!(resp.status(), StatusCode::OK);
    let deliveries = svc
        .get_json(&format!("/sandbox/webhooks?payment_id={late_sbx}"))
        .await;
    assert!(
        deliveries
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["delivered_at"].is_null()),
        "{deliveries}"
    );
    assert_eq!(payment(&svc, late).await["state"], "succeeded");
    assert_eq!(balance(&svc).await, before - 80_000);

    // Nobody asks: the service's own reconciliation finds the late payment.
    let (_, late_sbx, page) = started(&svc, "100.00").await;
    let resp = pay_with(&svc, &page, "2200000000000061").await;
    assert_eq!(resp.status(), StatusCode::OK);
    eventually("the reconciliation credits the late payment", async || {
        (balance(&svc).await == before - 90_000).then_some(())
    })
    .await;
    let deliveries = svc
        .get_json(&format!("/sandbox/webhooks?payment_id={late_sbx}"))
        .await;
    assert!(
        deliveries
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["delivered_at"].is_null()),
        "{deliveries}"
    );

    // Forged, stale and unknown notifications: refused, nothing moves.
    let event = json!({ "id": "evt_forged", "type": "payment.succeeded",
        "created_at": "2026-11-23T10:00:00Z",
        "data": { "payment": { "id": declined_sbx, "status": "succeeded", "amount": "100.00",
                               "refunded": "0.00", "currency": "RUB" } } });
    let now = service_now(&svc).await;
    let bytes = event.to_string();
    let sign =
        |secret: &[u8], t: i64| http_api::webhook::signature::sign(secret, t, bytes.as_bytes());
    let resp = notify(&svc, &event, None).await;
    svc.assert_problem(resp, 400, "webhook-signature-invalid")
        .await;
    let resp = notify(&svc, &event, Some(sign(b"not-the-secret-at-all", now))).await;
    svc.assert_problem(resp, 400, "webhook-signature-invalid")
        .await;
    let resp = notify(
        &svc,
        &event,
        Some(sign(WEBHOOK_SECRET.as_bytes(), now - 301)),
    )
    .await;
    svc.assert_problem(resp, 400, "webhook-timestamp-out-of-tolerance")
        .await;
    // Properly signed, but the payment failed: a contradiction is acknowledged, not applied.
    let resp = notify(&svc, &event, Some(sign(WEBHOOK_SECRET.as_bytes(), now))).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(payment(&svc, declined).await["state"], "failed");
    let unknown = json!({ "id": "evt_x", "type": "payment.succeeded",
        "data": { "payment": { "id": "sbx_unknown", "refunded": "0.00" } } });
    let unknown_bytes = unknown.to_string();
    let signature = http_api::webhook::signature::sign(
        WEBHOOK_SECRET.as_bytes(),
        now,
        unknown_bytes.as_bytes(),
    );
    let resp = notify(&svc, &unknown, Some(signature)).await;
    svc.assert_problem(resp, 409, "payment-not-yet-known").await;
    assert_eq!(balance(&svc).await, before - 90_000);

    // Every credited payment has its receipt. The late one's is issued by the reconciliation
    // just after it credits the payment, so it may still be on its way.
    let all = eventually("four receipts issued", async || {
        let all = svc.get_json("/api/v1/accounts/1/receipts").await;
        (all.as_array().map_or(0, Vec::len) >= 4).then_some(all)
    })
    .await;
    assert_eq!(all.as_array().unwrap().len(), 4, "{all}");

    // The history lists them, newest first.
    let history = svc.get_json("/api/v1/accounts/1/payments").await;
    let states: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .take(5)
        .map(|p| p["state"].as_str().unwrap())
        .collect();
    assert_eq!(
        states,
        ["succeeded", "succeeded", "succeeded", "failed", "succeeded"],
        "{history}"
    );

    // A written refund request for 100.00 of the 600.00 payment: recorded once, carried out
    // through the gateway with a return receipt; the balance grows back by 100.00.
    let resp = crate::operator::operator_login(
        &svc,
        crate::operator::ADMIN,
        crate::operator::ADMIN_PASSWORD,
    )
    .await;
    let op_token = resp.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let op = reqwest::Client::new();
    let created_on = paid["created_on"].as_str().unwrap().to_owned();
    let request = |amount: &str| {
        op.post(svc.url("/api/v1/operator/refund-requests"))
            .bearer_auth(&op_token)
            .json(
                &json!({ "account_id": 1, "payment_id": payment_id, "amount": amount,
                           "number": "В-17", "received_on": created_on }),
            )
            .send()
    };
    let resp = request("700.00").await.unwrap();
    svc.assert_problem(resp, 422, "refund-invalid").await;
    let resp = request("100.00").await.unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let recorded: Value = resp.json().await.unwrap();
    assert_eq!(recorded["status"], "requested", "{recorded}");
    let again: Value = request("100.00").await.unwrap().json().await.unwrap();
    assert_eq!(again, recorded, "the same request again is the stored one");
    let refund_url = svc.url(&format!(
        "/api/v1/operator/refund-requests/{}/refund",
        recorded["refund_request_id"]
    ));
    let resp = op
        .post(&refund_url)
        .bearer_auth(&op_token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let done: Value = resp.json().await.unwrap();
    assert_eq!(done["request"]["status"], "refunded", "{done}");
    assert!(done["gateway_refund_id"].is_string(), "{done}");
    assert!(done["receipt_id"].is_u64(), "{done}");
    assert_eq!(balance(&svc).await, before - 80_000);
    let resp = op
        .post(&refund_url)
        .bearer_auth(&op_token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        StatusCode::OK,
        "refunding again changes nothing"
    );
    assert_eq!(balance(&svc).await, before - 80_000);
    let receipts = svc
        .get_json(&format!(
            "/api/v1/accounts/1/payments/{payment_id}/receipts"
        ))
        .await;
    let kinds: Vec<&str> = receipts
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["income", "income_return"], "{receipts}");
    assert_eq!(receipts[1]["total"], "100.00", "{receipts}");
    let resp = op
        .post(svc.url(&format!(
            "/api/v1/operator/refund-requests/{}/reject",
            recorded["refund_request_id"]
        )))
        .bearer_auth(&op_token)
        .json(&json!({ "reason": "Поздно." }))
        .send()
        .await
        .unwrap();
    svc.assert_problem(resp, 409, "refund-refused").await;
    svc.stop().await;
}

pub(crate) async fn autopay_settings(backend: Backend) {
    let svc = TestService::start(backend).await;
    cabinet_of(&svc, "7700100001", "Иванов Иван Иванович", PHONE).await;
    let put = |body: Value| {
        svc.client
            .put(svc.url("/api/v1/accounts/1/autopay"))
            .json(&body)
            .send()
    };
    let resp = svc
        .client
        .get(svc.url("/api/v1/accounts/1/autopay"))
        .send()
        .await
        .unwrap();
    svc.assert_problem(resp, 404, "not-found").await;
    // The rules: a day every month has, an amount not below the supplier's minimum.
    let resp = put(json!({ "enabled": true, "mode": "fixed", "amount": "30.00",
                           "day_of_month": 10, "version": 0 }))
    .await
    .unwrap();
    svc.assert_problem(resp, 422, "autopay-invalid").await;
    let resp = put(
        json!({ "enabled": true, "mode": "full_debt", "day_of_month": 30,
                           "version": 0 }),
    )
    .await
    .unwrap();
    svc.assert_problem(resp, 400, "invalid-request").await;
    let resp = put(
        json!({ "enabled": true, "mode": "fixed", "amount": "1500.00",
                           "day_of_month": 10, "limit": "1000.00", "version": 0 }),
    )
    .await
    .unwrap();
    svc.assert_problem(resp, 422, "autopay-invalid").await;
    // Set, read, change with the version read; a stale version is a conflict.
    let resp = put(
        json!({ "enabled": true, "mode": "fixed", "amount": "1500.00",
                           "day_of_month": 10, "limit": "3000.00", "version": 0 }),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let stored: Value = resp.json().await.unwrap();
    assert_eq!(stored["version"], 1, "{stored}");
    assert_eq!(svc.get_json("/api/v1/accounts/1/autopay").await, stored);
    let resp = put(
        json!({ "enabled": false, "mode": "full_debt", "day_of_month": 5,
                           "version": 1 }),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let changed: Value = resp.json().await.unwrap();
    assert_eq!(changed["mode"], "full_debt", "{changed}");
    assert_eq!(changed["amount"], Value::Null, "{changed}");
    assert_eq!(changed["version"], 2, "{changed}");
    let resp = put(
        json!({ "enabled": true, "mode": "full_debt", "day_of_month": 5,
                           "version": 1 }),
    )
    .await
    .unwrap();
    svc.assert_problem(resp, 409, "autopay-conflict").await;
    // Off for good.
    let del = || {
        svc.client
            .delete(svc.url("/api/v1/accounts/1/autopay"))
            .send()
    };
    assert_eq!(del().await.unwrap().status(), StatusCode::NO_CONTENT);
    svc.assert_problem(del().await.unwrap(), 404, "not-found")
        .await;
    // Another ЛС's settings: the gate answers as for any unlinked ЛС.
    let resp = svc
        .client
        .get(svc.url("/api/v1/accounts/2/autopay"))
        .send()
        .await
        .unwrap();
    svc.assert_problem(resp, 404, "not-linked").await;
    svc.stop().await;
}
