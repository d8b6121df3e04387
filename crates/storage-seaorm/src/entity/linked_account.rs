//! `linked_accounts`: the ЛС linked to each cabinet, at most once per cabinet
//! (UNIQUE (subscriber_id, supplier, number)) and at most one active per cabinet (a partial
//! unique index).

use sea_orm::entity::prelude::*;

/// A row of `linked_accounts`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "linked_accounts")]
pub struct Model {
    /// Insertion order ("oldest first").
    #[sea_orm(primary_key)]
    pub seq: i64,
    /// The cabinet (references `subscribers`).
    pub subscriber_id: String,
    /// Supplier of the ЛС.
    pub supplier: String,
    /// ЛС number.
    pub number: String,
    /// Proof tag, for example `holder_name`.
    pub proof: String,
    /// When linked.
    pub linked_at: i64,
    /// Whether this is the cabinet's active ЛС.
    pub active: bool,
}

/// No relations are navigated through SeaORM; foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
