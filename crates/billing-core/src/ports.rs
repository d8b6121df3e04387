//! Ports: everything the billing use cases need from the outside world, as traits.
//!
//! The core does no IO and reads no clock: storage, time and the key-rate history enter here.
//! Adapters live in other crates (storage-seaorm implements every repository on SQLite and
//! PostgreSQL; the server wires a system clock). Each trait states its contract; where a
//! contract says MUST, the core's money safety depends on it — in particular:
//!
//! - one charge set per (account, period): [`ChargeRepository::save_charge_sets`] returns
//!   [`RepoError::Duplicate`] instead of charging twice;
//! - one credited payment per gateway payment id: [`LedgerRepository::record_payment`] refuses a
//!   second payment with the same [`GatewayPaymentId`], and
//!   [`LedgerRepository::transition_payment`] is a compare-and-set, so a confirmation that loses
//!   a race writes nothing;
//! - one accepted reading per (meter, period) unless a correction supersedes it
//!   ([`ReadingRepository::save`]);
//! - a correction of a closed period is stored together with the reading it puts in force
//!   ([`RecalculationRepository::record`]) and is billed once: the charge set that bills it
//!   marks it applied in the same transaction ([`ChargeRepository::save_charge_sets`]);
//! - a refund never exceeds its payment: [`LedgerRepository::complete_refund`] is a
//!   compare-and-set on the refund request and on the amount refunded so far.
//!
//! Adapters map driver errors into [`RepoError`]: a violated unique constraint becomes
//! [`RepoError::Duplicate`], a lost compare-and-set [`RepoError::Conflict`], a row that cannot
//! become a domain value [`RepoError::Corrupt`], anything else [`RepoError::Unavailable`].
//!
//! The ledger is stored as a **journal** of [`LedgerRecord`]s — the facts that were applied to
//! the account's [`Ledger`](crate::ledger::Ledger), in the order they were applied — and rebuilt
//! in the core by [`crate::usecase::rebuild_ledger`]. Storage never computes an allocation.
//!
//! [`Clock`] is synchronous (nothing to wait for); every other port is async (`async-trait`).
//! With the `mocks` feature (and in this crate's tests) every port has a `mockall` mock named
//! `Mock<Trait>`.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

use crate::charge::{ChargeBasis, ChargeLine, Recalculation};
use crate::ids::{AccountId, HouseId, MeterId, PaymentId, PremiseId, ReadingId, SupplierId};
pub use crate::ids::{RecalculationId, RefundRequestId};
use crate::keyrate::{KeyRateHistory, PenaltyRules};
use crate::ledger::{AdjustmentReason, PaymentSplit, PaymentState};
use crate::meter::{Meter, ZoneValues};
use crate::model::{Account, AccountNumber, House, Premise, Supplier};
use crate::money::Money;
use crate::period::Period;
use crate::reading::{Reading, ReadingSource};
use crate::service::ServiceKind;
use crate::tariff::TariffVersion;
use crate::volume::{PastVolume, PeriodVolume, VolumeKind};

use rust_decimal::Decimal;

/// Why a port call failed, in terms the use cases can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RepoError {
    /// The write would break a uniqueness rule stated in the port's contract (for example a
    /// second charge set for one account and period). Nothing was written.
    #[error("duplicate")]
    Duplicate,
    /// The row the call refers to does not exist.
    #[error("not found")]
    NotFound,
    /// A precondition stated in the contract no longer holds (a compare-and-set lost a race, a
    /// period was closed meanwhile). Nothing was written.
    #[error("conflict")]
    Conflict,
    /// A stored row cannot be turned into a domain value (the text says which and why).
    #[error("corrupt data: {0}")]
    Corrupt(String),
    /// The adapter failed (database unreachable, timeout …); the text is for logs only.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
}

/// The current time. Adapters return UTC for [`Clock::now`] and the supplier's local date for
/// [`Clock::today`].
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait Clock: Send + Sync {
    /// Now, as an instant (readings record when they reached the supplier).
    fn now(&self) -> OffsetDateTime;
    /// Today's date in the supplier's region: the readings window, due dates and postings are
    /// counted in local dates.
    fn today(&self) -> Date;
}

/// The Bank of Russia key-rate history and the exception windows of penalties: operator data,
/// never fetched from the internet (billing-rules.md §7).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait::async_trait]
pub trait KeyRateSource: Send + Sync {
    /// The key-rate history as the operator maintains it.
    async fn key_rates(&self) -> Result<KeyRateHistory, RepoError>;
    /// The moratorium and fixed-rate windows in force.
    async fn penalty_rules(&self) -> Result<PenaltyRules, RepoError>;
}

