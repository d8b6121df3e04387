//! Seeds 000, 002, questions: a subscriber asks about a linked ЛС (another ЛС is refused) →
//! lists them → a Support operator sees it among the open questions and answers it → the
//! subscriber is notified and reads the answer → a second answer is refused; another cabinet
//! cannot read the question.

use abonent_tests::{Backend, TestService};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::accounts::cabinet_of;
use crate::register_login::PASSWORD;

const PHONE: &str = "+79160000055";

pub(crate) async fn ask_answer_and_read(backend: Backend) {
    let svc = TestService::start(backend).await;
    cabinet_of(&svc, "7700100002", "Петрова Анна Сергеевна", PHONE).await;
    let ask = |body: Value| {
        svc.client
            .post(svc.url("/api/v1/questions"))
            .json(&body)
            .send()
    };

    let blank = ask(json!({ "topic": "charges", "text": "   " }))
        .await
        .unwrap();
    svc.assert_problem(blank, 400, "invalid-request").await;
    let theirs = ask(json!({ "account_id": 1, "topic": "charges", "text": "Почему так много?" }))
        .await
        .unwrap();
    svc.assert_problem(theirs, 404, "not-linked").await;
    let resp = ask(json!({ "account_id": 2, "topic": "charges",
                           "text": "Почему в октябре начислено больше, чем в сентябре?" }))
    .await
    .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let asked: Value = resp.json().await.unwrap();
    let id = asked["question_id"].as_str().unwrap().to_owned();
    assert_eq!(asked["account"]["number"], "7700100002");
    assert_eq!(asked["topic_name"], "Начисления");
    assert!(asked["answer"].is_null());
    let mine = svc.get_json("/api/v1/questions").await;
    assert_eq!(mine.as_array().unwrap().len(), 1);

    // The operator: open questions, answer once.
    let http = reqwest::Client::new();
    let session: Value = http
        .post(svc.url("/api/v1/operator/session"))
        .json(&json!({ "login": "admin", "password": "Демо-оператор-2026" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = session["token"].as_str().unwrap().to_owned();
    let open: Value = http
        .get(svc.url("/api/v1/operator/questions?supplier_id=1"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<_> = open["questions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["question_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [id.as_str()]);
    let bad_cursor = http
        .get(svc.url("/api/v1/operator/questions?after=nonsense"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    svc.assert_problem(bad_cursor, 400, "invalid-request").await;
    let answer = |text: &str| {
        http.post(svc.url(&format!("/api/v1/operator/questions/{id}/answer")))
            .bearer_auth(&token)
            .json(&json!({ "text": text }))
            .send()
    };
    let resp = answer("В октябре действует новый тариф и начался отопительный сезон.")
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let again = answer("Ещё один ответ").await.unwrap();
    svc.assert_problem(again, 409, "already-answered").await;

    // The subscriber was told (no email on file: by SMS) and reads the answer.
    let sms = svc.last_message(PHONE).await;
    assert!(sms["body"].as_str().unwrap().contains("ответ"), "{sms}");
    let read = svc.get_json(&format!("/api/v1/questions/{id}")).await;
    assert!(
        read["answer"]["text"]
            .as_str()
            .unwrap()
            .contains("новый тариф"),
        "{read}"
    );
    let open: Value = http
        .get(svc.url("/api/v1/operator/questions"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(open["questions"].as_array().unwrap().is_empty(), "{open}");

    // Another cabinet cannot read it.
    let other = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    crate::register_login::registered_cabinet(&svc).await;
    let resp = other
        .post(svc.url("/api/v1/session"))
        .json(&json!({ "login": crate::register_login::PHONE, "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let resp = other
        .get(svc.url(&format!("/api/v1/questions/{id}")))
        .send()
        .await
        .unwrap();
    svc.assert_problem(resp, 404, "not-found").await;
    svc.stop().await;
}
