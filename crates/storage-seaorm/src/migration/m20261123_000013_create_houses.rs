//! Creates `houses`: each house of a supplier with its areas, its ОДН policy (JSON of the
//! domain's serde form) and its heating flags; indexed by (supplier, id).

use sea_orm_migration::prelude::*;

use super::exact;

/// Creates and drops `houses`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Houses {
    Table,
    Id,
    SupplierId,
    Address,
    TotalArea,
    CommonArea,
    Odn,
    ElectricHeating,
    HeatMeter,
}

#[derive(DeriveIden)]
enum Suppliers {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Houses::Table)
                    .col(
                        ColumnDef::new(Houses::Id)
                            .big_integer()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Houses::SupplierId).big_integer().not_null())
                    .col(ColumnDef::new(Houses::Address).text().not_null())
                    .col(exact::decimal(manager, Houses::TotalArea).not_null())
                    .col(exact::decimal(manager, Houses::CommonArea).not_null())
                    .col(ColumnDef::new(Houses::Odn).text().not_null())
                    .col(ColumnDef::new(Houses::ElectricHeating).boolean().not_null())
                    .col(ColumnDef::new(Houses::HeatMeter).boolean().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("houses_supplier_fkey")
                            .from(Houses::Table, Houses::SupplierId)
                            .to(Suppliers::Table, Suppliers::Id)
                            .on_delete(ForeignKeyAction::Restrict)
                            .on_update(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("houses_by_supplier")
                    .table(Houses::Table)
                    .col(Houses::SupplierId)
                    .col(Houses::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Houses::Table).to_owned())
            .await
    }
}