/// Suppliers.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait::async_trait]
pub trait SupplierRepository: Send + Sync {
    /// The supplier with this id.
    async fn supplier(&self, id: SupplierId) -> Result<Option<Supplier>, RepoError>;
}

/// The house facts of one period that a house billing run needs besides the accounts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HousePeriodFacts {
    /// The house electricity meter's volume (`None` without a working ОДПУ: ОДН by the norm).
    pub house_meter_volume: Option<Decimal>,
    /// Σ electricity of non-residential premises not billed by this supplier.
    pub other_non_residential_volume: Decimal,
    /// Electricity used in the house to produce heat or hot water.
    pub heat_production_volume: Decimal,
    /// A negative ОДН remainder carried in from the previous period (≤ 0).
    pub carried_in: Decimal,
    /// The house heat meter's volume, when heating is billed by it.
    pub heat_meter_volume: Option<Decimal>,
}

/// Houses and premises.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait::async_trait]
pub trait HouseRepository: Send + Sync {
    /// The house with this id.
    async fn house(&self, id: HouseId) -> Result<Option<House>, RepoError>;
    /// The premise with this id.
    async fn premise(&self, id: PremiseId) -> Result<Option<Premise>, RepoError>;
    /// Every premise of the house, ordered by id.
    async fn premises(&self, house: HouseId) -> Result<Vec<Premise>, RepoError>;
    /// The house's facts for `period`. MUST return [`HousePeriodFacts::default`] when none were
    /// recorded (no house meter volume, zeros).
    async fn period_facts(
        &self,
        house: HouseId,
        period: Period,
    ) -> Result<HousePeriodFacts, RepoError>;
}

/// Personal accounts (ЛС).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait::async_trait]
pub trait AccountRepository: Send + Sync {
    /// The account with this id.
    async fn account(&self, id: AccountId) -> Result<Option<Account>, RepoError>;
    /// The supplier's account with this printed number.
    async fn find_by_number(
        &self,
        supplier: SupplierId,
        number: &AccountNumber,
    ) -> Result<Option<Account>, RepoError>;
    /// Every account of the house's premises, ordered by id (the order of a house run).
    async fn accounts_in_house(&self, house: HouseId) -> Result<Vec<Account>, RepoError>;
}

/// Meters.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait::async_trait]
pub trait MeterRepository: Send + Sync {
    /// The meter with this id.
    async fn meter(&self, id: MeterId) -> Result<Option<Meter>, RepoError>;
    /// Every meter ever installed on the account (removed ones included), ordered by id.
    async fn meters_of_account(&self, account: AccountId) -> Result<Vec<Meter>, RepoError>;
}

/// A reading to store; storage assigns its id and stores it as
/// [`crate::reading::ReadingStatus::Accepted`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewReading {
    /// The meter read.
    pub meter: MeterId,
    /// The period it belongs to (the next one when it came after the window).
    pub period: Period,
    /// Register values, in register order.
    pub values: ZoneValues,
    /// The day the values were taken.
    pub taken_on: Date,
    /// When it reached the supplier.
    pub submitted_at: OffsetDateTime,
    /// Who supplied it.
    pub source: ReadingSource,
    /// The accepted reading this one corrects, if it is a correction.
    pub supersedes: Option<ReadingId>,
}

/// Meter readings.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait::async_trait]
pub trait ReadingRepository: Send + Sync {
    /// The reading with this id, whatever its status.
    async fn reading(&self, id: ReadingId) -> Result<Option<Reading>, RepoError>;
    /// Stores `reading` as accepted and returns it with its new id.
    ///
    /// Without `supersedes`, MUST return [`RepoError::Duplicate`] (storing nothing) if an
    /// accepted reading of the same meter and period exists — except that a
    /// [`ReadingSource::ReplacementFinal`] and a [`ReadingSource::ReplacementInitial`] reading
    /// may share a period with one ordinary reading each.
    ///
    /// With `supersedes: Some(old)`, MUST atomically mark `old` as superseded and store the new
    /// one; MUST return [`RepoError::Conflict`] (storing nothing) if `old` is no longer accepted
    /// — a concurrent correction or cancellation won — and [`RepoError::NotFound`] if it does
    /// not exist.
    async fn save(&self, reading: &NewReading) -> Result<Reading, RepoError>;
    /// Marks an accepted reading as cancelled. MUST return [`RepoError::Conflict`] (changing
    /// nothing) if it is no longer accepted, [`RepoError::NotFound`] if it does not exist.
    async fn cancel(&self, id: ReadingId) -> Result<(), RepoError>;
    /// Every reading of the meter, whatever its status, ordered by the day taken, then by id.
    async fn history(&self, meter: MeterId) -> Result<Vec<Reading>, RepoError>;
    /// The latest accepted reading of the meter whose period is before `period` (by period,
    /// then day taken, then id): the "previous" reading a new one is checked against.
    async fn last_accepted_before(
        &self,
        meter: MeterId,
        period: Period,
    ) -> Result<Option<Reading>, RepoError>;
}

