//! ОДН: electricity for the common property of a block of flats, distributed by area
//! (ПП 354 Appendix 2, formulas 12 and 15; billing-rules.md §6).

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::allocation::{AllocationError, allocate};
use crate::money::round_dp;

/// How a house's ОДН is determined: a per-house policy.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct OdnPolicy {
    /// Whether the supplier bills ОДН directly (direct management or none chosen); otherwise
    /// the managing company does and no ОДН lines are produced.
    pub billed_by_supplier: bool,
    /// Whether the distributed volume is capped at the norm-based volume (owners did not decide
    /// otherwise). Since 01.07.2020 under direct management or none chosen the whole volume is
    /// distributed, so the default is false.
    pub cap_at_norm: bool,
    /// The norm N_ОДН, kWh per m² of common property per month.
    pub norm_per_m2_common: Decimal,
}

/// The house facts ОДН needs for one period.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct OdnInput<'a> {
    /// The house meter's volume, `None` without an ОДПУ (or while it is faulty beyond its
    /// average periods).
    pub house_volume: Option<Decimal>,
    /// Σ volumes of the flats as billed this period (meter, estimate or norm).
    pub flats_volume: Decimal,
    /// Σ volumes of the non-residential premises.
    pub non_residential_volume: Decimal,
    /// Volume used in the house to produce heat or hot water.
    pub heat_production_volume: Decimal,
    /// A negative remainder carried from the previous period (policy `CarryForward`), ≤ 0.
    pub carried_in: Decimal,
    /// S_total: total area of all residential and non-residential premises (common areas
    /// excluded).
    pub total_area: Decimal,
    /// S_common: area of the common property.
    pub common_area: Decimal,
    /// S_i of each premise that receives a share, in the order the shares are returned.
    pub premise_areas: &'a [Decimal],
    /// The house's policy.
    pub policy: OdnPolicy,
    /// Decimals of the volume.
    pub dp: u32,
}

/// The basis of the ОДН of a house, shown on each premise's line.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct OdnBasis {
    /// V_house (or the norm-based volume without an ОДПУ).
    pub house_volume: Option<Decimal>,
    /// Σ flats.
    pub flats_volume: Decimal,
    /// Σ non-residential.
    pub non_residential_volume: Decimal,
    /// Heat/hot water production.
    pub heat_production_volume: Decimal,
    /// V_ОДН before the cap (may be negative).
    pub raw_volume: Decimal,
    /// The norm-based volume N_ОДН × S_common.
    pub norm_volume: Decimal,
    /// The volume distributed (≥ 0).
    pub distributed_volume: Decimal,
    /// The negative remainder kept on record (≤ 0).
    pub negative_remainder: Decimal,
    /// S_total.
    pub total_area: Decimal,
}

/// The result: one share per premise, adding up exactly to the distributed volume.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct OdnDistribution {
    /// How the house volume was found.
    pub basis: OdnBasis,
    /// V_i for each premise, in the order of `premise_areas`.
    pub shares: Vec<Decimal>,
}

/// Why ОДН could not be distributed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OdnError {
    /// S_total is zero or negative.
    #[error("total area of the house must be positive")]
    NoArea,
    /// A premise area is negative.
    #[error("premise area must not be negative")]
    NegativeArea,
    /// The areas given exceed S_total.
    #[error("premise areas add up to more than the total area")]
    AreasExceedTotal,
    /// Splitting failed.
    #[error(transparent)]
    Allocation(#[from] AllocationError),
}

