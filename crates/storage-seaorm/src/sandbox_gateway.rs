//! Storage for the sandbox payment gateway and its webhook deliveries, as inherent methods on
//! [`Storage`] with this crate's own types (storage does not depend on `fake-providers`; the
//! composition root adapts these methods to its `SandboxStore` trait):
//!
//! - **payments** (`sandbox_payments`): [`Storage::sandbox_payment_insert`] (one per id and one
//!   per `order_ref`, kept by the primary key and a UNIQUE constraint, never a prior read),
//!   [`Storage::sandbox_payment`], [`Storage::sandbox_payment_by_order_ref`] and
//!   [`Storage::sandbox_payment_update`], a **compare-and-set** on `version` — one conditional
//!   `UPDATE … WHERE id = $id AND version = $expected` that bumps the version, so of two
//!   updates from one version exactly one is written (on PostgreSQL the second waits for the
//!   first's row lock and then no longer matches; SQLite runs one writer at a time). The
//!   webhook events a change raises are enqueued **in the same transaction**: the change and
//!   its events are written together or not at all.
//! - **refunds** (`sandbox_refunds`): [`Storage::sandbox_refund_add`] inserts the refund (UNIQUE
//!   `refund_ref`) and compare-and-sets its payment's new refunded total in one transaction,
//!   so a refund is never recorded without its payment reflecting it, nor twice;
//!   [`Storage::sandbox_refunds`] lists a payment's refunds.
//! - **webhook deliveries** (`webhook_deliveries`): [`Storage::webhook_enqueue`],
//!   [`Storage::webhook_claim_due`], [`Storage::webhook_record_attempt`],
//!   [`Storage::webhook_deliveries`], [`Storage::webhook_redeliver`],
//!   [`Storage::webhook_purge`]. Ids come from the database's sequence, so they only grow and
//!   are never reused. A claim is a **lease**: in one write transaction the due rows are
//!   selected — on PostgreSQL `FOR UPDATE SKIP LOCKED`, so concurrent claimers (in one process
//!   or several) take disjoint rows without waiting on each other; on SQLite under the single
//!   write lock `BEGIN IMMEDIATE` takes — and their `next_attempt_at` is moved to the lease's
//!   end. No other claim sees them until then; a dispatcher that crashed mid-delivery leaves
//!   rows that simply become due again when the lease ends. Recording the attempt ends the
//!   lease (delivered, retry at a time, or given up).
//!
//! Text columns with a bounded length — a payment's `id` (40 characters), `order_ref` (128)
//! and `status` (16) — are checked here, before any write, so an over-long value is a
//! [`PortError`] on both backends (PostgreSQL would refuse it, SQLite would not); a delivery's
//! `last_error` is cut to its first 500 characters instead, since it is a diagnostic.
//!
//! **Sandbox only:** the tables are always created, but only a server running sandbox
//! providers writes them. These rows have no domain record, so their conversions live here
//! rather than in `convert`; a damaged row is still a [`crate::CorruptRow`] turned into a
//! [`PortError`].

use billing_core::money::Money;
use identity_core::ports::{PortError, WriteError};
use sea_orm::sea_query::{Expr, ExprTrait, LockBehavior, LockType};
use sea_orm::{
    ActiveValue, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use time::OffsetDateTime;

use crate::convert::billing::money;
use crate::convert::{Row, to_db_count, to_nanos};
use crate::entity::{sandbox_payment, sandbox_refund, webhook_delivery};
use crate::error::{CorruptRow, is_unique_violation, port, write};
use crate::storage::{Backend, Storage};

/// A payment of the sandbox gateway, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SandboxPaymentRecord {
    /// The gateway's payment id (at most 40 characters).
    pub id: String,
    /// The merchant's idempotence key (unique; at most 128 characters).
    pub order_ref: String,
    /// The ЛС paid.
    pub account_number: String,
    /// The amount to pay.
    pub amount: Money,
    /// What is paid for.
    pub description: String,
    /// Where the payer goes back to.
    pub return_url: String,
    /// The payer's email for the receipt, as given.
    pub contact_email: Option<String>,
    /// The payer's phone for the receipt, as given.
    pub contact_phone: Option<String>,
    /// The gateway's status tag (at most 16 characters; storage does not interpret it).
    pub status: String,
    /// Why it failed, if it did.
    pub failure_reason: Option<String>,
    /// The last four digits of the card paid with.
    pub card_last4: Option<String>,
    /// The card's brand.
    pub card_brand: Option<String>,
    /// Wrong confirmation codes entered so far.
    pub code_attempts: u32,
    /// The total refunded so far.
    pub refunded: Money,
    /// When it was created.
    pub created_at: OffsetDateTime,
    /// When it last changed.
    pub updated_at: OffsetDateTime,
    /// The stored version: what an update expects (each update adds one).
    pub version: u64,
}