/// What a reading of a meter for [`period`](Self::period) is checked against: the previous
/// reading (rollover, lower than previous) and the account's volume history (the average of
/// the plausibility bound).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckBasis {
    /// The period of the reading being checked.
    pub period: Period,
    /// The meter's latest accepted reading of an earlier period: what
    /// [`ReadingRepository::last_accepted_before`] returns for the meter and `period`.
    pub previous: Option<Reading>,
    /// What [`VolumeHistoryRepository::volumes`] returns for the account, the meter's service
    /// and `period`, oldest first.
    pub volumes: Vec<PastVolume>,
}

/// A meter with what a reading of it is checked against: the account it is attached to, the
/// account's supplier, the supplier's last closed period and, for the periods asked about,
/// the previous reading and the volume history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MeterContext {
    /// The meter.
    pub meter: Meter,
    /// The account asked about, if the meter is attached to it and it exists; otherwise `None`
    /// (and so are the other two).
    pub account: Option<Account>,
    /// The account's supplier; `None` without an account or when the supplier does not exist.
    pub supplier: Option<Supplier>,
    /// The supplier's last closed period ([`PeriodRepository::last_closed`]); `None` without a
    /// supplier or when it has closed none.
    pub last_closed: Option<Period>,
    /// One basis per period asked about, in the order asked; empty without an account.
    pub checks: Vec<CheckBasis>,
}

impl MeterContext {
    /// The basis for `period`, if it was asked about.
    #[must_use]
    pub fn basis_for(&self, period: Period) -> Option<&CheckBasis> {
        self.checks.iter().find(|b| b.period == period)
    }
}

/// What the reading use cases (submit, correct, cancel) read before they judge a reading,
/// read together: a submission asks it on every request, so a store should answer each call in
/// one read (a join) rather than one per table. [`ComposedReadingContexts`] answers it from the
/// single-table ports for stores that cannot join.
///
/// Each answer MUST equal what the single-table ports return for the same rows at the same
/// moment ([`MeterRepository::meter`], [`AccountRepository::account`],
/// [`SupplierRepository::supplier`], [`PeriodRepository::last_closed`],
/// [`ReadingRepository::reading`], [`ReadingRepository::last_accepted_before`],
/// [`VolumeHistoryRepository::volumes`]).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait::async_trait]
pub trait ReadingContextRepository: Send + Sync {
    /// The meter with this id and, if it is attached to `account`, its context with a
    /// [`CheckBasis`] for each of `periods` (a submission does not know its period before it
    /// has read the supplier's window: it asks for both it may be); `None` if the meter does
    /// not exist.
    async fn meter_context(
        &self,
        meter: MeterId,
        account: AccountId,
        periods: &[Period],
    ) -> Result<Option<MeterContext>, RepoError>;
    /// The reading with this id (whatever its status) and its meter with, if the meter is
    /// attached to `account`, its context with the [`CheckBasis`] of the reading's period (what
    /// a correction of it is checked against); `None` if the reading does not exist.
    /// [`RepoError::NotFound`] if its meter does not.
    async fn reading_context(
        &self,
        reading: ReadingId,
        account: AccountId,
    ) -> Result<Option<(Reading, MeterContext)>, RepoError>;
}

/// [`ReadingContextRepository`] composed of the single-table ports, one read per table: for
/// stores that cannot join (in-memory stores, tests), and the reference the joined adapters are
/// tested against.
#[derive(Clone)]
pub struct ComposedReadingContexts {
    /// Meters.
    pub meters: std::sync::Arc<dyn MeterRepository>,
    /// Accounts.
    pub accounts: std::sync::Arc<dyn AccountRepository>,
    /// Suppliers.
    pub suppliers: std::sync::Arc<dyn SupplierRepository>,
    /// Closed periods.
    pub periods: std::sync::Arc<dyn PeriodRepository>,
    /// Readings.
    pub readings: std::sync::Arc<dyn ReadingRepository>,
    /// Volume history.
    pub volumes: std::sync::Arc<dyn VolumeHistoryRepository>,
}

impl fmt::Debug for ComposedReadingContexts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ComposedReadingContexts")
    }
}

