//! `refund_requests`: written refund requests, once per (payment, number), and their outcome.

use sea_orm::entity::prelude::*;

use super::Exact;

/// A row of `refund_requests`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "refund_requests")]
pub struct Model {
    /// The id storage assigned.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The payment to refund (references `payments`).
    pub payment_id: i64,
    /// Its gateway id.
    pub gateway_id: String,
    /// The account paid.
    pub account_id: i64,
    /// The amount asked for.
    #[sea_orm(select_as = "text")]
    pub amount: Exact,
    /// Registration number of the written request.
    pub number: String,
    /// Day received, `YYYY-MM-DD`.
    pub received_on: String,
    /// Last day to refund, `YYYY-MM-DD`.
    pub due_by: String,
    /// Status tag: `requested`, `refunded` or `rejected`.
    pub status: String,
    /// The day of the decision (refunded or rejected).
    pub decided_on: Option<String>,
    /// Why it was rejected.
    pub rejection_reason: Option<String>,
}

/// No relations are navigated through SeaORM; foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
