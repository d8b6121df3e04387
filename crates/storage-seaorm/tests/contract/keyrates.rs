//! Contract of `KeyRateSource` and `Storage::set_key_rates` / `set_penalty_rules`: a fresh
//! database holds the statutory history and windows, the setters replace them, and stored data
//! that no longer makes a valid history is `Corrupt`.

use billing_core::keyrate::{
    KeyRateHistory, KeyRateStep, LegalAct, PenaltyRules, PenaltyWindow, Rate, WindowEffect,
};
use billing_core::ports::{KeyRateSource, RepoError};
use storage_seaorm::Storage;
use time::macros::date;

use crate::common::seed::*;

contract!(
    a_fresh_database_holds_the_statutory_rates_and_windows,
    setting_key_rates_replaces_the_history,
    setting_penalty_rules_replaces_the_windows,
    corrupt_key_rates_are_reported,
    a_rebuilt_schema_is_seeded_again,
);

async fn a_fresh_database_holds_the_statutory_rates_and_windows(storage: Storage) {
    assert_eq!(
        storage.key_rates().await,
        Ok(KeyRateHistory::bank_of_russia())
    );
    assert_eq!(
        storage.penalty_rules().await,
        Ok(PenaltyRules::russian_statutory())
    );
}

async fn setting_key_rates_replaces_the_history(storage: Storage) {
    let mut steps = KeyRateHistory::bank_of_russia().steps().to_vec();
    steps.push(KeyRateStep {
        from: date!(2025 - 10 - 27),
        rate: Rate::from_basis_points(1650),
    });
    let extended = KeyRateHistory::new(steps).unwrap();
    storage.set_key_rates(&extended).await.unwrap();
    assert_eq!(storage.key_rates().await, Ok(extended));
    let short = KeyRateHistory::new(vec![
        KeyRateStep {
            from: date!(2020 - 01 - 01),
            rate: Rate::from_basis_points(1),
        },
        KeyRateStep {
            from: date!(2021 - 01 - 01),
            rate: Rate::from_basis_points(99_999),
        },
    ])
    .unwrap();
    storage.set_key_rates(&short).await.unwrap();
    assert_eq!(storage.key_rates().await, Ok(short));
    // Penalty windows are untouched.
    assert_eq!(
        storage.penalty_rules().await,
        Ok(PenaltyRules::russian_statutory())
    );
}

async fn setting_penalty_rules_replaces_the_windows(storage: Storage) {
    let own = PenaltyRules::new(vec![
        PenaltyWindow {
            from: date!(2027 - 01 - 01),
            to: date!(2027 - 06 - 30),
            effect: WindowEffect::RateCap(Rate::from_basis_points(1200)),
            basis: LegalAct::Other(17),
        },
        PenaltyWindow {
            from: date!(2026 - 01 - 01),
            to: date!(2026 - 01 - 31),
            effect: WindowEffect::NoAccrualOnDebtsArisenBefore(date!(2025 - 12 - 01)),
            basis: LegalAct::Other(18),
        },
        PenaltyWindow {
            from: date!(2020 - 04 - 06),
            to: date!(2020 - 12 - 31),
            effect: WindowEffect::NoAccrual,
            basis: LegalAct::Pp424,
        },
    ])
    .unwrap();
    storage.set_penalty_rules(&own).await.unwrap();
    assert_eq!(storage.penalty_rules().await, Ok(own));
    storage
        .set_penalty_rules(&PenaltyRules::none())
        .await
        .unwrap();
    assert_eq!(storage.penalty_rules().await, Ok(PenaltyRules::none()));
    assert_eq!(
        storage.key_rates().await,
        Ok(KeyRateHistory::bank_of_russia())
    );
}

async fn corrupt_key_rates_are_reported(storage: Storage) {
    damage(
        &storage,
        "UPDATE penalty_windows SET effect = '{\"rate_cap\":\"many\"}' WHERE basis = 'pp474'",
    )
    .await;
    assert_corrupt(storage.penalty_rules().await, "penalty_windows", "effect");
    storage
        .set_penalty_rules(&PenaltyRules::russian_statutory())
        .await
        .unwrap();
    damage(&storage, "UPDATE penalty_windows SET basis = 'decree'").await;
    assert_corrupt(storage.penalty_rules().await, "penalty_windows", "basis");
    damage(
        &storage,
        "UPDATE penalty_windows SET basis = 'pp424', to_day = '2000-01-01'",
    )
    .await;
    assert!(
        matches!(storage.penalty_rules().await, Err(RepoError::Corrupt(m)) if m.contains("penalty_windows")),
    );
    damage(
        &storage,
        "UPDATE key_rate_steps SET rate = 9.505 WHERE from_day = '2016-06-14'",
    )
    .await;
    assert_corrupt(storage.key_rates().await, "key_rate_steps", "rate");
    damage(&storage, "DELETE FROM key_rate_steps").await;
    assert!(
        matches!(storage.key_rates().await, Err(RepoError::Corrupt(m)) if m.contains("key_rate_steps")),
    );
}

/// The billing tables of migrations 12–22, in migration order.
const BILLING_TABLES: [&str; 12] = [
    "suppliers",
    "houses",
    "premises",
    "house_period_facts",
    "accounts",
    "meters",
    "readings",
    "tariff_versions",
    "volume_history",
    "recalculations",
    "key_rate_steps",
    "penalty_windows",
];

async fn a_rebuilt_schema_is_seeded_again(storage: Storage) {
    use sea_orm_migration::SchemaManager;
    house_with_accounts(&storage, 1, 1).await;
    storage
        .set_penalty_rules(&PenaltyRules::none())
        .await
        .unwrap();
    storage.migrate_down_all().await.unwrap();
    let manager = SchemaManager::new(storage.connection());
    for table in BILLING_TABLES {
        assert!(!manager.has_table(table).await.unwrap(), "{table} survived");
    }
    storage.migrate().await.unwrap();
    for table in BILLING_TABLES {
        assert!(manager.has_table(table).await.unwrap(), "{table} missing");
    }
    assert_eq!(
        storage.penalty_rules().await,
        Ok(PenaltyRules::russian_statutory())
    );
    assert_eq!(
        storage.key_rates().await,
        Ok(KeyRateHistory::bank_of_russia())
    );
    assert_eq!(count_rows(&storage, "accounts").await, 0);
}
