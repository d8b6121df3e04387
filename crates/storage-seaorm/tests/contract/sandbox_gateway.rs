//! The sandbox gateway's storage: payments (stored once per id and per `order_ref`,
//! compare-and-set updates that enqueue their webhook events in the same transaction), refunds
//! (unique `refund_ref`, stored with the payment's update or not at all) and webhook
//! deliveries (leased claims of due rows, attempts, redelivery, purge), including eight tasks
//! racing on one version, one refund and one queue.

use identity_core::ports::WriteError;
use storage_seaorm::{
    NewWebhookDelivery, RefundAdded, SandboxPaymentRecord, SandboxRefundRecord, Storage,
    WebhookAttempt, WebhookAttemptOutcome, WebhookDeliveryRecord,
};
use time::{Duration, OffsetDateTime};

use crate::common::billing::rub;
use crate::common::fixtures::at;
use crate::common::seed::{count_rows, damage};
use crate::concurrency::race;

contract!(
    payment_round_trips_every_field,
    payment_id_or_order_ref_is_stored_once,
    overlong_payment_fields_are_refused_on_both_backends,
    update_is_a_compare_and_set_that_enqueues_its_events,
    update_with_an_existing_event_id_rolls_back,
    eight_updates_from_one_version_one_wins,
    refund_is_added_once_per_ref_with_its_payment_update,
    refund_on_a_stale_version_writes_nothing,
    eight_refunds_with_one_ref_one_is_added,
    claim_takes_due_pending_deliveries_oldest_first,
    claim_lease_hides_rows_until_it_ends,
    eight_claimers_take_every_due_delivery_exactly_once,
    record_attempt_for_each_outcome,
    redeliver_makes_a_delivery_due_again,
    purge_removes_old_finished_deliveries_only,
    delivery_ids_grow_and_listing_is_newest_first,
    corrupt_rows_are_errors_not_panics,
);

/// A pending payment `pay_<n>` of 1234.56 ₽ for order `order-<n>`, created at `T0`.
fn payment(n: u32) -> SandboxPaymentRecord {
    SandboxPaymentRecord {
        id: format!("pay_{n:032x}"),
        order_ref: format!("order-{n}"),
        account_number: "1000001".to_owned(),
        amount: rub(123_456),
        description: "Оплата по ЛС 1000001 за март 2025".to_owned(),
        return_url: format!("https://lk.example.ru/cabinet/payments/{n}?from=gateway&x=%C3%BF"),
        contact_email: Some("ivan@example.ru".to_owned()),
        contact_phone: Some("+79160000001".to_owned()),
        status: "pending".to_owned(),
        failure_reason: None,
        card_last4: None,
        card_brand: None,
        code_attempts: 0,
        refunded: rub(0),
        created_at: at(0) + Duration::nanoseconds(123_456_789),
        updated_at: at(0) + Duration::nanoseconds(123_456_789),
        version: 0,
    }
}

/// `p` after the payer paid with a card: what the gateway writes at version `p.version`.
fn succeeded(p: &SandboxPaymentRecord) -> SandboxPaymentRecord {
    SandboxPaymentRecord {
        status: "succeeded".to_owned(),
        card_last4: Some("0004".to_owned()),
        card_brand: Some("МИР".to_owned()),
        code_attempts: 2,
        updated_at: at(60),
        ..p.clone()
    }
}

/// `p` as stored after one successful update of `changed` from `p`'s version.
fn bumped(changed: &SandboxPaymentRecord) -> SandboxPaymentRecord {
    SandboxPaymentRecord {
        version: changed.version + 1,
        ..changed.clone()
    }
}

/// Event `evt_<n>` about payment `p`, due at `T0 + due` seconds.
fn event(n: u32, p: &SandboxPaymentRecord, due: i64) -> NewWebhookDelivery {
    NewWebhookDelivery {
        event_id: format!("evt_{n:032x}"),
        payment_id: p.id.clone(),
        event_type: "payment.succeeded".to_owned(),
        payload: format!(
            "{{\"id\":\"evt_{n:032x}\",\"type\":\"payment.succeeded\",\
             \"data\":{{\"payment\":{{\"id\":\"{}\",\"amount\":{{\"value\":\"1234.56\"}}}}}}}}",
            p.id
        ),
        due_at: at(due),
        created_at: at(due) - Duration::nanoseconds(1),
    }
}

