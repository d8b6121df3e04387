//! The Bank of Russia key rate and the statutory exception windows for penalties, as data.
//!
//! Penalties for late payment (ЖК ст. 155 ч. 14) are a share of the key rate of the Bank of
//! Russia. The system never fetches the rate: [`KeyRateHistory`] is operator data, a list of
//! steps «rate R from date D», and [`KeyRateHistory::bank_of_russia`] is the history this crate
//! ships (billing-rules.md §7). [`PenaltyRules`] holds the date-ranged exceptions that
//! suspend penalties or fix their rate ([`PenaltyRules::russian_statutory`]: ПП 424, ПП 497,
//! ПП 474 as extended by ПП 329). Both are plain data an operator can replace or extend without
//! touching code; [`crate::penalty::compute_penalties`] consumes them.

use std::fmt;

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize};
use time::Date;
use time::macros::date;

/// An annual interest rate in basis points (1 % = 100 bp), exact.
///
/// Key rates have always been multiples of 0.25 %, so basis points hold every one of them
/// exactly and make the penalty arithmetic an integer product.
///
/// ```
/// use billing_core::keyrate::Rate;
/// use rust_decimal::Decimal;
/// let r = Rate::from_percent(Decimal::new(95, 1)).unwrap();
/// assert_eq!(r, Rate::from_basis_points(950));
/// assert_eq!(r.to_string(), "9.5 %");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Rate(u32);

/// Why a value is not a [`Rate`] or a list of steps is not a [`KeyRateHistory`] or
/// [`PenaltyRules`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyRateError {
    /// The percentage is negative, has digits below 0.01 % or is absurdly large.
    #[error("{0} % is not a rate in whole basis points between 0 and 1000 %")]
    BadPercent(Decimal),
    /// The history has no steps at all.
    #[error("the key-rate history is empty")]
    EmptyHistory,
    /// Steps must be given in strictly ascending order of their start dates.
    #[error("key-rate step of {0} is not after the previous step")]
    NotAscending(Date),
    /// A window ends before it starts.
    #[error("window {from}–{to} ends before it starts")]
    InvertedWindow {
        /// The first day of the window.
        from: Date,
        /// The last day of the window.
        to: Date,
    },
    /// Two rate windows overlap, so the rate of a day inside both would be ambiguous.
    #[error("rate windows overlap on {0}")]
    OverlappingRateWindows(Date),
}

impl Rate {
    /// Zero percent.
    pub const ZERO: Rate = Rate(0);

    /// A rate of `bp` basis points (950 = 9.5 %).
    #[must_use]
    pub const fn from_basis_points(bp: u32) -> Rate {
        Rate(bp)
    }

    /// A rate given in percent; refuses negative values, fractions below 0.01 % and values
    /// above 1000 %.
    pub fn from_percent(percent: Decimal) -> Result<Rate, KeyRateError> {
        let bp = percent * Decimal::ONE_HUNDRED;
        if bp.is_sign_negative() && !bp.is_zero()
            || bp.fract() != Decimal::ZERO
            || bp > Decimal::from(100_000u32)
        {
            return Err(KeyRateError::BadPercent(percent));
        }
        bp.to_u32()
            .map(Rate)
            .ok_or(KeyRateError::BadPercent(percent))
    }

    /// The rate in basis points.
    #[must_use]
    pub const fn basis_points(self) -> u32 {
        self.0
    }

    /// The rate in percent, exact (`9.5` for 950 bp).
    #[must_use]
    pub fn percent(self) -> Decimal {
        Decimal::new(i64::from(self.0), 2).normalize()
    }

    /// The rate as Russian text: `9,5 %`.
    #[must_use]
    pub fn to_russian(self) -> String {
        format!("{}\u{a0}%", self.percent().to_string().replace('.', ","))
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} %", self.percent())
    }
}

/// One step of the key-rate history: `rate` is in force from `from` until the next step.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct KeyRateStep {
    /// The first day the rate is in force.
    pub from: Date,
    /// The rate.
    pub rate: Rate,
}

