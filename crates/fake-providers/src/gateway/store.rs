//! [`GatewayStore`]: the storage the sandbox payment gateway needs — its **payments** and
//! **refunds** and the **webhook deliveries** the dispatcher works through — with its own plain
//! types, reusing [`StoreError`].
//!
//! The trait lives here, in the adapter that consumes it; the composition root implements it
//! over the database's `sandbox_payments`, `sandbox_refunds` and `webhook_deliveries` methods
//! (one to one), so this crate never depends on the storage adapter. `MemoryGatewayStore`
//! (with the `test-support` feature, and in this crate's tests) keeps everything in memory with
//! the same semantics.
//!
//! The money-safety rules an implementation MUST keep:
//!
//! - [`GatewayStore::update_payment`] is a compare-and-set on
//!   [`SandboxPaymentRecord::version`], and the webhook events it is given are enqueued in the
//!   **same transaction**: a payment never becomes final without its events, nor twice;
//! - [`GatewayStore::add_refund`] writes the refund (unique `refund_ref`), the payment (same
//!   compare-and-set) and the events as one transaction, so the amount refunded never exceeds
//!   what the gateway checked against;
//! - [`GatewayStore::claim_due_webhooks`] leases the rows it returns in the same statement, so
//!   two dispatchers never post the same row at once while the lease lasts.

use async_trait::async_trait;
use billing_core::money::Money;
use time::OffsetDateTime;

pub use crate::store::StoreError;

/// A payment at the sandbox gateway, as stored. **No card number**: only its last four digits
/// and its brand.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SandboxPaymentRecord {
    /// The gateway's id: `sbx_` and 24 lowercase hex characters.
    pub id: String,
    /// The merchant's idempotence key (unique).
    pub order_ref: String,
    /// The account paid (digits).
    pub account_number: String,
    /// The amount.
    pub amount: Money,
    /// What is paid, in Russian.
    pub description: String,
    /// Where the payer is sent back.
    pub return_url: String,
    /// The fiscal receipt's email, if given.
    pub contact_email: Option<String>,
    /// The fiscal receipt's phone, if given (the confirmation code is sent to it).
    pub contact_phone: Option<String>,
    /// `pending`, `awaiting_code`, `succeeded` or `failed` (see
    /// [`crate::gateway::SandboxStatus`]).
    pub status: String,
    /// Why it failed, in Russian (`failed` only).
    pub failure_reason: Option<String>,
    /// The last four digits of the card paid with, once a card was submitted.
    pub card_last4: Option<String>,
    /// The brand of that card (`МИР`, `Visa`, `Mastercard`, …).
    pub card_brand: Option<String>,
    /// Wrong confirmation codes entered so far.
    pub code_attempts: u32,
    /// The amount refunded so far.
    pub refunded: Money,
    /// When it was created.
    pub created_at: OffsetDateTime,
    /// When it last changed.
    pub updated_at: OffsetDateTime,
    /// The compare-and-set version: the store writes `version + 1` on every update.
    pub version: u64,
}

/// A refund at the sandbox gateway.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SandboxRefundRecord {
    /// The gateway's id: `rfd_` and 24 lowercase hex characters.
    pub id: String,
    /// The payment refunded.
    pub payment_id: String,
    /// The merchant's idempotence key (unique over all refunds).
    pub refund_ref: String,
    /// The amount.
    pub amount: Money,
    /// When it was made.
    pub created_at: OffsetDateTime,
}

/// A webhook delivery to enqueue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewWebhookDelivery {
    /// The delivery's unique key: the event id (`evt_…`), or for an extra delivery of the same
    /// event the event id with a `#` suffix (`evt_…#dup`). The payload always carries the
    /// plain event id.
    pub event_id: String,
    /// The payment the event is about.
    pub payment_id: String,
    /// `payment.succeeded`, `payment.failed`, `payment.pending` or `refund.succeeded`.
    pub event_type: String,
    /// The JSON body to post (see [`crate::gateway`] for the format).
    pub payload: String,
    /// When the first attempt is due.
    pub due_at: OffsetDateTime,
    /// When it was enqueued.
    pub created_at: OffsetDateTime,
}