impl ComposedReadingContexts {
    async fn context_of(
        &self,
        meter: Meter,
        owner: AccountId,
        periods: &[Period],
    ) -> Result<MeterContext, RepoError> {
        let account = if meter.account == Some(owner) {
            self.accounts.account(owner).await?
        } else {
            None
        };
        let supplier = match &account {
            Some(a) => self.suppliers.supplier(a.supplier).await?,
            None => None,
        };
        let last_closed = match &supplier {
            Some(s) => self.periods.last_closed(s.id).await?,
            None => None,
        };
        let mut checks = Vec::new();
        if let Some(a) = &account {
            for &period in periods {
                checks.push(CheckBasis {
                    period,
                    previous: self.readings.last_accepted_before(meter.id, period).await?,
                    volumes: self.volumes.volumes(a.id, meter.service, period).await?,
                });
            }
        }
        Ok(MeterContext {
            meter,
            account,
            supplier,
            last_closed,
            checks,
        })
    }
}

#[async_trait::async_trait]
impl ReadingContextRepository for ComposedReadingContexts {
    async fn meter_context(
        &self,
        meter: MeterId,
        account: AccountId,
        periods: &[Period],
    ) -> Result<Option<MeterContext>, RepoError> {
        match self.meters.meter(meter).await? {
            Some(m) => Ok(Some(self.context_of(m, account, periods).await?)),
            None => Ok(None),
        }
    }

    async fn reading_context(
        &self,
        reading: ReadingId,
        account: AccountId,
    ) -> Result<Option<(Reading, MeterContext)>, RepoError> {
        let Some(reading) = self.readings.reading(reading).await? else {
            return Ok(None);
        };
        let meter = self
            .meters
            .meter(reading.meter)
            .await?
            .ok_or(RepoError::NotFound)?;
        let context = self.context_of(meter, account, &[reading.period]).await?;
        Ok(Some((reading, context)))
    }
}

/// Tariffs.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait::async_trait]
pub trait TariffRepository: Send + Sync {
    /// Every tariff version of the supplier (every service and group), ordered by `valid_from`.
    async fn versions(&self, supplier: SupplierId) -> Result<Vec<TariffVersion>, RepoError>;
}

/// Billed volumes: the history averages and true-ups are made from.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait::async_trait]
pub trait VolumeHistoryRepository: Send + Sync {
    /// The volumes of `service` on the account for periods before `before`, oldest first: every
    /// volume stored by [`ChargeRepository::save_charge_sets`] plus any history imported from a
    /// previous system. At most one per period.
    async fn volumes(
        &self,
        account: AccountId,
        service: ServiceKind,
        before: Period,
    ) -> Result<Vec<PastVolume>, RepoError>;
}

/// The result of one billing run for one account and period: what was charged and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChargeSet {
    /// The account.
    pub account: AccountId,
    /// The supplier (closed periods are per supplier).
    pub supplier: SupplierId,
    /// The period billed.
    pub period: Period,
    /// The day the charges were posted to the ledger.
    pub posted_on: Date,
    /// The due date of the period's bill.
    pub due_date: Date,
    /// The volume determined per service (the history of later averages and true-ups).
    pub volumes: Vec<(ServiceKind, PeriodVolume)>,
    /// The lines, each with its basis.
    pub lines: Vec<ChargeLine>,
    /// The pending corrections of closed periods this set bills, in the order of its
    /// [`ChargeBasis::Recalculation`] lines; [`ChargeRepository::save_charge_sets`] marks them
    /// applied.
    pub recalculations: Vec<PendingRecalculation>,
}

impl ChargeSet {
    /// The total: the sum of the rounded lines.
    #[must_use]
    pub fn total(&self) -> Money {
        self.lines.iter().map(|l| l.amount).sum()
    }

    /// The volumes as history entries for later periods.
    #[must_use]
    pub fn past_volumes(&self) -> Vec<(ServiceKind, PastVolume)> {
        self.volumes
            .iter()
            .map(|(s, v)| {
                (
                    *s,
                    PastVolume {
                        period: self.period,
                        kind: v.kind,
                        values: v.values,
                    },
                )
            })
            .collect()
    }

