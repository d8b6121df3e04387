//! Every repository port of `identity-core`, implemented on [`crate::Storage`].
//!
//! How each MUST of the port contracts is kept, on both backends:
//!
//! - **Unique login handles** — UNIQUE constraints on `subscribers.account_number`, `phone` and
//!   `email` (and the primary key); a violation is mapped to `WriteError::Duplicate` by
//!   [`crate::error`], so the check and the write are one atomic statement.
//! - **Optimistic versions** — `UPDATE subscribers SET …, version = version + 1 WHERE id = $1
//!   AND version = $2`; zero rows is `WriteError::Conflict`.
//! - **Atomic challenge steps** — `attempt` reads and counts inside one write transaction that
//!   holds the challenge row (`FOR UPDATE` on PostgreSQL, `BEGIN IMMEDIATE` on SQLite);
//!   `consume` and `reissue` are single conditional UPDATEs; `consume_recovery` locks every
//!   recovery challenge of the cabinet before its compare-and-set and sweep.
//! - **Atomic throttle reservations** — the key's row in `throttle_keys` is created if missing
//!   and locked (`FOR UPDATE`; on SQLite the transaction's write lock), then the events since
//!   `at - lookback` are read, `RateLimit::check` decides, and only a granted attempt is
//!   inserted, all in one transaction. `release` takes the same lock.
//! - **Links** — one ЛС once per cabinet (UNIQUE), one active ЛС per cabinet (partial unique
//!   index); changes to a cabinet's links lock the cabinet's row on PostgreSQL.
//! - **One answer per question** — `QuestionRepository::answer` is ONE conditional UPDATE
//!   (`… WHERE id = $1 AND answered_at IS NULL`); the open queue is keyset-paginated on
//!   (`asked_at`, `id`) over a partial index of the open questions (`questions`).
//! - **Operators** — unique logins (UNIQUE on the normalised login), API keys found by the
//!   UNIQUE digest of the key, operator sessions by the UNIQUE digest of the token; revoking a
//!   key or a session is one conditional UPDATE (`… AND revoked_at IS NULL`) (`operators`).

mod challenges;
mod consents;
mod links;
mod operators;
mod questions;
mod security_log;
mod sessions;
mod subscribers;
mod throttle;