/// A webhook delivery as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookDeliveryRecord {
    /// Its id, greater than that of every delivery enqueued before it.
    pub id: u64,
    /// The delivery's unique key ([`NewWebhookDelivery::event_id`]).
    pub event_id: String,
    /// The payment the event is about.
    pub payment_id: String,
    /// The event's type.
    pub event_type: String,
    /// The JSON body.
    pub payload: String,
    /// Attempts made so far.
    pub attempts: u32,
    /// When the next attempt is due (while leased: when the lease ends).
    pub next_attempt_at: OffsetDateTime,
    /// When the receiver acknowledged it (2xx), if it did.
    pub delivered_at: Option<OffsetDateTime>,
    /// When the dispatcher gave up on it, if it did.
    pub failed_at: Option<OffsetDateTime>,
    /// The HTTP status of the last attempt, if the receiver answered.
    pub last_status: Option<u16>,
    /// The transport error of the last attempt, if any (English).
    pub last_error: Option<String>,
    /// When it was enqueued.
    pub created_at: OffsetDateTime,
}

impl WebhookDeliveryRecord {
    /// A new row from what was enqueued: no attempts, due at `due_at`.
    pub fn new(id: u64, delivery: &NewWebhookDelivery) -> Self {
        Self {
            id,
            event_id: delivery.event_id.clone(),
            payment_id: delivery.payment_id.clone(),
            event_type: delivery.event_type.clone(),
            payload: delivery.payload.clone(),
            attempts: 0,
            next_attempt_at: delivery.due_at,
            delivered_at: None,
            failed_at: None,
            last_status: None,
            last_error: None,
            created_at: delivery.created_at,
        }
    }

    /// True once it was delivered or given up on.
    pub fn is_finished(&self) -> bool {
        self.delivered_at.is_some() || self.failed_at.is_some()
    }

    /// Applies an attempt as [`GatewayStore::record_webhook_attempt`] does.
    pub fn apply(&mut self, attempt: &WebhookAttempt) {
        self.attempts = self.attempts.saturating_add(1);
        self.last_status = attempt.status;
        self.last_error.clone_from(&attempt.error);
        match attempt.outcome {
            WebhookAttemptOutcome::Delivered => self.delivered_at = Some(attempt.at),
            WebhookAttemptOutcome::RetryAt(at) => self.next_attempt_at = at,
            WebhookAttemptOutcome::GaveUp => self.failed_at = Some(attempt.at),
        }
    }
}

/// What an attempt led to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WebhookAttemptOutcome {
    /// The receiver acknowledged it: done.
    Delivered,
    /// It failed; try again at this time.
    RetryAt(OffsetDateTime),
    /// It failed for the last time: no more attempts.
    GaveUp,
}

/// One attempt to deliver a webhook.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookAttempt {
    /// When it was made.
    pub at: OffsetDateTime,
    /// The receiver's HTTP status, if it answered.
    pub status: Option<u16>,
    /// The transport error, if it did not (English).
    pub error: Option<String>,
    /// What it led to.
    pub outcome: WebhookAttemptOutcome,
}

/// What [`GatewayStore::add_refund`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RefundAdded {
    /// The refund, the payment and the events were written.
    Added,
    /// A refund with this `refund_ref` exists (this one); nothing was written.
    DuplicateRef(SandboxRefundRecord),
    /// The payment's version moved on; nothing was written (re-read and try again).
    VersionConflict,
}

/// Storage for the sandbox payment gateway and its webhook dispatcher.
#[async_trait]
pub trait GatewayStore: Send + Sync {
    /// Stores a new payment as given. [`StoreError::Duplicate`], writing nothing, if a payment
    /// with the same id or the same `order_ref` exists (unique constraints, not a prior read).
    async fn insert_payment(&self, payment: &SandboxPaymentRecord) -> Result<(), StoreError>;

    /// The payment with this id.
    async fn payment(&self, id: &str) -> Result<Option<SandboxPaymentRecord>, StoreError>;

