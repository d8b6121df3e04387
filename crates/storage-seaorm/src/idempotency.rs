//! Storage for HTTP idempotency keys (Stripe's semantics), as inherent methods on [`Storage`]:
//! a client retries a POST with the same `Idempotency-Key`; the same key with the same request
//! gets the first response again, the same key with a different request is refused, and a
//! duplicate sent while the first one still runs is told it is in progress. Keys are scoped by
//! the caller's `principal` (who sent them) and kept for a TTL the caller chooses (24 h).
//!
//! One row of `idempotency_keys` per (`principal`, `key`) holds the request's `fingerprint`
//! (a SHA-256 the HTTP layer computes over the request), when it was claimed (`created_at`),
//! when the running request last renewed its claim (`renewed_at`) and, once it completed, its
//! response (`status`, `body`, `completed_at`; NULL while it runs).
//!
//! On PostgreSQL the two statements a keyed request always sends — the new key's `INSERT`
//! and the response's `UPDATE` — are shared by the requests that arrive together
//! ([`crate::coalesce`]): one multi-row `INSERT … SELECT … FROM UNNEST … RETURNING` whose
//! returned keys are the new ones, one `UPDATE … FROM UNNEST … RETURNING` whose returned keys
//! are the completed ones. A batch that names one key twice is served one call at a time, so
//! concurrent claims of one key still have exactly one winner.
//!
//! A **claim** is identified by its fingerprint and its claim time (`created_at`, the `now`
//! the caller passed to `begin`): every later call of the claimant names both, so a request
//! whose claim was taken over can no longer complete, release or renew the key.
//!
//! - [`Storage::idempotency_begin`] claims a key with at most three statements, each atomic
//!   on its own: `INSERT … ON CONFLICT (principal, key) DO NOTHING` (a row inserted: the key
//!   is new, [`IdempotencyBegin::Fresh`]); otherwise ONE conditional `UPDATE … WHERE principal
//!   = $p AND key = $k AND created_at < $now - ttl` that takes an expired row over, resetting
//!   its fingerprint, claim time and response (a row updated: `Fresh`); the same UPDATE takes
//!   over a **stale claim** of the same request — same fingerprint, no response, neither
//!   claimed nor renewed since `now - lease` — which is what a process that crashed while
//!   running the request leaves behind (its retry would otherwise be told "in progress" until
//!   the key expires). However many callers race for one key, new, expired or stale, exactly
//!   one of them gets `Fresh`: on PostgreSQL a racing INSERT waits for the winner's and then
//!   conflicts, a racing UPDATE waits for the winner's row lock and then no longer matches
//!   (the row is no longer expired or stale); SQLite runs one writer at a time. Otherwise the
//!   row is read and compared: another fingerprint is [`IdempotencyBegin::Mismatch`], no
//!   response yet [`IdempotencyBegin::InProgress`], else [`IdempotencyBegin::Replay`]. If the
//!   row vanished (or expired, or went stale) between the statements, the claim starts over
//!   (a bounded number of times).
//! - [`Storage::idempotency_renew`] records that the claimant is still running, so a slow
//!   request is not taken for a crashed one.
//! - [`Storage::idempotency_complete`] stores the response only while the claim is still the
//!   caller's — same fingerprint and claim time, no response yet — so a request that outlived
//!   its claim cannot overwrite the response of the request that took the key over.
//! - [`Storage::idempotency_abandon`] deletes the claim on the same condition; a completed key
//!   is kept (its response is what retries must get).
//! - [`Storage::idempotency_purge`] deletes the keys claimed before a time.
//!
//! A stale claim of another request is not taken over (that is still
//! [`IdempotencyBegin::Mismatch`]): the key belongs to the request that first used it until
//! it expires.
//!
//! Inputs are checked here too (the HTTP layer checks them first): `principal` is 1 to 64
//! characters and `key` 1 to 255 printable ASCII characters (`!` to `~`, no space); anything
//! else is a [`PortError`], as is a negative TTL.

use identity_core::ports::PortError;
use sea_orm::{ConnectionTrait, QueryResult};
use time::OffsetDateTime;

use std::sync::Arc;

use crate::coalesce::{
    BatchFailed, Coalescer, Limits, Queue, fetch_planned_each_time, together_or_alone,
};
use crate::convert::{Row, to_nanos};
use crate::error::port;
use crate::storage::{Backend, Storage};

