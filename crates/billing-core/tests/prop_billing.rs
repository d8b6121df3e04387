//! Property tests of the invariants money depends on: rounding and allocation conserve totals,
//! consumption is never negative and rollover is the modular difference, ОДН shares add up to
//! the house volume, a tariff version starting on the 1st equals no split, and a billing run is
//! deterministic (idempotent for the same inputs).

use billing_core::allocation::{allocate, allocate_money};
use billing_core::charge::{AccountInput, HouseInput, ServiceInput, TariffBook, bill_house};
use billing_core::ids::{AccountId, HouseId, MeterId, PremiseId, SupplierId, TariffId};
use billing_core::meter::{Meter, RegisterSpec, ZoneScheme, ZoneValues};
use billing_core::model::{Account, AccountNumber, House, Premise};
use billing_core::money::{Money, round_dp};
use billing_core::odn::{OdnInput, OdnPolicy, distribute};
use billing_core::policy::{BillingPolicy, TariffSplitPolicy};
use billing_core::reading::register_delta;
use billing_core::tariff::{
    ConsumerGroup, ElectricityTiers, PricingInput, SocialNorm, TariffKind, TariffVersion,
    ZonePrices, price, segments,
};
use billing_core::volume::MeterPart;
use billing_core::{Period, ServiceKind};
use proptest::prelude::*;
use rust_decimal::Decimal;
use time::macros::date;

