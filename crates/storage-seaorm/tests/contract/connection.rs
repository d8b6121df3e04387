//! `Storage::connect`: the URLs it accepts and the SQLite settings it applies.

use identity_core::ports::SubscriberRepository;
use sea_orm::{ConnectionTrait, Statement};
use storage_seaorm::{Backend, Storage, StorageError};

use crate::common::fixtures::*;

#[tokio::test]
async fn an_in_memory_sqlite_database_keeps_its_data_on_its_one_connection() {
    let storage = Storage::connect("sqlite::memory:").await.unwrap();
    assert_eq!(storage.backend(), Backend::Sqlite);
    storage.migrate().await.unwrap();
    let s = subscriber(1);
    SubscriberRepository::insert(&storage, &s).await.unwrap();
    assert_eq!(storage.get(s.id).await.unwrap(), Some(s));
}

#[tokio::test]
async fn other_urls_are_refused() {
    for url in ["mysql://root@localhost/test", "abonent.db", ""] {
        assert!(
            matches!(
                Storage::connect(url).await,
                Err(StorageError::UnsupportedUrl)
            ),
            "{url}"
        );
    }
}

async fn pragma(storage: &Storage, name: &str) -> i64 {
    let conn = storage.connection();
    let row = conn
        .query_one_raw(Statement::from_string(
            conn.get_database_backend(),
            format!("PRAGMA {name}"),
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index::<i64>(0).unwrap()
}

#[tokio::test]
async fn sqlite_files_use_wal_foreign_keys_full_sync_and_a_busy_timeout() {
    crate::common::on_sqlite(|storage| async move {
        let conn = storage.connection();
        let mode = conn
            .query_one_raw(Statement::from_string(
                conn.get_database_backend(),
                "PRAGMA journal_mode",
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get_by_index::<String>(0)
            .unwrap();
        assert_eq!(mode, "wal");
        assert_eq!(pragma(&storage, "foreign_keys").await, 1);
        assert_eq!(pragma(&storage, "synchronous").await, 2, "FULL");
        assert_eq!(pragma(&storage, "busy_timeout").await, 10_000);
        // Foreign keys are enforced: a session of an unknown cabinet is refused.
        let orphan = session(1, subscriber_id(9), 0);
        assert!(
            identity_core::ports::SessionRepository::insert(&storage, &orphan)
                .await
                .is_err()
        );
    })
    .await;
}
