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
//!   once), [`BillingService::statement`], [`BillingService::balance`],
//!   [`BillingService::payment_document`] (the ЕПД data and its ГОСТ Р 56042-2014 QR payload).
//!
//! The account's [`Ledger`] is rebuilt from its stored journal by [`rebuild_ledger`] for every
//! money use case; storage never allocates a payment itself.

use std::collections::BTreeMap;
use std::sync::Arc;

use rust_decimal::Decimal;
use time::Date;

use crate::charge::{AccountBill, AccountInput, BillingError, ChargeLine, HouseInput, PenaltyInput, ServiceInput, TariffBook, bill_account, bill_house};
use crate::ids::{AccountId, HouseId, MeterId, PaymentId, ReadingId, SupplierId};
use crate::keyrate::{KeyRateHistory, PenaltyRules};
use crate::ledger::{AllocationPart, EntryKind, Ledger, LedgerError, PaymentSplit, PaymentState, Statement, Tranche};
use crate::meter::{Meter, ZoneValues};
use crate::model::{Account, AccountNumber, House, Premise};
use crate::money::Money;
use crate::odn::OdnDistribution;
use crate::penalty::{PenaltyError, PenaltyReport};
use crate::period::Period;
use crate::ports::{
    AccountRepository, ChargeRepository, ChargeSet, Clock, GatewayPaymentId, HouseRepository, KeyRateSource, LedgerFact, LedgerRecord, LedgerRepository, MeterRepository,
    NewPayment, NewReading, PaymentRecord, PeriodRepository, ReadingRepository, RepoError, Supplier, SupplierRepository, TariffRepository, VolumeHistoryRepository,
};
use crate::qr::{QrError, QrPayload, TechCode};
use crate::reading::{ChangeReadingError, Reading, ReadingCheck, ReadingError, ReadingSource, ReadingStatus, check_reading, ensure_changeable, ru_date};
use crate::requisites::Requisites;
use crate::service::ServiceKind;
use crate::volume::{MeterPart, PastVolume, average};

/// What a subscriber sees when a port failed: nothing about the cause.
const UNAVAILABLE_RU: &str = "Сервис временно недоступен. Повторите попытку позже.";

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
///             split: p.split.clone(), created_on: p.created_on, state: PaymentState::Created };
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
    ports: BillingPorts,
}

// ---------------------------------------------------------------------------------------------
// Readings
// ---------------------------------------------------------------------------------------------

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
            format!("Показания приняты за период «{}».", self.reading.period.to_russian())
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
            Self::AlreadySubmitted { period } => format!("Показания за «{}» уже переданы. Если в них ошибка, исправьте их.", period.to_russian()),
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
            Self::PeriodClosed(p) => format!("Период «{}» закрыт: начисления за него не изменяются.", p.to_russian()),
            Self::TooEarly { earliest } => format!("Начисление за период возможно с {} — после окончания приёма показаний.", ru_date(*earliest)),
            Self::Billing(e) => format!("Начисление невозможно: {e}"),
            Self::Penalty(e) => format!("Расчёт пеней невозможен: {e}"),
            Self::Ledger { account, source } => format!("Начисления не проводятся по лицевому счёту {account}: {source}"),
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
            Self::OutOfOrder { expected } => format!("Периоды закрываются по порядку: сначала закройте «{}».", expected.to_russian()),
            Self::TooEarly { earliest } => format!("Закрыть период можно с {} — после окончания приёма показаний.", ru_date(*earliest)),
            Self::Unbilled { accounts } => format!("Не выполнено начисление по {accounts} лицевым счетам: закрыть период нельзя."),
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
    /// The amount is zero or negative.
    #[error("amount {0} must be positive")]
    InvalidAmount(Money),
    /// The amount is below the supplier's minimum online payment.
    #[error("amount is below the minimum of {minimum}")]
    BelowMinimum {
        /// The minimum.
        minimum: Money,
    },
    /// The split names a service the account does not have, names one twice, or does not add
    /// up to the amount.
    #[error("invalid split: {0}")]
    InvalidSplit(LedgerError),
    /// A payment with this gateway id was recorded already.
    #[error("payment was recorded already")]
    DuplicatePayment,
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
            Self::InvalidAmount(_) => "Сумма платежа должна быть больше нуля.".into(),
            Self::BelowMinimum { minimum } => format!("Минимальная сумма платежа — {}.", minimum.to_russian()),
            Self::InvalidSplit(LedgerError::SplitMismatch { parts, payment }) => {
                format!("Сумма по услугам ({}) не равна сумме платежа ({}).", parts.to_russian(), payment.to_russian())
            }
            Self::InvalidSplit(LedgerError::UnknownService(s)) => format!("Услуга «{}» не начисляется по вашему лицевому счёту.", s.russian_name()),
            Self::InvalidSplit(LedgerError::DuplicateService(s)) => format!("Услуга «{}» указана дважды.", s.russian_name()),
            Self::InvalidSplit(_) => "Распределение платежа по услугам указано неверно.".into(),
            Self::DuplicatePayment => "Этот платёж уже зарегистрирован.".into(),
            Self::Repo(_) => UNAVAILABLE_RU.into(),
        }
    }
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
            Self::NotConfirmable(PaymentState::Failed) => "Платёж не прошёл и не может быть зачислен.".into(),
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
            Self::InvalidRange { from, to } => format!("Начало периода ({}) позже его конца ({}).", ru_date(*from), ru_date(*to)),
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