    /// The ledger records the set posts, all dated [`ChargeSet::posted_on`]:
    ///
    /// - per service (in [`ServiceKind::ALL`] order), the sum of its ordinary lines as a
    ///   [`LedgerFact::Charge`]; when a true-up makes that sum negative, a zero charge and a
    ///   downward [`LedgerFact::Adjustment`] with [`AdjustmentReason::TrueUp`];
    /// - each non-zero recalculation line as an [`LedgerFact::Adjustment`] with the reason of
    ///   its [`PendingRecalculation`] ([`AdjustmentReason::ControlCheck`] for a control check,
    ///   [`AdjustmentReason::Correction`] otherwise or when the set does not list it);
    /// - the penalty line as a [`LedgerFact::Penalty`] (a negative one — penalties charged
    ///   before exceed the new report — as a downward adjustment of the penalty service).
    #[must_use]
    pub fn postings(&self) -> Vec<LedgerRecord> {
        let mut out = Vec::new();
        let date = self.posted_on;
        let (period, due_date) = (self.period, self.due_date);
        for service in ServiceKind::ALL {
            let ordinary = self.lines.iter().filter(|l| {
                l.service == service
                    && !matches!(
                        l.basis,
                        ChargeBasis::Recalculation { .. } | ChargeBasis::Penalty { .. }
                    )
            });
            let mut any = false;
            let mut sum = Money::ZERO;
            for l in ordinary {
                any = true;
                sum += l.amount;
            }
            if any {
                if sum.is_negative() {
                    out.push(LedgerRecord {
                        date,
                        fact: LedgerFact::Charge {
                            period,
                            service,
                            amount: Money::ZERO,
                            due_date,
                        },
                    });
                    out.push(LedgerRecord {
                        date,
                        fact: LedgerFact::Adjustment {
                            period,
                            service,
                            amount: sum,
                            reason: AdjustmentReason::TrueUp,
                            due_date,
                        },
                    });
                } else {
                    out.push(LedgerRecord {
                        date,
                        fact: LedgerFact::Charge {
                            period,
                            service,
                            amount: sum,
                            due_date,
                        },
                    });
                }
            }
        }
        let mut listed = self.recalculations.iter();
        for l in &self.lines {
            match &l.basis {
                ChargeBasis::Recalculation { of_period, .. } => {
                    let reason = listed
                        .next()
                        .filter(|r| {
                            r.service == l.service
                                && r.of_period == *of_period
                                && r.amount == l.amount
                        })
                        .map_or(AdjustmentReason::Correction, |r| r.kind.adjustment_reason());
                    if !l.amount.is_zero() {
                        out.push(LedgerRecord {
                            date,
                            fact: LedgerFact::Adjustment {
                                period,
                                service: l.service,
                                amount: l.amount,
                                reason,
                                due_date,
                            },
                        });
                    }
                }
                ChargeBasis::Penalty { .. } if l.amount.is_negative() => {
                    let reason = AdjustmentReason::Other("пени пересчитаны".into());
                    out.push(LedgerRecord {
                        date,
                        fact: LedgerFact::Adjustment {
                            period,
                            service: ServiceKind::Penalty,
                            amount: l.amount,
                            reason,
                            due_date,
                        },
                    });
                }
                ChargeBasis::Penalty { .. } if l.amount.is_positive() => {
                    out.push(LedgerRecord {
                        date,
                        fact: LedgerFact::Penalty {
                            period,
                            amount: l.amount,
                            due_date,
                        },
                    });
                }
                _ => {}
            }
        }
        out
    }

    /// True if any line is an estimate (average or norm): the bill should say so.
    #[must_use]
    pub fn has_estimates(&self) -> bool {
        self.volumes
            .iter()
            .any(|(_, v)| matches!(v.kind, VolumeKind::Average | VolumeKind::Norm))
    }
}

/// Charge sets.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait::async_trait]
pub trait ChargeRepository: Send + Sync {
    /// The charge set of the account for the period, if it was billed.
    async fn charge_set(
        &self,
        account: AccountId,
        period: Period,
    ) -> Result<Option<ChargeSet>, RepoError>;
    /// Stores the sets in one transaction: each set's lines, its volumes (for
    /// [`VolumeHistoryRepository::volumes`]), its [`ChargeSet::postings`] appended to the
    /// account's ledger journal, and each of its [`ChargeSet::recalculations`] marked applied by
    /// it — all of them or none.
    ///
    /// MUST return [`RepoError::Duplicate`], writing nothing, if a set for any of the (account,
    /// period) pairs exists (including one written concurrently: a unique constraint, not a
    /// prior read). MUST return [`RepoError::Conflict`], writing nothing, if any set's period is
    /// closed for its supplier or any of its recalculations is applied already (a
    /// compare-and-set: two runs never bill one correction twice).
    async fn save_charge_sets(&self, sets: &[ChargeSet]) -> Result<(), RepoError>;
    /// How many of the supplier's accounts have no charge set for `period`.
    async fn count_unbilled(&self, supplier: SupplierId, period: Period) -> Result<u64, RepoError>;
}

/// What caused a correction of a closed period.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecalculationKind {
    /// A control check found a different reading than reported (ПП 354 п. 61): recalculated in
    /// the period of the check.
    ControlCheck,
    /// An operator corrected the reading of a closed period: recalculated in the next open
    /// period.
    ReadingCorrection,
}

