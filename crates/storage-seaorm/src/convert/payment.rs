//! [`PaymentRecord`] ⇄ `payments` row and [`RefundRequest`] ⇄ `refund_requests` row.

use billing_core::ids::{AccountId, PaymentId};
use billing_core::ledger::PaymentState;
use billing_core::money::Money;
use billing_core::ports::{
    GatewayPaymentId, NewPayment, NewRefundRequest, PaymentRecord, RefundRequest, RefundRequestId,
    RefundStatus, RepoError,
};

use super::Row;
use super::billing::{day_text, money, split_json, state_tag, to_db_id};
use crate::CorruptRow;
use crate::entity::{payment, refund_request};

/// The row of a new payment, `Created` with nothing refunded.
pub fn to_row(p: &NewPayment) -> Result<payment::ActiveModel, RepoError> {
    use sea_orm::ActiveValue::{NotSet, Set};
    Ok(payment::ActiveModel {
        id: NotSet,
        gateway_id: Set(p.gateway_id.as_str().to_owned()),
        account_id: Set(to_db_id(p.account.get())?),
        amount: Set(money(p.amount)),
        split: Set(split_json(&p.split)),
        created_on: Set(day_text(p.created_on)),
        state: Set(state_tag(PaymentState::Created).to_owned()),
        refunded: Set(money(Money::ZERO)),
        failure_reason: Set(None),
    })
}

/// The payment a row stores.
pub fn from_row(m: payment::Model) -> Result<PaymentRecord, CorruptRow> {
    let row = Row::new("payments", format!("id {}", m.id));
    Ok(PaymentRecord {
        id: PaymentId::new(row.id("id", m.id)?),
        gateway_id: row.parse("gateway_id", GatewayPaymentId::parse(&m.gateway_id))?,
        account: AccountId::new(row.id("account_id", m.account_id)?),
        amount: row.money("amount", &m.amount)?,
        split: row.split(m.split.as_deref())?,
        created_on: row.day("created_on", &m.created_on)?,
        state: row.state("state", Some(&m.state))?,
        refunded: row.money("refunded", &m.refunded)?,
        failure_reason: m.failure_reason,
    })
}

/// The row of a new refund request, `requested`.
pub fn refund_to_row(r: &NewRefundRequest) -> Result<refund_request::ActiveModel, RepoError> {
    use sea_orm::ActiveValue::{NotSet, Set};
    Ok(refund_request::ActiveModel {
        id: NotSet,
        payment_id: Set(to_db_id(r.payment.get())?),
        gateway_id: Set(r.gateway_id.as_str().to_owned()),
        account_id: Set(to_db_id(r.account.get())?),
        amount: Set(money(r.amount)),
        number: Set(r.number.clone()),
        received_on: Set(day_text(r.received_on)),
        due_by: Set(day_text(r.due_by)),
        status: Set(REQUESTED.to_owned()),
        decided_on: Set(None),
        rejection_reason: Set(None),
    })
}

/// The status tag of a request not decided yet.
pub const REQUESTED: &str = "requested";
/// The status tag of a refunded request.
pub const REFUNDED: &str = "refunded";
/// The status tag of a rejected request.
pub const REJECTED: &str = "rejected";

/// The refund request a row stores.
pub fn refund_from_row(m: refund_request::Model) -> Result<RefundRequest, CorruptRow> {
    let row = Row::new("refund_requests", format!("id {}", m.id));
    let decided_on = || row.some_day("decided_on", m.decided_on.as_deref());
    let status = match m.status.as_str() {
        REQUESTED => RefundStatus::Requested,
        REFUNDED => RefundStatus::Refunded { on: decided_on()? },
        REJECTED => RefundStatus::Rejected {
            on: decided_on()?,
            reason: m
                .rejection_reason
                .clone()
                .ok_or_else(|| row.bad("rejection_reason", "missing"))?,
        },
        other => return Err(row.bad("status", format!("unknown tag '{other}'"))),
    };
    Ok(RefundRequest {
        id: RefundRequestId::new(row.id("id", m.id)?),
        payment: PaymentId::new(row.id("payment_id", m.payment_id)?),
        gateway_id: row.parse("gateway_id", GatewayPaymentId::parse(&m.gateway_id))?,
        account: AccountId::new(row.id("account_id", m.account_id)?),
        amount: row.money("amount", &m.amount)?,
        number: m.number,
        received_on: row.day("received_on", &m.received_on)?,
        due_by: row.day("due_by", &m.due_by)?,
        status,
    })
}
