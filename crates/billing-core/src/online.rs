//! Online payments through a payment gateway (plan G5): the proposed amount, starting a payment
//! at the gateway, applying the gateway's notifications and polling it.
//!
//! [`OnlinePayments`] is composed over [`BillingService`] and two ports of its own —
//! [`PaymentGateway`] (the acquirer: YooKassa, a bank's SBP …, or the sandbox) and
//! [`OnlinePaymentRepository`] (what was started, by whom, with which receipt contact) — so
//! [`crate::usecase::BillingPorts`] does not change. Money only moves through the billing use
//! cases: [`BillingService::post_payment`] records the payment (`Created`, the balance does not
//! move), [`BillingService::mark_payment_pending`] notes that the gateway has it,
//! [`BillingService::confirm_payment`] credits it exactly once and
//! [`BillingService::fail_payment`] records a decline.
//!
//! Idempotence:
//! - [`OnlinePayments::start`] is keyed by the caller's `order_ref` (the core reads no random
//!   source: the HTTP layer derives it from the subscriber and the `Idempotency-Key`, or draws
//!   it). The same `order_ref` again — also after a crash half-way — never creates a second
//!   gateway payment; it resumes and answers the stored one. The gateway is told the
//!   `order_ref` too, as its own idempotence key, so a retry after a lost answer finds the same
//!   payment there.
//! - [`OnlinePayments::on_event`] and [`OnlinePayments::reconcile`] may see the same status any
//!   number of times, in any order, in parallel: the ledger's compare-and-set credits a payment
//!   once and fails it once.
//!
//! Refunds are carried out on a written request by [`BillingService::refund_payment`]; a
//! gateway's refund notification changes nothing here.
//!
//! Fiscal receipts (plan G6): with [`OnlinePayments::with_receipts`], every credit — the first
//! confirmation, a repeated one, and a reconciliation that finds the payment succeeded — makes
//! sure the payment has exactly one income receipt ([`crate::receipt::Receipts`]); the refund
//! flow issues return receipts through [`OnlinePayments::receipts`]. Autopay (G7) is not part of
//! this module yet.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::Serialize;
use time::{Date, OffsetDateTime};

use crate::ids::AccountId;
use crate::ids::RefundRequestId;
use crate::ledger::{Ledger, LedgerError, PaymentSplit, PaymentState};
use crate::model::{AccountNumber, PaymentAmountError, Supplier};
use crate::money::Money;
use crate::ports::RefundStatus;
use crate::ports::{GatewayPaymentId, PaymentRecord, RepoError};
use crate::reads::{MarkPendingError, PendingOutcome};
use crate::receipt::{
    FiscalRegistrar, IssuedReceipt, ReceiptIssueError, ReceiptPolicy, ReceiptRepository, Receipts,
};
use crate::service::ServiceKind;
use crate::usecase::{
    BillingService, ConfirmOutcome, ConfirmPaymentError, FailOutcome, FailPaymentError,
    PaymentCheckError, PaymentRefund, PostPayment, PostPaymentError, RefundPaymentError,
    check_payment, split_message,
};

/// What a subscriber sees when a port failed: nothing about the cause.
const UNAVAILABLE_RU: &str = "Сервис временно недоступен. Повторите попытку позже.";

/// The reason recorded when the gateway declines a payment without saying why.
pub const UNSPECIFIED_DECLINE_REASON: &str = "платёж отклонён платёжной системой";

// ---------------------------------------------------------------------------------------------
// The gateway port
// ---------------------------------------------------------------------------------------------

/// Where the fiscal receipt of a payment is sent (54-ФЗ ст. 1.2 п. 5: an online payment's
/// receipt goes to the payer's email or phone). Plain text here; the HTTP layer validates it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ReceiptContact {
    /// Email address.
    pub email: Option<String>,
    /// Phone number.
    pub phone: Option<String>,
}

impl ReceiptContact {
    /// True if neither an email nor a phone (other than blanks) is given.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        let blank = |v: &Option<String>| v.as_deref().is_none_or(|s| s.trim().is_empty());
        blank(&self.email) && blank(&self.phone)
    }
}

/// A payment to create at the gateway.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GatewayPaymentRequest {
    /// The idempotence key at the gateway: the same `order_ref` again returns the payment
    /// created first.
    pub order_ref: String,
    /// The account paid (shown on the gateway's page and in its registry).
    pub account_number: AccountNumber,
    /// The amount.
    pub amount: Money,
    /// What is paid, in Russian (shown to the payer).
    pub description: String,
    /// Where the gateway sends the payer back.
    pub return_url: String,
    /// The fiscal receipt's contact.
    pub contact: ReceiptContact,
}

/// A payment the gateway created.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GatewayPayment {
    /// The gateway's id of it.
    pub id: GatewayPaymentId,
    /// The page where the payer confirms it (the redirect).
    pub confirmation_url: String,
}

/// What the gateway says about a payment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GatewayStatus {
    /// Waiting for the payer or the bank.
    Pending,
    /// The money was taken.
    Succeeded,
    /// Declined, cancelled or expired.
    Failed {
        /// Why, as the gateway said.
        reason: String,
    },
    /// (Part of) the payment was returned to the payer.
    Refunded {
        /// The amount returned so far.
        amount: Money,
    },
}

/// The gateway's id of a refund.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GatewayRefundId(String);

impl GatewayRefundId {
    /// The id as the gateway gave it.
    #[must_use]
    pub fn new(raw: impl Into<String>) -> GatewayRefundId {
        GatewayRefundId(raw.into())
    }

    /// The id as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for GatewayRefundId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GatewayRefundId({})", self.0)
    }
}

/// A refund to ask the gateway for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GatewayRefundRequest {
    /// The payment refunded.
    pub payment: GatewayPaymentId,
    /// The amount.
    pub amount: Money,
    /// The idempotence key of the refund at the gateway.
    pub refund_ref: String,
}

/// Why the gateway did not do what it was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    /// The gateway refused (the text is its reason).
    #[error("declined: {0}")]
    Declined(String),
    /// The gateway could not be reached or failed; the text is for logs only.
    #[error("unavailable: {0}")]
    Unavailable(String),
}

/// The payment gateway (acquirer).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait::async_trait]
pub trait PaymentGateway: Send + Sync {
    /// Creates a payment. MUST be idempotent per [`GatewayPaymentRequest::order_ref`]: the same
    /// `order_ref` again returns the payment created first.
    async fn create_payment(
        &self,
        request: &GatewayPaymentRequest,
    ) -> Result<GatewayPayment, GatewayError>;
    /// The payment's status now.
    async fn payment_status(&self, id: &GatewayPaymentId) -> Result<GatewayStatus, GatewayError>;
    /// Refunds (part of) a payment. MUST be idempotent per
    /// [`GatewayRefundRequest::refund_ref`].
    async fn refund(&self, request: &GatewayRefundRequest)
    -> Result<GatewayRefundId, GatewayError>;
}

// ---------------------------------------------------------------------------------------------
// The records port
// ---------------------------------------------------------------------------------------------

/// An online payment as started: what the gateway was asked and answered. The ledger holds the
/// payment itself ([`PaymentRecord`], same gateway id).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OnlinePaymentRecord {
    /// The gateway's id of the payment.
    pub gateway_id: GatewayPaymentId,
    /// The caller's idempotence key.
    pub order_ref: String,
    /// The account paid.
    pub account: AccountId,
    /// The amount (kept so that a start resumed after a crash posts what the gateway was
    /// asked for).
    pub amount: Money,
    /// The payer's split (likewise).
    pub split: PaymentSplit,
    /// Who paid: an opaque reference to the subscriber, for the cabinet's history.
    pub payer: String,
    /// The fiscal receipt's contact.
    pub contact: ReceiptContact,
    /// The gateway's confirmation page.
    pub confirmation_url: String,
    /// When it was started.
    pub created_at: OffsetDateTime,
}

