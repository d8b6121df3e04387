//! `sandbox_refunds`: the sandbox gateway's refunds (PK `id`, UNIQUE `refund_ref`), each of one
//! `sandbox_payments` row and deleted with it (sandbox only).

use sea_orm::entity::prelude::*;

use super::Exact;

/// A row of `sandbox_refunds`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sandbox_refunds")]
pub struct Model {
    /// The gateway's refund id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The payment refunded (`sandbox_payments.id`).
    pub payment_id: String,
    /// The merchant's idempotence key of the refund (UNIQUE).
    pub refund_ref: String,
    /// The amount refunded.
    #[sea_orm(select_as = "text")]
    pub amount: Exact,
    /// When it was made, ns since the Unix epoch.
    pub created_at: i64,
}

/// No relations are navigated through SeaORM; foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
