//! The `Idempotency-Key` header on the POSTs that create readings or money, with the
//! semantics Stripe documents:
//!
//! - the same key with the same request (method, path and body, as parsed) → the first
//!   response again, with `Idempotent-Replayed: true` on a success;
//! - the same key with a different request → `422 idempotency-key-reused`;
//! - while the first request with a key is still running → `409 idempotency-key-in-progress`;
//! - keys are scoped to the caller (a subscriber cannot replay another's key) and kept for
//!   [`KEY_TTL`] (24 h).
//!
//! What is kept is the outcome of the use case: its result, or the refusal it answered
//! (`reading-rejected`, …). Requests refused before the use case ran (a malformed body, a
//! field that does not parse), `429 rate-limited` and `5xx` are not kept, so retrying them
//! with the same key runs them again.
//!
//! Nothing leaves a key "in progress" for long, and nothing runs twice at once:
//!
//! - claiming the key, running the use case and keeping its outcome happen in a task of their
//!   own (tracked by [`AppState::tasks`], which a graceful shutdown waits for, up to its grace
//!   period), so a client that disconnects — which drops the request's future at whatever
//!   await it was — does not cancel them halfway: the outcome is kept and the client's retry
//!   gets it; a use case that panics releases its key;
//! - while the use case runs, its claim is renewed every [`RENEW_EVERY`], so a slow request
//!   is not taken for a crashed one (the key still expires [`KEY_TTL`] after it was claimed);
//! - a claim neither made nor renewed for [`CLAIM_LEASE`] is **stale** — its process died
//!   (crash, `SIGKILL`) before it kept an outcome — and a retry of the same request (same
//!   fingerprint) then takes the key over and runs the request again. Every later step of a
//!   claim names the claim (fingerprint and claim time), so the first holder, were it still
//!   alive, can no longer keep or release the key. The use case may have done its work before
//!   the crash; running it again does not do it twice: a second reading for the period is
//!   refused (`409 reading-already-submitted`), a superseded reading cannot be corrected again
//!   (`409 reading-not-changeable`), and a payment's gateway order is derived from the key, so
//!   the retry resumes the same payment.

use std::future::Future;

use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

use crate::AppState;
use crate::problem::{Problem, ProblemType};
use crate::state::ReadinessError;

/// The request header.
pub const HEADER: &str = "Idempotency-Key";

/// The response header set on a replayed success.
pub const REPLAYED_HEADER: &str = "Idempotent-Replayed";

/// How long a key is kept.
pub const KEY_TTL: Duration = Duration::hours(24);

/// How long an unfinished claim belongs to the request that made it without being renewed:
/// after that, a retry of the same request takes the key over (see the module doc).
pub const CLAIM_LEASE: Duration = Duration::minutes(1);

/// How often a running request renews its claim: a third of [`CLAIM_LEASE`]. Each attempt
/// has half of this to answer, so two renewals can fail before the claim goes stale.
pub const RENEW_EVERY: std::time::Duration = std::time::Duration::from_secs(20);

/// The longest key accepted.
pub const KEY_MAX_LEN: usize = 255;

/// A response kept for a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredResponse {
    /// Its HTTP status.
    pub status: u16,
    /// Its body (this module's own JSON envelope).
    pub body: Vec<u8>,
}

/// What the store found for a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Begin {
    /// The key is new (or expired): run the request.
    Fresh,
    /// The key was used for this request, which completed.
    Replay(StoredResponse),
    /// A request with this key is still running.
    InProgress,
    /// The key was used for another request.
    Mismatch,
}

