//! The demo supplier loaded at start-up when demo data is on (the default with the sandbox
//! providers): «АО «Демо Энергосбыт»» with two houses in Тульская область, five ЛС with
//! single-, two- and three-zone meters, one of them a private house on the social-norm tariff,
//! electricity tariffs for each consumer group (July 2025, indexed October 2026), the key-rate history and the statutory
//! penalty rules — and a year of history made by the use cases themselves, on a clock of its
//! own set to each day in turn: every month the subscribers submit readings on the 20th
//! (the private house skips one month and is billed by its average), the supplier bills the
//! period on the 26th and closes it, and the bills are paid on the 10th of the next month —
//! except that Иванов stopped paying four months ago, so his debt carries penalties, and the
//! last reading of Кузнецова's meter is 99993, so her next one (00007) rolls over.
//!
//! Loading is idempotent: every record is upserted by its id, so restarting the service
//! leaves the demo as it was (and repairs it if someone edited it). The payment-document
//! codes of the demo ЛС are fixed, published strings — a real supplier's codes are drawn by
//! [`crate::payment_codes::issue`] and shown once.

use billing_core::ids::{AccountId, HouseId, MeterId, PremiseId, SupplierId, TariffId};
use billing_core::keyrate::{KeyRateHistory, PenaltyRules};
use billing_core::meter::{Meter, RegisterSpec, ZoneScheme};
use billing_core::model::{Account, AccountNumber, AccountService, House, Premise, Supplier};
use billing_core::odn::OdnPolicy;
use billing_core::penalty::PenaltyPolicy;
use billing_core::policy::BillingPolicy;
use billing_core::requisites::{
    Address, BankDetails, BankName, Bic, CorrespAcc, EmergencyPhone, Inn, Kpp, OrgName,
    PersonalAcc, Phone, Requisites,
};
use billing_core::tariff::{
    ConsumerGroup, ConsumptionRanges, ElectricityTiers, SocialNorm, TariffKind, TariffVersion,
    ZonePrices,
};
use std::sync::Arc;

use billing_core::ledger::PaymentSplit;
use billing_core::period::Period;
use billing_core::ports::{GatewayPaymentId, PeriodRepository};
use billing_core::reading::ReadingSource;
use billing_core::run::earliest_billing_day;
use billing_core::usecase::{PostPayment, SubmitReading, SubmitReadingError};
use billing_core::{BillingService, Money, ServiceKind};
use fake_providers::AdjustableClock;
use rust_decimal::Decimal;
use storage_seaorm::RunOptions;
use storage_seaorm::Storage;
use time::OffsetDateTime;
use time::macros::{date, time};
use time::{Date, PrimitiveDateTime, UtcOffset};

/// The demo supplier's id.
pub const SUPPLIER: u64 = 1;

/// One demo ЛС, as the banner and the docs show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DemoAccount {
    /// The billing id (`/api/v1/accounts/{id}`).
    pub id: u64,
    /// The ЛС number.
    pub number: &'static str,
    /// The holder's name on file (registration by ЛС checks it).
    pub holder: &'static str,
    /// The serial number of its meter.
    pub meter: &'static str,
    /// The code printed on its payment document (linking by code).
    pub payment_code: &'static str,
    /// What it shows.
    pub about: &'static str,
    /// House and flat (linking by address).
    pub house: u64,
    /// The flat; `None` for a private house.
    pub flat: Option<&'static str>,
    zones: ZoneScheme,
    group: ConsumerGroup,
    persons: u32,
    area_dm2: i64,
    /// kWh a month on the first register (the others take shares of it).
    monthly: i64,
}

