//! Every configurable billing policy in one place, each with the default the rules suggest.
//!
//! billing-rules.md marks some facts "(confirm)": those are never constants in the code but
//! fields here. `docs/billing.md` lists each field, its default and its source.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::Date;
use time::macros::date;

use crate::period::{DueDayPolicy, Period};
use crate::service::ServiceKind;

/// The days of a month on which subscribers submit readings (ПП 354 п. 31 «е», 34 «к(1)»:
/// up to the 25th inclusive; suppliers open the window earlier).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct ReadingsWindow {
    /// First day of the window (default 15).
    pub opens_on_day: u32,
    /// Last day of the window, inclusive (default 25; never later than 25 by law).
    pub closes_on_day: u32,
    /// Whether a reading taken before the window opens is accepted for the current period
    /// (default true); when false it is refused with a message naming the opening day.
    pub accept_before_window: bool,
}

impl Default for ReadingsWindow {
    fn default() -> Self {
        ReadingsWindow {
            opens_on_day: 15,
            closes_on_day: 25,
            accept_before_window: true,
        }
    }
}

impl ReadingsWindow {
    /// Where a reading submitted on `date` belongs: the period of the date while the window is
    /// open (or not yet open), the next period after it closes (billing-rules.md §2).
    #[must_use]
    pub fn period_for(&self, date: Date) -> Period {
        let p = Period::of(date);
        if u32::from(date.day()) > self.closes_on_day {
            p.next()
        } else {
            p
        }
    }

    /// True if `date` is inside the window.
    #[must_use]
    pub fn is_open_on(&self, date: Date) -> bool {
        (self.opens_on_day..=self.closes_on_day).contains(&u32::from(date.day()))
    }
}

/// When a register value is a believable reading rather than a typo (billing-rules.md §3).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct PlausibilityPolicy {
    /// A value below the previous one is a rollover only if the modular volume is below this
    /// share of the register capacity 10^N (default 0.1).
    pub rollover_max_share_of_capacity: Decimal,
    /// A volume above this multiple of the average monthly volume is refused as implausible
    /// (default 10); checked only when an average is known.
    pub max_multiple_of_average: Decimal,
    /// …but never refused below this volume in register units (default 1000), so small
    /// averages do not make ordinary months implausible.
    pub min_implausible_volume: Decimal,
}

impl Default for PlausibilityPolicy {
    fn default() -> Self {
        PlausibilityPolicy {
            rollover_max_share_of_capacity: Decimal::new(1, 1),
            max_multiple_of_average: Decimal::TEN,
            min_implausible_volume: Decimal::from(1000),
        }
    }
}

/// Billing by average when there is no valid reading (ПП 354 п. 59, 60).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct AveragePolicy {
    /// Months of readings-based history over which the average is taken (default 6).
    pub full_months: u32,
    /// The least history that allows an average; with less, the norm applies (default 3).
    pub min_months: u32,
    /// Consecutive periods billed by average for residential premises (default 3, п. 59).
    pub max_periods_residential: u32,
    /// …and for non-residential premises (default 2).
    pub max_periods_non_residential: u32,
}

impl Default for AveragePolicy {
    fn default() -> Self {
        AveragePolicy {
            full_months: 6,
            min_months: 3,
            max_periods_residential: 3,
            max_periods_non_residential: 2,
        }
    }
}

/// One dated increasing coefficient for billing by the norm.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct CoefficientRule {
    /// The service it applies to.
    pub service: ServiceKind,
    /// The first day it applies.
    pub from: Date,
    /// The multiplier of the norm.
    pub value: Decimal,
}

/// Increasing coefficients (повышающий коэффициент) for billing by the norm without a working
/// meter though one can be installed (billing-rules.md §4).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct IncreasingCoefficientPolicy {
    /// Dated rules; for a service and date the latest rule that has started applies.
    /// Defaults: 1.5 for electricity, hot and cold water from 01.01.2017 (ПП 603 of 29.06.2016);
    /// 3 for cold water from 06.12.2025 (ПП 1871 of 25.11.2025). Never for heating.
    pub rules: Vec<CoefficientRule>,
    /// Whether the coefficient applies to electricity once meter replacement became the
    /// supplier's duty (522-ФЗ, from `supplier_duty_from`). The rules mark this "(confirm)";
    /// default false: the subscriber is not penalised for the supplier's omission.
    pub electricity_after_supplier_duty: bool,
    /// The day the supplier's duty to install electricity meters began (01.07.2020).
    pub supplier_duty_from: Date,
}

impl Default for IncreasingCoefficientPolicy {
    fn default() -> Self {
        let one_and_half = Decimal::new(15, 1);
        IncreasingCoefficientPolicy {
            rules: vec![
                CoefficientRule {
                    service: ServiceKind::Electricity,
                    from: date!(2017 - 01 - 01),
                    value: one_and_half,
                },
                CoefficientRule {
                    service: ServiceKind::HotWater,
                    from: date!(2017 - 01 - 01),
                    value: one_and_half,
                },
                CoefficientRule {
                    service: ServiceKind::ColdWater,
                    from: date!(2017 - 01 - 01),
                    value: one_and_half,
                },
                CoefficientRule {
                    service: ServiceKind::ColdWater,
                    from: date!(2025 - 12 - 06),
                    value: Decimal::from(3),
                },
            ],
            electricity_after_supplier_duty: false,
            supplier_duty_from: date!(2020 - 07 - 01),
        }
    }
}

