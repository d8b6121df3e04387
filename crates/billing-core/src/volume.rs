//! The volume of a service for a period: by readings, by average, by norm, and the true-up when
//! a real reading follows estimated periods (ПП 354 п. 42, 59, 60, 81; billing-rules.md §4).

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::Date;

use crate::ids::MeterId;
use crate::meter::{Meter, MeterStatus, ZoneScheme, ZoneValues};
use crate::money::round_dp;
use crate::period::Period;
use crate::policy::BillingPolicy;
use crate::reading::register_delta;
use crate::service::ServiceKind;

/// How a period's volume was determined.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VolumeKind {
    /// From the readings of working meters.
    Readings,
    /// From readings, corrected for the volumes estimated before (true-up).
    TrueUp,
    /// By the average of past readings-based volumes.
    Average,
    /// By the norm.
    Norm,
}

impl VolumeKind {
    /// True for estimated volumes (average or norm) that a later reading trues up.
    #[must_use]
    pub fn is_estimate(self) -> bool {
        matches!(self, VolumeKind::Average | VolumeKind::Norm)
    }
}

/// A volume billed in an earlier period, as the history the estimates are made from.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct PastVolume {
    /// The period.
    pub period: Period,
    /// How it was determined.
    pub kind: VolumeKind,
    /// The volume per register (for norm volumes: a single value).
    pub values: ZoneValues,
}

/// One meter's part of a period: its opening and (if read) closing values.
#[derive(Clone, Copy, Debug)]
pub struct MeterPart<'a> {
    /// The meter.
    pub meter: &'a Meter,
    /// The last accepted real reading before the period (or the initial reading of a new meter)
    /// and the day it was taken.
    pub opening: Option<(ZoneValues, Date)>,
    /// The accepted reading of this period, or the final reading of a meter removed in it.
    pub closing: Option<(ZoneValues, Date)>,
}

/// Why an estimate was used instead of readings.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EstimateReason {
    /// Readings were not submitted in the window (п. 59 «б»).
    NoReading,
    /// The meter failed (п. 59 «а»).
    MeterFailed,
    /// The meter's verification interval expired (п. 59 «а»).
    VerificationExpired,
    /// There is no working meter on the account (п. 42), including one not yet commissioned.
    NoMeter,
}

impl EstimateReason {
    /// The reason in Russian, for the bill.
    #[must_use]
    pub fn russian(self) -> &'static str {
        match self {
            EstimateReason::NoReading => "показания не переданы",
            EstimateReason::MeterFailed => "прибор учёта неисправен",
            EstimateReason::VerificationExpired => "истёк межповерочный интервал",
            EstimateReason::NoMeter => "нет исправного прибора учёта",
        }
    }
}

/// The basis of a volume: enough to answer "why this much?".
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum VolumeBasis {
    /// Sum over meters of (closing − opening) × K, with rollover.
    Readings {
        /// The meter (the new one on replacement).
        meter: MeterId,
        /// Opening values and day.
        opening: ZoneValues,
        /// Closing values.
        closing: ZoneValues,
        /// Transformation coefficient.
        coefficient: Decimal,
        /// Whether any register rolled over.
        rollover: bool,
        /// Whether a replaced meter's final part is included.
        replacement: bool,
    },
    /// Readings-based volume minus what was already charged by estimate since the last reading.
    TrueUp {
        /// The meter.
        meter: MeterId,
        /// Volume by readings since the last real reading.
        measured: Decimal,
        /// Volume already charged by estimates since then.
        estimated: Decimal,
        /// Estimated periods being trued up.
        estimated_periods: u32,
    },
    /// Average of earlier readings-based volumes.
    Average {
        /// Months averaged.
        months: u32,
        /// Why.
        reason: EstimateReason,
        /// Which consecutive estimated period this is (1-based).
        nth_period: u32,
    },
    /// Norm × persons (or × area) × coefficient.
    Norm {
        /// The norm per person or per m² and month.
        norm: Decimal,
        /// Persons or m² it was multiplied by.
        factor: Decimal,
        /// The increasing coefficient, if one applied.
        coefficient: Option<Decimal>,
        /// Why.
        reason: EstimateReason,
    },
}

