//! Creates `volume_history`: the volume of each service billed on an account per period — at
//! most one per (account, service, period), the primary key — with how it was determined (a
//! tag), its register values and its origin: `billed` (written with the charge set that billed
//! it) or `imported` (history from a previous system).

use sea_orm_migration::prelude::*;

/// Creates and drops `volume_history`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum VolumeHistory {
    Table,
    AccountId,
    Service,
    Period,
    Kind,
    RegisterValues,
    Origin,
}

#[derive(DeriveIden)]
enum Accounts {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(VolumeHistory::Table)
                    .col(
                        ColumnDef::new(VolumeHistory::AccountId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(VolumeHistory::Service)
                            .string_len(32)
                            .not_null(),
                    )
                    .col(ColumnDef::new(VolumeHistory::Period).integer().not_null())
                    .col(
                        ColumnDef::new(VolumeHistory::Kind)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(VolumeHistory::RegisterValues)
                            .text()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(VolumeHistory::Origin)
                            .string_len(16)
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(VolumeHistory::AccountId)
                            .col(VolumeHistory::Service)
                            .col(VolumeHistory::Period),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("volume_history_account_fkey")
                            .from(VolumeHistory::Table, VolumeHistory::AccountId)
                            .to(Accounts::Table, Accounts::Id)
                            .on_delete(ForeignKeyAction::Restrict)
                            .on_update(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(VolumeHistory::Table).to_owned())
            .await
    }
}
