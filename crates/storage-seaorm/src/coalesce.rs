//! Coalescing of concurrent calls into batches: callers that arrive while earlier batches are
//! in flight are served together by one batch — one statement, one round trip, one commit —
//! instead of one statement each.
//!
//! A [`Coalescer`] is a queue and a dispatcher task. The dispatcher takes the first waiting
//! call, waits for one of [`Limits::in_flight`] slots, then takes every call that queued
//! meanwhile (up to [`Limits::batch`]) and runs them as one batch in a task of its own. So a
//! lone call is run at once, alone, and batches grow exactly when the database is the
//! bottleneck: the longer batches take, the more calls queue for the next one.
//!
//! Before it takes the batch the dispatcher yields to the runtime once. The call that wakes it
//! puts it in the waking worker's "run next" slot (tokio's LIFO slot), ahead of the requests
//! that became ready in the same round — bytes that arrived together — so without the yield
//! it would take that one call alone while the others were about to queue. Measured with
//! `cargo xtask bench http` (docs/performance.md, tenth session): statements per submission
//! 1.5 → 0.7 and 2 600–3 250 → 3 900–4 800 submissions/s; a lone call waits one turn of
//! the scheduler more (microseconds; the paced p99 did not move).
//!
//! What a caller may rely on:
//! - **One answer per call, its own.** The batch function returns one output per input, in
//!   order; the dispatcher hands each caller its output.
//! - **Nothing hangs.** A batch that panics or returns too few outputs drops the callers'
//!   reply channels, and [`Coalescer::call`] returns `None` for them.
//! - **A caller that goes away does not cancel the batch.** The batch runs in its own task, so
//!   the other callers of it get their answers (and a write the caller asked for may still be
//!   done, as when a request is cancelled after its statement reached the database).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::{Semaphore, mpsc, oneshot};

/// How big and how many batches may be.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    /// Calls per batch at most.
    pub batch: usize,
    /// Batches running at once at most.
    pub in_flight: usize,
}

type Call<I, O> = (I, oneshot::Sender<O>);

/// How a coalescing queue has served its calls since it started (see
/// [`Storage::batches`](crate::Storage::batches)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BatchCount {
    /// Calls served.
    pub calls: u64,
    /// Batches they were served in; `calls / batches` is the mean batch.
    pub batches: u64,
    /// The largest batch.
    pub largest: u64,
    /// Batches of more than one call whose shared statement failed, so that their calls were
    /// served again one by one (two corrections of one reading, say).
    pub split: u64,
}

#[derive(Default)]
struct Counters {
    calls: AtomicU64,
    batches: AtomicU64,
    largest: AtomicU64,
    split: AtomicU64,
}

/// A queue of calls served in batches (see the module doc).
pub(crate) struct Coalescer<I, O> {
    queue: mpsc::UnboundedSender<Call<I, O>>,
}

impl<I, O> std::fmt::Debug for Coalescer<I, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Coalescer").finish_non_exhaustive()
    }
}

