//! Exact money and the one rounding rule of the project.
//!
//! Every amount is a [`Money`]: roubles with exactly two decimals on `rust_decimal`. The only way
//! to turn an unrounded product (volume × price, debt × rate × days) into money is
//! [`Money::round`], which rounds **half away from zero** to kopecks (billing-rules.md §1).
//! Totals are sums of rounded lines and are never rounded again.

use std::fmt;
use std::iter::Sum;
use std::ops::{Add, AddAssign, Neg, Sub, SubAssign};
use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

/// The one rounding strategy for money and volumes: half away from zero (billing-rules.md §1).
pub const ROUNDING: RoundingStrategy = RoundingStrategy::MidpointAwayFromZero;

/// Kopecks per rouble.
const KOPECK_DP: u32 = 2;

/// Rounds `value` to `dp` decimal places with the project's single rounding rule.
///
/// ```
/// use billing_core::money::round_dp;
/// use rust_decimal::Decimal;
/// assert_eq!(round_dp(Decimal::new(125, 3), 2), Decimal::new(13, 2)); // 0.125 → 0.13
/// assert_eq!(round_dp(Decimal::new(-125, 3), 2), Decimal::new(-13, 2)); // −0.125 → −0.13
/// ```
#[must_use]
#[inline]
pub fn round_dp(value: Decimal, dp: u32) -> Decimal {
    if value.scale() == dp {
        return value; // already at the precision: nothing to round (the hot path)
    }
    let mut r = if value.scale() < dp {
        value
    } else {
        value.round_dp_with_strategy(dp, ROUNDING)
    };
    r.rescale(dp);
    r
}

/// An exact amount of money in roubles with kopeck precision.
///
/// Invariant: the inner decimal always has scale 2, so two equal amounts are equal bitwise and
/// print the same way.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(try_from = "Decimal", into = "Decimal")]
pub struct Money(Decimal);

/// Why a value could not become [`Money`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// The value has digits below one kopeck; round it with [`Money::round`] if that is intended.
    #[error("amount {0} has fractions of a kopeck")]
    SubKopeck(Decimal),
    /// The text is not a decimal number.
    #[error("'{0}' is not an amount of money")]
    Malformed(String),
    /// The amount does not fit the supported range.
    #[error("amount is out of range")]
    OutOfRange,
}

impl Money {
    /// Zero roubles.
    pub const ZERO: Money = Money(Decimal::from_parts(0, 0, 0, false, KOPECK_DP));

    /// Rounds an unrounded amount to kopecks, half away from zero. This is the rounding rule.
    ///
    /// ```
    /// use billing_core::money::Money;
    /// use rust_decimal::Decimal;
    /// // 123 kWh × 6.435 ₽ = 791.505 ₽ → 791.51 ₽
    /// let m = Money::round(Decimal::new(123, 0) * Decimal::new(6435, 3));
    /// assert_eq!(m.to_string(), "791.51");
    /// ```
    #[must_use]
    #[inline]
    pub fn round(value: Decimal) -> Money {
        Money(round_dp(value, KOPECK_DP))
    }

    /// Accepts a value that already is a whole number of kopecks; refuses anything finer.
    pub fn exact(value: Decimal) -> Result<Money, MoneyError> {
        let rounded = round_dp(value, KOPECK_DP);
        if rounded == value {
            Ok(Money(rounded))
        } else {
            Err(MoneyError::SubKopeck(value))
        }
    }

    /// An amount of whole kopecks.
    #[must_use]
    #[inline]
    pub fn from_kopecks(kopecks: i64) -> Money {
        Money(Decimal::new(kopecks, KOPECK_DP))
    }

    /// An amount of whole roubles.
    #[must_use]
    pub fn from_roubles(roubles: i64) -> Money {
        Money::from_kopecks(roubles.saturating_mul(100))
    }

    /// The amount in kopecks (for ГОСТ QR `Sum`, gateways and integer storage).
    ///
    /// Fails only for amounts beyond ±9.2·10¹⁶ ₽.
    pub fn kopecks(self) -> Result<i64, MoneyError> {
        let m = self.0.mantissa();
        i64::try_from(m).map_err(|_| MoneyError::OutOfRange)
    }

    /// The amount as a decimal with scale 2.
    #[must_use]
    #[inline]
    pub fn amount(self) -> Decimal {
        self.0
    }

    /// True for zero.
    #[must_use]
    #[inline]
    pub fn is_zero(self) -> bool {
        self.0.is_zero()
    }

    /// True for amounts above zero.
    #[must_use]
    #[inline]
    pub fn is_positive(self) -> bool {
        self.0.is_sign_positive() && !self.0.is_zero()
    }

    /// True for amounts below zero.
    #[must_use]
    #[inline]
    pub fn is_negative(self) -> bool {
        self.0.is_sign_negative() && !self.0.is_zero()
    }

    /// The absolute value.
    #[must_use]
    pub fn abs(self) -> Money {
        Money(self.0.abs())
    }

    /// The amount if it is positive, otherwise zero.
    #[must_use]
    pub fn positive_part(self) -> Money {
        if self.is_positive() {
            self
        } else {
            Money::ZERO
        }
    }

