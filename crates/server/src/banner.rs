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
        "  (the subscriber and operator journeys are being added; see README \"Status\")"
    );
    let _ = writeln!(out, "Stop with Ctrl+C.");
    out
}
