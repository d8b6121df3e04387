//! Meters: registers per tariff zone, digit capacity, transformation coefficient and lifecycle
//! (billing-rules.md §3; ПП 354 п. 81, 81(12)).

use std::fmt;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::Date;

use crate::ids::{AccountId, MeterId};
use crate::period::Period;
use crate::service::ServiceKind;

/// A tariff zone of a register (ФСТ order 1473-э: two-zone day 07–23 / night 23–07; three-zone
/// peak 07–10 and 17–21, semi-peak 10–17 and 21–23, night 23–07).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Zone {
    /// The only register of a single-rate meter (and the zone of norm or average volumes of a
    /// zoned meter that are priced at the single-rate price).
    Total,
    /// Day, T1 of a two-zone meter.
    Day,
    /// Night, T2 of a two- or three-zone meter.
    Night,
    /// Peak, T1 of a three-zone meter.
    Peak,
    /// Semi-peak, T3 of a three-zone meter.
    SemiPeak,
}

impl Zone {
    /// The name printed on the bill.
    #[must_use]
    pub fn russian_name(self) -> &'static str {
        match self {
            Zone::Total => "круглосуточно",
            Zone::Day => "день (T1)",
            Zone::Night => "ночь (T2)",
            Zone::Peak => "пик (T1)",
            Zone::SemiPeak => "полупик (T3)",
        }
    }
}

/// How many registers a meter has and which zones they measure.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ZoneScheme {
    /// One register.
    Single,
    /// Day and night.
    TwoZone,
    /// Peak, night and semi-peak (in this register order: T1, T2, T3).
    ThreeZone,
}

impl ZoneScheme {
    /// The zones of the registers, in register order.
    #[must_use]
    pub fn zones(self) -> &'static [Zone] {
        match self {
            ZoneScheme::Single => &[Zone::Total],
            ZoneScheme::TwoZone => &[Zone::Day, Zone::Night],
            ZoneScheme::ThreeZone => &[Zone::Peak, Zone::Night, Zone::SemiPeak],
        }
    }

    /// The number of registers.
    #[must_use]
    pub fn len(self) -> usize {
        self.zones().len()
    }

    /// Always false: every scheme has at least one register.
    #[must_use]
    pub fn is_empty(self) -> bool {
        false
    }
}

/// One value per register of a meter (readings or volumes), in register order. Fixed-size and
/// `Copy`, so the hot billing path never allocates for it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ZoneValues {
    scheme: ZoneScheme,
    values: [Decimal; 3],
}

impl ZoneValues {
    /// Values for `scheme`; fails unless exactly one value per register is given.
    pub fn new(scheme: ZoneScheme, values: &[Decimal]) -> Result<ZoneValues, WrongZoneCount> {
        if values.len() != scheme.len() {
            return Err(WrongZoneCount {
                expected: scheme.len(),
                given: values.len(),
            });
        }
        let mut v = [Decimal::ZERO; 3];
        v[..values.len()].copy_from_slice(values);
        Ok(ZoneValues { scheme, values: v })
    }

    /// A single-register value.
    #[must_use]
    pub fn single(value: Decimal) -> ZoneValues {
        ZoneValues {
            scheme: ZoneScheme::Single,
            values: [value, Decimal::ZERO, Decimal::ZERO],
        }
    }

    /// Zero in every register of `scheme`.
    #[must_use]
    pub fn zero(scheme: ZoneScheme) -> ZoneValues {
        ZoneValues {
            scheme,
            values: [Decimal::ZERO; 3],
        }
    }

    /// The scheme.
    #[must_use]
    pub fn scheme(&self) -> ZoneScheme {
        self.scheme
    }

    /// The values in register order.
    #[must_use]
    pub fn values(&self) -> &[Decimal] {
        &self.values[..self.scheme.len()]
    }

