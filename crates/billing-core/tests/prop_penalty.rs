//! Property tests of `penalty::compute_penalties` against a naive per-day reference.
//!
//! The reference below is written independently of the implementation: it allocates payments
//! to tranches, then walks every single day of every tranche and decides the debt, the rate and
//! the fraction of that day. The implementation must explain exactly the same days with the same
//! debts on its interval lines, round each line once, and add the lines up.

use std::collections::BTreeMap;

use billing_core::keyrate::{
    KeyRateHistory, KeyRateStep, LegalAct, PenaltyRules, Rate, WindowEffect,
};
use billing_core::penalty::{
    AppliedRate, CappedRateEdition, DebtTranche, PaymentDayCounting, PaymentEvent, PaymentTarget,
    PenaltyPolicy, PenaltyReport, RateDay, compute_penalties,
};
use billing_core::period::DueDayPolicy;
use billing_core::{Money, Period, ServiceKind};
use proptest::prelude::*;
use time::macros::date;
use time::{Date, Duration};

fn day(base: Date, offset: u32) -> Date {
    base + Duration::days(i64::from(offset))
}

fn kopecks(m: Money) -> i128 {
    i128::from(m.kopecks().unwrap())
}

fn service_rank(s: ServiceKind) -> usize {
    ServiceKind::ALL.iter().position(|k| *k == s).unwrap()
}

/// A sortable form of [`AppliedRate`].
type RateKey = (u8, u32, Option<Date>, u8, Option<LegalAct>);

fn rate_key(r: AppliedRate) -> RateKey {
    match r {
        AppliedRate::KeyRate { rate, on, day } => (
            0,
            rate.basis_points(),
            Some(on),
            u8::from(day == RateDay::Payment),
            None,
        ),
        AppliedRate::Capped { rate, basis } => (1, rate.basis_points(), None, 0, Some(basis)),
        AppliedRate::Suspended { basis } => (2, 0, None, 0, Some(basis)),
    }
}

#[derive(Debug, Clone)]
struct Case {
    tranches: Vec<DebtTranche>,
    payments: Vec<PaymentEvent>,
    as_of: Date,
    policy: PenaltyPolicy,
}

/// For each (tranche, day, rate): the debt in kopecks and the fraction's denominator.
type Reference = BTreeMap<(usize, Date, RateKey), (i128, u32)>;

