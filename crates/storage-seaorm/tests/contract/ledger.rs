//! Contract of `LedgerRepository`: payments once per gateway id, compare-and-set transitions,
//! refunds that never exceed their payment, and the journal in append order.

use billing_core::ids::{PaymentId, RefundRequestId};
use billing_core::ledger::{PaymentSplit, PaymentState};
use billing_core::ports::{LedgerFact, LedgerRecord, LedgerRepository, RefundStatus, RepoError};
use storage_seaorm::Storage;

use crate::common::billing::*;

contract!(
    a_payment_is_recorded_created_and_journalled,
    a_gateway_id_is_recorded_once,
    payments_are_listed_per_account_by_id,
    transitions_are_compare_and_set,
    a_failed_payment_keeps_the_gateways_reason,
    refunds_move_the_refunded_amount_once,
    a_refund_never_exceeds_its_payment,
    refund_requests_are_unique_per_payment_and_number,
    rejections_are_compare_and_set,
);

async fn a_payment_is_recorded_created_and_journalled(storage: Storage) {
    let stored = storage
        .record_payment(&split_payment("pay-1", 7))
        .await
        .unwrap();
    assert_eq!(stored.state, PaymentState::Created);
    assert_eq!(stored.refunded, rub(0));
    assert_eq!(
        storage.payment_by_gateway_id(&gateway("pay-1")).await,
        Ok(Some(stored.clone()))
    );
    assert_eq!(
        storage.payment_by_gateway_id(&gateway("none")).await,
        Ok(None)
    );
    assert_eq!(
        storage.journal(account_id(7)).await.unwrap(),
        [LedgerRecord {
            date: D0,
            fact: LedgerFact::PaymentCreated {
                payment: stored.id,
                amount: rub(10000),
                split: stored.split.clone(),
            },
        }]
    );
    assert!(matches!(stored.split, PaymentSplit::ByService(ref parts) if parts.len() == 2));
}

async fn a_gateway_id_is_recorded_once(storage: Storage) {
    storage
        .record_payment(&new_payment("pay-1", 7, 50000))
        .await
        .unwrap();
    assert_eq!(
        storage.record_payment(&new_payment("pay-1", 8, 100)).await,
        Err(RepoError::Duplicate)
    );
    // Nothing of the refused payment was written.
    assert!(storage.journal(account_id(8)).await.unwrap().is_empty());
    assert!(storage.payments(account_id(8)).await.unwrap().is_empty());
    assert_eq!(storage.journal(account_id(7)).await.unwrap().len(), 1);
}

async fn payments_are_listed_per_account_by_id(storage: Storage) {
    let a = storage
        .record_payment(&new_payment("a", 7, 100))
        .await
        .unwrap();
    storage
        .record_payment(&new_payment("b", 8, 200))
        .await
        .unwrap();
    let c = storage
        .record_payment(&new_payment("c", 7, 300))
        .await
        .unwrap();
    assert!(a.id < c.id);
    assert_eq!(storage.payments(account_id(7)).await.unwrap(), [a, c]);
    assert!(storage.payments(account_id(9)).await.unwrap().is_empty());
}

async fn transitions_are_compare_and_set(storage: Storage) {
    let p = storage
        .record_payment(&new_payment("pay-1", 7, 50000))
        .await
        .unwrap();
    let g = gateway("pay-1");
    storage
        .transition_payment(&g, PaymentState::Created, PaymentState::Pending, day(0))
        .await
        .unwrap();
    assert_eq!(
        storage
            .transition_payment(&g, PaymentState::Created, PaymentState::Succeeded, day(1))
            .await,
        Err(RepoError::Conflict)
    );
    storage
        .transition_payment(&g, PaymentState::Pending, PaymentState::Succeeded, day(1))
        .await
        .unwrap();
    assert_eq!(
        storage
            .transition_payment(&g, PaymentState::Pending, PaymentState::Succeeded, day(1))
            .await,
        Err(RepoError::Conflict)
    );
    assert_eq!(
        storage
            .transition_payment(
                &gateway("unknown"),
                PaymentState::Pending,
                PaymentState::Succeeded,
                day(1)
            )
            .await,
        Err(RepoError::NotFound)
    );
    let stored = storage.payment_by_gateway_id(&g).await.unwrap().unwrap();
    assert_eq!(stored.state, PaymentState::Succeeded);
    let states: Vec<_> = storage.journal(account_id(7)).await.unwrap()[1..].to_vec();
    assert_eq!(
        states,
        [
            LedgerRecord {
                date: day(0),
                fact: LedgerFact::PaymentState {
                    payment: p.id,
                    state: PaymentState::Pending
                }
            },
            LedgerRecord {
                date: day(1),
                fact: LedgerFact::PaymentState {
                    payment: p.id,
                    state: PaymentState::Succeeded
                }
            },
        ]
    );
}

async fn a_failed_payment_keeps_the_gateways_reason(storage: Storage) {
    storage
        .record_payment(&new_payment("pay-1", 7, 50000))
        .await
        .unwrap();
    let g = gateway("pay-1");
    storage
        .fail_payment(&g, PaymentState::Created, "карта отклонена", day(0))
        .await
        .unwrap();
    assert_eq!(
        storage
            .fail_payment(&g, PaymentState::Created, "again", day(0))
            .await,
        Err(RepoError::Conflict)
    );
    assert_eq!(
        storage
            .fail_payment(&gateway("none"), PaymentState::Created, "x", day(0))
            .await,
        Err(RepoError::NotFound)
    );
    let stored = storage.payment_by_gateway_id(&g).await.unwrap().unwrap();
    assert_eq!(stored.state, PaymentState::Failed);
    assert_eq!(stored.failure_reason.as_deref(), Some("карта отклонена"));
    assert_eq!(storage.journal(account_id(7)).await.unwrap().len(), 2);
}

