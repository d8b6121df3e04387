//! # server
//!
//! The composition root of the bundled service: it reads the [`config::Config`], connects
//! `storage-seaorm` (SQLite by default, PostgreSQL for production), applies the migrations,
//! builds the `http-api` state and serves it ([`app::App::start`]) until told to stop, then
//! drains requests in flight ([`app::RunningApp::stop`]). The `abonent` binary (`main.rs`)
//! adds the command line, logging and signal handling; the black-box tests in `tests/` start
//! the same [`app::App`] in-process.
#![deny(missing_docs)]

pub mod app;
pub mod backoffice;
pub mod banner;
pub mod config;
pub mod demo;
pub mod gateway_glue;
pub mod glue;
pub mod hashing;
pub mod import;
pub mod maintenance;
pub mod payment_codes;
pub mod sandbox;
pub mod sandbox_pay;
