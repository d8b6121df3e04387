//! Electronic fiscal receipts (54-ФЗ) for online payments and refunds (plan G6).
//!
//! For every online payment and refund the payee issues an electronic fiscal receipt to the
//! payer's email or phone, showing the VAT (billing-rules.md §10). This module has three layers:
//!
//! - **pure builders**: [`income_receipt`] (приход) itemises a credited payment — one item per
//!   (service, period) it paid, plus the part kept as an advance — and [`refund_receipt`]
//!   (возврат прихода) itemises a refund proportionally over what is left of the income
//!   receipt's items ([`crate::allocation::allocate_money`], kopeck-exact). Every item's VAT is
//!   [`crate::vat::vat_inside`] of its own amount (the one rounding rule), and the receipt's VAT
//!   per rate is the sum of its items;
//! - **the uncertain rules as a policy**, [`ReceiptPolicy`]: whether the seller charges VAT and at
//!   which rates over time, penalties without VAT, the 54-ФЗ payment method sign for the current
//!   bill, a past debt and an advance, the subject of penalties and the taxation system — each
//!   with the default documented in `docs/billing.md` («Fiscal receipts»);
//! - **ports and the use case**: [`FiscalRegistrar`] (the online cash register / fiscal data
//!   operator, or the sandbox) and [`ReceiptRepository`], whose [`ReceiptRepository::claim`] is
//!   the exactly-once guard per [`ReceiptKey`] (payment, kind, refund). [`Receipts`] claims the
//!   receipt, then registers it; a registrar failure leaves it pending for
//!   [`Receipts::issue_pending_receipts`]. [`crate::online::OnlinePayments::with_receipts`] issues
//!   the income receipt after every credit (also after a duplicate or a crash-retry: exactly one
//!   receipt per payment).
//!
//! The builders read no clock: the caller passes the receipt's time. The VAT rate of a debt is
//! the rate of its supply period ([`VatSchedule::rate_for_period`]); the rate of an advance is the
//! rate on the day of payment (the payment's `created_on`, the supplier's local date), so
//! building the receipt of a payment again gives the same items.

use std::collections::BTreeMap;
use std::sync::Arc;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

use crate::allocation::allocate_money;
pub use crate::ids::ReceiptId;
use crate::ids::{AccountId, PaymentId, RefundRequestId};
use crate::ledger::{PaymentSplit, PaymentState};
use crate::model::{Account, AccountNumber, Supplier};
use crate::money::Money;
use crate::online::{GatewayError, OnlinePaymentRepository, ReceiptContact};
use crate::period::Period;
use crate::ports::{GatewayPaymentId, PaymentRecord, RefundRequest, RefundStatus, RepoError};
use crate::requisites::{Inn, OrgName};
use crate::service::ServiceKind;
use crate::usecase::{BillingService, ConfirmOutcome, PaymentConfirmation};
use crate::vat::{VatRate, VatSchedule, vat_inside};

/// What an operator sees when a port failed: nothing about the cause.
const UNAVAILABLE_RU: &str = "Сервис временно недоступен. Повторите попытку позже.";

// ---------------------------------------------------------------------------------------------
// The receipt
// ---------------------------------------------------------------------------------------------

/// The kind of settlement (54-ФЗ «признак расчёта», tag 1054).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptKind {
    /// Приход: money received from the payer.
    Income,
    /// Возврат прихода: money returned to the payer.
    IncomeReturn,
}

impl ReceiptKind {
    /// The value of tag 1054: 1 for приход, 2 for возврат прихода.
    #[must_use]
    pub fn tag(self) -> u8 {
        match self {
            ReceiptKind::Income => 1,
            ReceiptKind::IncomeReturn => 2,
        }
    }

    /// As printed on the receipt.
    #[must_use]
    pub fn russian(self) -> &'static str {
        match self {
            ReceiptKind::Income => "Приход",
            ReceiptKind::IncomeReturn => "Возврат прихода",
        }
    }
}

/// The payment method sign of an item (54-ФЗ «признак способа расчёта», tag 1214): the
/// values a receipt of money received can carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethodSign {
    /// Предоплата 100 % (1): the whole price of a known item paid before it is supplied.
    FullPrepayment,
    /// Предоплата (2): part of the price of a known item paid before it is supplied.
    Prepayment,
    /// Аванс (3): money paid before anything is supplied, the items not yet known.
    Advance,
    /// Полный расчёт (4): the item paid in full when (or after) it is supplied.
    FullPayment,
    /// Оплата кредита (7): an item supplied earlier on credit paid afterwards.
    CreditPayment,
}

impl PaymentMethodSign {
    /// The value of tag 1214.
    #[must_use]
    pub fn tag(self) -> u8 {
        match self {
            PaymentMethodSign::FullPrepayment => 1,
            PaymentMethodSign::Prepayment => 2,
            PaymentMethodSign::Advance => 3,
            PaymentMethodSign::FullPayment => 4,
            PaymentMethodSign::CreditPayment => 7,
        }
    }

    /// As printed on the receipt.
    #[must_use]
    pub fn russian(self) -> &'static str {
        match self {
            PaymentMethodSign::FullPrepayment => "Предоплата 100 %",
            PaymentMethodSign::Prepayment => "Предоплата",
            PaymentMethodSign::Advance => "Аванс",
            PaymentMethodSign::FullPayment => "Полный расчёт",
            PaymentMethodSign::CreditPayment => "Оплата кредита",
        }
    }

    /// True for the signs of money received before the supply (1, 2, 3): their VAT is shown
    /// at the calculated rate (`22/122`, НК ст. 164 п. 4).
    #[must_use]
    pub fn is_prepayment(self) -> bool {
        matches!(
            self,
            PaymentMethodSign::FullPrepayment
                | PaymentMethodSign::Prepayment
                | PaymentMethodSign::Advance
        )
    }
}

/// What an item is paid for (54-ФЗ «признак предмета расчёта», tag 1212): the values this
/// engine uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentSubject {
    /// Услуга (4): a utility service.
    Service,
    /// Платёж (10): a payment that is not for goods, work or a service.
    Payment,
    /// Иной предмет расчёта (13).
    Other,
    /// Внереализационный доход (15): penalties are non-operating income (НК ст. 250 п. 3).
    NonOperatingIncome,
}

impl PaymentSubject {
    /// The value of tag 1212.
    #[must_use]
    pub fn tag(self) -> u8 {
        match self {
            PaymentSubject::Service => 4,
            PaymentSubject::Payment => 10,
            PaymentSubject::Other => 13,
            PaymentSubject::NonOperatingIncome => 15,
        }
    }

    /// As printed on the receipt.
    #[must_use]
    pub fn russian(self) -> &'static str {
        match self {
            PaymentSubject::Service => "Услуга",
            PaymentSubject::Payment => "Платёж",
            PaymentSubject::Other => "Иной предмет расчёта",
            PaymentSubject::NonOperatingIncome => "Внереализационный доход",
        }
    }
}

/// The seller's taxation system (54-ФЗ «система налогообложения», tag 1055).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaxationSystem {
    /// ОСН, the general system (1).
    General,
    /// УСН «доходы» (2).
    SimplifiedIncome,
    /// УСН «доходы минус расходы» (4).
    SimplifiedIncomeMinusExpense,
    /// ЕСХН (16).
    Agricultural,
    /// ПСН (32).
    Patent,
}

impl TaxationSystem {
    /// The value of tag 1055.
    #[must_use]
    pub fn tag(self) -> u8 {
        match self {
            TaxationSystem::General => 1,
            TaxationSystem::SimplifiedIncome => 2,
            TaxationSystem::SimplifiedIncomeMinusExpense => 4,
            TaxationSystem::Agricultural => 16,
            TaxationSystem::Patent => 32,
        }
    }

    /// As printed on the receipt.
    #[must_use]
    pub fn russian(self) -> &'static str {
        match self {
            TaxationSystem::General => "ОСН",
            TaxationSystem::SimplifiedIncome => "УСН доход",
            TaxationSystem::SimplifiedIncomeMinusExpense => "УСН доход − расход",
            TaxationSystem::Agricultural => "ЕСХН",
            TaxationSystem::Patent => "ПСН",
        }
    }
}

/// The VAT of an item: not subject to VAT («Без НДС»), a rate, or the calculated rate of a
/// prepayment (`22/122`). The amount is the same formula for both rates:
/// `amount × r / (100 + r)` ([`vat_inside`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "rate")]
pub enum ItemVat {
    /// «Без НДС»: the item is not subject to VAT (penalties; a seller that is not a VAT payer).
    NotSubject,
    /// A rate: `22 %`.
    Rate(VatRate),
    /// The calculated rate of a prepayment or advance: `22/122`.
    Calculated(VatRate),
}

impl ItemVat {
    /// The rate, if any.
    #[must_use]
    pub fn rate(self) -> Option<VatRate> {
        match self {
            ItemVat::NotSubject => None,
            ItemVat::Rate(r) | ItemVat::Calculated(r) => Some(r),
        }
    }

    /// The VAT inside `amount`: [`vat_inside`] at the rate, zero without one.
    ///
    /// ```
    /// use billing_core::{money::Money, receipt::ItemVat, vat::VatRate};
    /// let hundred = Money::from_roubles(100);
    /// assert_eq!(ItemVat::Rate(VatRate::TWENTY_TWO).of(hundred), Money::from_kopecks(1_803));
    /// assert_eq!(ItemVat::Calculated(VatRate::TWENTY_TWO).of(hundred), Money::from_kopecks(1_803));
    /// assert_eq!(ItemVat::NotSubject.of(hundred), Money::ZERO);
    /// ```
    #[must_use]
    pub fn of(self, amount: Money) -> Money {
        self.rate().map_or(Money::ZERO, |r| vat_inside(amount, r))
    }

    /// As printed on the receipt: `НДС 22 %`, `НДС 22/122`, `Без НДС`.
    #[must_use]
    pub fn label(self) -> String {
        match self {
            ItemVat::NotSubject => "Без НДС".into(),
            ItemVat::Rate(r) => format!("НДС {}", r.label()),
            ItemVat::Calculated(r) => format!("НДС {}", r.calculated_label()),
        }
    }
}

/// One item (предмет расчёта) of a receipt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReceiptItem {
    /// The name, in Russian: `Электроснабжение, ЛС 1001, за 02.2026`,
    /// `Электроснабжение, ЛС 1001, аванс`, `Коммунальные услуги, ЛС 1001, аванс`.
    pub name: String,
    /// The service paid; `None` for an advance not tied to a service.
    pub service: Option<ServiceKind>,
    /// The billed period paid; `None` for an advance.
    pub period: Option<Period>,
    /// The amount, VAT included (always positive).
    pub amount: Money,
    /// The VAT treatment.
    pub vat: ItemVat,
    /// The VAT inside the amount: `vat.of(amount)`.
    pub vat_amount: Money,
    /// The payment method sign.
    pub method: PaymentMethodSign,
    /// What is paid for.
    pub subject: PaymentSubject,
}

impl ReceiptItem {
    /// The same line for another amount (a refund of part of it); the VAT recomputed.
    fn with_amount(&self, amount: Money) -> ReceiptItem {
        ReceiptItem {
            amount,
            vat_amount: self.vat.of(amount),
            ..self.clone()
        }
    }

    /// True if `other` is (part of) the same line: everything but the amounts equal.
    fn same_line(&self, other: &ReceiptItem) -> bool {
        self.name == other.name
            && self.service == other.service
            && self.period == other.period
            && self.vat == other.vat
            && self.method == other.method
            && self.subject == other.subject
    }
}

/// The sums of one VAT treatment over a receipt's items.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct VatTotal {
    /// The VAT treatment.
    pub vat: ItemVat,
    /// The sum of the items' amounts.
    pub amount: Money,
    /// The sum of the items' VAT.
    pub vat_amount: Money,
}

/// The key a receipt is issued once per: a payment's income receipt, or the return receipt of
/// one refund request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ReceiptKey {
    /// The payment.
    pub payment: PaymentId,
    /// Income or return.
    pub kind: ReceiptKind,
    /// The refund request of a return receipt; `None` for an income receipt.
    pub refund: Option<RefundRequestId>,
}

impl ReceiptKey {
    /// The income receipt of `payment`.
    #[must_use]
    pub fn income(payment: PaymentId) -> ReceiptKey {
        ReceiptKey {
            payment,
            kind: ReceiptKind::Income,
            refund: None,
        }
    }

