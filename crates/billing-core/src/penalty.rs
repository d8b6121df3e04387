//! Penalties for late payment of housing and utility services (пени, ЖК ст. 155 ч. 14).
//!
//! Each period's charge for a service is its own **debt tranche** with its own due date. Day k
//! of delay is the k-th day after the due date. Days 1–30 accrue nothing; days 31–90 accrue
//! 1/300 of the key rate per day on the unpaid amount; from day 91 on, 1/130. The rate is the
//! key rate on the day of actual payment (for a still unpaid debt, on the calculation date),
//! subject to the exception windows of [`PenaltyRules`] (moratoria of ПП 424 and ПП 497, the
//! 9.5 % cap of ПП 474). Payments reduce tranches oldest first unless the payer names the
//! period or service. Penalties never accrue on the penalty service itself.
//!
//! [`compute_penalties`] works on **intervals** where the debt, the fraction and the rate are
//! constant — never day by day — and explains itself: one [`PenaltyLine`] per interval
//! (tranche, from–to, days, debt, rate, fraction, amount). Each line is rounded once with
//! [`Money::round`]; the total is the sum of the rounded lines (billing-rules.md §1, §7).
//! Every configurable choice lives in [`PenaltyPolicy`].

use std::fmt;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::Date;

use crate::keyrate::{KeyRateHistory, KeyRateStep, LegalAct, PenaltyRules, Rate, WindowEffect};
use crate::money::Money;
use crate::period::Period;
use crate::service::ServiceKind;

/// A daily share of the key rate, as an exact rational (1/300, 1/130).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(try_from = "(u32, u32)", into = "(u32, u32)")]
pub struct Fraction {
    numerator: u32,
    denominator: u32,
}

impl Fraction {
    /// 1/300 of the rate per day: days 31–90 of delay.
    pub const ONE_300TH: Fraction = Fraction {
        numerator: 1,
        denominator: 300,
    };
    /// 1/130 of the rate per day: from day 91 of delay.
    pub const ONE_130TH: Fraction = Fraction {
        numerator: 1,
        denominator: 130,
    };

    /// `numerator/denominator`; `None` if the denominator is zero.
    #[must_use]
    pub const fn new(numerator: u32, denominator: u32) -> Option<Fraction> {
        if denominator == 0 {
            None
        } else {
            Some(Fraction {
                numerator,
                denominator,
            })
        }
    }

    /// The numerator.
    #[must_use]
    pub const fn numerator(self) -> u32 {
        self.numerator
    }

    /// The denominator (never zero).
    #[must_use]
    pub const fn denominator(self) -> u32 {
        self.denominator
    }
}

impl TryFrom<(u32, u32)> for Fraction {
    type Error = &'static str;
    fn try_from((n, d): (u32, u32)) -> Result<Self, Self::Error> {
        Fraction::new(n, d).ok_or("a fraction cannot have a zero denominator")
    }
}

impl From<Fraction> for (u32, u32) {
    fn from(f: Fraction) -> Self {
        (f.numerator, f.denominator)
    }
}

impl fmt::Display for Fraction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.numerator, self.denominator)
    }
}

/// Whether the day a payment is made still accrues a penalty on the amount it pays.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentDayCounting {
    /// The payment day is a day of delay: the paid amount stops accruing the day after
    /// (the default, as in ЖК ст. 155 ч. 14 «по день фактической оплаты включительно»).
    #[default]
    Counted,
    /// The paid amount stops accruing on the payment day itself.
    NotCounted,
}

/// Which edition of the ПП 474 rule a rate cap window ([`crate::keyrate::WindowEffect::RateCap`])
/// follows (billing-rules.md §7 marks this **confirm**).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CappedRateEdition {
    /// Days inside the window use the window's rate (9.5 %) whatever the key rate on the day of
    /// payment: the first edition of ПП 474.
    FixedRate,
    /// Days inside the window use the lower of the window's rate and the key rate on the day of
    /// payment (on the calculation date for unpaid debt): the later editions. The default: it
    /// is the current wording as far as the rules know, and never charges more than the other.
    #[default]
    LowerOfCapAndPaymentDay,
}

/// Every configurable choice of the penalty computation; embedded in the supplier's settings.
///
/// The defaults are the statute (ЖК ст. 155 ч. 14): 30 days of grace, 1/300 on days 31–90,
/// 1/130 from day 91, the payment day counted, and the «lower of» edition of ПП 474.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct PenaltyPolicy {
    /// Days of delay that accrue nothing (30).
    pub grace_days: u32,
    /// The first day of delay that accrues at [`PenaltyPolicy::late_fraction`] (91).
    pub late_from_day: u32,
    /// The daily share of the rate after the grace days (1/300).
    pub early_fraction: Fraction,
    /// The daily share of the rate from [`PenaltyPolicy::late_from_day`] on (1/130).
    pub late_fraction: Fraction,
    /// Whether the day of payment accrues (counted).
    pub payment_day: PaymentDayCounting,
    /// How a rate cap window applies (the lower of the cap and the payment-day rate).
    pub capped_rate: CappedRateEdition,
}

impl Default for PenaltyPolicy {
    fn default() -> Self {
        PenaltyPolicy {
            grace_days: 30,
            late_from_day: 91,
            early_fraction: Fraction::ONE_300TH,
            late_fraction: Fraction::ONE_130TH,
            payment_day: PaymentDayCounting::Counted,
            capped_rate: CappedRateEdition::LowerOfCapAndPaymentDay,
        }
    }
}

/// One period's unpaid charge for one service: the unit penalties are computed on.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct DebtTranche {
    /// The billing period the charge belongs to.
    pub period: Period,
    /// The service charged. Tranches of [`ServiceKind::Penalty`] absorb payments like any other
    /// but never accrue a penalty themselves.
    pub service: ServiceKind,
    /// The last day to pay without delay.
    pub due_date: Date,
    /// The amount charged (not negative).
    pub amount: Money,
}

/// What a payment names, if anything. Whatever a named target cannot absorb goes on in the
/// default order (oldest tranche first); what no tranche can absorb is an advance and accrues
/// nothing.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentTarget {
    /// Oldest tranche first: by due date, then period, then [`ServiceKind::ALL`] order.
    #[default]
    Oldest,
    /// The tranches of this period first.
    Period(Period),
    /// The tranches of this service first, oldest first.
    Service(ServiceKind),
    /// This one tranche first.
    Tranche(Period, ServiceKind),
}

/// A payment, or any other credit, as the penalty computation sees it.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct PaymentEvent {
    /// The day of actual payment (the day the money reached the supplier's account).
    pub date: Date,
    /// The amount (positive).
    pub amount: Money,
    /// What the payer named.
    pub target: PaymentTarget,
}

/// Which day's key rate a line uses.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RateDay {
    /// The day the part of the debt was paid.
    Payment,
    /// The calculation date: the part is still unpaid.
    Calculation,
}