/// What `idempotency_begin` found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IdempotencyBegin {
    /// The key is new (or its earlier use expired): the caller runs the request and then calls
    /// `idempotency_complete` or `idempotency_abandon`.
    Fresh,
    /// The key was used for the same request, which completed: its stored response.
    Replay {
        /// The stored HTTP status.
        status: u16,
        /// The stored response body.
        body: Vec<u8>,
    },
    /// The key is being used by a request still running.
    InProgress,
    /// The key was used for a different request (another fingerprint).
    Mismatch,
}

const TABLE: &str = "idempotency_keys";

/// How many times [`Storage::idempotency_begin`] starts over when the row it found a moment
/// ago is gone (abandoned or purged in between) or expired.
const ATTEMPTS: usize = 3;

/// The longest principal, in characters (`VARCHAR(64)`).
const MAX_PRINCIPAL_CHARS: usize = 64;
/// The longest key, in bytes (`VARCHAR(255)`, ASCII only).
const MAX_KEY_LEN: usize = 255;

fn check(principal: &str, key: &str) -> Result<(), PortError> {
    let chars = principal.chars().count();
    if chars == 0 || chars > MAX_PRINCIPAL_CHARS {
        return Err(PortError::new(format!(
            "idempotency principal must be 1 to {MAX_PRINCIPAL_CHARS} characters, not {chars}"
        )));
    }
    if key.is_empty() || key.len() > MAX_KEY_LEN {
        return Err(PortError::new(format!(
            "idempotency key must be 1 to {MAX_KEY_LEN} characters, not {}",
            key.len()
        )));
    }
    if !key.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        return Err(PortError::new(
            "idempotency key must be printable ASCII without spaces",
        ));
    }
    Ok(())
}

/// `now - ttl` as stored nanoseconds: rows created before it have expired (or, for the
/// lease, claims made before it are stale). A cutoff before the storable range is clamped
/// (nothing is that old).
fn cutoff(now: OffsetDateTime, ttl: time::Duration) -> Result<i64, PortError> {
    if ttl.is_negative() {
        return Err(PortError::new(format!(
            "idempotency ttl and lease must not be negative, not {ttl}"
        )));
    }
    let now = i128::from(to_nanos(now)?);
    let cutoff = now.saturating_sub(ttl.whole_nanoseconds());
    Ok(i64::try_from(cutoff).unwrap_or(i64::MIN))
}

/// The stored row as `begin` judges it, for a caller with `fingerprint`.
fn judge(
    row: &QueryResult,
    at: &Row,
    fingerprint: &[u8; 32],
) -> Result<IdempotencyBegin, PortError> {
    let fail = |e| port("read an idempotency key", e);
    let stored: Vec<u8> = row.try_get("", "fingerprint").map_err(fail)?;
    if stored.len() != 32 {
        return Err(at
            .bad(
                "fingerprint",
                format!("expected 32 bytes, found {}", stored.len()),
            )
            .into());
    }
    if stored != fingerprint {
        return Ok(IdempotencyBegin::Mismatch);
    }
    let status: Option<i32> = row.try_get("", "status").map_err(fail)?;
    let Some(status) = status else {
        return Ok(IdempotencyBegin::InProgress);
    };
    let status = u16::try_from(status)
        .map_err(|_| at.bad("status", format!("{status} is not an HTTP status")))?;
    let body: Option<Vec<u8>> = row.try_get("", "body").map_err(fail)?;
    let body = body.ok_or_else(|| at.bad("body", "missing while status is set"))?;
    Ok(IdempotencyBegin::Replay { status, body })
}

