//! `penalty_windows`: the exception windows of the penalty rule.

use sea_orm::entity::prelude::*;

/// A row of `penalty_windows`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "penalty_windows")]
pub struct Model {
    /// Order of entry.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The first day of the window, `YYYY-MM-DD`.
    pub from_day: String,
    /// The last day of the window (inclusive).
    pub to_day: String,
    /// What the window does: JSON of `WindowEffect`.
    pub effect: String,
    /// The legal act: `pp424`, `pp497`, `pp474` or `other:<number>`.
    pub basis: String,
}

/// No relations are navigated through SeaORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