/// The rate a penalty line applies, and why.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppliedRate {
    /// The key rate on a day (ЖК ст. 155 ч. 14).
    KeyRate {
        /// The rate.
        rate: Rate,
        /// The day whose rate it is.
        on: Date,
        /// Why that day.
        day: RateDay,
    },
    /// The rate of a cap window (ПП 474: 9.5 %, the key rate of 27.02.2022).
    Capped {
        /// The rate.
        rate: Rate,
        /// The act that sets it.
        basis: LegalAct,
    },
    /// No accrual: a moratorium.
    Suspended {
        /// The act that suspends it.
        basis: LegalAct,
    },
}

impl AppliedRate {
    /// The annual rate applied; zero while suspended.
    #[must_use]
    pub fn rate(self) -> Rate {
        match self {
            AppliedRate::KeyRate { rate, .. } | AppliedRate::Capped { rate, .. } => rate,
            AppliedRate::Suspended { .. } => Rate::ZERO,
        }
    }
}

/// One line of the explanation: a stretch of days of one tranche where the debt, the rate and
/// the fraction are constant.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct PenaltyLine {
    /// Index of the tranche in the input slice.
    pub tranche: usize,
    /// The tranche's period.
    pub period: Period,
    /// The tranche's service.
    pub service: ServiceKind,
    /// The first day of the stretch.
    pub from: Date,
    /// The last day of the stretch (inclusive).
    pub to: Date,
    /// The number of days, `to − from + 1`.
    pub days: u32,
    /// The debt the line accrues on.
    pub debt: Money,
    /// The rate and its source.
    pub rate: AppliedRate,
    /// The daily share of the rate.
    pub fraction: Fraction,
    /// `debt × rate × days × fraction`, rounded with [`Money::round`]; zero while suspended.
    pub amount: Money,
}

impl PenaltyLine {
    /// The exact, unrounded amount: `debt × rate/100 × days × fraction`.
    #[must_use]
    pub fn unrounded(&self) -> Decimal {
        let bp = self.rate.rate().basis_points();
        if bp == 0 || self.days == 0 || self.debt.is_zero() {
            return Decimal::ZERO;
        }
        let num = u64::from(bp) * u64::from(self.days) * u64::from(self.fraction.numerator);
        let den = u64::from(self.fraction.denominator) * 10_000;
        self.debt.amount() * Decimal::from(num) / Decimal::from(den)
    }

    /// The line as Russian text, for a bill or an answer to "why this penalty?".
    #[must_use]
    pub fn to_russian(&self) -> String {
        let fmt_date = |d: Date| format!("{:02}.{:02}.{}", d.day(), u8::from(d.month()), d.year());
        let head = format!(
            "{} ({}): {}–{}, {} дн., долг {}",
            self.service.russian_name(),
            self.period.to_russian(),
            fmt_date(self.from),
            fmt_date(self.to),
            self.days,
            self.debt.to_russian()
        );
        match self.rate {
            AppliedRate::Suspended { basis } => {
                format!("{head}: пени не начисляются ({})", basis.citation())
            }
            AppliedRate::KeyRate { rate, on, day } => {
                let why = match day {
                    RateDay::Payment => "на день оплаты",
                    RateDay::Calculation => "на день расчёта",
                };
                format!(
                    "{head} × {} × {} (ключевая ставка {why} {}) = {}",
                    rate.to_russian(),
                    self.fraction,
                    fmt_date(on),
                    self.amount.to_russian()
                )
            }
            AppliedRate::Capped { rate, basis } => format!(
                "{head} × {} × {} ({}) = {}",
                rate.to_russian(),
                self.fraction,
                basis.citation(),
                self.amount.to_russian()
            ),
        }
    }
}

/// Why penalties could not be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PenaltyError {
    /// The key-rate history has no rate for a day whose rate is needed; add the step.
    #[error("the key-rate history has no rate for {0}")]
    NoKeyRate(Date),
    /// A tranche has a negative amount; credits are payments, not negative tranches.
    #[error("tranche {period} {service} has a negative amount")]
    NegativeTranche {
        /// The tranche's period.
        period: Period,
        /// The tranche's service.
        service: ServiceKind,
    },
    /// A payment is zero or negative.
    #[error("payment of {0} is not positive")]
    NonPositivePayment(Date),
    /// An amount is beyond ±9.2·10¹⁶ ₽ and cannot be computed in kopecks.
    #[error("amount {0} is out of range")]
    AmountOutOfRange(Money),
    /// The policy contradicts itself.
    #[error("invalid penalty policy: {0}")]
    InvalidPolicy(&'static str),
}

/// The result of [`compute_penalties`]: the lines and their total.
///
/// Keep one report per worker and pass it to [`compute_penalties_into`] to reuse its buffers.
#[derive(Clone, Debug, Default)]
pub struct PenaltyReport {
    lines: Vec<PenaltyLine>,
    total: Money,
    scratch: Scratch,
}

impl PartialEq for PenaltyReport {
    fn eq(&self, other: &Self) -> bool {
        self.lines == other.lines && self.total == other.total
    }
}

impl PenaltyReport {
    /// The explanation, oldest tranche first, each tranche's lines in date order.
    #[must_use]
    pub fn lines(&self) -> &[PenaltyLine] {
        &self.lines
    }

    /// The total penalty: the sum of the rounded lines.
    #[must_use]
    pub fn total(&self) -> Money {
        self.total
    }

    /// The total of one tranche (by its index in the input).
    #[must_use]
    pub fn total_of_tranche(&self, tranche: usize) -> Money {
        self.lines
            .iter()
            .filter(|l| l.tranche == tranche)
            .map(|l| l.amount)
            .sum()
    }

    /// The whole explanation as Russian text, one line per [`PenaltyLine`] and a total.
    #[must_use]
    pub fn to_russian(&self) -> String {
        let mut s = String::new();
        for l in &self.lines {
            s.push_str(&l.to_russian());
            s.push('\n');
        }
        s.push_str("Итого пени: ");
        s.push_str(&self.total.to_russian());
        s
    }
}

/// Reusable working memory. Days are Julian day numbers inside the computation, amounts whole
/// kopecks: the hot loop does integer arithmetic only, and nothing allocates once the buffers
/// have grown.
#[derive(Clone, Debug, Default)]
struct Scratch {
    /// Per input tranche: its key in the default order (due date, period, service rank).
    keys: Vec<(Date, Period, usize)>,
    /// Tranche indices in the default order (rank → index).
    order: Vec<usize>,
    /// Unpaid kopecks per rank.
    remaining: Vec<i64>,
    /// Indices of the payments up to the calculation date, in date order.
    payments: Vec<usize>,
    /// The repayments, grouped by rank, each rank's in payment-date order.
    repayments: Vec<Repayment>,
    /// Second buffer for regrouping [`Scratch::repayments`] by rank.
    regroup: Vec<Repayment>,
    /// Per rank: where its repayments start in the regrouped buffer.
    counts: Vec<usize>,
    layers: Vec<Layer>,
    windows: Vec<Window>,
    /// The windows that concern the current tranche and overlap its accruing days.
    active: Vec<Window>,
    /// Julian days and their dates.
    points: Vec<(i32, Date)>,
    groups: Vec<(AppliedRate, i64)>,
    /// The lines of the previous stretch, which the current one may extend.
    open: Vec<Open>,
    next_open: Vec<Open>,
    /// Per line: its debt and its amount in kopecks.
    amounts_of_lines: Vec<(i64, i64)>,
    /// `amounts_of_lines` as decimals, written in full before any is read.
    decimals: Vec<(Decimal, Decimal)>,
}

