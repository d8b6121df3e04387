//! `operator_api_keys`: one row per operator's API key. Only the SHA-256 digest of the key is
//! stored (UNIQUE).

use sea_orm::entity::prelude::*;

/// A row of `operator_api_keys`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "operator_api_keys")]
pub struct Model {
    /// Key id, hex (not the key).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The operator who created it (references `operators`).
    pub operator_id: String,
    /// The label given at creation.
    pub name: String,
    /// SHA-256 digest of the key, 32 bytes.
    pub key_digest: Vec<u8>,
    /// Role tag of what the key may do.
    pub role: String,
    /// Creation time.
    pub created_at: i64,
    /// When revoked; NULL while usable.
    pub revoked_at: Option<i64>,
}

/// No relations are navigated through SeaORM; foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
