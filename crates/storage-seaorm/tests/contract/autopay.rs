//! Contract of `AutopayRepository`: settings round-trip in both modes, `put` is a
//! compare-and-set on `version` (a second first write, a stale or unknown version and all but
//! one of eight puts at once are `Conflict`, writing nothing), `delete` says whether there were
//! any, settings are per (ЛС, payer), an ЛС that does not exist is `NotFound`, and a damaged row
//! is reported.

use billing_core::autopay::{AutopayMode, AutopayRepository, AutopaySettings};
use billing_core::ids::AccountId;
use billing_core::money::Money;
use billing_core::ports::RepoError;
use storage_seaorm::Storage;

use crate::common::billing::rub;
use crate::common::seed::{assert_corrupt, count_rows, damage, house_with_accounts};
use crate::concurrency::race;

contract!(
    settings_round_trip_in_both_modes_with_and_without_a_limit,
    a_second_first_write_is_a_conflict_and_writes_nothing,
    a_stale_or_unknown_version_is_a_conflict_and_writes_nothing,
    eight_puts_from_one_version_at_once_store_one,
    delete_says_whether_there_were_any,
    payers_and_accounts_keep_their_own_settings,
    settings_of_an_account_that_does_not_exist_are_not_found,
    a_damaged_row_is_reported,
);

/// The two seeded accounts of house 1.
const A: u64 = 1_000_001;
const B: u64 = 1_000_002;
const TABLE: &str = "autopay_settings";

/// House 1 with accounts [`A`] and [`B`].
async fn seeded(storage: &Storage) {
    house_with_accounts(storage, 1, 2).await;
}

/// Unwritten settings (version 0) of `payer` for `account`.
fn settings(account: u64, payer: &str, mode: AutopayMode, limit: Option<Money>) -> AutopaySettings {
    AutopaySettings {
        account: AccountId::new(account),
        payer: payer.to_owned(),
        enabled: true,
        mode,
        day_of_month: 10,
        limit,
        version: 0,
    }
}

/// Full debt on the 10th, no limit.
fn full_debt(account: u64, payer: &str) -> AutopaySettings {
    settings(account, payer, AutopayMode::FullDebt, None)
}

/// `s` stored as `version`.
fn stored(s: &AutopaySettings, version: u64) -> AutopaySettings {
    AutopaySettings {
        version,
        ..s.clone()
    }
}

async fn settings_round_trip_in_both_modes_with_and_without_a_limit(storage: Storage) {
    seeded(&storage).await;
    let cases = [
        full_debt(A, "debt"),
        settings(A, "debt-limited", AutopayMode::FullDebt, Some(rub(250_050))),
        settings(A, "fixed", AutopayMode::Fixed(rub(12_345)), None),
        AutopaySettings {
            enabled: false,
            day_of_month: 28,
            // An exact amount far from the usual.
            ..settings(
                A,
                "fixed-limited",
                AutopayMode::Fixed(rub(123_456_789_012_345)),
                Some(rub(123_456_789_012_399)),
            )
        },
    ];
    for s in &cases {
        assert_eq!(storage.put(s).await, Ok(stored(s, 1)));
        assert_eq!(
            storage.get(AccountId::new(A), &s.payer).await,
            Ok(Some(stored(s, 1)))
        );
    }
    // A later write replaces every column: fixed becomes full debt (the amount goes), the limit
    // goes, and back.
    let plain = stored(&full_debt(A, "fixed-limited"), 1);
    assert_eq!(storage.put(&plain).await, Ok(stored(&plain, 2)));
    let back = stored(&cases[3], 2);
    assert_eq!(storage.put(&back).await, Ok(stored(&back, 3)));
    for (s, version) in cases.iter().zip([1, 1, 1, 3]) {
        assert_eq!(
            storage.get(AccountId::new(A), &s.payer).await,
            Ok(Some(stored(s, version)))
        );
    }
    assert_eq!(storage.get(AccountId::new(A), "nobody").await, Ok(None));
    // A payer of 64 characters (the column's most) is kept whole; one more is refused.
    let long = full_debt(A, &"я".repeat(64));
    assert_eq!(storage.put(&long).await, Ok(stored(&long, 1)));
    assert_eq!(
        storage.get(AccountId::new(A), &long.payer).await,
        Ok(Some(stored(&long, 1)))
    );
    let too_long = full_debt(A, &"я".repeat(65));
    assert!(matches!(
        storage.put(&too_long).await,
        Err(RepoError::Unavailable(_))
    ));
    assert_eq!(count_rows(&storage, TABLE).await, 5);
}

async fn a_second_first_write_is_a_conflict_and_writes_nothing(storage: Storage) {
    seeded(&storage).await;
    let first = full_debt(A, "p");
    storage.put(&first).await.unwrap();
    let other = settings(A, "p", AutopayMode::Fixed(rub(50_000)), Some(rub(60_000)));
    assert_eq!(storage.put(&other).await, Err(RepoError::Conflict));
    assert_eq!(storage.put(&first).await, Err(RepoError::Conflict));
    assert_eq!(count_rows(&storage, TABLE).await, 1);
    assert_eq!(
        storage.get(AccountId::new(A), "p").await,
        Ok(Some(stored(&first, 1)))
    );
}

