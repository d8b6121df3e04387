//! The account ledger: charges, adjustments, penalties, payments and refunds of one ЛС.
//!
//! **Sign convention.** Every [`Entry`] carries its effect on the balance: positive entries
//! (charges, penalties, refunds, upward adjustments) increase what the subscriber owes,
//! negative ones (succeeded payments, downward adjustments) decrease it. A **positive balance is
//! a debt**, a negative balance an advance.
//!
//! **Tranches.** Each (period, service) is a debt tranche with its due date: what was charged for
//! it and what has been credited to it. Money arriving on the account (a succeeded payment, a
//! downward adjustment) is applied to tranches — the payer's explicit split by service, or the
//! default order: oldest period first, within a period in [`ServiceKind::ALL`] order. What no
//! tranche can take is kept as an **advance** that later charges consume: a general advance, or
//! a per-service advance when the payer named the service (billing-rules.md §7, §10).
//!
//! **Payments.** A payment is created, may become pending, and then succeeds or fails; a
//! succeeded payment may be refunded in part or in full. Only a succeeded payment moves the
//! balance; every other transition is refused with [`LedgerError::InvalidTransition`].
//!
//! **Time.** Entries are posted in date order (the ledger is a journal); a statement for a date
//! range gives the opening balance, the lines with running balances and the closing balance.
//! The tranches and their credits feed [`crate::penalty::compute_penalties`] through
//! [`Ledger::penalty_inputs`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::Date;

use crate::ids::{AccountId, EntryId, PaymentId};
use crate::keyrate::{KeyRateHistory, PenaltyRules};
use crate::money::Money;
use crate::penalty::{
    self, DebtTranche, PaymentEvent, PaymentTarget, PenaltyError, PenaltyPolicy, PenaltyReport,
};
use crate::period::Period;
use crate::service::ServiceKind;

/// Why an adjustment (recalculation) was made; shown on the bill next to its amount.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdjustmentReason {
    /// A real reading arrived after estimated periods (billing-rules.md §4, true-up).
    TrueUp,
    /// A control check found a different reading (ПП 354 п. 61).
    ControlCheck,
    /// A correction of a closed period, billed as a recalculation in a later period.
    Correction,
    /// A reduction for a service of inadequate quality or an interruption.
    QualityReduction,
    /// Any other reason, in words.
    Other(String),
}

/// What an entry is.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// A charge for a service and period.
    Charge {
        /// The billing period.
        period: Period,
        /// The service.
        service: ServiceKind,
    },
    /// A recalculation billed in `period`, up or down.
    Adjustment {
        /// The billing period the recalculation line appears in.
        period: Period,
        /// The service.
        service: ServiceKind,
        /// Why.
        reason: AdjustmentReason,
    },
    /// Penalties billed in `period` (the [`ServiceKind::Penalty`] service).
    Penalty {
        /// The billing period.
        period: Period,
    },
    /// A succeeded payment.
    Payment {
        /// The payment.
        payment: PaymentId,
    },
    /// A refund of (part of) a succeeded payment.
    Refund {
        /// The payment refunded.
        payment: PaymentId,
    },
}

/// One line of the journal.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Entry {
    /// The entry's id, sequential within the ledger.
    pub id: EntryId,
    /// The posting date.
    pub date: Date,
    /// What it is.
    pub kind: EntryKind,
    /// Its effect on the balance: positive increases the debt.
    pub amount: Money,
}

/// One (period, service) debt tranche.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Tranche {
    /// The billing period.
    pub period: Period,
    /// The service.
    pub service: ServiceKind,
    /// The last day to pay without delay.
    pub due_date: Date,
    /// Everything charged to it (charges and upward adjustments).
    pub charged: Money,
    /// Everything applied to it (payments, advances consumed, downward adjustments).
    pub credited: Money,
}

impl Tranche {
    /// What is still owed on it (never negative).
    #[must_use]
    pub fn outstanding(&self) -> Money {
        self.charged - self.credited
    }
}

/// The state of a payment.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentState {
    /// Recorded, not yet sent to or confirmed by the gateway.
    Created,
    /// The gateway has it; the money is not confirmed yet.
    Pending,
    /// Confirmed: the money is on the account and moves the balance.
    Succeeded,
    /// Declined or abandoned; never moves the balance.
    Failed,
    /// Refunded in full.
    Refunded,
}

/// How the payer wants a payment split.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentSplit {
    /// The default order: oldest tranche first, within a period in [`ServiceKind::ALL`] order.
    #[default]
    Default,
    /// The payer's own split: an amount per service, adding up to the payment. Each part pays
    /// that service's tranches oldest first; the rest of a part is an advance for that service.
    ByService(Vec<(ServiceKind, Money)>),
}

/// Part of a payment (or other credit) applied to one tranche.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct AllocationPart {
    /// The tranche's period.
    pub period: Period,
    /// The tranche's service.
    pub service: ServiceKind,
    /// The amount applied.
    pub amount: Money,
}

/// A payment and what became of it.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Payment {
    id: PaymentId,
    amount: Money,
    created: Date,
    split: PaymentSplit,
    state: PaymentState,
    succeeded: Option<Date>,
    allocation: Vec<AllocationPart>,
    to_advance: Money,
    refunded: Money,
}

