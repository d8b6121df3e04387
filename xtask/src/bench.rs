//! `cargo xtask bench …`: benchmark programs that print figures.
//!
//! `cargo xtask bench billing [--accounts N] [--threads N]` builds a deterministic synthetic
//! supplier (100 accounts per house; 60 % single-rate, 30 % two-zone, 10 % three-zone meters;
//! 20 % on a social-norm tariff; 5 % billed by average, 2 % by norm; 10 % in debt with 24 months
//! of tranches and payments for penalties; ОДН in every house) and bills one month in memory
//! with `billing_core::charge::bill_house` on every core. Input generation is not timed: the
//! houses are generated a chunk at a time (so memory stays bounded whatever N is), then every
//! thread bills its chunk while the clock runs.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use billing_core::charge::{
    AccountInput, HouseInput, PenaltyInput, ServiceInput, TariffBook, bill_house,
};
use billing_core::ids::{AccountId, HouseId, MeterId, PremiseId, SupplierId, TariffId};
use billing_core::keyrate::{KeyRateHistory, PenaltyRules};
use billing_core::meter::{Meter, RegisterSpec, ZoneScheme, ZoneValues};
use billing_core::model::{Account, AccountNumber, AccountService, House, Premise};
use billing_core::odn::OdnPolicy;
use billing_core::penalty::{
    DebtTranche, PaymentEvent, PaymentTarget, PenaltyPolicy, PenaltyReport, compute_penalties_into,
};
use billing_core::policy::BillingPolicy;
use billing_core::tariff::{
    ConsumerGroup, ConsumptionRanges, ElectricityTiers, SocialNorm, TariffKind, TariffVersion,
    ZonePrices,
};
use billing_core::volume::{MeterPart, PastVolume, VolumeKind};
use billing_core::{Money, Period, ServiceKind};
use rust_decimal::Decimal;
use time::macros::date;

pub fn run(args: &[String]) -> Result<(), String> {
    if cfg!(debug_assertions) {
        // `cargo xtask` builds xtask in debug; benchmarks measure optimised code, so hand over
        // to a release build of this same program — through `cargo_command`, which drops the
        // variables `cargo run` gave this process: inherited, they made ring's build script
        // rerun and the whole release xtask (fat LTO, minutes) rebuild on every bench.
        let status = crate::ci::cargo_command(&crate::ci::workspace_root())
            .args([
                "run",
                "--quiet",
                "--release",
                "--package",
                "xtask",
                "--",
                "bench",
            ])
            .args(args)
            .status()
            .map_err(|e| format!("cannot start the release build: {e}"))?;
        return if status.success() {
            Ok(())
        } else {
            Err(format!("release benchmark exited with {status}"))
        };
    }
    match args.first().map(String::as_str) {
        Some("billing") => billing(&args[1..]),
        Some("storage") => crate::bench_storage::run(&args[1..]),
        Some("http") => crate::bench_http::run(&args[1..]),
        other => Err(format!(
            "unknown benchmark {other:?}; available: billing, storage, http"
        )),
    }
}

/// Refuses every argument but the `valued` flags, each followed by its value, and the
/// `switches`; `--help` too, with the usage.
pub(crate) fn only_flags(
    args: &[String],
    valued: &[&str],
    switches: &[&str],
    usage: &str,
) -> Result<(), String> {
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        if valued.contains(&a) && i + 1 < args.len() {
            i += 2;
        } else if switches.contains(&a) {
            i += 1;
        } else if valued.contains(&a) {
            return Err(format!("{a} needs a value; usage: {usage}"));
        } else if a == "--help" || a == "-h" {
            return Err(format!("usage: {usage}"));
        } else {
            return Err(format!("unknown argument '{a}'; usage: {usage}"));
        }
    }
    Ok(())
}

pub(crate) fn flag(args: &[String], name: &str, default: usize) -> Result<usize, String> {
    match args.iter().position(|a| a == name) {
        None => Ok(default),
        Some(i) => args
            .get(i + 1)
            .ok_or(format!("{name} needs a value"))?
            .replace('_', "")
            .parse()
            .map_err(|e| format!("{name}: {e}")),
    }
}

/// splitmix64: a tiny deterministic generator, so every run bills the same supplier.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in 0..n.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// Per-mille draw.
    fn permille(&mut self) -> u64 {
        self.below(1000)
    }
}