    /// The payment with this `order_ref`.
    async fn payment_by_order_ref(
        &self,
        order_ref: &str,
    ) -> Result<Option<SandboxPaymentRecord>, StoreError>;

    /// Compare-and-set: if the stored payment's version is `payment.version`, stores `payment`
    /// with `version + 1` and enqueues `events` **in the same transaction**, and returns true.
    /// Returns false, writing nothing, if the version moved on or the payment does not exist.
    /// [`StoreError::Duplicate`], writing nothing, if an event's key exists.
    async fn update_payment(
        &self,
        payment: &SandboxPaymentRecord,
        events: &[NewWebhookDelivery],
    ) -> Result<bool, StoreError>;

    /// One transaction: stores `refund`, compare-and-sets `payment` as
    /// [`GatewayStore::update_payment`] does and enqueues `events`. A refund with the same
    /// `refund_ref` wins over everything else ([`RefundAdded::DuplicateRef`]); a stale payment
    /// is [`RefundAdded::VersionConflict`]; in both cases nothing is written.
    /// [`StoreError::Duplicate`] if the refund's id or an event's key exists.
    async fn add_refund(
        &self,
        refund: &SandboxRefundRecord,
        payment: &SandboxPaymentRecord,
        events: &[NewWebhookDelivery],
    ) -> Result<RefundAdded, StoreError>;

    /// The refunds of a payment, oldest first.
    async fn refunds(&self, payment_id: &str) -> Result<Vec<SandboxRefundRecord>, StoreError>;

    /// Enqueues a delivery and returns its id (greater than every id before it).
    /// [`StoreError::Duplicate`] if its key exists.
    async fn enqueue_webhook(&self, delivery: &NewWebhookDelivery) -> Result<u64, StoreError>;

    /// Atomically leases up to `limit` due deliveries — not delivered, not given up,
    /// `next_attempt_at <= now`, by ascending `next_attempt_at` then id — by setting their
    /// `next_attempt_at` to `lease_until`, and returns them so (oldest due first). However
    /// many calls race, a row is returned to one of them until its lease ends.
    async fn claim_due_webhooks(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<WebhookDeliveryRecord>, StoreError>;

    /// Records an attempt on an unfinished delivery: `attempts + 1`, `last_status` and
    /// `last_error` as given, then by the outcome `delivered_at = at`, `next_attempt_at = t`
    /// or `failed_at = at`. False, writing nothing, if the delivery does not exist or is
    /// finished.
    async fn record_webhook_attempt(
        &self,
        id: u64,
        attempt: &WebhookAttempt,
    ) -> Result<bool, StoreError>;

    /// Up to `limit` deliveries, of one payment if given, newest first (descending id).
    async fn webhook_deliveries(
        &self,
        payment_id: Option<&str>,
        limit: u32,
    ) -> Result<Vec<WebhookDeliveryRecord>, StoreError>;

    /// Sends a delivery again, finished or not: `delivered_at` and `failed_at` cleared,
    /// `attempts` back to 0 (the back-off starts over), `next_attempt_at = at`; the last status
    /// and error stay until the next attempt. False if it does not exist.
    async fn redeliver_webhook(&self, id: u64, at: OffsetDateTime) -> Result<bool, StoreError>;

    /// Deletes the finished deliveries (delivered or given up) created before `before`;
    /// returns how many.
    async fn purge_webhooks(&self, before: OffsetDateTime) -> Result<u64, StoreError>;
}

#[cfg(any(test, feature = "test-support"))]
pub use memory::MemoryGatewayStore;

#[cfg(any(test, feature = "test-support"))]
mod memory {
    use std::collections::{BTreeMap, HashMap};
    use std::sync::{Mutex, MutexGuard, PoisonError};

    use async_trait::async_trait;
    use time::OffsetDateTime;

    use super::{
        GatewayStore, NewWebhookDelivery, RefundAdded, SandboxPaymentRecord, SandboxRefundRecord,
        StoreError, WebhookAttempt, WebhookDeliveryRecord,
    };

