//! SeaORM entities: the identity and billing tables as the database sees them.
//!
//! These are rows, not domain records: ids are 32-character lowercase hex, times are `i64`
//! nanoseconds since the Unix epoch (UTC, exact on both backends), digests are 32-byte blobs and
//! enums are short lowercase tags. Billing ids are the cores' numbers as BIGINT, days are
//! `YYYY-MM-DD` text, periods `year * 100 + month`, and money and volumes are [`Exact`].
//! [`crate::convert`] turns them into domain records and back; the schema they map is created
//! by [`crate::migration`].

pub mod challenge;
pub mod closed_period;
pub mod consent;
mod exact;
pub mod ledger_record;
pub mod linked_account;
pub mod operator;
pub mod operator_api_key;
pub mod operator_session;
pub mod payment;
pub mod question;
pub mod refund_request;
pub mod security_event;
pub mod session;
pub mod subscriber;
pub mod throttle_event;
pub mod throttle_key;

pub use exact::Exact;

pub mod account;
pub mod autopay_setting;
pub mod billing_run;
pub mod billing_run_house;
pub mod charge_set;
pub mod fiscal_receipt;
pub mod house;
pub mod house_period_fact;
pub mod key_rate_step;
pub mod meter;
pub mod online_payment;
pub mod penalty_window;
pub mod premise;
pub mod reading;
pub mod recalculation;
pub mod supplier;
pub mod tariff_version;
pub mod volume;

pub mod captcha_challenge;
pub mod outbox_message;
pub mod sandbox_payment;
pub mod sandbox_refund;
pub mod webhook_delivery;