pub(crate) const PER_HOUSE: usize = 100;
pub(crate) const PERIOD: (i32, u32) = (2026, 10);
/// The generator's seed: every run bills the same supplier.
pub(crate) const SEED: u64 = 0x0AB0_4E47;

/// One generated house with everything its bill needs, owned.
pub(crate) struct GenHouse {
    pub(crate) house: House,
    pub(crate) accounts: Vec<Account>,
    pub(crate) premises: Vec<Premise>,
    pub(crate) meters: Vec<Meter>,
    /// Opening and closing readings per account (closing `None` → estimate).
    pub(crate) readings: Vec<(ZoneValues, Option<ZoneValues>)>,
    pub(crate) history: Vec<Vec<PastVolume>>,
    pub(crate) debts: Vec<Option<(Vec<DebtTranche>, Vec<PaymentEvent>)>>,
    pub(crate) house_meter: Decimal,
}

fn d(n: u64) -> Decimal {
    Decimal::from(n)
}

pub(crate) fn generate_house(index: usize, seed: u64) -> GenHouse {
    let mut rng = Rng(seed ^ (index as u64).wrapping_mul(0xA076_1D64_78BD_642F));
    let period = Period::new(PERIOD.0, PERIOD.1).expect("the bench period is valid");
    let hid = HouseId::new(index as u64 + 1);
    let mut accounts = Vec::with_capacity(PER_HOUSE);
    let mut premises = Vec::with_capacity(PER_HOUSE);
    let mut meters = Vec::with_capacity(PER_HOUSE);
    let mut readings = Vec::with_capacity(PER_HOUSE);
    let mut history = Vec::with_capacity(PER_HOUSE);
    let mut debts = Vec::with_capacity(PER_HOUSE);
    let mut area_sum = Decimal::ZERO;
    let mut expected = Decimal::ZERO;
    for j in 0..PER_HOUSE {
        let id = (index * PER_HOUSE + j) as u64 + 1;
        let area = Decimal::new(300 + rng.below(900) as i64, 1); // 30.0–119.9 m²
        area_sum += area;
        let persons = 1 + rng.below(4) as u32;
        let scheme = match rng.permille() {
            0..600 => ZoneScheme::Single,
            600..900 => ZoneScheme::TwoZone,
            _ => ZoneScheme::ThreeZone,
        };
        let group = match rng.permille() {
            0..200 => ConsumerGroup::Rural, // social-norm tariff
            200..250 => ConsumerGroup::UrbanElectricStoves,
            _ => ConsumerGroup::Population,
        };
        let estimate = rng.permille();
        premises.push(Premise {
            id: PremiseId::new(id),
            house: hid,
            number: (j + 1).to_string(),
            area,
            residential: true,
            persons,
            rooms: 2,
        });
        accounts.push(Account {
            id: AccountId::new(id),
            number: AccountNumber::parse(&format!("{:013}", 7_700_000_000_000_u64 + id))
                .expect("13 digits"),
            supplier: SupplierId::new(1),
            premise: PremiseId::new(id),
            holder: String::new(),
            group,
            services: vec![AccountService {
                service: ServiceKind::Electricity,
                norm_per_unit: d(90),
                meter_installable: true,
            }],
        });
        let n = scheme.len();
        meters.push(Meter {
            id: MeterId::new(id),
            account: Some(AccountId::new(id)),
            service: ServiceKind::Electricity,
            serial: String::new(),
            registers: RegisterSpec {
                scheme,
                digits: 5,
                decimals: 0,
                coefficient: Decimal::ONE,
            },
            installed_on: date!(2019 - 01 - 01),
            commissioned_on: Some(date!(2019 - 01 - 01)),
            verification_due: Some(date!(2035 - 01 - 01)),
            failed_on: None,
            removed_on: None,
            automatic: false,
        });
        let monthly: Vec<Decimal> = (0..n)
            .map(|z| d(60 + rng.below(if z == 0 { 240 } else { 90 })))
            .collect();
        let opening: Vec<Decimal> = (0..n).map(|_| d(rng.below(99_000))).collect();
        let closing: Vec<Decimal> = opening
            .iter()
            .zip(&monthly)
            .map(|(o, m)| (*o + *m) % d(100_000))
            .collect();
        let opening =
            ZoneValues::new(scheme, &opening).unwrap_or_else(|_| ZoneValues::zero(scheme));
        let closing =
            ZoneValues::new(scheme, &closing).unwrap_or_else(|_| ZoneValues::zero(scheme));
        let months = if (50..70).contains(&estimate) { 2 } else { 6 }; // by norm: too little history
        let hist: Vec<PastVolume> = (0..months)
            .map(|k| PastVolume {
                period: period.plus_months(k - months),
                kind: VolumeKind::Readings,
                values: ZoneValues::new(
                    scheme,
                    &monthly
                        .iter()
                        .map(|m| *m + d(rng.below(20)))
                        .collect::<Vec<_>>(),
                )
                .unwrap_or_else(|_| ZoneValues::zero(scheme)),
            })
            .collect();
        expected += monthly.iter().copied().sum::<Decimal>();
        readings.push((opening, if estimate < 70 { None } else { Some(closing) }));
        history.push(hist);
        debts.push(if rng.permille() < 100 {
            let policy = BillingPolicy::default();
            let tranches: Vec<DebtTranche> = (1..=24)
                .map(|k| {
                    let p = period.plus_months(-k);
                    DebtTranche {
                        period: p,
                        service: ServiceKind::Electricity,
                        due_date: policy.due_day.due_date(p),
                        amount: Money::from_kopecks(80_000 + rng.below(60_000) as i64),
                    }
                })
                .rev()
                .collect();
            let payments: Vec<PaymentEvent> = (1..=20)
                .map(|k| PaymentEvent {
                    date: period.plus_months(-k).day_clamped(12),
                    amount: Money::from_kopecks(60_000 + rng.below(40_000) as i64),
                    target: PaymentTarget::Oldest,
                })
                .rev()
                .collect();
            Some((tranches, payments))
        } else {
            None
        });
    }
    let house_meter = expected * Decimal::new(108 + rng.below(8) as i64, 2);
    GenHouse {
        house: House {
            id: hid,
            supplier: SupplierId::new(1),
            address: String::new(),
            total_area: area_sum,
            common_area: area_sum * Decimal::new(15, 2),
            odn: OdnPolicy {
                billed_by_supplier: true,
                cap_at_norm: index.is_multiple_of(2),
                norm_per_m2_common: Decimal::new(21, 1),
            },
            electric_heating: index.is_multiple_of(10),
            heat_meter: false,
        },
        accounts,
        premises,
        meters,
        readings,
        history,
        debts,
        house_meter,
    }
}