/// The record a fresh `d` is stored as, with id `id`.
fn delivery_of(id: u64, d: &NewWebhookDelivery) -> WebhookDeliveryRecord {
    WebhookDeliveryRecord {
        id,
        event_id: d.event_id.clone(),
        payment_id: d.payment_id.clone(),
        event_type: d.event_type.clone(),
        payload: d.payload.clone(),
        attempts: 0,
        next_attempt_at: d.due_at,
        delivered_at: None,
        failed_at: None,
        last_status: None,
        last_error: None,
        created_at: d.created_at,
    }
}

fn refund(n: u32, p: &SandboxPaymentRecord, kopecks: i64, seconds: i64) -> SandboxRefundRecord {
    SandboxRefundRecord {
        id: format!("rf_{n:032x}"),
        payment_id: p.id.clone(),
        refund_ref: format!("refund-request-{n}"),
        amount: rub(kopecks),
        created_at: at(seconds),
    }
}

fn ids(rows: &[WebhookDeliveryRecord]) -> Vec<u64> {
    rows.iter().map(|r| r.id).collect()
}

fn attempt(seconds: i64, outcome: WebhookAttemptOutcome) -> WebhookAttempt {
    WebhookAttempt {
        at: at(seconds),
        status: Some(503),
        error: Some("503 Service Unavailable".to_owned()),
        outcome,
    }
}

/// Records `a` at delivery `id`, which exists.
async fn record(storage: &Storage, id: u64, a: &WebhookAttempt) {
    assert!(storage.webhook_record_attempt(id, a).await.unwrap(), "{id}");
}

async fn stored(storage: &Storage, p: &SandboxPaymentRecord) -> SandboxPaymentRecord {
    storage.sandbox_payment(&p.id).await.unwrap().unwrap()
}

/// Enqueues `events` and returns their ids.
async fn enqueue(storage: &Storage, events: &[NewWebhookDelivery]) -> Vec<u64> {
    let mut ids = Vec::new();
    for e in events {
        ids.push(storage.webhook_enqueue(e).await.unwrap());
    }
    ids
}

async fn claim(storage: &Storage, now: OffsetDateTime, limit: u32) -> Vec<WebhookDeliveryRecord> {
    storage
        .webhook_claim_due(now, now + Duration::seconds(30), limit)
        .await
        .unwrap()
}

async fn payment_round_trips_every_field(storage: Storage) {
    let full = SandboxPaymentRecord {
        status: "failed".to_owned(),
        failure_reason: Some("Недостаточно средств".to_owned()),
        card_last4: Some("0020".to_owned()),
        card_brand: Some("МИР".to_owned()),
        code_attempts: u32::try_from(i32::MAX).unwrap(),
        refunded: rub(123_455),
        updated_at: at(90) + Duration::nanoseconds(1),
        version: 0,
        ..payment(1)
    };
    let bare = SandboxPaymentRecord {
        amount: rub(1),
        contact_email: None,
        contact_phone: None,
        description: String::new(),
        ..payment(2)
    };
    for p in [&full, &bare] {
        storage.sandbox_payment_insert(p).await.unwrap();
    }
    for p in [&full, &bare] {
        assert_eq!(stored(&storage, p).await, *p);
        assert_eq!(
            storage
                .sandbox_payment_by_order_ref(&p.order_ref)
                .await
                .unwrap()
                .as_ref(),
            Some(p)
        );
    }
    assert_eq!(stored(&storage, &full).await.amount.to_string(), "1234.56");
    assert_eq!(stored(&storage, &bare).await.amount.to_string(), "0.01");
    assert_eq!(storage.sandbox_payment("pay_unknown").await.unwrap(), None);
    assert_eq!(
        storage
            .sandbox_payment_by_order_ref("order-9")
            .await
            .unwrap(),
        None
    );
    assert!(storage.sandbox_refunds(&full.id).await.unwrap().is_empty());
}

