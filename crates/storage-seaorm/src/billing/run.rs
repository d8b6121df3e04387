//! The persisted **supplier-wide billing run**: every house of a supplier billed for one period,
//! in chunks of houses, with bounded memory, resumable after a crash and safe to run from
//! several workers or processes at once.
//!
//! - **Persisted**: `billing_runs` holds one run per (supplier, period) — starting it again
//!   resumes it, with the posting day it was started with — and `billing_run_houses` the state of
//!   each house (`pending`, `done`, `failed`). A house turns `done` in the transaction that
//!   stores its charge sets, so after a crash it is either fully billed and `done` or untouched
//!   and `pending`.
//! - **Chunks**: a worker takes up to [`RunOptions::houses_per_chunk`] pending houses, loads
//!   everything they need with one set-based query per table (houses, premises, accounts,
//!   facts, meters, accepted readings, volume history, pending recalculations, journals, existing
//!   sets; on SQLite the readings, volumes and journals as one row per meter or account, see
//!   `grouped_rows`), bills each house with billing-core's
//!   [`bill_house_snapshot`](billing_core::run::bill_house_snapshot) — the same function
//!   `BillingService::run_billing_for_house` uses, so both charge identical lines — and writes
//!   the chunk with multi-row INSERTs in one transaction. Memory is bounded by the chunk size
//!   and the number of workers, not by the supplier's size.
//! - **Workers**: on PostgreSQL each worker claims its chunk inside its write transaction with
//!   `SELECT … FOR UPDATE SKIP LOCKED`, so concurrent workers (in one process or many) never
//!   bill the same house, and a crashed worker's claim disappears with its connection; a
//!   worker that finds every pending house held waits for them, so a run returns only when
//!   all are done or failed (or after a minute's wait for a claim that outlives its process). On
//!   SQLite, which has a single writer, workers load and compute in parallel (WAL readers) and
//!   take turns writing; the `pending → done` update is a compare-and-set, so a chunk another
//!   process billed meanwhile is skipped, never charged twice.
//! - **Never twice, whatever happens**: the PRIMARY KEY (account, period) of `charge_sets`
//!   stands behind all of the above — an account billed meanwhile by
//!   `BillingService::run_billing_for_account` makes the chunk's write fail as a whole, and the
//!   chunk is loaded and billed again without that account.
//! - A house that cannot be billed (a missing tariff, corrupt data) is marked `failed` with the
//!   reason and the run goes on; the next start retries failed houses.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use billing_core::ids::{HouseId, SupplierId};
use billing_core::keyrate::{KeyRateHistory, PenaltyRules};
use billing_core::model::Supplier;
use billing_core::period::Period;
use billing_core::ports::{
    ChargeSet, HousePeriodFacts, KeyRateSource, PeriodRepository, RepoError, SupplierRepository,
    TariffRepository,
};
use billing_core::reading::ReadingStatus;
use billing_core::run::{
    AccountSnapshot, HouseSnapshot, RunSetup, bill_house_snapshot, earliest_billing_day,
};
use billing_core::tariff::TariffVersion;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use time::{Date, OffsetDateTime};

use crate::convert::Row;
use crate::convert::billing::{day_text, period_code, to_db_id};
use crate::convert::{account, house, ledger, meter, reading, recalculation, volume};
use crate::entity;
use crate::error::repo;
use crate::storage::{Backend, Storage};

use super::shapes::one_of;

/// How a billing run works through the houses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunOptions {
    /// Houses billed and written per transaction.
    pub houses_per_chunk: usize,
    /// Concurrent workers in this process.
    pub workers: usize,
}

impl Default for RunOptions {
    /// 20 houses per chunk, 3 workers. Each worker reads a chunk, bills it and writes it in
    /// turn, so half of its time the database waits for it and half of it it waits for the
    /// database; a third worker keeps both busy. On the project's 2-core machine, with the
    /// database on the same machine, a million accounts took 62.5 s with 2 workers and
    /// 56.2–59.1 s with 3 on PostgreSQL, 54.1 s and 48.2 s on SQLite (docs/performance.md).
    fn default() -> Self {
        Self {
            houses_per_chunk: 20,
            workers: 3,
        }
    }
}

/// Where a billing run stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunProgress {
    /// Houses of the run.
    pub houses_total: u64,
    /// Houses billed (by any worker, any start).
    pub houses_done: u64,
    /// Houses that could not be billed.
    pub houses_failed: u64,
    /// Charge sets written by this start.
    pub sets_written: u64,
}

/// What one start of a billing run did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunReport {
    /// Where the run stands at the end of this start.
    pub progress: RunProgress,
    /// The posting day of the run's sets (the day it was first started).
    pub posted_on: Date,
    /// The houses that could not be billed, with the reason (English, for the operator's log).
    pub failed: Vec<(HouseId, String)>,
}

/// Why a billing run could not start or go on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RunError {
    /// No supplier has this id.
    #[error("supplier not found")]
    SupplierNotFound,
    /// The period is closed.
    #[error("period {0} is closed")]
    PeriodClosed(Period),
    /// The period's readings window has not closed yet.
    #[error("period cannot be billed before {earliest}")]
    TooEarly {
        /// The first day the period can be billed.
        earliest: Date,
    },
    /// A chunk kept conflicting with concurrent writers (accounts billed or recalculations
    /// applied meanwhile) after several fresh attempts.
    #[error("chunk kept conflicting with concurrent billing")]
    Contended,
    /// Storage failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

/// The setup shared by every chunk of a run.
struct Shared {
    supplier: Supplier,
    tariffs: Vec<TariffVersion>,
    key_rates: KeyRateHistory,
    rules: PenaltyRules,
    period: Period,
    posted_on: Date,
    run_id: i64,
}