    /// A [`GatewayStore`] in memory, for tests (feature `test-support`). Every call is atomic
    /// (one mutex), so it has the transactional semantics the trait asks for.
    #[derive(Debug, Default)]
    pub struct MemoryGatewayStore {
        inner: Mutex<Inner>,
    }

    #[derive(Debug, Default)]
    struct Inner {
        payments: HashMap<String, SandboxPaymentRecord>,
        refunds: Vec<SandboxRefundRecord>,
        last_delivery: u64,
        deliveries: BTreeMap<u64, WebhookDeliveryRecord>,
    }

    impl Inner {
        /// Refuses events whose keys exist or repeat among themselves.
        fn check_new_events(&self, events: &[NewWebhookDelivery]) -> Result<(), StoreError> {
            for (i, event) in events.iter().enumerate() {
                let repeated = events[..i].iter().any(|e| e.event_id == event.event_id);
                let exists = self
                    .deliveries
                    .values()
                    .any(|d| d.event_id == event.event_id);
                if repeated || exists {
                    return Err(StoreError::Duplicate);
                }
            }
            Ok(())
        }

        /// Whether `payment` is at the stored version.
        fn current(&self, payment: &SandboxPaymentRecord) -> bool {
            self.payments
                .get(&payment.id)
                .is_some_and(|p| p.version == payment.version)
        }

        fn store_payment(&mut self, payment: &SandboxPaymentRecord) {
            let mut stored = payment.clone();
            stored.version += 1;
            self.payments.insert(stored.id.clone(), stored);
        }

        fn enqueue(&mut self, delivery: &NewWebhookDelivery) -> u64 {
            self.last_delivery += 1;
            let id = self.last_delivery;
            self.deliveries
                .insert(id, WebhookDeliveryRecord::new(id, delivery));
            id
        }
    }

    impl MemoryGatewayStore {
        /// An empty store.
        pub fn new() -> Self {
            Self::default()
        }

        fn lock(&self) -> MutexGuard<'_, Inner> {
            self.inner.lock().unwrap_or_else(PoisonError::into_inner)
        }
    }

    #[async_trait]
    impl GatewayStore for MemoryGatewayStore {
        async fn insert_payment(&self, payment: &SandboxPaymentRecord) -> Result<(), StoreError> {
            let mut inner = self.lock();
            let taken = inner.payments.contains_key(&payment.id)
                || inner
                    .payments
                    .values()
                    .any(|p| p.order_ref == payment.order_ref);
            if taken {
                return Err(StoreError::Duplicate);
            }
            inner.payments.insert(payment.id.clone(), payment.clone());
            Ok(())
        }

        async fn payment(&self, id: &str) -> Result<Option<SandboxPaymentRecord>, StoreError> {
            Ok(self.lock().payments.get(id).cloned())
        }

        async fn payment_by_order_ref(
            &self,
            order_ref: &str,
        ) -> Result<Option<SandboxPaymentRecord>, StoreError> {
            let inner = self.lock();
            let found = inner.payments.values().find(|p| p.order_ref == order_ref);
            Ok(found.cloned())
        }

        async fn update_payment(
            &self,
            payment: &SandboxPaymentRecord,
            events: &[NewWebhookDelivery],
        ) -> Result<bool, StoreError> {
            let mut inner = self.lock();
            if !inner.current(payment) {
                return Ok(false);
            }
            inner.check_new_events(events)?;
            inner.store_payment(payment);
            for event in events {
                inner.enqueue(event);
            }
            Ok(true)
        }

        async fn add_refund(
            &self,
            refund: &SandboxRefundRecord,
            payment: &SandboxPaymentRecord,
            events: &[NewWebhookDelivery],
        ) -> Result<RefundAdded, StoreError> {
            let mut inner = self.lock();
            if let Some(existing) = inner
                .refunds
                .iter()
                .find(|r| r.refund_ref == refund.refund_ref)
            {
                return Ok(RefundAdded::DuplicateRef(existing.clone()));
            }
            if !inner.current(payment) {
                return Ok(RefundAdded::VersionConflict);
            }
            if inner.refunds.iter().any(|r| r.id == refund.id) {
                return Err(StoreError::Duplicate);
            }
            inner.check_new_events(events)?;
            inner.refunds.push(refund.clone());
            inner.store_payment(payment);
            for event in events {
                inner.enqueue(event);
            }
            Ok(RefundAdded::Added)
        }

