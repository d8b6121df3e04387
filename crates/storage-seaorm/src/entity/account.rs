//! `accounts`: personal accounts (ЛС), UNIQUE (supplier_id, number).

use sea_orm::entity::prelude::*;

/// A row of `accounts`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "accounts")]
pub struct Model {
    /// The account's id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i64,
    /// The supplier.
    pub supplier_id: i64,
    /// The printed number (digits).
    pub number: String,
    /// The premise.
    pub premise_id: i64,
    /// The holder's full name.
    pub holder: String,
    /// Consumer group tag, for example `population`.
    pub consumer_group: String,
    /// The services billed: JSON of `Vec<AccountService>`.
    pub services: String,
}

/// No relations are navigated through SeaORM; foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