/// Where keys are kept (the service's database).
#[async_trait::async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Claims `key` of `principal` for the request with `fingerprint`.
    async fn begin(
        &self,
        principal: &str,
        key: &str,
        fingerprint: &[u8; 32],
        now: OffsetDateTime,
    ) -> Result<Begin, ReadinessError>;
    /// Keeps the response of the claim made at `claimed_at` (the `now` given to
    /// [`begin`](Self::begin)).
    #[allow(
        clippy::too_many_arguments,
        reason = "the claim's coordinates and the response; a struct would only rename them"
    )]
    async fn complete(
        &self,
        principal: &str,
        key: &str,
        fingerprint: &[u8; 32],
        claimed_at: OffsetDateTime,
        response: &StoredResponse,
        now: OffsetDateTime,
    ) -> Result<(), ReadinessError>;
    /// Says at `now` that the claim made at `claimed_at` is still running. `false`: the claim
    /// is no longer this request's (taken over after it went stale).
    async fn renew(
        &self,
        principal: &str,
        key: &str,
        fingerprint: &[u8; 32],
        claimed_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, ReadinessError>;
    /// Releases the claim made at `claimed_at` without a response (the outcome is not kept).
    async fn abandon(
        &self,
        principal: &str,
        key: &str,
        fingerprint: &[u8; 32],
        claimed_at: OffsetDateTime,
    ) -> Result<(), ReadinessError>;
}

/// The fingerprint of a request: SHA-256 over the operation and the request as parsed (so
/// the same fields in another order or spacing are the same request).
pub fn fingerprint(operation: &str, request: &impl Serialize) -> [u8; 32] {
    let body = serde_json::to_vec(request).unwrap_or_default();
    let mut h = Sha256::new();
    h.update(b"abonent/idempotency/v1\0");
    h.update(operation.as_bytes());
    h.update(b"\0");
    h.update(&body);
    h.finalize().into()
}

/// The key from the header: 1–255 printable ASCII characters, or a problem naming the
/// header.
pub fn parse_key(raw: Option<&str>) -> Result<Option<String>, Problem> {
    let Some(raw) = raw else { return Ok(None) };
    let ok =
        (1..=KEY_MAX_LEN).contains(&raw.len()) && raw.bytes().all(|b| (0x21..=0x7e).contains(&b));
    if ok {
        Ok(Some(raw.to_owned()))
    } else {
        let mut p = Problem::with_detail(
            ProblemType::InvalidRequest,
            "Ключ повтора запроса должен состоять из 1–255 латинских букв, цифр или знаков.",
        );
        p.reason = Some(format!(
            "header `{HEADER}` must be 1 to {KEY_MAX_LEN} printable ASCII characters"
        ));
        Err(p)
    }
}

/// The kept outcome.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
enum Envelope<T> {
    Ok(T),
    Problem {
        slug: String,
        detail: Option<String>,
        reason: Option<String>,
    },
}

/// The result of [`run`]: done now, or the kept result of an earlier request.
#[derive(Debug)]
pub enum Outcome<T> {
    /// Done by this request.
    Done(T),
    /// Kept from the first request with the key.
    Replayed(T),
}

impl<T> Outcome<T> {
    /// The result.
    pub fn into_inner(self) -> T {
        match self {
            Outcome::Done(t) | Outcome::Replayed(t) => t,
        }
    }

    /// `Some("true")` for a replay: the value of [`REPLAYED_HEADER`].
    pub fn replayed_header(&self) -> Option<String> {
        matches!(self, Outcome::Replayed(_)).then(|| "true".to_owned())
    }
}

fn kept(problem: &Problem) -> bool {
    let status = problem.kind.status();
    status.is_client_error() && problem.kind != ProblemType::RateLimited
}

/// A claimed request's task that panicked (or was cancelled because the runtime is going
/// away): `internal`, the cause in the log.
fn task_failed(e: &tokio::task::JoinError) -> Problem {
    tracing::error!(error = %e, "an idempotent request failed");
    Problem::new(ProblemType::Internal)
}

fn store_failed(e: &ReadinessError) -> Problem {
    Problem::unavailable("idempotency keys", e)
}

