//! `tariff_versions`: effective-dated tariff versions, prices as JSON of `TariffKind`.

use sea_orm::entity::prelude::*;

/// A row of `tariff_versions`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tariff_versions")]
pub struct Model {
    /// The version's id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i64,
    /// The supplier.
    pub supplier_id: i64,
    /// Service tag.
    pub service: String,
    /// Consumer group tag.
    pub consumer_group: String,
    /// First day in force, `YYYY-MM-DD`.
    pub valid_from: String,
    /// Prices: JSON of `TariffKind`.
    pub kind: String,
}

/// No relations are navigated through SeaORM; foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
