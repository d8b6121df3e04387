//! [`SandboxEmail`]: `identity_core::ports::EmailSender` that renders the email
//! ([`crate::render::render_email`], links under the public base URL) and puts it in the
//! sandbox outbox instead of sending it.

use std::sync::Arc;

use async_trait::async_trait;
use identity_core::domain::Email;
use identity_core::model::Message;
use identity_core::ports::{Clock, EmailSender, PortError};

use crate::render::{LinkBase, message_kind, render_email};
use crate::store::{MessageChannel, OutboxMessage, SandboxStore};

/// Sandbox email: every message goes to the outbox (one write) and the call returns at once.
#[derive(Clone)]
pub struct SandboxEmail {
    store: Arc<dyn SandboxStore>,
    clock: Arc<dyn Clock>,
    links: LinkBase,
}

impl SandboxEmail {
    /// Email into `store`'s outbox, stamped by `clock`, links built under `links`.
    pub fn new(store: Arc<dyn SandboxStore>, clock: Arc<dyn Clock>, links: LinkBase) -> Self {
        Self {
            store,
            clock,
            links,
        }
    }
}

impl std::fmt::Debug for SandboxEmail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxEmail")
            .field("links", &self.links)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl EmailSender for SandboxEmail {
    async fn send(&self, to: &Email, message: &Message) -> Result<(), PortError> {
        let text = render_email(message, &self.links);
        let outbox = OutboxMessage {
            channel: MessageChannel::Email,
            recipient: to.as_str().to_owned(),
            kind: message_kind(message).to_owned(),
            subject: Some(text.subject),
            body: text.body,
            correlation: None,
            created_at: self.clock.now(),
        };
        self.store.push_message(&outbox).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use identity_core::Secret;
    use identity_core::model::Purpose;
    use time::macros::datetime;
    use time::{Duration, OffsetDateTime};

    use super::*;
    use crate::store::{KIND_LINK, MemorySandboxStore};

    struct FixedClock(OffsetDateTime);

    impl Clock for FixedClock {
        fn now(&self) -> OffsetDateTime {
            self.0
        }
    }

    #[tokio::test]
    async fn a_link_lands_in_the_outbox_as_an_email_with_the_public_url() {
        let t0 = datetime!(2026-12-01 10:00 UTC);
        let store = Arc::new(MemorySandboxStore::new());
        let email = SandboxEmail::new(
            store.clone(),
            Arc::new(FixedClock(t0)),
            LinkBase::new("https://lk.example.ru/"),
        );
        let to = Email::parse("ivan@example.ru").unwrap();
        let link = Message::Link {
            token: Secret::from("00ff"),
            purpose: Purpose::ConfirmEmail,
            valid_for: Duration::hours(24),
        };
        email.send(&to, &link).await.unwrap();

        let found = store.messages(Some(to.as_str()), None, 10).await.unwrap();
        assert_eq!(found.len(), 1);
        let message = &found[0].message;
        assert_eq!(message.channel, MessageChannel::Email);
        assert_eq!(message.kind, KIND_LINK);
        assert_eq!(
            message.subject.as_deref(),
            Some("Подтверждение адреса электронной почты")
        );
        assert!(
            message
                .body
                .contains("https://lk.example.ru/l/confirm-email?token=00ff"),
            "{}",
            message.body
        );
        assert_eq!(message.created_at, t0);
        // Nothing went to anyone else.
        assert!(
            store
                .messages(Some("other@example.ru"), None, 10)
                .await
                .unwrap()
                .is_empty()
        );
    }
}
