//! [`Storage`]: the connection pool, the backend it talks to, migrations and the one way this
//! crate opens a write transaction.

use std::sync::Arc;
use std::time::Duration;

use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbErr,
    SqliteTransactionMode, TransactionOptions, TransactionTrait,
};
use sea_orm_migration::MigratorTrait;

use crate::coalesce::BatchCount;
use crate::error::StorageError;
use crate::migration::Migrator;

/// How long a SQLite connection waits for the write lock before giving up.
pub const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections in a SQLite file pool (readers run in parallel under WAL; writers take turns).
pub const SQLITE_POOL_SIZE: u32 = 8;
/// Connections in a PostgreSQL pool.
pub const POSTGRES_POOL_SIZE: u32 = 10;

/// A pooled connection idle for this long is pinged before it is handed out; a busy one is
/// not. The pool's default pings on *every* checkout, one more round trip for every statement:
/// in `cargo xtask bench http` the sends alone were a third of the service's CPU. A connection
/// the server, a proxy or a firewall dropped while it idled is found by this ping and replaced;
/// one that breaks while in use fails its statement as
/// [`RepoError::Unavailable`](billing_core::ports::RepoError) and is closed when it returns to
/// the pool (the vendored sqlx-core flushes a PostgreSQL connection there instead of pinging
/// it again, see `vendor/README.md`); so does one that died after idling less than this.
pub const PING_AFTER_IDLE: Duration = Duration::from_secs(1);

/// How the calls that PostgreSQL serves in shared statements were served (see
/// [`Storage::batches`]): a call that arrives while others of its kind are in flight queues,
/// and everything queued goes out as one statement.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Batches {
    /// Reading corrections ([`ReadingRepository::save`](billing_core::ports::ReadingRepository::save)
    /// of a reading that supersedes another): one statement and one commit per batch.
    pub corrections: BatchCount,
    /// Reading contexts
    /// ([`ReadingContextRepository::reading_context`](billing_core::ports::ReadingContextRepository::reading_context)):
    /// one query per batch.
    pub reading_contexts: BatchCount,
    /// New idempotency keys ([`Storage::idempotency_begin`] of a key not yet stored): one
    /// `INSERT` per batch.
    pub key_claims: BatchCount,
    /// Responses stored under idempotency keys ([`Storage::idempotency_complete`]): one
    /// `UPDATE` per batch.
    pub key_outcomes: BatchCount,
    /// Sessions read with their ЛС link ([`Storage::session_with_link`], what every
    /// account-scoped request asks first): one query per batch.
    pub session_links: BatchCount,
}

/// Which database a [`Storage`] talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// SQLite: the embedded default, one file in WAL mode (or in memory, for tests).
    Sqlite,
    /// PostgreSQL: production.
    Postgres,
}

impl Backend {
    /// The backend a connection URL names, if it names a supported one.
    pub fn of_url(url: &str) -> Option<Self> {
        if url.starts_with("sqlite:") {
            Some(Self::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Some(Self::Postgres)
        } else {
            None
        }
    }
}

/// The storage adapter: a pool of connections to one SQLite or PostgreSQL database. It
/// implements every repository port of `identity-core`; clone it freely (clones share the pool).
#[derive(Clone, Debug)]
pub struct Storage {
    db: DatabaseConnection,
    backend: Backend,
    /// PostgreSQL: the queue that serves concurrent reading corrections in batches (started
    /// on first use; see `billing::readings`).
    pub(crate) corrections: Arc<crate::billing::readings::Corrections>,
    /// PostgreSQL: the queue that serves concurrent reading-context reads in batches (see
    /// `billing::contexts`).
    pub(crate) reading_contexts: Arc<crate::billing::contexts::ReadingContexts>,
    /// PostgreSQL: the queues that claim new idempotency keys and store responses in batches
    /// (see `idempotency`).
    pub(crate) key_claims: Arc<crate::idempotency::KeyClaims>,
    pub(crate) key_outcomes: Arc<crate::idempotency::KeyOutcomes>,
    /// PostgreSQL: the queue that serves concurrent session reads in batches (see
    /// `directory`).
    pub(crate) session_links: Arc<crate::directory::SessionLinks>,
}

impl Storage {
    /// Connects to `url`:
    ///
    /// - `sqlite://path/to/file.db` (created if missing): a pool of [`SQLITE_POOL_SIZE`]
    ///   connections with WAL journaling, `synchronous = FULL` (a committed transaction survives
    ///   a power cut), foreign keys enforced and a [`SQLITE_BUSY_TIMEOUT`] busy timeout. Every
    ///   transaction that reads before it writes starts with `BEGIN IMMEDIATE`, so SQLite has a
    ///   single writer at a time and such transactions never fail half-way on a lock upgrade.
    /// - `sqlite::memory:`: one private in-memory database, so exactly one connection that is
    ///   never recycled (tests).
    /// - `postgres://…`: a pool of [`POSTGRES_POOL_SIZE`] connections; atomic steps use
    ///   transactions with row locks (`SELECT … FOR UPDATE`) and conditional updates.
    ///
    /// On both, a connection idle for [`PING_AFTER_IDLE`] is pinged before it is handed out;
    /// a PostgreSQL connection is not pinged on its way back to the pool (see
    /// `vendor/README.md`).
    pub async fn connect(url: &str) -> Result<Self, StorageError> {
        let backend = Backend::of_url(url).ok_or(StorageError::UnsupportedUrl)?;
        let mut options = ConnectOptions::new(url.to_owned());
        options
            .sqlx_logging(false)
            .connect_timeout(Duration::from_secs(10))
            .acquire_timeout(Duration::from_secs(30))
            .test_before_acquire_if_idle_for(PING_AFTER_IDLE);
        match backend {
            Backend::Sqlite => {
                let in_memory = url.contains(":memory:") || url.contains("mode=memory");
                if in_memory {
                    options
                        .max_connections(1)
                        .min_connections(1)
                        .idle_timeout(None)
                        .max_lifetime(None);
                } else {
                    options.max_connections(SQLITE_POOL_SIZE);
                }
                options.map_sqlx_sqlite_opts(|o| {
                    o.create_if_missing(true)
                        .journal_mode(SqliteJournalMode::Wal)
                        .synchronous(SqliteSynchronous::Full)
                        .foreign_keys(true)
                        .busy_timeout(SQLITE_BUSY_TIMEOUT)
                });
            }
            Backend::Postgres => {
                options
                    .max_connections(POSTGRES_POOL_SIZE)
                    .min_connections(1);
            }
        }
        let db = Database::connect(options)
            .await
            .map_err(StorageError::Connect)?;
        Ok(Self::over(db, backend))
    }

