//! Creates `consents`: consents to personal-data processing with the version and SHA-256 of
//! the text, when, through which channel and, if so, when withdrawn.

use sea_orm_migration::prelude::*;

use super::references_subscriber;

/// Creates and drops `consents`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Consents {
    Table,
    Seq,
    Id,
    SubscriberId,
    DocumentVersion,
    TextSha256,
    GivenAt,
    Channel,
    Device,
    WithdrawnAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Consents::Table)
                    .col(
                        ColumnDef::new(Consents::Seq)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(Consents::Id)
                            .string_len(32)
                            .not_null()
                            .unique_key(),
                    )
                    .col(
                        ColumnDef::new(Consents::SubscriberId)
                            .string_len(32)
                            .not_null(),
                    )
                    .col(ColumnDef::new(Consents::DocumentVersion).text().not_null())
                    .col(
                        ColumnDef::new(Consents::TextSha256)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(ColumnDef::new(Consents::GivenAt).big_integer().not_null())
                    .col(ColumnDef::new(Consents::Channel).string_len(16).not_null())
                    .col(ColumnDef::new(Consents::Device).text().null())
                    .col(ColumnDef::new(Consents::WithdrawnAt).big_integer().null())
                    .foreign_key(&mut references_subscriber(
                        "consents_subscriber_fkey",
                        Consents::Table,
                        Consents::SubscriberId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("consents_by_subscriber")
                    .table(Consents::Table)
                    .col(Consents::SubscriberId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Consents::Table).to_owned())
            .await
    }
}
