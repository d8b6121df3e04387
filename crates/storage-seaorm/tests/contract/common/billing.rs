//! Billing fixtures: payments and refund requests built from small numbers, fixed days.

use billing_core::ids::{AccountId, PaymentId};
use billing_core::ledger::PaymentSplit;
use billing_core::money::Money;
use billing_core::period::Period;
use billing_core::ports::{GatewayPaymentId, NewPayment, NewRefundRequest};
use billing_core::service::ServiceKind;
use time::Date;
use time::macros::date;

/// The first day of every billing test's timeline.
pub const D0: Date = date!(2025 - 03 - 01);

/// `D0 + days`.
pub fn day(days: i64) -> Date {
    D0 + time::Duration::days(days)
}

pub fn period(year: i32, month: u32) -> Period {
    Period::new(year, month).unwrap()
}

pub fn account_id(n: u64) -> AccountId {
    AccountId::new(n)
}

pub fn gateway(id: &str) -> GatewayPaymentId {
    GatewayPaymentId::parse(id).unwrap()
}

pub fn rub(kopecks: i64) -> Money {
    Money::from_kopecks(kopecks)
}

/// A payment of `kopecks` to account `account` with the default split, created on `D0`.
pub fn new_payment(gateway_id: &str, account: u64, kopecks: i64) -> NewPayment {
    NewPayment {
        gateway_id: gateway(gateway_id),
        account: account_id(account),
        amount: rub(kopecks),
        split: PaymentSplit::Default,
        created_on: D0,
    }
}

/// A payment split by the payer between electricity and cold water.
pub fn split_payment(gateway_id: &str, account: u64) -> NewPayment {
    NewPayment {
        split: PaymentSplit::ByService(vec![
            (ServiceKind::Electricity, rub(7000)),
            (ServiceKind::ColdWater, rub(3000)),
        ]),
        ..new_payment(gateway_id, account, 10000)
    }
}

/// Refund request `number` of `kopecks` for `payment`.
pub fn refund_request(
    payment: PaymentId,
    gateway_id: &str,
    account: u64,
    kopecks: i64,
    number: &str,
) -> NewRefundRequest {
    NewRefundRequest {
        payment,
        gateway_id: gateway(gateway_id),
        account: account_id(account),
        amount: rub(kopecks),
        number: number.to_owned(),
        received_on: day(3),
        due_by: day(13),
    }
}
