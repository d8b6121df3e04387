//! Creates `autopay_settings`: a payer's autopay settings for an ЛС (plan G7) — **PK
//! (`account_id`, `payer`)**, one row per (ЛС, payer), so two first writes of the same settings
//! cannot both be stored. `account_id` references `accounts` (`ON DELETE CASCADE`: the
//! settings go with their ЛС); `payer` is the caller's opaque reference, at most 64
//! characters.
//!
//! `mode` is the tag `full_debt` or `fixed`; `amount` is set for `fixed` only (exact money,
//! NULL otherwise), `limit_amount` is the optional monthly limit (exact money or NULL),
//! `day_of_month` a SMALLINT, `enabled` a boolean. `version` (BIGINT, 1 after the first
//! write) is what `AutopayRepository::put` compares and sets. There is no time column: the
//! port carries none. The primary key is the only index: every query is by it.

use sea_orm_migration::prelude::*;

use super::exact;

/// Creates and drops `autopay_settings`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AutopaySettings {
    Table,
    AccountId,
    Payer,
    Enabled,
    Mode,
    Amount,
    DayOfMonth,
    LimitAmount,
    Version,
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
                    .table(AutopaySettings::Table)
                    .col(
                        ColumnDef::new(AutopaySettings::AccountId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AutopaySettings::Payer)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AutopaySettings::Enabled)
                            .boolean()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AutopaySettings::Mode)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(exact::money(manager, AutopaySettings::Amount).null())
                    .col(
                        ColumnDef::new(AutopaySettings::DayOfMonth)
                            .small_integer()
                            .not_null(),
                    )
                    .col(exact::money(manager, AutopaySettings::LimitAmount).null())
                    .col(
                        ColumnDef::new(AutopaySettings::Version)
                            .big_integer()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(AutopaySettings::AccountId)
                            .col(AutopaySettings::Payer),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("autopay_settings_account_fkey")
                            .from(AutopaySettings::Table, AutopaySettings::AccountId)
                            .to(Accounts::Table, Accounts::Id)
                            .on_delete(ForeignKeyAction::Cascade)
                            .on_update(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AutopaySettings::Table).to_owned())
            .await
    }
}
