//! `suppliers`: one row per supplier — requisites as the adapter's own JSON, policies as JSON
//! of the domain's serde form, the minimum online payment as money.

use sea_orm::entity::prelude::*;

use super::Exact;

/// A row of `suppliers`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "suppliers")]
pub struct Model {
    /// The supplier's id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i64,
    /// Requisites and bank details: JSON of `convert::supplier`'s own record.
    pub requisites: String,
    /// The billing policy: JSON of `BillingPolicy`.
    pub policy: String,
    /// The penalty policy: JSON of `PenaltyPolicy`.
    pub penalty: String,
    /// The least amount accepted in one online payment.
    #[sea_orm(select_as = "text")]
    pub minimum_payment: Exact,
}

/// No relations are navigated through SeaORM; foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
