//! The service starts, answers its probes, serves its OpenAPI document and docs, answers every
//! error as problem+json and stops gracefully.

use abonent_tests::{Backend, TestService};
use serde_json::Value;

pub(crate) async fn starts_answers_probes_and_stops(backend: Backend) {
    let svc = TestService::start(backend).await;
    let health: Value = svc.get_json("/health").await;
    assert_eq!(health["status"], "ok");
    let ready = svc.client.get(svc.url("/ready")).send().await.unwrap();
    assert_eq!(ready.status().as_u16(), 200);
    let spec: Value = svc.get_json("/openapi.json").await;
    assert!(
        spec["openapi"].as_str().unwrap().starts_with("3."),
        "{spec}"
    );
    assert!(spec["paths"]["/health"].is_object());
    let docs = svc.client.get(svc.url("/docs")).send().await.unwrap();
    assert_eq!(docs.status().as_u16(), 200);
    assert!(docs.text().await.unwrap().contains("swagger"));
    svc.stop().await;
}

pub(crate) async fn every_error_is_a_problem(backend: Backend) {
    let svc = TestService::start(backend).await;
    let resp = svc
        .client
        .get(svc.url("/no/such/page"))
        .send()
        .await
        .unwrap();
    svc.assert_problem(resp, 404, "not-found").await;
    let resp = svc.client.delete(svc.url("/health")).send().await.unwrap();
    svc.assert_problem(resp, 405, "method-not-allowed").await;
    let big = vec![b'x'; 65 * 1024];
    let resp = svc
        .client
        .post(svc.url("/health"))
        .body(big)
        .send()
        .await
        .unwrap();
    svc.assert_problem(resp, 413, "payload-too-large").await;
    svc.stop().await;
}

pub(crate) async fn public_information_and_the_sandbox_inbox(backend: Backend) {
    let svc = TestService::start(backend).await;
    let captcha: Value = svc.get_json("/api/v1/captcha").await;
    assert_eq!(captcha["id"].as_str().unwrap().len(), 32, "{captcha}");
    assert!(captcha["image_svg"].as_str().unwrap().starts_with("<svg"));
    assert!(
        captcha["sandbox_answer"]
            .as_str()
            .unwrap()
            .parse::<u32>()
            .is_ok()
    );
    let consent: Value = svc.get_json("/api/v1/consent-document").await;
    assert!(consent["text"].as_str().unwrap().contains("152-ФЗ"));
    assert_eq!(consent["sha256"].as_str().unwrap().len(), 64);
    let inbox: Value = svc.get_json("/sandbox/messages").await;
    assert_eq!(inbox, Value::Array(vec![]));
    let page = svc
        .client
        .get(svc.url("/sandbox/inbox"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 200);
    assert!(page.text().await.unwrap().contains("Песочница"));
    svc.stop().await;
}
