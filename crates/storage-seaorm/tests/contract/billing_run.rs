//! The persisted supplier-wide billing run: the same lines as `BillingService`'s house runs,
//! idempotent, resumable, safe with many workers, failures isolated per house.

use std::sync::{Arc, Mutex};

use billing_core::ids::{HouseId, SupplierId};
use billing_core::ports::{ChargeRepository, LedgerRepository, PeriodRepository};
use billing_core::usecase::BillingOutcome;
use storage_seaorm::{RunError, RunOptions, RunProgress, Storage};

use crate::common::run::*;
use crate::common::seed::{SUPPLIER, count_lines, count_rows};

contract!(
    bills_every_account_with_the_lines_of_the_house_runs,
    a_second_start_bills_nothing_more,
    eight_runs_at_once_bill_every_account_once,
    accounts_billed_before_keep_their_sets,
    a_house_that_cannot_be_billed_fails_alone_and_is_retried,
    the_volume_history_gives_the_averages_of_the_house_runs,
    a_damaged_history_fails_its_house_alone,
    refuses_closed_and_early_periods,
    reports_progress_per_chunk,
    a_chunk_larger_than_one_statement_is_stored_whole,
);

const HOUSES: u64 = 6;
const ACCOUNTS: usize = 7;

fn options(chunk: usize, workers: usize) -> RunOptions {
    RunOptions {
        houses_per_chunk: chunk,
        workers,
    }
}

async fn bills_every_account_with_the_lines_of_the_house_runs(storage: Storage) {
    seed_billable(&storage, HOUSES, ACCOUNTS).await;
    let report = run(&storage, options(4, 2)).await.unwrap();
    assert_eq!(report.progress.houses_total, HOUSES);
    assert_eq!(report.progress.houses_done, HOUSES);
    assert_eq!(report.progress.sets_written, HOUSES * ACCOUNTS as u64);
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    // The reference: BillingService's house run, through the ports, on a separate database.
    let reference = scratch().await;
    seed_billable(&reference, HOUSES, ACCOUNTS).await;
    let billing = service(&reference);
    for h in 1..=HOUSES {
        let outcome = billing
            .run_billing_for_house(HouseId::new(h), billed())
            .await
            .unwrap();
        assert!(
            outcome
                .accounts
                .iter()
                .all(|o| matches!(o, BillingOutcome::Billed(_)))
        );
    }
    let accounts = all_accounts(HOUSES, ACCOUNTS);
    let got = sets_of(&storage, &accounts).await;
    let want = sets_of(&reference, &accounts).await;
    for (g, w) in got.iter().zip(&want) {
        let (g, w) = (g.as_ref().unwrap(), w.as_ref().unwrap());
        assert_eq!(g.lines, w.lines, "lines of account {}", g.account);
        assert_eq!(g, w);
        assert_eq!(
            storage.journal(g.account).await.unwrap(),
            reference.journal(w.account).await.unwrap()
        );
    }
    // Estimates, three zones, ОДН and penalties all took part.
    let lines: Vec<_> = got.iter().flatten().flat_map(|s| &s.lines).collect();
    for service in [
        billing_core::ServiceKind::Electricity,
        billing_core::ServiceKind::ElectricityCommon,
        billing_core::ServiceKind::ColdWater,
        billing_core::ServiceKind::Penalty,
    ] {
        assert!(lines.iter().any(|l| l.service == service), "{service:?}");
    }
    assert!(got.iter().flatten().any(|s| s.has_estimates()));
}

async fn a_second_start_bills_nothing_more(storage: Storage) {
    seed_billable(&storage, HOUSES, ACCOUNTS).await;
    run(&storage, options(3, 2)).await.unwrap();
    let (sets, lines, journal) = (
        count_rows(&storage, "charge_sets").await,
        count_lines(&storage).await,
        count_rows(&storage, "ledger_journal").await,
    );
    let again = run(&storage, options(3, 2)).await.unwrap();
    assert_eq!(again.progress.sets_written, 0);
    assert_eq!(again.progress.houses_done, HOUSES);
    assert_eq!(count_rows(&storage, "charge_sets").await, sets);
    assert_eq!(count_lines(&storage).await, lines);
    assert_eq!(count_rows(&storage, "ledger_journal").await, journal);
}