/// A refund of a sandbox payment, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SandboxRefundRecord {
    /// The gateway's refund id.
    pub id: String,
    /// The payment refunded.
    pub payment_id: String,
    /// The merchant's idempotence key of the refund (unique).
    pub refund_ref: String,
    /// The amount refunded.
    pub amount: Money,
    /// When it was made.
    pub created_at: OffsetDateTime,
}

/// A webhook event to deliver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewWebhookDelivery {
    /// The event's id (unique).
    pub event_id: String,
    /// The sandbox payment it is about.
    pub payment_id: String,
    /// The event's type, for example `payment.succeeded`.
    pub event_type: String,
    /// The body to POST.
    pub payload: String,
    /// When to make the first attempt.
    pub due_at: OffsetDateTime,
    /// When it was enqueued.
    pub created_at: OffsetDateTime,
}

/// A webhook delivery and where it stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookDeliveryRecord {
    /// Its id, greater than that of every delivery stored before it.
    pub id: u64,
    /// The event's id.
    pub event_id: String,
    /// The sandbox payment it is about.
    pub payment_id: String,
    /// The event's type.
    pub event_type: String,
    /// The body to POST.
    pub payload: String,
    /// Attempts made so far.
    pub attempts: u32,
    /// When it is due (while claimed: see [`Storage::webhook_claim_due`]).
    pub next_attempt_at: OffsetDateTime,
    /// When it was acknowledged.
    pub delivered_at: Option<OffsetDateTime>,
    /// When it was given up on.
    pub failed_at: Option<OffsetDateTime>,
    /// The HTTP status of the last attempt, if one came back.
    pub last_status: Option<u16>,
    /// What went wrong at the last attempt (at most 500 characters).
    pub last_error: Option<String>,
    /// When it was enqueued.
    pub created_at: OffsetDateTime,
}

/// What came of a delivery attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WebhookAttemptOutcome {
    /// Acknowledged: the delivery is done.
    Delivered,
    /// Not acknowledged: try again at this time.
    RetryAt(OffsetDateTime),
    /// Not acknowledged, and no more attempts: the delivery failed.
    GaveUp,
}

/// One delivery attempt, to record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookAttempt {
    /// When it was made.
    pub at: OffsetDateTime,
    /// The HTTP status that came back, if any.
    pub status: Option<u16>,
    /// What went wrong, if anything (cut to 500 characters when stored).
    pub error: Option<String>,
    /// What comes next.
    pub outcome: WebhookAttemptOutcome,
}

/// What [`Storage::sandbox_refund_add`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RefundAdded {
    /// The refund was stored, the payment updated and the events enqueued.
    Added,
    /// A refund with this `refund_ref` exists (here it is); nothing was written.
    DuplicateRef(SandboxRefundRecord),
    /// The payment's version was no longer the expected one; nothing was written.
    VersionConflict,
}

const PAYMENTS: &str = "sandbox_payments";
const REFUNDS: &str = "sandbox_refunds";
const DELIVERIES: &str = "webhook_deliveries";

/// The longest payment id, in characters (`VARCHAR(40)`).
const MAX_ID_CHARS: usize = 40;
/// The longest `order_ref`, in characters (`VARCHAR(128)`).
const MAX_ORDER_REF_CHARS: usize = 128;
/// The longest status tag, in characters (`VARCHAR(16)`).
const MAX_STATUS_CHARS: usize = 16;
/// How much of a delivery error is kept, in characters.
const MAX_ERROR_CHARS: usize = 500;

/// Refuses `value` if it is longer than `max` characters (what `VARCHAR(max)` holds).
fn check_len(what: &str, value: &str, max: usize) -> Result<(), PortError> {
    let chars = value.chars().count();
    if chars > max {
        return Err(PortError::new(format!(
            "sandbox payment {what} must be at most {max} characters, not {chars}"
        )));
    }
    Ok(())
}

