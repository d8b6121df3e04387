//! PostgreSQL: `charge_sets.lines` is compressed with lz4 instead of the server's default
//! (pglz). About a quarter of the sets — those of debtors, whose penalty line carries its whole
//! accrual history — exceed PostgreSQL's 2 kB TOAST threshold and are compressed as they are
//! written; lz4 does that in half the server time of pglz for nearly the same size
//! (docs/performance.md, fifth session). Values already stored keep their compression until
//! they are rewritten; reading handles both.
//!
//! A no-op on SQLite, and on a PostgreSQL server older than 14 or built without lz4 (the column
//! then keeps the default, with a notice in the server's log).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

/// Sets (and resets) the compression of `charge_sets.lines` on PostgreSQL.
#[derive(DeriveMigrationName)]
pub struct Migration;

/// `ALTER … SET COMPRESSION {method}` on PostgreSQL 14 and later, tolerating a server built
/// without the method; nothing on SQLite.
async fn set_compression(manager: &SchemaManager<'_>, method: &str) -> Result<(), DbErr> {
    if manager.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    let sql = format!(
        "DO $$ BEGIN \
           IF current_setting('server_version_num')::int >= 140000 THEN \
             EXECUTE 'ALTER TABLE charge_sets ALTER COLUMN lines SET COMPRESSION {method}'; \
           END IF; \
         EXCEPTION WHEN feature_not_supported THEN \
           RAISE NOTICE 'charge_sets.lines keeps the default compression: %', SQLERRM; \
         END $$"
    );
    manager.get_connection().execute_unprepared(&sql).await?;
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        set_compression(manager, "lz4").await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        set_compression(manager, "default").await
    }
}
