//! Contract of `ReadingContextRepository`: the one-read join answers exactly what the
//! single-table ports answer (`ComposedReadingContexts` over the same storage) — for the owner's
//! meter, another account's meter, an unattached meter, unknown ids, closed periods, a reading
//! of any status, the previous reading and the volume history of each period asked about — and
//! a damaged joined row is `Corrupt`, not a silent `None`.

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
    each_period_comes_with_its_previous_reading_and_history,
    contexts_asked_at_once_are_each_what_they_would_be_alone,
);

fn composed(storage: &Storage) -> ComposedReadingContexts {
    let s = Arc::new(storage.clone());
    ComposedReadingContexts {
        meters: s.clone(),
        accounts: s.clone(),
        suppliers: s.clone(),
        periods: s.clone(),
        readings: s.clone(),
        volumes: s,
    }
}

/// The periods every meter context of these tests is asked with (a submission asks two).
fn asked() -> [billing_core::period::Period; 2] {
    [period(2026, 3), period(2026, 4)]
}

/// Asserts the joined answer equals the composed one for (`meter`, `account`) and returns it.
async fn same_meter_context(
    storage: &Storage,
    meter: MeterId,
    account: AccountId,
) -> Option<billing_core::ports::MeterContext> {
    let joined = storage
        .meter_context(meter, account, &asked())
        .await
        .unwrap();
    let reference = composed(storage)
        .meter_context(meter, account, &asked())
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
            storage.meter_context(meter, account, &asked()).await,
            Err(RepoError::Corrupt(ref m)) if m.contains("accounts")
        ),
        "{:?}",
        storage.meter_context(meter, account, &asked()).await
    );
    assert!(matches!(
        storage.reading_context(saved.id, account).await,
        Err(RepoError::Corrupt(_))
    ));
    if storage.backend() == storage_seaorm::Backend::Sqlite {
        // A value of the wrong type fails the row's decoding itself (SQLite lets a column hold
        // one; PostgreSQL refuses the UPDATE): an error, not an absent meter.
        damage(&storage, "UPDATE meters SET digits = 'x'").await;
        assert!(
            storage
                .meter_context(meter, account, &asked())
                .await
                .is_err()
        );
        assert!(storage.reading_context(saved.id, account).await.is_err());
    }
}

/// A reading of the meter's history, stored as accepted (or, with `status`, then changed).
async fn stored(
    storage: &Storage,
    meter: u64,
    p: billing_core::period::Period,
    value: i64,
) -> billing_core::reading::Reading {
    storage
        .save(&simple_reading(meter, p, value))
        .await
        .unwrap()
}

