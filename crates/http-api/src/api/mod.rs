//! The documented operations, one `#[OpenApi]` struct per area.

pub mod accounts;
pub mod backoffice;
pub mod cabinet;
pub mod imports;
pub mod meta;
pub mod operator;
pub mod payments;
pub mod public;
pub mod questions;
pub mod readings;
pub mod registration;
pub mod session;
pub mod settings;

use poem_openapi::Tags;

/// The groups of operations in the OpenAPI document.
#[derive(Tags)]
pub enum ApiTags {
    /// Probes and service information.
    Meta,
    /// What a visitor needs before logging in.
    Public,
    /// Registration and confirmation of phone and email.
    Registration,
    /// Login, sessions and the profile.
    Session,
    /// Password, email, name, consents, security log, blocking, recovery.
    Settings,
    /// The ЛС of the cabinet: linking, switching, unlinking.
    Accounts,
    /// Billing reads of a linked ЛС: meters, readings history, charges and why, balance,
    /// statement, payment document, tariffs, calculator, payments; supplier requisites.
    Cabinet,
    /// Online payments: the proposed amount, starting a payment at the gateway, its status.
    Payments,
    /// Meter readings: submit, correct, cancel.
    Readings,
    /// Questions to the supplier and answers.
    Questions,
    /// The supplier's operators: sessions, API keys, cabinets.
    Operator,
}
