//! # storage-seaorm
//!
//! Durable storage for the Abonent cores: SeaORM entities, sea-orm-migration migrations and
//! implementations of the repository ports, on **SQLite** (the embedded default: one file in
//! WAL mode) and **PostgreSQL** (production). Both backends pass the same contract tests
//! (`tests/contract`).
//!
//! ```no_run
//! # async fn demo() -> Result<(), storage_seaorm::StorageError> {
//! use std::sync::Arc;
//! use identity_core::ports::SubscriberRepository;
//!
//! let storage = storage_seaorm::Storage::connect("sqlite://abonent.db").await?;
//! storage.migrate().await?;
//! let subscribers: Arc<dyn SubscriberRepository> = Arc::new(storage.clone());
//! # let _ = subscribers;
//! # Ok(())
//! # }
//! ```
//!
//! [`Storage`] implements every repository port of `identity-core` (the cabinets' ports and the
//! back office's: questions, operators, their API keys and sessions) and of `billing-core`
//! (`Storage::billing_ports` wires a `BillingService` to it; `OnlinePaymentRepository` keeps
//! the online payments started at a gateway, `ReceiptRepository` the fiscal receipts claimed
//! exactly once per payment or refund, `AutopayRepository` the autopay settings written
//! compare-and-set on their version), bulk import methods for reference data, and the
//! persisted supplier-wide billing run ([`Storage::run_supplier_billing`], with
//! [`RunOptions`], [`RunProgress`], [`RunReport`], [`RunError`]); the `abonent-billing-run`
//! binary runs it from the command line. For the sandbox providers it also keeps the outbox of
//! rendered messages and the captcha challenges (`Storage::outbox_*`, `Storage::captcha_*`,
//! with [`NewOutboxMessage`], [`OutboxRow`], [`CaptchaRecord`]), and what finds an ЛС by the
//! proofs a subscriber shows: payment-document codes (as digests) and the house search
//! (`Storage::set_payment_code`, `Storage::account_by_payment_code`, `Storage::search_houses`,
//! with [`HouseMatch`]). For the sandbox payment gateway it keeps its payments, refunds and
//! webhook deliveries ([`sandbox_gateway`]: compare-and-set updates that enqueue their webhook
//! events in the same transaction, and leased claims of due deliveries). For the HTTP layer it keeps the idempotency keys of retried POSTs
//! (`Storage::idempotency_begin`, `Storage::idempotency_complete`,
//! `Storage::idempotency_renew`, `Storage::idempotency_abandon`, `Storage::idempotency_purge`,
//! with [`IdempotencyBegin`]):
//! the same key and request replays the first response, the same key with another request is
//! refused, and of concurrent claims of one key exactly one wins.
//!
//! Layout: [`migration`] (the schema), `entity` (rows), `convert` (rows ⇄ domain records,
//! one module per aggregate, corrupt rows reported as [`CorruptRow`]), `identity` and `billing`
//! (the port implementations, with how each MUST of the port contracts is kept), [`Storage`] (connection,
//! migrations, write transactions).
//!
//! **Architecture invariant:** rows are not domain records. Nothing outside this crate sees an
//! entity; the cores never see SeaORM.
//!
//! **Architecture invariant:** secrets never reach the database: sessions, codes and links are
//! stored as the SHA-256 digests `identity-core` computes, passwords as its Argon2id hashes.
#![deny(missing_docs)]

mod billing;
mod coalesce;
mod convert;
mod directory;
mod entity;
mod error;
mod idempotency;
mod identity;
mod joined;
pub mod migration;
mod sandbox;
pub mod sandbox_gateway;
mod storage;

pub use billing::run::{RunError, RunOptions, RunProgress, RunReport};
pub use coalesce::BatchCount;
pub use directory::{HouseMatch, SessionWithLink};
pub use error::{CorruptRow, StorageError};
pub use idempotency::IdempotencyBegin;
pub use sandbox::{CaptchaRecord, NewOutboxMessage, OutboxChannel, OutboxRow};
pub use sandbox_gateway::{
    NewWebhookDelivery, RefundAdded, SandboxPaymentRecord, SandboxRefundRecord, WebhookAttempt,
    WebhookAttemptOutcome, WebhookDeliveryRecord,
};
pub use storage::{
    Backend, Batches, PING_AFTER_IDLE, POSTGRES_POOL_SIZE, SQLITE_BUSY_TIMEOUT, SQLITE_POOL_SIZE,
    Storage,
};
