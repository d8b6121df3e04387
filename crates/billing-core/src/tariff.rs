//! Tariffs: effective-dated versions per supplier, service and consumer group, and pricing a
//! period's volume with them (billing-rules.md §5, §8; ПП 354 п. 38; ПП 614; ФСТ 1473-э).
//!
//! Pricing returns [`PricedLine`]s — one per (version segment, tier, zone) — each rounded once
//! to kopecks with [`Money::round`]. The service's total is the sum of its lines.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::Date;

use crate::allocation::allocate;
use crate::ids::{SupplierId, TariffId};
use crate::meter::{Zone, ZoneScheme, ZoneValues};
use crate::money::{Money, round_dp};
use crate::period::Period;
use crate::policy::TariffSplitPolicy;
use crate::service::{ServiceKind, Unit};

/// A consumer group: the regulator sets tariffs per group (billing-rules.md §5).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsumerGroup {
    /// Population, general.
    Population,
    /// Urban, with electric stoves or electric heating.
    UrbanElectricStoves,
    /// Rural.
    Rural,
    /// Equated to population (гаражи, садоводства …).
    Equated,
}

/// Prices per kWh (m³ …) of one table: single-rate, two-zone and three-zone.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct ZonePrices {
    /// Single-rate (round the clock).
    pub single: Decimal,
    /// Two-zone: day, night.
    pub two_zone: Option<[Decimal; 2]>,
    /// Three-zone: peak, night, semi-peak (register order).
    pub three_zone: Option<[Decimal; 3]>,
}

impl ZonePrices {
    /// The same price round the clock.
    #[must_use]
    pub fn flat(price: Decimal) -> ZonePrices {
        ZonePrices {
            single: price,
            two_zone: None,
            three_zone: None,
        }
    }

    /// The price of `zone` in `scheme`; `None` if the table has no prices for that scheme.
    #[must_use]
    pub fn price(&self, scheme: ZoneScheme, zone: Zone) -> Option<Decimal> {
        match (scheme, zone) {
            (_, Zone::Total) => Some(self.single),
            (ZoneScheme::TwoZone, Zone::Day) => self.two_zone.map(|p| p[0]),
            (ZoneScheme::TwoZone, Zone::Night) => self.two_zone.map(|p| p[1]),
            (ZoneScheme::ThreeZone, Zone::Peak) => self.three_zone.map(|p| p[0]),
            (ZoneScheme::ThreeZone, Zone::Night) => self.three_zone.map(|p| p[1]),
            (ZoneScheme::ThreeZone, Zone::SemiPeak) => self.three_zone.map(|p| p[2]),
            _ => None,
        }
    }
}

/// The social norm of a region (ПП 614; ПП 354 п. 38): a base volume for one person plus an
/// increment per additional registered person, per month.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct SocialNorm {
    /// Volume for a premise with one person (or none).
    pub base: Decimal,
    /// Added per person beyond the first.
    pub per_additional_person: Decimal,
}

impl SocialNorm {
    /// The monthly norm for `persons`.
    #[must_use]
    pub fn volume(&self, persons: u32) -> Decimal {
        self.base + self.per_additional_person * Decimal::from(persons.saturating_sub(1))
    }
}

/// Consumption ranges (from 01.01.2025): range 1 up to `thresholds[0]`, range 2 up to
/// `thresholds[1]`, range 3 above, each with its prices.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct ConsumptionRanges {
    /// Upper bounds of ranges 1 and 2 per month (for example 3900 and 6000 kWh).
    pub thresholds: [Decimal; 2],
    /// Prices of ranges 1, 2, 3.
    pub prices: [ZonePrices; 3],
    /// Factor raising the thresholds in the heating season for electrically heated houses
    /// without gas (1.8: 7020 and 10800 kWh).
    pub seasonal_factor: Decimal,
    /// Months of the heating season (index 0 = January).
    pub heating_season: [bool; 12],
}

/// How an electricity tariff tiers the month's volume.
#[allow(
    clippy::large_enum_variant,
    reason = "tariff versions are few and Copy; boxing would cost an allocation per lookup"
)]
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "tiers")]
pub enum ElectricityTiers {
    /// One price table for any volume.
    Flat(ZonePrices),
    /// Within the social norm at one table, above it at another.
    SocialNorm {
        /// The norm.
        norm: SocialNorm,
        /// Prices within the norm.
        within: ZonePrices,
        /// Prices above the norm.
        above: ZonePrices,
    },
    /// Consumption ranges.
    Ranges(ConsumptionRanges),
}

