//! The payment gateway's notifications: `POST /webhooks/payments` (a plain route, outside the
//! OpenAPI document — a gateway, not a client, calls it, and the signature covers the raw
//! bytes).
//!
//! **Authentication** is the signature, Stripe-style: the header
//! `Abonent-Signature: t=<unix seconds>,v1=<hex>` where `v1` is HMAC-SHA256 keyed with the
//! webhook secret over `"<t>." ‖ body`. Several `v1=` may be given (a secret being rotated) and
//! several secrets may be configured; one match is enough. The comparison is constant-time
//! ([`hmac::Mac::verify_slice`]). A notification is refused with 400
//! `webhook-signature-invalid` when the header is missing, malformed or matches no secret, and
//! with 400 `webhook-timestamp-out-of-tolerance` when `t` is further than the tolerance (5
//! minutes by default) from the service's clock — a captured request cannot be replayed later.
//! The body is read whole (at most [`MAX_BODY`]) and verified **before** it is parsed.
//!
//! **Processing** is [`billing_core::online::OnlinePayments::on_event`]: idempotent, any order,
//! any number of times — a duplicate answers 200 and credits nothing. A notification about a
//! payment the service has not recorded yet (it overtook the start) is 409
//! `payment-not-yet-known`, so the gateway delivers it again later; a storage failure is 503
//! (retried too). A status that contradicts the recorded final state is acknowledged (200) and
//! logged as an error for an operator: retrying would not change it.
//!
//! **Wire format** (the sandbox gateway's, modelled on real acquirers'):
//! `{"id":"evt_…","type":"payment.succeeded"|"payment.failed"|"payment.pending"|"refund.succeeded",
//! "created_at":"…","data":{"payment":{"id":"sbx_…","status":"…","amount":"1234.50",
//! "refunded":"0.00","currency":"RUB","failure_reason":null,…}}}`. Unknown event types are
//! acknowledged and ignored; unknown fields are ignored.

use std::time::Duration;

use billing_core::money::Money;
use billing_core::online::{EventError, EventOutcome, GatewayEvent, GatewayStatus};
use billing_core::ports::GatewayPaymentId;
use hmac::{Hmac, KeyInit, Mac};
use identity_core::secret::Secret;
use poem::web::{Data, Json};
use poem::{Body, IntoResponse, Request, Response, handler};
use serde::Deserialize;
use sha2::Sha256;

use crate::AppState;
use crate::problem::{Problem, ProblemType, response};

/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "Abonent-Signature";

/// The largest notification body read, in bytes.
pub const MAX_BODY: usize = 64 * 1024;

/// The longest signature header accepted, in bytes.
const MAX_HEADER: usize = 1024;

/// The default distance allowed between a signature's timestamp and the clock.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

/// How notifications are authenticated.
#[derive(Clone, Debug)]
pub struct WebhookSettings {
    /// The secrets a signature may be made with (the current one first; more while rotating).
    pub secrets: Vec<Secret<Vec<u8>>>,
    /// The largest distance between the signature's timestamp and the clock.
    pub tolerance: Duration,
}

/// Signing and verifying notification signatures (pure functions, shared with the sandbox
/// gateway through the server so the format is defined once).
pub mod signature {
    use super::{Hmac, KeyInit, MAX_HEADER, Mac, Sha256};

    /// Why a signature was refused.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
    pub enum SignatureError {
        /// No header, a header over 1 KiB, no `t=`, a non-numeric `t`, or no `v1=` of 64 hex
        /// characters.
        #[error("signature header missing or malformed")]
        Malformed,
        /// The timestamp is outside the tolerance.
        #[error("signature timestamp out of tolerance")]
        OutOfTolerance,
        /// No `v1` matches any secret.
        #[error("signature does not match")]
        Mismatch,
    }