    /// `(zone, value)` pairs in register order.
    pub fn iter(&self) -> impl Iterator<Item = (Zone, Decimal)> + '_ {
        self.scheme
            .zones()
            .iter()
            .copied()
            .zip(self.values().iter().copied())
    }

    /// The sum over all registers.
    #[must_use]
    pub fn total(&self) -> Decimal {
        self.values().iter().copied().sum()
    }

    /// Applies `f` to every register.
    #[must_use]
    pub fn map(&self, mut f: impl FnMut(Decimal) -> Decimal) -> ZoneValues {
        let mut out = *self;
        for v in &mut out.values[..self.scheme.len()] {
            *v = f(*v);
        }
        out
    }

    /// Register-wise sum; fails if the schemes differ.
    pub fn checked_add(&self, other: &ZoneValues) -> Result<ZoneValues, WrongZoneCount> {
        if self.scheme != other.scheme {
            return Err(WrongZoneCount {
                expected: self.scheme.len(),
                given: other.scheme.len(),
            });
        }
        let mut out = *self;
        for i in 0..self.scheme.len() {
            out.values[i] += other.values[i];
        }
        Ok(out)
    }
}

impl fmt::Debug for ZoneValues {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.values()).finish()
    }
}

/// The number of register values does not match the meter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("expected {expected} register values, got {given}")]
pub struct WrongZoneCount {
    /// Registers of the meter.
    pub expected: usize,
    /// Values given.
    pub given: usize,
}

/// The register geometry of a meter: what any reading of it must look like.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct RegisterSpec {
    /// Zones.
    pub scheme: ZoneScheme,
    /// Integer digits N of each register: it rolls over after 10^N − 1.
    pub digits: u32,
    /// Decimal digits shown by each register (0 for most electricity meters, 3 for water).
    pub decimals: u32,
    /// Transformation coefficient K (current × voltage transformer ratio; 1 for direct meters):
    /// volume = Δregister × K.
    pub coefficient: Decimal,
}

impl RegisterSpec {
    /// A direct single-rate meter with `digits` integer digits and no decimals.
    #[must_use]
    pub fn single(digits: u32) -> RegisterSpec {
        RegisterSpec {
            scheme: ZoneScheme::Single,
            digits,
            decimals: 0,
            coefficient: Decimal::ONE,
        }
    }

    /// 10^N, the value at which a register rolls over to zero.
    #[must_use]
    pub fn capacity(&self) -> Decimal {
        Decimal::from(10_u64.pow(self.digits.min(18)))
    }
}

/// A meter's state on a date (billing-rules.md §3).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum MeterStatus {
    /// Installed but not yet commissioned: not a basis for billing.
    NotCommissioned,
    /// Commissioned and working.
    Working,
    /// Out of order since the date (ПП 354 п. 81(12)): shows nothing, seals broken, damaged,
    /// error above the limit.
    Failed {
        /// First day out of order.
        since: Date,
    },
    /// The verification interval has expired (ПП 354 п. 81(12) «д»).
    VerificationExpired {
        /// First day after the verification due date.
        since: Date,
    },
    /// Removed from the premise (replaced or dismantled).
    Removed {
        /// The day it was removed.
        since: Date,
    },
}

impl MeterStatus {
    /// True when readings of the meter may be used for billing.
    #[must_use]
    pub fn is_working(self) -> bool {
        matches!(self, MeterStatus::Working)
    }
}

/// A meter installed on a personal account (ИПУ) or on a house (ОДПУ).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Meter {
    /// Id.
    pub id: MeterId,
    /// The account it is billed to (`None` for a house meter).
    pub account: Option<AccountId>,
    /// What it measures.
    pub service: ServiceKind,
    /// Factory serial number (the subscriber proves ownership of an ЛС with it).
    pub serial: String,
    /// Registers.
    pub registers: RegisterSpec,
    /// The day it was installed.
    pub installed_on: Date,
    /// The day it was commissioned (acceptance act), if it has been.
    pub commissioned_on: Option<Date>,
    /// The last day of its current verification interval, from its passport. Never derived
    /// from a hard-coded interval.
    pub verification_due: Option<Date>,
    /// The day it was found out of order, if it was.
    pub failed_on: Option<Date>,
    /// The day it was removed, if it was.
    pub removed_on: Option<Date>,
    /// Part of an automatic metering system (АСКУЭ/ИСУ): readings arrive by themselves.
    pub automatic: bool,
}

