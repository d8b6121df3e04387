//! `Storage::connect`: the URLs it accepts and the SQLite settings it applies.

use identity_core::ports::SubscriberRepository;
use sea_orm::{ConnectionTrait, Statement};
use storage_seaorm::{Backend, PING_AFTER_IDLE, POSTGRES_POOL_SIZE, Storage, StorageError};

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

/// Ends every server process of the database at `url` but the one asking, and waits until the
/// server no longer lists them: what a restart, a proxy or an administrator does to a pool.
async fn terminate_backends(url: &str) {
    let admin = sea_orm::Database::connect(url).await.unwrap();
    let backend = admin.get_database_backend();
    let mut ended: Vec<i32> = Vec::new();
    for row in admin
        .query_all_raw(Statement::from_string(
            backend,
            // OFFSET 0 keeps the filter out of reach of the planner, which could otherwise
            // call pg_terminate_backend before it has excluded the asking process.
            "SELECT pid, pg_terminate_backend(pid) AS ended FROM (SELECT pid \
             FROM pg_stat_activity WHERE datname = current_database() \
             AND backend_type = 'client backend' AND pid <> pg_backend_pid() OFFSET 0) AS t",
        ))
        .await
        .unwrap()
    {
        ended.push(row.try_get("", "pid").unwrap());
    }
    assert!(!ended.is_empty(), "the pool had no connection to end");
    for _ in 0..250 {
        let left = admin
            .query_one_raw(Statement::from_sql_and_values(
                backend,
                "SELECT count(*) AS n FROM pg_stat_activity WHERE pid = ANY($1)",
                [ended.clone().into()],
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get::<i64>("", "n")
            .unwrap();
        if left == 0 {
            admin.close().await.unwrap();
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the ended server processes {ended:?} are still listed");
}

/// A migrated storage on a fresh PostgreSQL database at `url` with one cabinet stored in it.
async fn postgres_with_a_cabinet(url: &str) -> (Storage, identity_core::model::Subscriber) {
    let storage = Storage::connect(url).await.unwrap();
    storage.migrate().await.unwrap();
    let s = subscriber(1);
    SubscriberRepository::insert(&storage, &s).await.unwrap();
    (storage, s)
}

#[tokio::test]
async fn postgres_connections_dropped_while_idle_are_replaced_before_use() {
    crate::common::on_postgres_url(|url| async move {
        let (storage, s) = postgres_with_a_cabinet(&url).await;
        terminate_backends(&url).await;
        tokio::time::sleep(PING_AFTER_IDLE + std::time::Duration::from_millis(300)).await;
        // Every pooled connection is dead and has idled past the threshold: the ping before
        // acquire finds each one and the pool opens a new one, so no statement fails.
        for attempt in 0..=POSTGRES_POOL_SIZE {
            assert_eq!(
                storage
                    .get(s.id)
                    .await
                    .unwrap_or_else(|e| panic!("attempt {attempt}: {e}")),
                Some(s.clone())
            );
        }
        storage.close().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_postgres_connection_that_breaks_in_use_fails_its_statement_and_is_not_reused() {
    crate::common::on_postgres_url(|url| async move {
        let (storage, s) = postgres_with_a_cabinet(&url).await;
        terminate_backends(&url).await;
        // Used again at once (no idle ping): a dead connection fails its one statement and is
        // closed on its way back to the pool, never handed out again; the statements after it
        // get live connections.
        let mut outcomes = Vec::new();
        for _ in 0..(2 * POSTGRES_POOL_SIZE) {
            outcomes.push(storage.get(s.id).await.is_ok());
        }
        let failed = outcomes.iter().filter(|ok| !**ok).count();
        // Ending the processes takes well under PING_AFTER_IDLE: had the idle ping replaced
        // the dead connections first, this test would test nothing.
        assert!(
            failed >= 1,
            "no statement met a dead connection: {outcomes:?}"
        );
        let first_success = outcomes
            .iter()
            .position(|ok| *ok)
            .expect("no statement succeeded");
        assert!(
            failed <= POSTGRES_POOL_SIZE as usize,
            "{failed} statements failed: {outcomes:?}"
        );
        assert!(
            outcomes[first_success..].iter().all(|ok| *ok),
            "a dead connection came back after a live one: {outcomes:?}"
        );
        storage.close().await.unwrap();
    })
    .await;
}

/// A TCP proxy to the server of `url` that holds every chunk the server sends for `delay`;
/// `url` with the proxy's address in its place.
async fn behind_a_slow_proxy(url: &str, delay: std::time::Duration) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (scheme, rest) = url.split_once("://").unwrap();
    let (credentials, rest) = rest.split_once('@').unwrap();
    let (authority, path) = rest.split_once('/').unwrap();
    let upstream = std::net::ToSocketAddrs::to_socket_addrs(authority)
        .unwrap()
        .next()
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            tokio::spawn(async move {
                let server = tokio::net::TcpStream::connect(upstream).await.unwrap();
                client.set_nodelay(true).unwrap();
                server.set_nodelay(true).unwrap();
                let (mut from_client, mut to_client) = client.into_split();
                let (mut from_server, mut to_server) = server.into_split();
                let up =
                    tokio::spawn(
                        async move { tokio::io::copy(&mut from_client, &mut to_server).await },
                    );
                let mut buf = vec![0u8; 64 * 1024];
                while let Ok(n @ 1..) = from_server.read(&mut buf).await {
                    tokio::time::sleep(delay).await;
                    if to_client.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
                up.abort();
            });
        }
    });
    format!("{scheme}://{credentials}@{proxy}/{path}")
}

#[tokio::test]
async fn a_transaction_dropped_while_postgres_begins_it_leaves_no_connection_inside_it() {
    crate::common::on_postgres_url(|url| async move {
        use sea_orm::TransactionTrait;
        let (direct, _) = postgres_with_a_cabinet(&url).await;
        let backend = direct.connection().get_database_backend();
        direct
            .connection()
            .execute_unprepared("CREATE TABLE marks (n integer PRIMARY KEY)")
            .await
            .unwrap();
        // Every answer of the server arrives 40 ms late, so a `begin` dropped after 10 ms is
        // dropped between its BEGIN sent and its answer — what a client disconnecting then
        // does to a handler. The connection must not go back to the pool inside that
        // transaction: the statements after it would not commit on their own.
        let slow = Storage::connect(
            &behind_a_slow_proxy(&url, std::time::Duration::from_millis(40)).await,
        )
        .await
        .unwrap();
        let db = slow.connection();
        db.execute_unprepared("SELECT 1").await.unwrap();
        let cut = tokio::time::timeout(std::time::Duration::from_millis(10), db.begin()).await;
        assert!(
            cut.is_err(),
            "BEGIN was answered within 10 ms through the slow proxy"
        );
        for n in 0..3 {
            db.execute_raw(Statement::from_sql_and_values(
                backend,
                "INSERT INTO marks (n) VALUES ($1)",
                [n.into()],
            ))
            .await
            .unwrap();
        }
        let observer = direct.connection();
        let count = |sql: &'static str| async move {
            observer
                .query_one_raw(Statement::from_string(backend, sql))
                .await
                .unwrap()
                .unwrap()
                .try_get::<i64>("", "n")
                .unwrap()
        };
        let seen = count("SELECT count(*) AS n FROM marks").await;
        let stuck = count(
            "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() \
             AND state LIKE 'idle in transaction%'",
        )
        .await;
        assert_eq!(
            (seen, stuck),
            (3, 0),
            "rows another connection sees, sessions left inside a transaction"
        );
        slow.close().await.unwrap();
        direct.close().await.unwrap();
    })
    .await;
}
