//! The cabinet's billing reads (seeds 000–004): the meters of an ЛС and their readings history,
//! the charges of a period with why each line is what it is, the balance, the statement
//! («Детализация»), the payment document (ЕПД) with its QR payload, the tariffs in force, the
//! calculator, the payment history, and the supplier's requisites.
//!
//! Every account-scoped operation passes [`linked_account`] first (the one IDOR gate: an ЛС
//! not linked to the caller's cabinet is `not-linked`, 404), then calls one billing-core read
//! use case and turns its domain value into the DTOs below — domain types are never JSON bodies.
//!
//! Wire conventions: money is a decimal string with two decimals (`"1234.50"`, see [`money`]),
//! never a JSON number; volumes, prices and meter values are decimal strings; periods are
//! `YYYY-MM` (parsed by billing-core's [`Period`] parser; a bad one is `invalid-request`
//! naming the parameter); dates are ISO 8601.

use std::cmp::Ordering;

use billing_core::calculator::Estimate;
use billing_core::charge::{ChargeBasis, ChargeLine};
use billing_core::document::{LineKind, PaymentDocument};
use billing_core::ids::{AccountId, MeterId, SupplierId};
use billing_core::ledger::{
    AdjustmentReason, EntryKind, PaymentSplit, PaymentState, Statement, StatementLine, Tranche,
};
use billing_core::meter::{Meter, Zone, ZoneScheme, ZoneValues};
use billing_core::ports::{ChargeSet, PaymentRecord};
use billing_core::reading::{Reading, ReadingSource, ReadingStatus};
use billing_core::requisites::Requisites;
use billing_core::service::Unit;
use billing_core::tariff::{
    ConsumerGroup, ElectricityTiers, HeatingMode, TariffKind, TariffVersion, Tier, ZonePrices,
};
use billing_core::usecase::AccountBalance;
use billing_core::volume::{VolumeBasis, VolumeKind};
use billing_core::{Money, Period, ServiceKind};
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Enum, Object, OpenApi};
use time::{Date, OffsetDateTime};

use super::ApiTags;
use super::accounts::linked_account;
use crate::AppState;
use crate::auth::SubscriberAuth;
use crate::problem::{Problem, ProblemResponse, ProblemType};

/// The cabinet's billing reads.
pub struct CabinetApi;

// ---------------------------------------------------------------------------------------------
// Wire helpers
// ---------------------------------------------------------------------------------------------

/// Money on the wire: a decimal string with exactly two decimals (`"1234.50"`, `"-12.00"`).
pub fn money(m: Money) -> String {
    format!("{:.2}", m.amount())
}

/// A decimal (volume, price, meter value) on the wire: its decimal text.
fn dec(d: impl std::fmt::Display) -> String {
    d.to_string()
}

/// A period on the wire: `YYYY-MM`.
fn period_text(p: Period) -> String {
    p.to_string()
}

/// A period given as a path or query parameter; `invalid-request` naming `name` otherwise.
pub(crate) fn period_param(name: &str, text: &str) -> Result<Period, Problem> {
    text.trim().parse::<Period>().map_err(|_| {
        let mut p = Problem::with_detail(
            ProblemType::InvalidRequest,
            format!("Параметр «{name}»: укажите год и месяц в виде ГГГГ-ММ, например 2026-10."),
        );
        p.reason = Some(format!("invalid parameter `{name}`: expected YYYY-MM"));
        p
    })
}

fn values_text(v: &ZoneValues) -> Vec<String> {
    v.values().iter().map(dec).collect()
}

/// Today at the supplier, by the service's clock (the sandbox clock moves it).
fn today(state: &AppState) -> Date {
    state.billing.today()
}

/// The linked ЛС `account_id` of the caller, as billing's id.
async fn gate(
    state: &AppState,
    auth: &SubscriberAuth,
    account_id: u64,
) -> Result<AccountId, Problem> {
    let (_, account) = linked_account(state, auth, account_id).await?;
    Ok(account.id)
}

// ---------------------------------------------------------------------------------------------
// Shared enums
// ---------------------------------------------------------------------------------------------

/// A utility service.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum ServiceKindDto {
    /// Electricity.
    Electricity,
    /// Electricity for the common property of the house (ОДН).
    ElectricityCommon,
    /// Cold water.
    ColdWater,
    /// Hot water.
    HotWater,
    /// Heating.
    Heating,
    /// Wastewater.
    Wastewater,
    /// Penalties for late payment.
    Penalty,
}

impl From<ServiceKind> for ServiceKindDto {
    fn from(s: ServiceKind) -> Self {
        match s {
            ServiceKind::Electricity => Self::Electricity,
            ServiceKind::ElectricityCommon => Self::ElectricityCommon,
            ServiceKind::ColdWater => Self::ColdWater,
            ServiceKind::HotWater => Self::HotWater,
            ServiceKind::Heating => Self::Heating,
            ServiceKind::Wastewater => Self::Wastewater,
            ServiceKind::Penalty => Self::Penalty,
        }
    }
}

/// A register (tariff zone) of a meter.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum ZoneDto {
    /// Round the clock (a single-rate meter).
    Total,
    /// Day (T1 of a two-zone meter).
    Day,
    /// Night (T2).
    Night,
    /// Peak (T1 of a three-zone meter).
    Peak,
    /// Semi-peak (T3).
    SemiPeak,
}

impl From<Zone> for ZoneDto {
    fn from(z: Zone) -> Self {
        match z {
            Zone::Total => Self::Total,
            Zone::Day => Self::Day,
            Zone::Night => Self::Night,
            Zone::Peak => Self::Peak,
            Zone::SemiPeak => Self::SemiPeak,
        }
    }
}

/// A zone scheme of meters and of electricity price tables.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum ZoneSchemeDto {
    /// Single-rate.
    Single,
    /// Day and night.
    TwoZone,
    /// Peak, night and semi-peak.
    ThreeZone,
}

impl From<ZoneScheme> for ZoneSchemeDto {
    fn from(z: ZoneScheme) -> Self {
        match z {
            ZoneScheme::Single => Self::Single,
            ZoneScheme::TwoZone => Self::TwoZone,
            ZoneScheme::ThreeZone => Self::ThreeZone,
        }
    }
}

/// A unit of measure.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum UnitDto {
    /// kWh.
    KilowattHour,
    /// m³.
    CubicMetre,
    /// Gcal.
    Gigacalorie,
    /// m².
    SquareMetre,
    /// Roubles (penalties, recalculations).
    Rouble,
}

impl From<Unit> for UnitDto {
    fn from(u: Unit) -> Self {
        match u {
            Unit::KilowattHour => Self::KilowattHour,
            Unit::CubicMetre => Self::CubicMetre,
            Unit::Gigacalorie => Self::Gigacalorie,
            Unit::SquareMetre => Self::SquareMetre,
            Unit::Rouble => Self::Rouble,
        }
    }
}

/// The tier of a priced line: `base`, `within_norm`, `above_norm`, `range_1` … `range_3`,
/// `water_component`, `heat_component`.
fn tier_code(t: Tier) -> String {
    match t {
        Tier::Base => "base".into(),
        Tier::WithinNorm => "within_norm".into(),
        Tier::AboveNorm => "above_norm".into(),
        Tier::Range(n) => format!("range_{n}"),
        Tier::WaterComponent => "water_component".into(),
        Tier::HeatComponent => "heat_component".into(),
    }
}

/// An amount per service.
#[derive(Object, Debug, serde::Serialize, serde::Deserialize)]
pub struct ServiceAmountDto {
    /// The service.
    pub service: ServiceKindDto,
    /// The amount (decimal string, two decimals).
    pub amount: String,
}

// ---------------------------------------------------------------------------------------------
// Meters and readings
// ---------------------------------------------------------------------------------------------

/// A register of a meter.
#[derive(Object, Debug)]
pub struct MeterZoneDto {
    /// The zone.
    pub zone: ZoneDto,
    /// Its name as the payment document prints it («день (T1)»).
    pub name: String,
}