/// Heating charged only in the heating season or evenly over the year (billing-rules.md §8).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HeatingMode {
    /// Charged in the months of the heating season only.
    Seasonal,
    /// The season's volume spread evenly over 12 months.
    Even,
}

/// The price structure of a tariff version.
#[allow(
    clippy::large_enum_variant,
    reason = "tariff versions are few and Copy; boxing would cost an allocation per lookup"
)]
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum TariffKind {
    /// Electricity (also prices ОДН at its within-norm / first-range single-rate price).
    Electricity(ElectricityTiers),
    /// One price per unit (cold water, wastewater).
    Volumetric {
        /// Price per unit.
        price: Decimal,
    },
    /// Hot water, two components (ПП 354 п. 38; ПП 406): V × T_water + V × N_heat × T_heat.
    HotWaterTwoComponent {
        /// Price per m³ of water.
        water_per_m3: Decimal,
        /// Price per Gcal.
        heat_per_gcal: Decimal,
        /// Heat to warm 1 m³, Gcal/m³ (regional norm).
        heat_norm_gcal_per_m3: Decimal,
    },
    /// Heating (ПП 354 Appendix 2): by area × norm or by the house meter's share.
    Heating {
        /// Price per Gcal.
        per_gcal: Decimal,
        /// Norm per m² per heating-season month, Gcal.
        norm_gcal_per_m2: Decimal,
        /// Seasonal or even.
        mode: HeatingMode,
        /// Months of the heating season (index 0 = January).
        season: [bool; 12],
    },
}

/// A tariff version in force from `valid_from` until the next version of the same key.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct TariffVersion {
    /// Id.
    pub id: TariffId,
    /// Supplier.
    pub supplier: SupplierId,
    /// Service.
    pub service: ServiceKind,
    /// Consumer group.
    pub group: ConsumerGroup,
    /// First day in force.
    pub valid_from: Date,
    /// Prices.
    pub kind: TariffKind,
}

/// The tier of a priced line.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// No tiering.
    Base,
    /// Within the social norm.
    WithinNorm,
    /// Above the social norm.
    AboveNorm,
    /// Consumption range 1, 2 or 3.
    Range(u8),
    /// The water component of hot water.
    WaterComponent,
    /// The heat component of hot water.
    HeatComponent,
}

/// One priced line: quantity × unit price, rounded once.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct PricedLine {
    /// The tariff version used.
    pub tariff: TariffId,
    /// The days it covers, when a version change split the period.
    pub days: Option<(Date, Date)>,
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
    /// quantity × unit price, rounded half away from zero.
    pub amount: Money,
}

/// Why a volume could not be priced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TariffError {
    /// No version of the tariff is in force in the period.
    #[error("no tariff for {service} of group {group:?} in force in {period}")]
    NoTariff {
        /// Service.
        service: ServiceKind,
        /// Group.
        group: ConsumerGroup,
        /// Period.
        period: Period,
    },
    /// The earliest version in force starts after the period's first day: the days before it
    /// have no price.
    #[error("tariff {tariff:?} is in force only from {from}, not for the whole of {period}")]
    NotInForce {
        /// The version.
        tariff: TariffId,
        /// Its first day.
        from: Date,
        /// The period priced.
        period: Period,
    },
    /// The tariff has no prices for the meter's zone scheme.
    #[error("tariff {0:?} has no prices for {1:?} meters")]
    NoZonePrices(TariffId, ZoneScheme),
    /// The tariff does not fit the service.
    #[error("tariff {0:?} cannot price {1}")]
    WrongKind(TariffId, ServiceKind),
}

/// A version's share of a period.
#[derive(Clone, Copy, Debug)]
pub struct Segment<'a> {
    /// The version.
    pub version: &'a TariffVersion,
    /// First day covered.
    pub from: Date,
    /// Last day covered.
    pub to: Date,
}

impl Segment<'_> {
    /// Days covered.
    #[must_use]
    pub fn days(&self) -> u32 {
        u32::try_from((self.to - self.from).whole_days() + 1).unwrap_or(0)
    }
}

