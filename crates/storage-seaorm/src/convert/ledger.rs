//! [`LedgerRecord`] ⇄ `ledger_journal` row: one flat row per fact, its kind a tag; the columns a
//! kind does not use are NULL, the ones it uses are required when read back.

use billing_core::ids::PaymentId;
use billing_core::ports::{LedgerFact, LedgerRecord, RepoError};

use super::Row;
use super::billing::{
    day_text, money, period_code, reason_columns, service_tag, split_json, state_tag, to_db_id,
};
use crate::CorruptRow;
use crate::entity::ledger_record::{ActiveModel, Model};

const TABLE: &str = "ledger_journal";

/// The row (without its `seq`, which the database assigns) that appends `record` to the
/// journal of `account`.
pub fn to_row(account: i64, record: &LedgerRecord) -> Result<ActiveModel, RepoError> {
    use sea_orm::ActiveValue::{NotSet, Set};
    let mut row = ActiveModel {
        seq: NotSet,
        account_id: Set(account),
        date: Set(day_text(record.date)),
        kind: Set(String::new()),
        period: Set(None),
        service: Set(None),
        amount: Set(None),
        due_date: Set(None),
        payment_id: Set(None),
        state: Set(None),
        reason: Set(None),
        reason_text: Set(None),
        split: Set(None),
    };
    let kind = match &record.fact {
        LedgerFact::Charge {
            period,
            service,
            amount,
            due_date,
        } => {
            row.period = Set(Some(period_code(*period)));
            row.service = Set(Some(service_tag(*service).to_owned()));
            row.amount = Set(Some(money(*amount)));
            row.due_date = Set(Some(day_text(*due_date)));
            "charge"
        }
        LedgerFact::Adjustment {
            period,
            service,
            amount,
            reason,
            due_date,
        } => {
            let (tag, words) = reason_columns(reason);
            row.period = Set(Some(period_code(*period)));
            row.service = Set(Some(service_tag(*service).to_owned()));
            row.amount = Set(Some(money(*amount)));
            row.reason = Set(Some(tag.to_owned()));
            row.reason_text = Set(words);
            row.due_date = Set(Some(day_text(*due_date)));
            "adjustment"
        }
        LedgerFact::Penalty {
            period,
            amount,
            due_date,
        } => {
            row.period = Set(Some(period_code(*period)));
            row.amount = Set(Some(money(*amount)));
            row.due_date = Set(Some(day_text(*due_date)));
            "penalty"
        }
        LedgerFact::PaymentCreated {
            payment,
            amount,
            split,
        } => {
            row.payment_id = Set(Some(to_db_id(payment.get())?));
            row.amount = Set(Some(money(*amount)));
            row.split = Set(split_json(split));
            "payment_created"
        }
        LedgerFact::PaymentState { payment, state } => {
            row.payment_id = Set(Some(to_db_id(payment.get())?));
            row.state = Set(Some(state_tag(*state).to_owned()));
            "payment_state"
        }
        LedgerFact::Refund { payment, amount } => {
            row.payment_id = Set(Some(to_db_id(payment.get())?));
            row.amount = Set(Some(money(*amount)));
            "refund"
        }
    };
    row.kind = Set(kind.to_owned());
    Ok(row)
}

/// The record a row stores.
pub fn from_row(m: Model) -> Result<LedgerRecord, CorruptRow> {
    let row = Row::new(TABLE, format!("seq {}", m.seq));
    let date = row.day("date", &m.date)?;
    let payment = || -> Result<PaymentId, CorruptRow> {
        let id = m
            .payment_id
            .ok_or_else(|| row.bad("payment_id", "missing"))?;
        Ok(PaymentId::new(row.id("payment_id", id)?))
    };
    let fact = match m.kind.as_str() {
        "charge" => LedgerFact::Charge {
            period: row.some_period("period", m.period)?,
            service: row.service("service", m.service.as_deref())?,
            amount: row.some_money("amount", m.amount.as_ref())?,
            due_date: row.some_day("due_date", m.due_date.as_deref())?,
        },
        "adjustment" => LedgerFact::Adjustment {
            period: row.some_period("period", m.period)?,
            service: row.service("service", m.service.as_deref())?,
            amount: row.some_money("amount", m.amount.as_ref())?,
            reason: row.reason(m.reason.as_deref(), m.reason_text.clone())?,
            due_date: row.some_day("due_date", m.due_date.as_deref())?,
        },
        "penalty" => LedgerFact::Penalty {
            period: row.some_period("period", m.period)?,
            amount: row.some_money("amount", m.amount.as_ref())?,
            due_date: row.some_day("due_date", m.due_date.as_deref())?,
        },
        "payment_created" => LedgerFact::PaymentCreated {
            payment: payment()?,
            amount: row.some_money("amount", m.amount.as_ref())?,
            split: row.split(m.split.as_deref())?,
        },
        "payment_state" => LedgerFact::PaymentState {
            payment: payment()?,
            state: row.state("state", m.state.as_deref())?,
        },
        "refund" => LedgerFact::Refund {
            payment: payment()?,
            amount: row.some_money("amount", m.amount.as_ref())?,
        },
        other => return Err(row.bad("kind", format!("unknown tag '{other}'"))),
    };
    Ok(LedgerRecord { date, fact })
}
