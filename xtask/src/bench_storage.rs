//! `cargo xtask bench storage`: the persisted supplier-wide billing run, end to end, on SQLite
//! and PostgreSQL, against the raw bulk-load limit of each database.
//!
//! ```text
//! cargo xtask bench storage [--accounts N] [--backend sqlite|postgres|both] [--workers N]
//!     [--chunk-houses N] [--seed-houses N] [--keep] [--no-autoanalyze]
//! ```
//!
//! For each backend:
//!
//! 1. **A fresh database**: a file under `target/bench-storage/` (SQLite), or a database
//!    `abonent_bench_<pid>` created on the server named by `ABONENT_BENCH_POSTGRES_URL`
//!    (default `postgres://postgres@127.0.0.1:5432/postgres`). Both are removed at the end
//!    unless `--keep`.
//! 2. **Seed** (not part of the run's time; reported with its own seconds): the billing bench's
//!    synthetic supplier (`crate::bench::generate_house`: houses of 100 accounts, meters, an
//!    opening reading in September and — except for the accounts billed by estimate — a closing
//!    one in October 2026, 2–6 months of volume history, 24 months of debt with 20 payments on
//!    10 % of the accounts, the house meter's volume) is written through the storage's bulk
//!    import methods, `--seed-houses` houses per call; the debts go in as journal history
//!    (`import_journal`: a `Charge` per tranche posted on the last day of its period, each
//!    payment as `PaymentCreated` + `PaymentState::Succeeded` on its day, default split — the
//!    ledger pays the oldest tranche first, as the generator's payments do). Then `ANALYZE` and
//!    a checkpoint, so the run starts from a database with statistics and no pending WAL.
//!    While seeding, every house is also billed in memory with the billing bench's
//!    `bill_one`, as a reference total.
//! 3. **The run** (timed): `Storage::run_supplier_billing` of October 2026 on a fresh
//!    connection pool. Afterwards the rows it wrote are counted per table, the sum of
//!    `charge_sets.total` is taken (it must be the same on every backend), and the peak memory
//!    of this process during the run (`VmHWM`, reset before the run through
//!    `/proc/self/clear_refs`) is read; on PostgreSQL also the CPU time and peak RSS of the
//!    server backends that served the run.
//! 4. **The raw limit** (timed): the rows the run wrote (`charge_sets` with their lines, the
//!    billed period's `volume_history`, the `ledger_journal` rows it appended) are exported to
//!    CSV files and loaded into empty copies of those three tables (same columns, keys, indexes
//!    and foreign keys) in one transaction: `COPY … FROM '<file>'` on the server (PostgreSQL),
//!    the `sqlite3` shell's `.import` with `synchronous = FULL` and WAL like the service
//!    (SQLite).
//!
//! The figures are printed as a table with PASS/MISS against the targets of issue 4: ≤ 60 s per
//! million accounts, ≥ 0.5 of the raw bulk-load rate, peak memory ≤ 1 GiB. A MISS does not fail
//! the command; an error, a house that fails to bill or totals that differ between backends do.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use billing_core::charge::TariffBook;
use billing_core::ids::{AccountId, PaymentId, SupplierId};
use billing_core::keyrate::{KeyRateHistory, PenaltyRules};
use billing_core::ledger::{PaymentSplit, PaymentState};
use billing_core::model::Supplier;
use billing_core::penalty::{
    DebtTranche, PaymentEvent, PaymentTarget, PenaltyPolicy, PenaltyReport,
};
use billing_core::policy::BillingPolicy;
use billing_core::ports::{HousePeriodFacts, LedgerFact, LedgerRecord, NewReading};
use billing_core::reading::ReadingSource;
use billing_core::{Money, Period, ServiceKind};
use rust_decimal::Decimal;
use sea_orm::{ConnectionTrait, DatabaseConnection, TransactionTrait};
use storage_seaorm::{Backend, RunOptions, RunProgress, Storage};
use time::Date;
use time::macros::{date, datetime};

use crate::bench::{GenHouse, PER_HOUSE, PERIOD, SEED, Totals, bill_one, generate_house, tariffs};

/// The server `--backend postgres` creates its scratch database on, unless
/// `ABONENT_BENCH_POSTGRES_URL` names another.
const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
/// The tables a run writes, in the order they are loaded (parents first).
const WRITTEN: [&str; 3] = ["charge_sets", "volume_history", "ledger_journal"];
/// The posting day of the run: after October's readings window closes.
const TODAY: Date = date!(2026 - 11 - 01);
/// Targets of issue 4.
const TARGET_SECONDS_PER_MILLION: f64 = 60.0;
const TARGET_RATIO: f64 = 0.5;
const TARGET_PEAK_KIB: u64 = 1024 * 1024;
/// Clock ticks per second of `/proc/<pid>/stat` (`USER_HZ`, 100 on every Linux ABI in use).
const USER_HZ: f64 = 100.0;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Sqlite,
    Postgres,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Sqlite => "SQLite",
            Kind::Postgres => "PostgreSQL",
        }
    }
}

struct Options {
    accounts: usize,
    backends: Vec<Kind>,
    run: RunOptions,
    seed_houses: usize,
    keep: bool,
    /// Emulate autovacuum's ANALYZE on a PostgreSQL server that runs without it.
    autoanalyze: bool,
}

