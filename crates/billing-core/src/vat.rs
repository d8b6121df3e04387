//! VAT (НДС): the rate as date-ranged data, the VAT inside a gross amount, and the per-line
//! breakdown a fiscal receipt shows.
//!
//! Household tariffs are published **including** VAT (billing-rules.md §1), so the engine never
//! adds VAT: it extracts the VAT contained in a gross amount, `gross × rate / (100 + rate)`,
//! rounded to kopecks with [`Money::round`] (half away from zero).
//!
//! The general rate (НК РФ ст. 164 п. 3) is a [`VatSchedule`]: 18 % until 31.12.2018, 20 % from
//! 01.01.2019 (303-ФЗ of 03.08.2018) and 22 % from 01.01.2026 (425-ФЗ of 28.11.2025). Which date
//! to look the rate up on is the caller's choice — see [`VatSchedule::rate_on`].

use std::fmt;

use rust_decimal::Decimal;
use serde::Serialize;
use time::Date;
use time::macros::date;

use crate::money::Money;
use crate::period::Period;

/// Why a VAT rate or schedule was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VatError {
    /// The rate is below 0 % or above 100 %, or finer than 0.01 %.
    #[error("vat rate {0} % is not between 0 and 100 with at most two decimals")]
    RateOutOfRange(Decimal),
    /// The dates of the rate changes do not strictly increase.
    #[error("vat rate changes must be in strictly increasing date order, {0} is not")]
    UnorderedChange(Date),
}

/// A VAT rate in percent (`20`, `22`, `10`, `0` …): 0–100 with at most two decimals.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct VatRate(Decimal);

impl VatRate {
    /// 0 %.
    pub const ZERO: VatRate = VatRate(Decimal::ZERO);
    /// 10 % (НК ст. 164 п. 2: some food, children's and medical goods).
    pub const TEN: VatRate = VatRate(Decimal::TEN);
    /// 18 %, the general rate until 31.12.2018.
    pub const EIGHTEEN: VatRate = VatRate(Decimal::from_parts(18, 0, 0, false, 0));
    /// 20 %, the general rate from 01.01.2019 until 31.12.2025.
    pub const TWENTY: VatRate = VatRate(Decimal::from_parts(20, 0, 0, false, 0));
    /// 22 %, the general rate from 01.01.2026.
    pub const TWENTY_TWO: VatRate = VatRate(Decimal::from_parts(22, 0, 0, false, 0));

    /// A rate of `percent` %.
    ///
    /// ```
    /// use billing_core::vat::VatRate;
    /// use rust_decimal::Decimal;
    /// assert_eq!(VatRate::percent(Decimal::from(22)).unwrap(), VatRate::TWENTY_TWO);
    /// assert!(VatRate::percent(Decimal::from(-1)).is_err());
    /// ```
    pub fn percent(percent: Decimal) -> Result<VatRate, VatError> {
        let in_range = !percent.is_sign_negative() || percent.is_zero();
        if in_range && percent <= Decimal::ONE_HUNDRED && percent.round_dp(2) == percent {
            Ok(VatRate(percent.normalize()))
        } else {
            Err(VatError::RateOutOfRange(percent))
        }
    }

    /// The rate in percent.
    #[must_use]
    pub fn as_percent(self) -> Decimal {
        self.0
    }

    /// The rate as printed: `22 %`.
    #[must_use]
    pub fn label(self) -> String {
        format!("{}\u{a0}%", self.0)
    }

    /// The calculated rate (расчётная ставка) used on receipts for advance payments: `22/122`.
    #[must_use]
    pub fn calculated_label(self) -> String {
        format!("{}/{}", self.0, self.0 + Decimal::ONE_HUNDRED)
    }
}

impl fmt::Display for VatRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} %", self.0)
    }
}

impl fmt::Debug for VatRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}%", self.0)
    }
}

/// The VAT rate over time: a rate in force from the beginning and rate changes, each from its
/// date on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VatSchedule {
    initial: VatRate,
    changes: Vec<(Date, VatRate)>,
}

