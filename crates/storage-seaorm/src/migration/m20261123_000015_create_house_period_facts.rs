//! Creates `house_period_facts`: what a house billing run needs of a house for one period
//! besides its accounts (house meter volumes, other non-residential volume, heat production,
//! the carried-in negative ОДН) — at most one row per (house, period), the primary key.

use sea_orm_migration::prelude::*;

use super::exact;

/// Creates and drops `house_period_facts`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum HousePeriodFacts {
    Table,
    HouseId,
    Period,
    HouseMeterVolume,
    OtherNonResidentialVolume,
    HeatProductionVolume,
    CarriedIn,
    HeatMeterVolume,
}

#[derive(DeriveIden)]
enum Houses {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(HousePeriodFacts::Table)
                    .col(
                        ColumnDef::new(HousePeriodFacts::HouseId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(HousePeriodFacts::Period)
                            .integer()
                            .not_null(),
                    )
                    .col(exact::decimal(manager, HousePeriodFacts::HouseMeterVolume))
                    .col(
                        exact::decimal(manager, HousePeriodFacts::OtherNonResidentialVolume)
                            .not_null(),
                    )
                    .col(exact::decimal(manager, HousePeriodFacts::HeatProductionVolume).not_null())
                    .col(exact::decimal(manager, HousePeriodFacts::CarriedIn).not_null())
                    .col(exact::decimal(manager, HousePeriodFacts::HeatMeterVolume))
                    .primary_key(
                        Index::create()
                            .col(HousePeriodFacts::HouseId)
                            .col(HousePeriodFacts::Period),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("house_period_facts_house_fkey")
                            .from(HousePeriodFacts::Table, HousePeriodFacts::HouseId)
                            .to(Houses::Table, Houses::Id)
                            .on_delete(ForeignKeyAction::Restrict)
                            .on_update(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(HousePeriodFacts::Table).to_owned())
            .await
    }
}