/// Dates on which a meter's expiry rule was suspended (ПП 424: 06.04.2020–01.01.2021).
pub const VERIFICATION_EXPIRY_SUSPENDED: (Date, Date) = (
    time::macros::date!(2020 - 04 - 06),
    time::macros::date!(2021 - 01 - 01),
);

impl Meter {
    /// The state of the meter on `date`.
    ///
    /// Removal wins over failure, failure over expiry. An expiry that falls into the ПП 424
    /// suspension window counts from the end of the window.
    #[must_use]
    pub fn status_on(&self, date: Date) -> MeterStatus {
        if let Some(r) = self.removed_on.filter(|r| *r <= date) {
            return MeterStatus::Removed { since: r };
        }
        match self.commissioned_on {
            Some(c) if c <= date => {}
            _ => return MeterStatus::NotCommissioned,
        }
        if let Some(f) = self.failed_on.filter(|f| *f <= date) {
            return MeterStatus::Failed { since: f };
        }
        if let Some(due) = self.verification_due {
            let mut since = due.next_day().unwrap_or(due);
            let (from, to) = VERIFICATION_EXPIRY_SUSPENDED;
            if since >= from && since < to {
                since = to;
            }
            if since <= date {
                return MeterStatus::VerificationExpired { since };
            }
        }
        MeterStatus::Working
    }

    /// The first period billed by this meter's own readings: the month after commissioning
    /// (ПП 354 п. 81). `None` if it has not been commissioned.
    #[must_use]
    pub fn first_billed_period(&self) -> Option<Period> {
        self.commissioned_on.map(|c| Period::of(c).next())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn meter() -> Meter {
        Meter {
            id: MeterId::new(1),
            account: Some(AccountId::new(1)),
            service: ServiceKind::Electricity,
            serial: "353425345".into(),
            registers: RegisterSpec::single(4),
            installed_on: date!(2020 - 01 - 10),
            commissioned_on: Some(date!(2020 - 01 - 15)),
            verification_due: Some(date!(2020 - 05 - 31)),
            failed_on: None,
            removed_on: None,
            automatic: false,
        }
    }

    #[test]
    fn lifecycle() {
        let m = meter();
        assert_eq!(
            m.status_on(date!(2020 - 01 - 12)),
            MeterStatus::NotCommissioned
        );
        assert_eq!(m.status_on(date!(2020 - 02 - 01)), MeterStatus::Working);
        // Expiry on 01.06.2020 falls into the ПП 424 suspension: counted from 01.01.2021.
        assert_eq!(m.status_on(date!(2020 - 12 - 31)), MeterStatus::Working);
        assert_eq!(
            m.status_on(date!(2021 - 01 - 01)),
            MeterStatus::VerificationExpired {
                since: date!(2021 - 01 - 01)
            }
        );
        let mut failed = m.clone();
        failed.failed_on = Some(date!(2020 - 03 - 03));
        assert_eq!(
            failed.status_on(date!(2020 - 03 - 04)),
            MeterStatus::Failed {
                since: date!(2020 - 03 - 03)
            }
        );
        failed.removed_on = Some(date!(2020 - 04 - 01));
        assert_eq!(
            failed.status_on(date!(2020 - 04 - 01)),
            MeterStatus::Removed {
                since: date!(2020 - 04 - 01)
            }
        );
        assert_eq!(m.first_billed_period(), Some(Period::new(2020, 2).unwrap()));
    }

    #[test]
    fn zone_values() {
        assert!(ZoneValues::new(ZoneScheme::TwoZone, &[Decimal::ONE]).is_err());
        let v = ZoneValues::new(
            ZoneScheme::ThreeZone,
            &[Decimal::ONE, Decimal::TWO, Decimal::TEN],
        )
        .unwrap();
        assert_eq!(v.total(), Decimal::from(13));
        assert_eq!(
            v.iter().map(|(z, _)| z).collect::<Vec<_>>(),
            vec![Zone::Peak, Zone::Night, Zone::SemiPeak]
        );
    }
}
