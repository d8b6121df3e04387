//! Creates `challenges`: one-time codes and links as digests, with their purpose, deadline,
//! failed attempts and use; indexed by digest (links) and by the cabinet a recovery challenge
//! recovers.

use sea_orm_migration::prelude::*;

/// Creates and drops `challenges`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Challenges {
    Table,
    Id,
    Purpose,
    Payload,
    Recovers,
    Digest,
    IssuedAt,
    ExpiresAt,
    FailedAttempts,
    ConsumedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Challenges::Table)
                    .col(
                        ColumnDef::new(Challenges::Id)
                            .string_len(32)
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(Challenges::Purpose)
                            .string_len(32)
                            .not_null(),
                    )
                    .col(ColumnDef::new(Challenges::Payload).text().not_null())
                    .col(ColumnDef::new(Challenges::Recovers).string_len(32).null())
                    .col(ColumnDef::new(Challenges::Digest).blob().not_null())
                    .col(
                        ColumnDef::new(Challenges::IssuedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Challenges::ExpiresAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Challenges::FailedAttempts)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Challenges::ConsumedAt).big_integer().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("challenges_by_digest")
                    .table(Challenges::Table)
                    .col(Challenges::Digest)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("challenges_by_recovered_cabinet")
                    .table(Challenges::Table)
                    .col(Challenges::Recovers)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Challenges::Table).to_owned())
            .await
    }
}
