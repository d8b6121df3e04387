//! Property tests of `ledger::Ledger` over random sequences of charges, adjustments, penalties,
//! payments (with every state transition) and refunds.
//!
//! A tiny independent model follows the same events (sums per kind and a payment state
//! machine); after every event the ledger must agree with it and keep its own invariants.

use std::collections::BTreeMap;

use billing_core::ids::{AccountId, PaymentId};
use billing_core::ledger::{AdjustmentReason, Ledger, LedgerError, PaymentSplit, PaymentState};
use billing_core::penalty::PaymentTarget;
use billing_core::period::DueDayPolicy;
use billing_core::{Money, Period, ServiceKind};
use proptest::prelude::*;
use time::macros::date;
use time::{Date, Duration};

const SERVICES: [ServiceKind; 3] = [
    ServiceKind::Electricity,
    ServiceKind::ColdWater,
    ServiceKind::Heating,
];

#[derive(Debug, Clone)]
enum Op {
    Charge(usize, i64),
    Adjust(usize, i64),
    Penalty(i64),
    Create(i64, Option<Vec<(usize, i64)>>),
    Pending(usize),
    Succeed(usize),
    Fail(usize),
    Refund(usize, i64),
}

fn arb_op() -> impl Strategy<Value = Op> {
    let svc = 0..SERVICES.len();
    prop_oneof![
        4 => (svc.clone(), 0i64..50_000).prop_map(|(s, k)| Op::Charge(s, k)),
        1 => (svc.clone(), -30_000i64..30_000).prop_map(|(s, k)| Op::Adjust(s, k)),
        1 => (0i64..3_000).prop_map(Op::Penalty),
        2 => (1i64..80_000).prop_map(|k| Op::Create(k, None)),
        2 => prop::collection::vec((0..SERVICES.len() + 1, 1i64..40_000), 1..4).prop_map(|parts| {
            let total = parts.iter().map(|p| p.1).sum();
            Op::Create(total, Some(parts))
        }),
        1 => (0usize..8).prop_map(Op::Pending),
        3 => (0usize..8).prop_map(Op::Succeed),
        1 => (0usize..8).prop_map(Op::Fail),
        1 => (0usize..8, 1i64..60_000).prop_map(|(i, k)| Op::Refund(i, k)),
    ]
}

fn arb_events() -> impl Strategy<Value = Vec<(u32, Op)>> {
    prop::collection::vec((0u32..20, arb_op()), 0..40)
}

fn service_of(i: usize) -> ServiceKind {
    // One index past the account's services names the penalty service, which is always known.
    SERVICES.get(i).copied().unwrap_or(ServiceKind::Penalty)
}

#[derive(Default, Debug)]
struct Model {
    charges: Money,
    adjustments: Money,
    penalties: Money,
    payments: Money,
    refunds: Money,
    states: Vec<(PaymentId, PaymentState, Money, Money)>,
}

fn check_invariants(l: &Ledger, m: &Model) -> Result<(), TestCaseError> {
    // balance = opening (zero) + charges − payments + penalties ± adjustments + refunds
    let expected = m.charges + m.adjustments + m.penalties - m.payments + m.refunds;
    prop_assert_eq!(l.balance(), expected);
    prop_assert_eq!(
        l.entries().iter().map(|e| e.amount).sum::<Money>(),
        expected
    );
    // The balance is what the tranches owe less the advances.
    let owed: Money = l.tranches().map(|t| t.outstanding()).sum();
    prop_assert_eq!(l.balance(), owed - l.advance());
    for t in l.tranches() {
        prop_assert!(
            !t.outstanding().is_negative() && !t.credited.is_negative(),
            "{:?}",
            t
        );
    }
    // An advance only exists when there is nothing it could pay.
    if l.advance().is_positive() {
        let general = l.advance()
            - SERVICES
                .iter()
                .chain([&ServiceKind::Penalty])
                .map(|s| l.advance_for(*s))
                .sum::<Money>();
        if general.is_positive() {
            prop_assert_eq!(l.open_tranches().count(), 0);
        }
        for s in ServiceKind::ALL {
            if l.advance_for(s).is_positive() {
                prop_assert!(l.open_tranches().all(|t| t.service != s));
            }
        }
    }
    // Every succeeded payment is allocated exactly: tranche parts + advance = amount.
    for p in l.payments() {
        let expected_state = m.states.iter().find(|s| s.0 == p.id()).map(|s| s.1);
        prop_assert_eq!(Some(p.state()), expected_state);
        if p.succeeded_on().is_some() {
            let parts: Money = p.allocation().iter().map(|a| a.amount).sum();
            prop_assert_eq!(parts + p.to_advance(), p.amount());
            prop_assert!(p.allocation().iter().all(|a| a.amount.is_positive()));
            prop_assert!(!p.to_advance().is_negative());
            if let PaymentSplit::ByService(split) = p.split() {
                for (s, part) in split {
                    let to_s: Money = p
                        .allocation()
                        .iter()
                        .filter(|a| a.service == *s)
                        .map(|a| a.amount)
                        .sum();
                    prop_assert!(to_s <= *part);
                    prop_assert!(
                        p.allocation()
                            .iter()
                            .all(|a| split.iter().any(|x| x.0 == a.service))
                    );
                }
            }
        } else {
            prop_assert!(p.allocation().is_empty());
        }
    }
    // The penalty history credits each tranche with exactly what the ledger credited it.
    let (tranches, events) = l.penalty_inputs();
    for t in l.tranches().filter(|t| t.service != ServiceKind::Penalty) {
        let credited: Money = events
            .iter()
            .filter(|e| e.target == PaymentTarget::Tranche(t.period, t.service))
            .map(|e| e.amount)
            .sum();
        prop_assert_eq!(credited, t.credited);
        prop_assert!(
            tranches
                .iter()
                .any(|x| x.period == t.period && x.service == t.service && x.amount == t.charged)
        );
    }
    Ok(())
}

