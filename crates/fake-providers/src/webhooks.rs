//! [`WebhookDispatcher`]: posts the sandbox gateway's webhook deliveries
//! ([`GatewayStore`]) to the service's receiver, with retries and exponential back-off.
//!
//! Each [`WebhookDispatcher::run_once`] **leases** up to [`DispatcherSettings::batch`] due rows
//! ([`GatewayStore::claim_due_webhooks`], lease [`DispatcherSettings::lease`]) so that another
//! dispatcher does not post them at the same time, then posts each one in turn through the
//! [`WebhookTransport`] port (the server implements it with an HTTP client and a timeout) with
//! the headers
//!
//! | header | value |
//! |---|---|
//! | `Content-Type` | `application/json` |
//! | `Abonent-Signature` | the [`Signer`]'s value for the clock's unix time **at send time** and the body |
//! | `Abonent-Event-Id` | the event id (the delivery key without a `#…` suffix: a duplicate delivery carries its event's id) |
//! | `User-Agent` | `abonent-sandbox-gateway` |
//!
//! and records the attempt ([`GatewayStore::record_webhook_attempt`]): a 2xx answer is
//! delivered; anything else, or a transport error, is retried at `now + min(base · 2^n, max)`
//! (n = attempts made before this one; ±20 % jitter from the `Random` port unless turned off),
//! or given up after [`DispatcherSettings::max_attempts`]. Signing at send time keeps a late or
//! retried delivery within the receiver's timestamp tolerance.
//!
//! Delivery is at least once: a dispatcher that stops between posting and recording leaves the
//! row leased, and it is posted again when the lease ends (the receiver dedupes by event id).
//! Neither the payload nor the signature is logged.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use identity_core::ports::{Clock, Random};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::gateway::events::event_id_of;
use crate::gateway::store::{
    GatewayStore, StoreError, WebhookAttempt, WebhookAttemptOutcome, WebhookDeliveryRecord,
};

/// The `User-Agent` of every delivery.
pub const USER_AGENT: &str = "abonent-sandbox-gateway";

/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "Abonent-Signature";

/// The header carrying the event id.
pub const EVENT_ID_HEADER: &str = "Abonent-Event-Id";

/// Posts a webhook: the server implements it with an HTTP client (and its own timeout).
#[async_trait]
pub trait WebhookTransport: Send + Sync {
    /// POSTs `body` with `headers` to `url`; the HTTP status answered, or the transport error
    /// (English, for logs).
    async fn post(
        &self,
        url: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<u16, String>;
}

/// Given the unix time in seconds and the body, the value of the `Abonent-Signature` header.
/// The server wraps the receiver's signing function, so the format is defined once.
pub type Signer = Arc<dyn Fn(i64, &[u8]) -> String + Send + Sync>;

/// How the dispatcher works.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DispatcherSettings {
    /// Where events are posted (`http://127.0.0.1:8080/webhooks/payments`).
    pub url: String,
    /// The pause between two passes when there was nothing more to do (default 1 s).
    pub poll: Duration,
    /// How long a claimed row is hidden from other passes (default 30 s): longer than a post
    /// can take.
    pub lease: Duration,
    /// The most rows one pass claims (default 20).
    pub batch: u32,
    /// The first retry's delay (default 2 s); it doubles with every failed attempt…
    pub backoff_base: Duration,
    /// …up to this (default 10 min).
    pub backoff_max: Duration,
    /// Attempts before giving up (default 15, about 2.6 h).
    pub max_attempts: u32,
    /// Whether retry delays vary by ±20 % (default on; tests turn it off).
    pub jitter: bool,
}

impl DispatcherSettings {
    /// The defaults, posting to `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            poll: Duration::from_secs(1),
            lease: Duration::from_secs(30),
            batch: 20,
            backoff_base: Duration::from_secs(2),
            backoff_max: Duration::from_secs(600),
            max_attempts: 15,
            jitter: true,
        }
    }

    /// The retry delay after a failed attempt when `attempts_before` attempts had been made
    /// before it, without jitter: `min(backoff_base · 2^attempts_before, backoff_max)`.
    pub fn backoff(&self, attempts_before: u32) -> Duration {
        1u32.checked_shl(attempts_before)
            .and_then(|factor| self.backoff_base.checked_mul(factor))
            .map_or(self.backoff_max, |delay| delay.min(self.backoff_max))
    }
}

/// What one pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DispatchReport {
    /// Rows claimed.
    pub claimed: usize,
    /// Acknowledged by the receiver.
    pub delivered: usize,
    /// Failed, to be retried.
    pub retried: usize,
    /// Failed for the last time.
    pub gave_up: usize,
    /// Posted, but the attempt could not be recorded (posted again when the lease ends).
    pub unrecorded: usize,
}