/// A part of a tranche paid by one payment.
#[derive(Clone, Copy, Debug)]
struct Repayment {
    rank: usize,
    date: Date,
    /// `date` as a Julian day.
    day: i32,
    /// The key rate on `date`, if the history has one (the error is raised only if needed).
    rate: Option<Rate>,
    kopecks: i64,
}

/// A part of a tranche's debt that accrues until `until` (exclusive) at the rate of `on`.
#[derive(Clone, Copy, Debug)]
struct Layer {
    kopecks: i64,
    until: i32,
    /// `until` as a date.
    until_date: Date,
    rate: Rate,
    on: Date,
    /// The rate outside the windows, with its day.
    applied: AppliedRate,
}

/// An exception window in Julian days, `to` exclusive.
#[derive(Clone, Copy, Debug)]
struct Window {
    from: i32,
    to: i32,
    /// `from` and `to` as dates.
    from_date: Date,
    to_date: Date,
    /// `Some(cap)` for a rate cap; `None` for a moratorium.
    cap: Option<Rate>,
    /// For a moratorium on older debts: the first Julian day of delay must be before this.
    arisen_before: Option<i32>,
    /// The rate the window applies: capped, or suspended.
    applied: AppliedRate,
}

impl Window {
    fn concerns(&self, first_delay_day: i32) -> bool {
        self.arisen_before.is_none_or(|d| first_delay_day < d)
    }
}

/// A line of the current stretch that the next stretch may extend.
#[derive(Clone, Copy, Debug)]
struct Open {
    /// Index into the report's lines, which holds its rate and fraction.
    line: usize,
    days: u32,
    debt: i64,
    /// Whether the current stretch extends it.
    extended: bool,
}

/// Computes the penalties on `tranches` as of `as_of` (inclusive), given the payment history.
///
/// Payments dated after `as_of` are ignored. Lines are ordered oldest tranche first; grace days
/// produce no line; days inside a moratorium produce a line with a zero amount that names the
/// act, so the explanation shows why nothing accrued.
///
/// ```
/// use billing_core::keyrate::{KeyRateHistory, PenaltyRules};
/// use billing_core::penalty::{compute_penalties, DebtTranche, PenaltyPolicy};
/// use billing_core::{Money, Period, ServiceKind};
/// use time::macros::date;
///
/// // January 2024 electricity, 1 000 ₽, due 10.02.2024, unpaid on 30.06.2024.
/// let tranche = DebtTranche {
///     period: Period::new(2024, 1).unwrap(),
///     service: ServiceKind::Electricity,
///     due_date: date!(2024 - 02 - 10),
///     amount: Money::from_roubles(1000),
/// };
/// let report = compute_penalties(
///     &[tranche],
///     &[],
///     date!(2024 - 06 - 30),
///     &KeyRateHistory::bank_of_russia(),
///     &PenaltyRules::russian_statutory(),
///     &PenaltyPolicy::default(),
/// )
/// .unwrap();
/// // Days 31–90 (12.03–10.05): 1000 × 9.5 % × 60 / 300 = 19.00 (rate capped by ПП 474);
/// // days 91–141 (11.05–30.06): 1000 × 9.5 % × 51 / 130 = 37.269… → 37.27.
/// let amounts: Vec<_> = report.lines().iter().map(|l| l.amount.to_string()).collect();
/// assert_eq!(amounts, ["19.00", "37.27"]);
/// assert_eq!(report.total(), Money::from_kopecks(5627));
/// ```
pub fn compute_penalties(
    tranches: &[DebtTranche],
    payments: &[PaymentEvent],
    as_of: Date,
    key_rates: &KeyRateHistory,
    rules: &PenaltyRules,
    policy: &PenaltyPolicy,
) -> Result<PenaltyReport, PenaltyError> {
    let mut report = PenaltyReport::default();
    compute_penalties_into(
        &mut report,
        tranches,
        payments,
        as_of,
        (key_rates, rules, policy),
    )?;
    Ok(report)
}

/// [`compute_penalties`] into an existing report, reusing its buffers (no allocation once they
/// have grown). `setup` is `(key_rates, rules, policy)`. On error the report is left empty.
pub fn compute_penalties_into(
    report: &mut PenaltyReport,
    tranches: &[DebtTranche],
    payments: &[PaymentEvent],
    as_of: Date,
    setup: (&KeyRateHistory, &PenaltyRules, &PenaltyPolicy),
) -> Result<(), PenaltyError> {
    report.lines.clear();
    report.total = Money::ZERO;
    let result = compute(report, tranches, payments, as_of, setup);
    if result.is_err() {
        report.lines.clear();
    }
    result
}

fn validate(
    tranches: &[DebtTranche],
    payments: &[PaymentEvent],
    policy: &PenaltyPolicy,
) -> Result<(), PenaltyError> {
    if policy.late_from_day <= policy.grace_days {
        return Err(PenaltyError::InvalidPolicy(
            "the late fraction must start after the grace days",
        ));
    }
    if let Some(t) = tranches.iter().find(|t| t.amount.is_negative()) {
        return Err(PenaltyError::NegativeTranche {
            period: t.period,
            service: t.service,
        });
    }
    if let Some(p) = payments.iter().find(|p| !p.amount.is_positive()) {
        return Err(PenaltyError::NonPositivePayment(p.date));
    }
    Ok(())
}

fn service_rank(s: ServiceKind) -> usize {
    ServiceKind::ALL
        .iter()
        .position(|k| *k == s)
        .unwrap_or(usize::MAX)
}

fn kopecks(m: Money) -> Result<i64, PenaltyError> {
    m.kopecks().map_err(|_| PenaltyError::AmountOutOfRange(m))
}

/// A number of days as an offset of Julian days, saturating.
fn day_offset(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// Whole kopecks as a decimal of scale 2, built from its parts so that it inlines;
/// `Money::round` of it is exactly [`Money::from_kopecks`].
fn decimal(kopecks: i64) -> Decimal {
    let abs = kopecks.unsigned_abs();
    let lo = u32::try_from(abs & 0xFFFF_FFFF).unwrap_or(0);
    let mid = u32::try_from(abs >> 32).unwrap_or(0);
    let d = Decimal::from_parts(lo, mid, 0, kopecks < 0, 2);
    debug_assert_eq!(
        Money::round(d).amount().serialize(),
        Money::from_kopecks(kopecks).amount().serialize()
    );
    d
}

fn date_of(jd: i32) -> Date {
    Date::from_julian_day(jd).unwrap_or(Date::MAX)
}

/// Looks up key rates for days that mostly come in ascending order: a moving cursor over the
/// steps instead of a binary search per day.
struct RateCursor<'a> {
    steps: &'a [KeyRateStep],
    /// The number of steps that start on or before the last day asked for.
    next: usize,
}