        async fn refunds(&self, payment_id: &str) -> Result<Vec<SandboxRefundRecord>, StoreError> {
            let inner = self.lock();
            let found = inner.refunds.iter().filter(|r| r.payment_id == payment_id);
            Ok(found.cloned().collect())
        }

        async fn enqueue_webhook(&self, delivery: &NewWebhookDelivery) -> Result<u64, StoreError> {
            let mut inner = self.lock();
            inner.check_new_events(std::slice::from_ref(delivery))?;
            Ok(inner.enqueue(delivery))
        }

        async fn claim_due_webhooks(
            &self,
            now: OffsetDateTime,
            lease_until: OffsetDateTime,
            limit: u32,
        ) -> Result<Vec<WebhookDeliveryRecord>, StoreError> {
            let mut inner = self.lock();
            let mut due: Vec<(OffsetDateTime, u64)> = inner
                .deliveries
                .values()
                .filter(|d| !d.is_finished() && d.next_attempt_at <= now)
                .map(|d| (d.next_attempt_at, d.id))
                .collect();
            due.sort_unstable();
            due.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
            let mut claimed = Vec::with_capacity(due.len());
            for (_, id) in due {
                if let Some(d) = inner.deliveries.get_mut(&id) {
                    d.next_attempt_at = lease_until;
                    claimed.push(d.clone());
                }
            }
            Ok(claimed)
        }

        async fn record_webhook_attempt(
            &self,
            id: u64,
            attempt: &WebhookAttempt,
        ) -> Result<bool, StoreError> {
            let mut inner = self.lock();
            match inner.deliveries.get_mut(&id) {
                Some(d) if !d.is_finished() => {
                    d.apply(attempt);
                    Ok(true)
                }
                _ => Ok(false),
            }
        }

        async fn webhook_deliveries(
            &self,
            payment_id: Option<&str>,
            limit: u32,
        ) -> Result<Vec<WebhookDeliveryRecord>, StoreError> {
            let inner = self.lock();
            let found = inner
                .deliveries
                .values()
                .rev()
                .filter(|d| payment_id.is_none_or(|p| d.payment_id == p))
                .take(usize::try_from(limit).unwrap_or(usize::MAX));
            Ok(found.cloned().collect())
        }

        async fn redeliver_webhook(&self, id: u64, at: OffsetDateTime) -> Result<bool, StoreError> {
            let mut inner = self.lock();
            let Some(d) = inner.deliveries.get_mut(&id) else {
                return Ok(false);
            };
            d.delivered_at = None;
            d.failed_at = None;
            d.attempts = 0;
            d.next_attempt_at = at;
            Ok(true)
        }

        async fn purge_webhooks(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
            let mut inner = self.lock();
            let was = inner.deliveries.len();
            inner
                .deliveries
                .retain(|_, d| !(d.is_finished() && d.created_at < before));
            Ok(u64::try_from(was - inner.deliveries.len()).unwrap_or(u64::MAX))
        }
    }
}

#[cfg(test)]
mod tests {
    use time::Duration;
    use time::macros::datetime;

    use super::*;
    use crate::gateway::store::WebhookAttemptOutcome::{Delivered, GaveUp, RetryAt};

    const T0: OffsetDateTime = datetime!(2026-12-01 10:00 UTC);

    fn payment(id: &str, order_ref: &str) -> SandboxPaymentRecord {
        SandboxPaymentRecord {
            id: id.to_owned(),
            order_ref: order_ref.to_owned(),
            account_number: "1234567890".to_owned(),
            amount: Money::from_kopecks(123_450),
            description: "Оплата".to_owned(),
            return_url: "http://x/back".to_owned(),
            contact_email: None,
            contact_phone: None,
            status: "pending".to_owned(),
            failure_reason: None,
            card_last4: None,
            card_brand: None,
            code_attempts: 0,
            refunded: Money::ZERO,
            created_at: T0,
            updated_at: T0,
            version: 0,
        }
    }