impl Options {
    fn parse(args: &[String]) -> Result<Self, String> {
        crate::bench::only_flags(
            args,
            &[
                "--accounts",
                "--backend",
                "--workers",
                "--chunk-houses",
                "--seed-houses",
            ],
            &["--keep", "--no-autoanalyze"],
            "cargo xtask bench storage [--accounts N] [--backend sqlite|postgres|both] \
             [--workers N] [--chunk-houses N] [--seed-houses N] [--keep] [--no-autoanalyze]",
        )?;
        let backends = match args.iter().position(|a| a == "--backend") {
            None => vec![Kind::Sqlite, Kind::Postgres],
            Some(i) => match args.get(i + 1).map(String::as_str) {
                Some("sqlite") => vec![Kind::Sqlite],
                Some("postgres") => vec![Kind::Postgres],
                Some("both") => vec![Kind::Sqlite, Kind::Postgres],
                other => {
                    return Err(format!(
                        "--backend takes sqlite, postgres or both, not {other:?}"
                    ));
                }
            },
        };
        let defaults = RunOptions::default();
        let accounts = crate::bench::flag(args, "--accounts", 1_000_000)?;
        if accounts == 0 {
            return Err("--accounts must be at least 1".into());
        }
        Ok(Self {
            accounts,
            backends,
            run: RunOptions {
                houses_per_chunk: crate::bench::flag(
                    args,
                    "--chunk-houses",
                    defaults.houses_per_chunk,
                )?
                .max(1),
                workers: crate::bench::flag(args, "--workers", defaults.workers)?.max(1),
            },
            seed_houses: crate::bench::flag(args, "--seed-houses", 100)?.max(1),
            keep: args.iter().any(|a| a == "--keep"),
            autoanalyze: !args.iter().any(|a| a == "--no-autoanalyze"),
        })
    }

    fn houses(&self) -> usize {
        self.accounts.div_ceil(PER_HOUSE)
    }
}

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let options = Options::parse(args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    runtime.block_on(bench(&options))
}

fn period() -> Result<Period, String> {
    Period::new(PERIOD.0, PERIOD.1).map_err(|e| e.to_string())
}

fn period_code() -> i64 {
    i64::from(PERIOD.0) * 100 + i64::from(PERIOD.1)
}

async fn bench(options: &Options) -> Result<(), String> {
    let houses = options.houses();
    println!(
        "bench storage: {houses} houses × {PER_HOUSE} accounts = {} accounts, period {}-{:02}, \
         run with {} workers × {} houses per chunk",
        houses * PER_HOUSE,
        PERIOD.0,
        PERIOD.1,
        options.run.workers,
        options.run.houses_per_chunk
    );
    let mut results = Vec::new();
    for kind in &options.backends {
        println!("\n== {} ==", kind.name());
        let target = Target::create(*kind).await?;
        let outcome = measure(&target, options).await;
        if options.keep {
            println!("kept {}", target.describe());
        } else if let Err(e) = target.remove().await {
            eprintln!("warning: could not remove {}: {e}", target.describe());
        }
        results.push(outcome?);
    }
    report(&results, options)
}

// ---------------------------------------------------------------------------------------------
// Databases
// ---------------------------------------------------------------------------------------------

/// A scratch database.
enum Target {
    Sqlite { path: PathBuf },
    Postgres { admin: String, name: String },
}

impl Target {
    async fn create(kind: Kind) -> Result<Self, String> {
        match kind {
            Kind::Sqlite => {
                let dir = crate::ci::workspace_root()
                    .join("target")
                    .join("bench-storage");
                std::fs::create_dir_all(&dir)
                    .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
                let target = Target::Sqlite {
                    path: dir.join(format!("storage-{}.db", std::process::id())),
                };
                target.remove_files()?;
                Ok(target)
            }
            Kind::Postgres => {
                let admin = std::env::var("ABONENT_BENCH_POSTGRES_URL")
                    .unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned());
                let name = format!("abonent_bench_{}", std::process::id());
                let server = Storage::connect(&admin)
                    .await
                    .map_err(|e| format!("cannot connect to {admin}: {e}"))?;
                let db = server.connection();
                execute(db, &format!("DROP DATABASE IF EXISTS {name}")).await?;
                execute(db, &format!("CREATE DATABASE {name}")).await?;
                server.close().await.map_err(|e| e.to_string())?;
                Ok(Target::Postgres { admin, name })
            }
        }
    }

    fn kind(&self) -> Kind {
        match self {
            Target::Sqlite { .. } => Kind::Sqlite,
            Target::Postgres { .. } => Kind::Postgres,
        }
    }

    fn url(&self) -> Result<String, String> {
        match self {
            Target::Sqlite { path } => Ok(format!("sqlite://{}", path.display())),
            Target::Postgres { admin, name } => with_database(admin, name),
        }
    }

    fn describe(&self) -> String {
        match self {
            Target::Sqlite { path } => format!("SQLite database {}", path.display()),
            Target::Postgres { name, .. } => format!("PostgreSQL database {name}"),
        }
    }

    fn remove_files(&self) -> Result<(), String> {
        if let Target::Sqlite { path } = self {
            for suffix in ["", "-wal", "-shm"] {
                let file = PathBuf::from(format!("{}{suffix}", path.display()));
                match std::fs::remove_file(&file) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(format!("cannot remove {}: {e}", file.display())),
                }
            }
        }
        Ok(())
    }

    async fn remove(&self) -> Result<(), String> {
        match self {
            Target::Sqlite { .. } => self.remove_files(),
            Target::Postgres { admin, name } => {
                let server = Storage::connect(admin).await.map_err(|e| e.to_string())?;
                execute(
                    server.connection(),
                    &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                )
                .await?;
                server.close().await.map_err(|e| e.to_string())
            }
        }
    }
}

/// `url` with its database replaced by `name`.
fn with_database(url: &str, name: &str) -> Result<String, String> {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let (scheme, rest) = base
        .split_once("://")
        .ok_or_else(|| format!("not a database URL: {url}"))?;
    let host = rest.split_once('/').map_or(rest, |(h, _)| h);
    Ok(match query {
        Some(q) => format!("{scheme}://{host}/{name}?{q}"),
        None => format!("{scheme}://{host}/{name}"),
    })
}

async fn execute(db: &DatabaseConnection, sql: &str) -> Result<(), String> {
    db.execute_unprepared(sql)
        .await
        .map(drop)
        .map_err(|e| format!("{sql}: {e}"))
}

/// The one row `sql` returns.
async fn one_row(db: &impl ConnectionTrait, sql: &str) -> Result<sea_orm::QueryResult, String> {
    db.query_one_raw(sea_orm::Statement::from_string(
        db.get_database_backend(),
        sql.to_owned(),
    ))
    .await
    .map_err(|e| format!("{sql}: {e}"))?
    .ok_or_else(|| format!("{sql}: no row"))
}