impl<I: Send + 'static, O: Send + 'static> Coalescer<I, O> {
    /// Starts the dispatcher on the current tokio runtime, counting into `counters`; `run`
    /// serves one batch and returns one output per input, in order, and whether it had to
    /// split the batch (see [`BatchCount::split`]). The dispatcher stops when the coalescer is
    /// dropped and the calls queued before are served.
    fn start<F, Fut>(limits: Limits, counters: Arc<Counters>, run: F) -> Self
    where
        F: Fn(Vec<I>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = (Vec<O>, bool)> + Send + 'static,
    {
        let (queue, mut waiting) = mpsc::unbounded_channel::<Call<I, O>>();
        let run = Arc::new(run);
        let slots = Arc::new(Semaphore::new(limits.in_flight.max(1)));
        let most = limits.batch.max(1);
        let count = counters.clone();
        tokio::spawn(async move {
            while let Some(first) = waiting.recv().await {
                let Ok(slot) = slots.clone().acquire_owned().await else {
                    break;
                };
                // Lets the tasks that are ready now queue their calls first (module doc).
                tokio::task::yield_now().await;
                let mut batch = vec![first];
                while batch.len() < most {
                    match waiting.try_recv() {
                        Ok(call) => batch.push(call),
                        Err(_) => break,
                    }
                }
                let size = batch.len() as u64;
                count.calls.fetch_add(size, Ordering::Relaxed);
                count.batches.fetch_add(1, Ordering::Relaxed);
                count.largest.fetch_max(size, Ordering::Relaxed);
                let (run, count) = (run.clone(), count.clone());
                tokio::spawn(async move {
                    let (inputs, replies): (Vec<I>, Vec<oneshot::Sender<O>>) =
                        batch.into_iter().unzip();
                    let (outputs, split) = run(inputs).await;
                    if split {
                        count.split.fetch_add(1, Ordering::Relaxed);
                    }
                    for (reply, output) in replies.into_iter().zip(outputs) {
                        // A caller that went away no longer wants its answer.
                        let _ignored = reply.send(output);
                    }
                    drop(slot);
                });
            }
        });
        Self { queue }
    }

    /// Queues `input` and waits for its output; `None` if its batch panicked, returned too
    /// few outputs or the dispatcher is gone (its runtime shut down).
    pub(crate) async fn call(&self, input: I) -> Option<O> {
        let (reply, answer) = oneshot::channel();
        self.queue.send((input, reply)).ok()?;
        answer.await.ok()
    }
}

/// A [`Coalescer`] started on first use and started again when its dispatcher is gone — the
/// tokio runtime it ran on shut down while the owner lives on (a storage shared by tests that
/// each run their own runtime) — counting across restarts.
pub(crate) struct Queue<I, O> {
    running: std::sync::Mutex<Option<Arc<Coalescer<I, O>>>>,
    counters: Arc<Counters>,
}

impl<I, O> Default for Queue<I, O> {
    fn default() -> Self {
        Self {
            running: std::sync::Mutex::new(None),
            counters: Arc::new(Counters::default()),
        }
    }
}

impl<I, O> std::fmt::Debug for Queue<I, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue").finish_non_exhaustive()
    }
}