    /// The return receipt of `refund` of `payment`.
    #[must_use]
    pub fn income_return(payment: PaymentId, refund: RefundRequestId) -> ReceiptKey {
        ReceiptKey {
            payment,
            kind: ReceiptKind::IncomeReturn,
            refund: Some(refund),
        }
    }

    /// A stable text id for the registrar's idempotence (its «external id»): `income-5`,
    /// `return-5-3`.
    ///
    /// ```
    /// use billing_core::ids::{PaymentId, RefundRequestId};
    /// use billing_core::receipt::ReceiptKey;
    /// assert_eq!(ReceiptKey::income(PaymentId::new(5)).external_id(), "income-5");
    /// let r = ReceiptKey::income_return(PaymentId::new(5), RefundRequestId::new(3));
    /// assert_eq!(r.external_id(), "return-5-3");
    /// ```
    #[must_use]
    pub fn external_id(&self) -> String {
        match (self.kind, self.refund) {
            (ReceiptKind::Income, _) => format!("income-{}", self.payment),
            (ReceiptKind::IncomeReturn, Some(r)) => format!("return-{}-{r}", self.payment),
            (ReceiptKind::IncomeReturn, None) => format!("return-{}", self.payment),
        }
    }
}

/// An electronic fiscal receipt as the seller issues it, before registration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FiscalReceipt {
    /// Income or return.
    pub kind: ReceiptKind,
    /// The payment.
    pub payment: PaymentId,
    /// The refund request of a return receipt; `None` for an income receipt.
    pub refund: Option<RefundRequestId>,
    /// The account paid.
    pub account: AccountId,
    /// Its number.
    pub account_number: AccountNumber,
    /// The seller's ИНН.
    pub seller_inn: Inn,
    /// The seller's name.
    pub seller_name: OrgName,
    /// The seller's taxation system.
    pub taxation: TaxationSystem,
    /// The items, in order: debts oldest period first, then advances.
    pub items: Vec<ReceiptItem>,
    /// The sum of the items' amounts: the payment (or refund).
    pub total: Money,
    /// The sums per VAT treatment, in [`ItemVat`] order.
    pub vat_totals: Vec<VatTotal>,
    /// Where the receipt is sent.
    pub contact: ReceiptContact,
    /// When it was issued.
    pub at: OffsetDateTime,
}

impl FiscalReceipt {
    /// The key it is issued once per.
    #[must_use]
    pub fn key(&self) -> ReceiptKey {
        ReceiptKey {
            payment: self.payment,
            kind: self.kind,
            refund: self.refund,
        }
    }

    /// The VAT of all items.
    #[must_use]
    pub fn total_vat(&self) -> Money {
        self.vat_totals.iter().map(|t| t.vat_amount).sum()
    }
}

/// The sums per VAT treatment of `items`, in [`ItemVat`] order.
fn vat_totals(items: &[ReceiptItem]) -> Vec<VatTotal> {
    let mut totals: BTreeMap<ItemVat, (Money, Money)> = BTreeMap::new();
    for item in items {
        let t = totals.entry(item.vat).or_insert((Money::ZERO, Money::ZERO));
        t.0 += item.amount;
        t.1 += item.vat_amount;
    }
    totals
        .into_iter()
        .map(|(vat, (amount, vat_amount))| VatTotal {
            vat,
            amount,
            vat_amount,
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Policy
// ---------------------------------------------------------------------------------------------

/// Whether the seller charges VAT.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SellerVat {
    /// A VAT payer, at the rates of the schedule (the general rate for a ГП on ОСН; 5 % or 7 %
    /// for a УСН payer that chose them).
    Payer(VatSchedule),
    /// Not a VAT payer (УСН without VAT, exempt): every item «Без НДС».
    NotPayer,
}

/// Which payment method sign each part of a payment gets (54-ФЗ tag 1214). billing-rules.md
/// does not cover it: see `docs/billing.md`, «Fiscal receipts».
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MethodPolicy {
    /// Money applied to the current bill: a tranche of the month of payment or of the month
    /// before it (the bill issued at the start of the month of payment). Default
    /// [`PaymentMethodSign::FullPayment`].
    pub current_bill: PaymentMethodSign,
    /// Money applied to an older tranche (a past period's debt). Default
    /// [`PaymentMethodSign::FullPayment`]; [`PaymentMethodSign::CreditPayment`] is the
    /// alternative reading *(confirm)*.
    pub past_debt: PaymentMethodSign,
    /// Money kept as an advance. Default [`PaymentMethodSign::Advance`].
    pub advance: PaymentMethodSign,
}

impl Default for MethodPolicy {
    fn default() -> Self {
        MethodPolicy {
            current_bill: PaymentMethodSign::FullPayment,
            past_debt: PaymentMethodSign::FullPayment,
            advance: PaymentMethodSign::Advance,
        }
    }
}

impl MethodPolicy {
    /// The sign of money applied to the tranche of `period`, paid on `paid_on`.
    #[must_use]
    pub fn for_period(&self, period: Period, paid_on: Date) -> PaymentMethodSign {
        if period >= Period::of(paid_on).prev() {
            self.current_bill
        } else {
            self.past_debt
        }
    }
}

/// The configurable rules of fiscal receipts, each with its documented default
/// (`docs/billing.md`, «Fiscal receipts»).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReceiptPolicy {
    /// Whether the seller charges VAT, and at which rates. Default: a payer at
    /// [`VatSchedule::russian_general`] (20 % to 31.12.2025, 22 % from 01.01.2026).
    pub vat: SellerVat,
    /// Whether penalties (пени, [`ServiceKind::Penalty`]) are «Без НДС». Default true:
    /// penalties are liability for late payment, not payment for the supply, so not in the VAT
    /// base (the courts' and Минфин's reading of НК ст. 162 п. 1 пп. 2) *(confirm)*.
    pub penalties_without_vat: bool,
    /// The payment method signs.
    pub methods: MethodPolicy,
    /// What a utility service is paid as. Default [`PaymentSubject::Service`].
    pub service_subject: PaymentSubject,
    /// What penalties are paid as. Default [`PaymentSubject::NonOperatingIncome`]
    /// (НК ст. 250 п. 3) *(confirm)*.
    pub penalty_subject: PaymentSubject,
    /// The seller's taxation system. Default [`TaxationSystem::General`] (ОСН).
    pub taxation: TaxationSystem,
}

impl Default for ReceiptPolicy {
    fn default() -> Self {
        ReceiptPolicy {
            vat: SellerVat::Payer(VatSchedule::russian_general()),
            penalties_without_vat: true,
            methods: MethodPolicy::default(),
            service_subject: PaymentSubject::Service,
            penalty_subject: PaymentSubject::NonOperatingIncome,
            taxation: TaxationSystem::General,
        }
    }
}

impl ReceiptPolicy {
    /// The VAT of an item of `service` (`None`: a general advance) with `method`, the rate
    /// looked up on `rate_day`.
    #[must_use]
    pub fn item_vat(
        &self,
        service: Option<ServiceKind>,
        method: PaymentMethodSign,
        rate_day: Date,
    ) -> ItemVat {
        let SellerVat::Payer(schedule) = &self.vat else {
            return ItemVat::NotSubject;
        };
        if self.penalties_without_vat && service == Some(ServiceKind::Penalty) {
            return ItemVat::NotSubject;
        }
        let rate = schedule.rate_on(rate_day);
        if method.is_prepayment() {
            ItemVat::Calculated(rate)
        } else {
            ItemVat::Rate(rate)
        }
    }

    /// What an item of `service` is paid for.
    #[must_use]
    pub fn subject(&self, service: Option<ServiceKind>) -> PaymentSubject {
        if service == Some(ServiceKind::Penalty) {
            self.penalty_subject
        } else {
            self.service_subject
        }
    }

    /// The item of `amount` for `service` and `period` (`None`: an advance), paid on `paid_on`.
    fn item(
        &self,
        account: &AccountNumber,
        service: Option<ServiceKind>,
        period: Option<Period>,
        amount: Money,
        paid_on: Date,
    ) -> ReceiptItem {
        let (method, rate_day) = match period {
            Some(p) => (self.methods.for_period(p, paid_on), p.last_day()),
            None => (self.methods.advance, paid_on),
        };
        let vat = self.item_vat(service, method, rate_day);
        ReceiptItem {
            name: item_name(account, service, period),
            service,
            period,
            amount,
            vat,
            vat_amount: vat.of(amount),
            method,
            subject: self.subject(service),
        }
    }
}

/// `Электроснабжение, ЛС 1001, за 02.2026` or `…, аванс`.
fn item_name(
    account: &AccountNumber,
    service: Option<ServiceKind>,
    period: Option<Period>,
) -> String {
    let what = service.map_or("Коммунальные услуги", ServiceKind::russian_name);
    match period {
        Some(p) => format!(
            "{what}, ЛС {account}, за {:02}.{}",
            p.month_number(),
            p.year()
        ),
        None => format!("{what}, ЛС {account}, аванс"),
    }
}

// ---------------------------------------------------------------------------------------------
// Builders
// ---------------------------------------------------------------------------------------------

/// Why a receipt could not be built: the data it was built from is inconsistent (for the
/// operator; the payer is not told).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptError {
    /// The payment was never credited (it is created, pending or failed): there is nothing to
    /// issue a receipt for.
    #[error("payment is {0:?}: not credited")]
    NotCredited(PaymentState),
    /// The payment is of another account than the one given.
    #[error("payment is of account {payment_account}, not {account}")]
    OtherAccount {
        /// The account given.
        account: AccountId,
        /// The payment's account.
        payment_account: AccountId,
    },
    /// The parts of the payment (allocation and advance) do not add up to its amount, or one
    /// is negative.
    #[error("items add up to {items}, the payment is {total}")]
    Unbalanced {
        /// The sum of the items.
        items: Money,
        /// The payment's amount.
        total: Money,
    },
    /// A return receipt was asked for from a receipt that is not an income receipt.
    #[error("not an income receipt")]
    NotAnIncomeReceipt,
    /// The refund request, or an earlier return receipt, is of another payment.
    #[error("receipt of payment {found} given for payment {expected}")]
    OtherPayment {
        /// The income receipt's payment.
        expected: PaymentId,
        /// The payment of the request or receipt.
        found: PaymentId,
    },
    /// The refund is zero or negative.
    #[error("refund amount {0} is not positive")]
    NonPositiveRefund(Money),
    /// The refund is above what is left of the payment after the earlier return receipts.
    #[error("{refundable} left to return, {requested} requested")]
    RefundExceedsPayment {
        /// What is left.
        refundable: Money,
        /// The refund.
        requested: Money,
    },
    /// An earlier return receipt has an item the income receipt does not have.
    #[error("returned item '{0}' is not on the income receipt")]
    UnknownItem(String),
}

impl ReceiptError {
    /// The refusal in Russian, for the operator.
    #[must_use]
    pub fn user_message(&self) -> String {
        match self {
            Self::NotCredited(_) => "Платёж не зачислен: чек не формируется.".into(),
            Self::OtherAccount { .. } | Self::OtherPayment { .. } => {
                "Данные чека относятся к другому платежу или лицевому счёту: требуется проверка."
                    .into()
            }
            Self::Unbalanced { items, total } => format!(
                "Сумма позиций чека ({}) не равна сумме платежа ({}): требуется проверка.",
                items.to_russian(),
                total.to_russian()
            ),
            Self::NotAnIncomeReceipt => "Чек возврата формируется только по чеку прихода.".into(),
            Self::NonPositiveRefund(_) => "Сумма возврата должна быть больше нуля.".into(),
            Self::RefundExceedsPayment {
                refundable,
                requested,
            } => format!(
                "Сумма возврата ({}) больше невозвращённого остатка по чеку ({}).",
                requested.to_russian(),
                refundable.to_russian()
            ),
            Self::UnknownItem(name) => {
                format!("Позиции «{name}» нет в чеке прихода: требуется проверка.")
            }
        }
    }
}

/// The advances of a payment: one general item for the default split, one per service for a
/// payer's split (what the service's part did not pay), adding up to `to_advance`.
fn advances(c: &PaymentConfirmation) -> Result<Vec<(Option<ServiceKind>, Money)>, ReceiptError> {
    let unbalanced = |items: Money| ReceiptError::Unbalanced {
        items,
        total: c.to_advance,
    };
    if c.to_advance.is_negative() {
        return Err(unbalanced(Money::ZERO));
    }
    let parts = match &c.payment.split {
        PaymentSplit::Default => vec![(None, c.to_advance)],
        PaymentSplit::ByService(parts) => parts
            .iter()
            .map(|&(service, part)| {
                let paid: Money = c
                    .allocation
                    .iter()
                    .filter(|a| a.service == service)
                    .map(|a| a.amount)
                    .sum();
                (Some(service), part - paid)
            })
            .collect(),
    };
    let sum: Money = parts.iter().map(|p| p.1).sum();
    if sum != c.to_advance || parts.iter().any(|p| p.1.is_negative()) {
        return Err(unbalanced(sum));
    }
    Ok(parts.into_iter().filter(|p| p.1.is_positive()).collect())
}

