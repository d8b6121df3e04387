//! The repository ports of `billing-core`, implemented on [`crate::Storage`].
//!
//! Today: [`PeriodRepository`](billing_core::ports::PeriodRepository) and
//! [`LedgerRepository`](billing_core::ports::LedgerRepository). How each MUST is kept, on both
//! backends:
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
//! - **Periods close in order, once** — the primary key (supplier, period) refuses a second
//!   close (`Duplicate`); the order check runs under a per-supplier transaction lock
//!   (`pg_advisory_xact_lock`; SQLite's write lock).

mod ledger;
mod periods;