/// The key rate of the Bank of Russia over time: operator data, never fetched.
///
/// Invariant: at least one step, steps strictly ascending by date. A date before the first step
/// has no rate ([`KeyRateHistory::rate_on`] returns `None`).
///
/// ```
/// use billing_core::keyrate::{KeyRateHistory, Rate};
/// use time::macros::date;
/// let h = KeyRateHistory::bank_of_russia();
/// assert_eq!(h.rate_on(date!(2022 - 02 - 27)), Some(Rate::from_basis_points(950)));
/// assert_eq!(h.rate_on(date!(2022 - 02 - 28)), Some(Rate::from_basis_points(2000)));
/// assert_eq!(h.rate_on(date!(2025 - 09 - 15)), Some(Rate::from_basis_points(1700)));
/// ```
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(try_from = "Vec<KeyRateStep>", into = "Vec<KeyRateStep>")]
pub struct KeyRateHistory {
    steps: Vec<KeyRateStep>,
}

impl KeyRateHistory {
    /// A history from its steps; they must be non-empty and strictly ascending by date.
    pub fn new(steps: Vec<KeyRateStep>) -> Result<KeyRateHistory, KeyRateError> {
        if steps.is_empty() {
            return Err(KeyRateError::EmptyHistory);
        }
        if let Some(w) = steps.windows(2).find(|w| w[1].from <= w[0].from) {
            return Err(KeyRateError::NotAscending(w[1].from));
        }
        Ok(KeyRateHistory { steps })
    }

    /// The history shipped with the crate: every change of the key rate from the step in force
    /// on 01.01.2016 (when the key rate replaced the refinancing rate for penalties, Указание
    /// Банка России 3894-У) to 17 % from 15.09.2025.
    ///
    /// Steps included (rate from date): 11 % 03.08.2015; 10.5 % 14.06.2016; 10 % 19.09.2016;
    /// 9.75 % 27.03.2017; 9.25 % 02.05.2017; 9 % 19.06.2017; 8.5 % 18.09.2017; 8.25 % 30.10.2017;
    /// 7.75 % 18.12.2017; 7.5 % 12.02.2018; 7.25 % 26.03.2018; 7.5 % 17.09.2018;
    /// 7.75 % 17.12.2018; 7.5 % 17.06.2019; 7.25 % 29.07.2019; 7 % 09.09.2019; 6.5 % 28.10.2019;
    /// 6.25 % 16.12.2019; 6 % 10.02.2020; 5.5 % 27.04.2020; 4.5 % 22.06.2020; 4.25 % 27.07.2020;
    /// 4.5 % 22.03.2021; 5 % 26.04.2021; 5.5 % 15.06.2021; 6.5 % 26.07.2021; 6.75 % 13.09.2021;
    /// 7.5 % 25.10.2021; 8.5 % 20.12.2021; 9.5 % 14.02.2022; 20 % 28.02.2022; 17 % 11.04.2022;
    /// 14 % 04.05.2022; 11 % 27.05.2022; 9.5 % 14.06.2022; 8 % 25.07.2022; 7.5 % 19.09.2022;
    /// 8.5 % 24.07.2023; 12 % 15.08.2023; 13 % 18.09.2023; 15 % 30.10.2023; 16 % 18.12.2023;
    /// 18 % 29.07.2024; 19 % 16.09.2024; 21 % 28.10.2024; 20 % 09.06.2025; 18 % 28.07.2025;
    /// 17 % 15.09.2025. Decisions after that are **not** included: an operator appends them.
    #[must_use]
    pub fn bank_of_russia() -> KeyRateHistory {
        const STEPS: [(Date, u32); 48] = [
            (date!(2015 - 08 - 03), 1100),
            (date!(2016 - 06 - 14), 1050),
            (date!(2016 - 09 - 19), 1000),
            (date!(2017 - 03 - 27), 975),
            (date!(2017 - 05 - 02), 925),
            (date!(2017 - 06 - 19), 900),
            (date!(2017 - 09 - 18), 850),
            (date!(2017 - 10 - 30), 825),
            (date!(2017 - 12 - 18), 775),
            (date!(2018 - 02 - 12), 750),
            (date!(2018 - 03 - 26), 725),
            (date!(2018 - 09 - 17), 750),
            (date!(2018 - 12 - 17), 775),
            (date!(2019 - 06 - 17), 750),
            (date!(2019 - 07 - 29), 725),
            (date!(2019 - 09 - 09), 700),
            (date!(2019 - 10 - 28), 650),
            (date!(2019 - 12 - 16), 625),
            (date!(2020 - 02 - 10), 600),
            (date!(2020 - 04 - 27), 550),
            (date!(2020 - 06 - 22), 450),
            (date!(2020 - 07 - 27), 425),
            (date!(2021 - 03 - 22), 450),
            (date!(2021 - 04 - 26), 500),
            (date!(2021 - 06 - 15), 550),
            (date!(2021 - 07 - 26), 650),
            (date!(2021 - 09 - 13), 675),
            (date!(2021 - 10 - 25), 750),
            (date!(2021 - 12 - 20), 850),
            (date!(2022 - 02 - 14), 950),
            (date!(2022 - 02 - 28), 2000),
            (date!(2022 - 04 - 11), 1700),
            (date!(2022 - 05 - 04), 1400),
            (date!(2022 - 05 - 27), 1100),
            (date!(2022 - 06 - 14), 950),
            (date!(2022 - 07 - 25), 800),
            (date!(2022 - 09 - 19), 750),
            (date!(2023 - 07 - 24), 850),
            (date!(2023 - 08 - 15), 1200),
            (date!(2023 - 09 - 18), 1300),
            (date!(2023 - 10 - 30), 1500),
            (date!(2023 - 12 - 18), 1600),
            (date!(2024 - 07 - 29), 1800),
            (date!(2024 - 09 - 16), 1900),
            (date!(2024 - 10 - 28), 2100),
            (date!(2025 - 06 - 09), 2000),
            (date!(2025 - 07 - 28), 1800),
            (date!(2025 - 09 - 15), 1700),
        ];
        KeyRateHistory {
            steps: STEPS
                .iter()
                .map(|&(from, bp)| KeyRateStep {
                    from,
                    rate: Rate(bp),
                })
                .collect(),
        }
    }