async fn count(db: &impl ConnectionTrait, sql: &str) -> Result<u64, String> {
    let row = one_row(db, sql).await?;
    let n: Option<i64> = row.try_get_by_index(0).map_err(|e| format!("{sql}: {e}"))?;
    Ok(u64::try_from(n.unwrap_or(0)).unwrap_or(0))
}

// ---------------------------------------------------------------------------------------------
// One backend
// ---------------------------------------------------------------------------------------------

/// Rows of the three tables a run writes, and the charge lines its sets hold.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Rows {
    sets: u64,
    /// Lines inside the sets (`charge_sets.lines`), not rows of their own.
    lines: u64,
    volumes: u64,
    journal: u64,
}

impl Rows {
    fn total(self) -> u64 {
        self.sets + self.volumes + self.journal
    }
}

/// Everything measured on one backend.
struct Figures {
    kind: Kind,
    accounts: u64,
    seed_seconds: f64,
    seed_rows: u64,
    seed_peak_kib: Option<u64>,
    run_seconds: f64,
    rows: Rows,
    run_peak_kib: Option<u64>,
    run_start_rss_kib: Option<u64>,
    run_cpu_seconds: Option<f64>,
    server: Option<ServerUse>,
    total: Decimal,
    reference: Money,
    raw_seconds: f64,
}

/// CPU time and peak memory of the PostgreSQL backends that served the run.
struct ServerUse {
    backends: usize,
    cpu_seconds: f64,
    max_peak_kib: u64,
}

impl Figures {
    fn run_rows_per_second(&self) -> f64 {
        self.rows.total() as f64 / self.run_seconds
    }
    fn raw_rows_per_second(&self) -> f64 {
        self.rows.total() as f64 / self.raw_seconds
    }
    fn ratio(&self) -> f64 {
        self.run_rows_per_second() / self.raw_rows_per_second()
    }
    fn seconds_per_million(&self) -> f64 {
        self.run_seconds * 1e6 / self.accounts as f64
    }
}

async fn measure(target: &Target, options: &Options) -> Result<Figures, String> {
    let url = target.url()?;
    let kind = target.kind();

    let storage = Storage::connect(&url).await.map_err(|e| e.to_string())?;
    storage.migrate().await.map_err(|e| e.to_string())?;
    reset_peak();
    let started = Instant::now();
    let seeded = seed(&storage, options).await?;
    settle(&storage, kind).await?;
    let seed_seconds = started.elapsed().as_secs_f64();
    let seed_peak_kib = peak_kib();
    println!(
        "seeded {} rows in {seed_seconds:.1} s ({:.0} rows/s, ANALYZE and checkpoint included)",
        seeded.rows,
        seeded.rows as f64 / seed_seconds
    );
    let journal_before = count(storage.connection(), "SELECT MAX(seq) FROM ledger_journal").await?;
    storage.close().await.map_err(|e| e.to_string())?;

    // The run, on a fresh pool.
    let storage = Storage::connect(&url).await.map_err(|e| e.to_string())?;
    let houses_total = options.houses() as u64;
    let run_started = Instant::now();
    let last_decile = Arc::new(AtomicU64::new(0));
    let progress = {
        let last_decile = last_decile.clone();
        Arc::new(move |p: RunProgress| {
            let decile = (p.houses_done + p.houses_failed) * 10 / p.houses_total.max(1);
            if last_decile.fetch_max(decile, Ordering::Relaxed) < decile {
                let s = run_started.elapsed().as_secs_f64();
                println!(
                    "  run {:>3} %  {:>7.1} s  {} houses  {} sets  {:.0} accounts/s",
                    decile * 10,
                    s,
                    p.houses_done,
                    p.sets_written,
                    p.sets_written as f64 / s
                );
            }
        })
    };
    let analyzer = match kind {
        Kind::Postgres if options.autoanalyze => Analyzer::start_if_needed(&url).await?,
        _ => None,
    };
    reset_peak();
    let run_start_rss_kib = status_kib("self", "VmRSS:");
    let cpu_before = cpu_seconds("self");
    let report = storage
        .run_supplier_billing(SupplierId::new(1), period()?, TODAY, options.run, progress)
        .await
        .map_err(|e| format!("billing run: {e}"));
    let run_seconds = run_started.elapsed().as_secs_f64();
    let analyzes = match analyzer {
        Some(a) => Some(a.stop().await?),
        None => None,
    };
    let report = report?;
    if let Some((n, every)) = analyzes {
        println!(
            "autovacuum is off on this server: the bench ran ANALYZE of the tables the run \
             writes every {every} s (autovacuum_naptime), {n} times during the run"
        );
    }
    let run_peak_kib = peak_kib();
    let run_cpu_seconds = cpu_before.and_then(|b| cpu_seconds("self").map(|a| a - b));
    if let Some((house, why)) = report.failed.first() {
        return Err(format!(
            "{} houses failed to bill; first: house {house}: {why}",
            report.failed.len()
        ));
    }
    if report.progress.houses_done != houses_total {
        return Err(format!(
            "the run billed {} of {houses_total} houses",
            report.progress.houses_done
        ));
    }
    let server = match kind {
        Kind::Postgres => Some(server_use(storage.connection()).await?),
        Kind::Sqlite => None,
    };
    println!(
        "billed {} accounts in {run_seconds:.1} s",
        report.progress.sets_written
    );

    let code = period_code();
    let db = storage.connection();
    let rows = Rows {
        sets: count(
            db,
            &format!("SELECT COUNT(*) FROM charge_sets WHERE period = {code}"),
        )
        .await?,
        lines: count(db, &lines_count_sql(db.get_database_backend(), code)).await?,
        volumes: count(
            db,
            &format!("SELECT COUNT(*) FROM volume_history WHERE period = {code}"),
        )
        .await?,
        journal: count(
            db,
            &format!("SELECT COUNT(*) FROM ledger_journal WHERE seq > {journal_before}"),
        )
        .await?,
    };
    if rows.sets != report.progress.sets_written {
        return Err(format!(
            "the run reports {} sets written, the table holds {}",
            report.progress.sets_written, rows.sets
        ));
    }
    let total = sum_totals(db).await?;
    println!(
        "wrote {} rows: {} charge sets (holding {} lines), {} volumes, {} journal rows; Σ total {total} ₽ \
         (in memory: {} ₽)",
        rows.total(),
        rows.sets,
        rows.lines,
        rows.volumes,
        rows.journal,
        seeded.reference.amount
    );

    let raw_seconds = match kind {
        Kind::Sqlite => {
            let Target::Sqlite { path } = target else {
                return Err("not a SQLite target".into());
            };
            create_raw_tables_sqlite(db).await?;
            storage.close().await.map_err(|e| e.to_string())?;
            raw_sqlite(path, journal_before, rows).await?
        }
        Kind::Postgres => {
            let seconds = raw_postgres(db, journal_before, rows).await?;
            storage.close().await.map_err(|e| e.to_string())?;
            seconds
        }
    };
    println!(
        "raw bulk load of the same {} rows: {raw_seconds:.1} s",
        rows.total()
    );
    Ok(Figures {
        kind,
        accounts: report.progress.sets_written,
        seed_seconds,
        seed_rows: seeded.rows,
        seed_peak_kib,
        run_seconds,
        rows,
        run_peak_kib,
        run_start_rss_kib,
        run_cpu_seconds,
        server,
        total,
        reference: seeded.reference.amount,
        raw_seconds,
    })
}

