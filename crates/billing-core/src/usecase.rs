//! [`BillingService`]: the billing use cases, written against the [`crate::ports`].
//!
//! One method per use case, one error enum per use case with variants a caller can act on and a
//! Russian `user_message()`; every port failure arrives as the enum's `Repo` variant.
//!
//! - Readings: [`BillingService::submit_reading`], [`BillingService::correct_reading`],
//!   [`BillingService::cancel_reading`] — validated by [`check_reading`] and
//!   [`ensure_changeable`]; a reading after the window belongs to the next period.
//! - Billing: [`BillingService::run_billing_for_account`],
//!   [`BillingService::run_billing_for_house`] — **idempotent** per (account, period): an
//!   existing charge set is returned unchanged, never charged again; a closed period is never
//!   billed; [`BillingService::close_period`] closes periods in order.
//! - Money: [`BillingService::post_payment`], [`BillingService::confirm_payment`] (only a
//!   confirmed payment moves the balance; the same gateway payment confirmed twice credits
//!   once), [`BillingService::fail_payment`] (failed once), [`BillingService::statement`],
//!   [`BillingService::balance`], [`BillingService::payment_document`] (the ЕПД data and its
//!   ГОСТ Р 56042-2014 QR payload). [`BillingService::post_payment`] is idempotent per gateway
//!   id (same account, amount and split → the stored record); its amount and split checks are
//!   [`check_payment`], shared with [`crate::online::OnlinePayments::start`].
//! - Refunds on a written request (billing-rules.md §10): [`BillingService::request_refund`]
//!   records it, [`BillingService::refund_payment`] carries it out (never above the payment,
//!   once) or [`BillingService::reject_refund`] refuses it.
//! - Corrections of billed readings: [`BillingService::record_correction`] (a control check,
//!   ПП 354 п. 61, or an operator's correction of a closed period) stores a pending
//!   recalculation that the next billing run bills as a recalculation line.
//!
//! The thin reads the cabinet's API needs (account, meters, reading history, charges, tariffs,
//! estimate, payments) and [`BillingService::mark_payment_pending`] live in [`crate::reads`].
//!
//! The account's [`Ledger`] is rebuilt from its stored journal by [`rebuild_ledger`] for every
//! money use case; storage never allocates a payment itself.

use std::collections::BTreeMap;
use std::sync::Arc;

use rust_decimal::Decimal;
use time::Date;

use crate::charge::{AccountInput, BillingError, ChargeBasis, TariffBook, bill_account};
use crate::document::{
    DocumentError, DocumentInput, MeterReadings, PaymentDocument, build_payment_document,
};
use crate::ids::{AccountId, HouseId, MeterId, PaymentId, ReadingId, SupplierId};
use crate::keyrate::{KeyRateHistory, PenaltyRules};
use crate::ledger::Entry;
use crate::ledger::{
    AllocationPart, EntryKind, Ledger, LedgerError, PaymentSplit, PaymentState, Statement, Tranche,
};
use crate::meter::{Meter, ZoneValues};
use crate::model::{Account, PaymentAmountError, Premise, Supplier};
use crate::money::Money;
use crate::odn::OdnDistribution;
use crate::penalty::{PenaltyError, PenaltyReport};
use crate::period::Period;
use crate::ports::{
    AccountRepository, ChargeRepository, ChargeSet, CheckBasis, Clock, GatewayPaymentId,
    HouseRepository, KeyRateSource, LedgerFact, LedgerRecord, LedgerRepository, MeterRepository,
    NewPayment, NewReading, NewRecalculation, NewRefundRequest, PaymentRecord,
    PendingRecalculation, PeriodRepository, ReadingContextRepository, ReadingRepository,
    RecalculationKind, RecalculationRepository, RefundRequest, RefundRequestId, RefundStatus,
    RepoError, SupplierRepository, TariffRepository, VolumeHistoryRepository,
};
use crate::reading::{
    ChangeReadingError, Reading, ReadingCheck, ReadingError, ReadingSource, ReadingStatus,
    check_reading, ensure_changeable, ru_date,
};
use crate::run::{
    AccountData, AccountSnapshot, HouseRunError, HouseSnapshot, RunSetup, ServiceData,
    account_input, bill_house_snapshot, earliest_billing_day, in_period, period_readings,
    service_inputs, services_of,
};
use crate::service::ServiceKind;
use crate::volume::average;

/// What a subscriber sees when a port failed: nothing about the cause.
const UNAVAILABLE_RU: &str = "Сервис временно недоступен. Повторите попытку позже.";

/// What an operator sees when another run billed a pending recalculation first.
const RECALCULATIONS_CHANGED_RU: &str =
    "Перерасчёты по лицевому счёту изменились во время начисления: повторите начисление.";

/// The adapters a [`BillingService`] works through. Built once by the composition root.
#[derive(Clone)]
pub struct BillingPorts {
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// The key-rate history and penalty windows.
    pub key_rates: Arc<dyn KeyRateSource>,
    /// Suppliers.
    pub suppliers: Arc<dyn SupplierRepository>,
    /// Houses and premises.
    pub houses: Arc<dyn HouseRepository>,
    /// Personal accounts.
    pub accounts: Arc<dyn AccountRepository>,
    /// Meters.
    pub meters: Arc<dyn MeterRepository>,
    /// Readings.
    pub readings: Arc<dyn ReadingRepository>,
    /// Tariffs.
    pub tariffs: Arc<dyn TariffRepository>,
    /// Billed volumes.
    pub volumes: Arc<dyn VolumeHistoryRepository>,
    /// Charge sets.
    pub charges: Arc<dyn ChargeRepository>,
    /// Closed periods.
    pub periods: Arc<dyn PeriodRepository>,
    /// Ledger journals and payments.
    pub ledger: Arc<dyn LedgerRepository>,
    /// Pending corrections of closed periods.
    pub recalculations: Arc<dyn RecalculationRepository>,
    /// A meter or reading with what a reading is checked against, read together
    /// ([`ComposedReadingContexts`](crate::ports::ComposedReadingContexts) over the ports above
    /// where the store cannot join).
    pub contexts: Arc<dyn ReadingContextRepository>,
}

/// Every billing use case. Cheap to share behind an `Arc`; holds no per-request state.
///
/// ```
/// # use std::sync::{Arc, Mutex};
/// # use billing_core::ids::*;
/// # use billing_core::keyrate::{KeyRateHistory, PenaltyRules};
/// # use billing_core::meter::Meter;
/// # use billing_core::model::*;
/// # use billing_core::ports::*;
/// # use billing_core::reading::Reading;
/// # use billing_core::requisites::*;
/// # use billing_core::tariff::{ConsumerGroup, TariffVersion};
/// # use billing_core::volume::PastVolume;
/// # use billing_core::ledger::{PaymentSplit, PaymentState};
/// # use billing_core::usecase::{BillingPorts, BillingService, PostPayment, ConfirmOutcome};
/// # use billing_core::Money as M;
/// # use billing_core::{Money, Period, ServiceKind};
/// # use time::{Date, OffsetDateTime, macros::{date, datetime}};
/// # const NO: RepoError = RepoError::Unavailable(String::new());
/// /// A tiny in-memory store: one account, its journal and payments.
/// #[derive(Default)]
/// struct Store { journal: Mutex<Vec<LedgerRecord>>, payments: Mutex<Vec<PaymentRecord>> }
/// # fn account() -> Account {
/// #     Account { id: AccountId::new(1), number: AccountNumber::parse("1001").unwrap(), supplier: SupplierId::new(1),
/// #         premise: PremiseId::new(1), holder: "Иванов И. И.".into(), group: ConsumerGroup::Population, services: vec![] }
/// # }
/// # fn supplier() -> Supplier {
/// #     let bank = BankDetails::new(PersonalAcc::parse("40702810200000000001").unwrap(), BankName::parse("ПАО Сбербанк").unwrap(),
/// #         Bic::parse("044525225").unwrap(), CorrespAcc::parse("30101810400000000225").unwrap()).unwrap();
/// #     let requisites = Requisites::new(OrgName::parse("АО «Энергосбыт»").unwrap(), Inn::parse("7707083893").unwrap(),
/// #         Some(Kpp::parse("770701001").unwrap()), bank, Address::parse("г. Москва").unwrap(), vec![],
/// #         vec![EmergencyPhone::new("Аварийная служба", Phone::parse("112").unwrap()).unwrap()]).unwrap();
/// #     Supplier { id: SupplierId::new(1), requisites, policy: Default::default(), penalty: Default::default(), minimum_payment: Money::from_roubles(50) }
/// # }
/// # struct Fixed;
/// # impl Clock for Fixed {
/// #     fn now(&self) -> OffsetDateTime { datetime!(2026-03-20 10:00 UTC) }
/// #     fn today(&self) -> Date { date!(2026-03-20) }
/// # }
/// # #[async_trait::async_trait] impl KeyRateSource for Store {
/// #     async fn key_rates(&self) -> Result<KeyRateHistory, RepoError> { Ok(KeyRateHistory::bank_of_russia()) }
/// #     async fn penalty_rules(&self) -> Result<PenaltyRules, RepoError> { Ok(PenaltyRules::russian_statutory()) }
/// # }
/// # #[async_trait::async_trait] impl SupplierRepository for Store {
/// #     async fn supplier(&self, _: SupplierId) -> Result<Option<Supplier>, RepoError> { Ok(Some(supplier())) }
/// # }
/// # #[async_trait::async_trait] impl HouseRepository for Store {
/// #     async fn house(&self, _: HouseId) -> Result<Option<House>, RepoError> { Ok(None) }
/// #     async fn premise(&self, _: PremiseId) -> Result<Option<Premise>, RepoError> { Ok(None) }
/// #     async fn premises(&self, _: HouseId) -> Result<Vec<Premise>, RepoError> { Ok(vec![]) }
/// #     async fn period_facts(&self, _: HouseId, _: Period) -> Result<HousePeriodFacts, RepoError> { Ok(Default::default()) }
/// # }
/// # #[async_trait::async_trait] impl AccountRepository for Store {
/// #     async fn account(&self, id: AccountId) -> Result<Option<Account>, RepoError> { Ok(Some(account()).filter(|a| a.id == id)) }
/// #     async fn find_by_number(&self, _: SupplierId, _: &AccountNumber) -> Result<Option<Account>, RepoError> { Ok(None) }
/// #     async fn accounts_in_house(&self, _: HouseId) -> Result<Vec<Account>, RepoError> { Ok(vec![]) }
/// # }
/// # #[async_trait::async_trait] impl MeterRepository for Store {
/// #     async fn meter(&self, _: MeterId) -> Result<Option<Meter>, RepoError> { Ok(None) }
/// #     async fn meters_of_account(&self, _: AccountId) -> Result<Vec<Meter>, RepoError> { Ok(vec![]) }
/// # }
/// # #[async_trait::async_trait] impl ReadingRepository for Store {
/// #     async fn reading(&self, _: ReadingId) -> Result<Option<Reading>, RepoError> { Ok(None) }
/// #     async fn save(&self, _: &NewReading) -> Result<Reading, RepoError> { Err(NO) }
/// #     async fn cancel(&self, _: ReadingId) -> Result<(), RepoError> { Err(NO) }
/// #     async fn history(&self, _: MeterId) -> Result<Vec<Reading>, RepoError> { Ok(vec![]) }
/// #     async fn last_accepted_before(&self, _: MeterId, _: Period) -> Result<Option<Reading>, RepoError> { Ok(None) }
/// # }
/// # #[async_trait::async_trait] impl TariffRepository for Store {
/// #     async fn versions(&self, _: SupplierId) -> Result<Vec<TariffVersion>, RepoError> { Ok(vec![]) }
/// # }
/// # #[async_trait::async_trait] impl VolumeHistoryRepository for Store {
/// #     async fn volumes(&self, _: AccountId, _: ServiceKind, _: Period) -> Result<Vec<PastVolume>, RepoError> { Ok(vec![]) }
/// # }
/// # #[async_trait::async_trait] impl ChargeRepository for Store {
/// #     async fn charge_set(&self, _: AccountId, _: Period) -> Result<Option<ChargeSet>, RepoError> { Ok(None) }
/// #     async fn save_charge_sets(&self, _: &[ChargeSet]) -> Result<(), RepoError> { Err(NO) }
/// #     async fn count_unbilled(&self, _: SupplierId, _: Period) -> Result<u64, RepoError> { Ok(0) }
/// # }
/// # #[async_trait::async_trait] impl RecalculationRepository for Store {
/// #     async fn record(&self, _: &NewRecalculation) -> Result<(PendingRecalculation, Reading), RepoError> { Err(NO) }
/// #     async fn pending(&self, _: AccountId, _: Period) -> Result<Vec<PendingRecalculation>, RepoError> { Ok(vec![]) }
/// # }
/// # #[async_trait::async_trait] impl PeriodRepository for Store {
/// #     async fn last_closed(&self, _: SupplierId) -> Result<Option<Period>, RepoError> { Ok(None) }
/// #     async fn close(&self, _: SupplierId, _: Period) -> Result<(), RepoError> { Err(NO) }
/// # }
/// #[async_trait::async_trait]
/// impl LedgerRepository for Store {
///     async fn journal(&self, _: AccountId) -> Result<Vec<LedgerRecord>, RepoError> {
///         Ok(self.journal.lock().unwrap().clone())
///     }
///     async fn record_payment(&self, p: &NewPayment) -> Result<PaymentRecord, RepoError> {
///         let mut payments = self.payments.lock().unwrap();
///         if payments.iter().any(|q| q.gateway_id == p.gateway_id) {
///             return Err(RepoError::Duplicate);
///         }
///         let id = PaymentId::new(payments.len() as u64 + 1);
///         let record = PaymentRecord { id, gateway_id: p.gateway_id.clone(), account: p.account, amount: p.amount,
///             split: p.split.clone(), created_on: p.created_on, state: PaymentState::Created,
///             refunded: M::ZERO, failure_reason: None };
///         payments.push(record.clone());
///         let fact = LedgerFact::PaymentCreated { payment: id, amount: p.amount, split: p.split.clone() };
///         self.journal.lock().unwrap().push(LedgerRecord { date: p.created_on, fact });
///         Ok(record)
///     }
///     async fn payment_by_gateway_id(&self, g: &GatewayPaymentId) -> Result<Option<PaymentRecord>, RepoError> {
///         Ok(self.payments.lock().unwrap().iter().find(|p| &p.gateway_id == g).cloned())
///     }
///     async fn payments(&self, _: AccountId) -> Result<Vec<PaymentRecord>, RepoError> {
///         Ok(self.payments.lock().unwrap().clone())
///     }
///     async fn transition_payment(&self, g: &GatewayPaymentId, from: PaymentState, to: PaymentState, on: Date) -> Result<(), RepoError> {
///         let mut payments = self.payments.lock().unwrap();
///         let p = payments.iter_mut().find(|p| &p.gateway_id == g).ok_or(RepoError::NotFound)?;
///         if p.state != from {
///             return Err(RepoError::Conflict); // compare-and-set: the loser writes nothing
///         }
///         p.state = to;
///         self.journal.lock().unwrap().push(LedgerRecord { date: on, fact: LedgerFact::PaymentState { payment: p.id, state: to } });
///         Ok(())
///     }
/// #   async fn fail_payment(&self, _: &GatewayPaymentId, _: PaymentState, _: &str, _: Date) -> Result<(), RepoError> { Err(NO) }
/// #   async fn record_refund_request(&self, _: &NewRefundRequest) -> Result<RefundRequest, RepoError> { Err(NO) }
/// #   async fn refund_request(&self, _: RefundRequestId) -> Result<Option<RefundRequest>, RepoError> { Ok(None) }
/// #   async fn refund_request_by_number(&self, _: PaymentId, _: &str) -> Result<Option<RefundRequest>, RepoError> { Ok(None) }
/// #   async fn complete_refund(&self, _: RefundRequestId, _: M, _: Date) -> Result<(), RepoError> { Err(NO) }
/// #   async fn reject_refund(&self, _: RefundRequestId, _: &str, _: Date) -> Result<(), RepoError> { Err(NO) }
/// }
///
/// # tokio_test_block_on(async {
/// let store = Arc::new(Store::default());
/// store.journal.lock().unwrap().push(LedgerRecord { date: date!(2026-03-01), fact: LedgerFact::Charge {
///     period: Period::new(2026, 2).unwrap(), service: ServiceKind::Electricity,
///     amount: Money::from_roubles(800), due_date: date!(2026-03-15) } });
/// let service = BillingService::new(BillingPorts {
///     clock: Arc::new(Fixed), key_rates: store.clone(), suppliers: store.clone(), houses: store.clone(),
///     accounts: store.clone(), meters: store.clone(), readings: store.clone(), tariffs: store.clone(),
///     volumes: store.clone(), charges: store.clone(), periods: store.clone(), ledger: store.clone(),
///     recalculations: store.clone(),
///     contexts: Arc::new(ComposedReadingContexts { meters: store.clone(), accounts: store.clone(),
///         suppliers: store.clone(), periods: store.clone(), readings: store.clone(),
///         volumes: store.clone() }),
/// });
///
/// let gateway_id = GatewayPaymentId::parse("pay-42").unwrap();
/// service.post_payment(PostPayment { account: AccountId::new(1), gateway_id: gateway_id.clone(),
///     amount: Money::from_roubles(500), split: Default::default() }).await.unwrap();
/// assert_eq!(service.balance(AccountId::new(1)).await.unwrap().balance, Money::from_roubles(800)); // not confirmed yet
///
/// // The gateway's webhook arrives twice: the account is credited once.
/// let first = service.confirm_payment(&gateway_id).await.unwrap();
/// let second = service.confirm_payment(&gateway_id).await.unwrap();
/// assert_eq!((first.outcome, second.outcome), (ConfirmOutcome::Credited, ConfirmOutcome::AlreadyCredited));
/// assert_eq!(second.balance, Money::from_roubles(300));
/// # });
/// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// ```
pub struct BillingService {
    pub(crate) ports: BillingPorts,
}

// ---------------------------------------------------------------------------------------------
// Readings
// ---------------------------------------------------------------------------------------------

/// The average monthly volume of the basis' history: the plausibility bound's measure.
fn average_of(basis: &CheckBasis, meter: &Meter, supplier: &Supplier) -> Option<ZoneValues> {
    let dp = supplier.policy.volume_dp(meter.service);
    average(
        &basis.volumes,
        meter.registers.scheme,
        basis.period,
        &supplier.policy,
        dp,
    )
    .map(|(v, _)| v)
}

/// A reading of the caller's account with what a change of it (correction, cancellation) is
/// checked against.
struct Changeable {
    reading: Reading,
    meter: Meter,
    supplier: Supplier,
    last_closed: Option<Period>,
    /// What a change of the reading is checked against (its period's basis).
    basis: CheckBasis,
}

/// A reading to submit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubmitReading {
    /// The account submitting (the signed-in subscriber's ЛС, or the operator's choice).
    pub account: AccountId,
    /// The meter read.
    pub meter: MeterId,
    /// One value per register, in register order.
    pub values: Vec<Decimal>,
    /// Who supplies it. Taken today, by the [`Clock`].
    pub source: ReadingSource,
}

/// A reading that was accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AcceptedReading {
    /// The stored reading.
    pub reading: Reading,
    /// Consumption since the previous reading per register (`None` for a meter's first).
    pub consumption: Option<ZoneValues>,
    /// Registers that rolled over.
    pub rollover: [bool; 3],
    /// True when the reading came after the window and belongs to the next period.
    pub late: bool,
}

impl AcceptedReading {
    /// The confirmation in Russian, for the subscriber.
    #[must_use]
    pub fn user_message(&self) -> String {
        if self.late {
            format!(
                "Показания приняты и будут учтены в периоде «{}»: приём показаний за текущий месяц завершён, он будет начислен по среднему.",
                self.reading.period.to_russian()
            )
        } else {
            format!(
                "Показания приняты за период «{}».",
                self.reading.period.to_russian()
            )
        }
    }
}

/// Why a reading was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubmitReadingError {
    /// No meter has this id.
    #[error("meter not found")]
    MeterNotFound,
    /// The meter is not billed to the account.
    #[error("meter is not on this account")]
    NotYourMeter,
    /// No account has this id.
    #[error("account not found")]
    AccountNotFound,
    /// The values were refused; the inner error says what was wrong and what is expected.
    #[error(transparent)]
    Invalid(#[from] ReadingError),
    /// A reading of this meter for the period was accepted already: correct it instead.
    #[error("a reading for {period} was accepted already")]
    AlreadySubmitted {
        /// The period.
        period: Period,
    },
    /// A port failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

impl SubmitReadingError {
    /// The refusal in Russian, for the subscriber.
    #[must_use]
    pub fn user_message(&self) -> String {
        match self {
            Self::MeterNotFound => "Прибор учёта не найден.".into(),
            Self::NotYourMeter => "Этот прибор учёта не относится к вашему лицевому счёту.".into(),
            Self::AccountNotFound => "Лицевой счёт не найден.".into(),
            Self::Invalid(e) => e.user_message(),
            Self::AlreadySubmitted { period } => format!(
                "Показания за «{}» уже переданы. Если в них ошибка, исправьте их.",
                period.to_russian()
            ),
            Self::Repo(_) => UNAVAILABLE_RU.into(),
        }
    }
}

/// A correction of an accepted reading.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CorrectReading {
    /// The account correcting.
    pub account: AccountId,
    /// The reading corrected.
    pub reading: ReadingId,
    /// The right values, one per register.
    pub values: Vec<Decimal>,
}

