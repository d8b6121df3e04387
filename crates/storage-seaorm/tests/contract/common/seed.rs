//! Seeded billing data: valid domain records built from small numbers (a supplier with real
//! requisites, houses, premises, accounts, single-, two- and three-zone meters, tariffs and
//! readings) and helpers that write them through the import methods of [`Storage`].
//!
//! The ids of a seeded house `h` are derived from it so several houses never collide: its
//! `i`-th premise (1-based), the account on it and that account's meter all have the id
//! `h * 1_000_000 + i`, and the account number is `h` followed by `i` on 6 digits. Meters cycle
//! through single-, two- and three-zone ([`scheme_of`]).
//!
//! ```text
//! let seeded = seed::house_with_accounts(&storage, 1, 3).await;
//! let account = &seeded.accounts[0];
//! let meter = &seeded.meters[0];
//! ```

#![allow(dead_code, reason = "a fixture library: each suite uses a part of it")]

use billing_core::ids::{AccountId, HouseId, MeterId, PremiseId, ReadingId, SupplierId, TariffId};
use billing_core::meter::{Meter, RegisterSpec, ZoneScheme, ZoneValues};
use billing_core::model::{Account, AccountNumber, AccountService, House, Premise, Supplier};
use billing_core::money::Money;
use billing_core::odn::OdnPolicy;
use billing_core::penalty::PenaltyPolicy;
use billing_core::period::Period;
use billing_core::policy::BillingPolicy;
use billing_core::ports::{NewReading, RepoError};
use billing_core::reading::ReadingSource;
use billing_core::requisites::{
    Address, BankDetails, BankName, Bic, CorrespAcc, EmergencyPhone, Inn, Kpp, OrgName,
    PersonalAcc, Phone, Requisites,
};
use billing_core::service::ServiceKind;
use billing_core::tariff::{
    ConsumerGroup, ElectricityTiers, TariffKind, TariffVersion, ZonePrices,
};
use rust_decimal::Decimal;
use storage_seaorm::Storage;
use time::macros::{date, datetime};
use time::{Date, OffsetDateTime};

/// The supplier every seeded house belongs to unless told otherwise.
pub const SUPPLIER: u64 = 1;

/// When seeded readings reached the supplier (tests never read the clock).
pub const SUBMITTED: OffsetDateTime = datetime!(2025-03-20 09:30:00.123456789 UTC);

/// `v / 10^dp` as an exact decimal.
pub fn d(v: i64, dp: u32) -> Decimal {
    Decimal::new(v, dp)
}

/// The id of the `i`-th (1-based) premise, account and meter of seeded house `house`.
pub fn id_in(house: u64, i: usize) -> u64 {
    house * 1_000_000 + u64::try_from(i).unwrap()
}

/// The zone scheme of the `i`-th (1-based) meter of a seeded house: single, two-zone,
/// three-zone, single, …
pub fn scheme_of(i: usize) -> ZoneScheme {
    [
        ZoneScheme::Single,
        ZoneScheme::TwoZone,
        ZoneScheme::ThreeZone,
    ][(i + 2) % 3]
}

/// Valid requisites of a legal entity (Сбербанк's real BIC and correspondent account).
pub fn requisites(name: &str) -> Requisites {
    let bank = BankDetails::new(
        PersonalAcc::parse("40702810200000000001").unwrap(),
        BankName::parse("ПАО Сбербанк").unwrap(),
        Bic::parse("044525225").unwrap(),
        CorrespAcc::parse("30101810400000000225").unwrap(),
    )
    .unwrap();
    Requisites::new(
        OrgName::parse(name).unwrap(),
        Inn::parse("7707083893").unwrap(),
        Some(Kpp::parse("770701001").unwrap()),
        bank,
        Address::parse("г. Тула, ул. Советская, д. 1").unwrap(),
        vec![Phone::parse("8 800 100-00-00").unwrap()],
        vec![
            EmergencyPhone::new(
                "Аварийно-диспетчерская служба",
                Phone::parse("+7 (4872) 00-00-00").unwrap(),
            )
            .unwrap(),
            EmergencyPhone::new("Единая служба спасения", Phone::parse("112").unwrap()).unwrap(),
        ],
    )
    .unwrap()
}

/// Valid requisites of an individual entrepreneur (12-digit ИНН, no КПП) with a treasury
/// settlement account and no ordinary phones.
pub fn entrepreneur_requisites() -> Requisites {
    let bank = BankDetails::new(
        PersonalAcc::parse("03100643000000018500").unwrap(),
        BankName::parse("ОТДЕЛЕНИЕ ТУЛА БАНКА РОССИИ").unwrap(),
        Bic::parse("017003983").unwrap(),
        CorrespAcc::parse("40102810445370000059").unwrap(),
    )
    .unwrap();
    Requisites::new(
        OrgName::parse("ИП Петров Пётр Петрович").unwrap(),
        Inn::parse("500100732259").unwrap(),
        None,
        bank,
        Address::parse("Тульская обл., п. Ленинский").unwrap(),
        Vec::new(),
        vec![EmergencyPhone::new("Аварийная служба", Phone::parse("04").unwrap()).unwrap()],
    )
    .unwrap()
}

