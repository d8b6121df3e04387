//! The committed OpenAPI document (`docs/openapi.json`) is the one the code produces.

/// Set to `1` to rewrite `docs/openapi.json` instead of comparing (`cargo xtask openapi`).
const UPDATE: &str = "ABONENT_UPDATE_OPENAPI";

#[test]
fn openapi_json_is_committed() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json");
    if std::env::var(UPDATE).is_ok_and(|v| v == "1") {
        std::fs::write(path, http_api::openapi_json() + "\n").expect("write docs/openapi.json");
        return;
    }
    let committed = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{path}: {e}; run `cargo xtask openapi`"));
    let committed: serde_json::Value =
        serde_json::from_str(&committed).expect("docs/openapi.json is JSON");
    let current: serde_json::Value =
        serde_json::from_str(&http_api::openapi_json()).expect("the spec is JSON");
    assert!(
        committed == current,
        "docs/openapi.json is stale: run `cargo xtask openapi` and commit the result"
    );
}

#[test]
fn every_operation_has_an_id_and_problem_errors() {
    let spec: serde_json::Value = serde_json::from_str(&http_api::openapi_json()).unwrap();
    let paths = spec["paths"].as_object().expect("paths");
    assert!(!paths.is_empty());
    for (path, ops) in paths {
        for (method, op) in ops.as_object().expect("operations") {
            assert!(
                op["operationId"].as_str().is_some(),
                "{method} {path} has no operationId"
            );
            for (status, resp) in op["responses"].as_object().expect("responses") {
                if status.starts_with('4') || status.starts_with('5') {
                    let content = resp["content"].as_object().expect("error content");
                    assert!(
                        content.contains_key("application/problem+json"),
                        "{method} {path} {status} is not problem+json"
                    );
                }
            }
        }
    }
}