impl Payment {
    /// The id.
    #[must_use]
    pub fn id(&self) -> PaymentId {
        self.id
    }
    /// The amount paid.
    #[must_use]
    pub fn amount(&self) -> Money {
        self.amount
    }
    /// The day it was created.
    #[must_use]
    pub fn created(&self) -> Date {
        self.created
    }
    /// The payer's split.
    #[must_use]
    pub fn split(&self) -> &PaymentSplit {
        &self.split
    }
    /// The current state.
    #[must_use]
    pub fn state(&self) -> PaymentState {
        self.state
    }
    /// The day it succeeded, if it did.
    #[must_use]
    pub fn succeeded_on(&self) -> Option<Date> {
        self.succeeded
    }
    /// How it was applied to tranches when it succeeded.
    #[must_use]
    pub fn allocation(&self) -> &[AllocationPart] {
        &self.allocation
    }
    /// The part kept as an advance when it succeeded.
    #[must_use]
    pub fn to_advance(&self) -> Money {
        self.to_advance
    }
    /// How much of it has been refunded.
    #[must_use]
    pub fn refunded(&self) -> Money {
        self.refunded
    }
}

/// Why the ledger refused an operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    /// The account does not have this service.
    #[error("the account has no service {0}")]
    UnknownService(ServiceKind),
    /// The amount must be above zero.
    #[error("amount {0} must be positive")]
    NonPositiveAmount(Money),
    /// A charge cannot be negative; post a downward adjustment instead.
    #[error("charge {0} is negative; post a downward adjustment instead")]
    NegativeCharge(Money),
    /// The tranche already has a different due date.
    #[error("{period} {service} is due on {existing}, not {given}")]
    DueDateMismatch {
        /// The period.
        period: Period,
        /// The service.
        service: ServiceKind,
        /// The due date on record.
        existing: Date,
        /// The due date given.
        given: Date,
    },
    /// The ledger is a journal: an entry cannot be dated before the last one.
    #[error("{date} is before the last entry of {last}")]
    OutOfOrder {
        /// The date given.
        date: Date,
        /// The date of the last entry.
        last: Date,
    },
    /// A payment with this id exists already.
    #[error("payment {0} exists already")]
    DuplicatePayment(PaymentId),
    /// No payment has this id.
    #[error("no payment {0}")]
    UnknownPayment(PaymentId),
    /// The payment cannot go from its state to the requested one.
    #[error("payment {payment} cannot go from {from:?} to {to:?}")]
    InvalidTransition {
        /// The payment.
        payment: PaymentId,
        /// Its state.
        from: PaymentState,
        /// The state requested.
        to: PaymentState,
    },
    /// The parts of the payer's split do not add up to the payment.
    #[error("the parts add up to {parts}, the payment is {payment}")]
    SplitMismatch {
        /// The sum of the parts.
        parts: Money,
        /// The payment.
        payment: Money,
    },
    /// The split names a service twice.
    #[error("the split names {0} twice")]
    DuplicateService(ServiceKind),
    /// A refund above what is left of the payment.
    #[error("payment {payment} has {refundable} left to refund, {requested} requested")]
    RefundExceedsPayment {
        /// The payment.
        payment: PaymentId,
        /// What can still be refunded.
        refundable: Money,
        /// What was asked.
        requested: Money,
    },
}

/// Sums per kind of entry, for statements.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct Totals {
    /// Charges.
    pub charges: Money,
    /// Adjustments, signed.
    pub adjustments: Money,
    /// Penalties.
    pub penalties: Money,
    /// Succeeded payments, as a positive amount.
    pub payments: Money,
    /// Refunds, as a positive amount.
    pub refunds: Money,
}

impl Totals {
    fn add(&mut self, e: &Entry) {
        match e.kind {
            EntryKind::Charge { .. } => self.charges += e.amount,
            EntryKind::Adjustment { .. } => self.adjustments += e.amount,
            EntryKind::Penalty { .. } => self.penalties += e.amount,
            EntryKind::Payment { .. } => self.payments -= e.amount,
            EntryKind::Refund { .. } => self.refunds += e.amount,
        }
    }

    /// The change of balance these totals make:
    /// charges + adjustments + penalties − payments + refunds.
    #[must_use]
    pub fn net(&self) -> Money {
        self.charges + self.adjustments + self.penalties - self.payments + self.refunds
    }
}

/// A line of a statement: an entry and the balance after it.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct StatementLine {
    /// The entry.
    pub entry: Entry,
    /// The balance after it.
    pub balance: Money,
}

/// The account's movements over a date range (both ends inclusive).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Statement {
    /// The first day.
    pub from: Date,
    /// The last day.
    pub to: Date,
    /// The balance before `from`.
    pub opening: Money,
    /// The entries of the range with running balances.
    pub lines: Vec<StatementLine>,
    /// The sums of the lines per kind.
    pub totals: Totals,
    /// The balance after `to`: `opening + totals.net()`.
    pub closing: Money,
}

/// A record of money applied to a tranche, for the penalty history.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
struct Credit {
    date: Date,
    period: Period,
    service: ServiceKind,
    amount: Money,
}

/// The ledger of one personal account. See the [module docs](self) for the conventions.
///
/// ```
/// use billing_core::ids::{AccountId, PaymentId};
/// use billing_core::ledger::{Ledger, PaymentSplit};
/// use billing_core::{Money, Period, ServiceKind};
/// use time::macros::date;
///
/// let mut ledger = Ledger::new(AccountId::new(1), &[ServiceKind::Electricity, ServiceKind::ColdWater]);
/// let jan = Period::new(2026, 1).unwrap();
/// ledger.post_charge(date!(2026 - 02 - 01), jan, ServiceKind::Electricity, Money::from_roubles(800), date!(2026 - 02 - 10)).unwrap();
/// ledger.post_charge(date!(2026 - 02 - 01), jan, ServiceKind::ColdWater, Money::from_roubles(300), date!(2026 - 02 - 10)).unwrap();
/// assert_eq!(ledger.balance(), Money::from_roubles(1100)); // positive = debt
///
/// // 1 000 ₽ paid in the default order: electricity in full, 200 ₽ of cold water.
/// let id = PaymentId::new(7);
/// ledger.create_payment(id, Money::from_roubles(1000), date!(2026 - 02 - 05), PaymentSplit::Default).unwrap();
/// assert_eq!(ledger.balance(), Money::from_roubles(1100)); // not confirmed yet
/// ledger.succeed_payment(id, date!(2026 - 02 - 05)).unwrap();
/// assert_eq!(ledger.balance(), Money::from_roubles(100));
/// assert_eq!(ledger.debt_by_service()[&ServiceKind::ColdWater], Money::from_roubles(100));
///
/// let st = ledger.statement(date!(2026 - 02 - 02), date!(2026 - 02 - 28));
/// assert_eq!((st.opening, st.closing), (Money::from_roubles(1100), Money::from_roubles(100)));
/// ```
///
/// The ledger serialises for inspection but does not deserialise: its invariants hold only
/// for a ledger built by its own operations, so storage keeps the journal of facts and replays
/// it.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct Ledger {
    account: AccountId,
    services: Vec<ServiceKind>,
    entries: Vec<Entry>,
    balance: Money,
    tranches: BTreeMap<(Period, ServiceKind), Tranche>,
    payments: BTreeMap<PaymentId, Payment>,
    general_advance: Money,
    service_advance: BTreeMap<ServiceKind, Money>,
    credits: Vec<Credit>,
}

