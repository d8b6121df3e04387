//! Creates `idempotency_keys`: the HTTP `Idempotency-Key`s clients sent with a POST, one row
//! per (`principal`, `key`) (PK) with the SHA-256 fingerprint of the request that claimed it,
//! its creation time and, once the request completed, its response (`status`, `body`,
//! `completed_at`; all NULL while it runs). Indexed by creation time for the purge.

use sea_orm_migration::prelude::*;

/// Creates and drops `idempotency_keys`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum IdempotencyKeys {
    Table,
    Principal,
    Key,
    Fingerprint,
    CreatedAt,
    Status,
    Body,
    CompletedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(IdempotencyKeys::Table)
                    .col(
                        ColumnDef::new(IdempotencyKeys::Principal)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(IdempotencyKeys::Key)
                            .string_len(255)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(IdempotencyKeys::Fingerprint)
                            .blob()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(IdempotencyKeys::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(IdempotencyKeys::Status).integer().null())
                    .col(ColumnDef::new(IdempotencyKeys::Body).blob().null())
                    .col(
                        ColumnDef::new(IdempotencyKeys::CompletedAt)
                            .big_integer()
                            .null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(IdempotencyKeys::Principal)
                            .col(IdempotencyKeys::Key),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idempotency_keys_by_creation")
                    .table(IdempotencyKeys::Table)
                    .col(IdempotencyKeys::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(IdempotencyKeys::Table).to_owned())
            .await
    }
}