async fn payment_id_or_order_ref_is_stored_once(storage: Storage) {
    let first = payment(1);
    storage.sandbox_payment_insert(&first).await.unwrap();
    let same_id = SandboxPaymentRecord {
        order_ref: "order-other".to_owned(),
        amount: rub(1),
        ..payment(1)
    };
    let same_order = SandboxPaymentRecord {
        order_ref: first.order_ref.clone(),
        amount: rub(2),
        ..payment(2)
    };
    for p in [&same_id, &same_order] {
        assert_eq!(
            storage.sandbox_payment_insert(p).await,
            Err(WriteError::Duplicate)
        );
    }
    assert_eq!(count_rows(&storage, "sandbox_payments").await, 1);
    assert_eq!(stored(&storage, &first).await, first);
    assert_eq!(storage.sandbox_payment(&same_order.id).await.unwrap(), None);
}

async fn overlong_payment_fields_are_refused_on_both_backends(storage: Storage) {
    let long_id = SandboxPaymentRecord {
        id: "p".repeat(41),
        ..payment(1)
    };
    let long_order = SandboxPaymentRecord {
        order_ref: "o".repeat(129),
        ..payment(2)
    };
    let long_status = SandboxPaymentRecord {
        status: "waiting_for_capture".to_owned(),
        ..payment(3)
    };
    for p in [&long_id, &long_order, &long_status] {
        match storage.sandbox_payment_insert(p).await {
            Err(WriteError::Port(e)) => assert!(e.message().contains("at most"), "{e}"),
            other => panic!("expected a port error, got {other:?}"),
        }
    }
    assert_eq!(count_rows(&storage, "sandbox_payments").await, 0);
    // At the limits, in characters (not bytes), they are stored.
    let at_limits = SandboxPaymentRecord {
        id: "п".repeat(40),
        order_ref: "о".repeat(128),
        status: "ё".repeat(16),
        ..payment(4)
    };
    storage.sandbox_payment_insert(&at_limits).await.unwrap();
    assert_eq!(stored(&storage, &at_limits).await, at_limits);
    // An update to an over-long status is refused too, with nothing written.
    let update = SandboxPaymentRecord {
        status: "s".repeat(17),
        ..at_limits.clone()
    };
    assert!(storage.sandbox_payment_update(&update, &[]).await.is_err());
    assert_eq!(stored(&storage, &at_limits).await, at_limits);
}

async fn update_is_a_compare_and_set_that_enqueues_its_events(storage: Storage) {
    let p = payment(1);
    storage.sandbox_payment_insert(&p).await.unwrap();
    let paid = succeeded(&p);
    let events = [event(1, &p, 60), event(2, &p, 61)];
    assert!(
        storage
            .sandbox_payment_update(&paid, &events)
            .await
            .unwrap()
    );
    assert_eq!(stored(&storage, &p).await, bumped(&paid));
    let queued = storage.webhook_deliveries(None, 10).await.unwrap();
    assert_eq!(queued.len(), 2);
    assert_eq!(queued[1], delivery_of(queued[1].id, &events[0]));
    assert_eq!(queued[0], delivery_of(queued[0].id, &events[1]));
    // A second update from the same (now stale) version writes nothing, not even its events.
    let stale = SandboxPaymentRecord {
        status: "failed".to_owned(),
        failure_reason: Some("Операция отклонена банком".to_owned()),
        ..paid.clone()
    };
    assert!(
        !storage
            .sandbox_payment_update(&stale, &[event(3, &p, 62)])
            .await
            .unwrap()
    );
    assert_eq!(stored(&storage, &p).await, bumped(&paid));
    assert_eq!(count_rows(&storage, "webhook_deliveries").await, 2);
    // From the current version it goes through; the fields fixed at insert are not written.
    let refunded = SandboxPaymentRecord {
        refunded: rub(100),
        failure_reason: Some("x".to_owned()),
        card_last4: None,
        card_brand: None,
        code_attempts: 0,
        updated_at: at(120),
        amount: rub(1),
        description: "changed".to_owned(),
        contact_email: None,
        created_at: at(120),
        ..bumped(&paid)
    };
    assert!(
        storage
            .sandbox_payment_update(&refunded, &[])
            .await
            .unwrap()
    );
    let expected = SandboxPaymentRecord {
        amount: p.amount,
        description: p.description.clone(),
        contact_email: p.contact_email.clone(),
        created_at: p.created_at,
        ..bumped(&refunded)
    };
    assert_eq!(stored(&storage, &p).await, expected);
    // No such payment: false, nothing enqueued.
    assert!(
        !storage
            .sandbox_payment_update(&payment(9), &[event(4, &payment(9), 0)])
            .await
            .unwrap()
    );
    assert_eq!(count_rows(&storage, "webhook_deliveries").await, 2);
}

