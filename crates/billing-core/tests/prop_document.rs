//! Property tests of the payment document (`document::build_payment_document`).
//!
//! For arbitrary charge lines (own volumes, ОДН, norm lines with an increasing coefficient,
//! recalculations of either sign, penalties), opening balances and payments:
//! - the per-service sections add up exactly to the calculation total, which is the sum of the
//!   input lines' rounded amounts, and every line lands in its service's section;
//! - amount due = max(0, opening + charges − payments), the advance is the other side, and
//!   at most one of them is non-zero;
//! - the QR payload parses back and its `Sum` is the amount due in kopecks (absent when nothing
//!   is due);
//! - the part of a norm line due to an increasing coefficient ≥ 1 lies between zero and the
//!   line's amount.

use billing_core::charge::{ChargeBasis, ChargeLine};
use billing_core::document::{DocumentInput, LineKind, build_payment_document};
use billing_core::ids::{AccountId, HouseId, MeterId, PremiseId, SupplierId, TariffId};
use billing_core::meter::{Zone, ZoneValues};
use billing_core::model::{Account, AccountNumber, House, Premise};
use billing_core::odn::OdnPolicy;
use billing_core::period::DueDayPolicy;
use billing_core::qr::parse;
use billing_core::requisites::{
    Address, BankDetails, BankName, Bic, CorrespAcc, EmergencyPhone, Inn, Kpp, OrgName,
    PersonalAcc, Phone, Requisites,
};
use billing_core::tariff::{ConsumerGroup, Tier};
use billing_core::volume::{EstimateReason, VolumeBasis};
use billing_core::{Money, Period, ServiceKind};
use proptest::prelude::*;
use rust_decimal::Decimal;

const ACCOUNT: AccountId = AccountId::new(1);

fn period() -> Period {
    Period::new(2026, 2).expect("valid period")
}

fn requisites() -> Requisites {
    let bank = BankDetails::new(
        PersonalAcc::parse("40702810200000000001").expect("account"),
        BankName::parse("ПАО Сбербанк").expect("bank"),
        Bic::parse("044525225").expect("bic"),
        CorrespAcc::parse("30101810400000000225").expect("corresp"),
    )
    .expect("bank details");
    Requisites::new(
        OrgName::parse("АО «Горэнергосбыт»").expect("name"),
        Inn::parse("7707083893").expect("inn"),
        Some(Kpp::parse("770701001").expect("kpp")),
        bank,
        Address::parse("г. Тверь, ул. Мира, д. 2").expect("address"),
        vec![],
        vec![
            EmergencyPhone::new("Аварийная служба", Phone::parse("04").expect("phone"))
                .expect("emergency"),
        ],
    )
    .expect("requisites")
}

fn house() -> House {
    House {
        id: HouseId::new(1),
        supplier: SupplierId::new(1),
        address: "г. Тверь, пр-т Победы, д. 10".into(),
        total_area: Decimal::from(5000),
        common_area: Decimal::from(600),
        odn: OdnPolicy {
            billed_by_supplier: true,
            cap_at_norm: false,
            norm_per_m2_common: Decimal::ONE,
        },
        electric_heating: false,
        heat_meter: false,
    }
}

fn premise() -> Premise {
    Premise {
        id: PremiseId::new(1),
        house: HouseId::new(1),
        number: "7".into(),
        area: Decimal::from(61),
        residential: true,
        persons: 3,
        rooms: 3,
    }
}

fn account() -> Account {
    Account {
        id: ACCOUNT,
        number: AccountNumber::parse("0000012345678").expect("number"),
        supplier: SupplierId::new(1),
        premise: PremiseId::new(1),
        holder: "Сидоров Пётр Алексеевич".into(),
        group: ConsumerGroup::Population,
        services: vec![],
    }
}