/// Runs `work` under `key` (if any) of `principal`: the first time for real, afterwards the
/// kept outcome. `status` is the success status `work`'s result is answered with.
///
/// With a key, the claim, `work` and the keeping of its outcome run in a task of their own
/// (hence `'static`): they finish even if this future is dropped.
pub async fn run<T, F, Fut>(
    state: &AppState,
    principal: &str,
    key: Option<&str>,
    fingerprint: [u8; 32],
    status: u16,
    work: F,
) -> Result<Outcome<T>, Problem>
where
    T: Serialize + DeserializeOwned + Send + 'static,
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = Result<T, Problem>> + Send + 'static,
{
    let Some(key) = key else {
        return work().await.map(Outcome::Done);
    };
    let keyed = Keyed {
        store: state.idempotency.clone(),
        clock: state.clock.clone(),
        principal: principal.to_owned(),
        key: key.to_owned(),
        fingerprint,
        status,
    };
    run_keyed(&state.tasks, keyed, work).await
}

/// A claim's coordinates: what [`run`] needs of the state, owned so the claimed work can
/// outlive the request.
struct Keyed {
    store: std::sync::Arc<dyn IdempotencyStore>,
    clock: std::sync::Arc<dyn identity_core::ports::Clock>,
    principal: String,
    key: String,
    fingerprint: [u8; 32],
    status: u16,
}

async fn run_keyed<T, F, Fut>(
    tasks: &tokio_util::task::TaskTracker,
    keyed: Keyed,
    work: F,
) -> Result<Outcome<T>, Problem>
where
    T: Serialize + DeserializeOwned + Send + 'static,
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = Result<T, Problem>> + Send + 'static,
{
    match tasks.spawn(claim_and_run(keyed, work)).await {
        Ok(outcome) => outcome,
        Err(e) => Err(task_failed(&e)),
    }
}

/// Claims the key and, if it is fresh, runs `work` and keeps its outcome; otherwise answers
/// what the key holds. The body of the task [`run_keyed`] spawns.
async fn claim_and_run<T, F, Fut>(keyed: Keyed, work: F) -> Result<Outcome<T>, Problem>
where
    T: Serialize + DeserializeOwned + Send + 'static,
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<T, Problem>> + Send + 'static,
{
    let claimed_at = keyed.clock.now();
    match keyed
        .store
        .begin(&keyed.principal, &keyed.key, &keyed.fingerprint, claimed_at)
        .await
        .map_err(|e| store_failed(&e))?
    {
        Begin::Fresh => {}
        Begin::InProgress => return Err(Problem::new(ProblemType::IdempotencyKeyInProgress)),
        Begin::Mismatch => {
            let mut p = Problem::new(ProblemType::IdempotencyKeyReused);
            p.reason = Some(format!(
                "the `{HEADER}` was first used with another method, path or body"
            ));
            return Err(p);
        }
        Begin::Replay(stored) => {
            return match serde_json::from_slice::<Envelope<T>>(&stored.body) {
                Ok(Envelope::Ok(t)) => Ok(Outcome::Replayed(t)),
                Ok(Envelope::Problem {
                    slug,
                    detail,
                    reason,
                }) => {
                    let kind = ProblemType::from_slug(&slug).unwrap_or(ProblemType::InvalidRequest);
                    let mut p = Problem::new(kind);
                    p.detail = detail;
                    p.reason = reason;
                    Err(p)
                }
                Err(e) => Err(Problem::unavailable("a kept idempotent response", &e)),
            };
        }
    }
    finish(&keyed, claimed_at, work()).await.map(Outcome::Done)
}

/// What is kept of `outcome` (answered with `status` on success): `None` when it is not kept
/// (see [`kept`]) or cannot be encoded (logged; the key is then released).
fn keep<T: Serialize>(outcome: &Result<T, Problem>, status: u16) -> Option<StoredResponse> {
    let (envelope, answered) = match outcome {
        Ok(t) => (Envelope::Ok(t), status),
        Err(p) if kept(p) => (
            Envelope::Problem {
                slug: p.kind.slug().to_owned(),
                detail: p.detail.clone(),
                reason: p.reason.clone(),
            },
            p.kind.status().as_u16(),
        ),
        Err(_) => return None,
    };
    match serde_json::to_vec(&envelope) {
        Ok(body) => Some(StoredResponse {
            status: answered,
            body,
        }),
        Err(e) => {
            tracing::error!(error = %e, "cannot encode an idempotent response");
            None
        }
    }
}

