//! `charge_sets`: one row per (account, period) billed — PRIMARY KEY (account_id, period).

use sea_orm::entity::prelude::*;

use super::Exact;

/// A row of `charge_sets`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "charge_sets")]
pub struct Model {
    /// The account.
    #[sea_orm(primary_key, auto_increment = false)]
    pub account_id: i64,
    /// The period billed, `year * 100 + month`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub period: i32,
    /// The supplier.
    pub supplier_id: i64,
    /// The posting day, `YYYY-MM-DD`.
    pub posted_on: String,
    /// The due date of the period's bill.
    pub due_date: String,
    /// The sum of the lines (for reports; the lines are the truth and are checked against it).
    #[sea_orm(select_as = "text")]
    pub total: Exact,
    /// The volumes determined per service, JSON (see `convert::charge`).
    pub volumes: String,
    /// The pending recalculations the set applied, JSON (see `convert::charge`).
    pub recalculations: String,
    /// The set's lines in bill order, a JSON array of the domain's `ChargeLine`s (see
    /// `convert::charge`).
    pub lines: String,
}

/// No relations are navigated through SeaORM; foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