impl RecalculationKind {
    /// The reason the ledger records for the recalculation.
    #[must_use]
    pub fn adjustment_reason(self) -> AdjustmentReason {
        match self {
            RecalculationKind::ControlCheck => AdjustmentReason::ControlCheck,
            RecalculationKind::ReadingCorrection => AdjustmentReason::Correction,
        }
    }
}

/// A correction of a closed period to record, with the reading it puts in force.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewRecalculation {
    /// The account.
    pub account: AccountId,
    /// The service recalculated.
    pub service: ServiceKind,
    /// The billed period whose charge is corrected.
    pub of_period: Period,
    /// The first period whose billing run may bill it (the period of a control check, or the
    /// next open period).
    pub billed_from: Period,
    /// The difference of the charge (negative for a credit).
    pub amount: Money,
    /// Why, in Russian (shown on the bill).
    pub reason: String,
    /// What caused it.
    pub kind: RecalculationKind,
    /// The day it was recorded.
    pub recorded_on: Date,
    /// The reading put in force; its `supersedes` names the reading it replaces.
    pub reading: NewReading,
}

/// A recorded correction of a closed period, pending until a charge set bills it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingRecalculation {
    /// The id storage assigned.
    pub id: RecalculationId,
    /// The account.
    pub account: AccountId,
    /// The service recalculated.
    pub service: ServiceKind,
    /// The billed period whose charge is corrected.
    pub of_period: Period,
    /// The first period whose billing run may bill it.
    pub billed_from: Period,
    /// The difference of the charge (negative for a credit).
    pub amount: Money,
    /// Why, in Russian (shown on the bill).
    pub reason: String,
    /// What caused it.
    pub kind: RecalculationKind,
    /// The day it was recorded.
    pub recorded_on: Date,
    /// The reading it put in force.
    pub reading: ReadingId,
}

impl PendingRecalculation {
    /// The billing engine's input for this correction.
    #[must_use]
    pub fn to_input(&self) -> Recalculation {
        Recalculation {
            service: self.service,
            of_period: self.of_period,
            amount: self.amount,
            reason: self.reason.clone(),
        }
    }
}

/// Corrections of closed periods waiting to be billed (ПП 354 п. 61; billing-rules.md §2, §4).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait::async_trait]
pub trait RecalculationRepository: Send + Sync {
    /// Stores the correction as pending and, in the same transaction, its reading exactly as
    /// [`ReadingRepository::save`] would: the reading named by `reading.supersedes` is marked
    /// superseded. MUST return [`RepoError::Conflict`] (storing nothing) if that reading is no
    /// longer accepted — a concurrent correction won — and [`RepoError::NotFound`] if it does
    /// not exist. Returns the pending correction and the stored reading.
    async fn record(
        &self,
        recalculation: &NewRecalculation,
    ) -> Result<(PendingRecalculation, Reading), RepoError>;
    /// The account's corrections not yet applied whose `billed_from` is `period` or earlier,
    /// ordered by id.
    async fn pending(
        &self,
        account: AccountId,
        period: Period,
    ) -> Result<Vec<PendingRecalculation>, RepoError>;
}

/// Closed periods. A closed period is never rewritten: corrections become recalculation lines
/// of a later period.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait::async_trait]
pub trait PeriodRepository: Send + Sync {
    /// The latest closed period of the supplier, if any was closed.
    async fn last_closed(&self, supplier: SupplierId) -> Result<Option<Period>, RepoError>;
    /// Closes `period` for the supplier. MUST return [`RepoError::Duplicate`] if it is already
    /// closed and [`RepoError::Conflict`] if the latest closed period is no longer
    /// `period.prev()` (or none) — periods close in order, once.
    async fn close(&self, supplier: SupplierId, period: Period) -> Result<(), RepoError>;
}

/// The identifier the payment gateway gave a payment: the key of idempotence for its webhooks.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct GatewayPaymentId(String);

/// Why a text is not a gateway payment id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum GatewayPaymentIdError {
    /// Empty or only spaces.
    #[error("gateway payment id is empty")]
    Empty,
    /// Longer than [`GatewayPaymentId::MAX_LEN`] bytes.
    #[error("gateway payment id is too long")]
    TooLong,
    /// Contains a control character or a space.
    #[error("gateway payment id contains a space or a control character")]
    BadCharacter,
}

impl GatewayPaymentId {
    /// The longest id accepted, in bytes.
    pub const MAX_LEN: usize = 128;