    /// The rate in force on `date`, or `None` before the first step.
    #[must_use]
    pub fn rate_on(&self, date: Date) -> Option<Rate> {
        let idx = self.steps.partition_point(|s| s.from <= date);
        idx.checked_sub(1).map(|i| self.steps[i].rate)
    }

    /// The steps, ascending by date.
    #[must_use]
    pub fn steps(&self) -> &[KeyRateStep] {
        &self.steps
    }
}

impl Default for KeyRateHistory {
    /// [`KeyRateHistory::bank_of_russia`].
    fn default() -> Self {
        KeyRateHistory::bank_of_russia()
    }
}

impl TryFrom<Vec<KeyRateStep>> for KeyRateHistory {
    type Error = KeyRateError;
    fn try_from(value: Vec<KeyRateStep>) -> Result<Self, Self::Error> {
        KeyRateHistory::new(value)
    }
}

impl From<KeyRateHistory> for Vec<KeyRateStep> {
    fn from(value: KeyRateHistory) -> Self {
        value.steps
    }
}

/// The legal act behind an exception window, cited on every penalty line it affects.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LegalAct {
    /// Постановление Правительства РФ от 02.04.2020 № 424: no penalties 06.04.2020–31.12.2020.
    Pp424,
    /// Постановление Правительства РФ от 28.03.2022 № 497: the bankruptcy moratorium,
    /// no penalties 01.04.2022–01.10.2022 on debts that arose before 01.04.2022.
    Pp497,
    /// Постановление Правительства РФ от 26.03.2022 № 474 (extended, last by ПП 329 of
    /// 18.03.2025): the rate of 27.02.2022, 9.5 %, from 28.02.2022 to 31.12.2026.
    Pp474,
    /// An act the operator added; the number is the operator's own reference.
    Other(u32),
}

