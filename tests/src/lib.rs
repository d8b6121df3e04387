//! The black-box test harness: [`TestService::start`] starts the real service (the same
//! `server::app::App` the `abonent` binary runs) on a free port against a fresh database, and
//! hands out an HTTP client. Tests talk to it only over HTTP.
//!
//! Backends: [`Backend::Sqlite`] uses a new file in a temporary directory per service;
//! [`Backend::Postgres`] a database `abonent_bb_<pid>_<n>` created for the service and dropped
//! after it (also when the test panics), on the server at `ABONENT_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432`, as the storage contract tests). When that server is
//! unreachable, [`Backend::available`] fails the test if `CI=true` and otherwise says loudly
//! that the PostgreSQL journeys were skipped.

use std::io::Write as _;
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sea_orm::{ConnectionTrait, Database};
use server::app::{App, RunningApp};
use server::config::{Config, SandboxConfig, WebhookSecret};

/// The webhook secret the service under test verifies gateway notifications with (so a test
/// can sign a notification of its own, or forge one).
pub const WEBHOOK_SECRET: &str = "whsec_abonent_black_box_tests";

/// The PostgreSQL server of the tests when `ABONENT_TEST_POSTGRES_URL` is not set (the storage
/// contract tests' default).
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432";
/// How to start the local PostgreSQL cluster.
pub const START_POSTGRES: &str =
    "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start";

/// Which database the service under test uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// A fresh SQLite file.
    Sqlite,
    /// A fresh PostgreSQL database.
    Postgres,
}

impl Backend {
    /// Whether tests on this backend can run: always for SQLite; for PostgreSQL, whether its
    /// server listens. An unreachable PostgreSQL panics with how to start it if `CI=true`, and
    /// otherwise prints a loud `SKIPPED` notice (once per test binary) and answers `false`.
    pub fn available(self) -> bool {
        if self == Backend::Sqlite {
            return true;
        }
        let Err(why) = postgres_listening() else {
            return true;
        };
        assert!(
            !std::env::var("CI").is_ok_and(|v| v == "true"),
            "PostgreSQL is unreachable ({why}) and CI=true: start it with `{START_POSTGRES}` \
             (or set ABONENT_TEST_POSTGRES_URL)"
        );
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            let line = "=".repeat(78);
            // The real stderr, not the captured test output.
            let _ignored = writeln!(
                std::io::stderr().lock(),
                "\n{line}\n!! SKIPPED: PostgreSQL unreachable ({why})\n\
                 !! The PostgreSQL journeys passed WITHOUT running. Start PostgreSQL with\n\
                 !!     {START_POSTGRES}\n\
                 !! (with CI=true an unreachable PostgreSQL fails them instead)\n{line}\n"
            );
        });
        false
    }
}

/// The PostgreSQL server URL without a database name.
fn postgres_base_url() -> String {
    std::env::var("ABONENT_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned())
        .trim_end_matches('/')
        .to_owned()
}

/// Whether something listens at the PostgreSQL server's address (checked once per binary).
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

/// A PostgreSQL database of one service under test, dropped with this value.
struct PostgresDatabase {
    base: String,
    name: String,
    dropped: bool,
}

impl PostgresDatabase {
    /// Creates `abonent_bb_<pid>_<n>` (dropping a leftover of a killed run with the same
    /// process id first).
    async fn create() -> PostgresDatabase {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let base = postgres_base_url();
        let name = format!(
            "abonent_bb_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let admin = Database::connect(format!("{base}/postgres"))
            .await
            .expect("PostgreSQL listens but refuses the admin connection");
        for sql in [
            format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
            format!("CREATE DATABASE \"{name}\""),
        ] {
            admin
                .execute_unprepared(&sql)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
        admin.close().await.expect("close the admin connection");
        PostgresDatabase {
            base,
            name,
            dropped: false,
        }
    }

    fn url(&self) -> String {
        format!("{}/{}", self.base, self.name)
    }

    /// Drops the database (terminating any connection still open to it).
    async fn drop_database(base: String, name: String) -> Result<(), String> {
        let admin = Database::connect(format!("{base}/postgres"))
            .await
            .map_err(|e| e.to_string())?;
        let dropped = admin
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .await
            .map(drop)
            .map_err(|e| e.to_string());
        let _ignored = admin.close().await;
        dropped
    }

    /// Drops the database now (after the service stopped and closed its pool).
    async fn drop_now(mut self) {
        self.dropped = true;
        if let Err(e) = Self::drop_database(self.base.clone(), self.name.clone()).await {
            panic!("cannot drop the test database {}: {e}", self.name);
        }
    }
}

impl Drop for PostgresDatabase {
    /// Best effort after a panic (or a test that did not call [`TestService::stop`]): drops the
    /// database from a thread of its own, since the test's runtime may be unwinding.
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        let (base, name) = (self.base.clone(), self.name.clone());
        let joined = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(Self::drop_database(base, name))
        })
        .join();
        if !matches!(joined, Ok(Ok(()))) {
            let _ignored = writeln!(
                std::io::stderr().lock(),
                "abonent-tests: could not drop the test database {}: {joined:?}",
                self.name
            );
        }
    }
}

