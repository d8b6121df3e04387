//! Contract of `ChargeRepository`: one set per (account, period), all or nothing with its
//! lines, volumes, postings and recalculations, never into a closed period.

use billing_core::ids::SupplierId;
use billing_core::money::Money;
use billing_core::ports::{
    ChargeRepository, ChargeSet, LedgerRepository, NewRecalculation, PeriodRepository,
    ReadingRepository, RecalculationKind, RecalculationRepository, RepoError,
    VolumeHistoryRepository,
};
use billing_core::service::ServiceKind;
use storage_seaorm::{RunOptions, Storage};

use crate::common::run::*;
use crate::common::seed::{SUPPLIER, count_lines, count_rows};

contract!(
    a_set_reads_back_as_stored,
    a_second_set_for_the_account_and_period_is_a_duplicate,
    eight_saves_of_one_set_store_it_once,
    no_set_goes_into_a_closed_period,
    a_recalculation_is_applied_once,
    counts_unbilled_accounts,
);

/// The sets of house 1 (3 accounts) as the run bills them, computed in a scratch database.
async fn house_sets() -> Vec<ChargeSet> {
    let scratch = scratch().await;
    seed_billable(&scratch, 1, 3).await;
    run(&scratch, RunOptions::default()).await.unwrap();
    sets_of(&scratch, &all_accounts(1, 3))
        .await
        .into_iter()
        .map(Option::unwrap)
        .collect()
}

async fn a_set_reads_back_as_stored(storage: Storage) {
    seed_billable(&storage, 1, 3).await;
    let sets = house_sets().await;
    let before = storage.journal(sets[0].account).await.unwrap().len();
    storage.save_charge_sets(&sets).await.unwrap();
    for set in &sets {
        assert_eq!(
            storage
                .charge_set(set.account, billed())
                .await
                .unwrap()
                .as_ref(),
            Some(set)
        );
    }
    // The postings went to the journal, the volumes to the history of later periods.
    let journal = storage.journal(sets[0].account).await.unwrap();
    assert_eq!(journal.len(), before + sets[0].postings().len());
    assert_eq!(&journal[before..], &sets[0].postings()[..]);
    let next = billed().next();
    let history = storage
        .volumes(sets[0].account, ServiceKind::Electricity, next)
        .await
        .unwrap();
    assert_eq!(history.last().map(|v| v.period), Some(billed()));
    assert_eq!(
        storage
            .charge_set(sets[0].account, billed().prev())
            .await
            .unwrap(),
        None
    );
}

async fn a_second_set_for_the_account_and_period_is_a_duplicate(storage: Storage) {
    seed_billable(&storage, 1, 3).await;
    let sets = house_sets().await;
    storage.save_charge_sets(&sets[..1]).await.unwrap();
    let counts = (
        count_rows(&storage, "charge_sets").await,
        count_lines(&storage).await,
        count_rows(&storage, "ledger_journal").await,
        count_rows(&storage, "volume_history").await,
    );
    // The batch holds a new set and a duplicate: nothing of it is written.
    assert_eq!(
        storage.save_charge_sets(&sets[..2]).await,
        Err(RepoError::Duplicate)
    );
    assert_eq!(
        counts,
        (
            count_rows(&storage, "charge_sets").await,
            count_lines(&storage).await,
            count_rows(&storage, "ledger_journal").await,
            count_rows(&storage, "volume_history").await,
        )
    );
    assert_eq!(
        storage.charge_set(sets[1].account, billed()).await,
        Ok(None)
    );
}

async fn eight_saves_of_one_set_store_it_once(storage: Storage) {
    seed_billable(&storage, 1, 3).await;
    let sets = house_sets().await;
    let before = storage.journal(sets[0].account).await.unwrap().len();
    let results = crate::concurrency::race(&storage, |_| {
        let (storage, sets) = (storage.clone(), sets.clone());
        async move { storage.save_charge_sets(&sets).await }
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
            .all(|r| r.is_ok() || *r == Err(RepoError::Duplicate))
    );
    assert_eq!(count_rows(&storage, "charge_sets").await, 3);
    assert_eq!(
        storage.journal(sets[0].account).await.unwrap().len(),
        before + sets[0].postings().len()
    );
}

async fn no_set_goes_into_a_closed_period(storage: Storage) {
    seed_billable(&storage, 1, 3).await;
    let sets = house_sets().await;
    PeriodRepository::close(&storage, SupplierId::new(SUPPLIER), billed())
        .await
        .unwrap();
    assert_eq!(
        storage.save_charge_sets(&sets).await,
        Err(RepoError::Conflict)
    );
    assert_eq!(count_rows(&storage, "charge_sets").await, 0);
}

async fn a_recalculation_is_applied_once(storage: Storage) {
    seed_billable(&storage, 1, 3).await;
    let mut sets = house_sets().await;
    let account = sets[0].account;
    // A correction of February for the first account, put in force with a new reading.
    let meter = crate::common::seed::build_house(1, 3).meters[0].id;
    let feb = storage
        .history(meter)
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.period == billed().prev())
        .unwrap();
    let (pending, _) = storage
        .record(&NewRecalculation {
            account,
            service: ServiceKind::Electricity,
            of_period: billed().prev(),
            billed_from: billed(),
            amount: Money::from_kopecks(-1_234),
            reason: "контрольная проверка".into(),
            kind: RecalculationKind::ControlCheck,
            recorded_on: TODAY,
            reading: billing_core::ports::NewReading {
                supersedes: Some(feb.id),
                ..crate::common::seed::reading(
                    meter.get(),
                    feb.period,
                    feb.values,
                    feb.taken_on,
                    billing_core::reading::ReadingSource::ControlCheck,
                )
            },
        })
        .await
        .unwrap();
    sets[0].recalculations = vec![pending.clone()];
    storage.save_charge_sets(&sets[..1]).await.unwrap();
    assert_eq!(storage.pending(account, billed()).await, Ok(Vec::new()));
    assert_eq!(
        storage
            .charge_set(account, billed())
            .await
            .unwrap()
            .unwrap()
            .recalculations,
        vec![pending.clone()]
    );
    // Another set applying the same correction is refused, writing nothing.
    sets[1].recalculations = vec![pending];
    let lines = count_lines(&storage).await;
    assert_eq!(
        storage.save_charge_sets(&sets[1..2]).await,
        Err(RepoError::Conflict)
    );
    assert_eq!(count_lines(&storage).await, lines);
}

async fn counts_unbilled_accounts(storage: Storage) {
    seed_billable(&storage, 1, 3).await;
    let supplier = SupplierId::new(SUPPLIER);
    assert_eq!(storage.count_unbilled(supplier, billed()).await, Ok(3));
    let sets = house_sets().await;
    storage.save_charge_sets(&sets[..2]).await.unwrap();
    assert_eq!(storage.count_unbilled(supplier, billed()).await, Ok(1));
    assert_eq!(
        storage.count_unbilled(supplier, billed().next()).await,
        Ok(3)
    );
    assert_eq!(
        storage.count_unbilled(SupplierId::new(77), billed()).await,
        Ok(0)
    );
}
