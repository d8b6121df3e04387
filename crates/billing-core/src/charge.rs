//! The billing run: charge lines for an account or a house and a period, each with its basis,
//! so the bill answers "why is it this much?" (billing-rules.md §1, §4–§8).
//!
//! Every function here is pure and deterministic: the same inputs give the same lines, so a
//! repeated run is idempotent; storage enforces one charge set per (account, period).

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::Date;

use crate::allocation::allocate;
use crate::ids::{AccountId, HouseId, TariffId};
use crate::meter::{Zone, ZoneValues};
use crate::model::{Account, House, Premise};
use crate::money::Money;
use crate::odn::{OdnDistribution, OdnError, OdnInput, distribute};
use crate::penalty::{PenaltyLine, PenaltyReport};
use crate::period::Period;
use crate::policy::BillingPolicy;
use crate::service::{ServiceKind, Unit};
use crate::tariff::{
    PricedLine, PricingInput, Segment, TariffError, TariffVersion, Tier, heating_volume_by_norm,
    price_into, segments,
};
use crate::volume::{
    MeterPart, NormSpec, PastVolume, PeriodVolume, VolumeBasis, VolumeError, VolumeInput,
    determine_volume,
};

/// Why a charge line exists. Its serde form is tagged `basis` (the volume bases it wraps are
/// tagged `kind`, so one tag name for both would collide).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "basis")]
pub enum ChargeBasis {
    /// The premise's own volume.
    Volume(VolumeBasis),
    /// Heating by area: S_i × norm, or the house meter's volume × S_i / S_total.
    HeatingByArea {
        /// S_i.
        area: Decimal,
        /// Norm per m², if by norm.
        norm: Option<Decimal>,
        /// House heat volume, if by the house meter.
        house_volume: Option<Decimal>,
    },
    /// The premise's ОДН share: V_ОДН × S_i / S_total.
    Odn {
        /// S_i.
        area: Decimal,
        /// The house's ОДН.
        house: crate::odn::OdnBasis,
    },
    /// Penalties accrued in the period, line by line.
    Penalty {
        /// The accrual lines (tranche, days, rate, fraction, amount).
        lines: Vec<PenaltyLine>,
        /// Penalties accrued before and already charged.
        already_charged: Money,
    },
    /// A correction of a closed period (closed periods are never rewritten).
    Recalculation {
        /// The period corrected.
        of_period: Period,
        /// Why.
        reason: String,
    },
}

/// One line of the bill.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct ChargeLine {
    /// Account.
    pub account: AccountId,
    /// Period billed.
    pub period: Period,
    /// Service.
    pub service: ServiceKind,
    /// Zone.
    pub zone: Zone,
    /// Tier.
    pub tier: Tier,
    /// Quantity in `unit`.
    pub quantity: Decimal,
    /// Unit.
    pub unit: Unit,
    /// Price per unit.
    pub unit_price: Decimal,
    /// Amount: quantity × price rounded once, half away from zero.
    pub amount: Money,
    /// Tariff version used.
    pub tariff: Option<TariffId>,
    /// Days covered when a tariff change split the period.
    pub days: Option<(Date, Date)>,
    /// The basis.
    pub basis: ChargeBasis,
}