/// Where the service under test keeps its data.
enum TestDatabase {
    /// The temporary directory of the SQLite file (deleted with it).
    Sqlite {
        _dir: tempfile::TempDir,
    },
    Postgres(PostgresDatabase),
}

/// A running service under test.
pub struct TestService {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// A client with its own cookie jar.
    pub client: reqwest::Client,
    /// The database URL the service uses.
    pub database_url: String,
    // Declared before `database`, so that when a test panics the service is dropped first
    // (its server is told to stop) and then the database (`WITH (FORCE)` ends the
    // connections the abandoned pool still holds).
    app: Option<RunningApp>,
    database: Option<TestDatabase>,
}

impl TestService {
    /// Starts the service on a free port against a fresh database.
    pub async fn start(backend: Backend) -> TestService {
        Self::start_with(backend, |_| {}).await
    }

    /// [`TestService::start`] with the test's changes to the configuration.
    pub async fn start_with(backend: Backend, configure: impl FnOnce(&mut Config)) -> TestService {
        let (database, database_url) = match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temporary directory");
                let url = format!("sqlite://{}", dir.path().join("abonent.db").display());
                (TestDatabase::Sqlite { _dir: dir }, url)
            }
            Backend::Postgres => {
                let db = PostgresDatabase::create().await;
                let url = db.url();
                (TestDatabase::Postgres(db), url)
            }
        };
        let mut config = Config {
            listen: "127.0.0.1:0".parse().expect("address"),
            database_url: database_url.clone(),
            webhook_secret: Some(WebhookSecret(WEBHOOK_SECRET.to_owned())),
            sandbox: SandboxConfig::fast(),
            maintenance_interval_ms: 100,
            reconcile_after_ms: 300,
            ..Config::default()
        };
        configure(&mut config);
        let app = App::start(config).await.expect("the service starts");
        let base = format!("http://{}", app.addr);
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .build()
            .expect("HTTP client");
        TestService {
            base,
            client,
            database_url,
            app: Some(app),
            database: Some(database),
        }
    }

    /// The absolute URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Stops the service gracefully (waits for requests in flight, closes its pool) and drops
    /// its database.
    pub async fn stop(mut self) {
        if let Some(app) = self.app.take() {
            app.stop().await.expect("the service stops cleanly");
        }
        if let Some(TestDatabase::Postgres(db)) = self.database.take() {
            db.drop_now().await;
        }
    }
}

impl TestService {
    /// GET `path` with this service's client and parse the JSON body (any status).
    pub async fn get_json(&self, path: &str) -> serde_json::Value {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("a JSON body")
    }

    /// GET `path` with a bearer `token` and parse the JSON body (any status).
    pub async fn get_json_as(&self, path: &str, token: &str) -> serde_json::Value {
        reqwest::Client::new()
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("a JSON body")
    }

    /// A fresh captcha's answer as the API takes it (`"<id>:<answer>"`; the sandbox reveals it).
    pub async fn captcha_answer(&self) -> String {
        let c = self.get_json("/api/v1/captcha").await;
        format!(
            "{}:{}",
            c["id"].as_str().expect("captcha id"),
            c["sandbox_answer"].as_str().expect("sandbox answer")
        )
    }

