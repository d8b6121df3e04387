//! Moves the charge lines into their set's row: `charge_sets.lines` holds the set's lines as one
//! JSON array (each element the JSON the `charge_lines.line` column held, in `seq` order) and
//! `charge_lines` is dropped.
//!
//! A set and its lines were always written together, in one transaction, and read together; as
//! rows of their own they cost, per line, a heap tuple, a primary-key entry and a foreign-key
//! check against the set just inserted — on PostgreSQL about a quarter of the server's time in a
//! supplier-wide billing run (docs/performance.md). In one row, "all lines or none" and "lines
//! belong to exactly one set" hold by construction.
//!
//! `down` recreates `charge_lines` as migration 23 made it and splits the arrays back into rows
//! (`service` and `amount` taken from each line's JSON, as they were written), then drops the
//! column.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

use super::m20261123_000023_create_charge_sets;

/// Adds `charge_sets.lines`, fills it from `charge_lines` and drops that table (and back).
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ChargeSets {
    Table,
    Lines,
}

#[derive(DeriveIden)]
enum ChargeLines {
    Table,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(ChargeSets::Table)
                    .add_column(
                        ColumnDef::new(ChargeSets::Lines)
                            .text()
                            .not_null()
                            .default("[]"),
                    )
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        let fill = match manager.get_database_backend() {
            DbBackend::Postgres => {
                "UPDATE charge_sets s SET lines = l.lines \
                 FROM (SELECT account_id, period, \
                              '[' || string_agg(line, ',' ORDER BY seq) || ']' AS lines \
                       FROM charge_lines GROUP BY account_id, period) l \
                 WHERE l.account_id = s.account_id AND l.period = s.period"
            }
            _ => {
                // The subquery's order is the aggregate's order in SQLite.
                "UPDATE charge_sets SET lines = ( \
                   SELECT '[' || group_concat(line, ',') || ']' FROM ( \
                     SELECT line FROM charge_lines l \
                     WHERE l.account_id = charge_sets.account_id \
                       AND l.period = charge_sets.period \
                     ORDER BY seq)) \
                 WHERE EXISTS (SELECT 1 FROM charge_lines l \
                   WHERE l.account_id = charge_sets.account_id \
                     AND l.period = charge_sets.period)"
            }
        };
        db.execute_unprepared(fill).await?;
        manager
            .drop_table(Table::drop().table(ChargeLines::Table).to_owned())
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        m20261123_000023_create_charge_sets::create_charge_lines(manager).await?;
        let split = match manager.get_database_backend() {
            DbBackend::Postgres => {
                "INSERT INTO charge_lines (account_id, period, seq, service, amount, line) \
                 SELECT s.account_id, s.period, (e.n - 1)::int, e.line->>'service', \
                        (e.line->>'amount')::numeric, e.line::text \
                 FROM charge_sets s, json_array_elements(s.lines::json) WITH ORDINALITY AS e(line, n)"
            }
            _ => {
                "INSERT INTO charge_lines (account_id, period, seq, service, amount, line) \
                 SELECT s.account_id, s.period, e.key, json_extract(e.value, '$.service'), \
                        json_extract(e.value, '$.amount'), e.value \
                 FROM charge_sets s, json_each(s.lines) e"
            }
        };
        manager.get_connection().execute_unprepared(split).await?;
        manager
            .alter_table(
                Table::alter()
                    .table(ChargeSets::Table)
                    .drop_column(ChargeSets::Lines)
                    .to_owned(),
            )
            .await
    }
}
