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
    the_lines_leave_their_set_and_come_back,
    the_lines_compress_with_lz4,
);

/// The tables each migration creates, in migration order.
const TABLES: [&[&str]; 38] = [
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
    &[], // lines into `charge_sets.lines`, `charge_lines` dropped (see `DROPPED`)
    &[], // lz4 for `charge_sets.lines` on PostgreSQL (see `the_lines_compress_with_lz4`)
];

/// The tables a later migration drops: (the number of migrations applied once it is gone, table).
const DROPPED: [(usize, &str); 1] = [(37, "charge_lines")];

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

/// Undoes migration `n` (counted from 1) and every later one.
async fn undo_from(storage: &Storage, n: usize) {
    let steps = TABLES.len() + 1 - n;
    Migrator::down(storage.connection(), Some(u32::try_from(steps).unwrap()))
        .await
        .unwrap();
}

fn tables_of_first(n: usize) -> Vec<&'static str> {
    TABLES[..n]
        .iter()
        .flat_map(|t| t.iter().copied())
        .filter(|t| !DROPPED.iter().any(|(after, d)| d == t && n >= *after))
        .collect()
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
    // `online_payments` is migration 30.
    const NEWEST: usize = TABLES.len() - 29;
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
    undo_from(&storage, 36).await;
    assert!(!has_column().await);
    storage.migrate().await.unwrap();
    assert!(has_column().await);
    assert_eq!(
        crate::common::seed::count_rows(&storage, "idempotency_keys").await,
        1
    );
}

/// Migration 37 moves the lines into their set's row: down splits them back into
/// `charge_lines` rows (in order, with the service and amount columns of each line's JSON), up
/// puts them back, and the sets read as they were.
async fn the_lines_leave_their_set_and_come_back(storage: Storage) {
    use billing_core::charge::ChargeLine;
    use sea_orm::{ConnectionTrait, Statement};

    use crate::common::run::{all_accounts, run, seed_billable, sets_of};

    seed_billable(&storage, 1, 3).await;
    run(&storage, storage_seaorm::RunOptions::default())
        .await
        .unwrap();
    let accounts = all_accounts(1, 3);
    let sets: Vec<_> = sets_of(&storage, &accounts)
        .await
        .into_iter()
        .map(Option::unwrap)
        .collect();
    let lines: usize = sets.iter().map(|s| s.lines.len()).sum();
    assert!(lines > sets.len(), "{lines} lines in {} sets", sets.len());

    undo_from(&storage, 37).await;
    let manager = SchemaManager::new(storage.connection());
    assert!(manager.has_table("charge_lines").await.unwrap());
    assert!(!manager.has_column("charge_sets", "lines").await.unwrap());
    let conn = storage.connection();
    let rows = conn
        .query_all_raw(Statement::from_string(
            conn.get_database_backend(),
            "SELECT account_id, seq, service, CAST(amount AS TEXT) AS amount, line \
             FROM charge_lines ORDER BY account_id, seq",
        ))
        .await
        .unwrap();
    assert_eq!(rows.len(), lines);
    let mut at = 0;
    for set in &sets {
        for (i, want) in set.lines.iter().enumerate() {
            let row = &rows[at];
            at += 1;
            let account: i64 = row.try_get_by("account_id").unwrap();
            let seq: i32 = row.try_get_by("seq").unwrap();
            let service: String = row.try_get_by("service").unwrap();
            let amount: String = row.try_get_by("amount").unwrap();
            let line: String = row.try_get_by("line").unwrap();
            assert_eq!(
                (
                    u64::try_from(account).unwrap(),
                    usize::try_from(seq).unwrap()
                ),
                (set.account.get(), i)
            );
            let got: ChargeLine = serde_json::from_str(&line).unwrap();
            assert_eq!(&got, want);
            assert_eq!(
                serde_json::Value::String(service),
                serde_json::to_value(want.service).unwrap()
            );
            assert_eq!(
                amount.parse::<rust_decimal::Decimal>().unwrap(),
                want.amount.amount()
            );
        }
    }

    storage.migrate().await.unwrap();
    assert!(!manager.has_table("charge_lines").await.unwrap());
    let back: Vec<_> = sets_of(&storage, &accounts)
        .await
        .into_iter()
        .map(Option::unwrap)
        .collect();
    assert_eq!(back, sets);
}

/// Migration 38 compresses `charge_sets.lines` with lz4 on PostgreSQL (the server here is built
/// with it) and down gives the column back the server's default; on SQLite both are no-ops.
async fn the_lines_compress_with_lz4(storage: Storage) {
    use sea_orm::{ConnectionTrait, DbBackend, Statement};

    let conn = storage.connection();
    let compression = || async {
        conn.query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT attcompression::text AS c FROM pg_attribute \
             WHERE attrelid = 'charge_sets'::regclass AND attname = 'lines'",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get_by::<String, _>("c")
        .unwrap()
    };
    let postgres = conn.get_database_backend() == DbBackend::Postgres;
    if postgres {
        assert_eq!(compression().await, "l");
    }
    undo_from(&storage, 38).await;
    if postgres {
        assert_eq!(compression().await, "");
    }
    storage.migrate().await.unwrap();
    if postgres {
        assert_eq!(compression().await, "l");
    }
    assert!(
        SchemaManager::new(conn)
            .has_column("charge_sets", "lines")
            .await
            .unwrap()
    );
}