/// The demo ЛС.
pub const ACCOUNTS: [DemoAccount; 5] = [
    DemoAccount {
        id: 1,
        number: "7700100001",
        holder: "Иванов Иван Иванович",
        meter: "011234567",
        payment_code: "Dm7kQ2xRp9",
        about: "однотарифный счётчик",
        house: 1,
        flat: Some("1"),
        zones: ZoneScheme::Single,
        group: ConsumerGroup::Population,
        persons: 2,
        area_dm2: 5240,
        monthly: 210,
    },
    DemoAccount {
        id: 2,
        number: "7700100002",
        holder: "Петрова Анна Сергеевна",
        meter: "021234567",
        payment_code: "Hv4nW8cTz3",
        about: "двухзонный счётчик (день/ночь)",
        house: 1,
        flat: Some("2"),
        zones: ZoneScheme::TwoZone,
        group: ConsumerGroup::Population,
        persons: 3,
        area_dm2: 6810,
        monthly: 260,
    },
    DemoAccount {
        id: 3,
        number: "7700100003",
        holder: "Сидоров Пётр Алексеевич",
        meter: "031234567",
        payment_code: "Kb6sE3yMq8",
        about: "трёхзонный счётчик (пик/ночь/полупик)",
        house: 1,
        flat: Some("3"),
        zones: ZoneScheme::ThreeZone,
        group: ConsumerGroup::UrbanElectricStoves,
        persons: 1,
        area_dm2: 3350,
        monthly: 170,
    },
    DemoAccount {
        id: 4,
        number: "7700100004",
        holder: "Кузнецова Мария Ивановна",
        meter: "041234567",
        payment_code: "Tr2gZ5uXa7",
        about: "однотарифный счётчик",
        house: 1,
        flat: Some("4"),
        zones: ZoneScheme::Single,
        group: ConsumerGroup::Population,
        persons: 2,
        area_dm2: 4420,
        monthly: 180,
    },
    DemoAccount {
        id: 5,
        number: "7700200001",
        holder: "Смирнов Алексей Петрович",
        meter: "051234567",
        payment_code: "Wc9pJ4eNs6",
        about: "частный дом, социальная норма",
        house: 2,
        flat: None,
        zones: ZoneScheme::Single,
        group: ConsumerGroup::Rural,
        persons: 4,
        area_dm2: 9600,
        monthly: 320,
    },
];

/// The demo operator's login (role Admin).
pub const OPERATOR_LOGIN: &str = "admin";

/// The demo operator's password — published, like everything of the demo.
pub const OPERATOR_PASSWORD: &str = "Демо-оператор-2026";

/// Creates the demo operator unless it exists.
pub async fn ensure_operator(operators: &identity_core::OperatorService) -> Result<(), DemoError> {
    use identity_core::domain::{OperatorLogin, PersonName};
    use identity_core::model::OperatorRole;
    use identity_core::service::{CreateOperatorError, NewOperator};
    let created = operators
        .create_operator(NewOperator {
            login: OperatorLogin::parse(OPERATOR_LOGIN).map_err(data)?,
            name: PersonName::parse("Оператор Демо").map_err(data)?,
            password: identity_core::Secret::new(OPERATOR_PASSWORD.to_owned()),
            role: OperatorRole::Admin,
        })
        .await;
    match created {
        Ok(_) | Err(CreateOperatorError::LoginTaken) => Ok(()),
        Err(e) => Err(stored(format!("the demo operator: {e}"))),
    }
}

/// Why the demo could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// A demo record is invalid (a bug in this module).
    #[error("demo data: {0}")]
    Data(String),
    /// Storage refused a write.
    #[error("storing the demo data: {0}")]
    Storage(String),
}

fn d(v: i64, dp: u32) -> Decimal {
    Decimal::new(v, dp)
}

fn data(e: impl std::fmt::Display) -> DemoError {
    DemoError::Data(e.to_string())
}

fn stored(e: impl std::fmt::Display) -> DemoError {
    DemoError::Storage(e.to_string())
}

/// The demo supplier's requisites.
pub fn requisites() -> Result<Requisites, DemoError> {
    let bank = BankDetails::new(
        PersonalAcc::parse("40702810200000000001").map_err(data)?,
        BankName::parse("ПАО Сбербанк").map_err(data)?,
        Bic::parse("044525225").map_err(data)?,
        CorrespAcc::parse("30101810400000000225").map_err(data)?,
    )
    .map_err(data)?;
    Requisites::new(
        OrgName::parse("АО «Демо Энергосбыт»").map_err(data)?,
        Inn::parse("7707083893").map_err(data)?,
        Some(Kpp::parse("770701001").map_err(data)?),
        bank,
        Address::parse("г. Тула, ул. Советская, д. 1").map_err(data)?,
        vec![Phone::parse("8 800 100-00-00").map_err(data)?],
        vec![
            EmergencyPhone::new(
                "Аварийно-диспетчерская служба",
                Phone::parse("+7 (4872) 00-00-00").map_err(data)?,
            )
            .map_err(data)?,
        ],
    )
    .map_err(data)
}

/// Electricity prices in kopecks: single; day, night; peak, night, semi-peak.
fn prices(single: i64, day: i64, night: i64, peak: i64, semi: i64) -> ZonePrices {
    ZonePrices {
        single: d(single, 2),
        two_zone: Some([d(day, 2), d(night, 2)]),
        three_zone: Some([d(peak, 2), d(night, 2), d(semi, 2)]),
    }
}

