//! A house's billing run from a **snapshot**: everything the run needs, loaded by the caller
//! however it likes, billed by one pure function.
//!
//! [`crate::usecase::BillingService::run_billing_for_house`] loads a [`HouseSnapshot`] through
//! the ports, one account at a time; a bulk runner (storage-seaorm's supplier-wide run) loads
//! many houses with a few set-based queries. Both call [`bill_house_snapshot`], so both charge
//! exactly the same lines for the same stored facts.
//!
//! The snapshot holds **every** account of the house billed by the supplier — the ОДН split
//! depends on all of them — and marks the ones that already have a charge set for the period
//! ([`AccountSnapshot::billed`]); only the others get a [`ChargeSet`].

use time::Date;

use crate::charge::{
    AccountBill, AccountInput, BillingError, HouseInput, PenaltyInput, Recalculation, ServiceInput,
    TariffBook, bill_house,
};
use crate::ids::AccountId;
use crate::keyrate::{KeyRateHistory, PenaltyRules};
use crate::ledger::{EntryKind, Ledger, LedgerError};
use crate::meter::{Meter, ZoneValues};
use crate::model::{Account, House, Premise, Supplier};
use crate::money::Money;
use crate::odn::OdnDistribution;
use crate::penalty::{PenaltyError, PenaltyReport};
use crate::period::Period;
use crate::ports::{ChargeSet, HousePeriodFacts, LedgerRecord, PendingRecalculation};
use crate::reading::{Reading, ReadingSource, ReadingStatus};
use crate::service::ServiceKind;
use crate::tariff::TariffVersion;
use crate::usecase::rebuild_ledger;
use crate::volume::{MeterPart, PastVolume};

/// Everything stored about one account that its billing for a period reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountSnapshot {
    /// The account.
    pub account: Account,
    /// Its premise.
    pub premise: Premise,
    /// Every meter ever installed on the account (removed ones included).
    pub meters: Vec<Meter>,
    /// Readings of those meters, any status, any order. Readings of periods after the billed
    /// one may be left out.
    pub readings: Vec<Reading>,
    /// Billed (or imported) volumes per service; only those of periods before the billed one
    /// are used.
    pub volumes: Vec<(ServiceKind, PastVolume)>,
    /// The account's pending corrections of closed periods whose `billed_from` is the billed
    /// period or earlier.
    pub recalculations: Vec<PendingRecalculation>,
    /// The account's ledger journal, in order.
    pub journal: Vec<LedgerRecord>,
    /// True if the account already has a charge set for the period: it takes part in the
    /// house's ОДН split but gets no new set.
    pub billed: bool,
}

/// Everything stored about one house that its billing for a period reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HouseSnapshot {
    /// The house.
    pub house: House,
    /// The house's facts of the period.
    pub facts: HousePeriodFacts,
    /// Every account of the house billed by the house's supplier, ordered by id.
    pub accounts: Vec<AccountSnapshot>,
}

/// What is the same for every house of one supplier's run.
#[derive(Clone, Copy, Debug)]
pub struct RunSetup<'a> {
    /// The supplier.
    pub supplier: &'a Supplier,
    /// Every tariff version of the supplier.
    pub tariffs: &'a [TariffVersion],
    /// The key-rate history.
    pub key_rates: &'a KeyRateHistory,
    /// The moratorium and fixed-rate windows.
    pub rules: &'a PenaltyRules,
    /// The period billed.
    pub period: Period,
    /// The posting day.
    pub today: Date,
}

/// The result of a house's run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HouseCharges {
    /// One set per account not yet billed, in account order.
    pub sets: Vec<ChargeSet>,
    /// The house's ОДН, when the supplier bills it.
    pub odn: Option<OdnDistribution>,
}

/// Why a house could not be billed from its snapshot.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HouseRunError {
    /// The billing engine refused the inputs.
    #[error(transparent)]
    Billing(#[from] BillingError),
    /// The penalties of an account could not be computed.
    #[error("penalties of account {account:?}: {source}")]
    Penalty {
        /// The account.
        account: AccountId,
        /// Why.
        source: PenaltyError,
    },
    /// The charges of an account do not fit its stored ledger.
    #[error("ledger of account {account:?} refused the charges: {source}")]
    Ledger {
        /// The account.
        account: AccountId,
        /// Why.
        source: LedgerError,
    },
    /// The snapshot contradicts itself (a journal that does not replay, a recalculation of
    /// another account, a premise of another house); the text says what.
    #[error("inconsistent stored data: {0}")]
    Inconsistent(String),
}