/// The data of the payment document (ЕПД, billing-rules.md §9) of an account and period, with
/// its QR payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaymentDocument {
    /// The supplier's requisites (section 1).
    pub supplier: Requisites,
    /// The ЛС number.
    pub account_number: AccountNumber,
    /// The payer.
    pub holder: String,
    /// The premise's address.
    pub address: String,
    /// The period billed.
    pub period: Period,
    /// The last day to pay without delay.
    pub due_date: Date,
    /// The period's lines with their bases (sections 3 and 4: services, ОДН, coefficients,
    /// recalculations, penalties).
    pub lines: Vec<ChargeLine>,
    /// Each line explained in Russian.
    pub explanations: Vec<String>,
    /// Charged for the period: the sum of the lines.
    pub charged: Money,
    /// The balance before the period's charges were posted: a debt (positive) or an advance
    /// (negative) from earlier periods.
    pub previous_balance: Money,
    /// The balance today, after every posting and confirmed payment.
    pub balance: Money,
    /// What to pay: the balance if it is a debt, otherwise zero (section 5).
    pub amount_due: Money,
    /// The ГОСТ Р 56042-2014 payload; without `Sum` when nothing is due.
    pub qr: QrPayload,
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
    /// The QR payload could not be built from the supplier's requisites.
    #[error(transparent)]
    Qr(#[from] QrError),
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
            Self::NotBilled(p) => format!("Начисление за «{}» ещё не выполнено: платёжный документ будет доступен позже.", p.to_russian()),
            Self::Qr(_) | Self::Repo(_) => UNAVAILABLE_RU.into(),
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
        LedgerFact::Charge { period, service, amount, due_date } => ledger.post_charge(date, *period, *service, *amount, *due_date).map(drop),
        LedgerFact::Adjustment { period, service, amount, reason, due_date } => ledger.post_adjustment(date, *period, *service, *amount, reason.clone(), *due_date).map(drop),
        LedgerFact::Penalty { period, amount, due_date } => ledger.post_penalty(date, *period, *amount, *due_date).map(drop),
        LedgerFact::PaymentCreated { payment, amount, split } => ledger.create_payment(*payment, *amount, date, split.clone()),
        LedgerFact::PaymentState { payment, state } => match state {
            PaymentState::Pending => ledger.mark_pending(*payment),
            PaymentState::Succeeded => ledger.succeed_payment(*payment, date).map(drop),
            PaymentState::Failed => ledger.fail_payment(*payment),
            PaymentState::Created | PaymentState::Refunded => {
                let from = ledger.payment(*payment).map(|p| p.state()).ok_or(LedgerError::UnknownPayment(*payment))?;
                Err(LedgerError::InvalidTransition { payment: *payment, from, to: *state })
            }
        },
        LedgerFact::Refund { payment, amount } => ledger.refund_payment(*payment, *amount, date).map(drop),
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
            LedgerFact::Charge { service, .. } | LedgerFact::Adjustment { service, .. } => services.push(*service),
            LedgerFact::PaymentCreated { split: PaymentSplit::ByService(parts), .. } => services.extend(parts.iter().map(|p| p.0)),
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

/// Everything one account needs to be billed, owned (the engine's inputs borrow from it).
struct AccountData {
    account: Account,
    premise: Premise,
    services: Vec<ServiceData>,
    ledger: Ledger,
    penalty: (PenaltyReport, Money),
}

struct ServiceData {
    service: ServiceKind,
    norm_per_unit: Decimal,
    meter_installable: bool,
    meters: Vec<(Meter, Option<(ZoneValues, Date)>, Option<(ZoneValues, Date)>)>,
    history: Vec<PastVolume>,
}

/// The rates a billing run computes penalties with.
struct PenaltySetup {
    key_rates: KeyRateHistory,
    rules: PenaltyRules,
}

impl AccountData {
    fn parts(&self) -> Vec<Vec<MeterPart<'_>>> {
        self.services.iter().map(|s| s.meters.iter().map(|(meter, opening, closing)| MeterPart { meter, opening: *opening, closing: *closing }).collect()).collect()
    }
}

