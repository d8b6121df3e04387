//! `billing_runs`: one supplier-wide billing run per (supplier, period).

use sea_orm::entity::prelude::*;

/// A row of `billing_runs`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "billing_runs")]
pub struct Model {
    /// The id storage assigned.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The supplier.
    pub supplier_id: i64,
    /// The period, `year * 100 + month`.
    pub period: i32,
    /// The posting day of every set of the run, `YYYY-MM-DD`.
    pub posted_on: String,
    /// When it was started, ns since the Unix epoch.
    pub started_at: i64,
    /// When its last house was billed, ns since the Unix epoch.
    pub finished_at: Option<i64>,
    /// Houses it bills.
    pub houses_total: i64,
}

/// No relations are navigated through SeaORM; foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
