//! `security_events`: the append-only security log, newest first by `seq`.

use sea_orm::entity::prelude::*;

/// A row of `security_events`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "security_events")]
pub struct Model {
    /// Append order.
    #[sea_orm(primary_key)]
    pub seq: i64,
    /// Whose cabinet (references `subscribers`).
    pub subscriber_id: String,
    /// When.
    pub at: i64,
    /// Event tag, for example `signed_in`.
    pub kind: String,
    /// The event's data as JSON (see `convert::security_event`), `{}` when it has none.
    pub detail: String,
    /// Channel tag.
    pub channel: String,
    /// Device description.
    pub device: Option<String>,
}

/// No relations are navigated through SeaORM; foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