/// Supplier `id` with default policies and a 50 ₽ minimum payment.
pub fn supplier(id: u64) -> Supplier {
    Supplier {
        id: SupplierId::new(id),
        requisites: requisites(&format!("АО «Энергосбыт № {id}»")),
        policy: BillingPolicy::default(),
        penalty: PenaltyPolicy::default(),
        minimum_payment: Money::from_roubles(50),
    }
}

/// Stores supplier `id` ([`supplier`]) and returns it.
pub async fn seed_supplier(storage: &Storage, id: u64) -> Supplier {
    let s = supplier(id);
    storage.upsert_supplier(&s).await.unwrap();
    s
}

/// House `id` of supplier `supplier`: 1800 m² of premises, 300 m² of common property, ОДН
/// billed by the supplier.
pub fn house(id: u64, supplier: u64) -> House {
    House {
        id: HouseId::new(id),
        supplier: SupplierId::new(supplier),
        address: format!("г. Тула, ул. Ленина, д. {id}"),
        total_area: d(18_000, 1),
        common_area: d(3_005, 1),
        odn: OdnPolicy {
            billed_by_supplier: true,
            cap_at_norm: false,
            norm_per_m2_common: d(21, 1),
        },
        electric_heating: false,
        heat_meter: false,
    }
}

/// Premise `id` of house `house`, flat number `number`: 52.4 m², 2 persons, 2 rooms.
pub fn premise(id: u64, house: u64, number: usize) -> Premise {
    Premise {
        id: PremiseId::new(id),
        house: HouseId::new(house),
        number: number.to_string(),
        area: d(524, 1),
        residential: true,
        persons: 2,
        rooms: 2,
    }
}

/// Account `id` of supplier `supplier` on premise `premise`, printed number `number`, billed
/// for electricity and cold water.
pub fn account(id: u64, supplier: u64, premise: u64, number: &str) -> Account {
    Account {
        id: AccountId::new(id),
        number: AccountNumber::parse(number).unwrap(),
        supplier: SupplierId::new(supplier),
        premise: PremiseId::new(premise),
        holder: "Иванов Иван Иванович".to_owned(),
        group: ConsumerGroup::Population,
        services: vec![
            AccountService {
                service: ServiceKind::Electricity,
                norm_per_unit: d(90, 0),
                meter_installable: true,
            },
            AccountService {
                service: ServiceKind::ColdWater,
                norm_per_unit: d(4_85, 2),
                meter_installable: true,
            },
        ],
    }
}

/// Working electricity meter `id` of `account` (`None`: a house meter) with `scheme`: 5
/// digits, installed 10.01.2024, commissioned 15.01.2024, verified until 31.12.2032.
pub fn meter(id: u64, account: Option<u64>, scheme: ZoneScheme) -> Meter {
    Meter {
        id: MeterId::new(id),
        account: account.map(AccountId::new),
        service: ServiceKind::Electricity,
        serial: format!("35342{id:07}"),
        registers: RegisterSpec {
            scheme,
            digits: 5,
            decimals: 0,
            coefficient: Decimal::ONE,
        },
        installed_on: date!(2024 - 01 - 10),
        commissioned_on: Some(date!(2024 - 01 - 15)),
        verification_due: Some(date!(2032 - 12 - 31)),
        failed_on: None,
        removed_on: None,
        automatic: false,
    }
}

/// Register values of `scheme` from whole numbers (one per register).
pub fn values(scheme: ZoneScheme, registers: &[i64]) -> ZoneValues {
    let registers: Vec<Decimal> = registers.iter().map(|v| Decimal::from(*v)).collect();
    ZoneValues::new(scheme, &registers).unwrap()
}

/// Values of every register of `scheme` equal to `value`.
pub fn same_values(scheme: ZoneScheme, value: i64) -> ZoneValues {
    values(scheme, &vec![value; scheme.len()])
}

/// A new reading of `meter` for `period` from `source`, taken on `taken_on`.
pub fn reading(
    meter: u64,
    period: Period,
    values: ZoneValues,
    taken_on: Date,
    source: ReadingSource,
) -> NewReading {
    NewReading {
        meter: MeterId::new(meter),
        period,
        values,
        taken_on,
        submitted_at: SUBMITTED,
        source,
        supersedes: None,
    }
}

/// A subscriber's single-register reading of `meter` for `period`, taken on the 20th.
pub fn simple_reading(meter: u64, period: Period, value: i64) -> NewReading {
    reading(
        meter,
        period,
        ZoneValues::single(Decimal::from(value)),
        period.day(20).unwrap(),
        ReadingSource::Subscriber,
    )
}