impl LegalAct {
    /// The short Russian citation printed in explanations.
    #[must_use]
    pub fn citation(self) -> String {
        match self {
            LegalAct::Pp424 => "ПП РФ от 02.04.2020 № 424".to_owned(),
            LegalAct::Pp497 => "ПП РФ от 28.03.2022 № 497".to_owned(),
            LegalAct::Pp474 => "ПП РФ от 26.03.2022 № 474 (ред. ПП № 329 от 18.03.2025)".to_owned(),
            LegalAct::Other(n) => format!("акт оператора № {n}"),
        }
    }
}

/// What an exception window does to the penalty of a day inside it.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WindowEffect {
    /// No penalty accrues on any debt.
    NoAccrual,
    /// No penalty accrues on a debt that arose before the given date. A debt arises on its first
    /// day of delay (the day after its due date).
    NoAccrualOnDebtsArisenBefore(Date),
    /// The rate is capped at (or fixed to, depending on
    /// [`crate::penalty::CappedRateEdition`]) the given rate.
    RateCap(Rate),
}

/// A date-ranged exception to the ordinary penalty rule (both ends inclusive).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct PenaltyWindow {
    /// The first day of the window.
    pub from: Date,
    /// The last day of the window.
    pub to: Date,
    /// What the window does.
    pub effect: WindowEffect,
    /// The act that establishes it.
    pub basis: LegalAct,
}

impl PenaltyWindow {
    /// True if `day` lies in the window.
    #[must_use]
    pub fn contains(&self, day: Date) -> bool {
        self.from <= day && day <= self.to
    }

    /// True if the window can change the penalty of a debt whose first day of delay is
    /// `first_delay_day` (a moratorium on older debts is irrelevant to newer ones).
    #[must_use]
    pub fn concerns(&self, first_delay_day: Date) -> bool {
        match self.effect {
            WindowEffect::NoAccrualOnDebtsArisenBefore(d) => first_delay_day < d,
            WindowEffect::NoAccrual | WindowEffect::RateCap(_) => true,
        }
    }
}

/// The exception windows of the penalty rule: operator data.
///
/// Invariant: every window has `from <= to`, and rate windows do not overlap.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(try_from = "Vec<PenaltyWindow>", into = "Vec<PenaltyWindow>")]
pub struct PenaltyRules {
    windows: Vec<PenaltyWindow>,
}

impl PenaltyRules {
    /// Rules from their windows, checked for the invariant.
    pub fn new(mut windows: Vec<PenaltyWindow>) -> Result<PenaltyRules, KeyRateError> {
        if let Some(w) = windows.iter().find(|w| w.to < w.from) {
            return Err(KeyRateError::InvertedWindow {
                from: w.from,
                to: w.to,
            });
        }
        windows.sort_by_key(|w| (w.from, w.to));
        let mut caps = windows
            .iter()
            .filter(|w| matches!(w.effect, WindowEffect::RateCap(_)));
        if let Some(mut prev) = caps.next() {
            for w in caps {
                if w.from <= prev.to {
                    return Err(KeyRateError::OverlappingRateWindows(w.from));
                }
                prev = w;
            }
        }
        Ok(PenaltyRules { windows })
    }

    /// No exceptions at all: the bare rule of ЖК ст. 155 ч. 14.
    #[must_use]
    pub fn none() -> PenaltyRules {
        PenaltyRules {
            windows: Vec::new(),
        }
    }