/// A count as stored (`INTEGER`).
fn to_db_int(value: u32, what: &str) -> Result<i32, PortError> {
    i32::try_from(value)
        .map_err(|_| PortError::new(format!("{what} {value} is too large to store")))
}

/// The first [`MAX_ERROR_CHARS`] characters of `error`.
fn cut_error(error: Option<&str>) -> Option<String> {
    error.map(|e| e.chars().take(MAX_ERROR_CHARS).collect())
}

fn payment_to_row(p: &SandboxPaymentRecord) -> Result<sandbox_payment::Model, PortError> {
    check_len("id", &p.id, MAX_ID_CHARS)?;
    check_len("order_ref", &p.order_ref, MAX_ORDER_REF_CHARS)?;
    check_len("status", &p.status, MAX_STATUS_CHARS)?;
    Ok(sandbox_payment::Model {
        id: p.id.clone(),
        order_ref: p.order_ref.clone(),
        account_number: p.account_number.clone(),
        amount: money(p.amount),
        description: p.description.clone(),
        return_url: p.return_url.clone(),
        contact_email: p.contact_email.clone(),
        contact_phone: p.contact_phone.clone(),
        status: p.status.clone(),
        failure_reason: p.failure_reason.clone(),
        card_last4: p.card_last4.clone(),
        card_brand: p.card_brand.clone(),
        code_attempts: to_db_int(p.code_attempts, "code_attempts")?,
        refunded: money(p.refunded),
        created_at: to_nanos(p.created_at)?,
        updated_at: to_nanos(p.updated_at)?,
        version: to_db_count(p.version, "sandbox payment version")?,
    })
}

fn payment_from_row(m: sandbox_payment::Model) -> Result<SandboxPaymentRecord, CorruptRow> {
    let at = Row::new(PAYMENTS, m.id.clone());
    Ok(SandboxPaymentRecord {
        amount: at.money("amount", &m.amount)?,
        code_attempts: at.count("code_attempts", i64::from(m.code_attempts))?,
        refunded: at.money("refunded", &m.refunded)?,
        created_at: at.time("created_at", m.created_at)?,
        updated_at: at.time("updated_at", m.updated_at)?,
        version: u64::try_from(m.version)
            .map_err(|_| at.bad("version", format!("{} is negative", m.version)))?,
        id: m.id,
        order_ref: m.order_ref,
        account_number: m.account_number,
        description: m.description,
        return_url: m.return_url,
        contact_email: m.contact_email,
        contact_phone: m.contact_phone,
        status: m.status,
        failure_reason: m.failure_reason,
        card_last4: m.card_last4,
        card_brand: m.card_brand,
    })
}

fn refund_to_row(r: &SandboxRefundRecord) -> Result<sandbox_refund::Model, PortError> {
    Ok(sandbox_refund::Model {
        id: r.id.clone(),
        payment_id: r.payment_id.clone(),
        refund_ref: r.refund_ref.clone(),
        amount: money(r.amount),
        created_at: to_nanos(r.created_at)?,
    })
}

fn refund_from_row(m: sandbox_refund::Model) -> Result<SandboxRefundRecord, CorruptRow> {
    let at = Row::new(REFUNDS, m.id.clone());
    Ok(SandboxRefundRecord {
        amount: at.money("amount", &m.amount)?,
        created_at: at.time("created_at", m.created_at)?,
        id: m.id,
        payment_id: m.payment_id,
        refund_ref: m.refund_ref,
    })
}

fn delivery_to_row(d: &NewWebhookDelivery) -> Result<webhook_delivery::ActiveModel, PortError> {
    Ok(webhook_delivery::ActiveModel {
        id: ActiveValue::NotSet,
        event_id: ActiveValue::Set(d.event_id.clone()),
        payment_id: ActiveValue::Set(d.payment_id.clone()),
        event_type: ActiveValue::Set(d.event_type.clone()),
        payload: ActiveValue::Set(d.payload.clone()),
        attempts: ActiveValue::Set(0),
        next_attempt_at: ActiveValue::Set(to_nanos(d.due_at)?),
        delivered_at: ActiveValue::Set(None),
        failed_at: ActiveValue::Set(None),
        last_status: ActiveValue::Set(None),
        last_error: ActiveValue::Set(None),
        created_at: ActiveValue::Set(to_nanos(d.created_at)?),
    })
}