/// The electricity tariffs: from July 2025, indexed from October 2026.
pub fn tariffs() -> Vec<TariffVersion> {
    let version = |id, group, valid_from, kind| TariffVersion {
        id: TariffId::new(id),
        supplier: SupplierId::new(SUPPLIER),
        service: ServiceKind::Electricity,
        group,
        valid_from,
        kind,
    };
    let ranges = |k: i64| {
        TariffKind::Electricity(ElectricityTiers::Ranges(ConsumptionRanges {
            thresholds: [d(3900, 0), d(6000, 0)],
            prices: [
                prices(685 + k, 790 + k, 410 + k, 900 + k, 700 + k),
                prices(810 + k, 930 + k, 480 + k, 1050 + k, 820 + k),
                prices(1150 + k, 1300 + k, 690 + k, 1500 + k, 1170 + k),
            ],
            seasonal_factor: d(18, 1),
            heating_season: [
                true, true, true, true, false, false, false, false, false, true, true, true,
            ],
        }))
    };
    let social = |k: i64| {
        TariffKind::Electricity(ElectricityTiers::SocialNorm {
            norm: SocialNorm {
                base: d(150, 0),
                per_additional_person: d(50, 0),
            },
            within: prices(480 + k, 550 + k, 290 + k, 620 + k, 490 + k),
            above: prices(685 + k, 790 + k, 410 + k, 900 + k, 700 + k),
        })
    };
    let stoves = |k: i64| {
        TariffKind::Electricity(ElectricityTiers::Flat(prices(
            480 + k,
            550 + k,
            290 + k,
            620 + k,
            490 + k,
        )))
    };
    vec![
        version(
            1,
            ConsumerGroup::Population,
            date!(2025 - 07 - 01),
            ranges(0),
        ),
        version(
            2,
            ConsumerGroup::Population,
            date!(2026 - 10 - 01),
            ranges(55),
        ),
        version(3, ConsumerGroup::Rural, date!(2025 - 07 - 01), social(0)),
        version(4, ConsumerGroup::Rural, date!(2026 - 10 - 01), social(40)),
        version(
            5,
            ConsumerGroup::UrbanElectricStoves,
            date!(2025 - 07 - 01),
            stoves(0),
        ),
        version(
            6,
            ConsumerGroup::UrbanElectricStoves,
            date!(2026 - 10 - 01),
            stoves(40),
        ),
    ]
}

fn houses() -> Vec<House> {
    vec![
        House {
            id: HouseId::new(1),
            supplier: SupplierId::new(SUPPLIER),
            address: "г. Тула, ул. Ленина, д. 10".to_owned(),
            total_area: d(18_000, 1),
            common_area: d(3_005, 1),
            odn: OdnPolicy {
                billed_by_supplier: true,
                cap_at_norm: true,
                norm_per_m2_common: d(21, 1),
            },
            electric_heating: false,
            heat_meter: false,
        },
        House {
            id: HouseId::new(2),
            supplier: SupplierId::new(SUPPLIER),
            address: "Тульская обл., д. Ясная Поляна, ул. Садовая, д. 7".to_owned(),
            total_area: d(960, 1),
            common_area: Decimal::ZERO,
            odn: OdnPolicy {
                billed_by_supplier: false,
                cap_at_norm: false,
                norm_per_m2_common: Decimal::ZERO,
            },
            electric_heating: true,
            heat_meter: false,
        },
    ]
}

/// The supplier's time zone (Тула: Moscow time).
const SUPPLIER_OFFSET: UtcOffset = match UtcOffset::from_hms(3, 0, 0) {
    Ok(o) => o,
    Err(_) => UtcOffset::UTC,
};

/// Months of history.
pub const HISTORY_MONTHS: i32 = 12;

/// The ЛС that stopped paying (four months unpaid).
const DEBTOR: u64 = 1;
/// The ЛС whose meter reaches 99993 in the last month of history.
const ROLLOVER: u64 = 4;
/// The ЛС that skips one reading (billed by its average).
const SKIPS: u64 = 5;

/// Seasonal factors in percent, January first.
const SEASON: [i64; 12] = [130, 125, 110, 100, 90, 85, 85, 90, 95, 105, 120, 130];