/// A chunk billed: the sets to store and the houses that failed.
struct Billed {
    sets: Vec<ChargeSet>,
    done: Vec<(i64, u64)>,
    failed: Vec<(i64, String)>,
}

const ATTEMPTS: usize = 5;

/// PostgreSQL: how long a worker that finds every pending house held by another transaction
/// waits for them before it gives up (see `postgres_chunk`). Longer than any chunk takes; a
/// claim that outlives it belongs to a connection left half-open, which PostgreSQL ends only
/// when its TCP keepalive gives up.
const HELD_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// PostgreSQL: how often a waiting worker looks again (see [`HELD_WAIT`]).
const HELD_POLL: std::time::Duration = std::time::Duration::from_millis(20);

/// What one claim of free houses came to.
enum Claimed {
    /// A chunk billed and committed.
    Billed(Billed),
    /// No pending house was free: none are left, or other transactions hold them.
    NothingFree,
}

/// PostgreSQL: the planner settings of a chunk's transaction. Every query of a chunk looks up
/// a few thousand rows by index; a parallel plan — which the planner picks when it
/// overestimates the rows, as it does for the journal of a skewed ledger (a tenth of the
/// accounts hold most of its rows, so `n_distinct` of `account_id` comes out ~60 000 for
/// 1,000,000 accounts) — starts two worker processes for each query (`EXPLAIN ANALYZE` of a
/// chunk's journal read: 40–94 ms against 13.6 ms serially), and JIT compilation never pays
/// back on such queries.
const CHUNK_SETTINGS: &str = "SET LOCAL max_parallel_workers_per_gather = 0; SET LOCAL jit = off";

impl Storage {
    /// Bills every house of `supplier` for `period` (see the module doc), starting the run —
    /// posted on `today` — or resuming it. `progress` is called after every chunk.
    pub async fn run_supplier_billing(
        &self,
        supplier: SupplierId,
        period: Period,
        today: Date,
        options: RunOptions,
        progress: Arc<dyn Fn(RunProgress) + Send + Sync>,
    ) -> Result<RunReport, RunError> {
        let found = self
            .supplier(supplier)
            .await?
            .ok_or(RunError::SupplierNotFound)?;
        if self
            .last_closed(supplier)
            .await?
            .is_some_and(|c| period <= c)
        {
            return Err(RunError::PeriodClosed(period));
        }
        let earliest = earliest_billing_day(&found, period);
        if today < earliest {
            return Err(RunError::TooEarly { earliest });
        }
        let (run_id, posted_on) = self.start_run(supplier, period, today).await?;
        let shared = Arc::new(Shared {
            tariffs: self.versions(supplier).await?,
            key_rates: self.key_rates().await?,
            rules: self.penalty_rules().await?,
            supplier: found,
            period,
            posted_on,
            run_id,
        });
        let start = self.run_progress(run_id).await?;
        let done = Arc::new(AtomicU64::new(start.houses_done));
        let failed_count = Arc::new(AtomicU64::new(start.houses_failed));
        let written = Arc::new(AtomicU64::new(0));
        let queue = Arc::new(tokio::sync::Mutex::new(match self.backend() {
            Backend::Sqlite => self.pending_houses(run_id).await?,
            Backend::Postgres => VecDeque::new(),
        }));
        let chunk = options.houses_per_chunk.max(1);
        let mut workers = tokio::task::JoinSet::new();
        for _ in 0..options.workers.max(1) {
            let (storage, shared, queue) = (self.clone(), shared.clone(), queue.clone());
            let (done, failed_count, written) =
                (done.clone(), failed_count.clone(), written.clone());
            let progress = progress.clone();
            let total = start.houses_total;
            workers.spawn(async move {
                let mut failures = Vec::new();
                loop {
                    let outcome = match storage.backend() {
                        Backend::Postgres => storage.postgres_chunk(&shared, chunk).await?,
                        Backend::Sqlite => {
                            let houses: Vec<i64> = {
                                let mut q = queue.lock().await;
                                let n = chunk.min(q.len());
                                q.drain(..n).collect()
                            };
                            if houses.is_empty() {
                                None
                            } else {
                                storage.sqlite_chunk(&shared, &houses).await?
                            }
                        }
                    };
                    let Some(billed) = outcome else { break };
                    done.fetch_add(billed.done.len() as u64, Ordering::Relaxed);
                    failed_count.fetch_add(billed.failed.len() as u64, Ordering::Relaxed);
                    written.fetch_add(
                        billed.done.iter().map(|(_, n)| n).sum::<u64>(),
                        Ordering::Relaxed,
                    );
                    failures.extend(billed.failed);
                    progress(RunProgress {
                        houses_total: total,
                        houses_done: done.load(Ordering::Relaxed),
                        houses_failed: failed_count.load(Ordering::Relaxed),
                        sets_written: written.load(Ordering::Relaxed),
                    });
                }
                Ok::<_, RunError>(failures)
            });
        }
        let mut failed = Vec::new();
        let mut first_error = None;
        while let Some(joined) = workers.join_next().await {
            match joined {
                Ok(Ok(f)) => failed.extend(f),
                Ok(Err(e)) => {
                    first_error.get_or_insert(e);
                }
                Err(e) => {
                    first_error.get_or_insert(RunError::Repo(RepoError::Unavailable(format!(
                        "billing worker stopped: {e}"
                    ))));
                }
            }
        }
        if let Some(e) = first_error {
            return Err(e);
        }
        let mut progress = self.run_progress(run_id).await?;
        progress.sets_written = written.load(Ordering::Relaxed);
        if progress.houses_done + progress.houses_failed == progress.houses_total {
            self.db()
                .execute_raw(self.statement(
                    "UPDATE billing_runs SET finished_at = $1 WHERE id = $2 AND finished_at IS NULL",
                    [now_nanos().into(), run_id.into()],
                ))
                .await
                .map_err(|e| repo("finish billing run", e))?;
        }
        failed.sort();
        Ok(RunReport {
            progress,
            posted_on,
            failed: failed
                .into_iter()
                .map(|(h, why)| (HouseId::new(u64::try_from(h).unwrap_or(0)), why))
                .collect(),
        })
    }