/// Runs the events; returns the ledger and the model.
fn run(events: &[(u32, Op)]) -> Result<(Ledger, Model), TestCaseError> {
    let mut l = Ledger::new(AccountId::new(1), &SERVICES);
    let mut m = Model::default();
    let mut date = date!(2025 - 01 - 01);
    for (step, op) in events {
        date += Duration::days(i64::from(*step));
        let period = Period::of(date).prev();
        let due = DueDayPolicy::default().due_date(period);
        match op {
            Op::Charge(s, k) => {
                let a = Money::from_kopecks(*k);
                l.post_charge(date, period, SERVICES[*s], a, due).unwrap();
                m.charges += a;
            }
            Op::Adjust(s, k) => {
                let a = Money::from_kopecks(*k);
                let r = l.post_adjustment(
                    date,
                    period,
                    SERVICES[*s],
                    a,
                    AdjustmentReason::Correction,
                    due,
                );
                if *k == 0 {
                    prop_assert_eq!(r, Err(LedgerError::NonPositiveAmount(a)));
                } else {
                    r.unwrap();
                    m.adjustments += a;
                }
            }
            Op::Penalty(k) => {
                let a = Money::from_kopecks(*k);
                l.post_penalty(date, period, a, due).unwrap();
                m.penalties += a;
            }
            Op::Create(k, split) => {
                let id = PaymentId::new(m.states.len() as u64 + 1);
                let a = Money::from_kopecks(*k);
                let split = match split {
                    None => PaymentSplit::Default,
                    Some(parts) => PaymentSplit::ByService(
                        parts
                            .iter()
                            .map(|(s, k)| (service_of(*s), Money::from_kopecks(*k)))
                            .collect(),
                    ),
                };
                let duplicate = matches!(&split, PaymentSplit::ByService(v) if v.iter().enumerate().any(|(i, a)| v[..i].iter().any(|b| b.0 == a.0)));
                let r = l.create_payment(id, a, date, split);
                if duplicate {
                    prop_assert!(
                        matches!(r, Err(LedgerError::DuplicateService(_))),
                        "{:?}",
                        r
                    );
                } else {
                    r.unwrap();
                    m.states.push((id, PaymentState::Created, a, Money::ZERO));
                }
            }
            Op::Pending(i) | Op::Succeed(i) | Op::Fail(i) => {
                let Some(st) = m.states.get_mut(*i) else {
                    continue;
                };
                let from = st.1;
                let (to, r) = match op {
                    Op::Pending(_) => (PaymentState::Pending, l.mark_pending(st.0).map(|()| None)),
                    Op::Succeed(_) => (
                        PaymentState::Succeeded,
                        l.succeed_payment(st.0, date).map(Some),
                    ),
                    _ => (PaymentState::Failed, l.fail_payment(st.0).map(|()| None)),
                };
                let allowed = matches!(
                    (from, to),
                    (PaymentState::Created, _)
                        | (
                            PaymentState::Pending,
                            PaymentState::Succeeded | PaymentState::Failed
                        )
                );
                if allowed {
                    prop_assert!(r.is_ok(), "{:?} → {:?}: {:?}", from, to, r);
                    st.1 = to;
                    if to == PaymentState::Succeeded {
                        m.payments += st.2;
                        let id = st.0;
                        check_no_older_debt_left(&l, id)?;
                    }
                } else {
                    prop_assert_eq!(
                        r,
                        Err(LedgerError::InvalidTransition {
                            payment: st.0,
                            from,
                            to
                        })
                    );
                }
            }
            Op::Refund(i, k) => {
                let Some(st) = m.states.get_mut(*i) else {
                    continue;
                };
                let a = Money::from_kopecks(*k);
                let r = l.refund_payment(st.0, a, date);
                if st.1 != PaymentState::Succeeded {
                    prop_assert!(
                        matches!(r, Err(LedgerError::InvalidTransition { .. })),
                        "{:?}",
                        r
                    );
                } else if a > st.2 - st.3 {
                    prop_assert!(
                        matches!(r, Err(LedgerError::RefundExceedsPayment { .. })),
                        "{:?}",
                        r
                    );
                } else {
                    r.unwrap();
                    st.3 += a;
                    m.refunds += a;
                    if st.3 == st.2 {
                        st.1 = PaymentState::Refunded;
                    }
                }
            }
        }
        check_invariants(&l, &m)?;
    }
    Ok((l, m))
}