async fn eight_runs_at_once_bill_every_account_once(storage: Storage) {
    seed_billable(&storage, HOUSES, ACCOUNTS).await;
    let results = crate::concurrency::race(&storage, |_| {
        let storage = storage.clone();
        async move { run(&storage, options(1, 2)).await }
    })
    .await;
    let reports: Vec<_> = results.into_iter().map(Result::unwrap).collect();
    // Each run returns only when every house is billed, whichever run billed it.
    for r in &reports {
        assert_eq!(r.progress.houses_done, HOUSES, "{:?}", r.progress);
    }
    let written: u64 = reports.iter().map(|r| r.progress.sets_written).sum();
    assert_eq!(written, HOUSES * ACCOUNTS as u64);
    assert_eq!(
        count_rows(&storage, "charge_sets").await,
        i64::try_from(HOUSES).unwrap() * ACCOUNTS as i64
    );
    // Every account's journal holds its postings once: compare with a single run elsewhere.
    let reference = scratch().await;
    seed_billable(&reference, HOUSES, ACCOUNTS).await;
    run(&reference, options(10, 1)).await.unwrap();
    for a in all_accounts(HOUSES, ACCOUNTS) {
        assert_eq!(
            storage.journal(a).await.unwrap(),
            reference.journal(a).await.unwrap()
        );
    }
}

async fn accounts_billed_before_keep_their_sets(storage: Storage) {
    seed_billable(&storage, HOUSES, ACCOUNTS).await;
    let billing = service(&storage);
    let first = billing
        .run_billing_for_house(HouseId::new(2), billed())
        .await
        .unwrap();
    let report = run(&storage, options(2, 2)).await.unwrap();
    assert_eq!(report.progress.sets_written, (HOUSES - 1) * ACCOUNTS as u64);
    for outcome in first.accounts {
        let set = outcome.charge_set().clone();
        assert_eq!(
            storage.charge_set(set.account, billed()).await.unwrap(),
            Some(set)
        );
    }
    assert_eq!(
        storage
            .count_unbilled(SupplierId::new(SUPPLIER), billed())
            .await,
        Ok(0)
    );
}

async fn a_house_that_cannot_be_billed_fails_alone_and_is_retried(storage: Storage) {
    seed_billable(&storage, HOUSES, ACCOUNTS).await;
    // House 3's accounts move to a consumer group that has no tariff.
    regroup_house(&storage, 3, billing_core::tariff::ConsumerGroup::Rural).await;
    let report = run(&storage, options(2, 2)).await.unwrap();
    assert_eq!(report.progress.houses_done, HOUSES - 1);
    assert_eq!(report.progress.houses_failed, 1);
    assert_eq!(report.failed.len(), 1);
    assert_eq!(report.failed[0].0, HouseId::new(3));
    assert_eq!(
        storage
            .count_unbilled(SupplierId::new(SUPPLIER), billed())
            .await,
        Ok(ACCOUNTS as u64)
    );
    regroup_house(&storage, 3, billing_core::tariff::ConsumerGroup::Population).await;
    let again = run(&storage, options(2, 2)).await.unwrap();
    assert_eq!(again.progress.houses_done, HOUSES);
    assert_eq!(again.progress.houses_failed, 0);
    assert_eq!(again.progress.sets_written, ACCOUNTS as u64);
}

/// Moves every account of seeded house `house` to consumer group `group` (`Rural` has no
/// tariff, so the house cannot be billed; `Population` is the seeded group).
async fn regroup_house(storage: &Storage, house: u64, group: billing_core::tariff::ConsumerGroup) {
    let mut accounts = crate::common::seed::build_house(house, ACCOUNTS).accounts;
    for a in &mut accounts {
        a.group = group;
    }
    storage.upsert_accounts(&accounts).await.unwrap();
}

/// Three months of billed volumes before the billed period for every meter of `houses`
/// houses, so the accounts without a closing reading are billed by their average.
async fn seed_volume_history(storage: &Storage, houses: u64) {
    use billing_core::volume::{PastVolume, VolumeKind};
    let mut volumes = Vec::new();
    for h in 1..=houses {
        for (i, m) in crate::common::seed::build_house(h, ACCOUNTS)
            .meters
            .iter()
            .enumerate()
        {
            let Some(account) = m.account else { continue };
            for (n, period) in [(2024, 12), (2025, 1), (2025, 2)].into_iter().enumerate() {
                let value = 40 + i64::try_from(i + n).unwrap();
                volumes.push((
                    account,
                    m.service,
                    PastVolume {
                        period: billing_core::Period::new(period.0, period.1).unwrap(),
                        kind: VolumeKind::Readings,
                        values: crate::common::seed::same_values(m.registers.scheme, value),
                    },
                ));
            }
        }
    }
    storage.import_volumes(&volumes).await.unwrap();
}