impl ChargeLine {
    /// Explains the line in Russian: what, how much, at what price, and why.
    #[must_use]
    pub fn explain(&self) -> String {
        let what = match self.tier {
            Tier::Base => String::new(),
            Tier::WithinNorm => ", в пределах социальной нормы".into(),
            Tier::AboveNorm => ", сверх социальной нормы".into(),
            Tier::Range(n) => format!(", диапазон {n}"),
            Tier::WaterComponent => ", компонент на холодную воду".into(),
            Tier::HeatComponent => ", компонент на тепловую энергию".into(),
        };
        let zone = if self.zone == Zone::Total {
            String::new()
        } else {
            format!(", {}", self.zone.russian_name())
        };
        let days = self
            .days
            .map(|(a, b)| {
                format!(
                    " (с {} по {})",
                    crate::reading::ru_date(a),
                    crate::reading::ru_date(b)
                )
            })
            .unwrap_or_default();
        let head = if matches!(
            self.basis,
            ChargeBasis::Penalty { .. } | ChargeBasis::Recalculation { .. }
        ) {
            format!(
                "{}: {}",
                self.service.russian_name(),
                self.amount.to_russian()
            )
        } else {
            format!(
                "{}{zone}{what}{days}: {} {} × {} ₽ = {}",
                self.service.russian_name(),
                ru_num(self.quantity),
                self.unit.russian(),
                ru_price(self.unit_price),
                self.amount.to_russian()
            )
        };
        let why = match &self.basis {
            ChargeBasis::Volume(b) => explain_volume(b),
            ChargeBasis::HeatingByArea {
                area,
                norm: Some(n),
                ..
            } => format!(
                "площадь {} м² × норматив {} Гкал/м²",
                ru_num(area),
                ru_num(n)
            ),
            ChargeBasis::HeatingByArea {
                area, house_volume, ..
            } => {
                format!(
                    "объём по общедомовому прибору {} Гкал × доля площади {} м²",
                    ru_num(house_volume.unwrap_or_default()),
                    ru_num(area)
                )
            }
            ChargeBasis::Odn { area, house } => format!(
                "ОДН дома {} кВт·ч (дом {} − квартиры {} − нежилые {} − на подогрев {}) × площадь {} м² / {} м²",
                ru_num(house.distributed_volume),
                house
                    .house_volume
                    .map_or_else(|| "по нормативу".into(), ru_num),
                ru_num(house.flats_volume),
                ru_num(house.non_residential_volume),
                ru_num(house.heat_production_volume),
                ru_num(area),
                ru_num(house.total_area)
            ),
            ChargeBasis::Penalty {
                lines,
                already_charged,
            } => {
                let mut s = String::from("пени по ч. 14 ст. 155 ЖК РФ");
                for l in lines.iter().filter(|l| !l.amount.is_zero()) {
                    s.push_str("; ");
                    s.push_str(&l.to_russian());
                }
                if !already_charged.is_zero() {
                    s.push_str(&format!(
                        "; ранее начислено {}",
                        already_charged.to_russian()
                    ));
                }
                s
            }
            ChargeBasis::Recalculation { of_period, reason } => {
                format!("перерасчёт за {}: {reason}", of_period.to_russian())
            }
        };
        format!("{head}. Основание: {why}.")
    }
}

/// A decimal as a Russian document writes it: a comma, no trailing zeros.
pub(crate) fn ru_num(d: impl std::borrow::Borrow<Decimal>) -> String {
    d.borrow().normalize().to_string().replace('.', ",")
}

/// A price as a Russian document writes it: a comma and at least kopecks (`5,50`, `6,435`).
pub(crate) fn ru_price(d: Decimal) -> String {
    let mut n = d.normalize();
    if n.scale() < 2 {
        n.rescale(2);
    }
    n.to_string().replace('.', ",")
}

/// Register values as `5910 / 1200`.
fn ru_values(v: &ZoneValues) -> String {
    v.values()
        .iter()
        .map(ru_num)
        .collect::<Vec<_>>()
        .join(" / ")
}

fn explain_volume(b: &VolumeBasis) -> String {
    match b {
        VolumeBasis::Readings {
            opening,
            closing,
            coefficient,
            rollover,
            replacement,
            ..
        } => {
            let mut s = format!(
                "по показаниям {} → {}",
                ru_values(opening),
                ru_values(closing)
            );
            if *coefficient != Decimal::ONE {
                s.push_str(&format!(
                    ", коэффициент трансформации {}",
                    ru_num(coefficient)
                ));
            }
            if *rollover {
                s.push_str(", с переходом счётчика через ноль");
            }
            if *replacement {
                s.push_str(", с учётом замены прибора учёта");
            }
            s
        }
        VolumeBasis::TrueUp {
            measured,
            estimated,
            estimated_periods,
            ..
        } => format!(
            "доначисление по показаниям: расход {} минус начисленное по среднему/нормативу за {} мес. {}",
            ru_num(measured),
            estimated_periods,
            ru_num(estimated)
        ),
        VolumeBasis::Average {
            months,
            reason,
            nth_period,
        } => format!(
            "по среднемесячному расходу за {months} мес. ({}; {nth_period}-й период из допустимых)",
            reason.russian()
        ),
        VolumeBasis::Norm {
            norm,
            factor,
            coefficient,
            reason,
        } => {
            let mut s = format!(
                "по нормативу {} × {} ({})",
                ru_num(norm),
                ru_num(factor),
                reason.russian()
            );
            if let Some(k) = coefficient {
                s.push_str(&format!(" × повышающий коэффициент {}", ru_num(k)));
            }
            s
        }
    }
}

