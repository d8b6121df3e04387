//! `meters`: every meter ever installed, its registers and lifecycle days.

use sea_orm::entity::prelude::*;

use super::Exact;

/// A row of `meters`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "meters")]
pub struct Model {
    /// The meter's id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i64,
    /// The account it is billed to (NULL for a house meter).
    pub account_id: Option<i64>,
    /// Service tag.
    pub service: String,
    /// Factory serial number.
    pub serial: String,
    /// Zone scheme tag: `single`, `two_zone`, `three_zone`.
    pub scheme: String,
    /// Integer digits of each register.
    pub digits: i32,
    /// Decimal digits of each register.
    pub decimals: i32,
    /// Transformation coefficient.
    #[sea_orm(select_as = "text")]
    pub coefficient: Exact,
    /// Installed on, `YYYY-MM-DD`.
    pub installed_on: String,
    /// Commissioned on, if it was.
    pub commissioned_on: Option<String>,
    /// Last day of the verification interval, if known.
    pub verification_due: Option<String>,
    /// Found out of order on, if it was.
    pub failed_on: Option<String>,
    /// Removed on, if it was.
    pub removed_on: Option<String>,
    /// Part of an automatic metering system.
    pub automatic: bool,
}

/// No relations are navigated through SeaORM; foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