/// What kind of charge line to make.
#[derive(Debug, Clone)]
enum Kind {
    /// Own volume by readings: quantity (thousandths) × price (hundredths of a kopeck).
    Volume(i64, i64),
    /// A norm line with an increasing coefficient (tenths, 10–40).
    Norm(i64, i64, i64),
    /// A recalculation of a closed period, kopecks of either sign.
    Recalculation(i64),
    /// Penalties, kopecks.
    Penalty(i64),
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        4 => (0_i64..100_000_000, 0_i64..1_000_000).prop_map(|(q, p)| Kind::Volume(q, p)),
        2 => (0_i64..10_000_000, 0_i64..1_000_000, 10_i64..=40).prop_map(|(q, p, k)| Kind::Norm(q, p, k)),
        2 => (-10_000_000_i64..10_000_000).prop_map(Kind::Recalculation),
        1 => (0_i64..1_000_000).prop_map(Kind::Penalty),
    ]
}

fn service() -> impl Strategy<Value = ServiceKind> {
    prop::sample::select(ServiceKind::ALL.to_vec())
}

fn make_line(service: ServiceKind, kind: &Kind) -> ChargeLine {
    let (service, quantity, unit_price, unit, basis) = match *kind {
        Kind::Volume(q, p) => {
            let single = ZoneValues::single(Decimal::ZERO);
            let basis = if service == ServiceKind::ElectricityCommon {
                ChargeBasis::Odn {
                    area: Decimal::from(61),
                    house: billing_core::odn::OdnBasis {
                        house_volume: None,
                        flats_volume: Decimal::ZERO,
                        non_residential_volume: Decimal::ZERO,
                        heat_production_volume: Decimal::ZERO,
                        raw_volume: Decimal::ZERO,
                        norm_volume: Decimal::ZERO,
                        distributed_volume: Decimal::ZERO,
                        negative_remainder: Decimal::ZERO,
                        total_area: Decimal::from(5000),
                    },
                }
            } else {
                ChargeBasis::Volume(VolumeBasis::Readings {
                    meter: MeterId::new(1),
                    opening: single,
                    closing: single,
                    coefficient: Decimal::ONE,
                    rollover: false,
                    replacement: false,
                })
            };
            (
                service,
                Decimal::new(q, 3),
                Decimal::new(p, 4),
                service.unit(),
                basis,
            )
        }
        Kind::Norm(q, p, k) => (
            service,
            Decimal::new(q, 3),
            Decimal::new(p, 4),
            service.unit(),
            ChargeBasis::Volume(VolumeBasis::Norm {
                norm: Decimal::new(49, 1),
                factor: Decimal::from(3),
                coefficient: Some(Decimal::new(k, 1)),
                reason: EstimateReason::MeterFailed,
            }),
        ),
        Kind::Recalculation(kop) => (
            service,
            Decimal::ONE,
            Decimal::new(kop, 2),
            billing_core::service::Unit::Rouble,
            ChargeBasis::Recalculation {
                of_period: period().prev(),
                reason: "корректировка".into(),
            },
        ),
        Kind::Penalty(kop) => (
            ServiceKind::Penalty,
            Decimal::ONE,
            Decimal::new(kop, 2),
            billing_core::service::Unit::Rouble,
            ChargeBasis::Penalty {
                lines: vec![],
                already_charged: Money::ZERO,
            },
        ),
    };
    ChargeLine {
        account: ACCOUNT,
        period: period(),
        service,
        zone: Zone::Total,
        tier: Tier::Base,
        quantity,
        unit,
        unit_price,
        amount: Money::round(quantity * unit_price),
        tariff: Some(TariffId::new(1)),
        days: None,
        basis,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn document_totals_amount_due_and_qr_sum_agree(
        specs in prop::collection::vec((service(), kind()), 0..12),
        opening in -100_000_000_i64..100_000_000,
        payments in -1_000_000_i64..100_000_000,
    ) {
        let lines: Vec<ChargeLine> = specs.iter().map(|(s, k)| make_line(*s, k)).collect();
        let (account, premise, house, requisites) = (account(), premise(), house(), requisites());
        let opening = Money::from_kopecks(opening);
        let payments = Money::from_kopecks(payments);
        let doc = build_payment_document(&DocumentInput {
            account: &account,
            premise: &premise,
            house: &house,
            period: period(),
            requisites: Some(&requisites),
            lines: &lines,
            meters: &[],
            opening_balance: opening,
            payments,
            due_day: DueDayPolicy::default(),
        })
        .expect("a valid input builds");

        // Sections add up to the total, which is the sum of the rounded input lines.
        let calc = doc.calculation();
        let input_total: Money = lines.iter().map(|l| l.amount).sum();
        prop_assert_eq!(calc.total, input_total);
        prop_assert_eq!(calc.services.iter().map(|s| s.total).sum::<Money>(), calc.total);
        for s in &calc.services {
            prop_assert_eq!(s.lines.iter().map(|l| l.amount).sum::<Money>(), s.total);
            prop_assert_eq!(s.charged + s.recalculations, s.total);
            let recalc: Money = s.lines.iter()
                .filter(|l| matches!(l.kind, LineKind::Recalculation { .. }))
                .map(|l| l.amount)
                .sum();
            prop_assert_eq!(recalc, s.recalculations);
            let of_service: Vec<Money> =
                lines.iter().filter(|l| l.service == s.service).map(|l| l.amount).collect();
            prop_assert_eq!(s.lines.iter().map(|l| l.amount).collect::<Vec<_>>(), of_service);
            prop_assert!(!s.lines.is_empty());
            // The part due to an increasing coefficient ≥ 1 on a non-negative price.
            for l in &s.lines {
                if let Some(k) = l.increasing {
                    prop_assert!(!k.amount.is_negative() && k.amount <= l.amount, "{:?}", l);
                }
            }
            let increasing: Money = s.lines.iter().filter_map(|l| l.increasing).map(|k| k.amount).sum();
            prop_assert_eq!(increasing, s.increasing);
        }
        let sections: Vec<ServiceKind> = calc.services.iter().map(|s| s.service).collect();
        let expected: Vec<ServiceKind> = ServiceKind::ALL
            .into_iter()
            .filter(|k| lines.iter().any(|l| l.service == *k))
            .collect();
        prop_assert_eq!(sections, expected);

        // Amount due and advance.
        let closing = opening + input_total - payments;
        let a = doc.amount_due();
        prop_assert_eq!(a.closing_balance, closing);
        prop_assert_eq!(a.due, closing.max(Money::ZERO));
        prop_assert_eq!(a.advance, (-closing).max(Money::ZERO));
        prop_assert!(a.due.is_zero() || a.advance.is_zero());
        prop_assert_eq!(a.due - a.advance, closing);

        // The QR payload round-trips; Sum is the amount due in kopecks, absent when none is due.
        let qr = parse(&a.qr_payload).expect("the payload parses");
        let sum = qr.sum().expect("Sum is digits");
        if a.due.is_positive() {
            prop_assert_eq!(sum, Some(a.due));
            let kopecks = a.due.kopecks().expect("fits").to_string();
            prop_assert_eq!(qr.get("Sum"), Some(kopecks.as_str()));
        } else {
            prop_assert_eq!(sum, None);
        }
        prop_assert_eq!(qr.get("PersAcc"), Some("0000012345678"));
        prop_assert_eq!(qr.get("PaymPeriod"), Some("022026"));
        prop_assert_eq!(qr.get("PaymTerm"), Some("15.03.2026"));
        prop_assert_eq!(qr.get("TechCode"), Some("02"));
        let purpose = qr.get("Purpose").expect("Purpose is set");
        prop_assert!(purpose.starts_with("Оплата за ") && purpose.ends_with(" за февраль 2026"));
        prop_assert_eq!(parse(&qr.to_string()).expect("reparses"), qr.clone());

        // The text states the amount due.
        let due_text = format!("К оплате: {}", a.due.to_russian());
        prop_assert!(doc.to_text().contains(&due_text));
    }
}