/// One service of an account to bill.
#[derive(Clone, Copy, Debug)]
pub struct ServiceInput<'a> {
    /// The service.
    pub service: ServiceKind,
    /// Meters of the service in the period.
    pub meters: &'a [MeterPart<'a>],
    /// Earlier billed volumes, oldest first.
    pub history: &'a [PastVolume],
    /// The norm per person (or per m²) and whether a meter can be installed.
    pub norm_per_unit: Decimal,
    /// Whether a meter can be installed.
    pub meter_installable: bool,
}

/// Penalties to charge on the bill.
#[derive(Clone, Copy, Debug)]
pub struct PenaltyInput<'a> {
    /// Penalties as of the last day of the period.
    pub report: &'a PenaltyReport,
    /// Penalties already charged on earlier bills.
    pub already_charged: Money,
}

/// A correction of a closed period, charged (or credited) in the current one.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Recalculation {
    /// Service.
    pub service: ServiceKind,
    /// The closed period corrected.
    pub of_period: Period,
    /// Amount (negative for a credit).
    pub amount: Money,
    /// Why (shown on the bill).
    pub reason: String,
}

/// One account to bill.
#[derive(Clone, Copy, Debug)]
pub struct AccountInput<'a> {
    /// The account.
    pub account: &'a Account,
    /// Its premise.
    pub premise: &'a Premise,
    /// Its metered and normed services.
    pub services: &'a [ServiceInput<'a>],
    /// Penalties, if any.
    pub penalty: Option<PenaltyInput<'a>>,
    /// Corrections of closed periods.
    pub recalculations: &'a [Recalculation],
}

/// One account's bill for a period.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct AccountBill {
    /// Account.
    pub account: Option<AccountId>,
    /// Volumes determined, per service.
    pub volumes: Vec<(ServiceKind, PeriodVolume)>,
    /// The lines.
    pub lines: Vec<ChargeLine>,
}

impl AccountBill {
    /// The total: the sum of rounded lines, never rounded again.
    #[must_use]
    pub fn total(&self) -> Money {
        self.lines.iter().map(|l| l.amount).sum()
    }

    /// The total of one service.
    #[must_use]
    pub fn total_of(&self, service: ServiceKind) -> Money {
        self.lines
            .iter()
            .filter(|l| l.service == service)
            .map(|l| l.amount)
            .sum()
    }

    /// Every line explained in Russian.
    #[must_use]
    pub fn explain(&self) -> Vec<String> {
        self.lines.iter().map(ChargeLine::explain).collect()
    }
}

/// Why a billing run failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BillingError {
    /// A volume could not be determined.
    #[error("account {account:?}, {service}: {source}")]
    Volume {
        /// Account.
        account: AccountId,
        /// Service.
        service: ServiceKind,
        /// Cause.
        source: VolumeError,
    },
    /// A volume could not be priced.
    #[error("account {account:?}: {source}")]
    Tariff {
        /// Account.
        account: AccountId,
        /// Cause.
        source: TariffError,
    },
    /// ОДН could not be distributed.
    #[error("house {house:?}: {source}")]
    Odn {
        /// House.
        house: HouseId,
        /// Cause.
        source: OdnError,
    },
    /// The house heat meter's volume could not be split among the premises by area.
    #[error("house {house:?}: heating shares: {source}")]
    HeatShares {
        /// House.
        house: HouseId,
        /// Cause.
        source: crate::allocation::AllocationError,
    },
    /// An account does not belong to the house billed.
    #[error("account {0:?} is not in the house billed")]
    ForeignAccount(AccountId),
}

/// The tariffs of a supplier: all versions of every (service, group).
#[derive(Clone, Copy, Debug)]
pub struct TariffBook<'a> {
    /// The versions.
    pub versions: &'a [TariffVersion],
}

/// Segments already looked up in one run, per (service, group): a house run looks each tariff
/// up once instead of once per account.
#[derive(Debug, Default)]
struct SegmentCache<'a> {
    entries: Vec<(ServiceKind, crate::tariff::ConsumerGroup, Vec<Segment<'a>>)>,
    /// A scratch buffer for priced lines, reused across the accounts of a run.
    priced: Vec<PricedLine>,
}

impl<'a> SegmentCache<'a> {
    fn index(
        &mut self,
        book: TariffBook<'a>,
        service: ServiceKind,
        account: &Account,
        period: Period,
        policy: &BillingPolicy,
    ) -> usize {
        if let Some(i) = self
            .entries
            .iter()
            .position(|(s, g, _)| *s == service && *g == account.group)
        {
            return i;
        }
        self.entries.push((
            service,
            account.group,
            book.segments(service, account, period, policy),
        ));
        self.entries.len() - 1
    }
}

