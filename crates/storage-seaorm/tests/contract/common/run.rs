//! A billable supplier for charge-set, billing-run and crash tests: houses of accounts with
//! one-, two- and three-zone meters, readings (some accounts without a closing reading, so
//! estimates too), tariffs for every service billed, house meter volumes (ОДН) and an unpaid
//! debt on some accounts (penalties).

use std::sync::Arc;

use billing_core::ids::{AccountId, SupplierId, TariffId};
use billing_core::money::Money;
use billing_core::period::Period;
use billing_core::ports::{
    ChargeRepository, ChargeSet, Clock, HousePeriodFacts, LedgerFact, LedgerRecord, NewReading,
};
use billing_core::reading::ReadingSource;
use billing_core::service::ServiceKind;
use billing_core::tariff::{
    ConsumerGroup, ElectricityTiers, TariffKind, TariffVersion, ZonePrices,
};
use billing_core::usecase::BillingService;
use storage_seaorm::{RunOptions, RunProgress, Storage};
use time::macros::{date, datetime};
use time::{Date, OffsetDateTime};

use super::seed::{SUPPLIER, build_house, d, same_values};

/// The period every run test bills.
pub fn billed() -> Period {
    Period::new(2025, 3).unwrap()
}

/// The posting day of the runs (after the readings window of [`billed`]).
pub const TODAY: Date = date!(2025 - 04 - 01);

/// A fixed clock at [`TODAY`].
pub struct FixedClock;

impl Clock for FixedClock {
    fn now(&self) -> OffsetDateTime {
        datetime!(2025-04-01 10:00 UTC)
    }
    fn today(&self) -> Date {
        TODAY
    }
}

/// The billing service over `storage`, at [`TODAY`].
pub fn service(storage: &Storage) -> BillingService {
    BillingService::new(storage.billing_ports(Arc::new(FixedClock)))
}

/// Tariffs of every service the seeded accounts have: electricity with day/night and
/// peak/night/semi-peak prices, cold water by volume.
pub fn tariffs() -> Vec<TariffVersion> {
    let electricity = ZonePrices {
        single: d(652, 2),
        two_zone: Some([d(748, 2), d(391, 2)]),
        three_zone: Some([d(897, 2), d(391, 2), d(652, 2)]),
    };
    vec![
        TariffVersion {
            id: TariffId::new(1),
            supplier: SupplierId::new(SUPPLIER),
            service: ServiceKind::Electricity,
            group: ConsumerGroup::Population,
            valid_from: date!(2024 - 07 - 01),
            kind: TariffKind::Electricity(ElectricityTiers::Flat(electricity)),
        },
        TariffVersion {
            id: TariffId::new(2),
            supplier: SupplierId::new(SUPPLIER),
            service: ServiceKind::ColdWater,
            group: ConsumerGroup::Population,
            valid_from: date!(2024 - 07 - 01),
            kind: TariffKind::Volumetric { price: d(4_512, 2) },
        },
    ]
}

/// Stores `houses` houses (ids 1…) of `accounts` accounts each, with tariffs, readings of
/// February (opening) and March (closing, except every fifth account), house facts and a
/// December debt on every third account. Deterministic: the same call seeds the same data.
pub async fn seed_billable(storage: &Storage, houses: u64, accounts: usize) {
    let mut readings: Vec<NewReading> = Vec::new();
    let mut journal = Vec::new();
    for h in 1..=houses {
        let seeded = build_house(h, accounts);
        if h == 1 {
            storage.upsert_supplier(&seeded.supplier).await.unwrap();
            storage.upsert_tariffs(&tariffs()).await.unwrap();
        }
        storage
            .upsert_houses(std::slice::from_ref(&seeded.house))
            .await
            .unwrap();
        storage.upsert_premises(&seeded.premises).await.unwrap();
        storage.upsert_accounts(&seeded.accounts).await.unwrap();
        storage.upsert_meters(&seeded.meters).await.unwrap();
        storage
            .put_house_facts(
                seeded.house.id,
                billed(),
                &HousePeriodFacts {
                    house_meter_volume: Some(d(i64::try_from(accounts).unwrap() * 260, 0)),
                    ..HousePeriodFacts::default()
                },
            )
            .await
            .unwrap();
        for (i, m) in seeded.meters.iter().enumerate() {
            let scheme = m.registers.scheme;
            let start = 1_000 + i64::try_from(i).unwrap() * 7;
            readings.push(NewReading {
                meter: m.id,
                period: Period::new(2025, 2).unwrap(),
                values: same_values(scheme, start),
                taken_on: date!(2025 - 02 - 20),
                submitted_at: datetime!(2025-02-20 12:00 UTC),
                source: ReadingSource::Subscriber,
                supersedes: None,
            });
            if i % 5 != 4 {
                readings.push(NewReading {
                    meter: m.id,
                    period: billed(),
                    values: same_values(scheme, start + 60 + i64::try_from(i % 40).unwrap()),
                    taken_on: date!(2025 - 03 - 20),
                    submitted_at: datetime!(2025-03-20 12:00 UTC),
                    source: ReadingSource::Subscriber,
                    supersedes: None,
                });
            }
        }
        for (i, a) in seeded.accounts.iter().enumerate() {
            if i % 3 == 0 {
                journal.push((
                    a.id,
                    LedgerRecord {
                        date: date!(2024 - 12 - 31),
                        fact: LedgerFact::Charge {
                            period: Period::new(2024, 12).unwrap(),
                            service: ServiceKind::Electricity,
                            amount: Money::from_kopecks(150_000 + i64::try_from(i).unwrap()),
                            due_date: date!(2025 - 01 - 10),
                        },
                    },
                ));
            }
        }
    }
    storage.import_readings(&readings).await.unwrap();
    storage.import_journal(&journal).await.unwrap();
}

/// Every charge set of `accounts` for [`billed`], in account order.
pub async fn sets_of(storage: &Storage, accounts: &[AccountId]) -> Vec<Option<ChargeSet>> {
    let mut out = Vec::with_capacity(accounts.len());
    for a in accounts {
        out.push(storage.charge_set(*a, billed()).await.unwrap());
    }
    out
}

/// The account ids of `houses` seeded houses of `accounts` accounts.
pub fn all_accounts(houses: u64, accounts: usize) -> Vec<AccountId> {
    (1..=houses)
        .flat_map(|h| build_house(h, accounts).account_ids())
        .collect()
}

/// Runs the supplier-wide billing of [`billed`] with `options`, ignoring progress.
pub async fn run(
    storage: &Storage,
    options: RunOptions,
) -> Result<storage_seaorm::RunReport, storage_seaorm::RunError> {
    storage
        .run_supplier_billing(
            SupplierId::new(SUPPLIER),
            billed(),
            TODAY,
            options,
            Arc::new(|_: RunProgress| {}),
        )
        .await
}

/// A second, empty, migrated database (SQLite in memory) to compute references in.
pub async fn scratch() -> Storage {
    let s = Storage::connect("sqlite::memory:").await.unwrap();
    s.migrate().await.unwrap();
    s
}