/// Who supplied a reading.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum ReadingSourceDto {
    /// The subscriber, in the cabinet.
    Subscriber,
    /// An operator of the supplier.
    Operator,
    /// An automatic metering system.
    Automatic,
    /// A control check by the supplier.
    ControlCheck,
    /// The final reading of a meter removed on replacement.
    ReplacementFinal,
    /// The initial reading of a meter installed on replacement.
    ReplacementInitial,
}

impl From<ReadingSource> for ReadingSourceDto {
    fn from(s: ReadingSource) -> Self {
        match s {
            ReadingSource::Subscriber => Self::Subscriber,
            ReadingSource::Operator => Self::Operator,
            ReadingSource::Automatic => Self::Automatic,
            ReadingSource::ControlCheck => Self::ControlCheck,
            ReadingSource::ReplacementFinal => Self::ReplacementFinal,
            ReadingSource::ReplacementInitial => Self::ReplacementInitial,
        }
    }
}

/// The state of a stored reading.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum ReadingStatusDto {
    /// In force: used for billing.
    Accepted,
    /// Replaced by a correction.
    Superseded,
    /// Withdrawn by the subscriber while the period was open.
    Cancelled,
}

impl From<ReadingStatus> for ReadingStatusDto {
    fn from(s: ReadingStatus) -> Self {
        match s {
            ReadingStatus::Accepted => Self::Accepted,
            ReadingStatus::Superseded => Self::Superseded,
            ReadingStatus::Cancelled => Self::Cancelled,
        }
    }
}

/// A stored meter reading.
#[derive(Object, Debug)]
pub struct MeterReadingDto {
    /// Its id.
    pub reading_id: u64,
    /// The billing period it belongs to (`YYYY-MM`).
    pub period: String,
    /// One value per register, in the meter's register order (decimal strings).
    pub values: Vec<String>,
    /// The day the values were taken.
    pub taken_on: Date,
    /// When it reached the supplier.
    pub submitted_at: OffsetDateTime,
    /// Who supplied it.
    pub source: ReadingSourceDto,
    /// Whether it is in force.
    pub status: ReadingStatusDto,
    /// The reading this one corrects, if it is a correction.
    #[oai(nullable)]
    pub supersedes: Option<u64>,
}

impl From<&Reading> for MeterReadingDto {
    fn from(r: &Reading) -> Self {
        Self {
            reading_id: r.id.get(),
            period: period_text(r.period),
            values: values_text(&r.values),
            taken_on: r.taken_on,
            submitted_at: r.submitted_at,
            source: r.source.into(),
            status: r.status.into(),
            supersedes: r.supersedes.map(|s| s.get()),
        }
    }
}

/// A meter of the ЛС with its reading in force.
#[derive(Object, Debug)]
pub struct MeterDto {
    /// Its id (`meter_id` of the readings and the calculator).
    pub meter_id: u64,
    /// The service it measures.
    pub service: ServiceKindDto,
    /// The serial number.
    pub serial: String,
    /// The zone scheme.
    pub scheme: ZoneSchemeDto,
    /// Its registers, in the order readings list their values.
    pub zones: Vec<MeterZoneDto>,
    /// Digits before the decimal point on each register (a value rolls over at 10^digits).
    pub digits: u32,
    /// Digits after the decimal point.
    pub decimals: u32,
    /// The transformation coefficient K (`"1"` for a direct meter), a decimal string.
    pub coefficient: String,
    /// Whether it reports by itself (manual readings may be refused).
    pub automatic: bool,
    /// The day it was installed.
    pub installed_on: Date,
    /// The last day of its verification interval.
    #[oai(nullable)]
    pub verification_due: Option<Date>,
    /// The day it was removed (a removed meter stays in the list).
    #[oai(nullable)]
    pub removed_on: Option<Date>,
    /// Its latest accepted reading.
    #[oai(nullable)]
    pub last_reading: Option<MeterReadingDto>,
}

fn meter_dto(m: &Meter, last: Option<&Reading>) -> MeterDto {
    let scheme = m.registers.scheme;
    MeterDto {
        meter_id: m.id.get(),
        service: m.service.into(),
        serial: m.serial.clone(),
        scheme: scheme.into(),
        zones: scheme
            .zones()
            .iter()
            .map(|z| MeterZoneDto {
                zone: (*z).into(),
                name: z.russian_name().to_owned(),
            })
            .collect(),
        digits: m.registers.digits,
        decimals: m.registers.decimals,
        coefficient: dec(m.registers.coefficient),
        automatic: m.automatic,
        installed_on: m.installed_on,
        verification_due: m.verification_due,
        removed_on: m.removed_on,
        last_reading: last.map(MeterReadingDto::from),
    }
}

/// How to order a readings history: a field, ascending, or descending with a leading `-`.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ReadingSort {
    /// By period, oldest first (the default).
    #[default]
    #[oai(rename = "period")]
    Period,
    /// By period, newest first.
    #[oai(rename = "-period")]
    PeriodDesc,
    /// By the day taken, earliest first.
    #[oai(rename = "taken_on")]
    TakenOn,
    /// By the day taken, latest first.
    #[oai(rename = "-taken_on")]
    TakenOnDesc,
    /// By the time submitted, earliest first.
    #[oai(rename = "submitted_at")]
    SubmittedAt,
    /// By the time submitted, latest first.
    #[oai(rename = "-submitted_at")]
    SubmittedAtDesc,
    /// By status: accepted, superseded, cancelled.
    #[oai(rename = "status")]
    Status,
    /// By status, reversed.
    #[oai(rename = "-status")]
    StatusDesc,
}

fn status_rank(s: ReadingStatus) -> u8 {
    match s {
        ReadingStatus::Accepted => 0,
        ReadingStatus::Superseded => 1,
        ReadingStatus::Cancelled => 2,
    }
}

/// Sorts `readings` by `sort`; ties keep the core's order (period, day taken, id), and a
/// descending sort reverses the whole order.
fn sort_readings(readings: &mut [Reading], sort: ReadingSort) {
    let base =
        |a: &Reading, b: &Reading| (a.period, a.taken_on, a.id).cmp(&(b.period, b.taken_on, b.id));
    let (primary, desc): (fn(&Reading, &Reading) -> Ordering, bool) = match sort {
        ReadingSort::Period => (|a, b| a.period.cmp(&b.period), false),
        ReadingSort::PeriodDesc => (|a, b| a.period.cmp(&b.period), true),
        ReadingSort::TakenOn => (|a, b| a.taken_on.cmp(&b.taken_on), false),
        ReadingSort::TakenOnDesc => (|a, b| a.taken_on.cmp(&b.taken_on), true),
        ReadingSort::SubmittedAt => (|a, b| a.submitted_at.cmp(&b.submitted_at), false),
        ReadingSort::SubmittedAtDesc => (|a, b| a.submitted_at.cmp(&b.submitted_at), true),
        ReadingSort::Status => (
            |a, b| status_rank(a.status).cmp(&status_rank(b.status)),
            false,
        ),
        ReadingSort::StatusDesc => (
            |a, b| status_rank(a.status).cmp(&status_rank(b.status)),
            true,
        ),
    };
    readings.sort_by(|a, b| {
        let o = primary(a, b).then_with(|| base(a, b));
        if desc { o.reverse() } else { o }
    });
}

// ---------------------------------------------------------------------------------------------
// Charges
// ---------------------------------------------------------------------------------------------

/// What a charge line is based on.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum ChargeBasisDto {
    /// The premise's volume by meter readings.
    Readings,
    /// A real reading after estimated periods: measured minus what was estimated.
    TrueUp,
    /// The average of past readings-based volumes.
    Average,
    /// The norm of consumption.
    Norm,
    /// Heating by area (norm or the house meter's share).
    HeatingByArea,
    /// The premise's share of the house's common-property volume (ОДН).
    Odn,
    /// Penalties for late payment.
    Penalty,
    /// A correction of a closed period.
    Recalculation,
}