fn reference(case: &Case, rates: &KeyRateHistory, rules: &PenaltyRules) -> Reference {
    let p = &case.policy;
    let mut order: Vec<usize> = (0..case.tranches.len()).collect();
    order.sort_by_key(|&i| {
        let t = &case.tranches[i];
        (t.due_date, t.period, service_rank(t.service))
    });
    let mut remaining: Vec<i128> = case.tranches.iter().map(|t| kopecks(t.amount)).collect();
    let mut parts: Vec<Vec<(Date, i128)>> = vec![Vec::new(); case.tranches.len()];
    let mut pays: Vec<&PaymentEvent> = case
        .payments
        .iter()
        .filter(|x| x.date <= case.as_of)
        .collect();
    pays.sort_by_key(|x| x.date);
    for pay in pays {
        let mut left = kopecks(pay.amount);
        let named: Vec<usize> = order
            .iter()
            .copied()
            .filter(|&i| {
                let t = &case.tranches[i];
                match pay.target {
                    PaymentTarget::Oldest => false,
                    PaymentTarget::Period(per) => t.period == per,
                    PaymentTarget::Service(s) => t.service == s,
                    PaymentTarget::Tranche(per, s) => t.period == per && t.service == s,
                }
            })
            .collect();
        for i in named.into_iter().chain(order.iter().copied()) {
            let x = left.min(remaining[i]);
            if x > 0 {
                remaining[i] -= x;
                left -= x;
                parts[i].push((pay.date, x));
            }
        }
    }

    let mut out = Reference::new();
    let calc_rate = rates.rate_on(case.as_of).unwrap();
    for (i, t) in case.tranches.iter().enumerate() {
        if t.service == ServiceKind::Penalty {
            continue;
        }
        // Layers: (amount, last day it accrues, rate, rate day).
        let mut layers: Vec<(i128, Date, Rate, Date, RateDay)> = parts[i]
            .iter()
            .map(|&(d, a)| {
                let last = match p.payment_day {
                    PaymentDayCounting::Counted => d,
                    PaymentDayCounting::NotCounted => d - Duration::days(1),
                };
                (a, last, rates.rate_on(d).unwrap(), d, RateDay::Payment)
            })
            .collect();
        if remaining[i] > 0 {
            layers.push((
                remaining[i],
                case.as_of,
                calc_rate,
                case.as_of,
                RateDay::Calculation,
            ));
        }
        let first_delay = day(t.due_date, 1);
        let mut d = first_delay;
        let mut k = 1u32;
        while d <= case.as_of {
            if k > p.grace_days {
                let fraction = if k < p.late_from_day {
                    p.early_fraction
                } else {
                    p.late_fraction
                };
                let suspended = rules.windows().iter().find_map(|w| match w.effect {
                    WindowEffect::NoAccrual if w.from <= d && d <= w.to => Some(w.basis),
                    WindowEffect::NoAccrualOnDebtsArisenBefore(before)
                        if w.from <= d && d <= w.to && first_delay < before =>
                    {
                        Some(w.basis)
                    }
                    _ => None,
                });
                let cap = rules.windows().iter().find_map(|w| match w.effect {
                    WindowEffect::RateCap(r) if w.from <= d && d <= w.to => Some((r, w.basis)),
                    _ => None,
                });
                for &(amount, last, rate, on, rday) in &layers {
                    if d > last {
                        continue;
                    }
                    let applied = if let Some(basis) = suspended {
                        AppliedRate::Suspended { basis }
                    } else if let Some((cap_rate, basis)) = cap {
                        if p.capped_rate == CappedRateEdition::LowerOfCapAndPaymentDay
                            && rate < cap_rate
                        {
                            AppliedRate::KeyRate {
                                rate,
                                on,
                                day: rday,
                            }
                        } else {
                            AppliedRate::Capped {
                                rate: cap_rate,
                                basis,
                            }
                        }
                    } else {
                        AppliedRate::KeyRate {
                            rate,
                            on,
                            day: rday,
                        }
                    };
                    let e = out
                        .entry((i, d, rate_key(applied)))
                        .or_insert((0, fraction.denominator()));
                    e.0 += amount;
                    assert_eq!(e.1, fraction.denominator());
                }
            }
            d = day(d, 1);
            k += 1;
        }
    }
    out.retain(|_, v| v.0 != 0);
    out
}

/// Kopecks of `num / den` rounded half away from zero (num ≥ 0).
fn round_div(num: i128, den: i128) -> i128 {
    (2 * num + den) / (2 * den)
}

/// Checks a report against the per-day reference: every accruing day of the reference is
/// explained by exactly one line with the same debt, rate and fraction, and nothing more.
fn check_against_reference(
    case: &Case,
    report: &PenaltyReport,
    rates: &KeyRateHistory,
    rules: &PenaltyRules,
) {
    let mut reference = reference(case, rates, rules);
    let mut sum_lines = Money::ZERO;
    for l in report.lines() {
        assert_eq!(
            l.days,
            u32::try_from((l.to - l.from).whole_days() + 1).unwrap()
        );
        let mut d = l.from;
        while d <= l.to {
            let key = (l.tranche, d, rate_key(l.rate));
            let entry = reference.get_mut(&key).unwrap_or_else(|| {
                panic!("line {l:?} covers {d} which the reference does not accrue")
            });
            assert_eq!(entry.1, l.fraction.denominator(), "fraction of {d}");
            entry.0 -= kopecks(l.debt);
            d = day(d, 1);
        }
        // The rounded amount is the exact product rounded half away from zero.
        let bp = i128::from(l.rate.rate().basis_points());
        let num = kopecks(l.debt) * bp * i128::from(l.days) * i128::from(l.fraction.numerator());
        let den = i128::from(l.fraction.denominator()) * 10_000;
        assert_eq!(kopecks(l.amount), round_div(num, den), "rounding of {l:?}");
        assert_eq!(
            l.amount,
            Money::round(l.unrounded()),
            "the one rounding rule"
        );
        sum_lines += l.amount;
    }
    let left: Vec<_> = reference.iter().filter(|(_, v)| v.0 != 0).collect();
    assert!(left.is_empty(), "days the lines do not explain: {left:?}");
    assert_eq!(
        report.total(),
        sum_lines,
        "total is the sum of the rounded lines"
    );
}

fn arb_service() -> impl Strategy<Value = ServiceKind> {
    prop::sample::select(ServiceKind::ALL.to_vec())
}

