//! The webhook events the sandbox gateway enqueues when a payment becomes final or is
//! refunded: their JSON body ([`crate::gateway`] documents the format) and the **chaos** — the
//! delays, duplicates and reorderings a real acquirer's notifications show — configured
//! globally by [`WebhookChaos`] and per test card by [`CardBehaviour`].
//!
//! Every planned event is a [`NewWebhookDelivery`] handed to the store together with the
//! payment change, so a payment never becomes final without its events.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;
use time::OffsetDateTime;

use super::SandboxStatus;
use super::cards::CardBehaviour;
use super::store::{NewWebhookDelivery, SandboxPaymentRecord, SandboxRefundRecord};

/// Event type: the payment succeeded.
pub const PAYMENT_SUCCEEDED: &str = "payment.succeeded";
/// Event type: the payment failed.
pub const PAYMENT_FAILED: &str = "payment.failed";
/// Event type: the payment waits for the payer (sent only stale, by the reorder chaos).
pub const PAYMENT_PENDING: &str = "payment.pending";
/// Event type: (part of) the payment was refunded.
pub const REFUND_SUCCEEDED: &str = "refund.succeeded";

/// The suffix of the delivery key of a duplicate delivery (`evt_…#dup`).
pub const DUPLICATE_SUFFIX: &str = "#dup";

/// How much later than the final event a stale `payment.pending` is due, so it arrives after.
pub const REORDER_GAP: Duration = Duration::from_secs(1);

/// The event id a delivery carries: its key without a `#…` suffix.
pub fn event_id_of(delivery_key: &str) -> &str {
    delivery_key
        .split_once('#')
        .map_or(delivery_key, |(id, _)| id)
}

/// Global chaos applied to every final event (payment succeeded or failed, refund succeeded),
/// on top of the per-card behaviours. Deterministic: no randomness is involved.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WebhookChaos {
    /// The delay of every event's first attempt (default none).
    pub first_delay: Duration,
    /// Every n-th final event (counted per gateway since it was made) is also delivered a
    /// second time: another delivery row (key `<event id>#dup`) with the same payload, hence
    /// the same event id. 0 (the default) never.
    pub duplicate_every: u32,
    /// Every final payment event is followed by a stale `payment.pending` (default off).
    pub reorder: bool,
}

/// Plans the deliveries of final events under the chaos settings.
#[derive(Debug)]
pub(super) struct EventPlanner {
    chaos: WebhookChaos,
    late_card_delay: Duration,
    finals: AtomicU64,
}

/// The ids one event plan needs, drawn beforehand from the random source.
pub(super) struct EventIds {
    /// The final event's id.
    pub main: String,
    /// The stale `payment.pending` event's id (used only when reordering).
    pub stale: String,
}

impl EventPlanner {
    pub(super) fn new(chaos: WebhookChaos, late_card_delay: Duration) -> Self {
        Self {
            chaos,
            late_card_delay,
            finals: AtomicU64::new(0),
        }
    }

    /// The deliveries announcing `payment`'s new final state (or `refund` of it), made at `now`
    /// by a card behaving as `behaviour`.
    pub(super) fn plan(
        &self,
        payment: &SandboxPaymentRecord,
        refund: Option<&SandboxRefundRecord>,
        behaviour: CardBehaviour,
        ids: EventIds,
        now: OffsetDateTime,
    ) -> Vec<NewWebhookDelivery> {
        let event_type = match (refund, payment.status.as_str()) {
            (Some(_), _) => REFUND_SUCCEEDED,
            (None, status) if status == SandboxStatus::Failed.as_str() => PAYMENT_FAILED,
            (None, _) => PAYMENT_SUCCEEDED,
        };
        let delay = if behaviour == CardBehaviour::LateWebhook {
            self.late_card_delay
        } else {
            self.chaos.first_delay
        };
        let due = now + delay;
        let n = self.finals.fetch_add(1, Ordering::Relaxed) + 1;
        let every = u64::from(self.chaos.duplicate_every);
        let duplicate =
            behaviour == CardBehaviour::DuplicateWebhook || (every > 0 && n.is_multiple_of(every));
        let reorder = refund.is_none()
            && (behaviour == CardBehaviour::ReorderedWebhooks || self.chaos.reorder);

        let main = NewWebhookDelivery {
            event_id: ids.main.clone(),
            payment_id: payment.id.clone(),
            event_type: event_type.to_owned(),
            payload: payload(&ids.main, event_type, now, payment, refund),
            due_at: due,
            created_at: now,
        };
        let mut deliveries = vec![main.clone()];
        if duplicate {
            deliveries.push(NewWebhookDelivery {
                event_id: format!("{}{DUPLICATE_SUFFIX}", ids.main),
                ..main
            });
        }
        if reorder {
            let stale = stale_pending(payment);
            deliveries.push(NewWebhookDelivery {
                payload: payload(
                    &ids.stale,
                    PAYMENT_PENDING,
                    payment.created_at,
                    &stale,
                    None,
                ),
                event_id: ids.stale,
                payment_id: payment.id.clone(),
                event_type: PAYMENT_PENDING.to_owned(),
                due_at: due + REORDER_GAP,
                created_at: now,
            });
        }
        deliveries
    }
}

/// The payment as it was when it was created: pending, no card, nothing refunded.
fn stale_pending(payment: &SandboxPaymentRecord) -> SandboxPaymentRecord {
    SandboxPaymentRecord {
        status: SandboxStatus::Pending.as_str().to_owned(),
        failure_reason: None,
        card_last4: None,
        card_brand: None,
        refunded: billing_core::money::Money::ZERO,
        ..payment.clone()
    }
}

/// The JSON body of event `id` of `event_type`, created at `created_at`, about `payment` (and
/// `refund`).
fn payload(
    id: &str,
    event_type: &str,
    created_at: OffsetDateTime,
    payment: &SandboxPaymentRecord,
    refund: Option<&SandboxRefundRecord>,
) -> String {
    let card = match (&payment.card_last4, &payment.card_brand) {
        (Some(last4), Some(brand)) => Some(CardObject { last4, brand }),
        _ => None,
    };
    let event = EventBody {
        id,
        event_type,
        created_at: created_at.to_offset(time::UtcOffset::UTC),
        data: EventData {
            payment: PaymentObject {
                id: &payment.id,
                order_ref: &payment.order_ref,
                status: &payment.status,
                amount: payment.amount.to_string(),
                refunded: payment.refunded.to_string(),
                currency: "RUB",
                failure_reason: payment.failure_reason.as_deref(),
                card,
            },
            refund: refund.map(|r| RefundObject {
                id: &r.id,
                refund_ref: &r.refund_ref,
                amount: r.amount.to_string(),
            }),
        },
    };
    // Serialising these plain structs of strings cannot fail.
    serde_json::to_string(&event).unwrap_or_default()
}

#[derive(Serialize)]
struct EventBody<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    event_type: &'a str,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    data: EventData<'a>,
}

#[derive(Serialize)]
struct EventData<'a> {
    payment: PaymentObject<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refund: Option<RefundObject<'a>>,
}

#[derive(Serialize)]
struct PaymentObject<'a> {
    id: &'a str,
    order_ref: &'a str,
    status: &'a str,
    amount: String,
    refunded: String,
    currency: &'static str,
    failure_reason: Option<&'a str>,
    card: Option<CardObject<'a>>,
}

#[derive(Serialize)]
struct CardObject<'a> {
    last4: &'a str,
    brand: &'a str,
}

#[derive(Serialize)]
struct RefundObject<'a> {
    id: &'a str,
    refund_ref: &'a str,
    amount: String,
}