fn delivery_from_row(m: webhook_delivery::Model) -> Result<WebhookDeliveryRecord, CorruptRow> {
    let at = Row::new(DELIVERIES, m.id.to_string());
    Ok(WebhookDeliveryRecord {
        id: u64::try_from(m.id).map_err(|_| at.bad("id", "negative"))?,
        attempts: at.count("attempts", i64::from(m.attempts))?,
        next_attempt_at: at.time("next_attempt_at", m.next_attempt_at)?,
        delivered_at: at.opt_time("delivered_at", m.delivered_at)?,
        failed_at: at.opt_time("failed_at", m.failed_at)?,
        last_status: m
            .last_status
            .map(|s| {
                u16::try_from(s)
                    .map_err(|_| at.bad("last_status", format!("{s} is not an HTTP status")))
            })
            .transpose()?,
        created_at: at.time("created_at", m.created_at)?,
        event_id: m.event_id,
        payment_id: m.payment_id,
        event_type: m.event_type,
        payload: m.payload,
        last_error: m.last_error,
    })
}

/// Writes the mutable fields of `row` and bumps its version if it still has `row.version`;
/// returns whether it did.
async fn compare_and_set(
    conn: &impl ConnectionTrait,
    row: sandbox_payment::Model,
) -> Result<bool, sea_orm::DbErr> {
    use sandbox_payment::{ActiveModel, Column, Entity};
    let values = ActiveModel {
        status: ActiveValue::Set(row.status),
        failure_reason: ActiveValue::Set(row.failure_reason),
        card_last4: ActiveValue::Set(row.card_last4),
        card_brand: ActiveValue::Set(row.card_brand),
        code_attempts: ActiveValue::Set(row.code_attempts),
        refunded: ActiveValue::Set(row.refunded),
        updated_at: ActiveValue::Set(row.updated_at),
        ..ActiveModel::default()
    };
    let done = Entity::update_many()
        .set(values)
        .col_expr(Column::Version, Expr::col(Column::Version).add(1))
        .filter(Column::Id.eq(row.id))
        .filter(Column::Version.eq(row.version))
        .exec(conn)
        .await?;
    Ok(done.rows_affected == 1)
}

/// Inserts `rows` (webhook deliveries) in one statement.
async fn enqueue_all(
    conn: &impl ConnectionTrait,
    rows: Vec<webhook_delivery::ActiveModel>,
) -> Result<(), sea_orm::DbErr> {
    if rows.is_empty() {
        return Ok(());
    }
    webhook_delivery::Entity::insert_many(rows)
        .exec_without_returning(conn)
        .await
        .map(drop)
}

fn delivery_rows(
    events: &[NewWebhookDelivery],
) -> Result<Vec<webhook_delivery::ActiveModel>, PortError> {
    events.iter().map(delivery_to_row).collect()
}

/// A stored delivery id, or `None` for one no row can have.
fn db_delivery_id(id: u64) -> Option<i64> {
    i64::try_from(id).ok()
}

impl Storage {
    /// Stores a new sandbox payment, its `version` as given (callers pass 0).
    /// [`WriteError::Duplicate`] if its id or its `order_ref` exists (the database's
    /// constraints say so; nothing is read first), with nothing written. An `id`, `order_ref`
    /// or `status` longer than its column is a [`WriteError::Port`].
    pub async fn sandbox_payment_insert(&self, p: &SandboxPaymentRecord) -> Result<(), WriteError> {
        let row: sandbox_payment::ActiveModel = payment_to_row(p)?.into();
        sandbox_payment::Entity::insert(row)
            .exec_without_returning(self.db())
            .await
            .map_err(|e| write("insert a sandbox payment", e))?;
        Ok(())
    }

    /// The sandbox payment `id`, if it exists.
    pub async fn sandbox_payment(
        &self,
        id: &str,
    ) -> Result<Option<SandboxPaymentRecord>, PortError> {
        let row = sandbox_payment::Entity::find_by_id(id.to_owned())
            .one(self.db())
            .await
            .map_err(|e| port("read a sandbox payment", e))?;
        Ok(row.map(payment_from_row).transpose()?)
    }

    /// The sandbox payment created for `order_ref`, if any.
    pub async fn sandbox_payment_by_order_ref(
        &self,
        order_ref: &str,
    ) -> Result<Option<SandboxPaymentRecord>, PortError> {
        let row = sandbox_payment::Entity::find()
            .filter(sandbox_payment::Column::OrderRef.eq(order_ref))
            .one(self.db())
            .await
            .map_err(|e| port("read a sandbox payment by order_ref", e))?;
        Ok(row.map(payment_from_row).transpose()?)
    }

