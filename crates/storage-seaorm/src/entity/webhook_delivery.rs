//! `webhook_deliveries`: the sandbox gateway's webhook events and their delivery state (due,
//! delivered or given up), one row per event (UNIQUE `event_id`; sandbox only).

use sea_orm::entity::prelude::*;

/// A row of `webhook_deliveries`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_deliveries")]
pub struct Model {
    /// The id storage assigned; grows with every delivery.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The event's id (UNIQUE).
    pub event_id: String,
    /// The sandbox payment it is about.
    pub payment_id: String,
    /// The event's type, for example `payment.succeeded`.
    pub event_type: String,
    /// The JSON body to POST.
    pub payload: String,
    /// Attempts made so far.
    pub attempts: i32,
    /// When it is due (or, while claimed, when the claim lapses), ns since the Unix epoch.
    pub next_attempt_at: i64,
    /// When it was acknowledged; NULL until then.
    pub delivered_at: Option<i64>,
    /// When it was given up on; NULL unless it was.
    pub failed_at: Option<i64>,
    /// The HTTP status of the last attempt, if one came back.
    pub last_status: Option<i32>,
    /// What went wrong at the last attempt (at most 500 characters).
    pub last_error: Option<String>,
    /// When it was enqueued, ns since the Unix epoch.
    pub created_at: i64,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