impl VatSchedule {
    /// A schedule with `initial` in force before the first change and `changes` as
    /// `(first day, rate)` in strictly increasing date order.
    ///
    /// ```
    /// use billing_core::vat::{VatRate, VatSchedule};
    /// use time::macros::date;
    /// let s = VatSchedule::new(VatRate::TWENTY, vec![(date!(2026 - 01 - 01), VatRate::TWENTY_TWO)]).unwrap();
    /// assert_eq!(s.rate_on(date!(2025 - 12 - 31)), VatRate::TWENTY);
    /// ```
    pub fn new(initial: VatRate, changes: Vec<(Date, VatRate)>) -> Result<VatSchedule, VatError> {
        if let Some(w) = changes.windows(2).find(|w| w[0].0 >= w[1].0) {
            return Err(VatError::UnorderedChange(w[1].0));
        }
        Ok(VatSchedule { initial, changes })
    }

    /// The general rate of НК РФ ст. 164 п. 3: 18 % until 31.12.2018, 20 % from 01.01.2019
    /// (303-ФЗ of 03.08.2018), 22 % from 01.01.2026 (425-ФЗ of 28.11.2025).
    #[must_use]
    pub fn russian_general() -> VatSchedule {
        VatSchedule {
            initial: VatRate::EIGHTEEN,
            changes: vec![
                (date!(2019 - 01 - 01), VatRate::TWENTY),
                (date!(2026 - 01 - 01), VatRate::TWENTY_TWO),
            ],
        }
    }

    /// The rate in force on `date`.
    ///
    /// The caller chooses the date: for the VAT of a supply it is the date of the supply (use
    /// [`VatSchedule::rate_for_period`] for a billed month); for an advance payment it is the
    /// day the payment is received.
    ///
    /// ```
    /// use billing_core::vat::{VatRate, VatSchedule};
    /// use time::macros::date;
    /// let s = VatSchedule::default();
    /// assert_eq!(s.rate_on(date!(2025 - 12 - 31)), VatRate::TWENTY);
    /// assert_eq!(s.rate_on(date!(2026 - 01 - 01)), VatRate::TWENTY_TWO);
    /// ```
    #[must_use]
    pub fn rate_on(&self, date: Date) -> VatRate {
        self.changes
            .iter()
            .rev()
            .find(|(from, _)| *from <= date)
            .map_or(self.initial, |(_, r)| *r)
    }

    /// The rate for the supply of a billed `period`: the rate on the period's last day, the date
    /// of the month's shipment document. With the default schedule December 2025 gives 20 % and
    /// January 2026 gives 22 %.
    #[must_use]
    pub fn rate_for_period(&self, period: Period) -> VatRate {
        self.rate_on(period.last_day())
    }

    /// The rate before the first change.
    #[must_use]
    pub fn initial(&self) -> VatRate {
        self.initial
    }

    /// The changes, `(first day, rate)`, in date order.
    #[must_use]
    pub fn changes(&self) -> &[(Date, VatRate)] {
        &self.changes
    }
}

impl Default for VatSchedule {
    /// [`VatSchedule::russian_general`].
    fn default() -> Self {
        VatSchedule::russian_general()
    }
}

/// The VAT contained in `gross` at `rate`: `gross × rate / (100 + rate)`, rounded to kopecks
/// half away from zero ([`Money::round`]). A negative gross (a refund line) gives the negative
/// of the VAT of its absolute value.
///
/// ```
/// use billing_core::{money::Money, vat::{VatRate, vat_inside}};
/// // 1 220.00 ₽ at 22 %: 220.00 ₽ of VAT.
/// assert_eq!(vat_inside(Money::from_kopecks(122_000), VatRate::TWENTY_TWO), Money::from_kopecks(22_000));
/// // 100.00 ₽ at 22 %: 18.0327… → 18.03 ₽.
/// assert_eq!(vat_inside(Money::from_kopecks(10_000), VatRate::TWENTY_TWO), Money::from_kopecks(1_803));
/// ```
#[must_use]
pub fn vat_inside(gross: Money, rate: VatRate) -> Money {
    Money::round(gross.amount() * rate.0 / (Decimal::ONE_HUNDRED + rate.0))
}

/// One line of a VAT breakdown: `vat + net == gross` exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct VatLine {
    gross: Money,
    rate: VatRate,
    vat: Money,
    net: Money,
}

