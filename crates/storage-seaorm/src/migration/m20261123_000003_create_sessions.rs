//! Creates `sessions`: one row per login, found by the UNIQUE digest of its token (the token
//! itself is never stored).

use sea_orm_migration::prelude::*;

use super::references_subscriber;

/// Creates and drops `sessions`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    SubscriberId,
    TokenDigest,
    CreatedAt,
    LastSeenAt,
    RevokedAt,
    Channel,
    Device,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    .col(
                        ColumnDef::new(Sessions::Id)
                            .string_len(32)
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(Sessions::SubscriberId)
                            .string_len(32)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Sessions::TokenDigest)
                            .blob()
                            .not_null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new(Sessions::CreatedAt).big_integer().not_null())
                    .col(
                        ColumnDef::new(Sessions::LastSeenAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Sessions::RevokedAt).big_integer().null())
                    .col(ColumnDef::new(Sessions::Channel).string_len(16).not_null())
                    .col(ColumnDef::new(Sessions::Device).text().null())
                    .foreign_key(&mut references_subscriber(
                        "sessions_subscriber_fkey",
                        Sessions::Table,
                        Sessions::SubscriberId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("sessions_by_subscriber")
                    .table(Sessions::Table)
                    .col(Sessions::SubscriberId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Sessions::Table).to_owned())
            .await
    }
}