/// The income receipt (приход) of a credited payment.
///
/// Items: one per (service, period) the payment was applied to
/// ([`PaymentConfirmation::allocation`]), oldest period first and in [`ServiceKind::ALL`]
/// order, then the part kept as an advance ([`PaymentConfirmation::to_advance`]) — one general
/// item for the default split, one per service for a payer's split by service. Each item's
/// method sign, VAT and subject follow `policy`; its VAT is [`ItemVat::of`] its amount. The items
/// add up to the payment exactly, or the confirmation is refused as
/// [`ReceiptError::Unbalanced`].
///
/// ```
/// # use billing_core::ids::*;
/// # use billing_core::ledger::{AllocationPart, PaymentSplit, PaymentState};
/// # use billing_core::model::*;
/// # use billing_core::ports::{GatewayPaymentId, PaymentRecord};
/// # use billing_core::requisites::*;
/// # use billing_core::tariff::ConsumerGroup;
/// # use billing_core::usecase::{ConfirmOutcome, PaymentConfirmation};
/// # use billing_core::{Money, Period, ServiceKind};
/// # use time::macros::{date, datetime};
/// use billing_core::online::ReceiptContact;
/// use billing_core::receipt::{income_receipt, ItemVat, PaymentMethodSign, ReceiptPolicy};
/// use billing_core::vat::VatRate;
/// # let account = Account { id: AccountId::new(1), number: AccountNumber::parse("7700100001").unwrap(),
/// #     supplier: SupplierId::new(1), premise: PremiseId::new(1), holder: "Иванов И. И.".into(),
/// #     group: ConsumerGroup::Population, services: vec![] };
/// # let bank = BankDetails::new(PersonalAcc::parse("40702810200000000001").unwrap(), BankName::parse("ПАО Сбербанк").unwrap(),
/// #     Bic::parse("044525225").unwrap(), CorrespAcc::parse("30101810400000000225").unwrap()).unwrap();
/// # let requisites = Requisites::new(OrgName::parse("АО «Энергосбыт»").unwrap(), Inn::parse("7707083893").unwrap(),
/// #     Some(Kpp::parse("770701001").unwrap()), bank, Address::parse("г. Тула").unwrap(), vec![],
/// #     vec![EmergencyPhone::new("Аварийная служба", Phone::parse("112").unwrap()).unwrap()]).unwrap();
/// # let supplier = Supplier { id: SupplierId::new(1), requisites, policy: Default::default(),
/// #     penalty: Default::default(), minimum_payment: Money::from_roubles(50) };
/// // 1 000 ₽ paid on 20.03.2026: 800 ₽ for February's electricity, 50 ₽ of penalties, the rest
/// // an advance.
/// let confirmation = PaymentConfirmation {
///     payment: PaymentRecord { id: PaymentId::new(5), gateway_id: GatewayPaymentId::parse("pay-5").unwrap(),
///         account: AccountId::new(1), amount: Money::from_roubles(1000), split: PaymentSplit::Default,
///         created_on: date!(2026-03-20), state: PaymentState::Succeeded, refunded: Money::ZERO,
///         failure_reason: None },
///     outcome: ConfirmOutcome::Credited,
///     allocation: vec![
///         AllocationPart { period: Period::new(2026, 2).unwrap(), service: ServiceKind::Electricity,
///             amount: Money::from_roubles(800) },
///         AllocationPart { period: Period::new(2026, 2).unwrap(), service: ServiceKind::Penalty,
///             amount: Money::from_roubles(50) },
///     ],
///     to_advance: Money::from_roubles(150),
///     balance: Money::from_roubles(-150),
/// };
/// let contact = ReceiptContact { email: Some("ivanov@example.ru".into()), phone: None };
/// let r = income_receipt(&confirmation, &account, &supplier, &contact, &ReceiptPolicy::default(),
///     datetime!(2026-03-20 09:15 UTC)).unwrap();
///
/// let names: Vec<&str> = r.items.iter().map(|i| i.name.as_str()).collect();
/// assert_eq!(names, [
///     "Электроснабжение, ЛС 7700100001, за 02.2026",
///     "Пени, ЛС 7700100001, за 02.2026",
///     "Коммунальные услуги, ЛС 7700100001, аванс",
/// ]);
/// assert_eq!(r.items[0].vat, ItemVat::Rate(VatRate::TWENTY_TWO));
/// assert_eq!(r.items[0].vat_amount, Money::from_kopecks(14_426)); // 800 × 22/122 = 144.262…
/// assert_eq!(r.items[1].vat, ItemVat::NotSubject);                 // penalties: «Без НДС»
/// assert_eq!(r.items[2].vat, ItemVat::Calculated(VatRate::TWENTY_TWO)); // 22/122
/// assert_eq!(r.items[2].method, PaymentMethodSign::Advance);
/// assert_eq!(r.total, Money::from_roubles(1000));
/// assert_eq!(r.total_vat(), Money::from_kopecks(14_426 + 2_705)); // 150 × 22/122 = 27.049…
/// ```
pub fn income_receipt(
    confirmation: &PaymentConfirmation,
    account: &Account,
    supplier: &Supplier,
    contact: &ReceiptContact,
    policy: &ReceiptPolicy,
    at: OffsetDateTime,
) -> Result<FiscalReceipt, ReceiptError> {
    let payment = &confirmation.payment;
    if !matches!(
        payment.state,
        PaymentState::Succeeded | PaymentState::Refunded
    ) {
        return Err(ReceiptError::NotCredited(payment.state));
    }
    if payment.account != account.id {
        return Err(ReceiptError::OtherAccount {
            account: account.id,
            payment_account: payment.account,
        });
    }
    let paid_on = payment.created_on;
    let mut debts: BTreeMap<(Period, ServiceKind), Money> = BTreeMap::new();
    for part in &confirmation.allocation {
        *debts
            .entry((part.period, part.service))
            .or_insert(Money::ZERO) += part.amount;
    }
    let mut items = Vec::with_capacity(debts.len() + 1);
    for ((period, service), amount) in debts {
        items.push(policy.item(
            &account.number,
            Some(service),
            Some(period),
            amount,
            paid_on,
        ));
    }
    for (service, amount) in advances(confirmation)? {
        items.push(policy.item(&account.number, service, None, amount, paid_on));
    }
    let total: Money = items.iter().map(|i| i.amount).sum();
    if total != payment.amount || items.iter().any(|i| !i.amount.is_positive()) {
        return Err(ReceiptError::Unbalanced {
            items: total,
            total: payment.amount,
        });
    }
    Ok(FiscalReceipt {
        kind: ReceiptKind::Income,
        payment: payment.id,
        refund: None,
        account: account.id,
        account_number: account.number.clone(),
        seller_inn: supplier.requisites.inn().clone(),
        seller_name: supplier.requisites.name().clone(),
        taxation: policy.taxation,
        vat_totals: vat_totals(&items),
        items,
        total,
        contact: contact.clone(),
        at,
    })
}

/// The return receipt (возврат прихода) of a carried-out refund of (part of) the payment of
/// `income`.
///
/// The refund is split over what is left of the income receipt's items after the `earlier`
/// return receipts of the same payment (a receipt of this very refund among them is ignored),
/// in proportion to it, kopeck-exact ([`allocate_money`], largest remainder). So the items add
/// up to the refund exactly, no item returns more than is left of it, a refund of everything
/// left returns each item's remainder exactly, and each returned item keeps the income item's
/// name, method sign, subject and VAT treatment, its VAT computed on the returned amount. The
/// receipt goes to the income receipt's contact.
pub fn refund_receipt(
    income: &FiscalReceipt,
    earlier: &[FiscalReceipt],
    refund: &RefundRequest,
    at: OffsetDateTime,
) -> Result<FiscalReceipt, ReceiptError> {
    if income.kind != ReceiptKind::Income {
        return Err(ReceiptError::NotAnIncomeReceipt);
    }
    let other = |found: PaymentId| ReceiptError::OtherPayment {
        expected: income.payment,
        found,
    };
    if refund.payment != income.payment {
        return Err(other(refund.payment));
    }
    if !refund.amount.is_positive() {
        return Err(ReceiptError::NonPositiveRefund(refund.amount));
    }
    let mut left: Vec<Money> = income.items.iter().map(|i| i.amount).collect();
    for r in earlier.iter().filter(|r| r.refund != Some(refund.id)) {
        if r.payment != income.payment {
            return Err(other(r.payment));
        }
        if r.kind != ReceiptKind::IncomeReturn {
            continue;
        }
        for item in &r.items {
            let i = income
                .items
                .iter()
                .position(|x| x.same_line(item))
                .ok_or_else(|| ReceiptError::UnknownItem(item.name.clone()))?;
            left[i] -= item.amount;
        }
    }
    let refundable: Money = left.iter().map(|m| m.positive_part()).sum();
    let exceeds = ReceiptError::RefundExceedsPayment {
        refundable,
        requested: refund.amount,
    };
    if refund.amount > refundable || left.iter().any(|m| m.is_negative()) {
        return Err(exceeds);
    }
    let weights: Vec<Decimal> = left.iter().map(|m| m.amount()).collect();
    let parts = allocate_money(refund.amount, &weights).map_err(|_| exceeds.clone())?;
    if parts.iter().zip(&left).any(|(p, l)| p > l) {
        return Err(exceeds);
    }
    let items: Vec<ReceiptItem> = income
        .items
        .iter()
        .zip(parts)
        .filter(|(_, part)| part.is_positive())
        .map(|(item, part)| item.with_amount(part))
        .collect();
    Ok(FiscalReceipt {
        kind: ReceiptKind::IncomeReturn,
        refund: Some(refund.id),
        vat_totals: vat_totals(&items),
        total: items.iter().map(|i| i.amount).sum(),
        items,
        at,
        ..income.clone()
    })
}

// ---------------------------------------------------------------------------------------------
// Ports
// ---------------------------------------------------------------------------------------------

/// What the fiscal data operator confirmed for a registered receipt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FiscalRegistration {
    /// The fiscal drive's number (ФН).
    pub fiscal_number: String,
    /// The fiscal document's number (ФД).
    pub document_number: u64,
    /// The fiscal sign of the document (ФП / ФПД).
    pub fiscal_sign: String,
    /// When the register registered it.
    pub registered_at: OffsetDateTime,
}

/// The online cash register (through a fiscal data operator's cloud API, or the sandbox): it
/// registers a receipt and sends it to the receipt's contact.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait::async_trait]
pub trait FiscalRegistrar: Send + Sync {
    /// Registers a receipt. MUST be idempotent per [`FiscalReceipt::key`] (pass
    /// [`ReceiptKey::external_id`] as the registrar's own idempotence key): registering the same
    /// key again — a retry after a lost answer, the retrier racing the first attempt — returns
    /// the registration made first and never produces a second fiscal document.
    /// [`GatewayError::Unavailable`]: not registered, try again later;
    /// [`GatewayError::Declined`]: refused (the text says why; an operator must look).
    async fn register(&self, receipt: &FiscalReceipt) -> Result<FiscalRegistration, GatewayError>;
}

/// A receipt as stored: claimed, and registered once the registrar confirmed it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StoredReceipt {
    /// The id storage assigned when it was claimed.
    pub id: ReceiptId,
    /// The receipt.
    pub receipt: FiscalReceipt,
    /// The registration; `None` while pending.
    pub registration: Option<FiscalRegistration>,
}

