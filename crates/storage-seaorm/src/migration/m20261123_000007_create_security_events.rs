//! Creates `security_events`: the append-only security log, read newest first per cabinet.

use sea_orm_migration::prelude::*;

use super::references_subscriber;

/// Creates and drops `security_events`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SecurityEvents {
    Table,
    Seq,
    SubscriberId,
    At,
    Kind,
    Detail,
    Channel,
    Device,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SecurityEvents::Table)
                    .col(
                        ColumnDef::new(SecurityEvents::Seq)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(SecurityEvents::SubscriberId)
                            .string_len(32)
                            .not_null(),
                    )
                    .col(ColumnDef::new(SecurityEvents::At).big_integer().not_null())
                    .col(
                        ColumnDef::new(SecurityEvents::Kind)
                            .string_len(32)
                            .not_null(),
                    )
                    .col(ColumnDef::new(SecurityEvents::Detail).text().not_null())
                    .col(
                        ColumnDef::new(SecurityEvents::Channel)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(ColumnDef::new(SecurityEvents::Device).text().null())
                    .foreign_key(&mut references_subscriber(
                        "security_events_subscriber_fkey",
                        SecurityEvents::Table,
                        SecurityEvents::SubscriberId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("security_events_by_subscriber")
                    .table(SecurityEvents::Table)
                    .col(SecurityEvents::SubscriberId)
                    .col(SecurityEvents::Seq)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(SecurityEvents::Table).to_owned())
            .await
    }
}