impl<'a> RateCursor<'a> {
    fn new(history: &'a KeyRateHistory) -> Self {
        RateCursor {
            steps: history.steps(),
            next: 0,
        }
    }

    /// [`KeyRateHistory::rate_on`], by walking forward from the previous day asked for.
    #[inline]
    fn rate_on(&mut self, date: Date) -> Option<Rate> {
        let steps = self.steps;
        if self.next > 0 && steps[self.next - 1].from > date {
            // Backwards (never for dates in ascending order): start over.
            self.next = steps.partition_point(|s| s.from <= date);
        } else if self.next == 0 {
            self.next = steps.partition_point(|s| s.from <= date);
        } else {
            while self.next < steps.len() && steps[self.next].from <= date {
                self.next += 1;
            }
        }
        self.next.checked_sub(1).map(|i| steps[i].rate)
    }
}

/// Allocates the payments to tranches; fills `scratch.repayments` grouped by tranche rank,
/// each rank's in payment-date order, and returns the key rate on `as_of` (if any).
fn allocate(
    s: &mut Scratch,
    tranches: &[DebtTranche],
    payments: &[PaymentEvent],
    as_of: Date,
    key_rates: &KeyRateHistory,
) -> Result<Option<Rate>, PenaltyError> {
    let n = tranches.len();
    s.keys.clear();
    s.keys.extend(
        tranches
            .iter()
            .map(|t| (t.due_date, t.period, service_rank(t.service))),
    );
    s.order.clear();
    s.order.extend(0..n);
    // Tranches normally arrive oldest first; sort only if they do not. Ties keep the input
    // order, as a stable sort would.
    if !s.keys.is_sorted() {
        let keys = &s.keys;
        s.order
            .sort_unstable_by(|&a, &b| keys[a].cmp(&keys[b]).then(a.cmp(&b)));
    }
    s.remaining.clear();
    for &i in &s.order {
        s.remaining.push(kopecks(tranches[i].amount)?);
    }

    s.payments.clear();
    s.payments
        .extend((0..payments.len()).filter(|&i| payments[i].date <= as_of));
    if !s.payments.is_sorted_by_key(|&i| payments[i].date) {
        s.payments.sort_unstable_by_key(|&i| (payments[i].date, i));
    }
    let mut rates = RateCursor::new(key_rates);
    s.repayments.clear();
    // Every rank below `first_unpaid` is paid off: the default order starts there.
    let mut first_unpaid = 0;
    for &pi in &s.payments {
        let p = payments[pi];
        let mut left = kopecks(p.amount)?;
        let rate = rates.rate_on(p.date);
        let day = p.date.to_julian_day();
        while first_unpaid < n && s.remaining[first_unpaid] == 0 {
            first_unpaid += 1;
        }
        let mut take = |rank: usize, left: &mut i64| {
            let x = (*left).min(s.remaining[rank]);
            if x > 0 {
                s.remaining[rank] -= x;
                *left -= x;
                s.repayments.push(Repayment {
                    rank,
                    date: p.date,
                    day,
                    rate,
                    kopecks: x,
                });
            }
        };
        if p.target != PaymentTarget::Oldest {
            let named = |t: &DebtTranche| match p.target {
                PaymentTarget::Oldest => false,
                PaymentTarget::Period(per) => t.period == per,
                PaymentTarget::Service(sv) => t.service == sv,
                PaymentTarget::Tranche(per, sv) => t.period == per && t.service == sv,
            };
            for (rank, &i) in s.order.iter().enumerate() {
                if left == 0 {
                    break;
                }
                if named(&tranches[i]) {
                    take(rank, &mut left);
                }
            }
        }
        for rank in first_unpaid..n {
            if left == 0 {
                break;
            }
            take(rank, &mut left);
        }
    }
    // Group by rank, keeping payment-date order within a rank (a counting sort; paying oldest
    // first already leaves them grouped).
    if !s.repayments.is_sorted_by_key(|r| r.rank) {
        s.counts.clear();
        s.counts.resize(n + 1, 0);
        for r in &s.repayments {
            s.counts[r.rank + 1] += 1;
        }
        for i in 1..=n {
            s.counts[i] += s.counts[i - 1];
        }
        s.regroup.clear();
        s.regroup.extend_from_slice(&s.repayments);
        for r in &s.regroup {
            s.repayments[s.counts[r.rank]] = *r;
            s.counts[r.rank] += 1;
        }
    }
    Ok(rates.rate_on(as_of))
}

/// `kopecks × rate × days × fraction` in kopecks, rounded half away from zero — exactly
/// `Money::round(line.unrounded())` (the tests check the identity line by line), in integer
/// arithmetic because this is the hot path: 64-bit when the product fits, else 128-bit.
fn line_kopecks(debt: i64, rate: Rate, days: u32, fraction: Fraction) -> i128 {
    if let Ok(d) = u64::try_from(debt) {
        let den = u64::from(fraction.denominator) * 10_000;
        let twice = d
            .checked_mul(u64::from(rate.basis_points()))
            .and_then(|v| v.checked_mul(u64::from(days)))
            .and_then(|v| v.checked_mul(u64::from(fraction.numerator)))
            .and_then(|v| v.checked_mul(2))
            .and_then(|v| v.checked_add(den));
        if let Some(twice) = twice {
            // The statutory fractions divide by constants, which compile to multiplications
            // (a 64-bit division costs tens of cycles). Separate functions keep the compiler
            // from merging the arms back into one division by a variable.
            let q = match 2 * den {
                6_000_000 => div_by_6_000_000(twice),
                2_600_000 => div_by_2_600_000(twice),
                d => twice / d,
            };
            return i128::from(q);
        }
    }
    let num = i128::from(debt)
        * i128::from(rate.basis_points())
        * i128::from(days)
        * i128::from(fraction.numerator);
    let den = i128::from(fraction.denominator) * 10_000;
    let q = (2 * num.abs() + den) / (2 * den);
    if num < 0 { -q } else { q }
}

/// `x / 6 000 000`: the rounding divisor of 1/300.
#[inline(never)]
fn div_by_6_000_000(x: u64) -> u64 {
    x / 6_000_000
}

/// `x / 2 600 000`: the rounding divisor of 1/130.
#[inline(never)]
fn div_by_2_600_000(x: u64) -> u64 {
    x / 2_600_000
}