fn basis_dto(b: &ChargeBasis) -> ChargeBasisDto {
    match b {
        ChargeBasis::Volume(v) => match v {
            VolumeBasis::Readings { .. } => ChargeBasisDto::Readings,
            VolumeBasis::TrueUp { .. } => ChargeBasisDto::TrueUp,
            VolumeBasis::Average { .. } => ChargeBasisDto::Average,
            VolumeBasis::Norm { .. } => ChargeBasisDto::Norm,
        },
        ChargeBasis::HeatingByArea { .. } => ChargeBasisDto::HeatingByArea,
        ChargeBasis::Odn { .. } => ChargeBasisDto::Odn,
        ChargeBasis::Penalty { .. } => ChargeBasisDto::Penalty,
        ChargeBasis::Recalculation { .. } => ChargeBasisDto::Recalculation,
    }
}

/// One line of the bill and why it is what it is.
#[derive(Object, Debug)]
pub struct ChargeLineDto {
    /// The service.
    pub service: ServiceKindDto,
    /// The service's Russian name.
    pub service_name: String,
    /// The zone (`total` for single-rate, norm, ОДН and money-only lines).
    pub zone: ZoneDto,
    /// The tier: `base`, `within_norm`, `above_norm`, `range_1`…`range_3`, `water_component`,
    /// `heat_component`.
    pub tier: String,
    /// The quantity in `unit` (decimal string).
    pub quantity: String,
    /// The unit.
    pub unit: UnitDto,
    /// The price per unit (decimal string).
    pub unit_price: String,
    /// quantity × price, rounded once to kopecks.
    pub amount: String,
    /// The first day covered, when a tariff change split the period.
    #[oai(nullable)]
    pub days_from: Option<Date>,
    /// The last day covered, when a tariff change split the period.
    #[oai(nullable)]
    pub days_to: Option<Date>,
    /// What the line is based on.
    pub basis: ChargeBasisDto,
    /// For a recalculation: the period corrected (`YYYY-MM`).
    #[oai(nullable)]
    pub recalculated_period: Option<String>,
    /// Why the line is what it is, in Russian (what, how much, at what price, and why).
    pub explanation: String,
}

impl From<&ChargeLine> for ChargeLineDto {
    fn from(l: &ChargeLine) -> Self {
        Self {
            service: l.service.into(),
            service_name: l.service.russian_name().to_owned(),
            zone: l.zone.into(),
            tier: tier_code(l.tier),
            quantity: dec(l.quantity),
            unit: l.unit.into(),
            unit_price: dec(l.unit_price),
            amount: money(l.amount),
            days_from: l.days.map(|d| d.0),
            days_to: l.days.map(|d| d.1),
            basis: basis_dto(&l.basis),
            recalculated_period: match &l.basis {
                ChargeBasis::Recalculation { of_period, .. } => Some(period_text(*of_period)),
                _ => None,
            },
            explanation: l.explain(),
        }
    }
}

/// How a period's volume was determined.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum VolumeKindDto {
    /// From the readings of working meters.
    Readings,
    /// From readings, corrected for the volumes estimated before.
    TrueUp,
    /// By the average of past volumes.
    Average,
    /// By the norm.
    Norm,
}

impl From<VolumeKind> for VolumeKindDto {
    fn from(k: VolumeKind) -> Self {
        match k {
            VolumeKind::Readings => Self::Readings,
            VolumeKind::TrueUp => Self::TrueUp,
            VolumeKind::Average => Self::Average,
            VolumeKind::Norm => Self::Norm,
        }
    }
}

/// The volume of one service in the period.
#[derive(Object, Debug)]
pub struct VolumeDto {
    /// The service.
    pub service: ServiceKindDto,
    /// How it was determined.
    pub kind: VolumeKindDto,
    /// The zone scheme of `values`.
    pub scheme: ZoneSchemeDto,
    /// The volume per register (decimal strings; may be negative after a true-up).
    pub values: Vec<String>,
}

/// The charges of a billed period.
#[derive(Object, Debug)]
pub struct ChargesDto {
    /// The period (`YYYY-MM`).
    pub period: String,
    /// The day the charges were posted.
    pub posted_on: Date,
    /// The last day to pay without penalties.
    pub due_date: Date,
    /// The sum of the lines.
    pub total: String,
    /// The lines, each with its basis and explanation.
    pub lines: Vec<ChargeLineDto>,
    /// The volume determined per service.
    pub volumes: Vec<VolumeDto>,
}

fn charges_dto(set: &ChargeSet) -> ChargesDto {
    ChargesDto {
        period: period_text(set.period),
        posted_on: set.posted_on,
        due_date: set.due_date,
        total: money(set.total()),
        lines: set.lines.iter().map(ChargeLineDto::from).collect(),
        volumes: set
            .volumes
            .iter()
            .map(|(s, v)| VolumeDto {
                service: (*s).into(),
                kind: v.kind.into(),
                scheme: v.values.scheme().into(),
                values: values_text(&v.values),
            })
            .collect(),
    }
}

// ---------------------------------------------------------------------------------------------
// Balance and statement
// ---------------------------------------------------------------------------------------------

/// A (period, service) debt with something still owed.
#[derive(Object, Debug)]
pub struct TrancheDto {
    /// The billing period (`YYYY-MM`).
    pub period: String,
    /// The service.
    pub service: ServiceKindDto,
    /// The last day to pay without delay.
    pub due_date: Date,
    /// Everything charged to it.
    pub charged: String,
    /// Everything applied to it.
    pub credited: String,
    /// What is still owed.
    pub outstanding: String,
    /// Whether the due date has passed (penalties may accrue on it).
    pub overdue: bool,
}

fn tranche_dto(t: &Tranche, today: Date) -> TrancheDto {
    TrancheDto {
        period: period_text(t.period),
        service: t.service.into(),
        due_date: t.due_date,
        charged: money(t.charged),
        credited: money(t.credited),
        outstanding: money(t.outstanding()),
        overdue: t.due_date < today,
    }
}

/// The balance of the ЛС today.
#[derive(Object, Debug)]
pub struct BalanceDto {
    /// The day (at the supplier).
    pub as_of: Date,
    /// Positive is a debt, negative an advance.
    pub balance: String,
    /// What is owed in total (zero with an advance).
    pub debt: String,
    /// What is owed per service (penalties are the `penalty` service).
    pub debt_by_service: Vec<ServiceAmountDto>,
    /// The advance not yet consumed.
    pub advance: String,
    /// What is owed past its due date.
    pub overdue: String,
    /// Penalties owed (the `penalty` service's debt).
    pub penalties: String,
    /// The debts with something owed, oldest first.
    pub open_tranches: Vec<TrancheDto>,
}

fn balance_dto(b: &AccountBalance) -> BalanceDto {
    let overdue: Money = b
        .open_tranches
        .iter()
        .filter(|t| t.due_date < b.as_of)
        .map(Tranche::outstanding)
        .sum();
    BalanceDto {
        as_of: b.as_of,
        balance: money(b.balance),
        debt: money(b.balance.positive_part()),
        debt_by_service: b
            .debt_by_service
            .iter()
            .map(|(s, m)| ServiceAmountDto {
                service: (*s).into(),
                amount: money(*m),
            })
            .collect(),
        advance: money(b.advance),
        overdue: money(overdue),
        penalties: money(
            b.debt_by_service
                .get(&ServiceKind::Penalty)
                .copied()
                .unwrap_or(Money::ZERO),
        ),
        open_tranches: b
            .open_tranches
            .iter()
            .map(|t| tranche_dto(t, b.as_of))
            .collect(),
    }
}

/// What a statement line is.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum EntryKindDto {
    /// A charge for a service and period.
    Charge,
    /// A recalculation, up or down.
    Adjustment,
    /// Penalties billed in a period.
    Penalty,
    /// A payment received.
    Payment,
    /// A refund of a payment.
    Refund,
}

