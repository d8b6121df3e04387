//! Test harness: a fresh database per test on each backend, the `contract!` macro that runs
//! one async test body on both, and fixtures.

pub mod billing;
pub mod fixtures;
pub mod run;
pub mod seed;

use std::future::Future;
use std::io::Write;
use std::net::{TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Once, OnceLock};
use std::time::Duration;

use sea_orm::{ConnectionTrait, Database};
use storage_seaorm::Storage;

/// Runs each listed `async fn name(storage: Storage)` of the enclosing module as two tests,
/// `sqlite::name` and `postgres::name`.
macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    crate::common::on_sqlite(super::$name).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    crate::common::on_postgres(super::$name).await;
                }
            )*
        }
    };
}

const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432";
const START_POSTGRES: &str =
    "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start";

static NEXT: AtomicU64 = AtomicU64::new(0);

/// A name no other test of any run uses: process id, a counter and the clock's nanoseconds.
fn unique_name(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "{prefix}_{}_{}_{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Deletes a temporary SQLite database and its WAL files when dropped, even after a panic.
struct TempSqlite(PathBuf);

impl Drop for TempSqlite {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut path = self.0.clone().into_os_string();
            path.push(suffix);
            let _ignored = std::fs::remove_file(path);
        }
    }
}

/// Runs `body` on a migrated SQLite database in a fresh temporary file.
pub async fn on_sqlite<F, Fut>(body: F)
where
    F: FnOnce(Storage) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let file = TempSqlite(std::env::temp_dir().join(format!("{}.db", unique_name("abonent_test"))));
    let storage = Storage::connect(&format!("sqlite://{}", file.0.display()))
        .await
        .expect("open a temporary SQLite database");
    storage.migrate().await.expect("migrate SQLite");
    let outcome = tokio::spawn(body(storage.clone())).await;
    storage.close().await.expect("close SQLite");
    drop(file);
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// The PostgreSQL server URL without a database name.
fn postgres_base_url() -> String {
    std::env::var("ABONENT_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned())
        .trim_end_matches('/')
        .to_owned()
}

/// Whether something listens at the server's address (checked once per test binary).
fn postgres_listening() -> &'static Result<(), String> {
    static LISTENING: OnceLock<Result<(), String>> = OnceLock::new();
    LISTENING.get_or_init(|| {
        let base = postgres_base_url();
        let authority = base.rsplit('@').next().unwrap_or_default();
        let authority = authority.split_once("://").map_or(authority, |(_, a)| a);
        let addrs = authority
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve {authority}: {e}"))?;
        for addr in addrs {
            if TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_ok() {
                return Ok(());
            }
        }
        Err(format!("nothing listens at {authority}"))
    })
}

/// Says once, on the real stderr (not the captured test output), that the PostgreSQL suite
/// was skipped.
fn announce_skip(why: &str) {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let line = "=".repeat(78);
        let _ignored = writeln!(
            std::io::stderr().lock(),
            "\n{line}\n!! PostgreSQL contract suite SKIPPED: {why}\n\
             !! These tests passed WITHOUT running. Start PostgreSQL with\n\
             !!     {START_POSTGRES}\n\
             !! (with CI=true an unreachable PostgreSQL fails the suite instead)\n{line}\n"
        );
    });
}

/// Runs `body` on a migrated PostgreSQL database created for this test and dropped after it.
///
/// If the server is unreachable: with `CI=true` the test fails and says how to start it;
/// otherwise it passes after [`announce_skip`].
pub async fn on_postgres<F, Fut>(body: F)
where
    F: FnOnce(Storage) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    on_postgres_url(|url| async move {
        let storage = Storage::connect(&url)
            .await
            .expect("connect to the test database");
        storage.migrate().await.expect("migrate PostgreSQL");
        let outcome = tokio::spawn(body(storage.clone())).await;
        storage.close().await.expect("close PostgreSQL pool");
        if let Err(e) = outcome {
            std::panic::resume_unwind(e.into_panic());
        }
    })
    .await;
}

/// Runs `body` with the URL of a fresh, empty PostgreSQL database created for it and dropped
/// after it (for tests that start other processes on the database). Unreachable PostgreSQL is
/// handled as in [`on_postgres`].
pub async fn on_postgres_url<F, Fut>(body: F)
where
    F: FnOnce(String) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    if let Err(why) = postgres_listening() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!(
                "PostgreSQL is unreachable ({why}) and CI=true: start it with \
                 `{START_POSTGRES}` (or set ABONENT_TEST_POSTGRES_URL)"
            );
        }
        announce_skip(why);
        return;
    }
    let base = postgres_base_url();
    let name = unique_name("abonent_test");
    let admin = Database::connect(format!("{base}/postgres"))
        .await
        .expect("PostgreSQL listens but refuses the admin connection");
    admin
        .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
        .await
        .expect("create the test database");
    let outcome = tokio::spawn(body(format!("{base}/{name}"))).await;
    admin
        .execute_unprepared(&format!("DROP DATABASE \"{name}\" WITH (FORCE)"))
        .await
        .expect("drop the test database");
    admin.close().await.expect("close the admin connection");
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// Asserts how a coalescing queue served `calls` calls asked at once, from its counts
/// `before` and `after`: on PostgreSQL every call counted, none split, and at least two
/// sharing a statement; on SQLite nothing counted (no queues).
pub fn assert_shared(
    storage: &Storage,
    before: storage_seaorm::BatchCount,
    after: storage_seaorm::BatchCount,
    calls: usize,
) {
    if storage.backend() == storage_seaorm::Backend::Postgres {
        assert_eq!(after.calls - before.calls, u64::try_from(calls).unwrap());
        assert_eq!(after.split, before.split, "{after:?}");
        assert!(
            after.batches - before.batches < after.calls - before.calls && after.largest > 1,
            "no calls shared a statement: {after:?}"
        );
    } else {
        assert_eq!(after, storage_seaorm::BatchCount::default());
    }
}
