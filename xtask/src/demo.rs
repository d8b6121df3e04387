//! `cargo xtask demo`: bills a small demo house in memory with billing-core and prints what a
//! subscriber would see — every charge line with its "why", the penalties, the ЕПД text and its
//! ГОСТ Р 56042-2014 QR payload, and the calculator's estimate for a rollover 9993 → 0007.
//!
//! Everything printed is computed by the library; nothing is canned.

use billing_core::calculator::{EstimateRequest, estimate};
use billing_core::charge::{
    AccountInput, HouseInput, PenaltyInput, ServiceInput, TariffBook, bill_house,
};
use billing_core::document::{DocumentInput, MeterReadings, build_payment_document};
use billing_core::ids::{AccountId, HouseId, MeterId, PremiseId, ReadingId, SupplierId, TariffId};
use billing_core::keyrate::{KeyRateHistory, PenaltyRules};
use billing_core::meter::{Meter, RegisterSpec, ZoneScheme, ZoneValues};
use billing_core::model::{Account, AccountNumber, AccountService, House, Premise};
use billing_core::odn::OdnPolicy;
use billing_core::penalty::{
    DebtTranche, PaymentEvent, PaymentTarget, PenaltyPolicy, compute_penalties,
};
use billing_core::policy::BillingPolicy;
use billing_core::reading::{Reading, ReadingSource, ReadingStatus};
use billing_core::requisites::{
    Address, BankDetails, BankName, Bic, CorrespAcc, EmergencyPhone, Inn, Kpp, OrgName,
    PersonalAcc, Phone, Requisites,
};
use billing_core::tariff::{
    ConsumerGroup, ElectricityTiers, SocialNorm, TariffKind, TariffVersion, ZonePrices,
};
use billing_core::volume::{MeterPart, PastVolume, VolumeKind};
use billing_core::{Money, Period, ServiceKind};
use rust_decimal::Decimal;
use time::macros::{date, datetime};

fn d(v: i64, dp: u32) -> Decimal {
    Decimal::new(v, dp)
}

/// Requisites of a synthetic supplier called `name` (the demo's and the storage bench's).
pub(crate) fn requisites(name: &str) -> Result<Requisites, String> {
    let e = |e: billing_core::requisites::RequisiteError| e.to_string();
    let bank = BankDetails::new(
        PersonalAcc::parse("40702810200000000001").map_err(e)?,
        BankName::parse("ПАО Сбербанк").map_err(e)?,
        Bic::parse("044525225").map_err(e)?,
        CorrespAcc::parse("30101810400000000225").map_err(e)?,
    )
    .map_err(e)?;
    Requisites::new(
        OrgName::parse(name).map_err(e)?,
        Inn::parse("7707083893").map_err(e)?,
        Some(Kpp::parse("770701001").map_err(e)?),
        bank,
        Address::parse("г. Тула, ул. Советская, д. 1").map_err(e)?,
        vec![Phone::parse("8 800 100-00-00").map_err(e)?],
        vec![
            EmergencyPhone::new(
                "Аварийно-диспетчерская служба",
                Phone::parse("+7 (4872) 00-00-00").map_err(e)?,
            )
            .map_err(e)?,
        ],
    )
    .map_err(e)
}