/// One movement of the ЛС.
#[derive(Object, Debug)]
pub struct StatementLineDto {
    /// The entry's id (sequential within the ЛС).
    pub entry_id: u64,
    /// The posting date.
    pub date: Date,
    /// What it is.
    pub kind: EntryKindDto,
    /// The billing period of a charge, adjustment or penalty (`YYYY-MM`).
    #[oai(nullable)]
    pub period: Option<String>,
    /// The service of a charge or adjustment.
    #[oai(nullable)]
    pub service: Option<ServiceKindDto>,
    /// The payment of a payment or refund.
    #[oai(nullable)]
    pub payment_id: Option<u64>,
    /// Why an adjustment was made: `true_up`, `control_check`, `correction`,
    /// `quality_reduction`, or the operator's words.
    #[oai(nullable)]
    pub reason: Option<String>,
    /// Its effect on the balance: positive increases the debt.
    pub amount: String,
    /// The balance after it.
    pub balance: String,
}

fn adjustment_reason(r: &AdjustmentReason) -> String {
    match r {
        AdjustmentReason::TrueUp => "true_up".into(),
        AdjustmentReason::ControlCheck => "control_check".into(),
        AdjustmentReason::Correction => "correction".into(),
        AdjustmentReason::QualityReduction => "quality_reduction".into(),
        AdjustmentReason::Other(text) => text.clone(),
    }
}

fn statement_line(l: &StatementLine) -> StatementLineDto {
    let e = &l.entry;
    let mut dto = StatementLineDto {
        entry_id: e.id.get(),
        date: e.date,
        kind: EntryKindDto::Charge,
        period: None,
        service: None,
        payment_id: None,
        reason: None,
        amount: money(e.amount),
        balance: money(l.balance),
    };
    match &e.kind {
        EntryKind::Charge { period, service } => {
            dto.period = Some(period_text(*period));
            dto.service = Some((*service).into());
        }
        EntryKind::Adjustment {
            period,
            service,
            reason,
        } => {
            dto.kind = EntryKindDto::Adjustment;
            dto.period = Some(period_text(*period));
            dto.service = Some((*service).into());
            dto.reason = Some(adjustment_reason(reason));
        }
        EntryKind::Penalty { period } => {
            dto.kind = EntryKindDto::Penalty;
            dto.period = Some(period_text(*period));
            dto.service = Some(ServiceKindDto::Penalty);
        }
        EntryKind::Payment { payment } => {
            dto.kind = EntryKindDto::Payment;
            dto.payment_id = Some(payment.get());
        }
        EntryKind::Refund { payment } => {
            dto.kind = EntryKindDto::Refund;
            dto.payment_id = Some(payment.get());
        }
    }
    dto
}

/// The sums of a statement's lines per kind.
#[derive(Object, Debug)]
pub struct StatementTotalsDto {
    /// Charges.
    pub charges: String,
    /// Adjustments, signed.
    pub adjustments: String,
    /// Penalties.
    pub penalties: String,
    /// Payments received, as a positive amount.
    pub payments: String,
    /// Refunds, as a positive amount.
    pub refunds: String,
}

/// The movements of the ЛС over a range of periods («Детализация»).
#[derive(Object, Debug)]
pub struct StatementDto {
    /// The first day.
    pub from: Date,
    /// The last day.
    pub to: Date,
    /// The balance before `from` (positive is a debt).
    pub opening: String,
    /// The movements with running balances, in posting order.
    pub lines: Vec<StatementLineDto>,
    /// The sums per kind.
    pub totals: StatementTotalsDto,
    /// The balance after `to`: opening + charges + adjustments + penalties − payments +
    /// refunds.
    pub closing: String,
}

fn statement_dto(s: &Statement) -> StatementDto {
    StatementDto {
        from: s.from,
        to: s.to,
        opening: money(s.opening),
        lines: s.lines.iter().map(statement_line).collect(),
        totals: StatementTotalsDto {
            charges: money(s.totals.charges),
            adjustments: money(s.totals.adjustments),
            penalties: money(s.totals.penalties),
            payments: money(s.totals.payments),
            refunds: money(s.totals.refunds),
        },
        closing: money(s.closing),
    }
}

// ---------------------------------------------------------------------------------------------
// Supplier requisites
// ---------------------------------------------------------------------------------------------

/// A bank account of the supplier.
#[derive(Object, Debug)]
pub struct BankDetailsDto {
    /// The settlement account (расчётный счёт), 20 digits.
    pub personal_acc: String,
    /// The bank's name.
    pub bank_name: String,
    /// БИК, 9 digits.
    pub bic: String,
    /// The bank's correspondent account, 20 digits.
    pub corresp_acc: String,
}

/// An emergency phone.
#[derive(Object, Debug)]
pub struct EmergencyPhoneDto {
    /// What it is for («Аварийно-диспетчерская служба»).
    pub label: String,
    /// The number as printed.
    pub phone: String,
}

/// The supplier's requisites, as payment documents print them.
#[derive(Object, Debug)]
pub struct RequisitesDto {
    /// The organisation's name.
    pub name: String,
    /// ИНН.
    pub inn: String,
    /// КПП (absent for an individual entrepreneur).
    #[oai(nullable)]
    pub kpp: Option<String>,
    /// The bank details.
    pub bank: BankDetailsDto,
    /// The address.
    pub address: String,
    /// Contact phones.
    pub phones: Vec<String>,
    /// Emergency phones.
    pub emergency_phones: Vec<EmergencyPhoneDto>,
}

fn requisites_dto(r: &Requisites) -> RequisitesDto {
    RequisitesDto {
        name: r.name().as_str().to_owned(),
        inn: r.inn().as_str().to_owned(),
        kpp: r.kpp().map(|k| k.as_str().to_owned()),
        bank: BankDetailsDto {
            personal_acc: r.bank().personal_acc().as_str().to_owned(),
            bank_name: r.bank().bank_name().as_str().to_owned(),
            bic: r.bank().bic().as_str().to_owned(),
            corresp_acc: r.bank().corresp_acc().as_str().to_owned(),
        },
        address: r.address().as_str().to_owned(),
        phones: r.phones().iter().map(|p| p.as_str().to_owned()).collect(),
        emergency_phones: r
            .emergency_phones()
            .iter()
            .map(|e| EmergencyPhoneDto {
                label: e.label().to_owned(),
                phone: e.phone().as_str().to_owned(),
            })
            .collect(),
    }
}

/// A supplier: its requisites (public data).
#[derive(Object, Debug)]
pub struct SupplierDto {
    /// Its id.
    pub supplier_id: u64,
    /// The requisites and bank details.
    pub requisites: RequisitesDto,
    /// The least amount of one online payment (a smaller one is accepted when it settles the
    /// whole debt).
    pub minimum_payment: String,
}

// ---------------------------------------------------------------------------------------------
// Payment document
// ---------------------------------------------------------------------------------------------

/// Section 1: the payer and the supplier.
#[derive(Object, Debug)]
pub struct DocumentPayerDto {
    /// The holder's name.
    pub payer_name: String,
    /// The premise's address.
    pub address: String,
    /// The ЛС number.
    pub account_number: String,
    /// The period billed (`YYYY-MM`).
    pub period: String,
    /// The premise's total area, m² (decimal string).
    pub area: String,
    /// Persons registered.
    pub persons: u32,
    /// The supplier's requisites.
    pub supplier: RequisitesDto,
}

/// A register value and the day it was taken.
#[derive(Object, Debug)]
pub struct DatedValueDto {
    /// The value (decimal string).
    pub value: String,
    /// The day taken.
    pub taken_on: Date,
}

