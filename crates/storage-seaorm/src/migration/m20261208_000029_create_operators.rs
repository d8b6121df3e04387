//! Creates the back office's tables: `operators` (**UNIQUE `login`**, the normalised login),
//! `operator_api_keys` (**UNIQUE `key_digest`**: only the SHA-256 digest of a key is stored)
//! and `operator_sessions` (**UNIQUE `token_digest`**). Keys and sessions reference their
//! operator (deleted with it; operators are only disabled today) and are indexed by it.

use sea_orm_migration::prelude::*;

/// Creates and drops `operators`, `operator_api_keys` and `operator_sessions`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Operators {
    Table,
    Id,
    Login,
    Name,
    PasswordHash,
    Role,
    CreatedAt,
    DisabledAt,
}

#[derive(DeriveIden)]
enum OperatorApiKeys {
    Table,
    Id,
    OperatorId,
    Name,
    KeyDigest,
    Role,
    CreatedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum OperatorSessions {
    Table,
    Id,
    OperatorId,
    TokenDigest,
    CreatedAt,
    LastSeenAt,
    RevokedAt,
}

/// A foreign key from `table.operator_id` to `operators.id`, rows deleted with the operator.
fn references_operator(
    name: &str,
    table: impl IntoIden,
    column: impl IntoIden,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(table, column)
        .to(Operators::Table, Operators::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .on_update(ForeignKeyAction::Restrict)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Operators::Table)
                    .col(
                        ColumnDef::new(Operators::Id)
                            .string_len(32)
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(Operators::Login)
                            .string_len(64)
                            .not_null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new(Operators::Name).text().not_null())
                    .col(ColumnDef::new(Operators::PasswordHash).text().not_null())
                    .col(ColumnDef::new(Operators::Role).string_len(16).not_null())
                    .col(
                        ColumnDef::new(Operators::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Operators::DisabledAt).big_integer().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(OperatorApiKeys::Table)
                    .col(
                        ColumnDef::new(OperatorApiKeys::Id)
                            .string_len(32)
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(OperatorApiKeys::OperatorId)
                            .string_len(32)
                            .not_null(),
                    )
                    .col(ColumnDef::new(OperatorApiKeys::Name).text().not_null())
                    .col(
                        ColumnDef::new(OperatorApiKeys::KeyDigest)
                            .blob()
                            .not_null()
                            .unique_key(),
                    )
                    .col(
                        ColumnDef::new(OperatorApiKeys::Role)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(OperatorApiKeys::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(OperatorApiKeys::RevokedAt)
                            .big_integer()
                            .null(),
                    )
                    .foreign_key(&mut references_operator(
                        "operator_api_keys_operator_fkey",
                        OperatorApiKeys::Table,
                        OperatorApiKeys::OperatorId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("operator_api_keys_by_operator")
                    .table(OperatorApiKeys::Table)
                    .col(OperatorApiKeys::OperatorId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(OperatorSessions::Table)
                    .col(
                        ColumnDef::new(OperatorSessions::Id)
                            .string_len(32)
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(OperatorSessions::OperatorId)
                            .string_len(32)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(OperatorSessions::TokenDigest)
                            .blob()
                            .not_null()
                            .unique_key(),
                    )
                    .col(
                        ColumnDef::new(OperatorSessions::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(OperatorSessions::LastSeenAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(OperatorSessions::RevokedAt)
                            .big_integer()
                            .null(),
                    )
                    .foreign_key(&mut references_operator(
                        "operator_sessions_operator_fkey",
                        OperatorSessions::Table,
                        OperatorSessions::OperatorId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("operator_sessions_by_operator")
                    .table(OperatorSessions::Table)
                    .col(OperatorSessions::OperatorId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(OperatorSessions::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(OperatorApiKeys::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Operators::Table).to_owned())
            .await
    }
}
