//! Creates `charge_sets` and `charge_lines`: what one billing run charged one account for one
//! period, and why.
//!
//! **PRIMARY KEY (account_id, period)** on `charge_sets` is the rule "one charge set per
//! (account, period)": a second run — concurrent or repeated — fails on it and writes nothing,
//! because the set, its lines, its volumes, its ledger postings and the recalculations it
//! applies are one transaction. Lines reference their set and are never updated.

use sea_orm_migration::prelude::*;

use super::exact;

/// Creates and drops `charge_sets` and `charge_lines`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ChargeSets {
    Table,
    AccountId,
    Period,
    SupplierId,
    PostedOn,
    DueDate,
    Total,
    Volumes,
    Recalculations,
}

#[derive(DeriveIden)]
enum ChargeLines {
    Table,
    AccountId,
    Period,
    Seq,
    Service,
    Amount,
    Line,
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
                    .table(ChargeSets::Table)
                    .col(
                        ColumnDef::new(ChargeSets::AccountId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(ChargeSets::Period).integer().not_null())
                    .col(
                        ColumnDef::new(ChargeSets::SupplierId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ChargeSets::PostedOn)
                            .string_len(10)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ChargeSets::DueDate)
                            .string_len(10)
                            .not_null(),
                    )
                    .col(exact::money(manager, ChargeSets::Total).not_null())
                    .col(ColumnDef::new(ChargeSets::Volumes).text().not_null())
                    .col(ColumnDef::new(ChargeSets::Recalculations).text().not_null())
                    .primary_key(
                        Index::create()
                            .col(ChargeSets::AccountId)
                            .col(ChargeSets::Period),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("charge_sets_account")
                            .from(ChargeSets::Table, ChargeSets::AccountId)
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
                    .name("charge_sets_by_supplier_period")
                    .table(ChargeSets::Table)
                    .col(ChargeSets::SupplierId)
                    .col(ChargeSets::Period)
                    .to_owned(),
            )
            .await?;
        create_charge_lines(manager).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ChargeLines::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(ChargeSets::Table).to_owned())
            .await
    }
}

/// Creates `charge_lines` as this migration made it (migration 37's `down` makes it again).
pub(super) async fn create_charge_lines(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(ChargeLines::Table)
                .col(
                    ColumnDef::new(ChargeLines::AccountId)
                        .big_integer()
                        .not_null(),
                )
                .col(ColumnDef::new(ChargeLines::Period).integer().not_null())
                .col(ColumnDef::new(ChargeLines::Seq).integer().not_null())
                .col(
                    ColumnDef::new(ChargeLines::Service)
                        .string_len(24)
                        .not_null(),
                )
                .col(exact::money(manager, ChargeLines::Amount).not_null())
                .col(ColumnDef::new(ChargeLines::Line).text().not_null())
                .primary_key(
                    Index::create()
                        .col(ChargeLines::AccountId)
                        .col(ChargeLines::Period)
                        .col(ChargeLines::Seq),
                )
                .foreign_key(
                    ForeignKey::create()
                        .name("charge_lines_set")
                        .from(
                            ChargeLines::Table,
                            (ChargeLines::AccountId, ChargeLines::Period),
                        )
                        .to(
                            ChargeSets::Table,
                            (ChargeSets::AccountId, ChargeSets::Period),
                        )
                        .on_delete(ForeignKeyAction::Cascade)
                        .on_update(ForeignKeyAction::Restrict),
                )
                .to_owned(),
        )
        .await
}