impl<I: Send + 'static, O: Send + 'static> Queue<I, O> {
    /// The running coalescer; when there is none, or its dispatcher is gone, one started on
    /// the caller's runtime with `limits` and the batch function `run()` makes.
    pub(crate) fn get<F, Fut>(
        &self,
        limits: Limits,
        run: impl FnOnce() -> F,
    ) -> Arc<Coalescer<I, O>>
    where
        F: Fn(Vec<I>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = (Vec<O>, bool)> + Send + 'static,
    {
        // A poisoned lock only means a panic while cloning an `Arc`: the slot is still sound.
        let mut running = self
            .running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match running.as_ref() {
            Some(c) if !c.queue.is_closed() => c.clone(),
            _ => {
                let c = Arc::new(Coalescer::start(limits, self.counters.clone(), run()));
                *running = Some(c.clone());
                c
            }
        }
    }

    /// How calls were served so far (all zero before the first).
    pub(crate) fn count(&self) -> BatchCount {
        self.counters.count()
    }
}

impl Counters {
    fn count(&self) -> BatchCount {
        BatchCount {
            calls: self.calls.load(Ordering::Relaxed),
            batches: self.batches.load(Ordering::Relaxed),
            largest: self.largest.load(Ordering::Relaxed),
            split: self.split.load(Ordering::Relaxed),
        }
    }
}

/// How a batch's shared statement failed, which decides what its callers are told.
#[derive(Debug)]
pub(crate) enum BatchFailed {
    /// The database ran the statement and refused it (a constraint, a conflict): nothing of it
    /// was stored, so each call is served again alone and gets its own answer.
    Refused,
    /// It is not known whether the statement ran (the connection broke on the way): each call
    /// is answered with this failure, never run again (it may have been done).
    Unknown(String),
}

impl BatchFailed {
    /// Classifies a driver error of the shared statement.
    pub(crate) fn of_sqlx(e: &sea_orm::sqlx::Error) -> Self {
        match e {
            sea_orm::sqlx::Error::Database(_) => Self::Refused,
            other => Self::Unknown(other.to_string()),
        }
    }
}

/// Serves a batch: `together` — the shared statement — when it holds more than one call;
/// otherwise, or when the database refused that statement, every call `alone` in turn; when
/// the shared statement's outcome is unknown, every call answered `unknown` (never run
/// twice). Returns the answers and whether a refused batch was split.
pub(crate) async fn together_or_alone<'a, I, O, Together, Alone, AloneFut>(
    batch: &'a [I],
    together: Together,
    unknown: impl Fn(&str) -> O,
    alone: Alone,
) -> (Vec<O>, bool)
where
    Together: Future<Output = Result<Vec<O>, BatchFailed>>,
    Alone: Fn(&'a I) -> AloneFut,
    AloneFut: Future<Output = O>,
{
    let shared = batch.len() > 1;
    if shared {
        match together.await {
            Ok(answers) => return (answers, false),
            Err(BatchFailed::Refused) => {}
            Err(BatchFailed::Unknown(e)) => {
                return (batch.iter().map(|_| unknown(&e)).collect(), false);
            }
        }
    }
    let mut answers = Vec::with_capacity(batch.len());
    for call in batch {
        answers.push(alone(call).await);
    }
    (answers, shared)
}

/// PostgreSQL: `inner` — a query written for one input row, naming its columns as
/// `g.<name>` — run for every row of `input` (one `(name, SQL array type, array)` per
/// column, the arrays equally long) as one query: `inner` `LEFT JOIN LATERAL` to `UNNEST` of
/// the arrays. One result row per input row, in order (all NULL where `inner` finds nothing;
/// `inner` must find at most one). `Err` with the reason when the query fails as a whole.
pub(crate) async fn for_each_input_row(
    storage: &crate::Storage,
    inner: &sea_orm::sea_query::SelectStatement,
    input: [(&str, &str, sea_orm::Value); 2],
    rows_expected: usize,
) -> Result<Vec<sea_orm::QueryResult>, String> {
    use sea_orm::ConnectionTrait;
    let (inner, mut values) = inner.build(sea_orm::sea_query::PostgresQueryBuilder);
    let (mut arrays, mut names) = (Vec::new(), Vec::new());
    for (name, sql_type, array) in input {
        values.0.push(array);
        arrays.push(format!("${}::{sql_type}[]", values.0.len()));
        names.push(name);
    }
    let sql = format!(
        "SELECT x.* FROM UNNEST({}) WITH ORDINALITY AS g({}, ord) \
         LEFT JOIN LATERAL ({inner}) AS x ON true ORDER BY g.ord",
        arrays.join(", "),
        names.join(", ")
    );
    let rows = storage
        .db()
        .query_all_raw(storage.statement(&sql, values.0))
        .await
        .map_err(|e| e.to_string())?;
    if rows.len() == rows_expected {
        Ok(rows)
    } else {
        Err(format!("{} rows for {rows_expected} asked", rows.len()))
    }
}

/// PostgreSQL: `query` planned for its own values each time it runs — an unnamed statement,
/// never a cached generic plan. A batch joins its input to a table; a generic plan made while
/// that table was small (a new database: every table starts empty) keeps a sequential scan
/// long after the table has grown (measured: two thousand rows read per submission until
/// autovacuum's next ANALYZE), where a plan made for the batch at hand looks each row up by
/// its key.
pub(crate) async fn fetch_planned_each_time<'q>(
    db: &sea_orm::DatabaseConnection,
    query: sea_orm::sqlx::query::Query<
        'q,
        sea_orm::sqlx::Postgres,
        sea_orm::sqlx::postgres::PgArguments,
    >,
) -> Result<Vec<sea_orm::sqlx::postgres::PgRow>, BatchFailed> {
    query
        .persistent(false)
        .fetch_all(db.get_postgres_connection_pool())
        .await
        .map_err(|e| BatchFailed::of_sqlx(&e))
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::Duration;

    use super::*;

    /// The batches a test coalescer was given, in order.
    type Seen = Arc<Mutex<Vec<Vec<u32>>>>;

    /// A coalescer whose batches double their inputs, take `pause` and are recorded.
    fn doubling(limits: Limits, pause: Duration) -> (Coalescer<u32, u32>, Seen, Arc<Counters>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let counters = Arc::new(Counters::default());
        let c = Coalescer::start(limits, counters.clone(), move |inputs: Vec<u32>| {
            log.lock().unwrap().push(inputs.clone());
            async move {
                tokio::time::sleep(pause).await;
                (inputs.into_iter().map(|i| i * 2).collect(), false)
            }
        });
        (c, seen, counters)
    }

    #[tokio::test]
    async fn a_lone_call_is_a_batch_of_one() {
        let (c, seen, counters) = doubling(
            Limits {
                batch: 8,
                in_flight: 1,
            },
            Duration::ZERO,
        );
        assert_eq!(c.call(21).await, Some(42));
        assert_eq!(c.call(5).await, Some(10));
        assert_eq!(*seen.lock().unwrap(), vec![vec![21], vec![5]]);
        assert_eq!(
            counters.count(),
            BatchCount {
                calls: 2,
                batches: 2,
                largest: 1,
                split: 0
            }
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn calls_queued_behind_a_busy_batch_share_the_next_and_each_gets_its_answer() {
        let (c, seen, counters) = doubling(
            Limits {
                batch: 4,
                in_flight: 1,
            },
            Duration::from_millis(50),
        );
        let c = Arc::new(c);
        let first = {
            let c = c.clone();
            tokio::spawn(async move { c.call(0).await })
        };
        tokio::time::sleep(Duration::from_millis(10)).await;
        let rest: Vec<_> = (1..=6)
            .map(|i| {
                let c = c.clone();
                tokio::spawn(async move { (i, c.call(i).await) })
            })
            .collect();
        assert_eq!(first.await.unwrap(), Some(0));
        for r in rest {
            let (i, out) = r.await.unwrap();
            assert_eq!(out, Some(i * 2));
        }
        let batches = seen.lock().unwrap().clone();
        // The first alone; the six that queued behind it in batches of at most four.
        assert_eq!(batches[0], vec![0]);
        assert!(batches[1..].iter().all(|b| b.len() <= 4), "{batches:?}");
        assert_eq!(batches.len(), 3, "{batches:?}");
        assert_eq!(
            counters.count(),
            BatchCount {
                calls: 7,
                batches: 3,
                largest: 4,
                split: 0
            }
        );
        let mut all: Vec<u32> = batches.concat();
        all.sort_unstable();
        assert_eq!(all, (0..=6).collect::<Vec<_>>());
    }

    /// Eight callers ready at once on one worker: the first call wakes the dispatcher into the
    /// worker's LIFO slot, and only its yield lets the other seven queue before it takes the
    /// batch.
    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn callers_ready_in_the_same_round_share_one_batch() {
        let (c, seen, _) = doubling(
            Limits {
                batch: 32,
                in_flight: 3,
            },
            Duration::ZERO,
        );
        let c = Arc::new(c);
        let callers: Vec<_> = (1..=8)
            .map(|i| {
                let c = c.clone();
                tokio::spawn(async move { (i, c.call(i).await) })
            })
            .collect();
        for caller in callers {
            let (i, out) = caller.await.unwrap();
            assert_eq!(out, Some(i * 2));
        }
        let batches = seen.lock().unwrap().clone();
        assert_eq!(batches.len(), 1, "{batches:?}");
        assert_eq!(batches[0].len(), 8, "{batches:?}");
    }

    #[test]
    fn a_queue_outlives_the_runtime_it_started_on() {
        let queue: Queue<u32, u32> = Queue::default();
        let limits = Limits {
            batch: 4,
            in_flight: 1,
        };
        let doubles = || |v: Vec<u32>| async move { (v.iter().map(|i| i * 2).collect(), false) };
        for i in 0..3 {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            let out = runtime.block_on(async { queue.get(limits, doubles).call(i).await });
            assert_eq!(out, Some(i * 2), "runtime {i}");
        }
        assert_eq!(queue.count().calls, 3);
    }

    #[tokio::test]
    async fn a_batch_that_panics_or_answers_short_answers_none() {
        let c: Coalescer<u32, u32> = Coalescer::start(
            Limits {
                batch: 8,
                in_flight: 2,
            },
            Arc::default(),
            |inputs: Vec<u32>| async move {
                assert!(inputs[0] != 13, "unlucky");
                (Vec::new(), false)
            },
        );
        assert_eq!(c.call(13).await, None);
        assert_eq!(c.call(1).await, None);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_caller_that_goes_away_does_not_cancel_its_batch() {
        let (c, seen, _) = doubling(
            Limits {
                batch: 8,
                in_flight: 1,
            },
            Duration::from_millis(30),
        );
        let c = Arc::new(c);
        let gone = {
            let c = c.clone();
            tokio::spawn(async move { c.call(1).await })
        };
        tokio::time::sleep(Duration::from_millis(5)).await;
        gone.abort();
        // The dispatcher is still serving: a later call is answered.
        assert_eq!(c.call(2).await, Some(4));
        assert_eq!(*seen.lock().unwrap(), vec![vec![1], vec![2]]);
    }
}
