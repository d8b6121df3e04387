//! Seeds 000–004 on the demo supplier's year of history: register by ЛС 7700100001 (the
//! debtor) → log in → meters → the readings history for a range, sorted both ways (a reversed
//! range and a malformed period refused) → the charges of the last billed period with why each
//! line is what it is (a penalty line among them; every amount a two-decimal string; the lines
//! add up to the total) → a period not billed yet → the balance shows the debt → the statement
//! → the payment document and its QR payload → the tariffs → the calculator on ЛС 7700100004
//! (linked by its payment code: 99993 → 00007 rolls over) → the payment history → the
//! supplier's requisites → an ЛС that is not linked answers 404 on every operation.

use abonent_tests::{Backend, TestService};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::accounts::register_by_account;
use crate::register_login::PASSWORD;

const PHONE: &str = "+79160000041";

/// `"1234.50"` → 123450; panics unless `text` is a decimal string with exactly two decimals.
fn kopecks(text: &Value) -> i64 {
    let s = text
        .as_str()
        .unwrap_or_else(|| panic!("money is a string: {text}"));
    let (sign, digits) = s.strip_prefix('-').map_or((1, s), |rest| (-1, rest));
    let (whole, cents) = digits
        .split_once('.')
        .unwrap_or_else(|| panic!("two decimals: {s:?}"));
    assert!(
        !whole.is_empty()
            && whole.bytes().all(|b| b.is_ascii_digit())
            && cents.len() == 2
            && cents.bytes().all(|b| b.is_ascii_digit()),
        "money {s:?} is not a two-decimal string"
    );
    sign * (whole.parse::<i64>().unwrap() * 100 + cents.parse::<i64>().unwrap())
}

/// `"2026-10"` moved by `months`.
fn shift(period: &str, months: i32) -> String {
    let (y, m) = period.split_once('-').unwrap();
    let index = y.parse::<i32>().unwrap() * 12 + m.parse::<i32>().unwrap() - 1 + months;
    format!(
        "{:04}-{:02}",
        index.div_euclid(12),
        index.rem_euclid(12) + 1
    )
}

async fn get(svc: &TestService, path: &str) -> reqwest::Response {
    svc.client.get(svc.url(path)).send().await.unwrap()
}

async fn get_ok(svc: &TestService, path: &str) -> Value {
    let resp = get(svc, path).await;
    assert_eq!(resp.status(), StatusCode::OK, "GET {path}");
    resp.json().await.unwrap()
}

async fn post(svc: &TestService, path: &str, body: Value) -> reqwest::Response {
    svc.client
        .post(svc.url(path))
        .json(&body)
        .send()
        .await
        .unwrap()
}

fn periods(readings: &Value) -> Vec<String> {
    readings
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["period"].as_str().unwrap().to_owned())
        .collect()
}

