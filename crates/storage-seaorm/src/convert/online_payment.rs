//! [`OnlinePaymentRecord`] ⇄ `online_payments` row: money as `Exact`, the split as the
//! adapter's JSON (`convert::billing::split_json`), the receipt contact as two nullable
//! columns kept exactly as given, the start time as nanoseconds.

use billing_core::ids::AccountId;
use billing_core::online::{OnlinePaymentRecord, ReceiptContact};
use billing_core::ports::{GatewayPaymentId, RepoError};

use super::Row;
use super::billing::{money, split_json, to_db_id, to_db_nanos};
use crate::CorruptRow;
use crate::entity::online_payment::Model;

/// The row that stores `r`.
pub fn to_row(r: &OnlinePaymentRecord) -> Result<Model, RepoError> {
    Ok(Model {
        gateway_id: r.gateway_id.as_str().to_owned(),
        order_ref: r.order_ref.clone(),
        account_id: to_db_id(r.account.get())?,
        amount: money(r.amount),
        split: split_json(&r.split),
        payer: r.payer.clone(),
        contact_email: r.contact.email.clone(),
        contact_phone: r.contact.phone.clone(),
        confirmation_url: r.confirmation_url.clone(),
        created_at: to_db_nanos(r.created_at)?,
    })
}

/// The record a row stores.
pub fn from_row(m: Model) -> Result<OnlinePaymentRecord, CorruptRow> {
    let row = Row::new("online_payments", format!("gateway_id {}", m.gateway_id));
    Ok(OnlinePaymentRecord {
        gateway_id: row.parse("gateway_id", GatewayPaymentId::parse(&m.gateway_id))?,
        order_ref: m.order_ref,
        account: AccountId::new(row.id("account_id", m.account_id)?),
        amount: row.money("amount", &m.amount)?,
        split: row.split(m.split.as_deref())?,
        payer: m.payer,
        contact: ReceiptContact {
            email: m.contact_email,
            phone: m.contact_phone,
        },
        confirmation_url: m.confirmation_url,
        created_at: row.time("created_at", m.created_at)?,
    })
}
