//! `billing_run_houses`: a run's houses and whether each is billed (`pending`, `done`,
//! `failed`).

use sea_orm::entity::prelude::*;

/// A row of `billing_run_houses`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "billing_run_houses")]
pub struct Model {
    /// The run.
    #[sea_orm(primary_key, auto_increment = false)]
    pub run_id: i64,
    /// The house.
    #[sea_orm(primary_key, auto_increment = false)]
    pub house_id: i64,
    /// `pending`, `done` or `failed`.
    pub state: String,
    /// Charge sets stored for the house by the run.
    pub accounts: Option<i64>,
    /// Why the house failed (for the operator; English).
    pub error: Option<String>,
}

/// No relations are navigated through SeaORM; foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
