//! Creates `refund_requests`: written refund requests, **once per (payment, number)**, with
//! their outcome; each references its payment.

use sea_orm_migration::prelude::*;

use super::exact;

/// Creates and drops `refund_requests`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum RefundRequests {
    Table,
    Id,
    PaymentId,
    GatewayId,
    AccountId,
    Amount,
    Number,
    ReceivedOn,
    DueBy,
    Status,
    DecidedOn,
    RejectionReason,
}

#[derive(DeriveIden)]
enum Payments {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RefundRequests::Table)
                    .col(
                        ColumnDef::new(RefundRequests::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(RefundRequests::PaymentId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(RefundRequests::GatewayId)
                            .string_len(128)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(RefundRequests::AccountId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(exact::money(manager, RefundRequests::Amount).not_null())
                    .col(ColumnDef::new(RefundRequests::Number).text().not_null())
                    .col(
                        ColumnDef::new(RefundRequests::ReceivedOn)
                            .string_len(10)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(RefundRequests::DueBy)
                            .string_len(10)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(RefundRequests::Status)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(ColumnDef::new(RefundRequests::DecidedOn).string_len(10))
                    .col(ColumnDef::new(RefundRequests::RejectionReason).text())
                    .foreign_key(
                        ForeignKey::create()
                            .name("refund_requests_payment_fkey")
                            .from(RefundRequests::Table, RefundRequests::PaymentId)
                            .to(Payments::Table, Payments::Id)
                            .on_delete(ForeignKeyAction::Restrict)
                            .on_update(ForeignKeyAction::Restrict),
                    )
                    .index(
                        Index::create()
                            .name("refund_requests_once_per_number")
                            .col(RefundRequests::PaymentId)
                            .col(RefundRequests::Number)
                            .unique(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(RefundRequests::Table).to_owned())
            .await
    }
}
