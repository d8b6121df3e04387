//! `ledger_journal`: every fact applied to an account's ledger, in the order applied
//! (`seq`). Append-only; one flat row per fact, its kind a tag.

use sea_orm::entity::prelude::*;

use super::Exact;

/// A row of `ledger_journal`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ledger_journal")]
pub struct Model {
    /// Order of application.
    #[sea_orm(primary_key)]
    pub seq: i64,
    /// The account.
    pub account_id: i64,
    /// The posting date, `YYYY-MM-DD`.
    pub date: String,
    /// Kind tag: `charge`, `adjustment`, `penalty`, `payment_created`, `payment_state`,
    /// `refund`.
    pub kind: String,
    /// Period (`year * 100 + month`) of charges, adjustments and penalties.
    pub period: Option<i32>,
    /// Service tag of charges and adjustments.
    pub service: Option<String>,
    /// The amount (every kind but `payment_state`).
    #[sea_orm(select_as = "text")]
    pub amount: Option<Exact>,
    /// Due date of charges, adjustments and penalties.
    pub due_date: Option<String>,
    /// The payment of payment facts and refunds.
    pub payment_id: Option<i64>,
    /// The new state of a `payment_state` fact.
    pub state: Option<String>,
    /// Adjustment reason tag (`true_up`, `control_check`, `correction`, `quality_reduction`,
    /// `other`).
    pub reason: Option<String>,
    /// The words of an `other` adjustment reason.
    pub reason_text: Option<String>,
    /// The split of a `payment_created` fact (NULL for the default order, else JSON).
    pub split: Option<String>,
}

/// No relations are navigated through SeaORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