fn arb_tranche(from_year: i32, years: u32) -> impl Strategy<Value = DebtTranche> {
    (0..years * 12, arb_service(), 0i64..200_000).prop_map(move |(m, service, kop)| {
        let period = Period::new(from_year, 1)
            .unwrap()
            .plus_months(i32::try_from(m).unwrap());
        DebtTranche {
            period,
            service,
            due_date: DueDayPolicy::default().due_date(period),
            amount: Money::from_kopecks(kop),
        }
    })
}

fn arb_target(from_year: i32, years: u32) -> impl Strategy<Value = PaymentTarget> {
    let period = (0..years * 12).prop_map(move |m| {
        Period::new(from_year, 1)
            .unwrap()
            .plus_months(i32::try_from(m).unwrap())
    });
    prop_oneof![
        3 => Just(PaymentTarget::Oldest),
        1 => period.clone().prop_map(PaymentTarget::Period),
        1 => arb_service().prop_map(PaymentTarget::Service),
        1 => (period, arb_service()).prop_map(|(p, s)| PaymentTarget::Tranche(p, s)),
    ]
}

fn arb_policy() -> impl Strategy<Value = PenaltyPolicy> {
    (any::<bool>(), any::<bool>()).prop_map(|(counted, fixed)| PenaltyPolicy {
        payment_day: if counted {
            PaymentDayCounting::Counted
        } else {
            PaymentDayCounting::NotCounted
        },
        capped_rate: if fixed {
            CappedRateEdition::FixedRate
        } else {
            CappedRateEdition::LowerOfCapAndPaymentDay
        },
        ..PenaltyPolicy::default()
    })
}

/// Tranches and payments from 2019 to 2023 (across both moratoria and the cap), calculated
/// up to mid-2025.
fn arb_case() -> impl Strategy<Value = Case> {
    let start = date!(2019 - 01 - 01);
    (
        prop::collection::vec(arb_tranche(2019, 5), 0..6),
        prop::collection::vec((0u32..2200, 1i64..150_000, arb_target(2019, 5)), 0..6),
        0u32..2400,
        arb_policy(),
    )
        .prop_map(move |(tranches, pays, as_of, policy)| Case {
            tranches,
            payments: pays
                .into_iter()
                .map(|(d, kop, target)| PaymentEvent {
                    date: day(start, d),
                    amount: Money::from_kopecks(kop),
                    target,
                })
                .collect(),
            as_of: day(date!(2019 - 03 - 01), as_of),
            policy,
        })
}

fn run(case: &Case, rates: &KeyRateHistory, rules: &PenaltyRules) -> PenaltyReport {
    compute_penalties(
        &case.tranches,
        &case.payments,
        case.as_of,
        rates,
        rules,
        &case.policy,
    )
    .unwrap()
}

