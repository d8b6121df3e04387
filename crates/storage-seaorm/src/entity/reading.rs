//! `readings`: submitted meter readings; at most one accepted per (meter, period, slot).

use sea_orm::entity::prelude::*;

/// A row of `readings`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "readings")]
pub struct Model {
    /// The id storage assigned.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The meter read.
    pub meter_id: i64,
    /// The period, `year * 100 + month`.
    pub period: i32,
    /// Register values, `;`-separated exact decimals in register order.
    pub register_values: String,
    /// The day taken, `YYYY-MM-DD`.
    pub taken_on: String,
    /// When it reached the supplier: nanoseconds since the Unix epoch, UTC.
    pub submitted_at: i64,
    /// Source tag, for example `subscriber`.
    pub source: String,
    /// Status tag: `accepted`, `superseded`, `cancelled`.
    pub status: String,
    /// Slot tag: `ordinary`, `replacement_final`, `replacement_initial` (from the source).
    pub slot: String,
    /// The reading this one corrects.
    pub supersedes: Option<i64>,
}

/// No relations are navigated through SeaORM; foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