/// Section 2: one register of one meter.
#[derive(Object, Debug)]
pub struct DocumentMeterRowDto {
    /// The service.
    pub service: ServiceKindDto,
    /// The meter's serial number.
    pub serial: String,
    /// The register's zone.
    pub zone: ZoneDto,
    /// The previous value.
    #[oai(nullable)]
    pub previous: Option<DatedValueDto>,
    /// The current value.
    #[oai(nullable)]
    pub current: Option<DatedValueDto>,
    /// The transformation coefficient (decimal string).
    pub coefficient: String,
    /// The volume, when both values are known (decimal string).
    #[oai(nullable)]
    pub volume: Option<String>,
    /// Whether the register passed zero between the two values.
    pub rollover: bool,
    /// The unit of the volume.
    pub unit: UnitDto,
}

/// What a calculation line is.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum DocumentLineKindDto {
    /// The premise's own consumption or heating.
    Consumption,
    /// Electricity for the common property (ОДН).
    Odn,
    /// A correction of a closed period.
    Recalculation,
    /// Penalties for late payment.
    Penalty,
}

/// Section 3: one calculation line.
#[derive(Object, Debug)]
pub struct DocumentLineDto {
    /// What the line is.
    pub kind: DocumentLineKindDto,
    /// For a recalculation: the period corrected (`YYYY-MM`).
    #[oai(nullable)]
    pub recalculated_period: Option<String>,
    /// For a recalculation: why, as printed.
    #[oai(nullable)]
    pub recalculation_reason: Option<String>,
    /// The zone.
    pub zone: ZoneDto,
    /// The tier (as in the charge lines).
    pub tier: String,
    /// The volume (decimal string; 1 for money-only lines).
    pub quantity: String,
    /// The unit.
    pub unit: UnitDto,
    /// The price per unit (decimal string).
    pub unit_price: String,
    /// The amount.
    pub amount: String,
    /// The increasing coefficient applied, if any (decimal string).
    #[oai(nullable)]
    pub increasing_coefficient: Option<String>,
    /// The part of the amount due to the increasing coefficient.
    #[oai(nullable)]
    pub increasing_amount: Option<String>,
    /// Why the line is what it is (Russian).
    pub explanation: String,
}

/// Section 3: one service with its lines and totals.
#[derive(Object, Debug)]
pub struct DocumentServiceDto {
    /// The service.
    pub service: ServiceKindDto,
    /// Its Russian name.
    pub service_name: String,
    /// The lines.
    pub lines: Vec<DocumentLineDto>,
    /// The lines other than recalculations.
    pub charged: String,
    /// The recalculation lines.
    pub recalculations: String,
    /// The part due to increasing coefficients (included in `charged`).
    pub increasing: String,
    /// All the lines.
    pub total: String,
}

/// Section 4: reference information.
#[derive(Object, Debug)]
pub struct DocumentReferenceDto {
    /// The balance at the start of the period (positive is a debt).
    pub opening_balance: String,
    /// Payments received in the period, net of refunds.
    pub payments: String,
    /// The last day to pay without penalties.
    pub due_date: Date,
    /// The supplier's emergency phones.
    pub emergency_phones: Vec<EmergencyPhoneDto>,
}

/// Section 5: the amount due.
#[derive(Object, Debug)]
pub struct DocumentAmountDueDto {
    /// The period's charges.
    pub charges: String,
    /// Opening balance − payments + charges (positive is owed).
    pub closing_balance: String,
    /// What to pay (zero with an advance).
    pub due: String,
    /// The advance carried into the next period.
    pub advance: String,
}

/// The payment document (ЕПД) of a billed period.
#[derive(Object, Debug)]
pub struct PaymentDocumentDto {
    /// Section 1: payer and supplier.
    pub payer: DocumentPayerDto,
    /// Section 2: meter readings, per meter and zone.
    pub readings: Vec<DocumentMeterRowDto>,
    /// Section 3: the calculation per service.
    pub services: Vec<DocumentServiceDto>,
    /// Section 3: the period's charges (the sum of the services).
    pub charges_total: String,
    /// Section 4: reference information.
    pub reference: DocumentReferenceDto,
    /// Section 5: the amount due.
    pub amount_due: DocumentAmountDueDto,
    /// The ГОСТ Р 56042-2014 payload to print as the QR code (`ST00012|Name=…|…`).
    pub qr_payload: String,
}

fn emergency(phones: &[billing_core::requisites::EmergencyPhone]) -> Vec<EmergencyPhoneDto> {
    phones
        .iter()
        .map(|e| EmergencyPhoneDto {
            label: e.label().to_owned(),
            phone: e.phone().as_str().to_owned(),
        })
        .collect()
}

fn document_dto(d: &PaymentDocument) -> PaymentDocumentDto {
    let payer = d.payer();
    let calc = d.calculation();
    let reference = d.reference();
    let due = d.amount_due();
    PaymentDocumentDto {
        payer: DocumentPayerDto {
            payer_name: payer.payer_name.clone(),
            address: payer.address.clone(),
            account_number: payer.account_number.as_str().to_owned(),
            period: period_text(payer.period),
            area: dec(payer.area),
            persons: payer.persons,
            supplier: requisites_dto(&payer.supplier),
        },
        readings: d
            .readings()
            .iter()
            .map(|r| DocumentMeterRowDto {
                service: r.service.into(),
                serial: r.serial.clone(),
                zone: r.zone.into(),
                previous: r.previous.map(|v| DatedValueDto {
                    value: dec(v.value),
                    taken_on: v.taken_on,
                }),
                current: r.current.map(|v| DatedValueDto {
                    value: dec(v.value),
                    taken_on: v.taken_on,
                }),
                coefficient: dec(r.coefficient),
                volume: r.volume.map(dec),
                rollover: r.rollover,
                unit: r.unit.into(),
            })
            .collect(),
        services: calc
            .services
            .iter()
            .map(|s| DocumentServiceDto {
                service: s.service.into(),
                service_name: s.service.russian_name().to_owned(),
                lines: s
                    .lines
                    .iter()
                    .map(|l| {
                        let (kind, of, why) = match &l.kind {
                            LineKind::Consumption => (DocumentLineKindDto::Consumption, None, None),
                            LineKind::Odn => (DocumentLineKindDto::Odn, None, None),
                            LineKind::Recalculation { of_period, reason } => (
                                DocumentLineKindDto::Recalculation,
                                Some(period_text(*of_period)),
                                Some(reason.clone()),
                            ),
                            LineKind::Penalty => (DocumentLineKindDto::Penalty, None, None),
                        };
                        DocumentLineDto {
                            kind,
                            recalculated_period: of,
                            recalculation_reason: why,
                            zone: l.zone.into(),
                            tier: tier_code(l.tier),
                            quantity: dec(l.quantity),
                            unit: l.unit.into(),
                            unit_price: dec(l.unit_price),
                            amount: money(l.amount),
                            increasing_coefficient: l.increasing.map(|i| dec(i.coefficient)),
                            increasing_amount: l.increasing.map(|i| money(i.amount)),
                            explanation: l.why.clone(),
                        }
                    })
                    .collect(),
                charged: money(s.charged),
                recalculations: money(s.recalculations),
                increasing: money(s.increasing),
                total: money(s.total),
            })
            .collect(),
        charges_total: money(calc.total),
        reference: DocumentReferenceDto {
            opening_balance: money(reference.opening_balance),
            payments: money(reference.payments),
            due_date: reference.due_date,
            emergency_phones: emergency(&reference.emergency_phones),
        },
        amount_due: DocumentAmountDueDto {
            charges: money(due.charges),
            closing_balance: money(due.closing_balance),
            due: money(due.due),
            advance: money(due.advance),
        },
        qr_payload: due.qr_payload.clone(),
    }
}

// ---------------------------------------------------------------------------------------------
// Tariffs
// ---------------------------------------------------------------------------------------------

/// A consumer group (tariffs are set per group).
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum ConsumerGroupDto {
    /// Population, general.
    Population,
    /// Urban, with electric stoves or electric heating.
    UrbanElectricStoves,
    /// Rural.
    Rural,
    /// Equated to population.
    Equated,
}

