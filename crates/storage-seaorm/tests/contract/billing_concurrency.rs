//! Billing concurrency: eight tasks deliver the same payment webhook at once; the account is
//! credited exactly once on both backends.

use billing_core::ledger::PaymentState;
use billing_core::ports::{LedgerFact, LedgerRepository, RepoError};
use storage_seaorm::Storage;

use crate::common::billing::*;
use crate::concurrency::race;

contract!(
    eight_confirmations_of_one_payment_credit_once,
    eight_recordings_of_one_gateway_id_store_one_payment,
);

async fn eight_confirmations_of_one_payment_credit_once(storage: Storage) {
    let payment = storage
        .record_payment(&new_payment("pay-1", 7, 50000))
        .await
        .unwrap();
    let results = race(&storage, |_| {
        let storage = storage.clone();
        async move {
            storage
                .transition_payment(
                    &gateway("pay-1"),
                    PaymentState::Created,
                    PaymentState::Succeeded,
                    D0,
                )
                .await
        }
    })
    .await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Ok(()) | Err(RepoError::Conflict))),
        "{results:?}"
    );
    let credits: Vec<_> = storage
        .journal(account_id(7))
        .await
        .unwrap()
        .into_iter()
        .filter(|r| {
            r.fact
                == LedgerFact::PaymentState {
                    payment: payment.id,
                    state: PaymentState::Succeeded,
                }
        })
        .collect();
    assert_eq!(credits.len(), 1);
}

async fn eight_recordings_of_one_gateway_id_store_one_payment(storage: Storage) {
    let results = race(&storage, |i| {
        let storage = storage.clone();
        async move {
            storage
                .record_payment(&new_payment("pay-1", 7, 10000 + i64::try_from(i).unwrap()))
                .await
        }
    })
    .await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert!(
        results
            .iter()
            .all(|r| r.is_ok() || *r == Err(RepoError::Duplicate)),
        "{results:?}"
    );
    assert_eq!(storage.payments(account_id(7)).await.unwrap().len(), 1);
    assert_eq!(storage.journal(account_id(7)).await.unwrap().len(), 1);
}