async fn update_with_an_existing_event_id_rolls_back(storage: Storage) {
    let p = payment(1);
    storage.sandbox_payment_insert(&p).await.unwrap();
    storage.webhook_enqueue(&event(1, &p, 0)).await.unwrap();
    let err = storage
        .sandbox_payment_update(&succeeded(&p), &[event(2, &p, 60), event(1, &p, 60)])
        .await
        .unwrap_err();
    assert!(err.message().contains("update a sandbox payment"), "{err}");
    assert_eq!(stored(&storage, &p).await, p);
    assert_eq!(count_rows(&storage, "webhook_deliveries").await, 1);
    // The same change with fresh events goes through at the same version.
    assert!(
        storage
            .sandbox_payment_update(&succeeded(&p), &[event(2, &p, 60)])
            .await
            .unwrap()
    );
    assert_eq!(stored(&storage, &p).await, bumped(&succeeded(&p)));
}

async fn eight_updates_from_one_version_one_wins(storage: Storage) {
    let p = payment(1);
    storage.sandbox_payment_insert(&p).await.unwrap();
    let results = race(&storage, |i| {
        let storage = storage.clone();
        let n = u32::try_from(i).unwrap();
        let change = SandboxPaymentRecord {
            code_attempts: n,
            ..succeeded(&p)
        };
        let events = [event(n, &p, 60)];
        async move {
            let won = storage
                .sandbox_payment_update(&change, &events)
                .await
                .unwrap();
            (won, change)
        }
    })
    .await;
    let winners: Vec<_> = results.iter().filter(|(won, _)| *won).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    let winner = &winners[0].1;
    assert_eq!(stored(&storage, &p).await, bumped(winner));
    // Only the winner's event was enqueued.
    let queued = storage.webhook_deliveries(None, 10).await.unwrap();
    assert_eq!(queued.len(), 1);
    assert_eq!(
        queued[0].event_id,
        event(winner.code_attempts, &p, 60).event_id
    );
}