impl From<ConsumerGroup> for ConsumerGroupDto {
    fn from(g: ConsumerGroup) -> Self {
        match g {
            ConsumerGroup::Population => Self::Population,
            ConsumerGroup::UrbanElectricStoves => Self::UrbanElectricStoves,
            ConsumerGroup::Rural => Self::Rural,
            ConsumerGroup::Equated => Self::Equated,
        }
    }
}

/// The price structure of a tariff.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum TariffKindDto {
    /// Electricity, one table for any volume.
    ElectricityFlat,
    /// Electricity, within and above the social norm.
    ElectricitySocialNorm,
    /// Electricity by consumption ranges.
    ElectricityRanges,
    /// One price per unit.
    Volumetric,
    /// Hot water: water per m³ and heat per Gcal.
    HotWaterTwoComponent,
    /// Heating per Gcal.
    Heating,
}

/// How heating is charged over the year.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum HeatingModeDto {
    /// In the months of the heating season only.
    Seasonal,
    /// The season's volume spread evenly over 12 months.
    Even,
}

/// One price of a tariff.
#[derive(Object, Debug)]
pub struct TariffPriceDto {
    /// The tier (as in the charge lines).
    pub tier: String,
    /// For electricity: the zone scheme of the price table.
    #[oai(nullable)]
    pub scheme: Option<ZoneSchemeDto>,
    /// For electricity: the zone.
    #[oai(nullable)]
    pub zone: Option<ZoneDto>,
    /// The unit priced.
    pub unit: UnitDto,
    /// The price per unit, ₽ (decimal string).
    pub price: String,
}

/// A tariff version in force for the ЛС.
#[derive(Object, Debug)]
pub struct TariffDto {
    /// The version's id.
    pub tariff_id: u64,
    /// The service priced.
    pub service: ServiceKindDto,
    /// The consumer group.
    pub group: ConsumerGroupDto,
    /// The first day in force.
    pub valid_from: Date,
    /// The price structure.
    pub kind: TariffKindDto,
    /// The prices.
    pub prices: Vec<TariffPriceDto>,
    /// Social norm: the monthly volume for one person (decimal string).
    #[oai(nullable)]
    pub social_norm_base: Option<String>,
    /// Social norm: added per person beyond the first.
    #[oai(nullable)]
    pub social_norm_per_additional_person: Option<String>,
    /// Consumption ranges: the upper bounds of ranges 1 and 2 per month.
    #[oai(nullable)]
    pub range_thresholds: Option<Vec<String>>,
    /// Hot water: heat to warm 1 m³, Gcal/m³.
    #[oai(nullable)]
    pub heat_norm_gcal_per_m3: Option<String>,
    /// Heating: the norm per m² per season month, Gcal.
    #[oai(nullable)]
    pub norm_gcal_per_m2: Option<String>,
    /// Heating: seasonal or even.
    #[oai(nullable)]
    pub heating_mode: Option<HeatingModeDto>,
}

fn zone_prices(out: &mut Vec<TariffPriceDto>, tier: Tier, p: &ZonePrices) {
    let mut push = |scheme: ZoneScheme, zone: Zone, price| {
        out.push(TariffPriceDto {
            tier: tier_code(tier),
            scheme: Some(scheme.into()),
            zone: Some(zone.into()),
            unit: UnitDto::KilowattHour,
            price: dec(price),
        });
    };
    push(ZoneScheme::Single, Zone::Total, p.single);
    if let Some([day, night]) = p.two_zone {
        push(ZoneScheme::TwoZone, Zone::Day, day);
        push(ZoneScheme::TwoZone, Zone::Night, night);
    }
    if let Some([peak, night, semi]) = p.three_zone {
        push(ZoneScheme::ThreeZone, Zone::Peak, peak);
        push(ZoneScheme::ThreeZone, Zone::Night, night);
        push(ZoneScheme::ThreeZone, Zone::SemiPeak, semi);
    }
}

fn plain_price(tier: Tier, unit: Unit, price: impl std::fmt::Display) -> TariffPriceDto {
    TariffPriceDto {
        tier: tier_code(tier),
        scheme: None,
        zone: None,
        unit: unit.into(),
        price: dec(price),
    }
}

fn tariff_dto(t: &TariffVersion) -> TariffDto {
    let mut dto = TariffDto {
        tariff_id: t.id.get(),
        service: t.service.into(),
        group: t.group.into(),
        valid_from: t.valid_from,
        kind: TariffKindDto::Volumetric,
        prices: Vec::new(),
        social_norm_base: None,
        social_norm_per_additional_person: None,
        range_thresholds: None,
        heat_norm_gcal_per_m3: None,
        norm_gcal_per_m2: None,
        heating_mode: None,
    };
    match &t.kind {
        TariffKind::Electricity(ElectricityTiers::Flat(p)) => {
            dto.kind = TariffKindDto::ElectricityFlat;
            zone_prices(&mut dto.prices, Tier::Base, p);
        }
        TariffKind::Electricity(ElectricityTiers::SocialNorm {
            norm,
            within,
            above,
        }) => {
            dto.kind = TariffKindDto::ElectricitySocialNorm;
            zone_prices(&mut dto.prices, Tier::WithinNorm, within);
            zone_prices(&mut dto.prices, Tier::AboveNorm, above);
            dto.social_norm_base = Some(dec(norm.base));
            dto.social_norm_per_additional_person = Some(dec(norm.per_additional_person));
        }
        TariffKind::Electricity(ElectricityTiers::Ranges(r)) => {
            dto.kind = TariffKindDto::ElectricityRanges;
            for (n, p) in (1_u8..).zip(r.prices.iter()) {
                zone_prices(&mut dto.prices, Tier::Range(n), p);
            }
            dto.range_thresholds = Some(r.thresholds.iter().map(dec).collect());
        }
        TariffKind::Volumetric { price } => {
            dto.kind = TariffKindDto::Volumetric;
            dto.prices
                .push(plain_price(Tier::Base, t.service.unit(), price));
        }
        TariffKind::HotWaterTwoComponent {
            water_per_m3,
            heat_per_gcal,
            heat_norm_gcal_per_m3,
        } => {
            dto.kind = TariffKindDto::HotWaterTwoComponent;
            dto.prices.push(plain_price(
                Tier::WaterComponent,
                Unit::CubicMetre,
                water_per_m3,
            ));
            dto.prices.push(plain_price(
                Tier::HeatComponent,
                Unit::Gigacalorie,
                heat_per_gcal,
            ));
            dto.heat_norm_gcal_per_m3 = Some(dec(heat_norm_gcal_per_m3));
        }
        TariffKind::Heating {
            per_gcal,
            norm_gcal_per_m2,
            mode,
            ..
        } => {
            dto.kind = TariffKindDto::Heating;
            dto.prices
                .push(plain_price(Tier::Base, Unit::Gigacalorie, per_gcal));
            dto.norm_gcal_per_m2 = Some(dec(norm_gcal_per_m2));
            dto.heating_mode = Some(match mode {
                HeatingMode::Seasonal => HeatingModeDto::Seasonal,
                HeatingMode::Even => HeatingModeDto::Even,
            });
        }
    }
    dto
}

// ---------------------------------------------------------------------------------------------
// Calculator
// ---------------------------------------------------------------------------------------------

/// What a reading would cost: the meter and one value per register.
#[derive(Object, Debug)]
#[oai(deny_unknown_fields)]
pub struct EstimateBody {
    /// The meter (`meter_id` from the meters list).
    #[oai(validator(
        minimum(value = "1"),
        maximum(value = "9223372036854775808", exclusive = true)
    ))]
    pub meter_id: u64,
    /// One value per register, in the meter's register order, as decimal strings
    /// (`["5910"]`, `["1234.5", "567"]`).
    #[oai(validator(
        min_items = 1,
        max_items = 3,
        pattern = r"^[0-9]{1,15}(\.[0-9]{1,6})?$"
    ))]
    pub values: Vec<String>,
}