impl IncreasingCoefficientPolicy {
    /// The coefficient for `service` on `date`, if any applies. Heating never has one.
    #[must_use]
    pub fn coefficient(&self, service: ServiceKind, date: Date) -> Option<Decimal> {
        if service == ServiceKind::Heating {
            return None;
        }
        if service == ServiceKind::Electricity
            && !self.electricity_after_supplier_duty
            && date >= self.supplier_duty_from
        {
            return None;
        }
        self.rules
            .iter()
            .filter(|r| r.service == service && r.from <= date)
            .max_by_key(|r| r.from)
            .map(|r| r.value)
    }
}

/// How the volume of a period is priced when a tariff version starts inside it.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TariffSplitPolicy {
    /// Split the volume by the days each version was in force (default; billing-rules.md §5).
    #[default]
    ByDays,
    /// Price the whole period with the version in force on its last day.
    VersionOnLastDay,
}

/// What happens to a negative ОДН volume (flats above the house meter; billing-rules.md §6,
/// marked "(confirm)").
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NegativeOdnPolicy {
    /// Zero ОДН charge; the negative remainder is kept on record only (default).
    #[default]
    KeepOnRecord,
    /// Zero ОДН charge; the negative remainder reduces the next period's house volume.
    CarryForward,
}

/// Every configurable billing policy of a supplier.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct BillingPolicy {
    /// The readings window.
    pub readings_window: ReadingsWindow,
    /// The statutory due day.
    pub due_day: DueDayPolicy,
    /// Plausibility of readings.
    pub plausibility: PlausibilityPolicy,
    /// Billing by average.
    pub average: AveragePolicy,
    /// Increasing coefficients of the norm.
    pub increasing: IncreasingCoefficientPolicy,
    /// Tariff versions starting inside a period.
    pub tariff_split: TariffSplitPolicy,
    /// Negative ОДН remainders.
    pub negative_odn: NegativeOdnPolicy,
    /// Whether the social norm applies to the flat's volume plus its ОДН share when the
    /// supplier bills ОДН directly (default true, billing-rules.md §5).
    pub social_norm_includes_odn: bool,
    /// Decimals kept by volumes, per service, overriding [`ServiceKind::default_volume_dp`].
    pub volume_dp: Vec<(ServiceKind, u32)>,
    /// Whether manual readings of meters in an automatic metering system are refused
    /// (default true).
    pub refuse_manual_readings_of_automatic_meters: bool,
}

impl Default for BillingPolicy {
    fn default() -> Self {
        BillingPolicy {
            readings_window: ReadingsWindow::default(),
            due_day: DueDayPolicy::default(),
            plausibility: PlausibilityPolicy::default(),
            average: AveragePolicy::default(),
            increasing: IncreasingCoefficientPolicy::default(),
            tariff_split: TariffSplitPolicy::default(),
            negative_odn: NegativeOdnPolicy::default(),
            social_norm_includes_odn: true,
            volume_dp: Vec::new(),
            refuse_manual_readings_of_automatic_meters: true,
        }
    }
}

impl BillingPolicy {
    /// Decimals kept by volumes of `service`.
    #[must_use]
    pub fn volume_dp(&self, service: ServiceKind) -> u32 {
        self.volume_dp
            .iter()
            .find(|(s, _)| *s == service)
            .map_or_else(|| service.default_volume_dp(), |(_, dp)| *dp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coefficients() {
        let p = IncreasingCoefficientPolicy::default();
        assert_eq!(
            p.coefficient(ServiceKind::ColdWater, date!(2025 - 12 - 05)),
            Some(Decimal::new(15, 1))
        );
        assert_eq!(
            p.coefficient(ServiceKind::ColdWater, date!(2025 - 12 - 06)),
            Some(Decimal::from(3))
        );
        assert_eq!(
            p.coefficient(ServiceKind::HotWater, date!(2026 - 01 - 01)),
            Some(Decimal::new(15, 1))
        );
        assert_eq!(
            p.coefficient(ServiceKind::Heating, date!(2026 - 01 - 01)),
            None
        );
        assert_eq!(
            p.coefficient(ServiceKind::Electricity, date!(2019 - 01 - 01)),
            Some(Decimal::new(15, 1))
        );
        assert_eq!(
            p.coefficient(ServiceKind::Electricity, date!(2021 - 01 - 01)),
            None
        );
        assert_eq!(
            p.coefficient(ServiceKind::HotWater, date!(2016 - 12 - 31)),
            None
        );
    }

    #[test]
    fn window() {
        let w = ReadingsWindow::default();
        assert_eq!(
            w.period_for(date!(2026 - 03 - 25)),
            Period::new(2026, 3).unwrap()
        );
        assert_eq!(
            w.period_for(date!(2026 - 03 - 26)),
            Period::new(2026, 4).unwrap()
        );
        assert!(w.is_open_on(date!(2026 - 03 - 15)));
        assert!(!w.is_open_on(date!(2026 - 03 - 14)));
    }
}