async fn a_stale_or_unknown_version_is_a_conflict_and_writes_nothing(storage: Storage) {
    seeded(&storage).await;
    let v1 = storage.put(&full_debt(A, "p")).await.unwrap();
    let v2 = storage
        .put(&AutopaySettings {
            day_of_month: 20,
            ..v1.clone()
        })
        .await
        .unwrap();
    assert_eq!(v2.version, 2);
    // Another device still holds version 1; a version never stored; settings never written.
    let stale = AutopaySettings {
        mode: AutopayMode::Fixed(rub(70_000)),
        ..v1.clone()
    };
    let ahead = AutopaySettings {
        version: 7,
        ..stale.clone()
    };
    let unknown = stored(&full_debt(A, "other"), 1);
    for s in [&stale, &ahead, &unknown] {
        assert_eq!(storage.put(s).await, Err(RepoError::Conflict), "{s:?}");
    }
    assert_eq!(
        storage.get(AccountId::new(A), "p").await,
        Ok(Some(v2.clone()))
    );
    assert_eq!(storage.get(AccountId::new(A), "other").await, Ok(None));
    assert_eq!(count_rows(&storage, TABLE).await, 1);
    // The current version still writes.
    assert_eq!(storage.put(&v2).await, Ok(stored(&v2, 3)));
}

async fn eight_puts_from_one_version_at_once_store_one(storage: Storage) {
    seeded(&storage).await;
    // Eight first writes (version 0), then eight writes from version 1: each task its own day.
    let base = storage.put(&full_debt(A, "p")).await.unwrap();
    for (payer, from) in [("q", 0), ("p", 1)] {
        let results = race(&storage, |i| {
            let storage = storage.clone();
            let s = AutopaySettings {
                day_of_month: u8::try_from(i + 1).unwrap(),
                version: from,
                payer: payer.to_owned(),
                ..base.clone()
            };
            async move { (storage.put(&s).await, s) }
        })
        .await;
        let outcomes: Vec<_> = results.iter().map(|(r, _)| r).collect();
        let won: Vec<_> = results.iter().filter(|(r, _)| r.is_ok()).collect();
        assert_eq!(won.len(), 1, "{outcomes:?}");
        assert!(
            outcomes
                .iter()
                .all(|r| r.is_ok() || **r == Err(RepoError::Conflict)),
            "{outcomes:?}"
        );
        let (result, s) = won[0];
        assert_eq!(result, &Ok(stored(s, from + 1)));
        assert_eq!(
            storage.get(AccountId::new(A), payer).await,
            Ok(Some(stored(s, from + 1)))
        );
    }
    assert_eq!(count_rows(&storage, TABLE).await, 2);
}

async fn delete_says_whether_there_were_any(storage: Storage) {
    seeded(&storage).await;
    let s = full_debt(A, "p");
    storage.put(&s).await.unwrap();
    assert_eq!(storage.delete(AccountId::new(A), "p").await, Ok(true));
    assert_eq!(storage.get(AccountId::new(A), "p").await, Ok(None));
    assert_eq!(storage.delete(AccountId::new(A), "p").await, Ok(false));
    assert_eq!(storage.delete(AccountId::new(999), "p").await, Ok(false));
    // Deleted settings are none: the old version no longer writes, a first write does.
    assert_eq!(storage.put(&stored(&s, 1)).await, Err(RepoError::Conflict));
    assert_eq!(storage.put(&s).await, Ok(stored(&s, 1)));
}

async fn payers_and_accounts_keep_their_own_settings(storage: Storage) {
    seeded(&storage).await;
    let mine = storage.put(&full_debt(A, "p")).await.unwrap();
    let theirs = storage
        .put(&settings(A, "q", AutopayMode::Fixed(rub(80_000)), None))
        .await
        .unwrap();
    let elsewhere = storage
        .put(&settings(B, "p", AutopayMode::FullDebt, Some(rub(90_000))))
        .await
        .unwrap();
    // Each at version 1; a write to one leaves the others alone.
    let changed = storage
        .put(&AutopaySettings {
            enabled: false,
            ..mine.clone()
        })
        .await
        .unwrap();
    assert_eq!(
        storage.get(AccountId::new(A), "q").await,
        Ok(Some(theirs.clone()))
    );
    assert_eq!(
        storage.get(AccountId::new(B), "p").await,
        Ok(Some(elsewhere.clone()))
    );
    assert_eq!(storage.delete(AccountId::new(A), "p").await, Ok(true));
    assert_eq!(storage.get(AccountId::new(A), "q").await, Ok(Some(theirs)));
    assert_eq!(
        storage.get(AccountId::new(B), "p").await,
        Ok(Some(elsewhere))
    );
    assert_eq!(storage.get(AccountId::new(A), "p").await, Ok(None));
    assert_eq!(changed.version, 2);
}

async fn settings_of_an_account_that_does_not_exist_are_not_found(storage: Storage) {
    seeded(&storage).await;
    let ghost = full_debt(999, "p");
    assert_eq!(storage.put(&ghost).await, Err(RepoError::NotFound));
    assert_eq!(count_rows(&storage, TABLE).await, 0);
    assert_eq!(storage.get(AccountId::new(999), "p").await, Ok(None));
}

async fn a_damaged_row_is_reported(storage: Storage) {
    seeded(&storage).await;
    storage
        .put(&settings(A, "p", AutopayMode::Fixed(rub(50_000)), None))
        .await
        .unwrap();
    let a = AccountId::new(A);
    // Mode fixed without its amount.
    damage(&storage, "UPDATE autopay_settings SET amount = NULL").await;
    assert_corrupt(storage.get(a, "p").await, TABLE, "amount");
    damage(&storage, "UPDATE autopay_settings SET mode = 'weekly'").await;
    assert_corrupt(storage.get(a, "p").await, TABLE, "mode");
    damage(
        &storage,
        "UPDATE autopay_settings SET mode = 'full_debt', day_of_month = 300",
    )
    .await;
    assert_corrupt(storage.get(a, "p").await, TABLE, "day_of_month");
}
