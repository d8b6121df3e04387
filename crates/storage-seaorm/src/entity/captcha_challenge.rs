//! `captcha_challenges`: the sandbox captcha's challenges, as the digest of their answer, used
//! at most once.

use sea_orm::entity::prelude::*;

/// A row of `captcha_challenges`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "captcha_challenges")]
pub struct Model {
    /// Challenge id, 32 lowercase hex characters.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// SHA-256 of the answer, 32 bytes.
    pub answer_digest: Vec<u8>,
    /// When it was issued, ns since the Unix epoch.
    pub issued_at: i64,
    /// When it stops being accepted, ns since the Unix epoch.
    pub expires_at: i64,
    /// When it was used; NULL while unused.
    pub used_at: Option<i64>,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