/// The volume of one service for one period.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct PeriodVolume {
    /// How it was determined.
    pub kind: VolumeKind,
    /// The volume per register (a single value for norm; may be negative after a true-up).
    pub values: ZoneValues,
    /// Its basis.
    pub basis: VolumeBasis,
}

/// The norm of consumption of a premise (норматив), set by the region.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct NormSpec {
    /// Volume per month per person (electricity, water) or per m² (heating).
    pub per_unit: Decimal,
    /// Persons registered (or, if none, owners — ПП 354 п. 56(2)) or the area in m².
    pub factor: Decimal,
    /// Whether a meter can be installed (when it cannot, no increasing coefficient applies).
    pub meter_installable: bool,
}

/// Everything needed to find the volume of one service on one account for a period.
#[derive(Clone, Copy, Debug)]
pub struct VolumeInput<'a> {
    /// The service.
    pub service: ServiceKind,
    /// The period.
    pub period: Period,
    /// Meters of the service on the account in the period (old and new on replacement).
    pub meters: &'a [MeterPart<'a>],
    /// Earlier billed volumes of the service, oldest first.
    pub history: &'a [PastVolume],
    /// The norm.
    pub norm: NormSpec,
    /// Whether the premise is residential (average for 3 periods, else 2).
    pub residential: bool,
}

/// Why a volume could not be determined.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VolumeError {
    /// The meters of the account do not share one register scheme.
    #[error("meters of the account have different zone schemes")]
    MixedSchemes,
    /// A meter's readings are older than its opening reading.
    #[error("closing reading of meter {0:?} precedes its opening reading")]
    ClosingBeforeOpening(MeterId),
}