    /// Every message the sandbox outbox holds for `to`, oldest first.
    pub async fn messages(&self, to: &str) -> Vec<serde_json::Value> {
        let list = reqwest::Client::new()
            .get(self.url("/sandbox/messages"))
            .query(&[("to", to), ("limit", "500")])
            .send()
            .await
            .expect("request")
            .json::<serde_json::Value>()
            .await
            .expect("a JSON body");
        list.as_array().cloned().unwrap_or_default()
    }

    /// The newest message for `to` (SMS and email are delivered before the request that sent
    /// them answers, so there is nothing to wait for).
    pub async fn last_message(&self, to: &str) -> serde_json::Value {
        self.messages(to)
            .await
            .pop()
            .unwrap_or_else(|| panic!("no message for {to}"))
    }

    /// Runs `sql` on the service's database behind its back — only to leave what a crashed
    /// process would (there is no HTTP way to crash the service mid-request). Returns the rows
    /// affected.
    pub async fn execute_behind_the_service(&self, sql: &str) -> u64 {
        let db = Database::connect(&self.database_url)
            .await
            .expect("connect to the service's database");
        let done = db
            .execute_unprepared(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        db.close().await.expect("close the connection");
        done.rows_affected()
    }

    /// Moves the service's clock forward by `seconds` (sandbox clock).
    pub async fn advance_clock(&self, seconds: i64) {
        let resp = reqwest::Client::new()
            .post(self.url("/sandbox/clock"))
            .json(&serde_json::json!({ "advance_seconds": seconds }))
            .send()
            .await
            .expect("request");
        assert!(
            resp.status().is_success(),
            "sandbox clock: {}",
            resp.status()
        );
    }

    /// Sets the service's clock to `day` of the current month (at the supplier, UTC+3) at
    /// noon — the demo's history ends with the previous month, so the current month is open
    /// whatever the real date.
    pub async fn set_clock_to_day(&self, day: u8) {
        let state = self.get_json("/sandbox/clock").await;
        let offset = state["offset_seconds"].as_i64().expect("offset");
        let now = time::OffsetDateTime::parse(
            state["now"].as_str().expect("now"),
            &time::format_description::well_known::Rfc3339,
        )
        .expect("an RFC 3339 time");
        let real = now - time::Duration::seconds(offset);
        let msk = time::UtcOffset::from_hms(3, 0, 0).expect("offset");
        let today = real.to_offset(msk).date();
        let target = time::PrimitiveDateTime::new(
            today.replace_day(day).expect("a day of the month"),
            time::Time::from_hms(12, 0, 0).expect("noon"),
        )
        .assume_offset(msk);
        let resp = reqwest::Client::new()
            .post(self.url("/sandbox/clock"))
            .json(&serde_json::json!({ "offset_seconds": (target - real).whole_seconds() }))
            .send()
            .await
            .expect("request");
        assert!(
            resp.status().is_success(),
            "sandbox clock: {}",
            resp.status()
        );
    }

    /// Asserts `resp` is a problem of `status` and `slug` with a Russian detail; returns it.
    pub async fn assert_problem(
        &self,
        resp: reqwest::Response,
        status: u16,
        slug: &str,
    ) -> serde_json::Value {
        assert_eq!(resp.status().as_u16(), status, "status of {}", resp.url());
        let ct = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert!(ct.starts_with("application/problem+json"), "{ct}");
        let body: serde_json::Value = resp.json().await.expect("problem body");
        assert_eq!(body["type"], format!("/problems/{slug}"), "{body}");
        assert_eq!(body["status"], status, "{body}");
        assert!(
            body["detail"].as_str().is_some_and(|d| !d.is_ascii()),
            "{body}"
        );
        body
    }
}

/// How long [`eventually`] waits: generous, because on a loaded CI machine the service's
/// background tasks (webhook delivery, maintenance ticks, billing runs) can lag by seconds.
pub const EVENTUALLY: Duration = Duration::from_secs(30);

/// Polls `probe` every 20 ms until it answers `Some`, and returns that; panics with `what` if it
/// has not within [`EVENTUALLY`]. For what the service does in the background: a test must
/// wait for the state it checks, not for the first sign that the work has begun.
pub async fn eventually<T>(what: &str, mut probe: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + EVENTUALLY;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        if tokio::time::Instant::now() >= deadline {
            panic!("{what}: not within {} s", EVENTUALLY.as_secs());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
