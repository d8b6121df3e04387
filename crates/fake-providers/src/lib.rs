//! # fake-providers
//!
//! Sandbox implementations of the ports the cores need from the outside world, for running the
//! Abonent service without real SMS, email, captcha, payment or fiscal providers:
//!
//! - [`clock`] — [`SystemClock`] and [`AdjustableClock`] (system time plus an offset that tests
//!   move forward), each implementing both cores' `Clock` ports;
//! - [`random`] — [`OsRandom`], the operating system's CSPRNG;
//! - [`store`] — [`SandboxStore`], the storage these providers need (the outbox of rendered
//!   messages and captcha challenges), implemented by the composition root over the database;
//! - [`render`] — the Russian SMS and email texts of every `identity_core::model::Message`;
//! - [`sms`], [`email`] — [`SandboxSms`] and [`SandboxEmail`]: render and put in the outbox;
//! - [`captcha`] — [`SandboxCaptcha`]: arithmetic challenges whose answer the sandbox reveals;
//! - [`gateway`] — [`SandboxGateway`]: `billing_core::online::PaymentGateway` behaving like an
//!   acquirer's sandbox, with the logic of its hosted payment page (card checks, the test
//!   cards of [`TEST_CARDS`], a 3-D Secure code step, refunds), the webhook events it enqueues
//!   (format, chaos: [`WebhookChaos`]) and the storage it needs, [`GatewayStore`];
//! - [`fiscal`] — [`SandboxFiscal`]: `billing_core::receipt::FiscalRegistrar` behaving like a
//!   cloud cash register's sandbox: a registration (ФН, ФД, ФП) computed from the receipt, so a
//!   retry gets the same one, and the 54-ФЗ electronic receipt in Russian put in the outbox
//!   once per receipt, by email or else by SMS ([`FiscalSettings`]);
//! - [`webhooks`] — [`WebhookDispatcher`]: posts those events to the service's receiver through
//!   a [`WebhookTransport`], signed at send time by a [`Signer`], with leases, retries and
//!   exponential back-off.
//!
//! **Sandbox only.** The outbox stores rendered messages *with their codes and links* — the one
//! documented exception to "no secret reaches the database", allowed only when the service runs
//! with sandbox providers (docs/plans/issue-5.md §0, decision 8); outbox rows are purged after a
//! day ([`store::SandboxStore::purge_messages`]).
//!
//! **Architecture invariant:** this adapter depends on the two cores only, never on another
//! adapter (storage, HTTP): where it needs storage it declares [`SandboxStore`] and
//! [`GatewayStore`], where it needs HTTP [`WebhookTransport`] and [`Signer`], and the
//! composition root implements them.
#![deny(missing_docs)]

pub mod captcha;
pub mod clock;
pub mod email;
pub mod fiscal;
pub mod gateway;
pub mod random;
pub mod render;
pub mod sms;
pub mod store;
#[cfg(test)]
mod testing;
pub mod webhooks;

pub use captcha::{CaptchaChallenge, CaptchaSettings, SandboxCaptcha};
pub use clock::{AdjustableClock, OffsetOutOfRange, SystemClock};
pub use email::SandboxEmail;
pub use fiscal::{FiscalSettings, KIND_RECEIPT, SANDBOX_FISCAL_NUMBER, SandboxFiscal};
pub use gateway::{
    CardError, CardForm, CardOutcome, CheckoutView, GatewaySettings, GatewayStore, SandboxGateway,
    SandboxStatus, TEST_CARDS, TestCard, WebhookChaos,
};
pub use random::OsRandom;
pub use render::{EmailText, LinkBase};
pub use sms::SandboxSms;
pub use store::{
    CaptchaRow, MessageChannel, OutboxMessage, SandboxStore, StoreError, StoredMessage,
};
pub use webhooks::{
    DispatchReport, DispatcherSettings, Signer, WebhookDispatcher, WebhookTransport,
};