async fn refund_is_added_once_per_ref_with_its_payment_update(storage: Storage) {
    let p = payment(1);
    storage.sandbox_payment_insert(&p).await.unwrap();
    let paid = bumped(&succeeded(&p));
    assert!(
        storage
            .sandbox_payment_update(&succeeded(&p), &[])
            .await
            .unwrap()
    );
    let first = refund(1, &p, 23_456, 100);
    let after_first = SandboxPaymentRecord {
        refunded: rub(23_456),
        updated_at: at(100),
        ..paid.clone()
    };
    assert_eq!(
        storage
            .sandbox_refund_add(&first, &after_first, &[event(1, &p, 100)])
            .await
            .unwrap(),
        RefundAdded::Added
    );
    assert_eq!(stored(&storage, &p).await, bumped(&after_first));
    assert_eq!(
        storage.sandbox_refunds(&p.id).await.unwrap(),
        std::slice::from_ref(&first)
    );
    assert_eq!(count_rows(&storage, "webhook_deliveries").await, 1);
    // The same refund_ref again, from the current version: the first refund, nothing written.
    let retry = SandboxRefundRecord {
        id: "rf_other".to_owned(),
        amount: rub(1),
        ..first.clone()
    };
    let again = SandboxPaymentRecord {
        refunded: rub(23_457),
        ..bumped(&after_first)
    };
    assert_eq!(
        storage
            .sandbox_refund_add(&retry, &again, &[event(2, &p, 101)])
            .await
            .unwrap(),
        RefundAdded::DuplicateRef(first.clone())
    );
    assert_eq!(stored(&storage, &p).await, bumped(&after_first));
    assert_eq!(count_rows(&storage, "sandbox_refunds").await, 1);
    assert_eq!(count_rows(&storage, "webhook_deliveries").await, 1);
    // A second refund, created earlier on the clock, is listed first: oldest first.
    let second = refund(2, &p, 100_000, 50);
    let after_second = SandboxPaymentRecord {
        refunded: rub(123_456),
        status: "refunded".to_owned(),
        ..bumped(&after_first)
    };
    assert_eq!(
        storage
            .sandbox_refund_add(&second, &after_second, &[])
            .await
            .unwrap(),
        RefundAdded::Added
    );
    assert_eq!(
        storage.sandbox_refunds(&p.id).await.unwrap(),
        [second, first]
    );
    assert_eq!(stored(&storage, &p).await, bumped(&after_second));
    // A refund naming another payment than the one updated is refused.
    let other = refund(3, &payment(2), 1, 0);
    assert!(
        storage
            .sandbox_refund_add(&other, &bumped(&after_second), &[])
            .await
            .is_err()
    );
    assert_eq!(count_rows(&storage, "sandbox_refunds").await, 2);
}

async fn refund_on_a_stale_version_writes_nothing(storage: Storage) {
    let p = payment(1);
    storage.sandbox_payment_insert(&p).await.unwrap();
    assert!(
        storage
            .sandbox_payment_update(&succeeded(&p), &[])
            .await
            .unwrap()
    );
    // Read at version 0, before the payment succeeded.
    let stale = SandboxPaymentRecord {
        refunded: rub(100),
        ..succeeded(&p)
    };
    assert_eq!(
        storage
            .sandbox_refund_add(&refund(1, &p, 100, 10), &stale, &[event(1, &p, 10)])
            .await
            .unwrap(),
        RefundAdded::VersionConflict
    );
    assert_eq!(count_rows(&storage, "sandbox_refunds").await, 0);
    assert_eq!(count_rows(&storage, "webhook_deliveries").await, 0);
    assert_eq!(stored(&storage, &p).await, bumped(&succeeded(&p)));
    // An existing event id rolls the refund back too.
    storage.webhook_enqueue(&event(2, &p, 0)).await.unwrap();
    let current = SandboxPaymentRecord {
        refunded: rub(100),
        ..bumped(&succeeded(&p))
    };
    assert!(
        storage
            .sandbox_refund_add(&refund(1, &p, 100, 10), &current, &[event(2, &p, 10)])
            .await
            .is_err()
    );
    assert_eq!(count_rows(&storage, "sandbox_refunds").await, 0);
    assert_eq!(stored(&storage, &p).await, bumped(&succeeded(&p)));
    // A refund of a payment that does not exist is refused.
    let ghost = payment(9);
    assert!(
        storage
            .sandbox_refund_add(&refund(3, &ghost, 1, 0), &ghost, &[])
            .await
            .is_err()
    );
    assert_eq!(count_rows(&storage, "sandbox_refunds").await, 0);
}

async fn eight_refunds_with_one_ref_one_is_added(storage: Storage) {
    let p = payment(1);
    storage.sandbox_payment_insert(&p).await.unwrap();
    let update = SandboxPaymentRecord {
        refunded: rub(100),
        ..p.clone()
    };
    let results = race(&storage, |i| {
        let (storage, update) = (storage.clone(), update.clone());
        let r = SandboxRefundRecord {
            id: format!("rf_{i}"),
            ..refund(1, &p, 100, 10)
        };
        async move { storage.sandbox_refund_add(&r, &update, &[]).await.unwrap() }
    })
    .await;
    let added = results.iter().filter(|r| **r == RefundAdded::Added).count();
    assert_eq!(added, 1, "{results:?}");
    let stored_refunds = storage.sandbox_refunds(&p.id).await.unwrap();
    assert_eq!(stored_refunds.len(), 1);
    for r in &results {
        assert!(
            *r == RefundAdded::Added || *r == RefundAdded::DuplicateRef(stored_refunds[0].clone()),
            "{r:?}"
        );
    }
    assert_eq!(stored(&storage, &p).await, bumped(&update));
}