impl Ledger {
    /// An empty ledger for `account` with its services; [`ServiceKind::Penalty`] is always
    /// known.
    #[must_use]
    pub fn new(account: AccountId, services: &[ServiceKind]) -> Ledger {
        let mut services: Vec<ServiceKind> = services
            .iter()
            .copied()
            .chain([ServiceKind::Penalty])
            .collect();
        services.sort_unstable();
        services.dedup();
        Ledger {
            account,
            services,
            entries: Vec::new(),
            balance: Money::ZERO,
            tranches: BTreeMap::new(),
            payments: BTreeMap::new(),
            general_advance: Money::ZERO,
            service_advance: BTreeMap::new(),
            credits: Vec::new(),
        }
    }

    /// The account.
    #[must_use]
    pub fn account(&self) -> AccountId {
        self.account
    }

    /// The account's services, in [`ServiceKind::ALL`] order, with the penalty service.
    #[must_use]
    pub fn services(&self) -> &[ServiceKind] {
        &self.services
    }

    /// The journal, in posting order.
    #[must_use]
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The balance: positive is a debt, negative an advance.
    #[must_use]
    pub fn balance(&self) -> Money {
        self.balance
    }

    /// The balance at the end of `date`.
    #[must_use]
    pub fn balance_on(&self, date: Date) -> Money {
        self.entries
            .iter()
            .take_while(|e| e.date <= date)
            .map(|e| e.amount)
            .sum()
    }

    /// The advance not yet consumed: the general one plus every per-service one.
    #[must_use]
    pub fn advance(&self) -> Money {
        self.general_advance + self.service_advance.values().copied().sum::<Money>()
    }

    /// The advance a payer reserved for `service`.
    #[must_use]
    pub fn advance_for(&self, service: ServiceKind) -> Money {
        self.service_advance
            .get(&service)
            .copied()
            .unwrap_or(Money::ZERO)
    }

    /// Every tranche, oldest first (period, then [`ServiceKind::ALL`] order).
    pub fn tranches(&self) -> impl Iterator<Item = &Tranche> {
        self.tranches.values()
    }

    /// The tranches with something still owed, oldest first.
    pub fn open_tranches(&self) -> impl Iterator<Item = &Tranche> {
        self.tranches
            .values()
            .filter(|t| t.outstanding().is_positive())
    }

    /// What is owed per service (services with no debt are left out).
    #[must_use]
    pub fn debt_by_service(&self) -> BTreeMap<ServiceKind, Money> {
        let mut out = BTreeMap::new();
        for t in self.open_tranches() {
            *out.entry(t.service).or_insert(Money::ZERO) += t.outstanding();
        }
        out
    }

    /// A payment by id.
    #[must_use]
    pub fn payment(&self, id: PaymentId) -> Option<&Payment> {
        self.payments.get(&id)
    }

    /// Every payment, by id.
    pub fn payments(&self) -> impl Iterator<Item = &Payment> {
        self.payments.values()
    }

    fn check_date(&self, date: Date) -> Result<(), LedgerError> {
        match self.entries.last() {
            Some(last) if date < last.date => Err(LedgerError::OutOfOrder {
                date,
                last: last.date,
            }),
            _ => Ok(()),
        }
    }

    fn check_service(&self, service: ServiceKind) -> Result<(), LedgerError> {
        if self.services.contains(&service) {
            Ok(())
        } else {
            Err(LedgerError::UnknownService(service))
        }
    }

    fn push(&mut self, date: Date, kind: EntryKind, amount: Money) -> EntryId {
        let id = EntryId::new(
            u64::try_from(self.entries.len())
                .unwrap_or(u64::MAX)
                .saturating_add(1),
        );
        self.balance += amount;
        self.entries.push(Entry {
            id,
            date,
            kind,
            amount,
        });
        id
    }

    fn tranche_mut(
        &mut self,
        period: Period,
        service: ServiceKind,
        due_date: Date,
    ) -> Result<&mut Tranche, LedgerError> {
        let t = self.tranches.entry((period, service)).or_insert(Tranche {
            period,
            service,
            due_date,
            charged: Money::ZERO,
            credited: Money::ZERO,
        });
        if t.due_date != due_date {
            return Err(LedgerError::DueDateMismatch {
                period,
                service,
                existing: t.due_date,
                given: due_date,
            });
        }
        Ok(t)
    }

