//! Creates `online_payments`: the online payments started at a gateway (what the gateway was
//! asked and answered; the ledger's `payments` row has the same gateway id) — **PK
//! `gateway_id`, UNIQUE `order_ref`**, so a start recorded twice, under either key, is refused
//! by the database itself.
//!
//! Indexes for the reconciliation pass ("started before T, ledger payment still `created` or
//! `pending`, oldest first"): (`created_at`, `gateway_id`) on `online_payments`, and the
//! partial index `payments_unsettled` on `payments` (`gateway_id`) `WHERE state IN ('created',
//! 'pending')`, which holds only the few payments not yet final; `down` drops both.

use sea_orm_migration::prelude::*;

use super::exact;

/// Creates and drops `online_payments` (and the partial index on `payments`).
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum OnlinePayments {
    Table,
    GatewayId,
    OrderRef,
    AccountId,
    Amount,
    Split,
    Payer,
    ContactEmail,
    ContactPhone,
    ConfirmationUrl,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(OnlinePayments::Table)
                    .col(
                        ColumnDef::new(OnlinePayments::GatewayId)
                            .string_len(128)
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(OnlinePayments::OrderRef)
                            .string_len(128)
                            .not_null()
                            .unique_key(),
                    )
                    .col(
                        ColumnDef::new(OnlinePayments::AccountId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(exact::money(manager, OnlinePayments::Amount).not_null())
                    .col(ColumnDef::new(OnlinePayments::Split).text().null())
                    .col(ColumnDef::new(OnlinePayments::Payer).text().not_null())
                    .col(ColumnDef::new(OnlinePayments::ContactEmail).text().null())
                    .col(ColumnDef::new(OnlinePayments::ContactPhone).text().null())
                    .col(
                        ColumnDef::new(OnlinePayments::ConfirmationUrl)
                            .text()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(OnlinePayments::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("online_payments_by_creation")
                    .table(OnlinePayments::Table)
                    .col(OnlinePayments::CreatedAt)
                    .col(OnlinePayments::GatewayId)
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX payments_unsettled ON payments (gateway_id) \
                 WHERE state IN ('created', 'pending')",
            )
            .await
            .map(drop)
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP INDEX payments_unsettled")
            .await?;
        manager
            .drop_table(Table::drop().table(OnlinePayments::Table).to_owned())
            .await
    }
}