impl VatLine {
    /// The line's VAT, computed on the line: `vat_inside(gross, rate)`, and `net = gross − vat`.
    #[must_use]
    pub fn new(gross: Money, rate: VatRate) -> VatLine {
        let vat = vat_inside(gross, rate);
        VatLine {
            gross,
            rate,
            vat,
            net: gross - vat,
        }
    }

    /// The amount including VAT.
    #[must_use]
    pub fn gross(&self) -> Money {
        self.gross
    }

    /// The rate.
    #[must_use]
    pub fn rate(&self) -> VatRate {
        self.rate
    }

    /// The VAT contained in the gross amount.
    #[must_use]
    pub fn vat(&self) -> Money {
        self.vat
    }

    /// The amount without VAT.
    #[must_use]
    pub fn net(&self) -> Money {
        self.net
    }
}

/// The totals of one rate in a breakdown (a fiscal receipt shows the VAT sum per rate).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct VatRateTotal {
    /// The rate.
    pub rate: VatRate,
    /// The sum of the gross amounts of the lines at this rate.
    pub gross: Money,
    /// The sum of the VAT of the lines at this rate.
    pub vat: Money,
    /// The sum of the net amounts of the lines at this rate.
    pub net: Money,
}

/// The VAT breakdown of several gross lines, for example the items of a fiscal receipt (54-ФЗ):
/// one line per service paid.
///
/// **The VAT is computed per line**, each line rounded once, and every total is the sum of the
/// lines' rounded figures — the rule of billing-rules.md §1 (a total is the sum of rounded lines,
/// never rounded by itself), and what a receipt shows: each item carries its own VAT sum, and the
/// receipt's VAT per rate is the sum of its items. The VAT of the total computed at once may
/// differ from the sum by a kopeck or so; the breakdown never does that, so `vat + net == gross`
/// holds exactly on every line, per rate and in total.
///
/// ```
/// use billing_core::{money::Money, vat::{VatBreakdown, VatRate}};
/// let b = VatBreakdown::per_line([
///     (Money::from_kopecks(10_000), VatRate::TWENTY_TWO), // 18.03 ₽ of VAT
///     (Money::from_kopecks(10_000), VatRate::TWENTY_TWO), // 18.03 ₽ of VAT
/// ]);
/// assert_eq!(b.total_vat(), Money::from_kopecks(3_606)); // not 36.07 ₽, the VAT of 200 ₽ at once
/// assert_eq!(b.total_vat() + b.total_net(), b.total_gross());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VatBreakdown {
    lines: Vec<VatLine>,
}

impl VatBreakdown {
    /// The breakdown of `(gross, rate)` lines, in their order.
    #[must_use]
    pub fn per_line(lines: impl IntoIterator<Item = (Money, VatRate)>) -> VatBreakdown {
        VatBreakdown {
            lines: lines
                .into_iter()
                .map(|(gross, rate)| VatLine::new(gross, rate))
                .collect(),
        }
    }

    /// The lines, in their order.
    #[must_use]
    pub fn lines(&self) -> &[VatLine] {
        &self.lines
    }

    /// The sum of the gross amounts.
    #[must_use]
    pub fn total_gross(&self) -> Money {
        self.lines.iter().map(VatLine::gross).sum()
    }

    /// The sum of the lines' VAT.
    #[must_use]
    pub fn total_vat(&self) -> Money {
        self.lines.iter().map(VatLine::vat).sum()
    }

    /// The sum of the lines' net amounts.
    #[must_use]
    pub fn total_net(&self) -> Money {
        self.lines.iter().map(VatLine::net).sum()
    }