    /// Where the run of `supplier` for `period` stands, if it was started.
    pub async fn billing_run_progress(
        &self,
        supplier: SupplierId,
        period: Period,
    ) -> Result<Option<RunProgress>, RepoError> {
        let run = entity::billing_run::Entity::find()
            .filter(entity::billing_run::Column::SupplierId.eq(to_db_id(supplier.get())?))
            .filter(entity::billing_run::Column::Period.eq(period_code(period)))
            .one(self.db())
            .await
            .map_err(|e| repo("read billing run", e))?;
        match run {
            Some(r) => Ok(Some(self.run_progress(r.id).await?)),
            None => Ok(None),
        }
    }

    /// Creates the run (once) and adds the supplier's houses not yet in it; failed houses are
    /// set pending again. Returns the run id and its posting day.
    async fn start_run(
        &self,
        supplier: SupplierId,
        period: Period,
        today: Date,
    ) -> Result<(i64, Date), RepoError> {
        let fail = |e| repo("start billing run", e);
        let (s, p) = (to_db_id(supplier.get())?, period_code(period));
        let tx = self.begin_write().await.map_err(fail)?;
        tx.execute_raw(self.statement(
            "INSERT INTO billing_runs (supplier_id, period, posted_on, started_at, houses_total) \
             VALUES ($1, $2, $3, $4, 0) ON CONFLICT (supplier_id, period) DO NOTHING",
            [
                s.into(),
                p.into(),
                day_text(today).into(),
                now_nanos().into(),
            ],
        ))
        .await
        .map_err(fail)?;
        let run = entity::billing_run::Entity::find()
            .filter(entity::billing_run::Column::SupplierId.eq(s))
            .filter(entity::billing_run::Column::Period.eq(p))
            .one(&tx)
            .await
            .map_err(fail)?
            .ok_or(RepoError::NotFound)?;
        let row = Row::new("billing_runs", format!("id {}", run.id));
        let posted_on = row.day("posted_on", &run.posted_on)?;
        tx.execute_raw(self.statement(
            "INSERT INTO billing_run_houses (run_id, house_id, state) \
             SELECT $1, h.id, 'pending' FROM houses h WHERE h.supplier_id = $2 \
             ON CONFLICT (run_id, house_id) DO NOTHING",
            [run.id.into(), s.into()],
        ))
        .await
        .map_err(fail)?;
        tx.execute_raw(self.statement(
            "UPDATE billing_run_houses SET state = 'pending', error = NULL \
             WHERE run_id = $1 AND state = 'failed'",
            [run.id.into()],
        ))
        .await
        .map_err(fail)?;
        tx.execute_raw(self.statement(
            "UPDATE billing_runs SET houses_total = \
             (SELECT COUNT(*) FROM billing_run_houses WHERE run_id = $1), finished_at = NULL \
             WHERE id = $1",
            [run.id.into()],
        ))
        .await
        .map_err(fail)?;
        tx.commit().await.map_err(fail)?;
        Ok((run.id, posted_on))
    }

    async fn run_progress(&self, run_id: i64) -> Result<RunProgress, RepoError> {
        let fail = |e| repo("read billing run progress", e);
        let rows = self
            .db()
            .query_all_raw(self.statement(
                "SELECT state, COUNT(*) AS n FROM billing_run_houses WHERE run_id = $1 \
                 GROUP BY state",
                [run_id.into()],
            ))
            .await
            .map_err(fail)?;
        let mut p = RunProgress::default();
        for r in rows {
            let state: String = r.try_get("", "state").map_err(fail)?;
            let n: i64 = r.try_get("", "n").map_err(fail)?;
            let n = u64::try_from(n).unwrap_or(0);
            p.houses_total += n;
            match state.as_str() {
                "done" => p.houses_done += n,
                "failed" => p.houses_failed += n,
                _ => {}
            }
        }
        Ok(p)
    }

    async fn pending_houses(&self, run_id: i64) -> Result<VecDeque<i64>, RepoError> {
        let rows = entity::billing_run_house::Entity::find()
            .filter(entity::billing_run_house::Column::RunId.eq(run_id))
            .filter(entity::billing_run_house::Column::State.eq("pending"))
            .order_by_asc(entity::billing_run_house::Column::HouseId)
            .all(self.db())
            .await
            .map_err(|e| repo("read pending houses", e))?;
        Ok(rows.into_iter().map(|r| r.house_id).collect())
    }

    /// PostgreSQL: claims up to `n` pending houses with `FOR UPDATE SKIP LOCKED` and bills them
    /// in the claiming transaction. `None` when nothing is left to claim.
    ///
    /// When nothing is free but houses are still pending, another transaction holds them: a
    /// sibling worker's chunk, another process's, or the claim of a process that was killed
    /// and whose backend has not ended its transaction yet. The worker then polls every
    /// [`HELD_POLL`] until they are billed or free, for at most [`HELD_WAIT`]; so a run returns
    /// with every house done or failed unless a claim outlives that wait (a connection left
    /// half-open by a crashed machine), and then with those houses still pending — its report
    /// says so, and the next start bills them.
    async fn postgres_chunk(&self, shared: &Shared, n: usize) -> Result<Option<Billed>, RunError> {
        let waiting_since = std::time::Instant::now();
        loop {
            match self.postgres_claim_and_bill(shared, n).await? {
                Claimed::Billed(billed) => return Ok(Some(billed)),
                Claimed::NothingFree => {
                    if !self.any_pending(shared.run_id).await?
                        || waiting_since.elapsed() >= HELD_WAIT
                    {
                        return Ok(None);
                    }
                    tokio::time::sleep(HELD_POLL).await;
                }
            }
        }
    }