    /// The Russian exceptions of billing-rules.md §7:
    /// - 06.04.2020–31.12.2020: no accrual (ПП 424);
    /// - 01.04.2022–01.10.2022: no accrual on debts that arose before 01.04.2022 (ПП 497);
    /// - 28.02.2022–31.12.2026: rate capped at 9.5 %, the key rate of 27.02.2022 (ПП 474,
    ///   extended to 01.01.2027 by ПП 329).
    #[must_use]
    pub fn russian_statutory() -> PenaltyRules {
        PenaltyRules {
            windows: vec![
                PenaltyWindow {
                    from: date!(2020 - 04 - 06),
                    to: date!(2020 - 12 - 31),
                    effect: WindowEffect::NoAccrual,
                    basis: LegalAct::Pp424,
                },
                PenaltyWindow {
                    from: date!(2022 - 02 - 28),
                    to: date!(2026 - 12 - 31),
                    effect: WindowEffect::RateCap(Rate(950)),
                    basis: LegalAct::Pp474,
                },
                PenaltyWindow {
                    from: date!(2022 - 04 - 01),
                    to: date!(2022 - 10 - 01),
                    effect: WindowEffect::NoAccrualOnDebtsArisenBefore(date!(2022 - 04 - 01)),
                    basis: LegalAct::Pp497,
                },
            ],
        }
    }

    /// The windows, sorted by start date.
    #[must_use]
    pub fn windows(&self) -> &[PenaltyWindow] {
        &self.windows
    }

    /// The act that suspends accrual on `day` for a debt first overdue on `first_delay_day`.
    #[must_use]
    pub fn suspension_on(&self, day: Date, first_delay_day: Date) -> Option<LegalAct> {
        self.windows
            .iter()
            .find(|w| {
                !matches!(w.effect, WindowEffect::RateCap(_))
                    && w.contains(day)
                    && w.concerns(first_delay_day)
            })
            .map(|w| w.basis)
    }

    /// The rate cap in force on `day` and its act.
    #[must_use]
    pub fn rate_cap_on(&self, day: Date) -> Option<(Rate, LegalAct)> {
        self.windows.iter().find_map(|w| match w.effect {
            WindowEffect::RateCap(r) if w.contains(day) => Some((r, w.basis)),
            _ => None,
        })
    }
}

impl Default for PenaltyRules {
    /// [`PenaltyRules::russian_statutory`].
    fn default() -> Self {
        PenaltyRules::russian_statutory()
    }
}

impl TryFrom<Vec<PenaltyWindow>> for PenaltyRules {
    type Error = KeyRateError;
    fn try_from(value: Vec<PenaltyWindow>) -> Result<Self, Self::Error> {
        PenaltyRules::new(value)
    }
}