fn service_inputs<'a>(data: &'a AccountData, parts: &'a [Vec<MeterPart<'a>>]) -> Vec<ServiceInput<'a>> {
    data.services
        .iter()
        .zip(parts)
        .map(|(s, p)| ServiceInput { service: s.service, meters: p, history: &s.history, norm_per_unit: s.norm_per_unit, meter_installable: s.meter_installable })
        .collect()
}

fn account_input<'a>(data: &'a AccountData, services: &'a [ServiceInput<'a>]) -> AccountInput<'a> {
    AccountInput {
        account: &data.account,
        premise: &data.premise,
        services,
        penalty: Some(PenaltyInput { report: &data.penalty.0, already_charged: data.penalty.1 }),
        recalculations: &[],
    }
}

/// The opening and closing values of a meter for `period` from its readings: the closing one is
/// the period's accepted reading, the opening one the latest accepted reading of an earlier
/// period (or the initial reading of a meter installed in the period).
fn opening_and_closing(history: &[Reading], period: Period) -> (Option<(ZoneValues, Date)>, Option<(ZoneValues, Date)>) {
    let accepted = || history.iter().filter(|r| r.status == ReadingStatus::Accepted);
    let key = |r: &&Reading| (r.period, r.taken_on, r.id);
    let closing = accepted().filter(|r| r.period == period && r.source != ReadingSource::ReplacementInitial).max_by_key(key);
    let opening = accepted()
        .filter(|r| r.period < period)
        .max_by_key(key)
        .or_else(|| accepted().filter(|r| r.period == period && r.source == ReadingSource::ReplacementInitial).max_by_key(key));
    (opening.map(|r| (r.values, r.taken_on)), closing.map(|r| (r.values, r.taken_on)))
}

/// The penalties already billed on the ledger (never compounded: they are not a debt tranche
/// of the penalty computation).
fn penalties_charged(ledger: &Ledger) -> Money {
    ledger
        .entries()
        .iter()
        .filter(|e| matches!(e.kind, EntryKind::Penalty { .. } | EntryKind::Adjustment { service: ServiceKind::Penalty, .. }))
        .map(|e| e.amount)
        .sum()
}