    /// Compare-and-set of the payment `p.id` from version `p.version`, and its `events`, in one
    /// transaction.
    ///
    /// Writes every mutable field of `p` (`status`, `failure_reason`, `card_last4`,
    /// `card_brand`, `code_attempts`, `refunded`, `updated_at`; the others are fixed at
    /// insert) and `version = p.version + 1`, only if the stored version is `p.version`, and
    /// enqueues `events` as webhook deliveries. `Ok(false)` with nothing written — no events
    /// either — if the payment is missing or its version differs. An event id that exists
    /// rolls the whole transaction back (the payment unchanged) and is a [`PortError`].
    pub async fn sandbox_payment_update(
        &self,
        p: &SandboxPaymentRecord,
        events: &[NewWebhookDelivery],
    ) -> Result<bool, PortError> {
        let row = payment_to_row(p)?;
        let deliveries = delivery_rows(events)?;
        let fail = |e| port("update a sandbox payment", e);
        let tx = self.begin_write().await.map_err(fail)?;
        if !compare_and_set(&tx, row).await.map_err(fail)? {
            tx.rollback().await.map_err(fail)?;
            return Ok(false);
        }
        enqueue_all(&tx, deliveries).await.map_err(fail)?;
        tx.commit().await.map_err(fail)?;
        Ok(true)
    }

    /// Stores the refund `r` of payment `p` in one transaction: inserts `r`, compare-and-sets
    /// `p` exactly as [`Storage::sandbox_payment_update`] does (`p` carries the new refunded
    /// total and the version it was read at) and enqueues `events`.
    ///
    /// The refund is inserted first, so a refund retried with its `refund_ref` is
    /// [`RefundAdded::DuplicateRef`] with the refund stored first (which may belong to another
    /// payment), whatever the payment's version; a version that no longer matches is
    /// [`RefundAdded::VersionConflict`]. Either way nothing is written. `r.payment_id` other
    /// than `p.id`, a refund id that exists under another `refund_ref`, a missing payment or an
    /// existing event id are [`PortError`]s, also with nothing written.
    pub async fn sandbox_refund_add(
        &self,
        r: &SandboxRefundRecord,
        p: &SandboxPaymentRecord,
        events: &[NewWebhookDelivery],
    ) -> Result<RefundAdded, PortError> {
        if r.payment_id != p.id {
            return Err(PortError::new(format!(
                "refund {} is of payment {}, not {}",
                r.id, r.payment_id, p.id
            )));
        }
        let refund: sandbox_refund::ActiveModel = refund_to_row(r)?.into();
        let row = payment_to_row(p)?;
        let deliveries = delivery_rows(events)?;
        let fail = |e| port("add a sandbox refund", e);
        let tx = self.begin_write().await.map_err(fail)?;
        match sandbox_refund::Entity::insert(refund)
            .exec_without_returning(&tx)
            .await
        {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => {
                tx.rollback().await.map_err(fail)?;
                return match self.sandbox_refund_by_ref(&r.refund_ref).await? {
                    Some(existing) => Ok(RefundAdded::DuplicateRef(existing)),
                    None => Err(PortError::new(format!(
                        "add a sandbox refund: refund id {} exists under another refund_ref",
                        r.id
                    ))),
                };
            }
            Err(e) => return Err(fail(e)),
        }
        if !compare_and_set(&tx, row).await.map_err(fail)? {
            tx.rollback().await.map_err(fail)?;
            return Ok(RefundAdded::VersionConflict);
        }
        enqueue_all(&tx, deliveries).await.map_err(fail)?;
        tx.commit().await.map_err(fail)?;
        Ok(RefundAdded::Added)
    }

    async fn sandbox_refund_by_ref(
        &self,
        refund_ref: &str,
    ) -> Result<Option<SandboxRefundRecord>, PortError> {
        let row = sandbox_refund::Entity::find()
            .filter(sandbox_refund::Column::RefundRef.eq(refund_ref))
            .one(self.db())
            .await
            .map_err(|e| port("read a sandbox refund", e))?;
        Ok(row.map(refund_from_row).transpose()?)
    }

