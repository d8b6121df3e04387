//! Creates `subscribers`: one row per cabinet, with a UNIQUE constraint on each login handle
//! (registration ЛС number, phone, email) and a `version` for optimistic concurrency.

use sea_orm_migration::prelude::*;

/// Creates and drops `subscribers`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Subscribers {
    Table,
    Id,
    Name,
    AccountSupplier,
    AccountNumber,
    Phone,
    Email,
    PendingEmail,
    PasswordHash,
    BlockedAt,
    BlockedBy,
    BlockedOperator,
    CreatedAt,
    Version,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Subscribers::Table)
                    .col(
                        ColumnDef::new(Subscribers::Id)
                            .string_len(32)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Subscribers::Name).text().not_null())
                    .col(
                        ColumnDef::new(Subscribers::AccountSupplier)
                            .string_len(64)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(Subscribers::AccountNumber)
                            .string_len(20)
                            .null()
                            .unique_key(),
                    )
                    .col(
                        ColumnDef::new(Subscribers::Phone)
                            .string_len(16)
                            .null()
                            .unique_key(),
                    )
                    .col(
                        ColumnDef::new(Subscribers::Email)
                            .string_len(254)
                            .null()
                            .unique_key(),
                    )
                    .col(
                        ColumnDef::new(Subscribers::PendingEmail)
                            .string_len(254)
                            .null(),
                    )
                    .col(ColumnDef::new(Subscribers::PasswordHash).text().null())
                    .col(ColumnDef::new(Subscribers::BlockedAt).big_integer().null())
                    .col(ColumnDef::new(Subscribers::BlockedBy).string_len(16).null())
                    .col(ColumnDef::new(Subscribers::BlockedOperator).text().null())
                    .col(
                        ColumnDef::new(Subscribers::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Subscribers::Version)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Subscribers::Table).to_owned())
            .await
    }
}
