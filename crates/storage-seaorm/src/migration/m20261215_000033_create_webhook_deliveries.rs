//! Creates `webhook_deliveries`: the sandbox gateway's webhook events and their delivery
//! state, one row per event (**UNIQUE `event_id`**). Ids come from the database's sequence
//! (`bigserial`; SQLite `AUTOINCREMENT`), so they only grow and are never reused.
//!
//! Indexes: the partial index `webhook_deliveries_due` on (`next_attempt_at`, `id`) `WHERE
//! delivered_at IS NULL AND failed_at IS NULL` holds only the deliveries still to make, in the
//! order the dispatcher claims them (both backends support partial indexes); and
//! (`payment_id`, `id`) for one payment's deliveries, newest first. `down` drops the table and
//! with it both.
//!
//! **Sandbox only:** the table is always created, but only a server running sandbox providers
//! writes it.

use sea_orm_migration::prelude::*;

/// Creates and drops `webhook_deliveries`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum WebhookDeliveries {
    Table,
    Id,
    EventId,
    PaymentId,
    EventType,
    Payload,
    Attempts,
    NextAttemptAt,
    DeliveredAt,
    FailedAt,
    LastStatus,
    LastError,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(WebhookDeliveries::Table)
                    .col(
                        ColumnDef::new(WebhookDeliveries::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(WebhookDeliveries::EventId)
                            .text()
                            .not_null()
                            .unique_key(),
                    )
                    .col(
                        ColumnDef::new(WebhookDeliveries::PaymentId)
                            .text()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(WebhookDeliveries::EventType)
                            .text()
                            .not_null(),
                    )
                    .col(ColumnDef::new(WebhookDeliveries::Payload).text().not_null())
                    .col(
                        ColumnDef::new(WebhookDeliveries::Attempts)
                            .integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(WebhookDeliveries::NextAttemptAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(WebhookDeliveries::DeliveredAt)
                            .big_integer()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(WebhookDeliveries::FailedAt)
                            .big_integer()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(WebhookDeliveries::LastStatus)
                            .integer()
                            .null(),
                    )
                    .col(ColumnDef::new(WebhookDeliveries::LastError).text().null())
                    .col(
                        ColumnDef::new(WebhookDeliveries::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("webhook_deliveries_by_payment")
                    .table(WebhookDeliveries::Table)
                    .col(WebhookDeliveries::PaymentId)
                    .col(WebhookDeliveries::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at, id) \
                 WHERE delivered_at IS NULL AND failed_at IS NULL",
            )
            .await
            .map(drop)
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(WebhookDeliveries::Table).to_owned())
            .await
    }
}
