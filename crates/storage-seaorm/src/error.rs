//! Errors of the adapter and their translation into the ports' error types.
//!
//! Driver errors never reach the cores as strings to be parsed: a violated uniqueness rule
//! becomes [`WriteError::Duplicate`] here, in one place, and everything else an opaque
//! [`PortError`] whose message names the operation (never a secret: the adapter only ever holds
//! digests and hashes).

use identity_core::ports::{PortError, WriteError};
use sea_orm::{DbErr, SqlErr};

/// Why [`crate::Storage::connect`] or [`crate::Storage::migrate`] failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The URL names no supported database (`sqlite:` or `postgres:`/`postgresql:`).
    #[error("unsupported database url: expected sqlite:, postgres: or postgresql:")]
    UnsupportedUrl,
    /// The database could not be reached or opened.
    #[error("cannot connect to the database: {0}")]
    Connect(#[source] DbErr),
    /// A migration failed; the schema is as the last successful migration left it.
    #[error("migration failed: {0}")]
    Migrate(#[source] DbErr),
}

/// A stored row that cannot be turned back into a domain record: a value that no longer parses,
/// a missing field that its siblings require, a number out of range. Reported, never panicked on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("corrupt row in {table} ({key}): {problem}")]
pub struct CorruptRow {
    table: &'static str,
    key: String,
    problem: String,
}

impl CorruptRow {
    /// The row of `table` identified by `key` holds a bad value; `problem` says which and why.
    pub fn new(table: &'static str, key: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            table,
            key: key.into(),
            problem: problem.into(),
        }
    }

    /// The table of the corrupt row.
    pub fn table(&self) -> &'static str {
        self.table
    }
}

impl From<CorruptRow> for PortError {
    fn from(e: CorruptRow) -> Self {
        PortError::new(e.to_string())
    }
}

impl From<CorruptRow> for WriteError {
    fn from(e: CorruptRow) -> Self {
        WriteError::Port(e.into())
    }
}

/// A failed database call during `operation`, as an opaque port failure.
pub(crate) fn port(operation: &str, e: DbErr) -> PortError {
    PortError::new(format!("{operation}: {e}"))
}

/// A failed write: a unique-constraint violation is [`WriteError::Duplicate`], anything else
/// a port failure.
pub(crate) fn write(operation: &str, e: DbErr) -> WriteError {
    if is_unique_violation(&e) {
        WriteError::Duplicate
    } else {
        WriteError::Port(port(operation, e))
    }
}

/// Whether `e` is a violated unique or primary-key constraint (on either backend).
pub(crate) fn is_unique_violation(e: &DbErr) -> bool {
    matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

/// Whether `e` is a violated foreign-key constraint (on either backend): a row names a parent
/// that does not exist.
pub(crate) fn is_foreign_key_violation(e: &DbErr) -> bool {
    matches!(e.sql_err(), Some(SqlErr::ForeignKeyConstraintViolation(_)))
}

impl From<CorruptRow> for billing_core::ports::RepoError {
    fn from(e: CorruptRow) -> Self {
        billing_core::ports::RepoError::Corrupt(e.to_string())
    }
}

/// A failed billing-port call during `operation`: a unique-constraint violation is
/// [`RepoError::Duplicate`](billing_core::ports::RepoError::Duplicate), anything else
/// `Unavailable`.
pub(crate) fn repo(operation: &str, e: DbErr) -> billing_core::ports::RepoError {
    use billing_core::ports::RepoError;
    if is_unique_violation(&e) {
        RepoError::Duplicate
    } else {
        RepoError::Unavailable(format!("{operation}: {e}"))
    }
}

/// A failed billing-port write during `operation`: like [`repo`], and a violated foreign key
/// (the row names a supplier, house, premise, account, meter or reading that does not exist) is
/// [`RepoError::NotFound`](billing_core::ports::RepoError::NotFound).
pub(crate) fn repo_write(operation: &str, e: DbErr) -> billing_core::ports::RepoError {
    if is_foreign_key_violation(&e) {
        billing_core::ports::RepoError::NotFound
    } else {
        repo(operation, e)
    }
}
