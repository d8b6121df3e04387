//! The sandbox's own pages (only when the sandbox providers are selected): the inbox of every
//! SMS and email the service "sent", as JSON for scripts and tests and as an HTML page for
//! people.
//!
//! - `GET /sandbox/messages?to=&after=&limit=` — JSON, oldest first; `after` is the last id a
//!   poller has seen.
//! - `GET /sandbox/inbox?to=` — the latest messages as a page.
//! - `GET /sandbox/clock`, `POST /sandbox/clock` `{"advance_seconds": n}` or
//!   `{"offset_seconds": n}` — the service's clock (both cores, codes, sessions, the readings
//!   window) runs ahead of real time by the offset, so a walkthrough can let a code expire or
//!   submit a reading after the window closes without waiting.
//!
//! The outbox holds codes and links in clear text: that is what a sandbox is for, and why the
//! sandbox is never served with real providers (docs/security.md).

use std::fmt::Write as _;
use std::sync::Arc;

use fake_providers::AdjustableClock;
use fake_providers::store::{SandboxStore, StoredMessage};
use http_api::pages::escape;
use poem::http::StatusCode;
use poem::web::{Data, Html, Json, Query};
use poem::{EndpointExt, Route, get, handler};
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

/// Most messages one request returns.
pub const MAX_MESSAGES: u32 = 500;

#[derive(Deserialize)]
struct MessagesQuery {
    to: Option<String>,
    after: Option<u64>,
    limit: Option<u32>,
}

#[handler]
async fn messages(
    store: Data<&Arc<dyn SandboxStore>>,
    Query(q): Query<MessagesQuery>,
) -> poem::Result<Json<Vec<StoredMessage>>> {
    let limit = q.limit.unwrap_or(100).clamp(1, MAX_MESSAGES);
    let to = q.to.as_deref().map(str::trim).filter(|t| !t.is_empty());
    store
        .messages(to, q.after, limit)
        .await
        .map(Json)
        .map_err(|e| {
            tracing::error!(error = %e, "sandbox outbox read failed");
            poem::Error::from_status(StatusCode::SERVICE_UNAVAILABLE)
        })
}

#[derive(Deserialize)]
struct InboxQuery {
    to: Option<String>,
}

#[handler]
async fn inbox(
    store: Data<&Arc<dyn SandboxStore>>,
    Query(q): Query<InboxQuery>,
) -> poem::Result<Html<String>> {
    let to = q.to.as_deref().map(str::trim).filter(|t| !t.is_empty());
    let list = store.messages(to, None, 100).await.map_err(|e| {
        tracing::error!(error = %e, "sandbox outbox read failed");
        poem::Error::from_status(StatusCode::SERVICE_UNAVAILABLE)
    })?;
    let mut page = String::from(
        "<!doctype html><html lang=\"ru\"><head><meta charset=\"utf-8\">\
         <title>Песочница: входящие</title><style>body{font-family:sans-serif;max-width:60rem;\
         margin:2rem auto}article{border:1px solid #ccc;border-radius:6px;padding:.5rem 1rem;\
         margin:.5rem 0}pre{white-space:pre-wrap}small{color:#666}</style></head><body>\
         <h1>Песочница: отправленные SMS и письма</h1>\
         <form><input name=\"to\" placeholder=\"телефон или email\"> <button>Найти</button></form>",
    );
    if list.is_empty() {
        page.push_str("<p>Сообщений нет.</p>");
    }
    for m in list.iter().rev() {
        let _ = write!(
            page,
            "<article><small>#{} · {} · {} · {}</small>{}<pre>{}</pre></article>",
            m.id,
            m.message.channel.as_str(),
            escape(&m.message.recipient),
            m.message.created_at,
            m.message
                .subject
                .as_deref()
                .map(|s| format!("<h3>{}</h3>", escape(s)))
                .unwrap_or_default(),
            escape(&m.message.body),
        );
    }
    page.push_str("</body></html>");
    Ok(Html(page))
}

