//! `fiscal_receipts`: one row per fiscal receipt claimed for issue, UNIQUE (`payment_id`,
//! `kind`, `refund_request_id`); the receipt is the JSON `document`, the registration four
//! nullable columns set once.

use sea_orm::entity::prelude::*;

/// A row of `fiscal_receipts`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "fiscal_receipts")]
pub struct Model {
    /// The id storage assigned when the receipt was claimed.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The payment (references `payments`).
    pub payment_id: i64,
    /// Kind tag: `income` or `income_return`.
    pub kind: String,
    /// The refund request of a return receipt; 0 for an income receipt.
    pub refund_request_id: i64,
    /// The account paid (references `accounts`).
    pub account_id: i64,
    /// The receipt: this adapter's JSON (`convert::receipt`).
    pub document: String,
    /// The fiscal drive's number (ФН); NULL until registered.
    pub fiscal_number: Option<String>,
    /// The fiscal document's number (ФД); NULL until registered.
    pub document_number: Option<i64>,
    /// The fiscal sign (ФП); NULL until registered.
    pub fiscal_sign: Option<String>,
    /// When the registrar registered it, nanoseconds since the Unix epoch; NULL while pending.
    pub registered_at: Option<i64>,
    /// The receipt's time (when it was built and claimed), nanoseconds since the Unix epoch.
    pub claimed_at: i64,
}

/// No relations are navigated through SeaORM; foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
