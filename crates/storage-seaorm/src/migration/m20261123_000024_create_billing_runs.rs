//! Creates `billing_runs` and `billing_run_houses`: a supplier-wide billing run for one period
//! and the houses it still has to bill.
//!
//! **UNIQUE (supplier_id, period)**: one run per supplier and period; starting it again
//! resumes it. A house moves from `pending` to `done` in the same transaction that stores its
//! charge sets, so a crash leaves it `pending` with nothing written, and the next start bills
//! it. On PostgreSQL workers claim pending houses with `FOR UPDATE SKIP LOCKED` inside that
//! transaction; on SQLite the `pending → done` update is a compare-and-set under the single
//! write lock.

use sea_orm_migration::prelude::*;

/// Creates and drops `billing_runs` and `billing_run_houses`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum BillingRuns {
    Table,
    Id,
    SupplierId,
    Period,
    PostedOn,
    StartedAt,
    FinishedAt,
    HousesTotal,
}

#[derive(DeriveIden)]
enum BillingRunHouses {
    Table,
    RunId,
    HouseId,
    State,
    Accounts,
    Error,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(BillingRuns::Table)
                    .col(
                        ColumnDef::new(BillingRuns::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(BillingRuns::SupplierId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(BillingRuns::Period).integer().not_null())
                    .col(
                        ColumnDef::new(BillingRuns::PostedOn)
                            .string_len(10)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(BillingRuns::StartedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(BillingRuns::FinishedAt).big_integer())
                    .col(
                        ColumnDef::new(BillingRuns::HousesTotal)
                            .big_integer()
                            .not_null(),
                    )
                    .index(
                        Index::create()
                            .name("billing_runs_one_per_period")
                            .col(BillingRuns::SupplierId)
                            .col(BillingRuns::Period)
                            .unique(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(BillingRunHouses::Table)
                    .col(
                        ColumnDef::new(BillingRunHouses::RunId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(BillingRunHouses::HouseId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(BillingRunHouses::State)
                            .string_len(8)
                            .not_null(),
                    )
                    .col(ColumnDef::new(BillingRunHouses::Accounts).big_integer())
                    .col(ColumnDef::new(BillingRunHouses::Error).text())
                    .primary_key(
                        Index::create()
                            .col(BillingRunHouses::RunId)
                            .col(BillingRunHouses::HouseId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("billing_run_houses_run")
                            .from(BillingRunHouses::Table, BillingRunHouses::RunId)
                            .to(BillingRuns::Table, BillingRuns::Id)
                            .on_delete(ForeignKeyAction::Cascade)
                            .on_update(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(BillingRunHouses::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(BillingRuns::Table).to_owned())
            .await
    }
}