    /// Adds `amount` to the tranche and lets the advances pay for it.
    fn debit(&mut self, date: Date, period: Period, service: ServiceKind, amount: Money) {
        let key = (period, service);
        if let Some(t) = self.tranches.get_mut(&key) {
            t.charged += amount;
        }
        let reserved = self.advance_for(service);
        if reserved.is_positive() {
            let used = self.credit_tranche(date, key, reserved, None);
            self.service_advance.insert(service, reserved - used);
        }
        if self.general_advance.is_positive() {
            let used = self.credit_tranche(date, key, self.general_advance, None);
            self.general_advance -= used;
        }
        self.service_advance.retain(|_, m| m.is_positive());
    }

    /// Applies up to `amount` to one tranche; returns what it took.
    fn credit_tranche(
        &mut self,
        date: Date,
        key: (Period, ServiceKind),
        amount: Money,
        log: Option<&mut Vec<AllocationPart>>,
    ) -> Money {
        let Some(t) = self.tranches.get_mut(&key) else {
            return Money::ZERO;
        };
        let x = amount.min(t.outstanding());
        if !x.is_positive() {
            return Money::ZERO;
        }
        t.credited += x;
        self.credits.push(Credit {
            date,
            period: key.0,
            service: key.1,
            amount: x,
        });
        if let Some(log) = log {
            log.push(AllocationPart {
                period: key.0,
                service: key.1,
                amount: x,
            });
        }
        x
    }

    /// Applies `amount` to the open tranches (of `only` service, if given), oldest first;
    /// returns what is left.
    fn credit_in_order(
        &mut self,
        date: Date,
        mut amount: Money,
        only: Option<ServiceKind>,
        log: &mut Vec<AllocationPart>,
    ) -> Money {
        let keys: Vec<(Period, ServiceKind)> = self
            .tranches
            .values()
            .filter(|t| t.outstanding().is_positive() && only.is_none_or(|s| s == t.service))
            .map(|t| (t.period, t.service))
            .collect();
        for key in keys {
            if !amount.is_positive() {
                break;
            }
            amount -= self.credit_tranche(date, key, amount, Some(log));
        }
        amount
    }

    /// Takes back `amount` of credits, newest tranche first (a refund beyond the advance).
    fn uncredit(&mut self, mut amount: Money) {
        let keys: Vec<(Period, ServiceKind)> = self.tranches.keys().rev().copied().collect();
        for key in keys {
            if !amount.is_positive() {
                break;
            }
            let Some(t) = self.tranches.get_mut(&key) else {
                continue;
            };
            let x = amount.min(t.credited);
            t.credited -= x;
            amount -= x;
            // Drop the newest credit records of the tranche by the same amount.
            let mut left = x;
            for c in self
                .credits
                .iter_mut()
                .rev()
                .filter(|c| (c.period, c.service) == key)
            {
                if !left.is_positive() {
                    break;
                }
                let y = left.min(c.amount);
                c.amount -= y;
                left -= y;
            }
            self.credits.retain(|c| c.amount.is_positive());
        }
    }

    /// Posts the charge of `service` for `period`, due on `due_date`. An advance pays for it at
    /// once. Zero charges are recorded; negative ones are refused.
    pub fn post_charge(
        &mut self,
        date: Date,
        period: Period,
        service: ServiceKind,
        amount: Money,
        due_date: Date,
    ) -> Result<EntryId, LedgerError> {
        self.check_date(date)?;
        self.check_service(service)?;
        if amount.is_negative() {
            return Err(LedgerError::NegativeCharge(amount));
        }
        self.tranche_mut(period, service, due_date)?;
        self.debit(date, period, service, amount);
        Ok(self.push(date, EntryKind::Charge { period, service }, amount))
    }

    /// Posts a recalculation billed in `period` for `service`. Upward, it adds to the tranche
    /// like a charge; downward, the credit pays that tranche first, then the other open
    /// tranches oldest first, and the rest becomes a general advance.
    pub fn post_adjustment(
        &mut self,
        date: Date,
        period: Period,
        service: ServiceKind,
        amount: Money,
        reason: AdjustmentReason,
        due_date: Date,
    ) -> Result<EntryId, LedgerError> {
        self.check_date(date)?;
        self.check_service(service)?;
        if amount.is_zero() {
            return Err(LedgerError::NonPositiveAmount(amount));
        }
        self.tranche_mut(period, service, due_date)?;
        if amount.is_positive() {
            self.debit(date, period, service, amount);
        } else {
            let mut sink = Vec::new();
            let credit = -amount;
            let left = credit - self.credit_tranche(date, (period, service), credit, None);
            let left = self.credit_in_order(date, left, None, &mut sink);
            self.general_advance += left;
        }
        Ok(self.push(
            date,
            EntryKind::Adjustment {
                period,
                service,
                reason,
            },
            amount,
        ))
    }

    /// Posts the penalties billed in `period` (computed by
    /// [`crate::penalty::compute_penalties`]), due with the period's bill.
    pub fn post_penalty(
        &mut self,
        date: Date,
        period: Period,
        amount: Money,
        due_date: Date,
    ) -> Result<EntryId, LedgerError> {
        self.check_date(date)?;
        if amount.is_negative() {
            return Err(LedgerError::NegativeCharge(amount));
        }
        self.tranche_mut(period, ServiceKind::Penalty, due_date)?;
        self.debit(date, period, ServiceKind::Penalty, amount);
        Ok(self.push(date, EntryKind::Penalty { period }, amount))
    }