/// Why a reading was not corrected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CorrectReadingError {
    /// No reading has this id.
    #[error("reading not found")]
    ReadingNotFound,
    /// The reading's meter is not billed to the account.
    #[error("reading is not of this account")]
    NotYourReading,
    /// The reading may not change (closed period or window, not accepted, not the
    /// subscriber's) or the new values are invalid.
    #[error(transparent)]
    Refused(#[from] ChangeReadingError),
    /// A port failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

impl CorrectReadingError {
    /// The refusal in Russian, for the subscriber.
    #[must_use]
    pub fn user_message(&self) -> String {
        match self {
            Self::ReadingNotFound => "Показание не найдено.".into(),
            Self::NotYourReading => "Это показание не относится к вашему лицевому счёту.".into(),
            Self::Refused(e) => e.user_message(),
            Self::Repo(_) => UNAVAILABLE_RU.into(),
        }
    }
}

/// Why a reading was not cancelled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CancelReadingError {
    /// No reading has this id.
    #[error("reading not found")]
    ReadingNotFound,
    /// The reading's meter is not billed to the account.
    #[error("reading is not of this account")]
    NotYourReading,
    /// The reading may not change (closed period or window, not accepted, not the
    /// subscriber's).
    #[error(transparent)]
    Refused(#[from] ChangeReadingError),
    /// A port failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

impl CancelReadingError {
    /// The refusal in Russian, for the subscriber.
    #[must_use]
    pub fn user_message(&self) -> String {
        match self {
            Self::ReadingNotFound => "Показание не найдено.".into(),
            Self::NotYourReading => "Это показание не относится к вашему лицевому счёту.".into(),
            Self::Refused(e) => e.user_message(),
            Self::Repo(_) => UNAVAILABLE_RU.into(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Billing runs
// ---------------------------------------------------------------------------------------------

/// What a billing run did for one account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BillingOutcome {
    /// The account was billed now; the set was stored and posted.
    Billed(ChargeSet),
    /// The account had been billed for the period before; the stored set, unchanged.
    AlreadyBilled(ChargeSet),
}

impl BillingOutcome {
    /// The charge set, new or stored.
    #[must_use]
    pub fn charge_set(&self) -> &ChargeSet {
        match self {
            Self::Billed(s) | Self::AlreadyBilled(s) => s,
        }
    }

    /// True if this run stored the set.
    #[must_use]
    pub fn is_new(&self) -> bool {
        matches!(self, Self::Billed(_))
    }
}

/// What a house billing run did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HouseBillingOutcome {
    /// The house.
    pub house: HouseId,
    /// The period.
    pub period: Period,
    /// One outcome per account of the house billed by its supplier, ordered by account id.
    pub accounts: Vec<BillingOutcome>,
    /// The house's ОДН as computed by this run (`None` when nothing was billed now or the
    /// supplier does not bill ОДН).
    pub odn: Option<OdnDistribution>,
}

/// Why an account was not billed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RunBillingError {
    /// No account has this id.
    #[error("account not found")]
    AccountNotFound,
    /// The period is closed and the account has no charge set for it; corrections go into a
    /// later period as recalculations.
    #[error("period {0} is closed")]
    PeriodClosed(Period),
    /// The period's readings window has not closed yet.
    #[error("period cannot be billed before {earliest}")]
    TooEarly {
        /// The first day the period can be billed.
        earliest: Date,
    },
    /// The account's charges depend on the whole house (ОДН billed by the supplier, or heating
    /// by the house meter): run [`BillingService::run_billing_for_house`].
    #[error("account must be billed with its house {0:?}")]
    HouseRunRequired(HouseId),
    /// The billing engine refused the inputs (no tariff, mixed meter schemes …).
    #[error(transparent)]
    Billing(#[from] BillingError),
    /// Penalties could not be computed (for example a key rate is missing).
    #[error(transparent)]
    Penalty(#[from] PenaltyError),
    /// The charges could not be posted to the stored ledger.
    #[error("ledger refused the charges: {0}")]
    Ledger(LedgerError),
    /// A pending recalculation was billed by another run meanwhile; nothing was stored. Run
    /// again.
    #[error("pending recalculations changed meanwhile")]
    RecalculationsChanged,
    /// A port failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

impl RunBillingError {
    /// The refusal in Russian, for the operator.
    #[must_use]
    pub fn user_message(&self) -> String {
        match self {
            Self::AccountNotFound => "Лицевой счёт не найден.".into(),
            Self::PeriodClosed(p) => format!("Период «{}» закрыт: начисления за него не изменяются.", p.to_russian()),
            Self::TooEarly { earliest } => format!("Начисление за период возможно с {} — после окончания приёма показаний.", ru_date(*earliest)),
            Self::HouseRunRequired(_) => "Начисление по этому лицевому счёту выполняется вместе со всем домом (ОДН или отопление по общедомовому прибору).".into(),
            Self::Billing(e) => format!("Начисление невозможно: {e}"),
            Self::Penalty(e) => format!("Расчёт пеней невозможен: {e}"),
            Self::Ledger(e) => format!("Начисления не проводятся по лицевому счёту: {e}"),
            Self::RecalculationsChanged => RECALCULATIONS_CHANGED_RU.into(),
            Self::Repo(_) => UNAVAILABLE_RU.into(),
        }
    }
}

/// Why a house was not billed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RunHouseBillingError {
    /// No house has this id.
    #[error("house not found")]
    HouseNotFound,
    /// The period is closed and some account has no charge set for it.
    #[error("period {0} is closed")]
    PeriodClosed(Period),
    /// The period's readings window has not closed yet.
    #[error("period cannot be billed before {earliest}")]
    TooEarly {
        /// The first day the period can be billed.
        earliest: Date,
    },
    /// The billing engine refused the inputs.
    #[error(transparent)]
    Billing(#[from] BillingError),
    /// Penalties could not be computed.
    #[error(transparent)]
    Penalty(#[from] PenaltyError),
    /// The charges of an account could not be posted to its stored ledger.
    #[error("ledger of account {account:?} refused the charges: {source}")]
    Ledger {
        /// The account.
        account: AccountId,
        /// Why.
        source: LedgerError,
    },
    /// A pending recalculation was billed by another run meanwhile; nothing was stored. Run
    /// again.
    #[error("pending recalculations changed meanwhile")]
    RecalculationsChanged,
    /// A port failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

impl RunHouseBillingError {
    /// The refusal in Russian, for the operator.
    #[must_use]
    pub fn user_message(&self) -> String {
        match self {
            Self::HouseNotFound => "Дом не найден.".into(),
            Self::PeriodClosed(p) => format!(
                "Период «{}» закрыт: начисления за него не изменяются.",
                p.to_russian()
            ),
            Self::TooEarly { earliest } => format!(
                "Начисление за период возможно с {} — после окончания приёма показаний.",
                ru_date(*earliest)
            ),
            Self::Billing(e) => format!("Начисление невозможно: {e}"),
            Self::Penalty(e) => format!("Расчёт пеней невозможен: {e}"),
            Self::Ledger { account, source } => {
                format!("Начисления не проводятся по лицевому счёту {account}: {source}")
            }
            Self::RecalculationsChanged => RECALCULATIONS_CHANGED_RU.into(),
            Self::Repo(_) => UNAVAILABLE_RU.into(),
        }
    }
}

/// Why a period was not closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClosePeriodError {
    /// No supplier has this id.
    #[error("supplier not found")]
    SupplierNotFound,
    /// The period is closed already.
    #[error("period {0} is closed already")]
    AlreadyClosed(Period),
    /// Periods close in order: this one is next.
    #[error("close {expected} first")]
    OutOfOrder {
        /// The period to close next.
        expected: Period,
    },
    /// The period's readings window has not closed yet.
    #[error("period cannot be closed before {earliest}")]
    TooEarly {
        /// The first day the period can be closed.
        earliest: Date,
    },
    /// Some accounts have not been billed for the period: a closed period could never bill them.
    #[error("{accounts} accounts are not billed for the period")]
    Unbilled {
        /// How many.
        accounts: u64,
    },
    /// A port failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

impl ClosePeriodError {
    /// The refusal in Russian, for the operator.
    #[must_use]
    pub fn user_message(&self) -> String {
        match self {
            Self::SupplierNotFound => "Поставщик не найден.".into(),
            Self::AlreadyClosed(p) => format!("Период «{}» уже закрыт.", p.to_russian()),
            Self::OutOfOrder { expected } => format!(
                "Периоды закрываются по порядку: сначала закройте «{}».",
                expected.to_russian()
            ),
            Self::TooEarly { earliest } => format!(
                "Закрыть период можно с {} — после окончания приёма показаний.",
                ru_date(*earliest)
            ),
            Self::Unbilled { accounts } => format!(
                "Не выполнено начисление по {accounts} лицевым счетам: закрыть период нельзя."
            ),
            Self::Repo(_) => UNAVAILABLE_RU.into(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Payments, statements, documents
// ---------------------------------------------------------------------------------------------

/// A payment the subscriber started at the gateway.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PostPayment {
    /// The account paid.
    pub account: AccountId,
    /// The gateway's id of the payment.
    pub gateway_id: GatewayPaymentId,
    /// The amount.
    pub amount: Money,
    /// The payer's split by service, or the default order.
    pub split: PaymentSplit,
}

/// Why a payment was not recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PostPaymentError {
    /// No account has this id.
    #[error("account not found")]
    AccountNotFound,
    /// The amount is not positive, or below the supplier's minimum online payment while it does
    /// not settle the whole debt.
    #[error(transparent)]
    InvalidAmount(#[from] PaymentAmountError),
    /// The split names a service the account does not have, names one twice, or does not add
    /// up to the amount.
    #[error("invalid split: {0}")]
    InvalidSplit(LedgerError),
    /// A payment with this gateway id was recorded already for another account, amount or
    /// split: the gateway id cannot be reused.
    #[error("gateway id {gateway_id} was recorded with another account, amount or split")]
    GatewayIdConflict {
        /// The gateway id.
        gateway_id: GatewayPaymentId,
        /// The payment recorded with it.
        existing: PaymentId,
    },
    /// A port failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

impl PostPaymentError {
    /// The refusal in Russian, for the subscriber.
    #[must_use]
    pub fn user_message(&self) -> String {
        match self {
            Self::AccountNotFound => "Лицевой счёт не найден.".into(),
            Self::InvalidAmount(e) => e.user_message(),
            Self::InvalidSplit(e) => split_message(e),
            Self::GatewayIdConflict { .. } => {
                "Платёж с этим идентификатором уже зарегистрирован с другими данными.".into()
            }
            Self::Repo(_) => UNAVAILABLE_RU.into(),
        }
    }
}

impl From<PaymentCheckError> for PostPaymentError {
    fn from(e: PaymentCheckError) -> Self {
        match e {
            PaymentCheckError::InvalidAmount(e) => Self::InvalidAmount(e),
            PaymentCheckError::InvalidSplit(e) => Self::InvalidSplit(e),
        }
    }
}

/// Why [`check_payment`] refused a payment's amount or split.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaymentCheckError {
    /// The amount is not positive, or below the supplier's minimum online payment while it does
    /// not settle the whole debt.
    #[error(transparent)]
    InvalidAmount(#[from] PaymentAmountError),
    /// The split names a service the account does not have, names one twice, or does not add
    /// up to the amount.
    #[error("invalid split: {0}")]
    InvalidSplit(LedgerError),
}

impl PaymentCheckError {
    /// The refusal in Russian, for the subscriber.
    #[must_use]
    pub fn user_message(&self) -> String {
        match self {
            Self::InvalidAmount(e) => e.user_message(),
            Self::InvalidSplit(e) => split_message(e),
        }
    }
}

/// Why a payer's split was refused, in Russian.
pub(crate) fn split_message(e: &LedgerError) -> String {
    match e {
        LedgerError::SplitMismatch { parts, payment } => format!(
            "Сумма по услугам ({}) не равна сумме платежа ({}).",
            parts.to_russian(),
            payment.to_russian()
        ),
        LedgerError::UnknownService(s) => format!(
            "Услуга «{}» не начисляется по вашему лицевому счёту.",
            s.russian_name()
        ),
        LedgerError::DuplicateService(s) => {
            format!("Услуга «{}» указана дважды.", s.russian_name())
        }
        _ => "Распределение платежа по услугам указано неверно.".into(),
    }
}

/// The checks every new payment of an account passes before it is recorded — the ones
/// [`BillingService::post_payment`] makes, shared with the online payments: the amount is
/// positive and not below the supplier's minimum unless it settles the whole debt (the ledger's
/// positive balance), and the split names only the account's services, each once, adding up to
/// the amount. `on` is the day the payment would be created. Touches nothing.
pub fn check_payment(
    supplier: &Supplier,
    ledger: &Ledger,
    amount: Money,
    split: &PaymentSplit,
    on: Date,
) -> Result<(), PaymentCheckError> {
    // Below the minimum is fine when it settles the whole debt.
    supplier.check_payment_amount(amount, ledger.balance().positive_part())?;
    // Validate the split against the account's services without touching the real ledger.
    Ledger::new(ledger.account(), ledger.services())
        .create_payment(PaymentId::new(0), amount, on, split.clone())
        .map_err(PaymentCheckError::InvalidSplit)?;
    Ok(())
}

/// Whether a confirmation credited the account now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfirmOutcome {
    /// This confirmation credited the account.
    Credited,
    /// The payment had been confirmed before: nothing was credited again.
    AlreadyCredited,
}

/// A confirmed payment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaymentConfirmation {
    /// The payment, in the `Succeeded` state.
    pub payment: PaymentRecord,
    /// Whether this call credited it.
    pub outcome: ConfirmOutcome,
    /// How it was applied to the debt tranches.
    pub allocation: Vec<AllocationPart>,
    /// The part kept as an advance.
    pub to_advance: Money,
    /// The account's balance afterwards (positive is a debt).
    pub balance: Money,
}

/// Why a payment was not confirmed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfirmPaymentError {
    /// No payment has this gateway id.
    #[error("payment not found")]
    PaymentNotFound,
    /// The payment failed or was refunded: it cannot be confirmed.
    #[error("payment is {0:?} and cannot be confirmed")]
    NotConfirmable(PaymentState),
    /// The stored ledger refused the payment.
    #[error("ledger refused the payment: {0}")]
    Ledger(LedgerError),
    /// A port failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

impl ConfirmPaymentError {
    /// The refusal in Russian (the cabinet shows it next to the payment).
    #[must_use]
    pub fn user_message(&self) -> String {
        match self {
            Self::PaymentNotFound => "Платёж не найден.".into(),
            Self::NotConfirmable(PaymentState::Failed) => {
                "Платёж не прошёл и не может быть зачислен.".into()
            }
            Self::NotConfirmable(_) => "Платёж возвращён и не может быть зачислен.".into(),
            Self::Ledger(_) | Self::Repo(_) => UNAVAILABLE_RU.into(),
        }
    }
}

/// Why a statement was not built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatementError {
    /// No account has this id.
    #[error("account not found")]
    AccountNotFound,
    /// `from` is after `to`.
    #[error("{from} is after {to}")]
    InvalidRange {
        /// First day asked.
        from: Date,
        /// Last day asked.
        to: Date,
    },
    /// A port failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

impl StatementError {
    /// The refusal in Russian, for the subscriber.
    #[must_use]
    pub fn user_message(&self) -> String {
        match self {
            Self::AccountNotFound => "Лицевой счёт не найден.".into(),
            Self::InvalidRange { from, to } => format!(
                "Начало периода ({}) позже его конца ({}).",
                ru_date(*from),
                ru_date(*to)
            ),
            Self::Repo(_) => UNAVAILABLE_RU.into(),
        }
    }
}

/// An account's balance today.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountBalance {
    /// The account.
    pub account: AccountId,
    /// The day.
    pub as_of: Date,
    /// Positive is a debt, negative an advance.
    pub balance: Money,
    /// What is owed per service.
    pub debt_by_service: BTreeMap<ServiceKind, Money>,
    /// The advance not yet consumed.
    pub advance: Money,
    /// The tranches with something owed, oldest first.
    pub open_tranches: Vec<Tranche>,
}

/// Why a balance was not given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BalanceError {
    /// No account has this id.
    #[error("account not found")]
    AccountNotFound,
    /// A port failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

impl BalanceError {
    /// The refusal in Russian, for the subscriber.
    #[must_use]
    pub fn user_message(&self) -> String {
        match self {
            Self::AccountNotFound => "Лицевой счёт не найден.".into(),
            Self::Repo(_) => UNAVAILABLE_RU.into(),
        }
    }
}

/// Why a payment document was not built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaymentDocumentError {
    /// No account has this id.
    #[error("account not found")]
    AccountNotFound,
    /// The account has not been billed for the period yet.
    #[error("period {0} is not billed yet")]
    NotBilled(Period),
    /// The document could not be built from the stored data (requisites missing, a reading
    /// that does not fit, a QR payload that cannot be encoded …); for the operator.
    #[error(transparent)]
    Document(#[from] DocumentError),
    /// A port failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

impl PaymentDocumentError {
    /// The refusal in Russian, for the subscriber.
    #[must_use]
    pub fn user_message(&self) -> String {
        match self {
            Self::AccountNotFound => "Лицевой счёт не найден.".into(),
            Self::NotBilled(p) => format!(
                "Начисление за «{}» ещё не выполнено: платёжный документ будет доступен позже.",
                p.to_russian()
            ),
            Self::Document(_) => {
                "Платёжный документ временно недоступен: обратитесь к поставщику.".into()
            }
            Self::Repo(_) => UNAVAILABLE_RU.into(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Failed payments and refunds
// ---------------------------------------------------------------------------------------------

/// Whether a failure was recorded now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailOutcome {
    /// This call marked the payment failed.
    Failed,
    /// The payment had failed before: nothing was written.
    AlreadyFailed,
}

/// A failed payment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaymentFailure {
    /// The payment, in the `Failed` state.
    pub payment: PaymentRecord,
    /// Whether this call recorded the failure.
    pub outcome: FailOutcome,
}

/// Why a payment was not marked failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FailPaymentError {
    /// No payment has this gateway id.
    #[error("payment not found")]
    PaymentNotFound,
    /// The gateway gave no reason.
    #[error("failure reason is empty")]
    ReasonMissing,
    /// The payment succeeded or was refunded: a failure cannot undo that (refund it instead).
    #[error("payment is {0:?} and cannot fail")]
    NotFailable(PaymentState),
    /// A port failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

impl FailPaymentError {
    /// The refusal in Russian (for the operator or the gateway adapter's log).
    #[must_use]
    pub fn user_message(&self) -> String {
        match self {
            Self::PaymentNotFound => "Платёж не найден.".into(),
            Self::ReasonMissing => "Не указана причина отказа в платеже.".into(),
            Self::NotFailable(PaymentState::Refunded) => {
                "Платёж уже возвращён: отметить его неуспешным нельзя.".into()
            }
            Self::NotFailable(_) => {
                "Платёж уже зачислен: отметить его неуспешным нельзя, возможен только возврат."
                    .into()
            }
            Self::Repo(_) => UNAVAILABLE_RU.into(),
        }
    }
}

/// How many days the supplier has to refund after receiving a written request
/// (billing-rules.md §10, seed 003).
pub const REFUND_TERM_DAYS: i64 = 30;

/// A written refund request received by the supplier.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestRefund {
    /// The payment to refund, by its gateway id.
    pub gateway_id: GatewayPaymentId,
    /// The account named in the request (must be the payment's).
    pub account: AccountId,
    /// The amount asked for: the whole payment or part of it.
    pub amount: Money,
    /// The registration number of the written request.
    pub number: String,
    /// The day it was received (today or earlier).
    pub received_on: Date,
}

/// Why a refund request was not recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestRefundError {
    /// No payment has this gateway id.
    #[error("payment not found")]
    PaymentNotFound,
    /// The payment is not of the account named in the request.
    #[error("payment is not of this account")]
    NotYourPayment,
    /// The request has no registration number.
    #[error("request number is empty")]
    NumberMissing,
    /// The request is dated after today.
    #[error("request received on {0} is in the future")]
    ReceivedInFuture(Date),
    /// Only a succeeded payment can be refunded.
    #[error("payment is {0:?} and cannot be refunded")]
    NotRefundable(PaymentState),
    /// The amount is not positive.
    #[error("refund amount {0} is not positive")]
    NonPositiveAmount(Money),
    /// The amount is above what is left of the payment.
    #[error("{refundable} left to refund, {requested} requested")]
    ExceedsPayment {
        /// What can still be refunded.
        refundable: Money,
        /// What was asked.
        requested: Money,
    },
    /// A request with this number was recorded for the payment with a different amount.
    #[error("request {number} was recorded with another amount")]
    NumberConflict {
        /// The request's number.
        number: String,
    },
    /// A port failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

impl RequestRefundError {
    /// The refusal in Russian, for the operator registering the request.
    #[must_use]
    pub fn user_message(&self) -> String {
        match self {
            Self::PaymentNotFound => "Платёж не найден.".into(),
            Self::NotYourPayment => "Платёж не относится к указанному лицевому счёту.".into(),
            Self::NumberMissing => "Укажите регистрационный номер письменного заявления.".into(),
            Self::ReceivedInFuture(d) => {
                format!(
                    "Дата получения заявления ({}) ещё не наступила.",
                    ru_date(*d)
                )
            }
            Self::NotRefundable(PaymentState::Refunded) => "Платёж уже возвращён полностью.".into(),
            Self::NotRefundable(_) => "Вернуть можно только зачисленный платёж.".into(),
            Self::NonPositiveAmount(_) => "Сумма возврата должна быть больше нуля.".into(),
            Self::ExceedsPayment {
                refundable,
                requested,
            } => format!(
                "Сумма возврата ({}) больше остатка платежа ({}).",
                requested.to_russian(),
                refundable.to_russian()
            ),
            Self::NumberConflict { number } => format!(
                "Заявление № {number} по этому платежу уже зарегистрировано с другой суммой."
            ),
            Self::Repo(_) => UNAVAILABLE_RU.into(),
        }
    }
}

/// Whether a refund was made now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefundOutcome {
    /// This call refunded the money.
    Refunded,
    /// The request had been carried out before: nothing was refunded again.
    AlreadyRefunded,
}

/// A refund carried out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaymentRefund {
    /// The request, in the [`RefundStatus::Refunded`] state.
    pub request: RefundRequest,
    /// Whether this call refunded it.
    pub outcome: RefundOutcome,
    /// The account's balance afterwards (positive is a debt).
    pub balance: Money,
}

/// Why a refund request was not carried out or rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefundPaymentError {
    /// No refund request has this id.
    #[error("refund request not found")]
    RequestNotFound,
    /// The request was rejected: it cannot be carried out.
    #[error("refund request was rejected")]
    AlreadyRejected,
    /// The request was carried out: it cannot be rejected.
    #[error("refund request was carried out")]
    AlreadyRefunded,
    /// A rejection needs a reason the payer is told.
    #[error("rejection reason is empty")]
    ReasonMissing,
    /// The payment is no longer refundable (it was refunded in full by another request).
    #[error("payment is {0:?} and cannot be refunded")]
    NotRefundable(PaymentState),
    /// The request's amount is above what is left of the payment now (another request was
    /// refunded meanwhile).
    #[error("{refundable} left to refund, {requested} requested")]
    ExceedsPayment {
        /// What can still be refunded.
        refundable: Money,
        /// What the request asks for.
        requested: Money,
    },
    /// Another refund of the payment was carried out at the same moment; nothing was written.
    /// Try again.
    #[error("payment changed meanwhile")]
    Concurrent,
    /// The stored ledger refused the refund.
    #[error("ledger refused the refund: {0}")]
    Ledger(LedgerError),
    /// A port failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

impl RefundPaymentError {
    /// The refusal in Russian, for the operator.
    #[must_use]
    pub fn user_message(&self) -> String {
        match self {
            Self::RequestNotFound => "Заявление на возврат не найдено.".into(),
            Self::AlreadyRejected => "В возврате по этому заявлению уже отказано.".into(),
            Self::AlreadyRefunded => "Возврат по этому заявлению уже выполнен.".into(),
            Self::ReasonMissing => "Укажите причину отказа в возврате.".into(),
            Self::NotRefundable(_) => "Платёж уже возвращён полностью.".into(),
            Self::ExceedsPayment {
                refundable,
                requested,
            } => format!(
                "Сумма возврата ({}) больше остатка платежа ({}).",
                requested.to_russian(),
                refundable.to_russian()
            ),
            Self::Concurrent => "Платёж изменился во время возврата: повторите операцию.".into(),
            Self::Ledger(_) | Self::Repo(_) => UNAVAILABLE_RU.into(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Corrections of closed periods
// ---------------------------------------------------------------------------------------------

/// A correction of readings already billed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Correction {
    /// A control check of the meter (ПП 354 п. 61) found `values`; they replace the reading in
    /// force, and the difference of the charge is billed in the period of the check.
    ControlCheck {
        /// The meter checked.
        meter: MeterId,
        /// The day of the check.
        checked_on: Date,
        /// The number of the check act.
        act: String,
        /// The values found, one per register.
        values: Vec<Decimal>,
    },
    /// An operator corrects the reading of a closed period; the difference of the charge is
    /// billed in the next open period.
    ClosedReading {
        /// The reading corrected: the meter's reading in force.
        reading: ReadingId,
        /// The right values, one per register.
        values: Vec<Decimal>,
        /// Why (shown on the bill).
        reason: String,
    },
}

/// A correction to record for an account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordCorrection {
    /// The account.
    pub account: AccountId,
    /// What is corrected.
    pub correction: Correction,
}

/// A recorded correction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedCorrection {
    /// The reading now in force.
    pub reading: Reading,
    /// The recalculation to bill, when the corrected period was billed already (`None`: the
    /// period's own billing run will use the new reading).
    pub recalculation: Option<PendingRecalculation>,
}

/// Why a correction was not recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordCorrectionError {
    /// No account has this id.
    #[error("account not found")]
    AccountNotFound,
    /// No meter has this id.
    #[error("meter not found")]
    MeterNotFound,
    /// No reading has this id.
    #[error("reading not found")]
    ReadingNotFound,
    /// The meter is not billed to the account.
    #[error("meter is not on this account")]
    NotYourMeter,
    /// The act number or the reason is empty.
    #[error("act number or reason is empty")]
    ReasonMissing,
    /// The check is dated after today.
    #[error("check on {0} is in the future")]
    CheckInFuture(Date),
    /// The check is dated in a closed period: it belongs to the period it was made in.
    #[error("period {0} is closed")]
    PeriodClosed(Period),
    /// The check is older than the reading in force.
    #[error("check on {checked_on} is before the reading of {reading_taken_on}")]
    CheckBeforeReading {
        /// The day of the check.
        checked_on: Date,
        /// The day of the reading in force.
        reading_taken_on: Date,
    },
    /// The meter has no reading to compare with: record the check as an ordinary reading.
    #[error("meter has no accepted reading")]
    NoReportedReading,
    /// The reading's period is still open: correct it as an ordinary reading.
    #[error("period {0} is open")]
    PeriodOpen(Period),
    /// Only the meter's reading in force can be corrected by recalculation.
    #[error("reading is not the meter's latest; the latest is {latest:?}")]
    NotLatestReading {
        /// The reading in force.
        latest: ReadingId,
    },
    /// The reading was corrected or cancelled before.
    #[error("reading is {0:?}")]
    NotAccepted(ReadingStatus),
    /// The values are the ones in force: nothing to correct.
    #[error("values equal the reading in force")]
    NoDifference,
    /// The values are invalid for the meter.
    #[error(transparent)]
    Invalid(#[from] ReadingError),
    /// The corrected period could not be billed again to price the correction.
    #[error(transparent)]
    Billing(#[from] BillingError),
    /// A port failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

impl RecordCorrectionError {
    /// The refusal in Russian, for the operator.
    #[must_use]
    pub fn user_message(&self) -> String {
        match self {
            Self::AccountNotFound => "Лицевой счёт не найден.".into(),
            Self::MeterNotFound => "Прибор учёта не найден.".into(),
            Self::ReadingNotFound => "Показание не найдено.".into(),
            Self::NotYourMeter => "Прибор учёта не относится к этому лицевому счёту.".into(),
            Self::ReasonMissing => "Укажите номер акта проверки или причину исправления.".into(),
            Self::CheckInFuture(d) => {
                format!("Дата проверки ({}) ещё не наступила.", ru_date(*d))
            }
            Self::PeriodClosed(p) => format!(
                "Период «{}» закрыт: проверка учитывается в периоде, когда она проведена.",
                p.to_russian()
            ),
            Self::CheckBeforeReading {
                checked_on,
                reading_taken_on,
            } => format!(
                "Дата проверки ({}) раньше даты действующего показания ({}).",
                ru_date(*checked_on),
                ru_date(*reading_taken_on)
            ),
            Self::NoReportedReading => {
                "По прибору учёта нет принятых показаний: внесите показания проверки как обычные."
                    .into()
            }
            Self::PeriodOpen(p) => format!(
                "Период «{}» ещё не закрыт: исправьте показание без перерасчёта.",
                p.to_russian()
            ),
            Self::NotLatestReading { .. } => {
                "Исправить перерасчётом можно только последнее действующее показание прибора."
                    .into()
            }
            Self::NotAccepted(_) => "Это показание уже исправлено или отменено.".into(),
            Self::NoDifference => "Показания совпадают с действующими: перерасчёт не нужен.".into(),
            Self::Invalid(e) => e.user_message(),
            Self::Billing(e) => format!("Перерасчёт невозможен: {e}"),
            Self::Repo(_) => UNAVAILABLE_RU.into(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The journal
// ---------------------------------------------------------------------------------------------

/// Applies one journal record to a ledger.
pub fn apply_record(ledger: &mut Ledger, record: &LedgerRecord) -> Result<(), LedgerError> {
    let date = record.date;
    match &record.fact {
        LedgerFact::Charge {
            period,
            service,
            amount,
            due_date,
        } => ledger
            .post_charge(date, *period, *service, *amount, *due_date)
            .map(drop),
        LedgerFact::Adjustment {
            period,
            service,
            amount,
            reason,
            due_date,
        } => ledger
            .post_adjustment(date, *period, *service, *amount, reason.clone(), *due_date)
            .map(drop),
        LedgerFact::Penalty {
            period,
            amount,
            due_date,
        } => ledger
            .post_penalty(date, *period, *amount, *due_date)
            .map(drop),
        LedgerFact::PaymentCreated {
            payment,
            amount,
            split,
        } => ledger.create_payment(*payment, *amount, date, split.clone()),
        LedgerFact::PaymentState { payment, state } => match state {
            PaymentState::Pending => ledger.mark_pending(*payment),
            PaymentState::Succeeded => ledger.succeed_payment(*payment, date).map(drop),
            PaymentState::Failed => ledger.fail_payment(*payment),
            PaymentState::Created | PaymentState::Refunded => {
                let from = ledger
                    .payment(*payment)
                    .map(|p| p.state())
                    .ok_or(LedgerError::UnknownPayment(*payment))?;
                Err(LedgerError::InvalidTransition {
                    payment: *payment,
                    from,
                    to: *state,
                })
            }
        },
        LedgerFact::Refund { payment, amount } => {
            ledger.refund_payment(*payment, *amount, date).map(drop)
        }
    }
}

/// Rebuilds an account's [`Ledger`] by replaying its journal. The ledger knows the account's
/// services plus every service the journal mentions (so a service dropped from the account
/// later still replays).
///
/// ```
/// use billing_core::ids::{AccountId, PremiseId, SupplierId};
/// use billing_core::model::{Account, AccountNumber};
/// use billing_core::ports::{LedgerFact, LedgerRecord};
/// use billing_core::tariff::ConsumerGroup;
/// use billing_core::usecase::rebuild_ledger;
/// use billing_core::{Money, Period, ServiceKind};
/// use time::macros::date;
///
/// let account = Account { id: AccountId::new(1), number: AccountNumber::parse("1001").unwrap(),
///     supplier: SupplierId::new(1), premise: PremiseId::new(1), holder: "Иванов И. И.".into(),
///     group: ConsumerGroup::Population, services: vec![] };
/// let journal = [LedgerRecord { date: date!(2026-03-01), fact: LedgerFact::Charge {
///     period: Period::new(2026, 2).unwrap(), service: ServiceKind::Electricity,
///     amount: Money::from_roubles(800), due_date: date!(2026-03-15) } }];
/// assert_eq!(rebuild_ledger(&account, &journal).unwrap().balance(), Money::from_roubles(800));
/// ```
pub fn rebuild_ledger(account: &Account, journal: &[LedgerRecord]) -> Result<Ledger, LedgerError> {
    let mut services: Vec<ServiceKind> = account.services.iter().map(|s| s.service).collect();
    for r in journal {
        match &r.fact {
            LedgerFact::Charge { service, .. } | LedgerFact::Adjustment { service, .. } => {
                services.push(*service)
            }
            LedgerFact::PaymentCreated {
                split: PaymentSplit::ByService(parts),
                ..
            } => services.extend(parts.iter().map(|p| p.0)),
            _ => {}
        }
    }
    let mut ledger = Ledger::new(account.id, &services);
    for r in journal {
        apply_record(&mut ledger, r)?;
    }
    Ok(ledger)
}

// ---------------------------------------------------------------------------------------------
// The service
// ---------------------------------------------------------------------------------------------

/// The rates a billing run computes penalties with.
struct PenaltySetup {
    key_rates: KeyRateHistory,
    rules: PenaltyRules,
}

/// The period an entry is billed in, if it is a charge, an adjustment or penalties.
fn billed_period(e: &Entry) -> Option<Period> {
    match e.kind {
        EntryKind::Charge { period, .. }
        | EntryKind::Adjustment { period, .. }
        | EntryKind::Penalty { period } => Some(period),
        EntryKind::Payment { .. } | EntryKind::Refund { .. } => None,
    }
}

/// The ledger figures of the payment document of `period`: the balance at the start of the
/// period and the payments received in it (net of refunds), such that
/// `opening − payments + the period's charges` is the balance right after the period's charges
/// were posted. The period runs, in journal order, from just after the previous period's
/// postings to the last posting of this one.
fn document_figures(ledger: &Ledger, period: Period) -> (Money, Money) {
    let entries = ledger.entries();
    let end = entries
        .iter()
        .rposition(|e| billed_period(e) == Some(period))
        .map_or(entries.len(), |i| i + 1);
    let start = entries[..end]
        .iter()
        .rposition(|e| billed_period(e) == Some(period.prev()))
        .map_or(0, |i| i + 1);
    let mut opening: Money = entries[..start].iter().map(|e| e.amount).sum();
    let mut payments = Money::ZERO;
    for e in &entries[start..end] {
        match billed_period(e) {
            None => payments -= e.amount,
            Some(p) if p == period => {}
            // Postings of other periods (a late recalculation run) belong to the opening debt.
            Some(_) => opening += e.amount,
        }
    }
    (opening, payments)
}

/// `Ok(existing)` when a repeated post names the stored payment exactly, else the conflict.
fn same_payment(
    existing: PaymentRecord,
    cmd: &PostPayment,
) -> Result<PaymentRecord, PostPaymentError> {
    if existing.account == cmd.account
        && existing.amount == cmd.amount
        && existing.split == cmd.split
    {
        Ok(existing)
    } else {
        Err(PostPaymentError::GatewayIdConflict {
            gateway_id: cmd.gateway_id.clone(),
            existing: existing.id,
        })
    }
}

/// The meter's reading in force: the latest accepted one (by period, day taken, id).
pub(crate) fn latest_accepted(history: &[Reading]) -> Option<&Reading> {
    history
        .iter()
        .filter(|r| r.status == ReadingStatus::Accepted)
        .max_by_key(|r| (r.period, r.taken_on, r.id))
}

/// Register values as a bill writes them: `5910` or `5910 / 1200`, decimal comma.
fn ru_values(v: &ZoneValues) -> String {
    v.values()
        .iter()
        .map(|d| d.normalize().to_string().replace('.', ","))
        .collect::<Vec<_>>()
        .join(" / ")
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> RepoError {
    RepoError::Corrupt(format!("{what}: {e}"))
}

impl BillingService {
    /// Today at the supplier, by the service's [`Clock`] (what every use case here calls
    /// "today": readings windows, due dates, balances).
    #[must_use]
    pub fn today(&self) -> Date {
        self.ports.clock.today()
    }

    /// A service over its ports.
    #[must_use]
    pub fn new(ports: BillingPorts) -> BillingService {
        BillingService { ports }
    }

    /// The supplier with this id; [`RepoError::NotFound`] when there is none.
    pub(crate) async fn load_supplier(&self, id: SupplierId) -> Result<Supplier, RepoError> {
        self.ports
            .suppliers
            .supplier(id)
            .await?
            .ok_or(RepoError::NotFound)
    }

    /// The account's ledger rebuilt from its stored journal.
    pub(crate) async fn ledger_of(&self, account: &Account) -> Result<Ledger, RepoError> {
        let journal = self.ports.ledger.journal(account.id).await?;
        rebuild_ledger(account, &journal)
            .map_err(|e| corrupt(&format!("journal of account {}", account.id), e))
    }

    /// Accepts a reading taken today. A reading submitted after the supplier's window belongs to
    /// the next period (billing-rules.md §2); the current one is then billed by the average.
    pub async fn submit_reading(
        &self,
        cmd: SubmitReading,
    ) -> Result<AcceptedReading, SubmitReadingError> {
        let (today, now) = (self.ports.clock.today(), self.ports.clock.now());
        // A subscriber's reading is for this period or, after the window, the next one: the
        // context brings the basis of both, so one read serves (the window is the supplier's,
        // read in the same context). Anyone else's is for this period.
        let this_period = Period::of(today);
        let candidates = [this_period, this_period.next()];
        let asked = if cmd.source == ReadingSource::Subscriber {
            &candidates[..]
        } else {
            &candidates[..1]
        };
        let context = self
            .ports
            .contexts
            .meter_context(cmd.meter, cmd.account, asked)
            .await?
            .ok_or(SubmitReadingError::MeterNotFound)?;
        if context.meter.account != Some(cmd.account) {
            return Err(SubmitReadingError::NotYourMeter);
        }
        if context.account.is_none() {
            return Err(SubmitReadingError::AccountNotFound);
        }
        let supplier = context.supplier.as_ref().ok_or(RepoError::NotFound)?;
        let window = &supplier.policy.readings_window;
        let period = if cmd.source == ReadingSource::Subscriber {
            window.period_for(today)
        } else {
            this_period
        };
        let basis = context.basis_for(period).ok_or_else(|| {
            RepoError::Unavailable(format!("the reading context lacks period {period}"))
        })?;
        let (meter, last_closed) = (&context.meter, context.last_closed);
        let (previous, avg) = (&basis.previous, average_of(basis, meter, supplier));
        let check = ReadingCheck {
            meter,
            previous: previous.as_ref().map(|r| (&r.values, r.taken_on)),
            average: avg.as_ref(),
            last_closed,
            source: cmd.source,
        };
        let checked = check_reading(&check, &cmd.values, today, &supplier.policy)?;
        let new = NewReading {
            meter: meter.id,
            period: checked.period,
            values: checked.values,
            taken_on: today,
            submitted_at: now,
            source: cmd.source,
            supersedes: None,
        };
        let reading = match self.ports.readings.save(&new).await {
            Ok(r) => r,
            Err(RepoError::Duplicate) => {
                // A reading submitted after last month's window closed was carried over to this
                // period; the regular reading of this period replaces it (billing-rules.md §2).
                let carried_over = self
                    .ports
                    .readings
                    .history(meter.id)
                    .await?
                    .into_iter()
                    .find(|r| {
                        r.period == checked.period
                            && r.status == ReadingStatus::Accepted
                            && r.taken_on < checked.period.first_day()
                    });
                match carried_over {
                    Some(old) if today >= checked.period.first_day() => {
                        let replacing = NewReading {
                            supersedes: Some(old.id),
                            ..new
                        };
                        self.ports.readings.save(&replacing).await?
                    }
                    _ => {
                        return Err(SubmitReadingError::AlreadySubmitted {
                            period: checked.period,
                        });
                    }
                }
            }
            Err(e) => return Err(e.into()),
        };
        Ok(AcceptedReading {
            late: checked.period != Period::of(today),
            reading,
            consumption: checked.consumption,
            rollover: checked.rollover,
        })
    }

    /// The reading `id` of `account_id` with what a change of it is checked against;
    /// [`RepoError::Conflict`] if the reading's meter is not the account's.
    async fn changeable_reading(
        &self,
        account_id: AccountId,
        id: ReadingId,
    ) -> Result<Option<Changeable>, RepoError> {
        let Some((reading, context)) = self.ports.contexts.reading_context(id, account_id).await?
        else {
            return Ok(None);
        };
        if context.meter.account != Some(account_id) {
            return Err(RepoError::Conflict);
        }
        if context.account.is_none() {
            return Err(RepoError::NotFound);
        }
        let basis = context.basis_for(reading.period).cloned().ok_or_else(|| {
            RepoError::Unavailable(format!(
                "the reading context lacks period {}",
                reading.period
            ))
        })?;
        Ok(Some(Changeable {
            reading,
            supplier: context.supplier.ok_or(RepoError::NotFound)?,
            meter: context.meter,
            last_closed: context.last_closed,
            basis,
        }))
    }

    /// Replaces an accepted reading with corrected values while its period and window are open;
    /// the old one is kept as superseded.
    pub async fn correct_reading(
        &self,
        cmd: CorrectReading,
    ) -> Result<AcceptedReading, CorrectReadingError> {
        let Changeable {
            reading: old,
            meter,
            supplier,
            last_closed,
            basis,
        } = match self.changeable_reading(cmd.account, cmd.reading).await {
            Ok(Some(found)) => found,
            Ok(None) => return Err(CorrectReadingError::ReadingNotFound),
            Err(RepoError::Conflict) => return Err(CorrectReadingError::NotYourReading),
            Err(e) => return Err(e.into()),
        };
        let (today, now) = (self.ports.clock.today(), self.ports.clock.now());
        ensure_changeable(&old, today, last_closed, &supplier.policy)?;
        let (previous, avg) = (&basis.previous, average_of(&basis, &meter, &supplier));
        let check = ReadingCheck {
            meter: &meter,
            previous: previous.as_ref().map(|r| (&r.values, r.taken_on)),
            average: avg.as_ref(),
            last_closed,
            source: old.source,
        };
        let checked = check_reading(&check, &cmd.values, today, &supplier.policy)
            .map_err(ChangeReadingError::Invalid)?;
        if checked.period != old.period {
            return Err(ChangeReadingError::WindowClosed(old.period).into());
        }
        let new = NewReading {
            meter: meter.id,
            period: old.period,
            values: checked.values,
            taken_on: today,
            submitted_at: now,
            source: old.source,
            supersedes: Some(old.id),
        };
        let reading = match self.ports.readings.save(&new).await {
            Ok(r) => r,
            Err(RepoError::Conflict) => {
                return Err(ChangeReadingError::NotAccepted(ReadingStatus::Superseded).into());
            }
            Err(RepoError::NotFound) => return Err(CorrectReadingError::ReadingNotFound),
            Err(e) => return Err(e.into()),
        };
        Ok(AcceptedReading {
            late: false,
            reading,
            consumption: checked.consumption,
            rollover: checked.rollover,
        })
    }

    /// Withdraws an accepted reading while its period and window are open. Returns the reading
    /// as it now is (cancelled).
    pub async fn cancel_reading(
        &self,
        account: AccountId,
        reading: ReadingId,
    ) -> Result<Reading, CancelReadingError> {
        let Changeable {
            reading: old,
            supplier,
            last_closed,
            ..
        } = match self.changeable_reading(account, reading).await {
            Ok(Some(found)) => found,
            Ok(None) => return Err(CancelReadingError::ReadingNotFound),
            Err(RepoError::Conflict) => return Err(CancelReadingError::NotYourReading),
            Err(e) => return Err(e.into()),
        };
        let today = self.ports.clock.today();
        ensure_changeable(&old, today, last_closed, &supplier.policy)?;
        match self.ports.readings.cancel(old.id).await {
            Ok(()) => Ok(Reading {
                status: ReadingStatus::Cancelled,
                ..old
            }),
            Err(RepoError::Conflict) => {
                Err(ChangeReadingError::NotAccepted(ReadingStatus::Cancelled).into())
            }
            Err(RepoError::NotFound) => Err(CancelReadingError::ReadingNotFound),
            Err(e) => Err(e.into()),
        }
    }

    async fn penalty_setup(&self) -> Result<PenaltySetup, RepoError> {
        Ok(PenaltySetup {
            key_rates: self.ports.key_rates.key_rates().await?,
            rules: self.ports.key_rates.penalty_rules().await?,
        })
    }

    /// The meters of `account` and the readings of those measuring one of its services in
    /// `period`. `patch` replaces the stored reading with the same id (a correction being
    /// priced).
    async fn meters_and_readings(
        &self,
        account: &Account,
        period: Period,
        patch: Option<&Reading>,
    ) -> Result<(Vec<Meter>, Vec<Reading>), RepoError> {
        let meters = self.ports.meters.meters_of_account(account.id).await?;
        let mut readings = Vec::new();
        for m in &meters {
            if account
                .services
                .iter()
                .any(|s| in_period(m, s.service, period))
            {
                readings.extend(self.ports.readings.history(m.id).await?);
            }
        }
        if let Some(p) = patch {
            for r in readings.iter_mut().filter(|r| r.id == p.id) {
                *r = p.clone();
            }
        }
        Ok((meters, readings))
    }

    /// The services of `account` for `period`: meters with their opening and closing readings,
    /// and volume history. `patch` replaces the stored reading with the same id (a correction
    /// being priced) in its meter's history.
    async fn services_data(
        &self,
        account: &Account,
        period: Period,
        patch: Option<&Reading>,
    ) -> Result<Vec<ServiceData>, RepoError> {
        let (meters, readings) = self.meters_and_readings(account, period, patch).await?;
        let mut services = services_of(account, &meters, &readings, period);
        for s in &mut services {
            s.history = self
                .ports
                .volumes
                .volumes(account.id, s.service, period)
                .await?;
        }
        Ok(services)
    }

    /// Loads everything `account` needs to be billed for `period` through the ports, pending
    /// corrections of closed periods included.
    async fn account_snapshot(
        &self,
        account: Account,
        premise: Premise,
        period: Period,
        billed: bool,
    ) -> Result<AccountSnapshot, RepoError> {
        let (meters, readings) = self.meters_and_readings(&account, period, None).await?;
        let mut volumes = Vec::new();
        for s in &account.services {
            for v in self
                .ports
                .volumes
                .volumes(account.id, s.service, period)
                .await?
            {
                volumes.push((s.service, v));
            }
        }
        let recalculations = self
            .ports
            .recalculations
            .pending(account.id, period)
            .await?;
        let journal = self.ports.ledger.journal(account.id).await?;
        Ok(AccountSnapshot {
            account,
            premise,
            meters,
            readings,
            volumes,
            recalculations,
            journal,
            billed,
        })
    }

    /// Why storage refused a charge set with [`RepoError::Conflict`]: the period was closed
    /// meanwhile, or else a pending recalculation was billed by another run.
    async fn conflict_cause(
        &self,
        supplier: SupplierId,
        period: Period,
    ) -> Result<bool, RepoError> {
        Ok(self
            .ports
            .periods
            .last_closed(supplier)
            .await?
            .is_some_and(|c| period <= c))
    }

    /// Bills one account for a period — **idempotently**: if the account has a charge set for
    /// the period, it is returned unchanged as [`BillingOutcome::AlreadyBilled`] and nothing is
    /// charged. A closed period is never billed. An account whose charges depend on its house
    /// (ОДН billed by the supplier, heating by the house meter) is refused with
    /// [`RunBillingError::HouseRunRequired`].
    pub async fn run_billing_for_account(
        &self,
        account_id: AccountId,
        period: Period,
    ) -> Result<BillingOutcome, RunBillingError> {
        let account = self
            .ports
            .accounts
            .account(account_id)
            .await?
            .ok_or(RunBillingError::AccountNotFound)?;
        if let Some(set) = self.ports.charges.charge_set(account_id, period).await? {
            return Ok(BillingOutcome::AlreadyBilled(set));
        }
        let supplier = self.load_supplier(account.supplier).await?;
        if self
            .ports
            .periods
            .last_closed(supplier.id)
            .await?
            .is_some_and(|c| period <= c)
        {
            return Err(RunBillingError::PeriodClosed(period));
        }
        let today = self.ports.clock.today();
        let earliest = earliest_billing_day(&supplier, period);
        if today < earliest {
            return Err(RunBillingError::TooEarly { earliest });
        }
        let premise = self
            .ports
            .houses
            .premise(account.premise)
            .await?
            .ok_or(RepoError::NotFound)?;
        let house = self
            .ports
            .houses
            .house(premise.house)
            .await?
            .ok_or(RepoError::NotFound)?;
        let heating = account
            .services
            .iter()
            .any(|s| s.service == ServiceKind::Heating);
        if house.odn.billed_by_supplier || (house.heat_meter && heating) {
            return Err(RunBillingError::HouseRunRequired(house.id));
        }
        let tariffs = self.ports.tariffs.versions(supplier.id).await?;
        let setup = self.penalty_setup().await?;
        let snapshot = self
            .account_snapshot(account, premise, period, false)
            .await?;
        let run = RunSetup {
            supplier: &supplier,
            tariffs: &tariffs,
            key_rates: &setup.key_rates,
            rules: &setup.rules,
            period,
            today,
        };
        let data = AccountData::from_snapshot(&snapshot, period, &run).map_err(|e| match e {
            HouseRunError::Penalty { source, .. } => RunBillingError::Penalty(source),
            HouseRunError::Billing(e) => RunBillingError::Billing(e),
            HouseRunError::Ledger { source, .. } => RunBillingError::Ledger(source),
            HouseRunError::Inconsistent(text) => RepoError::Corrupt(text).into(),
        })?;
        let parts = data.parts();
        let services = service_inputs(&data, &parts);
        let bill = bill_account(
            &account_input(&data, &services),
            period,
            TariffBook { versions: &tariffs },
            None,
            house.electric_heating,
            &supplier.policy,
        )?;
        let set = data.charge_set(&supplier, period, today, bill);
        data.check_postings(&set).map_err(RunBillingError::Ledger)?;
        match self
            .ports
            .charges
            .save_charge_sets(std::slice::from_ref(&set))
            .await
        {
            Ok(()) => Ok(BillingOutcome::Billed(set)),
            // A concurrent run stored its set first: return that one, charge nothing.
            Err(RepoError::Duplicate) => {
                match self.ports.charges.charge_set(account_id, period).await? {
                    Some(stored) => Ok(BillingOutcome::AlreadyBilled(stored)),
                    None => Err(RepoError::Conflict.into()),
                }
            }
            Err(RepoError::Conflict) => {
                if self.conflict_cause(supplier.id, period).await? {
                    Err(RunBillingError::PeriodClosed(period))
                } else {
                    Err(RunBillingError::RecalculationsChanged)
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn stored_sets(
        &self,
        accounts: &[Account],
        period: Period,
    ) -> Result<Vec<Option<ChargeSet>>, RepoError> {
        let mut out = Vec::with_capacity(accounts.len());
        for a in accounts {
            out.push(self.ports.charges.charge_set(a.id, period).await?);
        }
        Ok(out)
    }

    /// Bills every account of a house for a period (their own volumes, the house's ОДН split by
    /// area, heating by the house meter) — **idempotently**: accounts with a charge set for the
    /// period keep it unchanged; the others' sets are stored in one transaction. When every
    /// account is billed already nothing is computed.
    pub async fn run_billing_for_house(
        &self,
        house_id: HouseId,
        period: Period,
    ) -> Result<HouseBillingOutcome, RunHouseBillingError> {
        let house = self
            .ports
            .houses
            .house(house_id)
            .await?
            .ok_or(RunHouseBillingError::HouseNotFound)?;
        let supplier = self.load_supplier(house.supplier).await?;
        let mut accounts = self.ports.accounts.accounts_in_house(house_id).await?;
        accounts.retain(|a| a.supplier == house.supplier);
        accounts.sort_by_key(|a| a.id);
        let stored = self.stored_sets(&accounts, period).await?;
        if stored.iter().all(Option::is_some) {
            let accounts = stored
                .into_iter()
                .flatten()
                .map(BillingOutcome::AlreadyBilled)
                .collect();
            return Ok(HouseBillingOutcome {
                house: house_id,
                period,
                accounts,
                odn: None,
            });
        }
        if self
            .ports
            .periods
            .last_closed(supplier.id)
            .await?
            .is_some_and(|c| period <= c)
        {
            return Err(RunHouseBillingError::PeriodClosed(period));
        }
        let today = self.ports.clock.today();
        let earliest = earliest_billing_day(&supplier, period);
        if today < earliest {
            return Err(RunHouseBillingError::TooEarly { earliest });
        }
        let premises: BTreeMap<_, _> = self
            .ports
            .houses
            .premises(house_id)
            .await?
            .into_iter()
            .map(|p| (p.id, p))
            .collect();
        let facts = self.ports.houses.period_facts(house_id, period).await?;
        let tariffs = self.ports.tariffs.versions(supplier.id).await?;
        let setup = self.penalty_setup().await?;
        let mut snapshots = Vec::with_capacity(accounts.len());
        for (a, s) in accounts.iter().zip(&stored) {
            let premise = premises.get(&a.premise).cloned().ok_or_else(|| {
                corrupt(&format!("account {}", a.id), "premise is not in its house")
            })?;
            snapshots.push(
                self.account_snapshot(a.clone(), premise, period, s.is_some())
                    .await?,
            );
        }
        let snapshot = HouseSnapshot {
            house,
            facts,
            accounts: snapshots,
        };
        let run = RunSetup {
            supplier: &supplier,
            tariffs: &tariffs,
            key_rates: &setup.key_rates,
            rules: &setup.rules,
            period,
            today,
        };
        let bill = bill_house_snapshot(&run, &snapshot).map_err(|e| match e {
            HouseRunError::Penalty { source, .. } => RunHouseBillingError::Penalty(source),
            HouseRunError::Billing(e) => RunHouseBillingError::Billing(e),
            HouseRunError::Ledger { account, source } => {
                RunHouseBillingError::Ledger { account, source }
            }
            HouseRunError::Inconsistent(text) => RepoError::Corrupt(text).into(),
        })?;
        let mut outcomes: Vec<Option<BillingOutcome>> = stored
            .into_iter()
            .map(|s| s.map(BillingOutcome::AlreadyBilled))
            .collect();
        let new_sets = bill.sets;
        match self.ports.charges.save_charge_sets(&new_sets).await {
            Ok(()) => {}
            Err(RepoError::Duplicate) => {
                // A concurrent run got there first: report what is stored now.
                let now = self.stored_sets(&accounts, period).await?;
                if now.iter().any(Option::is_none) {
                    return Err(RepoError::Conflict.into());
                }
                let accounts = now
                    .into_iter()
                    .flatten()
                    .map(BillingOutcome::AlreadyBilled)
                    .collect();
                return Ok(HouseBillingOutcome {
                    house: house_id,
                    period,
                    accounts,
                    odn: None,
                });
            }
            Err(RepoError::Conflict) => {
                return Err(if self.conflict_cause(supplier.id, period).await? {
                    RunHouseBillingError::PeriodClosed(period)
                } else {
                    RunHouseBillingError::RecalculationsChanged
                });
            }
            Err(e) => return Err(e.into()),
        }
        let mut new_sets = new_sets.into_iter();
        for o in &mut outcomes {
            if o.is_none() {
                *o = new_sets.next().map(BillingOutcome::Billed);
            }
        }
        Ok(HouseBillingOutcome {
            house: house_id,
            period,
            accounts: outcomes.into_iter().flatten().collect(),
            odn: bill.odn,
        })
    }

    /// Closes a period of a supplier: afterwards its readings and charges never change
    /// (corrections become recalculations of a later period). Periods close in order, after
    /// their readings window, and only when every account has been billed.
    pub async fn close_period(
        &self,
        supplier_id: SupplierId,
        period: Period,
    ) -> Result<(), ClosePeriodError> {
        let supplier = self
            .ports
            .suppliers
            .supplier(supplier_id)
            .await?
            .ok_or(ClosePeriodError::SupplierNotFound)?;
        match self.ports.periods.last_closed(supplier_id).await? {
            Some(c) if period <= c => return Err(ClosePeriodError::AlreadyClosed(period)),
            Some(c) if period != c.next() => {
                return Err(ClosePeriodError::OutOfOrder { expected: c.next() });
            }
            _ => {}
        }
        let earliest = earliest_billing_day(&supplier, period);
        if self.ports.clock.today() < earliest {
            return Err(ClosePeriodError::TooEarly { earliest });
        }
        let unbilled = self
            .ports
            .charges
            .count_unbilled(supplier_id, period)
            .await?;
        if unbilled > 0 {
            return Err(ClosePeriodError::Unbilled { accounts: unbilled });
        }
        match self.ports.periods.close(supplier_id, period).await {
            Ok(()) => Ok(()),
            Err(RepoError::Duplicate) => Err(ClosePeriodError::AlreadyClosed(period)),
            Err(e) => Err(e.into()),
        }
    }

    /// Records a payment the subscriber started at the gateway, in the `Created` state: it does
    /// not move the balance until [`BillingService::confirm_payment`].
    ///
    /// **Idempotent** per gateway id: posting a payment whose gateway id is recorded already,
    /// with the same account, amount and split, returns the stored record (whatever its state)
    /// and writes nothing; the same id with anything different is
    /// [`PostPaymentError::GatewayIdConflict`] — also when a concurrent post wins the race.
    pub async fn post_payment(&self, cmd: PostPayment) -> Result<PaymentRecord, PostPaymentError> {
        if let Some(existing) = self
            .ports
            .ledger
            .payment_by_gateway_id(&cmd.gateway_id)
            .await?
        {
            return same_payment(existing, &cmd);
        }
        let account = self
            .ports
            .accounts
            .account(cmd.account)
            .await?
            .ok_or(PostPaymentError::AccountNotFound)?;
        let supplier = self.load_supplier(account.supplier).await?;
        let today = self.ports.clock.today();
        let ledger = self.ledger_of(&account).await?;
        check_payment(&supplier, &ledger, cmd.amount, &cmd.split, today)?;
        let new = NewPayment {
            gateway_id: cmd.gateway_id.clone(),
            account: account.id,
            amount: cmd.amount,
            split: cmd.split.clone(),
            created_on: today,
        };
        match self.ports.ledger.record_payment(&new).await {
            Ok(p) => Ok(p),
            Err(RepoError::Duplicate) => {
                // A concurrent post of the same gateway id stored first.
                let existing = self
                    .ports
                    .ledger
                    .payment_by_gateway_id(&cmd.gateway_id)
                    .await?
                    .ok_or(RepoError::Conflict)?;
                same_payment(existing, &cmd)
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn confirmation(
        &self,
        payment: PaymentRecord,
        outcome: ConfirmOutcome,
        ledger: Option<Ledger>,
    ) -> Result<PaymentConfirmation, ConfirmPaymentError> {
        let ledger = match ledger {
            Some(l) => l,
            None => {
                let account = self
                    .ports
                    .accounts
                    .account(payment.account)
                    .await?
                    .ok_or(RepoError::NotFound)?;
                self.ledger_of(&account).await?
            }
        };
        let (allocation, to_advance) = ledger
            .payment(payment.id)
            .map(|p| (p.allocation().to_vec(), p.to_advance()))
            .unwrap_or_default();
        Ok(PaymentConfirmation {
            payment: PaymentRecord {
                state: PaymentState::Succeeded,
                ..payment
            },
            outcome,
            allocation,
            to_advance,
            balance: ledger.balance(),
        })
    }

    /// Confirms a payment by its gateway id (the gateway's webhook): the payment succeeds, is
    /// applied to the debt (the payer's split or oldest first) and moves the balance.
    /// **Idempotent**: confirming a confirmed payment — sequentially or in a race — credits
    /// nothing and answers [`ConfirmOutcome::AlreadyCredited`].
    pub async fn confirm_payment(
        &self,
        gateway_id: &GatewayPaymentId,
    ) -> Result<PaymentConfirmation, ConfirmPaymentError> {
        let payment = self
            .ports
            .ledger
            .payment_by_gateway_id(gateway_id)
            .await?
            .ok_or(ConfirmPaymentError::PaymentNotFound)?;
        match payment.state {
            PaymentState::Succeeded => {
                return self
                    .confirmation(payment, ConfirmOutcome::AlreadyCredited, None)
                    .await;
            }
            PaymentState::Failed | PaymentState::Refunded => {
                return Err(ConfirmPaymentError::NotConfirmable(payment.state));
            }
            PaymentState::Created | PaymentState::Pending => {}
        }
        let account = self
            .ports
            .accounts
            .account(payment.account)
            .await?
            .ok_or(RepoError::NotFound)?;
        let today = self.ports.clock.today();
        let mut ledger = self.ledger_of(&account).await?;
        ledger
            .succeed_payment(payment.id, today)
            .map_err(ConfirmPaymentError::Ledger)?;
        match self
            .ports
            .ledger
            .transition_payment(gateway_id, payment.state, PaymentState::Succeeded, today)
            .await
        {
            Ok(()) => {
                self.confirmation(payment, ConfirmOutcome::Credited, Some(ledger))
                    .await
            }
            Err(RepoError::Conflict) => {
                // Another confirmation (or a failure) won the race; nothing was written by us.
                let now = self
                    .ports
                    .ledger
                    .payment_by_gateway_id(gateway_id)
                    .await?
                    .ok_or(ConfirmPaymentError::PaymentNotFound)?;
                match now.state {
                    PaymentState::Succeeded => {
                        self.confirmation(now, ConfirmOutcome::AlreadyCredited, None)
                            .await
                    }
                    state => Err(ConfirmPaymentError::NotConfirmable(state)),
                }
            }
            Err(RepoError::NotFound) => Err(ConfirmPaymentError::PaymentNotFound),
            Err(e) => Err(e.into()),
        }
    }

    /// The statement of an account for `from..=to`: opening balance, entries with running
    /// balances, totals and closing balance.
    pub async fn statement(
        &self,
        account: AccountId,
        from: Date,
        to: Date,
    ) -> Result<Statement, StatementError> {
        if from > to {
            return Err(StatementError::InvalidRange { from, to });
        }
        let account = self
            .ports
            .accounts
            .account(account)
            .await?
            .ok_or(StatementError::AccountNotFound)?;
        Ok(self.ledger_of(&account).await?.statement(from, to))
    }

    /// The balance of an account today, with its debt per service and its advance.
    pub async fn balance(&self, account: AccountId) -> Result<AccountBalance, BalanceError> {
        let account = self
            .ports
            .accounts
            .account(account)
            .await?
            .ok_or(BalanceError::AccountNotFound)?;
        let ledger = self.ledger_of(&account).await?;
        Ok(AccountBalance {
            account: account.id,
            as_of: self.ports.clock.today(),
            balance: ledger.balance(),
            debt_by_service: ledger.debt_by_service(),
            advance: ledger.advance(),
            open_tranches: ledger.open_tranches().copied().collect(),
        })
    }

    /// The payment document (ЕПД) of an account for a billed period, built by
    /// [`build_payment_document`] from the stored charge set, the meters' readings and the
    /// ledger: the opening balance and the payments of the period come from the journal, the QR
    /// payload's `Sum` is the amount due (absent when nothing is due).
    pub async fn payment_document(
        &self,
        account: AccountId,
        period: Period,
    ) -> Result<PaymentDocument, PaymentDocumentError> {
        let account = self
            .ports
            .accounts
            .account(account)
            .await?
            .ok_or(PaymentDocumentError::AccountNotFound)?;
        let set = self
            .ports
            .charges
            .charge_set(account.id, period)
            .await?
            .ok_or(PaymentDocumentError::NotBilled(period))?;
        let supplier = self.load_supplier(account.supplier).await?;
        let premise = self
            .ports
            .houses
            .premise(account.premise)
            .await?
            .ok_or(RepoError::NotFound)?;
        let house = self
            .ports
            .houses
            .house(premise.house)
            .await?
            .ok_or(RepoError::NotFound)?;
        let services: Vec<ServiceKind> = account.services.iter().map(|s| s.service).collect();
        let mut meters = Vec::new();
        for m in self.ports.meters.meters_of_account(account.id).await? {
            if services.iter().any(|s| in_period(&m, *s, period)) {
                let history = self.ports.readings.history(m.id).await?;
                meters.push((m, history));
            }
        }
        let readings: Vec<MeterReadings<'_>> = meters
            .iter()
            .map(|(meter, history)| {
                let (previous, current) = period_readings(history, period);
                MeterReadings {
                    meter,
                    previous,
                    current,
                }
            })
            .collect();
        let ledger = self.ledger_of(&account).await?;
        let (opening_balance, payments) = document_figures(&ledger, period);
        Ok(build_payment_document(&DocumentInput {
            account: &account,
            premise: &premise,
            house: &house,
            period,
            requisites: Some(&supplier.requisites),
            lines: &set.lines,
            meters: &readings,
            opening_balance,
            payments,
            due_day: supplier.policy.due_day,
        })?)
    }

    /// Marks a payment failed by its gateway id (the gateway's "declined" webhook):
    /// `Created`/`Pending` → `Failed`, as a compare-and-set; the balance does not move.
    /// **Idempotent**: failing a failed payment — sequentially or in a race — writes nothing
    /// and answers [`FailOutcome::AlreadyFailed`]. A succeeded or refunded payment is refused.
    pub async fn fail_payment(
        &self,
        gateway_id: &GatewayPaymentId,
        reason: &str,
    ) -> Result<PaymentFailure, FailPaymentError> {
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(FailPaymentError::ReasonMissing);
        }
        let payment = self
            .ports
            .ledger
            .payment_by_gateway_id(gateway_id)
            .await?
            .ok_or(FailPaymentError::PaymentNotFound)?;
        match payment.state {
            PaymentState::Failed => {
                return Ok(PaymentFailure {
                    payment,
                    outcome: FailOutcome::AlreadyFailed,
                });
            }
            PaymentState::Succeeded | PaymentState::Refunded => {
                return Err(FailPaymentError::NotFailable(payment.state));
            }
            PaymentState::Created | PaymentState::Pending => {}
        }
        let today = self.ports.clock.today();
        match self
            .ports
            .ledger
            .fail_payment(gateway_id, payment.state, reason, today)
            .await
        {
            Ok(()) => Ok(PaymentFailure {
                payment: PaymentRecord {
                    state: PaymentState::Failed,
                    failure_reason: Some(reason.to_owned()),
                    ..payment
                },
                outcome: FailOutcome::Failed,
            }),
            Err(RepoError::Conflict) => {
                // Another webhook changed the state first; we wrote nothing.
                let now = self
                    .ports
                    .ledger
                    .payment_by_gateway_id(gateway_id)
                    .await?
                    .ok_or(FailPaymentError::PaymentNotFound)?;
                match now.state {
                    PaymentState::Failed => Ok(PaymentFailure {
                        payment: now,
                        outcome: FailOutcome::AlreadyFailed,
                    }),
                    state => Err(FailPaymentError::NotFailable(state)),
                }
            }
            Err(RepoError::NotFound) => Err(FailPaymentError::PaymentNotFound),
            Err(e) => Err(e.into()),
        }
    }

    /// Records a written refund request for (part of) a succeeded payment (billing-rules.md
    /// §10): it is due within [`REFUND_TERM_DAYS`] of its receipt and carried out by
    /// [`BillingService::refund_payment`] or refused by [`BillingService::reject_refund`].
    /// **Idempotent** per (payment, request number): the same request registered again returns
    /// the stored one; the same number with another amount is
    /// [`RequestRefundError::NumberConflict`].
    pub async fn request_refund(
        &self,
        cmd: RequestRefund,
    ) -> Result<RefundRequest, RequestRefundError> {
        let number = cmd.number.trim().to_owned();
        if number.is_empty() {
            return Err(RequestRefundError::NumberMissing);
        }
        if !cmd.amount.is_positive() {
            return Err(RequestRefundError::NonPositiveAmount(cmd.amount));
        }
        let today = self.ports.clock.today();
        if cmd.received_on > today {
            return Err(RequestRefundError::ReceivedInFuture(cmd.received_on));
        }
        let payment = self
            .ports
            .ledger
            .payment_by_gateway_id(&cmd.gateway_id)
            .await?
            .ok_or(RequestRefundError::PaymentNotFound)?;
        if payment.account != cmd.account {
            return Err(RequestRefundError::NotYourPayment);
        }
        let same = |r: &RefundRequest| r.amount == cmd.amount;
        if let Some(r) = self
            .ports
            .ledger
            .refund_request_by_number(payment.id, &number)
            .await?
        {
            return if same(&r) {
                Ok(r)
            } else {
                Err(RequestRefundError::NumberConflict { number })
            };
        }
        if payment.state != PaymentState::Succeeded {
            return Err(RequestRefundError::NotRefundable(payment.state));
        }
        if cmd.amount > payment.refundable() {
            return Err(RequestRefundError::ExceedsPayment {
                refundable: payment.refundable(),
                requested: cmd.amount,
            });
        }
        let new = NewRefundRequest {
            payment: payment.id,
            gateway_id: payment.gateway_id.clone(),
            account: payment.account,
            amount: cmd.amount,
            number: number.clone(),
            received_on: cmd.received_on,
            due_by: cmd.received_on + time::Duration::days(REFUND_TERM_DAYS),
        };
        match self.ports.ledger.record_refund_request(&new).await {
            Ok(r) => Ok(r),
            Err(RepoError::Duplicate) => {
                // A concurrent registration of the same request won.
                match self
                    .ports
                    .ledger
                    .refund_request_by_number(payment.id, &number)
                    .await?
                {
                    Some(r) if same(&r) => Ok(r),
                    Some(_) => Err(RequestRefundError::NumberConflict { number }),
                    None => Err(RepoError::Conflict.into()),
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Carries out a refund request: the amount is refunded from the payment (never above what
    /// is left of it), [`LedgerFact::Refund`] is appended to the journal and the request is
    /// marked refunded — one compare-and-set in storage. **Idempotent**: carrying out a
    /// refunded request refunds nothing and answers [`RefundOutcome::AlreadyRefunded`].
    pub async fn refund_payment(
        &self,
        request: RefundRequestId,
    ) -> Result<PaymentRefund, RefundPaymentError> {
        let req = self
            .ports
            .ledger
            .refund_request(request)
            .await?
            .ok_or(RefundPaymentError::RequestNotFound)?;
        match req.status {
            RefundStatus::Refunded { .. } => {
                return self
                    .refund_done(req, RefundOutcome::AlreadyRefunded, None)
                    .await;
            }
            RefundStatus::Rejected { .. } => return Err(RefundPaymentError::AlreadyRejected),
            RefundStatus::Requested => {}
        }
        let payment = self
            .ports
            .ledger
            .payment_by_gateway_id(&req.gateway_id)
            .await?
            .filter(|p| p.id == req.payment)
            .ok_or_else(|| corrupt(&format!("refund request {}", req.id), "payment is missing"))?;
        if payment.state != PaymentState::Succeeded {
            return Err(RefundPaymentError::NotRefundable(payment.state));
        }
        if req.amount > payment.refundable() {
            return Err(RefundPaymentError::ExceedsPayment {
                refundable: payment.refundable(),
                requested: req.amount,
            });
        }
        let account = self
            .ports
            .accounts
            .account(req.account)
            .await?
            .ok_or(RepoError::NotFound)?;
        let today = self.ports.clock.today();
        let mut ledger = self.ledger_of(&account).await?;
        ledger
            .refund_payment(payment.id, req.amount, today)
            .map_err(RefundPaymentError::Ledger)?;
        match self
            .ports
            .ledger
            .complete_refund(req.id, payment.refunded, today)
            .await
        {
            Ok(()) => {
                let done = RefundRequest {
                    status: RefundStatus::Refunded { on: today },
                    ..req
                };
                self.refund_done(done, RefundOutcome::Refunded, Some(ledger))
                    .await
            }
            Err(RepoError::Conflict) => {
                let now = self
                    .ports
                    .ledger
                    .refund_request(request)
                    .await?
                    .ok_or(RefundPaymentError::RequestNotFound)?;
                match now.status {
                    RefundStatus::Refunded { .. } => {
                        self.refund_done(now, RefundOutcome::AlreadyRefunded, None)
                            .await
                    }
                    RefundStatus::Rejected { .. } => Err(RefundPaymentError::AlreadyRejected),
                    RefundStatus::Requested => Err(RefundPaymentError::Concurrent),
                }
            }
            Err(RepoError::NotFound) => Err(RefundPaymentError::RequestNotFound),
            Err(e) => Err(e.into()),
        }
    }

    async fn refund_done(
        &self,
        request: RefundRequest,
        outcome: RefundOutcome,
        ledger: Option<Ledger>,
    ) -> Result<PaymentRefund, RefundPaymentError> {
        let balance = match ledger {
            Some(l) => l.balance(),
            None => {
                let account = self
                    .ports
                    .accounts
                    .account(request.account)
                    .await?
                    .ok_or(RepoError::NotFound)?;
                self.ledger_of(&account).await?.balance()
            }
        };
        Ok(PaymentRefund {
            request,
            outcome,
            balance,
        })
    }

    /// Refuses a refund request with a reason the payer is told; nothing is refunded.
    /// **Idempotent**: rejecting a rejected request returns it unchanged.
    pub async fn reject_refund(
        &self,
        request: RefundRequestId,
        reason: &str,
    ) -> Result<RefundRequest, RefundPaymentError> {
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(RefundPaymentError::ReasonMissing);
        }
        let req = self
            .ports
            .ledger
            .refund_request(request)
            .await?
            .ok_or(RefundPaymentError::RequestNotFound)?;
        match req.status {
            RefundStatus::Rejected { .. } => return Ok(req),
            RefundStatus::Refunded { .. } => return Err(RefundPaymentError::AlreadyRefunded),
            RefundStatus::Requested => {}
        }
        let today = self.ports.clock.today();
        match self.ports.ledger.reject_refund(req.id, reason, today).await {
            Ok(()) => Ok(RefundRequest {
                status: RefundStatus::Rejected {
                    on: today,
                    reason: reason.to_owned(),
                },
                ..req
            }),
            Err(RepoError::Conflict) => {
                let now = self
                    .ports
                    .ledger
                    .refund_request(request)
                    .await?
                    .ok_or(RefundPaymentError::RequestNotFound)?;
                match now.status {
                    RefundStatus::Rejected { .. } => Ok(now),
                    RefundStatus::Refunded { .. } => Err(RefundPaymentError::AlreadyRefunded),
                    RefundStatus::Requested => Err(RefundPaymentError::Concurrent),
                }
            }
            Err(RepoError::NotFound) => Err(RefundPaymentError::RequestNotFound),
            Err(e) => Err(e.into()),
        }
    }

    /// Records a correction of readings already billed (billing-rules.md §2, §4; ПП 354 п. 61):
    ///
    /// - [`Correction::ControlCheck`]: the values found by the check replace the meter's
    ///   reading in force; the recalculation is billed from the period of the check;
    /// - [`Correction::ClosedReading`]: an operator's correction of the reading in force of a
    ///   closed period; the recalculation is billed from the next open period.
    ///
    /// The corrected period is billed again with the new values at its own tariffs and the
    /// difference of the meter's service charge becomes a pending recalculation with its reason,
    /// stored together with the new reading ([`RecalculationRepository::record`]); the period's
    /// own charge set is never rewritten. When that period has not been billed yet, only the
    /// reading changes (its billing run uses it). The next billing run of the account bills the
    /// recalculation as a [`ChargeBasis::Recalculation`] line. A correction recorded twice is
    /// refused the second time ([`RecordCorrectionError::NoDifference`] or
    /// [`RecordCorrectionError::NotAccepted`]): it is never billed twice.
    pub async fn record_correction(
        &self,
        cmd: RecordCorrection,
    ) -> Result<RecordedCorrection, RecordCorrectionError> {
        let account = self
            .ports
            .accounts
            .account(cmd.account)
            .await?
            .ok_or(RecordCorrectionError::AccountNotFound)?;
        let supplier = self.load_supplier(account.supplier).await?;
        let today = self.ports.clock.today();
        let now = self.ports.clock.now();
        let last_closed = self.ports.periods.last_closed(supplier.id).await?;
        let first_open = last_closed.map_or(Period::of(today), Period::next);
        // The meter, the reading in force it replaces, the new values' day and source, the first
        // period to bill it, and the reason on the bill.
        let (meter, old, values, taken_on, source, kind, billed_from, why) = match &cmd.correction {
            Correction::ControlCheck {
                meter,
                checked_on,
                act,
                values,
            } => {
                if act.trim().is_empty() {
                    return Err(RecordCorrectionError::ReasonMissing);
                }
                if *checked_on > today {
                    return Err(RecordCorrectionError::CheckInFuture(*checked_on));
                }
                let of_check = Period::of(*checked_on);
                if last_closed.is_some_and(|c| of_check <= c) {
                    return Err(RecordCorrectionError::PeriodClosed(of_check));
                }
                let meter = self.account_meter(&account, *meter).await?;
                let history = self.ports.readings.history(meter.id).await?;
                let old = latest_accepted(&history)
                    .cloned()
                    .ok_or(RecordCorrectionError::NoReportedReading)?;
                if *checked_on < old.taken_on {
                    return Err(RecordCorrectionError::CheckBeforeReading {
                        checked_on: *checked_on,
                        reading_taken_on: old.taken_on,
                    });
                }
                let why = format!(
                    "проверка прибора учёта № {} {} (акт № {})",
                    meter.serial,
                    ru_date(*checked_on),
                    act.trim()
                );
                (
                    meter,
                    old,
                    values,
                    *checked_on,
                    ReadingSource::ControlCheck,
                    RecalculationKind::ControlCheck,
                    of_check,
                    why,
                )
            }
            Correction::ClosedReading {
                reading,
                values,
                reason,
            } => {
                if reason.trim().is_empty() {
                    return Err(RecordCorrectionError::ReasonMissing);
                }
                let old = self
                    .ports
                    .readings
                    .reading(*reading)
                    .await?
                    .ok_or(RecordCorrectionError::ReadingNotFound)?;
                let meter = self.account_meter(&account, old.meter).await?;
                if old.status != ReadingStatus::Accepted {
                    return Err(RecordCorrectionError::NotAccepted(old.status));
                }
                if last_closed.is_none_or(|c| old.period > c) {
                    return Err(RecordCorrectionError::PeriodOpen(old.period));
                }
                let history = self.ports.readings.history(meter.id).await?;
                match latest_accepted(&history) {
                    Some(l) if l.id != old.id => {
                        return Err(RecordCorrectionError::NotLatestReading { latest: l.id });
                    }
                    _ => {}
                }
                let why = format!(
                    "исправление показаний прибора учёта № {}: {}",
                    meter.serial,
                    reason.trim()
                );
                (
                    meter,
                    old.clone(),
                    values,
                    old.taken_on,
                    ReadingSource::Operator,
                    RecalculationKind::ReadingCorrection,
                    first_open,
                    why,
                )
            }
        };
        // The values are checked against the reading before the one they replace.
        let previous = self
            .ports
            .readings
            .last_accepted_before(meter.id, old.period)
            .await?;
        let check = ReadingCheck {
            meter: &meter,
            previous: previous.as_ref().map(|r| (&r.values, r.taken_on)),
            average: None,
            last_closed: None,
            source,
        };
        let checked = check_reading(&check, values, taken_on, &supplier.policy)?;
        if checked.values == old.values {
            return Err(RecordCorrectionError::NoDifference);
        }
        let reading = NewReading {
            meter: meter.id,
            period: old.period,
            values: checked.values,
            taken_on,
            submitted_at: now,
            source,
            supersedes: Some(old.id),
        };
        let patched = Reading {
            values: checked.values,
            taken_on,
            source,
            ..old.clone()
        };
        let amount = self
            .recalculation_amount(&account, &supplier, &meter, &patched)
            .await?;
        let Some(amount) = amount else {
            // The period is not billed yet: its own run will use the new reading.
            let reading = match self.ports.readings.save(&reading).await {
                Ok(r) => r,
                Err(RepoError::Conflict) => {
                    return Err(RecordCorrectionError::NotAccepted(
                        ReadingStatus::Superseded,
                    ));
                }
                Err(RepoError::NotFound) => return Err(RecordCorrectionError::ReadingNotFound),
                Err(e) => return Err(e.into()),
            };
            return Ok(RecordedCorrection {
                reading,
                recalculation: None,
            });
        };
        let reason = format!(
            "{why}; показания {} вместо {}",
            ru_values(&checked.values),
            ru_values(&old.values)
        );
        let new = NewRecalculation {
            account: account.id,
            service: meter.service,
            of_period: old.period,
            billed_from: billed_from.max(first_open).max(old.period.next()),
            amount,
            reason,
            kind,
            recorded_on: today,
            reading,
        };
        match self.ports.recalculations.record(&new).await {
            Ok((recalculation, reading)) => Ok(RecordedCorrection {
                reading,
                recalculation: Some(recalculation),
            }),
            Err(RepoError::Conflict) => Err(RecordCorrectionError::NotAccepted(
                ReadingStatus::Superseded,
            )),
            Err(RepoError::NotFound) => Err(RecordCorrectionError::ReadingNotFound),
            Err(e) => Err(e.into()),
        }
    }

    /// The meter `id` if it is billed to `account`.
    async fn account_meter(
        &self,
        account: &Account,
        id: MeterId,
    ) -> Result<Meter, RecordCorrectionError> {
        let meter = self
            .ports
            .meters
            .meter(id)
            .await?
            .ok_or(RecordCorrectionError::MeterNotFound)?;
        if meter.account != Some(account.id) {
            return Err(RecordCorrectionError::NotYourMeter);
        }
        Ok(meter)
    }

    /// The difference of the meter's service charge for the reading's period when `patched`
    /// replaces the stored reading with its id: the period billed again (its own tariffs, no
    /// penalties, no ОДН) minus the stored charge set's ordinary lines of the service. `None`
    /// when the period has not been billed.
    async fn recalculation_amount(
        &self,
        account: &Account,
        supplier: &Supplier,
        meter: &Meter,
        patched: &Reading,
    ) -> Result<Option<Money>, RecordCorrectionError> {
        let period = patched.period;
        let Some(stored) = self.ports.charges.charge_set(account.id, period).await? else {
            return Ok(None);
        };
        let premise = self
            .ports
            .houses
            .premise(account.premise)
            .await?
            .ok_or(RepoError::NotFound)?;
        let house = self
            .ports
            .houses
            .house(premise.house)
            .await?
            .ok_or(RepoError::NotFound)?;
        let tariffs = self.ports.tariffs.versions(supplier.id).await?;
        let services = self.services_data(account, period, Some(patched)).await?;
        let data = AccountData {
            account: account.clone(),
            premise,
            services,
            journal: Vec::new(),
            penalty: (PenaltyReport::default(), Money::ZERO),
            recalculations: Vec::new(),
            recalculation_inputs: Vec::new(),
        };
        let parts = data.parts();
        let inputs = service_inputs(&data, &parts);
        let input = AccountInput {
            penalty: None,
            ..account_input(&data, &inputs)
        };
        let bill = bill_account(
            &input,
            period,
            TariffBook { versions: &tariffs },
            None,
            house.electric_heating,
            &supplier.policy,
        )?;
        let ordinary = |lines: &[crate::charge::ChargeLine]| -> Money {
            lines
                .iter()
                .filter(|l| {
                    l.service == meter.service
                        && !matches!(
                            l.basis,
                            ChargeBasis::Recalculation { .. } | ChargeBasis::Penalty { .. }
                        )
                })
                .map(|l| l.amount)
                .sum()
        };
        Ok(Some(ordinary(&bill.lines) - ordinary(&stored.lines)))
    }
}

/// The use cases' tests; their fakes and fixtures are shared with the other use-case modules'
/// tests (`reads`, `online`).
#[cfg(test)]
pub(crate) mod tests {
    use crate::volume::PastVolume;
    use std::sync::Mutex;

    use mockall::Sequence;
    use mockall::predicate::eq;
    use rust_decimal_macros::dec;
    use time::macros::date;

    use super::*;
    use crate::charge::{ChargeBasis, ChargeLine};
    use crate::ids::{PremiseId, TariffId};
    use crate::meter::RegisterSpec;
    use crate::model::AccountService;
    use crate::model::{AccountNumber, House};
    use crate::odn::OdnPolicy;
    use crate::ports::{
        HousePeriodFacts, MockAccountRepository, MockChargeRepository, MockClock,
        MockHouseRepository, MockKeyRateSource, MockLedgerRepository, MockMeterRepository,
        MockPeriodRepository, MockReadingRepository, MockRecalculationRepository,
        MockSupplierRepository, MockTariffRepository, MockVolumeHistoryRepository,
    };
    use crate::tariff::{ConsumerGroup, ElectricityTiers, TariffKind, TariffVersion, ZonePrices};
    use crate::volume::{VolumeBasis, VolumeKind};

    pub(crate) const DOWN: fn() -> RepoError = || RepoError::Unavailable("db down".into());

    pub(crate) struct Mocks {
        pub(crate) clock: MockClock,
        pub(crate) key_rates: MockKeyRateSource,
        pub(crate) suppliers: MockSupplierRepository,
        pub(crate) houses: MockHouseRepository,
        pub(crate) accounts: MockAccountRepository,
        pub(crate) meters: MockMeterRepository,
        pub(crate) readings: MockReadingRepository,
        pub(crate) tariffs: MockTariffRepository,
        pub(crate) volumes: MockVolumeHistoryRepository,
        pub(crate) charges: MockChargeRepository,
        pub(crate) periods: MockPeriodRepository,
        pub(crate) ledger: MockLedgerRepository,
        pub(crate) recalculations: MockRecalculationRepository,
    }

    impl Mocks {
        /// Mocks with no expectations: any call not set up by a test fails it.
        pub(crate) fn new() -> Mocks {
            Mocks {
                clock: MockClock::new(),
                key_rates: MockKeyRateSource::new(),
                suppliers: MockSupplierRepository::new(),
                houses: MockHouseRepository::new(),
                accounts: MockAccountRepository::new(),
                meters: MockMeterRepository::new(),
                readings: MockReadingRepository::new(),
                tariffs: MockTariffRepository::new(),
                volumes: MockVolumeHistoryRepository::new(),
                charges: MockChargeRepository::new(),
                periods: MockPeriodRepository::new(),
                ledger: MockLedgerRepository::new(),
                recalculations: MockRecalculationRepository::new(),
            }
        }

        pub(crate) fn service(self) -> BillingService {
            // The reading contexts are composed of the mocked single-table ports, so the tests
            // set expectations on those.
            let contexts = crate::ports::ComposedReadingContexts {
                meters: Arc::new(self.meters),
                accounts: Arc::new(self.accounts),
                suppliers: Arc::new(self.suppliers),
                periods: Arc::new(self.periods),
                readings: Arc::new(self.readings),
                volumes: Arc::new(self.volumes),
            };
            BillingService::new(BillingPorts {
                clock: Arc::new(self.clock),
                key_rates: Arc::new(self.key_rates),
                suppliers: contexts.suppliers.clone(),
                houses: Arc::new(self.houses),
                accounts: contexts.accounts.clone(),
                meters: contexts.meters.clone(),
                readings: contexts.readings.clone(),
                tariffs: Arc::new(self.tariffs),
                volumes: contexts.volumes.clone(),
                charges: Arc::new(self.charges),
                periods: contexts.periods.clone(),
                ledger: Arc::new(self.ledger),
                recalculations: Arc::new(self.recalculations),
                contexts: Arc::new(contexts),
            })
        }

        pub(crate) fn today(&mut self, d: Date) {
            self.clock.expect_today().return_const(d);
            self.clock
                .expect_now()
                .return_const(d.midnight().assume_utc());
        }

        pub(crate) fn accounts(&mut self, list: Vec<Account>) {
            self.accounts
                .expect_account()
                .returning(move |id| Ok(list.iter().find(|a| a.id == id).cloned()));
        }

        pub(crate) fn supplier(&mut self) {
            self.suppliers
                .expect_supplier()
                .returning(|_| Ok(Some(supplier())));
        }

        pub(crate) fn last_closed(&mut self, p: Option<Period>) {
            self.periods.expect_last_closed().returning(move |_| Ok(p));
        }

        pub(crate) fn journal(&mut self, j: Vec<LedgerRecord>) {
            self.ledger
                .expect_journal()
                .returning(move |_| Ok(j.clone()));
        }

        pub(crate) fn meter(&mut self, m: Meter) {
            self.meters
                .expect_meter()
                .returning(move |id| Ok(Some(m.clone()).filter(|m| m.id == id)));
        }

        pub(crate) fn no_volumes(&mut self) {
            self.volumes
                .expect_volumes()
                .returning(|_, _, _| Ok(vec![]));
        }
    }

    pub(crate) fn p(y: i32, m: u32) -> Period {
        Period::new(y, m).unwrap()
    }

    pub(crate) fn supplier() -> Supplier {
        Supplier {
            id: SupplierId::new(1),
            requisites: crate::requisites::sample("АО «Энергосбыт»"),
            policy: Default::default(),
            penalty: Default::default(),
            minimum_payment: Money::from_roubles(50),
        }
    }

    pub(crate) fn account_n(n: u64) -> Account {
        Account {
            id: AccountId::new(n),
            number: AccountNumber::parse(&format!("100{n}")).unwrap(),
            supplier: SupplierId::new(1),
            premise: PremiseId::new(n),
            holder: "Иванов Иван Иванович".into(),
            group: ConsumerGroup::Population,
            services: vec![AccountService {
                service: ServiceKind::Electricity,
                norm_per_unit: dec!(100),
                meter_installable: true,
            }],
        }
    }

    pub(crate) fn account() -> Account {
        account_n(1)
    }

    pub(crate) fn premise_n(n: u64) -> Premise {
        Premise {
            id: PremiseId::new(n),
            house: HouseId::new(1),
            number: format!("{n}"),
            area: dec!(50),
            residential: true,
            persons: 2,
            rooms: 2,
        }
    }

    pub(crate) fn house(odn: bool) -> House {
        House {
            id: HouseId::new(1),
            supplier: SupplierId::new(1),
            address: "г. Москва, ул. Ленина, д. 1".into(),
            total_area: dec!(100),
            common_area: dec!(20),
            odn: OdnPolicy {
                billed_by_supplier: odn,
                cap_at_norm: false,
                norm_per_m2_common: dec!(1),
            },
            electric_heating: false,
            heat_meter: false,
        }
    }

    pub(crate) fn meter_n(id: u64, account: u64) -> Meter {
        Meter {
            id: MeterId::new(id),
            account: Some(AccountId::new(account)),
            service: ServiceKind::Electricity,
            serial: format!("35342534{id}"),
            registers: RegisterSpec::single(5),
            installed_on: date!(2020 - 01 - 01),
            commissioned_on: Some(date!(2020 - 01 - 01)),
            verification_due: None,
            failed_on: None,
            removed_on: None,
            automatic: false,
        }
    }

    pub(crate) fn meter() -> Meter {
        meter_n(7, 1)
    }

    pub(crate) fn reading(
        id: u64,
        meter: u64,
        period: Period,
        value: Decimal,
        taken_on: Date,
    ) -> Reading {
        Reading {
            id: ReadingId::new(id),
            meter: MeterId::new(meter),
            period,
            values: ZoneValues::single(value),
            taken_on,
            submitted_at: taken_on.midnight().assume_utc(),
            source: ReadingSource::Subscriber,
            status: ReadingStatus::Accepted,
            supersedes: None,
        }
    }

    pub(crate) fn feb_reading() -> Reading {
        reading(1, 7, p(2026, 2), dec!(5910), date!(2026 - 02 - 20))
    }

    pub(crate) fn stored(n: &NewReading, id: u64) -> Reading {
        Reading {
            id: ReadingId::new(id),
            meter: n.meter,
            period: n.period,
            values: n.values,
            taken_on: n.taken_on,
            submitted_at: n.submitted_at,
            source: n.source,
            status: ReadingStatus::Accepted,
            supersedes: n.supersedes,
        }
    }

    pub(crate) fn tariff() -> TariffVersion {
        TariffVersion {
            id: TariffId::new(1),
            supplier: SupplierId::new(1),
            service: ServiceKind::Electricity,
            group: ConsumerGroup::Population,
            valid_from: date!(2026 - 01 - 01),
            kind: TariffKind::Electricity(ElectricityTiers::Flat(ZonePrices::flat(dec!(6.85)))),
        }
    }

    pub(crate) fn charge(
        period: Period,
        amount: Money,
        date: Date,
        due_date: Date,
    ) -> LedgerRecord {
        LedgerRecord {
            date,
            fact: LedgerFact::Charge {
                period,
                service: ServiceKind::Electricity,
                amount,
                due_date,
            },
        }
    }

    fn submit(values: &[Decimal]) -> SubmitReading {
        SubmitReading {
            account: AccountId::new(1),
            meter: MeterId::new(7),
            values: values.to_vec(),
            source: ReadingSource::Subscriber,
        }
    }

    /// The ports a subscriber's reading of meter 7 needs, with a February reading of 5910.
    fn reading_mocks(today: Date) -> Mocks {
        let mut m = Mocks::new();
        m.meter(meter());
        m.accounts(vec![account()]);
        m.supplier();
        m.today(today);
        m.last_closed(Some(p(2026, 2)));
        m.no_volumes();
        m
    }

    // ----- submit_reading ------------------------------------------------------------------

    #[tokio::test]
    async fn submit_reading_in_the_window_is_saved_for_the_month() {
        let mut m = reading_mocks(date!(2026 - 03 - 20));
        m.readings
            .expect_last_accepted_before()
            .with(eq(MeterId::new(7)), eq(p(2026, 3)))
            .returning(|_, _| Ok(Some(feb_reading())));
        // April's basis comes too (the window could have closed); checked against it, 6060
        // would be lower than the previous reading.
        m.readings
            .expect_last_accepted_before()
            .with(eq(MeterId::new(7)), eq(p(2026, 4)))
            .returning(|_, _| {
                Ok(Some(reading(
                    9,
                    7,
                    p(2026, 3),
                    dec!(9000),
                    date!(2026 - 03 - 01),
                )))
            });
        m.readings
            .expect_save()
            .withf(|r| {
                r.period == p(2026, 3)
                    && r.values == ZoneValues::single(dec!(6060))
                    && r.taken_on == date!(2026 - 03 - 20)
                    && r.supersedes.is_none()
            })
            .times(1)
            .returning(|r| Ok(stored(r, 2)));
        let ok = m
            .service()
            .submit_reading(submit(&[dec!(6060)]))
            .await
            .unwrap();
        assert_eq!(ok.reading.id, ReadingId::new(2));
        assert_eq!(ok.consumption.unwrap().total(), dec!(150));
        assert!(!ok.late);
        assert!(ok.user_message().contains("март 2026"));
    }

    #[tokio::test]
    async fn late_reading_belongs_to_the_next_period() {
        let mut m = reading_mocks(date!(2026 - 03 - 26));
        m.readings
            .expect_last_accepted_before()
            .with(eq(MeterId::new(7)), eq(p(2026, 4)))
            .returning(|_, _| Ok(Some(feb_reading())));
        // March's basis comes too; checked against it, the consumption would be 10.
        m.readings
            .expect_last_accepted_before()
            .with(eq(MeterId::new(7)), eq(p(2026, 3)))
            .returning(|_, _| {
                Ok(Some(reading(
                    9,
                    7,
                    p(2026, 2),
                    dec!(6050),
                    date!(2026 - 02 - 25),
                )))
            });
        m.readings
            .expect_save()
            .withf(|r| r.period == p(2026, 4))
            .times(1)
            .returning(|r| Ok(stored(r, 2)));
        let ok = m
            .service()
            .submit_reading(submit(&[dec!(6060)]))
            .await
            .unwrap();
        assert!(ok.late);
        assert_eq!(ok.reading.period, p(2026, 4));
        assert_eq!(ok.consumption.unwrap().total(), dec!(150));
        assert!(ok.user_message().contains("апрель 2026"));
    }

    #[tokio::test]
    async fn submit_reading_of_unknown_meter() {
        let mut m = Mocks::new();
        m.today(date!(2026 - 03 - 20));
        m.meters.expect_meter().returning(|_| Ok(None));
        assert_eq!(
            m.service().submit_reading(submit(&[dec!(1)])).await,
            Err(SubmitReadingError::MeterNotFound)
        );
    }

    #[tokio::test]
    async fn submit_reading_of_someone_elses_meter() {
        let mut m = Mocks::new();
        m.today(date!(2026 - 03 - 20));
        m.meter(meter_n(7, 2));
        assert_eq!(
            m.service().submit_reading(submit(&[dec!(1)])).await,
            Err(SubmitReadingError::NotYourMeter)
        );
    }

    #[tokio::test]
    async fn submit_reading_of_unknown_account() {
        let mut m = Mocks::new();
        m.today(date!(2026 - 03 - 20));
        m.meter(meter());
        m.accounts(vec![]);
        assert_eq!(
            m.service().submit_reading(submit(&[dec!(1)])).await,
            Err(SubmitReadingError::AccountNotFound)
        );
    }

    #[tokio::test]
    async fn implausible_rollover_is_refused_and_not_saved() {
        let mut m = reading_mocks(date!(2026 - 03 - 20));
        m.readings
            .expect_last_accepted_before()
            .returning(|_, _| Ok(Some(feb_reading())));
        let err = m
            .service()
            .submit_reading(submit(&[dec!(5000)]))
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                SubmitReadingError::Invalid(ReadingError::LowerThanPrevious { .. })
            ),
            "{err:?}"
        );
        assert!(err.user_message().contains("меньше предыдущего"));
    }

    #[tokio::test]
    async fn consumption_far_above_the_average_is_refused() {
        let mut m = Mocks::new();
        m.meter(meter());
        m.accounts(vec![account()]);
        m.supplier();
        m.today(date!(2026 - 03 - 20));
        m.last_closed(Some(p(2026, 2)));
        m.readings
            .expect_last_accepted_before()
            .returning(|_, _| Ok(Some(feb_reading())));
        m.volumes
            .expect_volumes()
            .with(
                eq(AccountId::new(1)),
                eq(ServiceKind::Electricity),
                eq(p(2026, 3)),
            )
            .returning(|_, _, _| {
                Ok((0..6)
                    .map(|i| PastVolume {
                        period: p(2025, 9).plus_months(i),
                        kind: VolumeKind::Readings,
                        values: ZoneValues::single(dec!(100)),
                    })
                    .collect())
            });
        // April's basis (no history there) would not refuse it.
        m.volumes
            .expect_volumes()
            .with(
                eq(AccountId::new(1)),
                eq(ServiceKind::Electricity),
                eq(p(2026, 4)),
            )
            .returning(|_, _, _| Ok(Vec::new()));
        let err = m
            .service()
            .submit_reading(submit(&[dec!(7500)]))
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                SubmitReadingError::Invalid(ReadingError::Implausible { .. })
            ),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn reading_for_a_closed_period_is_refused() {
        let mut m = reading_mocks(date!(2026 - 03 - 20));
        m.periods.checkpoint();
        m.last_closed(Some(p(2026, 3)));
        m.readings
            .expect_last_accepted_before()
            .returning(|_, _| Ok(Some(feb_reading())));
        let err = m
            .service()
            .submit_reading(submit(&[dec!(6060)]))
            .await
            .unwrap_err();
        assert_eq!(
            err,
            SubmitReadingError::Invalid(ReadingError::PeriodClosed(p(2026, 3)))
        );
    }

    #[tokio::test]
    async fn second_reading_of_the_period_is_already_submitted() {
        let mut m = reading_mocks(date!(2026 - 03 - 20));
        m.readings
            .expect_last_accepted_before()
            .returning(|_, _| Ok(Some(feb_reading())));
        m.readings
            .expect_save()
            .times(1)
            .returning(|_| Err(RepoError::Duplicate));
        // The reading already there was taken inside the period: not a carry-over.
        m.readings.expect_history().returning(|_| {
            Ok(vec![
                feb_reading(),
                reading(2, 7, p(2026, 3), dec!(6000), date!(2026 - 03 - 16)),
            ])
        });
        let err = m
            .service()
            .submit_reading(submit(&[dec!(6060)]))
            .await
            .unwrap_err();
        assert_eq!(
            err,
            SubmitReadingError::AlreadySubmitted { period: p(2026, 3) }
        );
        assert!(err.user_message().contains("исправьте"));
    }

    // Review defect 10: a reading sent on 26.02 belongs to March; the regular March reading
    // supersedes it instead of being refused.
    #[tokio::test]
    async fn regular_reading_supersedes_a_late_carry_over() {
        let mut m = reading_mocks(date!(2026 - 03 - 20));
        m.readings
            .expect_last_accepted_before()
            .returning(|_, _| Ok(Some(feb_reading())));
        let mut seq = mockall::Sequence::new();
        m.readings
            .expect_save()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Err(RepoError::Duplicate));
        m.readings.expect_history().returning(|_| {
            Ok(vec![
                feb_reading(),
                reading(2, 7, p(2026, 3), dec!(6000), date!(2026 - 02 - 26)),
            ])
        });
        m.readings
            .expect_save()
            .times(1)
            .in_sequence(&mut seq)
            .withf(|n| n.supersedes == Some(ReadingId::new(2)) && n.period == p(2026, 3))
            .returning(|n| Ok(stored(n, 3)));
        let accepted = m
            .service()
            .submit_reading(submit(&[dec!(6060)]))
            .await
            .unwrap();
        assert_eq!(accepted.reading.supersedes, Some(ReadingId::new(2)));
        assert_eq!(accepted.reading.values, ZoneValues::single(dec!(6060)));
    }

    #[tokio::test]
    async fn submit_reading_port_failures_are_repo_errors() {
        let mut m = Mocks::new();
        m.today(date!(2026 - 03 - 20));
        m.meters.expect_meter().returning(|_| Err(DOWN()));
        assert_eq!(
            m.service().submit_reading(submit(&[dec!(1)])).await,
            Err(SubmitReadingError::Repo(DOWN()))
        );

        let mut m = reading_mocks(date!(2026 - 03 - 20));
        m.readings
            .expect_last_accepted_before()
            .returning(|_, _| Ok(Some(feb_reading())));
        m.readings.expect_save().returning(|_| Err(DOWN()));
        let err = m
            .service()
            .submit_reading(submit(&[dec!(6060)]))
            .await
            .unwrap_err();
        assert_eq!(err, SubmitReadingError::Repo(DOWN()));
        assert_eq!(err.user_message(), UNAVAILABLE_RU);

        let mut m = Mocks::new();
        m.today(date!(2026 - 03 - 20));
        m.meter(meter());
        m.accounts(vec![account()]);
        m.suppliers.expect_supplier().returning(|_| Ok(None));
        m.readings
            .expect_last_accepted_before()
            .returning(|_, _| Ok(None));
        m.no_volumes();
        assert_eq!(
            m.service().submit_reading(submit(&[dec!(1)])).await,
            Err(SubmitReadingError::Repo(RepoError::NotFound))
        );
    }

    // ----- correct_reading / cancel_reading ------------------------------------------------

    fn march_reading() -> Reading {
        reading(2, 7, p(2026, 3), dec!(6060), date!(2026 - 03 - 20))
    }

    fn change_mocks(today: Date, old: Reading) -> Mocks {
        let mut m = reading_mocks(today);
        m.readings
            .expect_reading()
            .returning(move |id| Ok(Some(old.clone()).filter(|r| r.id == id)));
        m.readings
            .expect_last_accepted_before()
            .with(eq(MeterId::new(7)), eq(p(2026, 3)))
            .returning(|_, _| Ok(Some(feb_reading())));
        m
    }

    fn correct(values: &[Decimal]) -> CorrectReading {
        CorrectReading {
            account: AccountId::new(1),
            reading: ReadingId::new(2),
            values: values.to_vec(),
        }
    }

    #[tokio::test]
    async fn correction_supersedes_the_old_reading() {
        let mut m = change_mocks(date!(2026 - 03 - 22), march_reading());
        m.readings
            .expect_save()
            .withf(|r| {
                r.supersedes == Some(ReadingId::new(2))
                    && r.period == p(2026, 3)
                    && r.values == ZoneValues::single(dec!(6050))
            })
            .times(1)
            .returning(|r| Ok(stored(r, 3)));
        let ok = m
            .service()
            .correct_reading(correct(&[dec!(6050)]))
            .await
            .unwrap();
        assert_eq!(ok.reading.supersedes, Some(ReadingId::new(2)));
        assert_eq!(ok.consumption.unwrap().total(), dec!(140));
    }

    #[tokio::test]
    async fn correction_of_unknown_reading() {
        let mut m = Mocks::new();
        m.readings.expect_reading().returning(|_| Ok(None));
        assert_eq!(
            m.service().correct_reading(correct(&[dec!(1)])).await,
            Err(CorrectReadingError::ReadingNotFound)
        );
    }

    #[tokio::test]
    async fn correction_of_someone_elses_reading() {
        let mut m = Mocks::new();
        m.readings
            .expect_reading()
            .returning(|_| Ok(Some(march_reading())));
        m.meter(meter_n(7, 2));
        let err = m
            .service()
            .correct_reading(correct(&[dec!(1)]))
            .await
            .unwrap_err();
        assert_eq!(err, CorrectReadingError::NotYourReading);
        assert!(!err.user_message().is_empty());
    }

    #[tokio::test]
    async fn correction_after_the_window_is_refused() {
        let m = change_mocks(date!(2026 - 03 - 26), march_reading());
        let err = m
            .service()
            .correct_reading(correct(&[dec!(6050)]))
            .await
            .unwrap_err();
        assert_eq!(
            err,
            CorrectReadingError::Refused(ChangeReadingError::WindowClosed(p(2026, 3)))
        );
    }

    #[tokio::test]
    async fn correction_with_invalid_values_is_refused() {
        let m = change_mocks(date!(2026 - 03 - 22), march_reading());
        let err = m
            .service()
            .correct_reading(correct(&[dec!(5000)]))
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                CorrectReadingError::Refused(ChangeReadingError::Invalid(
                    ReadingError::LowerThanPrevious { .. }
                ))
            ),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn correction_of_a_superseded_reading_is_refused() {
        let old = Reading {
            status: ReadingStatus::Superseded,
            ..march_reading()
        };
        let m = change_mocks(date!(2026 - 03 - 22), old);
        let err = m
            .service()
            .correct_reading(correct(&[dec!(6050)]))
            .await
            .unwrap_err();
        assert_eq!(
            err,
            CorrectReadingError::Refused(ChangeReadingError::NotAccepted(
                ReadingStatus::Superseded
            ))
        );
    }

    #[tokio::test]
    async fn correction_losing_a_race_is_refused() {
        let mut m = change_mocks(date!(2026 - 03 - 22), march_reading());
        m.readings
            .expect_save()
            .times(1)
            .returning(|_| Err(RepoError::Conflict));
        let err = m
            .service()
            .correct_reading(correct(&[dec!(6050)]))
            .await
            .unwrap_err();
        assert_eq!(
            err,
            CorrectReadingError::Refused(ChangeReadingError::NotAccepted(
                ReadingStatus::Superseded
            ))
        );
        assert!(err.user_message().contains("уже исправлено"));
    }

    #[tokio::test]
    async fn correction_port_failure() {
        let mut m = change_mocks(date!(2026 - 03 - 22), march_reading());
        m.readings.expect_save().returning(|_| Err(DOWN()));
        assert_eq!(
            m.service().correct_reading(correct(&[dec!(6050)])).await,
            Err(CorrectReadingError::Repo(DOWN()))
        );
    }

    #[tokio::test]
    async fn cancellation_marks_the_reading_cancelled() {
        let mut m = change_mocks(date!(2026 - 03 - 22), march_reading());
        m.readings
            .expect_cancel()
            .with(eq(ReadingId::new(2)))
            .times(1)
            .returning(|_| Ok(()));
        let r = m
            .service()
            .cancel_reading(AccountId::new(1), ReadingId::new(2))
            .await
            .unwrap();
        assert_eq!(r.status, ReadingStatus::Cancelled);
    }

    #[tokio::test]
    async fn cancellation_in_a_closed_period_is_refused() {
        let mut m = change_mocks(date!(2026 - 03 - 22), march_reading());
        m.periods.checkpoint();
        m.last_closed(Some(p(2026, 3)));
        let err = m
            .service()
            .cancel_reading(AccountId::new(1), ReadingId::new(2))
            .await
            .unwrap_err();
        assert_eq!(
            err,
            CancelReadingError::Refused(ChangeReadingError::PeriodClosed(p(2026, 3)))
        );
    }

    #[tokio::test]
    async fn cancellation_rejections_and_failures() {
        let mut m = Mocks::new();
        m.readings.expect_reading().returning(|_| Ok(None));
        assert_eq!(
            m.service()
                .cancel_reading(AccountId::new(1), ReadingId::new(2))
                .await,
            Err(CancelReadingError::ReadingNotFound)
        );

        let mut m = Mocks::new();
        m.readings
            .expect_reading()
            .returning(|_| Ok(Some(march_reading())));
        m.meter(meter_n(7, 2));
        assert_eq!(
            m.service()
                .cancel_reading(AccountId::new(1), ReadingId::new(2))
                .await,
            Err(CancelReadingError::NotYourReading)
        );

        let mut m = change_mocks(date!(2026 - 03 - 22), march_reading());
        m.readings
            .expect_cancel()
            .returning(|_| Err(RepoError::Conflict));
        let err = m
            .service()
            .cancel_reading(AccountId::new(1), ReadingId::new(2))
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                CancelReadingError::Refused(ChangeReadingError::NotAccepted(_))
            ),
            "{err:?}"
        );

        let mut m = change_mocks(date!(2026 - 03 - 22), march_reading());
        m.readings.expect_cancel().returning(|_| Err(DOWN()));
        assert_eq!(
            m.service()
                .cancel_reading(AccountId::new(1), ReadingId::new(2))
                .await,
            Err(CancelReadingError::Repo(DOWN()))
        );
    }

    // ----- run_billing_for_account ---------------------------------------------------------

    /// Everything account 1 needs to be billed for March 2026 on 26.03.2026: readings 5910 →
    /// 6060 (150 kWh) at 6.85 ₽.
    fn billing_mocks(odn: bool) -> Mocks {
        let mut m = Mocks::new();
        m.accounts(vec![account()]);
        m.supplier();
        m.today(date!(2026 - 03 - 26));
        m.last_closed(Some(p(2026, 2)));
        m.houses
            .expect_premise()
            .returning(|id| Ok(Some(premise_n(id.get()))));
        m.houses
            .expect_house()
            .returning(move |_| Ok(Some(house(odn))));
        m.tariffs
            .expect_versions()
            .returning(|_| Ok(vec![tariff()]));
        m.key_rates
            .expect_key_rates()
            .returning(|| Ok(KeyRateHistory::bank_of_russia()));
        m.key_rates
            .expect_penalty_rules()
            .returning(|| Ok(PenaltyRules::russian_statutory()));
        m.meters.expect_meters_of_account().returning(|a| {
            Ok(vec![if a.get() == 1 {
                meter()
            } else {
                meter_n(8, a.get())
            }])
        });
        m.readings.expect_history().returning(|id| {
            Ok(match id.get() {
                7 => vec![feb_reading(), march_reading()],
                _ => vec![
                    reading(11, 8, p(2026, 2), dec!(1000), date!(2026 - 02 - 20)),
                    reading(12, 8, p(2026, 3), dec!(1100), date!(2026 - 03 - 20)),
                ],
            })
        });
        m.no_volumes();
        m.recalculations
            .expect_pending()
            .returning(|_, _| Ok(vec![]));
        m
    }

    #[tokio::test]
    async fn billing_an_account_stores_and_posts_one_charge_set() {
        let mut m = billing_mocks(false);
        m.journal(vec![]);
        m.charges
            .expect_charge_set()
            .with(eq(AccountId::new(1)), eq(p(2026, 3)))
            .returning(|_, _| Ok(None));
        m.charges
            .expect_save_charge_sets()
            .withf(|sets| {
                sets.len() == 1
                    && sets[0].account == AccountId::new(1)
                    && sets[0].total() == Money::from_kopecks(102_750)
            })
            .times(1)
            .returning(|_| Ok(()));
        let outcome = m
            .service()
            .run_billing_for_account(AccountId::new(1), p(2026, 3))
            .await
            .unwrap();
        assert!(outcome.is_new());
        let set = outcome.charge_set();
        assert_eq!(
            (set.posted_on, set.due_date),
            (date!(2026 - 03 - 26), date!(2026 - 04 - 15))
        );
        assert!(matches!(
            set.lines[0].basis,
            ChargeBasis::Volume(VolumeBasis::Readings { .. })
        ));
        assert_eq!(
            set.postings(),
            vec![charge(
                p(2026, 3),
                Money::from_kopecks(102_750),
                date!(2026 - 03 - 26),
                date!(2026 - 04 - 15)
            )]
        );
    }

    #[tokio::test]
    async fn billing_without_a_reading_uses_the_norm_for_the_registered_persons() {
        let mut m = billing_mocks(false);
        m.readings.checkpoint();
        m.readings
            .expect_history()
            .returning(|_| Ok(vec![feb_reading()]));
        m.journal(vec![]);
        m.charges.expect_charge_set().returning(|_, _| Ok(None));
        m.charges
            .expect_save_charge_sets()
            .times(1)
            .returning(|_| Ok(()));
        let outcome = m
            .service()
            .run_billing_for_account(AccountId::new(1), p(2026, 3))
            .await
            .unwrap();
        // Norm 100 kWh × 2 persons × 6.85 ₽; no coefficient for a plain non-submission.
        assert_eq!(outcome.charge_set().total(), Money::from_kopecks(137_000));
        assert!(outcome.charge_set().has_estimates());
    }

    #[tokio::test]
    async fn billing_twice_returns_the_stored_set_and_charges_nothing() {
        let mut m = billing_mocks(false);
        let mut first = None;
        m.journal(vec![]);
        m.charges
            .expect_charge_set()
            .times(1)
            .returning(|_, _| Ok(None));
        m.charges
            .expect_save_charge_sets()
            .times(1)
            .returning(|_| Ok(()));
        let service = m.service();
        if let BillingOutcome::Billed(s) = service
            .run_billing_for_account(AccountId::new(1), p(2026, 3))
            .await
            .unwrap()
        {
            first = Some(s);
        }
        let first = first.expect("first run bills");

        // Second run: storage has the set; nothing is computed or saved (no other expectations).
        let mut m = Mocks::new();
        m.accounts(vec![account()]);
        let stored = first.clone();
        m.charges
            .expect_charge_set()
            .times(1)
            .returning(move |_, _| Ok(Some(stored.clone())));
        m.charges.expect_save_charge_sets().never();
        let again = m
            .service()
            .run_billing_for_account(AccountId::new(1), p(2026, 3))
            .await
            .unwrap();
        assert_eq!(again, BillingOutcome::AlreadyBilled(first));
    }

    #[tokio::test]
    async fn a_concurrent_run_that_stored_first_wins() {
        let mut m = billing_mocks(false);
        m.journal(vec![]);
        let mut seq = Sequence::new();
        m.charges
            .expect_charge_set()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(None));
        m.charges
            .expect_save_charge_sets()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Err(RepoError::Duplicate));
        let theirs = ChargeSet {
            account: AccountId::new(1),
            supplier: SupplierId::new(1),
            period: p(2026, 3),
            posted_on: date!(2026 - 03 - 26),
            due_date: date!(2026 - 04 - 15),
            volumes: vec![],
            lines: vec![],
            recalculations: vec![],
        };
        let stored = theirs.clone();
        m.charges
            .expect_charge_set()
            .times(1)
            .in_sequence(&mut seq)
            .returning(move |_, _| Ok(Some(stored.clone())));
        let outcome = m
            .service()
            .run_billing_for_account(AccountId::new(1), p(2026, 3))
            .await
            .unwrap();
        assert_eq!(outcome, BillingOutcome::AlreadyBilled(theirs));
    }

    #[tokio::test]
    async fn a_closed_period_is_never_billed() {
        let mut m = Mocks::new();
        m.accounts(vec![account()]);
        m.supplier();
        m.charges.expect_charge_set().returning(|_, _| Ok(None));
        m.last_closed(Some(p(2026, 3)));
        let err = m
            .service()
            .run_billing_for_account(AccountId::new(1), p(2026, 3))
            .await
            .unwrap_err();
        assert_eq!(err, RunBillingError::PeriodClosed(p(2026, 3)));
        assert!(err.user_message().contains("закрыт"));
    }

    #[tokio::test]
    async fn billing_before_the_window_closes_is_too_early() {
        let mut m = Mocks::new();
        m.accounts(vec![account()]);
        m.supplier();
        m.charges.expect_charge_set().returning(|_, _| Ok(None));
        m.last_closed(Some(p(2026, 2)));
        m.today(date!(2026 - 03 - 25));
        let err = m
            .service()
            .run_billing_for_account(AccountId::new(1), p(2026, 3))
            .await
            .unwrap_err();
        assert_eq!(
            err,
            RunBillingError::TooEarly {
                earliest: date!(2026 - 03 - 26)
            }
        );
    }

    #[tokio::test]
    async fn an_account_with_odn_needs_the_house_run() {
        let mut m = billing_mocks(true);
        m.charges.expect_charge_set().returning(|_, _| Ok(None));
        assert_eq!(
            m.service()
                .run_billing_for_account(AccountId::new(1), p(2026, 3))
                .await,
            Err(RunBillingError::HouseRunRequired(HouseId::new(1)))
        );
    }

    #[tokio::test]
    async fn billing_rejections_and_failures() {
        let mut m = Mocks::new();
        m.accounts(vec![]);
        assert_eq!(
            m.service()
                .run_billing_for_account(AccountId::new(1), p(2026, 3))
                .await,
            Err(RunBillingError::AccountNotFound)
        );

        // No tariff: the engine's refusal.
        let mut m = billing_mocks(false);
        m.tariffs.checkpoint();
        m.tariffs.expect_versions().returning(|_| Ok(vec![]));
        m.journal(vec![]);
        m.charges.expect_charge_set().returning(|_, _| Ok(None));
        let err = m
            .service()
            .run_billing_for_account(AccountId::new(1), p(2026, 3))
            .await
            .unwrap_err();
        assert!(
            matches!(err, RunBillingError::Billing(BillingError::Tariff { .. })),
            "{err:?}"
        );

        // A port failure.
        let mut m = billing_mocks(false);
        m.tariffs.checkpoint();
        m.tariffs.expect_versions().returning(|_| Err(DOWN()));
        m.charges.expect_charge_set().returning(|_, _| Ok(None));
        assert_eq!(
            m.service()
                .run_billing_for_account(AccountId::new(1), p(2026, 3))
                .await,
            Err(RunBillingError::Repo(DOWN()))
        );

        // The period was closed between the check and the save.
        let mut m = billing_mocks(false);
        m.periods.checkpoint();
        let mut seq = Sequence::new();
        m.periods
            .expect_last_closed()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(Some(p(2026, 2))));
        m.periods
            .expect_last_closed()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(Some(p(2026, 3))));
        m.journal(vec![]);
        m.charges.expect_charge_set().returning(|_, _| Ok(None));
        m.charges
            .expect_save_charge_sets()
            .returning(|_| Err(RepoError::Conflict));
        assert_eq!(
            m.service()
                .run_billing_for_account(AccountId::new(1), p(2026, 3))
                .await,
            Err(RunBillingError::PeriodClosed(p(2026, 3)))
        );

        // A corrupt journal.
        let mut m = billing_mocks(false);
        m.journal(vec![LedgerRecord {
            date: date!(2026 - 03 - 01),
            fact: LedgerFact::PaymentState {
                payment: PaymentId::new(9),
                state: PaymentState::Succeeded,
            },
        }]);
        m.charges.expect_charge_set().returning(|_, _| Ok(None));
        let err = m
            .service()
            .run_billing_for_account(AccountId::new(1), p(2026, 3))
            .await
            .unwrap_err();
        assert!(
            matches!(err, RunBillingError::Repo(RepoError::Corrupt(_))),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn billing_adds_penalties_on_an_old_unpaid_debt() {
        let mut m = billing_mocks(false);
        let journal = vec![charge(
            p(2025, 10),
            Money::from_roubles(1000),
            date!(2025 - 11 - 01),
            date!(2025 - 11 - 10),
        )];
        let expected = rebuild_ledger(&account(), &journal)
            .unwrap()
            .penalties(
                date!(2026 - 03 - 31),
                &KeyRateHistory::bank_of_russia(),
                &PenaltyRules::russian_statutory(),
                &Default::default(),
            )
            .unwrap()
            .total();
        assert!(expected.is_positive());
        m.journal(journal);
        m.charges.expect_charge_set().returning(|_, _| Ok(None));
        m.charges
            .expect_save_charge_sets()
            .times(1)
            .returning(|_| Ok(()));
        let outcome = m
            .service()
            .run_billing_for_account(AccountId::new(1), p(2026, 3))
            .await
            .unwrap();
        let set = outcome.charge_set();
        assert_eq!(
            set.lines
                .iter()
                .filter(|l| l.service == ServiceKind::Penalty)
                .map(|l| l.amount)
                .sum::<Money>(),
            expected
        );
        assert!(set.postings().iter().any(|r| r.fact
            == LedgerFact::Penalty {
                period: p(2026, 3),
                amount: expected,
                due_date: date!(2026 - 04 - 15)
            }));
    }

    // ----- run_billing_for_house -----------------------------------------------------------

    fn house_mocks() -> Mocks {
        let mut m = billing_mocks(true);
        m.accounts.checkpoint();
        m.accounts(vec![account_n(1), account_n(2)]);
        m.accounts
            .expect_accounts_in_house()
            .returning(|_| Ok(vec![account_n(2), account_n(1)]));
        m.houses
            .expect_premises()
            .returning(|_| Ok(vec![premise_n(1), premise_n(2)]));
        m.houses.expect_period_facts().returning(|_, _| {
            Ok(HousePeriodFacts {
                house_meter_volume: Some(dec!(400)),
                ..Default::default()
            })
        });
        m.journal(vec![]);
        m
    }

    fn odn_volume(set: &ChargeSet) -> Decimal {
        set.lines
            .iter()
            .filter(|l| l.service == ServiceKind::ElectricityCommon)
            .map(|l| l.quantity)
            .sum()
    }

    #[tokio::test]
    async fn billing_a_house_splits_odn_and_saves_every_account_at_once() {
        let mut m = house_mocks();
        m.charges.expect_charge_set().returning(|_, _| Ok(None));
        m.charges
            .expect_save_charge_sets()
            .withf(|sets| sets.len() == 2)
            .times(1)
            .returning(|_| Ok(()));
        let out = m
            .service()
            .run_billing_for_house(HouseId::new(1), p(2026, 3))
            .await
            .unwrap();
        assert_eq!(out.accounts.len(), 2);
        assert!(out.accounts.iter().all(BillingOutcome::is_new));
        assert_eq!(out.accounts[0].charge_set().account, AccountId::new(1));
        // House 400 − flats (150 + 100) = 150 kWh, split 50 m² / 50 m².
        let shares: Vec<Decimal> = out
            .accounts
            .iter()
            .map(|o| odn_volume(o.charge_set()))
            .collect();
        assert_eq!(shares.iter().copied().sum::<Decimal>(), dec!(150));
        assert_eq!(shares[0], dec!(75));
        assert!(out.odn.is_some());
    }

    #[tokio::test]
    async fn a_house_run_keeps_stored_sets_and_saves_only_the_missing_ones() {
        let mut m = house_mocks();
        let existing = ChargeSet {
            account: AccountId::new(1),
            supplier: SupplierId::new(1),
            period: p(2026, 3),
            posted_on: date!(2026 - 03 - 26),
            due_date: date!(2026 - 04 - 15),
            volumes: vec![],
            lines: vec![],
            recalculations: vec![],
        };
        let stored = existing.clone();
        m.charges
            .expect_charge_set()
            .returning(move |a, _| Ok(Some(stored.clone()).filter(|_| a == AccountId::new(1))));
        m.charges
            .expect_save_charge_sets()
            .withf(|sets| sets.len() == 1 && sets[0].account == AccountId::new(2))
            .times(1)
            .returning(|_| Ok(()));
        let out = m
            .service()
            .run_billing_for_house(HouseId::new(1), p(2026, 3))
            .await
            .unwrap();
        assert_eq!(out.accounts[0], BillingOutcome::AlreadyBilled(existing));
        assert!(out.accounts[1].is_new());
    }

    #[tokio::test]
    async fn a_billed_house_is_not_billed_again() {
        let mut m = Mocks::new();
        m.houses.expect_house().returning(|_| Ok(Some(house(true))));
        m.supplier();
        m.accounts
            .expect_accounts_in_house()
            .returning(|_| Ok(vec![account_n(1), account_n(2)]));
        m.charges
            .expect_charge_set()
            .times(2)
            .returning(|a, period| {
                Ok(Some(ChargeSet {
                    account: a,
                    supplier: SupplierId::new(1),
                    period,
                    posted_on: date!(2026 - 03 - 26),
                    due_date: date!(2026 - 04 - 15),
                    volumes: vec![],
                    lines: vec![],
                    recalculations: vec![],
                }))
            });
        m.charges.expect_save_charge_sets().never();
        let out = m
            .service()
            .run_billing_for_house(HouseId::new(1), p(2026, 3))
            .await
            .unwrap();
        assert!(out.accounts.iter().all(|o| !o.is_new()));
        assert_eq!(out.odn, None);
    }

    #[tokio::test]
    async fn a_house_run_losing_a_race_reports_the_stored_sets() {
        let mut m = house_mocks();
        let mut seq = Sequence::new();
        m.charges
            .expect_charge_set()
            .times(2)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(None));
        m.charges
            .expect_save_charge_sets()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Err(RepoError::Duplicate));
        m.charges
            .expect_charge_set()
            .times(2)
            .in_sequence(&mut seq)
            .returning(|a, period| {
                Ok(Some(ChargeSet {
                    account: a,
                    supplier: SupplierId::new(1),
                    period,
                    posted_on: date!(2026 - 03 - 26),
                    due_date: date!(2026 - 04 - 15),
                    volumes: vec![],
                    lines: vec![],
                    recalculations: vec![],
                }))
            });
        let out = m
            .service()
            .run_billing_for_house(HouseId::new(1), p(2026, 3))
            .await
            .unwrap();
        assert!(out.accounts.iter().all(|o| !o.is_new()));
    }

    #[tokio::test]
    async fn house_run_rejections_and_failures() {
        let mut m = Mocks::new();
        m.houses.expect_house().returning(|_| Ok(None));
        assert_eq!(
            m.service()
                .run_billing_for_house(HouseId::new(1), p(2026, 3))
                .await,
            Err(RunHouseBillingError::HouseNotFound)
        );

        let mut m = house_mocks();
        m.charges.expect_charge_set().returning(|_, _| Ok(None));
        m.periods.checkpoint();
        m.last_closed(Some(p(2026, 3)));
        assert_eq!(
            m.service()
                .run_billing_for_house(HouseId::new(1), p(2026, 3))
                .await,
            Err(RunHouseBillingError::PeriodClosed(p(2026, 3)))
        );

        let mut m = house_mocks();
        m.charges.expect_charge_set().returning(|_, _| Ok(None));
        m.houses.checkpoint();
        m.houses.expect_house().returning(|_| Ok(Some(house(true))));
        m.houses.expect_premises().returning(|_| Err(DOWN()));
        assert_eq!(
            m.service()
                .run_billing_for_house(HouseId::new(1), p(2026, 3))
                .await,
            Err(RunHouseBillingError::Repo(DOWN()))
        );

        let mut m = house_mocks();
        m.charges.expect_charge_set().returning(|_, _| Ok(None));
        m.charges
            .expect_save_charge_sets()
            .returning(|_| Err(DOWN()));
        assert_eq!(
            m.service()
                .run_billing_for_house(HouseId::new(1), p(2026, 3))
                .await,
            Err(RunHouseBillingError::Repo(DOWN()))
        );
    }

    // ----- close_period --------------------------------------------------------------------

    fn close_mocks(last: Option<Period>, today: Date) -> Mocks {
        let mut m = Mocks::new();
        m.supplier();
        m.last_closed(last);
        m.today(today);
        m
    }

    #[tokio::test]
    async fn closing_the_next_billed_period() {
        let mut m = close_mocks(Some(p(2026, 2)), date!(2026 - 04 - 01));
        m.charges.expect_count_unbilled().returning(|_, _| Ok(0));
        m.periods
            .expect_close()
            .with(eq(SupplierId::new(1)), eq(p(2026, 3)))
            .times(1)
            .returning(|_, _| Ok(()));
        assert_eq!(
            m.service()
                .close_period(SupplierId::new(1), p(2026, 3))
                .await,
            Ok(())
        );
    }

    #[tokio::test]
    async fn closing_rejections() {
        let m = close_mocks(Some(p(2026, 3)), date!(2026 - 04 - 01));
        assert_eq!(
            m.service()
                .close_period(SupplierId::new(1), p(2026, 3))
                .await,
            Err(ClosePeriodError::AlreadyClosed(p(2026, 3)))
        );

        let m = close_mocks(Some(p(2026, 1)), date!(2026 - 04 - 01));
        let err = m
            .service()
            .close_period(SupplierId::new(1), p(2026, 3))
            .await
            .unwrap_err();
        assert_eq!(
            err,
            ClosePeriodError::OutOfOrder {
                expected: p(2026, 2)
            }
        );
        assert!(err.user_message().contains("февраль 2026"));

        let m = close_mocks(Some(p(2026, 2)), date!(2026 - 03 - 25));
        assert_eq!(
            m.service()
                .close_period(SupplierId::new(1), p(2026, 3))
                .await,
            Err(ClosePeriodError::TooEarly {
                earliest: date!(2026 - 03 - 26)
            })
        );

        let mut m = close_mocks(Some(p(2026, 2)), date!(2026 - 04 - 01));
        m.charges.expect_count_unbilled().returning(|_, _| Ok(3));
        m.periods.expect_close().never();
        assert_eq!(
            m.service()
                .close_period(SupplierId::new(1), p(2026, 3))
                .await,
            Err(ClosePeriodError::Unbilled { accounts: 3 })
        );

        let mut m = close_mocks(None, date!(2026 - 04 - 01));
        m.charges.expect_count_unbilled().returning(|_, _| Ok(0));
        m.periods
            .expect_close()
            .returning(|_, _| Err(RepoError::Duplicate));
        assert_eq!(
            m.service()
                .close_period(SupplierId::new(1), p(2026, 3))
                .await,
            Err(ClosePeriodError::AlreadyClosed(p(2026, 3)))
        );

        let mut m = Mocks::new();
        m.suppliers.expect_supplier().returning(|_| Ok(None));
        assert_eq!(
            m.service()
                .close_period(SupplierId::new(1), p(2026, 3))
                .await,
            Err(ClosePeriodError::SupplierNotFound)
        );

        let mut m = close_mocks(Some(p(2026, 2)), date!(2026 - 04 - 01));
        m.charges
            .expect_count_unbilled()
            .returning(|_, _| Err(DOWN()));
        assert_eq!(
            m.service()
                .close_period(SupplierId::new(1), p(2026, 3))
                .await,
            Err(ClosePeriodError::Repo(DOWN()))
        );
    }

    // ----- post_payment / confirm_payment --------------------------------------------------

    pub(crate) fn gw() -> GatewayPaymentId {
        GatewayPaymentId::parse("sbp-0001").unwrap()
    }

    fn pay(amount: Money, split: PaymentSplit) -> PostPayment {
        PostPayment {
            account: AccountId::new(1),
            gateway_id: gw(),
            amount,
            split,
        }
    }

    fn payment_mocks() -> Mocks {
        let mut m = Mocks::new();
        m.accounts(vec![account()]);
        m.supplier();
        m.today(date!(2026 - 03 - 20));
        m.journal(vec![charge(
            p(2026, 2),
            Money::from_roubles(800),
            date!(2026 - 03 - 01),
            date!(2026 - 03 - 15),
        )]);
        m.ledger
            .expect_payment_by_gateway_id()
            .returning(|_| Ok(None));
        m
    }

    pub(crate) fn record(new: &NewPayment) -> PaymentRecord {
        PaymentRecord {
            id: PaymentId::new(5),
            gateway_id: new.gateway_id.clone(),
            account: new.account,
            amount: new.amount,
            split: new.split.clone(),
            created_on: new.created_on,
            state: PaymentState::Created,
            refunded: Money::ZERO,
            failure_reason: None,
        }
    }

    #[tokio::test]
    async fn posting_a_payment_records_it_without_moving_the_balance() {
        let mut m = payment_mocks();
        m.ledger
            .expect_record_payment()
            .withf(|n| {
                n.gateway_id == gw()
                    && n.amount == Money::from_roubles(500)
                    && n.created_on == date!(2026 - 03 - 20)
                    && n.account == AccountId::new(1)
            })
            .times(1)
            .returning(|n| Ok(record(n)));
        let rec = m
            .service()
            .post_payment(pay(Money::from_roubles(500), PaymentSplit::Default))
            .await
            .unwrap();
        assert_eq!(rec.state, PaymentState::Created);
    }

    #[tokio::test]
    async fn posting_a_payment_with_a_split_by_service() {
        let mut m = payment_mocks();
        m.ledger
            .expect_record_payment()
            .times(1)
            .returning(|n| Ok(record(n)));
        let split = PaymentSplit::ByService(vec![
            (ServiceKind::Electricity, Money::from_roubles(400)),
            (ServiceKind::Penalty, Money::from_roubles(100)),
        ]);
        assert!(
            m.service()
                .post_payment(pay(Money::from_roubles(500), split))
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn a_payment_below_the_minimum_that_settles_the_debt_is_accepted() {
        let mut m = payment_mocks();
        m.ledger.checkpoint();
        m.journal(vec![charge(
            p(2026, 2),
            Money::from_roubles(30),
            date!(2026 - 03 - 01),
            date!(2026 - 03 - 15),
        )]);
        m.ledger
            .expect_payment_by_gateway_id()
            .returning(|_| Ok(None));
        m.ledger
            .expect_record_payment()
            .times(1)
            .returning(|n| Ok(record(n)));
        let rec = m
            .service()
            .post_payment(pay(Money::from_roubles(30), PaymentSplit::Default))
            .await
            .unwrap();
        assert_eq!(rec.amount, Money::from_roubles(30));
    }

    #[tokio::test]
    async fn payment_rejections() {
        let m = payment_mocks();
        let err = m
            .service()
            .post_payment(pay(Money::from_kopecks(4999), PaymentSplit::Default))
            .await
            .unwrap_err();
        assert_eq!(
            err,
            PostPaymentError::InvalidAmount(PaymentAmountError::BelowMinimum {
                minimum: Money::from_roubles(50)
            })
        );
        assert!(err.user_message().contains("50,00"));

        let m = payment_mocks();
        assert_eq!(
            m.service()
                .post_payment(pay(Money::ZERO, PaymentSplit::Default))
                .await,
            Err(PostPaymentError::InvalidAmount(
                PaymentAmountError::NotPositive
            ))
        );

        let m = payment_mocks();
        let split =
            PaymentSplit::ByService(vec![(ServiceKind::Electricity, Money::from_roubles(400))]);
        let err = m
            .service()
            .post_payment(pay(Money::from_roubles(500), split))
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                PostPaymentError::InvalidSplit(LedgerError::SplitMismatch { .. })
            ),
            "{err:?}"
        );

        let m = payment_mocks();
        let split = PaymentSplit::ByService(vec![(ServiceKind::Heating, Money::from_roubles(500))]);
        let err = m
            .service()
            .post_payment(pay(Money::from_roubles(500), split))
            .await
            .unwrap_err();
        assert_eq!(
            err,
            PostPaymentError::InvalidSplit(LedgerError::UnknownService(ServiceKind::Heating))
        );
        assert!(err.user_message().contains("Отопление"));

        let mut m = payment_mocks();
        m.ledger.expect_record_payment().returning(|_| Err(DOWN()));
        assert_eq!(
            m.service()
                .post_payment(pay(Money::from_roubles(500), PaymentSplit::Default))
                .await,
            Err(PostPaymentError::Repo(DOWN()))
        );

        let mut m = Mocks::new();
        m.accounts(vec![]);
        m.ledger
            .expect_payment_by_gateway_id()
            .returning(|_| Ok(None));
        assert_eq!(
            m.service()
                .post_payment(pay(Money::from_roubles(500), PaymentSplit::Default))
                .await,
            Err(PostPaymentError::AccountNotFound)
        );
    }

    /// Storage of one payment as a compare-and-set, shared by the mock's closures.
    #[derive(Default)]
    pub(crate) struct Store {
        pub(crate) journal: Vec<LedgerRecord>,
        pub(crate) payment: Option<PaymentRecord>,
        pub(crate) refunds: Vec<RefundRequest>,
    }

    pub(crate) fn store_with_pending_payment() -> Arc<Mutex<Store>> {
        let payment = PaymentRecord {
            id: PaymentId::new(5),
            gateway_id: gw(),
            account: AccountId::new(1),
            amount: Money::from_roubles(500),
            split: PaymentSplit::Default,
            created_on: date!(2026 - 03 - 20),
            state: PaymentState::Pending,
            refunded: Money::ZERO,
            failure_reason: None,
        };
        let journal = vec![
            charge(
                p(2026, 2),
                Money::from_roubles(800),
                date!(2026 - 03 - 01),
                date!(2026 - 03 - 15),
            ),
            LedgerRecord {
                date: date!(2026 - 03 - 20),
                fact: LedgerFact::PaymentCreated {
                    payment: payment.id,
                    amount: payment.amount,
                    split: PaymentSplit::Default,
                },
            },
            LedgerRecord {
                date: date!(2026 - 03 - 20),
                fact: LedgerFact::PaymentState {
                    payment: payment.id,
                    state: PaymentState::Pending,
                },
            },
        ];
        Arc::new(Mutex::new(Store {
            journal,
            payment: Some(payment),
            refunds: vec![],
        }))
    }

    pub(crate) fn store_mocks(store: &Arc<Mutex<Store>>) -> Mocks {
        let mut m = Mocks::new();
        m.accounts(vec![account()]);
        m.today(date!(2026 - 03 - 21));
        let s = store.clone();
        m.ledger
            .expect_journal()
            .returning(move |_| Ok(s.lock().unwrap().journal.clone()));
        let s = store.clone();
        m.ledger.expect_payment_by_gateway_id().returning(move |g| {
            Ok(s.lock()
                .unwrap()
                .payment
                .clone()
                .filter(|p| &p.gateway_id == g))
        });
        m
    }

    pub(crate) fn cas(
        store: &Arc<Mutex<Store>>,
    ) -> impl Fn(&GatewayPaymentId, PaymentState, PaymentState, Date) -> Result<(), RepoError>
    + Send
    + 'static {
        let s = store.clone();
        move |_, from, to, on| {
            let mut s = s.lock().unwrap();
            let p = s.payment.as_mut().ok_or(RepoError::NotFound)?;
            if p.state != from {
                return Err(RepoError::Conflict);
            }
            p.state = to;
            let payment = p.id;
            s.journal.push(LedgerRecord {
                date: on,
                fact: LedgerFact::PaymentState { payment, state: to },
            });
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_payment_confirmed_twice_credits_once() {
        let store = store_with_pending_payment();
        let mut m = store_mocks(&store);
        m.ledger
            .expect_transition_payment()
            .times(1)
            .returning(cas(&store));
        let service = m.service();
        let first = service.confirm_payment(&gw()).await.unwrap();
        assert_eq!(first.outcome, ConfirmOutcome::Credited);
        assert_eq!(first.balance, Money::from_roubles(300));
        assert_eq!(
            first.allocation,
            vec![AllocationPart {
                period: p(2026, 2),
                service: ServiceKind::Electricity,
                amount: Money::from_roubles(500)
            }]
        );
        let second = service.confirm_payment(&gw()).await.unwrap();
        assert_eq!(second.outcome, ConfirmOutcome::AlreadyCredited);
        assert_eq!(second.balance, Money::from_roubles(300));
        assert_eq!(second.allocation, first.allocation);
        let credits = store
            .lock()
            .unwrap()
            .journal
            .iter()
            .filter(|r| {
                matches!(
                    r.fact,
                    LedgerFact::PaymentState {
                        state: PaymentState::Succeeded,
                        ..
                    }
                )
            })
            .count();
        assert_eq!(credits, 1);
    }

    #[tokio::test]
    async fn a_confirmation_losing_the_race_credits_nothing() {
        let store = store_with_pending_payment();
        let mut m = store_mocks(&store);
        // The other webhook commits between our read and our compare-and-set.
        let other = cas(&store);
        m.ledger
            .expect_transition_payment()
            .times(1)
            .returning(move |g, from, to, on| {
                other(g, from, to, on)?;
                Err(RepoError::Conflict)
            });
        let out = m.service().confirm_payment(&gw()).await.unwrap();
        assert_eq!(out.outcome, ConfirmOutcome::AlreadyCredited);
        assert_eq!(out.balance, Money::from_roubles(300));
    }

    #[tokio::test]
    async fn confirmation_rejections_and_failures() {
        let mut m = Mocks::new();
        m.ledger
            .expect_payment_by_gateway_id()
            .returning(|_| Ok(None));
        assert_eq!(
            m.service().confirm_payment(&gw()).await,
            Err(ConfirmPaymentError::PaymentNotFound)
        );

        let store = store_with_pending_payment();
        store.lock().unwrap().payment.as_mut().unwrap().state = PaymentState::Failed;
        let mut m = store_mocks(&store);
        m.ledger.expect_transition_payment().never();
        let err = m.service().confirm_payment(&gw()).await.unwrap_err();
        assert_eq!(
            err,
            ConfirmPaymentError::NotConfirmable(PaymentState::Failed)
        );
        assert!(err.user_message().contains("не прошёл"));

        let store = store_with_pending_payment();
        let mut m = store_mocks(&store);
        m.ledger
            .expect_transition_payment()
            .returning(|_, _, _, _| Err(DOWN()));
        assert_eq!(
            m.service().confirm_payment(&gw()).await,
            Err(ConfirmPaymentError::Repo(DOWN()))
        );
        assert_eq!(store.lock().unwrap().journal.len(), 3);

        // The payment failed meanwhile.
        let store = store_with_pending_payment();
        let mut m = store_mocks(&store);
        let s = store.clone();
        m.ledger
            .expect_transition_payment()
            .returning(move |_, _, _, _| {
                s.lock().unwrap().payment.as_mut().unwrap().state = PaymentState::Failed;
                Err(RepoError::Conflict)
            });
        assert_eq!(
            m.service().confirm_payment(&gw()).await,
            Err(ConfirmPaymentError::NotConfirmable(PaymentState::Failed))
        );

        // The ledger refuses a confirmation dated before its last entry.
        let store = store_with_pending_payment();
        let mut m = store_mocks(&store);
        m.clock.checkpoint();
        m.today(date!(2026 - 02 - 28));
        let err = m.service().confirm_payment(&gw()).await.unwrap_err();
        assert!(
            matches!(
                err,
                ConfirmPaymentError::Ledger(LedgerError::OutOfOrder { .. })
            ),
            "{err:?}"
        );
    }

    // ----- post_payment idempotence --------------------------------------------------------

    fn stored_payment(state: PaymentState) -> PaymentRecord {
        PaymentRecord {
            id: PaymentId::new(5),
            gateway_id: gw(),
            account: AccountId::new(1),
            amount: Money::from_roubles(500),
            split: PaymentSplit::Default,
            created_on: date!(2026 - 03 - 20),
            state,
            refunded: Money::ZERO,
            failure_reason: None,
        }
    }

    #[tokio::test]
    async fn reposting_the_same_payment_returns_the_stored_record() {
        let mut m = Mocks::new();
        m.ledger
            .expect_payment_by_gateway_id()
            .with(eq(gw()))
            .returning(|_| Ok(Some(stored_payment(PaymentState::Succeeded))));
        m.ledger.expect_record_payment().never();
        let rec = m
            .service()
            .post_payment(pay(Money::from_roubles(500), PaymentSplit::Default))
            .await
            .unwrap();
        assert_eq!(rec, stored_payment(PaymentState::Succeeded));
    }

    #[tokio::test]
    async fn reposting_a_gateway_id_with_other_data_is_a_conflict() {
        for cmd in [
            pay(Money::from_roubles(600), PaymentSplit::Default),
            PostPayment {
                account: AccountId::new(2),
                ..pay(Money::from_roubles(500), PaymentSplit::Default)
            },
            pay(
                Money::from_roubles(500),
                PaymentSplit::ByService(vec![(ServiceKind::Electricity, Money::from_roubles(500))]),
            ),
        ] {
            let mut m = Mocks::new();
            m.ledger
                .expect_payment_by_gateway_id()
                .returning(|_| Ok(Some(stored_payment(PaymentState::Created))));
            m.ledger.expect_record_payment().never();
            let err = m.service().post_payment(cmd).await.unwrap_err();
            assert_eq!(
                err,
                PostPaymentError::GatewayIdConflict {
                    gateway_id: gw(),
                    existing: PaymentId::new(5)
                }
            );
            assert!(err.user_message().contains("другими данными"));
        }
    }

    #[tokio::test]
    async fn a_post_losing_the_race_to_the_same_payment_returns_it() {
        for (winner_amount, ok) in [(500, true), (700, false)] {
            let mut m = payment_mocks();
            m.ledger.checkpoint();
            m.journal(vec![]);
            let mut seq = Sequence::new();
            m.ledger
                .expect_payment_by_gateway_id()
                .times(1)
                .in_sequence(&mut seq)
                .returning(|_| Ok(None));
            m.ledger
                .expect_record_payment()
                .times(1)
                .in_sequence(&mut seq)
                .returning(|_| Err(RepoError::Duplicate));
            m.ledger
                .expect_payment_by_gateway_id()
                .times(1)
                .in_sequence(&mut seq)
                .returning(move |_| {
                    Ok(Some(PaymentRecord {
                        amount: Money::from_roubles(winner_amount),
                        ..stored_payment(PaymentState::Created)
                    }))
                });
            let out = m
                .service()
                .post_payment(pay(Money::from_roubles(500), PaymentSplit::Default))
                .await;
            assert_eq!(out.is_ok(), ok, "{out:?}");
            if !ok {
                assert!(matches!(
                    out,
                    Err(PostPaymentError::GatewayIdConflict { .. })
                ));
            }
        }
    }

    #[tokio::test]
    async fn post_payment_lookup_failure_is_a_repo_error() {
        let mut m = Mocks::new();
        m.ledger
            .expect_payment_by_gateway_id()
            .returning(|_| Err(DOWN()));
        assert_eq!(
            m.service()
                .post_payment(pay(Money::from_roubles(500), PaymentSplit::Default))
                .await,
            Err(PostPaymentError::Repo(DOWN()))
        );
    }

    // ----- fail_payment --------------------------------------------------------------------

    pub(crate) fn fail_cas(
        store: &Arc<Mutex<Store>>,
    ) -> impl Fn(&GatewayPaymentId, PaymentState, &str, Date) -> Result<(), RepoError> + Send + 'static
    {
        let s = store.clone();
        move |_, from, reason, on| {
            let mut s = s.lock().unwrap();
            let p = s.payment.as_mut().ok_or(RepoError::NotFound)?;
            if p.state != from {
                return Err(RepoError::Conflict);
            }
            p.state = PaymentState::Failed;
            p.failure_reason = Some(reason.to_owned());
            let payment = p.id;
            s.journal.push(LedgerRecord {
                date: on,
                fact: LedgerFact::PaymentState {
                    payment,
                    state: PaymentState::Failed,
                },
            });
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_payment_failed_twice_is_recorded_once() {
        let store = store_with_pending_payment();
        let mut m = store_mocks(&store);
        m.ledger
            .expect_fail_payment()
            .withf(|g, from, reason, on| {
                *g == gw()
                    && *from == PaymentState::Pending
                    && reason == "недостаточно средств"
                    && *on == date!(2026 - 03 - 21)
            })
            .times(1)
            .returning(fail_cas(&store));
        let service = m.service();
        let first = service
            .fail_payment(&gw(), " недостаточно средств ")
            .await
            .unwrap();
        assert_eq!(first.outcome, FailOutcome::Failed);
        assert_eq!(first.payment.state, PaymentState::Failed);
        assert_eq!(
            first.payment.failure_reason.as_deref(),
            Some("недостаточно средств")
        );
        let second = service.fail_payment(&gw(), "повтор").await.unwrap();
        assert_eq!(second.outcome, FailOutcome::AlreadyFailed);
        // The journal replays, and the failed payment never moved the balance.
        let journal = store.lock().unwrap().journal.clone();
        assert_eq!(journal.len(), 4);
        let ledger = rebuild_ledger(&account(), &journal).unwrap();
        assert_eq!(ledger.balance(), Money::from_roubles(800));
        assert_eq!(
            ledger.payment(PaymentId::new(5)).unwrap().state(),
            PaymentState::Failed
        );
    }

    #[tokio::test]
    async fn a_failure_losing_the_race_reports_the_winner() {
        // Another "declined" webhook won: already failed.
        let store = store_with_pending_payment();
        let mut m = store_mocks(&store);
        let other = fail_cas(&store);
        m.ledger
            .expect_fail_payment()
            .times(1)
            .returning(move |g, from, r, on| {
                other(g, from, r, on)?;
                Err(RepoError::Conflict)
            });
        let out = m.service().fail_payment(&gw(), "отказ").await.unwrap();
        assert_eq!(out.outcome, FailOutcome::AlreadyFailed);

        // A confirmation won: the payment cannot fail any more.
        let store = store_with_pending_payment();
        let mut m = store_mocks(&store);
        let confirm = cas(&store);
        m.ledger
            .expect_fail_payment()
            .times(1)
            .returning(move |g, from, _, on| {
                confirm(g, from, PaymentState::Succeeded, on)?;
                Err(RepoError::Conflict)
            });
        assert_eq!(
            m.service().fail_payment(&gw(), "отказ").await,
            Err(FailPaymentError::NotFailable(PaymentState::Succeeded))
        );
    }

    #[tokio::test]
    async fn fail_payment_rejections_and_failures() {
        let m = Mocks::new();
        assert_eq!(
            m.service().fail_payment(&gw(), "  ").await,
            Err(FailPaymentError::ReasonMissing)
        );

        let mut m = Mocks::new();
        m.ledger
            .expect_payment_by_gateway_id()
            .returning(|_| Ok(None));
        assert_eq!(
            m.service().fail_payment(&gw(), "отказ").await,
            Err(FailPaymentError::PaymentNotFound)
        );

        for state in [PaymentState::Succeeded, PaymentState::Refunded] {
            let store = store_with_pending_payment();
            store.lock().unwrap().payment.as_mut().unwrap().state = state;
            let mut m = store_mocks(&store);
            m.ledger.expect_fail_payment().never();
            let err = m.service().fail_payment(&gw(), "отказ").await.unwrap_err();
            assert_eq!(err, FailPaymentError::NotFailable(state));
            assert!(err.user_message().contains("нельзя"));
        }

        let store = store_with_pending_payment();
        let mut m = store_mocks(&store);
        m.ledger
            .expect_fail_payment()
            .returning(|_, _, _, _| Err(DOWN()));
        assert_eq!(
            m.service().fail_payment(&gw(), "отказ").await,
            Err(FailPaymentError::Repo(DOWN()))
        );
        assert_eq!(store.lock().unwrap().journal.len(), 3);

        let mut m = Mocks::new();
        m.ledger
            .expect_payment_by_gateway_id()
            .returning(|_| Err(DOWN()));
        let err = m.service().fail_payment(&gw(), "отказ").await.unwrap_err();
        assert_eq!(err, FailPaymentError::Repo(DOWN()));
        assert_eq!(err.user_message(), UNAVAILABLE_RU);
    }

    // ----- refunds -------------------------------------------------------------------------

    /// A store whose payment of 500 ₽ (on a debt of 800 ₽) succeeded on 21.03.2026.
    pub(crate) fn store_with_succeeded_payment() -> Arc<Mutex<Store>> {
        let store = store_with_pending_payment();
        {
            let mut s = store.lock().unwrap();
            s.payment.as_mut().unwrap().state = PaymentState::Succeeded;
            s.journal.push(LedgerRecord {
                date: date!(2026 - 03 - 21),
                fact: LedgerFact::PaymentState {
                    payment: PaymentId::new(5),
                    state: PaymentState::Succeeded,
                },
            });
        }
        store
    }

    /// [`store_mocks`] plus refund requests kept in the store, with compare-and-set writes.
    pub(crate) fn refund_mocks(store: &Arc<Mutex<Store>>) -> Mocks {
        let mut m = store_mocks(store);
        m.clock.checkpoint();
        m.today(date!(2026 - 03 - 25));
        let s = store.clone();
        m.ledger.expect_refund_request().returning(move |id| {
            Ok(s.lock()
                .unwrap()
                .refunds
                .iter()
                .find(|r| r.id == id)
                .cloned())
        });
        let s = store.clone();
        m.ledger
            .expect_refund_request_by_number()
            .returning(move |payment, number| {
                Ok(s.lock()
                    .unwrap()
                    .refunds
                    .iter()
                    .find(|r| r.payment == payment && r.number == number)
                    .cloned())
            });
        let s = store.clone();
        m.ledger.expect_record_refund_request().returning(move |n| {
            let mut s = s.lock().unwrap();
            let r = RefundRequest {
                id: RefundRequestId::new(s.refunds.len() as u64 + 1),
                payment: n.payment,
                gateway_id: n.gateway_id.clone(),
                account: n.account,
                amount: n.amount,
                number: n.number.clone(),
                received_on: n.received_on,
                due_by: n.due_by,
                status: RefundStatus::Requested,
            };
            s.refunds.push(r.clone());
            Ok(r)
        });
        let s = store.clone();
        m.ledger
            .expect_complete_refund()
            .returning(move |id, before, on| {
                let mut s = s.lock().unwrap();
                let Store {
                    journal,
                    payment,
                    refunds,
                } = &mut *s;
                let r = refunds
                    .iter_mut()
                    .find(|r| r.id == id)
                    .ok_or(RepoError::NotFound)?;
                let p = payment.as_mut().ok_or(RepoError::NotFound)?;
                if r.status != RefundStatus::Requested || p.refunded != before {
                    return Err(RepoError::Conflict);
                }
                r.status = RefundStatus::Refunded { on };
                p.refunded += r.amount;
                if p.refunded == p.amount {
                    p.state = PaymentState::Refunded;
                }
                journal.push(LedgerRecord {
                    date: on,
                    fact: LedgerFact::Refund {
                        payment: p.id,
                        amount: r.amount,
                    },
                });
                Ok(())
            });
        let s = store.clone();
        m.ledger
            .expect_reject_refund()
            .returning(move |id, reason, on| {
                let mut s = s.lock().unwrap();
                let r = s
                    .refunds
                    .iter_mut()
                    .find(|r| r.id == id)
                    .ok_or(RepoError::NotFound)?;
                if r.status != RefundStatus::Requested {
                    return Err(RepoError::Conflict);
                }
                r.status = RefundStatus::Rejected {
                    on,
                    reason: reason.to_owned(),
                };
                Ok(())
            });
        m
    }

    pub(crate) fn refund_cmd(amount: Money, number: &str) -> RequestRefund {
        RequestRefund {
            gateway_id: gw(),
            account: AccountId::new(1),
            amount,
            number: number.into(),
            received_on: date!(2026 - 03 - 24),
        }
    }

    #[tokio::test]
    async fn a_refund_request_is_recorded_with_its_term_once() {
        let store = store_with_succeeded_payment();
        let service = refund_mocks(&store).service();
        let r = service
            .request_refund(refund_cmd(Money::from_roubles(200), " 17/03 "))
            .await
            .unwrap();
        assert_eq!(r.status, RefundStatus::Requested);
        assert_eq!(r.number, "17/03");
        assert_eq!(r.due_by, date!(2026 - 04 - 23));
        // The same request registered again: the stored one.
        let again = service
            .request_refund(refund_cmd(Money::from_roubles(200), "17/03"))
            .await
            .unwrap();
        assert_eq!(again, r);
        assert_eq!(store.lock().unwrap().refunds.len(), 1);
        // The same number with another amount.
        let err = service
            .request_refund(refund_cmd(Money::from_roubles(300), "17/03"))
            .await
            .unwrap_err();
        assert_eq!(
            err,
            RequestRefundError::NumberConflict {
                number: "17/03".into()
            }
        );
        assert!(err.user_message().contains("17/03"));
    }

    #[tokio::test]
    async fn refund_request_rejections() {
        let store = store_with_succeeded_payment();
        let service = refund_mocks(&store).service();
        let cases = [
            (
                refund_cmd(Money::from_roubles(501), "1"),
                RequestRefundError::ExceedsPayment {
                    refundable: Money::from_roubles(500),
                    requested: Money::from_roubles(501),
                },
            ),
            (
                refund_cmd(Money::ZERO, "1"),
                RequestRefundError::NonPositiveAmount(Money::ZERO),
            ),
            (
                refund_cmd(Money::from_roubles(1), " "),
                RequestRefundError::NumberMissing,
            ),
            (
                RequestRefund {
                    received_on: date!(2026 - 03 - 26),
                    ..refund_cmd(Money::from_roubles(1), "1")
                },
                RequestRefundError::ReceivedInFuture(date!(2026 - 03 - 26)),
            ),
            (
                RequestRefund {
                    account: AccountId::new(2),
                    ..refund_cmd(Money::from_roubles(1), "1")
                },
                RequestRefundError::NotYourPayment,
            ),
            (
                RequestRefund {
                    gateway_id: GatewayPaymentId::parse("other").unwrap(),
                    ..refund_cmd(Money::from_roubles(1), "1")
                },
                RequestRefundError::PaymentNotFound,
            ),
        ];
        for (cmd, expected) in cases {
            let err = service.request_refund(cmd).await.unwrap_err();
            assert_eq!(err, expected);
            assert!(!err.user_message().is_empty());
        }
        assert!(store.lock().unwrap().refunds.is_empty());

        // Only a succeeded payment is refunded.
        let store = store_with_pending_payment();
        let err = refund_mocks(&store)
            .service()
            .request_refund(refund_cmd(Money::from_roubles(100), "1"))
            .await
            .unwrap_err();
        assert_eq!(
            err,
            RequestRefundError::NotRefundable(PaymentState::Pending)
        );

        let store = store_with_succeeded_payment();
        let mut m = refund_mocks(&store);
        m.ledger.checkpoint();
        let s = store.clone();
        m.ledger
            .expect_payment_by_gateway_id()
            .returning(move |_| Ok(s.lock().unwrap().payment.clone()));
        m.ledger
            .expect_refund_request_by_number()
            .returning(|_, _| Ok(None));
        m.ledger
            .expect_record_refund_request()
            .returning(|_| Err(DOWN()));
        assert_eq!(
            m.service()
                .request_refund(refund_cmd(Money::from_roubles(100), "1"))
                .await,
            Err(RequestRefundError::Repo(DOWN()))
        );
    }

    #[tokio::test]
    async fn partial_then_full_refund_never_above_the_payment() {
        let store = store_with_succeeded_payment();
        let service = refund_mocks(&store).service();
        let first = service
            .request_refund(refund_cmd(Money::from_roubles(200), "1"))
            .await
            .unwrap();
        let second = service
            .request_refund(refund_cmd(Money::from_roubles(300), "2"))
            .await
            .unwrap();
        let done = service.refund_payment(first.id).await.unwrap();
        assert_eq!(done.outcome, RefundOutcome::Refunded);
        assert_eq!(
            done.request.status,
            RefundStatus::Refunded {
                on: date!(2026 - 03 - 25)
            }
        );
        // 800 − 500 + 200 refunded.
        assert_eq!(done.balance, Money::from_roubles(500));
        // Carrying out the same request again refunds nothing.
        let again = service.refund_payment(first.id).await.unwrap();
        assert_eq!(again.outcome, RefundOutcome::AlreadyRefunded);
        assert_eq!(again.balance, Money::from_roubles(500));
        // The rest of the payment: refunded in full.
        let rest = service.refund_payment(second.id).await.unwrap();
        assert_eq!(rest.balance, Money::from_roubles(800));
        let journal = {
            let s = store.lock().unwrap();
            let p = s.payment.as_ref().unwrap();
            assert_eq!(
                (p.state, p.refunded),
                (PaymentState::Refunded, Money::from_roubles(500))
            );
            let refunds = s
                .journal
                .iter()
                .filter(|r| matches!(r.fact, LedgerFact::Refund { .. }))
                .count();
            assert_eq!(refunds, 2);
            s.journal.clone()
        };
        let ledger = rebuild_ledger(&account(), &journal).unwrap();
        assert_eq!(
            ledger.payment(PaymentId::new(5)).unwrap().state(),
            PaymentState::Refunded
        );
        // A third request finds nothing left.
        let err = service
            .request_refund(refund_cmd(Money::from_roubles(1), "3"))
            .await
            .unwrap_err();
        assert_eq!(
            err,
            RequestRefundError::NotRefundable(PaymentState::Refunded)
        );
    }

    #[tokio::test]
    async fn refund_requests_above_what_is_left_are_refused_when_carried_out() {
        // Two requests of 300 ₽ each, both registered while 500 ₽ were left.
        let store = store_with_succeeded_payment();
        let service = refund_mocks(&store).service();
        let a = service
            .request_refund(refund_cmd(Money::from_roubles(300), "1"))
            .await
            .unwrap();
        let b = service
            .request_refund(refund_cmd(Money::from_roubles(300), "2"))
            .await
            .unwrap();
        service.refund_payment(a.id).await.unwrap();
        let err = service.refund_payment(b.id).await.unwrap_err();
        assert_eq!(
            err,
            RefundPaymentError::ExceedsPayment {
                refundable: Money::from_roubles(200),
                requested: Money::from_roubles(300)
            }
        );
        assert!(err.user_message().contains("300,00"));
        assert_eq!(
            store.lock().unwrap().payment.as_ref().unwrap().refunded,
            Money::from_roubles(300)
        );
        // The operator refuses it instead, with a reason; refusing twice changes nothing.
        let rejected = service
            .reject_refund(b.id, "сумма превышает остаток платежа")
            .await
            .unwrap();
        assert!(matches!(rejected.status, RefundStatus::Rejected { .. }));
        assert_eq!(
            service.reject_refund(b.id, "повторно").await.unwrap(),
            rejected
        );
        assert_eq!(
            service.refund_payment(b.id).await,
            Err(RefundPaymentError::AlreadyRejected)
        );
        assert_eq!(
            service.reject_refund(a.id, "поздно").await,
            Err(RefundPaymentError::AlreadyRefunded)
        );
    }

    #[tokio::test]
    async fn a_refund_losing_a_race_writes_nothing() {
        let store = store_with_succeeded_payment();
        let mut m = refund_mocks(&store);
        m.ledger.checkpoint();
        let s = store.clone();
        m.ledger
            .expect_journal()
            .returning(move |_| Ok(s.lock().unwrap().journal.clone()));
        let s = store.clone();
        m.ledger
            .expect_payment_by_gateway_id()
            .returning(move |_| Ok(s.lock().unwrap().payment.clone()));
        let request = RefundRequest {
            id: RefundRequestId::new(1),
            payment: PaymentId::new(5),
            gateway_id: gw(),
            account: AccountId::new(1),
            amount: Money::from_roubles(100),
            number: "1".into(),
            received_on: date!(2026 - 03 - 24),
            due_by: date!(2026 - 04 - 23),
            status: RefundStatus::Requested,
        };
        let r = request.clone();
        m.ledger
            .expect_refund_request()
            .returning(move |_| Ok(Some(r.clone())));
        m.ledger
            .expect_complete_refund()
            .times(1)
            .returning(|_, _, _| Err(RepoError::Conflict));
        let err = m.service().refund_payment(request.id).await.unwrap_err();
        assert_eq!(err, RefundPaymentError::Concurrent);
        assert!(err.user_message().contains("повторите"));
        assert_eq!(store.lock().unwrap().journal.len(), 4);
    }

    #[tokio::test]
    async fn refund_rejections_and_failures() {
        let store = store_with_succeeded_payment();
        let service = refund_mocks(&store).service();
        assert_eq!(
            service.refund_payment(RefundRequestId::new(9)).await,
            Err(RefundPaymentError::RequestNotFound)
        );
        assert_eq!(
            service.reject_refund(RefundRequestId::new(9), "нет").await,
            Err(RefundPaymentError::RequestNotFound)
        );
        assert_eq!(
            service.reject_refund(RefundRequestId::new(9), " ").await,
            Err(RefundPaymentError::ReasonMissing)
        );

        let store = store_with_succeeded_payment();
        let mut m = refund_mocks(&store);
        m.ledger.checkpoint();
        m.ledger.expect_refund_request().returning(|_| Err(DOWN()));
        let err = m
            .service()
            .refund_payment(RefundRequestId::new(1))
            .await
            .unwrap_err();
        assert_eq!(err, RefundPaymentError::Repo(DOWN()));
        assert_eq!(err.user_message(), UNAVAILABLE_RU);
    }

    // ----- recalculations ------------------------------------------------------------------

    fn pending_check() -> PendingRecalculation {
        PendingRecalculation {
            id: crate::ports::RecalculationId::new(3),
            account: AccountId::new(1),
            service: ServiceKind::Electricity,
            of_period: p(2026, 2),
            billed_from: p(2026, 3),
            amount: Money::from_kopecks(61_650),
            reason: "проверка прибора учёта № 353425347 10.03.2026 (акт № 17)".into(),
            kind: RecalculationKind::ControlCheck,
            recorded_on: date!(2026 - 03 - 10),
            reading: ReadingId::new(9),
        }
    }

    #[tokio::test]
    async fn billing_bills_pending_recalculations_and_marks_them_with_the_set() {
        let mut m = billing_mocks(false);
        m.recalculations.checkpoint();
        m.recalculations
            .expect_pending()
            .with(eq(AccountId::new(1)), eq(p(2026, 3)))
            .returning(|_, _| Ok(vec![pending_check()]));
        m.journal(vec![]);
        m.charges.expect_charge_set().returning(|_, _| Ok(None));
        m.charges
            .expect_save_charge_sets()
            .withf(|sets| sets[0].recalculations == vec![pending_check()])
            .times(1)
            .returning(|_| Ok(()));
        let outcome = m
            .service()
            .run_billing_for_account(AccountId::new(1), p(2026, 3))
            .await
            .unwrap();
        let set = outcome.charge_set();
        let line = set
            .lines
            .iter()
            .find(|l| matches!(l.basis, ChargeBasis::Recalculation { .. }))
            .expect("a recalculation line");
        assert_eq!(line.amount, Money::from_kopecks(61_650));
        assert!(line.explain().contains("акт № 17"), "{}", line.explain());
        assert_eq!(set.total(), Money::from_kopecks(102_750 + 61_650));
        assert!(set.postings().contains(&LedgerRecord {
            date: date!(2026 - 03 - 26),
            fact: LedgerFact::Adjustment {
                period: p(2026, 3),
                service: ServiceKind::Electricity,
                amount: Money::from_kopecks(61_650),
                reason: crate::ledger::AdjustmentReason::ControlCheck,
                due_date: date!(2026 - 04 - 15),
            },
        }));
        let ledger = rebuild_ledger(&account(), &set.postings()).unwrap();
        assert_eq!(ledger.balance(), Money::from_kopecks(164_400));
    }

    #[tokio::test]
    async fn a_house_run_bills_each_accounts_pending_recalculations() {
        let mut m = house_mocks();
        m.recalculations.checkpoint();
        m.recalculations.expect_pending().returning(|a, _| {
            Ok(if a == AccountId::new(2) {
                vec![PendingRecalculation {
                    account: a,
                    amount: Money::from_kopecks(-13_700),
                    kind: RecalculationKind::ReadingCorrection,
                    ..pending_check()
                }]
            } else {
                vec![]
            })
        });
        m.charges.expect_charge_set().returning(|_, _| Ok(None));
        m.charges
            .expect_save_charge_sets()
            .withf(|sets| {
                sets.len() == 2
                    && sets[0].recalculations.is_empty()
                    && sets[1].recalculations.len() == 1
            })
            .times(1)
            .returning(|_| Ok(()));
        let out = m
            .service()
            .run_billing_for_house(HouseId::new(1), p(2026, 3))
            .await
            .unwrap();
        let second = out.accounts[1].charge_set();
        assert!(second.postings().iter().any(|r| matches!(
            &r.fact,
            LedgerFact::Adjustment {
                amount,
                reason: crate::ledger::AdjustmentReason::Correction,
                ..
            } if *amount == Money::from_kopecks(-13_700)
        )));
    }

    #[tokio::test]
    async fn a_recalculation_billed_by_another_run_makes_the_save_fail_without_charging() {
        let mut m = billing_mocks(false);
        m.journal(vec![]);
        m.charges.expect_charge_set().returning(|_, _| Ok(None));
        m.charges
            .expect_save_charge_sets()
            .times(1)
            .returning(|_| Err(RepoError::Conflict));
        let err = m
            .service()
            .run_billing_for_account(AccountId::new(1), p(2026, 3))
            .await
            .unwrap_err();
        assert_eq!(err, RunBillingError::RecalculationsChanged);
        assert!(err.user_message().contains("повторите"));

        let mut m = billing_mocks(false);
        m.recalculations.checkpoint();
        m.recalculations
            .expect_pending()
            .returning(|_, _| Err(DOWN()));
        m.journal(vec![]);
        m.charges.expect_charge_set().returning(|_, _| Ok(None));
        assert_eq!(
            m.service()
                .run_billing_for_account(AccountId::new(1), p(2026, 3))
                .await,
            Err(RunBillingError::Repo(DOWN()))
        );
    }

    fn jan_reading() -> Reading {
        reading(20, 7, p(2026, 1), dec!(5800), date!(2026 - 01 - 20))
    }

    /// February (5800 → 5910 = 110 kWh at 6.85 ₽ = 753.50 ₽) as it was billed and stored.
    fn february_set() -> ChargeSet {
        let mut set = march_set();
        set.period = p(2026, 2);
        set.lines[0].period = p(2026, 2);
        set.lines[0].quantity = dec!(110);
        set.lines[0].amount = Money::from_kopecks(75_350);
        set.lines[0].basis = ChargeBasis::Volume(VolumeBasis::Readings {
            meter: MeterId::new(7),
            opening: ZoneValues::single(dec!(5800)),
            closing: ZoneValues::single(dec!(5910)),
            coefficient: dec!(1),
            rollover: false,
            replacement: false,
        });
        set
    }

    /// February is closed and billed; today is `today`; meter 7 has read 5800 (January) and
    /// 5910 (February).
    fn correction_mocks(today: Date) -> Mocks {
        let mut m = billing_mocks(false);
        m.clock.checkpoint();
        m.today(today);
        m.readings.checkpoint();
        m.readings
            .expect_history()
            .returning(|_| Ok(vec![jan_reading(), feb_reading()]));
        m.readings.expect_reading().returning(|id| {
            Ok([jan_reading(), feb_reading()]
                .into_iter()
                .find(|r| r.id == id))
        });
        m.readings
            .expect_last_accepted_before()
            .with(eq(MeterId::new(7)), eq(p(2026, 2)))
            .returning(|_, _| Ok(Some(jan_reading())));
        m.meter(meter());
        m.charges
            .expect_charge_set()
            .returning(|_, period| Ok(Some(february_set()).filter(|s| s.period == period)));
        m
    }

    fn recorded(n: &NewRecalculation) -> (PendingRecalculation, Reading) {
        let pending = PendingRecalculation {
            id: crate::ports::RecalculationId::new(3),
            account: n.account,
            service: n.service,
            of_period: n.of_period,
            billed_from: n.billed_from,
            amount: n.amount,
            reason: n.reason.clone(),
            kind: n.kind,
            recorded_on: n.recorded_on,
            reading: ReadingId::new(9),
        };
        (pending, stored(&n.reading, 9))
    }

    fn control_check(checked_on: Date, value: Decimal) -> RecordCorrection {
        RecordCorrection {
            account: AccountId::new(1),
            correction: Correction::ControlCheck {
                meter: MeterId::new(7),
                checked_on,
                act: "17".into(),
                values: vec![value],
            },
        }
    }

    fn closed_correction(reading: u64, value: Decimal, reason: &str) -> RecordCorrection {
        RecordCorrection {
            account: AccountId::new(1),
            correction: Correction::ClosedReading {
                reading: ReadingId::new(reading),
                values: vec![value],
                reason: reason.into(),
            },
        }
    }

    #[tokio::test]
    async fn a_control_check_is_recalculated_in_the_period_of_the_check() {
        let mut m = correction_mocks(date!(2026 - 03 - 12));
        // Feb billed again with 6000: 200 kWh = 1370.00 ₽; 1370.00 − 753.50 = 616.50 ₽.
        m.recalculations
            .expect_record()
            .withf(|n| {
                n.amount == Money::from_kopecks(61_650)
                    && n.of_period == p(2026, 2)
                    && n.billed_from == p(2026, 3)
                    && n.kind == RecalculationKind::ControlCheck
                    && n.service == ServiceKind::Electricity
                    && n.reading.supersedes == Some(ReadingId::new(1))
                    && n.reading.period == p(2026, 2)
                    && n.reading.source == ReadingSource::ControlCheck
                    && n.reading.taken_on == date!(2026 - 03 - 10)
                    && n.reason.contains("акт № 17")
                    && n.reason.contains("6000 вместо 5910")
            })
            .times(1)
            .returning(|n| Ok(recorded(n)));
        let out = m
            .service()
            .record_correction(control_check(date!(2026 - 03 - 10), dec!(6000)))
            .await
            .unwrap();
        let r = out.recalculation.unwrap();
        assert_eq!(r.amount, Money::from_kopecks(61_650));
        assert_eq!(out.reading.values, ZoneValues::single(dec!(6000)));
    }

    #[tokio::test]
    async fn an_operator_correction_of_a_closed_reading_is_credited_in_the_next_open_period() {
        let mut m = correction_mocks(date!(2026 - 04 - 02));
        m.periods.checkpoint();
        m.last_closed(Some(p(2026, 3)));
        // 5890 instead of 5910: 20 kWh × 6.85 ₽ = 137.00 ₽ credited from April.
        m.recalculations
            .expect_record()
            .withf(|n| {
                n.amount == Money::from_kopecks(-13_700)
                    && n.of_period == p(2026, 2)
                    && n.billed_from == p(2026, 4)
                    && n.kind == RecalculationKind::ReadingCorrection
                    && n.reading.source == ReadingSource::Operator
                    && n.reading.taken_on == date!(2026 - 02 - 20)
                    && n.reason.contains("опечатка оператора")
            })
            .times(1)
            .returning(|n| Ok(recorded(n)));
        let out = m
            .service()
            .record_correction(closed_correction(1, dec!(5890), "опечатка оператора"))
            .await
            .unwrap();
        assert_eq!(
            out.recalculation.unwrap().kind.adjustment_reason(),
            crate::ledger::AdjustmentReason::Correction
        );
    }

    #[tokio::test]
    async fn a_check_of_an_unbilled_reading_only_replaces_it() {
        // The subscriber's March reading (not billed yet) is found wrong by a check in March.
        let mut m = correction_mocks(date!(2026 - 03 - 24));
        m.readings.checkpoint();
        m.readings
            .expect_history()
            .returning(|_| Ok(vec![feb_reading(), march_reading()]));
        m.readings
            .expect_last_accepted_before()
            .with(eq(MeterId::new(7)), eq(p(2026, 3)))
            .returning(|_, _| Ok(Some(feb_reading())));
        m.readings
            .expect_save()
            .withf(|r| r.supersedes == Some(ReadingId::new(2)) && r.period == p(2026, 3))
            .times(1)
            .returning(|r| Ok(stored(r, 9)));
        m.recalculations.expect_record().never();
        let out = m
            .service()
            .record_correction(control_check(date!(2026 - 03 - 24), dec!(6100)))
            .await
            .unwrap();
        assert_eq!(out.recalculation, None);
        assert_eq!(out.reading.source, ReadingSource::ControlCheck);
    }

    #[tokio::test]
    async fn correction_rejections() {
        let today = date!(2026 - 03 - 12);
        let cases = [
            (
                control_check(date!(2026 - 03 - 10), dec!(5910)),
                RecordCorrectionError::NoDifference,
            ),
            (
                control_check(date!(2026 - 03 - 13), dec!(6000)),
                RecordCorrectionError::CheckInFuture(date!(2026 - 03 - 13)),
            ),
            (
                control_check(date!(2026 - 02 - 27), dec!(6000)),
                RecordCorrectionError::PeriodClosed(p(2026, 2)),
            ),
            (
                control_check(date!(2026 - 03 - 10), dec!(123456)),
                RecordCorrectionError::Invalid(ReadingError::TooManyDigits {
                    zone: crate::meter::Zone::Total,
                    value: dec!(123456),
                    digits: 5,
                }),
            ),
            (
                RecordCorrection {
                    correction: Correction::ControlCheck {
                        meter: MeterId::new(7),
                        checked_on: date!(2026 - 03 - 10),
                        act: " ".into(),
                        values: vec![dec!(6000)],
                    },
                    ..control_check(date!(2026 - 03 - 10), dec!(6000))
                },
                RecordCorrectionError::ReasonMissing,
            ),
            (
                closed_correction(20, dec!(5790), "опечатка"),
                RecordCorrectionError::NotLatestReading {
                    latest: ReadingId::new(1),
                },
            ),
            (
                closed_correction(1, dec!(5890), ""),
                RecordCorrectionError::ReasonMissing,
            ),
            (
                closed_correction(99, dec!(5890), "опечатка"),
                RecordCorrectionError::ReadingNotFound,
            ),
            (
                RecordCorrection {
                    account: AccountId::new(2),
                    ..closed_correction(1, dec!(5890), "опечатка")
                },
                RecordCorrectionError::AccountNotFound,
            ),
        ];
        for (cmd, expected) in cases {
            let mut m = correction_mocks(today);
            m.recalculations.expect_record().never();
            let err = m.service().record_correction(cmd).await.unwrap_err();
            assert_eq!(err, expected);
            assert!(!err.user_message().is_empty());
        }

        // The reading of an open period is corrected without a recalculation.
        let mut m = correction_mocks(today);
        m.readings.checkpoint();
        m.readings
            .expect_reading()
            .returning(|_| Ok(Some(march_reading())));
        let err = m
            .service()
            .record_correction(closed_correction(2, dec!(6050), "опечатка"))
            .await
            .unwrap_err();
        assert_eq!(err, RecordCorrectionError::PeriodOpen(p(2026, 3)));
        assert!(err.user_message().contains("март 2026"));

        // Nothing was ever read.
        let mut m = correction_mocks(today);
        m.readings.checkpoint();
        m.readings.expect_history().returning(|_| Ok(vec![]));
        assert_eq!(
            m.service()
                .record_correction(control_check(date!(2026 - 03 - 10), dec!(6000)))
                .await,
            Err(RecordCorrectionError::NoReportedReading)
        );

        // Someone else's meter.
        let mut m = correction_mocks(today);
        m.meters.checkpoint();
        m.meter(meter_n(7, 2));
        assert_eq!(
            m.service()
                .record_correction(control_check(date!(2026 - 03 - 10), dec!(6000)))
                .await,
            Err(RecordCorrectionError::NotYourMeter)
        );
    }

    #[tokio::test]
    async fn a_correction_recorded_twice_is_billed_once() {
        // A concurrent correction superseded the reading first: nothing is stored.
        let mut m = correction_mocks(date!(2026 - 03 - 12));
        m.recalculations
            .expect_record()
            .times(1)
            .returning(|_| Err(RepoError::Conflict));
        assert_eq!(
            m.service()
                .record_correction(control_check(date!(2026 - 03 - 10), dec!(6000)))
                .await,
            Err(RecordCorrectionError::NotAccepted(
                ReadingStatus::Superseded
            ))
        );

        // Repeated after it was stored: the values are the reading in force now.
        let mut m = correction_mocks(date!(2026 - 03 - 12));
        let corrected = Reading {
            id: ReadingId::new(9),
            values: ZoneValues::single(dec!(6000)),
            source: ReadingSource::ControlCheck,
            taken_on: date!(2026 - 03 - 10),
            supersedes: Some(ReadingId::new(1)),
            ..feb_reading()
        };
        m.readings.checkpoint();
        let c = corrected.clone();
        m.readings
            .expect_history()
            .returning(move |_| Ok(vec![jan_reading(), c.clone()]));
        m.readings
            .expect_last_accepted_before()
            .returning(|_, _| Ok(Some(jan_reading())));
        m.recalculations.expect_record().never();
        assert_eq!(
            m.service()
                .record_correction(control_check(date!(2026 - 03 - 10), dec!(6000)))
                .await,
            Err(RecordCorrectionError::NoDifference)
        );

        // A port failure stores nothing either.
        let mut m = correction_mocks(date!(2026 - 03 - 12));
        m.recalculations.expect_record().returning(|_| Err(DOWN()));
        let err = m
            .service()
            .record_correction(control_check(date!(2026 - 03 - 10), dec!(6000)))
            .await
            .unwrap_err();
        assert_eq!(err, RecordCorrectionError::Repo(DOWN()));
        assert_eq!(err.user_message(), UNAVAILABLE_RU);
    }

    // ----- statement, balance, payment document --------------------------------------------

    fn paid_journal() -> Vec<LedgerRecord> {
        let id = PaymentId::new(5);
        vec![
            charge(
                p(2026, 2),
                Money::from_roubles(800),
                date!(2026 - 03 - 01),
                date!(2026 - 03 - 15),
            ),
            LedgerRecord {
                date: date!(2026 - 03 - 10),
                fact: LedgerFact::PaymentCreated {
                    payment: id,
                    amount: Money::from_roubles(500),
                    split: PaymentSplit::Default,
                },
            },
            LedgerRecord {
                date: date!(2026 - 03 - 10),
                fact: LedgerFact::PaymentState {
                    payment: id,
                    state: PaymentState::Succeeded,
                },
            },
            charge(
                p(2026, 3),
                Money::from_kopecks(102_750),
                date!(2026 - 03 - 26),
                date!(2026 - 04 - 15),
            ),
        ]
    }

    #[tokio::test]
    async fn statement_for_a_range() {
        let mut m = Mocks::new();
        m.accounts(vec![account()]);
        m.journal(paid_journal());
        let st = m
            .service()
            .statement(
                AccountId::new(1),
                date!(2026 - 03 - 05),
                date!(2026 - 03 - 31),
            )
            .await
            .unwrap();
        assert_eq!(st.opening, Money::from_roubles(800));
        assert_eq!(st.lines.len(), 2);
        assert_eq!(st.closing, Money::from_kopecks(132_750));
    }

    #[tokio::test]
    async fn statement_rejections_and_failures() {
        let m = Mocks::new();
        let err = m
            .service()
            .statement(
                AccountId::new(1),
                date!(2026 - 03 - 31),
                date!(2026 - 03 - 01),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, StatementError::InvalidRange { .. }));
        assert!(err.user_message().contains("31.03.2026"));

        let mut m = Mocks::new();
        m.accounts(vec![]);
        assert_eq!(
            m.service()
                .statement(
                    AccountId::new(1),
                    date!(2026 - 03 - 01),
                    date!(2026 - 03 - 31)
                )
                .await,
            Err(StatementError::AccountNotFound)
        );

        let mut m = Mocks::new();
        m.accounts(vec![account()]);
        m.ledger.expect_journal().returning(|_| Err(DOWN()));
        assert_eq!(
            m.service()
                .statement(
                    AccountId::new(1),
                    date!(2026 - 03 - 01),
                    date!(2026 - 03 - 31)
                )
                .await,
            Err(StatementError::Repo(DOWN()))
        );
    }

    #[tokio::test]
    async fn balance_counts_only_confirmed_payments() {
        let mut m = Mocks::new();
        m.accounts(vec![account()]);
        m.today(date!(2026 - 03 - 27));
        let mut journal = paid_journal();
        // A created but unconfirmed payment does not move the balance.
        journal.push(LedgerRecord {
            date: date!(2026 - 03 - 27),
            fact: LedgerFact::PaymentCreated {
                payment: PaymentId::new(6),
                amount: Money::from_roubles(1000),
                split: PaymentSplit::Default,
            },
        });
        m.journal(journal);
        let b = m.service().balance(AccountId::new(1)).await.unwrap();
        assert_eq!(b.balance, Money::from_kopecks(132_750));
        assert_eq!(
            b.debt_by_service[&ServiceKind::Electricity],
            Money::from_kopecks(132_750)
        );
        assert_eq!(b.open_tranches.len(), 2);
        assert_eq!(b.as_of, date!(2026 - 03 - 27));
    }

    #[tokio::test]
    async fn balance_rejections_and_failures() {
        let mut m = Mocks::new();
        m.accounts(vec![]);
        let err = m.service().balance(AccountId::new(1)).await.unwrap_err();
        assert_eq!(err, BalanceError::AccountNotFound);
        assert!(!err.user_message().is_empty());

        let mut m = Mocks::new();
        m.accounts.expect_account().returning(|_| Err(DOWN()));
        assert_eq!(
            m.service().balance(AccountId::new(1)).await,
            Err(BalanceError::Repo(DOWN()))
        );
    }

    pub(crate) fn march_set() -> ChargeSet {
        let line = ChargeLine {
            account: AccountId::new(1),
            period: p(2026, 3),
            service: ServiceKind::Electricity,
            zone: crate::meter::Zone::Total,
            tier: crate::tariff::Tier::Base,
            quantity: dec!(150),
            unit: crate::service::Unit::KilowattHour,
            unit_price: dec!(6.85),
            amount: Money::from_kopecks(102_750),
            tariff: Some(TariffId::new(1)),
            days: None,
            basis: ChargeBasis::Recalculation {
                of_period: p(2026, 2),
                reason: "test".into(),
            },
        };
        ChargeSet {
            account: AccountId::new(1),
            supplier: SupplierId::new(1),
            period: p(2026, 3),
            posted_on: date!(2026 - 03 - 26),
            due_date: date!(2026 - 04 - 15),
            volumes: vec![],
            lines: vec![line],
            recalculations: vec![],
        }
    }

    fn document_mocks(journal: Vec<LedgerRecord>) -> Mocks {
        let mut m = Mocks::new();
        m.accounts(vec![account()]);
        m.supplier();
        m.charges
            .expect_charge_set()
            .returning(|_, _| Ok(Some(march_set())));
        m.houses
            .expect_premise()
            .returning(|id| Ok(Some(premise_n(id.get()))));
        m.houses
            .expect_house()
            .returning(|_| Ok(Some(house(false))));
        m.meters
            .expect_meters_of_account()
            .returning(|_| Ok(vec![meter()]));
        m.readings
            .expect_history()
            .with(eq(MeterId::new(7)))
            .returning(|_| Ok(vec![feb_reading(), march_reading()]));
        m.journal(journal);
        m
    }

    #[tokio::test]
    async fn payment_document_with_its_qr_code() {
        let m = document_mocks(paid_journal());
        let doc = m
            .service()
            .payment_document(AccountId::new(1), p(2026, 3))
            .await
            .unwrap();
        // 800 owed at the start of March − 500 paid + 1027.50 charged.
        assert_eq!(doc.reference().opening_balance, Money::from_roubles(800));
        assert_eq!(doc.reference().payments, Money::from_roubles(500));
        assert_eq!(doc.reference().due_date, date!(2026 - 04 - 15));
        assert_eq!(doc.amount_due().charges, Money::from_kopecks(102_750));
        assert_eq!(doc.amount_due().due, Money::from_kopecks(132_750));
        assert_eq!(doc.payer().address, "г. Москва, ул. Ленина, д. 1, кв. 1");
        assert_eq!(doc.readings().len(), 1);
        assert_eq!(doc.readings()[0].volume, Some(dec!(150)));
        let parsed = crate::qr::parse(&doc.amount_due().qr_payload).unwrap();
        assert_eq!(parsed.get("Sum"), Some("132750"));
        assert_eq!(parsed.get("PersAcc"), Some("1001"));
        assert_eq!(parsed.get("PaymPeriod"), Some("032026"));
        assert_eq!(parsed.get("PaymTerm"), Some("15.04.2026"));
        assert_eq!(parsed.get("PayeeINN"), Some("7707083893"));
    }

    #[tokio::test]
    async fn payment_document_with_an_advance_has_no_sum() {
        let id = PaymentId::new(6);
        let mut journal = paid_journal();
        let march_charge = journal.pop().unwrap();
        journal.push(LedgerRecord {
            date: date!(2026 - 03 - 20),
            fact: LedgerFact::PaymentCreated {
                payment: id,
                amount: Money::from_roubles(2000),
                split: PaymentSplit::Default,
            },
        });
        journal.push(LedgerRecord {
            date: date!(2026 - 03 - 20),
            fact: LedgerFact::PaymentState {
                payment: id,
                state: PaymentState::Succeeded,
            },
        });
        journal.push(march_charge);
        let m = document_mocks(journal);
        let doc = m
            .service()
            .payment_document(AccountId::new(1), p(2026, 3))
            .await
            .unwrap();
        assert_eq!(doc.reference().payments, Money::from_roubles(2500));
        assert_eq!(doc.amount_due().due, Money::ZERO);
        assert_eq!(doc.amount_due().advance, Money::from_kopecks(67_250));
        assert_eq!(
            crate::qr::parse(&doc.amount_due().qr_payload)
                .unwrap()
                .get("Sum"),
            None
        );
    }

    #[tokio::test]
    async fn payment_document_rejections_and_failures() {
        let mut m = Mocks::new();
        m.accounts(vec![account()]);
        m.charges.expect_charge_set().returning(|_, _| Ok(None));
        let err = m
            .service()
            .payment_document(AccountId::new(1), p(2026, 3))
            .await
            .unwrap_err();
        assert_eq!(err, PaymentDocumentError::NotBilled(p(2026, 3)));
        assert!(err.user_message().contains("март 2026"));

        let mut m = Mocks::new();
        m.accounts(vec![]);
        assert_eq!(
            m.service()
                .payment_document(AccountId::new(1), p(2026, 3))
                .await,
            Err(PaymentDocumentError::AccountNotFound)
        );

        // A holder without a name: the document cannot name the payer.
        let mut m = document_mocks(paid_journal());
        m.accounts.checkpoint();
        m.accounts(vec![Account {
            holder: " ".into(),
            ..account()
        }]);
        let err = m
            .service()
            .payment_document(AccountId::new(1), p(2026, 3))
            .await
            .unwrap_err();
        assert_eq!(
            err,
            PaymentDocumentError::Document(DocumentError::PayerNameMissing(AccountId::new(1)))
        );
        assert!(!err.user_message().is_empty());

        let mut m = document_mocks(vec![]);
        m.ledger.checkpoint();
        m.ledger.expect_journal().returning(|_| Err(DOWN()));
        assert_eq!(
            m.service()
                .payment_document(AccountId::new(1), p(2026, 3))
                .await,
            Err(PaymentDocumentError::Repo(DOWN()))
        );
    }

    // ----- the journal ---------------------------------------------------------------------

    #[test]
    fn a_negative_true_up_posts_a_zero_charge_and_a_downward_adjustment() {
        let mut set = march_set();
        set.lines[0].basis = ChargeBasis::Volume(VolumeBasis::TrueUp {
            meter: MeterId::new(7),
            measured: dec!(100),
            estimated: dec!(250),
            estimated_periods: 2,
        });
        set.lines[0].amount = Money::from_kopecks(-102_750);
        let postings = set.postings();
        assert_eq!(postings.len(), 2);
        assert!(matches!(postings[0].fact, LedgerFact::Charge { amount, .. } if amount.is_zero()));
        assert!(
            matches!(&postings[1].fact, LedgerFact::Adjustment { amount, reason: crate::ledger::AdjustmentReason::TrueUp, .. } if *amount == Money::from_kopecks(-102_750))
        );
        // …and the ledger accepts them.
        let ledger = rebuild_ledger(&account(), &postings).unwrap();
        assert_eq!(ledger.balance(), Money::from_kopecks(-102_750));
    }

    #[test]
    fn recalculation_lines_post_as_corrections() {
        let postings = march_set().postings();
        assert!(matches!(
            &postings[..],
            [LedgerRecord {
                fact: LedgerFact::Adjustment {
                    reason: crate::ledger::AdjustmentReason::Correction,
                    ..
                },
                ..
            }]
        ));
    }

    #[test]
    fn replay_refuses_an_impossible_state() {
        let mut journal = paid_journal();
        journal.push(LedgerRecord {
            date: date!(2026 - 03 - 27),
            fact: LedgerFact::PaymentState {
                payment: PaymentId::new(5),
                state: PaymentState::Created,
            },
        });
        assert!(matches!(
            rebuild_ledger(&account(), &journal),
            Err(LedgerError::InvalidTransition { .. })
        ));
    }

    #[test]
    fn every_refusal_has_a_russian_message() {
        let cyrillic = |s: String| {
            s.chars()
                .any(|c| ('а'..='я').contains(&c.to_lowercase().next().unwrap_or(c)))
        };
        let msgs = [
            SubmitReadingError::MeterNotFound.user_message(),
            SubmitReadingError::NotYourMeter.user_message(),
            SubmitReadingError::AccountNotFound.user_message(),
            CancelReadingError::ReadingNotFound.user_message(),
            CancelReadingError::NotYourReading.user_message(),
            CancelReadingError::Repo(DOWN()).user_message(),
            CorrectReadingError::ReadingNotFound.user_message(),
            RunBillingError::AccountNotFound.user_message(),
            RunBillingError::TooEarly {
                earliest: date!(2026 - 03 - 26),
            }
            .user_message(),
            RunBillingError::HouseRunRequired(HouseId::new(1)).user_message(),
            RunHouseBillingError::HouseNotFound.user_message(),
            RunHouseBillingError::PeriodClosed(p(2026, 3)).user_message(),
            ClosePeriodError::Unbilled { accounts: 2 }.user_message(),
            ClosePeriodError::SupplierNotFound.user_message(),
            PostPaymentError::GatewayIdConflict {
                gateway_id: gw(),
                existing: PaymentId::new(5),
            }
            .user_message(),
            PostPaymentError::InvalidAmount(PaymentAmountError::NotPositive).user_message(),
            ConfirmPaymentError::PaymentNotFound.user_message(),
            ConfirmPaymentError::NotConfirmable(PaymentState::Refunded).user_message(),
            PaymentDocumentError::AccountNotFound.user_message(),
        ];
        for m in msgs {
            assert!(cyrillic(m.clone()), "{m}");
        }
    }
}