/// The online payments started.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait::async_trait]
pub trait OnlinePaymentRepository: Send + Sync {
    /// Stores a started payment. MUST return [`RepoError::Duplicate`], writing nothing, if a
    /// record with the same `order_ref` or the same gateway id exists (a unique constraint,
    /// not a prior read).
    async fn insert(&self, record: &OnlinePaymentRecord) -> Result<(), RepoError>;
    /// The record with this `order_ref`.
    async fn by_order_ref(&self, order_ref: &str)
    -> Result<Option<OnlinePaymentRecord>, RepoError>;
    /// The record with this gateway id.
    async fn by_gateway_id(
        &self,
        id: &GatewayPaymentId,
    ) -> Result<Option<OnlinePaymentRecord>, RepoError>;
    /// Up to `limit` records created before `older_than` whose ledger payment is still
    /// `Created` or `Pending`, oldest first: what a reconciliation pass polls.
    async fn unsettled(
        &self,
        older_than: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<OnlinePaymentRecord>, RepoError>;
}

// ---------------------------------------------------------------------------------------------
// Proposal
// ---------------------------------------------------------------------------------------------

/// What the cabinet proposes to pay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaymentProposal {
    /// The account.
    pub account: AccountId,
    /// The day.
    pub as_of: Date,
    /// What is owed per service (open tranches), the split a payer starts from.
    pub debt_by_service: BTreeMap<ServiceKind, Money>,
    /// The proposed amount: the sum of `debt_by_service` — paying it settles every service.
    pub total: Money,
    /// The advance not yet consumed (shown, not deducted: a per-service advance does not pay
    /// another service's debt).
    pub advance: Money,
    /// The balance (positive is a debt).
    pub balance: Money,
    /// The least amount [`OnlinePayments::start`] accepts now: the supplier's minimum online
    /// payment, or the whole debt when that is smaller ([`Supplier::least_payment`]).
    pub minimum: Money,
}

impl PaymentProposal {
    /// The proposal for an account's ledger and its supplier on a day.
    #[must_use]
    pub fn new(ledger: &Ledger, supplier: &Supplier, as_of: Date) -> PaymentProposal {
        let debt_by_service = ledger.debt_by_service();
        let balance = ledger.balance();
        PaymentProposal {
            account: ledger.account(),
            as_of,
            total: debt_by_service.values().sum(),
            debt_by_service,
            advance: ledger.advance(),
            balance,
            minimum: supplier.least_payment(balance.positive_part()),
        }
    }
}

/// Why no proposal was made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProposalError {
    /// No account has this id.
    #[error("account not found")]
    AccountNotFound,
    /// A port failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

impl ProposalError {
    /// The refusal in Russian, for the subscriber.
    #[must_use]
    pub fn user_message(&self) -> String {
        match self {
            Self::AccountNotFound => "Лицевой счёт не найден.".into(),
            Self::Repo(_) => UNAVAILABLE_RU.into(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Start
// ---------------------------------------------------------------------------------------------

/// The longest `order_ref` accepted, in bytes.
pub const ORDER_REF_MAX_LEN: usize = 128;

/// A payment the subscriber starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StartPayment {
    /// The account paid.
    pub account: AccountId,
    /// The idempotence key: 1 to [`ORDER_REF_MAX_LEN`] printable ASCII characters, no spaces.
    pub order_ref: String,
    /// The amount.
    pub amount: Money,
    /// The payer's split by service, or the default order.
    pub split: PaymentSplit,
    /// Who pays: an opaque reference to the subscriber.
    pub payer: String,
    /// The fiscal receipt's contact: an email or a phone is required.
    pub contact: ReceiptContact,
    /// Where the gateway sends the payer back.
    pub return_url: String,
}

/// A payment started at the gateway.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StartedPayment {
    /// The payment in the ledger: `Pending` when just started; whatever it is now on a replay.
    pub payment: PaymentRecord,
    /// The gateway's page where the payer confirms the payment.
    pub confirmation_url: String,
    /// True when the `order_ref` had been started before: nothing new was created.
    pub replayed: bool,
}

/// Why a payment was not started.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StartPaymentError {
    /// The `order_ref` is empty, too long or has a space or a non-ASCII character.
    #[error("invalid order reference")]
    InvalidOrderRef,
    /// No account has this id.
    #[error("account not found")]
    AccountNotFound,
    /// Neither an email nor a phone was given for the fiscal receipt.
    #[error("receipt contact missing")]
    ContactMissing,
    /// The amount is not positive, or below the supplier's minimum online payment while it does
    /// not settle the whole debt.
    #[error(transparent)]
    InvalidAmount(#[from] PaymentAmountError),
    /// The split names a service the account does not have, names one twice, or does not add
    /// up to the amount.
    #[error("invalid split: {0}")]
    InvalidSplit(LedgerError),
    /// The `order_ref` was started before with another account, amount or split.
    #[error("order reference was used for another payment")]
    OrderRefConflict,
    /// The gateway refused to create the payment; nothing was recorded.
    #[error("gateway declined: {0}")]
    GatewayDeclined(String),
    /// The gateway could not be reached; nothing was recorded. Try again (with the same
    /// `order_ref`).
    #[error("gateway unavailable: {0}")]
    GatewayUnavailable(String),
    /// The gateway answered with a payment id the ledger holds for another payment (a gateway
    /// fault; for the logs).
    #[error("gateway reused payment id {0}")]
    GatewayIdConflict(GatewayPaymentId),
    /// A port failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

impl StartPaymentError {
    /// The refusal in Russian, for the subscriber.
    #[must_use]
    pub fn user_message(&self) -> String {
        match self {
            Self::InvalidOrderRef => "Некорректный идентификатор платежа.".into(),
            Self::AccountNotFound => "Лицевой счёт не найден.".into(),
            Self::ContactMissing => {
                "Укажите адрес электронной почты или телефон для получения чека.".into()
            }
            Self::InvalidAmount(e) => e.user_message(),
            Self::InvalidSplit(e) => split_message(e),
            Self::OrderRefConflict => {
                "Этот платёж уже начат с другими данными: начните новый платёж.".into()
            }
            Self::GatewayDeclined(_) => {
                "Платёжная система отклонила платёж. Попробуйте позже или другим способом.".into()
            }
            Self::GatewayUnavailable(_) => {
                "Платёжная система временно недоступна. Повторите попытку позже.".into()
            }
            Self::GatewayIdConflict(_) | Self::Repo(_) => UNAVAILABLE_RU.into(),
        }
    }
}

impl From<PaymentCheckError> for StartPaymentError {
    fn from(e: PaymentCheckError) -> Self {
        match e {
            PaymentCheckError::InvalidAmount(e) => Self::InvalidAmount(e),
            PaymentCheckError::InvalidSplit(e) => Self::InvalidSplit(e),
        }
    }
}

impl From<PostPaymentError> for StartPaymentError {
    fn from(e: PostPaymentError) -> Self {
        match e {
            PostPaymentError::AccountNotFound => Self::AccountNotFound,
            PostPaymentError::InvalidAmount(e) => Self::InvalidAmount(e),
            PostPaymentError::InvalidSplit(e) => Self::InvalidSplit(e),
            PostPaymentError::GatewayIdConflict { gateway_id, .. } => {
                Self::GatewayIdConflict(gateway_id)
            }
            PostPaymentError::Repo(e) => Self::Repo(e),
        }
    }
}

impl From<GatewayError> for StartPaymentError {
    fn from(e: GatewayError) -> Self {
        match e {
            GatewayError::Declined(r) => Self::GatewayDeclined(r),
            GatewayError::Unavailable(r) => Self::GatewayUnavailable(r),
        }
    }
}

/// True if `order_ref` is 1 to [`ORDER_REF_MAX_LEN`] printable ASCII characters without spaces.
fn valid_order_ref(order_ref: &str) -> bool {
    !order_ref.is_empty()
        && order_ref.len() <= ORDER_REF_MAX_LEN
        && order_ref.bytes().all(|b| b.is_ascii_graphic())
}

// ---------------------------------------------------------------------------------------------
// Gateway notifications and polling
// ---------------------------------------------------------------------------------------------

/// A notification from the gateway (its webhook, already authenticated by the HTTP layer).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GatewayEvent {
    /// The payment.
    pub payment: GatewayPaymentId,
    /// Its status at the gateway.
    pub status: GatewayStatus,
}

/// What applying a gateway status changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventOutcome {
    /// The payment went from `Created` to `Pending`.
    MarkedPending,
    /// The payment succeeded now: the account was credited.
    Credited,
    /// The payment was recorded failed now.
    Failed,
    /// Nothing changed: the status was applied before (a repeated notification), is behind
    /// the recorded state, or is a refund (refunds are carried out by
    /// [`BillingService::refund_payment`]).
    Unchanged,
}

/// A gateway status applied to a payment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppliedEvent {
    /// The payment as it is now.
    pub payment: PaymentRecord,
    /// What changed.
    pub outcome: EventOutcome,
}

