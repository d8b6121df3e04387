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

fn store_failed(e: &ReadinessError) -> Problem {
    Problem::unavailable("idempotency keys", e)
}

/// Runs `work` under `key` (if any) of `principal`: the first time for real, afterwards the
/// kept outcome. `status` is the success status `work`'s result is answered with.
pub async fn run<T, F, Fut>(
    state: &AppState,
    principal: &str,
    key: Option<&str>,
    fingerprint: [u8; 32],
    status: u16,
    work: F,
) -> Result<Outcome<T>, Problem>
where
    T: Serialize + DeserializeOwned,
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<T, Problem>>,
{
    let Some(key) = key else {
        return work().await.map(Outcome::Done);
    };
    let store = &state.idempotency;
    let now = state.clock.now();
    match store
        .begin(principal, key, &fingerprint, now)
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
    let outcome = work().await;
    let (envelope, answered) = match &outcome {
        Ok(t) => (Some(Envelope::Ok(t)), status),
        Err(p) if kept(p) => (
            Some(Envelope::Problem {
                slug: p.kind.slug().to_owned(),
                detail: p.detail.clone(),
                reason: p.reason.clone(),
            }),
            p.kind.status().as_u16(),
        ),
        Err(_) => (None, 0),
    };
    match envelope {
        Some(envelope) => {
            let body = serde_json::to_vec(&envelope)
                .map_err(|e| Problem::unavailable("keep an idempotent response", &e))?;
            let stored = StoredResponse {
                status: answered,
                body,
            };
            if let Err(e) = store
                .complete(principal, key, &fingerprint, &stored, state.clock.now())
                .await
            {
                // The work is done; not keeping its outcome only loses the replay.
                tracing::error!(error = %e, "cannot keep an idempotent response");
            }
        }
        None => {
            if let Err(e) = store.abandon(principal, key, &fingerprint).await {
                tracing::error!(error = %e, "cannot release an idempotency key");
            }
        }
    }
    outcome.map(Outcome::Done)
}

#[cfg(test)]
mod tests {
    use super::*;

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