/// Determines the volume of a service for a period.
///
/// Order of precedence (billing-rules.md §4): readings of working meters (with a true-up of
/// earlier estimates); otherwise the average for at most 3 (2 non-residential) consecutive
/// periods if ≥ 3 months of readings-based history exist; otherwise the norm, with the
/// increasing coefficient when the meter is missing or broken beyond the average periods (never
/// for a plain non-submission).
pub fn determine_volume(
    input: &VolumeInput<'_>,
    policy: &BillingPolicy,
) -> Result<PeriodVolume, VolumeError> {
    let dp = policy.volume_dp(input.service);
    let last_day = input.period.last_day();

    // 1. Readings.
    let scheme = input.meters.first().map(|m| m.meter.registers.scheme);
    if input
        .meters
        .iter()
        .any(|m| Some(m.meter.registers.scheme) != scheme)
    {
        return Err(VolumeError::MixedSchemes);
    }
    let mut measured: Option<(ZoneValues, &MeterPart<'_>, bool)> = None;
    let mut replacement = false;
    // The earliest opening reading among the parts measured: estimates before it are not trued up.
    let mut earliest_opening: Option<Date> = None;
    for part in input.meters {
        let (Some((open, open_day)), Some((close, close_day))) = (part.opening, part.closing)
        else {
            continue;
        };
        // ПП 354 п. 81: a newly installed meter counts from the month after commissioning —
        // unless it replaces another meter in the same period, whose part it completes.
        let first_billed = part.meter.first_billed_period();
        if input.meters.len() == 1 && first_billed.is_some_and(|p| p > input.period) {
            continue;
        }
        earliest_opening = Some(earliest_opening.map_or(open_day, |d: Date| d.min(open_day)));
        if close_day < open_day {
            return Err(VolumeError::ClosingBeforeOpening(part.meter.id));
        }
        let spec = &part.meter.registers;
        let mut rolled = false;
        let mut vals = [Decimal::ZERO; 3];
        for (i, (o, c)) in open.values().iter().zip(close.values()).enumerate() {
            let d = register_delta(*o, *c, spec);
            rolled |= d.rollover;
            vals[i] = if spec.coefficient == Decimal::ONE {
                round_dp(d.delta, dp)
            } else {
                round_dp(d.delta * spec.coefficient, dp)
            };
        }
        let v = ZoneValues::new(spec.scheme, &vals[..spec.scheme.len()])
            .map_err(|_| VolumeError::MixedSchemes)?;
        measured = Some(match measured {
            None => (v, part, rolled),
            Some((acc, first, r)) => {
                replacement = true;
                let prefer = if part.meter.removed_on.is_none() {
                    part
                } else {
                    first
                };
                (
                    acc.checked_add(&v).map_err(|_| VolumeError::MixedSchemes)?,
                    prefer,
                    r || rolled,
                )
            }
        });
    }
    if let Some((values, part, rollover)) = measured {
        let (open, _) = part.opening.unwrap_or((values, last_day));
        let (close, _) = part.closing.unwrap_or((values, last_day));
        // True up only the estimates charged since this meter's opening reading: estimates made
        // while an earlier meter was broken, before a new meter's initial reading, are not
        // reversed by the new meter's consumption (billing-rules.md §4).
        let since = earliest_opening.unwrap_or(last_day);
        let trailing = trailing_estimates(input.history);
        let first_after = trailing
            .iter()
            .position(|p| p.period.first_day() > since)
            .unwrap_or(trailing.len());
        let estimated: &[PastVolume] = &trailing[first_after..];
        if estimated.is_empty() {
            return Ok(PeriodVolume {
                kind: VolumeKind::Readings,
                values,
                basis: VolumeBasis::Readings {
                    meter: part.meter.id,
                    opening: open,
                    closing: close,
                    coefficient: part.meter.registers.coefficient,
                    rollover,
                    replacement,
                },
            });
        }
        // True-up: subtract what the estimates already charged, register by register where the
        // estimates were per register, else proportionally to the measured registers.
        let est_total: Decimal = estimated.iter().map(|p| p.values.total()).sum();
        let measured_total = values.total();
        let mut per_zone = values;
        let same_scheme = estimated
            .iter()
            .all(|p| p.values.scheme() == values.scheme());
        if same_scheme {
            for p in estimated {
                per_zone = ZoneValues::new(
                    values.scheme(),
                    &per_zone
                        .values()
                        .iter()
                        .zip(p.values.values())
                        .map(|(a, b)| *a - *b)
                        .collect::<Vec<_>>(),
                )
                .unwrap_or(per_zone);
            }
        } else if values.scheme() == ZoneScheme::Single || measured_total.is_zero() {
            per_zone = ZoneValues::new(values.scheme(), &{
                let mut v = values.values().to_vec();
                v[0] -= est_total;
                v
            })
            .unwrap_or(per_zone);
        } else {
            let parts = crate::allocation::allocate(est_total, values.values(), dp)
                .unwrap_or_else(|_| values.values().to_vec());
            per_zone = ZoneValues::new(
                values.scheme(),
                &values
                    .values()
                    .iter()
                    .zip(parts)
                    .map(|(a, b)| *a - b)
                    .collect::<Vec<_>>(),
            )
            .unwrap_or(per_zone);
        }
        return Ok(PeriodVolume {
            kind: VolumeKind::TrueUp,
            values: per_zone,
            basis: VolumeBasis::TrueUp {
                meter: part.meter.id,
                measured: measured_total,
                estimated: est_total,
                estimated_periods: u32::try_from(estimated.len()).unwrap_or(u32::MAX),
            },
        });
    }

    // 2. Why there is no reading.
    let working = input.meters.iter().find(|m| {
        m.meter.status_on(last_day).is_working()
            && m.meter
                .first_billed_period()
                .is_some_and(|p| p <= input.period)
    });
    // The reason, and for a failure or an expiry the day it happened.
    let (reason, event_day) = match working {
        Some(_) => (EstimateReason::NoReading, None),
        None => input
            .meters
            .iter()
            .find_map(|m| match m.meter.status_on(last_day) {
                MeterStatus::Failed { since } => Some((EstimateReason::MeterFailed, Some(since))),
                MeterStatus::VerificationExpired { since } => {
                    Some((EstimateReason::VerificationExpired, Some(since)))
                }
                _ => None,
            })
            .unwrap_or((EstimateReason::NoMeter, None)),
    };

    // 3. Average, for a limited number of consecutive periods.
    let max_periods = if input.residential {
        policy.average.max_periods_residential
    } else {
        policy.average.max_periods_non_residential
    };
    // The average applies for at most `max_periods` consecutive estimated periods; once the norm
    // has been used, the norm goes on until a real reading (ПП 354 п. 59, 60).
    let trailing = trailing_estimates(input.history);
    let norm_started = trailing.iter().any(|p| p.kind == VolumeKind::Norm);
    let consecutive_average = u32::try_from(trailing.len()).unwrap_or(u32::MAX);
    if reason != EstimateReason::NoMeter && !norm_started && consecutive_average < max_periods {
        let scheme = scheme.unwrap_or(ZoneScheme::Single);
        if let Some((avg, months)) = average(input.history, scheme, input.period, policy, dp) {
            return Ok(PeriodVolume {
                kind: VolumeKind::Average,
                values: avg,
                basis: VolumeBasis::Average {
                    months,
                    reason,
                    nth_period: consecutive_average + 1,
                },
            });
        }
    }

    // 4. Norm. The increasing coefficient applies without a meter that could be installed, and
    // after a failure or expiry only from the 4th month after the event (ПП 354 п. 60) — never
    // for a plain non-submission.
    let coefficient_due = match (reason, event_day) {
        (EstimateReason::NoReading, _) => false,
        (_, Some(day)) => Period::of(day).months_until(input.period) >= 3,
        (_, None) => true,
    };
    let coefficient = if coefficient_due && input.norm.meter_installable {
        policy
            .increasing
            .coefficient(input.service, input.period.first_day())
    } else {
        None
    };
    let mut v = input.norm.per_unit * input.norm.factor;
    if let Some(k) = coefficient {
        v *= k;
    }
    let v = round_dp(v, dp);
    Ok(PeriodVolume {
        kind: VolumeKind::Norm,
        values: ZoneValues::single(v),
        basis: VolumeBasis::Norm {
            norm: input.norm.per_unit,
            factor: input.norm.factor,
            coefficient,
            reason,
        },
    })
}

/// The estimated periods since the last readings-based one.
fn trailing_estimates(history: &[PastVolume]) -> &[PastVolume] {
    let n = history
        .iter()
        .rev()
        .take_while(|p| p.kind.is_estimate())
        .count();
    &history[history.len() - n..]
}

/// The monthly average of readings-based volumes over the last `full_months` periods before
/// `period` that have them; `None` with fewer than `min_months`.
#[must_use]
pub fn average(
    history: &[PastVolume],
    scheme: ZoneScheme,
    period: Period,
    policy: &BillingPolicy,
    dp: u32,
) -> Option<(ZoneValues, u32)> {
    let mut sum = ZoneValues::zero(scheme);
    let mut n = 0_u32;
    for p in history.iter().rev().filter(|p| {
        p.kind == VolumeKind::Readings && p.period < period && p.values.scheme() == scheme
    }) {
        if n == policy.average.full_months {
            break;
        }
        sum = sum.checked_add(&p.values).ok()?;
        n += 1;
    }
    if n < policy.average.min_months || n == 0 {
        return None;
    }
    let d = Decimal::from(n);
    Some((sum.map(|v| round_dp(v / d, dp)), n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::AccountId;
    use crate::meter::RegisterSpec;
    use rust_decimal_macros::dec;
    use time::macros::date;

    fn meter() -> Meter {
        Meter {
            id: MeterId::new(7),
            account: Some(AccountId::new(1)),
            service: ServiceKind::Electricity,
            serial: "7".into(),
            registers: RegisterSpec::single(4),
            installed_on: date!(2024 - 01 - 01),
            commissioned_on: Some(date!(2024 - 01 - 01)),
            verification_due: Some(date!(2035 - 01 - 01)),
            failed_on: None,
            removed_on: None,
            automatic: false,
        }
    }

    fn p(y: i32, m: u32) -> Period {
        Period::new(y, m).unwrap()
    }

    fn hist(kind: VolumeKind, from: Period, vols: &[Decimal]) -> Vec<PastVolume> {
        vols.iter()
            .enumerate()
            .map(|(i, v)| PastVolume {
                period: from.plus_months(i32::try_from(i).unwrap()),
                kind,
                values: ZoneValues::single(*v),
            })
            .collect()
    }

    const NORM: NormSpec = NormSpec {
        per_unit: Decimal::from_parts(100, 0, 0, false, 0),
        factor: Decimal::from_parts(2, 0, 0, false, 0),
        meter_installable: true,
    };

    /// A residential premise's input with the test norm.
    fn vin<'a>(
        service: ServiceKind,
        period: Period,
        meters: &'a [MeterPart<'a>],
        history: &'a [PastVolume],
    ) -> VolumeInput<'a> {
        VolumeInput {
            service,
            period,
            meters,
            history,
            norm: NORM,
            residential: true,
        }
    }

    #[test]
    fn readings_with_rollover() {
        let m = meter();
        let parts = [MeterPart {
            meter: &m,
            opening: Some((ZoneValues::single(dec!(9993)), date!(2026 - 02 - 20))),
            closing: Some((ZoneValues::single(dec!(7)), date!(2026 - 03 - 20))),
        }];
        let v = determine_volume(
            &VolumeInput {
                service: ServiceKind::Electricity,
                period: p(2026, 3),
                meters: &parts,
                history: &[],
                norm: NORM,
                residential: true,
            },
            &BillingPolicy::default(),
        )
        .unwrap();
        assert_eq!(v.kind, VolumeKind::Readings);
        assert_eq!(v.values.total(), dec!(14));
    }

    #[test]
    fn average_then_norm_without_coefficient_for_non_submission() {
        let m = meter();
        let parts = [MeterPart {
            meter: &m,
            opening: Some((ZoneValues::single(dec!(100)), date!(2025 - 08 - 20))),
            closing: None,
        }];
        let mut history = hist(
            VolumeKind::Readings,
            p(2025, 3),
            &[
                dec!(100),
                dec!(110),
                dec!(120),
                dec!(130),
                dec!(140),
                dec!(150),
            ],
        );
        let policy = BillingPolicy::default();
        let mut period = p(2025, 9);
        for nth in 1..=3 {
            let v = determine_volume(
                &vin(ServiceKind::Electricity, period, &parts, &history),
                &policy,
            )
            .unwrap();
            assert_eq!(v.kind, VolumeKind::Average);
            assert_eq!(v.values.total(), dec!(125));
            assert_eq!(
                v.basis,
                VolumeBasis::Average {
                    months: 6,
                    reason: EstimateReason::NoReading,
                    nth_period: nth
                }
            );
            history.push(PastVolume {
                period,
                kind: v.kind,
                values: v.values,
            });
            period = period.next();
        }
        let v = determine_volume(
            &vin(ServiceKind::Electricity, period, &parts, &history),
            &policy,
        )
        .unwrap();
        assert_eq!(v.kind, VolumeKind::Norm);
        assert_eq!(v.values.total(), dec!(200));
        assert!(matches!(
            v.basis,
            VolumeBasis::Norm {
                coefficient: None,
                reason: EstimateReason::NoReading,
                ..
            }
        ));
    }

    #[test]
    fn failed_water_meter_gets_the_coefficient_after_average() {
        let mut m = meter();
        m.service = ServiceKind::ColdWater;
        m.failed_on = Some(date!(2025 - 12 - 10));
        let parts = [MeterPart {
            meter: &m,
            opening: None,
            closing: None,
        }];
        let history = hist(
            VolumeKind::Average,
            p(2025, 12),
            &[dec!(5), dec!(5), dec!(5)],
        );
        let v = determine_volume(
            &VolumeInput {
                service: ServiceKind::ColdWater,
                period: p(2026, 3),
                meters: &parts,
                history: &history,
                norm: NORM,
                residential: true,
            },
            &BillingPolicy::default(),
        )
        .unwrap();
        assert_eq!(v.values.total(), dec!(600));
        assert!(
            matches!(v.basis, VolumeBasis::Norm { coefficient: Some(c), reason: EstimateReason::MeterFailed, .. } if c == dec!(3))
        );
    }

    #[test]
    fn short_history_goes_to_norm_at_once() {
        let m = meter();
        let parts = [MeterPart {
            meter: &m,
            opening: None,
            closing: None,
        }];
        let history = hist(VolumeKind::Readings, p(2026, 1), &[dec!(100), dec!(100)]);
        let v = determine_volume(
            &VolumeInput {
                service: ServiceKind::Electricity,
                period: p(2026, 3),
                meters: &parts,
                history: &history,
                norm: NORM,
                residential: true,
            },
            &BillingPolicy::default(),
        )
        .unwrap();
        assert_eq!(v.kind, VolumeKind::Norm);
    }

    #[test]
    fn true_up_after_estimates() {
        let m = meter();
        let parts = [MeterPart {
            meter: &m,
            opening: Some((ZoneValues::single(dec!(1000)), date!(2025 - 12 - 20))),
            closing: Some((ZoneValues::single(dec!(1300)), date!(2026 - 03 - 20))),
        }];
        let mut history = hist(VolumeKind::Readings, p(2025, 6), &[dec!(100); 6]);
        history.extend(hist(
            VolumeKind::Average,
            p(2026, 1),
            &[dec!(100), dec!(100)],
        ));
        let v = determine_volume(
            &VolumeInput {
                service: ServiceKind::Electricity,
                period: p(2026, 3),
                meters: &parts,
                history: &history,
                norm: NORM,
                residential: true,
            },
            &BillingPolicy::default(),
        )
        .unwrap();
        assert_eq!(v.kind, VolumeKind::TrueUp);
        assert_eq!(v.values.total(), dec!(100));
        assert_eq!(
            v.basis,
            VolumeBasis::TrueUp {
                meter: m.id,
                measured: dec!(300),
                estimated: dec!(200),
                estimated_periods: 2
            }
        );
    }

    #[test]
    fn replacement_sums_both_meters() {
        let mut old = meter();
        old.removed_on = Some(date!(2026 - 03 - 10));
        let mut new = meter();
        new.id = MeterId::new(8);
        new.commissioned_on = Some(date!(2026 - 03 - 10));
        let parts = [
            MeterPart {
                meter: &old,
                opening: Some((ZoneValues::single(dec!(500)), date!(2026 - 02 - 20))),
                closing: Some((ZoneValues::single(dec!(540)), date!(2026 - 03 - 10))),
            },
            MeterPart {
                meter: &new,
                opening: Some((ZoneValues::single(dec!(0)), date!(2026 - 03 - 10))),
                closing: Some((ZoneValues::single(dec!(60)), date!(2026 - 03 - 22))),
            },
        ];
        let v = determine_volume(
            &VolumeInput {
                service: ServiceKind::Electricity,
                period: p(2026, 3),
                meters: &parts,
                history: &[],
                norm: NORM,
                residential: true,
            },
            &BillingPolicy::default(),
        )
        .unwrap();
        assert_eq!(v.values.total(), dec!(100));
        assert!(
            matches!(v.basis, VolumeBasis::Readings { replacement: true, meter, .. } if meter == MeterId::new(8))
        );
    }

    // Review defect 1: a new meter's consumption does not true up estimates charged while the
    // old meter was broken.
    #[test]
    fn new_meter_does_not_true_up_the_old_meters_estimates() {
        let mut new = meter();
        new.id = MeterId::new(9);
        new.commissioned_on = Some(date!(2026 - 04 - 10));
        let parts = [MeterPart {
            meter: &new,
            opening: Some((ZoneValues::single(dec!(0)), date!(2026 - 04 - 10))),
            closing: Some((ZoneValues::single(dec!(160)), date!(2026 - 05 - 20))),
        }];
        let mut history = hist(VolumeKind::Average, p(2026, 1), &[dec!(125); 3]);
        history.extend(hist(VolumeKind::Norm, p(2026, 4), &[dec!(375)]));
        let v = determine_volume(
            &VolumeInput {
                service: ServiceKind::Electricity,
                period: p(2026, 5),
                meters: &parts,
                history: &history,
                norm: NORM,
                residential: true,
            },
            &BillingPolicy::default(),
        )
        .unwrap();
        assert_eq!(v.kind, VolumeKind::Readings);
        assert_eq!(v.values.total(), dec!(160));
    }

    // Review defect 2: after the average periods the norm goes on; it never returns to the
    // average until a real reading arrives.
    #[test]
    fn norm_continues_after_the_average_periods() {
        let m = meter();
        let parts = [MeterPart {
            meter: &m,
            opening: Some((ZoneValues::single(dec!(100)), date!(2025 - 08 - 20))),
            closing: None,
        }];
        let mut history = hist(VolumeKind::Readings, p(2025, 3), &[dec!(125); 6]);
        let policy = BillingPolicy::default();
        let mut kinds = Vec::new();
        let mut period = p(2025, 9);
        for _ in 0..8 {
            let v = determine_volume(
                &vin(ServiceKind::Electricity, period, &parts, &history),
                &policy,
            )
            .unwrap();
            kinds.push(v.kind);
            history.push(PastVolume {
                period,
                kind: v.kind,
                values: v.values,
            });
            period = period.next();
        }
        use VolumeKind::{Average as A, Norm as N};
        assert_eq!(kinds, vec![A, A, A, N, N, N, N, N]);
    }

    // Review defect 6: with too little history for an average, a failed meter's norm gets the
    // increasing coefficient only from the 4th month after the failure.
    #[test]
    fn coefficient_waits_for_the_fourth_month_after_a_failure() {
        let mut m = meter();
        m.service = ServiceKind::ColdWater;
        m.failed_on = Some(date!(2026 - 02 - 10));
        let parts = [MeterPart {
            meter: &m,
            opening: None,
            closing: None,
        }];
        let policy = BillingPolicy::default();
        let coefficient = |period| match determine_volume(
            &vin(ServiceKind::ColdWater, period, &parts, &[]),
            &policy,
        )
        .unwrap()
        .basis
        {
            VolumeBasis::Norm { coefficient, .. } => coefficient,
            other => panic!("expected the norm, got {other:?}"),
        };
        assert_eq!(coefficient(p(2026, 2)), None);
        assert_eq!(coefficient(p(2026, 4)), None);
        assert_eq!(coefficient(p(2026, 5)), Some(dec!(3)));
    }

    // Review defect 8: a newly installed meter (no replacement) counts from the month after its
    // commissioning (ПП 354 п. 81); its commissioning month is estimated.
    #[test]
    fn new_meter_counts_from_the_month_after_commissioning() {
        let mut m = meter();
        m.commissioned_on = Some(date!(2026 - 03 - 05));
        let parts = [MeterPart {
            meter: &m,
            opening: Some((ZoneValues::single(dec!(0)), date!(2026 - 03 - 05))),
            closing: Some((ZoneValues::single(dec!(40)), date!(2026 - 03 - 20))),
        }];
        let input = |period| vin(ServiceKind::Electricity, period, &parts, &[]);
        let policy = BillingPolicy::default();
        assert_eq!(
            determine_volume(&input(p(2026, 3)), &policy).unwrap().kind,
            VolumeKind::Norm
        );
        assert_eq!(
            determine_volume(&input(p(2026, 4)), &policy).unwrap().kind,
            VolumeKind::Readings
        );
    }
}