/// The registers of `a` read in `period`, the `k`-th month of history (0-based), as whole
/// kWh: cumulative consumption from a start chosen so that the rollover meter reads 99993 in
/// the last month.
fn register_values(a: &DemoAccount, period: Period, k: i32) -> Vec<Decimal> {
    let month = |p: Period| SEASON[(p.month_number() - 1) as usize];
    let first = period.plus_months(-k);
    let used_until = |k: i32| -> i64 {
        (1..=k)
            .map(|i| a.monthly * month(first.plus_months(i)) / 100)
            .sum()
    };
    let start = if a.id == ROLLOVER {
        99_993 - used_until(HISTORY_MONTHS - 1)
    } else {
        1_000 * i64::try_from(a.id).unwrap_or(1) + 12_345
    };
    let total = start + used_until(k);
    // Zones share the month: day 70 %, night 30 %; peak 30 %, night 30 %, semi-peak 40 %.
    let shares: &[i64] = match a.zones {
        ZoneScheme::Single => &[100],
        ZoneScheme::TwoZone => &[70, 30],
        ZoneScheme::ThreeZone => &[30, 30, 40],
    };
    shares
        .iter()
        .map(|s| Decimal::from((total * s / 100).rem_euclid(100_000)))
        .collect()
}

/// Noon of `day` at the supplier.
fn noon(day: Date) -> OffsetDateTime {
    PrimitiveDateTime::new(day, time!(12:00)).assume_offset(SUPPLIER_OFFSET)
}

