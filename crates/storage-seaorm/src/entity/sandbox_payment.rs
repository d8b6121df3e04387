//! `sandbox_payments`: the sandbox gateway's payments (PK `id`, UNIQUE `order_ref`), with a
//! `version` for compare-and-set updates (sandbox only).

use sea_orm::entity::prelude::*;

use super::Exact;

/// A row of `sandbox_payments`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sandbox_payments")]
pub struct Model {
    /// The gateway's payment id (at most 40 characters).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The merchant's idempotence key (UNIQUE, at most 128 characters).
    pub order_ref: String,
    /// The ЛС paid, as shown on the payment page.
    pub account_number: String,
    /// The amount to pay.
    #[sea_orm(select_as = "text")]
    pub amount: Exact,
    /// What is paid for.
    pub description: String,
    /// Where the payer goes back to.
    pub return_url: String,
    /// The payer's email for the receipt, as given.
    pub contact_email: Option<String>,
    /// The payer's phone for the receipt, as given.
    pub contact_phone: Option<String>,
    /// The gateway's status tag (at most 16 characters; not interpreted by storage).
    pub status: String,
    /// Why it failed, if it did.
    pub failure_reason: Option<String>,
    /// The last four digits of the card paid with.
    pub card_last4: Option<String>,
    /// The card's brand.
    pub card_brand: Option<String>,
    /// Wrong confirmation codes entered so far.
    pub code_attempts: i32,
    /// The total refunded so far.
    #[sea_orm(select_as = "text")]
    pub refunded: Exact,
    /// When it was created, ns since the Unix epoch.
    pub created_at: i64,
    /// When it last changed, ns since the Unix epoch.
    pub updated_at: i64,
    /// Grows by one with every update (compare-and-set).
    pub version: i64,
}

/// No relations are navigated through SeaORM; foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
