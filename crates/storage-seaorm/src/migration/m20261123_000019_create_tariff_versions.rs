//! Creates `tariff_versions`: the effective-dated tariff versions of each supplier per service
//! and consumer group (tags), their prices as JSON of the domain's `TariffKind` serde form;
//! indexed by (supplier, first day in force, id).

use sea_orm_migration::prelude::*;

/// Creates and drops `tariff_versions`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum TariffVersions {
    Table,
    Id,
    SupplierId,
    Service,
    ConsumerGroup,
    ValidFrom,
    Kind,
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
                    .table(TariffVersions::Table)
                    .col(
                        ColumnDef::new(TariffVersions::Id)
                            .big_integer()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(TariffVersions::SupplierId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(TariffVersions::Service)
                            .string_len(32)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(TariffVersions::ConsumerGroup)
                            .string_len(32)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(TariffVersions::ValidFrom)
                            .string_len(10)
                            .not_null(),
                    )
                    .col(ColumnDef::new(TariffVersions::Kind).text().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("tariff_versions_supplier_fkey")
                            .from(TariffVersions::Table, TariffVersions::SupplierId)
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
                    .name("tariff_versions_by_supplier")
                    .table(TariffVersions::Table)
                    .col(TariffVersions::SupplierId)
                    .col(TariffVersions::ValidFrom)
                    .col(TariffVersions::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(TariffVersions::Table).to_owned())
            .await
    }
}