/// A succeeded payment of 500 ₽ to account 7, gateway id `pay-1`.
async fn succeeded(storage: &Storage) -> PaymentId {
    let p = storage
        .record_payment(&new_payment("pay-1", 7, 50000))
        .await
        .unwrap();
    storage
        .transition_payment(
            &gateway("pay-1"),
            PaymentState::Created,
            PaymentState::Succeeded,
            day(0),
        )
        .await
        .unwrap();
    p.id
}

async fn refunds_move_the_refunded_amount_once(storage: Storage) {
    let payment = succeeded(&storage).await;
    let first = storage
        .record_refund_request(&refund_request(payment, "pay-1", 7, 20000, "R-1"))
        .await
        .unwrap();
    assert_eq!(first.status, RefundStatus::Requested);
    assert_eq!(
        storage.refund_request(first.id).await,
        Ok(Some(first.clone()))
    );
    storage
        .complete_refund(first.id, rub(0), day(5))
        .await
        .unwrap();
    assert_eq!(
        storage.complete_refund(first.id, rub(20000), day(5)).await,
        Err(RepoError::Conflict)
    );
    let paid = storage
        .payment_by_gateway_id(&gateway("pay-1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (paid.state, paid.refunded),
        (PaymentState::Succeeded, rub(20000))
    );
    assert_eq!(
        storage
            .refund_request(first.id)
            .await
            .unwrap()
            .unwrap()
            .status,
        RefundStatus::Refunded { on: day(5) }
    );
    // The rest: a stale `refunded_before` loses, the right one refunds the whole payment.
    let rest = storage
        .record_refund_request(&refund_request(payment, "pay-1", 7, 30000, "R-2"))
        .await
        .unwrap();
    assert_eq!(
        storage.complete_refund(rest.id, rub(0), day(6)).await,
        Err(RepoError::Conflict)
    );
    storage
        .complete_refund(rest.id, rub(20000), day(6))
        .await
        .unwrap();
    let paid = storage
        .payment_by_gateway_id(&gateway("pay-1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (paid.state, paid.refunded),
        (PaymentState::Refunded, rub(50000))
    );
    let refunds: Vec<_> = storage
        .journal(account_id(7))
        .await
        .unwrap()
        .into_iter()
        .filter(|r| matches!(r.fact, LedgerFact::Refund { .. }))
        .collect();
    assert_eq!(
        refunds,
        [
            LedgerRecord {
                date: day(5),
                fact: LedgerFact::Refund {
                    payment,
                    amount: rub(20000)
                }
            },
            LedgerRecord {
                date: day(6),
                fact: LedgerFact::Refund {
                    payment,
                    amount: rub(30000)
                }
            },
        ]
    );
    assert_eq!(
        storage
            .complete_refund(RefundRequestId::new(999), rub(0), day(6))
            .await,
        Err(RepoError::NotFound)
    );
}

async fn a_refund_never_exceeds_its_payment(storage: Storage) {
    let payment = succeeded(&storage).await;
    let too_much = storage
        .record_refund_request(&refund_request(payment, "pay-1", 7, 50001, "R-1"))
        .await
        .unwrap();
    let journal = storage.journal(account_id(7)).await.unwrap();
    assert_eq!(
        storage.complete_refund(too_much.id, rub(0), day(5)).await,
        Err(RepoError::Conflict)
    );
    assert_eq!(storage.journal(account_id(7)).await.unwrap(), journal);
    assert_eq!(
        storage
            .refund_request(too_much.id)
            .await
            .unwrap()
            .unwrap()
            .status,
        RefundStatus::Requested
    );
}

async fn refund_requests_are_unique_per_payment_and_number(storage: Storage) {
    let payment = succeeded(&storage).await;
    let other = storage
        .record_payment(&new_payment("pay-2", 7, 10000))
        .await
        .unwrap()
        .id;
    let r = storage
        .record_refund_request(&refund_request(payment, "pay-1", 7, 100, "R-1"))
        .await
        .unwrap();
    assert_eq!(
        storage
            .record_refund_request(&refund_request(payment, "pay-1", 7, 200, "R-1"))
            .await,
        Err(RepoError::Duplicate)
    );
    storage
        .record_refund_request(&refund_request(other, "pay-2", 7, 100, "R-1"))
        .await
        .unwrap();
    assert_eq!(
        storage.refund_request_by_number(payment, "R-1").await,
        Ok(Some(r))
    );
    assert_eq!(
        storage.refund_request_by_number(payment, "R-9").await,
        Ok(None)
    );
}

async fn rejections_are_compare_and_set(storage: Storage) {
    let payment = succeeded(&storage).await;
    let r = storage
        .record_refund_request(&refund_request(payment, "pay-1", 7, 100, "R-1"))
        .await
        .unwrap();
    storage
        .reject_refund(r.id, "нет оснований", day(4))
        .await
        .unwrap();
    assert_eq!(
        storage.reject_refund(r.id, "again", day(4)).await,
        Err(RepoError::Conflict)
    );
    assert_eq!(
        storage.complete_refund(r.id, rub(0), day(4)).await,
        Err(RepoError::Conflict)
    );
    assert_eq!(
        storage
            .reject_refund(RefundRequestId::new(999), "x", day(4))
            .await,
        Err(RepoError::NotFound)
    );
    assert_eq!(
        storage.refund_request(r.id).await.unwrap().unwrap().status,
        RefundStatus::Rejected {
            on: day(4),
            reason: "нет оснований".into()
        }
    );
}
