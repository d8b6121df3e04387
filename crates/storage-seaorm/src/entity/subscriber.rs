//! `subscribers`: one row per cabinet. The login handles (registration ЛС number, phone,
//! email) are columns with a UNIQUE constraint each, so the database itself refuses a handle
//! that already belongs to another cabinet.

use sea_orm::entity::prelude::*;

/// A row of `subscribers`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "subscribers")]
pub struct Model {
    /// Subscriber id, hex.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The name as given.
    pub name: String,
    /// Supplier of the registration ЛС (set together with `account_number`).
    pub account_supplier: Option<String>,
    /// Registration ЛС number; a login handle (UNIQUE).
    pub account_number: Option<String>,
    /// Verified phone, E.164; a login handle (UNIQUE).
    pub phone: Option<String>,
    /// Verified email, normalised; a login handle (UNIQUE).
    pub email: Option<String>,
    /// Email waiting for its confirmation link; not a handle.
    pub pending_email: Option<String>,
    /// Argon2id PHC string; the password itself is never stored.
    pub password_hash: Option<String>,
    /// When the cabinet was blocked; NULL while it is active.
    pub blocked_at: Option<i64>,
    /// Who blocked it: `subscriber` or `operator` (set together with `blocked_at`).
    pub blocked_by: Option<String>,
    /// The operator's identifier when `blocked_by = 'operator'`.
    pub blocked_operator: Option<String>,
    /// Creation time.
    pub created_at: i64,
    /// Optimistic-concurrency version; every update is a compare-and-swap that increments it.
    pub version: i64,
}

/// No relations are navigated through SeaORM; foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
