//! Creates `key_rate_steps` (the Bank of Russia key-rate history: one row per first day in
//! force, the rate in percent) and `penalty_windows` (the moratorium and rate-cap windows of
//! penalties: their days, their effect as JSON of the domain's serde form and the legal act as
//! a tag), and seeds them with `KeyRateHistory::bank_of_russia()` and
//! `PenaltyRules::russian_statutory()`, so a fresh database computes penalties at once. The
//! operator replaces both later (`Storage::set_key_rates`, `Storage::set_penalty_rules`).

use billing_core::keyrate::{KeyRateHistory, PenaltyRules};
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::EntityTrait;

use super::exact;
use crate::convert::keyrate;
use crate::entity::{key_rate_step, penalty_window};

/// Creates, seeds and drops `key_rate_steps` and `penalty_windows`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum KeyRateSteps {
    Table,
    FromDay,
    Rate,
}

#[derive(DeriveIden)]
enum PenaltyWindows {
    Table,
    Id,
    FromDay,
    ToDay,
    Effect,
    Basis,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(KeyRateSteps::Table)
                    .col(
                        ColumnDef::new(KeyRateSteps::FromDay)
                            .string_len(10)
                            .not_null()
                            .primary_key(),
                    )
                    .col(exact::decimal(manager, KeyRateSteps::Rate).not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(PenaltyWindows::Table)
                    .col(
                        ColumnDef::new(PenaltyWindows::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(PenaltyWindows::FromDay)
                            .string_len(10)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(PenaltyWindows::ToDay)
                            .string_len(10)
                            .not_null(),
                    )
                    .col(ColumnDef::new(PenaltyWindows::Effect).text().not_null())
                    .col(
                        ColumnDef::new(PenaltyWindows::Basis)
                            .string_len(32)
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        let steps = KeyRateHistory::bank_of_russia()
            .steps()
            .iter()
            .map(keyrate::step_to_row)
            .collect::<Vec<_>>();
        key_rate_step::Entity::insert_many(steps)
            .exec_without_returning(db)
            .await?;
        let windows = PenaltyRules::russian_statutory()
            .windows()
            .iter()
            .map(keyrate::window_to_row)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| DbErr::Custom(format!("seed penalty windows: {e}")))?;
        penalty_window::Entity::insert_many(windows)
            .exec_without_returning(db)
            .await
            .map(drop)
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(PenaltyWindows::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(KeyRateSteps::Table).to_owned())
            .await
    }
}