pub(crate) fn tariffs() -> Vec<TariffVersion> {
    let zp = |s: i64, day: i64, night: i64, peak: i64, semi: i64, n3: i64| ZonePrices {
        single: Decimal::new(s, 2),
        two_zone: Some([Decimal::new(day, 2), Decimal::new(night, 2)]),
        three_zone: Some([
            Decimal::new(peak, 2),
            Decimal::new(n3, 2),
            Decimal::new(semi, 2),
        ]),
    };
    let v = |id: u64, group, from, kind| TariffVersion {
        id: TariffId::new(id),
        supplier: SupplierId::new(1),
        service: ServiceKind::Electricity,
        group,
        valid_from: from,
        kind,
    };
    let ranges = |k: i64| {
        TariffKind::Electricity(ElectricityTiers::Ranges(ConsumptionRanges {
            thresholds: [d(3900), d(6000)],
            prices: [
                zp(685 + k, 790 + k, 410 + k, 900 + k, 700 + k, 400 + k),
                zp(810, 930, 480, 1050, 820, 470),
                zp(1150, 1300, 690, 1500, 1170, 680),
            ],
            seasonal_factor: Decimal::new(18, 1),
            heating_season: [
                true, true, true, true, false, false, false, false, false, true, true, true,
            ],
        }))
    };
    let social = |k: i64| {
        TariffKind::Electricity(ElectricityTiers::SocialNorm {
            norm: SocialNorm {
                base: d(150),
                per_additional_person: d(50),
            },
            within: zp(480 + k, 550 + k, 290 + k, 620 + k, 490 + k, 280 + k),
            above: zp(685 + k, 790 + k, 410 + k, 900 + k, 700 + k, 400 + k),
        })
    };
    vec![
        v(
            1,
            ConsumerGroup::Population,
            date!(2026 - 01 - 01),
            ranges(0),
        ),
        v(
            2,
            ConsumerGroup::Population,
            date!(2026 - 10 - 01),
            ranges(55),
        ),
        v(3, ConsumerGroup::Rural, date!(2026 - 01 - 01), social(0)),
        v(4, ConsumerGroup::Rural, date!(2026 - 10 - 01), social(40)),
        v(
            5,
            ConsumerGroup::UrbanElectricStoves,
            date!(2026 - 01 - 01),
            TariffKind::Electricity(ElectricityTiers::Flat(zp(480, 550, 290, 620, 490, 280))),
        ),
        // A version starting mid-period: the period's volume is split by days.
        v(
            6,
            ConsumerGroup::UrbanElectricStoves,
            date!(2026 - 10 - 11),
            TariffKind::Electricity(ElectricityTiers::Flat(zp(520, 590, 310, 660, 520, 300))),
        ),
    ]
}

