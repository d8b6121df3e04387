//! Money is stored exactly: random amounts — kopecks in the `i64` range and decimals up to the
//! full 96-bit mantissa, positive and negative — come back unchanged from both databases,
//! through a payment's amount and its journal record.

use billing_core::money::Money;
use billing_core::ports::{LedgerFact, LedgerRepository};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use rust_decimal::Decimal;
use storage_seaorm::Storage;

use crate::common::billing::*;

contract!(
    random_amounts_round_trip_unchanged,
    extreme_amounts_round_trip_unchanged
);

fn amounts() -> impl Strategy<Value = Money> {
    prop_oneof![
        any::<i64>().prop_map(Money::from_kopecks),
        (-1_000_000_i64..1_000_000).prop_map(Money::from_kopecks),
        (any::<u32>(), any::<u32>(), any::<u32>(), any::<bool>()).prop_map(|(lo, mid, hi, neg)| {
            Money::exact(Decimal::from_parts(lo, mid, hi, neg, 2)).unwrap()
        }),
    ]
}

/// Stores `amount` as payment `n` of account `n` and reads it back both ways.
async fn round_trip(storage: &Storage, n: u64, amount: Money) {
    let id = format!("pay-{n}");
    let mut payment = new_payment(&id, n, 0);
    payment.amount = amount;
    storage.record_payment(&payment).await.unwrap();
    let stored = storage
        .payment_by_gateway_id(&gateway(&id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.amount, amount);
    assert_eq!(stored.amount.to_string(), amount.to_string());
    match &storage.journal(account_id(n)).await.unwrap()[0].fact {
        LedgerFact::PaymentCreated { amount: a, .. } => assert_eq!(*a, amount),
        other => panic!("unexpected fact {other:?}"),
    }
}

async fn random_amounts_round_trip_unchanged(storage: Storage) {
    let handle = tokio::runtime::Handle::current();
    let mut runner = TestRunner::new(Config {
        cases: 64,
        failure_persistence: None,
        ..Config::default()
    });
    let n = std::cell::Cell::new(0_u64);
    let outcome = tokio::task::block_in_place(|| {
        runner.run(&amounts(), |amount| {
            n.set(n.get() + 1);
            handle.block_on(round_trip(&storage, n.get(), amount));
            Ok(())
        })
    });
    if let Err(e) = outcome {
        panic!("{e}");
    }
}

async fn extreme_amounts_round_trip_unchanged(storage: Storage) {
    let extremes = [
        Money::ZERO,
        Money::from_kopecks(1),
        Money::from_kopecks(-1),
        Money::from_kopecks(i64::MAX),
        Money::from_kopecks(i64::MIN),
        Money::exact(Decimal::MAX.trunc_with_scale(0) / Decimal::ONE_HUNDRED).unwrap(),
        Money::exact(Decimal::from_parts(u32::MAX, u32::MAX, u32::MAX, true, 2)).unwrap(),
        Money::exact(Decimal::from_parts(u32::MAX, u32::MAX, u32::MAX, false, 2)).unwrap(),
    ];
    for (n, amount) in (1..).zip(extremes) {
        round_trip(&storage, n, amount).await;
    }
}
