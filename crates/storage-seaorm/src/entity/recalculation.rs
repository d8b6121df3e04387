//! `recalculations`: corrections of closed periods, pending until `applied_in` is set.

use sea_orm::entity::prelude::*;

use super::Exact;

/// A row of `recalculations`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "recalculations")]
pub struct Model {
    /// The id storage assigned.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The account.
    pub account_id: i64,
    /// Service tag.
    pub service: String,
    /// The billed period whose charge is corrected.
    pub of_period: i32,
    /// The first period whose billing run may bill it.
    pub billed_from: i32,
    /// The difference of the charge.
    #[sea_orm(select_as = "text")]
    pub amount: Exact,
    /// Why, in Russian.
    pub reason: String,
    /// Kind tag: `control_check`, `reading_correction`.
    pub kind: String,
    /// The day it was recorded, `YYYY-MM-DD`.
    pub recorded_on: String,
    /// The reading it put in force.
    pub reading_id: i64,
    /// The period whose charge set billed it (NULL while pending).
    pub applied_in: Option<i32>,
}

/// No relations are navigated through SeaORM; foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