async fn claim_takes_due_pending_deliveries_oldest_first(storage: Storage) {
    let p = payment(1);
    // Due at 10, 5, 5, 20 (not yet), 1 (delivered), 2 (given up).
    let events = [
        event(1, &p, 10),
        event(2, &p, 5),
        event(3, &p, 5),
        event(4, &p, 20),
        event(5, &p, 1),
        event(6, &p, 2),
    ];
    let id = enqueue(&storage, &events).await;
    let delivered = attempt(1, WebhookAttemptOutcome::Delivered);
    record(&storage, id[4], &delivered).await;
    let gave_up = attempt(2, WebhookAttemptOutcome::GaveUp);
    record(&storage, id[5], &gave_up).await;
    // Longest due first, then by id; returned as they were before the lease.
    let first = claim(&storage, at(10), 2).await;
    assert_eq!(
        first,
        [
            delivery_of(id[1], &events[1]),
            delivery_of(id[2], &events[2])
        ]
    );
    let rest = claim(&storage, at(10), 10).await;
    assert_eq!(rest, [delivery_of(id[0], &events[0])]);
    assert!(claim(&storage, at(19), 10).await.is_empty());
    assert!(
        storage
            .webhook_claim_due(at(100), at(130), 0)
            .await
            .unwrap()
            .is_empty()
    );
    // Exactly at its due time it is due.
    assert_eq!(ids(&claim(&storage, at(20), 10).await), [id[3]]);
}

async fn claim_lease_hides_rows_until_it_ends(storage: Storage) {
    let p = payment(1);
    let events = [event(1, &p, 0), event(2, &p, 1)];
    let id = enqueue(&storage, &events).await;
    let lease_until = at(30);
    let claimed = storage
        .webhook_claim_due(at(5), lease_until, 10)
        .await
        .unwrap();
    assert_eq!(ids(&claimed), id);
    // While leased, nobody gets them…
    assert!(claim(&storage, at(5), 10).await.is_empty());
    assert!(
        claim(&storage, lease_until - Duration::nanoseconds(1), 10)
            .await
            .is_empty()
    );
    // …and the listing shows the lease as their next attempt.
    let listed = storage.webhook_deliveries(None, 10).await.unwrap();
    assert!(
        listed.iter().all(|d| d.next_attempt_at == lease_until),
        "{listed:?}"
    );
    // The claimer crashed (no attempt recorded): at the lease's end they are due again.
    let back = claim(&storage, lease_until, 10).await;
    assert_eq!(ids(&back), id);
    assert!(
        back.iter()
            .all(|d| d.next_attempt_at == lease_until && d.attempts == 0)
    );
    // Recording an attempt ends the lease as it says.
    let retry = attempt(31, WebhookAttemptOutcome::RetryAt(at(40)));
    record(&storage, id[0], &retry).await;
    assert_eq!(ids(&claim(&storage, at(40), 10).await), [id[0]]);
}

async fn eight_claimers_take_every_due_delivery_exactly_once(storage: Storage) {
    let p = payment(1);
    let events: Vec<_> = (0..20).map(|n| event(n, &p, i64::from(n % 3))).collect();
    let mut all = enqueue(&storage, &events).await;
    // Each claimer takes small batches until it finds nothing due, so claims interleave.
    let claimed = race(&storage, |_| {
        let storage = storage.clone();
        async move {
            let mut mine = Vec::new();
            loop {
                let batch = claim(&storage, at(10), 2).await;
                if batch.is_empty() {
                    return mine;
                }
                mine.extend(ids(&batch));
            }
        }
    })
    .await;
    let mut got: Vec<u64> = claimed.into_iter().flatten().collect();
    got.sort_unstable();
    all.sort_unstable();
    assert_eq!(got, all, "every delivery claimed exactly once");
    assert!(claim(&storage, at(10), 100).await.is_empty());
    assert_eq!(claim(&storage, at(40), 100).await.len(), 20);
}