    /// A storage over `db` with its own, not yet started, coalescers.
    pub(crate) fn over(db: DatabaseConnection, backend: Backend) -> Self {
        Self {
            db,
            backend,
            corrections: Arc::default(),
            reading_contexts: Arc::default(),
            key_claims: Arc::default(),
            key_outcomes: Arc::default(),
            session_links: Arc::default(),
        }
    }

    /// How the PostgreSQL statements that concurrent callers share have served them so far
    /// (see [`Batches`]). All zero on SQLite.
    pub fn batches(&self) -> Batches {
        Batches {
            corrections: self.corrections.count(),
            reading_contexts: self.reading_contexts.count(),
            key_claims: self.key_claims.count(),
            key_outcomes: self.key_outcomes.count(),
            session_links: self.session_links.count(),
        }
    }

    /// Applies every pending migration (the server calls this at start-up).
    pub async fn migrate(&self) -> Result<(), StorageError> {
        Migrator::up(&self.db, None)
            .await
            .map_err(StorageError::Migrate)
    }

    /// Rolls back every applied migration, dropping every table this crate created. For tests
    /// and tools; a server never calls it.
    pub async fn migrate_down_all(&self) -> Result<(), StorageError> {
        Migrator::down(&self.db, None)
            .await
            .map_err(StorageError::Migrate)
    }

    /// The backend this storage talks to.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The underlying SeaORM connection, for tools and tests that must reach past the ports
    /// (for example to plant a corrupt row). Application code uses the ports.
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Closes every connection of the pool.
    pub async fn close(self) -> Result<(), StorageError> {
        self.db.close().await.map_err(StorageError::Connect)
    }

    /// Begins a transaction that will write: `BEGIN IMMEDIATE` on SQLite (take the single
    /// write lock now, not at the first write), a plain `BEGIN` (READ COMMITTED) on PostgreSQL,
    /// where the caller takes the row locks it needs.
    pub(crate) async fn begin_write(&self) -> Result<DatabaseTransaction, DbErr> {
        let options = TransactionOptions {
            sqlite_transaction_mode: match self.backend {
                Backend::Sqlite => Some(SqliteTransactionMode::Immediate),
                Backend::Postgres => None,
            },
            ..TransactionOptions::default()
        };
        self.db.begin_with_options(options).await
    }

    /// The connection for single statements.
    pub(crate) fn db(&self) -> &DatabaseConnection {
        &self.db
    }
}

impl Storage {
    /// A raw statement for this backend. Placeholders are `$1`, `$2`, … on both backends.
    pub(crate) fn statement(
        &self,
        sql: &str,
        values: impl IntoIterator<Item = sea_orm::Value>,
    ) -> sea_orm::Statement {
        sea_orm::Statement::from_sql_and_values(self.db.get_database_backend(), sql, values)
    }

    /// Takes row locks inside `tx` with `sql` (a `SELECT … FOR UPDATE`) on PostgreSQL; on
    /// SQLite it does nothing, because [`Storage::begin_write`] already holds the database's
    /// single write lock. Returns how many rows were locked (0 on SQLite).
    pub(crate) async fn lock_rows(
        &self,
        tx: &DatabaseTransaction,
        sql: &str,
        values: impl IntoIterator<Item = sea_orm::Value>,
    ) -> Result<usize, DbErr> {
        match self.backend {
            Backend::Sqlite => Ok(0),
            Backend::Postgres => {
                let rows = tx.query_all_raw(self.statement(sql, values)).await?;
                Ok(rows.len())
            }
        }
    }
}
