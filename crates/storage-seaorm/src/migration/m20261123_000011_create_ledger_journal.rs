//! Creates `ledger_journal`: the facts applied to each account's ledger, in application order
//! (`seq`), append-only. The core rebuilds the ledger from it; storage never allocates.

use sea_orm_migration::prelude::*;

use super::exact;

/// Creates and drops `ledger_journal`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum LedgerJournal {
    Table,
    Seq,
    AccountId,
    Date,
    Kind,
    Period,
    Service,
    Amount,
    DueDate,
    PaymentId,
    State,
    Reason,
    ReasonText,
    Split,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(LedgerJournal::Table)
                    .col(
                        ColumnDef::new(LedgerJournal::Seq)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(LedgerJournal::AccountId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(LedgerJournal::Date)
                            .string_len(10)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(LedgerJournal::Kind)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(ColumnDef::new(LedgerJournal::Period).integer())
                    .col(ColumnDef::new(LedgerJournal::Service).string_len(24))
                    .col(exact::money(manager, LedgerJournal::Amount))
                    .col(ColumnDef::new(LedgerJournal::DueDate).string_len(10))
                    .col(ColumnDef::new(LedgerJournal::PaymentId).big_integer())
                    .col(ColumnDef::new(LedgerJournal::State).string_len(16))
                    .col(ColumnDef::new(LedgerJournal::Reason).string_len(24))
                    .col(ColumnDef::new(LedgerJournal::ReasonText).text())
                    .col(ColumnDef::new(LedgerJournal::Split).text())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ledger_journal_by_account")
                    .table(LedgerJournal::Table)
                    .col(LedgerJournal::AccountId)
                    .col(LedgerJournal::Seq)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(LedgerJournal::Table).to_owned())
            .await
    }
}