async fn record_attempt_for_each_outcome(storage: Storage) {
    let p = payment(1);
    let events = [event(1, &p, 0), event(2, &p, 0), event(3, &p, 0)];
    let id = enqueue(&storage, &events).await;
    let long_error = "ошибка соединения; ".repeat(60);
    let retry = WebhookAttempt {
        at: at(1),
        status: None,
        error: Some(long_error.clone()),
        outcome: WebhookAttemptOutcome::RetryAt(at(3)),
    };
    record(&storage, id[0], &retry).await;
    let ok = WebhookAttempt {
        at: at(4),
        status: Some(200),
        error: None,
        outcome: WebhookAttemptOutcome::Delivered,
    };
    record(&storage, id[0], &ok).await;
    let gave_up = attempt(5, WebhookAttemptOutcome::GaveUp);
    record(&storage, id[1], &gave_up).await;
    let listed = storage.webhook_deliveries(None, 10).await.unwrap();
    assert_eq!(
        listed,
        [
            delivery_of(id[2], &events[2]),
            WebhookDeliveryRecord {
                attempts: 1,
                failed_at: Some(at(5)),
                last_status: Some(503),
                last_error: Some("503 Service Unavailable".to_owned()),
                ..delivery_of(id[1], &events[1])
            },
            WebhookDeliveryRecord {
                attempts: 2,
                next_attempt_at: at(3),
                delivered_at: Some(at(4)),
                last_status: Some(200),
                last_error: None,
                ..delivery_of(id[0], &events[0])
            },
        ]
    );
    // The error of the retry was cut to its first 500 characters.
    record(&storage, id[2], &retry).await;
    let cut = storage.webhook_deliveries(None, 1).await.unwrap()[0]
        .last_error
        .clone()
        .unwrap();
    assert_eq!(cut.chars().count(), 500);
    assert!(long_error.starts_with(&cut));
    // No such delivery.
    for missing in [id[2] + 1, u64::MAX] {
        assert!(!storage.webhook_record_attempt(missing, &ok).await.unwrap());
    }
}

async fn redeliver_makes_a_delivery_due_again(storage: Storage) {
    let p = payment(1);
    let events = [event(1, &p, 0), event(2, &p, 0)];
    let id = enqueue(&storage, &events).await;
    let delivered = attempt(1, WebhookAttemptOutcome::Delivered);
    record(&storage, id[0], &delivered).await;
    let gave_up = attempt(2, WebhookAttemptOutcome::GaveUp);
    record(&storage, id[1], &gave_up).await;
    assert!(claim(&storage, at(100), 10).await.is_empty());
    for (i, due) in [(0, 10), (1, 20)] {
        assert!(storage.webhook_redeliver(id[i], at(due)).await.unwrap());
    }
    let again = claim(&storage, at(20), 10).await;
    assert_eq!(ids(&again), id);
    assert_eq!(again[0].next_attempt_at, at(10));
    assert_eq!(again[1].next_attempt_at, at(20));
    // Attempts and the last result are kept; only the state is reset.
    assert!(again.iter().all(|d| d.attempts == 1
        && d.delivered_at.is_none()
        && d.failed_at.is_none()
        && d.last_status == Some(503)));
    assert!(!storage.webhook_redeliver(id[1] + 1, at(0)).await.unwrap());
    assert!(!storage.webhook_redeliver(u64::MAX, at(0)).await.unwrap());
}

