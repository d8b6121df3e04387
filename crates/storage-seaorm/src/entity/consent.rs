//! `consents`: consents to personal-data processing (152-ФЗ), withdrawn ones kept.

use sea_orm::entity::prelude::*;

/// A row of `consents`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "consents")]
pub struct Model {
    /// Insertion order ("oldest first").
    #[sea_orm(primary_key)]
    pub seq: i64,
    /// Consent id, hex (UNIQUE).
    pub id: String,
    /// Who consented (references `subscribers`).
    pub subscriber_id: String,
    /// Version label of the consent text.
    pub document_version: String,
    /// Lowercase hex SHA-256 of the consent text.
    pub text_sha256: String,
    /// When given.
    pub given_at: i64,
    /// Channel tag.
    pub channel: String,
    /// Device description.
    pub device: Option<String>,
    /// When withdrawn; NULL while in force.
    pub withdrawn_at: Option<i64>,
}

/// No relations are navigated through SeaORM; foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