/// Loads (or repairs) the demo supplier. Returns the demo ЛС.
pub async fn load(
    storage: &Storage,
    now: OffsetDateTime,
) -> Result<&'static [DemoAccount], DemoError> {
    let supplier = Supplier {
        id: SupplierId::new(SUPPLIER),
        requisites: requisites()?,
        policy: BillingPolicy::default(),
        penalty: PenaltyPolicy::default(),
        minimum_payment: Money::from_roubles(50),
    };
    storage.upsert_supplier(&supplier).await.map_err(stored)?;
    storage.upsert_tariffs(&tariffs()).await.map_err(stored)?;
    storage
        .set_key_rates(&KeyRateHistory::bank_of_russia())
        .await
        .map_err(stored)?;
    storage
        .set_penalty_rules(&PenaltyRules::russian_statutory())
        .await
        .map_err(stored)?;
    storage.upsert_houses(&houses()).await.map_err(stored)?;
    let mut premises = Vec::new();
    let mut accounts = Vec::new();
    let mut meters = Vec::new();
    for a in &ACCOUNTS {
        premises.push(Premise {
            id: PremiseId::new(a.id),
            house: HouseId::new(a.house),
            number: a.flat.unwrap_or_default().to_owned(),
            area: d(a.area_dm2, 2),
            residential: true,
            persons: a.persons,
            rooms: 2,
        });
        accounts.push(Account {
            id: AccountId::new(a.id),
            number: AccountNumber::parse(a.number).map_err(data)?,
            supplier: SupplierId::new(SUPPLIER),
            premise: PremiseId::new(a.id),
            holder: a.holder.to_owned(),
            group: a.group,
            services: vec![AccountService {
                service: ServiceKind::Electricity,
                norm_per_unit: d(90, 0),
                meter_installable: true,
            }],
        });
        meters.push(Meter {
            id: MeterId::new(a.id),
            account: Some(AccountId::new(a.id)),
            service: ServiceKind::Electricity,
            serial: a.meter.to_owned(),
            registers: RegisterSpec {
                scheme: a.zones,
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
    }
    storage.upsert_premises(&premises).await.map_err(stored)?;
    storage.upsert_accounts(&accounts).await.map_err(stored)?;
    storage.upsert_meters(&meters).await.map_err(stored)?;
    history(storage, now).await?;
    for a in &ACCOUNTS {
        storage
            .set_payment_code(
                AccountId::new(a.id),
                &crate::payment_codes::digest(a.payment_code),
                now,
            )
            .await
            .map_err(|e| stored(format!("{e:?}")))?;
    }
    Ok(&ACCOUNTS)
}

/// Makes the year of history through the use cases (see the module doc), resuming after the
/// last closed period: a restart neither repeats nor doubles anything.
async fn history(storage: &Storage, now: OffsetDateTime) -> Result<(), DemoError> {
    let supplier = SupplierId::new(SUPPLIER);
    let current = Period::of(now.to_offset(SUPPLIER_OFFSET).date());
    let first = current.plus_months(-HISTORY_MONTHS);
    let last = current.plus_months(-1);
    let closed = storage.last_closed(supplier).await.map_err(stored)?;
    if closed.is_some_and(|c| c >= last) {
        return Ok(());
    }
    let clock = Arc::new(AdjustableClock::new(SUPPLIER_OFFSET));
    let billing = BillingService::new(storage.billing_ports(clock.clone()));
    let set = |day: Date| {
        clock
            .set_offset(noon(day) - OffsetDateTime::now_utc())
            .map_err(data)
    };
    let mut period = closed.map_or(first, Period::next).max(first);
    while period <= last {
        let k = first.months_until(period);
        // The 20th: readings.
        set(period.day_clamped(20))?;
        for a in &ACCOUNTS {
            if a.id == SKIPS && period == last.plus_months(-2) {
                continue;
            }
            let submitted = billing
                .submit_reading(SubmitReading {
                    account: AccountId::new(a.id),
                    meter: MeterId::new(a.id),
                    values: register_values(a, period, k),
                    source: ReadingSource::Subscriber,
                })
                .await;
            match submitted {
                Ok(_) | Err(SubmitReadingError::AlreadySubmitted { .. }) => {}
                Err(e) => {
                    return Err(data(format!(
                        "reading of ЛС {} for {period}: {e}",
                        a.number
                    )));
                }
            }
        }
        // After the window: bill the period and close it.
        let billing_day =
            earliest_billing_day(&billing.supplier(supplier).await.map_err(stored)?, period);
        set(billing_day)?;
        let report = storage
            .run_supplier_billing(
                supplier,
                period,
                billing_day,
                RunOptions::default(),
                Arc::new(|_| {}),
            )
            .await
            .map_err(stored)?;
        if let Some((house, why)) = report.failed.first() {
            return Err(data(format!("billing house {house} for {period}: {why}")));
        }
        billing
            .close_period(supplier, period)
            .await
            .map_err(|e| data(format!("closing {period}: {e}")))?;
        // The 10th of the next month: the bills are paid — but not the debtor's last four.
        set(period.next().day_clamped(10))?;
        for a in &ACCOUNTS {
            if a.id == DEBTOR && period > last.plus_months(-4) {
                continue;
            }
            let account = AccountId::new(a.id);
            let amount = billing
                .charges(account, period)
                .await
                .map_err(|e| data(format!("charges of ЛС {} for {period}: {e}", a.number)))?
                .total();
            if amount < Money::from_roubles(50) {
                continue;
            }
            let gateway_id =
                GatewayPaymentId::parse(&format!("demo-{}-{period}", a.id)).map_err(data)?;
            billing
                .post_payment(PostPayment {
                    account,
                    gateway_id: gateway_id.clone(),
                    amount,
                    split: PaymentSplit::Default,
                })
                .await
                .map_err(|e| data(format!("payment of ЛС {} for {period}: {e}", a.number)))?;
            billing
                .confirm_payment(&gateway_id)
                .await
                .map_err(|e| data(format!("confirming a payment of ЛС {}: {e}", a.number)))?;
        }
        period = period.next();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_records_are_valid() {
        requisites().unwrap();
        for a in &ACCOUNTS {
            AccountNumber::parse(a.number).unwrap();
            assert_eq!(a.payment_code.len(), crate::payment_codes::LENGTH);
            assert!(
                a.payment_code
                    .bytes()
                    .all(|b| crate::payment_codes::ALPHABET.contains(&b)),
                "{}",
                a.payment_code
            );
        }
        assert_eq!(tariffs().len(), 6);
    }

    #[test]
    fn the_rollover_meter_reads_99993_in_the_last_month() {
        let last = Period::of(date!(2026 - 10 - 20));
        let rollover = &ACCOUNTS[3];
        assert_eq!(rollover.id, ROLLOVER);
        let values = register_values(rollover, last, HISTORY_MONTHS - 1);
        assert_eq!(values, [Decimal::from(99_993)]);
        // Every month's values grow (no rollover inside the history) and fit five digits.
        for a in &ACCOUNTS {
            let mut previous: Option<Vec<Decimal>> = None;
            for k in 0..HISTORY_MONTHS {
                let p = last.plus_months(k - (HISTORY_MONTHS - 1));
                let v = register_values(a, p, k);
                assert_eq!(v.len(), a.zones.len());
                assert!(v.iter().all(|x| *x < Decimal::from(100_000)));
                if let Some(prev) = &previous {
                    assert!(v.iter().zip(prev).all(|(n, o)| n >= o), "{} {p}", a.number);
                }
                previous = Some(v);
            }
        }
    }
}