impl<'a> TariffBook<'a> {
    /// The segments of the tariff that prices `service` for `account` in `period`; ОДН is priced
    /// with the electricity tariff of the account's group.
    #[must_use]
    pub fn segments(
        &self,
        service: ServiceKind,
        account: &Account,
        period: Period,
        policy: &BillingPolicy,
    ) -> Vec<Segment<'a>> {
        let key = if service == ServiceKind::ElectricityCommon {
            ServiceKind::Electricity
        } else {
            service
        };
        segments(
            self.versions
                .iter()
                .filter(|v| v.service == key && v.group == account.group),
            period,
            policy.tariff_split,
        )
    }
}

/// Bills one account for a period, given its ОДН share (from [`bill_house`] or storage).
///
/// ```
/// use billing_core::charge::*;
/// use billing_core::ids::*;
/// use billing_core::meter::*;
/// use billing_core::model::*;
/// use billing_core::policy::BillingPolicy;
/// use billing_core::service::ServiceKind;
/// use billing_core::tariff::*;
/// use billing_core::volume::MeterPart;
/// use billing_core::Period;
/// use rust_decimal::Decimal;
/// use time::macros::date;
///
/// let account = Account { id: AccountId::new(1), number: AccountNumber::parse("1001").unwrap(),
///     supplier: SupplierId::new(1), premise: PremiseId::new(1), holder: "Иванов И. И.".into(),
///     group: ConsumerGroup::Population, services: vec![] };
/// let premise = Premise { id: PremiseId::new(1), house: HouseId::new(1), number: "1".into(),
///     area: Decimal::from(50), residential: true, persons: 2, rooms: 2 };
/// let meter = Meter { id: MeterId::new(1), account: Some(account.id), service: ServiceKind::Electricity,
///     serial: "353425345".into(), registers: RegisterSpec::single(4), installed_on: date!(2020-01-01),
///     commissioned_on: Some(date!(2020-01-01)), verification_due: None, failed_on: None,
///     removed_on: None, automatic: false };
/// let parts = [MeterPart { meter: &meter,
///     opening: Some((ZoneValues::single(Decimal::from(5910)), date!(2026-02-20))),
///     closing: Some((ZoneValues::single(Decimal::from(6060)), date!(2026-03-20))) }];
/// let services = [ServiceInput { service: ServiceKind::Electricity, meters: &parts, history: &[],
///     norm_per_unit: Decimal::from(100), meter_installable: true }];
/// let tariffs = [TariffVersion { id: TariffId::new(1), supplier: SupplierId::new(1),
///     service: ServiceKind::Electricity, group: ConsumerGroup::Population, valid_from: date!(2026-01-01),
///     kind: TariffKind::Electricity(ElectricityTiers::Flat(ZonePrices::flat(Decimal::new(685, 2)))) }];
/// let bill = bill_account(
///     &AccountInput { account: &account, premise: &premise, services: &services, penalty: None, recalculations: &[] },
///     Period::new(2026, 3).unwrap(), TariffBook { versions: &tariffs }, None, false, &BillingPolicy::default(),
/// ).unwrap();
/// assert_eq!(bill.total().to_string(), "1027.50"); // 150 kWh × 6.85 ₽
/// assert!(bill.explain()[0].contains("по показаниям"));
/// ```
pub fn bill_account(
    input: &AccountInput<'_>,
    period: Period,
    tariffs: TariffBook<'_>,
    odn_share: Option<(Decimal, &crate::odn::OdnBasis)>,
    electric_heating: bool,
    policy: &BillingPolicy,
) -> Result<AccountBill, BillingError> {
    let volumes = account_volumes(input, period, policy)?;
    let mut bill = AccountBill::default();
    let mut cache = SegmentCache::default();
    price_account(
        input,
        period,
        tariffs,
        &mut cache,
        &volumes,
        odn_share,
        HouseFacts {
            electric_heating,
            heat_share: None,
        },
        policy,
        &mut bill,
    )?;
    bill.volumes = volumes;
    Ok(bill)
}

/// Facts of the house an account is priced with.
#[derive(Clone, Copy, Debug)]
struct HouseFacts {
    electric_heating: bool,
    /// The premise's share of the house heat meter's volume, when heating is by the house meter.
    heat_share: Option<(Decimal, Decimal)>,
}