fn compute(
    report: &mut PenaltyReport,
    tranches: &[DebtTranche],
    payments: &[PaymentEvent],
    as_of: Date,
    (key_rates, rules, policy): (&KeyRateHistory, &PenaltyRules, &PenaltyPolicy),
) -> Result<(), PenaltyError> {
    validate(tranches, payments, policy)?;
    let PenaltyReport {
        lines,
        total,
        scratch: s,
    } = report;
    let as_of_rate = allocate(s, tranches, payments, as_of, key_rates)?;
    s.windows.clear();
    s.windows.extend(rules.windows().iter().map(|w| {
        let (cap, arisen_before, applied) = match w.effect {
            WindowEffect::NoAccrual => (None, None, AppliedRate::Suspended { basis: w.basis }),
            WindowEffect::NoAccrualOnDebtsArisenBefore(d) => (
                None,
                Some(d.to_julian_day()),
                AppliedRate::Suspended { basis: w.basis },
            ),
            WindowEffect::RateCap(rate) => (
                Some(rate),
                None,
                AppliedRate::Capped {
                    rate,
                    basis: w.basis,
                },
            ),
        };
        let to = w.to.to_julian_day().saturating_add(1);
        Window {
            from: w.from.to_julian_day(),
            to,
            from_date: w.from,
            to_date: date_of(to),
            cap,
            arisen_before,
            applied,
        }
    }));
    let end = as_of.to_julian_day().saturating_add(1);
    let counted = i32::from(policy.payment_day == PaymentDayCounting::Counted);
    let lower_of = policy.capped_rate == CappedRateEdition::LowerOfCapAndPaymentDay;
    let start_offset = day_offset(policy.grace_days.saturating_add(1));
    let late_offset = day_offset(policy.late_from_day);
    // Every new line starts as a copy of this one: built once, it copies without stalls.
    let template = PenaltyLine {
        tranche: 0,
        period: Period::of(as_of),
        service: ServiceKind::Penalty,
        from: as_of,
        to: as_of,
        days: 0,
        debt: Money::ZERO,
        rate: AppliedRate::Suspended {
            basis: LegalAct::Other(0),
        },
        fraction: policy.early_fraction,
        amount: Money::ZERO,
    };
    let mut rep_cursor = 0;
    s.amounts_of_lines.clear();
    let mut sum: i128 = 0;
    // The first line whose amount does not fit in kopecks: reported once all lines are known.
    let mut out_of_range: Option<usize> = None;

    for rank in 0..s.order.len() {
        let ti = s.order[rank];
        let t = &tranches[ti];
        let rep_start = rep_cursor;
        while rep_cursor < s.repayments.len() && s.repayments[rep_cursor].rank == rank {
            rep_cursor += 1;
        }
        if t.service == ServiceKind::Penalty || t.amount.is_zero() {
            continue;
        }
        let due = t.due_date.to_julian_day();
        let first_delay_day = due.saturating_add(1);
        let start = due.saturating_add(start_offset);
        let late = due.saturating_add(late_offset);
        if start >= end {
            continue;
        }

        // The layers of the debt: each payment's part stops accruing at its effective day and
        // uses the payment day's rate; the unpaid rest runs to the end at the calculation rate.
        // Parts paid on the same day behave as one; the layers come in ascending `until`.
        s.layers.clear();
        let mut live_debt = 0i64;
        for r in &s.repayments[rep_start..rep_cursor] {
            let until = r.day + counted;
            if until <= start {
                continue;
            }
            let rate = r.rate.ok_or(PenaltyError::NoKeyRate(r.date))?;
            live_debt += r.kopecks;
            if let Some(last) = s.layers.last_mut()
                && last.on == r.date
            {
                last.kopecks += r.kopecks;
                continue;
            }
            let until_date = if counted == 1 {
                r.date.next_day().unwrap_or(Date::MAX)
            } else {
                r.date
            };
            s.layers.push(Layer {
                kopecks: r.kopecks,
                until,
                until_date,
                rate,
                on: r.date,
                applied: AppliedRate::KeyRate {
                    rate,
                    on: r.date,
                    day: RateDay::Payment,
                },
            });
        }
        let unpaid = s.remaining[rank];
        if unpaid > 0 {
            let rate = as_of_rate.ok_or(PenaltyError::NoKeyRate(as_of))?;
            live_debt += unpaid;
            s.layers.push(Layer {
                kopecks: unpaid,
                until: end,
                until_date: as_of,
                rate,
                on: as_of,
                applied: AppliedRate::KeyRate {
                    rate,
                    on: as_of,
                    day: RateDay::Calculation,
                },
            });
        }
        if s.layers.is_empty() {
            continue;
        }

        // Every day where something changes, with its date: the fraction, a window edge, the
        // end of a layer. The last point is the day after the calculation date.
        s.points.clear();
        s.points.push((start, date_of(start)));
        let inside = |d: i32| start < d && d < end;
        if inside(late) {
            s.points.push((late, date_of(late)));
        }
        s.active.clear();
        // Whether a window starts or ends among the accruing days.
        let mut partial = false;
        for w in &s.windows {
            if w.from < end && start < w.to && w.concerns(first_delay_day) {
                s.active.push(*w);
                if inside(w.from) {
                    s.points.push((w.from, w.from_date));
                    partial = true;
                }
                if inside(w.to) {
                    s.points.push((w.to, w.to_date));
                    partial = true;
                }
            }
        }
        // Windows that cover every accruing day give every stretch the same state.
        let fixed_state = (!partial).then(|| window_state(&s.active, start));
        for l in &s.layers {
            if inside(l.until) {
                s.points.push((l.until, l.until_date));
            }
        }
        s.points.push((end, as_of));
        if !s.points.is_sorted_by_key(|p| p.0) {
            s.points.sort_unstable_by_key(|p| p.0);
        }
        s.points.dedup_by_key(|p| p.0);

        s.open.clear();
        let mut open_fraction = policy.early_fraction;
        let mut live = 0;
        for k in 0..s.points.len() - 1 {
            let (x, from) = s.points[k];
            let y = s.points[k + 1].0;
            while live < s.layers.len() && s.layers[live].until <= x {
                live_debt -= s.layers[live].kopecks;
                live += 1;
            }
            let days = u32::try_from(y - x).unwrap_or(0);
            let fraction = if x < late {
                policy.early_fraction
            } else {
                policy.late_fraction
            };
            let same_fraction = open_fraction == fraction;
            open_fraction = fraction;
            let (suspended, cap) = fixed_state.unwrap_or_else(|| window_state(&s.active, x));
            let layers = &s.layers[live..];
            // The usual case: the whole live debt gets one rate on this stretch.
            let single = if layers.is_empty() {
                None
            } else {
                match (suspended, cap) {
                    (Some(applied), _) => Some(applied),
                    (None, Some((rate, applied)))
                        if !lower_of || layers.iter().all(|l| l.rate >= rate) =>
                    {
                        Some(applied)
                    }
                    (None, None) if layers.len() == 1 => Some(&layers[0].applied),
                    _ => None,
                }
            };
            if let Some(rate) = single {
                // Extend the line of the previous stretch with the same debt and rate, if any,
                // and close the others; else start a line.
                let debt = live_debt;
                let kept = if same_fraction {
                    s.open
                        .iter()
                        .position(|o| o.debt == debt && lines[o.line].rate == *rate)
                } else {
                    None
                };
                if s.open.len() > usize::from(kept.is_some()) {
                    let to = last_day_before(from, x);
                    for (i, o) in s.open.iter().enumerate() {
                        if Some(i) != kept {
                            close(
                                lines,
                                &mut s.amounts_of_lines,
                                o,
                                to,
                                (&mut sum, &mut out_of_range),
                            );
                        }
                    }
                }
                if let Some(i) = kept {
                    s.open.swap(0, i);
                    s.open.truncate(1);
                    s.open[0].days += days;
                } else {
                    s.open.clear();
                    let line = open_line(
                        lines,
                        &mut s.amounts_of_lines,
                        (&template, ti, t),
                        from,
                        debt,
                    );
                    lines[line].rate = *rate;
                    lines[line].fraction = fraction;
                    s.open.push(Open {
                        line,
                        days,
                        debt,
                        extended: false,
                    });
                }
                continue;
            }

            // Several rates: group the live layers by the rate they get on this stretch, in
            // the order of their first layer. Distinct layers have distinct key rates.
            s.groups.clear();
            match cap {
                Some((cap_rate, applied)) => {
                    let mut capped = None;
                    for l in layers {
                        if l.rate < cap_rate {
                            s.groups.push((l.applied, l.kopecks));
                        } else if let Some(g) = capped {
                            let g: &mut (AppliedRate, i64) = &mut s.groups[g];
                            g.1 += l.kopecks;
                        } else {
                            capped = Some(s.groups.len());
                            s.groups.push((*applied, l.kopecks));
                        }
                    }
                }
                None => s
                    .groups
                    .extend(layers.iter().map(|l| (l.applied, l.kopecks))),
            }
            // Extend a line of the previous stretch where nothing changed, else start one;
            // close the lines that end here.
            s.next_open.clear();
            for &(rate, debt) in &s.groups {
                let same = if same_fraction {
                    s.open
                        .iter_mut()
                        .find(|o| !o.extended && o.debt == debt && lines[o.line].rate == rate)
                } else {
                    None
                };
                if let Some(o) = same {
                    o.extended = true;
                    s.next_open.push(Open {
                        line: o.line,
                        days: o.days + days,
                        debt,
                        extended: false,
                    });
                } else {
                    let line = open_line(
                        lines,
                        &mut s.amounts_of_lines,
                        (&template, ti, t),
                        from,
                        debt,
                    );
                    lines[line].rate = rate;
                    lines[line].fraction = fraction;
                    s.next_open.push(Open {
                        line,
                        days,
                        debt,
                        extended: false,
                    });
                }
            }
            if s.open.iter().any(|o| !o.extended) {
                let to = last_day_before(from, x);
                for o in s.open.iter().filter(|o| !o.extended) {
                    close(
                        lines,
                        &mut s.amounts_of_lines,
                        o,
                        to,
                        (&mut sum, &mut out_of_range),
                    );
                }
            }
            std::mem::swap(&mut s.open, &mut s.next_open);
        }
        for o in &s.open {
            close(
                lines,
                &mut s.amounts_of_lines,
                o,
                as_of,
                (&mut sum, &mut out_of_range),
            );
        }
    }

    if let Some(i) = out_of_range {
        return Err(PenaltyError::AmountOutOfRange(Money::from_kopecks(
            s.amounts_of_lines[i].0,
        )));
    }
    // The money of the lines, in two passes: reading a decimal back right after writing it
    // stalls (a store-to-load forward that fails), once the writes have landed it does not.
    s.decimals.clear();
    s.decimals.extend(
        s.amounts_of_lines
            .iter()
            .map(|&(debt, amount)| (decimal(debt), decimal(amount))),
    );
    for (l, &(debt, amount)) in lines.iter_mut().zip(&s.decimals) {
        l.debt = Money::round(debt);
        l.amount = Money::round(amount);
    }
    *total = Money::from_kopecks(
        i64::try_from(sum).map_err(|_| PenaltyError::AmountOutOfRange(Money::ZERO))?,
    );
    Ok(())
}