/// The webhook dispatcher (see the module docs).
pub struct WebhookDispatcher {
    store: Arc<dyn GatewayStore>,
    transport: Arc<dyn WebhookTransport>,
    signer: Signer,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
    settings: DispatcherSettings,
}

impl std::fmt::Debug for WebhookDispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookDispatcher")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl WebhookDispatcher {
    /// A dispatcher of `store`'s deliveries through `transport`, signing with `signer`, timed
    /// by `clock`, jittering retries with `random`.
    pub fn new(
        store: Arc<dyn GatewayStore>,
        transport: Arc<dyn WebhookTransport>,
        signer: Signer,
        clock: Arc<dyn Clock>,
        random: Arc<dyn Random>,
        settings: DispatcherSettings,
    ) -> Self {
        Self {
            store,
            transport,
            signer,
            clock,
            random,
            settings,
        }
    }

    /// The settings it was made with.
    pub fn settings(&self) -> &DispatcherSettings {
        &self.settings
    }

    /// One pass: claims the due rows, posts each and records the attempts. Fails only if the
    /// rows could not be claimed; an attempt that could not be recorded is logged and counted
    /// ([`DispatchReport::unrecorded`]).
    pub async fn run_once(&self) -> Result<DispatchReport, StoreError> {
        let now = self.clock.now();
        let rows = self
            .store
            .claim_due_webhooks(now, now + self.settings.lease, self.settings.batch)
            .await?;
        let mut report = DispatchReport {
            claimed: rows.len(),
            ..DispatchReport::default()
        };
        for row in rows {
            let attempt = self.deliver(&row).await;
            match attempt.outcome {
                WebhookAttemptOutcome::Delivered => report.delivered += 1,
                WebhookAttemptOutcome::RetryAt(_) => report.retried += 1,
                WebhookAttemptOutcome::GaveUp => report.gave_up += 1,
            }
            match self.store.record_webhook_attempt(row.id, &attempt).await {
                Ok(true) => {}
                Ok(false) => tracing::debug!(
                    delivery = row.id,
                    "webhook attempt not recorded: the delivery is gone or finished"
                ),
                Err(e) => {
                    report.unrecorded += 1;
                    tracing::warn!(delivery = row.id, error = %e, "webhook attempt not recorded");
                }
            }
        }
        Ok(report)
    }

    /// Runs passes until `shutdown` becomes true (or its sender is dropped): a pass, then a
    /// pause of [`DispatcherSettings::poll`] unless the pass claimed a full batch. A failed
    /// pass is logged and the loop goes on.
    pub fn spawn(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) -> JoinHandle<()> {
        tokio::spawn(async move {
            tracing::info!(url = %self.settings.url, "webhook dispatcher started");
            while !*shutdown.borrow_and_update() {
                let full = match self.run_once().await {
                    Ok(report) => {
                        report.claimed > 0
                            && u32::try_from(report.claimed).is_ok_and(|n| n >= self.settings.batch)
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "webhook dispatcher pass failed");
                        false
                    }
                };
                if full {
                    continue;
                }
                tokio::select! {
                    () = tokio::time::sleep(self.settings.poll) => {}
                    changed = shutdown.changed() => {
                        if changed.is_err() {
                            break;
                        }
                    }
                }
            }
            tracing::info!("webhook dispatcher stopped");
        })
    }

    /// Posts one row, signed now, and says what the attempt led to.
    async fn deliver(&self, row: &WebhookDeliveryRecord) -> WebhookAttempt {
        let body = row.payload.as_bytes();
        let signed_at = self.clock.now().unix_timestamp();
        let event_id = event_id_of(&row.event_id);
        let headers = [
            ("Content-Type", "application/json".to_owned()),
            (SIGNATURE_HEADER, (self.signer)(signed_at, body)),
            (EVENT_ID_HEADER, event_id.to_owned()),
            ("User-Agent", USER_AGENT.to_owned()),
        ]
        .map(|(name, value)| (name.to_owned(), value));
        let result = self
            .transport
            .post(&self.settings.url, &headers, body)
            .await;
        let at = self.clock.now();
        let (status, error) = match result {
            Ok(status) => (Some(status), None),
            Err(error) => (None, Some(error)),
        };
        let attempts = row.attempts.saturating_add(1);
        let outcome = if status.is_some_and(|s| (200..300).contains(&s)) {
            WebhookAttemptOutcome::Delivered
        } else if attempts >= self.settings.max_attempts.max(1) {
            WebhookAttemptOutcome::GaveUp
        } else {
            WebhookAttemptOutcome::RetryAt(at + self.retry_delay(row.attempts))
        };
        match outcome {
            WebhookAttemptOutcome::Delivered => tracing::info!(
                delivery = row.id, event = %event_id, r#type = %row.event_type, attempts,
                "webhook delivered"
            ),
            _ => tracing::warn!(
                delivery = row.id, event = %event_id, r#type = %row.event_type, attempts,
                status = ?status, error = ?error, gave_up = outcome == WebhookAttemptOutcome::GaveUp,
                "webhook not delivered"
            ),
        }
        WebhookAttempt {
            at,
            status,
            error,
            outcome,
        }
    }

    /// The back-off after `attempts_before` earlier attempts, with jitter if on (none if the
    /// random source fails).
    fn retry_delay(&self, attempts_before: u32) -> Duration {
        let delay = self.settings.backoff(attempts_before);
        if !self.settings.jitter {
            return delay;
        }
        let mut draw = [0u8; 2];
        if self.random.fill(&mut draw).is_err() {
            return delay;
        }
        jittered(delay, u16::from_be_bytes(draw))
    }
}

