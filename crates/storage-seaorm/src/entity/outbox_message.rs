//! `outbox_messages`: the sandbox outbox of rendered SMS and email (codes and links in clear
//! text; sandbox only).

use sea_orm::entity::prelude::*;

/// A row of `outbox_messages`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "outbox_messages")]
pub struct Model {
    /// The id storage assigned; grows with every message.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// `sms` or `email`.
    pub channel: String,
    /// The phone in E.164 or the email address.
    pub recipient: String,
    /// What it carries, for example `code`, `link`, `notice`.
    pub kind: String,
    /// The email subject; NULL for SMS.
    pub subject: Option<String>,
    /// The rendered text.
    pub body: String,
    /// What the message belongs to, if anything.
    pub correlation: Option<String>,
    /// When it was queued, ns since the Unix epoch.
    pub created_at: i64,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
