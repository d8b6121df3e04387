//! The back office: the key-rate history read and replaced (a list out of order refused) →
//! a billing run refused while the readings window is open and for a closed period → started
//! after the window (202), followed until every house is billed → the subscriber sees the
//! period's charges; a second start bills nothing twice.

use abonent_tests::{Backend, TestService, eventually};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::accounts::cabinet_of;
use crate::operator::{ADMIN, ADMIN_PASSWORD, operator_login};

const PHONE: &str = "+79160000066";

/// The current period at the supplier (UTC+3) by the service's clock, and the one before.
async fn periods(svc: &TestService) -> (String, String) {
    let state = svc.get_json("/sandbox/clock").await;
    let now = time::OffsetDateTime::parse(
        state["now"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap()
    .to_offset(time::UtcOffset::from_hms(3, 0, 0).unwrap());
    let (y, m) = (now.year(), u8::from(now.month()));
    let (py, pm) = if m == 1 { (y - 1, 12) } else { (y, m - 1) };
    (format!("{y}-{m:02}"), format!("{py}-{pm:02}"))
}

async fn login(svc: &TestService) -> String {
    let resp = operator_login(svc, ADMIN, ADMIN_PASSWORD).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    resp.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned()
}

pub(crate) async fn key_rates_and_a_billing_run(backend: Backend) {
    let svc = TestService::start(backend).await;
    cabinet_of(&svc, "7700100002", "Петрова Анна Сергеевна", PHONE).await;
    let token = login(&svc).await;
    let http = reqwest::Client::new();
    let op = |method: reqwest::Method, path: &str| {
        http.request(method, svc.url(path)).bearer_auth(&token)
    };

    // Key rates: read, refuse a list out of order, replace.
    let rates: Value = op(reqwest::Method::GET, "/api/v1/operator/key-rates")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let steps = rates["steps"].as_array().unwrap().clone();
    assert!(!steps.is_empty(), "{rates}");
    let resp = op(reqwest::Method::PUT, "/api/v1/operator/key-rates")
        .json(
            &json!({ "steps": [ { "from": "2026-10-27", "rate": "16.5" },
                                  { "from": "2026-01-01", "rate": "21" } ] }),
        )
        .send()
        .await
        .unwrap();
    svc.assert_problem(resp, 400, "invalid-request").await;
    let mut replaced = steps.clone();
    replaced.push(json!({ "from": "2026-12-19", "rate": "15.5" }));
    let resp = op(reqwest::Method::PUT, "/api/v1/operator/key-rates")
        .json(&json!({ "steps": replaced }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let rates: Value = op(reqwest::Method::GET, "/api/v1/operator/key-rates")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let last = rates["steps"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last, json!({ "from": "2026-12-19", "rate": "15.5" }));

    // The billing run: refused in the readings window and for a closed period.
    svc.set_clock_to_day(20).await;
    let (current, previous) = periods(&svc).await;
    let start = |period: &str| {
        op(reqwest::Method::POST, "/api/v1/operator/billing-runs")
            .json(&json!({ "supplier_id": 1, "period": period }))
            .send()
    };
    let resp = start(&current).await.unwrap();
    svc.assert_problem(resp, 409, "billing-run-refused").await;
    let resp = start(&previous).await.unwrap();
    svc.assert_problem(resp, 409, "billing-run-refused").await;
    let resp = op(reqwest::Method::POST, "/api/v1/operator/billing-runs")
        .json(&json!({ "supplier_id": 99, "period": current }))
        .send()
        .await
        .unwrap();
    svc.assert_problem(resp, 404, "not-found").await;
    let resp = op(
        reqwest::Method::GET,
        &format!("/api/v1/operator/billing-runs/1/{current}"),
    )
    .send()
    .await
    .unwrap();
    svc.assert_problem(resp, 404, "not-found").await;

    // After the window (six days on: the operator's session has expired): started, followed
    // to the end.
    svc.set_clock_to_day(26).await;
    let token = login(&svc).await;
    let op = |method: reqwest::Method, path: &str| {
        http.request(method, svc.url(path)).bearer_auth(&token)
    };
    let start = |period: &str| {
        op(reqwest::Method::POST, "/api/v1/operator/billing-runs")
            .json(&json!({ "supplier_id": 1, "period": period }))
            .send()
    };
    let resp = start(&current).await.unwrap();
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    let progress = async || -> Value {
        op(
            reqwest::Method::GET,
            &format!("/api/v1/operator/billing-runs/1/{current}"),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
    };
    let run = eventually("the billing run finishes", async || {
        let run = progress().await;
        (run["running"] == false && run["houses_total"].as_u64() > Some(0)).then_some(run)
    })
    .await;
    assert_eq!(run["running"], false, "{run}");
    assert_eq!(run["houses_done"], run["houses_total"], "{run}");
    assert_eq!(run["houses_failed"], 0, "{run}");
    assert_eq!(run["error"], Value::Null, "{run}");

    // The subscriber (logged in again: the clock moved) sees the period billed.
    let resp = svc
        .client
        .post(svc.url("/api/v1/session"))
        .json(&json!({ "login": PHONE, "password": crate::register_login::PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let charges = svc
        .get_json(&format!("/api/v1/accounts/2/charges/{current}"))
        .await;
    assert_eq!(charges["period"], current.as_str(), "{charges}");
    let total = charges["total"].clone();

    // Starting again bills nothing twice.
    let resp = start(&current).await.unwrap();
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    eventually("the second billing run finishes", async || {
        (progress().await["running"] == false).then_some(())
    })
    .await;
    let again = svc
        .get_json(&format!("/api/v1/accounts/2/charges/{current}"))
        .await;
    assert_eq!(again["total"], total, "{again}");
    svc.stop().await;
}
