//! `throttle_events`: the recorded (reserved) attempts of each throttled key.

use sea_orm::entity::prelude::*;

/// A row of `throttle_events`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "throttle_events")]
pub struct Model {
    /// Row id.
    #[sea_orm(primary_key)]
    pub seq: i64,
    /// Scope tag of the key.
    pub scope: String,
    /// Subject of the key.
    pub subject: String,
    /// When the attempt was reserved.
    pub at: i64,
}

/// No relations are navigated through SeaORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