/// Bills a house from its snapshot: the sets of its accounts not yet billed, in account order,
/// each checked against the account's stored journal. Pure and deterministic.
pub fn bill_house_snapshot(
    setup: &RunSetup<'_>,
    snapshot: &HouseSnapshot,
) -> Result<HouseCharges, HouseRunError> {
    let period = setup.period;
    let data = snapshot
        .accounts
        .iter()
        .map(|a| AccountData::from_snapshot(a, period, setup))
        .collect::<Result<Vec<_>, _>>()?;
    let bill = {
        let parts: Vec<_> = data.iter().map(AccountData::parts).collect();
        let services: Vec<_> = data
            .iter()
            .zip(&parts)
            .map(|(d, p)| service_inputs(d, p))
            .collect();
        let inputs: Vec<_> = data
            .iter()
            .zip(&services)
            .map(|(d, s)| account_input(d, s))
            .collect();
        let facts = snapshot.facts;
        let input = HouseInput {
            house: &snapshot.house,
            accounts: &inputs,
            house_meter_volume: facts.house_meter_volume,
            other_non_residential_volume: facts.other_non_residential_volume,
            heat_production_volume: facts.heat_production_volume,
            carried_in: facts.carried_in,
            heat_meter_volume: facts.heat_meter_volume,
        };
        bill_house(
            &input,
            period,
            TariffBook {
                versions: setup.tariffs,
            },
            &setup.supplier.policy,
        )?
    };
    let mut sets = Vec::new();
    for ((d, account_bill), a) in data.iter().zip(bill.accounts).zip(&snapshot.accounts) {
        if a.billed {
            continue;
        }
        let set = d.charge_set(setup.supplier, period, setup.today, account_bill);
        d.check_postings(&set)
            .map_err(|source| HouseRunError::Ledger {
                account: d.account.id,
                source,
            })?;
        sets.push(set);
    }
    Ok(HouseCharges {
        sets,
        odn: bill.odn,
    })
}

/// The first day a period may be billed or closed: the day after its readings window closes.
#[must_use]
pub fn earliest_billing_day(supplier: &Supplier, period: Period) -> Date {
    let closes = period.day_clamped(supplier.policy.readings_window.closes_on_day);
    closes.next_day().unwrap_or(closes)
}

/// Register values of a meter and the day they were taken: one end of a period's consumption.
pub(crate) type Bound = Option<(ZoneValues, Date)>;

/// Everything one account needs to be billed, owned (the engine's inputs borrow from it).
pub(crate) struct AccountData {
    pub(crate) account: Account,
    pub(crate) premise: Premise,
    pub(crate) services: Vec<ServiceData>,
    pub(crate) journal: Vec<LedgerRecord>,
    pub(crate) penalty: (PenaltyReport, Money),
    /// Pending corrections of closed periods, billed by this run.
    pub(crate) recalculations: Vec<PendingRecalculation>,
    /// The same, as the engine's input.
    pub(crate) recalculation_inputs: Vec<Recalculation>,
}

pub(crate) struct ServiceData {
    pub(crate) service: ServiceKind,
    pub(crate) norm_per_unit: rust_decimal::Decimal,
    pub(crate) meter_installable: bool,
    pub(crate) meters: Vec<(Meter, Bound, Bound)>,
    pub(crate) history: Vec<PastVolume>,
}

impl AccountData {
    /// The account's data for `period` from its snapshot, penalties computed.
    pub(crate) fn from_snapshot(
        s: &AccountSnapshot,
        period: Period,
        setup: &RunSetup<'_>,
    ) -> Result<AccountData, HouseRunError> {
        if let Some(r) = s
            .recalculations
            .iter()
            .find(|r| r.account != s.account.id || r.billed_from > period)
        {
            return Err(HouseRunError::Inconsistent(format!(
                "recalculation {} is pending for another account or a later period",
                r.id
            )));
        }
        let ledger = rebuild_ledger(&s.account, &s.journal).map_err(|e| {
            HouseRunError::Inconsistent(format!("journal of account {}: {e}", s.account.id))
        })?;
        let report = ledger
            .penalties(
                period.last_day(),
                setup.key_rates,
                setup.rules,
                &setup.supplier.penalty,
            )
            .map_err(|source| HouseRunError::Penalty {
                account: s.account.id,
                source,
            })?;
        let mut services = services_of(&s.account, &s.meters, &s.readings, period);
        for sd in &mut services {
            sd.history = volumes_of(&s.volumes, sd.service, period);
        }
        Ok(AccountData {
            account: s.account.clone(),
            premise: s.premise.clone(),
            services,
            journal: s.journal.clone(),
            penalty: (report, penalties_charged(&ledger)),
            recalculations: s.recalculations.clone(),
            recalculation_inputs: s
                .recalculations
                .iter()
                .map(PendingRecalculation::to_input)
                .collect(),
        })
    }

    pub(crate) fn parts(&self) -> Vec<Vec<MeterPart<'_>>> {
        self.services
            .iter()
            .map(|s| {
                s.meters
                    .iter()
                    .map(|(meter, opening, closing)| MeterPart {
                        meter,
                        opening: *opening,
                        closing: *closing,
                    })
                    .collect()
            })
            .collect()
    }

    /// The charge set of `bill`, posted on `today`.
    pub(crate) fn charge_set(
        &self,
        supplier: &Supplier,
        period: Period,
        today: Date,
        bill: AccountBill,
    ) -> ChargeSet {
        ChargeSet {
            account: self.account.id,
            supplier: supplier.id,
            period,
            posted_on: today,
            due_date: supplier.policy.due_day.due_date(period),
            volumes: bill.volumes,
            lines: bill.lines,
            recalculations: self.recalculations.clone(),
        }
    }

    /// Checks that the set's postings fit the account's stored journal (the replay also learns
    /// services new to the ledger, such as ОДН).
    pub(crate) fn check_postings(&self, set: &ChargeSet) -> Result<(), LedgerError> {
        let mut journal = self.journal.clone();
        journal.extend(set.postings());
        rebuild_ledger(&self.account, &journal).map(drop)
    }
}