async fn purge_removes_old_finished_deliveries_only(storage: Storage) {
    let p = payment(1);
    // Created just before 0, 10, 20, 30 seconds.
    let events = [
        event(1, &p, 0),
        event(2, &p, 10),
        event(3, &p, 20),
        event(4, &p, 30),
    ];
    let id = enqueue(&storage, &events).await;
    let delivered = attempt(40, WebhookAttemptOutcome::Delivered);
    let gave_up = attempt(40, WebhookAttemptOutcome::GaveUp);
    record(&storage, id[0], &delivered).await;
    record(&storage, id[1], &gave_up).await;
    // id[2] is still pending; id[3] is finished but too recent.
    record(&storage, id[3], &delivered).await;
    assert_eq!(
        storage
            .webhook_purge(at(0) - Duration::nanoseconds(1))
            .await
            .unwrap(),
        0
    );
    assert_eq!(storage.webhook_purge(at(25)).await.unwrap(), 2);
    assert_eq!(
        ids(&storage.webhook_deliveries(None, 10).await.unwrap()),
        [id[3], id[2]]
    );
    assert_eq!(storage.webhook_purge(at(100)).await.unwrap(), 1);
    assert_eq!(
        ids(&storage.webhook_deliveries(None, 10).await.unwrap()),
        [id[2]]
    );
}

async fn delivery_ids_grow_and_listing_is_newest_first(storage: Storage) {
    let (p, q) = (payment(1), payment(2));
    let events = [
        event(1, &p, 0),
        event(2, &q, 0),
        event(3, &p, 0),
        event(4, &q, 0),
    ];
    let id = enqueue(&storage, &events).await;
    assert!(id.windows(2).all(|w| w[0] < w[1]), "{id:?}");
    assert_eq!(
        ids(&storage.webhook_deliveries(None, 10).await.unwrap()),
        [id[3], id[2], id[1], id[0]]
    );
    assert_eq!(
        ids(&storage.webhook_deliveries(Some(&p.id), 10).await.unwrap()),
        [id[2], id[0]]
    );
    assert_eq!(
        ids(&storage.webhook_deliveries(Some(&q.id), 1).await.unwrap()),
        [id[3]]
    );
    assert!(
        storage
            .webhook_deliveries(Some("pay_none"), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        storage
            .webhook_deliveries(None, 0)
            .await
            .unwrap()
            .is_empty()
    );
    // The same event id again is a duplicate, with nothing written.
    let again = NewWebhookDelivery {
        payload: "{}".to_owned(),
        ..events[0].clone()
    };
    assert_eq!(
        storage.webhook_enqueue(&again).await,
        Err(WriteError::Duplicate)
    );
    assert_eq!(count_rows(&storage, "webhook_deliveries").await, 4);
    // Ids are never reused, even after the newest rows are purged.
    for i in &id {
        let done = attempt(1, WebhookAttemptOutcome::Delivered);
        record(&storage, *i, &done).await;
    }
    assert_eq!(storage.webhook_purge(at(100)).await.unwrap(), 4);
    let next = storage.webhook_enqueue(&event(5, &p, 0)).await.unwrap();
    assert!(next > id[3], "{next} > {}", id[3]);
}

async fn corrupt_rows_are_errors_not_panics(storage: Storage) {
    let p = payment(1);
    storage.sandbox_payment_insert(&p).await.unwrap();
    let id = storage.webhook_enqueue(&event(1, &p, 0)).await.unwrap();
    damage(&storage, "UPDATE sandbox_payments SET version = -1").await;
    let err = storage.sandbox_payment(&p.id).await.unwrap_err();
    assert!(
        err.message().contains(&format!(
            "corrupt row in sandbox_payments ({}): version",
            p.id
        )),
        "{err}"
    );
    damage(&storage, "UPDATE webhook_deliveries SET attempts = -1").await;
    // A corrupt due row fails the claim, which then leases nothing.
    assert!(storage.webhook_claim_due(at(0), at(30), 10).await.is_err());
    damage(&storage, "UPDATE webhook_deliveries SET attempts = 0").await;
    assert_eq!(ids(&claim(&storage, at(0), 10).await), [id]);
    damage(&storage, "UPDATE webhook_deliveries SET attempts = -1").await;
    let err = storage.webhook_deliveries(None, 10).await.unwrap_err();
    assert!(
        err.message().contains(&format!(
            "corrupt row in webhook_deliveries ({id}): attempts"
        )),
        "{err}"
    );
}
