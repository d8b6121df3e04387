//! Contract of `ReadingContextRepository`: the one-read join answers exactly what the
//! single-table ports answer (`ComposedReadingContexts` over the same storage) — for the owner's
//! meter, another account's meter, an unattached meter, unknown ids, closed periods, a reading
//! of any status — and a damaged joined row is `Corrupt`, not a silent `None`.

use std::sync::Arc;

use billing_core::ids::{AccountId, MeterId, ReadingId};
use billing_core::meter::ZoneScheme;
use billing_core::ports::{
    ComposedReadingContexts, PeriodRepository, ReadingContextRepository, ReadingRepository,
    RepoError,
};
use storage_seaorm::Storage;

use crate::common::billing::period;
use crate::common::seed::supplier as supplier_fixture;
use crate::common::seed::*;

contract!(
    a_meter_comes_with_its_account_supplier_and_last_closed_period,
    another_accounts_meter_comes_without_context,
    an_unattached_meter_and_unknown_ids,
    a_reading_comes_with_its_meters_context,
    a_damaged_joined_row_is_corrupt,
);

fn composed(storage: &Storage) -> ComposedReadingContexts {
    let s = Arc::new(storage.clone());
    ComposedReadingContexts {
        meters: s.clone(),
        accounts: s.clone(),
        suppliers: s.clone(),
        periods: s.clone(),
        readings: s,
    }
}

/// Asserts the joined answer equals the composed one for (`meter`, `account`) and returns it.
async fn same_meter_context(
    storage: &Storage,
    meter: MeterId,
    account: AccountId,
) -> Option<billing_core::ports::MeterContext> {
    let joined = storage.meter_context(meter, account).await.unwrap();
    let reference = composed(storage)
        .meter_context(meter, account)
        .await
        .unwrap();
    assert_eq!(joined, reference, "meter {meter:?}, account {account:?}");
    joined
}

async fn a_meter_comes_with_its_account_supplier_and_last_closed_period(storage: Storage) {
    let seeded = house_with_accounts(&storage, 1, 3).await;
    for (account, meter) in seeded.accounts.iter().zip(&seeded.meters) {
        let context = same_meter_context(&storage, meter.id, account.id)
            .await
            .unwrap();
        assert_eq!(&context.meter, meter);
        assert_eq!(context.account.as_ref(), Some(account));
        assert_eq!(context.supplier.as_ref(), Some(&seeded.supplier));
        assert_eq!(context.last_closed, None);
    }
    let supplier = seeded.supplier.id;
    for p in [period(2026, 1), period(2026, 2), period(2026, 3)] {
        PeriodRepository::close(&storage, supplier, p)
            .await
            .unwrap();
    }
    // Another supplier, further ahead: neither it nor its closed periods belong to this meter.
    let other = billing_core::ids::SupplierId::new(2);
    storage.upsert_supplier(&supplier_fixture(2)).await.unwrap();
    for p in [period(2026, 4), period(2026, 5), period(2026, 6)] {
        PeriodRepository::close(&storage, other, p).await.unwrap();
    }
    let (account, meter) = (&seeded.accounts[1], &seeded.meters[1]);
    let context = same_meter_context(&storage, meter.id, account.id)
        .await
        .unwrap();
    assert_eq!(context.supplier.as_ref(), Some(&seeded.supplier));
    assert_eq!(context.last_closed, Some(period(2026, 3)));
}

async fn another_accounts_meter_comes_without_context(storage: Storage) {
    let seeded = house_with_accounts(&storage, 1, 2).await;
    PeriodRepository::close(&storage, seeded.supplier.id, period(2026, 1))
        .await
        .unwrap();
    let context = same_meter_context(&storage, seeded.meters[0].id, seeded.accounts[1].id)
        .await
        .unwrap();
    assert_eq!(context.meter, seeded.meters[0]);
    assert_eq!(
        (context.account, context.supplier, context.last_closed),
        (None, None, None)
    );
}

async fn an_unattached_meter_and_unknown_ids(storage: Storage) {
    let seeded = house_with_accounts(&storage, 1, 1).await;
    let loose = meter(77, None, ZoneScheme::ThreeZone);
    storage
        .upsert_meters(std::slice::from_ref(&loose))
        .await
        .unwrap();
    let context = same_meter_context(&storage, loose.id, seeded.accounts[0].id)
        .await
        .unwrap();
    assert_eq!(context.meter, loose);
    assert_eq!(context.account, None);
    assert_eq!(
        same_meter_context(&storage, MeterId::new(9_999), seeded.accounts[0].id).await,
        None
    );
    assert_eq!(
        storage
            .reading_context(ReadingId::new(9_999), seeded.accounts[0].id)
            .await,
        Ok(None)
    );
}

async fn a_reading_comes_with_its_meters_context(storage: Storage) {
    let seeded = house_with_accounts(&storage, 1, 2).await;
    PeriodRepository::close(&storage, seeded.supplier.id, period(2026, 1))
        .await
        .unwrap();
    let m = seeded.meters[1].id.get();
    let first = storage
        .save(&simple_reading(m, period(2026, 2), 100))
        .await
        .unwrap();
    let mut correction = simple_reading(m, period(2026, 2), 150);
    correction.supersedes = Some(first.id);
    let second = storage.save(&correction).await.unwrap();
    for (id, account) in [
        (first.id, seeded.accounts[1].id),
        (second.id, seeded.accounts[1].id),
        (second.id, seeded.accounts[0].id),
    ] {
        let joined = storage.reading_context(id, account).await.unwrap();
        let reference = composed(&storage)
            .reading_context(id, account)
            .await
            .unwrap();
        assert_eq!(joined, reference, "reading {id:?}, account {account:?}");
        let (reading, context) = joined.unwrap();
        assert_eq!(Ok(Some(reading)), storage.reading(id).await);
        assert_eq!(context.meter, seeded.meters[1]);
        let owner = account == seeded.accounts[1].id;
        assert_eq!(context.account.is_some(), owner);
        assert_eq!(
            context.last_closed,
            owner.then_some(period(2026, 1)),
            "the last closed period comes with the owner's supplier only"
        );
    }
}

async fn a_damaged_joined_row_is_corrupt(storage: Storage) {
    let seeded = house_with_accounts(&storage, 1, 1).await;
    let (account, meter) = (seeded.accounts[0].id, seeded.meters[0].id);
    let saved = storage
        .save(&simple_reading(meter.get(), period(2026, 2), 100))
        .await
        .unwrap();
    damage(&storage, "UPDATE accounts SET consumer_group = 'aliens'").await;
    assert!(
        matches!(
            storage.meter_context(meter, account).await,
            Err(RepoError::Corrupt(ref m)) if m.contains("accounts")
        ),
        "{:?}",
        storage.meter_context(meter, account).await
    );
    assert!(matches!(
        storage.reading_context(saved.id, account).await,
        Err(RepoError::Corrupt(_))
    ));
    if storage.backend() == storage_seaorm::Backend::Sqlite {
        // A value of the wrong type fails the row's decoding itself (SQLite lets a column hold
        // one; PostgreSQL refuses the UPDATE): an error, not an absent meter.
        damage(&storage, "UPDATE meters SET digits = 'x'").await;
        assert!(storage.meter_context(meter, account).await.is_err());
        assert!(storage.reading_context(saved.id, account).await.is_err());
    }
}
