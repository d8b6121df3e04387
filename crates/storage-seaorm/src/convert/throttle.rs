//! [`ThrottleKey`] ⇄ the `(scope, subject)` columns of `throttle_keys` and `throttle_events`.

use identity_core::model::{ThrottleKey, ThrottleScope};

/// The scope tag and subject that store `key`.
pub fn key_columns(key: &ThrottleKey) -> (&'static str, &str) {
    let scope = match key.scope {
        ThrottleScope::Login => "login",
        ThrottleScope::Delivery => "delivery",
        ThrottleScope::LinkProof => "link_proof",
        ThrottleScope::RegistrationProof => "registration_proof",
        ThrottleScope::OwnerNotice => "owner_notice",
    };
    (scope, key.subject.as_str())
}