#[derive(Default)]
pub(crate) struct Totals {
    pub(crate) accounts: u64,
    pub(crate) lines: u64,
    pub(crate) amount: Money,
    pub(crate) penalty_accounts: u64,
}

/// Bills one generated house; returns (accounts, lines, total amount, accounts with penalties).
pub(crate) fn bill_one(
    g: &GenHouse,
    book: TariffBook<'_>,
    policy: &BillingPolicy,
    setup: (&KeyRateHistory, &PenaltyRules, &PenaltyPolicy),
    reports: &mut [PenaltyReport],
) -> Result<Totals, String> {
    let period = Period::new(PERIOD.0, PERIOD.1).map_err(|e| e.to_string())?;
    let as_of = period.last_day();
    let mut with_penalty = 0;
    for (i, debt) in g.debts.iter().enumerate() {
        if let Some((tranches, payments)) = debt {
            compute_penalties_into(&mut reports[i], tranches, payments, as_of, setup)
                .map_err(|e| e.to_string())?;
            with_penalty += 1;
        }
    }
    let parts: Vec<[MeterPart<'_>; 1]> = g
        .meters
        .iter()
        .zip(&g.readings)
        .map(|(m, (open, close))| {
            [MeterPart {
                meter: m,
                opening: Some((*open, date!(2026 - 09 - 20))),
                closing: close.map(|c| (c, date!(2026 - 10 - 20))),
            }]
        })
        .collect();
    let services: Vec<[ServiceInput<'_>; 1]> = parts
        .iter()
        .zip(&g.history)
        .map(|(p, h)| {
            [ServiceInput {
                service: ServiceKind::Electricity,
                meters: p,
                history: h,
                norm_per_unit: d(90),
                meter_installable: true,
            }]
        })
        .collect();
    let inputs: Vec<AccountInput<'_>> = (0..g.accounts.len())
        .map(|i| AccountInput {
            account: &g.accounts[i],
            premise: &g.premises[i],
            services: &services[i],
            penalty: g.debts[i].as_ref().map(|_| PenaltyInput {
                report: &reports[i],
                already_charged: Money::ZERO,
            }),
            recalculations: &[],
        })
        .collect();
    let bill = bill_house(
        &HouseInput {
            house: &g.house,
            accounts: &inputs,
            house_meter_volume: Some(g.house_meter),
            other_non_residential_volume: Decimal::ZERO,
            heat_production_volume: Decimal::ZERO,
            carried_in: Decimal::ZERO,
            heat_meter_volume: None,
        },
        period,
        book,
        policy,
    )
    .map_err(|e| e.to_string())?;
    let mut t = Totals {
        accounts: bill.accounts.len() as u64,
        penalty_accounts: with_penalty,
        ..Totals::default()
    };
    for a in &bill.accounts {
        t.lines += a.lines.len() as u64;
        t.amount += a.total();
    }
    Ok(t)
}

fn billing(args: &[String]) -> Result<(), String> {
    only_flags(
        args,
        &["--accounts", "--threads", "--chunk-houses"],
        &[],
        "cargo xtask bench billing [--accounts N] [--threads N] [--chunk-houses N]",
    )?;
    let accounts = flag(args, "--accounts", 1_000_000)?;
    let threads = flag(
        args,
        "--threads",
        std::thread::available_parallelism().map_or(2, |n| n.get()),
    )?
    .max(1);
    let chunk = flag(args, "--chunk-houses", 10)?.max(1);
    let houses = accounts.div_ceil(PER_HOUSE);
    let seed = SEED;
    let book_versions = tariffs();
    let policy = BillingPolicy::default();
    let key_rates = KeyRateHistory::bank_of_russia();
    let rules = PenaltyRules::russian_statutory();
    let penalty_policy = PenaltyPolicy::default();

    println!(
        "bench billing: {houses} houses × {PER_HOUSE} accounts = {} accounts, {threads} threads, period {}-{:02}",
        houses * PER_HOUSE,
        PERIOD.0,
        PERIOD.1
    );
    // Each thread alternates between generating a chunk (not timed) and billing it (timed); a
    // thread's billing time is the sum of its timed phases. With one thread per core, the run's
    // billing time is the slowest thread's sum: what the run would take if inputs were free.
    let billing_time = Mutex::new(Vec::<Duration>::new());
    let generation_time = Mutex::new(Duration::ZERO);
    let totals = Mutex::new(Totals::default());
    let errors = Mutex::new(Vec::<String>::new());
    let rounds = houses.div_ceil(chunk * threads);
    std::thread::scope(|s| {
        for t in 0..threads {
            let (billing_time, generation_time, totals, errors) =
                (&billing_time, &generation_time, &totals, &errors);
            let (book_versions, policy, key_rates, rules, penalty_policy) =
                (&book_versions, &policy, &key_rates, &rules, &penalty_policy);
            s.spawn(move || {
                let mut reports: Vec<PenaltyReport> =
                    (0..PER_HOUSE).map(|_| PenaltyReport::default()).collect();
                let mut local = Totals::default();
                let (mut billing, mut generation) = (Duration::ZERO, Duration::ZERO);
                for r in 0..rounds {
                    let g0 = Instant::now();
                    let first = (r * threads + t) * chunk;
                    let batch: Vec<GenHouse> = (first..(first + chunk).min(houses))
                        .map(|h| generate_house(h, seed))
                        .collect();
                    generation += g0.elapsed();
                    let start = Instant::now();
                    for g in &batch {
                        match bill_one(
                            g,
                            TariffBook {
                                versions: book_versions,
                            },
                            policy,
                            (key_rates, rules, penalty_policy),
                            &mut reports,
                        ) {
                            Ok(x) => {
                                local.accounts += x.accounts;
                                local.lines += x.lines;
                                local.amount += x.amount;
                                local.penalty_accounts += x.penalty_accounts;
                            }
                            Err(e) => errors.lock().unwrap_or_else(|e| e.into_inner()).push(e),
                        }
                    }
                    billing += start.elapsed();
                    drop(batch);
                }
                billing_time
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(billing);
                *generation_time.lock().unwrap_or_else(|e| e.into_inner()) += generation;
                let mut all = totals.lock().unwrap_or_else(|e| e.into_inner());
                all.accounts += local.accounts;
                all.lines += local.lines;
                all.amount += local.amount;
                all.penalty_accounts += local.penalty_accounts;
            });
        }
    });
    let errors = errors.into_inner().unwrap_or_default();
    if let Some(e) = errors.first() {
        return Err(format!(
            "{} houses failed to bill; first: {e}",
            errors.len()
        ));
    }
    let totals = totals.into_inner().unwrap_or_default();
    let per_thread = billing_time.into_inner().unwrap_or_default();
    let wall = per_thread
        .iter()
        .max()
        .copied()
        .unwrap_or_default()
        .as_secs_f64();
    let cpu: f64 = per_thread.iter().map(Duration::as_secs_f64).sum();
    let generation = generation_time
        .into_inner()
        .unwrap_or_default()
        .as_secs_f64();
    let n = totals.accounts as f64;
    println!("accounts billed        {}", totals.accounts);
    println!("accounts with penalty  {}", totals.penalty_accounts);
    println!("charge lines           {}", totals.lines);
    println!("total billed           {} ₽", totals.amount);
    println!("generation (untimed)   {generation:.2} s of thread time");
    println!(
        "billing time           {wall:.3} s (slowest thread; threads: {})",
        per_thread
            .iter()
            .map(|d| format!("{:.3} s", d.as_secs_f64()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!("accounts per second    {:.0}", n / wall);
    println!(
        "time per account       {:.3} µs of run time, {:.3} µs of thread time ({threads} threads)",
        wall * 1e6 / n,
        cpu * 1e6 / n
    );
    println!(
        "peak memory (VmHWM)    {}",
        peak_memory().unwrap_or_else(|| "unknown".into())
    );
    Ok(())
}

fn peak_memory() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(format!("{:.1} MiB", kb as f64 / 1024.0))
}
