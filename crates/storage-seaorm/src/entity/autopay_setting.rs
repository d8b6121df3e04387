//! `autopay_settings`: one row per (ЛС, payer) with autopay settings (PK (`account_id`,
//! `payer`)); `version` is compared and set by every write.

use sea_orm::entity::prelude::*;

use super::Exact;

/// A row of `autopay_settings`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "autopay_settings")]
pub struct Model {
    /// The ЛС (references `accounts`).
    #[sea_orm(primary_key, auto_increment = false)]
    pub account_id: i64,
    /// Who set it: the caller's opaque reference (at most 64 characters).
    #[sea_orm(primary_key, auto_increment = false)]
    pub payer: String,
    /// Whether autopay is on.
    pub enabled: bool,
    /// Mode tag: `full_debt` or `fixed`.
    pub mode: String,
    /// The fixed amount; set for `fixed` only.
    #[sea_orm(select_as = "text")]
    pub amount: Option<Exact>,
    /// The day of the month it pays on.
    pub day_of_month: i16,
    /// The most it pays in a month; NULL when unlimited.
    #[sea_orm(select_as = "text")]
    pub limit_amount: Option<Exact>,
    /// The version stored: 1 after the first write, one more after each.
    pub version: i64,
}

/// No relations are navigated through SeaORM; the foreign key lives in the migration.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