    /// The totals per rate, in increasing rate order.
    #[must_use]
    pub fn by_rate(&self) -> Vec<VatRateTotal> {
        let mut totals: Vec<VatRateTotal> = Vec::new();
        for line in &self.lines {
            match totals.iter_mut().find(|t| t.rate == line.rate) {
                Some(t) => {
                    t.gross += line.gross;
                    t.vat += line.vat;
                    t.net += line.net;
                }
                None => totals.push(VatRateTotal {
                    rate: line.rate,
                    gross: line.gross,
                    vat: line.vat,
                    net: line.net,
                }),
            }
        }
        totals.sort_by_key(|t| t.rate);
        totals
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn default_schedule_follows_the_tax_code() {
        let s = VatSchedule::default();
        assert_eq!(s.rate_on(date!(2018 - 12 - 31)), VatRate::EIGHTEEN);
        assert_eq!(s.rate_on(date!(2019 - 01 - 01)), VatRate::TWENTY);
        assert_eq!(s.rate_on(date!(2025 - 12 - 31)), VatRate::TWENTY);
        assert_eq!(s.rate_on(date!(2026 - 01 - 01)), VatRate::TWENTY_TWO);
        assert_eq!(s.rate_on(date!(2030 - 06 - 15)), VatRate::TWENTY_TWO);
        assert_eq!(
            s.rate_for_period(Period::new(2025, 12).unwrap()),
            VatRate::TWENTY
        );
        assert_eq!(
            s.rate_for_period(Period::new(2026, 1).unwrap()),
            VatRate::TWENTY_TWO
        );
    }

    #[test]
    fn schedule_changes_must_increase() {
        let d = date!(2026 - 01 - 01);
        assert_eq!(
            VatSchedule::new(
                VatRate::TWENTY,
                vec![(d, VatRate::TWENTY_TWO), (d, VatRate::TEN)]
            ),
            Err(VatError::UnorderedChange(d))
        );
        let s = VatSchedule::new(VatRate::ZERO, vec![]).unwrap();
        assert_eq!(s.rate_on(d), VatRate::ZERO);
    }

    #[test]
    fn rate_validation_and_labels() {
        assert_eq!(VatRate::percent(dec!(22.00)).unwrap(), VatRate::TWENTY_TWO);
        assert!(VatRate::percent(dec!(100.01)).is_err());
        assert!(VatRate::percent(dec!(5.005)).is_err());
        assert!(VatRate::percent(dec!(-0.00)).is_ok());
        assert_eq!(VatRate::TWENTY_TWO.label(), "22\u{a0}%");
        assert_eq!(VatRate::TWENTY_TWO.calculated_label(), "22/122");
        assert_eq!(VatRate::TWENTY.calculated_label(), "20/120");
    }

    #[test]
    fn vat_inside_rounds_half_away_from_zero() {
        // 0.61 ₽ at 22 %: 0.11 exactly → 0.11; 0.03 ₽ at 20 %: 0.005 → 0.01; −0.03 ₽ → −0.01.
        assert_eq!(
            vat_inside(Money::from_kopecks(61), VatRate::TWENTY_TWO),
            Money::from_kopecks(11)
        );
        assert_eq!(
            vat_inside(Money::from_kopecks(3), VatRate::TWENTY),
            Money::from_kopecks(1)
        );
        assert_eq!(
            vat_inside(Money::from_kopecks(-3), VatRate::TWENTY),
            Money::from_kopecks(-1)
        );
        assert_eq!(
            vat_inside(Money::from_kopecks(12_345), VatRate::ZERO),
            Money::ZERO
        );
        // 1 500.00 ₽ at 20 %: 250.00 ₽.
        assert_eq!(
            vat_inside(Money::from_kopecks(150_000), VatRate::TWENTY),
            Money::from_kopecks(25_000)
        );
    }

    #[test]
    fn breakdown_groups_by_rate() {
        let b = VatBreakdown::per_line([
            (Money::from_kopecks(10_000), VatRate::TWENTY_TWO),
            (Money::from_kopecks(5_000), VatRate::ZERO),
            (Money::from_kopecks(10_000), VatRate::TWENTY_TWO),
        ]);
        let by_rate = b.by_rate();
        assert_eq!(by_rate.len(), 2);
        assert_eq!(by_rate[0].rate, VatRate::ZERO);
        assert_eq!(by_rate[1].vat, Money::from_kopecks(3_606));
        assert_eq!(by_rate[1].net, Money::from_kopecks(16_394));
        assert_eq!(b.total_gross(), Money::from_kopecks(25_000));
        assert_eq!(b.lines()[1].net(), Money::from_kopecks(5_000));
    }
}