    /// The smaller of two amounts.
    #[must_use]
    pub fn min(self, other: Money) -> Money {
        if self <= other { self } else { other }
    }

    /// The larger of two amounts.
    #[must_use]
    pub fn max(self, other: Money) -> Money {
        if self >= other { self } else { other }
    }

    /// Adds without the risk of a panic; `None` beyond the decimal range.
    #[must_use]
    pub fn checked_add(self, other: Money) -> Option<Money> {
        self.0.checked_add(other.0).map(Money::normalized)
    }

    fn normalized(mut d: Decimal) -> Money {
        d.rescale(KOPECK_DP);
        Money(d)
    }

    /// Formats as Russian text: `1 234,56 ₽`.
    #[must_use]
    pub fn to_russian(self) -> String {
        let s = self.0.abs().to_string();
        let (int, frac) = s.split_once('.').unwrap_or((&s, "00"));
        let mut grouped = String::with_capacity(int.len() + int.len() / 3 + 8);
        for (i, ch) in int.chars().enumerate() {
            if i > 0 && (int.len() - i) % 3 == 0 {
                grouped.push('\u{a0}');
            }
            grouped.push(ch);
        }
        let sign = if self.is_negative() { "−" } else { "" };
        format!("{sign}{grouped},{frac}\u{a0}₽")
    }
}

impl TryFrom<Decimal> for Money {
    type Error = MoneyError;
    fn try_from(value: Decimal) -> Result<Self, Self::Error> {
        Money::exact(value)
    }
}

impl From<Money> for Decimal {
    fn from(value: Money) -> Self {
        value.0
    }
}

impl FromStr for Money {
    type Err = MoneyError;
    /// Parses `1234.56` or `1234,56` (a comma is accepted as in Russian documents).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim().replace(',', ".");
        let d = Decimal::from_str_exact(&t).map_err(|_| MoneyError::Malformed(s.to_owned()))?;
        Money::exact(d)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}₽", self.0)
    }
}

impl Add for Money {
    type Output = Money;
    #[inline]
    fn add(self, rhs: Money) -> Money {
        // Both sides have scale 2, and so has their sum: no rescaling needed.
        Money(self.0 + rhs.0)
    }
}

impl AddAssign for Money {
    fn add_assign(&mut self, rhs: Money) {
        *self = *self + rhs;
    }
}

impl Sub for Money {
    type Output = Money;
    #[inline]
    fn sub(self, rhs: Money) -> Money {
        Money(self.0 - rhs.0)
    }
}

impl SubAssign for Money {
    fn sub_assign(&mut self, rhs: Money) {
        *self = *self - rhs;
    }
}

impl Neg for Money {
    type Output = Money;
    fn neg(self) -> Money {
        Money(-self.0)
    }
}

impl Sum for Money {
    fn sum<I: Iterator<Item = Money>>(iter: I) -> Money {
        iter.fold(Money::ZERO, |a, b| a + b)
    }
}

impl<'a> Sum<&'a Money> for Money {
    fn sum<I: Iterator<Item = &'a Money>>(iter: I) -> Money {
        iter.fold(Money::ZERO, |a, b| a + *b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn rounds_half_away_from_zero() {
        assert_eq!(Money::round(dec!(0.005)), Money::from_kopecks(1));
        assert_eq!(Money::round(dec!(-0.005)), Money::from_kopecks(-1));
        assert_eq!(Money::round(dec!(0.0049999)), Money::ZERO);
        assert_eq!(Money::round(dec!(2.675)), Money::from_kopecks(268));
    }

    #[test]
    fn exact_refuses_sub_kopeck_values() {
        assert_eq!(
            Money::exact(dec!(1.001)),
            Err(MoneyError::SubKopeck(dec!(1.001)))
        );
        assert_eq!(Money::exact(dec!(1.1)).unwrap().to_string(), "1.10");
        assert_eq!("12,5".parse::<Money>().unwrap(), Money::from_kopecks(1250));
        assert!("abc".parse::<Money>().is_err());
    }

    #[test]
    fn scale_is_always_two() {
        let m = Money::from_kopecks(100) + Money::from_kopecks(1) - Money::from_kopecks(101);
        assert_eq!(m.to_string(), "0.00");
        assert_eq!(Money::from_roubles(3).to_string(), "3.00");
        assert_eq!(Money::ZERO.to_string(), "0.00");
        assert_eq!(Money::from_kopecks(-5).kopecks(), Ok(-5));
    }

    #[test]
    fn russian_format() {
        assert_eq!(
            Money::from_kopecks(12_345_678).to_russian(),
            "123\u{a0}456,78\u{a0}₽"
        );
        assert_eq!(Money::from_kopecks(-50).to_russian(), "−0,50\u{a0}₽");
    }

    #[test]
    fn serde_uses_exact_strings() {
        let m = Money::from_kopecks(12345);
        let json = serde_json_like(&m);
        assert_eq!(json, "\"123.45\"");
    }

    fn serde_json_like(m: &Money) -> String {
        // rust_decimal's serde-str feature serialises as a string; check through Decimal's Display.
        format!("\"{}\"", Decimal::from(*m))
    }
}