    /// Records a new payment in the `Created` state; validates the payer's split (parts
    /// positive, each service known and named once, adding up to the payment). Does not move
    /// the balance.
    pub fn create_payment(
        &mut self,
        id: PaymentId,
        amount: Money,
        date: Date,
        split: PaymentSplit,
    ) -> Result<(), LedgerError> {
        if self.payments.contains_key(&id) {
            return Err(LedgerError::DuplicatePayment(id));
        }
        if !amount.is_positive() {
            return Err(LedgerError::NonPositiveAmount(amount));
        }
        if let PaymentSplit::ByService(parts) = &split {
            let mut seen: Vec<ServiceKind> = Vec::with_capacity(parts.len());
            for &(service, part) in parts {
                self.check_service(service)?;
                if !part.is_positive() {
                    return Err(LedgerError::NonPositiveAmount(part));
                }
                if seen.contains(&service) {
                    return Err(LedgerError::DuplicateService(service));
                }
                seen.push(service);
            }
            let sum: Money = parts.iter().map(|p| p.1).sum();
            if sum != amount {
                return Err(LedgerError::SplitMismatch {
                    parts: sum,
                    payment: amount,
                });
            }
        }
        self.payments.insert(
            id,
            Payment {
                id,
                amount,
                created: date,
                split,
                state: PaymentState::Created,
                succeeded: None,
                allocation: Vec::new(),
                to_advance: Money::ZERO,
                refunded: Money::ZERO,
            },
        );
        Ok(())
    }

    fn transition(&mut self, id: PaymentId, to: PaymentState) -> Result<&mut Payment, LedgerError> {
        let p = self
            .payments
            .get_mut(&id)
            .ok_or(LedgerError::UnknownPayment(id))?;
        let allowed = matches!(
            (p.state, to),
            (
                PaymentState::Created,
                PaymentState::Pending | PaymentState::Succeeded | PaymentState::Failed
            ) | (
                PaymentState::Pending,
                PaymentState::Succeeded | PaymentState::Failed
            )
        );
        if allowed {
            Ok(p)
        } else {
            Err(LedgerError::InvalidTransition {
                payment: id,
                from: p.state,
                to,
            })
        }
    }

    /// The gateway has the payment: `Created` → `Pending`.
    pub fn mark_pending(&mut self, id: PaymentId) -> Result<(), LedgerError> {
        self.transition(id, PaymentState::Pending)?.state = PaymentState::Pending;
        Ok(())
    }

    /// The payment was declined or abandoned: `Created`/`Pending` → `Failed`.
    pub fn fail_payment(&mut self, id: PaymentId) -> Result<(), LedgerError> {
        self.transition(id, PaymentState::Failed)?.state = PaymentState::Failed;
        Ok(())
    }

    /// The money is confirmed on `date`: `Created`/`Pending` → `Succeeded`. The payment is
    /// applied to tranches (the payer's split or the default order), the rest kept as an
    /// advance, and a payment entry moves the balance.
    pub fn succeed_payment(&mut self, id: PaymentId, date: Date) -> Result<EntryId, LedgerError> {
        self.check_date(date)?;
        let (amount, split) = {
            let p = self.transition(id, PaymentState::Succeeded)?;
            (p.amount, p.split.clone())
        };
        let mut log = Vec::new();
        let mut to_advance = Money::ZERO;
        match &split {
            PaymentSplit::Default => {
                let left = self.credit_in_order(date, amount, None, &mut log);
                self.general_advance += left;
                to_advance += left;
            }
            PaymentSplit::ByService(parts) => {
                for &(service, part) in parts {
                    let left = self.credit_in_order(date, part, Some(service), &mut log);
                    if left.is_positive() {
                        *self.service_advance.entry(service).or_insert(Money::ZERO) += left;
                        to_advance += left;
                    }
                }
            }
        }
        if let Some(p) = self.payments.get_mut(&id) {
            p.state = PaymentState::Succeeded;
            p.succeeded = Some(date);
            p.allocation = log;
            p.to_advance = to_advance;
        }
        Ok(self.push(date, EntryKind::Payment { payment: id }, -amount))
    }

    /// Refunds `amount` of a succeeded payment on `date`. The refund takes the advance first
    /// (general, then per service), then reopens the newest paid tranches. The payment becomes
    /// `Refunded` when nothing is left of it.
    pub fn refund_payment(
        &mut self,
        id: PaymentId,
        amount: Money,
        date: Date,
    ) -> Result<EntryId, LedgerError> {
        self.check_date(date)?;
        if !amount.is_positive() {
            return Err(LedgerError::NonPositiveAmount(amount));
        }
        let p = self
            .payments
            .get(&id)
            .ok_or(LedgerError::UnknownPayment(id))?;
        if p.state != PaymentState::Succeeded {
            return Err(LedgerError::InvalidTransition {
                payment: id,
                from: p.state,
                to: PaymentState::Refunded,
            });
        }
        let refundable = p.amount - p.refunded;
        if amount > refundable {
            return Err(LedgerError::RefundExceedsPayment {
                payment: id,
                refundable,
                requested: amount,
            });
        }
        let mut left = amount;
        let x = left.min(self.general_advance);
        self.general_advance -= x;
        left -= x;
        for m in self.service_advance.values_mut() {
            let x = left.min(*m);
            *m -= x;
            left -= x;
        }
        self.service_advance.retain(|_, m| m.is_positive());
        if left.is_positive() {
            self.uncredit(left);
        }
        if let Some(p) = self.payments.get_mut(&id) {
            p.refunded += amount;
            if p.refunded == p.amount {
                p.state = PaymentState::Refunded;
            }
        }
        Ok(self.push(date, EntryKind::Refund { payment: id }, amount))
    }

    /// The statement for `from..=to`: opening balance, the entries with running balances,
    /// totals per kind and the closing balance.
    #[must_use]
    pub fn statement(&self, from: Date, to: Date) -> Statement {
        let opening: Money = self
            .entries
            .iter()
            .take_while(|e| e.date < from)
            .map(|e| e.amount)
            .sum();
        let mut balance = opening;
        let mut totals = Totals::default();
        let lines = self
            .entries
            .iter()
            .skip_while(|e| e.date < from)
            .take_while(|e| e.date <= to)
            .map(|e| {
                balance += e.amount;
                totals.add(e);
                StatementLine {
                    entry: e.clone(),
                    balance,
                }
            })
            .collect();
        Statement {
            from,
            to,
            opening,
            lines,
            totals,
            closing: balance,
        }
    }