pub fn run(args: &[String]) -> Result<(), String> {
    if let Some(a) = args.first() {
        return Err(format!("unknown argument '{a}'"));
    }
    let period = Period::new(2026, 3).map_err(|e| e.to_string())?;
    let policy = BillingPolicy::default();
    let supplier = SupplierId::new(1);
    let house = House {
        id: HouseId::new(1),
        supplier,
        address: "г. Тула, ул. Ленина, д. 10".into(),
        total_area: d(1800, 1),
        common_area: d(300, 1),
        odn: OdnPolicy {
            billed_by_supplier: true,
            cap_at_norm: false,
            norm_per_m2_common: d(21, 1),
        },
        electric_heating: false,
        heat_meter: false,
    };
    let names = [
        "Иванов Иван Иванович",
        "Петрова Анна Сергеевна",
        "Сидоров Пётр Ильич",
    ];
    let schemes = [
        ZoneScheme::Single,
        ZoneScheme::TwoZone,
        ZoneScheme::ThreeZone,
    ];
    let areas = [d(520, 1), d(610, 1), d(670, 1)];
    let groups = [
        ConsumerGroup::Population,
        ConsumerGroup::Rural,
        ConsumerGroup::Population,
    ];
    let mut accounts = Vec::new();
    let mut premises = Vec::new();
    let mut meters = Vec::new();
    for i in 0..3u64 {
        let idx = usize::try_from(i).map_err(|e| e.to_string())?;
        premises.push(Premise {
            id: PremiseId::new(i + 1),
            house: house.id,
            number: (i + 1).to_string(),
            area: areas[idx],
            residential: true,
            persons: 2,
            rooms: 2,
        });
        accounts.push(Account {
            id: AccountId::new(i + 1),
            number: AccountNumber::parse(&format!("770000000000{}", i + 1))
                .map_err(|e| e.to_string())?,
            supplier,
            premise: PremiseId::new(i + 1),
            holder: names[idx].into(),
            group: groups[idx],
            services: vec![AccountService {
                service: ServiceKind::Electricity,
                norm_per_unit: d(90, 0),
                meter_installable: true,
            }],
        });
        meters.push(Meter {
            id: MeterId::new(i + 1),
            account: Some(AccountId::new(i + 1)),
            service: ServiceKind::Electricity,
            serial: format!("3534253{}", 40 + i),
            registers: RegisterSpec {
                scheme: schemes[idx],
                digits: 4,
                decimals: 0,
                coefficient: Decimal::ONE,
            },
            installed_on: date!(2020 - 01 - 10),
            commissioned_on: Some(date!(2020 - 01 - 15)),
            verification_due: Some(date!(2036 - 01 - 15)),
            failed_on: None,
            removed_on: None,
            automatic: false,
        });
    }
    // Readings: the first meter rolls over 9993 → 0141; the second submits two zones; the third
    // submitted nothing this month and is billed by its six-month average.
    let z = |s: ZoneScheme, v: &[i64]| {
        ZoneValues::new(s, &v.iter().map(|x| d(*x, 0)).collect::<Vec<_>>())
            .map_err(|e| e.to_string())
    };
    let opening = [
        z(schemes[0], &[9993])?,
        z(schemes[1], &[4210, 1980])?,
        z(schemes[2], &[3120, 1450, 2210])?,
    ];
    let closing = [
        Some(z(schemes[0], &[141])?),
        Some(z(schemes[1], &[4390, 2065])?),
        None,
    ];
    let history: Vec<Vec<PastVolume>> = (0..3)
        .map(|i| {
            (1..=6)
                .map(|k| PastVolume {
                    period: period.plus_months(-k),
                    kind: VolumeKind::Readings,
                    values: ZoneValues::new(
                        schemes[i],
                        &vec![d(60 + 10 * i64::from(k % 3), 0); schemes[i].len()],
                    )
                    .unwrap_or_else(|_| ZoneValues::zero(schemes[i])),
                })
                .rev()
                .collect()
        })
        .collect();
    let parts: Vec<[MeterPart<'_>; 1]> = (0..3)
        .map(|i| {
            [MeterPart {
                meter: &meters[i],
                opening: Some((opening[i], date!(2026 - 02 - 20))),
                closing: closing[i].map(|c| (c, date!(2026 - 03 - 21))),
            }]
        })
        .collect();
    let services: Vec<[ServiceInput<'_>; 1]> = (0..3)
        .map(|i| {
            [ServiceInput {
                service: ServiceKind::Electricity,
                meters: &parts[i],
                history: &history[i],
                norm_per_unit: d(90, 0),
                meter_installable: true,
            }]
        })
        .collect();

    // The first account owes for December and January: penalties as of 31.03.2026.
    let tranches = [
        DebtTranche {
            period: Period::new(2025, 12).map_err(|e| e.to_string())?,
            service: ServiceKind::Electricity,
            due_date: policy
                .due_day
                .due_date(Period::new(2025, 12).map_err(|e| e.to_string())?),
            amount: Money::from_kopecks(184_250),
        },
        DebtTranche {
            period: Period::new(2026, 1).map_err(|e| e.to_string())?,
            service: ServiceKind::Electricity,
            due_date: policy
                .due_day
                .due_date(Period::new(2026, 1).map_err(|e| e.to_string())?),
            amount: Money::from_kopecks(171_030),
        },
    ];
    let payments = [PaymentEvent {
        date: date!(2026 - 02 - 25),
        amount: Money::from_roubles(1000),
        target: PaymentTarget::Oldest,
    }];
    let penalties = compute_penalties(
        &tranches,
        &payments,
        period.last_day(),
        &KeyRateHistory::bank_of_russia(),
        &PenaltyRules::russian_statutory(),
        &PenaltyPolicy::default(),
    )
    .map_err(|e| e.to_string())?;

    let inputs: Vec<AccountInput<'_>> = (0..3)
        .map(|i| AccountInput {
            account: &accounts[i],
            premise: &premises[i],
            services: &services[i],
            penalty: if i == 0 {
                Some(PenaltyInput {
                    report: &penalties,
                    already_charged: Money::ZERO,
                })
            } else {
                None
            },
            recalculations: &[],
        })
        .collect();
    let zp = |s, day, night, peak, semi, n3| ZonePrices {
        single: d(s, 2),
        two_zone: Some([d(day, 2), d(night, 2)]),
        three_zone: Some([d(peak, 2), d(n3, 2), d(semi, 2)]),
    };
    let tariffs = [
        TariffVersion {
            id: TariffId::new(1),
            supplier,
            service: ServiceKind::Electricity,
            group: ConsumerGroup::Population,
            valid_from: date!(2026 - 01 - 01),
            kind: TariffKind::Electricity(ElectricityTiers::Flat(zp(685, 790, 410, 900, 700, 400))),
        },
        TariffVersion {
            id: TariffId::new(2),
            supplier,
            service: ServiceKind::Electricity,
            group: ConsumerGroup::Rural,
            valid_from: date!(2026 - 01 - 01),
            kind: TariffKind::Electricity(ElectricityTiers::SocialNorm {
                norm: SocialNorm {
                    base: d(150, 0),
                    per_additional_person: d(50, 0),
                },
                within: zp(480, 550, 290, 620, 490, 280),
                above: zp(685, 790, 410, 900, 700, 400),
            }),
        },
    ];
    let bill = bill_house(
        &HouseInput {
            house: &house,
            accounts: &inputs,
            house_meter_volume: Some(d(700, 0)),
            other_non_residential_volume: Decimal::ZERO,
            heat_production_volume: Decimal::ZERO,
            carried_in: Decimal::ZERO,
            heat_meter_volume: None,
        },
        period,
        TariffBook { versions: &tariffs },
        &policy,
    )
    .map_err(|e| e.to_string())?;

    println!(
        "Демо: {} — расчёт за {}\n",
        house.address,
        period.to_russian()
    );
    for (a, b) in accounts.iter().zip(&bill.accounts) {
        println!(
            "ЛС {} ({}), итого {}",
            a.number,
            a.holder,
            b.total().to_russian()
        );
        for line in b.explain() {
            println!("  • {line}");
        }
        println!();
    }

    // The ЕПД of the first account.
    let reading = |id: u64, values: ZoneValues, p: Period, day| Reading {
        id: ReadingId::new(id),
        meter: meters[0].id,
        period: p,
        values,
        taken_on: day,
        submitted_at: datetime!(2026-03-21 10:00 UTC),
        source: ReadingSource::Subscriber,
        status: ReadingStatus::Accepted,
        supersedes: None,
    };
    let prev = reading(1, opening[0], period.prev(), date!(2026 - 02 - 20));
    let cur = reading(
        2,
        closing[0].unwrap_or(opening[0]),
        period,
        date!(2026 - 03 - 21),
    );
    let req = requisites("АО «Демо Энергосбыт»")?;
    let doc = build_payment_document(&DocumentInput {
        account: &accounts[0],
        premise: &premises[0],
        house: &house,
        period,
        requisites: Some(&req),
        lines: &bill.accounts[0].lines,
        meters: &[MeterReadings {
            meter: &meters[0],
            previous: Some(&prev),
            current: Some(&cur),
        }],
        opening_balance: Money::from_kopecks(184_250 + 171_030) - Money::from_roubles(1000),
        payments: Money::ZERO,
        due_day: policy.due_day,
    })
    .map_err(|e| e.to_string())?;
    println!(
        "──────── Платёжный документ (ЕПД) ────────\n{}",
        doc.to_text()
    );

    let e = estimate(
        &EstimateRequest {
            service: ServiceKind::Electricity,
            tariffs: &tariffs,
            group: ConsumerGroup::Population,
            registers: RegisterSpec::single(4),
            previous: &[d(9993, 0)],
            current: &[d(7, 0)],
            period,
            persons: 2,
            electric_heating: false,
        },
        &policy,
    )
    .map_err(|e| e.to_string())?;
    println!(
        "\nКалькулятор: 9993 → 0007 = {} кВт·ч, {}",
        e.consumption.total().normalize(),
        e.total.to_russian()
    );
    for l in e.explain() {
        println!("  • {l}");
    }
    Ok(())
}
