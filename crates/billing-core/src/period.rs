//! Billing periods (calendar months), dates and the statutory due day.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::{Date, Month};

/// A calendar date (local date of the supplier's region).
pub type LocalDate = Date;

/// A billing period: one calendar month (ПП 354 п. 37).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Period {
    year: i32,
    month: u8,
}

/// Why a text or numbers are not a period.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    /// The month is not 1–12 or the year is out of the supported range 1900–9999.
    #[error("{year}-{month} is not a valid month")]
    OutOfRange {
        /// The year given.
        year: i32,
        /// The month given.
        month: u32,
    },
    /// The text is not in the `YYYY-MM` form.
    #[error("'{0}' is not a period in the form YYYY-MM")]
    Malformed(String),
}

impl Period {
    /// The period of `year` and `month` (1–12).
    ///
    /// ```
    /// use billing_core::period::Period;
    /// let p = Period::new(2026, 2).unwrap();
    /// assert_eq!(p.days(), 28);
    /// assert_eq!(p.next().to_string(), "2026-03");
    /// ```
    pub fn new(year: i32, month: u32) -> Result<Period, PeriodError> {
        if !(1..=12).contains(&month) || !(1900..=9999).contains(&year) {
            return Err(PeriodError::OutOfRange { year, month });
        }
        Ok(Period {
            year,
            month: u8::try_from(month).unwrap_or(1),
        })
    }

    /// The period that contains `date`.
    #[must_use]
    pub fn of(date: Date) -> Period {
        Period {
            year: date.year(),
            month: date.month() as u8,
        }
    }

    /// The year.
    #[must_use]
    pub fn year(self) -> i32 {
        self.year
    }

    /// The month number, 1–12.
    #[must_use]
    pub fn month_number(self) -> u32 {
        u32::from(self.month)
    }

    /// The month.
    #[must_use]
    pub fn month(self) -> Month {
        Month::try_from(self.month).unwrap_or(Month::January)
    }

    /// The first day of the period.
    #[must_use]
    pub fn first_day(self) -> Date {
        Date::from_calendar_date(self.year, self.month(), 1).unwrap_or(Date::MIN)
    }

    /// The last day of the period.
    #[must_use]
    pub fn last_day(self) -> Date {
        self.day(u32::from(self.month().length(self.year)))
            .unwrap_or(Date::MAX)
    }

    /// The given day of the period, if the month has it.
    #[must_use]
    pub fn day(self, day: u32) -> Option<Date> {
        let d = u8::try_from(day).ok()?;
        Date::from_calendar_date(self.year, self.month(), d).ok()
    }

    /// The given day of the month, or the month's last day if the month is shorter.
    #[must_use]
    pub fn day_clamped(self, day: u32) -> Date {
        self.day(day.min(self.days()))
            .unwrap_or_else(|| self.last_day())
    }

    /// The number of days in the period.
    #[must_use]
    pub fn days(self) -> u32 {
        u32::from(self.month().length(self.year))
    }

