//! `throttle_keys`: one row per throttled key, never deleted, whose row lock serialises the
//! reservations of that key on PostgreSQL.

use sea_orm::entity::prelude::*;

/// A row of `throttle_keys`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "throttle_keys")]
pub struct Model {
    /// Scope tag, for example `login`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub scope: String,
    /// Subject, for example `subscriber:<id>`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub subject: String,
}

/// No relations are navigated through SeaORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