/// After seeding: statistics for the planner and no WAL left to checkpoint during the run.
async fn settle(storage: &Storage, kind: Kind) -> Result<(), String> {
    let db = storage.connection();
    execute(db, "ANALYZE").await?;
    match kind {
        Kind::Sqlite => execute(db, "PRAGMA wal_checkpoint(TRUNCATE)").await,
        Kind::Postgres => execute(db, "CHECKPOINT").await,
    }
}

/// Σ `charge_sets.total` of the period, exactly (SQLite keeps money as decimal text).
async fn sum_totals(db: &DatabaseConnection) -> Result<Decimal, String> {
    let code = period_code();
    let mut sum = Decimal::ZERO;
    let mut after = 0_i64;
    loop {
        let sql = format!(
            "SELECT account_id, CAST(total AS TEXT) AS t FROM charge_sets \
             WHERE period = {code} AND account_id > {after} ORDER BY account_id LIMIT 50000"
        );
        let rows = db
            .query_all_raw(sea_orm::Statement::from_string(
                db.get_database_backend(),
                sql.clone(),
            ))
            .await
            .map_err(|e| format!("{sql}: {e}"))?;
        let Some(last) = rows.last() else {
            return Ok(sum);
        };
        after = last
            .try_get_by_index(0)
            .map_err(|e| format!("{sql}: {e}"))?;
        for row in &rows {
            let text: String = row.try_get_by_index(1).map_err(|e| format!("{sql}: {e}"))?;
            sum += Decimal::from_str(&text).map_err(|e| format!("total '{text}': {e}"))?;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Seeding
// ---------------------------------------------------------------------------------------------

struct Seeded {
    rows: u64,
    /// The same houses billed in memory by the billing bench.
    reference: Totals,
}

/// Generates houses `first..end` and bills them in memory (the reference total).
fn generate(first: usize, end: usize) -> Result<(Vec<GenHouse>, Totals), String> {
    let houses: Vec<GenHouse> = (first..end).map(|h| generate_house(h, SEED)).collect();
    let versions = tariffs();
    let policy = BillingPolicy::default();
    let key_rates = KeyRateHistory::bank_of_russia();
    let rules = PenaltyRules::russian_statutory();
    let penalty = PenaltyPolicy::default();
    let mut reports: Vec<PenaltyReport> =
        (0..PER_HOUSE).map(|_| PenaltyReport::default()).collect();
    let mut totals = Totals::default();
    for g in &houses {
        let t = bill_one(
            g,
            TariffBook {
                versions: &versions,
            },
            &policy,
            (&key_rates, &rules, &penalty),
            &mut reports,
        )?;
        totals.accounts += t.accounts;
        totals.lines += t.lines;
        totals.amount += t.amount;
        totals.penalty_accounts += t.penalty_accounts;
    }
    Ok((houses, totals))
}

async fn seed(storage: &Storage, options: &Options) -> Result<Seeded, String> {
    let s = |e: billing_core::RepoError| e.to_string();
    let supplier = Supplier {
        id: SupplierId::new(1),
        requisites: crate::demo::requisites("АО «Бенч Энергосбыт»")?,
        policy: BillingPolicy::default(),
        penalty: PenaltyPolicy::default(),
        minimum_payment: Money::from_roubles(50),
    };
    storage.upsert_supplier(&supplier).await.map_err(s)?;
    storage.upsert_tariffs(&tariffs()).await.map_err(s)?;
    storage
        .set_key_rates(&KeyRateHistory::bank_of_russia())
        .await
        .map_err(s)?;
    storage
        .set_penalty_rules(&PenaltyRules::russian_statutory())
        .await
        .map_err(s)?;
    let houses = options.houses();
    let step = options.seed_houses;
    let mut rows = 0_u64;
    let mut reference = Totals::default();
    let started = Instant::now();
    let mut last_report = Instant::now();
    // Generation (and the in-memory reference) of the next chunk overlaps writing this one.
    // PostgreSQL takes concurrent writers: two chunks are written at once there; SQLite has
    // one writer.
    let writers = match storage.backend() {
        Backend::Sqlite => 1,
        Backend::Postgres => 2,
    };
    let mut next = Some(tokio::task::spawn_blocking(move || {
        generate(0, step.min(houses))
    }));
    let mut writing = tokio::task::JoinSet::new();
    let mut clock = SeedClock::default();
    let mut merge = |joined: Option<Result<Result<(u64, SeedClock), String>, _>>| match joined {
        None => Ok(()),
        Some(Err(e)) => Err(format!("seed writer stopped: {e}")),
        Some(Ok(Err(e))) => Err(e),
        Some(Ok(Ok((n, c)))) => {
            rows += n;
            for (total, part) in clock.iter_mut().zip(c) {
                total.0 += part.0;
                total.1 += part.1;
            }
            Ok(())
        }
    };
    let mut first = 0;
    while let Some(pending) = next.take() {
        let (chunk, totals) = pending
            .await
            .map_err(|e| format!("generator stopped: {e}"))??;
        let end = (first + step).min(houses);
        if end < houses {
            let after = (end + step).min(houses);
            next = Some(tokio::task::spawn_blocking(move || generate(end, after)));
        }
        reference.accounts += totals.accounts;
        reference.lines += totals.lines;
        reference.amount += totals.amount;
        reference.penalty_accounts += totals.penalty_accounts;
        while writing.len() >= writers {
            merge(writing.join_next().await)?;
        }
        let storage = storage.clone();
        writing.spawn(async move {
            let mut clock = SeedClock::default();
            let rows = write_chunk(&storage, &chunk, &mut clock).await?;
            Ok::<_, String>((rows, clock))
        });
        first = end;
        if last_report.elapsed().as_secs() >= 15 || end == houses {
            last_report = Instant::now();
            println!(
                "  seed {end:>7} / {houses} houses generated  {:>7.1} s",
                started.elapsed().as_secs_f64()
            );
        }
    }
    while !writing.is_empty() {
        merge(writing.join_next().await)?;
    }
    println!("  seed time per import method (summed over {writers} concurrent writers):");
    for (name, (seconds, n)) in SEED_STEPS.iter().zip(clock) {
        println!(
            "    {name:<38} {seconds:>7.1} s  {n:>9} rows  {:>8.0} rows/s",
            n as f64 / seconds.max(1e-9)
        );
    }
    Ok(Seeded { rows, reference })
}

/// Seconds and rows per import method while seeding, in [`SEED_STEPS`] order.
type SeedClock = [(f64, u64); 8];
const SEED_STEPS: [&str; 8] = [
    "upsert_houses",
    "upsert_premises",
    "upsert_accounts",
    "upsert_meters",
    "import_readings",
    "import_volumes",
    "import_journal",
    "put_house_facts (one call per house)",
];

/// Writes one chunk of generated houses through the bulk import methods; returns the rows.
async fn write_chunk(
    storage: &Storage,
    chunk: &[GenHouse],
    clock: &mut SeedClock,
) -> Result<u64, String> {
    let s = |e: billing_core::RepoError| e.to_string();
    let closing_period = period()?;
    let opening_period = closing_period.prev();
    let houses: Vec<_> = chunk.iter().map(|g| g.house.clone()).collect();
    let premises: Vec<_> = chunk.iter().flat_map(|g| g.premises.clone()).collect();
    let accounts: Vec<_> = chunk.iter().flat_map(|g| g.accounts.clone()).collect();
    let meters: Vec<_> = chunk.iter().flat_map(|g| g.meters.clone()).collect();
    let mut readings = Vec::with_capacity(meters.len() * 2);
    let mut volumes = Vec::new();
    let mut journal = Vec::new();
    for g in chunk {
        for (i, account) in g.accounts.iter().enumerate() {
            let meter = g.meters[i].id;
            let (opening, closing) = g.readings[i];
            readings.push(NewReading {
                meter,
                period: opening_period,
                values: opening,
                taken_on: date!(2026 - 09 - 20),
                submitted_at: datetime!(2026-09-20 12:00 UTC),
                source: ReadingSource::Subscriber,
                supersedes: None,
            });
            if let Some(closing) = closing {
                readings.push(NewReading {
                    meter,
                    period: closing_period,
                    values: closing,
                    taken_on: date!(2026 - 10 - 20),
                    submitted_at: datetime!(2026-10-20 12:00 UTC),
                    source: ReadingSource::Subscriber,
                    supersedes: None,
                });
            }
            volumes.extend(
                g.history[i]
                    .iter()
                    .map(|v| (account.id, ServiceKind::Electricity, *v)),
            );
            if let Some((tranches, payments)) = &g.debts[i] {
                debt_journal(account.id, tranches, payments, &mut journal)?;
            }
        }
    }
    let mut lap = Instant::now();
    let mut step = |i: usize, rows: usize| {
        clock[i].0 += lap.elapsed().as_secs_f64();
        clock[i].1 += rows as u64;
        lap = Instant::now();
    };
    storage.upsert_houses(&houses).await.map_err(s)?;
    step(0, houses.len());
    storage.upsert_premises(&premises).await.map_err(s)?;
    step(1, premises.len());
    storage.upsert_accounts(&accounts).await.map_err(s)?;
    step(2, accounts.len());
    storage.upsert_meters(&meters).await.map_err(s)?;
    step(3, meters.len());
    storage.import_readings(&readings).await.map_err(s)?;
    step(4, readings.len());
    storage.import_volumes(&volumes).await.map_err(s)?;
    step(5, volumes.len());
    storage.import_journal(&journal).await.map_err(s)?;
    step(6, journal.len());
    for g in chunk {
        storage
            .put_house_facts(
                g.house.id,
                closing_period,
                &HousePeriodFacts {
                    house_meter_volume: Some(g.house_meter),
                    ..HousePeriodFacts::default()
                },
            )
            .await
            .map_err(s)?;
    }
    step(7, chunk.len());
    let rows = houses.len()
        + premises.len()
        + accounts.len()
        + meters.len()
        + readings.len()
        + volumes.len()
        + journal.len()
        + chunk.len();
    Ok(rows as u64)
}

/// The generator's debt of `account` as journal history, in date order: each tranche a
/// `Charge` posted on the last day of its period, each payment created and succeeded on its
/// day with the default split (oldest tranche first, like `PaymentTarget::Oldest`).
fn debt_journal(
    account: AccountId,
    tranches: &[DebtTranche],
    payments: &[PaymentEvent],
    out: &mut Vec<(AccountId, LedgerRecord)>,
) -> Result<(), String> {
    let mut records: Vec<LedgerRecord> = Vec::with_capacity(tranches.len() + 2 * payments.len());
    for t in tranches {
        records.push(LedgerRecord {
            date: t.period.last_day(),
            fact: LedgerFact::Charge {
                period: t.period,
                service: t.service,
                amount: t.amount,
                due_date: t.due_date,
            },
        });
    }
    for (k, p) in payments.iter().enumerate() {
        if p.target != PaymentTarget::Oldest {
            return Err(format!(
                "the generator made a payment for {:?}; only the oldest-first order is seeded",
                p.target
            ));
        }
        let id = PaymentId::new(account.get() * 100 + k as u64 + 1);
        records.push(LedgerRecord {
            date: p.date,
            fact: LedgerFact::PaymentCreated {
                payment: id,
                amount: p.amount,
                split: PaymentSplit::Default,
            },
        });
        records.push(LedgerRecord {
            date: p.date,
            fact: LedgerFact::PaymentState {
                payment: id,
                state: PaymentState::Succeeded,
            },
        });
    }
    // Stable: a payment's two records stay in order; charges and payments never share a day.
    records.sort_by_key(|r| r.date);
    out.extend(records.into_iter().map(|r| (account, r)));
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The raw bulk-load limit
// ---------------------------------------------------------------------------------------------

/// The SELECT that exports the rows of `table` the run wrote, in key order.
fn export_query(table: &str, journal_before: u64) -> String {
    let code = period_code();
    match table {
        "charge_sets" => {
            format!("SELECT * FROM charge_sets WHERE period = {code} ORDER BY account_id")
        }
        "volume_history" => format!(
            "SELECT * FROM volume_history WHERE period = {code} ORDER BY account_id, service"
        ),
        _ => format!("SELECT * FROM ledger_journal WHERE seq > {journal_before} ORDER BY seq"),
    }
}

/// Counts the lines of the period's sets (a JSON array in each set's row).
fn lines_count_sql(backend: sea_orm::DbBackend, code: i64) -> String {
    let lines = match backend {
        sea_orm::DbBackend::Postgres => "lines::json",
        _ => "lines",
    };
    format!(
        "SELECT COALESCE(SUM(json_array_length({lines})), 0) FROM charge_sets WHERE period = {code}"
    )
}

fn raw_counts_sql(table: &str) -> String {
    format!("SELECT COUNT(*) FROM raw_{table}")
}

async fn check_raw_counts(db: &impl ConnectionTrait, rows: Rows) -> Result<(), String> {
    let want = [rows.sets, rows.volumes, rows.journal];
    for (table, want) in WRITTEN.iter().zip(want) {
        let got = count(db, &raw_counts_sql(table)).await?;
        if got != want {
            return Err(format!(
                "raw load put {got} rows into raw_{table}, the run wrote {want}"
            ));
        }
    }
    Ok(())
}

/// SQLite: empty copies `raw_<table>` of the written tables, from their own DDL (columns,
/// keys, foreign keys, indexes).
async fn create_raw_tables_sqlite(db: &DatabaseConnection) -> Result<(), String> {
    let sql = "SELECT type, name, sql FROM sqlite_master WHERE tbl_name IN \
               ('charge_sets', 'volume_history', 'ledger_journal') \
               AND sql IS NOT NULL ORDER BY CASE type WHEN 'table' THEN 0 ELSE 1 END";
    let rows = db
        .query_all_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            sql.to_owned(),
        ))
        .await
        .map_err(|e| format!("{sql}: {e}"))?;
    for table in WRITTEN.iter().rev() {
        execute(db, &format!("DROP TABLE IF EXISTS raw_{table}")).await?;
    }
    for row in rows {
        let kind: String = row.try_get_by_index(0).map_err(|e| e.to_string())?;
        let name: String = row.try_get_by_index(1).map_err(|e| e.to_string())?;
        let ddl: String = row.try_get_by_index(2).map_err(|e| e.to_string())?;
        let mut renamed = ddl.clone();
        if kind == "index" {
            renamed = renamed.replacen(&format!("\"{name}\""), &format!("\"raw_{name}\""), 1);
        }
        for table in WRITTEN {
            renamed = renamed.replace(&format!("\"{table}\""), &format!("\"raw_{table}\""));
        }
        if renamed == ddl || !renamed.contains("\"raw_") {
            return Err(format!("cannot rename the DDL of {name}: {ddl}"));
        }
        execute(db, &renamed).await?;
    }
    Ok(())
}

fn sqlite3(db: &Path, script: &str) -> Result<(), String> {
    use std::io::Write as _;
    let mut child = Command::new("sqlite3")
        .arg("-bail")
        .arg(db)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start the sqlite3 shell: {e}"))?;
    child
        .stdin
        .take()
        .ok_or("sqlite3: no stdin")?
        .write_all(script.as_bytes())
        .map_err(|e| format!("sqlite3: {e}"))?;
    let out = child
        .wait_with_output()
        .map_err(|e| format!("sqlite3: {e}"))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() || !stderr.trim().is_empty() {
        return Err(format!("sqlite3 exited with {}: {stderr}", out.status));
    }
    Ok(())
}

/// SQLite: exports the run's rows with the `sqlite3` shell and times `.import` of them into the
/// empty `raw_` tables in one transaction (WAL, `synchronous = FULL`, foreign keys on).
async fn raw_sqlite(db: &Path, journal_before: u64, rows: Rows) -> Result<f64, String> {
    let dir = db.with_extension("csv.d");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let file = |table: &str| dir.join(format!("{table}.csv"));
    let mut export = String::from(".mode csv\n.headers off\n");
    for table in WRITTEN {
        export.push_str(&format!(
            ".output '{}'\n{};\n",
            file(table).display(),
            export_query(table, journal_before)
        ));
    }
    export.push_str(".output stdout\n");
    sqlite3(db, &export)?;
    let mut load = String::from(
        "PRAGMA journal_mode = WAL;\nPRAGMA synchronous = FULL;\nPRAGMA foreign_keys = ON;\n\
         BEGIN;\n",
    );
    for table in WRITTEN {
        load.push_str(&format!(
            ".import --csv '{}' raw_{table}\n",
            file(table).display()
        ));
    }
    load.push_str("COMMIT;\n");
    let started = Instant::now();
    sqlite3(db, &load)?;
    let seconds = started.elapsed().as_secs_f64();
    std::fs::remove_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let storage = Storage::connect(&format!("sqlite://{}", db.display()))
        .await
        .map_err(|e| e.to_string())?;
    check_raw_counts(storage.connection(), rows).await?;
    storage.close().await.map_err(|e| e.to_string())?;
    Ok(seconds)
}

/// PostgreSQL: exports the run's rows with server-side `COPY … TO` and times `COPY … FROM` of
/// them into empty `raw_` copies of the tables (`LIKE … INCLUDING ALL` plus the same foreign
/// keys), in one transaction.
async fn raw_postgres(
    db: &DatabaseConnection,
    journal_before: u64,
    rows: Rows,
) -> Result<f64, String> {
    // The server reads and writes the files itself: a directory it can write to.
    let dir = std::env::temp_dir().join(format!("abonent-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777))
            .map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let file = |table: &str| dir.join(format!("{table}.csv")).display().to_string();
    let outcome = async {
        for table in WRITTEN {
            execute(
                db,
                &format!(
                    "COPY ({}) TO '{}' WITH (FORMAT csv)",
                    export_query(table, journal_before),
                    file(table)
                ),
            )
            .await?;
        }
        for table in WRITTEN.iter().rev() {
            execute(db, &format!("DROP TABLE IF EXISTS raw_{table}")).await?;
        }
        for table in WRITTEN {
            execute(
                db,
                &format!("CREATE TABLE raw_{table} (LIKE {table} INCLUDING ALL)"),
            )
            .await?;
            let sql = format!(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint \
                 WHERE conrelid = '{table}'::regclass AND contype = 'f' ORDER BY conname"
            );
            let keys = db
                .query_all_raw(sea_orm::Statement::from_string(
                    db.get_database_backend(),
                    sql.clone(),
                ))
                .await
                .map_err(|e| format!("{sql}: {e}"))?;
            for key in keys {
                let name: String = key.try_get_by_index(0).map_err(|e| e.to_string())?;
                let mut def: String = key.try_get_by_index(1).map_err(|e| e.to_string())?;
                for parent in WRITTEN {
                    def = def.replace(
                        &format!("REFERENCES {parent}("),
                        &format!("REFERENCES raw_{parent}("),
                    );
                }
                execute(
                    db,
                    &format!("ALTER TABLE raw_{table} ADD CONSTRAINT raw_{name} {def}"),
                )
                .await?;
            }
        }
        execute(db, "CHECKPOINT").await?;
        let started = Instant::now();
        let tx = db.begin().await.map_err(|e| e.to_string())?;
        for table in WRITTEN {
            let sql = format!("COPY raw_{table} FROM '{}' WITH (FORMAT csv)", file(table));
            tx.execute_unprepared(&sql)
                .await
                .map_err(|e| format!("{sql}: {e}"))?;
        }
        tx.commit().await.map_err(|e| e.to_string())?;
        let seconds = started.elapsed().as_secs_f64();
        check_raw_counts(db, rows).await?;
        Ok::<f64, String>(seconds)
    }
    .await;
    if let Err(e) = std::fs::remove_dir_all(&dir) {
        eprintln!("warning: cannot remove {}: {e}", dir.display());
    }
    outcome
}

/// Autovacuum's ANALYZE, for a server that runs without autovacuum (as this machine's does):
/// every `autovacuum_naptime` it analyzes the tables the run writes, so their statistics
/// follow the run as they would on a server with the default settings (a fresh table is
/// analyzed once 50 rows + 10 % changed). Without it the planner keeps the statistics of
/// the empty `charge_sets` for the whole run (see docs/performance.md).
struct Analyzer {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<u32, String>>,
    every: u64,
}

impl Analyzer {
    async fn start_if_needed(url: &str) -> Result<Option<Self>, String> {
        let storage = Storage::connect(url).await.map_err(|e| e.to_string())?;
        let setting = |name: &'static str| {
            let db = storage.connection().clone();
            async move {
                let sql = format!("SELECT setting FROM pg_settings WHERE name = '{name}'");
                one_row(&db, &sql)
                    .await?
                    .try_get_by_index::<String>(0)
                    .map_err(|e| format!("{sql}: {e}"))
            }
        };
        if setting("autovacuum").await? == "on" {
            storage.close().await.map_err(|e| e.to_string())?;
            return Ok(None);
        }
        let every: u64 = setting("autovacuum_naptime")
            .await?
            .parse()
            .map_err(|e| format!("autovacuum_naptime: {e}"))?;
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let mut runs = 0;
            loop {
                tokio::select! {
                    _ = &mut stopped => break,
                    () = tokio::time::sleep(std::time::Duration::from_secs(every.max(1))) => {}
                }
                execute(
                    storage.connection(),
                    "ANALYZE charge_sets, volume_history, ledger_journal, \
                     billing_run_houses",
                )
                .await?;
                runs += 1;
            }
            storage.close().await.map_err(|e| e.to_string())?;
            Ok(runs)
        });
        Ok(Some(Self { stop, task, every }))
    }

    /// Stops it; returns how many times it analyzed and its interval in seconds.
    async fn stop(self) -> Result<(u32, u64), String> {
        // An error here means the task already ended; its result says why.
        let _ignored = self.stop.send(());
        let runs = self
            .task
            .await
            .map_err(|e| format!("analyzer stopped: {e}"))??;
        Ok((runs, self.every))
    }
}

// ---------------------------------------------------------------------------------------------
// Memory and CPU
// ---------------------------------------------------------------------------------------------

/// Resets this process's peak resident set size (`VmHWM`) to its current size.
fn reset_peak() {
    // Best effort: on a kernel without it, the peak is the process's since it started.
    let _ignored = std::fs::write("/proc/self/clear_refs", "5");
}

fn status_kib(pid: &str, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn peak_kib() -> Option<u64> {
    status_kib("self", "VmHWM:")
}

/// User + system CPU seconds of process `pid` (all its threads).
fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces: the fields we want follow its closing parenthesis.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After ')': state is field 3 of the whole line, utime 14, stime 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / USER_HZ)
}

