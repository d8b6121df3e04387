//! `operators`: one row per back-office operator, found by id or by the normalised login
//! (UNIQUE).

use sea_orm::entity::prelude::*;

/// A row of `operators`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "operators")]
pub struct Model {
    /// Operator id, hex.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The login, lowercased (UNIQUE).
    pub login: String,
    /// The operator's name.
    pub name: String,
    /// Argon2id PHC string; the password itself is never stored.
    pub password_hash: String,
    /// Role tag, for example `support`.
    pub role: String,
    /// Creation time.
    pub created_at: i64,
    /// When disabled; NULL while enabled.
    pub disabled_at: Option<i64>,
}

/// No relations are navigated through SeaORM; foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