/// Why a gateway notification was not applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// The ledger has no payment with this gateway id (yet): the notification may have
    /// overtaken [`OnlinePayments::start`]. The gateway should deliver it again later.
    #[error("payment not yet known")]
    PaymentNotYetKnown,
    /// The gateway's status contradicts the recorded final state (succeeded at the gateway,
    /// failed here, or the other way round): an operator must look at it.
    #[error("gateway status contradicts the payment's state {state:?}")]
    Contradicts {
        /// The state recorded.
        state: PaymentState,
    },
    /// The stored ledger refused the payment.
    #[error("ledger refused the payment: {0}")]
    Ledger(LedgerError),
    /// A port failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

impl EventError {
    /// The refusal in Russian (for the operator or the gateway adapter's log).
    #[must_use]
    pub fn user_message(&self) -> String {
        match self {
            Self::PaymentNotYetKnown => {
                "Платёж ещё не зарегистрирован: повторите уведомление позже.".into()
            }
            Self::Contradicts { state } => format!(
                "Статус платёжной системы противоречит состоянию платежа ({}): требуется проверка оператором.",
                state_ru(*state)
            ),
            Self::Ledger(_) | Self::Repo(_) => UNAVAILABLE_RU.into(),
        }
    }
}

/// Why a payment was not reconciled with the gateway.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReconcileError {
    /// The ledger has no payment with this gateway id.
    #[error("payment not found")]
    PaymentNotFound,
    /// The gateway did not answer; nothing changed. Try again later.
    #[error(transparent)]
    Gateway(#[from] GatewayError),
    /// The gateway's status contradicts the recorded final state.
    #[error("gateway status contradicts the payment's state {state:?}")]
    Contradicts {
        /// The state recorded.
        state: PaymentState,
    },
    /// The stored ledger refused the payment.
    #[error("ledger refused the payment: {0}")]
    Ledger(LedgerError),
    /// A port failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

impl ReconcileError {
    /// The refusal in Russian, for the subscriber.
    #[must_use]
    pub fn user_message(&self) -> String {
        match self {
            Self::PaymentNotFound => "Платёж не найден.".into(),
            Self::Gateway(_) => {
                "Платёжная система временно недоступна: статус платежа будет обновлён позже.".into()
            }
            Self::Contradicts { .. } => {
                "Статус платежа уточняется. Если деньги списаны, они будут зачислены после проверки.".into()
            }
            Self::Ledger(_) | Self::Repo(_) => UNAVAILABLE_RU.into(),
        }
    }
}

impl From<EventError> for ReconcileError {
    fn from(e: EventError) -> Self {
        match e {
            EventError::PaymentNotYetKnown => Self::PaymentNotFound,
            EventError::Contradicts { state } => Self::Contradicts { state },
            EventError::Ledger(e) => Self::Ledger(e),
            EventError::Repo(e) => Self::Repo(e),
        }
    }
}

fn state_ru(state: PaymentState) -> &'static str {
    match state {
        PaymentState::Created => "создан",
        PaymentState::Pending => "ожидает оплаты",
        PaymentState::Succeeded => "зачислен",
        PaymentState::Failed => "не прошёл",
        PaymentState::Refunded => "возвращён",
    }
}

/// A refund request carried out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OnlineRefund {
    /// The request refunded and the balance afterwards.
    pub refund: PaymentRefund,
    /// The gateway's id of the refund; `None` for a payment not taken online (returned by the
    /// supplier's own bank transfer).
    pub gateway_refund: Option<GatewayRefundId>,
    /// The return receipt, when receipts are on and the payment was taken online. An error
    /// leaves the refund standing: a claimed receipt is registered by the periodic pass of
    /// pending receipts, an unclaimed one by calling [`OnlinePayments::refund`] again.
    pub receipt: Option<Result<IssuedReceipt, ReceiptIssueError>>,
}

/// Why a refund request was not carried out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OnlineRefundError {
    /// The ledger refused it (not found, rejected, more than is left, …); nothing was returned
    /// at the gateway.
    #[error(transparent)]
    Refused(RefundPaymentError),
    /// The gateway refused the refund; nothing changed in the ledger.
    #[error("gateway declined the refund: {0}")]
    GatewayDeclined(String),
    /// The gateway could not be reached; nothing changed. Try again (the gateway refund is
    /// idempotent per request).
    #[error("gateway unavailable: {0}")]
    GatewayUnavailable(String),
    /// A port failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

impl OnlineRefundError {
    /// The refusal in Russian, for the operator.
    #[must_use]
    pub fn user_message(&self) -> String {
        match self {
            Self::Refused(e) => e.user_message(),
            Self::GatewayDeclined(_) => {
                "Платёжная система отказала в возврате: обратитесь в банк-эквайер.".into()
            }
            Self::GatewayUnavailable(_) => {
                "Платёжная система временно недоступна. Повторите возврат позже.".into()
            }
            Self::Repo(_) => UNAVAILABLE_RU.into(),
        }
    }
}

/// The gateway's idempotence key of the refund of `request`.
#[must_use]
pub fn refund_ref(request: RefundRequestId) -> String {
    format!("refund-{}", request.get())
}

// ---------------------------------------------------------------------------------------------
// The service
// ---------------------------------------------------------------------------------------------

/// The online payment use cases. Cheap to share behind an `Arc`; holds no per-request state.
pub struct OnlinePayments {
    billing: Arc<BillingService>,
    gateway: Arc<dyn PaymentGateway>,
    records: Arc<dyn OnlinePaymentRepository>,
    receipts: Option<Receipts>,
}

impl OnlinePayments {
    /// The service over the billing use cases, the gateway and the records of started payments.
    #[must_use]
    pub fn new(
        billing: Arc<BillingService>,
        gateway: Arc<dyn PaymentGateway>,
        records: Arc<dyn OnlinePaymentRepository>,
    ) -> OnlinePayments {
        OnlinePayments {
            billing,
            gateway,
            records,
            receipts: None,
        }
    }

    /// The same service issuing fiscal receipts (54-ФЗ, [`crate::receipt`]): after every credit
    /// [`OnlinePayments::on_event`] and [`OnlinePayments::reconcile`] make sure the payment has
    /// its one income receipt, sent to the contact the payer gave at
    /// [`OnlinePayments::start`].
    #[must_use]
    pub fn with_receipts(
        mut self,
        registrar: Arc<dyn FiscalRegistrar>,
        repository: Arc<dyn ReceiptRepository>,
        policy: ReceiptPolicy,
    ) -> OnlinePayments {
        self.receipts = Some(Receipts::new(
            self.billing.clone(),
            self.records.clone(),
            registrar,
            repository,
            policy,
        ));
        self
    }

    /// The receipt use cases (the refund flow's return receipts, the retry of pending
    /// registrations, the cabinet's list); `None` unless built
    /// [`OnlinePayments::with_receipts`].
    #[must_use]
    pub fn receipts(&self) -> Option<&Receipts> {
        self.receipts.as_ref()
    }

    /// What to propose the subscriber pays today: the debt per service, its total and the
    /// least amount accepted ([`PaymentProposal::new`]).
    pub async fn proposal(&self, account: AccountId) -> Result<PaymentProposal, ProposalError> {
        let ports = &self.billing.ports;
        let account = ports
            .accounts
            .account(account)
            .await?
            .ok_or(ProposalError::AccountNotFound)?;
        let supplier = self.billing.load_supplier(account.supplier).await?;
        let ledger = self.billing.ledger_of(&account).await?;
        Ok(PaymentProposal::new(
            &ledger,
            &supplier,
            ports.clock.today(),
        ))
    }