/// The server backends connected to this database (the run's pool), read from `/proc`: the
/// server runs on this machine.
async fn server_use(db: &DatabaseConnection) -> Result<ServerUse, String> {
    let sql = "SELECT pid FROM pg_stat_activity \
               WHERE datname = current_database() AND backend_type = 'client backend'";
    let rows = db
        .query_all_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            sql.to_owned(),
        ))
        .await
        .map_err(|e| format!("{sql}: {e}"))?;
    let mut usage = ServerUse {
        backends: 0,
        cpu_seconds: 0.0,
        max_peak_kib: 0,
    };
    for row in rows {
        let pid: i32 = row.try_get_by_index(0).map_err(|e| e.to_string())?;
        let pid = pid.to_string();
        if let (Some(cpu), Some(peak)) = (cpu_seconds(&pid), status_kib(&pid, "VmHWM:")) {
            usage.backends += 1;
            usage.cpu_seconds += cpu;
            usage.max_peak_kib = usage.max_peak_kib.max(peak);
        }
    }
    Ok(usage)
}

// ---------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------

fn mib(kib: Option<u64>) -> String {
    kib.map_or_else(
        || "unknown".into(),
        |k| format!("{:.1} MiB", k as f64 / 1024.0),
    )
}

fn pass(ok: bool) -> &'static str {
    if ok { "PASS" } else { "MISS" }
}

