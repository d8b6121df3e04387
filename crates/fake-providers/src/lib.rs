//! # fake-providers
//!
//! Sandbox implementations of the ports the cores need from the outside world, for running the
//! Abonent service without real SMS, email or captcha providers:
//!
//! - [`clock`] — [`SystemClock`] and [`AdjustableClock`] (system time plus an offset that tests
//!   move forward), each implementing both cores' `Clock` ports;
//! - [`random`] — [`OsRandom`], the operating system's CSPRNG;
//! - [`store`] — [`SandboxStore`], the storage these providers need (the outbox of rendered
//!   messages and captcha challenges), implemented by the composition root over the database;
//! - [`render`] — the Russian SMS and email texts of every `identity_core::model::Message`;
//! - [`sms`], [`email`] — [`SandboxSms`] and [`SandboxEmail`]: render and put in the outbox;
//! - [`captcha`] — [`SandboxCaptcha`]: arithmetic challenges whose answer the sandbox reveals.
//!
//! **Sandbox only.** The outbox stores rendered messages *with their codes and links* — the one
//! documented exception to "no secret reaches the database", allowed only when the service runs
//! with sandbox providers (docs/plans/issue-5.md §0, decision 8); outbox rows are purged after a
//! day ([`store::SandboxStore::purge_messages`]).
//!
//! **Architecture invariant:** this adapter depends on the two cores only, never on another
//! adapter (storage, HTTP): where it needs storage it declares [`SandboxStore`], and the
//! composition root implements it.
#![deny(missing_docs)]

pub mod captcha;
pub mod clock;
pub mod email;
pub mod random;
pub mod render;
pub mod sms;
pub mod store;

pub use captcha::{CaptchaChallenge, CaptchaSettings, SandboxCaptcha};
pub use clock::{AdjustableClock, OffsetOutOfRange, SystemClock};
pub use email::SandboxEmail;
pub use random::OsRandom;
pub use render::{EmailText, LinkBase};
pub use sms::SandboxSms;
pub use store::{
    CaptchaRow, MessageChannel, OutboxMessage, SandboxStore, StoreError, StoredMessage,
};