fn account_volumes(
    input: &AccountInput<'_>,
    period: Period,
    policy: &BillingPolicy,
) -> Result<Vec<(ServiceKind, PeriodVolume)>, BillingError> {
    let mut volumes = Vec::with_capacity(input.services.len());
    for s in input.services {
        if s.service == ServiceKind::Heating {
            continue; // heating is by area, priced directly
        }
        let persons = Decimal::from(input.premise.persons);
        let v = determine_volume(
            &VolumeInput {
                service: s.service,
                period,
                meters: s.meters,
                history: s.history,
                norm: NormSpec {
                    per_unit: s.norm_per_unit,
                    factor: persons,
                    meter_installable: s.meter_installable,
                },
                residential: input.premise.residential,
            },
            policy,
        )
        .map_err(|source| BillingError::Volume {
            account: input.account.id,
            service: s.service,
            source,
        })?;
        volumes.push((s.service, v));
    }
    Ok(volumes)
}

#[allow(clippy::too_many_arguments)] // private step shared by bill_account and bill_house
fn price_account<'t>(
    input: &AccountInput<'_>,
    period: Period,
    tariffs: TariffBook<'t>,
    cache: &mut SegmentCache<'t>,
    volumes: &[(ServiceKind, PeriodVolume)],
    odn_share: Option<(Decimal, &crate::odn::OdnBasis)>,
    house: HouseFacts,
    policy: &BillingPolicy,
    bill: &mut AccountBill,
) -> Result<(), BillingError> {
    let account = input.account;
    let mut priced = std::mem::take(&mut cache.priced);
    bill.lines.reserve(volumes.len() * 2 + 2);
    bill.account = Some(account.id);
    let tariff_err = |source| BillingError::Tariff {
        account: account.id,
        source,
    };
    let no_tariff = |service| BillingError::Tariff {
        account: account.id,
        source: TariffError::NoTariff {
            service,
            group: account.group,
            period,
        },
    };
    let mut own_electricity = Decimal::ZERO;
    for (service, v) in volumes {
        let idx = cache.index(tariffs, *service, account, period, policy);
        let segs = &cache.entries[idx].2;
        if segs.is_empty() {
            return Err(no_tariff(*service));
        }
        priced.clear();
        // A zoned meter billed by norm is priced at the single-rate price (the volume is single).
        price_into(
            &PricingInput {
                service: *service,
                period,
                segments: segs,
                volume: v.values,
                norm_already_used: Decimal::ZERO,
                odn_in_social_norm: true,
                persons: input.premise.persons,
                electric_heating: house.electric_heating,
                volume_dp: policy.volume_dp(*service),
            },
            &mut priced,
        )
        .map_err(tariff_err)?;
        if *service == ServiceKind::Electricity {
            own_electricity = v.values.total();
        }
        for p in &priced {
            bill.lines.push(line(
                account.id,
                period,
                *service,
                p,
                ChargeBasis::Volume(v.basis),
            ));
        }
    }
    // Heating by area.
    if let Some(h) = input
        .services
        .iter()
        .find(|s| s.service == ServiceKind::Heating)
    {
        let segs = tariffs.segments(ServiceKind::Heating, account, period, policy);
        let last = segs.last().ok_or_else(|| no_tariff(ServiceKind::Heating))?;
        let dp = policy.volume_dp(ServiceKind::Heating);
        let area = input.premise.area;
        // Charged evenly over the year, heating is billed by the norm every month and trued up
        // once a year against the house meter (`tariff::heating_yearly_correction`); the house
        // meter's monthly volume is used only when heating is charged in the season.
        let even = matches!(
            last.version.kind,
            crate::tariff::TariffKind::Heating {
                mode: crate::tariff::HeatingMode::Even,
                ..
            }
        );
        let (q, basis) = match house.heat_share.filter(|_| !even) {
            Some((share, hv)) => (
                share,
                ChargeBasis::HeatingByArea {
                    area,
                    norm: None,
                    house_volume: Some(hv),
                },
            ),
            None => {
                let kind = last.version.kind;
                let q = heating_volume_by_norm(&kind, area, period, dp).ok_or(tariff_err(
                    TariffError::WrongKind(last.version.id, ServiceKind::Heating),
                ))?;
                let norm = match kind {
                    crate::tariff::TariffKind::Heating {
                        norm_gcal_per_m2, ..
                    } => Some(norm_gcal_per_m2),
                    _ => Some(h.norm_per_unit),
                };
                (
                    q,
                    ChargeBasis::HeatingByArea {
                        area,
                        norm,
                        house_volume: None,
                    },
                )
            }
        };
        priced.clear();
        price_into(
            &PricingInput {
                service: ServiceKind::Heating,
                period,
                segments: &segs,
                volume: ZoneValues::single(q),
                norm_already_used: Decimal::ZERO,
                odn_in_social_norm: true,
                persons: input.premise.persons,
                electric_heating: false,
                volume_dp: dp,
            },
            &mut priced,
        )
        .map_err(tariff_err)?;
        for p in &priced {
            bill.lines.push(line(
                account.id,
                period,
                ServiceKind::Heating,
                p,
                basis.clone(),
            ));
        }
    }
    // ОДН.
    if let Some((share, house_basis)) = odn_share {
        let idx = cache.index(
            tariffs,
            ServiceKind::ElectricityCommon,
            account,
            period,
            policy,
        );
        let segs = &cache.entries[idx].2;
        if segs.is_empty() {
            return Err(no_tariff(ServiceKind::ElectricityCommon));
        }
        priced.clear();
        // A true-up credit (negative own volume) does not enlarge the norm left for ОДН.
        let used = own_electricity.max(Decimal::ZERO);
        price_into(
            &PricingInput {
                service: ServiceKind::ElectricityCommon,
                period,
                segments: segs,
                volume: ZoneValues::single(share),
                norm_already_used: used,
                odn_in_social_norm: policy.social_norm_includes_odn,
                persons: input.premise.persons,
                electric_heating: house.electric_heating,
                volume_dp: policy.volume_dp(ServiceKind::ElectricityCommon),
            },
            &mut priced,
        )
        .map_err(tariff_err)?;
        for p in &priced {
            bill.lines.push(line(
                account.id,
                period,
                ServiceKind::ElectricityCommon,
                p,
                ChargeBasis::Odn {
                    area: input.premise.area,
                    house: *house_basis,
                },
            ));
        }
    }
    // Recalculations of closed periods.
    for r in input.recalculations {
        bill.lines.push(ChargeLine {
            account: account.id,
            period,
            service: r.service,
            zone: Zone::Total,
            tier: Tier::Base,
            quantity: Decimal::ONE,
            unit: Unit::Rouble,
            unit_price: r.amount.amount(),
            amount: r.amount,
            tariff: None,
            days: None,
            basis: ChargeBasis::Recalculation {
                of_period: r.of_period,
                reason: r.reason.clone(),
            },
        });
    }
    // Penalties accrued in the period (never compounded: penalty tranches are not inputs).
    if let Some(p) = input.penalty {
        let amount = p.report.total() - p.already_charged;
        if !amount.is_zero() {
            bill.lines.push(ChargeLine {
                account: account.id,
                period,
                service: ServiceKind::Penalty,
                zone: Zone::Total,
                tier: Tier::Base,
                quantity: Decimal::ONE,
                unit: Unit::Rouble,
                unit_price: amount.amount(),
                amount,
                tariff: None,
                days: None,
                basis: ChargeBasis::Penalty {
                    lines: p.report.lines().to_vec(),
                    already_charged: p.already_charged,
                },
            });
        }
    }
    cache.priced = priced;
    Ok(())
}