impl Storage {
    /// Claims (`principal`, `key`) for a request with `fingerprint` at `now`. A row older than
    /// `now - ttl` counts as absent, and so does an unfinished claim with the same
    /// `fingerprint` neither made nor renewed since `now - lease` (a stale claim); either is
    /// taken over atomically. A `Fresh` claim is the caller's under (`fingerprint`, `now`):
    /// pass both to [`Storage::idempotency_renew`], [`Storage::idempotency_complete`] and
    /// [`Storage::idempotency_abandon`].
    ///
    /// However many callers race for one new, expired or stale key, exactly one gets
    /// [`IdempotencyBegin::Fresh`]; the others see the winner's claim (`InProgress`, or
    /// `Mismatch` for another fingerprint). A bad `principal` or `key`, or a negative `ttl`
    /// or `lease`, is a [`PortError`].
    pub async fn idempotency_begin(
        &self,
        principal: &str,
        key: &str,
        fingerprint: &[u8; 32],
        now: OffsetDateTime,
        ttl: time::Duration,
        lease: time::Duration,
    ) -> Result<IdempotencyBegin, PortError> {
        check(principal, key)?;
        let stale = cutoff(now, lease)?;
        let cutoff = cutoff(now, ttl)?;
        let now = to_nanos(now)?;
        let at = Row::new(TABLE, format!("{principal} {key}"));
        let fail = |e| port("claim an idempotency key", e);
        let mut inserted_already_tried = false;
        if self.backend() == Backend::Postgres {
            // The common case — a new key — in a statement shared with the concurrent claims;
            // a key that exists goes on below (taken over or judged).
            let claim = NewClaim {
                principal: principal.to_owned(),
                key: key.to_owned(),
                fingerprint: fingerprint.to_vec(),
                now,
            };
            let inserted = self.key_claims().call(claim).await.unwrap_or_else(|| {
                Err(PortError::new(
                    "claim an idempotency key: the batch of claims was lost",
                ))
            })?;
            if inserted {
                return Ok(IdempotencyBegin::Fresh);
            }
            inserted_already_tried = true;
        }
        for _ in 0..ATTEMPTS {
            if !std::mem::take(&mut inserted_already_tried) {
                let insert = self.statement(
                    "INSERT INTO idempotency_keys (principal, \"key\", fingerprint, created_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (principal, \"key\") DO NOTHING",
                    [
                        principal.into(),
                        key.into(),
                        fingerprint.to_vec().into(),
                        now.into(),
                    ],
                );
                if self
                    .db()
                    .execute_raw(insert)
                    .await
                    .map_err(fail)?
                    .rows_affected()
                    == 1
                {
                    return Ok(IdempotencyBegin::Fresh);
                }
            }
            let take_over = self.statement(
                "UPDATE idempotency_keys \
                 SET fingerprint = $1, created_at = $2, renewed_at = NULL, \
                     status = NULL, body = NULL, completed_at = NULL \
                 WHERE principal = $3 AND \"key\" = $4 AND (created_at < $5 \
                     OR (status IS NULL AND fingerprint = $1 \
                         AND COALESCE(renewed_at, created_at) < $6))",
                [
                    fingerprint.to_vec().into(),
                    now.into(),
                    principal.into(),
                    key.into(),
                    cutoff.into(),
                    stale.into(),
                ],
            );
            if self
                .db()
                .execute_raw(take_over)
                .await
                .map_err(fail)?
                .rows_affected()
                == 1
            {
                return Ok(IdempotencyBegin::Fresh);
            }
            let read = self.statement(
                "SELECT fingerprint, created_at, renewed_at, status, body FROM idempotency_keys \
                 WHERE principal = $1 AND \"key\" = $2",
                [principal.into(), key.into()],
            );
            let Some(row) = self.db().query_one_raw(read).await.map_err(fail)? else {
                continue; // abandoned or purged since the INSERT: claim it again
            };
            let created_at: i64 = row.try_get("", "created_at").map_err(fail)?;
            if created_at < cutoff {
                continue; // another claim, already expired: take it over
            }
            let renewed_at: Option<i64> = row.try_get("", "renewed_at").map_err(fail)?;
            let found = judge(&row, &at, fingerprint)?;
            if found == IdempotencyBegin::InProgress && renewed_at.unwrap_or(created_at) < stale {
                continue; // a claim of this request gone stale since the UPDATE: take it over
            }
            return Ok(found);
        }
        Err(PortError::new(format!(
            "claim an idempotency key: it kept changing over {ATTEMPTS} attempts"
        )))
    }

