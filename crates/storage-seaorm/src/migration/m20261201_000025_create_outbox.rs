//! Creates `outbox_messages`: the sandbox outbox of rendered SMS and email, read by the sandbox
//! inbox and by black-box tests (by recipient, after an id) and purged by age.
//!
//! **Sandbox only:** bodies hold one-time codes and links in clear text — the one documented
//! exception to "no secret reaches the database", allowed only when the service runs with
//! sandbox providers; rows are purged after a day.

use sea_orm_migration::prelude::*;

/// Creates and drops `outbox_messages`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum OutboxMessages {
    Table,
    Id,
    Channel,
    Recipient,
    Kind,
    Subject,
    Body,
    Correlation,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(OutboxMessages::Table)
                    .col(
                        ColumnDef::new(OutboxMessages::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(OutboxMessages::Channel)
                            .string_len(8)
                            .not_null(),
                    )
                    .col(ColumnDef::new(OutboxMessages::Recipient).text().not_null())
                    .col(
                        ColumnDef::new(OutboxMessages::Kind)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(ColumnDef::new(OutboxMessages::Subject).text().null())
                    .col(ColumnDef::new(OutboxMessages::Body).text().not_null())
                    .col(ColumnDef::new(OutboxMessages::Correlation).text().null())
                    .col(
                        ColumnDef::new(OutboxMessages::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("outbox_messages_by_recipient")
                    .table(OutboxMessages::Table)
                    .col(OutboxMessages::Recipient)
                    .col(OutboxMessages::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("outbox_messages_by_age")
                    .table(OutboxMessages::Table)
                    .col(OutboxMessages::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(OutboxMessages::Table).to_owned())
            .await
    }
}
