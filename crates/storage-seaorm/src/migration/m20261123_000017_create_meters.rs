//! Creates `meters`: every meter ever installed (removed ones stay), with its registers (zone
//! scheme tag, digits, decimals, transformation coefficient) and lifecycle days; a house meter
//! has no account. Indexed by (account, id).

use sea_orm_migration::prelude::*;

use super::exact;

/// Creates and drops `meters`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Meters {
    Table,
    Id,
    AccountId,
    Service,
    Serial,
    Scheme,
    Digits,
    Decimals,
    Coefficient,
    InstalledOn,
    CommissionedOn,
    VerificationDue,
    FailedOn,
    RemovedOn,
    Automatic,
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
                    .table(Meters::Table)
                    .col(
                        ColumnDef::new(Meters::Id)
                            .big_integer()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Meters::AccountId).big_integer())
                    .col(ColumnDef::new(Meters::Service).string_len(32).not_null())
                    .col(ColumnDef::new(Meters::Serial).text().not_null())
                    .col(ColumnDef::new(Meters::Scheme).string_len(16).not_null())
                    .col(ColumnDef::new(Meters::Digits).integer().not_null())
                    .col(ColumnDef::new(Meters::Decimals).integer().not_null())
                    .col(exact::decimal(manager, Meters::Coefficient).not_null())
                    .col(
                        ColumnDef::new(Meters::InstalledOn)
                            .string_len(10)
                            .not_null(),
                    )
                    .col(ColumnDef::new(Meters::CommissionedOn).string_len(10))
                    .col(ColumnDef::new(Meters::VerificationDue).string_len(10))
                    .col(ColumnDef::new(Meters::FailedOn).string_len(10))
                    .col(ColumnDef::new(Meters::RemovedOn).string_len(10))
                    .col(ColumnDef::new(Meters::Automatic).boolean().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("meters_account_fkey")
                            .from(Meters::Table, Meters::AccountId)
                            .to(Accounts::Table, Accounts::Id)
                            .on_delete(ForeignKeyAction::Restrict)
                            .on_update(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("meters_by_account")
                    .table(Meters::Table)
                    .col(Meters::AccountId)
                    .col(Meters::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Meters::Table).to_owned())
            .await
    }
}