/// Runs the claimed `work` to its end, renewing the claim made at `claimed_at` meanwhile,
/// and keeps (or releases) the key.
async fn finish<T, Fut>(keyed: &Keyed, claimed_at: OffsetDateTime, work: Fut) -> Result<T, Problem>
where
    T: Serialize + Send + 'static,
    Fut: Future<Output = Result<T, Problem>> + Send + 'static,
{
    let (store, principal, key) = (&keyed.store, &keyed.principal, &keyed.key);
    let fingerprint = &keyed.fingerprint;
    // A panic in the use case must not leave the key claimed: it runs in a task of its own.
    let mut running = tokio::spawn(work);
    // The outcome wins at once, even over a renewal under way.
    let outcome = tokio::select! {
        biased;
        joined = &mut running => joined.unwrap_or_else(|e| Err(task_failed(&e))),
        never = renew_while_running(keyed, claimed_at) => match never {},
    };
    match keep(&outcome, keyed.status) {
        Some(stored) => {
            let now = keyed.clock.now();
            if let Err(e) = store
                .complete(principal, key, fingerprint, claimed_at, &stored, now)
                .await
            {
                // The work is done; not keeping its outcome only loses the replay.
                tracing::error!(error = %e, "cannot keep an idempotent response");
            }
        }
        None => {
            if let Err(e) = store.abandon(principal, key, fingerprint, claimed_at).await {
                tracing::error!(error = %e, "cannot release an idempotency key");
            }
        }
    }
    outcome
}

