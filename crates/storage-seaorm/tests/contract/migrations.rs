//! Migrations: `up` creates every table, each `down` drops exactly what its `up` created,
//! and the schema can be rebuilt and used again.

use identity_core::ports::SubscriberRepository;
use sea_orm_migration::{MigratorTrait, SchemaManager};
use storage_seaorm::Storage;
use storage_seaorm::migration::Migrator;

use crate::common::fixtures::*;

contract!(
    every_down_undoes_its_up_and_up_rebuilds,
    migrate_twice_is_harmless,
    the_newest_migrations_go_down_and_up_again,
    the_renewal_column_comes_and_goes,
);

/// The tables each migration creates, in migration order.
const TABLES: [&[&str]; 36] = [
    &["subscribers"],
    &["linked_accounts"],
    &["sessions"],
    &["challenges"],
    &["throttle_keys", "throttle_events"],
    &["consents"],
    &["security_events"],
    &["closed_periods"],
    &["payments"],
    &["refund_requests"],
    &["ledger_journal"],
    &["suppliers"],
    &["houses"],
    &["premises"],
    &["house_period_facts"],
    &["accounts"],
    &["meters"],
    &["readings"],
    &["tariff_versions"],
    &["volume_history"],
    &["recalculations"],
    &["key_rate_steps", "penalty_windows"],
    &["charge_sets", "charge_lines"],
    &["billing_runs", "billing_run_houses"],
    &["outbox_messages"],
    &["captcha_challenges"],
    &["account_codes"],
    &["questions"],
    &["operators", "operator_api_keys", "operator_sessions"],
    &["online_payments"],
    &["idempotency_keys"],
    &["sandbox_payments", "sandbox_refunds"],
    &["webhook_deliveries"],
    &["fiscal_receipts"],
    &["autopay_settings"],
    &[], // `idempotency_keys.renewed_at` (see `the_renewal_column_comes_and_goes`)
];

async fn present(storage: &Storage) -> Vec<&'static str> {
    let manager = SchemaManager::new(storage.connection());
    let mut found = Vec::new();
    for table in TABLES.iter().flat_map(|t| t.iter()) {
        if manager.has_table(*table).await.unwrap() {
            found.push(*table);
        }
    }
    found
}

fn tables_of_first(n: usize) -> Vec<&'static str> {
    TABLES[..n].iter().flat_map(|t| t.iter().copied()).collect()
}

async fn every_down_undoes_its_up_and_up_rebuilds(storage: Storage) {
    assert_eq!(Migrator::migrations().len(), TABLES.len());
    assert_eq!(present(&storage).await, tables_of_first(TABLES.len()));
    stored_subscriber(&storage, 1).await;
    for applied in (0..TABLES.len()).rev() {
        Migrator::down(storage.connection(), Some(1)).await.unwrap();
        assert_eq!(
            present(&storage).await,
            tables_of_first(applied),
            "after down to {applied}"
        );
    }
    storage.migrate().await.unwrap();
    assert_eq!(present(&storage).await, tables_of_first(TABLES.len()));
    // The rebuilt schema is empty and works.
    assert_eq!(storage.get(subscriber_id(1)).await.unwrap(), None);
    stored_subscriber(&storage, 1).await;
    storage.migrate_down_all().await.unwrap();
    assert!(present(&storage).await.is_empty());
}

async fn migrate_twice_is_harmless(storage: Storage) {
    let s = stored_subscriber(&storage, 1).await;
    storage.migrate().await.unwrap();
    assert_eq!(storage.get(s.id).await.unwrap(), Some(s));
}

/// Down and up again over the last migrations alone (back to before `online_payments`): what
/// a `down` leaves behind — in tables it does not drop (the partial index
/// `payments_unsettled`) or at all (an index outliving its table, such as the partial
/// `webhook_deliveries_due`) — would make the `up` fail.
async fn the_newest_migrations_go_down_and_up_again(storage: Storage) {
    const NEWEST: usize = 4;
    let s = stored_subscriber(&storage, 1).await;
    for _ in 0..2 {
        Migrator::down(storage.connection(), Some(u32::try_from(NEWEST).unwrap()))
            .await
            .unwrap();
        assert_eq!(
            present(&storage).await,
            tables_of_first(TABLES.len() - NEWEST)
        );
        storage.migrate().await.unwrap();
        assert_eq!(present(&storage).await, tables_of_first(TABLES.len()));
    }
    assert_eq!(storage.get(s.id).await.unwrap(), Some(s));
}

/// Migration 36 adds a column rather than a table: down drops it and up adds it again, on a
/// table that keeps its rows.
async fn the_renewal_column_comes_and_goes(storage: Storage) {
    let has_column = || async {
        SchemaManager::new(storage.connection())
            .has_column("idempotency_keys", "renewed_at")
            .await
            .unwrap()
    };
    assert!(has_column().await);
    storage
        .idempotency_begin(
            "p",
            "k",
            &[1; 32],
            crate::common::fixtures::at(0),
            time::Duration::hours(24),
            time::Duration::minutes(1),
        )
        .await
        .unwrap();
    Migrator::down(storage.connection(), Some(1)).await.unwrap();
    assert!(!has_column().await);
    storage.migrate().await.unwrap();
    assert!(has_column().await);
    assert_eq!(
        crate::common::seed::count_rows(&storage, "idempotency_keys").await,
        1
    );
}
