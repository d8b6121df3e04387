//! `challenges`: one-time codes and links, stored as digests, with their purpose as a tag plus
//! a JSON payload and, for recovery challenges, the cabinet they recover (indexed, so that
//! `consume_recovery` can lock them all).

use sea_orm::entity::prelude::*;

/// A row of `challenges`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "challenges")]
pub struct Model {
    /// Challenge id, hex.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Purpose tag, for example `recover_by_email`.
    pub purpose: String,
    /// The purpose's data as JSON (see `convert::challenge`); holds no secret but password
    /// hashes.
    pub payload: String,
    /// The cabinet this challenge recovers, for recovery challenges.
    pub recovers: Option<String>,
    /// SHA-256 digest of the current code or token, 32 bytes.
    pub digest: Vec<u8>,
    /// When the current secret was issued.
    pub issued_at: i64,
    /// When it stops being accepted.
    pub expires_at: i64,
    /// Wrong codes entered for the current secret.
    pub failed_attempts: i64,
    /// When used; NULL while unused.
    pub consumed_at: Option<i64>,
}

/// No relations are navigated through SeaORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
