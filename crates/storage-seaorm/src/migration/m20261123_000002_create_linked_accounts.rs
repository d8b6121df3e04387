//! Creates `linked_accounts`: the ЛС of each cabinet, each at most once per cabinet, at most
//! one of them active (a partial unique index on `subscriber_id WHERE active`).

use sea_orm_migration::prelude::*;

use super::references_subscriber;

/// Creates and drops `linked_accounts`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum LinkedAccounts {
    Table,
    Seq,
    SubscriberId,
    Supplier,
    Number,
    Proof,
    LinkedAt,
    Active,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(LinkedAccounts::Table)
                    .col(
                        ColumnDef::new(LinkedAccounts::Seq)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(LinkedAccounts::SubscriberId)
                            .string_len(32)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(LinkedAccounts::Supplier)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(LinkedAccounts::Number)
                            .string_len(20)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(LinkedAccounts::Proof)
                            .string_len(32)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(LinkedAccounts::LinkedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(LinkedAccounts::Active).boolean().not_null())
                    .foreign_key(&mut references_subscriber(
                        "linked_accounts_subscriber_fkey",
                        LinkedAccounts::Table,
                        LinkedAccounts::SubscriberId,
                    ))
                    .index(
                        Index::create()
                            .name("linked_accounts_once_per_cabinet")
                            .col(LinkedAccounts::SubscriberId)
                            .col(LinkedAccounts::Supplier)
                            .col(LinkedAccounts::Number)
                            .unique(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX linked_accounts_one_active \
                 ON linked_accounts (subscriber_id) WHERE active",
            )
            .await
            .map(drop)
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(LinkedAccounts::Table).to_owned())
            .await
    }
}
