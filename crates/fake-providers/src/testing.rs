//! Fakes shared by this crate's unit tests: a clock moved by hand, a scripted random source, a
//! sandbox store whose outbox can be taken down and a webhook transport that records what it
//! was asked to post.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use identity_core::ports::{Clock, PortError, Random};
use time::OffsetDateTime;
use time::macros::datetime;

use crate::gateway::store::{GatewayStore, MemoryGatewayStore};
use crate::store::{
    CaptchaRow, MemorySandboxStore, OutboxMessage, SandboxStore, StoreError, StoredMessage,
};
use crate::webhooks::WebhookTransport;

/// Where [`ManualClock`]s start: 2026-12-01 10:00 UTC.
pub(crate) const T0: OffsetDateTime = datetime!(2026-12-01 10:00 UTC);

/// A clock that stands still until moved.
#[derive(Debug)]
pub(crate) struct ManualClock(Mutex<OffsetDateTime>);

impl ManualClock {
    /// A clock at [`T0`].
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self(Mutex::new(T0)))
    }

    /// Moves it by `by`.
    pub(crate) fn advance(&self, by: std::time::Duration) {
        let mut now = self.0.lock().unwrap();
        *now += by;
    }

    /// Sets it to `at`.
    pub(crate) fn set(&self, at: OffsetDateTime) {
        *self.0.lock().unwrap() = at;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap()
    }
}

/// A random source that repeats one byte.
#[derive(Debug)]
pub(crate) struct ByteRandom(pub(crate) u8);

impl Random for ByteRandom {
    fn fill(&self, buf: &mut [u8]) -> Result<(), PortError> {
        buf.fill(self.0);
        Ok(())
    }
}

/// A [`MemorySandboxStore`] whose outbox (writes and reads) fails with «database down» while
/// it is down.
#[derive(Debug, Default)]
pub(crate) struct FlakyStore {
    inner: MemorySandboxStore,
    down: AtomicBool,
}

impl FlakyStore {
    /// Takes the outbox down (`true`) or brings it back.
    pub(crate) fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    fn outbox(&self) -> Result<&MemorySandboxStore, StoreError> {
        if self.down.load(Ordering::SeqCst) {
            Err(StoreError::Unavailable("database down".to_owned()))
        } else {
            Ok(&self.inner)
        }
    }
}

#[async_trait]
impl SandboxStore for FlakyStore {
    async fn push_message(&self, message: &OutboxMessage) -> Result<u64, StoreError> {
        self.outbox()?.push_message(message).await
    }
    async fn messages(
        &self,
        to: Option<&str>,
        after: Option<u64>,
        limit: u32,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        self.outbox()?.messages(to, after, limit).await
    }
    async fn purge_messages(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        self.inner.purge_messages(before).await
    }
    async fn put_captcha(&self, captcha: &CaptchaRow) -> Result<(), StoreError> {
        self.inner.put_captcha(captcha).await
    }
    async fn use_captcha(
        &self,
        id: &str,
        answer_digest: &[u8; 32],
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.inner.use_captcha(id, answer_digest, now).await
    }
    async fn purge_captchas(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        self.inner.purge_captchas(before).await
    }
}

/// A request the [`RecordingTransport`] was asked to post.
#[derive(Clone, Debug)]
pub(crate) struct Posted {
    pub(crate) url: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: String,
    /// The clock when it was posted.
    pub(crate) at: OffsetDateTime,
    /// The row's `next_attempt_at` in the store while it was posted (its lease), if probed.
    pub(crate) lease: Option<OffsetDateTime>,
}

impl Posted {
    /// The value of header `name`.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A transport answering from a script (then 200), recording every request.
pub(crate) struct RecordingTransport {
    clock: Arc<ManualClock>,
    answers: Mutex<VecDeque<Result<u16, String>>>,
    posted: Mutex<Vec<Posted>>,
    probe: Option<Arc<MemoryGatewayStore>>,
}

impl RecordingTransport {
    /// Answers `answers` in turn, then 200; notes the time by `clock`.
    pub(crate) fn new(clock: Arc<ManualClock>, answers: Vec<Result<u16, String>>) -> Self {
        Self {
            clock,
            answers: Mutex::new(answers.into()),
            posted: Mutex::new(Vec::new()),
            probe: None,
        }
    }

    /// Also notes the leased row's `next_attempt_at` in `store` while posting.
    pub(crate) fn probing(mut self, store: Arc<MemoryGatewayStore>) -> Self {
        self.probe = Some(store);
        self
    }

    /// Always answers `answer`.
    pub(crate) fn always(&self, answer: Result<u16, String>) {
        let mut answers = self.answers.lock().unwrap();
        answers.clear();
        answers.extend(std::iter::repeat_n(answer, 1000));
    }

    /// What was posted so far.
    pub(crate) fn posted(&self) -> Vec<Posted> {
        self.posted.lock().unwrap().clone()
    }
}

#[async_trait]
impl WebhookTransport for RecordingTransport {
    async fn post(
        &self,
        url: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<u16, String> {
        let lease = match &self.probe {
            Some(store) => {
                let rows = store.webhook_deliveries(None, 1000).await.unwrap();
                let body = String::from_utf8_lossy(body);
                rows.iter()
                    .find(|r| r.payload == body && r.delivered_at.is_none())
                    .map(|r| r.next_attempt_at)
            }
            None => None,
        };
        self.posted.lock().unwrap().push(Posted {
            url: url.to_owned(),
            headers: headers.to_vec(),
            body: String::from_utf8_lossy(body).into_owned(),
            at: self.clock.now(),
            lease,
        });
        self.answers.lock().unwrap().pop_front().unwrap_or(Ok(200))
    }
}
