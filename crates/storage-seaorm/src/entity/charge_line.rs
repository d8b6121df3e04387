//! `charge_lines`: the lines of a charge set, in bill order (`seq`).

use sea_orm::entity::prelude::*;

use super::Exact;

/// A row of `charge_lines`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "charge_lines")]
pub struct Model {
    /// The account.
    #[sea_orm(primary_key, auto_increment = false)]
    pub account_id: i64,
    /// The period, `year * 100 + month`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub period: i32,
    /// Position in the set, from 0.
    #[sea_orm(primary_key, auto_increment = false)]
    pub seq: i32,
    /// Service tag (queryable; must agree with `line`).
    pub service: String,
    /// The amount (queryable; must agree with `line`).
    #[sea_orm(select_as = "text")]
    pub amount: Exact,
    /// The whole line — quantity, price, tariff, days, basis — as JSON (see `convert::charge`).
    pub line: String,
}

/// No relations are navigated through SeaORM; foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