/// Right after a payment succeeds: no tranche older than one it paid (within the services it
/// paid, for an explicit split) still owes anything.
fn check_no_older_debt_left(l: &Ledger, id: PaymentId) -> Result<(), TestCaseError> {
    let p = l.payment(id).unwrap();
    let key =
        |per: Period, s: ServiceKind| (per, ServiceKind::ALL.iter().position(|k| *k == s).unwrap());
    for a in p.allocation() {
        let paid = key(a.period, a.service);
        let same_scope = |s: ServiceKind| match p.split() {
            PaymentSplit::Default => true,
            PaymentSplit::ByService(_) => s == a.service,
        };
        for t in l.open_tranches() {
            if same_scope(t.service) {
                prop_assert!(
                    key(t.period, t.service) >= paid,
                    "{:?} owes {} while {:?} was paid",
                    (t.period, t.service),
                    t.outstanding(),
                    a
                );
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn invariants_hold_after_every_event(events in arb_events()) {
        run(&events)?;
    }

    #[test]
    fn statements_chain_and_add_up(events in arb_events(), cut1 in 0u32..600, cut2 in 0u32..600) {
        let (l, _) = run(&events)?;
        let start = date!(2024 - 12 - 01);
        let (a, b) = (start + Duration::days(i64::from(cut1.min(cut2))), start + Duration::days(i64::from(cut1.max(cut2))));
        let first = l.statement(Date::MIN, a);
        let second = l.statement(a + Duration::days(1), b);
        let third = l.statement(b + Duration::days(1), Date::MAX);
        prop_assert_eq!(first.opening, Money::ZERO);
        for st in [&first, &second, &third] {
            prop_assert_eq!(st.opening + st.totals.net(), st.closing);
            let mut running = st.opening;
            for line in &st.lines {
                running += line.entry.amount;
                prop_assert_eq!(line.balance, running);
                prop_assert!(st.from <= line.entry.date && line.entry.date <= st.to);
            }
        }
        prop_assert_eq!(first.closing, second.opening);
        prop_assert_eq!(second.closing, third.opening);
        prop_assert_eq!(third.closing, l.balance());
        prop_assert_eq!(first.closing, l.balance_on(a));
        prop_assert_eq!(first.lines.len() + second.lines.len() + third.lines.len(), l.entries().len());
    }

    #[test]
    fn a_default_payment_pays_exactly_and_oldest_first(
        charges in prop::collection::vec((0usize..3, 0u32..12, 1i64..50_000), 1..12),
        pay in 1i64..400_000,
    ) {
        let mut l = Ledger::new(AccountId::new(1), &SERVICES);
        let mut by_key: BTreeMap<(Period, usize), i64> = BTreeMap::new();
        for (s, m, k) in &charges {
            let period = Period::new(2025, 1).unwrap().plus_months(i32::try_from(*m).unwrap());
            let due = DueDayPolicy::default().due_date(period);
            l.post_charge(date!(2025 - 01 - 01), period, SERVICES[*s], Money::from_kopecks(*k), due).unwrap();
            *by_key.entry((period, *s)).or_insert(0) += k;
        }
        let id = PaymentId::new(1);
        l.create_payment(id, Money::from_kopecks(pay), date!(2026 - 06 - 01), PaymentSplit::Default).unwrap();
        l.succeed_payment(id, date!(2026 - 06 - 01)).unwrap();
        // The naive expectation: walk the tranches oldest first and fill each in turn.
        let mut left = pay;
        let mut expected = Vec::new();
        for ((period, s), k) in &by_key {
            let x = left.min(*k);
            if x > 0 {
                expected.push((*period, SERVICES[*s], Money::from_kopecks(x)));
                left -= x;
            }
        }
        let p = l.payment(id).unwrap();
        let got: Vec<_> = p.allocation().iter().map(|a| (a.period, a.service, a.amount)).collect();
        prop_assert_eq!(got, expected);
        prop_assert_eq!(p.to_advance(), Money::from_kopecks(left));
        check_no_older_debt_left(&l, id)?;
    }
}