/// The versions in force during `period` and the days each covers. `versions` are all
/// versions of one (supplier, service, group), in any order.
pub fn segments<'a>(
    versions: impl IntoIterator<Item = &'a TariffVersion>,
    period: Period,
    policy: TariffSplitPolicy,
) -> Vec<Segment<'a>> {
    let (first, last) = (period.first_day(), period.last_day());
    let mut sorted: Vec<&TariffVersion> = versions
        .into_iter()
        .filter(|v| v.valid_from <= last)
        .collect();
    sorted.sort_by_key(|v| v.valid_from);
    if policy == TariffSplitPolicy::VersionOnLastDay {
        return sorted
            .last()
            .map(|v| {
                vec![Segment {
                    version: v,
                    from: first,
                    to: last,
                }]
            })
            .unwrap_or_default();
    }
    let mut out = Vec::with_capacity(2);
    for (i, v) in sorted.iter().enumerate() {
        let next_from = sorted.get(i + 1).map(|n| n.valid_from);
        if next_from.is_some_and(|n| n <= first) {
            continue; // superseded before the period began
        }
        let from = v.valid_from.max(first);
        let to = next_from
            .and_then(|n| n.previous_day())
            .map_or(last, |n| n.min(last));
        if from <= to {
            out.push(Segment {
                version: v,
                from,
                to,
            });
        }
    }
    out
}

/// What is priced for one account and service.
#[derive(Clone, Copy, Debug)]
pub struct PricingInput<'a> {
    /// The service.
    pub service: ServiceKind,
    /// The period.
    pub period: Period,
    /// The segments of the period (see [`segments`]).
    pub segments: &'a [Segment<'a>],
    /// The premise's own volume per register.
    pub volume: ZoneValues,
    /// The part of the social norm already used before this volume: zero for the premise's own
    /// volume; for its ОДН share, the premise's own volume when the social norm applies to both
    /// together (billing-rules.md §5; policy `social_norm_includes_odn`), else zero.
    pub norm_already_used: Decimal,
    /// For ОДН under a social-norm tariff: whether the ОДН share counts against the social norm
    /// together with the own volume (policy `social_norm_includes_odn`). When false the ОДН share
    /// neither uses nor is limited by the norm and is priced at the within-norm price
    /// *(confirm)*. Ignored for other services.
    pub odn_in_social_norm: bool,
    /// Registered persons (social norm).
    pub persons: u32,
    /// Whether the house is electrically heated without gas (seasonal range factor).
    pub electric_heating: bool,
    /// Decimals kept by volumes of the service.
    pub volume_dp: u32,
}

/// Prices a period's own volume of a service, splitting by days between versions, by tiers
/// and by zones; every line is rounded once.
///
/// ```
/// use billing_core::{ids::*, meter::*, period::Period, policy::TariffSplitPolicy, service::ServiceKind, tariff::*};
/// use rust_decimal::Decimal;
/// use time::macros::date;
/// let v = [TariffVersion { id: TariffId::new(1), supplier: SupplierId::new(1),
///     service: ServiceKind::Electricity, group: ConsumerGroup::Population,
///     valid_from: date!(2026-01-01),
///     kind: TariffKind::Electricity(ElectricityTiers::Flat(ZonePrices::flat(Decimal::new(685, 2)))) }];
/// let period = Period::new(2026, 3).unwrap();
/// let segs = segments(&v, period, TariffSplitPolicy::ByDays);
/// let lines = price(&PricingInput { service: ServiceKind::Electricity, period, segments: &segs,
///     volume: ZoneValues::single(Decimal::from(150)), norm_already_used: Decimal::ZERO, odn_in_social_norm: true, persons: 1,
///     electric_heating: false, volume_dp: 3 }).unwrap();
/// assert_eq!(lines[0].amount.to_string(), "1027.50");
/// ```
pub fn price(input: &PricingInput<'_>) -> Result<Vec<PricedLine>, TariffError> {
    let mut out = Vec::with_capacity(4);
    price_into(input, &mut out)?;
    Ok(out)
}

