//! Contract of `RecalculationRepository`: a correction and the reading it puts in force are
//! stored together (the reading's compare-and-set failing stores neither), pending ones are
//! listed per account by id until applied and from their first billable period on, and eight
//! concurrent corrections of one reading record one.

use billing_core::ids::{AccountId, ReadingId};
use billing_core::money::Money;
use billing_core::ports::{
    NewRecalculation, ReadingRepository, RecalculationKind, RecalculationRepository, RepoError,
};
use billing_core::reading::ReadingStatus;
use billing_core::service::ServiceKind;
use sea_orm::ConnectionTrait;
use storage_seaorm::Storage;
use time::macros::date;

use crate::common::billing::period;
use crate::common::seed::*;
use crate::concurrency::race;

contract!(
    a_correction_is_stored_with_its_reading,
    a_lost_reading_compare_and_set_stores_no_correction,
    a_correction_of_a_missing_reading_is_not_found,
    pending_corrections_are_listed_until_applied,
    eight_corrections_of_one_reading_at_once_record_one,
);

/// A correction of January 2025 on `account`, putting in force a new value of `old`'s meter.
fn recalculation(
    account: AccountId,
    meter: u64,
    old: ReadingId,
    kopecks: i64,
    kind: RecalculationKind,
) -> NewRecalculation {
    let jan = period(2025, 1);
    NewRecalculation {
        account,
        service: ServiceKind::Electricity,
        of_period: jan,
        billed_from: period(2025, 3),
        amount: Money::from_kopecks(kopecks),
        reason: "Перерасчёт по результатам проверки прибора учёта".into(),
        kind,
        recorded_on: date!(2025 - 03 - 05),
        reading: correction(&simple_reading(meter, jan, 130), old),
    }
}

async fn setup(storage: &Storage) -> (AccountId, u64, ReadingId) {
    let seeded = house_with_accounts(storage, 1, 1).await;
    let meter = seeded.meters[0].id.get();
    let old = storage
        .save(&simple_reading(meter, period(2025, 1), 100))
        .await
        .unwrap();
    (seeded.accounts[0].id, meter, old.id)
}

async fn a_correction_is_stored_with_its_reading(storage: Storage) {
    let (account, meter, old) = setup(&storage).await;
    let new = recalculation(
        account,
        meter,
        old,
        -12_345,
        RecalculationKind::ControlCheck,
    );
    let (pending, reading) = storage.record(&new).await.unwrap();
    assert_eq!(pending.account, account);
    assert_eq!(pending.amount, Money::from_kopecks(-12_345));
    assert_eq!(pending.kind, RecalculationKind::ControlCheck);
    assert_eq!(pending.reading, reading.id);
    assert_eq!(pending.recorded_on, new.recorded_on);
    assert_eq!(pending.reason, new.reason);
    assert_eq!(reading.supersedes, Some(old));
    assert_eq!(storage.reading(reading.id).await, Ok(Some(reading.clone())));
    assert_eq!(
        storage.reading(old).await.unwrap().unwrap().status,
        ReadingStatus::Superseded
    );
    assert_eq!(
        storage.pending(account, period(2025, 3)).await,
        Ok(vec![pending])
    );
}

async fn a_lost_reading_compare_and_set_stores_no_correction(storage: Storage) {
    let (account, meter, old) = setup(&storage).await;
    storage.cancel(old).await.unwrap();
    assert_eq!(
        storage
            .record(&recalculation(
                account,
                meter,
                old,
                100,
                RecalculationKind::ReadingCorrection
            ))
            .await,
        Err(RepoError::Conflict)
    );
    assert_eq!(count_rows(&storage, "recalculations").await, 0);
    assert_eq!(count_rows(&storage, "readings").await, 1);
}

async fn a_correction_of_a_missing_reading_is_not_found(storage: Storage) {
    let (account, meter, _) = setup(&storage).await;
    assert_eq!(
        storage
            .record(&recalculation(
                account,
                meter,
                ReadingId::new(4242),
                100,
                RecalculationKind::ReadingCorrection
            ))
            .await,
        Err(RepoError::NotFound)
    );
    assert_eq!(count_rows(&storage, "recalculations").await, 0);
    assert_eq!(count_rows(&storage, "readings").await, 1);
}

async fn pending_corrections_are_listed_until_applied(storage: Storage) {
    let (account, meter, first) = setup(&storage).await;
    let (a, r1) = storage
        .record(&recalculation(
            account,
            meter,
            first,
            100,
            RecalculationKind::ReadingCorrection,
        ))
        .await
        .unwrap();
    let mut later = recalculation(account, meter, r1.id, 200, RecalculationKind::ControlCheck);
    later.billed_from = period(2025, 5);
    let (b, r2) = storage.record(&later).await.unwrap();
    let (c, _) = storage
        .record(&recalculation(
            account,
            meter,
            r2.id,
            -300,
            RecalculationKind::ReadingCorrection,
        ))
        .await
        .unwrap();
    assert!(a.id < b.id && b.id < c.id);
    assert_eq!(storage.pending(account, period(2025, 2)).await, Ok(vec![]));
    assert_eq!(
        storage.pending(account, period(2025, 3)).await,
        Ok(vec![a.clone(), c.clone()])
    );
    assert_eq!(
        storage.pending(account, period(2025, 5)).await,
        Ok(vec![a.clone(), b.clone(), c.clone()])
    );
    // The charge set that bills a correction marks it applied.
    storage
        .connection()
        .execute_unprepared(&format!(
            "UPDATE recalculations SET applied_in = 202503 WHERE id = {} AND applied_in IS NULL",
            a.id
        ))
        .await
        .unwrap();
    assert_eq!(
        storage.pending(account, period(2025, 5)).await,
        Ok(vec![b, c])
    );
    assert_eq!(
        storage.pending(AccountId::new(404), period(2025, 5)).await,
        Ok(vec![])
    );
}

async fn eight_corrections_of_one_reading_at_once_record_one(storage: Storage) {
    let (account, meter, old) = setup(&storage).await;
    let results = race(&storage, |i| {
        let storage = storage.clone();
        let new = recalculation(
            account,
            meter,
            old,
            100 + i64::try_from(i).unwrap(),
            RecalculationKind::ReadingCorrection,
        );
        async move { storage.record(&new).await }
    })
    .await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert_eq!(
        results
            .iter()
            .filter(|r| **r == Err(RepoError::Conflict))
            .count(),
        7,
        "{results:?}"
    );
    assert_eq!(
        storage
            .pending(account, period(2025, 3))
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(count_rows(&storage, "readings").await, 2);
}
