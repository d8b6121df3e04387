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
//! Nothing leaves a key "in progress" for long:
//!
//! - once a key is claimed, the use case and the keeping of its outcome run in a task of
//!   their own, so a client that disconnects (which drops the request's future) does not
//!   cancel them halfway — the outcome is kept and the client's retry gets it; a use case that
//!   panics releases its key;
//! - a claim whose process died (crash, `SIGKILL`) before it kept an outcome is **stale**
//!   after [`CLAIM_LEASE`]: a retry of the same request (same fingerprint) then takes the key
//!   over and runs the request again. The use case may already have done its work before the
//!   crash; running it again is safe because every keyed operation refuses to do it twice — a
//!   second reading for the period is `409 reading-already-submitted`, a superseded reading is
//!   `409 reading-not-changeable`, a payment's gateway order is derived from the key — so the
//!   retry gets that refusal instead of the lost first response, never a second effect.

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

/// How long an unfinished claim belongs to the request that made it: after that, a retry of
/// the same request takes the key over (see the module doc). Longer than any request runs.
pub const CLAIM_LEASE: Duration = Duration::minutes(1);

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
    /// Keeps the response of a claimed key.
    async fn complete(
        &self,
        principal: &str,
        key: &str,
        fingerprint: &[u8; 32],
        response: &StoredResponse,
        now: OffsetDateTime,
    ) -> Result<(), ReadinessError>;
    /// Releases a claimed key without a response (the outcome is not kept).
    async fn abandon(
        &self,
        principal: &str,
        key: &str,
        fingerprint: &[u8; 32],
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

/// A claimed request's task that panicked (or was cancelled at shutdown): `internal`, the
/// cause in the log.
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
/// With a key, `work` runs in a task of its own (hence `'static`): it finishes and its
/// outcome is kept even if this future is dropped.
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
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<T, Problem>> + Send + 'static,
{
    let keyed = key.map(|key| Keyed {
        store: state.idempotency.clone(),
        clock: state.clock.clone(),
        principal: principal.to_owned(),
        key: key.to_owned(),
        fingerprint,
        status,
    });
    run_keyed(keyed, work).await
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

async fn run_keyed<T, F, Fut>(keyed: Option<Keyed>, work: F) -> Result<Outcome<T>, Problem>
where
    T: Serialize + DeserializeOwned + Send + 'static,
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<T, Problem>> + Send + 'static,
{
    let Some(keyed) = keyed else {
        return work().await.map(Outcome::Done);
    };
    match keyed
        .store
        .begin(
            &keyed.principal,
            &keyed.key,
            &keyed.fingerprint,
            keyed.clock.now(),
        )
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
    let claimed = tokio::spawn(finish(keyed, work()));
    match claimed.await {
        Ok(outcome) => outcome.map(Outcome::Done),
        Err(e) => Err(task_failed(&e)),
    }
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

/// Runs the claimed `work` to its end and keeps (or releases) the key: the body of the task
/// [`run_keyed`] spawns.
async fn finish<T, Fut>(keyed: Keyed, work: Fut) -> Result<T, Problem>
where
    T: Serialize + Send + 'static,
    Fut: Future<Output = Result<T, Problem>> + Send + 'static,
{
    // A panic in the use case must not leave the key claimed: it runs in a task of its own.
    let outcome = match tokio::spawn(work).await {
        Ok(outcome) => outcome,
        Err(e) => Err(task_failed(&e)),
    };
    let stored = keep(&outcome, keyed.status);
    let (store, principal, key) = (&keyed.store, &keyed.principal, &keyed.key);
    match stored {
        Some(stored) => {
            if let Err(e) = store
                .complete(
                    principal,
                    key,
                    &keyed.fingerprint,
                    &stored,
                    keyed.clock.now(),
                )
                .await
            {
                // The work is done; not keeping its outcome only loses the replay.
                tracing::error!(error = %e, "cannot keep an idempotent response");
            }
        }
        None => {
            if let Err(e) = store.abandon(principal, key, &keyed.fingerprint).await {
                tracing::error!(error = %e, "cannot release an idempotency key");
            }
        }
    }
    outcome
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    use super::*;

    /// A key's claim: the fingerprint of the request that holds it and, once kept, its response.
    type Claim = ([u8; 32], Option<StoredResponse>);

    /// Keys in memory, with the storage adapter's semantics for what these tests use.
    #[derive(Default)]
    struct MemoryKeys {
        keys: Mutex<HashMap<(String, String), Claim>>,
    }

    impl MemoryKeys {
        fn get(&self, key: &str) -> Option<Claim> {
            let keys = self.keys.lock().unwrap();
            keys.get(&("p".to_owned(), key.to_owned())).cloned()
        }
    }

    #[async_trait::async_trait]
    impl IdempotencyStore for MemoryKeys {
        async fn begin(
            &self,
            principal: &str,
            key: &str,
            fingerprint: &[u8; 32],
            _now: OffsetDateTime,
        ) -> Result<Begin, ReadinessError> {
            let mut keys = self.keys.lock().unwrap();
            let id = (principal.to_owned(), key.to_owned());
            Ok(match keys.get(&id) {
                None => {
                    keys.insert(id, (*fingerprint, None));
                    Begin::Fresh
                }
                Some((f, _)) if f != fingerprint => Begin::Mismatch,
                Some((_, None)) => Begin::InProgress,
                Some((_, Some(r))) => Begin::Replay(r.clone()),
            })
        }

        async fn complete(
            &self,
            principal: &str,
            key: &str,
            fingerprint: &[u8; 32],
            response: &StoredResponse,
            _now: OffsetDateTime,
        ) -> Result<(), ReadinessError> {
            let mut keys = self.keys.lock().unwrap();
            match keys.get_mut(&(principal.to_owned(), key.to_owned())) {
                Some((f, r @ None)) if f == fingerprint => {
                    *r = Some(response.clone());
                    Ok(())
                }
                _ => Err(ReadinessError("not claimed".into())),
            }
        }

        async fn abandon(
            &self,
            principal: &str,
            key: &str,
            fingerprint: &[u8; 32],
        ) -> Result<(), ReadinessError> {
            let mut keys = self.keys.lock().unwrap();
            let id = (principal.to_owned(), key.to_owned());
            if matches!(keys.get(&id), Some((f, None)) if f == fingerprint) {
                keys.remove(&id);
            }
            Ok(())
        }
    }

    struct FixedClock;

    impl identity_core::ports::Clock for FixedClock {
        fn now(&self) -> OffsetDateTime {
            time::macros::datetime!(2026-11-24 12:00 UTC)
        }
    }

    fn keyed(store: &Arc<MemoryKeys>, key: &str) -> Option<Keyed> {
        Some(Keyed {
            store: store.clone(),
            clock: Arc::new(FixedClock),
            principal: "p".to_owned(),
            key: key.to_owned(),
            fingerprint: [7; 32],
            status: 201,
        })
    }

    /// Waits (yielding, at most ~10 s) until the key has a kept response.
    async fn kept_response(store: &MemoryKeys, key: &str) -> StoredResponse {
        for _ in 0..1000 {
            if let Some((_, Some(r))) = store.get(key) {
                return r;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("the key {key} never got its response");
    }

    #[tokio::test]
    async fn a_request_dropped_midway_still_finishes_and_keeps_its_outcome() {
        let store = Arc::new(MemoryKeys::default());
        let (started_tx, started) = tokio::sync::oneshot::channel::<()>();
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        let request = run_keyed(keyed(&store, "k"), move || async move {
            started_tx.send(()).unwrap();
            released.await.unwrap();
            Ok::<u32, Problem>(42)
        });
        // The client goes away while the use case runs: the request's future is dropped.
        tokio::select! {
            _ = request => panic!("the request cannot finish before it is released"),
            _ = started => {}
        }
        assert_eq!(
            store.get("k").map(|(_, r)| r),
            Some(None),
            "claimed, running"
        );
        release.send(()).unwrap();
        let response = kept_response(&store, "k").await;
        assert_eq!(response.status, 201);
        // The retry gets the outcome of the first request; its own work never runs.
        let retry = run_keyed(keyed(&store, "k"), || async {
            panic!("a replay must not run the use case");
            #[allow(unreachable_code)]
            Ok::<u32, Problem>(0)
        })
        .await
        .unwrap();
        assert!(matches!(retry, Outcome::Replayed(42)), "{retry:?}");
    }

    #[tokio::test]
    async fn a_panicking_use_case_releases_its_key() {
        let store = Arc::new(MemoryKeys::default());
        let failed = run_keyed(keyed(&store, "k"), || async {
            panic!("a bug in the use case");
            #[allow(unreachable_code)]
            Ok::<u32, Problem>(0)
        })
        .await
        .unwrap_err();
        assert_eq!(failed.kind, ProblemType::Internal);
        assert_eq!(store.get("k"), None, "released, not left in progress");
        let retry = run_keyed(keyed(&store, "k"), || async { Ok::<u32, Problem>(5) })
            .await
            .unwrap();
        assert!(matches!(retry, Outcome::Done(5)), "{retry:?}");
        assert_eq!(kept_response(&store, "k").await.status, 201);
    }

    #[tokio::test]
    async fn refusals_are_kept_and_failures_are_not() {
        let store = Arc::new(MemoryKeys::default());
        let refused = run_keyed(keyed(&store, "r"), || async {
            Err::<u32, Problem>(Problem::new(ProblemType::ReadingRejected))
        })
        .await
        .unwrap_err();
        assert_eq!(refused.kind, ProblemType::ReadingRejected);
        assert_eq!(kept_response(&store, "r").await.status, 422);
        let again = run_keyed(keyed(&store, "r"), || async { Ok::<u32, Problem>(1) })
            .await
            .unwrap_err();
        assert_eq!(again.kind, ProblemType::ReadingRejected);
        let down = run_keyed(keyed(&store, "u"), || async {
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