/// [`price`] appending to `out` (lets a billing run reuse one buffer).
pub fn price_into(input: &PricingInput<'_>, out: &mut Vec<PricedLine>) -> Result<(), TariffError> {
    let Some(first) = input.segments.first() else {
        return Err(TariffError::NoTariff {
            service: input.service,
            group: ConsumerGroup::Population,
            period: input.period,
        });
    };
    // Days of the period before the first version came into force have no price.
    if first.from > input.period.first_day() {
        return Err(TariffError::NotInForce {
            tariff: first.version.id,
            from: first.from,
            period: input.period,
        });
    }
    let dp = input.volume_dp;
    let period_days = Decimal::from(input.period.days());
    if input.segments.len() == 1 {
        return price_segment(
            input,
            first,
            input.volume,
            input.norm_already_used,
            Decimal::ONE,
            None,
            out,
        );
    }
    // Split every register's volume (and the ОДН volume) by days, exactly.
    let weights: Vec<Decimal> = input
        .segments
        .iter()
        .map(|s| Decimal::from(s.days()))
        .collect();
    let scheme = input.volume.scheme();
    let mut per_zone: Vec<Vec<Decimal>> = Vec::with_capacity(scheme.len());
    for v in input.volume.values() {
        per_zone.push(
            allocate(round_dp(*v, dp), &weights, dp)
                .unwrap_or_else(|_| vec![Decimal::ZERO; weights.len()]),
        );
    }
    let used_parts = allocate(round_dp(input.norm_already_used, dp), &weights, dp)
        .unwrap_or_else(|_| vec![Decimal::ZERO; weights.len()]);
    for (i, seg) in input.segments.iter().enumerate() {
        let vals: Vec<Decimal> = per_zone.iter().map(|z| z[i]).collect();
        let volume = ZoneValues::new(scheme, &vals).unwrap_or(input.volume);
        let share = weights[i] / period_days;
        price_segment(
            input,
            seg,
            volume,
            used_parts[i],
            share,
            Some((seg.from, seg.to)),
            out,
        )?;
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)] // one private step of `price_into`, called from two places
fn price_segment(
    input: &PricingInput<'_>,
    seg: &Segment<'_>,
    volume: ZoneValues,
    norm_used: Decimal,
    share_of_month: Decimal,
    days: Option<(Date, Date)>,
    out: &mut Vec<PricedLine>,
) -> Result<(), TariffError> {
    let v = seg.version;
    let dp = input.volume_dp;
    let unit = input.service.unit();
    let scheme = volume.scheme();
    let mut push = |zone: Zone, tier: Tier, quantity: Decimal, unit: Unit, unit_price: Decimal| {
        out.push(PricedLine {
            tariff: v.id,
            days,
            zone,
            tier,
            quantity,
            unit,
            unit_price,
            amount: Money::round(quantity * unit_price),
        });
    };
    match (&v.kind, input.service) {
        (TariffKind::Electricity(tiers), ServiceKind::Electricity) => {
            let total = volume.total();
            let (tier_ids, bounds, tables): ([Tier; 3], [Decimal; 2], [&ZonePrices; 3]) =
                match tiers {
                    ElectricityTiers::Flat(p) => {
                        for (zone, q) in volume.iter() {
                            let price = p
                                .price(scheme, zone)
                                .ok_or(TariffError::NoZonePrices(v.id, scheme))?;
                            push(zone, Tier::Base, q, unit, price);
                        }
                        return Ok(());
                    }
                    ElectricityTiers::SocialNorm {
                        norm,
                        within,
                        above,
                    } => {
                        // The norm is used up by the premise's own volume first, then by its ОДН share.
                        let n = scale_by(norm.volume(input.persons), share_of_month, dp);
                        let available = (n - norm_used).max(Decimal::ZERO);
                        (
                            [Tier::WithinNorm, Tier::AboveNorm, Tier::AboveNorm],
                            [available, available],
                            [within, above, above],
                        )
                    }
                    ElectricityTiers::Ranges(r) => {
                        let month = usize::from(u8::from(input.period.month())) - 1;
                        let factor = if input.electric_heating && r.heating_season[month] {
                            r.seasonal_factor
                        } else {
                            Decimal::ONE
                        };
                        let k = if factor == Decimal::ONE {
                            share_of_month
                        } else {
                            factor * share_of_month
                        };
                        let t1 = scale_by(r.thresholds[0], k, dp);
                        let t2 = scale_by(r.thresholds[1], k, dp);
                        (
                            [Tier::Range(1), Tier::Range(2), Tier::Range(3)],
                            [t1, t2],
                            [&r.prices[0], &r.prices[1], &r.prices[2]],
                        )
                    }
                };
            // A negative volume is a true-up credit: it reverses estimated volumes, which were
            // charged from the first tier up, so it is credited at the first tier's prices
            // rather than at the dearest (each register at its own first-tier price).
            if total < Decimal::ZERO {
                for (zone, q) in volume.iter() {
                    let price = tables[0]
                        .price(scheme, zone)
                        .ok_or(TariffError::NoZonePrices(v.id, scheme))?;
                    push(zone, tier_ids[0], q, unit, price);
                }
                return Ok(());
            }
            // Split the total into tiers, then each tier across the registers in proportion to
            // what is left of each register, so every register's parts add up to it exactly.
            let b1 = total.min(bounds[0]).max(Decimal::ZERO);
            let b2 = (total.min(bounds[1]) - b1).max(Decimal::ZERO);
            let b3 = total - b1 - b2;
            let mut left = [Decimal::ZERO; 3];
            left[..scheme.len()].copy_from_slice(volume.values());
            for (k, band) in [b1, b2, b3].into_iter().enumerate() {
                if band.is_zero() {
                    continue;
                }
                let n = scheme.len();
                let rest: Decimal = left[..n].iter().copied().sum();
                let mut parts = [Decimal::ZERO; 3];
                if k == 2 || band == rest {
                    parts[..n].copy_from_slice(&left[..n]);
                } else if n == 1 {
                    parts[0] = band;
                } else {
                    let weights: [Decimal; 3] = [
                        left[0].max(Decimal::ZERO),
                        left[1].max(Decimal::ZERO),
                        left[2].max(Decimal::ZERO),
                    ];
                    match allocate(band, &weights[..n], dp) {
                        Ok(v) => parts[..n].copy_from_slice(&v),
                        Err(_) => parts[..n].copy_from_slice(&left[..n]),
                    }
                }
                for (i, zone) in scheme.zones().iter().enumerate() {
                    let q = parts[i];
                    left[i] -= q;
                    if q.is_zero() && n > 1 {
                        continue;
                    }
                    let price = tables[k]
                        .price(scheme, *zone)
                        .ok_or(TariffError::NoZonePrices(v.id, scheme))?;
                    push(*zone, tier_ids[k], q, unit, price);
                }
            }
            Ok(())
        }
        (TariffKind::Electricity(tiers), ServiceKind::ElectricityCommon) => {
            // ОДН is priced at the single-rate price; under a social norm, the part of the norm
            // left after the premise's own volume is used first.
            let q = volume.total();
            match tiers {
                ElectricityTiers::Flat(p) => push(Zone::Total, Tier::Base, q, unit, p.single),
                ElectricityTiers::Ranges(r) => {
                    push(Zone::Total, Tier::Base, q, unit, r.prices[0].single)
                }
                ElectricityTiers::SocialNorm {
                    norm,
                    within,
                    above,
                } => {
                    if !input.odn_in_social_norm {
                        push(Zone::Total, Tier::Base, q, unit, within.single);
                        return Ok(());
                    }
                    let n = scale_by(norm.volume(input.persons), share_of_month, dp);
                    let within_q = (n - norm_used).max(Decimal::ZERO).min(q);
                    if !within_q.is_zero() {
                        push(Zone::Total, Tier::WithinNorm, within_q, unit, within.single);
                    }
                    if within_q != q || q.is_zero() {
                        push(
                            Zone::Total,
                            Tier::AboveNorm,
                            q - within_q,
                            unit,
                            above.single,
                        );
                    }
                }
            }
            Ok(())
        }
        (
            TariffKind::Volumetric { price },
            ServiceKind::ColdWater | ServiceKind::Wastewater | ServiceKind::HotWater,
        ) => {
            push(Zone::Total, Tier::Base, volume.total(), unit, *price);
            Ok(())
        }
        (
            TariffKind::HotWaterTwoComponent {
                water_per_m3,
                heat_per_gcal,
                heat_norm_gcal_per_m3,
            },
            ServiceKind::HotWater,
        ) => {
            let q = volume.total();
            push(
                Zone::Total,
                Tier::WaterComponent,
                q,
                Unit::CubicMetre,
                *water_per_m3,
            );
            let heat = round_dp(
                q * *heat_norm_gcal_per_m3,
                ServiceKind::Heating.default_volume_dp(),
            );
            push(
                Zone::Total,
                Tier::HeatComponent,
                heat,
                Unit::Gigacalorie,
                *heat_per_gcal,
            );
            Ok(())
        }
        (TariffKind::Heating { per_gcal, .. }, ServiceKind::Heating) => {
            push(
                Zone::Total,
                Tier::Base,
                volume.total(),
                Unit::Gigacalorie,
                *per_gcal,
            );
            Ok(())
        }
        _ => Err(TariffError::WrongKind(v.id, input.service)),
    }
}

