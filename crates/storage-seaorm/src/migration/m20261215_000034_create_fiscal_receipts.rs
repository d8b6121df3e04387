//! Creates `fiscal_receipts`: the electronic fiscal receipts (54-ФЗ) claimed for issue, one per
//! payment's income and one per refund request's return — **UNIQUE (`payment_id`, `kind`,
//! `refund_request_id`)**, the exactly-once guard of `ReceiptRepository::claim`, so a second
//! claim of the same receipt is refused by the database itself. `refund_request_id` is 0 for an
//! income receipt (not NULL: a NULL would make every income row distinct to the UNIQUE on
//! both backends), so it has no foreign key; `payment_id` references `payments` and
//! `account_id` references `accounts`.
//!
//! The receipt itself is `document`, this adapter's JSON of it (`convert::receipt`); the
//! registration (`fiscal_number`, `document_number`, `fiscal_sign`, `registered_at`) is NULL
//! until the registrar confirmed it.
//!
//! Indexes: the partial index `fiscal_receipts_pending` (`id`) `WHERE registered_at IS NULL`
//! for the pending pass (oldest first), (`account_id`, `id` DESC) for the cabinet's list, and on
//! `payments` the partial index `payments_credited` (`created_on`, `id`) `WHERE state IN
//! ('succeeded', 'refunded')` for the backfill's "credited since D without an income receipt";
//! `down` drops the table (with its indexes) and `payments_credited`.

use sea_orm_migration::prelude::*;

/// Creates and drops `fiscal_receipts` (and the partial index on `payments`).
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum FiscalReceipts {
    Table,
    Id,
    PaymentId,
    Kind,
    RefundRequestId,
    AccountId,
    Document,
    FiscalNumber,
    DocumentNumber,
    FiscalSign,
    RegisteredAt,
    ClaimedAt,
}

#[derive(DeriveIden)]
enum Payments {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Accounts {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(FiscalReceipts::Table)
                    .col(
                        ColumnDef::new(FiscalReceipts::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(FiscalReceipts::PaymentId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(FiscalReceipts::Kind)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(FiscalReceipts::RefundRequestId)
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    .col(
                        ColumnDef::new(FiscalReceipts::AccountId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(FiscalReceipts::Document).text().not_null())
                    .col(ColumnDef::new(FiscalReceipts::FiscalNumber).text().null())
                    .col(
                        ColumnDef::new(FiscalReceipts::DocumentNumber)
                            .big_integer()
                            .null(),
                    )
                    .col(ColumnDef::new(FiscalReceipts::FiscalSign).text().null())
                    .col(
                        ColumnDef::new(FiscalReceipts::RegisteredAt)
                            .big_integer()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(FiscalReceipts::ClaimedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fiscal_receipts_payment_fkey")
                            .from(FiscalReceipts::Table, FiscalReceipts::PaymentId)
                            .to(Payments::Table, Payments::Id)
                            .on_delete(ForeignKeyAction::Restrict)
                            .on_update(ForeignKeyAction::Restrict),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fiscal_receipts_account_fkey")
                            .from(FiscalReceipts::Table, FiscalReceipts::AccountId)
                            .to(Accounts::Table, Accounts::Id)
                            .on_delete(ForeignKeyAction::Restrict)
                            .on_update(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("fiscal_receipts_once_per_key")
                    .table(FiscalReceipts::Table)
                    .col(FiscalReceipts::PaymentId)
                    .col(FiscalReceipts::Kind)
                    .col(FiscalReceipts::RefundRequestId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("fiscal_receipts_by_account")
                    .table(FiscalReceipts::Table)
                    .col(FiscalReceipts::AccountId)
                    .col((FiscalReceipts::Id, IndexOrder::Desc))
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        db.execute_unprepared(
            "CREATE INDEX fiscal_receipts_pending ON fiscal_receipts (id) \
             WHERE registered_at IS NULL",
        )
        .await?;
        db.execute_unprepared(
            "CREATE INDEX payments_credited ON payments (created_on, id) \
             WHERE state IN ('succeeded', 'refunded')",
        )
        .await
        .map(drop)
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP INDEX payments_credited")
            .await?;
        manager
            .drop_table(Table::drop().table(FiscalReceipts::Table).to_owned())
            .await
    }
}