/// A correction of `old`: the same reading with new values, superseding it.
pub fn correction(new: &NewReading, old: ReadingId) -> NewReading {
    NewReading {
        supersedes: Some(old),
        source: ReadingSource::Operator,
        ..new.clone()
    }
}

/// A flat electricity tariff of supplier `supplier` for the population from `valid_from`.
pub fn flat_tariff(id: u64, supplier: u64, valid_from: Date, price: Decimal) -> TariffVersion {
    TariffVersion {
        id: TariffId::new(id),
        supplier: SupplierId::new(supplier),
        service: ServiceKind::Electricity,
        group: ConsumerGroup::Population,
        valid_from,
        kind: TariffKind::Electricity(ElectricityTiers::Flat(ZonePrices::flat(price))),
    }
}

/// A seeded house and everything stored with it.
#[derive(Clone, Debug)]
pub struct SeededHouse {
    /// The supplier (stored).
    pub supplier: Supplier,
    /// The house.
    pub house: House,
    /// Its premises, by id.
    pub premises: Vec<Premise>,
    /// One account per premise, by id.
    pub accounts: Vec<Account>,
    /// One electricity meter per account, by id (schemes per [`scheme_of`]).
    pub meters: Vec<Meter>,
}

impl SeededHouse {
    /// The ids of the accounts, in order.
    pub fn account_ids(&self) -> Vec<AccountId> {
        self.accounts.iter().map(|a| a.id).collect()
    }
}

/// Builds (without storing) house `house` of supplier [`SUPPLIER`] with `accounts` premises,
/// accounts and meters.
pub fn build_house(house_id: u64, accounts: usize) -> SeededHouse {
    let mut seeded = SeededHouse {
        supplier: supplier(SUPPLIER),
        house: house(house_id, SUPPLIER),
        premises: Vec::with_capacity(accounts),
        accounts: Vec::with_capacity(accounts),
        meters: Vec::with_capacity(accounts),
    };
    for i in 1..=accounts {
        let id = id_in(house_id, i);
        seeded.premises.push(premise(id, house_id, i));
        seeded
            .accounts
            .push(account(id, SUPPLIER, id, &format!("{house_id}{i:06}")));
        seeded.meters.push(meter(id, Some(id), scheme_of(i)));
    }
    seeded
}

/// Stores supplier [`SUPPLIER`] (again, harmlessly) and house `house` with `accounts` premises,
/// accounts and meters ([`build_house`]) through the import methods.
pub async fn house_with_accounts(storage: &Storage, house: u64, accounts: usize) -> SeededHouse {
    let seeded = build_house(house, accounts);
    storage.upsert_supplier(&seeded.supplier).await.unwrap();
    storage
        .upsert_houses(std::slice::from_ref(&seeded.house))
        .await
        .unwrap();
    storage.upsert_premises(&seeded.premises).await.unwrap();
    storage.upsert_accounts(&seeded.accounts).await.unwrap();
    storage.upsert_meters(&seeded.meters).await.unwrap();
    seeded
}

/// A house with one account and its single-zone meter; returns the meter's id.
pub async fn one_meter(storage: &Storage) -> u64 {
    let seeded = house_with_accounts(storage, 1, 1).await;
    seeded.meters[0].id.get()
}

/// Asserts a corrupt-row error naming `table` and `column`.
pub fn assert_corrupt<T: std::fmt::Debug>(result: Result<T, RepoError>, table: &str, column: &str) {
    match result {
        Err(RepoError::Corrupt(message)) => assert!(
            message.contains(&format!("corrupt row in {table}")) && message.contains(column),
            "{message}"
        ),
        other => panic!("expected a corrupt {table}.{column}, got {other:?}"),
    }
}

/// Runs `sql` against the database behind the ports.
pub async fn damage(storage: &Storage, sql: &str) {
    use sea_orm::ConnectionTrait;
    storage.connection().execute_unprepared(sql).await.unwrap();
}

/// How many rows `table` holds (to check that a refused write wrote nothing).
/// The charge lines stored in all sets (each set's `lines` is a JSON array).
pub async fn count_lines(storage: &Storage) -> i64 {
    use sea_orm::{ConnectionTrait, DbBackend, Statement};
    let conn = storage.connection();
    let backend = conn.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => {
            "SELECT COALESCE(SUM(json_array_length(lines::json)), 0)::bigint AS n FROM charge_sets"
        }
        _ => "SELECT COALESCE(SUM(json_array_length(lines)), 0) AS n FROM charge_sets",
    };
    let row = conn
        .query_one_raw(Statement::from_string(backend, sql))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by::<i64, _>("n").unwrap()
}

pub async fn count_rows(storage: &Storage, table: &str) -> i64 {
    use sea_orm::{ConnectionTrait, Statement};
    let conn = storage.connection();
    let row = conn
        .query_one_raw(Statement::from_string(
            conn.get_database_backend(),
            format!("SELECT COUNT(*) AS n FROM {table}"),
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by::<i64, _>("n").unwrap()
}
