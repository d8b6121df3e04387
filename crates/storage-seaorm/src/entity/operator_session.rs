//! `operator_sessions`: one row per operator login. Only the SHA-256 digest of the token is
//! stored (UNIQUE).

use sea_orm::entity::prelude::*;

/// A row of `operator_sessions`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "operator_sessions")]
pub struct Model {
    /// Session id, hex (not the token).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Whose session (references `operators`).
    pub operator_id: String,
    /// SHA-256 digest of the token, 32 bytes.
    pub token_digest: Vec<u8>,
    /// Login time.
    pub created_at: i64,
    /// Last recorded activity.
    pub last_seen_at: i64,
    /// When revoked; NULL while usable.
    pub revoked_at: Option<i64>,
}

/// No relations are navigated through SeaORM; foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