    fn mac(secret: &[u8], timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
        // HMAC takes a key of any length: `new_from_slice` cannot fail for it.
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret)
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }

    /// The header value signing `body` at `timestamp` (unix seconds) with `secret`:
    /// `t=<timestamp>,v1=<hex HMAC-SHA256(secret, "<timestamp>." ‖ body)>`.
    pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
        let tag = mac(secret, timestamp, body).finalize().into_bytes();
        format!("t={timestamp},v1={}", hex::encode(tag))
    }

    /// Checks `header` against `body`: well-formed, its timestamp within `tolerance_s` seconds
    /// of `now` (unix seconds), and one of its `v1` tags made with one of `secrets`
    /// (constant-time comparison).
    pub fn verify(
        header: Option<&str>,
        body: &[u8],
        now: i64,
        secrets: &[&[u8]],
        tolerance_s: i64,
    ) -> Result<(), SignatureError> {
        let header = header
            .filter(|h| h.len() <= MAX_HEADER)
            .ok_or(SignatureError::Malformed)?;
        let mut timestamp = None;
        let mut tags = Vec::new();
        for part in header.split(',') {
            let (key, value) = part
                .trim()
                .split_once('=')
                .ok_or(SignatureError::Malformed)?;
            match key {
                "t" if timestamp.is_none() => {
                    let t = value
                        .parse::<i64>()
                        .map_err(|_| SignatureError::Malformed)?;
                    timestamp = Some(t);
                }
                "t" => return Err(SignatureError::Malformed),
                "v1" => {
                    let tag = hex::decode(value).map_err(|_| SignatureError::Malformed)?;
                    if tag.len() != 32 {
                        return Err(SignatureError::Malformed);
                    }
                    tags.push(tag);
                }
                // Other schemes (a future `v2`) are ignored, as Stripe does.
                _ => {}
            }
        }
        let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
        if tags.is_empty() {
            return Err(SignatureError::Malformed);
        }
        if now.abs_diff(timestamp) > tolerance_s.unsigned_abs() {
            return Err(SignatureError::OutOfTolerance);
        }
        let matched = secrets.iter().any(|secret| {
            tags.iter()
                .any(|tag| mac(secret, timestamp, body).verify_slice(tag).is_ok())
        });
        if matched {
            Ok(())
        } else {
            Err(SignatureError::Mismatch)
        }
    }
}

#[derive(Deserialize)]
struct WireEvent {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    data: WireData,
}

#[derive(Deserialize)]
struct WireData {
    payment: WirePayment,
}

#[derive(Deserialize)]
struct WirePayment {
    id: String,
    #[serde(default)]
    refunded: Option<String>,
    #[serde(default)]
    failure_reason: Option<String>,
}

/// The gateway status a notification carries; `None` for a type this service ignores.
fn status_of(event: &WireEvent) -> Result<Option<GatewayStatus>, Problem> {
    Ok(Some(match event.kind.as_str() {
        "payment.pending" => GatewayStatus::Pending,
        "payment.succeeded" => GatewayStatus::Succeeded,
        "payment.failed" => GatewayStatus::Failed {
            reason: event
                .data
                .payment
                .failure_reason
                .clone()
                .unwrap_or_default(),
        },
        "refund.succeeded" => {
            let amount = event
                .data
                .payment
                .refunded
                .as_deref()
                .and_then(|r| r.parse::<Money>().ok())
                .ok_or_else(|| invalid("data.payment.refunded is not an amount"))?;
            GatewayStatus::Refunded { amount }
        }
        _ => return Ok(None),
    }))
}

fn invalid(reason: &str) -> Problem {
    let mut p = Problem::new(ProblemType::InvalidRequest);
    p.reason = Some(reason.to_owned());
    p
}

fn outcome_tag(outcome: EventOutcome) -> &'static str {
    match outcome {
        EventOutcome::MarkedPending => "marked_pending",
        EventOutcome::Credited => "credited",
        EventOutcome::Failed => "failed",
        EventOutcome::Unchanged => "unchanged",
    }
}

fn acknowledged(outcome: &str) -> Response {
    Json(serde_json::json!({ "received": true, "outcome": outcome })).into_response()
}

/// `POST /webhooks/payments`: verifies, parses and applies a gateway notification.
#[handler]
pub async fn payment_webhook(req: &Request, body: Body, state: Data<&AppState>) -> Response {
    match receive(req, body, &state).await {
        Ok(outcome) => acknowledged(outcome),
        Err(problem) => response(&problem),
    }
}