fn dec(units: i64, dp: u32) -> Decimal {
    Decimal::new(units, dp)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Largest-remainder allocation conserves the total exactly, never goes negative for a
    /// positive total, and each part is within one unit of its exact share.
    #[test]
    fn allocation_conserves_the_total(total in -10_000_000i64..10_000_000, dp in 0u32..4, weights in prop::collection::vec(0i64..100_000, 1..40)) {
        let total = dec(total, dp);
        let weights: Vec<Decimal> = weights.into_iter().map(|w| dec(w, 2)).collect();
        let sum_w: Decimal = weights.iter().copied().sum();
        match allocate(total, &weights, dp) {
            Ok(parts) => {
                prop_assert_eq!(parts.iter().copied().sum::<Decimal>(), total);
                let unit = dec(1, dp);
                for (p, w) in parts.iter().zip(&weights) {
                    let exact = total * *w / sum_w;
                    prop_assert!((*p - exact).abs() < unit, "part {} exact {}", p, exact);
                    if total >= Decimal::ZERO { prop_assert!(*p >= Decimal::ZERO); }
                    if w.is_zero() { prop_assert!(p.is_zero()); }
                }
            }
            Err(_) => prop_assert!(sum_w.is_zero() && !total.is_zero()),
        }
    }

    /// Splitting money gives kopeck-exact parts that add up to the kopeck.
    #[test]
    fn money_allocation_adds_up(kopecks in 0i64..100_000_000, weights in prop::collection::vec(1i64..1_000, 1..12)) {
        let total = Money::from_kopecks(kopecks);
        let weights: Vec<Decimal> = weights.into_iter().map(Decimal::from).collect();
        let parts = allocate_money(total, &weights).unwrap();
        prop_assert_eq!(parts.iter().copied().sum::<Money>(), total);
    }

    /// Rounding is half away from zero, idempotent, within half a kopeck, and symmetric.
    #[test]
    fn rounding_rule(units in -1_000_000_000i64..1_000_000_000, dp in 2u32..8) {
        let v = dec(units, dp);
        let m = Money::round(v);
        prop_assert!((m.amount() - v).abs() <= dec(5, 3));
        prop_assert_eq!(Money::round(m.amount()), m);
        prop_assert_eq!(Money::round(-v), -m);
        prop_assert_eq!(m.amount().scale(), 2);
        prop_assert_eq!(round_dp(round_dp(v, 3), 3), round_dp(v, 3));
    }

    /// Consumption is never negative and a rollover is the modular difference.
    #[test]
    fn rollover_is_modular(digits in 1u32..9, a in 0u64..1_000_000_000, b in 0u64..1_000_000_000) {
        let spec = RegisterSpec::single(digits);
        let cap = 10u64.pow(digits);
        let (prev, cur) = (a % cap, b % cap);
        let d = register_delta(Decimal::from(prev), Decimal::from(cur), &spec);
        prop_assert!(d.delta >= Decimal::ZERO);
        prop_assert!(d.delta < Decimal::from(cap));
        prop_assert_eq!(d.delta, Decimal::from((cur + cap - prev) % cap));
        prop_assert_eq!(d.rollover, cur < prev);
    }

    /// ОДН shares add up exactly to the distributed volume (all premises given), never negative.
    #[test]
    fn odn_shares_add_up(areas in prop::collection::vec(1i64..20_000, 1..120), house in 0i64..5_000_000, flats in 0i64..5_000_000, cap in any::<bool>()) {
        let areas: Vec<Decimal> = areas.into_iter().map(|a| dec(a, 1)).collect();
        let total_area: Decimal = areas.iter().copied().sum();
        let d = distribute(&OdnInput {
            house_volume: Some(dec(house, 1)),
            flats_volume: dec(flats, 1),
            non_residential_volume: Decimal::ZERO,
            heat_production_volume: Decimal::ZERO,
            carried_in: Decimal::ZERO,
            total_area,
            common_area: total_area / Decimal::TEN,
            premise_areas: &areas,
            policy: OdnPolicy { billed_by_supplier: true, cap_at_norm: cap, norm_per_m2_common: dec(21, 1) },
            dp: 3,
        }).unwrap();
        prop_assert_eq!(d.shares.iter().copied().sum::<Decimal>(), d.basis.distributed_volume);
        prop_assert!(d.shares.iter().all(|s| *s >= Decimal::ZERO));
        prop_assert!(d.basis.negative_remainder <= Decimal::ZERO);
        if d.basis.raw_volume < Decimal::ZERO {
            prop_assert_eq!(d.basis.distributed_volume, Decimal::ZERO);
            prop_assert_eq!(d.basis.negative_remainder, d.basis.raw_volume);
        } else {
            prop_assert_eq!(d.basis.negative_remainder, Decimal::ZERO);
            prop_assert!(d.basis.distributed_volume <= d.basis.raw_volume);
        }
    }

    /// A tariff version that starts on the 1st of the period prices exactly as if there were one
    /// version; a mid-period start splits the volume so the parts add up to the whole.
    #[test]
    fn version_on_the_first_equals_no_split(volume in 0i64..10_000_000, price_a in 100i64..2_000, price_b in 100i64..2_000, start in 1u8..=31, persons in 1u32..6, social in any::<bool>()) {
        let period = Period::new(2026, 10).unwrap();
        let kind = |p: i64| if social {
            TariffKind::Electricity(ElectricityTiers::SocialNorm { norm: SocialNorm { base: Decimal::from(150), per_additional_person: Decimal::from(50) }, within: ZonePrices::flat(dec(p, 2)), above: ZonePrices::flat(dec(p * 3 / 2, 2)) })
        } else {
            TariffKind::Electricity(ElectricityTiers::Flat(ZonePrices::flat(dec(p, 2))))
        };
        let v = |id, from, k| TariffVersion { id: TariffId::new(id), supplier: SupplierId::new(1), service: ServiceKind::Electricity, group: ConsumerGroup::Population, valid_from: from, kind: k };
        let vol = ZoneValues::single(dec(volume, 3));
        let run = |versions: &[TariffVersion]| {
            let segs = segments(versions, period, TariffSplitPolicy::ByDays);
            price(&PricingInput { service: ServiceKind::Electricity, period, segments: &segs, volume: vol, norm_already_used: Decimal::ZERO, odn_in_social_norm: true, persons, electric_heating: false, volume_dp: 3 }).unwrap()
        };
        let single = run(&[v(2, date!(2026 - 10 - 01), kind(price_b))]);
        let on_first = run(&[v(1, date!(2026 - 01 - 01), kind(price_a)), v(2, date!(2026 - 10 - 01), kind(price_b))]);
        prop_assert_eq!(&single, &on_first);
        let mid = period.day(u32::from(start)).unwrap();
        let split = run(&[v(1, date!(2026 - 01 - 01), kind(price_a)), v(2, mid, kind(price_b))]);
        prop_assert_eq!(split.iter().map(|l| l.quantity).sum::<Decimal>(), vol.total());
        for l in &split { prop_assert_eq!(l.amount, Money::round(l.quantity * l.unit_price)); }
    }

    /// The same inputs give the same lines (a repeated run is idempotent), every line's amount
    /// is its quantity × price rounded once, and ОДН lines add up to the distributed volume.
    #[test]
    fn billing_run_is_deterministic(seed in prop::collection::vec((1i64..2000, 0i64..99_000, 0i64..3000, 1u32..5, 0u8..3), 1..25), house_extra in 0i64..50_000) {
        let period = Period::new(2026, 3).unwrap();
        let n = seed.len();
        let accounts: Vec<Account> = (0..n).map(|i| Account { id: AccountId::new(i as u64), number: AccountNumber::parse(&format!("{}", 1000 + i)).unwrap(), supplier: SupplierId::new(1), premise: PremiseId::new(i as u64), holder: String::new(), group: ConsumerGroup::Population, services: vec![] }).collect();
        let premises: Vec<Premise> = seed.iter().enumerate().map(|(i, s)| Premise { id: PremiseId::new(i as u64), house: HouseId::new(1), number: i.to_string(), area: dec(s.0, 1), residential: true, persons: s.3, rooms: 1 }).collect();
        let schemes = [ZoneScheme::Single, ZoneScheme::TwoZone, ZoneScheme::ThreeZone];
        let meters: Vec<Meter> = seed.iter().enumerate().map(|(i, s)| Meter { id: MeterId::new(i as u64), account: Some(AccountId::new(i as u64)), service: ServiceKind::Electricity, serial: String::new(), registers: RegisterSpec { scheme: schemes[usize::from(s.4)], digits: 5, decimals: 0, coefficient: Decimal::ONE }, installed_on: date!(2020 - 01 - 01), commissioned_on: Some(date!(2020 - 01 - 01)), verification_due: None, failed_on: None, removed_on: None, automatic: false }).collect();
        let parts: Vec<[MeterPart<'_>; 1]> = meters.iter().zip(&seed).map(|(m, s)| {
            let k = m.registers.scheme.len();
            let open: Vec<Decimal> = (0..k).map(|z| Decimal::from((s.1 + z as i64 * 7) % 100_000)).collect();
            let close: Vec<Decimal> = open.iter().map(|o| (*o + Decimal::from(s.2)) % Decimal::from(100_000)).collect();
            [MeterPart { meter: m, opening: Some((ZoneValues::new(m.registers.scheme, &open).unwrap(), date!(2026 - 02 - 20))), closing: Some((ZoneValues::new(m.registers.scheme, &close).unwrap(), date!(2026 - 03 - 20))) }]
        }).collect();
        let services: Vec<[ServiceInput<'_>; 1]> = parts.iter().map(|p| [ServiceInput { service: ServiceKind::Electricity, meters: p, history: &[], norm_per_unit: Decimal::from(100), meter_installable: true }]).collect();
        let inputs: Vec<AccountInput<'_>> = (0..n).map(|i| AccountInput { account: &accounts[i], premise: &premises[i], services: &services[i], penalty: None, recalculations: &[] }).collect();
        let total_area: Decimal = premises.iter().map(|p| p.area).sum();
        let house = House { id: HouseId::new(1), supplier: SupplierId::new(1), address: String::new(), total_area, common_area: total_area / Decimal::TEN, odn: OdnPolicy { billed_by_supplier: true, cap_at_norm: false, norm_per_m2_common: Decimal::ONE }, electric_heating: false, heat_meter: false };
        let zp = ZonePrices { single: dec(685, 2), two_zone: Some([dec(790, 2), dec(410, 2)]), three_zone: Some([dec(900, 2), dec(400, 2), dec(700, 2)]) };
        let tariffs = [TariffVersion { id: TariffId::new(1), supplier: SupplierId::new(1), service: ServiceKind::Electricity, group: ConsumerGroup::Population, valid_from: date!(2026 - 01 - 01), kind: TariffKind::Electricity(ElectricityTiers::Flat(zp)) }];
        let flats: i64 = seed.iter().map(|s| s.2 * if s.4 == 0 { 1 } else { i64::from(s.4) + 1 }).sum();
        let input = HouseInput { house: &house, accounts: &inputs, house_meter_volume: Some(Decimal::from(flats + house_extra)), other_non_residential_volume: Decimal::ZERO, heat_production_volume: Decimal::ZERO, carried_in: Decimal::ZERO, heat_meter_volume: None };
        let policy = BillingPolicy::default();
        let a = bill_house(&input, period, TariffBook { versions: &tariffs }, &policy).unwrap();
        let b = bill_house(&input, period, TariffBook { versions: &tariffs }, &policy).unwrap();
        prop_assert_eq!(&a, &b);
        let odn_sum: Decimal = a.accounts.iter().flat_map(|x| &x.lines).filter(|l| l.service == ServiceKind::ElectricityCommon).map(|l| l.quantity).sum();
        prop_assert_eq!(odn_sum, a.odn.as_ref().unwrap().basis.distributed_volume);
        for bill in &a.accounts {
            prop_assert_eq!(bill.total(), bill.lines.iter().map(|l| l.amount).sum::<Money>());
            for l in &bill.lines {
                prop_assert_eq!(l.amount, Money::round(l.quantity * l.unit_price));
                prop_assert!(l.quantity >= Decimal::ZERO);
            }
        }
    }
}