    /// The refunds of payment `payment_id`, oldest first (by creation time, then id).
    pub async fn sandbox_refunds(
        &self,
        payment_id: &str,
    ) -> Result<Vec<SandboxRefundRecord>, PortError> {
        use sandbox_refund::{Column, Entity};
        let rows = Entity::find()
            .filter(Column::PaymentId.eq(payment_id))
            .order_by_asc(Column::CreatedAt)
            .order_by_asc(Column::Id)
            .all(self.db())
            .await
            .map_err(|e| port("read sandbox refunds", e))?;
        rows.into_iter()
            .map(|row| refund_from_row(row).map_err(PortError::from))
            .collect()
    }

    /// Enqueues a webhook delivery, due at `d.due_at` with no attempts yet, and returns its id
    /// (greater than every id before it, never reused). [`WriteError::Duplicate`] if its event
    /// id exists.
    pub async fn webhook_enqueue(&self, d: &NewWebhookDelivery) -> Result<u64, WriteError> {
        let id = webhook_delivery::Entity::insert(delivery_to_row(d)?)
            .exec(self.db())
            .await
            .map_err(|e| write("enqueue a webhook delivery", e))?
            .last_insert_id;
        u64::try_from(id)
            .map_err(|_| PortError::new(format!("webhook delivery id {id} is negative")).into())
    }