    /// Parses a gateway's payment id: 1 to [`GatewayPaymentId::MAX_LEN`] bytes, no spaces or
    /// control characters.
    ///
    /// ```
    /// use billing_core::ports::GatewayPaymentId;
    /// assert_eq!(GatewayPaymentId::parse("2f1c-77").unwrap().as_str(), "2f1c-77");
    /// assert!(GatewayPaymentId::parse(" ").is_err());
    /// ```
    pub fn parse(raw: &str) -> Result<GatewayPaymentId, GatewayPaymentIdError> {
        if raw.trim().is_empty() {
            return Err(GatewayPaymentIdError::Empty);
        }
        if raw.len() > Self::MAX_LEN {
            return Err(GatewayPaymentIdError::TooLong);
        }
        if raw.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(GatewayPaymentIdError::BadCharacter);
        }
        Ok(GatewayPaymentId(raw.to_owned()))
    }

    /// The id as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for GatewayPaymentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for GatewayPaymentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GatewayPaymentId({})", self.0)
    }
}

/// A fact applied to an account's [`Ledger`](crate::ledger::Ledger); the journal is the list of them in application
/// order, and replaying it rebuilds the ledger.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "fact")]
pub enum LedgerFact {
    /// A charge ([`crate::ledger::Ledger::post_charge`]).
    Charge {
        /// Period billed.
        period: Period,
        /// Service.
        service: ServiceKind,
        /// Amount (≥ 0).
        amount: Money,
        /// Due date of the tranche.
        due_date: Date,
    },
    /// A recalculation ([`crate::ledger::Ledger::post_adjustment`]).
    Adjustment {
        /// Period it is billed in.
        period: Period,
        /// Service.
        service: ServiceKind,
        /// Amount (non-zero; negative reduces the debt).
        amount: Money,
        /// Why.
        reason: AdjustmentReason,
        /// Due date of the tranche.
        due_date: Date,
    },
    /// Penalties billed ([`crate::ledger::Ledger::post_penalty`]).
    Penalty {
        /// Period they are billed in.
        period: Period,
        /// Amount (≥ 0).
        amount: Money,
        /// Due date.
        due_date: Date,
    },
    /// A payment was created ([`crate::ledger::Ledger::create_payment`]); it does not move the balance.
    PaymentCreated {
        /// The payment.
        payment: PaymentId,
        /// Its amount.
        amount: Money,
        /// The payer's split.
        split: PaymentSplit,
    },
    /// A payment changed state: `Pending`, `Succeeded` (moves the balance) or `Failed`.
    PaymentState {
        /// The payment.
        payment: PaymentId,
        /// The new state.
        state: PaymentState,
    },
    /// A refund of (part of) a succeeded payment ([`crate::ledger::Ledger::refund_payment`]).
    Refund {
        /// The payment.
        payment: PaymentId,
        /// The amount refunded.
        amount: Money,
    },
}

/// One dated fact of the journal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerRecord {
    /// The posting date.
    pub date: Date,
    /// The fact.
    pub fact: LedgerFact,
}

/// A payment to record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewPayment {
    /// The gateway's id of the payment.
    pub gateway_id: GatewayPaymentId,
    /// The account paid.
    pub account: AccountId,
    /// The amount.
    pub amount: Money,
    /// The payer's split.
    pub split: PaymentSplit,
    /// The day it was created.
    pub created_on: Date,
}

/// A stored payment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaymentRecord {
    /// The id storage assigned.
    pub id: PaymentId,
    /// The gateway's id.
    pub gateway_id: GatewayPaymentId,
    /// The account paid.
    pub account: AccountId,
    /// The amount.
    pub amount: Money,
    /// The payer's split.
    pub split: PaymentSplit,
    /// The day it was created.
    pub created_on: Date,
    /// Its current state.
    pub state: PaymentState,
    /// How much of it has been refunded so far.
    pub refunded: Money,
    /// Why it failed, as the gateway said (only in the `Failed` state).
    pub failure_reason: Option<String>,
}

impl PaymentRecord {
    /// What can still be refunded: the amount of a succeeded payment less its refunds.
    #[must_use]
    pub fn refundable(&self) -> Money {
        match self.state {
            PaymentState::Succeeded => self.amount - self.refunded,
            _ => Money::ZERO,
        }
    }
}

/// What became of a refund request (billing-rules.md §10: the cabinet records the request and
/// its outcome).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum RefundStatus {
    /// Received, not decided yet.
    Requested,
    /// The money was refunded on the day.
    Refunded {
        /// The day of the refund.
        on: Date,
    },
    /// Refused on the day, for the reason.
    Rejected {
        /// The day of the decision.
        on: Date,
        /// Why, in Russian (told to the payer).
        reason: String,
    },
}

/// A written refund request to record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewRefundRequest {
    /// The payment to refund.
    pub payment: PaymentId,
    /// Its gateway id.
    pub gateway_id: GatewayPaymentId,
    /// The account paid.
    pub account: AccountId,
    /// The amount asked for.
    pub amount: Money,
    /// The registration number of the written request.
    pub number: String,
    /// The day the written request was received.
    pub received_on: Date,
    /// The last day to refund: `received_on` plus the refund term.
    pub due_by: Date,
}