/// The services of `account` for `period`: its meters measuring each service during the
/// period, with their opening and closing readings from `readings`. Volume histories are left
/// empty for the caller to fill.
pub(crate) fn services_of(
    account: &Account,
    meters: &[Meter],
    readings: &[Reading],
    period: Period,
) -> Vec<ServiceData> {
    let mut sorted: Vec<&Meter> = meters.iter().collect();
    sorted.sort_by_key(|m| m.id);
    account
        .services
        .iter()
        .map(|s| {
            let meters = sorted
                .iter()
                .filter(|m| in_period(m, s.service, period))
                .map(|m| {
                    let history: Vec<Reading> = readings
                        .iter()
                        .filter(|r| r.meter == m.id)
                        .cloned()
                        .collect();
                    let (opening, closing) = opening_and_closing(&history, period);
                    ((*m).clone(), opening, closing)
                })
                .collect();
            ServiceData {
                service: s.service,
                norm_per_unit: s.norm_per_unit,
                meter_installable: s.meter_installable,
                meters,
                history: Vec::new(),
            }
        })
        .collect()
}

/// The volume history of `service` before `period`, oldest first, one per period.
fn volumes_of(
    volumes: &[(ServiceKind, PastVolume)],
    service: ServiceKind,
    period: Period,
) -> Vec<PastVolume> {
    let mut out: Vec<PastVolume> = volumes
        .iter()
        .filter(|(s, v)| *s == service && v.period < period)
        .map(|(_, v)| *v)
        .collect();
    out.sort_by_key(|v| v.period);
    out.dedup_by_key(|v| v.period);
    out
}

pub(crate) fn service_inputs<'a>(
    data: &'a AccountData,
    parts: &'a [Vec<MeterPart<'a>>],
) -> Vec<ServiceInput<'a>> {
    data.services
        .iter()
        .zip(parts)
        .map(|(s, p)| ServiceInput {
            service: s.service,
            meters: p,
            history: &s.history,
            norm_per_unit: s.norm_per_unit,
            meter_installable: s.meter_installable,
        })
        .collect()
}

pub(crate) fn account_input<'a>(
    data: &'a AccountData,
    services: &'a [ServiceInput<'a>],
) -> AccountInput<'a> {
    AccountInput {
        account: &data.account,
        premise: &data.premise,
        services,
        penalty: Some(PenaltyInput {
            report: &data.penalty.0,
            already_charged: data.penalty.1,
        }),
        recalculations: &data.recalculation_inputs,
    }
}

/// The opening and closing values of a meter for `period` from its readings: the closing one is
/// the period's accepted reading, the opening one the latest accepted reading of an earlier
/// period (or the initial reading of a meter installed in the period).
pub(crate) fn opening_and_closing(history: &[Reading], period: Period) -> (Bound, Bound) {
    let (opening, closing) = period_readings(history, period);
    (
        opening.map(|r| (r.values, r.taken_on)),
        closing.map(|r| (r.values, r.taken_on)),
    )
}

/// The readings [`opening_and_closing`] takes its values from.
pub(crate) fn period_readings(
    history: &[Reading],
    period: Period,
) -> (Option<&Reading>, Option<&Reading>) {
    let accepted = || {
        history
            .iter()
            .filter(|r| r.status == ReadingStatus::Accepted)
    };
    let key = |r: &&Reading| (r.period, r.taken_on, r.id);
    let closing = accepted()
        .filter(|r| r.period == period && r.source != ReadingSource::ReplacementInitial)
        .max_by_key(key);
    let opening = accepted()
        .filter(|r| r.period < period)
        .max_by_key(key)
        .or_else(|| {
            accepted()
                .filter(|r| r.period == period && r.source == ReadingSource::ReplacementInitial)
                .max_by_key(key)
        });
    (opening, closing)
}

/// True if `meter` measures `service` at some time during `period`.
pub(crate) fn in_period(meter: &Meter, service: ServiceKind, period: Period) -> bool {
    meter.service == service
        && meter.installed_on <= period.last_day()
        && meter.removed_on.is_none_or(|r| r >= period.first_day())
}

/// The penalties already billed on the ledger (never compounded: they are not a debt tranche
/// of the penalty computation).
pub(crate) fn penalties_charged(ledger: &Ledger) -> Money {
    ledger
        .entries()
        .iter()
        .filter(|e| {
            matches!(
                e.kind,
                EntryKind::Penalty { .. }
                    | EntryKind::Adjustment {
                        service: ServiceKind::Penalty,
                        ..
                    }
            )
        })
        .map(|e| e.amount)
        .sum()
}
