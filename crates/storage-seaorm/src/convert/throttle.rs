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
        ThrottleScope::ClientAddress => "client_address",
        ThrottleScope::Question => "question",
    };
    (scope, key.subject.as_str())
}

#[cfg(test)]
mod tests {
    use identity_core::domain::SubscriberId;
    use identity_core::model::ClientAction;

    use super::*;

    /// The stored tags are a database format: pinned here, so a renamed scope cannot silently
    /// start a fresh count (or merge two).
    #[test]
    fn scope_tags_are_pinned() {
        let id = SubscriberId::from_bytes([7; 16]);
        let key = |scope| ThrottleKey {
            scope,
            subject: "s".to_owned(),
        };
        let tags = [
            (ThrottleScope::Login, "login"),
            (ThrottleScope::Delivery, "delivery"),
            (ThrottleScope::LinkProof, "link_proof"),
            (ThrottleScope::RegistrationProof, "registration_proof"),
            (ThrottleScope::OwnerNotice, "owner_notice"),
            (ThrottleScope::ClientAddress, "client_address"),
            (ThrottleScope::Question, "question"),
        ];
        for (scope, tag) in tags {
            assert_eq!(key_columns(&key(scope)), (tag, "s"));
            // Every tag fits the `scope` column (VARCHAR(32)).
            assert!(tag.len() <= 32);
        }
        assert_eq!(key_columns(&ThrottleKey::login_subscriber(id)).0, "login");
        assert_eq!(
            key_columns(&ThrottleKey::client_address(
                ClientAction::SendCode,
                "203.0.113.7:443"
            )),
            ("client_address", "send_code:203.0.113.7")
        );
    }
}