    /// Stores the response of the claim (`fingerprint`, `claimed_at`). Returns false if the
    /// claim is gone (abandoned, expired, taken over).
    ///
    /// The response is stored only while the key holds that claim and no response yet, so a
    /// second `complete` of the same claim also returns false and changes nothing.
    #[allow(
        clippy::too_many_arguments,
        reason = "the claim's coordinates and the response; a struct would only rename them"
    )]
    pub async fn idempotency_complete(
        &self,
        principal: &str,
        key: &str,
        fingerprint: &[u8; 32],
        claimed_at: OffsetDateTime,
        status: u16,
        body: &[u8],
        now: OffsetDateTime,
    ) -> Result<bool, PortError> {
        check(principal, key)?;
        let outcome = Outcome {
            principal: principal.to_owned(),
            key: key.to_owned(),
            fingerprint: fingerprint.to_vec(),
            claimed_at: to_nanos(claimed_at)?,
            status: i32::from(status),
            body: body.to_vec(),
            now: to_nanos(now)?,
        };
        if self.backend() == Backend::Postgres {
            return self.key_outcomes().call(outcome).await.unwrap_or_else(|| {
                Err(PortError::new(
                    "complete an idempotency key: the batch of outcomes was lost",
                ))
            });
        }
        complete_alone(self, &outcome).await
    }

    /// Releases the unfinished claim (`fingerprint`, `claimed_at`) (the request failed before
    /// doing anything); a completed one is kept. Returns whether a row was deleted.
    ///
    /// Only that claim is released, so a request cannot release another request's takeover of
    /// its key.
    pub async fn idempotency_abandon(
        &self,
        principal: &str,
        key: &str,
        fingerprint: &[u8; 32],
        claimed_at: OffsetDateTime,
    ) -> Result<bool, PortError> {
        check(principal, key)?;
        let statement = self.statement(
            "DELETE FROM idempotency_keys \
             WHERE principal = $1 AND \"key\" = $2 AND fingerprint = $3 AND created_at = $4 \
               AND status IS NULL",
            [
                principal.into(),
                key.into(),
                fingerprint.to_vec().into(),
                to_nanos(claimed_at)?.into(),
            ],
        );
        self.changes_one(statement, "abandon an idempotency key")
            .await
    }

    /// Records at `now` that the claimant of (`fingerprint`, `claimed_at`) is still running, so
    /// its claim does not go stale. Returns false if the claim is no longer there to renew
    /// (completed, released, expired or taken over).
    pub async fn idempotency_renew(
        &self,
        principal: &str,
        key: &str,
        fingerprint: &[u8; 32],
        claimed_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, PortError> {
        check(principal, key)?;
        let statement = self.statement(
            "UPDATE idempotency_keys SET renewed_at = $1 \
             WHERE principal = $2 AND \"key\" = $3 AND fingerprint = $4 AND created_at = $5 \
               AND status IS NULL",
            [
                to_nanos(now)?.into(),
                principal.into(),
                key.into(),
                fingerprint.to_vec().into(),
                to_nanos(claimed_at)?.into(),
            ],
        );
        self.changes_one(statement, "renew an idempotency key")
            .await
    }

    /// Runs `statement` (one claim's UPDATE or DELETE); whether it changed the row.
    async fn changes_one(
        &self,
        statement: sea_orm::Statement,
        what: &'static str,
    ) -> Result<bool, PortError> {
        let done = self
            .db()
            .execute_raw(statement)
            .await
            .map_err(|e| port(what, e))?;
        Ok(done.rows_affected() == 1)
    }

    /// Deletes keys created before `before`; returns how many.
    pub async fn idempotency_purge(&self, before: OffsetDateTime) -> Result<u64, PortError> {
        let statement = self.statement(
            "DELETE FROM idempotency_keys WHERE created_at < $1",
            [to_nanos(before)?.into()],
        );
        let done = self
            .db()
            .execute_raw(statement)
            .await
            .map_err(|e| port("purge idempotency keys", e))?;
        Ok(done.rows_affected())
    }
}

/// PostgreSQL: a claim's first attempt, an INSERT of a new key (see
/// [`Storage::idempotency_begin`]), as queued for a shared statement.
pub(crate) struct NewClaim {
    principal: String,
    key: String,
    fingerprint: Vec<u8>,
    now: i64,
}

/// A completed request's response, to store under its claim (see
/// [`Storage::idempotency_complete`]).
pub(crate) struct Outcome {
    principal: String,
    key: String,
    fingerprint: Vec<u8>,
    claimed_at: i64,
    status: i32,
    body: Vec<u8>,
    now: i64,
}

/// PostgreSQL: the queue of new keys' INSERTs served in batches ([`crate::coalesce`]); each
/// answers whether its key was inserted.
pub(crate) type KeyClaims = Queue<NewClaim, Result<bool, PortError>>;

/// PostgreSQL: the queue of responses stored in batches; each answers whether its claim was
/// there to complete.
pub(crate) type KeyOutcomes = Queue<Outcome, Result<bool, PortError>>;

/// Keys per batch at most, and batches in flight at most, for each queue.
const KEY_LIMITS: Limits = Limits {
    batch: 32,
    in_flight: 2,
};

