//! Creates `sandbox_payments` and `sandbox_refunds`: the sandbox gateway's own books — the
//! payments it was asked for (**PK `id`, UNIQUE `order_ref`**, so a payment created twice under
//! either key is refused by the database itself; a `version` for compare-and-set updates) and
//! their refunds (**UNIQUE `refund_ref`**, each referencing its payment, deleted with it),
//! indexed by payment. Money is exact (`exact::money`), times BIGINT nanoseconds.
//!
//! **Sandbox only:** the tables are always created, but only a server running sandbox
//! providers writes them.

use sea_orm_migration::prelude::*;

use super::exact;

/// Creates and drops `sandbox_payments` and `sandbox_refunds`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SandboxPayments {
    Table,
    Id,
    OrderRef,
    AccountNumber,
    Amount,
    Description,
    ReturnUrl,
    ContactEmail,
    ContactPhone,
    Status,
    FailureReason,
    CardLast4,
    CardBrand,
    CodeAttempts,
    Refunded,
    CreatedAt,
    UpdatedAt,
    Version,
}

#[derive(DeriveIden)]
enum SandboxRefunds {
    Table,
    Id,
    PaymentId,
    RefundRef,
    Amount,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SandboxPayments::Table)
                    .col(
                        ColumnDef::new(SandboxPayments::Id)
                            .string_len(40)
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(SandboxPayments::OrderRef)
                            .string_len(128)
                            .not_null()
                            .unique_key(),
                    )
                    .col(
                        ColumnDef::new(SandboxPayments::AccountNumber)
                            .text()
                            .not_null(),
                    )
                    .col(exact::money(manager, SandboxPayments::Amount).not_null())
                    .col(
                        ColumnDef::new(SandboxPayments::Description)
                            .text()
                            .not_null(),
                    )
                    .col(ColumnDef::new(SandboxPayments::ReturnUrl).text().not_null())
                    .col(ColumnDef::new(SandboxPayments::ContactEmail).text().null())
                    .col(ColumnDef::new(SandboxPayments::ContactPhone).text().null())
                    .col(
                        ColumnDef::new(SandboxPayments::Status)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(ColumnDef::new(SandboxPayments::FailureReason).text().null())
                    .col(ColumnDef::new(SandboxPayments::CardLast4).text().null())
                    .col(ColumnDef::new(SandboxPayments::CardBrand).text().null())
                    .col(
                        ColumnDef::new(SandboxPayments::CodeAttempts)
                            .integer()
                            .not_null(),
                    )
                    .col(exact::money(manager, SandboxPayments::Refunded).not_null())
                    .col(
                        ColumnDef::new(SandboxPayments::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(SandboxPayments::UpdatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(SandboxPayments::Version)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SandboxRefunds::Table)
                    .col(
                        ColumnDef::new(SandboxRefunds::Id)
                            .text()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(SandboxRefunds::PaymentId)
                            .string_len(40)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(SandboxRefunds::RefundRef)
                            .text()
                            .not_null()
                            .unique_key(),
                    )
                    .col(exact::money(manager, SandboxRefunds::Amount).not_null())
                    .col(
                        ColumnDef::new(SandboxRefunds::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("sandbox_refunds_payment")
                            .from(SandboxRefunds::Table, SandboxRefunds::PaymentId)
                            .to(SandboxPayments::Table, SandboxPayments::Id)
                            .on_delete(ForeignKeyAction::Cascade)
                            .on_update(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("sandbox_refunds_by_payment")
                    .table(SandboxRefunds::Table)
                    .col(SandboxRefunds::PaymentId)
                    .col(SandboxRefunds::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(SandboxRefunds::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(SandboxPayments::Table).to_owned())
            .await
    }
}
