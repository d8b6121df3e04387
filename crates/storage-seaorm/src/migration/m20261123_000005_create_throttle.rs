//! Creates `throttle_keys` (one lockable row per key) and `throttle_events` (the reserved
//! attempts of each key, indexed by key and time).

use sea_orm_migration::prelude::*;

/// Creates and drops `throttle_keys` and `throttle_events`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ThrottleKeys {
    Table,
    Scope,
    Subject,
}

#[derive(DeriveIden)]
enum ThrottleEvents {
    Table,
    Seq,
    Scope,
    Subject,
    At,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ThrottleKeys::Table)
                    .col(
                        ColumnDef::new(ThrottleKeys::Scope)
                            .string_len(32)
                            .not_null(),
                    )
                    .col(ColumnDef::new(ThrottleKeys::Subject).text().not_null())
                    .primary_key(
                        Index::create()
                            .col(ThrottleKeys::Scope)
                            .col(ThrottleKeys::Subject),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ThrottleEvents::Table)
                    .col(
                        ColumnDef::new(ThrottleEvents::Seq)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(ThrottleEvents::Scope)
                            .string_len(32)
                            .not_null(),
                    )
                    .col(ColumnDef::new(ThrottleEvents::Subject).text().not_null())
                    .col(ColumnDef::new(ThrottleEvents::At).big_integer().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("throttle_events_by_key_and_time")
                    .table(ThrottleEvents::Table)
                    .col(ThrottleEvents::Scope)
                    .col(ThrottleEvents::Subject)
                    .col(ThrottleEvents::At)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ThrottleEvents::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(ThrottleKeys::Table).to_owned())
            .await
    }
}