/// One priced line of an estimate.
#[derive(Object, Debug)]
pub struct EstimateLineDto {
    /// The zone.
    pub zone: ZoneDto,
    /// The tier (as in the charge lines).
    pub tier: String,
    /// The quantity (decimal string).
    pub quantity: String,
    /// The unit.
    pub unit: UnitDto,
    /// The price per unit (decimal string).
    pub unit_price: String,
    /// The amount.
    pub amount: String,
    /// The first day covered, when a tariff change splits the period.
    #[oai(nullable)]
    pub days_from: Option<Date>,
    /// The last day covered.
    #[oai(nullable)]
    pub days_to: Option<Date>,
}

/// What a reading would cost if submitted today (nothing is stored).
#[derive(Object, Debug)]
pub struct EstimateDto {
    /// The consumption per register since the reading in force (Δ × K, decimal strings).
    pub consumption: Vec<String>,
    /// Per register: whether it passed zero (`9993 → 0007`).
    pub rollover: Vec<bool>,
    /// The priced lines.
    pub lines: Vec<EstimateLineDto>,
    /// The sum of the lines.
    pub total: String,
    /// The estimate in Russian, one sentence per line.
    pub explanation: Vec<String>,
}

fn estimate_dto(e: &Estimate) -> EstimateDto {
    let registers = e.consumption.scheme().len();
    EstimateDto {
        consumption: values_text(&e.consumption),
        rollover: e.rollover.iter().take(registers).copied().collect(),
        lines: e
            .lines
            .iter()
            .map(|l| EstimateLineDto {
                zone: l.zone.into(),
                tier: tier_code(l.tier),
                quantity: dec(l.quantity),
                unit: l.unit.into(),
                unit_price: dec(l.unit_price),
                amount: money(l.amount),
                days_from: l.days.map(|d| d.0),
                days_to: l.days.map(|d| d.1),
            })
            .collect(),
        total: money(e.total),
        explanation: e.explain(),
    }
}

// ---------------------------------------------------------------------------------------------
// Payments
// ---------------------------------------------------------------------------------------------

/// The state of a payment.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum PaymentStateDto {
    /// Recorded, not yet with the gateway.
    Created,
    /// The gateway has it; the money is not confirmed yet.
    Pending,
    /// Confirmed: on the ЛС.
    Succeeded,
    /// Declined or abandoned.
    Failed,
    /// Refunded in full.
    Refunded,
}

impl From<PaymentState> for PaymentStateDto {
    fn from(s: PaymentState) -> Self {
        match s {
            PaymentState::Created => Self::Created,
            PaymentState::Pending => Self::Pending,
            PaymentState::Succeeded => Self::Succeeded,
            PaymentState::Failed => Self::Failed,
            PaymentState::Refunded => Self::Refunded,
        }
    }
}

/// A payment of the ЛС.
#[derive(Object, Debug, serde::Serialize, serde::Deserialize)]
pub struct PaymentHistoryDto {
    /// Its id.
    pub payment_id: u64,
    /// The amount.
    pub amount: String,
    /// The payer's split per service; absent when the default order applies (oldest debt
    /// first).
    #[oai(nullable)]
    pub split: Option<Vec<ServiceAmountDto>>,
    /// The day it was made.
    pub created_on: Date,
    /// Its state.
    pub state: PaymentStateDto,
    /// How much has been refunded.
    pub refunded: String,
    /// Why it failed, as the gateway said.
    #[oai(nullable)]
    pub failure_reason: Option<String>,
}

pub(crate) fn payment_dto(p: &PaymentRecord) -> PaymentHistoryDto {
    PaymentHistoryDto {
        payment_id: p.id.get(),
        amount: money(p.amount),
        split: match &p.split {
            PaymentSplit::Default => None,
            PaymentSplit::ByService(parts) => Some(
                parts
                    .iter()
                    .map(|(s, m)| ServiceAmountDto {
                        service: (*s).into(),
                        amount: money(*m),
                    })
                    .collect(),
            ),
        },
        created_on: p.created_on,
        state: p.state.into(),
        refunded: money(p.refunded),
        failure_reason: p.failure_reason.clone(),
    }
}

