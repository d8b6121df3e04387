//! Creates `closed_periods`: each supplier's closed periods, each at most once (the primary
//! key). Periods close in order; the order is checked by `PeriodRepository::close` under the
//! supplier's lock.

use sea_orm_migration::prelude::*;

/// Creates and drops `closed_periods`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ClosedPeriods {
    Table,
    SupplierId,
    Period,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ClosedPeriods::Table)
                    .col(
                        ColumnDef::new(ClosedPeriods::SupplierId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(ClosedPeriods::Period).integer().not_null())
                    .primary_key(
                        Index::create()
                            .col(ClosedPeriods::SupplierId)
                            .col(ClosedPeriods::Period),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ClosedPeriods::Table).to_owned())
            .await
    }
}
