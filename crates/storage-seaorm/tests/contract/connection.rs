//! `Storage::connect`: the URLs it accepts and the SQLite settings it applies; PostgreSQL
//! connections that die idle, die in use, stall, or break while a shared statement's answer
//! is on its way.

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

/// For a proxy to the server of `url`: that server's address, a listener on a free local
/// port, and `url` with the listener's address in its place.
async fn proxy_for(url: &str) -> (std::net::SocketAddr, tokio::net::TcpListener, String) {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (credentials, rest) = rest.split_once('@').unwrap();
    let (authority, path) = rest.split_once('/').unwrap();
    let upstream = std::net::ToSocketAddrs::to_socket_addrs(authority)
        .unwrap()
        .next()
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy = listener.local_addr().unwrap();
    (
        upstream,
        listener,
        format!("{scheme}://{credentials}@{proxy}/{path}"),
    )
}

/// A TCP proxy to the server of `url` that holds every chunk the server sends for `delay`;
/// `url` with the proxy's address in its place.
async fn behind_a_slow_proxy(url: &str, delay: std::time::Duration) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (upstream, listener, proxied) = proxy_for(url).await;
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
    proxied
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

/// A TCP proxy to the server of `url`, without TLS so that it can read what the client sends,
/// which cuts the first connection that sends `marker`: from the Execute of that statement
/// on it forwards nothing more to the client, goes on forwarding what the client sends for `hold` (the rest
/// of the statement's messages: the server runs and commits it) and then closes both sides — a connection that breaks while a statement's
/// answer is on its way, so the client cannot know whether it ran. `url` with the proxy's
/// address in its place, and whether the cut happened.
async fn behind_a_cutting_proxy(
    url: &str,
    marker: &'static [u8],
    hold: std::time::Duration,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicBool>) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (upstream, listener, proxied) = proxy_for(url).await;
    let cut = Arc::new(AtomicBool::new(false));
    let done = cut.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let done = done.clone();
            tokio::spawn(async move {
                let server = tokio::net::TcpStream::connect(upstream).await.unwrap();
                let (mut from_client, mut to_client) = client.into_split();
                let (mut from_server, mut to_server) = server.into_split();
                let cutting = Arc::new(AtomicBool::new(false));
                let silenced = cutting.clone();
                let down = tokio::spawn(async move {
                    let mut buf = vec![0u8; 64 * 1024];
                    while let Ok(n @ 1..) = from_server.read(&mut buf).await {
                        if silenced.load(Ordering::SeqCst)
                            || to_client.write_all(&buf[..n]).await.is_err()
                        {
                            break;
                        }
                    }
                });
                let mut buf = vec![0u8; 64 * 1024];
                // Once cutting, the rest of the statement (its messages may come in more
                // chunks) still goes up until `hold` has passed.
                let (mut armed, mut until) = (false, None);
                loop {
                    let read = match until {
                        None => from_client.read(&mut buf).await,
                        Some(at) => {
                            match tokio::time::timeout_at(at, from_client.read(&mut buf)).await {
                                Ok(read) => read,
                                Err(_) => break,
                            }
                        }
                    };
                    let Ok(n @ 1..) = read else { break };
                    let chunk = &buf[..n];
                    if !armed
                        && chunk.windows(marker.len()).any(|w| w == marker)
                        && !done.swap(true, Ordering::SeqCst)
                    {
                        armed = true;
                    }
                    // The statement runs at its Execute, which may follow the Parse that
                    // names it after a round trip (the client asks for its types first).
                    if armed && until.is_none() && executes(chunk) {
                        cutting.store(true, Ordering::SeqCst);
                        until = Some(tokio::time::Instant::now() + hold);
                    }
                    if to_server.write_all(chunk).await.is_err() {
                        break;
                    }
                }
                if let Some(at) = until {
                    tokio::time::sleep_until(at).await;
                }
                down.abort();
            });
        }
    });
    let separator = if proxied.contains('?') { '&' } else { '?' };
    (format!("{proxied}{separator}sslmode=disable"), cut)
}

/// Whether `chunk`, whole messages of PostgreSQL's frontend protocol (a type byte and a
/// length that counts itself), holds an Execute (`E`).
fn executes(chunk: &[u8]) -> bool {
    let mut at = 0;
    while let Some(header) = chunk.get(at..at + 5) {
        if header[0] == b'E' {
            return true;
        }
        let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
        at += 1 + len.max(4);
    }
    false
}

/// A batch of corrections whose connection breaks after the statement was sent: its outcome
/// is unknown, so every caller in it is answered "unavailable" and none is run again alone
/// (which would answer `Conflict` for a correction the batch did store, or store one the
/// caller was told failed) — and whatever the batch did is whole: one accepted reading per
/// meter, no correction stored twice.
#[tokio::test]
async fn a_batch_whose_connection_breaks_answers_unavailable_and_is_not_run_again() {
    use billing_core::ids::{MeterId, ReadingId};
    use billing_core::ports::{ReadingRepository, RepoError};
    use billing_core::reading::ReadingStatus;
    crate::common::on_postgres_url(|url| async move {
        let direct = Storage::connect(&url).await.unwrap();
        direct.migrate().await.unwrap();
        let march = crate::common::billing::period(2025, 3);
        let mut olds: Vec<(u64, ReadingId)> = Vec::new();
        for house in 1..=8 {
            let m = crate::common::seed::house_with_accounts(&direct, house, 1)
                .await
                .meters[0]
                .id
                .get();
            let old = direct
                .save(&crate::common::seed::simple_reading(m, march, 100))
                .await
                .unwrap();
            olds.push((m, old.id));
        }
        // Only the shared correction statement starts like this (a lone one is `WITH old`).
        let (proxied, cut) = behind_a_cutting_proxy(
            &url,
            b"WITH input AS",
            std::time::Duration::from_millis(300),
        )
        .await;
        let storage = Storage::connect(&proxied).await.unwrap();
        let results = crate::concurrency::race(&storage, |i| {
            let storage = storage.clone();
            let (m, old) = olds[i];
            let fixed = crate::common::seed::correction(
                &crate::common::seed::simple_reading(m, march, 200),
                old,
            );
            async move { storage.save(&fixed).await }
        })
        .await;
        assert!(
            cut.load(std::sync::atomic::Ordering::SeqCst),
            "no shared correction statement was sent: {results:?}"
        );
        let unavailable = results
            .iter()
            .filter(|r| matches!(r, Err(RepoError::Unavailable(_))))
            .count();
        assert!(unavailable >= 2, "{results:?}");
        assert!(
            results
                .iter()
                .all(|r| r.is_ok() || matches!(r, Err(RepoError::Unavailable(_)))),
            "a caller of the broken batch was served again: {results:?}"
        );
        assert_eq!(storage.batches().corrections.split, 0);
        for (m, old) in &olds {
            let history = direct.history(MeterId::new(*m)).await.unwrap();
            let accepted = history
                .iter()
                .filter(|r| r.status == ReadingStatus::Accepted)
                .count();
            assert_eq!(accepted, 1, "meter {m}: {history:?}");
            // Every correction is stored once: by the cut batch (it ran; its callers could
            // not know) or by its own statement.
            assert_eq!(history.len(), 2, "meter {m}: {history:?}");
            assert!(
                history.iter().any(|r| r.supersedes == Some(*old)),
                "meter {m}: {history:?}"
            );
        }
        storage.close().await.unwrap();
        direct.close().await.unwrap();
    })
    .await;
}
