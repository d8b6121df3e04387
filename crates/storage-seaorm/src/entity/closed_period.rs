//! `closed_periods`: the periods each supplier has closed, once each (PK (supplier_id, period)).

use sea_orm::entity::prelude::*;

/// A row of `closed_periods`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "closed_periods")]
pub struct Model {
    /// The supplier.
    #[sea_orm(primary_key, auto_increment = false)]
    pub supplier_id: i64,
    /// The period closed, as `year * 100 + month`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub period: i32,
}

/// No relations are navigated through SeaORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
