//! Creates `recalculations`: corrections of closed periods (control checks, operator
//! corrections), each with the reading it put in force, pending until the charge set that
//! bills them sets `applied_in`; indexed by (account, first period billable, id).

use sea_orm_migration::prelude::*;

use super::exact;

/// Creates and drops `recalculations`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Recalculations {
    Table,
    Id,
    AccountId,
    Service,
    OfPeriod,
    BilledFrom,
    Amount,
    Reason,
    Kind,
    RecordedOn,
    ReadingId,
    AppliedIn,
}

#[derive(DeriveIden)]
enum Accounts {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Readings {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Recalculations::Table)
                    .col(
                        ColumnDef::new(Recalculations::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(Recalculations::AccountId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Recalculations::Service)
                            .string_len(32)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Recalculations::OfPeriod)
                            .integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Recalculations::BilledFrom)
                            .integer()
                            .not_null(),
                    )
                    .col(exact::money(manager, Recalculations::Amount).not_null())
                    .col(ColumnDef::new(Recalculations::Reason).text().not_null())
                    .col(
                        ColumnDef::new(Recalculations::Kind)
                            .string_len(32)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Recalculations::RecordedOn)
                            .string_len(10)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Recalculations::ReadingId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Recalculations::AppliedIn).integer())
                    .foreign_key(
                        ForeignKey::create()
                            .name("recalculations_account_fkey")
                            .from(Recalculations::Table, Recalculations::AccountId)
                            .to(Accounts::Table, Accounts::Id)
                            .on_delete(ForeignKeyAction::Restrict)
                            .on_update(ForeignKeyAction::Restrict),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("recalculations_reading_fkey")
                            .from(Recalculations::Table, Recalculations::ReadingId)
                            .to(Readings::Table, Readings::Id)
                            .on_delete(ForeignKeyAction::Restrict)
                            .on_update(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("recalculations_by_account")
                    .table(Recalculations::Table)
                    .col(Recalculations::AccountId)
                    .col(Recalculations::BilledFrom)
                    .col(Recalculations::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Recalculations::Table).to_owned())
            .await
    }
}
