//! Creates `questions`: subscribers' questions to the supplier and, once given, the operator's
//! answer (set once by ONE conditional UPDATE `… WHERE id = $1 AND answered_at IS NULL`).
//! The ЛС a question is about is two columns, `account_supplier` and `account_number` (both
//! NULL for a general question), so the operators' queue can be filtered by supplier.
//!
//! Indexes: (`subscriber_id`, `asked_at`, `id`) for a cabinet's questions, newest first, and
//! two partial indexes over the open questions only (`WHERE answered_at IS NULL`) for the
//! operators' keyset-paginated queue: (`asked_at`, `id`) and (`account_supplier`, `asked_at`,
//! `id`). `answered_by` names an operator without a foreign key: operators are only ever
//! disabled, never deleted, and an answer stays readable whatever becomes of its author.

use sea_orm_migration::prelude::*;

use super::references_subscriber;

/// Creates and drops `questions`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Questions {
    Table,
    Id,
    SubscriberId,
    AccountSupplier,
    AccountNumber,
    Topic,
    Text,
    AskedAt,
    AnswerText,
    AnsweredBy,
    AnsweredAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Questions::Table)
                    .col(
                        ColumnDef::new(Questions::Id)
                            .string_len(32)
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(Questions::SubscriberId)
                            .string_len(32)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Questions::AccountSupplier)
                            .string_len(64)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(Questions::AccountNumber)
                            .string_len(20)
                            .null(),
                    )
                    .col(ColumnDef::new(Questions::Topic).string_len(16).not_null())
                    .col(ColumnDef::new(Questions::Text).text().not_null())
                    .col(ColumnDef::new(Questions::AskedAt).big_integer().not_null())
                    .col(ColumnDef::new(Questions::AnswerText).text().null())
                    .col(ColumnDef::new(Questions::AnsweredBy).string_len(32).null())
                    .col(ColumnDef::new(Questions::AnsweredAt).big_integer().null())
                    .foreign_key(&mut references_subscriber(
                        "questions_subscriber_fkey",
                        Questions::Table,
                        Questions::SubscriberId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("questions_by_subscriber")
                    .table(Questions::Table)
                    .col(Questions::SubscriberId)
                    .col(Questions::AskedAt)
                    .col(Questions::Id)
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        db.execute_unprepared(
            "CREATE INDEX questions_open ON questions (asked_at, id) \
             WHERE answered_at IS NULL",
        )
        .await?;
        db.execute_unprepared(
            "CREATE INDEX questions_open_by_supplier \
             ON questions (account_supplier, asked_at, id) WHERE answered_at IS NULL",
        )
        .await
        .map(drop)
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Questions::Table).to_owned())
            .await
    }
}