async fn each_period_comes_with_its_previous_reading_and_history(storage: Storage) {
    use billing_core::service::ServiceKind;
    use billing_core::volume::{PastVolume, VolumeKind};
    let seeded = house_with_accounts(&storage, 1, 2).await;
    let (account, meter) = (seeded.accounts[0].id, seeded.meters[0].id);
    let (other_account, other_meter) = (seeded.accounts[1].id, seeded.meters[1].id);
    // The history: January and February accepted, March's first reading corrected (the
    // correction accepted), April's cancelled; the other meter ahead of this one.
    let jan = stored(&storage, meter.get(), period(2026, 1), 100).await;
    let feb = stored(&storage, meter.get(), period(2026, 2), 200).await;
    let mar = stored(&storage, meter.get(), period(2026, 3), 300).await;
    let mut fix = simple_reading(meter.get(), period(2026, 3), 310);
    fix.supersedes = Some(mar.id);
    let mar_fixed = storage.save(&fix).await.unwrap();
    let apr = stored(&storage, meter.get(), period(2026, 4), 400).await;
    storage.cancel(apr.id).await.unwrap();
    stored(&storage, other_meter.get(), period(2026, 3), 999).await;
    let v = |p, value| PastVolume {
        period: p,
        kind: VolumeKind::Readings,
        values: same_values(seeded.meters[0].registers.scheme, value),
    };
    let e = ServiceKind::Electricity;
    storage
        .import_volumes(&[
            (account, e, v(period(2026, 2), 100)),
            (account, e, v(period(2025, 12), 90)),
            (account, e, v(period(2026, 3), 110)),
            (account, e, v(period(2026, 4), 120)),
            (account, ServiceKind::ColdWater, v(period(2026, 1), 5)),
            (other_account, e, v(period(2026, 1), 7)),
        ])
        .await
        .unwrap();

    let context = same_meter_context(&storage, meter, account).await.unwrap();
    let [march, april] = [&context.checks[0], &context.checks[1]];
    assert_eq!(context.checks.len(), 2);
    assert_eq!(
        (march.period, april.period),
        (period(2026, 3), period(2026, 4))
    );
    assert_eq!(
        march.previous.as_ref(),
        Some(&feb),
        "before March: February"
    );
    assert_eq!(
        april.previous.as_ref(),
        Some(&mar_fixed),
        "before April: March's correction"
    );
    let periods = |b: &billing_core::ports::CheckBasis| {
        b.volumes.iter().map(|v| v.period).collect::<Vec<_>>()
    };
    assert_eq!(
        periods(march),
        [period(2025, 12), period(2026, 2)],
        "oldest first, before March, this service"
    );
    assert_eq!(
        periods(april),
        [period(2025, 12), period(2026, 2), period(2026, 3)]
    );
    assert_eq!(context.basis_for(period(2026, 4)), Some(april));
    assert_eq!(context.basis_for(period(2026, 5)), None);

    // Asked about nothing: no bases; about one period: its basis alone.
    let bare = storage
        .meter_context(meter, account, &[])
        .await
        .unwrap()
        .unwrap();
    assert!(bare.checks.is_empty());
    let one = storage
        .meter_context(meter, account, &[period(2026, 2)])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(one.checks.len(), 1);
    assert_eq!(one.checks[0].previous.as_ref(), Some(&jan));
    assert_eq!(periods(&one.checks[0]), [period(2025, 12)]);
    assert_eq!(
        one,
        composed(&storage)
            .meter_context(meter, account, &[period(2026, 2)])
            .await
            .unwrap()
            .unwrap()
    );
    // The first reading has no previous one and no history.
    let first = storage
        .meter_context(meter, account, &[period(2025, 1)])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.checks[0].previous, None);
    assert!(first.checks[0].volumes.is_empty());

    // A reading's context brings the basis of its own period.
    for (id, expected_previous) in [
        (mar_fixed.id, Some(&feb)),
        (feb.id, Some(&jan)),
        (jan.id, None),
    ] {
        let joined = storage.reading_context(id, account).await.unwrap();
        assert_eq!(
            joined,
            composed(&storage)
                .reading_context(id, account)
                .await
                .unwrap()
        );
        let (reading, context) = joined.unwrap();
        assert_eq!(context.checks.len(), 1);
        assert_eq!(context.checks[0].period, reading.period);
        assert_eq!(context.checks[0].previous.as_ref(), expected_previous);
    }
    // Not the account's meter: no account, no bases.
    let foreign = storage
        .meter_context(meter, other_account, &asked())
        .await
        .unwrap()
        .unwrap();
    assert!(foreign.checks.is_empty());
}

/// Reading contexts asked at once — on PostgreSQL served by shared queries (`Storage::batches`)
/// — are each what the single-table ports answer alone: the owner's and another account's
/// view, unknown readings, and a damaged reading that is its own asker's error only.
async fn contexts_asked_at_once_are_each_what_they_would_be_alone(storage: Storage) {
    let seeded = house_with_accounts(&storage, 1, 3).await;
    PeriodRepository::close(&storage, seeded.supplier.id, period(2026, 1))
        .await
        .unwrap();
    let mut readings = Vec::new();
    for (i, m) in seeded.meters.iter().enumerate() {
        for month in 1..=4 {
            let value = 100 * i64::from(month) + i64::try_from(i).unwrap();
            readings.push(
                stored(&storage, m.id.get(), period(2026, month), value)
                    .await
                    .id,
            );
        }
    }
    let damaged = readings[5];
    damage(
        &storage,
        &format!(
            "UPDATE readings SET register_values = 'not a number' WHERE id = {}",
            damaged.get()
        ),
    )
    .await;
    let mut asked: Vec<(ReadingId, AccountId)> = Vec::new();
    for &r in &readings {
        for a in [&seeded.accounts[0], &seeded.accounts[2]] {
            asked.push((r, a.id));
        }
    }
    asked.push((ReadingId::new(8_000_001), seeded.accounts[0].id));
    asked.push((ReadingId::new(8_000_002), seeded.accounts[1].id));
    let mut alone = Vec::new();
    for &(r, a) in &asked {
        alone.push(composed(&storage).reading_context(r, a).await);
    }
    let before = storage.batches().reading_contexts;
    let barrier = Arc::new(tokio::sync::Barrier::new(asked.len()));
    let handles: Vec<_> = asked
        .iter()
        .map(|&(r, a)| {
            let (storage, barrier) = (storage.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                storage.reading_context(r, a).await
            })
        })
        .collect();
    for ((h, want), (r, a)) in handles.into_iter().zip(&alone).zip(&asked) {
        let got = h.await.unwrap();
        if *r == damaged {
            assert!(
                matches!(got, Err(RepoError::Corrupt(ref m)) if m.contains("readings")),
                "{got:?}"
            );
            assert!(want.is_err(), "{want:?}");
        } else {
            assert_eq!(&got, want, "reading {r:?}, account {a:?}");
        }
    }
    assert!(alone.iter().filter(|a| matches!(a, Ok(Some(_)))).count() >= 20);
    let after = storage.batches().reading_contexts;
    crate::common::assert_shared(&storage, before, after, asked.len());
}