/// Renews the claim made at `claimed_at` every [`RENEW_EVERY`], each attempt given half of
/// that to answer, until the claim turns out to be no longer this request's; never returns
/// (the caller drops it when the work is done).
async fn renew_while_running(
    keyed: &Keyed,
    claimed_at: OffsetDateTime,
) -> std::convert::Infallible {
    let (store, principal, key) = (&keyed.store, &keyed.principal, &keyed.key);
    let start = tokio::time::Instant::now() + RENEW_EVERY;
    let mut ticks = tokio::time::interval_at(start, RENEW_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let now = keyed.clock.now();
        let renewal = store.renew(principal, key, &keyed.fingerprint, claimed_at, now);
        match tokio::time::timeout(RENEW_EVERY / 2, renewal).await {
            Ok(Ok(true)) => {}
            Ok(Ok(false)) => {
                tracing::warn!("an idempotency key's claim was taken over while its request ran");
                return std::future::pending().await;
            }
            Ok(Err(e)) => tracing::error!(error = %e, "cannot renew an idempotency key's claim"),
            Err(_) => tracing::error!("renewing an idempotency key's claim timed out"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    use tokio_util::task::TaskTracker;

    use super::*;

    /// A key's claim: the request that holds it, when, how often it was renewed and, once
    /// kept, its response.
    #[derive(Clone, Debug, PartialEq)]
    struct Claim {
        fingerprint: [u8; 32],
        claimed_at: OffsetDateTime,
        renewals: u32,
        response: Option<StoredResponse>,
    }

    /// Keys in memory, with the storage adapter's semantics for what these tests use. With
    /// `slow_claims`, `begin` claims the key and then waits to be told to answer (the claim is
    /// made, the caller has not heard of it yet).
    #[derive(Default)]
    struct MemoryKeys {
        keys: Mutex<HashMap<(String, String), Claim>>,
        slow_claims: Option<Arc<tokio::sync::Notify>>,
        renew_calls: std::sync::atomic::AtomicU32,
    }

    impl MemoryKeys {
        fn get(&self, key: &str) -> Option<Claim> {
            let keys = self.keys.lock().unwrap();
            keys.get(&("p".to_owned(), key.to_owned())).cloned()
        }

        fn response(&self, key: &str) -> Option<StoredResponse> {
            self.get(key).and_then(|c| c.response)
        }

        /// Applies `change` to the claim (`fingerprint`, `claimed_at`) if the key still holds
        /// it unfinished; whether it did.
        fn with_claim(
            &self,
            key: &str,
            fingerprint: &[u8; 32],
            claimed_at: OffsetDateTime,
            change: impl FnOnce(&mut HashMap<(String, String), Claim>, (String, String)),
        ) -> bool {
            let mut keys = self.keys.lock().unwrap();
            let id = ("p".to_owned(), key.to_owned());
            let holds = matches!(keys.get(&id), Some(c) if c.fingerprint == *fingerprint
                && c.claimed_at == claimed_at && c.response.is_none());
            if holds {
                change(&mut keys, id);
            }
            holds
        }
    }

    #[async_trait::async_trait]
    impl IdempotencyStore for MemoryKeys {
        async fn begin(
            &self,
            principal: &str,
            key: &str,
            fingerprint: &[u8; 32],
            now: OffsetDateTime,
        ) -> Result<Begin, ReadinessError> {
            let found = {
                let mut keys = self.keys.lock().unwrap();
                let id = (principal.to_owned(), key.to_owned());
                match keys.get(&id) {
                    None => {
                        let claim = Claim {
                            fingerprint: *fingerprint,
                            claimed_at: now,
                            renewals: 0,
                            response: None,
                        };
                        keys.insert(id, claim);
                        Begin::Fresh
                    }
                    Some(c) if c.fingerprint != *fingerprint => Begin::Mismatch,
                    Some(Claim { response: None, .. }) => Begin::InProgress,
                    Some(Claim {
                        response: Some(r), ..
                    }) => Begin::Replay(r.clone()),
                }
            };
            if let Some(answer) = &self.slow_claims {
                answer.notified().await;
            }
            Ok(found)
        }

        async fn complete(
            &self,
            _principal: &str,
            key: &str,
            fingerprint: &[u8; 32],
            claimed_at: OffsetDateTime,
            response: &StoredResponse,
            _now: OffsetDateTime,
        ) -> Result<(), ReadinessError> {
            let kept = self.with_claim(key, fingerprint, claimed_at, |keys, id| {
                keys.get_mut(&id).unwrap().response = Some(response.clone());
            });
            if kept {
                Ok(())
            } else {
                Err(ReadinessError("not claimed".into()))
            }
        }

        async fn renew(
            &self,
            _principal: &str,
            key: &str,
            fingerprint: &[u8; 32],
            claimed_at: OffsetDateTime,
            _now: OffsetDateTime,
        ) -> Result<bool, ReadinessError> {
            self.renew_calls
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(self.with_claim(key, fingerprint, claimed_at, |keys, id| {
                keys.get_mut(&id).unwrap().renewals += 1;
            }))
        }

        async fn abandon(
            &self,
            _principal: &str,
            key: &str,
            fingerprint: &[u8; 32],
            claimed_at: OffsetDateTime,
        ) -> Result<(), ReadinessError> {
            self.with_claim(key, fingerprint, claimed_at, |keys, id| {
                keys.remove(&id);
            });
            Ok(())
        }
    }

    struct FixedClock;

    impl identity_core::ports::Clock for FixedClock {
        fn now(&self) -> OffsetDateTime {
            time::macros::datetime!(2026-11-24 12:00 UTC)
        }
    }

    fn keyed(store: &Arc<MemoryKeys>, key: &str) -> Keyed {
        Keyed {
            store: store.clone(),
            clock: Arc::new(FixedClock),
            principal: "p".to_owned(),
            key: key.to_owned(),
            fingerprint: [7; 32],
            status: 201,
        }
    }

    /// Runs `work` under `key` as [`run`] does, on a tracker of its own.
    async fn run_key<T, F, Fut>(
        store: &Arc<MemoryKeys>,
        key: &str,
        work: F,
    ) -> Result<Outcome<T>, Problem>
    where
        T: Serialize + DeserializeOwned + Send + 'static,
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, Problem>> + Send + 'static,
    {
        run_keyed(&TaskTracker::new(), keyed(store, key), work).await
    }

    /// A request with key `k` whose use case answers 1 once released, running on its own.
    fn waiting_request(
        store: &Arc<MemoryKeys>,
    ) -> (
        tokio::task::JoinHandle<Result<Outcome<u32>, Problem>>,
        tokio::sync::oneshot::Sender<()>,
    ) {
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        let store = store.clone();
        let request = tokio::spawn(async move {
            run_key(&store, "k", move || async move {
                released.await.unwrap();
                Ok::<u32, Problem>(1)
            })
            .await
        });
        (request, release)
    }

    #[tokio::test]
    async fn a_request_dropped_midway_still_finishes_and_keeps_its_outcome() {
        let store = Arc::new(MemoryKeys::default());
        let tasks = TaskTracker::new();
        let (started_tx, started) = tokio::sync::oneshot::channel::<()>();
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        let request = run_keyed(&tasks, keyed(&store, "k"), move || async move {
            started_tx.send(()).unwrap();
            released.await.unwrap();
            Ok::<u32, Problem>(42)
        });
        // The client goes away while the use case runs: the request's future is dropped.
        tokio::select! {
            _ = request => panic!("the request cannot finish before it is released"),
            _ = started => {}
        }
        assert_eq!(store.get("k").map(|c| c.response), Some(None), "running");
        release.send(()).unwrap();
        // What a graceful shutdown waits for: the tracker's tasks, this one among them.
        tasks.close();
        tasks.wait().await;
        assert_eq!(store.response("k").map(|r| r.status), Some(201));
        // The retry gets the outcome of the first request; its own work never runs.
        let retry = run_key(&store, "k", || async {
            panic!("a replay must not run the use case");
            #[allow(unreachable_code)]
            Ok::<u32, Problem>(0)
        })
        .await
        .unwrap();
        assert!(matches!(retry, Outcome::Replayed(42)), "{retry:?}");
    }

    #[tokio::test]
    async fn a_request_dropped_while_claiming_still_runs() {
        let answer = Arc::new(tokio::sync::Notify::new());
        let store = Arc::new(MemoryKeys {
            slow_claims: Some(answer.clone()),
            ..MemoryKeys::default()
        });
        let tasks = TaskTracker::new();
        let (ran_tx, ran) = tokio::sync::oneshot::channel::<()>();
        let request = run_keyed(&tasks, keyed(&store, "k"), move || async move {
            ran_tx.send(()).unwrap();
            Ok::<u32, Problem>(7)
        });
        // The claim is made, the store has not answered yet, and the client goes away.
        tokio::select! {
            _ = request => panic!("the claim has not been answered"),
            () = async { while store.get("k").is_none() { tokio::task::yield_now().await } } => {}
        }
        answer.notify_one();
        tasks.close();
        tasks.wait().await;
        ran.await.expect("the claimed request ran");
        assert_eq!(store.response("k").map(|r| r.status), Some(201));
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_request_renews_its_claim_until_it_is_done() {
        let store = Arc::new(MemoryKeys::default());
        let (request, release) = waiting_request(&store);
        // Time runs on while the use case waits (the paused clock skips ahead when idle).
        tokio::time::sleep(RENEW_EVERY * 3 + std::time::Duration::from_secs(1)).await;
        assert_eq!(store.get("k").map(|c| c.renewals), Some(3));
        release.send(()).unwrap();
        let done = request.await.unwrap().unwrap();
        assert!(matches!(done, Outcome::Done(1)), "{done:?}");
        // Done, it no longer renews.
        tokio::time::sleep(RENEW_EVERY * 2).await;
        let claim = store.get("k").unwrap();
        assert_eq!(
            (claim.renewals, claim.response.map(|r| r.status)),
            (3, Some(201))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_whose_claim_was_taken_over_stops_renewing_it() {
        let store = Arc::new(MemoryKeys::default());
        let (request, release) = waiting_request(&store);
        tokio::time::sleep(RENEW_EVERY + std::time::Duration::from_secs(1)).await;
        // The claim went stale (say, the store was unreachable) and a retry took it over.
        let takeover = identity_core::ports::Clock::now(&FixedClock) + Duration::minutes(2);
        store.keys.lock().unwrap().values_mut().for_each(|c| {
            c.claimed_at = takeover;
        });
        tokio::time::sleep(RENEW_EVERY * 4).await;
        let calls = store.renew_calls.load(std::sync::atomic::Ordering::SeqCst);
        assert_eq!(
            calls, 2,
            "renewed once, then found the claim gone and stopped"
        );
        release.send(()).unwrap();
        let done = request.await.unwrap().unwrap();
        assert!(matches!(done, Outcome::Done(1)), "{done:?}");
        // Its outcome is not kept over the new holder's claim.
        let claim = store.get("k").unwrap();
        assert_eq!((claim.renewals, claim.response), (1, None));
    }

    #[tokio::test]
    async fn a_panicking_use_case_releases_its_key() {
        let store = Arc::new(MemoryKeys::default());
        let failed = run_key(&store, "k", || async {
            panic!("a bug in the use case");
            #[allow(unreachable_code)]
            Ok::<u32, Problem>(0)
        })
        .await
        .unwrap_err();
        assert_eq!(failed.kind, ProblemType::Internal);
        assert_eq!(store.get("k"), None, "released, not left in progress");
        let retry = run_key(&store, "k", || async { Ok::<u32, Problem>(5) })
            .await
            .unwrap();
        assert!(matches!(retry, Outcome::Done(5)), "{retry:?}");
        assert_eq!(store.response("k").map(|r| r.status), Some(201));
    }

    #[tokio::test]
    async fn refusals_are_kept_and_failures_are_not() {
        let store = Arc::new(MemoryKeys::default());
        let refused = run_key(&store, "r", || async {
            Err::<u32, Problem>(Problem::new(ProblemType::ReadingRejected))
        })
        .await
        .unwrap_err();
        assert_eq!(refused.kind, ProblemType::ReadingRejected);
        assert_eq!(store.response("r").map(|r| r.status), Some(422));
        let again = run_key(&store, "r", || async { Ok::<u32, Problem>(1) })
            .await
            .unwrap_err();
        assert_eq!(again.kind, ProblemType::ReadingRejected);
        let down = run_key(&store, "u", || async {
            Err::<u32, Problem>(Problem::new(ProblemType::ServiceUnavailable))
        })
        .await
        .unwrap_err();
        assert_eq!(down.kind, ProblemType::ServiceUnavailable);
        assert_eq!(store.get("u"), None);
    }

    #[test]
    fn keys_are_printable_ascii_up_to_255() {
        assert_eq!(parse_key(None).unwrap(), None);
        assert_eq!(
            parse_key(Some("a-9_Z:~")).unwrap().as_deref(),
            Some("a-9_Z:~")
        );
        assert!(parse_key(Some(&"k".repeat(255))).is_ok());
        for bad in ["", "has space", "ключ", &"k".repeat(256), "tab\t"] {
            let p = parse_key(Some(bad)).unwrap_err();
            assert_eq!(p.kind, ProblemType::InvalidRequest, "{bad:?}");
        }
    }

    #[test]
    fn fingerprints_depend_on_operation_and_request() {
        let a = fingerprint("POST /x", &serde_json::json!({"a": 1, "b": [1, 2]}));
        assert_eq!(
            a,
            fingerprint("POST /x", &serde_json::json!({"b": [1, 2], "a": 1}))
        );
        assert_ne!(
            a,
            fingerprint("POST /y", &serde_json::json!({"a": 1, "b": [1, 2]}))
        );
        assert_ne!(
            a,
            fingerprint("POST /x", &serde_json::json!({"a": 2, "b": [1, 2]}))
        );
    }

    #[test]
    fn only_client_errors_but_rate_limits_are_kept() {
        assert!(kept(&Problem::new(ProblemType::ReadingRejected)));
        assert!(kept(&Problem::new(ProblemType::ReadingAlreadySubmitted)));
        assert!(!kept(&Problem::new(ProblemType::RateLimited)));
        assert!(!kept(&Problem::new(ProblemType::ServiceUnavailable)));
        assert!(!kept(&Problem::new(ProblemType::Internal)));
    }
}
