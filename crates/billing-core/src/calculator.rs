//! The quick estimate the cabinets offer before a reading is submitted: given a tariff and two
//! readings of a meter (with rollover), the amount and its explanation.

use rust_decimal::Decimal;

use crate::meter::{RegisterSpec, Zone, ZoneValues};
use crate::money::{Money, round_dp};
use crate::period::Period;
use crate::policy::BillingPolicy;
use crate::reading::register_delta;
use crate::service::ServiceKind;
use crate::tariff::{PricedLine, PricingInput, TariffError, TariffVersion, price, segments};

/// What the estimate is asked for.
#[derive(Clone, Copy, Debug)]
pub struct EstimateRequest<'a> {
    /// The service (electricity, water …).
    pub service: ServiceKind,
    /// Tariff versions; those of `group` and `service` are used.
    pub tariffs: &'a [TariffVersion],
    /// The subscriber's consumer group.
    pub group: crate::tariff::ConsumerGroup,
    /// The meter's registers.
    pub registers: RegisterSpec,
    /// The previous reading, one value per register.
    pub previous: &'a [Decimal],
    /// The new reading, one value per register.
    pub current: &'a [Decimal],
    /// The period to price in.
    pub period: Period,
    /// Registered persons (social norm).
    pub persons: u32,
    /// Whether the house is electrically heated without gas (raises the consumption-range
    /// thresholds in the heating season).
    pub electric_heating: bool,
}

/// The estimate.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Estimate {
    /// Consumption per register (Δ × K).
    pub consumption: ZoneValues,
    /// Registers that rolled over.
    pub rollover: [bool; 3],
    /// Priced lines.
    pub lines: Vec<PricedLine>,
    /// The total: the sum of the rounded lines.
    pub total: Money,
}

impl Estimate {
    /// The estimate explained in Russian, one line per priced line.
    #[must_use]
    pub fn explain(&self) -> Vec<String> {
        self.lines
            .iter()
            .map(|l| {
                let zone = if l.zone == Zone::Total {
                    String::new()
                } else {
                    format!(" ({})", l.zone.russian_name())
                };
                format!(
                    "{} {}{zone} × {} ₽ = {}",
                    crate::charge::ru_num(l.quantity),
                    l.unit.russian(),
                    crate::charge::ru_price(l.unit_price),
                    l.amount.to_russian()
                )
            })
            .collect()
    }
}

/// Why an estimate could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EstimateError {
    /// The number of values does not match the registers.
    #[error("expected {expected} values per reading, got {previous} and {current}")]
    WrongZoneCount {
        /// Registers.
        expected: usize,
        /// Values in the previous reading.
        previous: usize,
        /// Values in the current reading.
        current: usize,
    },
    /// A value is negative or exceeds the register's digits.
    #[error("value {0} does not fit the register")]
    OutOfRange(Decimal),
    /// The tariff cannot price it.
    #[error(transparent)]
    Tariff(#[from] TariffError),
}

impl EstimateError {
    /// The refusal in Russian.
    #[must_use]
    pub fn user_message(&self) -> String {
        match self {
            EstimateError::WrongZoneCount { expected, .. } => {
                format!("Укажите показания каждой из {expected} тарифных зон.")
            }
            EstimateError::OutOfRange(v) => {
                format!("Показание {v} не помещается на табло прибора учёта.")
            }
            EstimateError::Tariff(_) => "Для расчёта нет действующего тарифа.".into(),
        }
    }
}

