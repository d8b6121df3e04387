//! `volume_history`: one volume per (account, service, period), billed or imported.

use sea_orm::entity::prelude::*;

/// A row of `volume_history`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "volume_history")]
pub struct Model {
    /// The account.
    #[sea_orm(primary_key, auto_increment = false)]
    pub account_id: i64,
    /// Service tag.
    #[sea_orm(primary_key, auto_increment = false)]
    pub service: String,
    /// The period, `year * 100 + month`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub period: i32,
    /// Volume kind tag: `readings`, `true_up`, `average`, `norm`.
    pub kind: String,
    /// The volume per register, `;`-separated exact decimals.
    pub register_values: String,
    /// `billed` (stored with its charge set) or `imported` (from a previous system).
    pub origin: String,
}

/// No relations are navigated through SeaORM; foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