/// A recorded refund request and its outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefundRequest {
    /// The id storage assigned.
    pub id: RefundRequestId,
    /// The payment to refund.
    pub payment: PaymentId,
    /// Its gateway id.
    pub gateway_id: GatewayPaymentId,
    /// The account paid.
    pub account: AccountId,
    /// The amount asked for.
    pub amount: Money,
    /// The registration number of the written request.
    pub number: String,
    /// The day the written request was received.
    pub received_on: Date,
    /// The last day to refund.
    pub due_by: Date,
    /// Its outcome so far.
    pub status: RefundStatus,
}

/// The account ledger's journal and its payments.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait::async_trait]
pub trait LedgerRepository: Send + Sync {
    /// The account's journal in the order the records were appended (which is date order).
    async fn journal(&self, account: AccountId) -> Result<Vec<LedgerRecord>, RepoError>;
    /// Stores a payment in the `Created` state with a new [`PaymentId`] and, in the same
    /// transaction, appends [`LedgerFact::PaymentCreated`] dated `created_on` to the account's
    /// journal. MUST return [`RepoError::Duplicate`], writing nothing, if a payment with the same
    /// gateway id exists.
    async fn record_payment(&self, payment: &NewPayment) -> Result<PaymentRecord, RepoError>;
    /// The payment with this gateway id.
    async fn payment_by_gateway_id(
        &self,
        gateway_id: &GatewayPaymentId,
    ) -> Result<Option<PaymentRecord>, RepoError>;
    /// Every payment of the account, ordered by id.
    async fn payments(&self, account: AccountId) -> Result<Vec<PaymentRecord>, RepoError>;
    /// Compare-and-set of a payment's state: if its state is `from`, sets it to `to` and, in the
    /// same transaction, appends [`LedgerFact::PaymentState`] with `to`, dated `on`.
    ///
    /// MUST return [`RepoError::Conflict`], writing nothing, if the state is not `from` — this
    /// is what makes the same webhook, delivered twice in parallel, credit the account once —
    /// and [`RepoError::NotFound`] if there is no such payment.
    async fn transition_payment(
        &self,
        gateway_id: &GatewayPaymentId,
        from: PaymentState,
        to: PaymentState,
        on: Date,
    ) -> Result<(), RepoError>;
    /// [`LedgerRepository::transition_payment`] from `from` to `Failed` that also stores the
    /// gateway's `reason` with the payment. Same contract: [`RepoError::Conflict`], writing
    /// nothing, if the state is not `from`; [`RepoError::NotFound`] if there is no such payment.
    async fn fail_payment(
        &self,
        gateway_id: &GatewayPaymentId,
        from: PaymentState,
        reason: &str,
        on: Date,
    ) -> Result<(), RepoError>;
    /// Stores a refund request as [`RefundStatus::Requested`]. MUST return
    /// [`RepoError::Duplicate`], writing nothing, if a request with the same `number` exists for
    /// the same payment.
    async fn record_refund_request(
        &self,
        request: &NewRefundRequest,
    ) -> Result<RefundRequest, RepoError>;
    /// The refund request with this id.
    async fn refund_request(&self, id: RefundRequestId)
    -> Result<Option<RefundRequest>, RepoError>;
    /// The refund request with this registration number for the payment.
    async fn refund_request_by_number(
        &self,
        payment: PaymentId,
        number: &str,
    ) -> Result<Option<RefundRequest>, RepoError>;
    /// Carries out a refund request, in one transaction: the request goes from `Requested` to
    /// [`RefundStatus::Refunded`] on `on`; the request's payment's refunded amount goes from
    /// `refunded_before` to `refunded_before + amount` (and its state to `Refunded` when that is
    /// the whole payment); [`LedgerFact::Refund`] dated `on` is appended to the account's journal.
    ///
    /// MUST return [`RepoError::Conflict`], writing nothing, if the request is no longer
    /// `Requested` or the payment's refunded amount is no longer `refunded_before` (another
    /// refund won a race), and [`RepoError::NotFound`] if either does not exist.
    async fn complete_refund(
        &self,
        id: RefundRequestId,
        refunded_before: Money,
        on: Date,
    ) -> Result<(), RepoError>;
    /// Refuses a refund request: `Requested` → [`RefundStatus::Rejected`] on `on` with the
    /// reason. MUST return [`RepoError::Conflict`], writing nothing, if it is no longer
    /// `Requested`, and [`RepoError::NotFound`] if it does not exist.
    async fn reject_refund(
        &self,
        id: RefundRequestId,
        reason: &str,
        on: Date,
    ) -> Result<(), RepoError>;
}