/// `value × k` at `dp` decimals; `k` is 1 in every period without a tariff change, so skip the
/// multiplication then (the billing hot path).
fn scale_by(value: Decimal, k: Decimal, dp: u32) -> Decimal {
    if k == Decimal::ONE {
        round_dp(value, dp)
    } else {
        round_dp(value * k, dp)
    }
}

/// The heating volume of a premise without a house meter: area × norm in a heating-season month
/// (seasonal), or area × norm × season months / 12 every month (even) — billing-rules.md §8.
#[must_use]
pub fn heating_volume_by_norm(
    kind: &TariffKind,
    area: Decimal,
    period: Period,
    dp: u32,
) -> Option<Decimal> {
    let TariffKind::Heating {
        norm_gcal_per_m2,
        mode,
        season,
        ..
    } = kind
    else {
        return None;
    };
    let month = usize::from(u8::from(period.month())) - 1;
    let v = match mode {
        HeatingMode::Seasonal if season[month] => area * *norm_gcal_per_m2,
        HeatingMode::Seasonal => Decimal::ZERO,
        HeatingMode::Even => {
            let months = season.iter().filter(|m| **m).count();
            area * *norm_gcal_per_m2 * Decimal::from(months) / Decimal::from(12)
        }
    };
    Some(round_dp(v, dp))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;
    use time::macros::date;

    fn version(id: u64, from: Date, kind: TariffKind) -> TariffVersion {
        TariffVersion {
            id: TariffId::new(id),
            supplier: SupplierId::new(1),
            service: ServiceKind::Electricity,
            group: ConsumerGroup::Population,
            valid_from: from,
            kind,
        }
    }

    fn input<'a>(segs: &'a [Segment<'a>], period: Period, volume: ZoneValues) -> PricingInput<'a> {
        PricingInput {
            service: ServiceKind::Electricity,
            period,
            segments: segs,
            volume,
            norm_already_used: Decimal::ZERO,
            odn_in_social_norm: true,
            persons: 2,
            electric_heating: false,
            volume_dp: 3,
        }
    }

    #[test]
    fn mid_period_change_splits_by_days() {
        let vs = [
            version(
                1,
                date!(2026 - 01 - 01),
                TariffKind::Electricity(ElectricityTiers::Flat(ZonePrices::flat(dec!(6)))),
            ),
            version(
                2,
                date!(2026 - 10 - 11),
                TariffKind::Electricity(ElectricityTiers::Flat(ZonePrices::flat(dec!(7)))),
            ),
        ];
        let period = Period::new(2026, 10).unwrap();
        let segs = segments(&vs, period, TariffSplitPolicy::ByDays);
        assert_eq!(segs.len(), 2);
        assert_eq!((segs[0].days(), segs[1].days()), (10, 21));
        let lines = price(&input(&segs, period, ZoneValues::single(dec!(310)))).unwrap();
        assert_eq!(
            lines.iter().map(|l| l.quantity).collect::<Vec<_>>(),
            vec![dec!(100), dec!(210)]
        );
        assert_eq!(
            lines.iter().map(|l| l.amount).sum::<Money>(),
            Money::from_kopecks(60000 + 147000)
        );
        // The next month uses the new version only.
        let segs = segments(&vs, period.next(), TariffSplitPolicy::ByDays);
        assert_eq!(segs.len(), 1);
        assert_eq!(segs[0].version.id, TariffId::new(2));
    }

    #[test]
    fn social_norm_two_zone() {
        let within = ZonePrices {
            single: dec!(5),
            two_zone: Some([dec!(6), dec!(3)]),
            three_zone: None,
        };
        let above = ZonePrices {
            single: dec!(8),
            two_zone: Some([dec!(9), dec!(4)]),
            three_zone: None,
        };
        let vs = [version(
            1,
            date!(2026 - 01 - 01),
            TariffKind::Electricity(ElectricityTiers::SocialNorm {
                norm: SocialNorm {
                    base: dec!(100),
                    per_additional_person: dec!(50),
                },
                within,
                above,
            }),
        )];
        let period = Period::new(2026, 3).unwrap();
        let segs = segments(&vs, period, TariffSplitPolicy::ByDays);
        // 2 persons → norm 150; volume day 200 + night 100 = 300: within 150 split 100/50, above 100/50.
        let lines = price(&input(
            &segs,
            period,
            ZoneValues::new(ZoneScheme::TwoZone, &[dec!(200), dec!(100)]).unwrap(),
        ))
        .unwrap();
        let got: Vec<_> = lines
            .iter()
            .map(|l| (l.zone, l.tier, l.quantity, l.amount))
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    Zone::Day,
                    Tier::WithinNorm,
                    dec!(100),
                    Money::from_roubles(600)
                ),
                (
                    Zone::Night,
                    Tier::WithinNorm,
                    dec!(50),
                    Money::from_roubles(150)
                ),
                (
                    Zone::Day,
                    Tier::AboveNorm,
                    dec!(100),
                    Money::from_roubles(900)
                ),
                (
                    Zone::Night,
                    Tier::AboveNorm,
                    dec!(50),
                    Money::from_roubles(200)
                ),
            ]
        );
    }

    #[test]
    fn ranges_with_seasonal_factor() {
        let r = ConsumptionRanges {
            thresholds: [dec!(3900), dec!(6000)],
            prices: [
                ZonePrices::flat(dec!(5)),
                ZonePrices::flat(dec!(7)),
                ZonePrices::flat(dec!(10)),
            ],
            seasonal_factor: dec!(1.8),
            heating_season: [
                true, true, true, true, false, false, false, false, false, true, true, true,
            ],
        };
        let vs = [version(
            1,
            date!(2026 - 01 - 01),
            TariffKind::Electricity(ElectricityTiers::Ranges(r)),
        )];
        let period = Period::new(2026, 1).unwrap();
        let segs = segments(&vs, period, TariffSplitPolicy::ByDays);
        let mut inp = input(&segs, period, ZoneValues::single(dec!(8000)));
        let q = |lines: Vec<PricedLine>| {
            lines
                .iter()
                .map(|l| (l.tier, l.quantity))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            q(price(&inp).unwrap()),
            vec![
                (Tier::Range(1), dec!(3900)),
                (Tier::Range(2), dec!(2100)),
                (Tier::Range(3), dec!(2000))
            ]
        );
        inp.electric_heating = true;
        assert_eq!(
            q(price(&inp).unwrap()),
            vec![(Tier::Range(1), dec!(7020)), (Tier::Range(2), dec!(980))]
        );
    }

    #[test]
    fn hot_water_two_components() {
        let mut v = version(
            1,
            date!(2026 - 01 - 01),
            TariffKind::HotWaterTwoComponent {
                water_per_m3: dec!(40),
                heat_per_gcal: dec!(2500),
                heat_norm_gcal_per_m3: dec!(0.0612),
            },
        );
        v.service = ServiceKind::HotWater;
        let period = Period::new(2026, 3).unwrap();
        let vs = [v];
        let segs = segments(&vs, period, TariffSplitPolicy::ByDays);
        let mut inp = input(&segs, period, ZoneValues::single(dec!(3.5)));
        inp.service = ServiceKind::HotWater;
        let lines = price(&inp).unwrap();
        // 3.5 × 40 = 140; heat 3.5 × 0.0612 = 0.2142 Gcal × 2500 = 535.50
        assert_eq!(
            lines.iter().map(|l| l.amount).collect::<Vec<_>>(),
            vec![Money::from_roubles(140), Money::from_kopecks(53550)]
        );
    }

    // Review defect 3: a true-up credit reverses estimates charged from the first tier up, so it
    // is credited at the first tier, not the dearest.
    #[test]
    fn negative_volume_is_credited_at_the_first_tier() {
        let r = ConsumptionRanges {
            thresholds: [dec!(100), dec!(200)],
            prices: [
                ZonePrices::flat(dec!(6)),
                ZonePrices::flat(dec!(8)),
                ZonePrices::flat(dec!(12)),
            ],
            seasonal_factor: dec!(1),
            heating_season: [false; 12],
        };
        let vs = [version(
            1,
            date!(2026 - 01 - 01),
            TariffKind::Electricity(ElectricityTiers::Ranges(r)),
        )];
        let period = Period::new(2026, 3).unwrap();
        let segs = segments(&vs, period, TariffSplitPolicy::ByDays);
        let lines = price(&input(&segs, period, ZoneValues::single(dec!(-200)))).unwrap();
        let got: Vec<_> = lines
            .iter()
            .map(|l| (l.tier, l.quantity, l.amount))
            .collect();
        assert_eq!(
            got,
            vec![(Tier::Range(1), dec!(-200), Money::from_roubles(-1200))]
        );
    }

    // Review defect 12: days before the first version came into force have no price.
    #[test]
    fn days_before_the_first_version_are_refused() {
        let vs = [version(
            1,
            date!(2026 - 05 - 20),
            TariffKind::Electricity(ElectricityTiers::Flat(ZonePrices::flat(dec!(7)))),
        )];
        let period = Period::new(2026, 5).unwrap();
        let segs = segments(&vs, period, TariffSplitPolicy::ByDays);
        assert_eq!(
            price(&input(&segs, period, ZoneValues::single(dec!(310)))),
            Err(TariffError::NotInForce {
                tariff: TariffId::new(1),
                from: date!(2026 - 05 - 20),
                period
            })
        );
    }

    // Review defect 7: ОДН outside the social norm neither uses nor is limited by the norm.
    #[test]
    fn odn_inside_and_outside_the_social_norm() {
        let within = ZonePrices::flat(dec!(5));
        let above = ZonePrices::flat(dec!(9));
        let vs = [version(
            1,
            date!(2026 - 01 - 01),
            TariffKind::Electricity(ElectricityTiers::SocialNorm {
                norm: SocialNorm {
                    base: dec!(150),
                    per_additional_person: dec!(0),
                },
                within,
                above,
            }),
        )];
        let period = Period::new(2026, 3).unwrap();
        let segs = segments(&vs, period, TariffSplitPolicy::ByDays);
        let mut inp = input(&segs, period, ZoneValues::single(dec!(20)));
        inp.service = ServiceKind::ElectricityCommon;
        inp.norm_already_used = dec!(400); // own volume used up the norm
        let tiers = |i: &PricingInput<'_>| {
            price(i)
                .unwrap()
                .iter()
                .map(|l| (l.tier, l.quantity, l.unit_price))
                .collect::<Vec<_>>()
        };
        assert_eq!(tiers(&inp), vec![(Tier::AboveNorm, dec!(20), dec!(9))]);
        inp.norm_already_used = dec!(140); // 10 kWh of the norm left
        assert_eq!(
            tiers(&inp),
            vec![
                (Tier::WithinNorm, dec!(10), dec!(5)),
                (Tier::AboveNorm, dec!(10), dec!(9))
            ]
        );
        inp.odn_in_social_norm = false;
        inp.norm_already_used = dec!(400);
        assert_eq!(tiers(&inp), vec![(Tier::Base, dec!(20), dec!(5))]);
    }

    #[test]
    fn heating_by_norm() {
        let k = TariffKind::Heating {
            per_gcal: dec!(2500),
            norm_gcal_per_m2: dec!(0.02),
            mode: HeatingMode::Even,
            season: [
                true, true, true, true, false, false, false, false, false, true, true, true,
            ],
        };
        assert_eq!(
            heating_volume_by_norm(&k, dec!(60), Period::new(2026, 7).unwrap(), 6),
            Some(dec!(0.7))
        ); // 60 × 0.02 × 7 / 12
        let s = TariffKind::Heating {
            per_gcal: dec!(2500),
            norm_gcal_per_m2: dec!(0.02),
            mode: HeatingMode::Seasonal,
            season: [true; 12],
        };
        assert_eq!(
            heating_volume_by_norm(&s, dec!(60), Period::new(2026, 7).unwrap(), 6),
            Some(dec!(1.2))
        );
    }
}