    /// The following period.
    #[must_use]
    pub fn next(self) -> Period {
        if self.month == 12 {
            Period {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Period {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    /// The preceding period.
    #[must_use]
    pub fn prev(self) -> Period {
        if self.month == 1 {
            Period {
                year: self.year - 1,
                month: 12,
            }
        } else {
            Period {
                year: self.year,
                month: self.month - 1,
            }
        }
    }

    /// The period `n` months later (earlier for negative `n`).
    #[must_use]
    pub fn plus_months(self, n: i32) -> Period {
        let idx = self.index() + n;
        Period {
            year: idx.div_euclid(12),
            month: u8::try_from(idx.rem_euclid(12) + 1).unwrap_or(1),
        }
    }

    /// Months from `self` to `later` (negative if `later` is earlier).
    #[must_use]
    pub fn months_until(self, later: Period) -> i32 {
        later.index() - self.index()
    }

    fn index(self) -> i32 {
        self.year * 12 + i32::from(self.month) - 1
    }

    /// True if `date` falls into this period.
    #[must_use]
    pub fn contains(self, date: Date) -> bool {
        Period::of(date) == self
    }

    /// `MMYYYY`, the form of the ГОСТ Р 56042 `PaymPeriod` field.
    #[must_use]
    pub fn to_mmyyyy(self) -> String {
        format!("{:02}{:04}", self.month, self.year)
    }

    /// The Russian name of the period, for example «март 2026».
    #[must_use]
    pub fn to_russian(self) -> String {
        const NAMES: [&str; 12] = [
            "январь",
            "февраль",
            "март",
            "апрель",
            "май",
            "июнь",
            "июль",
            "август",
            "сентябрь",
            "октябрь",
            "ноябрь",
            "декабрь",
        ];
        format!("{} {}", NAMES[usize::from(self.month - 1)], self.year)
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl fmt::Debug for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for Period {
    type Err = PeriodError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || PeriodError::Malformed(s.to_owned());
        let (y, m) = s.split_once('-').ok_or_else(bad)?;
        if y.len() != 4 || m.len() != 2 {
            return Err(bad());
        }
        let year = y.parse().map_err(|_| bad())?;
        let month = m.parse().map_err(|_| bad())?;
        Period::new(year, month)
    }
}

impl TryFrom<String> for Period {
    type Error = PeriodError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<Period> for String {
    fn from(value: Period) -> Self {
        value.to_string()
    }
}

/// When a period's bill is due (ЖК ст. 155 ч. 1; ПП 354 п. 66; 177-ФЗ of 24.06.2025).
///
/// The bill of a period is due on a day of the following month: the 10th while that day falls
/// before `switch_date`, the 15th from then on. With the defaults the January 2026 bill is due
/// 10.02.2026 and the February 2026 bill 15.03.2026.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DueDayPolicy {
    /// The due day of the following month before the switch.
    pub day_before_switch: u32,
    /// The first date on which the new due day applies.
    pub switch_date: Date,
    /// The due day of the following month from the switch on.
    pub day_after_switch: u32,
}

impl Default for DueDayPolicy {
    fn default() -> Self {
        DueDayPolicy {
            day_before_switch: 10,
            switch_date: time::macros::date!(2026 - 03 - 01),
            day_after_switch: 15,
        }
    }
}

impl DueDayPolicy {
    /// The last day to pay the bill of `period` without delay.
    ///
    /// ```
    /// use billing_core::period::{DueDayPolicy, Period};
    /// let p = DueDayPolicy::default();
    /// assert_eq!(p.due_date(Period::new(2026, 1).unwrap()).to_string(), "2026-02-10");
    /// assert_eq!(p.due_date(Period::new(2026, 2).unwrap()).to_string(), "2026-03-15");
    /// ```
    #[must_use]
    pub fn due_date(&self, period: Period) -> Date {
        let next = period.next();
        if next.first_day() < self.switch_date {
            next.day_clamped(self.day_before_switch)
        } else {
            next.day_clamped(self.day_after_switch)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic() {
        let p = Period::new(2025, 12).unwrap();
        assert_eq!(p.next(), Period::new(2026, 1).unwrap());
        assert_eq!(p.next().prev(), p);
        assert_eq!(p.plus_months(-12), Period::new(2024, 12).unwrap());
        assert_eq!(p.plus_months(14), Period::new(2027, 2).unwrap());
        assert_eq!(p.months_until(Period::new(2026, 3).unwrap()), 3);
        assert_eq!(Period::new(2024, 2).unwrap().days(), 29);
        assert_eq!(p.to_mmyyyy(), "122025");
        assert_eq!(p.to_russian(), "декабрь 2025");
    }

    #[test]
    fn parse() {
        assert_eq!(
            "2026-03".parse::<Period>().unwrap(),
            Period::new(2026, 3).unwrap()
        );
        assert!("2026-13".parse::<Period>().is_err());
        assert!("2026-3".parse::<Period>().is_err());
        assert!("march".parse::<Period>().is_err());
    }
}