impl From<PenaltyRules> for Vec<PenaltyWindow> {
    fn from(value: PenaltyRules) -> Self {
        value.windows
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn rates_parse_exactly() {
        assert_eq!(Rate::from_percent(dec!(16.5)), Ok(Rate(1650)));
        assert_eq!(Rate::from_percent(dec!(7.25)), Ok(Rate(725)));
        assert_eq!(Rate::from_percent(dec!(21)), Ok(Rate(2100)));
        assert_eq!(Rate::from_percent(dec!(0)), Ok(Rate(0)));
        assert_eq!(
            Rate::from_percent(dec!(7.255)),
            Err(KeyRateError::BadPercent(dec!(7.255)))
        );
        assert_eq!(
            Rate::from_percent(dec!(-1)),
            Err(KeyRateError::BadPercent(dec!(-1)))
        );
        assert_eq!(Rate(950).percent(), dec!(9.5));
        assert_eq!(Rate(2100).to_russian(), "21\u{a0}%");
        assert_eq!(Rate(725).to_russian(), "7,25\u{a0}%");
    }

    #[test]
    fn shipped_history_matches_the_rules() {
        let h = KeyRateHistory::bank_of_russia();
        assert!(
            KeyRateHistory::new(h.steps().to_vec()).is_ok(),
            "steps ascend"
        );
        let on = |d| h.rate_on(d).map(Rate::basis_points);
        assert_eq!(on(date!(2015 - 08 - 02)), None);
        assert_eq!(on(date!(2016 - 01 - 01)), Some(1100));
        assert_eq!(on(date!(2022 - 02 - 14)), Some(950));
        assert_eq!(on(date!(2022 - 02 - 28)), Some(2000));
        assert_eq!(on(date!(2024 - 10 - 27)), Some(1900));
        assert_eq!(on(date!(2024 - 10 - 28)), Some(2100));
        assert_eq!(on(date!(2025 - 06 - 09)), Some(2000));
        assert_eq!(on(date!(2025 - 07 - 28)), Some(1800));
        assert_eq!(on(date!(2025 - 09 - 15)), Some(1700));
        assert_eq!(on(date!(2030 - 01 - 01)), Some(1700));
    }

    #[test]
    fn history_rejects_bad_steps() {
        assert_eq!(KeyRateHistory::new(vec![]), Err(KeyRateError::EmptyHistory));
        let s = |d, bp| KeyRateStep {
            from: d,
            rate: Rate(bp),
        };
        assert_eq!(
            KeyRateHistory::new(vec![
                s(date!(2022 - 01 - 02), 1),
                s(date!(2022 - 01 - 02), 2)
            ]),
            Err(KeyRateError::NotAscending(date!(2022 - 01 - 02)))
        );
    }

    #[test]
    fn statutory_windows() {
        let r = PenaltyRules::russian_statutory();
        assert_eq!(PenaltyRules::new(r.windows().to_vec()), Ok(r.clone()));
        // ПП 424 suspends everything, both ends inclusive.
        assert_eq!(
            r.suspension_on(date!(2020 - 04 - 05), date!(2019 - 01 - 01)),
            None
        );
        assert_eq!(
            r.suspension_on(date!(2020 - 04 - 06), date!(2019 - 01 - 01)),
            Some(LegalAct::Pp424)
        );
        assert_eq!(
            r.suspension_on(date!(2020 - 12 - 31), date!(2020 - 12 - 01)),
            Some(LegalAct::Pp424)
        );
        assert_eq!(
            r.suspension_on(date!(2021 - 01 - 01), date!(2019 - 01 - 01)),
            None
        );
        // ПП 497 only for debts overdue before 01.04.2022.
        assert_eq!(
            r.suspension_on(date!(2022 - 10 - 01), date!(2022 - 03 - 31)),
            Some(LegalAct::Pp497)
        );
        assert_eq!(
            r.suspension_on(date!(2022 - 10 - 01), date!(2022 - 04 - 01)),
            None
        );
        assert_eq!(
            r.suspension_on(date!(2022 - 10 - 02), date!(2022 - 03 - 31)),
            None
        );
        assert_eq!(r.rate_cap_on(date!(2022 - 02 - 27)), None);
        assert_eq!(
            r.rate_cap_on(date!(2022 - 02 - 28)),
            Some((Rate(950), LegalAct::Pp474))
        );
        assert_eq!(
            r.rate_cap_on(date!(2026 - 12 - 31)),
            Some((Rate(950), LegalAct::Pp474))
        );
        assert_eq!(r.rate_cap_on(date!(2027 - 01 - 01)), None);
    }

    #[test]
    fn rules_reject_inverted_and_overlapping_windows() {
        let w = |from, to, effect| PenaltyWindow {
            from,
            to,
            effect,
            basis: LegalAct::Other(1),
        };
        assert!(matches!(
            PenaltyRules::new(vec![w(
                date!(2022 - 02 - 02),
                date!(2022 - 02 - 01),
                WindowEffect::NoAccrual
            )]),
            Err(KeyRateError::InvertedWindow { .. })
        ));
        assert_eq!(
            PenaltyRules::new(vec![
                w(
                    date!(2022 - 01 - 01),
                    date!(2022 - 12 - 31),
                    WindowEffect::RateCap(Rate(1))
                ),
                w(
                    date!(2022 - 12 - 31),
                    date!(2023 - 12 - 31),
                    WindowEffect::RateCap(Rate(2))
                ),
            ]),
            Err(KeyRateError::OverlappingRateWindows(date!(2022 - 12 - 31)))
        );
    }
}
