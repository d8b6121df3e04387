//! Contract of `OnlinePaymentRepository`: a started payment stored once per `order_ref` and
//! per gateway id, read back whole by either, and the unsettled ones (ledger payment still
//! `created` or `pending`) listed oldest first for reconciliation.

use billing_core::ledger::{PaymentSplit, PaymentState};
use billing_core::online::{OnlinePaymentRecord, OnlinePaymentRepository, ReceiptContact};
use billing_core::ports::{LedgerRepository, RepoError};
use billing_core::service::ServiceKind;
use storage_seaorm::Storage;
use time::Duration;

use crate::common::billing::*;
use crate::common::fixtures::at;

contract!(
    a_start_round_trips_every_field,
    an_order_ref_or_gateway_id_is_stored_once,
    unsettled_lists_created_and_pending_payments_oldest_first,
    unsettled_is_limited_and_strictly_before,
);

/// A start of `kopecks` on account 7 with the default split, recorded at `T0 + seconds`.
fn started(gateway_id: &str, order_ref: &str, kopecks: i64, seconds: i64) -> OnlinePaymentRecord {
    OnlinePaymentRecord {
        gateway_id: gateway(gateway_id),
        order_ref: order_ref.to_owned(),
        account: account_id(7),
        amount: rub(kopecks),
        split: PaymentSplit::Default,
        payer: "subscriber:0101".to_owned(),
        contact: ReceiptContact {
            email: Some("ivan@example.ru".to_owned()),
            phone: None,
        },
        confirmation_url: format!("https://pay.example/confirm/{gateway_id}"),
        created_at: at(seconds),
    }
}

fn gateway_ids(records: &[OnlinePaymentRecord]) -> Vec<&str> {
    records.iter().map(|r| r.gateway_id.as_str()).collect()
}

async fn a_start_round_trips_every_field(storage: Storage) {
    let split = OnlinePaymentRecord {
        account: account_id(u64::try_from(i64::MAX).unwrap()),
        amount: rub(123_456_789_012_345),
        split: PaymentSplit::ByService(vec![
            (ServiceKind::Electricity, rub(123_456_789_000_000)),
            (ServiceKind::HotWater, rub(12_345)),
        ]),
        payer: "кабинет 42".to_owned(),
        contact: ReceiptContact {
            email: Some("ivan@example.ru".to_owned()),
            phone: Some("+79160000001".to_owned()),
        },
        created_at: at(0) + Duration::nanoseconds(123_456_789),
        ..started("sbp-0001", "order/1?x=%C3%BF", 0, 0)
    };
    let plain = OnlinePaymentRecord {
        contact: ReceiptContact {
            email: None,
            phone: Some("  ".to_owned()),
        },
        ..started("sbp-0002", "order-2", 1, 5)
    };
    for r in [&split, &plain] {
        storage.insert(r).await.unwrap();
        assert_eq!(
            storage.by_order_ref(&r.order_ref).await.unwrap(),
            Some(r.clone())
        );
        assert_eq!(
            storage.by_gateway_id(&r.gateway_id).await.unwrap(),
            Some(r.clone())
        );
    }
    assert_eq!(storage.by_order_ref("order-3").await.unwrap(), None);
    assert_eq!(storage.by_order_ref("ORDER-2").await.unwrap(), None);
    assert_eq!(
        storage.by_gateway_id(&gateway("sbp-0003")).await.unwrap(),
        None
    );
}

async fn an_order_ref_or_gateway_id_is_stored_once(storage: Storage) {
    let first = started("sbp-0001", "order-1", 10000, 0);
    storage.insert(&first).await.unwrap();
    let same_order = started("sbp-0002", "order-1", 20000, 10);
    assert_eq!(storage.insert(&same_order).await, Err(RepoError::Duplicate));
    assert_eq!(
        storage.by_gateway_id(&same_order.gateway_id).await,
        Ok(None)
    );
    let same_gateway = started("sbp-0001", "order-2", 20000, 10);
    assert_eq!(
        storage.insert(&same_gateway).await,
        Err(RepoError::Duplicate)
    );
    assert_eq!(storage.by_order_ref("order-2").await, Ok(None));
    assert_eq!(storage.by_order_ref("order-1").await, Ok(Some(first)));
}

/// Records `gateway_id` in the ledger and moves it along `path` (from `Created`).
async fn ledger_payment(storage: &Storage, gateway_id: &str, path: &[PaymentState]) {
    storage
        .record_payment(&new_payment(gateway_id, 7, 10000))
        .await
        .unwrap();
    let mut from = PaymentState::Created;
    for to in path {
        storage
            .transition_payment(&gateway(gateway_id), from, *to, D0)
            .await
            .unwrap();
        from = *to;
    }
}

async fn unsettled_lists_created_and_pending_payments_oldest_first(storage: Storage) {
    use PaymentState::{Pending, Refunded, Succeeded};
    // (gateway id, started at, the ledger payment's path; None: not in the ledger).
    let cases: [(&str, i64, Option<&[PaymentState]>); 7] = [
        ("created", 30, Some(&[])),
        ("pending", 10, Some(&[Pending])),
        ("succeeded", 5, Some(&[Pending, Succeeded])),
        ("failed", 6, Some(&[Pending])),
        ("refunded", 7, Some(&[Succeeded, Refunded])),
        ("unposted", 8, None),
        ("b-pending-tie", 10, Some(&[Pending])),
    ];
    for (n, (id, seconds, path)) in cases.into_iter().enumerate() {
        storage
            .insert(&started(id, &format!("order-{n}"), 10000, seconds))
            .await
            .unwrap();
        if let Some(path) = path {
            ledger_payment(&storage, id, path).await;
        }
    }
    storage
        .fail_payment(&gateway("failed"), Pending, "отклонён банком", D0)
        .await
        .unwrap();
    let unsettled = storage.unsettled(at(100), 100).await.unwrap();
    // Oldest first; two started at the same instant come in gateway-id order.
    assert_eq!(
        gateway_ids(&unsettled),
        ["b-pending-tie", "pending", "created"]
    );
    assert_eq!(unsettled[1], started("pending", "order-1", 10000, 10));
    // Settling one takes it off the list.
    storage
        .transition_payment(&gateway("pending"), Pending, Succeeded, D0)
        .await
        .unwrap();
    assert_eq!(
        gateway_ids(&storage.unsettled(at(100), 100).await.unwrap()),
        ["b-pending-tie", "created"]
    );
}

async fn unsettled_is_limited_and_strictly_before(storage: Storage) {
    for n in 0..5 {
        let id = format!("sbp-{n}");
        storage
            .insert(&started(&id, &format!("order-{n}"), 100, n * 10))
            .await
            .unwrap();
        ledger_payment(&storage, &id, &[]).await;
    }
    assert_eq!(
        gateway_ids(&storage.unsettled(at(100), 2).await.unwrap()),
        ["sbp-0", "sbp-1"]
    );
    // Started at exactly `older_than` is not older than it.
    assert_eq!(
        gateway_ids(&storage.unsettled(at(20), 100).await.unwrap()),
        ["sbp-0", "sbp-1"]
    );
    assert_eq!(
        gateway_ids(
            &storage
                .unsettled(at(20) + Duration::nanoseconds(1), 100)
                .await
                .unwrap()
        ),
        ["sbp-0", "sbp-1", "sbp-2"]
    );
    assert!(storage.unsettled(at(0), 100).await.unwrap().is_empty());
    assert!(storage.unsettled(at(100), 0).await.unwrap().is_empty());
}
