//! What the service prints when it has started: where to look.

use std::fmt::Write as _;

use crate::app::{RunningApp, storage_kind};

/// The start-up banner of a running service.
pub fn banner(app: &RunningApp, database_url: &str) -> String {
    let base = &app.public_url;
    let mut out = String::new();
    let _ = writeln!(out, "Abonent {} is running.", env!("CARGO_PKG_VERSION"));
    let _ = writeln!(out, "  API           {base}/api/v1");
    let _ = writeln!(out, "  API docs      {base}/docs");
    let _ = writeln!(out, "  OpenAPI       {base}/openapi.json");
    let _ = writeln!(out, "  health        {base}/health   ready {base}/ready");
    let _ = writeln!(out, "  database      {}", storage_kind(database_url));
    let _ = writeln!(
        out,
        "  sandbox inbox {base}/sandbox/inbox   (SMS and email sent)"
    );
    if let Some(accounts) = app.demo {
        let _ = writeln!(
            out,
            "Demo supplier {} «АО «Демо Энергосбыт»»: register by ЛС (holder's name) or link by \
             the payment-document code:",
            crate::demo::SUPPLIER
        );
        for a in accounts {
            let _ = writeln!(
                out,
                "  ЛС {}  {:<26} code {}  {}",
                a.number, a.holder, a.payment_code, a.about
            );
        }
        let _ = writeln!(
            out,
            "Demo operator (Admin): login {} password {}   (POST {base}/api/v1/operator/session)",
            crate::demo::OPERATOR_LOGIN,
            crate::demo::OPERATOR_PASSWORD
        );
    }
    let _ = writeln!(
        out,
        "  (journeys are being added; see README \"Status\" and docs/api.md)"
    );
    let _ = writeln!(out, "Stop with Ctrl+C.");
    out
}