impl Storage {
    /// The new keys' queue, started on first use (see `Storage::corrections`).
    fn key_claims(&self) -> Arc<Coalescer<NewClaim, Result<bool, PortError>>> {
        self.key_claims.get(KEY_LIMITS, || {
            let storage = Storage::over(self.db().clone(), self.backend());
            move |batch| {
                let storage = storage.clone();
                async move { claim_all(&storage, batch).await }
            }
        })
    }

    /// The responses' queue, started on first use.
    fn key_outcomes(&self) -> Arc<Coalescer<Outcome, Result<bool, PortError>>> {
        self.key_outcomes.get(KEY_LIMITS, || {
            let storage = Storage::over(self.db().clone(), self.backend());
            move |batch| {
                let storage = storage.clone();
                async move { complete_all(&storage, batch).await }
            }
        })
    }
}

/// Whether two of `batch` name the same (principal, key): such a batch is served one by one,
/// so that each answer is the one it would have had alone.
fn names_a_key_twice<'a>(mut keys: impl Iterator<Item = (&'a str, &'a str)>) -> bool {
    let mut seen = std::collections::HashSet::new();
    keys.any(|k| !seen.insert(k))
}

/// The INSERT of one new key; whether it was inserted.
async fn claim_alone(storage: &Storage, c: &NewClaim) -> Result<bool, PortError> {
    let insert = storage.statement(
        "INSERT INTO idempotency_keys (principal, \"key\", fingerprint, created_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (principal, \"key\") DO NOTHING",
        [
            c.principal.as_str().into(),
            c.key.as_str().into(),
            c.fingerprint.clone().into(),
            c.now.into(),
        ],
    );
    storage
        .changes_one(insert, "claim an idempotency key")
        .await
}

/// Serves one batch of new keys: alone, or as one `INSERT … SELECT … FROM UNNEST … ON
/// CONFLICT DO NOTHING RETURNING` whose returned keys are the inserted ones; one by one when
/// a key is named twice or the database refuses that statement; all failed when its outcome
/// is unknown (a claim must not be tried twice: the second try would find the first).
async fn claim_all(
    storage: &Storage,
    batch: Vec<NewClaim>,
) -> (Vec<Result<bool, PortError>>, bool) {
    const WHAT: &str = "claim an idempotency key";
    let together = async {
        if names_a_key_twice(batch.iter().map(|c| (c.principal.as_str(), c.key.as_str()))) {
            return Err(BatchFailed::Refused);
        }
        // No join: the statement's plan does not depend on the table's size, so it is
        // prepared once per connection like the others.
        let rows = sea_orm::sqlx::query(
            "INSERT INTO idempotency_keys (principal, \"key\", fingerprint, created_at) \
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::bytea[], $4::int8[]) \
             ON CONFLICT (principal, \"key\") DO NOTHING RETURNING principal, \"key\"",
        )
        .bind(
            batch
                .iter()
                .map(|c| c.principal.clone())
                .collect::<Vec<_>>(),
        )
        .bind(batch.iter().map(|c| c.key.clone()).collect::<Vec<_>>())
        .bind(
            batch
                .iter()
                .map(|c| c.fingerprint.clone())
                .collect::<Vec<_>>(),
        )
        .bind(batch.iter().map(|c| c.now).collect::<Vec<_>>())
        .fetch_all(storage.db().get_postgres_connection_pool())
        .await
        .map_err(|e| BatchFailed::of_sqlx(&e))?;
        Ok(answers(
            batch.iter().map(|c| (&c.principal, &c.key)),
            &rows,
            WHAT,
        ))
    };
    together_or_alone(
        &batch,
        together,
        |e| Err(PortError::new(format!("{WHAT}: {e}"))),
        |c| claim_alone(storage, c),
    )
    .await
}

/// For each (principal, key) asked, in order, whether `rows` (`RETURNING principal, "key"`)
/// name it.
fn answers<'a>(
    asked: impl Iterator<Item = (&'a String, &'a String)>,
    rows: &[sea_orm::sqlx::postgres::PgRow],
    what: &'static str,
) -> Vec<Result<bool, PortError>> {
    use sea_orm::sqlx::Row as _;
    let returned: Result<std::collections::HashSet<(String, String)>, PortError> = rows
        .iter()
        .map(|r| {
            let column = |name| {
                r.try_get::<String, _>(name)
                    .map_err(|e| PortError::new(format!("{what}: {e}")))
            };
            Ok((column("principal")?, column("key")?))
        })
        .collect();
    asked
        .map(|(p, k)| match &returned {
            Ok(set) => Ok(set.contains(&(p.clone(), k.clone()))),
            Err(e) => Err(e.clone()),
        })
        .collect()
}