// ---------------------------------------------------------------------------------------------
// Operations
// ---------------------------------------------------------------------------------------------

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Cabinet")]
impl CabinetApi {
    /// The meters of the ЛС (removed ones included) with their latest accepted reading.
    #[oai(
        path = "/accounts/:account_id/meters",
        method = "get",
        operation_id = "listMeters"
    )]
    async fn meters(
        &self,
        state: Data<&AppState>,
        auth: SubscriberAuth,
        #[oai(validator(
            minimum(value = "1"),
            maximum(value = "9223372036854775808", exclusive = true)
        ))]
        account_id: Path<u64>,
    ) -> Result<Json<Vec<MeterDto>>, ProblemResponse> {
        let account = gate(&state, &auth, account_id.0).await?;
        let meters = state.billing.meters(account).await.map_err(Problem::from)?;
        Ok(Json(
            meters
                .iter()
                .map(|m| meter_dto(&m.meter, m.last_accepted.as_ref()))
                .collect(),
        ))
    }

    /// The readings of a meter of the ЛС over a range of periods (every status), sortable
    /// (seed 003). By default the 12 months before `to` and `to`, the current period.
    #[oai(
        path = "/accounts/:account_id/meters/:meter_id/readings",
        method = "get",
        operation_id = "readingHistory"
    )]
    #[allow(
        clippy::too_many_arguments,
        reason = "one argument per path and query parameter of the operation"
    )]
    async fn readings(
        &self,
        state: Data<&AppState>,
        auth: SubscriberAuth,
        #[oai(validator(
            minimum(value = "1"),
            maximum(value = "9223372036854775808", exclusive = true)
        ))]
        account_id: Path<u64>,
        #[oai(validator(
            minimum(value = "1"),
            maximum(value = "9223372036854775808", exclusive = true)
        ))]
        meter_id: Path<u64>,
        /// The first period, `YYYY-MM` (default: 12 months before `to`).
        #[oai(validator(max_length = 16))]
        from: Query<Option<String>>,
        /// The last period, `YYYY-MM` (default: the current period).
        #[oai(validator(max_length = 16))]
        to: Query<Option<String>>,
        /// The order: `period`, `taken_on`, `submitted_at` or `status`, descending with a
        /// leading `-` (default `period`).
        sort: Query<Option<ReadingSort>>,
    ) -> Result<Json<Vec<MeterReadingDto>>, ProblemResponse> {
        let account = gate(&state, &auth, account_id.0).await?;
        let from = from
            .0
            .as_deref()
            .map(|t| period_param("from", t))
            .transpose()?;
        let to = match to.0.as_deref() {
            Some(t) => period_param("to", t)?,
            None => Period::of(today(&state)),
        };
        let from = from.unwrap_or_else(|| to.plus_months(-12));
        let mut readings = state
            .billing
            .reading_history(account, MeterId::new(meter_id.0), from, to)
            .await
            .map_err(Problem::from)?;
        sort_readings(&mut readings, sort.0.unwrap_or_default());
        Ok(Json(readings.iter().map(MeterReadingDto::from).collect()))
    }

    /// The charges of a billed period: each line with its basis and why it is what it is
    /// (seeds 000, 003).
    #[oai(
        path = "/accounts/:account_id/charges/:period",
        method = "get",
        operation_id = "periodCharges"
    )]
    async fn charges(
        &self,
        state: Data<&AppState>,
        auth: SubscriberAuth,
        #[oai(validator(
            minimum(value = "1"),
            maximum(value = "9223372036854775808", exclusive = true)
        ))]
        account_id: Path<u64>,
        /// The period, `YYYY-MM`.
        #[oai(validator(max_length = 16))]
        period: Path<String>,
    ) -> Result<Json<ChargesDto>, ProblemResponse> {
        let account = gate(&state, &auth, account_id.0).await?;
        let period = period_param("period", &period.0)?;
        let set = state
            .billing
            .charges(account, period)
            .await
            .map_err(Problem::from)?;
        Ok(Json(charges_dto(&set)))
    }

    /// The balance of the ЛС today: debt per service, advance, overdue debts and penalties.
    #[oai(
        path = "/accounts/:account_id/balance",
        method = "get",
        operation_id = "accountBalance"
    )]
    async fn balance(
        &self,
        state: Data<&AppState>,
        auth: SubscriberAuth,
        #[oai(validator(
            minimum(value = "1"),
            maximum(value = "9223372036854775808", exclusive = true)
        ))]
        account_id: Path<u64>,
    ) -> Result<Json<BalanceDto>, ProblemResponse> {
        let account = gate(&state, &auth, account_id.0).await?;
        let balance = state
            .billing
            .balance(account)
            .await
            .map_err(Problem::from)?;
        Ok(Json(balance_dto(&balance)))
    }

    /// The movements of the ЛС from the first day of `from` to the last day of `to`
    /// («Детализация», seeds 001, 003). By default the 12 months before `to` and `to`, the
    /// current period.
    #[oai(
        path = "/accounts/:account_id/statement",
        method = "get",
        operation_id = "accountStatement"
    )]
    async fn statement(
        &self,
        state: Data<&AppState>,
        auth: SubscriberAuth,
        #[oai(validator(
            minimum(value = "1"),
            maximum(value = "9223372036854775808", exclusive = true)
        ))]
        account_id: Path<u64>,
        /// The first period, `YYYY-MM` (default: 12 months before `to`).
        #[oai(validator(max_length = 16))]
        from: Query<Option<String>>,
        /// The last period, `YYYY-MM` (default: the current period).
        #[oai(validator(max_length = 16))]
        to: Query<Option<String>>,
    ) -> Result<Json<StatementDto>, ProblemResponse> {
        let account = gate(&state, &auth, account_id.0).await?;
        let from = from
            .0
            .as_deref()
            .map(|t| period_param("from", t))
            .transpose()?;
        let to = match to.0.as_deref() {
            Some(t) => period_param("to", t)?,
            None => Period::of(today(&state)),
        };
        let from = from.unwrap_or_else(|| to.plus_months(-12));
        let statement = state
            .billing
            .statement(account, from.first_day(), to.last_day())
            .await
            .map_err(Problem::from)?;
        Ok(Json(statement_dto(&statement)))
    }

    /// The payment document (ЕПД) of a billed period with its ГОСТ Р 56042-2014 QR payload
    /// (seeds 000, 003).
    #[oai(
        path = "/accounts/:account_id/documents/:period",
        method = "get",
        operation_id = "paymentDocument"
    )]
    async fn document(
        &self,
        state: Data<&AppState>,
        auth: SubscriberAuth,
        #[oai(validator(
            minimum(value = "1"),
            maximum(value = "9223372036854775808", exclusive = true)
        ))]
        account_id: Path<u64>,
        /// The period, `YYYY-MM`.
        #[oai(validator(max_length = 16))]
        period: Path<String>,
    ) -> Result<Json<PaymentDocumentDto>, ProblemResponse> {
        let account = gate(&state, &auth, account_id.0).await?;
        let period = period_param("period", &period.0)?;
        let doc = state
            .billing
            .payment_document(account, period)
            .await
            .map_err(Problem::from)?;
        Ok(Json(document_dto(&doc)))
    }

    /// The tariff versions that price the ЛС's services on a day (seed 001).
    #[oai(
        path = "/accounts/:account_id/tariffs",
        method = "get",
        operation_id = "accountTariffs"
    )]
    async fn tariffs(
        &self,
        state: Data<&AppState>,
        auth: SubscriberAuth,
        #[oai(validator(
            minimum(value = "1"),
            maximum(value = "9223372036854775808", exclusive = true)
        ))]
        account_id: Path<u64>,
        /// The day, `YYYY-MM-DD` (default: today).
        on: Query<Option<Date>>,
    ) -> Result<Json<Vec<TariffDto>>, ProblemResponse> {
        let account = gate(&state, &auth, account_id.0).await?;
        let on = match on.0 {
            Some(d) => d,
            None => today(&state),
        };
        let tariffs = state
            .billing
            .tariffs_for_account(account, on)
            .await
            .map_err(Problem::from)?;
        Ok(Json(tariffs.iter().map(tariff_dto).collect()))
    }

    /// How much a reading would cost if submitted today, from the reading in force (seed 004:
    /// a register passing zero, `9993 → 0007`, is a rollover). Stores nothing.
    #[oai(
        path = "/accounts/:account_id/estimate",
        method = "post",
        operation_id = "estimateReading"
    )]
    async fn estimate(
        &self,
        state: Data<&AppState>,
        auth: SubscriberAuth,
        #[oai(validator(
            minimum(value = "1"),
            maximum(value = "9223372036854775808", exclusive = true)
        ))]
        account_id: Path<u64>,
        body: Json<EstimateBody>,
    ) -> Result<Json<EstimateDto>, ProblemResponse> {
        let account = gate(&state, &auth, account_id.0).await?;
        let body = body.0;
        let mut values = Vec::with_capacity(body.values.len());
        for text in &body.values {
            let value = text.parse().map_err(|_| {
                let mut p = Problem::with_detail(
                    ProblemType::InvalidRequest,
                    "Показание должно быть числом, например 5910 или 1234.5.",
                );
                p.reason = Some("invalid field `values`".to_owned());
                p
            })?;
            values.push(value);
        }
        let estimate = state
            .billing
            .estimate(account, MeterId::new(body.meter_id), values.as_slice())
            .await
            .map_err(Problem::from)?;
        Ok(Json(estimate_dto(&estimate)))
    }

    /// The payments of the ЛС, newest first (seed 001).
    #[oai(
        path = "/accounts/:account_id/payments",
        method = "get",
        operation_id = "paymentHistory"
    )]
    async fn payments(
        &self,
        state: Data<&AppState>,
        auth: SubscriberAuth,
        #[oai(validator(
            minimum(value = "1"),
            maximum(value = "9223372036854775808", exclusive = true)
        ))]
        account_id: Path<u64>,
    ) -> Result<Json<Vec<PaymentHistoryDto>>, ProblemResponse> {
        let account = gate(&state, &auth, account_id.0).await?;
        let payments = state
            .billing
            .payments(account)
            .await
            .map_err(Problem::from)?;
        Ok(Json(payments.iter().map(payment_dto).collect()))
    }

    /// A supplier's requisites and bank details (public, seed 000).
    #[oai(
        path = "/suppliers/:supplier_id",
        method = "get",
        operation_id = "getSupplier"
    )]
    async fn supplier(
        &self,
        state: Data<&AppState>,
        #[oai(validator(
            minimum(value = "1"),
            maximum(value = "9223372036854775808", exclusive = true)
        ))]
        supplier_id: Path<u64>,
    ) -> Result<Json<SupplierDto>, ProblemResponse> {
        let supplier = state
            .billing
            .supplier(SupplierId::new(supplier_id.0))
            .await
            .map_err(Problem::from)?;
        Ok(Json(SupplierDto {
            supplier_id: supplier.id.get(),
            requisites: requisites_dto(&supplier.requisites),
            minimum_payment: money(supplier.minimum_payment),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_has_two_decimals() {
        assert_eq!(money(Money::from_kopecks(123_450)), "1234.50");
        assert_eq!(money(Money::from_roubles(-12)), "-12.00");
        assert_eq!(money(Money::ZERO), "0.00");
    }

    #[test]
    fn a_bad_period_names_its_parameter() {
        let p = period_param("from", "2026-13").unwrap_err();
        assert_eq!(p.kind, ProblemType::InvalidRequest);
        assert!(p.reason.unwrap().contains("`from`"));
        assert_eq!(
            period_param("to", "2026-09").unwrap(),
            Period::new(2026, 9).unwrap()
        );
    }
}
