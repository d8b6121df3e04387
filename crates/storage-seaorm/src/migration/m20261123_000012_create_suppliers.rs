//! Creates `suppliers`: one row per supplier with its requisites (the adapter's own JSON,
//! re-validated through the `billing-core` constructors when read), its billing and penalty
//! policies (JSON of the domain's serde form) and its minimum online payment.

use sea_orm_migration::prelude::*;

use super::exact;

/// Creates and drops `suppliers`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Suppliers {
    Table,
    Id,
    Requisites,
    Policy,
    Penalty,
    MinimumPayment,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Suppliers::Table)
                    .col(
                        ColumnDef::new(Suppliers::Id)
                            .big_integer()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Suppliers::Requisites).text().not_null())
                    .col(ColumnDef::new(Suppliers::Policy).text().not_null())
                    .col(ColumnDef::new(Suppliers::Penalty).text().not_null())
                    .col(exact::money(manager, Suppliers::MinimumPayment).not_null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Suppliers::Table).to_owned())
            .await
    }
}