async fn the_volume_history_gives_the_averages_of_the_house_runs(storage: Storage) {
    seed_billable(&storage, HOUSES, ACCOUNTS).await;
    seed_volume_history(&storage, HOUSES).await;
    let report = run(&storage, options(4, 2)).await.unwrap();
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    let reference = scratch().await;
    seed_billable(&reference, HOUSES, ACCOUNTS).await;
    seed_volume_history(&reference, HOUSES).await;
    let billing = service(&reference);
    for h in 1..=HOUSES {
        billing
            .run_billing_for_house(HouseId::new(h), billed())
            .await
            .unwrap();
    }
    let accounts = all_accounts(HOUSES, ACCOUNTS);
    let got = sets_of(&storage, &accounts).await;
    assert_eq!(got, sets_of(&reference, &accounts).await);
    // The history was read: some accounts are billed by their average, as the reference.
    let averaged = got
        .iter()
        .flatten()
        .flat_map(|s| &s.lines)
        .filter(|l| format!("{:?}", l.basis).contains("Average"))
        .count();
    assert!(averaged > 0, "no line billed by the average");
}

async fn a_damaged_history_fails_its_house_alone(storage: Storage) {
    seed_billable(&storage, HOUSES, ACCOUNTS).await;
    seed_volume_history(&storage, HOUSES).await;
    let of_house = |h: u64| {
        format!(
            "account_id IN (SELECT a.id FROM accounts a JOIN premises p ON p.id = a.premise_id \
             WHERE p.house_id = {h})"
        )
    };
    let mut broken = vec![HouseId::new(2), HouseId::new(5)];
    crate::common::seed::damage(
        &storage,
        &format!(
            "UPDATE volume_history SET kind = 'guess' WHERE {}",
            of_house(2)
        ),
    )
    .await;
    crate::common::seed::damage(
        &storage,
        &format!(
            "UPDATE ledger_journal SET kind = 'gift' WHERE {}",
            of_house(5)
        ),
    )
    .await;
    if storage.backend() == storage_seaorm::Backend::Sqlite {
        crate::common::seed::damage(
            &storage,
            &format!(
                "UPDATE ledger_journal SET period = 202412.5 WHERE period IS NOT NULL AND {}",
                of_house(6)
            ),
        )
        .await;
        crate::common::seed::damage(
            &storage,
            &format!(
                "UPDATE readings SET submitted_at = 1.5 \
                 WHERE meter_id IN (SELECT id FROM meters WHERE {})",
                of_house(3)
            ),
        )
        .await;
        broken.push(HouseId::new(3));
        // A period that is not an integer, which SQLite stores as given (one row: the
        // account's three rows would otherwise collide on the key).
        crate::common::seed::damage(
            &storage,
            &format!(
                "UPDATE volume_history SET period = 202502.5 WHERE period = 202502 AND {}",
                of_house(4)
            ),
        )
        .await;
        broken.extend([HouseId::new(4), HouseId::new(6)]);
    }
    let report = run(&storage, options(2, 2)).await.unwrap();
    let mut failed: Vec<HouseId> = report.failed.iter().map(|(h, _)| *h).collect();
    failed.sort_unstable();
    broken.sort_unstable();
    assert_eq!(failed, broken, "{:?}", report.failed);
    for (house, reason) in &report.failed {
        let table = match house.get() {
            3 => "readings",
            2 | 4 => "volume_history",
            _ => "ledger_journal",
        };
        assert!(reason.contains(table), "{reason}");
    }
    assert_eq!(
        report.progress.houses_done,
        HOUSES - u64::try_from(broken.len()).unwrap()
    );
}

async fn refuses_closed_and_early_periods(storage: Storage) {
    seed_billable(&storage, 1, 2).await;
    let early = storage
        .run_supplier_billing(
            SupplierId::new(SUPPLIER),
            billed(),
            time::macros::date!(2025 - 03 - 25),
            options(1, 1),
            Arc::new(|_: RunProgress| {}),
        )
        .await;
    assert!(matches!(early, Err(RunError::TooEarly { .. })), "{early:?}");
    let missing = storage
        .run_supplier_billing(
            SupplierId::new(99),
            billed(),
            TODAY,
            options(1, 1),
            Arc::new(|_: RunProgress| {}),
        )
        .await;
    assert_eq!(missing.err(), Some(RunError::SupplierNotFound));
    PeriodRepository::close(&storage, SupplierId::new(SUPPLIER), billed())
        .await
        .unwrap();
    assert_eq!(
        run(&storage, options(1, 1)).await.err(),
        Some(RunError::PeriodClosed(billed()))
    );
    assert_eq!(count_rows(&storage, "charge_sets").await, 0);
}

