//! `cargo xtask bench http [--subscribers N] [--seconds S] [--login-clients N] [--rate R]
//! [--backend sqlite|postgres|both]`: the running service under load, driven over HTTP from
//! this separate process.
//!
//! 1. Builds the release `abonent` and measures the **raw Argon2id rate** in this process
//!    (verifications per second with the service's parameters, on as many threads as the
//!    service's hashing pool has, and on every core); per backend it measures the pool's rate
//!    again between the slices of the logins phase, and judges logins by their mean.
//! 2. Per backend: starts `abonent` (demo supplier, sandbox providers, `127.0.0.1` trusted as
//!    a reverse proxy so that each virtual client can bring its own address in
//!    `X-Forwarded-For`, as behind nginx) against a fresh SQLite file or PostgreSQL database.
//! 3. Over HTTP, as an operator and subscribers would: imports a house with N ЛС, each with a
//!    single-rate meter and last month's reading (CSV, operator API); registers N cabinets by
//!    ЛС (captcha, SMS code from the sandbox outbox, password); each links the demo debtor's ЛС
//!    by its payment-document code and logs in; sets the sandbox clock to the 20th (in the
//!    readings window).
//! 4. Phases, each after a warm-up, timed by the clock of this process:
//!    - **submissions**: N subscribers at once submit their meter's reading, then correct it
//!      again and again (`POST` then `PUT …/readings/{id}`, each with an `Idempotency-Key`):
//!      every request validates and stores a reading — in a **closed loop** (each sends again
//!      as soon as it is answered: the throughput), then **paced** at `--rate` submissions a
//!      second in all (an open loop below capacity: the latency, counted from when each
//!      request was due, so a slow answer is not hidden by the request it delays);
//!    - **cabinet reads**: N subscribers read the demo ЛС's charges for last month (lines,
//!      why, totals);
//!    - **floor**: the same N clients `GET /health`, which touches no database — what HTTP,
//!      the framework and this load generator cost per request on the same cores;
//!    - **logins**: `--login-clients` clients log in (phone + password, Argon2id), each login
//!      from a new address — in 5 slices, each right after a slice of raw Argon2id as long;
//!    - **logins + submissions**: logins flooding while the subscribers submit at `--rate` —
//!      hashing must not starve the other requests.
//!
//!    On PostgreSQL a `CHECKPOINT` comes right before the closed loop (and before pgbench's
//!    warm-up in 5), so that neither is measured while the other's checkpoint flushes.
//! 5. Stops the service with SIGTERM and prints what its log then says about the calls it
//!    served in shared statements (PostgreSQL; `Storage::batches`). On PostgreSQL, with the
//!    service stopped: **pgbench** runs the reading-insert transaction
//!    (supersede the accepted reading, insert the new one — what a correction writes) with N
//!    clients on the same database, its row copied from what the service stored; then the
//!    database's ceiling for a keyed correction's statements sent one submission at a time:
//!    pgbench running them (`xtask/pgbench/`) as the service sent them before it shared them
//!    between concurrent submissions, and merged into three.
//!
//! It prints requests/s, p50/p99/max latency and the ratios to the targets of issue 5.
//! Figures are recorded in `docs/performance.md`.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};

use crate::bench::flag;
use crate::ci::{cargo_command, run_cmd, workspace_root};
use crate::schemathesis::{Service, demo_of, target_dir};

const DEFAULT_SUBSCRIBERS: usize = 64;
const DEFAULT_SECONDS: usize = 10;
const DEFAULT_LOGIN_CLIENTS: usize = 8;
/// Submissions a second of the paced phases: about half of what 2 cores serve in a closed loop.
const DEFAULT_RATE: usize = 200;
/// Requests started during the warm-up are not counted.
const WARM_UP: Duration = Duration::from_secs(2);
/// The logins phase runs in this many slices, each right after a slice of raw Argon2id of the
/// same length (see [`logins_beside_raw`]).
const LOGIN_SLICES: usize = 5;
/// The warm-up of each slice of logins: the clients' first requests queue for the hashing pool.
const LOGIN_WARM_UP: Duration = Duration::from_millis(500);
const PASSWORD: &str = "Нагрузочный-тест-2026";
const HOLDER: &str = "Нагрузкин Тест Тестович";
/// The bench's house, premises, ЛС and meters get ids from here (the demo's are small).
const FIRST_ID: usize = 9000;
/// Last month's reading of every bench meter.
const PREVIOUS: u64 = 1000;
const POSTGRES_SERVER: &str = "postgres://postgres@127.0.0.1:5432";
const DATABASE: &str = "abonent_bench_http";

/// Targets of issue 5.
const TARGET_PGBENCH_RATIO: f64 = 0.5;
const TARGET_SUBMIT_P99_MS: f64 = 25.0;
const TARGET_LOGIN_RATIO: f64 = 0.9;
const TARGET_MIXED_P99_MS: f64 = 100.0;

struct Options {
    subscribers: usize,
    seconds: usize,
    login_clients: usize,
    /// Submissions a second in the paced phases.
    rate: usize,
    backends: Vec<Backend>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }
}

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    crate::bench::only_flags(
        args,
        &[
            "--backend",
            "--subscribers",
            "--seconds",
            "--login-clients",
            "--rate",
        ],
        &[],
        "cargo xtask bench http [--subscribers N] [--seconds S] [--login-clients N] [--rate R] \
         [--backend sqlite|postgres|both]",
    )?;
    let backends = match args.iter().position(|a| a == "--backend") {
        None => vec![Backend::Sqlite, Backend::Postgres],
        Some(i) => match args.get(i + 1).map(String::as_str) {
            Some("sqlite") => vec![Backend::Sqlite],
            Some("postgres") => vec![Backend::Postgres],
            Some("both") => vec![Backend::Sqlite, Backend::Postgres],
            other => {
                return Err(format!(
                    "--backend: sqlite, postgres or both, not {other:?}"
                ));
            }
        },
    };
    let options = Options {
        subscribers: flag(args, "--subscribers", DEFAULT_SUBSCRIBERS)?.max(1),
        seconds: flag(args, "--seconds", DEFAULT_SECONDS)?.max(1),
        login_clients: flag(args, "--login-clients", DEFAULT_LOGIN_CLIENTS)?.max(1),
        rate: flag(args, "--rate", DEFAULT_RATE)?.max(1),
        backends,
    };
    let root = workspace_root();
    run_cmd(cargo_command(&root).args([
        "build",
        "--release",
        "--locked",
        "-p",
        "server",
        "--bin",
        "abonent",
    ]))?;
    let binary = target_dir(&root).join("release").join("abonent");
    let dir = target_dir(&root).join("bench-http");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;

    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let pool = hashing_pool();
    println!(
        "bench http: {} subscribers, {} login clients, {} s per phase after {} s of warm-up, \
         {cores} cores (the service, this load generator and the database share them)",
        options.subscribers,
        options.login_clients,
        options.seconds,
        WARM_UP.as_secs()
    );
    let raw_pool = raw_argon2(pool, options.seconds as f64)?;
    let raw_all = if cores == pool {
        raw_pool
    } else {
        raw_argon2(cores, options.seconds as f64)?
    };
    println!(
        "raw Argon2id (m=19456 KiB, t=2, p=1), verifications/s: {raw_pool:.1} on {pool} \
         thread(s) (the service's hashing pool), {raw_all:.1} on {cores}"
    );

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| format!("tokio: {e}"))?;
    let mut results = Vec::new();
    for backend in options.backends.clone() {
        let result = runtime.block_on(bench_backend(backend, &binary, &dir, &options))?;
        results.push(result);
    }
    report(&results, raw_pool, raw_all, pool, &options)
}

