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

use crate::convert::{Row, to_nanos};
use crate::error::port;
use crate::storage::Storage;

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
        for _ in 0..ATTEMPTS {
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
        let statement = self.statement(
            "UPDATE idempotency_keys SET status = $1, body = $2, completed_at = $3 \
             WHERE principal = $4 AND \"key\" = $5 AND fingerprint = $6 AND created_at = $7 \
               AND status IS NULL",
            [
                i32::from(status).into(),
                body.to_vec().into(),
                to_nanos(now)?.into(),
                principal.into(),
                key.into(),
                fingerprint.to_vec().into(),
                to_nanos(claimed_at)?.into(),
            ],
        );
        self.changes_one(statement, "complete an idempotency key")
            .await
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