async fn reports_progress_per_chunk(storage: Storage) {
    seed_billable(&storage, HOUSES, 2).await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    storage
        .run_supplier_billing(
            SupplierId::new(SUPPLIER),
            billed(),
            TODAY,
            options(1, 1),
            Arc::new(move |p: RunProgress| sink.lock().unwrap().push(p)),
        )
        .await
        .unwrap();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len() as u64, HOUSES);
    for (i, p) in seen.iter().enumerate() {
        assert_eq!(p.houses_done, i as u64 + 1);
        assert_eq!(p.houses_total, HOUSES);
        assert_eq!(p.sets_written, 2 * (i as u64 + 1));
    }
    assert_eq!(
        storage
            .billing_run_progress(SupplierId::new(SUPPLIER), billed())
            .await
            .unwrap()
            .map(|p| p.houses_done),
        Some(HOUSES)
    );
}

/// 300 houses of 34 accounts (the seed's houses hold no more) billed as one chunk: its sets, volumes and journal postings
/// each exceed one insert statement (10 000 rows per `UNNEST` insert on PostgreSQL; SQLite's
/// multi-row batches are smaller still). Every set, volume and posting is stored, and every
/// set and the journals around the statements' boundaries equal those of the same run on a
/// scratch SQLite database.
async fn a_chunk_larger_than_one_statement_is_stored_whole(storage: Storage) {
    const BIG_HOUSES: u64 = 300;
    const PER_HOUSE: usize = 34;
    let big = usize::try_from(BIG_HOUSES).unwrap() * PER_HOUSE;
    seed_billable(&storage, BIG_HOUSES, PER_HOUSE).await;
    let report = run(&storage, options(300, 1)).await.unwrap();
    assert_eq!(
        report.progress.houses_done, BIG_HOUSES,
        "{:?}",
        report.failed
    );
    assert_eq!(report.progress.sets_written, u64::try_from(big).unwrap());
    let scratch = scratch().await;
    seed_billable(&scratch, BIG_HOUSES, PER_HOUSE).await;
    run(&scratch, options(300, 1)).await.unwrap();
    let accounts = all_accounts(BIG_HOUSES, PER_HOUSE);
    assert_eq!(
        sets_of(&storage, &accounts).await,
        sets_of(&scratch, &accounts).await
    );
    for table in ["volume_history", "ledger_journal"] {
        let written = count_rows(&storage, table).await;
        assert_eq!(written, count_rows(&scratch, table).await, "{table}");
        assert!(written > 10_000, "{table}: {written} rows");
    }
    let boundaries = [0, 4_999, 5_000, 9_999, 10_000, big - 1];
    for i in boundaries.into_iter().chain((0..big).step_by(97)) {
        assert_eq!(
            storage.journal(accounts[i]).await.unwrap(),
            scratch.journal(accounts[i]).await.unwrap(),
            "account #{i}"
        );
    }
}

/// PostgreSQL: a pending house another transaction holds — the claim of a run whose process
/// was just killed and whose backend has not noticed yet, or another live run's last chunk —
/// is waited for, not skipped: the run returns only when every house is billed. (Before, the
/// claim's `SKIP LOCKED` found nothing, the run returned with the house still pending, and
/// `abonent-billing-run` printed `finished` with one house short.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_waits_for_a_house_another_transaction_holds() {
    crate::common::on_postgres(|storage: Storage| async move {
        use sea_orm::{ConnectionTrait, TransactionTrait};
        seed_billable(&storage, HOUSES, ACCOUNTS).await;
        // House 3 fails (no tariff for its group), is repaired and set pending again — the
        // state a killed run leaves its claimed house in.
        regroup_house(&storage, 3, billing_core::tariff::ConsumerGroup::Rural).await;
        let first = run(&storage, options(2, 2)).await.unwrap();
        assert_eq!(first.progress.houses_failed, 1);
        regroup_house(&storage, 3, billing_core::tariff::ConsumerGroup::Population).await;
        crate::common::seed::damage(
            &storage,
            "UPDATE billing_run_houses SET state = 'pending', error = NULL WHERE house_id = 3",
        )
        .await;
        let holder = storage.connection().begin().await.unwrap();
        holder
            .execute_unprepared("SELECT 1 FROM billing_run_houses WHERE house_id = 3 FOR UPDATE")
            .await
            .unwrap();
        let running = {
            let storage = storage.clone();
            tokio::spawn(async move { run(&storage, options(2, 2)).await })
        };
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        assert!(
            !running.is_finished(),
            "the run returned while house 3 was held: {:?}",
            running.await
        );
        holder.rollback().await.unwrap();
        let report = running.await.unwrap().unwrap();
        assert_eq!(report.progress.houses_done, HOUSES);
        assert_eq!(report.progress.houses_failed, 0);
        assert_eq!(report.progress.sets_written, ACCOUNTS as u64);
        assert_eq!(
            storage
                .count_unbilled(SupplierId::new(SUPPLIER), billed())
                .await,
            Ok(0)
        );
    })
    .await;
}