pub(crate) async fn billing_reads_of_a_linked_account(backend: Backend) {
    let svc = TestService::start(backend).await;
    register_by_account(
        &svc,
        json!({ "supplier_id": 1, "account_number": "7700100001",
                "name": "Иванов Иван Иванович", "phone": PHONE }),
        PHONE,
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
    let list = get_ok(&svc, "/api/v1/accounts").await;
    let id = list[0]["account_id"].as_u64().unwrap();
    let base = format!("/api/v1/accounts/{id}");

    // Meters with the reading in force; its period is the last billed one.
    let meters = get_ok(&svc, &format!("{base}/meters")).await;
    let meters = meters.as_array().unwrap();
    assert_eq!(meters.len(), 1, "{meters:?}");
    let meter = &meters[0];
    assert_eq!(meter["serial"], "011234567");
    assert_eq!(meter["service"], "electricity");
    assert_eq!(meter["digits"], 5);
    assert_eq!(meter["zones"][0]["zone"], "total");
    assert_eq!(meter["zones"][0]["name"], "круглосуточно");
    assert_eq!(meter["coefficient"], "1");
    assert_eq!(meter["verification_due"], "2035-01-01");
    let last_reading = &meter["last_reading"];
    assert_eq!(last_reading["status"], "accepted");
    assert!(
        last_reading["values"][0]
            .as_str()
            .unwrap()
            .parse::<u64>()
            .is_ok()
    );
    let last = last_reading["period"].as_str().unwrap().to_owned();
    let meter_id = meter["meter_id"].as_u64().unwrap();

    // The history of six periods, both ways.
    let readings = format!("{base}/meters/{meter_id}/readings");
    let from = shift(&last, -5);
    let up = get_ok(
        &svc,
        &format!("{readings}?from={from}&to={last}&sort=period"),
    )
    .await;
    let down = get_ok(
        &svc,
        &format!("{readings}?from={from}&to={last}&sort=-taken_on"),
    )
    .await;
    let expected: Vec<String> = (-5..=0).map(|k| shift(&last, k)).collect();
    assert_eq!(periods(&up), expected);
    let mut reversed = periods(&down);
    reversed.reverse();
    assert_eq!(reversed, expected);
    assert_eq!(up[5]["reading_id"], last_reading["reading_id"]);
    assert_eq!(up[0]["source"], "subscriber");
    // The default range: the year up to now holds the whole demo history (twelve periods).
    let all = get_ok(&svc, &readings).await;
    assert_eq!(all.as_array().unwrap().len(), 12, "{all}");
    let resp = get(&svc, &format!("{readings}?from={last}&to={from}")).await;
    svc.assert_problem(resp, 422, "invalid-range").await;
    let resp = get(&svc, &format!("{readings}?from=2026-13")).await;
    let problem = svc.assert_problem(resp, 400, "invalid-request").await;
    assert!(
        problem["reason"].as_str().unwrap().contains("`from`"),
        "{problem}"
    );
    let resp = get(&svc, &format!("{readings}?sort=serial")).await;
    svc.assert_problem(resp, 400, "invalid-request").await;
    // A meter of another ЛС: not found on this one.
    let resp = get(&svc, &format!("{base}/meters/2/readings")).await;
    svc.assert_problem(resp, 404, "not-found").await;

    // The charges of the last billed period and why.
    let charges = get_ok(&svc, &format!("{base}/charges/{last}")).await;
    assert_eq!(charges["period"], last.as_str());
    let lines = charges["lines"].as_array().unwrap();
    assert!(!lines.is_empty());
    let sum: i64 = lines.iter().map(|l| kopecks(&l["amount"])).sum();
    assert_eq!(sum, kopecks(&charges["total"]), "{charges}");
    for line in lines {
        assert!(
            line["explanation"].as_str().is_some_and(|e| !e.is_ascii()),
            "{line}"
        );
        assert!(line["unit_price"].is_string() && line["quantity"].is_string());
    }
    let electricity = lines
        .iter()
        .find(|l| l["service"] == "electricity")
        .expect("an electricity line");
    assert_eq!(electricity["basis"], "readings");
    assert_eq!(electricity["unit"], "kilowatt_hour");
    let penalty = lines
        .iter()
        .find(|l| l["basis"] == "penalty")
        .unwrap_or_else(|| panic!("the debtor is charged penalties: {charges}"));
    assert_eq!(penalty["service"], "penalty");
    assert!(kopecks(&penalty["amount"]) > 0);
    assert!(penalty["explanation"].as_str().unwrap().starts_with("Пени"));
    assert_eq!(charges["volumes"][0]["kind"], "readings");

    // Not billed yet.
    let next = shift(&last, 1);
    let resp = get(&svc, &format!("{base}/charges/{next}")).await;
    svc.assert_problem(resp, 404, "period-not-billed").await;
    let resp = get(&svc, &format!("{base}/documents/{next}")).await;
    svc.assert_problem(resp, 404, "period-not-billed").await;
    let resp = get(&svc, &format!("{base}/charges/october")).await;
    svc.assert_problem(resp, 400, "invalid-request").await;

    // The balance: four unpaid months and penalties.
    let balance = get_ok(&svc, &format!("{base}/balance")).await;
    let debt = kopecks(&balance["balance"]);
    assert!(debt > 0, "{balance}");
    assert_eq!(kopecks(&balance["debt"]), debt);
    assert_eq!(kopecks(&balance["advance"]), 0);
    assert!(kopecks(&balance["overdue"]) > 0, "{balance}");
    assert!(kopecks(&balance["penalties"]) > 0, "{balance}");
    let by_service: i64 = balance["debt_by_service"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| kopecks(&d["amount"]))
        .sum();
    assert_eq!(by_service, debt, "{balance}");
    let tranches = balance["open_tranches"].as_array().unwrap();
    assert!(tranches.iter().any(|t| t["overdue"] == true), "{balance}");

    // The statement: by default the year up to now, closing at today's balance.
    let statement = get_ok(&svc, &format!("{base}/statement")).await;
    assert_eq!(kopecks(&statement["closing"]), debt, "{statement}");
    let totals = &statement["totals"];
    let net = kopecks(&totals["charges"])
        + kopecks(&totals["adjustments"])
        + kopecks(&totals["penalties"])
        - kopecks(&totals["payments"])
        + kopecks(&totals["refunds"]);
    assert_eq!(kopecks(&statement["opening"]) + net, debt);
    let kinds: Vec<&str> = statement["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"charge") && kinds.contains(&"payment") && kinds.contains(&"penalty"));
    let one = get_ok(&svc, &format!("{base}/statement?from={last}&to={last}")).await;
    assert_eq!(one["from"], format!("{last}-01"));
    let resp = get(&svc, &format!("{base}/statement?from={last}&to={from}")).await;
    svc.assert_problem(resp, 422, "invalid-range").await;

    // The payment document (ЕПД) with its QR payload.
    let doc = get_ok(&svc, &format!("{base}/documents/{last}")).await;
    let qr = doc["qr_payload"].as_str().unwrap();
    assert!(qr.starts_with("ST00012|"), "{qr}");
    assert!(qr.contains("7700100001"), "{qr}");
    assert_eq!(doc["payer"]["account_number"], "7700100001");
    assert_eq!(doc["payer"]["period"], last.as_str());
    assert_eq!(kopecks(&doc["charges_total"]), kopecks(&charges["total"]));
    assert!(kopecks(&doc["amount_due"]["due"]) > 0);
    assert!(
        !doc["reference"]["emergency_phones"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(doc["readings"][0]["serial"], "011234567");

    // The tariffs in force today.
    let tariffs = get_ok(&svc, &format!("{base}/tariffs")).await;
    let tariffs = tariffs.as_array().unwrap();
    assert_eq!(tariffs.len(), 1, "{tariffs:?}");
    assert_eq!(tariffs[0]["service"], "electricity");
    assert_eq!(tariffs[0]["group"], "population");
    assert!(
        tariffs[0]["prices"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["price"].is_string())
    );
    let old = get_ok(&svc, &format!("{base}/tariffs?on=2000-01-01")).await;
    assert_eq!(old, json!([]));
    let resp = get(&svc, &format!("{base}/tariffs?on=yesterday")).await;
    svc.assert_problem(resp, 400, "invalid-request").await;

    // The calculator on ЛС 7700100004 (linked by its payment code): 99993 → 00007.
    let resp = post(
        &svc,
        "/api/v1/accounts/link/payment-code",
        json!({ "code": "Tr2gZ5uXa7" }),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let linked: Value = resp.json().await.unwrap();
    let rollover_id = linked["account_id"].as_u64().unwrap();
    let rollover_meters = get_ok(&svc, &format!("/api/v1/accounts/{rollover_id}/meters")).await;
    assert_eq!(rollover_meters[0]["last_reading"]["values"][0], "99993");
    let rollover_meter = rollover_meters[0]["meter_id"].as_u64().unwrap();
    let estimate_path = format!("/api/v1/accounts/{rollover_id}/estimate");
    let resp = post(
        &svc,
        &estimate_path,
        json!({ "meter_id": rollover_meter, "values": ["00007"] }),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let estimate: Value = resp.json().await.unwrap();
    assert_eq!(estimate["rollover"], json!([true]), "{estimate}");
    // 100007 − 99993 on five digits, at the volume precision of electricity ("14.000").
    let consumption = estimate["consumption"][0].as_str().unwrap();
    assert_eq!(
        consumption.trim_end_matches('0').trim_end_matches('.'),
        "14",
        "{estimate}"
    );
    let sum: i64 = estimate["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| kopecks(&l["amount"]))
        .sum();
    assert!(sum > 0);
    assert_eq!(sum, kopecks(&estimate["total"]));
    assert!(!estimate["explanation"].as_array().unwrap().is_empty());
    let resp = post(
        &svc,
        &estimate_path,
        json!({ "meter_id": rollover_meter, "values": ["1", "2"] }),
    )
    .await;
    svc.assert_problem(resp, 422, "estimate-rejected").await;
    let resp = post(
        &svc,
        &estimate_path,
        json!({ "meter_id": meter_id, "values": ["7"] }),
    )
    .await;
    svc.assert_problem(resp, 404, "not-found").await;
    let resp = post(
        &svc,
        &estimate_path,
        json!({ "meter_id": rollover_meter, "values": ["7"], "extra": 1 }),
    )
    .await;
    svc.assert_problem(resp, 400, "invalid-request").await;

    // The payment history, newest first.
    let payments = get_ok(&svc, &format!("{base}/payments")).await;
    let payments = payments.as_array().unwrap();
    assert!(payments.len() >= 6, "{payments:?}");
    let days: Vec<&str> = payments
        .iter()
        .map(|p| p["created_on"].as_str().unwrap())
        .collect();
    assert!(days.windows(2).all(|w| w[0] >= w[1]), "{days:?}");
    for p in payments {
        assert_eq!(p["state"], "succeeded");
        assert!(kopecks(&p["amount"]) > 0);
        assert_eq!(kopecks(&p["refunded"]), 0);
    }

    // The supplier's requisites: public.
    let anonymous = reqwest::Client::new();
    let resp = anonymous
        .get(svc.url("/api/v1/suppliers/1"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let supplier: Value = resp.json().await.unwrap();
    assert_eq!(supplier["supplier_id"], 1);
    let requisites = &supplier["requisites"];
    assert!(
        requisites["name"].as_str().unwrap().contains("Демо"),
        "{supplier}"
    );
    assert_eq!(requisites["inn"].as_str().unwrap().len(), 10);
    assert_eq!(requisites["bank"]["bic"].as_str().unwrap().len(), 9);
    assert!(
        !requisites["emergency_phones"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(kopecks(&supplier["minimum_payment"]), 5_000);
    let resp = anonymous
        .get(svc.url("/api/v1/suppliers/999"))
        .send()
        .await
        .unwrap();
    svc.assert_problem(resp, 404, "not-found").await;

    // Another ЛС (2 is not linked): not-linked everywhere, exactly as an id nobody has.
    let theirs = "/api/v1/accounts/2";
    for path in [
        format!("{theirs}/meters"),
        format!("{theirs}/meters/2/readings"),
        format!("{theirs}/charges/{last}"),
        format!("{theirs}/balance"),
        format!("{theirs}/statement"),
        format!("{theirs}/documents/{last}"),
        format!("{theirs}/tariffs"),
        format!("{theirs}/payments"),
        "/api/v1/accounts/999999/balance".to_owned(),
    ] {
        let resp = get(&svc, &path).await;
        svc.assert_problem(resp, 404, "not-linked").await;
    }
    let resp = post(
        &svc,
        &format!("{theirs}/estimate"),
        json!({ "meter_id": 2, "values": ["7", "3"] }),
    )
    .await;
    svc.assert_problem(resp, 404, "not-linked").await;

    // Without a session: 401.
    let resp = anonymous
        .get(svc.url(&format!("{base}/balance")))
        .send()
        .await
        .unwrap();
    svc.assert_problem(resp, 401, "unauthorized").await;
    svc.stop().await;
}