fn line(
    account: AccountId,
    period: Period,
    service: ServiceKind,
    p: &PricedLine,
    basis: ChargeBasis,
) -> ChargeLine {
    ChargeLine {
        account,
        period,
        service,
        zone: p.zone,
        tier: p.tier,
        quantity: p.quantity,
        unit: p.unit,
        unit_price: p.unit_price,
        amount: p.amount,
        tariff: Some(p.tariff),
        days: p.days,
        basis,
    }
}

/// The house facts of a period.
#[derive(Clone, Copy, Debug)]
pub struct HouseInput<'a> {
    /// The house.
    pub house: &'a House,
    /// The accounts of the house billed by this supplier.
    pub accounts: &'a [AccountInput<'a>],
    /// The house electricity meter's volume for the period (`None` without one).
    pub house_meter_volume: Option<Decimal>,
    /// Σ electricity of non-residential premises not billed here.
    pub other_non_residential_volume: Decimal,
    /// Electricity used in the house to produce heat or hot water.
    pub heat_production_volume: Decimal,
    /// A negative ОДН remainder carried in (policy `CarryForward`).
    pub carried_in: Decimal,
    /// The house heat meter's volume for the period, when heating is by the house meter.
    pub heat_meter_volume: Option<Decimal>,
}

/// The bill of a whole house for a period.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct HouseBill {
    /// ОДН, when the supplier bills it.
    pub odn: Option<OdnDistribution>,
    /// One bill per account, in input order.
    pub accounts: Vec<AccountBill>,
}