fn report(results: &[Figures], options: &Options) -> Result<(), String> {
    let names: Vec<&str> = results.iter().map(|r| r.kind.name()).collect();
    let row = |label: &str, cells: Vec<String>| {
        let mut line = format!("{label:<38}");
        for c in cells {
            line.push_str(&format!(" {c:>24}"));
        }
        println!("{line}");
    };
    println!();
    row("", names.iter().map(|n| (*n).to_owned()).collect());
    let each = |f: &dyn Fn(&Figures) -> String| results.iter().map(f).collect::<Vec<_>>();
    row("accounts billed", each(&|r| r.accounts.to_string()));
    row(
        "seed (untimed): seconds",
        each(&|r| format!("{:.1}", r.seed_seconds)),
    );
    row("seed: rows", each(&|r| r.seed_rows.to_string()));
    row("seed: peak memory", each(&|r| mib(r.seed_peak_kib)));
    row("run: seconds", each(&|r| format!("{:.1}", r.run_seconds)));
    row(
        "run: seconds per million accounts",
        each(&|r| format!("{:.1}", r.seconds_per_million())),
    );
    row(
        "run: accounts/s",
        each(&|r| format!("{:.0}", r.accounts as f64 / r.run_seconds)),
    );
    row("run: rows written", each(&|r| r.rows.total().to_string()));
    row(
        "  charge_sets (lines in them)",
        each(&|r| format!("{} ({})", r.rows.sets, r.rows.lines)),
    );
    row(
        "  volume_history / ledger_journal",
        each(&|r| format!("{} / {}", r.rows.volumes, r.rows.journal)),
    );
    row(
        "run: rows written/s",
        each(&|r| format!("{:.0}", r.run_rows_per_second())),
    );
    row(
        "run: CPU seconds of this process",
        each(&|r| {
            r.run_cpu_seconds
                .map_or_else(|| "unknown".into(), |c| format!("{c:.1}"))
        }),
    );
    row(
        "run: CPU seconds of server backends",
        each(&|r| match &r.server {
            Some(s) => format!("{:.1} ({} backends)", s.cpu_seconds, s.backends),
            None => "in-process".into(),
        }),
    );
    row(
        "run: peak memory (this process)",
        each(&|r| mib(r.run_peak_kib)),
    );
    row(
        "  (RSS at the run's start)",
        each(&|r| mib(r.run_start_rss_kib)),
    );
    row(
        "run: peak RSS of a server backend",
        each(&|r| match &r.server {
            Some(s) => mib(Some(s.max_peak_kib)),
            None => "in-process".into(),
        }),
    );
    row(
        "raw bulk load: seconds",
        each(&|r| format!("{:.1}", r.raw_seconds)),
    );
    row(
        "raw bulk load: rows/s",
        each(&|r| format!("{:.0}", r.raw_rows_per_second())),
    );
    row(
        "ratio run rows/s ÷ raw rows/s",
        each(&|r| format!("{:.2}", r.ratio())),
    );
    row("Σ charge_sets.total, ₽", each(&|r| r.total.to_string()));
    row(
        "Σ in memory (billing bench), ₽",
        each(&|r| r.reference.amount().to_string()),
    );
    println!();
    row(
        "target ≤ 60 s per million accounts",
        each(&|r| pass(r.seconds_per_million() <= TARGET_SECONDS_PER_MILLION).into()),
    );
    row(
        "target ≥ 0.5 of the raw load rate",
        each(&|r| pass(r.ratio() >= TARGET_RATIO).into()),
    );
    row(
        "target peak memory ≤ 1 GiB",
        each(&|r| pass(r.run_peak_kib.is_some_and(|k| k <= TARGET_PEAK_KIB)).into()),
    );
    println!(
        "(run options: {} workers, {} houses per chunk; peak memory of the run is this \
         process's VmHWM from the run's start, which includes what the allocators kept from \
         seeding; PostgreSQL's own memory is shown per backend)",
        options.run.workers, options.run.houses_per_chunk
    );
    for r in results {
        if r.total != r.reference.amount() {
            println!(
                "note: {} bills {} ₽, the in-memory billing bench {} ₽ for the same supplier",
                r.kind.name(),
                r.total,
                r.reference
            );
        }
    }
    if let Some(first) = results.first()
        && let Some(other) = results.iter().find(|r| r.total != first.total)
    {
        return Err(format!(
            "totals differ: {} bills {} ₽, {} bills {} ₽",
            first.kind.name(),
            first.total,
            other.kind.name(),
            other.total
        ));
    }
    Ok(())
}