#[derive(Serialize)]
struct ClockState {
    /// Seconds the clock runs ahead of real time.
    offset_seconds: i64,
    /// The service's now.
    #[serde(with = "time::serde::rfc3339")]
    now: OffsetDateTime,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockChange {
    advance_seconds: Option<i64>,
    offset_seconds: Option<i64>,
}

fn clock_state(clock: &AdjustableClock) -> ClockState {
    ClockState {
        offset_seconds: clock.offset().whole_seconds(),
        now: clock.now(),
    }
}

#[handler]
async fn read_clock(clock: Data<&Arc<AdjustableClock>>) -> Json<ClockState> {
    Json(clock_state(&clock))
}

/// Keeps the sandbox clock still while work that reads it once and acts on that reading for a
/// while is under way.
///
/// A maintenance pass reads `now` at its start and purges what is older than `now` minus the
/// retention; were the clock moved days back meanwhile (a walkthrough or a test going back to
/// the readings window), the pass would purge what was written a moment ago at the new time —
/// an `Idempotency-Key` just claimed, a code just sent. Such work holds [`ClockGate::steady`]
/// for its whole length, and a move of the clock waits for it (and holds off new passes until
/// it is made), so each pass sees one time throughout. Clones share the gate.
#[derive(Clone, Debug, Default)]
pub struct ClockGate(Arc<tokio::sync::RwLock<()>>);

impl ClockGate {
    /// Waits until no move of the clock is under way; the clock does not move while the
    /// guard lives.
    pub async fn steady(&self) -> tokio::sync::RwLockReadGuard<'_, ()> {
        self.0.read().await
    }

    /// Waits until no [`steady`](Self::steady) guard is held; none is given while this one
    /// lives.
    async fn moving(&self) -> tokio::sync::RwLockWriteGuard<'_, ()> {
        self.0.write().await
    }
}

/// Applies `change` to `clock` once no work holding `gate` steady is under way.
async fn move_clock(
    clock: &AdjustableClock,
    gate: &ClockGate,
    change: ClockChange,
) -> poem::Result<ClockState> {
    let _moving = gate.moving().await;
    let result = match (change.advance_seconds, change.offset_seconds) {
        (Some(s), None) => clock.advance(Duration::seconds(s)).map(|_| ()),
        (None, Some(s)) => clock.set_offset(Duration::seconds(s)),
        _ => {
            return Err(poem::Error::from_string(
                "give exactly one of advance_seconds and offset_seconds",
                StatusCode::BAD_REQUEST,
            ));
        }
    };
    result.map_err(|e| poem::Error::from_string(e.to_string(), StatusCode::BAD_REQUEST))?;
    tracing::info!(offset = %clock.offset(), "sandbox clock moved");
    Ok(clock_state(clock))
}

#[handler]
async fn set_clock(
    clock: Data<&Arc<AdjustableClock>>,
    gate: Data<&ClockGate>,
    Json(change): Json<ClockChange>,
) -> poem::Result<Json<ClockState>> {
    move_clock(&clock, &gate, change).await.map(Json)
}

/// The sandbox routes, to nest under `/sandbox`. A move of the clock waits for the work that
/// holds `gate` steady.
pub fn routes(store: Arc<dyn SandboxStore>, clock: Arc<AdjustableClock>, gate: ClockGate) -> Route {
    Route::new()
        .at("/messages", get(messages).data(Arc::clone(&store)))
        .at("/inbox", get(inbox).data(store))
        .at(
            "/clock",
            get(read_clock).post(set_clock).data(clock).data(gate),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A move of the clock waits while a pass holds it steady, and is made once the pass ends.
    #[tokio::test]
    async fn the_clock_does_not_move_under_a_steady_pass() {
        let clock = Arc::new(AdjustableClock::default());
        let gate = ClockGate::default();
        let pass = gate.steady().await;
        let mover = tokio::spawn({
            let (clock, gate) = (Arc::clone(&clock), gate.clone());
            async move {
                let back = ClockChange {
                    advance_seconds: None,
                    offset_seconds: Some(-4 * 86_400),
                };
                move_clock(&clock, &gate, back)
                    .await
                    .map(|s| s.offset_seconds)
            }
        });
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
        assert!(!mover.is_finished(), "the clock moved under a steady pass");
        assert_eq!(clock.offset(), Duration::ZERO);
        drop(pass);
        assert_eq!(mover.await.unwrap().unwrap(), -4 * 86_400);
        assert_eq!(clock.offset(), Duration::days(-4));
        // And a pass that starts after the move sees the moved clock.
        let _pass = gate.steady().await;
        assert_eq!(clock.offset(), Duration::days(-4));
    }
}
