//! [`SandboxSms`]: `identity_core::ports::SmsSender` that renders the text
//! ([`crate::render::render_sms`]) and puts it in the sandbox outbox instead of sending it.

use std::sync::Arc;

use async_trait::async_trait;
use identity_core::domain::Phone;
use identity_core::model::Message;
use identity_core::ports::{Clock, PortError, SmsSender};

use crate::render::{LinkBase, message_kind, render_sms};
use crate::store::{MessageChannel, OutboxMessage, SandboxStore};

/// Sandbox SMS: every message goes to the outbox (one write) and the call returns at once.
#[derive(Clone)]
pub struct SandboxSms {
    store: Arc<dyn SandboxStore>,
    clock: Arc<dyn Clock>,
    links: LinkBase,
}

impl SandboxSms {
    /// SMS into `store`'s outbox, stamped by `clock`, links built under `links`.
    pub fn new(store: Arc<dyn SandboxStore>, clock: Arc<dyn Clock>, links: LinkBase) -> Self {
        Self {
            store,
            clock,
            links,
        }
    }
}

impl std::fmt::Debug for SandboxSms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxSms")
            .field("links", &self.links)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl SmsSender for SandboxSms {
    async fn send(&self, to: &Phone, message: &Message) -> Result<(), PortError> {
        let outbox = OutboxMessage {
            channel: MessageChannel::Sms,
            recipient: to.as_str().to_owned(),
            kind: message_kind(message).to_owned(),
            subject: None,
            body: render_sms(message, &self.links),
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
    use crate::store::{KIND_CODE, KIND_NOTICE, MemorySandboxStore, StoredMessage};
    use crate::testing::FlakyStore;

    struct FixedClock(OffsetDateTime);

    impl Clock for FixedClock {
        fn now(&self) -> OffsetDateTime {
            self.0
        }
    }

    const T0: OffsetDateTime = datetime!(2026-12-01 10:00 UTC);

    #[tokio::test]
    async fn a_code_lands_in_the_outbox_as_an_sms() {
        let store = Arc::new(MemorySandboxStore::new());
        let sms = SandboxSms::new(
            store.clone(),
            Arc::new(FixedClock(T0)),
            LinkBase::new("http://127.0.0.1:8080"),
        );
        let phone = Phone::parse("+79161234567").unwrap();
        let code = Message::Code {
            code: Secret::from("123456"),
            purpose: Purpose::Registration,
            valid_for: Duration::minutes(10),
        };
        sms.send(&phone, &code).await.unwrap();
        sms.send(&phone, &Message::PasswordChanged).await.unwrap();

        let found = store
            .messages(Some("+79161234567"), None, 10)
            .await
            .unwrap();
        assert_eq!(found.len(), 2);
        let StoredMessage { message, .. } = &found[0];
        assert_eq!(message.channel, MessageChannel::Sms);
        assert_eq!(message.kind, KIND_CODE);
        assert_eq!(message.subject, None);
        assert_eq!(message.created_at, T0);
        assert_eq!(message.body, render_sms(&code, &LinkBase::new("http://x")));
        assert!(message.body.contains("123456"));
        assert_eq!(found[1].message.kind, KIND_NOTICE);
        assert!(format!("{sms:?}").contains("SandboxSms"));
    }

    #[tokio::test]
    async fn a_store_failure_is_a_port_error() {
        let broken = FlakyStore::default();
        broken.set_down(true);
        let sms = SandboxSms::new(
            Arc::new(broken),
            Arc::new(FixedClock(T0)),
            LinkBase::new("http://x"),
        );
        let phone = Phone::parse("+79161234567").unwrap();
        let err = sms
            .send(&phone, &Message::CabinetBlocked)
            .await
            .unwrap_err();
        assert!(err.message().contains("database down"), "{err}");
    }
}