/// The day before `date`, which is the Julian day `jd` (never the first representable day
/// here: a line ends on it).
fn last_day_before(date: Date, jd: i32) -> Date {
    date.previous_day().unwrap_or_else(|| date_of(jd - 1))
}

/// The windows' effect on day `x`: the first moratorium in force, and the rate cap in force.
fn window_state(active: &[Window], x: i32) -> (Option<&AppliedRate>, Option<(Rate, &AppliedRate)>) {
    let mut suspended = None;
    let mut cap = None;
    for w in active {
        if w.from <= x && x < w.to {
            match w.cap {
                Some(r) => cap = Some((r, &w.applied)),
                None => suspended = suspended.or(Some(&w.applied)),
            }
        }
    }
    (suspended, cap)
}

/// Starts a line on `from` as a copy of `template` and returns its index; the caller sets its
/// rate and fraction, [`close`] its end, days and amount, and the last pass its money. The
/// fields are written in place: assembling a whole line first costs a stalled copy per line.
fn open_line(
    lines: &mut Vec<PenaltyLine>,
    amounts: &mut Vec<(i64, i64)>,
    (template, tranche, t): (&PenaltyLine, usize, &DebtTranche),
    from: Date,
    debt: i64,
) -> usize {
    let line = lines.len();
    lines.push(*template);
    amounts.push((debt, 0));
    let l = &mut lines[line];
    l.tranche = tranche;
    l.period = t.period;
    l.service = t.service;
    l.from = from;
    line
}