/// A key rate that never changes, so that the calculation date does not move the rate.
fn flat_rates() -> KeyRateHistory {
    KeyRateHistory::new(vec![KeyRateStep {
        from: date!(2000 - 01 - 01),
        rate: Rate::from_basis_points(1600),
    }])
    .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn intervals_equal_the_per_day_reference(case in arb_case()) {
        let rates = KeyRateHistory::bank_of_russia();
        let rules = PenaltyRules::russian_statutory();
        let report = run(&case, &rates, &rules);
        check_against_reference(&case, &report, &rates, &rules);
    }

    #[test]
    fn intervals_equal_the_reference_without_windows(case in arb_case()) {
        let rates = KeyRateHistory::bank_of_russia();
        let rules = PenaltyRules::none();
        let report = run(&case, &rates, &rules);
        check_against_reference(&case, &report, &rates, &rules);
    }

    #[test]
    fn nothing_accrues_in_the_first_30_days(mut case in arb_case(), within in 0u32..=30) {
        // Every tranche is at most `within` ≤ 30 days late on the calculation date.
        let as_of = case.as_of;
        for t in &mut case.tranches {
            t.due_date = as_of - Duration::days(i64::from(within));
        }
        let report = run(&case, &KeyRateHistory::bank_of_russia(), &PenaltyRules::russian_statutory());
        prop_assert!(report.lines().is_empty());
        prop_assert_eq!(report.total(), Money::ZERO);
    }

    #[test]
    fn no_line_starts_before_day_31(case in arb_case()) {
        let report = run(&case, &KeyRateHistory::bank_of_russia(), &PenaltyRules::russian_statutory());
        for l in report.lines() {
            let due = case.tranches[l.tranche].due_date;
            prop_assert!(l.from > day(due, 30));
        }
    }

    #[test]
    fn nothing_accrues_inside_the_moratoria(case in arb_case()) {
        let report = run(&case, &KeyRateHistory::bank_of_russia(), &PenaltyRules::russian_statutory());
        for l in report.lines() {
            let first_delay = day(case.tranches[l.tranche].due_date, 1);
            let in_424 = l.from <= date!(2020 - 12 - 31) && l.to >= date!(2020 - 04 - 06);
            let in_497 = first_delay < date!(2022 - 04 - 01) && l.from <= date!(2022 - 10 - 01) && l.to >= date!(2022 - 04 - 01);
            if in_424 || in_497 {
                prop_assert!(matches!(l.rate, AppliedRate::Suspended { .. }), "{:?}", l);
                prop_assert_eq!(l.amount, Money::ZERO);
            }
        }
    }

    #[test]
    fn a_debt_entirely_inside_the_2020_moratorium_costs_nothing(
        due_offset in 0u32..200, as_of_offset in 0u32..270, kop in 1i64..10_000_000,
    ) {
        let due = day(date!(2020 - 04 - 06), due_offset);
        let as_of = day(date!(2020 - 04 - 06), as_of_offset);
        let t = DebtTranche { period: Period::of(due), service: ServiceKind::Electricity, due_date: due, amount: Money::from_kopecks(kop) };
        let report = compute_penalties(&[t], &[], as_of, &KeyRateHistory::bank_of_russia(), &PenaltyRules::russian_statutory(), &PenaltyPolicy::default()).unwrap();
        prop_assert_eq!(report.total(), Money::ZERO);
    }

    #[test]
    fn monotone_in_the_debt(case in arb_case(), which in any::<prop::sample::Index>(), extra in 1i64..100_000) {
        prop_assume!(!case.tranches.is_empty());
        let rates = flat_rates();
        let rules = PenaltyRules::russian_statutory();
        let mut case = case;
        case.payments.clear();
        let before = run(&case, &rates, &rules).total();
        let i = which.index(case.tranches.len());
        case.tranches[i].amount += Money::from_kopecks(extra);
        let after = run(&case, &rates, &rules).total();
        prop_assert!(after >= before, "{} < {}", after, before);
    }

    #[test]
    fn monotone_in_the_debt_with_payments_exactly(case in arb_case(), which in any::<prop::sample::Index>(), extra in 1i64..100_000) {
        // With payments the lines may split differently, so compare the exact (unrounded) sums.
        prop_assume!(!case.tranches.is_empty());
        let rates = flat_rates();
        let rules = PenaltyRules::russian_statutory();
        let exact = |c: &Case| run(c, &rates, &rules).lines().iter().map(|l| l.unrounded()).sum::<rust_decimal::Decimal>();
        let mut case = case;
        let before = exact(&case);
        let i = which.index(case.tranches.len());
        case.tranches[i].amount += Money::from_kopecks(extra);
        let after = exact(&case);
        prop_assert!(after >= before, "{} < {}", after, before);
    }

    #[test]
    fn monotone_in_the_days(case in arb_case(), more in 0u32..800) {
        let rates = flat_rates();
        let rules = PenaltyRules::russian_statutory();
        let mut case = case;
        case.payments.clear();
        let before = run(&case, &rates, &rules).total();
        let later = Case { as_of: day(case.as_of, more), ..case };
        let after = run(&later, &rates, &rules).total();
        prop_assert!(after >= before, "{} < {}", after, before);
    }

    #[test]
    fn monotone_in_the_days_with_payments_exactly(case in arb_case(), more in 0u32..800) {
        let rates = flat_rates();
        let rules = PenaltyRules::russian_statutory();
        let exact = |c: &Case| run(c, &rates, &rules).lines().iter().map(|l| l.unrounded()).sum::<rust_decimal::Decimal>();
        let before = exact(&case);
        let later = Case { as_of: day(case.as_of, more), ..case };
        let after = exact(&later);
        prop_assert!(after >= before, "{} < {}", after, before);
    }

    #[test]
    fn total_is_the_sum_of_lines_and_never_negative(case in arb_case()) {
        let report = run(&case, &KeyRateHistory::bank_of_russia(), &PenaltyRules::russian_statutory());
        prop_assert_eq!(report.total(), report.lines().iter().map(|l| l.amount).sum::<Money>());
        prop_assert!(report.lines().iter().all(|l| !l.amount.is_negative() && !l.debt.is_negative() && l.days > 0));
        prop_assert!(report.lines().iter().all(|l| l.service != ServiceKind::Penalty), "no penalty on penalty");
    }
}