/// Stores one response under its claim; whether the claim was there.
async fn complete_alone(storage: &Storage, o: &Outcome) -> Result<bool, PortError> {
    let statement = storage.statement(
        "UPDATE idempotency_keys SET status = $1, body = $2, completed_at = $3 \
         WHERE principal = $4 AND \"key\" = $5 AND fingerprint = $6 AND created_at = $7 \
           AND status IS NULL",
        [
            o.status.into(),
            o.body.clone().into(),
            o.now.into(),
            o.principal.as_str().into(),
            o.key.as_str().into(),
            o.fingerprint.clone().into(),
            o.claimed_at.into(),
        ],
    );
    storage
        .changes_one(statement, "complete an idempotency key")
        .await
}

/// Serves one batch of responses: alone, or as one `UPDATE … FROM UNNEST … RETURNING` whose
/// returned keys are the completed ones, planned for each batch
/// ([`fetch_planned_each_time`]); one by one when a key is named twice or the database
/// refuses that statement; all failed when its outcome is unknown.
async fn complete_all(
    storage: &Storage,
    batch: Vec<Outcome>,
) -> (Vec<Result<bool, PortError>>, bool) {
    const WHAT: &str = "complete an idempotency key";
    let together = async {
        if names_a_key_twice(batch.iter().map(|o| (o.principal.as_str(), o.key.as_str()))) {
            return Err(BatchFailed::Refused);
        }
        let query = sea_orm::sqlx::query(
            "UPDATE idempotency_keys k SET status = u.status, body = u.body, \
                 completed_at = u.completed_at \
             FROM UNNEST($1::int4[], $2::bytea[], $3::int8[], $4::text[], $5::text[], \
                 $6::bytea[], $7::int8[]) \
                 AS u(status, body, completed_at, principal, \"key\", fingerprint, created_at) \
             WHERE k.principal = u.principal AND k.\"key\" = u.\"key\" \
               AND k.fingerprint = u.fingerprint AND k.created_at = u.created_at \
               AND k.status IS NULL \
             RETURNING k.principal, k.\"key\"",
        )
        .bind(batch.iter().map(|o| o.status).collect::<Vec<_>>())
        .bind(batch.iter().map(|o| o.body.clone()).collect::<Vec<_>>())
        .bind(batch.iter().map(|o| o.now).collect::<Vec<_>>())
        .bind(
            batch
                .iter()
                .map(|o| o.principal.clone())
                .collect::<Vec<_>>(),
        )
        .bind(batch.iter().map(|o| o.key.clone()).collect::<Vec<_>>())
        .bind(
            batch
                .iter()
                .map(|o| o.fingerprint.clone())
                .collect::<Vec<_>>(),
        )
        .bind(batch.iter().map(|o| o.claimed_at).collect::<Vec<_>>());
        let rows = fetch_planned_each_time(storage.db(), query).await?;
        Ok(answers(
            batch.iter().map(|o| (&o.principal, &o.key)),
            &rows,
            WHAT,
        ))
    };
    together_or_alone(
        &batch,
        together,
        |e| Err(PortError::new(format!("{WHAT}: {e}"))),
        |o| complete_alone(storage, o),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn principals_and_keys_are_checked() {
        assert!(check("operator:1", "a").is_ok());
        assert!(check(&"п".repeat(64), &"~".repeat(255)).is_ok());
        assert!(check("", "a").is_err());
        assert!(check(&"п".repeat(65), "a").is_err());
        assert!(check("p", "").is_err());
        assert!(check("p", &"k".repeat(256)).is_err());
        for bad in ["a b", "ключ", "a\tb", "a\u{7f}", "a\0"] {
            assert!(check("p", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_cutoff_is_now_minus_ttl_and_clamped() {
        let now = datetime!(2026-12-08 10:00 UTC);
        let day = time::Duration::hours(24);
        assert_eq!(cutoff(now, day).unwrap(), to_nanos(now - day).unwrap());
        assert_eq!(cutoff(now, time::Duration::MAX).unwrap(), i64::MIN);
        assert!(cutoff(now, time::Duration::seconds(-1)).is_err());
        assert_eq!(
            cutoff(now, time::Duration::ZERO).unwrap(),
            to_nanos(now).unwrap()
        );
    }
}