/// Distributes the house's ОДН volume by area: V_i = V_ОДН × S_i / S_total, with the parts
/// adding up exactly to the distributed volume of the premises given (all of them when their
/// areas make up S_total).
///
/// ```
/// use billing_core::odn::*;
/// use rust_decimal::Decimal;
/// let areas = [Decimal::from(50), Decimal::from(30), Decimal::from(20)];
/// let d = distribute(&OdnInput {
///     house_volume: Some(Decimal::from(1100)), flats_volume: Decimal::from(1000),
///     non_residential_volume: Decimal::ZERO, heat_production_volume: Decimal::ZERO,
///     carried_in: Decimal::ZERO, total_area: Decimal::from(100), common_area: Decimal::from(20),
///     premise_areas: &areas,
///     policy: OdnPolicy { billed_by_supplier: true, cap_at_norm: false, norm_per_m2_common: Decimal::ONE },
///     dp: 3 }).unwrap();
/// assert_eq!(d.shares, vec![Decimal::from(50), Decimal::from(30), Decimal::from(20)]);
/// ```
pub fn distribute(input: &OdnInput<'_>) -> Result<OdnDistribution, OdnError> {
    if input.total_area <= Decimal::ZERO {
        return Err(OdnError::NoArea);
    }
    if input
        .premise_areas
        .iter()
        .any(|a| a.is_sign_negative() && !a.is_zero())
    {
        return Err(OdnError::NegativeArea);
    }
    let areas: Decimal = input.premise_areas.iter().copied().sum();
    if areas > input.total_area {
        return Err(OdnError::AreasExceedTotal);
    }
    let dp = input.dp;
    let norm_volume = round_dp(input.policy.norm_per_m2_common * input.common_area, dp);
    let raw = match input.house_volume {
        Some(h) => {
            h - input.flats_volume - input.non_residential_volume - input.heat_production_volume
                + input.carried_in
        }
        None => norm_volume,
    };
    let raw = round_dp(raw, dp);
    let (mut distributed, negative_remainder) = if raw < Decimal::ZERO {
        (Decimal::ZERO, raw)
    } else {
        (raw, Decimal::ZERO)
    };
    if input.policy.cap_at_norm && input.house_volume.is_some() {
        distributed = distributed.min(norm_volume);
    }
    // The premises given receive Σ S_i / S_total of the volume; split it exactly among them.
    let to_premises = if areas == input.total_area {
        distributed
    } else {
        round_dp(distributed * areas / input.total_area, dp)
    };
    let shares = if input.premise_areas.is_empty() {
        Vec::new()
    } else {
        allocate(to_premises, input.premise_areas, dp)?
    };
    Ok(OdnDistribution {
        basis: OdnBasis {
            house_volume: input.house_volume,
            flats_volume: input.flats_volume,
            non_residential_volume: input.non_residential_volume,
            heat_production_volume: input.heat_production_volume,
            raw_volume: raw,
            norm_volume,
            distributed_volume: distributed,
            negative_remainder,
            total_area: input.total_area,
        },
        shares,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn input(house: Option<Decimal>, flats: Decimal, areas: &[Decimal]) -> OdnInput<'_> {
        OdnInput {
            house_volume: house,
            flats_volume: flats,
            non_residential_volume: dec!(40),
            heat_production_volume: dec!(10),
            carried_in: Decimal::ZERO,
            total_area: dec!(150),
            common_area: dec!(30),
            premise_areas: areas,
            policy: OdnPolicy {
                billed_by_supplier: true,
                cap_at_norm: false,
                norm_per_m2_common: dec!(1.5),
            },
            dp: 3,
        }
    }

    #[test]
    fn house_with_meter() {
        let areas = [dec!(50), dec!(50), dec!(50)];
        let d = distribute(&input(Some(dec!(1150)), dec!(1000), &areas)).unwrap();
        assert_eq!(d.basis.raw_volume, dec!(100));
        assert_eq!(d.shares, vec![dec!(33.334), dec!(33.333), dec!(33.333)]);
    }

    #[test]
    fn negative_remainder_is_recorded_not_distributed() {
        let areas = [dec!(75), dec!(75)];
        let d = distribute(&input(Some(dec!(1000)), dec!(1000), &areas)).unwrap();
        assert_eq!(d.basis.negative_remainder, dec!(-50));
        assert_eq!(d.shares, vec![dec!(0), dec!(0)]);
    }

    #[test]
    fn cap_and_no_meter() {
        let areas = [dec!(150)];
        let mut i = input(Some(dec!(1150)), dec!(1000), &areas);
        i.policy.cap_at_norm = true;
        assert_eq!(distribute(&i).unwrap().shares, vec![dec!(45)]);
        let mut i = input(None, dec!(1000), &areas);
        i.policy.cap_at_norm = false;
        assert_eq!(distribute(&i).unwrap().shares, vec![dec!(45)]); // 1.5 × 30
    }

    #[test]
    fn errors() {
        let areas = [dec!(100), dec!(100)];
        assert_eq!(
            distribute(&input(Some(dec!(1)), dec!(0), &areas)),
            Err(OdnError::AreasExceedTotal)
        );
        let mut i = input(Some(dec!(1)), dec!(0), &[]);
        i.total_area = dec!(0);
        assert_eq!(distribute(&i), Err(OdnError::NoArea));
    }
}

/// The house meter's volume for ОДН (billing-rules.md §6): by its readings; while it is faulty or
/// unread, its average for at most 3 periods (the same rule as for flats, ПП 354 п. 59); after
/// that `None`, which makes [`distribute`] use the norm-based formula N_ОДН × S_common.
///
/// `input.norm` is ignored: a house meter has no per-person norm.
pub fn house_meter_volume(
    input: &crate::volume::VolumeInput<'_>,
    policy: &crate::policy::BillingPolicy,
) -> Result<Option<(Decimal, crate::volume::VolumeBasis)>, crate::volume::VolumeError> {
    use crate::volume::{NormSpec, VolumeInput, VolumeKind, determine_volume};
    let house = VolumeInput {
        norm: NormSpec {
            per_unit: Decimal::ZERO,
            factor: Decimal::ZERO,
            meter_installable: false,
        },
        residential: true,
        ..*input
    };
    let v = determine_volume(&house, policy)?;
    Ok(match v.kind {
        VolumeKind::Norm => None,
        _ => Some((v.values.total(), v.basis)),
    })
}

#[cfg(test)]
mod house_meter_tests {
    use super::*;
    use crate::ids::MeterId;
    use crate::meter::{Meter, RegisterSpec, ZoneValues};
    use crate::period::Period;
    use crate::policy::BillingPolicy;
    use crate::service::ServiceKind;
    use crate::volume::{MeterPart, NormSpec, PastVolume, VolumeInput, VolumeKind};
    use rust_decimal_macros::dec;
    use time::macros::date;

    #[test]
    fn faulty_house_meter_uses_its_average_then_the_norm_formula() {
        let meter = Meter {
            id: MeterId::new(100),
            account: None,
            service: ServiceKind::Electricity,
            serial: "ОДПУ-1".into(),
            registers: RegisterSpec::single(6),
            installed_on: date!(2020 - 01 - 01),
            commissioned_on: Some(date!(2020 - 01 - 01)),
            verification_due: None,
            failed_on: Some(date!(2026 - 01 - 05)),
            removed_on: None,
            automatic: true,
        };
        let parts = [MeterPart {
            meter: &meter,
            opening: None,
            closing: None,
        }];
        let mut history: Vec<PastVolume> = (1..=6)
            .map(|k| PastVolume {
                period: Period::new(2025, 6 + k).unwrap(),
                kind: VolumeKind::Readings,
                values: ZoneValues::single(dec!(9000)),
            })
            .collect();
        let policy = BillingPolicy::default();
        let mut period = Period::new(2026, 1).unwrap();
        for _ in 0..3 {
            let input = VolumeInput {
                service: ServiceKind::Electricity,
                period,
                meters: &parts,
                history: &history,
                norm: NormSpec {
                    per_unit: dec!(1),
                    factor: dec!(1),
                    meter_installable: true,
                },
                residential: true,
            };
            let (v, _) = house_meter_volume(&input, &policy).unwrap().unwrap();
            assert_eq!(v, dec!(9000));
            history.push(PastVolume {
                period,
                kind: VolumeKind::Average,
                values: ZoneValues::single(v),
            });
            period = period.next();
        }
        let input = VolumeInput {
            service: ServiceKind::Electricity,
            period,
            meters: &parts,
            history: &history,
            norm: NormSpec {
                per_unit: dec!(1),
                factor: dec!(1),
                meter_installable: true,
            },
            residential: true,
        };
        assert_eq!(house_meter_volume(&input, &policy).unwrap(), None);
    }
}
