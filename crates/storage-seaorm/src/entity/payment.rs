//! `payments`: one row per gateway payment (UNIQUE `gateway_id`), its state and the amount
//! refunded so far.

use sea_orm::entity::prelude::*;

use super::Exact;

/// A row of `payments`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "payments")]
pub struct Model {
    /// The id storage assigned.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The gateway's payment id (unique).
    pub gateway_id: String,
    /// The account paid.
    pub account_id: i64,
    /// The amount.
    #[sea_orm(select_as = "text")]
    pub amount: Exact,
    /// The payer's split: NULL for the default order, else JSON `[["service", "amount"], …]`.
    pub split: Option<String>,
    /// The day it was created, `YYYY-MM-DD`.
    pub created_on: String,
    /// State tag, for example `succeeded`.
    pub state: String,
    /// How much has been refunded so far.
    #[sea_orm(select_as = "text")]
    pub refunded: Exact,
    /// The gateway's reason of a failure.
    pub failure_reason: Option<String>,
}

/// No relations are navigated through SeaORM; foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
