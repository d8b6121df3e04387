//! The documented operations, one `#[OpenApi]` struct per area.

pub mod accounts;
pub mod meta;
pub mod public;
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
}
