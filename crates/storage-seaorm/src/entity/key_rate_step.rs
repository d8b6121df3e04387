//! `key_rate_steps`: the key-rate history, one row per first day in force.

use sea_orm::entity::prelude::*;

use super::Exact;

/// A row of `key_rate_steps`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "key_rate_steps")]
pub struct Model {
    /// The first day the rate is in force, `YYYY-MM-DD`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub from_day: String,
    /// The rate in percent (`9.5`).
    #[sea_orm(select_as = "text")]
    pub rate: Exact,
}

/// No relations are navigated through SeaORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