    /// The inputs of [`crate::penalty::compute_penalties`]: every tranche except penalties
    /// (never compounded) and every credit applied to them, each naming its tranche. Reuses
    /// the given buffers.
    pub fn penalty_inputs_into(
        &self,
        tranches: &mut Vec<DebtTranche>,
        payments: &mut Vec<PaymentEvent>,
    ) {
        tranches.clear();
        payments.clear();
        tranches.extend(
            self.tranches
                .values()
                .filter(|t| t.service != ServiceKind::Penalty)
                .map(|t| DebtTranche {
                    period: t.period,
                    service: t.service,
                    due_date: t.due_date,
                    amount: t.charged,
                }),
        );
        payments.extend(
            self.credits
                .iter()
                .filter(|c| c.service != ServiceKind::Penalty)
                .map(|c| PaymentEvent {
                    date: c.date,
                    amount: c.amount,
                    target: PaymentTarget::Tranche(c.period, c.service),
                }),
        );
    }

    /// [`Ledger::penalty_inputs_into`] into new vectors.
    #[must_use]
    pub fn penalty_inputs(&self) -> (Vec<DebtTranche>, Vec<PaymentEvent>) {
        let (mut t, mut p) = (Vec::new(), Vec::new());
        self.penalty_inputs_into(&mut t, &mut p);
        (t, p)
    }

