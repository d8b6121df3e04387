//! The operator's CSV import over HTTP, as the demo Admin: a file with bad rows is refused
//! with every bad line and applies nothing → the corrected file is applied → a file larger
//! than the service's body limit is taken by the import route (and refused elsewhere) → a
//! bank registry credits its payments once, however often it is sent; without credentials,
//! or as something other than CSV, nothing is imported.

use abonent_tests::{Backend, TestService};
use reqwest::StatusCode;
use serde_json::{Value, json};

const ADMIN: &str = "admin";
const ADMIN_PASSWORD: &str = "Демо-оператор-2026";

async fn admin_token(svc: &TestService) -> String {
    let resp = reqwest::Client::new()
        .post(svc.url("/api/v1/operator/session"))
        .json(&json!({ "login": ADMIN, "password": ADMIN_PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let session: Value = resp.json().await.unwrap();
    session["token"].as_str().unwrap().to_owned()
}

/// POST `body` as `content_type`, with the bearer `token` if any.
async fn post(
    svc: &TestService,
    path: &str,
    token: Option<&str>,
    content_type: &str,
    body: impl Into<reqwest::Body>,
) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .post(svc.url(path))
        .header("content-type", content_type)
        .body(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

async fn post_csv(
    svc: &TestService,
    token: &str,
    path: &str,
    body: impl Into<reqwest::Body>,
) -> reqwest::Response {
    post(svc, path, Some(token), "text/csv; charset=utf-8", body).await
}

pub(crate) async fn an_operator_imports_houses_premises_and_a_bank_registry(backend: Backend) {
    let svc = TestService::start(backend).await;
    let token = admin_token(&svc).await;

    // Two bad rows: every one is reported with its line, and the good row is not applied.
    let bad = "id;address;total_area\n10;г. Тула, ул. Мира, д. 1;1200,5\n11;;900\n12;г. Тула, ул. Мира, д. 5;много\n";
    let resp = post_csv(
        &svc,
        &token,
        "/api/v1/operator/imports/houses?supplier=1",
        bad,
    )
    .await;
    let problem = svc.assert_problem(resp, 422, "import-invalid").await;
    assert_eq!(
        problem["errors"],
        json!([
            {"line": 3, "column": "address", "reason": "не заполнено"},
            {"line": 4, "column": "total_area", "reason": "«много»: ожидается число, например 12,5"},
        ])
    );
    // A house needs its supplier.
    let resp = post_csv(&svc, &token, "/api/v1/operator/imports/houses", bad).await;
    svc.assert_problem(resp, 400, "invalid-request").await;

    let good = "id;address;total_area\n10;г. Тула, ул. Мира, д. 1;1200,5\n";
    let resp = post_csv(
        &svc,
        &token,
        "/api/v1/operator/imports/houses?supplier=1",
        good,
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let report: Value = resp.json().await.unwrap();
    assert_eq!(report, json!({"kind": "houses", "rows": 1, "applied": 1}));

    // 6000 premises (over 100 KiB, above the service's 64 KiB body limit) in one file.
    let mut premises = String::from("id;house;number;area;persons\n");
    for i in 0..6000 {
        premises.push_str(&format!("{};10;{};45,5;2\n", 1000 + i, i + 1));
    }
    assert!(premises.len() > 100 * 1024);
    let resp = post_csv(
        &svc,
        &token,
        "/api/v1/operator/imports/premises",
        premises.clone(),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let report: Value = resp.json().await.unwrap();
    assert_eq!(report["applied"], 6000);
    // Elsewhere the limit stays.
    let session = "/api/v1/operator/session";
    let resp = post(&svc, session, None, "application/json", premises).await;
    svc.assert_problem(resp, 413, "payload-too-large").await;

    // A bank registry: credited once, however often it is sent.
    let registry = "ref;account;amount;date\nR-1;7700100002;1 000,00;2026-11-20\nR-2;7700100003;500;2026-11-20\n";
    let path = "/api/v1/operator/imports/bank-registry?supplier=1&registry=sber-2026-11-20";
    let resp = post_csv(&svc, &token, path, registry).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let report: Value = resp.json().await.unwrap();
    assert_eq!(
        report,
        json!({"kind": "bank-registry", "rows": 2, "applied": 2, "duplicates": 0})
    );
    let resp = post_csv(&svc, &token, path, registry).await;
    let report: Value = resp.json().await.unwrap();
    assert_eq!(
        report,
        json!({"kind": "bank-registry", "rows": 2, "applied": 0, "duplicates": 2})
    );
    // An unknown ЛС: the registry is refused whole.
    let unknown =
        "ref;account;amount;date\nR-3;7700100001;100;2026-11-20\nR-4;7799999999;100;2026-11-20\n";
    let resp = post_csv(&svc, &token, path, unknown).await;
    let problem = svc.assert_problem(resp, 422, "import-invalid").await;
    assert_eq!(problem["errors"][0]["line"], 3);
    assert_eq!(problem["errors"][0]["column"], "account");
    let resp = post_csv(
        &svc,
        &token,
        path,
        unknown.replace("R-4;7799999999", "R-4;7700100004"),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);

    // Readings of a meter and period already read: a conflict, nothing stored.
    let readings = "meter;period;taken_on;t1\n1;2026-09;2026-09-20;99999\n";
    let resp = post_csv(&svc, &token, "/api/v1/operator/imports/readings", readings).await;
    svc.assert_problem(resp, 409, "import-conflict").await;

    // Without credentials, or not CSV: nothing.
    let houses = "/api/v1/operator/imports/houses?supplier=1";
    let resp = post(&svc, houses, None, "text/csv", good).await;
    svc.assert_problem(resp, 401, "unauthorized").await;
    let resp = post(
        &svc,
        houses,
        Some(&token),
        "application/json",
        r#"{"id":10}"#,
    )
    .await;
    svc.assert_problem(resp, 415, "unsupported-media-type")
        .await;
    svc.stop().await;
}
