//! The repository ports of `billing-core`, implemented on [`crate::Storage`].
//!
//! Every port; the modules say how each MUST is kept (`readings`, `charges`, `run` …). Those of
//! [`PeriodRepository`](billing_core::ports::PeriodRepository) and
//! [`LedgerRepository`](billing_core::ports::LedgerRepository), on both backends:
//!
//! - **One payment per gateway id** — UNIQUE `payments.gateway_id`; the payment and its
//!   `payment_created` journal row are one transaction, so a duplicate writes nothing and comes
//!   back as `RepoError::Duplicate` (mapped in [`crate::error`]).
//! - **Payment transitions are a compare-and-set** — `UPDATE payments SET state = $to … WHERE
//!   gateway_id = $1 AND state = $from` and the journal row in one write transaction; zero rows
//!   is `Conflict` (or `NotFound` when the payment does not exist). On PostgreSQL a racing
//!   UPDATE waits for the winner's row lock and then re-checks `state`, so it matches nothing; on
//!   SQLite `BEGIN IMMEDIATE` makes the transactions take turns.
//! - **Refunds never exceed their payment** — `complete_refund` locks the request and the
//!   payment (`FOR UPDATE`; SQLite's write lock), checks `requested` and `refunded =
//!   refunded_before`, refuses a total above the payment, and writes both rows with conditional
//!   UPDATEs plus the `refund` journal row in one transaction.
//! - **One online payment per `order_ref` and per gateway id** — PK `online_payments.gateway_id`
//!   and UNIQUE `order_ref`; either violation is `RepoError::Duplicate` with nothing written
//!   (`online`).
//! - **Periods close in order, once** — the primary key (supplier, period) refuses a second
//!   close (`Duplicate`); the order check runs under a per-supplier transaction lock
//!   (`pg_advisory_xact_lock`; SQLite's write lock).
//! - **One fiscal receipt per (payment, kind, refund request)** — UNIQUE on `fiscal_receipts`;
//!   a second claim is `RepoError::Duplicate` with nothing written (`receipts`).
//! - **Autopay settings are a compare-and-set on `version`** — a first write is an INSERT the
//!   primary key (`account_id`, `payer`) refuses when settings exist, a later one an `UPDATE …
//!   WHERE version = n`; either refusal is `RepoError::Conflict` with nothing written
//!   (`autopay`).

mod autopay;
mod ledger;
mod online;
mod periods;
mod receipts;

mod accounts;
mod charges;
pub(crate) mod contexts;
mod houses;
mod import;
mod keyrates;
mod meters;
pub(crate) mod readings;
mod recalculations;
pub(crate) mod run;
pub(crate) mod shapes;
mod suppliers;
mod tariffs;
mod volumes;

use std::sync::Arc;

use billing_core::ports::Clock;
use billing_core::usecase::BillingPorts;

impl crate::Storage {
    /// Every port a `BillingService` needs, on this storage, with `clock` for time.
    pub fn billing_ports(&self, clock: Arc<dyn Clock>) -> BillingPorts {
        let s = Arc::new(self.clone());
        BillingPorts {
            clock,
            key_rates: s.clone(),
            suppliers: s.clone(),
            houses: s.clone(),
            accounts: s.clone(),
            meters: s.clone(),
            readings: s.clone(),
            tariffs: s.clone(),
            volumes: s.clone(),
            charges: s.clone(),
            periods: s.clone(),
            ledger: s.clone(),
            recalculations: s.clone(),
            contexts: s,
        }
    }
}