/// The receipts issued.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait::async_trait]
pub trait ReceiptRepository: Send + Sync {
    /// Stores a receipt as pending (not registered) with a new [`ReceiptId`]. MUST return
    /// [`RepoError::Duplicate`], writing nothing, if a receipt with the same
    /// [`FiscalReceipt::key`] (payment, kind, refund) exists — a unique constraint, not a prior
    /// read: this is the exactly-once guard.
    async fn claim(&self, receipt: &FiscalReceipt) -> Result<ReceiptId, RepoError>;
    /// Stores the registration of a claimed receipt. If one is stored already, keeps it and
    /// returns `Ok` (the registrar is idempotent: it is the same one).
    /// [`RepoError::NotFound`] if there is no such receipt.
    async fn registered(
        &self,
        id: ReceiptId,
        registration: &FiscalRegistration,
    ) -> Result<(), RepoError>;
    /// The receipt with this key.
    async fn by_key(&self, key: ReceiptKey) -> Result<Option<StoredReceipt>, RepoError>;
    /// Every receipt of the payment, in claim order (by id).
    async fn of_payment(&self, payment: PaymentId) -> Result<Vec<StoredReceipt>, RepoError>;
    /// Up to `limit` receipts not yet registered, oldest first.
    async fn pending(&self, limit: u32) -> Result<Vec<StoredReceipt>, RepoError>;
    /// Up to `limit` receipts of the account, newest first.
    async fn of_account(
        &self,
        account: AccountId,
        limit: u32,
    ) -> Result<Vec<StoredReceipt>, RepoError>;
    /// Up to `limit` gateway ids of **online** payments (those with an
    /// [`crate::online::OnlinePaymentRecord`]; a bank or cashier payment is receipted by the
    /// payment agent that took it) created on or after `since` that were credited
    /// (state `Succeeded` or `Refunded`) and have no income receipt claimed, oldest first: what a
    /// stop between crediting and claiming left behind when no repeated notification came (a
    /// payment credited by a reconciliation pass is not polled again).
    async fn credited_without_receipt(
        &self,
        since: Date,
        limit: u32,
    ) -> Result<Vec<GatewayPaymentId>, RepoError>;
}

// ---------------------------------------------------------------------------------------------
// The use case
// ---------------------------------------------------------------------------------------------

/// What issuing a receipt did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IssueOutcome {
    /// Claimed and registered now.
    Registered,
    /// Claimed now; the registrar failed, so it is pending:
    /// [`Receipts::issue_pending_receipts`] registers it later.
    Pending(GatewayError),
    /// It had been claimed before (a repeated notification, a retry, a concurrent issue):
    /// nothing was written.
    AlreadyClaimed,
}

/// A receipt issued (or found issued).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuedReceipt {
    /// The receipt as stored.
    pub stored: StoredReceipt,
    /// What this call did.
    pub outcome: IssueOutcome,
}

/// What a pass over the pending receipts did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PendingPass {
    /// The receipts registered now.
    pub registered: Vec<ReceiptId>,
    /// The receipts the registrar did not register, with its answer: still pending.
    pub still_pending: Vec<(ReceiptId, GatewayError)>,
}

/// What a pass over the credited payments without an income receipt did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BackfillPass {
    /// The receipts issued (registered or pending).
    pub issued: Vec<IssuedReceipt>,
    /// The payments whose receipt could not be built, with why: an operator must look.
    pub refused: Vec<(GatewayPaymentId, ReceiptIssueError)>,
}

