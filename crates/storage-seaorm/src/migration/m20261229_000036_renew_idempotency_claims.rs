//! Adds `idempotency_keys.renewed_at`: when the request holding an unfinished claim last said
//! it is still running (stored nanoseconds, NULL until it first does). A claim is stale — and
//! the same request's retry may take it over — only when neither its claim nor its last
//! renewal is recent, so a slow request that keeps renewing keeps its key.

use sea_orm_migration::prelude::*;

/// Adds and drops `idempotency_keys.renewed_at`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum IdempotencyKeys {
    Table,
    RenewedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(IdempotencyKeys::Table)
                    .add_column(
                        ColumnDef::new(IdempotencyKeys::RenewedAt)
                            .big_integer()
                            .null(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(IdempotencyKeys::Table)
                    .drop_column(IdempotencyKeys::RenewedAt)
                    .to_owned(),
            )
            .await
    }
}
