//! `cargo xtask openapi`: rewrites `docs/openapi.json` from the code (the http-api test
//! `openapi_json_is_committed` with `ABONENT_UPDATE_OPENAPI=1`); without it that test fails
//! when the committed document is stale.

use crate::ci::{cargo_command, workspace_root};

/// Regenerates `docs/openapi.json`.
pub fn run(args: &[String]) -> Result<(), String> {
    if !args.is_empty() {
        return Err(format!("openapi takes no arguments, got {args:?}"));
    }
    let root = workspace_root();
    let status = cargo_command(&root)
        .env("ABONENT_UPDATE_OPENAPI", "1")
        .args([
            "test",
            "--quiet",
            "-p",
            "http-api",
            "--test",
            "openapi",
            "--",
            "openapi_json_is_committed",
        ])
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!("writing docs/openapi.json failed: {status}"));
    }
    println!("wrote {}", root.join("docs/openapi.json").display());
    Ok(())
}