    /// The penalties of the account as of `as_of` (see [`crate::penalty::compute_penalties`]).
    pub fn penalties(
        &self,
        as_of: Date,
        key_rates: &KeyRateHistory,
        rules: &PenaltyRules,
        policy: &PenaltyPolicy,
    ) -> Result<PenaltyReport, PenaltyError> {
        let (t, p) = self.penalty_inputs();
        penalty::compute_penalties(&t, &p, as_of, key_rates, rules, policy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    const E: ServiceKind = ServiceKind::Electricity;
    const W: ServiceKind = ServiceKind::ColdWater;
    const H: ServiceKind = ServiceKind::Heating;

    fn p(y: i32, m: u32) -> Period {
        Period::new(y, m).unwrap()
    }

    fn rub(r: i64) -> Money {
        Money::from_roubles(r)
    }

    fn due(period: Period) -> Date {
        crate::period::DueDayPolicy::default().due_date(period)
    }

    fn ledger() -> Ledger {
        Ledger::new(AccountId::new(1), &[E, W, H])
    }

    fn charge(l: &mut Ledger, per: Period, s: ServiceKind, r: i64) {
        l.post_charge(per.next().first_day(), per, s, rub(r), due(per))
            .unwrap();
    }

    fn pay(l: &mut Ledger, id: u64, r: i64, date: Date, split: PaymentSplit) -> PaymentId {
        let id = PaymentId::new(id);
        l.create_payment(id, rub(r), date, split).unwrap();
        l.succeed_payment(id, date).unwrap();
        id
    }

    #[test]
    fn service_order_is_the_allocation_order() {
        let mut sorted = ServiceKind::ALL;
        sorted.sort();
        assert_eq!(
            sorted,
            ServiceKind::ALL,
            "BTreeMap order of tranches follows ServiceKind::ALL"
        );
    }

    #[test]
    fn default_order_pays_oldest_period_first_then_service_order() {
        // Jan: E 100, H 50; Feb: E 70, W 30. Pay 180 on 10.03: Jan E 100, Jan H 50, Feb E 30.
        let mut l = ledger();
        charge(&mut l, p(2026, 1), E, 100);
        charge(&mut l, p(2026, 1), H, 50);
        charge(&mut l, p(2026, 2), W, 30);
        charge(&mut l, p(2026, 2), E, 70);
        let id = pay(&mut l, 1, 180, date!(2026 - 03 - 10), PaymentSplit::Default);
        let parts: Vec<_> = l
            .payment(id)
            .unwrap()
            .allocation()
            .iter()
            .map(|a| (a.period, a.service, a.amount))
            .collect();
        assert_eq!(
            parts,
            [
                (p(2026, 1), E, rub(100)),
                (p(2026, 1), H, rub(50)),
                (p(2026, 2), E, rub(30))
            ]
        );
        // Left: Feb E 40 + Feb W 30 = 70 = 250 − 180.
        assert_eq!(l.balance(), rub(70));
        assert_eq!(
            l.debt_by_service(),
            BTreeMap::from([(E, rub(40)), (W, rub(30))])
        );
        let open: Vec<_> = l
            .open_tranches()
            .map(|t| (t.period, t.service, t.outstanding()))
            .collect();
        assert_eq!(open, [(p(2026, 2), E, rub(40)), (p(2026, 2), W, rub(30))]);
    }

    #[test]
    fn overpayment_becomes_an_advance_that_the_next_charge_consumes() {
        // Jan E 100; pay 150 → advance 50, balance −50. Feb E 80 takes the 50: owes 30.
        let mut l = ledger();
        charge(&mut l, p(2026, 1), E, 100);
        let id = pay(&mut l, 1, 150, date!(2026 - 02 - 05), PaymentSplit::Default);
        assert_eq!(l.payment(id).unwrap().to_advance(), rub(50));
        assert_eq!((l.balance(), l.advance()), (rub(-50), rub(50)));
        charge(&mut l, p(2026, 2), E, 80);
        assert_eq!((l.balance(), l.advance()), (rub(30), Money::ZERO));
        assert_eq!(l.open_tranches().next().unwrap().outstanding(), rub(30));
    }

    #[test]
    fn explicit_split_pays_named_services_and_keeps_their_advance() {
        // Jan E 100, W 100. The payer sends 150: E 50, W 100 → E owes 50, W paid.
        // Then 60 for heating, which owes nothing: a heating advance that electricity cannot use.
        let mut l = ledger();
        charge(&mut l, p(2026, 1), E, 100);
        charge(&mut l, p(2026, 1), W, 100);
        pay(
            &mut l,
            1,
            150,
            date!(2026 - 02 - 05),
            PaymentSplit::ByService(vec![(E, rub(50)), (W, rub(100))]),
        );
        assert_eq!(l.debt_by_service(), BTreeMap::from([(E, rub(50))]));
        pay(
            &mut l,
            2,
            60,
            date!(2026 - 02 - 06),
            PaymentSplit::ByService(vec![(H, rub(60))]),
        );
        assert_eq!((l.balance(), l.advance_for(H)), (rub(-10), rub(60)));
        assert_eq!(l.debt_by_service(), BTreeMap::from([(E, rub(50))]));
        charge(&mut l, p(2026, 2), H, 45);
        assert_eq!(l.advance_for(H), rub(15));
        assert_eq!(l.balance(), rub(35));
    }

    #[test]
    fn split_is_validated() {
        let mut l = ledger();
        let id = PaymentId::new(1);
        let bad = |v: Vec<(ServiceKind, Money)>| PaymentSplit::ByService(v);
        assert_eq!(
            l.create_payment(
                id,
                rub(100),
                date!(2026 - 01 - 01),
                bad(vec![(E, rub(60)), (W, rub(30))])
            ),
            Err(LedgerError::SplitMismatch {
                parts: rub(90),
                payment: rub(100)
            })
        );
        assert_eq!(
            l.create_payment(
                id,
                rub(100),
                date!(2026 - 01 - 01),
                bad(vec![(ServiceKind::HotWater, rub(100))])
            ),
            Err(LedgerError::UnknownService(ServiceKind::HotWater))
        );
        assert_eq!(
            l.create_payment(
                id,
                rub(100),
                date!(2026 - 01 - 01),
                bad(vec![(E, rub(50)), (E, rub(50))])
            ),
            Err(LedgerError::DuplicateService(E))
        );
        assert_eq!(
            l.create_payment(
                id,
                rub(100),
                date!(2026 - 01 - 01),
                bad(vec![(E, rub(110)), (W, rub(-10))])
            ),
            Err(LedgerError::NonPositiveAmount(rub(-10)))
        );
        assert_eq!(
            l.create_payment(id, rub(0), date!(2026 - 01 - 01), PaymentSplit::Default),
            Err(LedgerError::NonPositiveAmount(rub(0)))
        );
        assert!(l.payment(id).is_none());
        // Penalties may always be named.
        assert!(
            l.create_payment(
                id,
                rub(10),
                date!(2026 - 01 - 01),
                bad(vec![(ServiceKind::Penalty, rub(10))])
            )
            .is_ok()
        );
        assert_eq!(
            l.create_payment(id, rub(10), date!(2026 - 01 - 01), PaymentSplit::Default),
            Err(LedgerError::DuplicatePayment(id))
        );
    }

    #[test]
    fn only_a_succeeded_payment_moves_the_balance_and_transitions_are_checked() {
        let mut l = ledger();
        charge(&mut l, p(2026, 1), E, 100);
        let (a, b) = (PaymentId::new(1), PaymentId::new(2));
        l.create_payment(a, rub(40), date!(2026 - 02 - 02), PaymentSplit::Default)
            .unwrap();
        l.mark_pending(a).unwrap();
        assert_eq!(l.balance(), rub(100));
        l.fail_payment(a).unwrap();
        assert_eq!(l.balance(), rub(100));
        assert_eq!(
            l.succeed_payment(a, date!(2026 - 02 - 03)),
            Err(LedgerError::InvalidTransition {
                payment: a,
                from: PaymentState::Failed,
                to: PaymentState::Succeeded
            })
        );
        assert_eq!(
            l.refund_payment(a, rub(1), date!(2026 - 02 - 03)),
            Err(LedgerError::InvalidTransition {
                payment: a,
                from: PaymentState::Failed,
                to: PaymentState::Refunded
            })
        );
        l.create_payment(b, rub(40), date!(2026 - 02 - 02), PaymentSplit::Default)
            .unwrap();
        l.succeed_payment(b, date!(2026 - 02 - 03)).unwrap();
        assert_eq!(l.balance(), rub(60));
        assert!(matches!(
            l.mark_pending(b),
            Err(LedgerError::InvalidTransition { .. })
        ));
        assert!(matches!(
            l.fail_payment(b),
            Err(LedgerError::InvalidTransition { .. })
        ));
        assert_eq!(
            l.mark_pending(PaymentId::new(9)),
            Err(LedgerError::UnknownPayment(PaymentId::new(9)))
        );
    }

    #[test]
    fn refunds_take_the_advance_first_and_cannot_exceed_the_payment() {
        // Jan E 100; pay 150 (advance 50). Refund 30 from the advance, then 120 reopens 100 of
        // Jan E and takes the remaining 20 of advance: 150 refunded in all, state Refunded.
        let mut l = ledger();
        charge(&mut l, p(2026, 1), E, 100);
        let id = pay(&mut l, 1, 150, date!(2026 - 02 - 05), PaymentSplit::Default);
        l.refund_payment(id, rub(30), date!(2026 - 02 - 06))
            .unwrap();
        assert_eq!((l.balance(), l.advance()), (rub(-20), rub(20)));
        assert_eq!(l.payment(id).unwrap().state(), PaymentState::Succeeded);
        assert_eq!(
            l.refund_payment(id, rub(121), date!(2026 - 02 - 07)),
            Err(LedgerError::RefundExceedsPayment {
                payment: id,
                refundable: rub(120),
                requested: rub(121)
            })
        );
        l.refund_payment(id, rub(120), date!(2026 - 02 - 07))
            .unwrap();
        assert_eq!((l.balance(), l.advance()), (rub(100), Money::ZERO));
        assert_eq!(l.payment(id).unwrap().state(), PaymentState::Refunded);
        assert_eq!(l.open_tranches().next().unwrap().outstanding(), rub(100));
        // The penalty history no longer shows the refunded credit.
        assert!(l.penalty_inputs().1.is_empty());
    }

    #[test]
    fn adjustments_and_penalties() {
        let mut l = ledger();
        charge(&mut l, p(2026, 1), E, 100);
        let feb = p(2026, 2);
        // A true-up of +25 in February, then a credit of 140 for a control check.
        l.post_adjustment(
            date!(2026 - 03 - 01),
            feb,
            E,
            rub(25),
            AdjustmentReason::TrueUp,
            due(feb),
        )
        .unwrap();
        assert_eq!(l.balance(), rub(125));
        l.post_penalty(date!(2026 - 03 - 01), feb, rub(3), due(feb))
            .unwrap();
        l.post_adjustment(
            date!(2026 - 03 - 02),
            feb,
            E,
            rub(-140),
            AdjustmentReason::ControlCheck,
            due(feb),
        )
        .unwrap();
        // The credit pays Feb E 25 first, then Jan E 100, then the Feb penalty 3; 12 advance.
        assert_eq!((l.balance(), l.advance()), (rub(-12), rub(12)));
        assert_eq!(l.open_tranches().count(), 0);
        assert_eq!(
            l.post_adjustment(
                date!(2026 - 03 - 02),
                feb,
                E,
                Money::ZERO,
                AdjustmentReason::Correction,
                due(feb)
            ),
            Err(LedgerError::NonPositiveAmount(Money::ZERO))
        );
        assert_eq!(
            l.post_charge(date!(2026 - 03 - 02), feb, E, rub(1), date!(2026 - 03 - 11)),
            Err(LedgerError::DueDateMismatch {
                period: feb,
                service: E,
                existing: due(feb),
                given: date!(2026 - 03 - 11)
            })
        );
        assert_eq!(
            l.post_charge(date!(2026 - 03 - 01), feb, W, rub(1), due(feb)),
            Err(LedgerError::OutOfOrder {
                date: date!(2026 - 03 - 01),
                last: date!(2026 - 03 - 02)
            })
        );
        assert_eq!(
            l.post_charge(
                date!(2026 - 03 - 02),
                feb,
                ServiceKind::HotWater,
                rub(1),
                due(feb)
            ),
            Err(LedgerError::UnknownService(ServiceKind::HotWater))
        );
        assert_eq!(
            l.post_charge(date!(2026 - 03 - 02), feb, W, rub(-1), due(feb)),
            Err(LedgerError::NegativeCharge(rub(-1)))
        );
    }

    #[test]
    fn statement_for_a_range() {
        // Jan E 100 (01.02), pay 60 (15.02), Feb E 80 (01.03), pay 50 (20.03).
        let mut l = ledger();
        charge(&mut l, p(2026, 1), E, 100);
        pay(&mut l, 1, 60, date!(2026 - 02 - 15), PaymentSplit::Default);
        charge(&mut l, p(2026, 2), E, 80);
        pay(&mut l, 2, 50, date!(2026 - 03 - 20), PaymentSplit::Default);
        let st = l.statement(date!(2026 - 02 - 10), date!(2026 - 03 - 01));
        // opening 100; −60 → 40; +80 → 120.
        assert_eq!(st.opening, rub(100));
        let balances: Vec<_> = st.lines.iter().map(|x| x.balance).collect();
        assert_eq!(balances, [rub(40), rub(120)]);
        assert_eq!(
            st.totals,
            Totals {
                charges: rub(80),
                payments: rub(60),
                ..Totals::default()
            }
        );
        assert_eq!(st.closing, rub(120));
        assert_eq!(l.balance_on(date!(2026 - 03 - 31)), rub(70));
        assert_eq!(l.balance(), rub(70));
    }

    #[test]
    fn penalties_from_the_ledger() {
        // Jan 2024 E 1000 due 10.02.2024, 400 paid on 20.04.2024 (day 70), the rest unpaid on
        // 30.06.2024. Both parts get the 9.5 % cap (the key rate was 16 % on both days), so they
        // share a line while both accrue.
        // 12.03–20.04: 40 days on 1000 at 1/300: 1000 × 0.095 × 40/300 = 12.666… → 12.67;
        // 21.04–10.05: 20 days on 600 at 1/300: 600 × 0.095 × 20/300 = 3.80;
        // 11.05–30.06: 51 days on 600 at 1/130: 600 × 0.095 × 51/130 = 22.361… → 22.36.
        let mut l = ledger();
        let jan = p(2024, 1);
        l.post_charge(date!(2024 - 02 - 01), jan, E, rub(1000), due(jan))
            .unwrap();
        pay(&mut l, 1, 400, date!(2024 - 04 - 20), PaymentSplit::Default);
        let r = l
            .penalties(
                date!(2024 - 06 - 30),
                &KeyRateHistory::bank_of_russia(),
                &PenaltyRules::russian_statutory(),
                &PenaltyPolicy::default(),
            )
            .unwrap();
        let lines: Vec<_> = r
            .lines()
            .iter()
            .map(|x| (x.days, x.debt, x.amount))
            .collect();
        assert_eq!(
            lines,
            [
                (40, rub(1000), Money::from_kopecks(1267)),
                (20, rub(600), Money::from_kopecks(380)),
                (51, rub(600), Money::from_kopecks(2236))
            ]
        );
        assert_eq!(r.total(), Money::from_kopecks(1267 + 380 + 2236));
    }
}
