//! Project automation, run as `cargo xtask <command>`.
//!
//! - `cargo xtask ci` — everything CI checks: format, clippy, tests (journeys on SQLite and
//!   PostgreSQL), Schemathesis against the running service, cargo-deny, core purity, docs.
//! - `cargo xtask schemathesis [--max-examples N] [--seed N]` — the Schemathesis step of `ci`
//!   alone (a random seed unless given; `ci` uses a fixed one).
//! - `cargo xtask openapi` — writes the service's OpenAPI document to `docs/openapi.json`.
//! - `cargo xtask demo` — bills a demo house and prints the explained bill, the ЕПД and its QR.
//! - `cargo xtask bench billing [--accounts N]` — the in-memory billing benchmark.
//! - `cargo xtask bench storage [--accounts N] [--backend sqlite|postgres|both]` — the persisted
//!   supplier-wide billing run on SQLite and PostgreSQL against each database's raw bulk load.
//! - `cargo xtask bench http [--subscribers N] [--seconds S] [--login-clients N] [--rate R]
//!   [--backend sqlite|postgres|both]` — the running service under load over HTTP (reading
//!   submissions, cabinet reads, logins, both at once) against pgbench and raw Argon2id.

#![allow(
    clippy::float_arithmetic,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_precision_loss,
    reason = "xtask prints figures; no money passes through these floats and casts"
)]

mod bench;
mod bench_http;
mod bench_storage;
mod ci;
mod demo;
mod openapi;
mod schemathesis;
#[cfg(test)]
mod tidy;

use std::process::ExitCode;

/// The benchmarks measure billing as the server runs it, with the same allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci::run(&args[1..]),
        Some("bench") => bench::run(&args[1..]),
        Some("demo") => demo::run(&args[1..]),
        Some("openapi") => openapi::run(&args[1..]),
        Some("schemathesis") => schemathesis::run(&args[1..]),
        _ => {
            eprintln!(
                "usage: cargo xtask <ci | demo | openapi | schemathesis [--max-examples N] [--seed N] \
                 | bench billing [--accounts N] [--threads N] [--chunk-houses N] \
                 | bench storage [--accounts N] [--backend sqlite|postgres|both] … \
                 | bench http [--subscribers N] [--seconds S] [--login-clients N] [--rate R] \
                 [--backend sqlite|postgres|both]>"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}