    /// Starts an online payment:
    ///
    /// 1. an `order_ref` started before is a **replay**: with the same account, amount and
    ///    split it resumes what may be left undone (steps 4–5) and answers the stored payment
    ///    with `replayed: true`; with anything different it is
    ///    [`StartPaymentError::OrderRefConflict`]. The gateway is not called again;
    /// 2. otherwise the amount and split are checked exactly as
    ///    [`BillingService::post_payment`] checks them ([`check_payment`]), and a receipt
    ///    contact is required;
    /// 3. the gateway creates the payment — if it refuses or cannot be reached, nothing is
    ///    recorded;
    /// 4. the start is recorded ([`OnlinePaymentRepository::insert`]; a concurrent start of the
    ///    same `order_ref` that recorded first makes this one a replay of it) and the payment
    ///    posted to the ledger ([`BillingService::post_payment`]: `Created`, the balance does
    ///    not move);
    /// 5. the payment is marked `Pending` ([`BillingService::mark_payment_pending`]).
    ///
    /// If a port fails after step 3 the gateway payment exists while the ledger may not know
    /// it yet; calling again with the same `order_ref` finishes the job (the gateway answers
    /// its first payment for the `order_ref`).
    pub async fn start(&self, cmd: StartPayment) -> Result<StartedPayment, StartPaymentError> {
        if !valid_order_ref(&cmd.order_ref) {
            return Err(StartPaymentError::InvalidOrderRef);
        }
        if let Some(started) = self.records.by_order_ref(&cmd.order_ref).await? {
            return self.resume(started, &cmd, true).await;
        }
        let ports = &self.billing.ports;
        let account = ports
            .accounts
            .account(cmd.account)
            .await?
            .ok_or(StartPaymentError::AccountNotFound)?;
        if cmd.contact.is_empty() {
            return Err(StartPaymentError::ContactMissing);
        }
        let supplier = self.billing.load_supplier(account.supplier).await?;
        let ledger = self.billing.ledger_of(&account).await?;
        check_payment(
            &supplier,
            &ledger,
            cmd.amount,
            &cmd.split,
            ports.clock.today(),
        )?;
        let created = self
            .gateway
            .create_payment(&GatewayPaymentRequest {
                order_ref: cmd.order_ref.clone(),
                account_number: account.number.clone(),
                amount: cmd.amount,
                description: format!("Оплата по лицевому счёту № {}", account.number),
                return_url: cmd.return_url.clone(),
                contact: cmd.contact.clone(),
            })
            .await?;
        let record = OnlinePaymentRecord {
            gateway_id: created.id,
            order_ref: cmd.order_ref.clone(),
            account: account.id,
            amount: cmd.amount,
            split: cmd.split.clone(),
            payer: cmd.payer.clone(),
            contact: cmd.contact.clone(),
            confirmation_url: created.confirmation_url,
            created_at: ports.clock.now(),
        };
        match self.records.insert(&record).await {
            Ok(()) => self.resume(record, &cmd, false).await,
            Err(RepoError::Duplicate) => {
                // A concurrent start of the same order_ref recorded first: the gateway answered
                // both with its one payment for the order_ref; finish as a replay of it.
                let first = self
                    .records
                    .by_order_ref(&cmd.order_ref)
                    .await?
                    .ok_or(RepoError::Conflict)?;
                self.resume(first, &cmd, true).await
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Steps 4 and 5 of [`OnlinePayments::start`] for a recorded start; both are idempotent.
    async fn resume(
        &self,
        started: OnlinePaymentRecord,
        cmd: &StartPayment,
        replayed: bool,
    ) -> Result<StartedPayment, StartPaymentError> {
        if started.account != cmd.account
            || started.amount != cmd.amount
            || started.split != cmd.split
        {
            return Err(StartPaymentError::OrderRefConflict);
        }
        self.billing
            .post_payment(PostPayment {
                account: started.account,
                gateway_id: started.gateway_id.clone(),
                amount: started.amount,
                split: started.split.clone(),
            })
            .await?;
        let pending = self
            .billing
            .mark_payment_pending(&started.gateway_id)
            .await
            .map_err(|e| match e {
                MarkPendingError::PaymentNotFound => RepoError::NotFound,
                MarkPendingError::Repo(e) => e,
            })?;
        Ok(StartedPayment {
            payment: pending.payment,
            confirmation_url: started.confirmation_url,
            replayed,
        })
    }

    /// Applies a gateway notification: `Pending` marks the payment pending, `Succeeded`
    /// confirms it ([`BillingService::confirm_payment`]: credited exactly once), `Failed`
    /// records the decline ([`BillingService::fail_payment`]; an empty reason becomes
    /// [`UNSPECIFIED_DECLINE_REASON`]), `Refunded` changes nothing. **Idempotent**: a repeated
    /// notification answers [`EventOutcome::Unchanged`]. A payment the ledger does not know
    /// (yet) is [`EventError::PaymentNotYetKnown`]: the gateway retries later.
    ///
    /// With receipts ([`OnlinePayments::with_receipts`]), `Succeeded` — credited now or before —
    /// then makes sure the payment has its income receipt. A registrar failure leaves the receipt
    /// pending and is not an error; a storage failure while claiming it is
    /// [`EventError::Repo`] although the credit stays applied, so the gateway delivers the
    /// notification again and the repeat claims the receipt.
    pub async fn on_event(&self, event: GatewayEvent) -> Result<AppliedEvent, EventError> {
        let payment = self
            .billing
            .ports
            .ledger
            .payment_by_gateway_id(&event.payment)
            .await?
            .ok_or(EventError::PaymentNotYetKnown)?;
        self.apply(payment, event.status).await
    }

    /// Carries out a recorded refund request ([`BillingService::request_refund`]): checks it
    /// against the ledger first (not rejected, not more than is left), returns the money at the
    /// gateway for a payment taken online (idempotent per request: [`refund_ref`]), records the
    /// refund ([`BillingService::refund_payment`]: the balance grows by the amount) and issues
    /// the return receipt when receipts are on. **Idempotent**: a request carried out before
    /// answers the stored refund; a retry after a failure between the gateway and the ledger
    /// finds the gateway's refund and finishes.
    pub async fn refund(
        &self,
        request: RefundRequestId,
    ) -> Result<OnlineRefund, OnlineRefundError> {
        let ledger = &self.billing.ports.ledger;
        let req = ledger
            .refund_request(request)
            .await?
            .ok_or(OnlineRefundError::Refused(
                RefundPaymentError::RequestNotFound,
            ))?;
        // Taken online (a started record exists): returned at the gateway, with a receipt.
        let online = self.records.by_gateway_id(&req.gateway_id).await?.is_some();
        let mut gateway_refund = None;
        match req.status {
            RefundStatus::Rejected { .. } => {
                return Err(OnlineRefundError::Refused(
                    RefundPaymentError::AlreadyRejected,
                ));
            }
            RefundStatus::Refunded { .. } => {}
            RefundStatus::Requested => {
                let payment = ledger
                    .payment_by_gateway_id(&req.gateway_id)
                    .await?
                    .ok_or(RepoError::NotFound)?;
                let refundable = payment.refundable();
                if payment.state != PaymentState::Succeeded {
                    return Err(OnlineRefundError::Refused(
                        RefundPaymentError::NotRefundable(payment.state),
                    ));
                }
                if req.amount > refundable {
                    return Err(OnlineRefundError::Refused(
                        RefundPaymentError::ExceedsPayment {
                            refundable,
                            requested: req.amount,
                        },
                    ));
                }
                if online {
                    let id = self
                        .gateway
                        .refund(&GatewayRefundRequest {
                            payment: req.gateway_id.clone(),
                            amount: req.amount,
                            refund_ref: refund_ref(request),
                        })
                        .await
                        .map_err(|e| match e {
                            GatewayError::Declined(r) => OnlineRefundError::GatewayDeclined(r),
                            GatewayError::Unavailable(r) => {
                                OnlineRefundError::GatewayUnavailable(r)
                            }
                        })?;
                    gateway_refund = Some(id);
                }
            }
        }
        let refund = self
            .billing
            .refund_payment(request)
            .await
            .map_err(|e| match e {
                RefundPaymentError::Repo(e) => OnlineRefundError::Repo(e),
                e => OnlineRefundError::Refused(e),
            })?;
        let receipt = match &self.receipts {
            Some(receipts) if online => Some(receipts.issue_refund_receipt(request).await),
            _ => None,
        };
        Ok(OnlineRefund {
            refund,
            gateway_refund,
            receipt,
        })
    }

    /// Asks the gateway for the status of a payment not yet final (`Created` or `Pending`) and
    /// applies it like [`OnlinePayments::on_event`]; a final payment (succeeded, failed,
    /// refunded) is answered as it is, without asking — with receipts, a succeeded one that has
    /// no income receipt yet (the process stopped between crediting and claiming it) gets it.
    pub async fn reconcile(&self, id: &GatewayPaymentId) -> Result<AppliedEvent, ReconcileError> {
        let payment = self
            .billing
            .ports
            .ledger
            .payment_by_gateway_id(id)
            .await?
            .ok_or(ReconcileError::PaymentNotFound)?;
        if !matches!(payment.state, PaymentState::Created | PaymentState::Pending) {
            if let (PaymentState::Succeeded, Some(receipts)) = (payment.state, &self.receipts) {
                receipts
                    .ensure_income(&payment)
                    .await
                    .map_err(|e| ReconcileError::Repo(e.into_repo()))?;
            }
            return Ok(AppliedEvent {
                payment,
                outcome: EventOutcome::Unchanged,
            });
        }
        let status = self.gateway.payment_status(id).await?;
        Ok(self.apply(payment, status).await?)
    }

    async fn apply(
        &self,
        payment: PaymentRecord,
        status: GatewayStatus,
    ) -> Result<AppliedEvent, EventError> {
        let id = &payment.gateway_id;
        match status {
            GatewayStatus::Pending => match self.billing.mark_payment_pending(id).await {
                Ok(p) => Ok(AppliedEvent {
                    payment: p.payment,
                    outcome: match p.outcome {
                        PendingOutcome::Marked => EventOutcome::MarkedPending,
                        PendingOutcome::Unchanged => EventOutcome::Unchanged,
                    },
                }),
                Err(MarkPendingError::PaymentNotFound) => Err(EventError::PaymentNotYetKnown),
                Err(MarkPendingError::Repo(e)) => Err(e.into()),
            },
            GatewayStatus::Succeeded => match self.billing.confirm_payment(id).await {
                Ok(c) => {
                    if let Some(receipts) = &self.receipts {
                        receipts
                            .after_credit(&c)
                            .await
                            .map_err(|e| EventError::Repo(e.into_repo()))?;
                    }
                    Ok(AppliedEvent {
                        payment: c.payment,
                        outcome: match c.outcome {
                            ConfirmOutcome::Credited => EventOutcome::Credited,
                            ConfirmOutcome::AlreadyCredited => EventOutcome::Unchanged,
                        },
                    })
                }
                Err(ConfirmPaymentError::PaymentNotFound) => Err(EventError::PaymentNotYetKnown),
                Err(ConfirmPaymentError::NotConfirmable(state)) => {
                    Err(EventError::Contradicts { state })
                }
                Err(ConfirmPaymentError::Ledger(e)) => Err(EventError::Ledger(e)),
                Err(ConfirmPaymentError::Repo(e)) => Err(e.into()),
            },
            GatewayStatus::Failed { reason } => {
                let reason = match reason.trim() {
                    "" => UNSPECIFIED_DECLINE_REASON,
                    r => r,
                };
                match self.billing.fail_payment(id, reason).await {
                    Ok(f) => Ok(AppliedEvent {
                        payment: f.payment,
                        outcome: match f.outcome {
                            FailOutcome::Failed => EventOutcome::Failed,
                            FailOutcome::AlreadyFailed => EventOutcome::Unchanged,
                        },
                    }),
                    Err(FailPaymentError::PaymentNotFound) => Err(EventError::PaymentNotYetKnown),
                    Err(FailPaymentError::NotFailable(state)) => {
                        Err(EventError::Contradicts { state })
                    }
                    Err(FailPaymentError::ReasonMissing) => Err(RepoError::Corrupt(
                        "decline reason is empty after defaulting".into(),
                    )
                    .into()),
                    Err(FailPaymentError::Repo(e)) => Err(e.into()),
                }
            }
            GatewayStatus::Refunded { .. } => Ok(AppliedEvent {
                payment,
                outcome: EventOutcome::Unchanged,
            }),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::Mutex;

    use proptest::prelude::*;
    use time::macros::{date, datetime};

    use super::*;
    use crate::ports::{LedgerFact, LedgerRecord, NewPayment};
    use crate::usecase::tests::{
        DOWN, Mocks, Store, account, cas, charge, fail_cas, gw, p, record, store_mocks,
        store_with_pending_payment, supplier,
    };

    /// The started payments, in memory, with `order_ref` and gateway id unique.
    #[derive(Default)]
    pub(crate) struct MemoryRecords {
        pub(crate) rows: Mutex<Vec<OnlinePaymentRecord>>,
    }

    #[async_trait::async_trait]
    impl OnlinePaymentRepository for MemoryRecords {
        async fn insert(&self, r: &OnlinePaymentRecord) -> Result<(), RepoError> {
            let mut rows = self.rows.lock().unwrap();
            if rows
                .iter()
                .any(|x| x.order_ref == r.order_ref || x.gateway_id == r.gateway_id)
            {
                return Err(RepoError::Duplicate);
            }
            rows.push(r.clone());
            Ok(())
        }
        async fn by_order_ref(&self, o: &str) -> Result<Option<OnlinePaymentRecord>, RepoError> {
            let rows = self.rows.lock().unwrap();
            Ok(rows.iter().find(|x| x.order_ref == o).cloned())
        }
        async fn by_gateway_id(
            &self,
            id: &GatewayPaymentId,
        ) -> Result<Option<OnlinePaymentRecord>, RepoError> {
            let rows = self.rows.lock().unwrap();
            Ok(rows.iter().find(|x| &x.gateway_id == id).cloned())
        }
        async fn unsettled(
            &self,
            older_than: OffsetDateTime,
            limit: u32,
        ) -> Result<Vec<OnlinePaymentRecord>, RepoError> {
            let rows = self.rows.lock().unwrap();
            Ok(rows
                .iter()
                .filter(|x| x.created_at < older_than)
                .take(limit as usize)
                .cloned()
                .collect())
        }
    }

    const URL: &str = "https://pay.example/confirm/sbp-0001";

    /// A store with February's 800 ₽ of electricity owed and no payment yet.
    pub(crate) fn store_with_debt() -> Arc<Mutex<Store>> {
        Arc::new(Mutex::new(Store {
            journal: vec![charge(
                p(2026, 2),
                Money::from_roubles(800),
                date!(2026 - 03 - 01),
                date!(2026 - 03 - 15),
            )],
            ..Store::default()
        }))
    }

    /// The billing ports over `store`: payments are recorded, moved and failed in it.
    pub(crate) fn billing(store: &Arc<Mutex<Store>>) -> Mocks {
        let mut m = store_mocks(store);
        m.supplier();
        let s = store.clone();
        m.ledger
            .expect_record_payment()
            .returning(move |n: &NewPayment| {
                let mut s = s.lock().unwrap();
                if s.payment.is_some() {
                    return Err(RepoError::Duplicate);
                }
                let r = record(n);
                s.journal.push(LedgerRecord {
                    date: n.created_on,
                    fact: LedgerFact::PaymentCreated {
                        payment: r.id,
                        amount: r.amount,
                        split: r.split.clone(),
                    },
                });
                s.payment = Some(r.clone());
                Ok(r)
            });
        m.ledger.expect_transition_payment().returning(cas(store));
        m.ledger.expect_fail_payment().returning(fail_cas(store));
        m
    }

    fn gateway_creating_once() -> MockPaymentGateway {
        let mut g = MockPaymentGateway::new();
        g.expect_create_payment()
            .withf(|r| {
                r.order_ref == "ord-1"
                    && r.amount == Money::from_roubles(500)
                    && r.account_number.as_str() == "1001"
                    && r.description.contains("1001")
                    && r.contact.email.as_deref() == Some("ivanov@example.ru")
            })
            .times(1)
            .returning(|_| {
                Ok(GatewayPayment {
                    id: gw(),
                    confirmation_url: URL.into(),
                })
            });
        g
    }

    fn service(
        m: Mocks,
        gateway: MockPaymentGateway,
        records: &Arc<MemoryRecords>,
    ) -> OnlinePayments {
        OnlinePayments::new(Arc::new(m.service()), Arc::new(gateway), records.clone())
    }

    fn start_cmd(amount: Money, split: PaymentSplit) -> StartPayment {
        StartPayment {
            account: AccountId::new(1),
            order_ref: "ord-1".into(),
            amount,
            split,
            payer: "subscriber:42".into(),
            contact: ReceiptContact {
                email: Some("ivanov@example.ru".into()),
                phone: None,
            },
            return_url: "https://lk.example/payments/return".into(),
        }
    }

    fn five_hundred() -> StartPayment {
        start_cmd(Money::from_roubles(500), PaymentSplit::Default)
    }

    fn states(store: &Arc<Mutex<Store>>) -> Vec<PaymentState> {
        store
            .lock()
            .unwrap()
            .journal
            .iter()
            .filter_map(|r| match r.fact {
                LedgerFact::PaymentState { state, .. } => Some(state),
                _ => None,
            })
            .collect()
    }

    // ----- proposal ------------------------------------------------------------------------------

    #[tokio::test]
    async fn proposal_of_the_debt() {
        let store = store_with_debt();
        let records = Arc::new(MemoryRecords::default());
        let s = service(billing(&store), MockPaymentGateway::new(), &records);
        let got = s.proposal(AccountId::new(1)).await.unwrap();
        assert_eq!(
            got.debt_by_service,
            BTreeMap::from([(ServiceKind::Electricity, Money::from_roubles(800))])
        );
        assert_eq!(got.total, Money::from_roubles(800));
        assert_eq!(got.balance, Money::from_roubles(800));
        assert_eq!(got.advance, Money::ZERO);
        assert_eq!(got.minimum, Money::from_roubles(50));
        assert_eq!(got.as_of, date!(2026 - 03 - 21));
        assert_eq!(
            s.proposal(AccountId::new(2)).await,
            Err(ProposalError::AccountNotFound)
        );

        // A debt below the minimum may be paid whole.
        let store = store_with_debt();
        store.lock().unwrap().journal[0] = charge(
            p(2026, 2),
            Money::from_roubles(30),
            date!(2026 - 03 - 01),
            date!(2026 - 03 - 15),
        );
        let s = service(billing(&store), MockPaymentGateway::new(), &records);
        assert_eq!(
            s.proposal(AccountId::new(1)).await.unwrap().minimum,
            Money::from_roubles(30)
        );

        let mut m = Mocks::new();
        m.accounts(vec![account()]);
        m.supplier();
        m.ledger.expect_journal().returning(|_| Err(DOWN()));
        let s = service(m, MockPaymentGateway::new(), &records);
        assert_eq!(
            s.proposal(AccountId::new(1)).await,
            Err(ProposalError::Repo(DOWN()))
        );
    }

    // ----- start ---------------------------------------------------------------------------------

    #[tokio::test]
    async fn starting_a_payment_creates_records_and_marks_it_pending() {
        let store = store_with_debt();
        let records = Arc::new(MemoryRecords::default());
        let s = service(billing(&store), gateway_creating_once(), &records);
        let started = s.start(five_hundred()).await.unwrap();
        assert!(!started.replayed);
        assert_eq!(started.confirmation_url, URL);
        assert_eq!(started.payment.gateway_id, gw());
        assert_eq!(started.payment.state, PaymentState::Pending);
        assert_eq!(started.payment.amount, Money::from_roubles(500));
        assert_eq!(states(&store), vec![PaymentState::Pending]);
        let rows = records.rows.lock().unwrap().clone();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].order_ref, "ord-1");
        assert_eq!(rows[0].payer, "subscriber:42");
        assert_eq!(rows[0].created_at, datetime!(2026-03-21 00:00 UTC));
        // Nothing is credited before the gateway confirms.
        let proposal = s.proposal(AccountId::new(1)).await.unwrap();
        assert_eq!(proposal.balance, Money::from_roubles(800));
    }

    #[tokio::test]
    async fn the_same_order_ref_again_creates_no_second_gateway_payment() {
        let store = store_with_debt();
        let records = Arc::new(MemoryRecords::default());
        let s = service(billing(&store), gateway_creating_once(), &records);
        let first = s.start(five_hundred()).await.unwrap();
        let again = s.start(five_hundred()).await.unwrap();
        assert!(again.replayed);
        assert_eq!(again.payment, first.payment);
        assert_eq!(again.confirmation_url, URL);
        assert_eq!(records.rows.lock().unwrap().len(), 1);
        assert_eq!(states(&store), vec![PaymentState::Pending]);

        // The same order_ref with another amount is refused.
        assert_eq!(
            s.start(start_cmd(Money::from_roubles(600), PaymentSplit::Default))
                .await,
            Err(StartPaymentError::OrderRefConflict)
        );
    }

    #[tokio::test]
    async fn a_start_interrupted_after_the_gateway_is_finished_by_a_replay() {
        let store = store_with_debt();
        let records = Arc::new(MemoryRecords::default());
        records.rows.lock().unwrap().push(OnlinePaymentRecord {
            gateway_id: gw(),
            order_ref: "ord-1".into(),
            account: AccountId::new(1),
            amount: Money::from_roubles(500),
            split: PaymentSplit::Default,
            payer: "subscriber:42".into(),
            contact: ReceiptContact::default(),
            confirmation_url: URL.into(),
            created_at: datetime!(2026-03-21 00:00 UTC),
        });
        // No gateway call expected.
        let s = service(billing(&store), MockPaymentGateway::new(), &records);
        let got = s.start(five_hundred()).await.unwrap();
        assert!(got.replayed);
        assert_eq!(got.payment.state, PaymentState::Pending);
        assert!(store.lock().unwrap().payment.is_some());
    }

    #[tokio::test]
    async fn a_concurrent_start_that_recorded_first_wins() {
        let store = store_with_debt();
        let records = Arc::new(MemoryRecords::default());
        let winner = OnlinePaymentRecord {
            gateway_id: gw(),
            order_ref: "ord-1".into(),
            account: AccountId::new(1),
            amount: Money::from_roubles(500),
            split: PaymentSplit::Default,
            payer: "subscriber:42".into(),
            contact: ReceiptContact::default(),
            confirmation_url: URL.into(),
            created_at: datetime!(2026-03-21 00:00 UTC),
        };
        // The other start records between our lookup and our insert.
        let mut g = MockPaymentGateway::new();
        let (r, w) = (records.clone(), winner.clone());
        g.expect_create_payment().times(1).returning(move |_| {
            r.rows.lock().unwrap().push(w.clone());
            Ok(GatewayPayment {
                id: gw(),
                confirmation_url: URL.into(),
            })
        });
        let s = service(billing(&store), g, &records);
        let got = s.start(five_hundred()).await.unwrap();
        assert!(got.replayed);
        assert_eq!(records.rows.lock().unwrap().as_slice(), &[winner]);
        assert_eq!(states(&store), vec![PaymentState::Pending]);
    }

    #[tokio::test]
    async fn an_unavailable_or_declining_gateway_records_nothing() {
        for (error, expected) in [
            (
                GatewayError::Unavailable("timeout".into()),
                StartPaymentError::GatewayUnavailable("timeout".into()),
            ),
            (
                GatewayError::Declined("limit".into()),
                StartPaymentError::GatewayDeclined("limit".into()),
            ),
        ] {
            let store = store_with_debt();
            let records = Arc::new(MemoryRecords::default());
            let mut g = MockPaymentGateway::new();
            g.expect_create_payment()
                .times(1)
                .returning(move |_| Err(error.clone()));
            let s = service(billing(&store), g, &records);
            let err = s.start(five_hundred()).await.unwrap_err();
            assert_eq!(err, expected);
            assert!(err.user_message().contains("Платёжная система"));
            assert!(records.rows.lock().unwrap().is_empty());
            assert!(store.lock().unwrap().payment.is_none());
            assert_eq!(store.lock().unwrap().journal.len(), 1);
        }
    }

    #[tokio::test]
    async fn start_validates_like_post_payment_before_the_gateway() {
        let store = store_with_debt();
        let records = Arc::new(MemoryRecords::default());
        // No gateway call expected by any of these.
        let s = service(billing(&store), MockPaymentGateway::new(), &records);

        let split = PaymentSplit::ByService(vec![(ServiceKind::Heating, Money::from_roubles(500))]);
        let err = s
            .start(start_cmd(Money::from_roubles(500), split))
            .await
            .unwrap_err();
        assert_eq!(
            err,
            StartPaymentError::InvalidSplit(LedgerError::UnknownService(ServiceKind::Heating))
        );
        assert!(err.user_message().contains("Отопление"));

        let split =
            PaymentSplit::ByService(vec![(ServiceKind::Electricity, Money::from_roubles(400))]);
        assert!(matches!(
            s.start(start_cmd(Money::from_roubles(500), split)).await,
            Err(StartPaymentError::InvalidSplit(
                LedgerError::SplitMismatch { .. }
            ))
        ));

        let err = s
            .start(start_cmd(Money::from_kopecks(4999), PaymentSplit::Default))
            .await
            .unwrap_err();
        assert_eq!(
            err,
            StartPaymentError::InvalidAmount(PaymentAmountError::BelowMinimum {
                minimum: Money::from_roubles(50)
            })
        );
        assert!(err.user_message().contains("50,00"));

        assert_eq!(
            s.start(start_cmd(Money::ZERO, PaymentSplit::Default)).await,
            Err(StartPaymentError::InvalidAmount(
                PaymentAmountError::NotPositive
            ))
        );

        let mut no_contact = five_hundred();
        no_contact.contact = ReceiptContact {
            email: Some("  ".into()),
            phone: None,
        };
        assert_eq!(
            s.start(no_contact).await,
            Err(StartPaymentError::ContactMissing)
        );

        for bad in [
            "",
            "has space",
            "кириллица",
            &"x".repeat(ORDER_REF_MAX_LEN + 1),
        ] {
            let mut cmd = five_hundred();
            cmd.order_ref = bad.into();
            assert_eq!(
                s.start(cmd).await,
                Err(StartPaymentError::InvalidOrderRef),
                "{bad}"
            );
        }

        let mut other = five_hundred();
        other.account = AccountId::new(2);
        assert_eq!(
            s.start(other).await,
            Err(StartPaymentError::AccountNotFound)
        );

        assert!(records.rows.lock().unwrap().is_empty());
        assert!(store.lock().unwrap().payment.is_none());
    }

    #[tokio::test]
    async fn start_port_failures_are_repo_errors() {
        struct Down;
        #[async_trait::async_trait]
        impl OnlinePaymentRepository for Down {
            async fn insert(&self, _: &OnlinePaymentRecord) -> Result<(), RepoError> {
                Err(DOWN())
            }
            async fn by_order_ref(
                &self,
                _: &str,
            ) -> Result<Option<OnlinePaymentRecord>, RepoError> {
                Ok(None)
            }
            async fn by_gateway_id(
                &self,
                _: &GatewayPaymentId,
            ) -> Result<Option<OnlinePaymentRecord>, RepoError> {
                Ok(None)
            }
            async fn unsettled(
                &self,
                _: OffsetDateTime,
                _: u32,
            ) -> Result<Vec<OnlinePaymentRecord>, RepoError> {
                Ok(vec![])
            }
        }
        let store = store_with_debt();
        let s = OnlinePayments::new(
            Arc::new(billing(&store).service()),
            Arc::new(gateway_creating_once()),
            Arc::new(Down),
        );
        let err = s.start(five_hundred()).await.unwrap_err();
        assert_eq!(err, StartPaymentError::Repo(DOWN()));
        assert!(!err.user_message().contains("db"));
        assert!(store.lock().unwrap().payment.is_none());
    }

    // ----- on_event ------------------------------------------------------------------------------

    pub(crate) fn event(status: GatewayStatus) -> GatewayEvent {
        GatewayEvent {
            payment: gw(),
            status,
        }
    }

    #[tokio::test]
    async fn a_succeeded_event_delivered_twice_credits_once() {
        let store = store_with_pending_payment();
        let records = Arc::new(MemoryRecords::default());
        let s = service(billing(&store), MockPaymentGateway::new(), &records);
        let first = s.on_event(event(GatewayStatus::Succeeded)).await.unwrap();
        assert_eq!(first.outcome, EventOutcome::Credited);
        assert_eq!(first.payment.state, PaymentState::Succeeded);
        let second = s.on_event(event(GatewayStatus::Succeeded)).await.unwrap();
        assert_eq!(second.outcome, EventOutcome::Unchanged);
        assert_eq!(
            states(&store),
            vec![PaymentState::Pending, PaymentState::Succeeded]
        );
        let proposal = s.proposal(AccountId::new(1)).await.unwrap();
        assert_eq!(proposal.balance, Money::from_roubles(300));
        assert_eq!(proposal.total, Money::from_roubles(300));
    }

    #[tokio::test]
    async fn an_event_for_an_unknown_payment_is_not_yet_known() {
        let store = store_with_debt();
        let records = Arc::new(MemoryRecords::default());
        let s = service(billing(&store), MockPaymentGateway::new(), &records);
        for status in [
            GatewayStatus::Pending,
            GatewayStatus::Succeeded,
            GatewayStatus::Failed { reason: "x".into() },
        ] {
            let err = s.on_event(event(status)).await.unwrap_err();
            assert_eq!(err, EventError::PaymentNotYetKnown);
            assert!(err.user_message().contains("повторите"));
        }
        assert_eq!(store.lock().unwrap().journal.len(), 1);
    }

    #[tokio::test]
    async fn a_failed_event_fails_the_payment_once() {
        let store = store_with_pending_payment();
        let records = Arc::new(MemoryRecords::default());
        let s = service(billing(&store), MockPaymentGateway::new(), &records);
        let failed = s
            .on_event(event(GatewayStatus::Failed {
                reason: "insufficient funds".into(),
            }))
            .await
            .unwrap();
        assert_eq!(failed.outcome, EventOutcome::Failed);
        assert_eq!(failed.payment.state, PaymentState::Failed);
        assert_eq!(
            failed.payment.failure_reason.as_deref(),
            Some("insufficient funds")
        );
        let again = s
            .on_event(event(GatewayStatus::Failed {
                reason: String::new(),
            }))
            .await
            .unwrap();
        assert_eq!(again.outcome, EventOutcome::Unchanged);
        assert_eq!(
            states(&store),
            vec![PaymentState::Pending, PaymentState::Failed]
        );
        // A success after the failure is for an operator, and credits nothing.
        assert_eq!(
            s.on_event(event(GatewayStatus::Succeeded)).await,
            Err(EventError::Contradicts {
                state: PaymentState::Failed
            })
        );
        assert_eq!(
            s.proposal(AccountId::new(1)).await.unwrap().balance,
            Money::from_roubles(800)
        );
    }

    #[tokio::test]
    async fn a_decline_without_a_reason_gets_the_default_one() {
        let store = store_with_pending_payment();
        let records = Arc::new(MemoryRecords::default());
        let s = service(billing(&store), MockPaymentGateway::new(), &records);
        let failed = s
            .on_event(event(GatewayStatus::Failed { reason: " ".into() }))
            .await
            .unwrap();
        assert_eq!(
            failed.payment.failure_reason.as_deref(),
            Some(UNSPECIFIED_DECLINE_REASON)
        );
    }

    #[tokio::test]
    async fn pending_and_refund_events() {
        let store = store_with_debt();
        let records = Arc::new(MemoryRecords::default());
        let mut s = service(billing(&store), gateway_creating_once(), &records);
        // Start without the final "mark pending" having happened: put it back to Created.
        s.start(five_hundred()).await.unwrap();
        {
            let mut st = store.lock().unwrap();
            if let Some(p) = st.payment.as_mut() {
                p.state = PaymentState::Created;
            }
            st.journal.pop();
        }
        let got = s.on_event(event(GatewayStatus::Pending)).await.unwrap();
        assert_eq!(got.outcome, EventOutcome::MarkedPending);
        let got = s.on_event(event(GatewayStatus::Pending)).await.unwrap();
        assert_eq!(got.outcome, EventOutcome::Unchanged);
        let got = s
            .on_event(event(GatewayStatus::Refunded {
                amount: Money::from_roubles(500),
            }))
            .await
            .unwrap();
        assert_eq!(got.outcome, EventOutcome::Unchanged);
        assert_eq!(got.payment.state, PaymentState::Pending);
        s = service(billing(&store), MockPaymentGateway::new(), &records);
        assert_eq!(
            s.on_event(event(GatewayStatus::Succeeded))
                .await
                .unwrap()
                .outcome,
            EventOutcome::Credited
        );
    }

    #[tokio::test]
    async fn event_port_failures_are_repo_errors() {
        let mut m = Mocks::new();
        m.ledger
            .expect_payment_by_gateway_id()
            .returning(|_| Err(DOWN()));
        let records = Arc::new(MemoryRecords::default());
        let s = service(m, MockPaymentGateway::new(), &records);
        assert_eq!(
            s.on_event(event(GatewayStatus::Succeeded)).await,
            Err(EventError::Repo(DOWN()))
        );
        assert_eq!(s.reconcile(&gw()).await, Err(ReconcileError::Repo(DOWN())));
    }

    // ----- reconcile -----------------------------------------------------------------------------

    #[tokio::test]
    async fn reconcile_applies_the_gateways_status() {
        let store = store_with_pending_payment();
        let records = Arc::new(MemoryRecords::default());
        let mut g = MockPaymentGateway::new();
        g.expect_payment_status()
            .withf(|id| id == &gw())
            .times(1)
            .returning(|_| Ok(GatewayStatus::Succeeded));
        let s = service(billing(&store), g, &records);
        let got = s.reconcile(&gw()).await.unwrap();
        assert_eq!(got.outcome, EventOutcome::Credited);
        // Final now: answered without asking the gateway again.
        let got = s.reconcile(&gw()).await.unwrap();
        assert_eq!(got.outcome, EventOutcome::Unchanged);
        assert_eq!(got.payment.state, PaymentState::Succeeded);
    }

    #[tokio::test]
    async fn reconcile_rejections() {
        let store = store_with_pending_payment();
        let records = Arc::new(MemoryRecords::default());
        let mut g = MockPaymentGateway::new();
        g.expect_payment_status()
            .returning(|_| Err(GatewayError::Unavailable("timeout".into())));
        let s = service(billing(&store), g, &records);
        let err = s.reconcile(&gw()).await.unwrap_err();
        assert_eq!(
            err,
            ReconcileError::Gateway(GatewayError::Unavailable("timeout".into()))
        );
        assert!(err.user_message().contains("позже"));
        assert_eq!(states(&store), vec![PaymentState::Pending]);

        let other = GatewayPaymentId::parse("other").unwrap();
        assert_eq!(
            s.reconcile(&other).await,
            Err(ReconcileError::PaymentNotFound)
        );
    }

    // ----- messages and money invariants -----------------------------------------------------------

    #[test]
    fn every_refusal_has_a_russian_message() {
        let messages = [
            ProposalError::AccountNotFound.user_message(),
            ProposalError::Repo(DOWN()).user_message(),
            StartPaymentError::InvalidOrderRef.user_message(),
            StartPaymentError::AccountNotFound.user_message(),
            StartPaymentError::ContactMissing.user_message(),
            StartPaymentError::OrderRefConflict.user_message(),
            StartPaymentError::GatewayDeclined("x".into()).user_message(),
            StartPaymentError::GatewayUnavailable("x".into()).user_message(),
            StartPaymentError::GatewayIdConflict(gw()).user_message(),
            StartPaymentError::Repo(DOWN()).user_message(),
            EventError::PaymentNotYetKnown.user_message(),
            EventError::Contradicts {
                state: PaymentState::Refunded,
            }
            .user_message(),
            EventError::Ledger(LedgerError::UnknownService(ServiceKind::Heating)).user_message(),
            EventError::Repo(DOWN()).user_message(),
            ReconcileError::PaymentNotFound.user_message(),
            ReconcileError::Gateway(GatewayError::Declined("x".into())).user_message(),
            ReconcileError::Contradicts {
                state: PaymentState::Failed,
            }
            .user_message(),
            ReconcileError::Repo(DOWN()).user_message(),
        ];
        for m in messages {
            assert!(m.chars().any(|c| ('а'..='я').contains(&c)), "{m}");
            assert!(!m.contains("db down") && !m.contains('x'), "{m}");
        }
    }

    const SERVICES: [ServiceKind; 3] = [
        ServiceKind::Electricity,
        ServiceKind::ColdWater,
        ServiceKind::Heating,
    ];

    #[derive(Clone, Debug)]
    enum Op {
        Charge(usize, i64),
        Pay(i64, Option<usize>),
    }

    fn arb_ops() -> impl Strategy<Value = Vec<Op>> {
        let op = prop_oneof![
            3 => (0..SERVICES.len(), 0i64..100_000).prop_map(|(s, k)| Op::Charge(s, k)),
            2 => (1i64..150_000, prop::option::of(0..SERVICES.len()))
                .prop_map(|(k, s)| Op::Pay(k, s)),
        ];
        prop::collection::vec(op, 0..25)
    }

    proptest! {
        /// Over any history of charges and (split) payments: the proposed total is the sum of
        /// the per-service debt, never less than the balance, and accepted by the payment check;
        /// the proposed minimum is exactly the least amount the check accepts.
        #[test]
        fn the_proposal_is_consistent_with_the_payment_check(
            ops in arb_ops(),
            minimum in 0i64..10_000,
        ) {
            let mut ledger = Ledger::new(AccountId::new(1), &SERVICES);
            let mut supplier = supplier();
            supplier.minimum_payment = Money::from_kopecks(minimum);
            let (day, period, due) = (date!(2026 - 03 - 01), p(2026, 2), date!(2026 - 03 - 15));
            for (i, op) in ops.iter().enumerate() {
                match *op {
                    Op::Charge(s, k) => {
                        ledger
                            .post_charge(day, period, SERVICES[s], Money::from_kopecks(k), due)
                            .unwrap();
                    }
                    Op::Pay(k, s) => {
                        let id = crate::ids::PaymentId::new(i as u64 + 1);
                        let amount = Money::from_kopecks(k);
                        let split = s.map_or(PaymentSplit::Default, |s| {
                            PaymentSplit::ByService(vec![(SERVICES[s], amount)])
                        });
                        ledger.create_payment(id, amount, day, split).unwrap();
                        ledger.succeed_payment(id, day).unwrap();
                    }
                }
            }
            let proposal = PaymentProposal::new(&ledger, &supplier, day);
            let debt: Money = proposal.debt_by_service.values().sum();
            prop_assert_eq!(proposal.total, debt);
            prop_assert!(proposal.debt_by_service.values().all(|m| !m.is_negative()));
            prop_assert_eq!(proposal.balance, proposal.total - proposal.advance);
            prop_assert!(proposal.total >= proposal.balance.positive_part());
            let check = |amount: Money| {
                check_payment(&supplier, &ledger, amount, &PaymentSplit::Default, day)
            };
            if proposal.total.is_positive() {
                prop_assert_eq!(check(proposal.total), Ok(()));
                let by_service = PaymentSplit::ByService(
                    proposal
                        .debt_by_service
                        .iter()
                        .filter(|(_, m)| m.is_positive())
                        .map(|(s, m)| (*s, *m))
                        .collect(),
                );
                prop_assert_eq!(
                    check_payment(&supplier, &ledger, proposal.total, &by_service, day),
                    Ok(())
                );
            }
            prop_assert_eq!(check(proposal.minimum), Ok(()));
            prop_assert!(check(proposal.minimum - Money::from_kopecks(1)).is_err());
        }
    }
}
