//! Creates `captcha_challenges`: the sandbox captcha's challenges, each stored as the SHA-256
//! digest of its answer with a deadline, used at most once (one conditional UPDATE sets
//! `used_at`); indexed by deadline for the purge.

use sea_orm_migration::prelude::*;

/// Creates and drops `captcha_challenges`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum CaptchaChallenges {
    Table,
    Id,
    AnswerDigest,
    IssuedAt,
    ExpiresAt,
    UsedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CaptchaChallenges::Table)
                    .col(
                        ColumnDef::new(CaptchaChallenges::Id)
                            .string_len(32)
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(CaptchaChallenges::AnswerDigest)
                            .blob()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(CaptchaChallenges::IssuedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(CaptchaChallenges::ExpiresAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(CaptchaChallenges::UsedAt)
                            .big_integer()
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("captcha_challenges_by_deadline")
                    .table(CaptchaChallenges::Table)
                    .col(CaptchaChallenges::ExpiresAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(CaptchaChallenges::Table).to_owned())
            .await
    }
}