/// Estimates the charge for the consumption between two readings.
///
/// ```
/// use billing_core::calculator::*;
/// use billing_core::{ids::*, meter::RegisterSpec, period::Period, service::ServiceKind, tariff::*};
/// use rust_decimal::Decimal;
/// use time::macros::date;
/// let tariffs = [TariffVersion { id: TariffId::new(1), supplier: SupplierId::new(1),
///     service: ServiceKind::Electricity, group: ConsumerGroup::Population, valid_from: date!(2026-01-01),
///     kind: TariffKind::Electricity(ElectricityTiers::Flat(ZonePrices::flat(Decimal::new(685, 2)))) }];
/// let e = estimate(&EstimateRequest { service: ServiceKind::Electricity, tariffs: &tariffs, group: ConsumerGroup::Population,
///     registers: RegisterSpec::single(4), previous: &[Decimal::from(9993)], current: &[Decimal::from(7)],
///     period: Period::new(2026, 3).unwrap(), persons: 1, electric_heating: false }, &Default::default()).unwrap();
/// assert_eq!(e.consumption.total(), Decimal::from(14)); // 9993 → 0007
/// assert_eq!(e.total.to_string(), "95.90"); // 14 × 6.85
/// ```
pub fn estimate(
    req: &EstimateRequest<'_>,
    policy: &BillingPolicy,
) -> Result<Estimate, EstimateError> {
    let spec = req.registers;
    let n = spec.scheme.len();
    if req.previous.len() != n || req.current.len() != n {
        return Err(EstimateError::WrongZoneCount {
            expected: n,
            previous: req.previous.len(),
            current: req.current.len(),
        });
    }
    let dp = policy.volume_dp(req.service);
    let mut vols = [Decimal::ZERO; 3];
    let mut rollover = [false; 3];
    for i in 0..n {
        for v in [req.previous[i], req.current[i]] {
            if v.is_sign_negative() && !v.is_zero() || v.trunc() >= spec.capacity() {
                return Err(EstimateError::OutOfRange(v));
            }
        }
        let d = register_delta(req.previous[i], req.current[i], &spec);
        vols[i] = round_dp(d.delta * spec.coefficient, dp);
        rollover[i] = d.rollover;
    }
    let consumption =
        ZoneValues::new(spec.scheme, &vols[..n]).map_err(|e| EstimateError::WrongZoneCount {
            expected: e.expected,
            previous: n,
            current: n,
        })?;
    let segs = segments(
        req.tariffs
            .iter()
            .filter(|t| t.service == req.service && t.group == req.group),
        req.period,
        policy.tariff_split,
    );
    let lines = price(&PricingInput {
        service: req.service,
        period: req.period,
        segments: &segs,
        volume: consumption,
        norm_already_used: Decimal::ZERO,
        odn_in_social_norm: true,
        persons: req.persons,
        electric_heating: req.electric_heating,
        volume_dp: dp,
    })?;
    let total = lines.iter().map(|l| l.amount).sum();
    Ok(Estimate {
        consumption,
        rollover,
        lines,
        total,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{SupplierId, TariffId};
    use crate::meter::ZoneScheme;
    use crate::tariff::{ConsumerGroup, ElectricityTiers, TariffKind, ZonePrices};
    use rust_decimal_macros::dec;
    use time::macros::date;

    fn version(id: u64, group: ConsumerGroup, price: Decimal) -> TariffVersion {
        TariffVersion {
            id: TariffId::new(id),
            supplier: SupplierId::new(1),
            service: ServiceKind::Electricity,
            group,
            valid_from: date!(2026 - 01 - 01),
            kind: TariffKind::Electricity(ElectricityTiers::Flat(ZonePrices {
                single: price,
                two_zone: Some([price, price / dec!(2)]),
                three_zone: None,
            })),
        }
    }

    #[test]
    fn uses_the_subscribers_group_and_zones() {
        let tariffs = [
            version(1, ConsumerGroup::Rural, dec!(4.80)),
            version(2, ConsumerGroup::Population, dec!(6.84)),
        ];
        let spec = RegisterSpec {
            scheme: ZoneScheme::TwoZone,
            digits: 5,
            decimals: 0,
            coefficient: Decimal::ONE,
        };
        let e = estimate(
            &EstimateRequest {
                service: ServiceKind::Electricity,
                tariffs: &tariffs,
                group: ConsumerGroup::Population,
                registers: spec,
                previous: &[dec!(99990), dec!(100)],
                current: &[dec!(10), dec!(150)],
                period: Period::new(2026, 3).unwrap(),
                persons: 1,
                electric_heating: false,
            },
            &BillingPolicy::default(),
        )
        .unwrap();
        // Day 20 kWh (rollover) × 6.84 = 136.80; night 50 kWh × 3.42 = 171.00.
        assert_eq!(e.rollover, [true, false, false]);
        assert_eq!(e.total, Money::from_kopecks(30780));
        assert_eq!(
            e.explain()[0],
            "20 кВт·ч (день (T1)) × 6,84 ₽ = 136,80\u{a0}₽"
        );
    }

    #[test]
    fn refuses_values_that_do_not_fit() {
        let tariffs = [version(1, ConsumerGroup::Population, dec!(5))];
        let (one, two, too_big) = ([dec!(1)], [dec!(2)], [dec!(10000)]);
        let req = EstimateRequest {
            service: ServiceKind::Electricity,
            tariffs: &[],
            group: ConsumerGroup::Population,
            registers: RegisterSpec::single(4),
            previous: &one,
            current: &too_big,
            period: Period::new(2026, 3).unwrap(),
            persons: 1,
            electric_heating: false,
        };
        let p = BillingPolicy::default();
        assert_eq!(
            estimate(&req, &p),
            Err(EstimateError::OutOfRange(dec!(10000)))
        );
        assert!(matches!(
            estimate(
                &EstimateRequest {
                    current: &[],
                    ..req
                },
                &p
            ),
            Err(EstimateError::WrongZoneCount { .. })
        ));
        assert!(matches!(
            estimate(
                &EstimateRequest {
                    current: &two,
                    ..req
                },
                &p
            ),
            Err(EstimateError::Tariff(_))
        ));
        let ok = EstimateRequest {
            current: &two,
            tariffs: &tariffs,
            ..req
        };
        assert_eq!(estimate(&ok, &p).unwrap().total, Money::from_roubles(5));
    }
}