    fn event(key: &str, due: OffsetDateTime) -> NewWebhookDelivery {
        NewWebhookDelivery {
            event_id: key.to_owned(),
            payment_id: "p1".to_owned(),
            event_type: "payment.succeeded".to_owned(),
            payload: "{}".to_owned(),
            due_at: due,
            created_at: T0,
        }
    }

    fn refund(id: &str, refund_ref: &str) -> SandboxRefundRecord {
        SandboxRefundRecord {
            id: id.to_owned(),
            payment_id: "p1".to_owned(),
            refund_ref: refund_ref.to_owned(),
            amount: Money::from_roubles(1),
            created_at: T0,
        }
    }

    fn attempt(outcome: WebhookAttemptOutcome) -> WebhookAttempt {
        WebhookAttempt {
            at: T0,
            status: Some(500),
            error: None,
            outcome,
        }
    }

    async fn enqueue(store: &MemoryGatewayStore, key: &str, due: OffsetDateTime) -> u64 {
        store.enqueue_webhook(&event(key, due)).await.unwrap()
    }

    async fn claim(
        store: &MemoryGatewayStore,
        now: OffsetDateTime,
        lease: OffsetDateTime,
        limit: u32,
    ) -> Vec<WebhookDeliveryRecord> {
        store.claim_due_webhooks(now, lease, limit).await.unwrap()
    }