/// Bills every account of a house for a period: own volumes first, then the house's ОДН split
/// by area, then pricing (ПП 354 Appendix 2). Pure and deterministic.
pub fn bill_house(
    input: &HouseInput<'_>,
    period: Period,
    tariffs: TariffBook<'_>,
    policy: &BillingPolicy,
) -> Result<HouseBill, BillingError> {
    let mut out = HouseBill {
        odn: None,
        accounts: Vec::with_capacity(input.accounts.len()),
    };
    let mut all_volumes = Vec::with_capacity(input.accounts.len());
    let mut flats = Decimal::ZERO;
    let mut non_residential = input.other_non_residential_volume;
    for a in input.accounts {
        if a.premise.house != input.house.id {
            return Err(BillingError::ForeignAccount(a.account.id));
        }
        let v = account_volumes(a, period, policy)?;
        let e: Decimal = v
            .iter()
            .filter(|(s, _)| *s == ServiceKind::Electricity)
            .map(|(_, v)| v.values.total())
            .sum();
        if a.premise.residential {
            flats += e;
        } else {
            non_residential += e;
        }
        all_volumes.push(v);
    }
    let odn = if input.house.odn.billed_by_supplier {
        let areas: Vec<Decimal> = input.accounts.iter().map(|a| a.premise.area).collect();
        Some(
            distribute(&OdnInput {
                house_volume: input.house_meter_volume,
                flats_volume: flats,
                non_residential_volume: non_residential,
                heat_production_volume: input.heat_production_volume,
                carried_in: if policy.negative_odn == crate::policy::NegativeOdnPolicy::CarryForward
                {
                    input.carried_in.min(Decimal::ZERO)
                } else {
                    Decimal::ZERO
                },
                total_area: input.house.total_area,
                common_area: input.house.common_area,
                premise_areas: &areas,
                policy: input.house.odn,
                dp: policy.volume_dp(ServiceKind::ElectricityCommon),
            })
            .map_err(|source| BillingError::Odn {
                house: input.house.id,
                source,
            })?,
        )
    } else {
        None
    };
    // Heating by the house meter: V_house × S_i / S_total, split so the shares add up exactly.
    let heat_shares = match input.heat_meter_volume.filter(|_| input.house.heat_meter) {
        Some(hv) => {
            let areas: Vec<Decimal> = input.accounts.iter().map(|a| a.premise.area).collect();
            let dp = policy.volume_dp(ServiceKind::Heating);
            let to_premises = crate::money::round_dp(
                hv * areas.iter().copied().sum::<Decimal>()
                    / input.house.total_area.max(Decimal::ONE),
                dp,
            );
            let shares =
                allocate(to_premises, &areas, dp).map_err(|source| BillingError::HeatShares {
                    house: input.house.id,
                    source,
                })?;
            Some((shares, hv))
        }
        None => None,
    };
    let mut cache = SegmentCache::default();
    for (i, (a, volumes)) in input.accounts.iter().zip(all_volumes).enumerate() {
        let mut bill = AccountBill::default();
        let facts = HouseFacts {
            electric_heating: input.house.electric_heating,
            heat_share: heat_shares.as_ref().map(|(s, hv)| (s[i], *hv)),
        };
        let has_electricity = a
            .services
            .iter()
            .any(|s| s.service == ServiceKind::Electricity);
        let share = odn
            .as_ref()
            .filter(|_| has_electricity)
            .map(|d| (d.shares[i], &d.basis));
        price_account(
            a, period, tariffs, &mut cache, &volumes, share, facts, policy, &mut bill,
        )?;
        bill.volumes = volumes;
        out.accounts.push(bill);
    }
    out.odn = odn;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{HouseId, PremiseId, SupplierId};
    use crate::model::{AccountNumber, AccountService};
    use crate::odn::OdnPolicy;
    use crate::policy::NegativeOdnPolicy;
    use crate::tariff::{ConsumerGroup, ElectricityTiers, HeatingMode, TariffKind, ZonePrices};
    use rust_decimal_macros::dec;
    use time::macros::date;

    fn house(heat_meter: bool) -> House {
        House {
            id: HouseId::new(1),
            supplier: SupplierId::new(1),
            address: "ул. Ленина, 1".into(),
            total_area: dec!(100),
            common_area: dec!(10),
            odn: OdnPolicy {
                billed_by_supplier: true,
                cap_at_norm: false,
                norm_per_m2_common: dec!(1),
            },
            electric_heating: false,
            heat_meter,
        }
    }

    fn account(services: Vec<AccountService>) -> (Account, Premise) {
        (
            Account {
                id: AccountId::new(1),
                number: AccountNumber::parse("1").unwrap(),
                supplier: SupplierId::new(1),
                premise: PremiseId::new(1),
                holder: "Иванов И. И.".into(),
                group: ConsumerGroup::Population,
                services,
            },
            Premise {
                id: PremiseId::new(1),
                house: HouseId::new(1),
                number: "1".into(),
                area: dec!(100),
                residential: true,
                persons: 1,
                rooms: 1,
            },
        )
    }

    fn tariff(id: u64, service: ServiceKind, kind: TariffKind) -> TariffVersion {
        TariffVersion {
            id: TariffId::new(id),
            supplier: SupplierId::new(1),
            service,
            group: ConsumerGroup::Population,
            valid_from: date!(2026 - 01 - 01),
            kind,
        }
    }

    // Review defect 4: heating charged evenly is billed by the norm every month even with a house
    // meter (the meter's year is settled by the yearly correction).
    #[test]
    fn even_heating_ignores_the_monthly_house_meter_volume() {
        let (a, p) = account(vec![]);
        let services = [ServiceInput {
            service: ServiceKind::Heating,
            meters: &[],
            history: &[],
            norm_per_unit: dec!(0.02),
            meter_installable: false,
        }];
        let inputs = [AccountInput {
            account: &a,
            premise: &p,
            services: &services,
            penalty: None,
            recalculations: &[],
        }];
        let season = [
            true, true, true, true, false, false, false, false, false, true, true, true,
        ];
        let run = |mode| {
            let tariffs = [tariff(
                1,
                ServiceKind::Heating,
                TariffKind::Heating {
                    per_gcal: dec!(2500),
                    norm_gcal_per_m2: dec!(0.02),
                    mode,
                    season,
                },
            )];
            let h = house(true);
            let input = HouseInput {
                house: &h,
                accounts: &inputs,
                house_meter_volume: None,
                other_non_residential_volume: dec!(0),
                heat_production_volume: dec!(0),
                carried_in: dec!(0),
                heat_meter_volume: Some(dec!(5)),
            };
            let mut h2 = h.clone();
            h2.odn.billed_by_supplier = false;
            let input = HouseInput {
                house: &h2,
                ..input
            };
            bill_house(
                &input,
                Period::new(2026, 1).unwrap(),
                TariffBook { versions: &tariffs },
                &BillingPolicy::default(),
            )
            .unwrap()
            .accounts[0]
                .lines[0]
                .quantity
        };
        assert_eq!(run(HeatingMode::Seasonal), dec!(5)); // the house meter's January volume
        assert_eq!(run(HeatingMode::Even), dec!(1.166667)); // 100 m² × 0.02 × 7 / 12
    }

    // Review defect 5: a negative ОДН remainder carried in counts only under CarryForward.
    #[test]
    fn carried_negative_odn_only_under_carry_forward() {
        let (a, p) = account(vec![AccountService {
            service: ServiceKind::Electricity,
            norm_per_unit: dec!(100),
            meter_installable: true,
        }]);
        let services = [ServiceInput {
            service: ServiceKind::Electricity,
            meters: &[],
            history: &[],
            norm_per_unit: dec!(100),
            meter_installable: true,
        }];
        let inputs = [AccountInput {
            account: &a,
            premise: &p,
            services: &services,
            penalty: None,
            recalculations: &[],
        }];
        let tariffs = [tariff(
            1,
            ServiceKind::Electricity,
            TariffKind::Electricity(ElectricityTiers::Flat(ZonePrices::flat(dec!(5)))),
        )];
        let h = house(false);
        // The flat is billed by the norm (100 kWh); the house meter shows 150 → ОДН 50, or 20
        // after a carried-in −30.
        let input = HouseInput {
            house: &h,
            accounts: &inputs,
            house_meter_volume: Some(dec!(150)),
            other_non_residential_volume: dec!(0),
            heat_production_volume: dec!(0),
            carried_in: dec!(-30),
            heat_meter_volume: None,
        };
        let odn = |negative_odn| {
            let policy = BillingPolicy {
                negative_odn,
                ..BillingPolicy::default()
            };
            bill_house(
                &input,
                Period::new(2026, 3).unwrap(),
                TariffBook { versions: &tariffs },
                &policy,
            )
            .unwrap()
            .odn
            .unwrap()
            .basis
            .distributed_volume
        };
        assert_eq!(odn(NegativeOdnPolicy::KeepOnRecord), dec!(50));
        assert_eq!(odn(NegativeOdnPolicy::CarryForward), dec!(20));
    }
}