    /// Whether any house of the run is still pending.
    async fn any_pending(&self, run_id: i64) -> Result<bool, RepoError> {
        let row = self
            .db()
            .query_one_raw(self.statement(
                "SELECT EXISTS (SELECT 1 FROM billing_run_houses \
                 WHERE run_id = $1 AND state = 'pending') AS pending",
                [run_id.into()],
            ))
            .await
            .map_err(|e| repo("look for pending houses", e))?;
        row.map_or(Ok(false), |r| r.try_get("", "pending"))
            .map_err(|e| repo("look for pending houses", e))
    }

    /// One claim of up to `n` free pending houses, billed and stored in the claiming
    /// transaction (retried on conflicts with concurrent writers).
    async fn postgres_claim_and_bill(
        &self,
        shared: &Shared,
        n: usize,
    ) -> Result<Claimed, RunError> {
        let fail = |e| repo("bill a chunk of houses", e);
        for _ in 0..ATTEMPTS {
            let tx = self.begin_write().await.map_err(fail)?;
            tx.execute_unprepared(CHUNK_SETTINGS).await.map_err(fail)?;
            let claimed = tx
                .query_all_raw(self.statement(
                    "SELECT house_id FROM billing_run_houses \
                     WHERE run_id = $1 AND state = 'pending' \
                     ORDER BY house_id LIMIT $2 FOR UPDATE SKIP LOCKED",
                    [
                        shared.run_id.into(),
                        i64::try_from(n).unwrap_or(i64::MAX).into(),
                    ],
                ))
                .await
                .map_err(fail)?
                .into_iter()
                .map(|r| r.try_get::<i64>("", "house_id"))
                .collect::<Result<Vec<_>, _>>()
                .map_err(fail)?;
            if claimed.is_empty() {
                tx.rollback().await.map_err(fail)?;
                return Ok(Claimed::NothingFree);
            }
            let billed = self.bill_chunk(&tx, shared, &claimed).await?;
            match self.store_chunk(&tx, shared, &billed, false).await {
                Ok(true) => {
                    tx.commit().await.map_err(fail)?;
                    return Ok(Claimed::Billed(billed));
                }
                Ok(false) | Err(RepoError::Duplicate | RepoError::Conflict) => {
                    tx.rollback().await.map_err(fail)?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(RunError::Contended)
    }

    /// SQLite: bills `houses` from the pool's readers, then stores them under the write lock if
    /// they are still pending. `Some` with nothing done when another process billed them.
    async fn sqlite_chunk(
        &self,
        shared: &Shared,
        houses: &[i64],
    ) -> Result<Option<Billed>, RunError> {
        let fail = |e| repo("bill a chunk of houses", e);
        for _ in 0..ATTEMPTS {
            let billed = self.bill_chunk(self.db(), shared, houses).await?;
            let tx = self.begin_write().await.map_err(fail)?;
            match self.store_chunk(&tx, shared, &billed, true).await {
                Ok(true) => {
                    tx.commit().await.map_err(fail)?;
                    return Ok(Some(billed));
                }
                Ok(false) => {
                    // Another process billed (some of) these houses: leave them to it.
                    tx.rollback().await.map_err(fail)?;
                    return Ok(Some(Billed {
                        sets: Vec::new(),
                        done: Vec::new(),
                        failed: Vec::new(),
                    }));
                }
                Err(RepoError::Duplicate | RepoError::Conflict) => {
                    tx.rollback().await.map_err(fail)?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(RunError::Contended)
    }

    /// Marks the chunk's houses done or failed — a compare-and-set from `pending` when `cas`
    /// (false if any house is no longer pending) — and writes its sets.
    async fn store_chunk(
        &self,
        tx: &DatabaseTransaction,
        shared: &Shared,
        billed: &Billed,
        cas: bool,
    ) -> Result<bool, RepoError> {
        let fail = |e| repo("store a chunk of houses", e);
        for (house, sets) in &billed.done {
            let r = tx
                .execute_raw(self.statement(
                    "UPDATE billing_run_houses SET state = 'done', accounts = $1, error = NULL \
                     WHERE run_id = $2 AND house_id = $3 AND state = 'pending'",
                    [
                        i64::try_from(*sets).unwrap_or(i64::MAX).into(),
                        shared.run_id.into(),
                        (*house).into(),
                    ],
                ))
                .await
                .map_err(fail)?;
            if cas && r.rows_affected() != 1 {
                return Ok(false);
            }
        }
        for (house, why) in &billed.failed {
            let r = tx
                .execute_raw(self.statement(
                    "UPDATE billing_run_houses SET state = 'failed', error = $1 \
                     WHERE run_id = $2 AND house_id = $3 AND state = 'pending'",
                    [why.clone().into(), shared.run_id.into(), (*house).into()],
                ))
                .await
                .map_err(fail)?;
            if cas && r.rows_affected() != 1 {
                return Ok(false);
            }
        }
        self.write_charge_sets(tx, &billed.sets).await?;
        Ok(true)
    }

    /// Loads the snapshots of `houses` through `db` and bills each house.
    async fn bill_chunk(
        &self,
        db: &impl ConnectionTrait,
        shared: &Shared,
        houses: &[i64],
    ) -> Result<Billed, RepoError> {
        let snapshots = self.load_snapshots(db, shared, houses).await?;
        let setup = RunSetup {
            supplier: &shared.supplier,
            tariffs: &shared.tariffs,
            key_rates: &shared.key_rates,
            rules: &shared.rules,
            period: shared.period,
            today: shared.posted_on,
        };
        let mut billed = Billed {
            sets: Vec::new(),
            done: Vec::new(),
            failed: Vec::new(),
        };
        for (id, snapshot) in snapshots {
            match snapshot.and_then(|s| {
                bill_house_snapshot(&setup, &s).map_err(|e| format!("house {id}: {e}"))
            }) {
                Ok(charges) => {
                    billed.done.push((id, charges.sets.len() as u64));
                    billed.sets.extend(charges.sets);
                }
                Err(why) => billed.failed.push((id, why)),
            }
        }
        Ok(billed)
    }

    /// The snapshots of `houses` (in the order given), each `Err` with the reason when its
    /// stored data cannot be read (a corrupt row fails its house, not the run).
    #[allow(
        clippy::too_many_lines,
        reason = "one query per table, in order; splitting hides the plan"
    )]
    async fn load_snapshots(
        &self,
        db: &impl ConnectionTrait,
        shared: &Shared,
        houses: &[i64],
    ) -> Result<Vec<(i64, Result<HouseSnapshot, String>)>, RepoError> {
        use entity::{
            account as a, charge_set as cs, house as h, house_period_fact as f, meter as m,
            premise as p, recalculation as rc,
        };
        let fail = |e| repo("load houses to bill", e);
        let backend = self.backend();
        let code = period_code(shared.period);
        let supplier = to_db_id(shared.supplier.id.get())?;
        let house_rows = h::Entity::find()
            .filter(one_of(backend, h::Column::Id, houses))
            .all(db)
            .await
            .map_err(fail)?;
        let premise_rows = p::Entity::find()
            .filter(one_of(backend, p::Column::HouseId, houses))
            .order_by_asc(p::Column::Id)
            .all(db)
            .await
            .map_err(fail)?;
        let premise_ids: Vec<i64> = premise_rows.iter().map(|p| p.id).collect();
        let mut account_rows = Vec::new();
        for ids in premise_ids.chunks(10_000) {
            account_rows.extend(
                a::Entity::find()
                    .filter(a::Column::SupplierId.eq(supplier))
                    .filter(one_of(backend, a::Column::PremiseId, ids))
                    .order_by_asc(a::Column::Id)
                    .all(db)
                    .await
                    .map_err(fail)?,
            );
        }
        let account_ids: Vec<i64> = account_rows.iter().map(|a| a.id).collect();
        let fact_rows = f::Entity::find()
            .filter(one_of(backend, f::Column::HouseId, houses))
            .filter(f::Column::Period.eq(code))
            .all(db)
            .await
            .map_err(fail)?;
        let (mut meter_rows, mut volume_rows, mut recalc_rows, mut journal_rows, mut billed) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut grouped_errors: Vec<(i64, String)> = Vec::new();
        for ids in account_ids.chunks(10_000) {
            meter_rows.extend(
                m::Entity::find()
                    .filter(one_of(backend, m::Column::AccountId, ids))
                    .all(db)
                    .await
                    .map_err(fail)?,
            );
            if backend == Backend::Sqlite {
                split(
                    volumes_per_account(db, ids, code).await?,
                    &mut volume_rows,
                    &mut grouped_errors,
                );
            } else {
                volume_rows.extend(
                    volumes_query(backend, ids, code)
                        .all(db)
                        .await
                        .map_err(fail)?,
                );
            }
            recalc_rows.extend(
                rc::Entity::find()
                    .filter(one_of(backend, rc::Column::AccountId, ids))
                    .filter(rc::Column::AppliedIn.is_null())
                    .filter(rc::Column::BilledFrom.lte(code))
                    .order_by_asc(rc::Column::Id)
                    .all(db)
                    .await
                    .map_err(fail)?,
            );
            if backend == Backend::Sqlite {
                split(
                    journals_per_account(db, ids).await?,
                    &mut journal_rows,
                    &mut grouped_errors,
                );
            } else {
                journal_rows.extend(journals_query(backend, ids).all(db).await.map_err(fail)?);
            }
            billed.extend(
                cs::Entity::find()
                    .select_only()
                    .column(cs::Column::AccountId)
                    .filter(cs::Column::Period.eq(code))
                    .filter(one_of(backend, cs::Column::AccountId, ids))
                    .into_tuple::<i64>()
                    .all(db)
                    .await
                    .map_err(fail)?,
            );
        }
        let meter_ids: Vec<i64> = meter_rows.iter().map(|m| m.id).collect();
        let (mut reading_rows, mut reading_errors) = (Vec::new(), Vec::new());
        for ids in meter_ids.chunks(10_000) {
            if backend == Backend::Sqlite {
                split(
                    readings_per_meter(db, ids, code).await?,
                    &mut reading_rows,
                    &mut reading_errors,
                );
            } else {
                reading_rows.extend(
                    readings_query(backend, ids, code)
                        .all(db)
                        .await
                        .map_err(fail)?,
                );
            }
        }

        // Group everything by account, then by house. A row that does not convert fails the
        // house it belongs to.
        #[derive(Default)]
        struct Parts {
            meters: Vec<billing_core::meter::Meter>,
            readings: Vec<billing_core::reading::Reading>,
            volumes: Vec<(billing_core::ServiceKind, billing_core::volume::PastVolume)>,
            recalculations: Vec<billing_core::ports::PendingRecalculation>,
            journal: Vec<billing_core::ports::LedgerRecord>,
            error: Option<String>,
        }
        let mut parts: BTreeMap<i64, Parts> = account_ids
            .iter()
            .map(|id| (*id, Parts::default()))
            .collect();
        let mut meter_account = BTreeMap::new();
        for row in meter_rows {
            let Some(owner) = row.account_id else {
                continue;
            };
            meter_account.insert(row.id, owner);
            let entry = parts.entry(owner).or_default();
            match meter::from_row(row) {
                Ok(m) => entry.meters.push(m),
                Err(e) => entry.error = Some(e.to_string()),
            }
        }
        for (meter, e) in reading_errors {
            if let Some(owner) = meter_account.get(&meter).copied() {
                parts.entry(owner).or_default().error = Some(e);
            }
        }
        for row in reading_rows {
            let Some(owner) = meter_account.get(&row.meter_id).copied() else {
                continue;
            };
            let entry = parts.entry(owner).or_default();
            match reading::from_row(row) {
                Ok(r) => entry.readings.push(r),
                Err(e) => entry.error = Some(e.to_string()),
            }
        }
        for row in volume_rows {
            let owner = row.account_id;
            let entry = parts.entry(owner).or_default();
            let service = Row::new("volume_history", format!("account {owner}"))
                .service("service", Some(&row.service));
            match service.and_then(|s| volume::from_row(row).map(|v| (s, v))) {
                Ok(sv) => entry.volumes.push(sv),
                Err(e) => entry.error = Some(e.to_string()),
            }
        }
        for (owner, e) in grouped_errors {
            parts.entry(owner).or_default().error = Some(e);
        }
        for row in recalc_rows {
            let entry = parts.entry(row.account_id).or_default();
            match recalculation::from_row(row) {
                Ok(r) => entry.recalculations.push(r),
                Err(e) => entry.error = Some(e.to_string()),
            }
        }
        by_account_in_journal_order(&mut journal_rows);
        for row in journal_rows {
            let entry = parts.entry(row.account_id).or_default();
            match ledger::from_row(row) {
                Ok(r) => entry.journal.push(r),
                Err(e) => entry.error = Some(e.to_string()),
            }
        }
        let billed: std::collections::BTreeSet<i64> = billed.into_iter().collect();
        let mut premises = BTreeMap::new();
        let mut premise_house = BTreeMap::new();
        for row in premise_rows {
            premise_house.insert(row.id, row.house_id);
            premises.insert(
                row.id,
                house::premise_from_row(row).map_err(|e| e.to_string()),
            );
        }
        let mut accounts_of: BTreeMap<i64, Vec<Result<AccountSnapshot, String>>> = BTreeMap::new();
        for row in account_rows {
            let (id, premise_id) = (row.id, row.premise_id);
            let Some(house_id) = premise_house.get(&premise_id).copied() else {
                continue;
            };
            let mut own = parts.remove(&id).unwrap_or_default();
            let snapshot = (|| {
                if let Some(e) = own.error.take() {
                    return Err(e);
                }
                let account = account::from_row(row).map_err(|e| e.to_string())?;
                let premise = premises
                    .get(&premise_id)
                    .cloned()
                    .ok_or_else(|| format!("account {id}: premise {premise_id} missing"))??;
                Ok(AccountSnapshot {
                    account,
                    premise,
                    meters: own.meters,
                    readings: own.readings,
                    volumes: own.volumes,
                    recalculations: own.recalculations,
                    journal: own.journal,
                    billed: billed.contains(&id),
                })
            })();
            accounts_of.entry(house_id).or_default().push(snapshot);
        }
        let mut house_models: BTreeMap<i64, _> =
            house_rows.into_iter().map(|h| (h.id, h)).collect();
        let mut facts: BTreeMap<i64, _> = fact_rows.into_iter().map(|f| (f.house_id, f)).collect();
        Ok(houses
            .iter()
            .map(|id| {
                let snapshot = (|| {
                    let model = house_models
                        .remove(id)
                        .ok_or_else(|| format!("house {id} no longer exists"))?;
                    let house = house::from_row(model).map_err(|e| e.to_string())?;
                    let facts = match facts.remove(id) {
                        Some(f) => house::facts_from_row(f).map_err(|e| e.to_string())?,
                        None => HousePeriodFacts::default(),
                    };
                    let accounts = accounts_of
                        .remove(id)
                        .unwrap_or_default()
                        .into_iter()
                        .collect::<Result<Vec<_>, String>>()?;
                    Ok(HouseSnapshot {
                        house,
                        facts,
                        accounts,
                    })
                })();
                (*id, snapshot)
            })
            .collect())
    }
}

/// A table's rows of one owner (account or meter), as [`grouped_rows`] decodes them, or why
/// they do not decode.
type OwnedRows<T> = Vec<(i64, Result<Vec<T>, String>)>;

/// SQLite: the rows of `table` whose `key` column (`account_id`, `meter_id`) is one of `ids`
/// (and `filter`, a condition with `?` parameters `params`, ending in `AND`), read as **one
/// result row per owner** — its rows' `columns` as a JSON array of arrays
/// (`json_group_array(json_array(…))`) — rather than one result row per table row.
///
/// The volume history (about six rows per account) and the journals (64 per debtor in the
/// bench) are the largest tables a run reads, and sqlx hands SQLite's rows over one at a time
/// between its worker thread and the task; grouping the volume history alone took the run of
/// 1,000,000 accounts from 82.8 s to 76.1 s (docs/performance.md). Each row decodes to the
/// entity's model, so the conversion is the entity's usual one; an account whose rows do not
/// decode gets the reason instead (it fails its house, not the run). The id list is padded
/// (one statement shape per size) and positional (`?`): SQLite resolves `$n` by name, which is
/// quadratic over thousands of them.
#[allow(
    clippy::too_many_arguments,
    reason = "the statement's parts and the decoding; a struct would only rename them"
)]
async fn grouped_rows<T: serde::de::DeserializeOwned, M>(
    db: &impl ConnectionTrait,
    table: &'static str,
    key: &'static str,
    columns: &'static str,
    filter: &str,
    params: Vec<sea_orm::Value>,
    ids: &[i64],
    to_model: impl Fn(i64, T) -> M,
) -> Result<OwnedRows<M>, RepoError> {
    let padded = super::shapes::padded_ids(ids);
    let mut sql = format!(
        "SELECT {key} AS owner, json_group_array(json_array({columns})) AS grouped \
         FROM {table} WHERE {filter} {key} IN ("
    );
    for i in 0..padded.len() {
        sql.push_str(if i == 0 { "?" } else { ", ?" });
    }
    sql.push_str(&format!(") GROUP BY {key}"));
    let mut values = params;
    values.extend(padded.into_iter().map(sea_orm::Value::from));
    let fail = |e| repo(&format!("load {table}"), e);
    let rows = db
        .query_all_raw(sea_orm::Statement::from_sql_and_values(
            sea_orm::DbBackend::Sqlite,
            sql,
            values,
        ))
        .await
        .map_err(fail)?;
    let mut accounts = Vec::with_capacity(rows.len());
    for row in rows {
        let owner: i64 = row.try_get("", "owner").map_err(fail)?;
        let grouped: String = row.try_get("", "grouped").map_err(fail)?;
        let decoded = serde_json::from_str::<Vec<T>>(&grouped)
            .map(|rows| rows.into_iter().map(|r| to_model(owner, r)).collect())
            .map_err(|e| {
                Row::new(table, format!("{key} {owner}"))
                    .bad(columns, e)
                    .to_string()
            });
        accounts.push((owner, decoded));
    }
    Ok(accounts)
}

/// Moves the decoded rows of `groups` into `rows` and the reasons of the groups that did not
/// decode, with their owner, into `errors`.
fn split<T>(groups: OwnedRows<T>, rows: &mut Vec<T>, errors: &mut Vec<(i64, String)>) {
    for (owner, decoded) in groups {
        match decoded {
            Ok(decoded) => rows.extend(decoded),
            Err(e) => errors.push((owner, e)),
        }
    }
}

/// The per-row query of the volume history of `ids` before the period `code` (PostgreSQL;
/// on SQLite [`volumes_per_account`] reads the same rows grouped).
fn volumes_query(
    backend: Backend,
    ids: &[i64],
    code: i32,
) -> sea_orm::Select<entity::volume::Entity> {
    use entity::volume as v;
    v::Entity::find()
        .filter(one_of(backend, v::Column::AccountId, ids))
        .filter(v::Column::Period.lt(code))
}

/// The per-row query of the accepted readings of the meters `ids` up to the period `code`.
fn readings_query(
    backend: Backend,
    ids: &[i64],
    code: i32,
) -> sea_orm::Select<entity::reading::Entity> {
    use entity::reading as r;
    r::Entity::find()
        .filter(one_of(backend, r::Column::MeterId, ids))
        .filter(r::Column::Status.eq(reading::status_tag(ReadingStatus::Accepted)))
        .filter(r::Column::Period.lte(code))
}

/// The per-row query of the journals of `ids`, in no particular order: the loader puts them
/// in journal order itself ([`by_account_in_journal_order`]), which costs it less than the
/// server's sort of a chunk's ~16,000 wide rows (PostgreSQL reads them with a bitmap heap
/// scan, which gives them in heap order).
fn journals_query(backend: Backend, ids: &[i64]) -> sea_orm::Select<entity::ledger_record::Entity> {
    use entity::ledger_record as l;
    l::Entity::find().filter(one_of(backend, l::Column::AccountId, ids))
}

/// Journal rows account by account, each account's in journal order (`seq`).
fn by_account_in_journal_order(rows: &mut [entity::ledger_record::Model]) {
    rows.sort_unstable_by_key(|r| (r.account_id, r.seq));
}

/// SQLite: what [`volumes_query`] reads, one result row per account.
async fn volumes_per_account(
    db: &impl ConnectionTrait,
    ids: &[i64],
    code: i32,
) -> Result<OwnedRows<entity::volume::Model>, RepoError> {
    grouped_rows(
        db,
        "volume_history",
        "account_id",
        "service, period, kind, register_values, origin",
        "period < ? AND",
        vec![code.into()],
        ids,
        |account_id,
         (service, period, kind, register_values, origin): (
            String,
            i32,
            String,
            String,
            String,
        )| {
            entity::volume::Model {
                account_id,
                service,
                period,
                kind,
                register_values,
                origin,
            }
        },
    )
    .await
}

/// A `readings` row as [`grouped_rows`] reads it.
type ReadingRow = (
    i64,
    i32,
    String,
    String,
    i64,
    String,
    String,
    String,
    Option<i64>,
);

/// SQLite: what [`readings_query`] reads, one result row per meter.
async fn readings_per_meter(
    db: &impl ConnectionTrait,
    ids: &[i64],
    code: i32,
) -> Result<OwnedRows<entity::reading::Model>, RepoError> {
    grouped_rows(
        db,
        "readings",
        "meter_id",
        "id, period, register_values, taken_on, submitted_at, source, status, slot, supersedes",
        "status = ? AND period <= ? AND",
        vec![
            reading::status_tag(ReadingStatus::Accepted).into(),
            code.into(),
        ],
        ids,
        |meter_id, r: ReadingRow| entity::reading::Model {
            id: r.0,
            meter_id,
            period: r.1,
            register_values: r.2,
            taken_on: r.3,
            submitted_at: r.4,
            source: r.5,
            status: r.6,
            slot: r.7,
            supersedes: r.8,
        },
    )
    .await
}

/// A `ledger_journal` row as [`grouped_rows`] reads it (the amount as the entity reads it:
/// its exact text).
type JournalRow = (
    i64,
    String,
    String,
    Option<i32>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// SQLite: what [`journals_query`] reads, one result row per account (in no particular order
/// either; the loader sorts them once, [`by_account_in_journal_order`]).
async fn journals_per_account(
    db: &impl ConnectionTrait,
    ids: &[i64],
) -> Result<OwnedRows<entity::ledger_record::Model>, RepoError> {
    grouped_rows(
        db,
        "ledger_journal",
        "account_id",
        "seq, date, kind, period, service, CAST(amount AS TEXT), due_date, payment_id, state, \
         reason, reason_text, split",
        "",
        Vec::new(),
        ids,
        |account_id, r: JournalRow| entity::ledger_record::Model {
            seq: r.0,
            account_id,
            date: r.1,
            kind: r.2,
            period: r.3,
            service: r.4,
            amount: r.5.map(entity::Exact),
            due_date: r.6,
            payment_id: r.7,
            state: r.8,
            reason: r.9,
            reason_text: r.10,
            split: r.11,
        },
    )
    .await
}

fn now_nanos() -> i64 {
    i64::try_from(OffsetDateTime::now_utc().unix_timestamp_nanos()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use sea_orm::ConnectionTrait;

    use super::*;

    /// Every decoded row of `groups`, in order (a group that did not decode fails the test).
    fn decoded<M: std::fmt::Debug>(groups: OwnedRows<M>) -> Vec<M> {
        groups
            .into_iter()
            .flat_map(|(_, rows)| rows.unwrap())
            .collect()
    }

    /// The grouped reads return exactly the models of the per-row queries they replace (the
    /// ones PostgreSQL runs), every column filled (and every optional one empty), every stored
    /// form of an amount.
    #[tokio::test]
    async fn grouped_reads_equal_the_entity_queries() {
        let storage = Storage::connect("sqlite::memory:").await.unwrap();
        storage.migrate().await.unwrap();
        let db = storage.connection();
        db.execute_unprepared(
            "PRAGMA foreign_keys = OFF;
             INSERT INTO ledger_journal (seq, account_id, date, kind, period, service, amount,
                 due_date, payment_id, state, reason, reason_text, split) VALUES
             (3, 7, '2025-01-02', 'adjustment', 202412, 'electricity', '-12.34', '2025-01-10',
                 9223372036854775807, 'succeeded', 'other', 'слова', '{\"electricity\":\"1.00\"}'),
             (1, 7, '2025-01-01', 'payment_state', NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                 NULL, NULL),
             (2, 7, '2025-01-01', 'charge', 202411, 'penalty', 5, '2024-12-10', NULL, NULL,
                 NULL, NULL, NULL),
             (4, 8, '2025-01-03', 'refund', NULL, NULL, 1.5, NULL, 42, NULL, NULL, NULL, NULL),
             (5, 7, '2025-01-04', 'refund', NULL, NULL, 2, NULL, 43, NULL, NULL, NULL, NULL);
             INSERT INTO readings (id, meter_id, period, register_values, taken_on,
                 submitted_at, source, status, slot, supersedes) VALUES
             (10, 70, 202502, '00123;45', '2025-02-20', 1700000000123456789, 'subscriber',
                 'accepted', 'ordinary', 9),
             (11, 70, 202503, '7', '2025-03-20', -1, 'operator', 'accepted', 'late', NULL),
             (12, 70, 202503, '8', '2025-03-21', 0, 'operator', 'superseded', 'ordinary', NULL),
             (13, 70, 202504, '9', '2025-04-20', 0, 'operator', 'accepted', 'ordinary', NULL);
             INSERT INTO volume_history (account_id, service, period, kind, register_values,
                 origin) VALUES
             (7, 'electricity', 202501, 'readings', '1.5;2', 'billed'),
             (7, 'cold_water', 202502, 'norm', '3', 'imported'),
             (7, 'electricity', 202503, 'average', '4', 'billed');",
        )
        .await
        .unwrap();
        let code = 202503;

        let mut grouped = decoded(journals_per_account(db, &[7, 8, 9]).await.unwrap());
        by_account_in_journal_order(&mut grouped);
        let mut rows = journals_query(Backend::Sqlite, &[7, 8, 9])
            .all(db)
            .await
            .unwrap();
        by_account_in_journal_order(&mut rows);
        assert_eq!(
            rows.iter()
                .map(|m| (m.account_id, m.seq))
                .collect::<Vec<_>>(),
            [(7, 1), (7, 2), (7, 3), (7, 5), (8, 4)]
        );
        assert_eq!(grouped, rows);

        let mut grouped = decoded(readings_per_meter(db, &[70], code).await.unwrap());
        grouped.sort_by_key(|m| m.id);
        let mut rows = readings_query(Backend::Sqlite, &[70], code)
            .all(db)
            .await
            .unwrap();
        rows.sort_by_key(|m| m.id);
        assert_eq!(rows.iter().map(|m| m.id).collect::<Vec<_>>(), [10, 11]);
        assert_eq!(grouped, rows);

        let mut grouped = decoded(volumes_per_account(db, &[7], code).await.unwrap());
        grouped.sort_by_key(|m| m.period);
        let mut rows = volumes_query(Backend::Sqlite, &[7], code)
            .all(db)
            .await
            .unwrap();
        rows.sort_by_key(|m| m.period);
        assert_eq!(rows.len(), 2);
        assert_eq!(grouped, rows);
    }
}