    #[tokio::test]
    async fn payments_are_unique_by_id_and_order_ref_and_update_by_version() {
        let store = MemoryGatewayStore::new();
        store.insert_payment(&payment("p1", "o1")).await.unwrap();
        for dup in [payment("p1", "o2"), payment("p2", "o1")] {
            assert_eq!(store.insert_payment(&dup).await, Err(StoreError::Duplicate));
        }
        assert_eq!(
            store.payment_by_order_ref("o1").await.unwrap().unwrap().id,
            "p1"
        );
        assert!(store.payment("p2").await.unwrap().is_none());

        let mut changed = payment("p1", "o1");
        changed.status = "succeeded".to_owned();
        let events = [event("e1", T0)];
        assert!(store.update_payment(&changed, &events).await.unwrap());
        let stored = store.payment("p1").await.unwrap().unwrap();
        assert_eq!((stored.status.as_str(), stored.version), ("succeeded", 1));
        // Stale: nothing written, no event enqueued.
        changed.status = "failed".to_owned();
        assert!(
            !store
                .update_payment(&changed, &[event("e2", T0)])
                .await
                .unwrap()
        );
        assert_eq!(
            store.payment("p1").await.unwrap().unwrap().status,
            "succeeded"
        );
        assert_eq!(store.webhook_deliveries(None, 10).await.unwrap().len(), 1);
        // A repeated event key refuses the whole update.
        changed.version = 1;
        assert_eq!(
            store.update_payment(&changed, &events).await,
            Err(StoreError::Duplicate)
        );
        assert_eq!(store.payment("p1").await.unwrap().unwrap().version, 1);
        assert!(
            !store
                .update_payment(&payment("p9", "o9"), &[])
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn refunds_are_unique_by_ref_and_compare_and_set_the_payment() {
        let store = MemoryGatewayStore::new();
        store.insert_payment(&payment("p1", "o1")).await.unwrap();
        let p = payment("p1", "o1");
        let added = store
            .add_refund(&refund("r1", "ref1"), &p, &[event("e1", T0)])
            .await
            .unwrap();
        assert_eq!(added, RefundAdded::Added);
        // The same ref wins over the stale version.
        assert_eq!(
            store
                .add_refund(&refund("r2", "ref1"), &p, &[])
                .await
                .unwrap(),
            RefundAdded::DuplicateRef(refund("r1", "ref1"))
        );
        assert_eq!(
            store
                .add_refund(&refund("r2", "ref2"), &p, &[])
                .await
                .unwrap(),
            RefundAdded::VersionConflict
        );
        let current = store.payment("p1").await.unwrap().unwrap();
        assert_eq!(
            store.add_refund(&refund("r1", "ref3"), &current, &[]).await,
            Err(StoreError::Duplicate)
        );
        assert_eq!(store.refunds("p1").await.unwrap(), [refund("r1", "ref1")]);
        assert!(store.refunds("p2").await.unwrap().is_empty());
        assert_eq!(
            store
                .webhook_deliveries(Some("p1"), 10)
                .await
                .unwrap()
                .len(),
            1
        );
    }

    #[tokio::test]
    async fn claims_lease_due_rows_in_due_order() {
        let store = MemoryGatewayStore::new();
        let late = enqueue(&store, "a", T0 + Duration::SECOND).await;
        let early = enqueue(&store, "b", T0).await;
        let future = enqueue(&store, "c", T0 + Duration::HOUR).await;
        assert!(late < early && early < future);
        assert_eq!(
            store.enqueue_webhook(&event("a", T0)).await,
            Err(StoreError::Duplicate)
        );
        let lease = T0 + Duration::minutes(1);
        let now = T0 + Duration::SECOND;
        let claimed = claim(&store, now, lease, 10).await;
        let ids: Vec<u64> = claimed.iter().map(|d| d.id).collect();
        assert_eq!(ids, [early, late]);
        assert!(claimed.iter().all(|d| d.next_attempt_at == lease));
        assert!(claim(&store, now, lease, 10).await.is_empty());
        // The lease ends: claimable again, limited.
        assert_eq!(claim(&store, lease, lease, 1).await.len(), 1);
    }

    #[tokio::test]
    async fn attempts_finish_rows_which_redeliver_reopens_and_purge_removes() {
        let store = MemoryGatewayStore::new();
        let a = enqueue(&store, "a", T0).await;
        let b = enqueue(&store, "b", T0).await;
        let c = enqueue(&store, "c", T0).await;
        let retry = T0 + Duration::seconds(2);
        assert!(
            store
                .record_webhook_attempt(a, &attempt(RetryAt(retry)))
                .await
                .unwrap()
        );
        assert!(
            store
                .record_webhook_attempt(a, &attempt(Delivered))
                .await
                .unwrap()
        );
        assert!(
            !store
                .record_webhook_attempt(a, &attempt(GaveUp))
                .await
                .unwrap()
        );
        assert!(
            store
                .record_webhook_attempt(b, &attempt(GaveUp))
                .await
                .unwrap()
        );
        assert!(
            !store
                .record_webhook_attempt(99, &attempt(GaveUp))
                .await
                .unwrap()
        );

        let rows = store.webhook_deliveries(None, 10).await.unwrap();
        let ids: Vec<u64> = rows.iter().map(|d| d.id).collect();
        assert_eq!(ids, [c, b, a], "newest first");
        let row_a = &rows[2];
        assert_eq!((row_a.attempts, row_a.delivered_at), (2, Some(T0)));
        assert_eq!(
            (row_a.next_attempt_at, row_a.last_status),
            (retry, Some(500))
        );
        assert_eq!(rows[1].failed_at, Some(T0));
        assert_eq!(store.webhook_deliveries(None, 1).await.unwrap()[0].id, c);

        let later = T0 + Duration::HOUR;
        assert!(store.redeliver_webhook(b, later).await.unwrap());
        assert!(!store.redeliver_webhook(99, later).await.unwrap());
        let reopened = claim(&store, later, later, 10).await;
        let ids: Vec<u64> = reopened.iter().map(|d| d.id).collect();
        assert_eq!(ids, [c, b]);
        assert_eq!(reopened[1].attempts, 0);

        // Only finished rows go: a.
        assert_eq!(store.purge_webhooks(later).await.unwrap(), 1);
        assert_eq!(store.webhook_deliveries(None, 10).await.unwrap().len(), 2);
    }
}
