//! `houses`: each house of a supplier with its areas, ОДН policy (JSON) and heating flags.

use sea_orm::entity::prelude::*;

use super::Exact;

/// A row of `houses`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "houses")]
pub struct Model {
    /// The house's id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i64,
    /// The supplier.
    pub supplier_id: i64,
    /// Postal address.
    pub address: String,
    /// S_total, m².
    #[sea_orm(select_as = "text")]
    pub total_area: Exact,
    /// S_common, m².
    #[sea_orm(select_as = "text")]
    pub common_area: Exact,
    /// The ОДН policy: JSON of `OdnPolicy`.
    pub odn: String,
    /// Electrically heated without gas.
    pub electric_heating: bool,
    /// Has a working heat meter.
    pub heat_meter: bool,
}

/// No relations are navigated through SeaORM; foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