/// Why a receipt was not issued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptIssueError {
    /// No payment has this gateway id, or the refund request's payment is missing.
    #[error("payment not found")]
    PaymentNotFound,
    /// No refund request has this id.
    #[error("refund request not found")]
    RefundNotFound,
    /// The refund request has not been carried out (it is requested or rejected): there is no
    /// refund to issue a receipt for.
    #[error("refund request is {0:?}, not refunded")]
    RefundNotCarriedOut(RefundStatus),
    /// The receipt could not be built from the stored data.
    #[error(transparent)]
    Receipt(#[from] ReceiptError),
    /// A port failed; nothing or only the claim was written. Try again.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

impl ReceiptIssueError {
    /// The refusal in Russian, for the operator.
    #[must_use]
    pub fn user_message(&self) -> String {
        match self {
            Self::PaymentNotFound => "Платёж не найден.".into(),
            Self::RefundNotFound => "Заявление на возврат не найдено.".into(),
            Self::RefundNotCarriedOut(RefundStatus::Rejected { .. }) => {
                "В возврате отказано: чек возврата не формируется.".into()
            }
            Self::RefundNotCarriedOut(_) => {
                "Возврат ещё не выполнен: чек возврата будет сформирован после него.".into()
            }
            Self::Receipt(e) => e.user_message(),
            Self::Repo(_) => UNAVAILABLE_RU.into(),
        }
    }

    /// The error as a port failure, for the use cases whose error enums have no receipt
    /// variant (a gateway notification, a reconciliation): a failed port stays itself (the
    /// caller retries), anything else is data an operator must look at
    /// ([`RepoError::Corrupt`]).
    #[must_use]
    pub fn into_repo(self) -> RepoError {
        match self {
            Self::Repo(e) => e,
            e => RepoError::Corrupt(format!("fiscal receipt: {e}")),
        }
    }
}

/// Why receipts were not listed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptsReadError {
    /// No account has this id.
    #[error("account not found")]
    AccountNotFound,
    /// No payment of the account has this gateway id.
    #[error("payment not found")]
    PaymentNotFound,
    /// A port failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

impl ReceiptsReadError {
    /// The refusal in Russian, for the subscriber.
    #[must_use]
    pub fn user_message(&self) -> String {
        match self {
            Self::AccountNotFound => "Лицевой счёт не найден.".into(),
            Self::PaymentNotFound => "Платёж не найден.".into(),
            Self::Repo(_) => UNAVAILABLE_RU.into(),
        }
    }
}

/// The fiscal receipt use cases: the income receipt after a credit, the return receipt after a
/// refund, the retry of pending registrations and the cabinet's reads. Built by
/// [`crate::online::OnlinePayments::with_receipts`] (or directly); cheap to share, holds no
/// per-request state.
///
/// Exactly once: a receipt is built, then **claimed** ([`ReceiptRepository::claim`], unique
/// per [`ReceiptKey`]) and only the claimant registers it; whoever finds it claimed answers
/// [`IssueOutcome::AlreadyClaimed`]. A registrar failure leaves the claimed receipt pending and
/// is not an error; [`Receipts::issue_pending_receipts`] registers it later (the registrar is
/// idempotent per key, so a retry racing a slow first attempt registers one document).
pub struct Receipts {
    billing: Arc<BillingService>,
    records: Arc<dyn OnlinePaymentRepository>,
    registrar: Arc<dyn FiscalRegistrar>,
    repo: Arc<dyn ReceiptRepository>,
    policy: ReceiptPolicy,
}

impl Receipts {
    /// The use cases over the billing use cases, the records of online payments (the receipt
    /// contact), the registrar, the receipts' storage and the policy.
    #[must_use]
    pub fn new(
        billing: Arc<BillingService>,
        records: Arc<dyn OnlinePaymentRepository>,
        registrar: Arc<dyn FiscalRegistrar>,
        repo: Arc<dyn ReceiptRepository>,
        policy: ReceiptPolicy,
    ) -> Receipts {
        Receipts {
            billing,
            records,
            registrar,
            repo,
            policy,
        }
    }

    /// The policy receipts are built with.
    #[must_use]
    pub fn policy(&self) -> &ReceiptPolicy {
        &self.policy
    }

    /// The income receipt after a confirmation ([`crate::online::OnlinePayments`] calls it for
    /// `Credited` and `AlreadyCredited` alike): found if claimed, otherwise built from the
    /// confirmation, claimed and registered.
    pub(crate) async fn after_credit(
        &self,
        confirmation: &PaymentConfirmation,
    ) -> Result<IssuedReceipt, ReceiptIssueError> {
        let key = ReceiptKey::income(confirmation.payment.id);
        if let Some(stored) = self.repo.by_key(key).await? {
            return Ok(already(stored));
        }
        self.issue_income(confirmation).await
    }

    /// Makes sure a credited payment has its income receipt: the stored one, or one issued now
    /// (for a payment credited while receipts were off, or whose receipt was never claimed
    /// because the process stopped in between). A refunded payment gets the receipt of what it
    /// paid. **Idempotent.**
    pub async fn ensure_income_receipt(
        &self,
        gateway_id: &GatewayPaymentId,
    ) -> Result<IssuedReceipt, ReceiptIssueError> {
        let payment = self
            .payment(gateway_id)
            .await?
            .ok_or(ReceiptIssueError::PaymentNotFound)?;
        self.ensure_income(&payment).await
    }

    async fn payment(
        &self,
        gateway_id: &GatewayPaymentId,
    ) -> Result<Option<PaymentRecord>, RepoError> {
        self.billing
            .ports
            .ledger
            .payment_by_gateway_id(gateway_id)
            .await
    }

    pub(crate) async fn ensure_income(
        &self,
        payment: &PaymentRecord,
    ) -> Result<IssuedReceipt, ReceiptIssueError> {
        if let Some(stored) = self.repo.by_key(ReceiptKey::income(payment.id)).await? {
            return Ok(already(stored));
        }
        let confirmation = self.settled(payment).await?;
        self.issue_income(&confirmation).await
    }

    /// What a credited payment paid, from the account's ledger.
    async fn settled(
        &self,
        payment: &PaymentRecord,
    ) -> Result<PaymentConfirmation, ReceiptIssueError> {
        let account = self.account(payment.account).await?;
        let ledger = self.billing.ledger_of(&account).await?;
        let paid = ledger
            .payment(payment.id)
            .filter(|p| p.succeeded_on().is_some())
            .ok_or(ReceiptError::NotCredited(payment.state))?;
        Ok(PaymentConfirmation {
            payment: payment.clone(),
            outcome: ConfirmOutcome::AlreadyCredited,
            allocation: paid.allocation().to_vec(),
            to_advance: paid.to_advance(),
            balance: ledger.balance(),
        })
    }

    async fn account(&self, id: AccountId) -> Result<Account, RepoError> {
        self.billing
            .ports
            .accounts
            .account(id)
            .await?
            .ok_or(RepoError::NotFound)
    }

    /// Builds, claims and registers the income receipt of a confirmed payment. The contact is
    /// the one the payer gave when starting the payment; a payment without an online record
    /// gets a receipt without a contact (registered all the same; nothing is sent).
    async fn issue_income(
        &self,
        confirmation: &PaymentConfirmation,
    ) -> Result<IssuedReceipt, ReceiptIssueError> {
        let payment = &confirmation.payment;
        let account = self.account(payment.account).await?;
        let supplier = self.billing.load_supplier(account.supplier).await?;
        let contact = self
            .records
            .by_gateway_id(&payment.gateway_id)
            .await?
            .map(|r| r.contact)
            .unwrap_or_default();
        let receipt = income_receipt(
            confirmation,
            &account,
            &supplier,
            &contact,
            &self.policy,
            self.billing.ports.clock.now(),
        )?;
        self.claim_and_register(receipt).await
    }

    /// Issues the return receipt of a carried-out refund request (the operator's refund flow
    /// calls it right after [`BillingService::refund_payment`]): the payment's income receipt is
    /// made sure of first ([`Receipts::ensure_income_receipt`]), then the refund is itemised over
    /// it ([`refund_receipt`]), claimed and registered. **Idempotent** per request.
    pub async fn issue_refund_receipt(
        &self,
        request: RefundRequestId,
    ) -> Result<IssuedReceipt, ReceiptIssueError> {
        let ledger = &self.billing.ports.ledger;
        let req = ledger
            .refund_request(request)
            .await?
            .ok_or(ReceiptIssueError::RefundNotFound)?;
        if !matches!(req.status, RefundStatus::Refunded { .. }) {
            return Err(ReceiptIssueError::RefundNotCarriedOut(req.status));
        }
        let key = ReceiptKey::income_return(req.payment, req.id);
        if let Some(stored) = self.repo.by_key(key).await? {
            return Ok(already(stored));
        }
        let payment = self
            .payment(&req.gateway_id)
            .await?
            .filter(|p| p.id == req.payment)
            .ok_or(ReceiptIssueError::PaymentNotFound)?;
        let income = self.ensure_income(&payment).await?.stored.receipt;
        let earlier: Vec<FiscalReceipt> = self
            .repo
            .of_payment(payment.id)
            .await?
            .into_iter()
            .map(|s| s.receipt)
            .filter(|r| r.kind == ReceiptKind::IncomeReturn)
            .collect();
        let receipt = refund_receipt(&income, &earlier, &req, self.billing.ports.clock.now())?;
        self.claim_and_register(receipt).await
    }

    /// Claims `receipt`; the claimant registers it. A receipt claimed by someone else is
    /// answered as it is stored.
    async fn claim_and_register(
        &self,
        receipt: FiscalReceipt,
    ) -> Result<IssuedReceipt, ReceiptIssueError> {
        let id = match self.repo.claim(&receipt).await {
            Ok(id) => id,
            Err(RepoError::Duplicate) => {
                let stored = self
                    .repo
                    .by_key(receipt.key())
                    .await?
                    .ok_or(RepoError::Conflict)?;
                return Ok(already(stored));
            }
            Err(e) => return Err(e.into()),
        };
        let (registration, outcome) = match self.registrar.register(&receipt).await {
            Ok(reg) => {
                self.repo.registered(id, &reg).await?;
                (Some(reg), IssueOutcome::Registered)
            }
            Err(e) => (None, IssueOutcome::Pending(e)),
        };
        Ok(IssuedReceipt {
            stored: StoredReceipt {
                id,
                receipt,
                registration,
            },
            outcome,
        })
    }

    /// Issues the income receipts of up to `limit` payments created on or after `since` that
    /// were credited without one ([`ReceiptRepository::credited_without_receipt`]): the process
    /// stopped between crediting and claiming, and no repeated notification came. A receipt that
    /// cannot be built is reported in [`BackfillPass::refused`]; a storage failure stops the
    /// pass. A background task calls it periodically, with `since` the day receipts were
    /// switched on (or a few days back).
    pub async fn backfill_income_receipts(
        &self,
        since: Date,
        limit: u32,
    ) -> Result<BackfillPass, ReceiptIssueError> {
        let mut pass = BackfillPass::default();
        for id in self.repo.credited_without_receipt(since, limit).await? {
            match self.ensure_income_receipt(&id).await {
                Ok(issued) => pass.issued.push(issued),
                Err(ReceiptIssueError::Repo(e)) => return Err(e.into()),
                Err(e) => pass.refused.push((id, e)),
            }
        }
        Ok(pass)
    }

    /// Registers up to `limit` pending receipts, oldest first: those whose registrar call failed,
    /// and those claimed by a process that stopped before registering. A registrar failure keeps
    /// a receipt pending (reported in [`PendingPass::still_pending`]); a storage failure stops
    /// the pass. A background task calls it periodically.
    pub async fn issue_pending_receipts(
        &self,
        limit: u32,
    ) -> Result<PendingPass, ReceiptIssueError> {
        let mut pass = PendingPass::default();
        for stored in self.repo.pending(limit).await? {
            match self.registrar.register(&stored.receipt).await {
                Ok(reg) => {
                    self.repo.registered(stored.id, &reg).await?;
                    pass.registered.push(stored.id);
                }
                Err(e) => pass.still_pending.push((stored.id, e)),
            }
        }
        Ok(pass)
    }

    /// Up to `limit` receipts of an account, newest first (the cabinet's list; a pending one has
    /// no registration yet).
    pub async fn receipts_of_account(
        &self,
        account: AccountId,
        limit: u32,
    ) -> Result<Vec<StoredReceipt>, ReceiptsReadError> {
        self.billing
            .ports
            .accounts
            .account(account)
            .await?
            .ok_or(ReceiptsReadError::AccountNotFound)?;
        Ok(self.repo.of_account(account, limit).await?)
    }

    /// The receipts of one payment of an account, in issue order (income, then returns).
    pub async fn receipts_of_payment(
        &self,
        account: AccountId,
        gateway_id: &GatewayPaymentId,
    ) -> Result<Vec<StoredReceipt>, ReceiptsReadError> {
        let payment = self
            .payment(gateway_id)
            .await?
            .filter(|p| p.account == account)
            .ok_or(ReceiptsReadError::PaymentNotFound)?;
        Ok(self.repo.of_payment(payment.id).await?)
    }
}

fn already(stored: StoredReceipt) -> IssuedReceipt {
    IssuedReceipt {
        stored,
        outcome: IssueOutcome::AlreadyClaimed,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use proptest::prelude::*;
    use time::macros::{date, datetime};

    use super::*;
    use crate::ledger::{AllocationPart, Ledger};
    use crate::online::tests::{MemoryRecords, billing, event};
    use crate::online::{
        EventError, EventOutcome, GatewayStatus, MockPaymentGateway, OnlinePaymentRecord,
        OnlinePayments,
    };
    use crate::usecase::tests::{
        DOWN, Store, account, gw, p, refund_cmd, refund_mocks, store_with_pending_payment,
        store_with_succeeded_payment, supplier,
    };

    // ----- builders --------------------------------------------------------------------------

    fn kop(k: i64) -> Money {
        Money::from_kopecks(k)
    }

    fn rub(r: i64) -> Money {
        Money::from_roubles(r)
    }

    fn part(period: Period, service: ServiceKind, amount: Money) -> AllocationPart {
        AllocationPart {
            period,
            service,
            amount,
        }
    }

    fn confirmation(
        amount: Money,
        split: PaymentSplit,
        allocation: Vec<AllocationPart>,
        to_advance: Money,
    ) -> PaymentConfirmation {
        PaymentConfirmation {
            payment: PaymentRecord {
                id: PaymentId::new(5),
                gateway_id: gw(),
                account: AccountId::new(1),
                amount,
                split,
                created_on: date!(2026 - 03 - 20),
                state: PaymentState::Succeeded,
                refunded: Money::ZERO,
                failure_reason: None,
            },
            outcome: ConfirmOutcome::Credited,
            allocation,
            to_advance,
            balance: Money::ZERO,
        }
    }

    const AT: OffsetDateTime = datetime!(2026-03-20 09:15 UTC);

    fn contact() -> ReceiptContact {
        ReceiptContact {
            email: Some("ivanov@example.ru".into()),
            phone: None,
        }
    }

    fn build(
        c: &PaymentConfirmation,
        policy: &ReceiptPolicy,
    ) -> Result<FiscalReceipt, ReceiptError> {
        income_receipt(c, &account(), &supplier(), &contact(), policy, AT)
    }

    /// 2 000 ₽ paid on 20.03.2026: December 2025's debt, February 2026's electricity, ОДН and
    /// penalties, and an advance.
    fn two_thousand() -> PaymentConfirmation {
        confirmation(
            rub(2000),
            PaymentSplit::Default,
            vec![
                part(p(2025, 12), ServiceKind::Electricity, rub(300)),
                part(p(2026, 2), ServiceKind::Electricity, rub(800)),
                part(p(2026, 2), ServiceKind::ElectricityCommon, rub(100)),
                part(p(2026, 2), ServiceKind::Penalty, rub(50)),
            ],
            rub(750),
        )
    }

    #[test]
    fn income_items_follow_the_allocation_and_the_policy() {
        let r = build(&two_thousand(), &ReceiptPolicy::default()).unwrap();
        assert_eq!(r.kind, ReceiptKind::Income);
        assert_eq!(r.key(), ReceiptKey::income(PaymentId::new(5)));
        assert_eq!(r.account_number.as_str(), "1001");
        assert_eq!(r.seller_inn.as_str(), "7707083893");
        assert_eq!(r.seller_name.as_str(), "АО «Энергосбыт»");
        assert_eq!(r.taxation, TaxationSystem::General);
        assert_eq!(r.contact, contact());
        assert_eq!(r.at, AT);
        let rows: Vec<(
            &str,
            Money,
            ItemVat,
            Money,
            PaymentMethodSign,
            PaymentSubject,
        )> = r
            .items
            .iter()
            .map(|i| {
                (
                    i.name.as_str(),
                    i.amount,
                    i.vat,
                    i.vat_amount,
                    i.method,
                    i.subject,
                )
            })
            .collect();
        use ItemVat::*;
        use PaymentMethodSign::*;
        use PaymentSubject::*;
        let (t20, t22) = (VatRate::TWENTY, VatRate::TWENTY_TWO);
        assert_eq!(
            rows,
            vec![
                // December 2025 was supplied at 20 %: 300 × 20/120 = 50.00.
                (
                    "Электроснабжение, ЛС 1001, за 12.2025",
                    rub(300),
                    Rate(t20),
                    rub(50),
                    FullPayment,
                    Service
                ),
                // 800 × 22/122 = 144.262… → 144.26.
                (
                    "Электроснабжение, ЛС 1001, за 02.2026",
                    rub(800),
                    Rate(t22),
                    kop(14_426),
                    FullPayment,
                    Service
                ),
                // 100 × 22/122 = 18.032… → 18.03.
                (
                    "Электроснабжение на СОИ (ОДН), ЛС 1001, за 02.2026",
                    rub(100),
                    Rate(t22),
                    kop(1_803),
                    FullPayment,
                    Service
                ),
                (
                    "Пени, ЛС 1001, за 02.2026",
                    rub(50),
                    NotSubject,
                    Money::ZERO,
                    FullPayment,
                    NonOperatingIncome
                ),
                // 750 × 22/122 = 135.245… → 135.25, at the calculated rate.
                (
                    "Коммунальные услуги, ЛС 1001, аванс",
                    rub(750),
                    Calculated(t22),
                    kop(13_525),
                    Advance,
                    Service
                ),
            ]
        );
        assert_eq!(r.total, rub(2000));
        assert_eq!(
            r.vat_totals,
            vec![
                VatTotal {
                    vat: NotSubject,
                    amount: rub(50),
                    vat_amount: Money::ZERO
                },
                VatTotal {
                    vat: Rate(t20),
                    amount: rub(300),
                    vat_amount: rub(50)
                },
                VatTotal {
                    vat: Rate(t22),
                    amount: rub(900),
                    vat_amount: kop(16_229)
                },
                VatTotal {
                    vat: Calculated(t22),
                    amount: rub(750),
                    vat_amount: kop(13_525)
                },
            ]
        );
        assert_eq!(r.total_vat(), kop(5_000 + 16_229 + 13_525));
        assert_eq!(r.items[4].vat.label(), "НДС 22/122");
        assert_eq!(r.items[3].vat.label(), "Без НДС");
        assert_eq!(r.items[0].vat.label(), "НДС 20\u{a0}%");
    }

    #[test]
    fn the_method_signs_and_subjects_are_policies() {
        let policy = ReceiptPolicy {
            methods: MethodPolicy {
                current_bill: PaymentMethodSign::FullPayment,
                past_debt: PaymentMethodSign::CreditPayment,
                advance: PaymentMethodSign::FullPrepayment,
            },
            penalties_without_vat: false,
            penalty_subject: PaymentSubject::Payment,
            ..ReceiptPolicy::default()
        };
        let r = build(&two_thousand(), &policy).unwrap();
        let methods: Vec<PaymentMethodSign> = r.items.iter().map(|i| i.method).collect();
        use PaymentMethodSign::*;
        assert_eq!(
            methods,
            [
                CreditPayment,
                FullPayment,
                FullPayment,
                FullPayment,
                FullPrepayment
            ]
        );
        assert_eq!(r.items[3].vat, ItemVat::Rate(VatRate::TWENTY_TWO));
        assert_eq!(r.items[3].subject, PaymentSubject::Payment);
        assert_eq!(r.items[4].vat, ItemVat::Calculated(VatRate::TWENTY_TWO));
        // The month of payment and the one before are the current bill, older ones past debts.
        let m = MethodPolicy::default();
        let on = date!(2026 - 03 - 01);
        assert_eq!(m.for_period(p(2026, 3), on), m.current_bill);
        assert_eq!(m.for_period(p(2026, 2), on), m.current_bill);
        let credit = MethodPolicy {
            past_debt: CreditPayment,
            ..m
        };
        assert_eq!(credit.for_period(p(2026, 1), on), CreditPayment);
        assert_eq!(credit.for_period(p(2026, 2), on), FullPayment);
    }

    #[test]
    fn a_seller_without_vat_issues_every_item_without_vat() {
        let policy = ReceiptPolicy {
            vat: SellerVat::NotPayer,
            taxation: TaxationSystem::SimplifiedIncome,
            ..ReceiptPolicy::default()
        };
        let r = build(&two_thousand(), &policy).unwrap();
        assert!(
            r.items
                .iter()
                .all(|i| i.vat == ItemVat::NotSubject && i.vat_amount.is_zero())
        );
        assert_eq!(
            r.vat_totals,
            vec![VatTotal {
                vat: ItemVat::NotSubject,
                amount: rub(2000),
                vat_amount: Money::ZERO
            }]
        );
        assert_eq!(r.taxation.tag(), 2);
    }

    #[test]
    fn a_split_by_service_keeps_an_advance_per_service() {
        let c = confirmation(
            rub(1000),
            PaymentSplit::ByService(vec![
                (ServiceKind::Electricity, rub(900)),
                (ServiceKind::Penalty, rub(100)),
            ]),
            vec![
                part(p(2026, 2), ServiceKind::Electricity, rub(800)),
                part(p(2026, 2), ServiceKind::Penalty, rub(50)),
            ],
            rub(150),
        );
        let r = build(&c, &ReceiptPolicy::default()).unwrap();
        let advances: Vec<(&str, Money, ItemVat)> = r
            .items
            .iter()
            .filter(|i| i.period.is_none())
            .map(|i| (i.name.as_str(), i.amount, i.vat))
            .collect();
        assert_eq!(
            advances,
            vec![
                (
                    "Электроснабжение, ЛС 1001, аванс",
                    rub(100),
                    ItemVat::Calculated(VatRate::TWENTY_TWO)
                ),
                ("Пени, ЛС 1001, аванс", rub(50), ItemVat::NotSubject),
            ]
        );
        assert_eq!(r.total, rub(1000));
        // Parts of one tranche are one item.
        let c = confirmation(
            rub(300),
            PaymentSplit::Default,
            vec![
                part(p(2026, 2), ServiceKind::Electricity, rub(100)),
                part(p(2026, 2), ServiceKind::Electricity, rub(200)),
            ],
            Money::ZERO,
        );
        let r = build(&c, &ReceiptPolicy::default()).unwrap();
        assert_eq!(r.items.len(), 1);
        assert_eq!(r.items[0].amount, rub(300));
    }

    #[test]
    fn inconsistent_confirmations_are_refused() {
        let policy = ReceiptPolicy::default();
        let mut c = two_thousand();
        c.to_advance = rub(700);
        assert_eq!(
            build(&c, &policy),
            Err(ReceiptError::Unbalanced {
                items: rub(1950),
                total: rub(2000)
            })
        );
        let mut c = two_thousand();
        c.payment.state = PaymentState::Pending;
        assert_eq!(
            build(&c, &policy),
            Err(ReceiptError::NotCredited(PaymentState::Pending))
        );
        let mut c = two_thousand();
        c.payment.account = AccountId::new(2);
        assert!(matches!(
            build(&c, &policy),
            Err(ReceiptError::OtherAccount { .. })
        ));
        // A payer's split whose parts the allocation and advance do not match.
        let c = confirmation(
            rub(1000),
            PaymentSplit::ByService(vec![(ServiceKind::Electricity, rub(1000))]),
            vec![part(p(2026, 2), ServiceKind::Electricity, rub(800))],
            rub(150),
        );
        assert!(matches!(
            build(&c, &policy),
            Err(ReceiptError::Unbalanced { .. })
        ));
        // A zero or negative part is never an item.
        let c = confirmation(
            rub(100),
            PaymentSplit::Default,
            vec![
                part(p(2026, 1), ServiceKind::Electricity, rub(-50)),
                part(p(2026, 2), ServiceKind::Electricity, rub(150)),
            ],
            Money::ZERO,
        );
        assert!(matches!(
            build(&c, &policy),
            Err(ReceiptError::Unbalanced { .. })
        ));
        // A refunded payment still gets the receipt of what it paid.
        let mut c = two_thousand();
        c.payment.state = PaymentState::Refunded;
        assert!(build(&c, &policy).is_ok());
    }

    fn refund(id: u64, amount: Money) -> RefundRequest {
        RefundRequest {
            id: RefundRequestId::new(id),
            payment: PaymentId::new(5),
            gateway_id: gw(),
            account: AccountId::new(1),
            amount,
            number: format!("{id}/03"),
            received_on: date!(2026 - 03 - 24),
            due_by: date!(2026 - 04 - 23),
            status: RefundStatus::Refunded {
                on: date!(2026 - 03 - 25),
            },
        }
    }

    #[test]
    fn a_refund_is_split_over_what_is_left_of_the_items() {
        let income = build(&two_thousand(), &ReceiptPolicy::default()).unwrap();
        let at = datetime!(2026-03-25 12:00 UTC);
        // 500 of 2 000: a quarter of every item.
        let first = refund_receipt(&income, &[], &refund(1, rub(500)), at).unwrap();
        assert_eq!(first.kind, ReceiptKind::IncomeReturn);
        assert_eq!(
            first.key(),
            ReceiptKey::income_return(PaymentId::new(5), RefundRequestId::new(1))
        );
        assert_eq!(first.contact, income.contact);
        assert_eq!(first.at, at);
        let amounts: Vec<Money> = first.items.iter().map(|i| i.amount).collect();
        assert_eq!(
            amounts,
            [kop(7_500), rub(200), rub(25), kop(1_250), kop(18_750)]
        );
        assert_eq!(first.total, rub(500));
        // The VAT of each returned item is computed on the returned amount.
        assert_eq!(first.items[1].vat_amount, kop(3_607)); // 200 × 22/122 = 36.065…
        assert_eq!(first.items[0].vat, ItemVat::Rate(VatRate::TWENTY));
        // Building it again with itself among the earlier ones gives the same receipt.
        assert_eq!(
            refund_receipt(
                &income,
                std::slice::from_ref(&first),
                &refund(1, rub(500)),
                at
            ),
            Ok(first.clone())
        );
        // The rest returns exactly what is left of each item.
        let rest = refund_receipt(
            &income,
            std::slice::from_ref(&first),
            &refund(2, rub(1500)),
            at,
        )
        .unwrap();
        for (i, item) in income.items.iter().enumerate() {
            assert_eq!(first.items[i].amount + rest.items[i].amount, item.amount);
        }
        assert_eq!(
            refund_receipt(&income, &[first.clone(), rest], &refund(3, kop(1)), at),
            Err(ReceiptError::RefundExceedsPayment {
                refundable: Money::ZERO,
                requested: kop(1)
            })
        );
        assert_eq!(
            refund_receipt(&income, &[], &refund(2, kop(200_001)), at),
            Err(ReceiptError::RefundExceedsPayment {
                refundable: rub(2000),
                requested: kop(200_001)
            })
        );
        // A small refund is not spread below a kopeck: the items with the largest remainders
        // take the kopecks.
        let one = refund_receipt(&income, &[], &refund(2, kop(3)), at).unwrap();
        assert_eq!(one.total, kop(3));
        assert!(one.items.iter().all(|i| i.amount.is_positive()));
    }

    #[test]
    fn refund_receipts_refuse_what_does_not_belong() {
        let income = build(&two_thousand(), &ReceiptPolicy::default()).unwrap();
        let at = datetime!(2026-03-25 12:00 UTC);
        let first = refund_receipt(&income, &[], &refund(1, rub(500)), at).unwrap();
        assert_eq!(
            refund_receipt(&first, &[], &refund(2, rub(1)), at),
            Err(ReceiptError::NotAnIncomeReceipt)
        );
        let mut other = refund(2, rub(1));
        other.payment = PaymentId::new(6);
        assert_eq!(
            refund_receipt(&income, &[], &other, at),
            Err(ReceiptError::OtherPayment {
                expected: PaymentId::new(5),
                found: PaymentId::new(6)
            })
        );
        let mut foreign = first.clone();
        foreign.payment = PaymentId::new(6);
        assert!(matches!(
            refund_receipt(&income, &[foreign], &refund(2, rub(1)), at),
            Err(ReceiptError::OtherPayment { .. })
        ));
        let mut renamed = first.clone();
        renamed.items[0].name = "Что-то ещё".into();
        assert_eq!(
            refund_receipt(&income, &[renamed], &refund(2, rub(1)), at),
            Err(ReceiptError::UnknownItem("Что-то ещё".into()))
        );
        assert_eq!(
            refund_receipt(&income, &[], &refund(2, Money::ZERO), at),
            Err(ReceiptError::NonPositiveRefund(Money::ZERO))
        );
    }

    #[test]
    fn every_refusal_has_a_russian_message() {
        let messages = [
            ReceiptError::NotCredited(PaymentState::Pending).user_message(),
            ReceiptError::OtherAccount {
                account: AccountId::new(1),
                payment_account: AccountId::new(2),
            }
            .user_message(),
            ReceiptError::Unbalanced {
                items: rub(1),
                total: rub(2),
            }
            .user_message(),
            ReceiptError::NotAnIncomeReceipt.user_message(),
            ReceiptError::OtherPayment {
                expected: PaymentId::new(1),
                found: PaymentId::new(2),
            }
            .user_message(),
            ReceiptError::NonPositiveRefund(Money::ZERO).user_message(),
            ReceiptError::RefundExceedsPayment {
                refundable: rub(1),
                requested: rub(2),
            }
            .user_message(),
            ReceiptError::UnknownItem("Пени".into()).user_message(),
            ReceiptIssueError::PaymentNotFound.user_message(),
            ReceiptIssueError::RefundNotFound.user_message(),
            ReceiptIssueError::RefundNotCarriedOut(RefundStatus::Requested).user_message(),
            ReceiptIssueError::RefundNotCarriedOut(RefundStatus::Rejected {
                on: date!(2026 - 03 - 25),
                reason: "x".into(),
            })
            .user_message(),
            ReceiptIssueError::Receipt(ReceiptError::NotAnIncomeReceipt).user_message(),
            ReceiptIssueError::Repo(DOWN()).user_message(),
            ReceiptsReadError::AccountNotFound.user_message(),
            ReceiptsReadError::PaymentNotFound.user_message(),
            ReceiptsReadError::Repo(DOWN()).user_message(),
        ];
        for m in messages {
            assert!(m.chars().any(|c| ('а'..='я').contains(&c)), "{m}");
            assert!(!m.contains("db down"), "{m}");
        }
        assert_eq!(ReceiptIssueError::Repo(DOWN()).into_repo(), DOWN());
        assert!(matches!(
            ReceiptIssueError::PaymentNotFound.into_repo(),
            RepoError::Corrupt(_)
        ));
    }

    #[test]
    fn tags_and_labels() {
        assert_eq!(ReceiptKind::Income.tag(), 1);
        assert_eq!(ReceiptKind::IncomeReturn.russian(), "Возврат прихода");
        assert_eq!(PaymentMethodSign::CreditPayment.tag(), 7);
        assert_eq!(PaymentMethodSign::Advance.russian(), "Аванс");
        assert!(PaymentMethodSign::Advance.is_prepayment());
        assert!(!PaymentMethodSign::FullPayment.is_prepayment());
        assert_eq!(PaymentSubject::NonOperatingIncome.tag(), 15);
        assert_eq!(PaymentSubject::Service.russian(), "Услуга");
        assert_eq!(TaxationSystem::Patent.tag(), 32);
        assert_eq!(TaxationSystem::General.russian(), "ОСН");
        let r = ReceiptKey {
            payment: PaymentId::new(5),
            kind: ReceiptKind::IncomeReturn,
            refund: None,
        };
        assert_eq!(r.external_id(), "return-5");
    }

    // ----- property tests -----------------------------------------------------------------------

    const SERVICES: [ServiceKind; 4] = [
        ServiceKind::Electricity,
        ServiceKind::ElectricityCommon,
        ServiceKind::ColdWater,
        ServiceKind::Penalty,
    ];

    /// Charges (service, period index from 10.2025, kopecks), then one payment of `amount`
    /// split by default or by service, credited on 20.03.2026: its confirmation as the ledger
    /// gives it.
    fn credited(
        charges: &[(usize, u32, i64)],
        amount: i64,
        split: Option<Vec<(usize, i64)>>,
    ) -> PaymentConfirmation {
        let mut ledger = Ledger::new(AccountId::new(1), &SERVICES);
        let day = date!(2026 - 03 - 01);
        for &(s, m, k) in charges {
            let period = p(2025, 10).plus_months(i32::try_from(m).unwrap_or(0));
            let due = period.next().day_clamped(15);
            let amount = kop(k);
            if SERVICES[s] == ServiceKind::Penalty {
                ledger.post_penalty(day, period, amount, due).unwrap();
            } else {
                ledger
                    .post_charge(day, period, SERVICES[s], amount, due)
                    .unwrap();
            }
        }
        let split = match split {
            None => PaymentSplit::Default,
            Some(parts) => {
                let mut seen = Vec::new();
                let mut list = Vec::new();
                for (s, k) in parts {
                    if !seen.contains(&s) {
                        seen.push(s);
                        list.push((SERVICES[s], kop(k)));
                    }
                }
                PaymentSplit::ByService(list)
            }
        };
        let amount = match &split {
            PaymentSplit::Default => kop(amount),
            PaymentSplit::ByService(parts) => parts.iter().map(|x| x.1).sum(),
        };
        let id = PaymentId::new(5);
        let on = date!(2026 - 03 - 20);
        ledger
            .create_payment(id, amount, on, split.clone())
            .unwrap();
        ledger.succeed_payment(id, on).unwrap();
        let paid = ledger.payment(id).unwrap();
        confirmation(amount, split, paid.allocation().to_vec(), paid.to_advance())
    }

    fn arb_policy() -> impl Strategy<Value = ReceiptPolicy> {
        let sign = prop_oneof![
            Just(PaymentMethodSign::FullPayment),
            Just(PaymentMethodSign::CreditPayment),
            Just(PaymentMethodSign::Advance),
            Just(PaymentMethodSign::FullPrepayment),
        ];
        (any::<bool>(), any::<bool>(), sign.clone(), sign).prop_map(
            |(payer, penalties_without_vat, past_debt, advance)| ReceiptPolicy {
                vat: if payer {
                    SellerVat::Payer(VatSchedule::russian_general())
                } else {
                    SellerVat::NotPayer
                },
                penalties_without_vat,
                methods: MethodPolicy {
                    past_debt,
                    advance,
                    ..MethodPolicy::default()
                },
                ..ReceiptPolicy::default()
            },
        )
    }

    fn arb_payment() -> impl Strategy<Value = PaymentConfirmation> {
        let charges = prop::collection::vec((0..SERVICES.len(), 0u32..5, 0i64..200_000), 0..12);
        let split = prop::option::of(prop::collection::vec(
            (0..SERVICES.len(), 1i64..300_000),
            1..4,
        ));
        (charges, 1i64..1_000_000, split).prop_map(|(c, a, s)| credited(&c, a, s))
    }

    /// The invariants every receipt keeps: positive items adding up to the total, each item's
    /// VAT by the one rule from its own amount, and the per-treatment totals the sums of the
    /// items.
    fn check_receipt(r: &FiscalReceipt, total: Money) -> Result<(), TestCaseError> {
        prop_assert!(!r.items.is_empty());
        prop_assert_eq!(r.total, total);
        prop_assert_eq!(r.items.iter().map(|i| i.amount).sum::<Money>(), total);
        for item in &r.items {
            prop_assert!(item.amount.is_positive(), "{:?}", item);
            let expected = match item.vat.rate() {
                Some(rate) => vat_inside(item.amount, rate),
                None => Money::ZERO,
            };
            prop_assert_eq!(item.vat_amount, expected);
            if item.vat.rate().is_some() {
                prop_assert_eq!(
                    matches!(item.vat, ItemVat::Calculated(_)),
                    item.method.is_prepayment()
                );
            }
        }
        let mut treatments: Vec<ItemVat> = r.items.iter().map(|i| i.vat).collect();
        treatments.sort();
        treatments.dedup();
        prop_assert_eq!(r.vat_totals.len(), treatments.len());
        for (t, vat) in r.vat_totals.iter().zip(treatments) {
            prop_assert_eq!(t.vat, vat);
            let of = r.items.iter().filter(|i| i.vat == vat);
            prop_assert_eq!(t.amount, of.clone().map(|i| i.amount).sum::<Money>());
            prop_assert_eq!(t.vat_amount, of.map(|i| i.vat_amount).sum::<Money>());
        }
        prop_assert_eq!(r.vat_totals.iter().map(|t| t.amount).sum::<Money>(), total);
        Ok(())
    }

    proptest! {
        /// Over any charges and any payment (default or split by service) the ledger credits:
        /// the income receipt's items add up to the payment exactly, are positive, carry the VAT
        /// of their own amount at their rate (none for «Без НДС»), and the VAT totals are the
        /// per-treatment sums of the items. Penalties are «Без НДС» under that policy, and a
        /// seller that is not a VAT payer has no VAT at all.
        #[test]
        fn income_receipts_add_up_and_carry_their_own_vat(
            c in arb_payment(),
            policy in arb_policy(),
        ) {
            let r = build(&c, &policy).unwrap();
            check_receipt(&r, c.payment.amount)?;
            prop_assert_eq!(
                r.items.iter().filter(|i| i.period.is_none()).map(|i| i.amount).sum::<Money>(),
                c.to_advance
            );
            for item in &r.items {
                let penalty = item.service == Some(ServiceKind::Penalty);
                if matches!(policy.vat, SellerVat::NotPayer)
                    || (penalty && policy.penalties_without_vat)
                {
                    prop_assert_eq!(item.vat, ItemVat::NotSubject);
                } else {
                    prop_assert!(item.vat.rate().is_some());
                }
            }
        }

        /// Any sequence of refunds of a payment, each at most what is left: every return
        /// receipt adds up to its refund and keeps the VAT rule; no item is ever returned beyond
        /// what was paid for it; and returning everything left returns each item exactly.
        #[test]
        fn refunds_never_return_more_than_was_paid(
            c in arb_payment(),
            policy in arb_policy(),
            shares in prop::collection::vec(1u32..=100, 1..6),
        ) {
            let income = build(&c, &policy).unwrap();
            let at = datetime!(2026-03-25 12:00 UTC);
            let mut returns: Vec<FiscalReceipt> = Vec::new();
            let mut left = income.total;
            for (n, share) in shares.iter().enumerate() {
                let last = n + 1 == shares.len();
                let amount = if last {
                    left
                } else {
                    Money::round(left.amount() * Decimal::from(*share) / Decimal::ONE_HUNDRED)
                };
                if !amount.is_positive() {
                    continue;
                }
                let id = u64::try_from(n).unwrap_or(0) + 1;
                let r = refund_receipt(&income, &returns, &refund(id, amount), at).unwrap();
                check_receipt(&r, amount)?;
                left -= amount;
                returns.push(r);
                for item in &income.items {
                    let returned: Money = returns
                        .iter()
                        .flat_map(|r| &r.items)
                        .filter(|i| i.same_line(item))
                        .map(|i| i.amount)
                        .sum();
                    prop_assert!(returned <= item.amount, "{:?}", item);
                    if last {
                        prop_assert_eq!(returned, item.amount);
                    }
                }
            }
            let more = refund_receipt(&income, &returns, &refund(99, kop(1)), at);
            prop_assert!(
                matches!(more, Err(ReceiptError::RefundExceedsPayment { .. })),
                "{:?}",
                more
            );
        }
    }

    // ----- the use case --------------------------------------------------------------------------

    /// Receipts in memory, unique per key, with claim failures to inject; `credited` stands for
    /// the ledger's credited payments (id, gateway id, created on).
    #[derive(Default)]
    struct MemoryReceipts {
        rows: Mutex<Vec<StoredReceipt>>,
        claims: Mutex<u32>,
        failing_claims: Mutex<u32>,
        credited: Mutex<Vec<(PaymentId, GatewayPaymentId, Date)>>,
    }

    impl MemoryReceipts {
        fn rows(&self) -> Vec<StoredReceipt> {
            self.rows.lock().unwrap().clone()
        }
        fn claims(&self) -> u32 {
            *self.claims.lock().unwrap()
        }
    }

    #[async_trait::async_trait]
    impl ReceiptRepository for MemoryReceipts {
        async fn claim(&self, receipt: &FiscalReceipt) -> Result<ReceiptId, RepoError> {
            {
                let mut failing = self.failing_claims.lock().unwrap();
                if *failing > 0 {
                    *failing -= 1;
                    return Err(DOWN());
                }
            }
            let mut rows = self.rows.lock().unwrap();
            if rows.iter().any(|s| s.receipt.key() == receipt.key()) {
                return Err(RepoError::Duplicate);
            }
            *self.claims.lock().unwrap() += 1;
            let id = ReceiptId::new(rows.len() as u64 + 1);
            rows.push(StoredReceipt {
                id,
                receipt: receipt.clone(),
                registration: None,
            });
            Ok(id)
        }
        async fn registered(
            &self,
            id: ReceiptId,
            registration: &FiscalRegistration,
        ) -> Result<(), RepoError> {
            let mut rows = self.rows.lock().unwrap();
            let row = rows
                .iter_mut()
                .find(|s| s.id == id)
                .ok_or(RepoError::NotFound)?;
            row.registration.get_or_insert_with(|| registration.clone());
            Ok(())
        }
        async fn by_key(&self, key: ReceiptKey) -> Result<Option<StoredReceipt>, RepoError> {
            let rows = self.rows.lock().unwrap();
            Ok(rows.iter().find(|s| s.receipt.key() == key).cloned())
        }
        async fn of_payment(&self, payment: PaymentId) -> Result<Vec<StoredReceipt>, RepoError> {
            let rows = self.rows.lock().unwrap();
            Ok(rows
                .iter()
                .filter(|s| s.receipt.payment == payment)
                .cloned()
                .collect())
        }
        async fn pending(&self, limit: u32) -> Result<Vec<StoredReceipt>, RepoError> {
            let rows = self.rows.lock().unwrap();
            Ok(rows
                .iter()
                .filter(|s| s.registration.is_none())
                .take(limit as usize)
                .cloned()
                .collect())
        }
        async fn of_account(
            &self,
            account: AccountId,
            limit: u32,
        ) -> Result<Vec<StoredReceipt>, RepoError> {
            let rows = self.rows.lock().unwrap();
            Ok(rows
                .iter()
                .rev()
                .filter(|s| s.receipt.account == account)
                .take(limit as usize)
                .cloned()
                .collect())
        }
        async fn credited_without_receipt(
            &self,
            since: Date,
            limit: u32,
        ) -> Result<Vec<GatewayPaymentId>, RepoError> {
            let rows = self.rows.lock().unwrap();
            let credited = self.credited.lock().unwrap();
            Ok(credited
                .iter()
                .filter(|(id, _, on)| {
                    *on >= since
                        && !rows
                            .iter()
                            .any(|s| s.receipt.key() == ReceiptKey::income(*id))
                })
                .take(limit as usize)
                .map(|(_, g, _)| g.clone())
                .collect())
        }
    }

    fn registration(n: u64) -> FiscalRegistration {
        FiscalRegistration {
            fiscal_number: "9999078900012345".into(),
            document_number: n,
            fiscal_sign: format!("{:010}", 1_234_567 + n),
            registered_at: datetime!(2026-03-21 00:00:05 UTC),
        }
    }

    /// A registrar that registers `times` receipts, numbering them from 1.
    fn registrar(times: usize) -> MockFiscalRegistrar {
        let mut r = MockFiscalRegistrar::new();
        let mut n = 0;
        r.expect_register().times(times).returning(move |_| {
            n += 1;
            Ok(registration(n))
        });
        r
    }

    /// The started payment's record, with the payer's receipt contact.
    fn records() -> Arc<MemoryRecords> {
        let records = Arc::new(MemoryRecords::default());
        records.rows.lock().unwrap().push(OnlinePaymentRecord {
            gateway_id: gw(),
            order_ref: "ord-1".into(),
            account: AccountId::new(1),
            amount: rub(500),
            split: PaymentSplit::Default,
            payer: "subscriber:42".into(),
            contact: ReceiptContact {
                email: None,
                phone: Some("+79161234567".into()),
            },
            confirmation_url: "https://pay.example/confirm/sbp-0001".into(),
            created_at: datetime!(2026-03-20 10:00 UTC),
        });
        records
    }

    fn online(
        billing: BillingService,
        records: &Arc<MemoryRecords>,
        registrar: impl FiscalRegistrar + 'static,
        receipts: &Arc<MemoryReceipts>,
    ) -> OnlinePayments {
        OnlinePayments::new(
            Arc::new(billing),
            Arc::new(MockPaymentGateway::new()),
            records.clone(),
        )
        .with_receipts(
            Arc::new(registrar),
            receipts.clone(),
            ReceiptPolicy::default(),
        )
    }

    /// The online payments over `store` with the payer's record, receipts in memory and
    /// `registrar`.
    fn setup(
        store: &Arc<Mutex<Store>>,
        registrar: impl FiscalRegistrar + 'static,
    ) -> (OnlinePayments, Arc<MemoryReceipts>) {
        let receipts = Arc::new(MemoryReceipts::default());
        let s = online(billing(store).service(), &records(), registrar, &receipts);
        (s, receipts)
    }

    fn succeeded() -> crate::online::GatewayEvent {
        event(GatewayStatus::Succeeded)
    }

    #[tokio::test]
    async fn a_webhook_delivered_twice_issues_one_receipt_to_the_payers_contact() {
        let store = store_with_pending_payment();
        let (s, receipts) = setup(&store, registrar(1));
        let first = s.on_event(succeeded()).await.unwrap();
        assert_eq!(first.outcome, EventOutcome::Credited);
        let second = s.on_event(succeeded()).await.unwrap();
        assert_eq!(second.outcome, EventOutcome::Unchanged);
        assert_eq!(receipts.claims(), 1);
        let rows = receipts.rows();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].registration, Some(registration(1)));
        let r = &rows[0].receipt;
        assert_eq!(r.key(), ReceiptKey::income(PaymentId::new(5)));
        assert_eq!(r.contact.phone.as_deref(), Some("+79161234567"));
        assert_eq!(r.at, datetime!(2026-03-21 00:00 UTC));
        assert_eq!(r.items.len(), 1);
        assert_eq!(r.items[0].name, "Электроснабжение, ЛС 1001, за 02.2026");
        assert_eq!(r.items[0].amount, rub(500));
        assert_eq!(r.items[0].vat_amount, kop(9_016)); // 500 × 22/122 = 90.163…
        // The cabinet's reads.
        let receipts_api = s.receipts().unwrap();
        assert_eq!(
            receipts_api
                .receipts_of_account(AccountId::new(1), 10)
                .await
                .unwrap(),
            rows
        );
        assert_eq!(
            receipts_api
                .receipts_of_account(AccountId::new(2), 10)
                .await,
            Err(ReceiptsReadError::AccountNotFound)
        );
        assert_eq!(
            receipts_api
                .receipts_of_payment(AccountId::new(1), &gw())
                .await
                .unwrap(),
            rows
        );
        assert_eq!(
            receipts_api
                .receipts_of_payment(AccountId::new(2), &gw())
                .await,
            Err(ReceiptsReadError::PaymentNotFound)
        );
        assert_eq!(receipts_api.policy(), &ReceiptPolicy::default());
    }

    #[tokio::test]
    async fn a_registrar_that_is_down_leaves_the_receipt_pending_until_the_retry() {
        let store = store_with_pending_payment();
        let mut r = MockFiscalRegistrar::new();
        let mut calls = 0;
        r.expect_register().times(2).returning(move |_| {
            calls += 1;
            if calls == 1 {
                Err(GatewayError::Unavailable("timeout".into()))
            } else {
                Ok(registration(7))
            }
        });
        let (s, receipts) = setup(&store, r);
        // Not an error for the webhook: the payment is credited, the receipt pending.
        let applied = s.on_event(succeeded()).await.unwrap();
        assert_eq!(applied.outcome, EventOutcome::Credited);
        assert_eq!(receipts.rows()[0].registration, None);
        // A repeated notification neither claims nor registers again.
        s.on_event(succeeded()).await.unwrap();
        assert_eq!(receipts.claims(), 1);

        let api = s.receipts().unwrap();
        let pass = api.issue_pending_receipts(10).await.unwrap();
        assert_eq!(pass.registered, vec![ReceiptId::new(1)]);
        assert!(pass.still_pending.is_empty());
        assert_eq!(receipts.rows()[0].registration, Some(registration(7)));
        assert_eq!(
            api.issue_pending_receipts(10).await.unwrap(),
            PendingPass::default()
        );
    }

    #[tokio::test]
    async fn a_pass_reports_what_the_registrar_still_refuses() {
        let store = store_with_pending_payment();
        let mut r = MockFiscalRegistrar::new();
        r.expect_register()
            .times(2)
            .returning(|_| Err(GatewayError::Declined("ИНН не совпадает".into())));
        let (s, _) = setup(&store, r);
        s.on_event(succeeded()).await.unwrap();
        let pass = s
            .receipts()
            .unwrap()
            .issue_pending_receipts(10)
            .await
            .unwrap();
        assert!(pass.registered.is_empty());
        assert_eq!(
            pass.still_pending,
            vec![(
                ReceiptId::new(1),
                GatewayError::Declined("ИНН не совпадает".into())
            )]
        );
    }

    #[tokio::test]
    async fn a_credit_without_a_receipt_gets_it_from_reconcile() {
        // The process stopped between crediting and claiming the receipt.
        let store = store_with_succeeded_payment();
        let (s, receipts) = setup(&store, registrar(1));
        let got = s.reconcile(&gw()).await.unwrap();
        assert_eq!(got.outcome, EventOutcome::Unchanged);
        assert_eq!(receipts.claims(), 1);
        assert_eq!(receipts.rows()[0].receipt.total, rub(500));
        // Again, by polling or by a late notification: still one.
        s.reconcile(&gw()).await.unwrap();
        s.on_event(succeeded()).await.unwrap();
        assert_eq!(receipts.claims(), 1);
        assert_eq!(receipts.rows().len(), 1);
    }

    #[tokio::test]
    async fn the_backfill_issues_what_a_stop_after_crediting_left_behind() {
        let store = store_with_succeeded_payment();
        let (s, receipts) = setup(&store, registrar(1));
        let credited = (PaymentId::new(5), gw(), date!(2026 - 03 - 20));
        receipts.credited.lock().unwrap().push(credited);
        let api = s.receipts().unwrap();
        // Payments before `since` are left alone.
        assert_eq!(
            api.backfill_income_receipts(date!(2026 - 03 - 21), 10)
                .await
                .unwrap(),
            BackfillPass::default()
        );
        let pass = api
            .backfill_income_receipts(date!(2026 - 03 - 01), 10)
            .await
            .unwrap();
        assert_eq!(pass.issued.len(), 1);
        assert_eq!(pass.issued[0].outcome, IssueOutcome::Registered);
        assert!(pass.refused.is_empty());
        // Done: the next pass finds nothing.
        let again = api
            .backfill_income_receipts(date!(2026 - 03 - 01), 10)
            .await
            .unwrap();
        assert_eq!(again, BackfillPass::default());
        // A payment the ledger does not know is refused (for an operator), not a storage failure.
        let pending = GatewayPaymentId::parse("other").unwrap();
        receipts.credited.lock().unwrap().push((
            PaymentId::new(6),
            pending.clone(),
            date!(2026 - 03 - 20),
        ));
        let pass = api
            .backfill_income_receipts(date!(2026 - 03 - 01), 10)
            .await
            .unwrap();
        assert_eq!(
            pass.refused,
            vec![(pending, ReceiptIssueError::PaymentNotFound)]
        );
    }

    #[tokio::test]
    async fn a_failed_claim_fails_the_webhook_and_the_redelivery_claims() {
        let store = store_with_pending_payment();
        let (s, receipts) = setup(&store, registrar(1));
        *receipts.failing_claims.lock().unwrap() = 1;
        assert_eq!(s.on_event(succeeded()).await, Err(EventError::Repo(DOWN())));
        // The credit stays applied.
        assert_eq!(
            s.proposal(AccountId::new(1)).await.unwrap().balance,
            rub(300)
        );
        assert!(receipts.rows().is_empty());
        let again = s.on_event(succeeded()).await.unwrap();
        assert_eq!(again.outcome, EventOutcome::Unchanged);
        assert_eq!(receipts.claims(), 1);
        assert!(receipts.rows()[0].registration.is_some());
    }

    #[tokio::test]
    async fn a_receipt_claimed_concurrently_is_answered_not_registered_again() {
        let store = store_with_succeeded_payment();
        let records = records();
        let winner = Arc::new(Mutex::new(None::<StoredReceipt>));
        let mut repo = MockReceiptRepository::new();
        let w = winner.clone();
        repo.expect_by_key()
            .returning(move |_| Ok(w.lock().unwrap().clone()));
        let w = winner.clone();
        // The other issue claims between our lookup and our claim.
        repo.expect_claim().times(1).returning(move |r| {
            *w.lock().unwrap() = Some(StoredReceipt {
                id: ReceiptId::new(9),
                receipt: r.clone(),
                registration: None,
            });
            Err(RepoError::Duplicate)
        });
        let api = Receipts::new(
            Arc::new(billing(&store).service()),
            records,
            Arc::new(MockFiscalRegistrar::new()), // never called
            Arc::new(repo),
            ReceiptPolicy::default(),
        );
        let got = api.ensure_income_receipt(&gw()).await.unwrap();
        assert_eq!(got.outcome, IssueOutcome::AlreadyClaimed);
        assert_eq!(got.stored.id, ReceiptId::new(9));
    }

    #[tokio::test]
    async fn ensuring_a_receipt_needs_a_credited_payment() {
        let store = store_with_pending_payment();
        let records = Arc::new(MemoryRecords::default());
        let receipts = Arc::new(MemoryReceipts::default());
        let s = online(
            billing(&store).service(),
            &records,
            MockFiscalRegistrar::new(),
            &receipts,
        );
        let api = s.receipts().unwrap();
        assert_eq!(
            api.ensure_income_receipt(&gw()).await.unwrap_err(),
            ReceiptIssueError::Receipt(ReceiptError::NotCredited(PaymentState::Pending))
        );
        let other = GatewayPaymentId::parse("other").unwrap();
        assert_eq!(
            api.ensure_income_receipt(&other).await.unwrap_err(),
            ReceiptIssueError::PaymentNotFound
        );
        assert!(receipts.rows().is_empty());
    }

    #[tokio::test]
    async fn a_payment_without_an_online_record_gets_a_receipt_without_a_contact() {
        let store = store_with_succeeded_payment();
        let records = Arc::new(MemoryRecords::default());
        let receipts = Arc::new(MemoryReceipts::default());
        let s = online(billing(&store).service(), &records, registrar(1), &receipts);
        let got = s
            .receipts()
            .unwrap()
            .ensure_income_receipt(&gw())
            .await
            .unwrap();
        assert_eq!(got.outcome, IssueOutcome::Registered);
        assert!(got.stored.receipt.contact.is_empty());
    }

    /// The 500 ₽ payment succeeded, refunds kept in the store, receipts in memory, and a
    /// registrar expecting `registrations` receipts.
    fn refund_setup(registrations: usize) -> (Arc<BillingService>, Arc<MemoryReceipts>, Receipts) {
        let store = store_with_succeeded_payment();
        let mut m = refund_mocks(&store);
        m.supplier();
        let billing = Arc::new(m.service());
        let receipts = Arc::new(MemoryReceipts::default());
        let api = Receipts::new(
            billing.clone(),
            records(),
            Arc::new(registrar(registrations)),
            receipts.clone(),
            ReceiptPolicy::default(),
        );
        (billing, receipts, api)
    }

    /// A written refund request of `amount`, registered under `number`.
    async fn requested(billing: &BillingService, amount: Money, number: &str) -> RefundRequest {
        billing
            .request_refund(refund_cmd(amount, number))
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_refund_gets_its_return_receipt_once() {
        let (billing, receipts, api) = refund_setup(2);
        let request = requested(&billing, rub(200), "17/03").await;
        // Not carried out yet: no receipt.
        assert_eq!(
            api.issue_refund_receipt(request.id).await,
            Err(ReceiptIssueError::RefundNotCarriedOut(
                RefundStatus::Requested
            ))
        );
        billing.refund_payment(request.id).await.unwrap();
        let got = api.issue_refund_receipt(request.id).await.unwrap();
        assert_eq!(got.outcome, IssueOutcome::Registered);
        let r = &got.stored.receipt;
        assert_eq!(r.kind, ReceiptKind::IncomeReturn);
        assert_eq!(r.refund, Some(request.id));
        assert_eq!(r.total, rub(200));
        assert_eq!(r.items[0].name, "Электроснабжение, ЛС 1001, за 02.2026");
        assert_eq!(r.items[0].vat_amount, kop(3_607));
        assert_eq!(r.contact.phone.as_deref(), Some("+79161234567"));
        assert_eq!(r.at, datetime!(2026-03-25 00:00 UTC));
        // The income receipt was issued first, then the return.
        let rows = receipts.rows();
        assert_eq!(
            rows.iter().map(|s| s.receipt.kind).collect::<Vec<_>>(),
            [ReceiptKind::Income, ReceiptKind::IncomeReturn]
        );
        // Again: the stored one.
        let again = api.issue_refund_receipt(request.id).await.unwrap();
        assert_eq!(again.outcome, IssueOutcome::AlreadyClaimed);
        assert_eq!(again.stored, got.stored);
        assert_eq!(receipts.claims(), 2);
        assert_eq!(
            api.issue_refund_receipt(RefundRequestId::new(99)).await,
            Err(ReceiptIssueError::RefundNotFound)
        );
    }

    #[tokio::test]
    async fn a_full_refund_after_a_partial_one_returns_the_rest() {
        let (billing, receipts, api) = refund_setup(3);
        for (amount, number) in [(rub(200), "1"), (rub(300), "2")] {
            let request = requested(&billing, amount, number).await;
            billing.refund_payment(request.id).await.unwrap();
            let got = api.issue_refund_receipt(request.id).await.unwrap();
            assert_eq!(got.stored.receipt.total, amount);
        }
        // The payment is refunded in full now; its receipts still add up.
        let rows = receipts.rows();
        assert_eq!(rows.len(), 3);
        let returned: Money = rows[1..].iter().map(|s| s.receipt.total).sum();
        assert_eq!(returned, rows[0].receipt.total);
    }
}