async fn receive(req: &Request, body: Body, state: &AppState) -> Result<&'static str, Problem> {
    let bytes = body.into_bytes_limit(MAX_BODY).await.map_err(|e| {
        if matches!(e, poem::error::ReadBodyError::PayloadTooLarge) {
            Problem::new(ProblemType::PayloadTooLarge)
        } else {
            invalid("the body could not be read")
        }
    })?;
    let header = req
        .headers()
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok());
    let settings = &state.webhooks;
    let secrets: Vec<&[u8]> = settings
        .secrets
        .iter()
        .map(|s| s.expose().as_slice())
        .collect();
    let now = state.clock.now().unix_timestamp();
    let tolerance = i64::try_from(settings.tolerance.as_secs()).unwrap_or(i64::MAX);
    signature::verify(header, &bytes, now, &secrets, tolerance).map_err(|e| {
        tracing::warn!(error = %e, "payment webhook refused");
        Problem::new(match e {
            signature::SignatureError::OutOfTolerance => {
                ProblemType::WebhookTimestampOutOfTolerance
            }
            _ => ProblemType::WebhookSignatureInvalid,
        })
    })?;
    let event: WireEvent = serde_json::from_slice(&bytes)
        .map_err(|_| invalid("the body is not a payment notification"))?;
    let Some(status) = status_of(&event)? else {
        tracing::info!(event = %event.id, kind = %event.kind, "payment webhook of an ignored type");
        return Ok("ignored");
    };
    let payment = GatewayPaymentId::parse(&event.data.payment.id)
        .map_err(|_| invalid("data.payment.id is not a gateway payment id"))?;
    let applied = state
        .payments
        .on_event(GatewayEvent { payment, status })
        .await;
    match applied {
        Ok(a) => {
            tracing::info!(
                event = %event.id,
                kind = %event.kind,
                payment = a.payment.id.get(),
                outcome = outcome_tag(a.outcome),
                "payment webhook applied"
            );
            Ok(outcome_tag(a.outcome))
        }
        Err(EventError::PaymentNotYetKnown) => {
            tracing::info!(event = %event.id, "payment webhook for a payment not yet recorded");
            Err(Problem::new(ProblemType::PaymentNotYetKnown))
        }
        Err(EventError::Contradicts { state }) => {
            tracing::error!(
                event = %event.id,
                kind = %event.kind,
                gateway_payment = %event.data.payment.id,
                ?state,
                "gateway status contradicts the recorded payment: needs an operator"
            );
            Ok("contradicts")
        }
        Err(e @ (EventError::Ledger(_) | EventError::Repo(_))) => {
            Err(Problem::unavailable("apply a payment webhook", &e))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::signature::{SignatureError, sign, verify};

    const SECRET: &[u8] = b"whsec_test";

    #[test]
    fn a_signed_body_verifies_within_tolerance() {
        let header = sign(SECRET, 1_700_000_000, b"{}");
        assert_eq!(
            verify(Some(&header), b"{}", 1_700_000_299, &[SECRET], 300),
            Ok(())
        );
        assert_eq!(
            verify(Some(&header), b"{}", 1_699_999_701, &[SECRET], 300),
            Ok(())
        );
    }

    #[test]
    fn a_stale_or_future_timestamp_is_refused() {
        let header = sign(SECRET, 1_700_000_000, b"{}");
        assert_eq!(
            verify(Some(&header), b"{}", 1_700_000_301, &[SECRET], 300),
            Err(SignatureError::OutOfTolerance)
        );
        assert_eq!(
            verify(Some(&header), b"{}", 1_699_999_699, &[SECRET], 300),
            Err(SignatureError::OutOfTolerance)
        );
    }

    #[test]
    fn a_changed_body_or_another_secret_is_a_mismatch() {
        let header = sign(SECRET, 1_700_000_000, b"{\"a\":1}");
        assert_eq!(
            verify(Some(&header), b"{\"a\":2}", 1_700_000_000, &[SECRET], 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(Some(&header), b"{\"a\":1}", 1_700_000_000, &[b"other"], 300),
            Err(SignatureError::Mismatch)
        );
        // The timestamp is signed: moving it breaks the tag.
        let moved = header.replace("t=1700000000", "t=1700000001");
        assert_eq!(
            verify(Some(&moved), b"{\"a\":1}", 1_700_000_000, &[SECRET], 300),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn rotation_accepts_any_listed_secret_and_any_v1() {
        let old = sign(b"old", 10, b"x");
        let new = sign(SECRET, 10, b"x");
        let both = format!(
            "{},{}",
            new,
            old.split_once(',').map(|(_, v)| v).unwrap_or("")
        );
        assert_eq!(verify(Some(&both), b"x", 10, &[b"old"], 300), Ok(()));
        assert_eq!(verify(Some(&old), b"x", 10, &[SECRET, b"old"], 300), Ok(()));
    }

    #[test]
    fn malformed_headers_are_refused() {
        let good_tag = "0".repeat(64);
        for header in [
            None,
            Some(String::new()),
            Some("t=10".to_owned()),
            Some(format!("v1={good_tag}")),
            Some(format!("t=abc,v1={good_tag}")),
            Some(format!("t=10,t=11,v1={good_tag}")),
            Some("t=10,v1=zz".to_owned()),
            Some("t=10,v1=00".to_owned()),
            Some(format!("t=10,v1={good_tag},{}", "x".repeat(1100))),
        ] {
            assert_eq!(
                verify(header.as_deref(), b"x", 10, &[SECRET], 300),
                Err(SignatureError::Malformed),
                "{header:?}"
            );
        }
    }
}
