//! `house_period_facts`: a house's facts of one period (PK (house_id, period)).

use sea_orm::entity::prelude::*;

use super::Exact;

/// A row of `house_period_facts`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "house_period_facts")]
pub struct Model {
    /// The house.
    #[sea_orm(primary_key, auto_increment = false)]
    pub house_id: i64,
    /// The period, `year * 100 + month`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub period: i32,
    /// The house electricity meter's volume (NULL without a working meter).
    #[sea_orm(select_as = "text")]
    pub house_meter_volume: Option<Exact>,
    /// Σ electricity of non-residential premises not billed by this supplier.
    #[sea_orm(select_as = "text")]
    pub other_non_residential_volume: Exact,
    /// Electricity used to produce heat or hot water.
    #[sea_orm(select_as = "text")]
    pub heat_production_volume: Exact,
    /// A negative ОДН remainder carried in (≤ 0).
    #[sea_orm(select_as = "text")]
    pub carried_in: Exact,
    /// The house heat meter's volume (NULL when heating is not billed by it).
    #[sea_orm(select_as = "text")]
    pub heat_meter_volume: Option<Exact>,
}

/// No relations are navigated through SeaORM; foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