    /// Claims up to `limit` deliveries that are neither delivered nor failed and are due
    /// (`next_attempt_at <= now`), the longest due first (then by id), and moves their
    /// `next_attempt_at` to `lease_until` in the same transaction, so no other claim gets them
    /// before the lease ends; if the claimer never records an attempt (it crashed), they are
    /// due again then.
    ///
    /// Returns them **as they were before the lease**: `next_attempt_at` is the time they were
    /// due, not `lease_until`. However many claims race, each delivery goes to at most one of
    /// them per lease (PostgreSQL: `FOR UPDATE SKIP LOCKED`; SQLite: the single write lock). A
    /// corrupt row among the due ones is a [`PortError`] and nothing is claimed.
    pub async fn webhook_claim_due(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<WebhookDeliveryRecord>, PortError> {
        use webhook_delivery::{Column, Entity};
        let (now, lease_until) = (to_nanos(now)?, to_nanos(lease_until)?);
        if limit == 0 {
            return Ok(Vec::new());
        }
        let fail = |e| port("claim due webhook deliveries", e);
        let tx = self.begin_write().await.map_err(fail)?;
        let mut due = Entity::find()
            .filter(Column::DeliveredAt.is_null())
            .filter(Column::FailedAt.is_null())
            .filter(Column::NextAttemptAt.lte(now))
            .order_by_asc(Column::NextAttemptAt)
            .order_by_asc(Column::Id)
            .limit(u64::from(limit));
        if self.backend() == Backend::Postgres {
            due = due.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
        }
        let rows = due.all(&tx).await.map_err(fail)?;
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        let claimed = rows
            .into_iter()
            .map(delivery_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        if !ids.is_empty() {
            Entity::update_many()
                .col_expr(Column::NextAttemptAt, Expr::value(lease_until))
                .filter(crate::billing::shapes::one_of(
                    self.backend(),
                    Column::Id,
                    &ids,
                ))
                .exec(&tx)
                .await
                .map_err(fail)?;
        }
        tx.commit().await.map_err(fail)?;
        Ok(claimed)
    }

    /// Records an attempt at delivery `id`: `attempts` grows by one, `last_status` and
    /// `last_error` become the attempt's (the error cut to 500 characters), and
    /// [`WebhookAttemptOutcome::Delivered`] sets `delivered_at`, `RetryAt(t)` sets
    /// `next_attempt_at` to `t`, `GaveUp` sets `failed_at` (to `attempt.at`). `Ok(false)` if
    /// there is no such delivery.
    pub async fn webhook_record_attempt(
        &self,
        id: u64,
        attempt: &WebhookAttempt,
    ) -> Result<bool, PortError> {
        use webhook_delivery::{Column, Entity};
        let Some(id) = db_delivery_id(id) else {
            return Ok(false);
        };
        let (column, value) = match attempt.outcome {
            WebhookAttemptOutcome::Delivered => (Column::DeliveredAt, attempt.at),
            WebhookAttemptOutcome::RetryAt(t) => (Column::NextAttemptAt, t),
            WebhookAttemptOutcome::GaveUp => (Column::FailedAt, attempt.at),
        };
        let done = Entity::update_many()
            .col_expr(Column::Attempts, Expr::col(Column::Attempts).add(1))
            .col_expr(
                Column::LastStatus,
                Expr::value(attempt.status.map(i32::from)),
            )
            .col_expr(
                Column::LastError,
                Expr::value(cut_error(attempt.error.as_deref())),
            )
            .col_expr(column, Expr::value(to_nanos(value)?))
            .filter(Column::Id.eq(id))
            .exec(self.db())
            .await
            .map_err(|e| port("record a webhook attempt", e))?;
        Ok(done.rows_affected == 1)
    }

    /// The latest `limit` webhook deliveries, newest first (descending id), only payment
    /// `payment_id`'s if given.
    pub async fn webhook_deliveries(
        &self,
        payment_id: Option<&str>,
        limit: u32,
    ) -> Result<Vec<WebhookDeliveryRecord>, PortError> {
        use webhook_delivery::{Column, Entity};
        let mut query = Entity::find();
        if let Some(payment_id) = payment_id {
            query = query.filter(Column::PaymentId.eq(payment_id));
        }
        let rows = query
            .order_by_desc(Column::Id)
            .limit(u64::from(limit))
            .all(self.db())
            .await
            .map_err(|e| port("read webhook deliveries", e))?;
        rows.into_iter()
            .map(|row| delivery_from_row(row).map_err(PortError::from))
            .collect()
    }

    /// Makes delivery `id` due again at `at`, whatever its state: `delivered_at` and
    /// `failed_at` are cleared, its attempts and last result kept. `Ok(false)` if there is no
    /// such delivery.
    pub async fn webhook_redeliver(&self, id: u64, at: OffsetDateTime) -> Result<bool, PortError> {
        use webhook_delivery::{Column, Entity};
        let Some(id) = db_delivery_id(id) else {
            return Ok(false);
        };
        let done = Entity::update_many()
            .col_expr(Column::NextAttemptAt, Expr::value(to_nanos(at)?))
            .col_expr(Column::DeliveredAt, Expr::value(Option::<i64>::None))
            .col_expr(Column::FailedAt, Expr::value(Option::<i64>::None))
            .filter(Column::Id.eq(id))
            .exec(self.db())
            .await
            .map_err(|e| port("redeliver a webhook", e))?;
        Ok(done.rows_affected == 1)
    }

    /// Deletes the deliveries enqueued before `before` that were delivered or given up on
    /// (pending ones are kept, however old); returns how many.
    pub async fn webhook_purge(&self, before: OffsetDateTime) -> Result<u64, PortError> {
        use webhook_delivery::{Column, Entity};
        let done = Entity::delete_many()
            .filter(Column::CreatedAt.lt(to_nanos(before)?))
            .filter(
                Condition::any()
                    .add(Column::DeliveredAt.is_not_null())
                    .add(Column::FailedAt.is_not_null()),
            )
            .exec(self.db())
            .await
            .map_err(|e| port("purge webhook deliveries", e))?;
        Ok(done.rows_affected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_cut_to_500_characters_not_bytes() {
        let long = "ошибка ".repeat(100);
        let cut = cut_error(Some(&long)).unwrap();
        assert_eq!(cut.chars().count(), MAX_ERROR_CHARS);
        assert!(long.starts_with(&cut));
        assert_eq!(cut_error(Some("short")).as_deref(), Some("short"));
        assert_eq!(cut_error(None), None);
    }

    #[test]
    fn lengths_are_counted_in_characters() {
        assert!(check_len("status", &"ё".repeat(16), MAX_STATUS_CHARS).is_ok());
        let err = check_len("status", &"x".repeat(17), MAX_STATUS_CHARS).unwrap_err();
        assert_eq!(
            err.message(),
            "sandbox payment status must be at most 16 characters, not 17"
        );
    }

    #[test]
    fn bad_rows_are_corrupt_not_a_panic() {
        let row = webhook_delivery::Model {
            id: 3,
            event_id: "evt_1".to_owned(),
            payment_id: "pay_1".to_owned(),
            event_type: "payment.succeeded".to_owned(),
            payload: "{}".to_owned(),
            attempts: 0,
            next_attempt_at: 0,
            delivered_at: None,
            failed_at: None,
            last_status: Some(70_000),
            last_error: None,
            created_at: 0,
        };
        let err = delivery_from_row(row.clone()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "corrupt row in webhook_deliveries (3): last_status: 70000 is not an HTTP status"
        );
        let negative = webhook_delivery::Model {
            attempts: -1,
            last_status: None,
            ..row
        };
        assert!(delivery_from_row(negative).is_err());
    }
}