/// The yearly correction of heating charged evenly over 12 months (billing-rules.md §8; ПП 354
/// п. 42(1) — the formula number in Appendix 2 is to be confirmed): the premise's share of what the house meter measured over the year,
/// V_house,year × S_i / S_total, priced at `price_per_gcal`, minus what was charged during the
/// year. Positive: the subscriber owes more; negative: a credit. The result is charged as a
/// [`crate::charge::Recalculation`] with the returned explanation.
///
/// ```
/// use billing_core::{money::Money, tariff::heating_yearly_correction};
/// use rust_decimal::Decimal;
/// // House measured 1200 Gcal; the flat has 60 of 6000 m² → 12 Gcal × 2500 ₽ = 30 000 ₽;
/// // 28 500 ₽ were charged evenly → 1 500 ₽ more.
/// let c = heating_yearly_correction(Decimal::from(1200), Decimal::from(60), Decimal::from(6000),
///     Decimal::from(2500), Money::from_roubles(28_500), 6).unwrap();
/// assert_eq!(c.amount, Money::from_roubles(1_500));
/// ```
pub fn heating_yearly_correction(
    house_year_volume: Decimal,
    area: Decimal,
    total_area: Decimal,
    price_per_gcal: Decimal,
    charged: Money,
    volume_dp: u32,
) -> Option<HeatingCorrection> {
    if total_area <= Decimal::ZERO || area.is_sign_negative() || area > total_area {
        return None;
    }
    let volume = round_dp(house_year_volume * area / total_area, volume_dp);
    let due = Money::round(volume * price_per_gcal);
    Some(HeatingCorrection {
        volume,
        due,
        charged,
        amount: due - charged,
    })
}

/// The result of [`heating_yearly_correction`].
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct HeatingCorrection {
    /// The premise's share of the year's house volume, Gcal.
    pub volume: Decimal,
    /// What that volume costs.
    pub due: Money,
    /// What was charged during the year.
    pub charged: Money,
    /// `due − charged`.
    pub amount: Money,
}

impl HeatingCorrection {
    /// The reason shown on the bill.
    #[must_use]
    pub fn reason(&self) -> String {
        format!(
            "годовая корректировка платы за отопление: по общедомовому прибору {} Гкал на {}, начислено {}",
            self.volume.normalize().to_string().replace('.', ","),
            self.due.to_russian(),
            self.charged.to_russian()
        )
    }
}