/// Completes a line that ends on `to`: its days and its rounded amount in kopecks.
fn close(
    lines: &mut [PenaltyLine],
    amounts: &mut [(i64, i64)],
    o: &Open,
    to: Date,
    (sum, out_of_range): (&mut i128, &mut Option<usize>),
) {
    let l = &mut lines[o.line];
    l.days = o.days;
    l.to = to;
    let k = line_kopecks(o.debt, l.rate.rate(), o.days, l.fraction);
    match i64::try_from(k) {
        Ok(k) => {
            amounts[o.line].1 = k;
            *sum += i128::from(k);
        }
        Err(_) => {
            if out_of_range.is_none_or(|i| o.line < i) {
                *out_of_range = Some(o.line);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn tranche(y: i32, m: u32, service: ServiceKind, rub: i64) -> DebtTranche {
        let period = Period::new(y, m).unwrap();
        let due_date = crate::period::DueDayPolicy::default().due_date(period);
        DebtTranche {
            period,
            service,
            due_date,
            amount: Money::from_roubles(rub),
        }
    }

    fn pay(date: Date, rub: i64) -> PaymentEvent {
        PaymentEvent {
            date,
            amount: Money::from_roubles(rub),
            target: PaymentTarget::Oldest,
        }
    }

    fn run(
        t: &[DebtTranche],
        p: &[PaymentEvent],
        as_of: Date,
        policy: &PenaltyPolicy,
    ) -> PenaltyReport {
        compute_penalties(
            t,
            p,
            as_of,
            &KeyRateHistory::bank_of_russia(),
            &PenaltyRules::russian_statutory(),
            policy,
        )
        .unwrap()
    }

    fn amounts(r: &PenaltyReport) -> Vec<String> {
        r.lines()
            .iter()
            .map(|l| {
                format!(
                    "{}..{} {} {} {}",
                    l.from, l.to, l.debt, l.fraction, l.amount
                )
            })
            .collect()
    }

    #[test]
    fn nothing_in_the_grace_days() {
        // March 2019, due 10.04.2019; day 30 is 10.05.2019.
        let t = [tranche(2019, 3, ServiceKind::Electricity, 1000)];
        let r = run(&t, &[], date!(2019 - 05 - 10), &PenaltyPolicy::default());
        assert!(r.lines().is_empty());
        assert_eq!(r.total(), Money::ZERO);
        // Day 31 (11.05.2019): 1000 × 7.75 % (rate of 11.05.2019) / 300 = 0.2583… → 0.26.
        let r = run(&t, &[], date!(2019 - 05 - 11), &PenaltyPolicy::default());
        assert_eq!(amounts(&r), ["2019-05-11..2019-05-11 1000.00 1/300 0.26"]);
    }

    #[test]
    fn payment_day_rate_outside_windows() {
        // November 2018 electricity 3000 ₽, due 10.12.2018. Paid 1000 ₽ on 18.03.2019, the rest
        // unpaid on 30.04.2019 (7.75 % on both days, but each part cites its own day).
        // Day 31 = 10.01.2019, day 90 = 10.03.2019, day 91 = 11.03.2019.
        let t = [tranche(2018, 11, ServiceKind::Electricity, 3000)];
        let r = run(
            &t,
            &[pay(date!(2019 - 03 - 18), 1000)],
            date!(2019 - 04 - 30),
            &PenaltyPolicy::default(),
        );
        assert_eq!(
            amounts(&r),
            [
                // the paid part: 1000 × 7.75 % × 60 / 300 = 15.50
                "2019-01-10..2019-03-10 1000.00 1/300 15.50",
                // the unpaid part: 2000 × 7.75 % × 60 / 300 = 31.00
                "2019-01-10..2019-03-10 2000.00 1/300 31.00",
                // 11.03–18.03 (payment day counted): 1000 × 7.75 % × 8 / 130 = 4.769… → 4.77
                "2019-03-11..2019-03-18 1000.00 1/130 4.77",
                // 11.03–30.04: 51 days, 2000 × 7.75 % × 51 / 130 = 60.807… → 60.81
                "2019-03-11..2019-04-30 2000.00 1/130 60.81",
            ]
        );
        assert_eq!(
            r.lines()[0].rate,
            AppliedRate::KeyRate {
                rate: Rate::from_basis_points(775),
                on: date!(2019 - 03 - 18),
                day: RateDay::Payment
            }
        );
        assert_eq!(
            r.lines()[1].rate,
            AppliedRate::KeyRate {
                rate: Rate::from_basis_points(775),
                on: date!(2019 - 04 - 30),
                day: RateDay::Calculation
            }
        );
        assert_eq!(r.total(), Money::from_kopecks(15_50 + 31_00 + 4_77 + 60_81));
        // Not counting the payment day ends the paid part one day earlier:
        // 11.03–17.03: 1000 × 7.75 % × 7 / 130 = 4.173… → 4.17.
        let policy = PenaltyPolicy {
            payment_day: PaymentDayCounting::NotCounted,
            ..PenaltyPolicy::default()
        };
        let r = run(
            &t,
            &[pay(date!(2019 - 03 - 18), 1000)],
            date!(2019 - 04 - 30),
            &policy,
        );
        assert_eq!(r.total(), Money::from_kopecks(15_50 + 31_00 + 4_17 + 60_81));
    }

    #[test]
    fn different_payment_days_give_different_rates() {
        // August 2019 cold water 600 ₽, due 10.09.2019; day 31 = 11.10.2019, day 90 = 09.12.2019.
        // 300 ₽ paid 20.10.2019 (rate 7 %), 300 ₽ unpaid on 09.12.2019 (rate 6.5 %).
        let t = [tranche(2019, 8, ServiceKind::ColdWater, 600)];
        let r = run(
            &t,
            &[pay(date!(2019 - 10 - 20), 300)],
            date!(2019 - 12 - 09),
            &PenaltyPolicy::default(),
        );
        let rates: Vec<_> = r
            .lines()
            .iter()
            .map(|l| (l.from, l.to, l.debt, l.rate.rate().basis_points()))
            .collect();
        assert_eq!(
            rates,
            [
                (
                    date!(2019 - 10 - 11),
                    date!(2019 - 10 - 20),
                    Money::from_roubles(300),
                    700
                ),
                (
                    date!(2019 - 10 - 11),
                    date!(2019 - 12 - 09),
                    Money::from_roubles(300),
                    650
                ),
            ]
        );
        // 300 × 7 % × 10 / 300 = 0.70; 300 × 6.5 % × 60 / 300 = 3.90.
        assert_eq!(r.total(), Money::from_kopecks(70 + 390));
    }

    #[test]
    fn moratorium_of_2020_suspends_and_days_keep_counting() {
        // January 2020 electricity 1000 ₽, due 10.02.2020, day 31 = 12.03.2020, unpaid.
        // 12.03–05.04: 25 days at 1/300; 06.04–31.12.2020 suspended (ПП 424); from 01.01.2021 the
        // debt is long past day 90 (day 91 = 11.05.2020) so 1/130. Rate on 31.01.2021: 4.25 %.
        // 25 × 1000 × 4.25 % / 300 = 3.5416… → 3.54; 31 × 1000 × 4.25 % / 130 = 10.134… → 10.13.
        let t = [tranche(2020, 1, ServiceKind::Electricity, 1000)];
        let r = run(&t, &[], date!(2021 - 01 - 31), &PenaltyPolicy::default());
        let lines: Vec<_> = r
            .lines()
            .iter()
            .map(|l| (l.from, l.days, l.fraction, l.amount, l.rate))
            .collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[0].0, date!(2020 - 03 - 12));
        assert_eq!(lines[0].3, Money::from_kopecks(354));
        assert_eq!(
            lines[1].4,
            AppliedRate::Suspended {
                basis: LegalAct::Pp424
            }
        );
        assert_eq!(
            (lines[1].0, lines[1].1, lines[1].2),
            (date!(2020 - 04 - 06), 35, Fraction::ONE_300TH)
        );
        assert_eq!(
            (lines[2].0, lines[2].2),
            (date!(2020 - 05 - 11), Fraction::ONE_130TH)
        );
        assert_eq!(lines[2].3, Money::ZERO);
        assert_eq!(
            (lines[3].0, lines[3].1, lines[3].3),
            (date!(2021 - 01 - 01), 31, Money::from_kopecks(1013))
        );
        assert_eq!(r.total(), Money::from_kopecks(354 + 1013));
    }

    #[test]
    fn moratorium_of_2022_only_for_older_debts() {
        // December 2021 (due 10.01.2022) is covered by ПП 497; March 2022 (due 10.04.2022) is not.
        let t = [
            tranche(2021, 12, ServiceKind::Heating, 1000),
            tranche(2022, 3, ServiceKind::Heating, 1000),
        ];
        let r = run(&t, &[], date!(2022 - 10 - 01), &PenaltyPolicy::default());
        // December 2021: day 91 = 11.04.2022, so the moratorium shows as 01.04–10.04 at 1/300
        // and 11.04–01.10 at 1/130, both suspended.
        let old: Vec<_> = r
            .lines()
            .iter()
            .filter(|l| l.tranche == 0 && l.from >= date!(2022 - 04 - 01))
            .collect();
        assert_eq!(old.len(), 2);
        assert_eq!(
            (old[0].from, old[1].from, old[1].to),
            (
                date!(2022 - 04 - 01),
                date!(2022 - 04 - 11),
                date!(2022 - 10 - 01)
            )
        );
        assert!(old.iter().all(|l| l.rate
            == AppliedRate::Suspended {
                basis: LegalAct::Pp497
            }
            && l.amount.is_zero()));
        // The newer debt: day 31 = 11.05.2022, day 91 = 10.07.2022, to 01.10.2022 at 7.5 % < 9.5 %
        // (rate on the calculation date under the «lower of» edition).
        // 60 days: 1000 × 7.5 % × 60 / 300 = 15.00; 84 days: 1000 × 7.5 % × 84 / 130 = 48.461… → 48.46.
        assert_eq!(r.total_of_tranche(1), Money::from_kopecks(15_00 + 48_46));
        // Under the fixed edition the newer debt pays 9.5 %: 19.00 + 61.384… → 61.38.
        let policy = PenaltyPolicy {
            capped_rate: CappedRateEdition::FixedRate,
            ..PenaltyPolicy::default()
        };
        let r = run(&t, &[], date!(2022 - 10 - 01), &policy);
        assert_eq!(r.total_of_tranche(1), Money::from_kopecks(19_00 + 61_38));
    }

    #[test]
    fn the_cap_starts_on_28_february_2022() {
        // October 2021 1000 ₽, due 10.11.2021; day 31 = 11.12.2021; day 91 = 09.02.2022.
        // Paid in full on 10.03.2022 (key rate 20 %). 11.12–08.02: 60 days × 1/300 at 20 %
        // = 40.00; 09.02–27.02: 19 days × 1/130 at 20 % = 29.230… → 29.23;
        // 28.02–10.03: 11 days × 1/130 at min(9.5, 20) = 9.5 % → 8.038… → 8.04.
        let t = [tranche(2021, 10, ServiceKind::Electricity, 1000)];
        let r = run(
            &t,
            &[pay(date!(2022 - 03 - 10), 1000)],
            date!(2022 - 12 - 31),
            &PenaltyPolicy::default(),
        );
        assert_eq!(
            amounts(&r),
            [
                "2021-12-11..2022-02-08 1000.00 1/300 40.00",
                "2022-02-09..2022-02-27 1000.00 1/130 29.23",
                "2022-02-28..2022-03-10 1000.00 1/130 8.04",
            ]
        );
    }

    #[test]
    fn named_payments_and_penalty_tranches() {
        // Two tranches of January 2024; a payment named for cold water pays it first, though
        // electricity is first in the default order. Penalty tranches never accrue.
        let t = [
            tranche(2024, 1, ServiceKind::Electricity, 100),
            tranche(2024, 1, ServiceKind::ColdWater, 100),
            tranche(2024, 1, ServiceKind::Penalty, 100),
        ];
        let p = [PaymentEvent {
            date: date!(2024 - 02 - 01),
            amount: Money::from_roubles(100),
            target: PaymentTarget::Service(ServiceKind::ColdWater),
        }];
        let r = run(&t, &p, date!(2024 - 12 - 31), &PenaltyPolicy::default());
        assert!(
            r.lines()
                .iter()
                .all(|l| l.service == ServiceKind::Electricity)
        );
        assert!(r.total().is_positive());
    }

    #[test]
    fn errors_are_specific() {
        let t = [tranche(2010, 1, ServiceKind::Electricity, 100)];
        let e = compute_penalties(
            &t,
            &[pay(date!(2011 - 01 - 01), 50)],
            date!(2011 - 06 - 01),
            &KeyRateHistory::bank_of_russia(),
            &PenaltyRules::russian_statutory(),
            &PenaltyPolicy::default(),
        );
        assert_eq!(e, Err(PenaltyError::NoKeyRate(date!(2011 - 01 - 01))));
        let bad = PenaltyPolicy {
            late_from_day: 30,
            ..PenaltyPolicy::default()
        };
        let e = compute_penalties(
            &t,
            &[],
            date!(2011 - 06 - 01),
            &KeyRateHistory::default(),
            &PenaltyRules::none(),
            &bad,
        );
        assert!(matches!(e, Err(PenaltyError::InvalidPolicy(_))));
        let neg = [DebtTranche {
            amount: Money::from_kopecks(-1),
            ..t[0]
        }];
        let e = compute_penalties(
            &neg,
            &[],
            date!(2011 - 06 - 01),
            &KeyRateHistory::default(),
            &PenaltyRules::none(),
            &PenaltyPolicy::default(),
        );
        assert!(matches!(e, Err(PenaltyError::NegativeTranche { .. })));
    }

    #[test]
    fn russian_text() {
        let t = [tranche(2024, 1, ServiceKind::Electricity, 1000)];
        let r = run(&t, &[], date!(2024 - 06 - 30), &PenaltyPolicy::default());
        let text = r.to_russian();
        assert!(
            text.contains("Электроснабжение (январь 2024): 12.03.2024–10.05.2024, 60 дн."),
            "{text}"
        );
        assert!(text.contains("1/130"), "{text}");
        assert!(text.ends_with("Итого пени: 56,27\u{a0}₽"), "{text}");
    }

    #[test]
    fn reusing_a_report_gives_the_same_result() {
        let t = [
            tranche(2024, 1, ServiceKind::Electricity, 1000),
            tranche(2024, 2, ServiceKind::Heating, 700),
        ];
        let p = [pay(date!(2024 - 04 - 01), 1200)];
        let rules = PenaltyRules::russian_statutory();
        let rates = KeyRateHistory::bank_of_russia();
        let policy = PenaltyPolicy::default();
        let fresh =
            compute_penalties(&t, &p, date!(2025 - 01 - 01), &rates, &rules, &policy).unwrap();
        let mut reused =
            compute_penalties(&t[..1], &[], date!(2024 - 12 - 01), &rates, &rules, &policy)
                .unwrap();
        compute_penalties_into(
            &mut reused,
            &t,
            &p,
            date!(2025 - 01 - 01),
            (&rates, &rules, &policy),
        )
        .unwrap();
        assert_eq!(fresh, reused);
    }
}