/// `delay` scaled by a factor from 0.800 to 1.200 chosen by `draw` (integer arithmetic).
fn jittered(delay: Duration, draw: u16) -> Duration {
    let permille = 800 + u128::from(draw % 401);
    let nanos = delay.as_nanos() * permille / 1000;
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use time::OffsetDateTime;

    use super::*;
    use crate::gateway::store::{MemoryGatewayStore, NewWebhookDelivery};
    use crate::testing::{ByteRandom, ManualClock, RecordingTransport, T0};

    const URL: &str = "http://127.0.0.1:8080/webhooks/payments";
    const S: Duration = Duration::from_secs(1);

    struct Fixture {
        store: Arc<MemoryGatewayStore>,
        clock: Arc<ManualClock>,
        transport: Arc<RecordingTransport>,
        dispatcher: Arc<WebhookDispatcher>,
    }

    fn settings() -> DispatcherSettings {
        DispatcherSettings {
            backoff_max: Duration::from_secs(10),
            max_attempts: 4,
            jitter: false,
            ..DispatcherSettings::new(URL)
        }
    }

    fn fixture(settings: DispatcherSettings, answers: Vec<Result<u16, String>>) -> Fixture {
        let store = Arc::new(MemoryGatewayStore::new());
        let clock = ManualClock::new();
        let transport =
            Arc::new(RecordingTransport::new(clock.clone(), answers).probing(store.clone()));
        let signer: Signer = Arc::new(|t, body| format!("t={t},v1=len{}", body.len()));
        let dispatcher = Arc::new(WebhookDispatcher::new(
            store.clone(),
            transport.clone(),
            signer,
            clock.clone(),
            Arc::new(ByteRandom(0)),
            settings,
        ));
        Fixture {
            store,
            clock,
            transport,
            dispatcher,
        }
    }

    fn delivery(key: &str, due: OffsetDateTime) -> NewWebhookDelivery {
        NewWebhookDelivery {
            event_id: key.to_owned(),
            payment_id: "sbx_1".to_owned(),
            event_type: "payment.succeeded".to_owned(),
            payload: format!(r#"{{"id":"{}"}}"#, event_id_of(key)),
            due_at: due,
            created_at: T0,
        }
    }

    impl Fixture {
        async fn row(&self, id: u64) -> WebhookDeliveryRecord {
            let rows = self.store.webhook_deliveries(None, 100).await.unwrap();
            rows.into_iter().find(|r| r.id == id).unwrap()
        }

        async fn enqueue(&self, key: &str, due: OffsetDateTime) -> u64 {
            self.store
                .enqueue_webhook(&delivery(key, due))
                .await
                .unwrap()
        }

        async fn run(&self) -> DispatchReport {
            self.dispatcher.run_once().await.unwrap()
        }
    }

    fn report(claimed: usize, delivered: usize, retried: usize, gave_up: usize) -> DispatchReport {
        DispatchReport {
            claimed,
            delivered,
            retried,
            gave_up,
            unrecorded: 0,
        }
    }

    #[tokio::test]
    async fn a_2xx_answer_delivers_with_the_documented_headers() {
        let f = fixture(settings(), vec![Ok(204)]);
        let id = f.enqueue("evt_a#dup", T0).await;
        f.enqueue("evt_b", T0 + S).await;
        assert_eq!(f.run().await, report(1, 1, 0, 0));

        let posted = f.transport.posted();
        assert_eq!(posted.len(), 1);
        let p = &posted[0];
        assert_eq!(p.url, URL);
        assert_eq!(p.body, r#"{"id":"evt_a"}"#);
        assert_eq!(p.header("Content-Type"), Some("application/json"));
        assert_eq!(p.header("User-Agent"), Some(USER_AGENT));
        assert_eq!(p.header(EVENT_ID_HEADER), Some("evt_a"), "no #dup suffix");
        let expected = format!("t={},v1=len{}", T0.unix_timestamp(), p.body.len());
        assert_eq!(p.header(SIGNATURE_HEADER), Some(expected.as_str()));
        assert_eq!(p.headers.len(), 4);

        let row = f.row(id).await;
        assert_eq!(
            (row.attempts, row.delivered_at, row.last_status),
            (1, Some(T0), Some(204))
        );
        // Delivered rows are not claimed again; the other one is due a second later.
        assert_eq!(f.run().await, report(0, 0, 0, 0));
        f.clock.advance(S);
        assert_eq!(f.run().await, report(1, 1, 0, 0));
    }

    #[tokio::test]
    async fn a_failure_is_retried_after_the_base_delay_then_delivered() {
        let f = fixture(settings(), vec![Ok(500)]);
        let id = f.enqueue("evt_a", T0).await;
        assert_eq!(f.run().await, report(1, 0, 1, 0));
        let row = f.row(id).await;
        assert_eq!(row.next_attempt_at, T0 + 2 * S);
        assert_eq!(
            (row.attempts, row.last_status, row.delivered_at),
            (1, Some(500), None)
        );

        f.clock.advance(S);
        assert_eq!(f.run().await, report(0, 0, 0, 0), "not due yet");
        f.clock.advance(S);
        assert_eq!(f.run().await, report(1, 1, 0, 0));
        let row = f.row(id).await;
        assert_eq!((row.attempts, row.delivered_at), (2, Some(T0 + 2 * S)));
        assert_eq!(f.transport.posted().len(), 2);
    }

    #[tokio::test]
    async fn transport_errors_retry_with_a_capped_exponential_backoff_then_give_up() {
        let f = fixture(
            DispatcherSettings {
                max_attempts: 6,
                ..settings()
            },
            Vec::new(),
        );
        f.transport.always(Err("connection refused".to_owned()));
        let id = f.enqueue("evt_a", T0).await;
        let mut delays = Vec::new();
        for _ in 0..5 {
            let before = f.clock.now();
            assert_eq!(f.run().await, report(1, 0, 1, 0));
            let row = f.row(id).await;
            assert_eq!(row.last_error.as_deref(), Some("connection refused"));
            assert_eq!(row.last_status, None);
            delays.push(row.next_attempt_at - before);
            f.clock.set(row.next_attempt_at);
        }
        let secs: Vec<i64> = delays.iter().map(|d| d.whole_seconds()).collect();
        assert_eq!(secs, [2, 4, 8, 10, 10]);
        // The sixth attempt is the last.
        assert_eq!(f.run().await, report(1, 0, 0, 1));
        let row = f.row(id).await;
        assert_eq!((row.attempts, row.failed_at), (6, Some(f.clock.now())));
        f.clock.advance(Duration::from_secs(3600));
        assert_eq!(f.run().await, report(0, 0, 0, 0));
        assert_eq!(f.transport.posted().len(), 6);
    }

    #[test]
    fn the_backoff_doubles_and_never_overflows() {
        let s = settings();
        let secs: Vec<u64> = (0..6).map(|n| s.backoff(n).as_secs()).collect();
        assert_eq!(secs, [2, 4, 8, 10, 10, 10]);
        for n in [31, 32, 64, u32::MAX] {
            assert_eq!(s.backoff(n), s.backoff_max, "{n}");
        }
        let defaults = DispatcherSettings::new(URL);
        assert_eq!(defaults.backoff(8), Duration::from_secs(512));
        assert_eq!(defaults.backoff(9), Duration::from_secs(600));
        assert!(defaults.jitter);
        assert_eq!(
            (
                defaults.poll,
                defaults.lease,
                defaults.batch,
                defaults.max_attempts
            ),
            (S, 30 * S, 20, 15)
        );
    }

    #[test]
    fn jitter_stays_within_twenty_percent() {
        let delay = Duration::from_secs(10);
        assert_eq!(jittered(delay, 0), Duration::from_secs(8));
        assert_eq!(jittered(delay, 400), Duration::from_secs(12));
        assert_eq!(jittered(delay, 200), delay);
        assert_eq!(jittered(delay, 401), Duration::from_secs(8));
        for draw in (0..=u16::MAX).step_by(97) {
            let d = jittered(delay, draw);
            assert!(
                d >= Duration::from_secs(8) && d <= Duration::from_secs(12),
                "{d:?}"
            );
        }
    }

    #[tokio::test]
    async fn retries_are_jittered_by_the_random_source_when_on() {
        let store = Arc::new(MemoryGatewayStore::new());
        let clock = ManualClock::new();
        let transport = Arc::new(RecordingTransport::new(clock.clone(), vec![Ok(503)]));
        let dispatcher = WebhookDispatcher::new(
            store.clone(),
            transport,
            Arc::new(|_, _| String::new()),
            clock.clone(),
            // Every draw is 0x0101 = 257: 257 % 401 → factor 1.057.
            Arc::new(ByteRandom(1)),
            DispatcherSettings {
                jitter: true,
                ..settings()
            },
        );
        store.enqueue_webhook(&delivery("evt_a", T0)).await.unwrap();
        dispatcher.run_once().await.unwrap();
        let row = &store.webhook_deliveries(None, 1).await.unwrap()[0];
        assert_eq!(row.next_attempt_at, T0 + Duration::from_millis(2114));
    }

    #[tokio::test]
    async fn the_signature_is_made_at_send_time() {
        let f = fixture(settings(), Vec::new());
        f.enqueue("evt_a", T0).await;
        // Sent 4 minutes after it was enqueued (a late delivery).
        f.clock.advance(Duration::from_secs(240));
        f.run().await;
        let p = &f.transport.posted()[0];
        let t = p.at.unix_timestamp();
        assert_eq!(t, T0.unix_timestamp() + 240);
        assert!(
            p.header(SIGNATURE_HEADER)
                .unwrap()
                .starts_with(&format!("t={t},"))
        );
    }

    #[tokio::test]
    async fn a_lease_hides_a_row_until_it_expires() {
        let f = fixture(settings(), Vec::new());
        let id = f.enqueue("evt_a", T0).await;
        // Another dispatcher claimed the row and stopped before recording its attempt.
        let lease = T0 + Duration::from_secs(30);
        assert_eq!(
            f.store
                .claim_due_webhooks(T0, lease, 10)
                .await
                .unwrap()
                .len(),
            1
        );
        assert_eq!(f.run().await, report(0, 0, 0, 0));
        f.clock.set(lease - S);
        assert_eq!(f.run().await, report(0, 0, 0, 0));
        f.clock.set(lease);
        assert_eq!(f.run().await, report(1, 1, 0, 0));
        // While it posted, this dispatcher held the lease for its configured 30 s.
        assert_eq!(
            f.transport.posted()[0].lease,
            Some(lease + Duration::from_secs(30))
        );
        assert_eq!(f.row(id).await.delivered_at, Some(lease));
    }

    #[tokio::test]
    async fn a_batch_is_limited_and_posted_in_due_order() {
        let f = fixture(
            DispatcherSettings {
                batch: 2,
                ..settings()
            },
            Vec::new(),
        );
        for (key, due) in [("evt_c", T0), ("evt_a", T0 - 2 * S), ("evt_b", T0 - S)] {
            f.enqueue(key, due).await;
        }
        assert_eq!(f.run().await, report(2, 2, 0, 0));
        assert_eq!(f.run().await, report(1, 1, 0, 0));
        let order: Vec<String> = f
            .transport
            .posted()
            .iter()
            .map(|p| p.header(EVENT_ID_HEADER).unwrap().to_owned())
            .collect();
        assert_eq!(order, ["evt_a", "evt_b", "evt_c"]);
    }

    #[tokio::test]
    async fn the_spawned_loop_delivers_and_stops_on_shutdown() {
        let f = fixture(
            DispatcherSettings {
                poll: Duration::from_millis(10),
                ..settings()
            },
            Vec::new(),
        );
        let (stop, stopped) = watch::channel(false);
        let handle = f.dispatcher.clone().spawn(stopped);
        let id = f.enqueue("evt_a", T0).await;
        let mut waited = 0;
        while f.row(id).await.delivered_at.is_none() {
            assert!(waited < 500, "not delivered in 5 s");
            tokio::time::sleep(Duration::from_millis(10)).await;
            waited += 1;
        }
        stop.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(5), handle)
            .await
            .expect("the loop stops")
            .unwrap();

        // Dropping the sender stops it too.
        let (stop, stopped) = watch::channel(false);
        let handle = f.dispatcher.clone().spawn(stopped);
        drop(stop);
        tokio::time::timeout(Duration::from_secs(5), handle)
            .await
            .expect("the loop stops")
            .unwrap();
    }
}
