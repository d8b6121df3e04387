//! # billing-core
//!
//! The pure statutory billing engine of Abonent: everything a Russian household utility supplier
//! needs to turn meters, readings, tariffs and payments into correct charges, penalties,
//! balances and payment documents — and to explain every kopeck of them.
//!
//! The crate does no IO and reads no clock or random source: time, storage and the key-rate
//! history enter through the traits in [`ports`]. Every rule it implements is cited in
//! `docs/billing.md` with its legal source; every uncertain rule is a named setting of
//! [`policy::BillingPolicy`].
//!
//! Main entry points:
//! - [`calculator::estimate`] — the quick "how much will this reading cost" estimate;
//! - [`charge::bill_account`] — one account's charges for a period, each line with its basis;
//! - [`odn::distribute`] — the house's common-property volume split by area;
//! - [`penalty::compute_penalties`] — penalties per debt tranche over intervals;
//! - [`ledger::Ledger`] — balance, debt tranches, payment allocation and statements;
//! - [`qr::QrPayload`] — the ГОСТ Р 56042-2014 payment QR payload;
//! - [`document::build_payment_document`] — the ЕПД for an account and period;
//! - [`usecase::BillingService`] — the use cases against the ports ([`reads`]: the thin read
//!   use cases of the HTTP API);
//! - [`online::OnlinePayments`] — online payments through a payment gateway;
//! - [`receipt::income_receipt`], [`receipt::refund_receipt`], [`receipt::Receipts`] — the
//!   electronic fiscal receipts (54-ФЗ) of online payments and refunds.
#![deny(missing_docs)]

pub mod allocation;
pub mod autopay;
pub mod calculator;
pub mod charge;
pub mod document;
pub mod ids;
pub mod keyrate;
pub mod ledger;
pub mod meter;
pub mod model;
pub mod money;
pub mod odn;
pub mod online;
pub mod penalty;
pub mod period;
pub mod policy;
pub mod ports;
pub mod qr;
pub mod reading;
pub mod reads;
pub mod receipt;
pub mod requisites;
pub mod run;
pub mod service;
pub mod tariff;
pub mod usecase;
pub mod vat;
pub mod volume;

pub use money::Money;
pub use period::Period;
pub use ports::RepoError;
pub use service::ServiceKind;
pub use usecase::{BillingPorts, BillingService};