/// Argon2id verifications per second on `threads` threads for `seconds`.
fn raw_argon2(threads: usize, seconds: f64) -> Result<f64, String> {
    use identity_core::password::Argon2idHasher;
    use identity_core::ports::{PasswordHasher, PortError, Random};
    use identity_core::secret::Secret;

    /// A fixed salt: the cost of a verification does not depend on it.
    struct FixedSalt;
    impl Random for FixedSalt {
        fn fill(&self, buf: &mut [u8]) -> Result<(), PortError> {
            buf.fill(7);
            Ok(())
        }
    }
    let current_thread = || {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .map_err(|e| format!("tokio: {e}"))
    };
    let hasher = Argon2idHasher::new(Arc::new(FixedSalt));
    let password = Secret::new(PASSWORD.to_owned());
    let hash = current_thread()?
        .block_on(hasher.hash(&password))
        .map_err(|e| e.to_string())?;
    let done = AtomicU64::new(0);
    let failed = AtomicBool::new(false);
    let started = Instant::now();
    let stop = started + Duration::from_secs_f64(seconds);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                let Ok(rt) = current_thread() else {
                    failed.store(true, Ordering::Relaxed);
                    return;
                };
                while Instant::now() < stop {
                    if !matches!(rt.block_on(hasher.verify(&password, &hash)), Ok(true)) {
                        failed.store(true, Ordering::Relaxed);
                        return;
                    }
                    done.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    if failed.load(Ordering::Relaxed) {
        return Err("the raw Argon2id measurement failed to verify its own hash".into());
    }
    Ok(done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64())
}

/// One virtual subscriber.
#[derive(Debug, Clone)]
struct Subscriber {
    phone: String,
    token: String,
    /// Its own ЛС and meter (the readings).
    account: u64,
    meter: u64,
    /// The demo debtor's ЛС, linked (the cabinet reads).
    demo_account: u64,
    /// The accepted reading to correct next, once one is submitted.
    reading: Option<u64>,
    /// Submissions so far (the next value follows from it).
    submitted: u64,
}

/// Latencies of one phase's counted requests, in microseconds, and what went wrong.
#[derive(Debug, Default)]
struct Sample {
    latencies: Vec<u64>,
    errors: u64,
    first_error: Option<String>,
}

impl Sample {
    fn merge(&mut self, other: Sample) {
        self.latencies.extend(other.latencies);
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }
}

/// Figures of one phase.
#[derive(Debug, Clone, Default)]
struct Figures {
    requests: u64,
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    errors: u64,
    first_error: Option<String>,
}

impl Figures {
    fn of(mut sample: Sample, seconds: f64) -> Figures {
        sample.latencies.sort_unstable();
        let n = sample.latencies.len();
        let at = |q: f64| {
            if n == 0 {
                0.0
            } else {
                let i = ((n as f64 * q).ceil() as usize).clamp(1, n) - 1;
                sample.latencies[i] as f64 / 1000.0
            }
        };
        Figures {
            requests: n as u64,
            per_second: n as f64 / seconds,
            p50_ms: at(0.50),
            p99_ms: at(0.99),
            max_ms: at(1.0),
            errors: sample.errors,
            first_error: sample.first_error,
        }
    }

    fn line(&self, name: &str) -> String {
        format!(
            "  {name:<34} {:>8.1} req/s  p50 {:>7.2} ms  p99 {:>7.2} ms  max {:>8.2} ms  \
             ({} requests, {} errors)",
            self.per_second, self.p50_ms, self.p99_ms, self.max_ms, self.requests, self.errors
        )
    }
}

/// What one backend measured.
#[derive(Debug, Clone)]
struct BackendFigures {
    backend: Backend,
    submissions: Figures,
    paced: Figures,
    reads: Figures,
    floor: Figures,
    logins: Figures,
    mixed_logins: Figures,
    mixed_submissions: Figures,
    pgbench: Option<Figures>,
    /// [`ceilings`]: pgbench on the service's own statements (PostgreSQL only).
    ceilings: Vec<(&'static str, f64)>,
    /// Raw Argon2id verifications/s on the hashing pool's threads, one figure per slice of
    /// the logins phase, each measured right before its slice (the service idle): the
    /// machine's rate moves by up to 15 % within a minute, so the ceiling is taken next to
    /// what it judges ([`logins_beside_raw`]).
    raw_beside_logins: Vec<f64>,
}

async fn bench_backend(
    backend: Backend,
    binary: &Path,
    dir: &Path,
    options: &Options,
) -> Result<BackendFigures, String> {
    println!("\n== {} ==", backend.name());
    let database_url = match backend {
        Backend::Sqlite => {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(dir.join(format!("bench.db{suffix}")));
            }
            format!("sqlite://{}", dir.join("bench.db").display())
        }
        Backend::Postgres => {
            let server = Database::connect(format!("{POSTGRES_SERVER}/postgres"))
                .await
                .map_err(|e| format!("PostgreSQL at {POSTGRES_SERVER}: {e}"))?;
            for sql in [
                format!("DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"),
                format!("CREATE DATABASE {DATABASE}"),
            ] {
                server
                    .execute_unprepared(&sql)
                    .await
                    .map_err(|e| format!("{sql}: {e}"))?;
            }
            format!("{POSTGRES_SERVER}/{DATABASE}")
        }
    };
    let service = Service::start(
        binary,
        dir,
        &database_url,
        &[
            "--trusted-proxies",
            "127.0.0.1",
            "--sandbox-webhook-delay-ms",
            "0",
        ],
    )?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(1024)
        .timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| format!("HTTP client: {e}"))?;
    let http = Http {
        client,
        base: service.base.clone(),
    };
    let started = Instant::now();
    let (subscribers, period) = prepare(&http, &service.banner, options.subscribers).await?;
    println!(
        "prepared {} subscribers in {:.1} s (ЛС, meters and last month's readings imported, \
         cabinets registered by ЛС, demo ЛС linked, logged in); readings for {period}",
        subscribers.len(),
        started.elapsed().as_secs_f64()
    );
    let seconds = options.seconds as f64;

    checkpoint(backend).await?;
    let before = database_work(backend).await?;
    let submitted_before: u64 = subscribers.iter().map(|s| s.submitted).sum();
    let (submissions, subscribers) =
        submissions_phase(&http, subscribers, seconds, None, None).await;
    println!("{}", submissions.line("reading submissions"));
    if let (Some(before), Some(after)) = (before, database_work(backend).await?) {
        let n = (subscribers.iter().map(|s| s.submitted).sum::<u64>() - submitted_before).max(1);
        let per: [f64; 5] = std::array::from_fn(|i| (after[i] - before[i]) as f64 / n as f64);
        println!(
            "  per submission, PostgreSQL counted {:.1} transactions, {:.1} rows returned by \
             scans, {:.1} rows fetched by index, {:.1} inserted, {:.1} updated ({n} submissions)",
            per[0], per[1], per[2], per[3], per[4],
        );
    }
    let rate = options.rate as f64;
    let (paced, subscribers) =
        submissions_phase(&http, subscribers, seconds, None, Some(rate)).await;
    println!(
        "{}",
        paced.line(&format!("reading submissions at {rate}/s"))
    );
    let reads = reads_phase(&http, &subscribers, &period, seconds).await;
    println!("{}", reads.line("cabinet reads (charges)"));
    let floor = floor_phase(&http, &subscribers, seconds).await;
    println!("{}", floor.line("GET /health (no database)"));
    let pool = hashing_pool();
    let (logins, raw_beside_logins) =
        logins_beside_raw(&http, &subscribers, options.login_clients, seconds, pool).await?;
    println!("{}", logins.line("logins"));
    println!(
        "  raw Argon2id on {pool} thread(s), a slice of {:.1} s before each of the {LOGIN_SLICES} \
         slices of logins: {}/s",
        seconds / LOGIN_SLICES as f64,
        raw_beside_logins
            .iter()
            .map(|r| format!("{r:.1}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let (mixed_submissions, _, mixed_logins) =
        mixed_phase(&http, subscribers, options.login_clients, seconds, rate).await;
    println!("{}", mixed_logins.line("logins, while submitting"));
    println!(
        "{}",
        mixed_submissions.line(&format!("submissions at {rate}/s, logins flooding"))
    );
    let shared = service.stop(Duration::from_secs(30))?;
    for line in shared_statements(&shared) {
        println!("  {line}");
    }

    let (pgbench, ceilings) = match backend {
        Backend::Sqlite => (None, Vec::new()),
        Backend::Postgres => {
            let (figures, period) = pgbench(dir, options.subscribers, options.seconds).await?;
            println!("{}", figures.line("pgbench: the reading-insert tx"));
            let ceilings = ceilings(dir, options.subscribers, options.seconds, period).await?;
            for (name, tps) in &ceilings {
                println!("  pgbench: {name:<29} {tps:>9.1} tx/s");
            }
            (Some(figures), ceilings)
        }
    };
    Ok(BackendFigures {
        backend,
        submissions,
        paced,
        reads,
        floor,
        logins,
        mixed_logins,
        mixed_submissions,
        pgbench,
        ceilings,
        raw_beside_logins,
    })
}

/// The service's hashing pool on this machine, as `server::hashing::default_workers`: one
/// thread less than the cores, at least one.
fn hashing_pool() -> usize {
    std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .saturating_sub(1)
        .max(1)
}

/// [`raw_argon2`] from the async bench, off its worker thread.
async fn raw_argon2_beside(threads: usize, seconds: f64) -> Result<f64, String> {
    tokio::task::spawn_blocking(move || raw_argon2(threads, seconds))
        .await
        .map_err(|e| format!("the raw Argon2id measurement panicked: {e}"))?
}

/// The service's address and a pooled client.
#[derive(Clone)]
struct Http {
    client: reqwest::Client,
    base: String,
}

impl Http {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends `req` from client address `from`; the status and JSON body (`null` if none).
    async fn send(&self, req: reqwest::RequestBuilder, from: &str) -> Result<(u16, Value), String> {
        let resp = req
            .header("x-forwarded-for", from)
            .send()
            .await
            .map_err(|e| format!("request: {e}"))?;
        let status = resp.status().as_u16();
        let body = resp.bytes().await.map_err(|e| format!("body: {e}"))?;
        Ok((status, serde_json::from_slice(&body).unwrap_or(Value::Null)))
    }

    /// Sends `req` and expects `status`; the JSON body.
    async fn expect(
        &self,
        what: &str,
        req: reqwest::RequestBuilder,
        from: &str,
        status: u16,
    ) -> Result<Value, String> {
        let (got, body) = self.send(req, from).await?;
        if got == status {
            Ok(body)
        } else {
            Err(format!("{what}: {got} (expected {status}): {body}"))
        }
    }
}

/// The address virtual client `i` of `group` comes from.
fn address(group: u8, i: u64) -> String {
    format!("{group}.{}.{}.{}", (i >> 16) & 255, (i >> 8) & 255, i & 255)
}

fn phone(i: usize) -> String {
    format!("+7999{:07}", 1_000_000 + i)
}

/// Loads the bench's house, ЛС, meters and readings, registers and logs in the subscribers,
/// sets the clock into the readings window. Returns them and the period read for charges.
async fn prepare(
    http: &Http,
    banner: &[String],
    n: usize,
) -> Result<(Vec<Subscriber>, String), String> {
    let (supplier, demo, login, password) = demo_of(banner)?;
    let debtor = demo.first().ok_or("the banner lists no demo ЛС")?.clone();
    let operator = http
        .expect(
            "operator login",
            http.client
                .post(http.url("/api/v1/operator/session"))
                .json(&json!({ "login": login, "password": password })),
            "10.0.0.1",
            201,
        )
        .await?;
    let operator = operator["token"]
        .as_str()
        .ok_or("no operator token")?
        .to_owned();

    // The clock: the 20th of this month at noon, Moscow time (the readings window is open).
    let clock = http
        .expect(
            "sandbox clock",
            http.client.get(http.url("/sandbox/clock")),
            "10.0.0.1",
            200,
        )
        .await?;
    let offset = clock["offset_seconds"].as_i64().ok_or("no clock offset")?;
    let now = time::OffsetDateTime::parse(
        clock["now"].as_str().ok_or("no clock time")?,
        &time::format_description::well_known::Rfc3339,
    )
    .map_err(|e| format!("clock time: {e}"))?;
    let real = now - time::Duration::seconds(offset);
    let msk = time::UtcOffset::from_hms(3, 0, 0).map_err(|e| e.to_string())?;
    let today = real.to_offset(msk).date();
    let day20 = today.replace_day(20).map_err(|e| e.to_string())?;
    let noon = time::Time::from_hms(12, 0, 0).map_err(|e| e.to_string())?;
    let target = time::PrimitiveDateTime::new(day20, noon).assume_offset(msk);
    http.expect(
        "set the sandbox clock",
        http.client
            .post(http.url("/sandbox/clock"))
            .json(&json!({ "offset_seconds": (target - real).whole_seconds() })),
        "10.0.0.1",
        200,
    )
    .await?;
    let last_month = day20
        .replace_day(1)
        .map_err(|e| e.to_string())?
        .previous_day()
        .ok_or("no previous day")?
        .replace_day(20)
        .map_err(|e| e.to_string())?;
    let period = format!("{}-{:02}", last_month.year(), u8::from(last_month.month()));

    // The bench's house, premises, ЛС, meters and last month's readings.
    let ids = || (0..n).map(|i| FIRST_ID + i);
    let mut premises = String::from("id;house;number;area;persons\n");
    let mut accounts = String::from("id;number;premise;holder;group;services\n");
    let mut meters =
        String::from("id;account;service;serial;scheme;digits;installed_on;commissioned_on\n");
    let mut readings = String::from("meter;period;taken_on;t1\n");
    for id in ids() {
        premises.push_str(&format!("{id};{FIRST_ID};{id};50,5;2\n"));
        accounts.push_str(&format!(
            "{id};{};{id};{HOLDER};population;electricity:90\n",
            account_number(id)
        ));
        meters.push_str(&format!(
            "{id};{id};electricity;BN{id:08};single;5;2020-01-15;2020-01-15\n"
        ));
        readings.push_str(&format!("{id};{period};{last_month};{PREVIOUS:05}\n"));
    }
    let imports = [
        (
            format!("houses?supplier={supplier}"),
            format!("id;address;total_area\n{FIRST_ID};г. Тула, ул. Нагрузочная, д. 1;9000\n"),
        ),
        ("premises".to_owned(), premises),
        (format!("accounts?supplier={supplier}"), accounts),
        ("meters".to_owned(), meters),
        ("readings".to_owned(), readings),
    ];
    for (path, csv) in imports {
        http.expect(
            &format!("import {path}"),
            http.client
                .post(http.url(&format!("/api/v1/operator/imports/{path}")))
                .bearer_auth(&operator)
                .header("content-type", "text/csv; charset=utf-8")
                .body(csv),
            "10.0.0.1",
            200,
        )
        .await?;
    }

    let consent = http
        .expect(
            "consent",
            http.client.get(http.url("/api/v1/consent-document")),
            "10.0.0.1",
            200,
        )
        .await?;
    let consent = consent["version"].clone();
    // Registered eight at a time (each completion hashes a password).
    let mut subscribers = Vec::with_capacity(n);
    let all: Vec<usize> = (0..n).collect();
    for chunk in all.chunks(8) {
        let mut tasks = tokio::task::JoinSet::new();
        for &i in chunk {
            let http = http.clone();
            let consent = consent.clone();
            let code = debtor.code.clone();
            let debtor_number = debtor.number.clone();
            tasks.spawn(async move {
                register(&http, i, supplier, &consent, &code, &debtor_number).await
            });
        }
        while let Some(joined) = tasks.join_next().await {
            subscribers.push(joined.map_err(|e| format!("registration task: {e}"))??);
        }
    }
    subscribers.sort_by_key(|s| s.account);
    Ok((subscribers, period))
}

fn account_number(id: usize) -> String {
    format!("78{id:08}")
}

/// Registers subscriber `i` by its ЛС, logs in, links the demo debtor's ЛС by its code.
async fn register(
    http: &Http,
    i: usize,
    supplier: u64,
    consent: &Value,
    debtor_code: &str,
    debtor_number: &str,
) -> Result<Subscriber, String> {
    let from = address(10, 1000 + i as u64);
    let phone = phone(i);
    let number = account_number(FIRST_ID + i);
    let captcha = http
        .expect(
            "captcha",
            http.client.get(http.url("/api/v1/captcha")),
            &from,
            200,
        )
        .await?;
    let captcha = format!(
        "{}:{}",
        captcha["id"].as_str().ok_or("captcha id")?,
        captcha["sandbox_answer"].as_str().ok_or("captcha answer")?
    );
    let started = http
        .expect(
            "registration by ЛС",
            http.client
                .post(http.url("/api/v1/registrations/account"))
                .json(&json!({ "supplier_id": supplier, "account_number": number,
                    "name": HOLDER, "phone": phone, "captcha": captcha,
                    "consent_version": consent })),
            &from,
            202,
        )
        .await?;
    let challenge = started["challenge_id"]
        .as_str()
        .ok_or("no challenge id")?
        .to_owned();
    let messages = http
        .expect(
            "sandbox messages",
            http.client
                .get(http.url("/sandbox/messages"))
                .query(&[("to", phone.as_str()), ("limit", "500")]),
            &from,
            200,
        )
        .await?;
    let text = messages
        .as_array()
        .and_then(|m| m.last())
        .and_then(|m| m["body"].as_str())
        .ok_or_else(|| format!("no SMS to {phone}"))?;
    let code: String = text
        .split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .ok_or_else(|| format!("no code in {text:?}"))?
        .to_owned();
    http.expect(
        "registration code",
        http.client
            .post(http.url(&format!("/api/v1/registrations/{challenge}/complete")))
            .json(&json!({ "code": code, "password": PASSWORD, "password_repeat": PASSWORD })),
        &from,
        201,
    )
    .await?;
    let token = login(http, &phone, &from).await?;
    http.expect(
        "link the demo ЛС",
        http.client
            .post(http.url("/api/v1/accounts/link/payment-code"))
            .bearer_auth(&token)
            .json(&json!({ "code": debtor_code })),
        &from,
        201,
    )
    .await?;
    let linked = http
        .expect(
            "linked ЛС",
            http.client
                .get(http.url("/api/v1/accounts"))
                .bearer_auth(&token),
            &from,
            200,
        )
        .await?;
    let id_of = |n: &str| {
        linked
            .as_array()
            .and_then(|l| l.iter().find(|a| a["number"] == n))
            .and_then(|a| a["account_id"].as_u64())
            .ok_or_else(|| format!("ЛС {n} is not linked: {linked}"))
    };
    let account = id_of(&number)?;
    let demo_account = id_of(debtor_number)?;
    let meters = http
        .expect(
            "meters",
            http.client
                .get(http.url(&format!("/api/v1/accounts/{account}/meters")))
                .bearer_auth(&token),
            &from,
            200,
        )
        .await?;
    let meter = meters
        .as_array()
        .and_then(|m| m.first())
        .and_then(|m| m["meter_id"].as_u64())
        .ok_or_else(|| format!("no meter on ЛС {number}: {meters}"))?;
    Ok(Subscriber {
        phone,
        token,
        account,
        meter,
        demo_account,
        reading: None,
        submitted: 0,
    })
}

/// Logs in by phone and password; the bearer token.
async fn login(http: &Http, phone: &str, from: &str) -> Result<String, String> {
    let session = http
        .expect(
            "login",
            http.client
                .post(http.url("/api/v1/session"))
                .json(&json!({ "login": phone, "password": PASSWORD, "token": true })),
            from,
            201,
        )
        .await?;
    session["token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| "no token in the login answer".to_owned())
}

/// When a phase's counting starts and ends.
#[derive(Clone, Copy)]
struct Window {
    from: Instant,
    to: Instant,
}

impl Window {
    fn new(seconds: f64) -> Window {
        Window::after(WARM_UP, seconds)
    }

    /// `seconds` counted after `warm_up` from now.
    fn after(warm_up: Duration, seconds: f64) -> Window {
        let from = Instant::now() + warm_up;
        Window {
            from,
            to: from + Duration::from_secs_f64(seconds),
        }
    }

    fn running(&self) -> bool {
        Instant::now() < self.to
    }

    /// Records one request that started at `start` and ended now.
    fn record(&self, sample: &mut Sample, start: Instant, outcome: Result<(), String>) {
        if start < self.from {
            return;
        }
        match outcome {
            Ok(()) => sample
                .latencies
                .push(start.elapsed().as_micros().try_into().unwrap_or(u64::MAX)),
            Err(e) => {
                sample.errors += 1;
                sample.first_error.get_or_insert(e);
            }
        }
    }
}

/// One subscriber submitting, then correcting, its reading until the window ends: as fast as
/// answers come (`pace` `None`), or one request every `pace.0` starting `pace.1` into the
/// warm-up — then a request's latency is counted from when it was **due**, so that a slow
/// answer that delays the next request is not hidden (no coordinated omission).
async fn submitting(
    http: Http,
    mut sub: Subscriber,
    window: Window,
    pace: Option<(Duration, Duration)>,
) -> (Subscriber, Sample) {
    let mut sample = Sample::default();
    let from = address(11, sub.account);
    let mut due = pace.map(|(_, offset)| window.from - WARM_UP + offset);
    while window.running() {
        if let Some(at) = due {
            tokio::time::sleep_until(at.into()).await;
        }
        let value = format!("{:05}", PREVIOUS + 10 + sub.submitted % 400);
        let key = format!("bench-{}-{}", sub.account, sub.submitted);
        let req = match sub.reading {
            None => http
                .client
                .post(http.url(&format!("/api/v1/accounts/{}/readings", sub.account)))
                .json(&json!({ "meter_id": sub.meter, "values": [value] })),
            Some(reading) => http
                .client
                .put(http.url(&format!(
                    "/api/v1/accounts/{}/readings/{reading}",
                    sub.account
                )))
                .json(&json!({ "values": [value] })),
        }
        .bearer_auth(&sub.token)
        .header("idempotency-key", key);
        let expected = if sub.reading.is_none() { 201 } else { 200 };
        let start = due.unwrap_or_else(Instant::now);
        if let (Some(at), Some((every, _))) = (due.as_mut(), pace) {
            *at += every;
        }
        let outcome = match http.send(req, &from).await {
            Ok((status, body)) if status == expected => match body["reading_id"].as_u64() {
                Some(id) => {
                    sub.reading = Some(id);
                    sub.submitted += 1;
                    Ok(())
                }
                None => Err(format!("no reading id in {body}")),
            },
            Ok((status, body)) => Err(format!("reading: {status} {body}")),
            Err(e) => Err(e),
        };
        window.record(&mut sample, start, outcome);
    }
    (sub, sample)
}

/// Every subscriber submitting: in a closed loop (`rate` `None`) or, together, `rate`
/// submissions a second, evenly spread.
async fn submissions_phase(
    http: &Http,
    subscribers: Vec<Subscriber>,
    seconds: f64,
    window: Option<Window>,
    rate: Option<f64>,
) -> (Figures, Vec<Subscriber>) {
    let window = window.unwrap_or_else(|| Window::new(seconds));
    let n = subscribers.len();
    let every = rate.map(|r| Duration::from_secs_f64(n as f64 / r));
    let mut tasks = tokio::task::JoinSet::new();
    for (i, sub) in subscribers.into_iter().enumerate() {
        let pace = every.map(|e| (e, e.mul_f64(i as f64 / n as f64)));
        tasks.spawn(submitting(http.clone(), sub, window, pace));
    }
    let mut sample = Sample::default();
    let mut back = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((sub, s)) => {
                back.push(sub);
                sample.merge(s);
            }
            Err(e) => {
                sample.errors += 1;
                sample.first_error.get_or_insert(format!("task: {e}"));
            }
        }
    }
    back.sort_by_key(|s| s.account);
    (Figures::of(sample, seconds), back)
}

async fn reads_phase(
    http: &Http,
    subscribers: &[Subscriber],
    period: &str,
    seconds: f64,
) -> Figures {
    gets_phase(
        http,
        subscribers,
        seconds,
        12,
        |sub| format!("/api/v1/accounts/{}/charges/{period}", sub.demo_account),
        |body| body["lines"].as_array().is_some_and(|l| !l.is_empty()),
    )
    .await
}

/// The floor of the stack: the same clients in a closed loop on `GET /health`, which touches
/// no database — what HTTP, the service's framework and this load generator cost per request.
async fn floor_phase(http: &Http, subscribers: &[Subscriber], seconds: f64) -> Figures {
    gets_phase(
        http,
        subscribers,
        seconds,
        14,
        |_| "/health".to_owned(),
        |body| body["status"] == "ok",
    )
    .await
}

/// Every subscriber `GET`s its `path` (with its session) in a closed loop until the window
/// ends; a request succeeds with 200 and a body that passes `check`.
async fn gets_phase(
    http: &Http,
    subscribers: &[Subscriber],
    seconds: f64,
    address_group: u8,
    path: impl Fn(&Subscriber) -> String,
    check: fn(&Value) -> bool,
) -> Figures {
    let window = Window::new(seconds);
    let mut tasks = tokio::task::JoinSet::new();
    for sub in subscribers {
        let (http, sub, path) = (http.clone(), sub.clone(), path(sub));
        tasks.spawn(async move {
            let mut sample = Sample::default();
            let from = address(address_group, sub.account);
            while window.running() {
                let req = http.client.get(http.url(&path)).bearer_auth(&sub.token);
                let start = Instant::now();
                let outcome = match http.send(req, &from).await {
                    Ok((200, body)) if check(&body) => Ok(()),
                    Ok((status, body)) => Err(format!("GET {path}: {status} {body}")),
                    Err(e) => Err(e),
                };
                window.record(&mut sample, start, outcome);
            }
            sample
        });
    }
    let mut sample = Sample::default();
    while let Some(joined) = tasks.join_next().await {
        sample.merge(joined.unwrap_or_else(|e| Sample {
            errors: 1,
            first_error: Some(format!("task: {e}")),
            ..Sample::default()
        }));
    }
    Figures::of(sample, seconds)
}

/// `clients` clients logging in, each login from a new address, until the window ends.
fn spawn_logins(
    tasks: &mut tokio::task::JoinSet<Sample>,
    http: &Http,
    phones: Arc<Vec<String>>,
    clients: usize,
    window: Window,
    next: Arc<AtomicU64>,
) {
    for _ in 0..clients {
        let (http, phones, next) = (http.clone(), Arc::clone(&phones), Arc::clone(&next));
        tasks.spawn(async move {
            let mut sample = Sample::default();
            while window.running() {
                let n = next.fetch_add(1, Ordering::Relaxed);
                let phone = &phones[(n % phones.len() as u64) as usize];
                let start = Instant::now();
                let outcome = login(&http, phone, &address(100, n)).await.map(drop);
                window.record(&mut sample, start, outcome);
            }
            sample
        });
    }
}

/// The logins phase, `seconds` in all, judged against raw Argon2id measured between its
/// parts: [`LOGIN_SLICES`] times, the raw rate on the hashing pool's `threads` (the service
/// idle) for one slice's length, then logins by `clients` for as long (after
/// [`LOGIN_WARM_UP`]; the hashing queue drains before the next raw slice starts). Both cannot
/// run at once — they would share the cores — and this machine's rate moved by up to 15 %
/// within a minute (54.2/s right before a 10 s phase, 62.4/s right after it), which a
/// ceiling taken 10 s away cannot follow. The logins' figures and the raw rate of each slice.
async fn logins_beside_raw(
    http: &Http,
    subscribers: &[Subscriber],
    clients: usize,
    seconds: f64,
    threads: usize,
) -> Result<(Figures, Vec<f64>), String> {
    let phones: Arc<Vec<String>> = Arc::new(subscribers.iter().map(|s| s.phone.clone()).collect());
    let slice = seconds / LOGIN_SLICES as f64;
    // Each address logs in once, across the slices.
    let next = Arc::new(AtomicU64::new(0));
    let (mut sample, mut raw) = (Sample::default(), Vec::with_capacity(LOGIN_SLICES));
    for _ in 0..LOGIN_SLICES {
        raw.push(raw_argon2_beside(threads, slice).await?);
        let mut tasks = tokio::task::JoinSet::new();
        let window = Window::after(LOGIN_WARM_UP, slice);
        spawn_logins(
            &mut tasks,
            http,
            Arc::clone(&phones),
            clients,
            window,
            Arc::clone(&next),
        );
        while let Some(joined) = tasks.join_next().await {
            sample.merge(joined.unwrap_or_default());
        }
    }
    Ok((Figures::of(sample, seconds), raw))
}

/// Logins flood while the subscribers submit at `rate` a second: (submissions, subscribers,
/// logins).
async fn mixed_phase(
    http: &Http,
    subscribers: Vec<Subscriber>,
    clients: usize,
    seconds: f64,
    rate: f64,
) -> (Figures, Vec<Subscriber>, Figures) {
    let phones = Arc::new(subscribers.iter().map(|s| s.phone.clone()).collect());
    let window = Window::new(seconds);
    let mut logins = tokio::task::JoinSet::new();
    // Login addresses continue after the logins phase's (each address logs in once).
    let next = Arc::new(AtomicU64::new(1 << 20));
    spawn_logins(&mut logins, http, phones, clients, window, next);
    let (submissions, subscribers) =
        submissions_phase(http, subscribers, seconds, Some(window), Some(rate)).await;
    let mut sample = Sample::default();
    while let Some(joined) = logins.join_next().await {
        sample.merge(joined.unwrap_or_default());
    }
    (submissions, subscribers, Figures::of(sample, seconds))
}

/// PostgreSQL's counters for the bench database (committed transactions; rows returned,
/// fetched, inserted, updated), read after a pause that lets the backends flush their
/// statistics; `None` on SQLite.
async fn database_work(backend: Backend) -> Result<Option<[i64; 5]>, String> {
    if backend == Backend::Sqlite {
        return Ok(None);
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let row = bench_row(
        "SELECT xact_commit, tup_returned, tup_fetched, tup_inserted, tup_updated \
         FROM pg_stat_database WHERE datname = current_database()",
    )
    .await?
    .ok_or("no pg_stat_database row")?;
    let mut counters = [0_i64; 5];
    for (i, column) in [
        "xact_commit",
        "tup_returned",
        "tup_fetched",
        "tup_inserted",
        "tup_updated",
    ]
    .iter()
    .enumerate()
    {
        counters[i] = row
            .try_get("", column)
            .map_err(|e| format!("pg_stat_database.{column}: {e}"))?;
    }
    Ok(Some(counters))
}

/// PostgreSQL: a checkpoint right before a measured phase, so that neither the service nor
/// pgbench is measured while a checkpoint the other's writes started flushes its pages (one
/// took the reference from ~4 500 to 3 378 tx/s in a run of the tenth session); the next
/// timed one is then `checkpoint_timeout` (5 min by default) away.
async fn checkpoint(backend: Backend) -> Result<(), String> {
    if backend == Backend::Postgres {
        bench_row("CHECKPOINT").await?;
    }
    Ok(())
}

/// What the service's log says, when it stopped, about the calls it served in shared
/// statements (`Storage::batches`): one line per kind, for the whole run.
fn shared_statements(log: &str) -> Vec<String> {
    let field = |line: &str, name: &str| -> Option<String> {
        let rest = &line[line.find(&format!(" {name}="))? + name.len() + 2..];
        Some(match rest.strip_prefix('"') {
            Some(quoted) => quoted.split('"').next()?.to_owned(),
            None => rest.split_whitespace().next()?.to_owned(),
        })
    };
    log.lines()
        .filter(|l| l.contains("calls served in shared statements"))
        .filter_map(|l| {
            let kind = field(l, "kind")?;
            let calls: f64 = field(l, "calls")?.parse().ok()?;
            let statements: f64 = field(l, "statements")?.parse().ok()?;
            Some(format!(
                "shared statements, whole run: {kind:<26} {calls:>7} calls in {statements:>6} \
                 statements ({:.1} per statement, largest {}, {} split)",
                calls / statements.max(1.0),
                field(l, "largest")?,
                field(l, "split")?,
            ))
        })
        .collect()
}

/// The first row of `sql` on the bench database, through a connection of its own.
async fn bench_row(sql: &str) -> Result<Option<sea_orm::QueryResult>, String> {
    let url = format!("{POSTGRES_SERVER}/{DATABASE}");
    let db = Database::connect(&url)
        .await
        .map_err(|e| format!("PostgreSQL {url}: {e}"))?;
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DatabaseBackend::Postgres,
            sql,
        ))
        .await
        .map_err(|e| format!("{sql}: {e}"))?;
    db.close().await.map_err(|e| e.to_string())?;
    Ok(row)
}

/// pgbench on the bench database: the transaction a reading correction writes, by `clients`
/// clients (each on its own meter), after a warm-up run; with the period of the readings the
/// service corrected (the latest accepted one; last month's is accepted too), which the
/// transaction writes.
async fn pgbench(dir: &Path, clients: usize, seconds: usize) -> Result<(Figures, i32), String> {
    let url = format!("{POSTGRES_SERVER}/{DATABASE}");
    let row = bench_row(&format!(
        "SELECT period, register_values, taken_on, submitted_at, source, slot \
         FROM readings WHERE meter_id = {FIRST_ID} AND status = 'accepted' \
         ORDER BY period DESC LIMIT 1"
    ))
    .await?
    .ok_or("the service stored no accepted reading of the first bench meter")?;
    let get_text = |column: &str| -> Result<String, String> {
        row.try_get::<String>("", column)
            .map(|v| v.replace('\'', "''"))
            .map_err(|e| format!("readings.{column}: {e}"))
    };
    let period: i32 = row
        .try_get("", "period")
        .map_err(|e| format!("readings.period: {e}"))?;
    let submitted_at: i64 = row
        .try_get("", "submitted_at")
        .map_err(|e| format!("readings.submitted_at: {e}"))?;
    let (values, taken_on, source, slot) = (
        get_text("register_values")?,
        get_text("taken_on")?,
        get_text("source")?,
        get_text("slot")?,
    );
    let script = dir.join("reading-insert.sql");
    std::fs::write(
        &script,
        format!(
            "\\set meter {FIRST_ID} + :client_id\n\
             BEGIN;\n\
             UPDATE readings SET status = 'superseded' WHERE meter_id = :meter \
             AND period = {period} AND slot = '{slot}' AND status = 'accepted' \
             RETURNING id AS old \\gset\n\
             INSERT INTO readings (meter_id, period, register_values, taken_on, submitted_at, \
             source, status, slot, supersedes) VALUES (:meter, {period}, '{values}', \
             '{taken_on}', {submitted_at}, '{source}', 'accepted', '{slot}', :old);\n\
             END;\n"
        ),
    )
    .map_err(|e| format!("cannot write {}: {e}", script.display()))?;
    let logs = dir.join("pgbench-logs");
    let _ = std::fs::remove_dir_all(&logs);
    std::fs::create_dir_all(&logs).map_err(|e| format!("{}: {e}", logs.display()))?;
    let run = |seconds: u64, log: bool| -> Result<String, String> {
        let log_prefix = format!("--log-prefix={}", logs.join("tx").display());
        let extra: &[&str] = if log { &["-l", &log_prefix] } else { &[] };
        run_pgbench(&script, clients, seconds, extra, &url)
    };
    checkpoint(Backend::Postgres).await?;
    run(WARM_UP.as_secs(), false)?;
    let stdout = run(seconds as u64, true)?;
    if let Some(tps) = stdout.lines().find(|l| l.starts_with("tps")) {
        println!("  pgbench says: {tps}");
    }
    // Each line of a transaction log: client, transaction, latency in µs, script, epoch, µs.
    let mut sample = Sample::default();
    for entry in std::fs::read_dir(&logs).map_err(|e| format!("{}: {e}", logs.display()))? {
        let path = entry.map_err(|e| e.to_string())?.path();
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        for line in text.lines() {
            match line.split_whitespace().nth(2).and_then(|v| v.parse().ok()) {
                Some(us) => sample.latencies.push(us),
                None => sample.errors += 1,
            }
        }
    }
    Ok((Figures::of(sample, seconds as f64), period))
}

/// Runs pgbench (`-n -M prepared -j 2`) with `script` for `seconds` on `clients` clients and
/// the `extra` arguments; its standard output.
fn run_pgbench(
    script: &Path,
    clients: usize,
    seconds: u64,
    extra: &[&str],
    url: &str,
) -> Result<String, String> {
    let out = Command::new("pgbench")
        .args(["-n", "-M", "prepared", "-j", "2"])
        .args(["-c", &clients.to_string(), "-T", &seconds.to_string()])
        .args(extra)
        .arg("-f")
        .arg(script)
        .arg(url)
        .output()
        .map_err(|e| {
            format!("cannot run pgbench (Debian: apt-get install postgresql-contrib): {e}")
        })?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        Ok(stdout)
    } else {
        Err(format!(
            "pgbench failed ({}): {stdout}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// The database's own ceiling for a submission: pgbench running, on the bench database, the
/// statements a keyed correction sends (`xtask/pgbench/`, see its README) — the service's five
/// and the same work merged into three — with the bench's clients, each on its own cabinet,
/// ЛС and meter, correcting the readings of `period`. Their transactions per second, in that
/// order.
async fn ceilings(
    dir: &Path,
    clients: usize,
    seconds: usize,
    period: i32,
) -> Result<Vec<(&'static str, f64)>, String> {
    const SCRIPTS: [(&str, &str, &str); 2] = [
        (
            "the service's 5 statements",
            "service-5-statements.sql",
            include_str!("../pgbench/service-5-statements.sql"),
        ),
        (
            "the same in 3 statements",
            "merged-3-statements.sql",
            include_str!("../pgbench/merged-3-statements.sql"),
        ),
    ];
    let first = FIRST_ID;
    let last = FIRST_ID + clients - 1;
    // Each bench cabinet gets a session whose token digest the scripts compute from
    // pgbench's client id.
    let setup = format!(
        "INSERT INTO sessions (id, subscriber_id, token_digest, created_at, last_seen_at, \
         revoked_at, channel, device) \
         SELECT md5('pgb' || (a.id - {first})), l.subscriber_id, \
         decode(md5('bench' || (a.id - {first})) || md5('x' || (a.id - {first})), 'hex'), \
         0, 0, NULL, 'web', 'pgbench' FROM linked_accounts l JOIN accounts a \
         ON a.number = l.number AND cast(a.supplier_id AS text) = l.supplier \
         WHERE a.id BETWEEN {first} AND {last} ON CONFLICT DO NOTHING"
    );
    let url = format!("{POSTGRES_SERVER}/{DATABASE}");
    let db = Database::connect(&url)
        .await
        .map_err(|e| format!("PostgreSQL {url}: {e}"))?;
    db.execute_unprepared(&setup)
        .await
        .map_err(|e| format!("{setup}: {e}"))?;
    let vars = [format!("first={first}"), format!("period={period}")];
    let extra = ["-D", &vars[0], "-D", &vars[1]];
    let mut figures = Vec::new();
    for (name, file, text) in SCRIPTS {
        let script = dir.join(file);
        std::fs::write(&script, text).map_err(|e| format!("{}: {e}", script.display()))?;
        run_pgbench(&script, clients, WARM_UP.as_secs(), &extra, &url)?;
        let stdout = run_pgbench(&script, clients, seconds as u64, &extra, &url)?;
        let tps = stdout
            .lines()
            .find_map(|l| l.strip_prefix("tps = "))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|v| v.parse::<f64>().ok())
            .ok_or_else(|| format!("pgbench printed no tps for {file}: {stdout}"))?;
        figures.push((name, tps));
    }
    Ok(figures)
}

fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "MISSED" }
}

fn report(
    results: &[BackendFigures],
    raw_pool: f64,
    raw_all: f64,
    pool: usize,
    options: &Options,
) -> Result<(), String> {
    println!(
        "\n== summary ({} subscribers, {} login clients, {} s per phase, paced phases at {}/s) ==",
        options.subscribers, options.login_clients, options.seconds, options.rate
    );
    let mut errors = Vec::new();
    for r in results {
        let name = r.backend.name();
        println!("{name}:");
        let rate = options.rate;
        println!("{}", r.submissions.line("reading submissions"));
        println!(
            "{}",
            r.paced.line(&format!("reading submissions at {rate}/s"))
        );
        println!("{}", r.reads.line("cabinet reads (charges)"));
        println!("{}", r.floor.line("GET /health (no database)"));
        println!("{}", r.logins.line("logins"));
        println!("{}", r.mixed_logins.line("logins, while submitting"));
        println!(
            "{}",
            r.mixed_submissions
                .line(&format!("submissions at {rate}/s, logins flooding"))
        );
        if let Some(pg) = &r.pgbench {
            println!("{}", pg.line("pgbench: the reading-insert tx"));
            let ratio = r.submissions.per_second / pg.per_second;
            println!(
                "  submissions / pgbench = {ratio:.2} (target ≥ {TARGET_PGBENCH_RATIO}): {}",
                verdict(ratio >= TARGET_PGBENCH_RATIO)
            );
            for (name, tps) in &r.ceilings {
                println!(
                    "  pgbench on {name}: {tps:.1} tx/s = {:.2} of the reading-insert tx \
                     (the database's ceiling for them one submission at a time; the service \
                     shares them between concurrent submissions); submissions / it = {:.2}",
                    tps / pg.per_second,
                    r.submissions.per_second / tps
                );
            }
        }
        println!(
            "  submission p99 {:.2} ms at {rate}/s (target ≤ {TARGET_SUBMIT_P99_MS} ms): {}; \
             {:.2} ms in the closed loop",
            r.paced.p99_ms,
            verdict(r.paced.p99_ms <= TARGET_SUBMIT_P99_MS),
            r.submissions.p99_ms
        );
        let raw = &r.raw_beside_logins;
        let raw_beside = raw.iter().sum::<f64>() / raw.len().max(1) as f64;
        let (low, high) = raw
            .iter()
            .fold((f64::INFINITY, 0.0_f64), |(l, h), r| (l.min(*r), h.max(*r)));
        let ratio = r.logins.per_second / raw_beside;
        println!(
            "  logins / raw Argon2id on the hashing pool ({pool} thread(s), {raw_beside:.1}/s: \
             the mean of {} slices between the logins', {low:.1}–{high:.1}) = {ratio:.2} \
             (target ≥ {TARGET_LOGIN_RATIO}): {}; / the run's first raw figures: {:.2} of \
             {raw_pool:.1}/s on the pool, {:.2} of {raw_all:.1}/s on every core",
            raw.len(),
            verdict(ratio >= TARGET_LOGIN_RATIO),
            r.logins.per_second / raw_pool,
            r.logins.per_second / raw_all
        );
        println!(
            "  submission p99 at {rate}/s while logins flood {:.2} ms (target ≤ \
             {TARGET_MIXED_P99_MS} ms): {}",
            r.mixed_submissions.p99_ms,
            verdict(r.mixed_submissions.p99_ms <= TARGET_MIXED_P99_MS)
        );
        for (phase, f) in [
            ("submissions", &r.submissions),
            ("paced submissions", &r.paced),
            ("reads", &r.reads),
            ("GET /health", &r.floor),
            ("logins", &r.logins),
            ("logins while submitting", &r.mixed_logins),
            ("submissions while logging in", &r.mixed_submissions),
        ] {
            if f.errors > 0 {
                errors.push(format!(
                    "{name} {phase}: {} errors, the first: {}",
                    f.errors,
                    f.first_error.as_deref().unwrap_or("?")
                ));
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "requests failed, so the figures are not valid: {}",
            errors.join("; ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_a_sample() {
        let sample = Sample {
            latencies: (1..=1000).rev().map(|ms| ms * 1000).collect(),
            errors: 0,
            first_error: None,
        };
        let f = Figures::of(sample, 10.0);
        assert_eq!(f.requests, 1000);
        assert!((f.per_second - 100.0).abs() < 1e-9);
        assert!((f.p50_ms - 500.0).abs() < 1e-9);
        assert!((f.p99_ms - 990.0).abs() < 1e-9);
        assert!((f.max_ms - 1000.0).abs() < 1e-9);
        let empty = Figures::of(Sample::default(), 1.0);
        assert_eq!((empty.requests, empty.p99_ms), (0, 0.0));
    }

    #[test]
    fn addresses_of_virtual_clients_differ() {
        assert_eq!(address(100, 0), "100.0.0.0");
        assert_eq!(address(100, 65_537), "100.1.0.1");
        assert_ne!(address(100, 1 << 20), address(100, 0));
    }
}