/// The first day a period may be billed or closed: the day after its readings window closes.
fn earliest_billing_day(supplier: &Supplier, period: Period) -> Date {
    let closes = period.day_clamped(supplier.policy.readings_window.closes_on_day);
    closes.next_day().unwrap_or(closes)
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> RepoError {
    RepoError::Corrupt(format!("{what}: {e}"))
}

impl BillingService {
    /// A service over its ports.
    #[must_use]
    pub fn new(ports: BillingPorts) -> BillingService {
        BillingService { ports }
    }

    async fn supplier(&self, id: SupplierId) -> Result<Supplier, RepoError> {
        self.ports.suppliers.supplier(id).await?.ok_or(RepoError::NotFound)
    }

    async fn ledger_of(&self, account: &Account) -> Result<Ledger, RepoError> {
        let journal = self.ports.ledger.journal(account.id).await?;
        rebuild_ledger(account, &journal).map_err(|e| corrupt(&format!("journal of account {}", account.id), e))
    }

    /// The accepted reading a new one of `meter` for `period` is checked against, and the
    /// account's average for the plausibility bound.
    async fn reading_context(&self, account: &Account, meter: &Meter, period: Period, supplier: &Supplier) -> Result<(Option<Reading>, Option<ZoneValues>), RepoError> {
        let previous = self.ports.readings.last_accepted_before(meter.id, period).await?;
        let history = self.ports.volumes.volumes(account.id, meter.service, period).await?;
        let dp = supplier.policy.volume_dp(meter.service);
        let avg = average(&history, meter.registers.scheme, period, &supplier.policy, dp).map(|(v, _)| v);
        Ok((previous, avg))
    }

    /// Accepts a reading taken today. A reading submitted after the supplier's window belongs to
    /// the next period (billing-rules.md §2); the current one is then billed by the average.
    pub async fn submit_reading(&self, cmd: SubmitReading) -> Result<AcceptedReading, SubmitReadingError> {
        let meter = self.ports.meters.meter(cmd.meter).await?.ok_or(SubmitReadingError::MeterNotFound)?;
        if meter.account != Some(cmd.account) {
            return Err(SubmitReadingError::NotYourMeter);
        }
        let account = self.ports.accounts.account(cmd.account).await?.ok_or(SubmitReadingError::AccountNotFound)?;
        let supplier = self.supplier(account.supplier).await?;
        let (today, now) = (self.ports.clock.today(), self.ports.clock.now());
        let window = &supplier.policy.readings_window;
        let period = if cmd.source == ReadingSource::Subscriber { window.period_for(today) } else { Period::of(today) };
        let last_closed = self.ports.periods.last_closed(supplier.id).await?;
        let (previous, avg) = self.reading_context(&account, &meter, period, &supplier).await?;
        let check = ReadingCheck { meter: &meter, previous: previous.as_ref().map(|r| (&r.values, r.taken_on)), average: avg.as_ref(), last_closed, source: cmd.source };
        let checked = check_reading(&check, &cmd.values, today, &supplier.policy)?;
        let new = NewReading { meter: meter.id, period: checked.period, values: checked.values, taken_on: today, submitted_at: now, source: cmd.source, supersedes: None };
        let reading = match self.ports.readings.save(&new).await {
            Ok(r) => r,
            Err(RepoError::Duplicate) => return Err(SubmitReadingError::AlreadySubmitted { period: checked.period }),
            Err(e) => return Err(e.into()),
        };
        Ok(AcceptedReading { late: checked.period != Period::of(today), reading, consumption: checked.consumption, rollover: checked.rollover })
    }

    async fn changeable_reading(&self, account_id: AccountId, id: ReadingId) -> Result<Option<(Reading, Meter, Account, Supplier)>, RepoError> {
        let Some(reading) = self.ports.readings.reading(id).await? else { return Ok(None) };
        let meter = self.ports.meters.meter(reading.meter).await?.ok_or(RepoError::NotFound)?;
        if meter.account != Some(account_id) {
            return Err(RepoError::Conflict);
        }
        let account = self.ports.accounts.account(account_id).await?.ok_or(RepoError::NotFound)?;
        let supplier = self.supplier(account.supplier).await?;
        Ok(Some((reading, meter, account, supplier)))
    }

    /// Replaces an accepted reading with corrected values while its period and window are open;
    /// the old one is kept as superseded.
    pub async fn correct_reading(&self, cmd: CorrectReading) -> Result<AcceptedReading, CorrectReadingError> {
        let (old, meter, account, supplier) = match self.changeable_reading(cmd.account, cmd.reading).await {
            Ok(Some(found)) => found,
            Ok(None) => return Err(CorrectReadingError::ReadingNotFound),
            Err(RepoError::Conflict) => return Err(CorrectReadingError::NotYourReading),
            Err(e) => return Err(e.into()),
        };
        let (today, now) = (self.ports.clock.today(), self.ports.clock.now());
        let last_closed = self.ports.periods.last_closed(supplier.id).await?;
        ensure_changeable(&old, today, last_closed, &supplier.policy)?;
        let (previous, avg) = self.reading_context(&account, &meter, old.period, &supplier).await?;
        let check = ReadingCheck { meter: &meter, previous: previous.as_ref().map(|r| (&r.values, r.taken_on)), average: avg.as_ref(), last_closed, source: old.source };
        let checked = check_reading(&check, &cmd.values, today, &supplier.policy).map_err(ChangeReadingError::Invalid)?;
        if checked.period != old.period {
            return Err(ChangeReadingError::WindowClosed(old.period).into());
        }
        let new = NewReading { meter: meter.id, period: old.period, values: checked.values, taken_on: today, submitted_at: now, source: old.source, supersedes: Some(old.id) };
        let reading = match self.ports.readings.save(&new).await {
            Ok(r) => r,
            Err(RepoError::Conflict) => return Err(ChangeReadingError::NotAccepted(ReadingStatus::Superseded).into()),
            Err(RepoError::NotFound) => return Err(CorrectReadingError::ReadingNotFound),
            Err(e) => return Err(e.into()),
        };
        Ok(AcceptedReading { late: false, reading, consumption: checked.consumption, rollover: checked.rollover })
    }

    /// Withdraws an accepted reading while its period and window are open. Returns the reading
    /// as it now is (cancelled).
    pub async fn cancel_reading(&self, account: AccountId, reading: ReadingId) -> Result<Reading, CancelReadingError> {
        let (old, _, _, supplier) = match self.changeable_reading(account, reading).await {
            Ok(Some(found)) => found,
            Ok(None) => return Err(CancelReadingError::ReadingNotFound),
            Err(RepoError::Conflict) => return Err(CancelReadingError::NotYourReading),
            Err(e) => return Err(e.into()),
        };
        let today = self.ports.clock.today();
        let last_closed = self.ports.periods.last_closed(supplier.id).await?;
        ensure_changeable(&old, today, last_closed, &supplier.policy)?;
        match self.ports.readings.cancel(old.id).await {
            Ok(()) => Ok(Reading { status: ReadingStatus::Cancelled, ..old }),
            Err(RepoError::Conflict) => Err(ChangeReadingError::NotAccepted(ReadingStatus::Cancelled).into()),
            Err(RepoError::NotFound) => Err(CancelReadingError::ReadingNotFound),
            Err(e) => Err(e.into()),
        }
    }

    async fn penalty_setup(&self) -> Result<PenaltySetup, RepoError> {
        Ok(PenaltySetup { key_rates: self.ports.key_rates.key_rates().await?, rules: self.ports.key_rates.penalty_rules().await? })
    }

    /// Loads everything `account` needs to be billed for `period`.
    async fn account_data(&self, account: Account, premise: Premise, period: Period, supplier: &Supplier, setup: &PenaltySetup) -> Result<Result<AccountData, PenaltyError>, RepoError> {
        let meters = self.ports.meters.meters_of_account(account.id).await?;
        let mut services = Vec::with_capacity(account.services.len());
        for s in &account.services {
            let mut parts = Vec::new();
            for m in meters.iter().filter(|m| m.service == s.service && m.installed_on <= period.last_day() && m.removed_on.is_none_or(|r| r >= period.first_day())) {
                let history = self.ports.readings.history(m.id).await?;
                let (opening, closing) = opening_and_closing(&history, period);
                parts.push((m.clone(), opening, closing));
            }
            let history = self.ports.volumes.volumes(account.id, s.service, period).await?;
            services.push(ServiceData { service: s.service, norm_per_unit: s.norm_per_unit, meter_installable: s.meter_installable, meters: parts, history });
        }
        let ledger = self.ledger_of(&account).await?;
        let report = match ledger.penalties(period.last_day(), &setup.key_rates, &setup.rules, &supplier.penalty) {
            Ok(r) => r,
            Err(e) => return Ok(Err(e)),
        };
        let charged = penalties_charged(&ledger);
        Ok(Ok(AccountData { account, premise, services, ledger, penalty: (report, charged) }))
    }

    fn charge_set(supplier: &Supplier, period: Period, today: Date, bill: AccountBill, account: AccountId) -> ChargeSet {
        ChargeSet { account, supplier: supplier.id, period, posted_on: today, due_date: supplier.policy.due_day.due_date(period), volumes: bill.volumes, lines: bill.lines }
    }

    /// Checks that the set's postings fit the account's stored ledger.
    fn check_postings(ledger: &Ledger, set: &ChargeSet) -> Result<(), LedgerError> {
        let mut ledger = ledger.clone();
        set.postings().iter().try_for_each(|r| apply_record(&mut ledger, r))
    }

    /// Bills one account for a period — **idempotently**: if the account has a charge set for
    /// the period, it is returned unchanged as [`BillingOutcome::AlreadyBilled`] and nothing is
    /// charged. A closed period is never billed. An account whose charges depend on its house
    /// (ОДН billed by the supplier, heating by the house meter) is refused with
    /// [`RunBillingError::HouseRunRequired`].
    pub async fn run_billing_for_account(&self, account_id: AccountId, period: Period) -> Result<BillingOutcome, RunBillingError> {
        let account = self.ports.accounts.account(account_id).await?.ok_or(RunBillingError::AccountNotFound)?;
        if let Some(set) = self.ports.charges.charge_set(account_id, period).await? {
            return Ok(BillingOutcome::AlreadyBilled(set));
        }
        let supplier = self.supplier(account.supplier).await?;
        if self.ports.periods.last_closed(supplier.id).await?.is_some_and(|c| period <= c) {
            return Err(RunBillingError::PeriodClosed(period));
        }
        let today = self.ports.clock.today();
        let earliest = earliest_billing_day(&supplier, period);
        if today < earliest {
            return Err(RunBillingError::TooEarly { earliest });
        }
        let premise = self.ports.houses.premise(account.premise).await?.ok_or(RepoError::NotFound)?;
        let house = self.ports.houses.house(premise.house).await?.ok_or(RepoError::NotFound)?;
        let heating = account.services.iter().any(|s| s.service == ServiceKind::Heating);
        if house.odn.billed_by_supplier || (house.heat_meter && heating) {
            return Err(RunBillingError::HouseRunRequired(house.id));
        }
        let tariffs = self.ports.tariffs.versions(supplier.id).await?;
        let setup = self.penalty_setup().await?;
        let data = self.account_data(account, premise, period, &supplier, &setup).await??;
        let parts = data.parts();
        let services = service_inputs(&data, &parts);
        let bill = bill_account(&account_input(&data, &services), period, TariffBook { versions: &tariffs }, None, house.electric_heating, &supplier.policy)?;
        let set = Self::charge_set(&supplier, period, today, bill, account_id);
        Self::check_postings(&data.ledger, &set).map_err(RunBillingError::Ledger)?;
        match self.ports.charges.save_charge_sets(std::slice::from_ref(&set)).await {
            Ok(()) => Ok(BillingOutcome::Billed(set)),
            // A concurrent run stored its set first: return that one, charge nothing.
            Err(RepoError::Duplicate) => match self.ports.charges.charge_set(account_id, period).await? {
                Some(stored) => Ok(BillingOutcome::AlreadyBilled(stored)),
                None => Err(RepoError::Conflict.into()),
            },
            Err(RepoError::Conflict) => Err(RunBillingError::PeriodClosed(period)),
            Err(e) => Err(e.into()),
        }
    }

    async fn stored_sets(&self, accounts: &[Account], period: Period) -> Result<Vec<Option<ChargeSet>>, RepoError> {
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
    pub async fn run_billing_for_house(&self, house_id: HouseId, period: Period) -> Result<HouseBillingOutcome, RunHouseBillingError> {
        let house = self.ports.houses.house(house_id).await?.ok_or(RunHouseBillingError::HouseNotFound)?;
        let supplier = self.supplier(house.supplier).await?;
        let mut accounts = self.ports.accounts.accounts_in_house(house_id).await?;
        accounts.retain(|a| a.supplier == house.supplier);
        accounts.sort_by_key(|a| a.id);
        let stored = self.stored_sets(&accounts, period).await?;
        if stored.iter().all(Option::is_some) {
            let accounts = stored.into_iter().flatten().map(BillingOutcome::AlreadyBilled).collect();
            return Ok(HouseBillingOutcome { house: house_id, period, accounts, odn: None });
        }
        if self.ports.periods.last_closed(supplier.id).await?.is_some_and(|c| period <= c) {
            return Err(RunHouseBillingError::PeriodClosed(period));
        }
        let today = self.ports.clock.today();
        let earliest = earliest_billing_day(&supplier, period);
        if today < earliest {
            return Err(RunHouseBillingError::TooEarly { earliest });
        }
        let premises: BTreeMap<_, _> = self.ports.houses.premises(house_id).await?.into_iter().map(|p| (p.id, p)).collect();
        let facts = self.ports.houses.period_facts(house_id, period).await?;
        let tariffs = self.ports.tariffs.versions(supplier.id).await?;
        let setup = self.penalty_setup().await?;
        let mut data = Vec::with_capacity(accounts.len());
        for a in &accounts {
            let premise = premises.get(&a.premise).cloned().ok_or_else(|| corrupt(&format!("account {}", a.id), "premise is not in its house"))?;
            data.push(self.account_data(a.clone(), premise, period, &supplier, &setup).await??);
        }
        let bill = {
            let parts: Vec<_> = data.iter().map(AccountData::parts).collect();
            let services: Vec<_> = data.iter().zip(&parts).map(|(d, p)| service_inputs(d, p)).collect();
            let inputs: Vec<_> = data.iter().zip(&services).map(|(d, s)| account_input(d, s)).collect();
            let input = HouseInput {
                house: &house,
                accounts: &inputs,
                house_meter_volume: facts.house_meter_volume,
                other_non_residential_volume: facts.other_non_residential_volume,
                heat_production_volume: facts.heat_production_volume,
                carried_in: facts.carried_in,
                heat_meter_volume: facts.heat_meter_volume,
            };
            bill_house(&input, period, TariffBook { versions: &tariffs }, &supplier.policy)?
        };
        let mut outcomes: Vec<Option<BillingOutcome>> = stored.into_iter().map(|s| s.map(BillingOutcome::AlreadyBilled)).collect();
        let mut new_sets = Vec::new();
        for ((d, account_bill), outcome) in data.iter().zip(bill.accounts).zip(&outcomes) {
            if outcome.is_none() {
                let set = Self::charge_set(&supplier, period, today, account_bill, d.account.id);
                Self::check_postings(&d.ledger, &set).map_err(|source| RunHouseBillingError::Ledger { account: d.account.id, source })?;
                new_sets.push(set);
            }
        }
        match self.ports.charges.save_charge_sets(&new_sets).await {
            Ok(()) => {}
            Err(RepoError::Duplicate) => {
                // A concurrent run got there first: report what is stored now.
                let now = self.stored_sets(&accounts, period).await?;
                if now.iter().any(Option::is_none) {
                    return Err(RepoError::Conflict.into());
                }
                let accounts = now.into_iter().flatten().map(BillingOutcome::AlreadyBilled).collect();
                return Ok(HouseBillingOutcome { house: house_id, period, accounts, odn: None });
            }
            Err(RepoError::Conflict) => return Err(RunHouseBillingError::PeriodClosed(period)),
            Err(e) => return Err(e.into()),
        }
        let mut new_sets = new_sets.into_iter();
        for o in &mut outcomes {
            if o.is_none() {
                *o = new_sets.next().map(BillingOutcome::Billed);
            }
        }
        Ok(HouseBillingOutcome { house: house_id, period, accounts: outcomes.into_iter().flatten().collect(), odn: bill.odn })
    }

    /// Closes a period of a supplier: afterwards its readings and charges never change
    /// (corrections become recalculations of a later period). Periods close in order, after
    /// their readings window, and only when every account has been billed.
    pub async fn close_period(&self, supplier_id: SupplierId, period: Period) -> Result<(), ClosePeriodError> {
        let supplier = self.ports.suppliers.supplier(supplier_id).await?.ok_or(ClosePeriodError::SupplierNotFound)?;
        match self.ports.periods.last_closed(supplier_id).await? {
            Some(c) if period <= c => return Err(ClosePeriodError::AlreadyClosed(period)),
            Some(c) if period != c.next() => return Err(ClosePeriodError::OutOfOrder { expected: c.next() }),
            _ => {}
        }
        let earliest = earliest_billing_day(&supplier, period);
        if self.ports.clock.today() < earliest {
            return Err(ClosePeriodError::TooEarly { earliest });
        }
        let unbilled = self.ports.charges.count_unbilled(supplier_id, period).await?;
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
    pub async fn post_payment(&self, cmd: PostPayment) -> Result<PaymentRecord, PostPaymentError> {
        let account = self.ports.accounts.account(cmd.account).await?.ok_or(PostPaymentError::AccountNotFound)?;
        if !cmd.amount.is_positive() {
            return Err(PostPaymentError::InvalidAmount(cmd.amount));
        }
        let supplier = self.supplier(account.supplier).await?;
        if cmd.amount < supplier.minimum_payment {
            return Err(PostPaymentError::BelowMinimum { minimum: supplier.minimum_payment });
        }
        let today = self.ports.clock.today();
        let ledger = self.ledger_of(&account).await?;
        // Validate the split against the account's services without touching the real ledger.
        Ledger::new(account.id, ledger.services()).create_payment(PaymentId::new(0), cmd.amount, today, cmd.split.clone()).map_err(PostPaymentError::InvalidSplit)?;
        let new = NewPayment { gateway_id: cmd.gateway_id, account: account.id, amount: cmd.amount, split: cmd.split, created_on: today };
        match self.ports.ledger.record_payment(&new).await {
            Ok(p) => Ok(p),
            Err(RepoError::Duplicate) => Err(PostPaymentError::DuplicatePayment),
            Err(e) => Err(e.into()),
        }
    }

    async fn confirmation(&self, payment: PaymentRecord, outcome: ConfirmOutcome, ledger: Option<Ledger>) -> Result<PaymentConfirmation, ConfirmPaymentError> {
        let ledger = match ledger {
            Some(l) => l,
            None => {
                let account = self.ports.accounts.account(payment.account).await?.ok_or(RepoError::NotFound)?;
                self.ledger_of(&account).await?
            }
        };
        let (allocation, to_advance) = ledger.payment(payment.id).map(|p| (p.allocation().to_vec(), p.to_advance())).unwrap_or_default();
        Ok(PaymentConfirmation { payment: PaymentRecord { state: PaymentState::Succeeded, ..payment }, outcome, allocation, to_advance, balance: ledger.balance() })
    }

    /// Confirms a payment by its gateway id (the gateway's webhook): the payment succeeds, is
    /// applied to the debt (the payer's split or oldest first) and moves the balance.
    /// **Idempotent**: confirming a confirmed payment — sequentially or in a race — credits
    /// nothing and answers [`ConfirmOutcome::AlreadyCredited`].
    pub async fn confirm_payment(&self, gateway_id: &GatewayPaymentId) -> Result<PaymentConfirmation, ConfirmPaymentError> {
        let payment = self.ports.ledger.payment_by_gateway_id(gateway_id).await?.ok_or(ConfirmPaymentError::PaymentNotFound)?;
        match payment.state {
            PaymentState::Succeeded => return self.confirmation(payment, ConfirmOutcome::AlreadyCredited, None).await,
            PaymentState::Failed | PaymentState::Refunded => return Err(ConfirmPaymentError::NotConfirmable(payment.state)),
            PaymentState::Created | PaymentState::Pending => {}
        }
        let account = self.ports.accounts.account(payment.account).await?.ok_or(RepoError::NotFound)?;
        let today = self.ports.clock.today();
        let mut ledger = self.ledger_of(&account).await?;
        ledger.succeed_payment(payment.id, today).map_err(ConfirmPaymentError::Ledger)?;
        match self.ports.ledger.transition_payment(gateway_id, payment.state, PaymentState::Succeeded, today).await {
            Ok(()) => self.confirmation(payment, ConfirmOutcome::Credited, Some(ledger)).await,
            Err(RepoError::Conflict) => {
                // Another confirmation (or a failure) won the race; nothing was written by us.
                let now = self.ports.ledger.payment_by_gateway_id(gateway_id).await?.ok_or(ConfirmPaymentError::PaymentNotFound)?;
                match now.state {
                    PaymentState::Succeeded => self.confirmation(now, ConfirmOutcome::AlreadyCredited, None).await,
                    state => Err(ConfirmPaymentError::NotConfirmable(state)),
                }
            }
            Err(RepoError::NotFound) => Err(ConfirmPaymentError::PaymentNotFound),
            Err(e) => Err(e.into()),
        }
    }

    /// The statement of an account for `from..=to`: opening balance, entries with running
    /// balances, totals and closing balance.
    pub async fn statement(&self, account: AccountId, from: Date, to: Date) -> Result<Statement, StatementError> {
        if from > to {
            return Err(StatementError::InvalidRange { from, to });
        }
        let account = self.ports.accounts.account(account).await?.ok_or(StatementError::AccountNotFound)?;
        Ok(self.ledger_of(&account).await?.statement(from, to))
    }

    /// The balance of an account today, with its debt per service and its advance.
    pub async fn balance(&self, account: AccountId) -> Result<AccountBalance, BalanceError> {
        let account = self.ports.accounts.account(account).await?.ok_or(BalanceError::AccountNotFound)?;
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

    /// The payment document (ЕПД) data of an account for a billed period, with its ГОСТ Р
    /// 56042-2014 QR payload (`PersAcc`, `PaymPeriod`, `PaymTerm`, `Purpose`, `PayerAddress`,
    /// `TechCode` 02 and `Sum` when something is due).
    pub async fn payment_document(&self, account: AccountId, period: Period) -> Result<PaymentDocument, PaymentDocumentError> {
        let account = self.ports.accounts.account(account).await?.ok_or(PaymentDocumentError::AccountNotFound)?;
        let set = self.ports.charges.charge_set(account.id, period).await?.ok_or(PaymentDocumentError::NotBilled(period))?;
        let supplier = self.supplier(account.supplier).await?;
        let premise = self.ports.houses.premise(account.premise).await?.ok_or(RepoError::NotFound)?;
        let house: House = self.ports.houses.house(premise.house).await?.ok_or(RepoError::NotFound)?;
        let ledger = self.ledger_of(&account).await?;
        let address = format!("{}, {} {}", house.address, if premise.residential { "кв." } else { "пом." }, premise.number);
        let previous_balance = set.posted_on.previous_day().map_or(Money::ZERO, |d| ledger.balance_on(d));
        let balance = ledger.balance();
        let amount_due = balance.positive_part();
        let mut qr = QrPayload::for_supplier(&supplier.requisites)?
            .pers_acc(account.number.as_str())?
            .paym_period(period)
            .paym_term(set.due_date)?
            .purpose(&format!("Оплата за {} по ЛС {}", period.to_russian(), account.number))?
            .payer_address(&address)?
            .tech_code(TechCode::HOUSING_AND_UTILITIES);
        if amount_due.is_positive() {
            qr = qr.sum(amount_due)?;
        }
        Ok(PaymentDocument {
            supplier: supplier.requisites,
            holder: account.holder,
            account_number: account.number,
            address,
            period,
            due_date: set.due_date,
            explanations: set.lines.iter().map(ChargeLine::explain).collect(),
            charged: set.total(),
            lines: set.lines,
            previous_balance,
            balance,
            amount_due,
            qr,
        })
    }
}
