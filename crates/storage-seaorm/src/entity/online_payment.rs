//! `online_payments`: one row per online payment started at a gateway (PK `gateway_id`, UNIQUE
//! `order_ref`); the ledger's `payments` row with the same gateway id holds its state.

use sea_orm::entity::prelude::*;

use super::Exact;

/// A row of `online_payments`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "online_payments")]
pub struct Model {
    /// The gateway's payment id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub gateway_id: String,
    /// The caller's idempotence key (UNIQUE).
    pub order_ref: String,
    /// The account paid.
    pub account_id: i64,
    /// The amount asked of the gateway.
    #[sea_orm(select_as = "text")]
    pub amount: Exact,
    /// The payer's split: NULL for the default order, else JSON `[["service", "amount"], …]`.
    pub split: Option<String>,
    /// Who paid: the caller's opaque reference.
    pub payer: String,
    /// The fiscal receipt's email, as given.
    pub contact_email: Option<String>,
    /// The fiscal receipt's phone, as given.
    pub contact_phone: Option<String>,
    /// The gateway's confirmation page.
    pub confirmation_url: String,
    /// When it was started, nanoseconds since the Unix epoch.
    pub created_at: i64,
}

/// No relations are navigated through SeaORM; foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
