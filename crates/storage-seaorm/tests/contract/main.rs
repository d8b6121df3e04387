//! Contract tests of storage-seaorm: one suite per port of `identity-core` and `billing-core`
//! implemented so far (and one each for the sandbox providers' storage, the sandbox gateway's
//! storage and the HTTP idempotency keys), each test run
//! against SQLite (a fresh temporary file per test) and PostgreSQL (a fresh database per test,
//! created and dropped here), plus migrations, corrupt rows and concurrency.
//!
//! PostgreSQL is expected at `postgres://postgres@127.0.0.1:5432` (override with
//! `ABONENT_TEST_POSTGRES_URL`). When it is unreachable the PostgreSQL tests fail if `CI=true`
//! and otherwise pass after a loud notice on stderr that they were skipped; see
//! [`common::on_postgres`].

#[macro_use]
mod common;

mod accounts;
mod autopay;
mod billing_concurrency;
mod billing_run;
mod challenges;
mod charges;
mod concurrency;
mod connection;
mod consents;
mod contexts;
mod corrupt_rows;
mod crash;
mod directory;
mod houses;
mod idempotency;
mod keyrates;
mod ledger;
mod links;
mod meters;
mod migrations;
mod money;
mod online_payments;
mod operators;
mod periods;
mod questions;
mod readings;
mod recalculations;
mod receipts;
mod sandbox;
mod sandbox_gateway;
mod security_log;
mod sessions;
mod subscribers;
mod suppliers;
mod tariffs;
mod throttle;
mod volumes;
