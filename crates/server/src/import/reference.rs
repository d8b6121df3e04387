//! The reference-data formats: suppliers, houses, premises, accounts (ЛС) and meters — one
//! row each, read into the billing-core records the storage upserts take (see
//! `docs/import.md` for the columns).

use std::collections::HashMap;

use billing_core::Money;
use billing_core::ServiceKind;
use billing_core::ids::{AccountId, HouseId, MeterId, PremiseId, SupplierId};
use billing_core::meter::{Meter, RegisterSpec, ZoneScheme};
use billing_core::model::{Account, AccountNumber, AccountService, House, Premise};
use billing_core::odn::OdnPolicy;
use billing_core::requisites::{
    Address, BankDetails, BankName, Bic, CorrespAcc, EmergencyPhone, Field, Inn, Kpp, OrgName,
    PersonalAcc, Phone, RequisiteError, Requisites,
};
use billing_core::tariff::ConsumerGroup;
use identity_core::secret::Secret;
use rust_decimal::Decimal;

use super::table::{
    Columns, Row, date, id as record_id, items, non_negative, positive, text, whole, yes_no,
};

/// A supplier row: its requisites (policies are kept from the stored supplier, or the
/// defaults for a new one).
#[derive(Clone, Debug)]
pub struct SupplierRow {
    /// Id.
    pub id: SupplierId,
    /// Requisites.
    pub requisites: Requisites,
    /// The least online payment, when given.
    pub minimum_payment: Option<Money>,
}

/// An account row: the account and its payment-document code, if given.
#[derive(Clone, Debug)]
pub struct AccountRow {
    /// The account.
    pub account: Account,
    /// The code printed on its payment document (stored as a digest).
    pub payment_code: Option<Secret<String>>,
}

/// The supplier format.
pub const SUPPLIERS: Columns = Columns {
    required: &[
        "id",
        "name",
        "inn",
        "personal_acc",
        "bank_name",
        "bic",
        "corresp_acc",
        "address",
        "emergency_phones",
    ],
    optional: &["kpp", "phones", "minimum_payment"],
};

/// The house format.
pub const HOUSES: Columns = Columns {
    required: &["id", "address", "total_area"],
    optional: &[
        "common_area",
        "odn_billed",
        "odn_cap",
        "odn_norm",
        "electric_heating",
        "heat_meter",
    ],
};

/// The premise format.
pub const PREMISES: Columns = Columns {
    required: &["id", "house", "area", "persons"],
    optional: &["number", "residential", "rooms"],
};

/// The account format.
pub const ACCOUNTS: Columns = Columns {
    required: &["id", "number", "premise", "holder", "group"],
    optional: &["services", "payment_code"],
};

/// The meter format.
pub const METERS: Columns = Columns {
    required: &[
        "id",
        "service",
        "serial",
        "scheme",
        "digits",
        "installed_on",
    ],
    optional: &[
        "account",
        "decimals",
        "coefficient",
        "commissioned_on",
        "verification_due",
        "failed_on",
        "removed_on",
        "automatic",
    ],
};

fn requisite<T>(
    parse: impl Fn(&str) -> Result<T, RequisiteError>,
) -> impl Fn(&str) -> Result<T, String> {
    move |t| parse(t).map_err(|e| e.russian_message())
}

/// An amount of money ≥ 0 in roubles and kopecks.
pub fn money(text: &str) -> Result<Money, String> {
    let value = non_negative(text)?;
    Money::exact(value).map_err(|_| "сумма с долями копейки".to_owned())
}

/// A service code (`electricity`, `cold_water`, …).
pub fn service(text: &str) -> Result<ServiceKind, String> {
    ServiceKind::from_code(&text.to_lowercase())
        .filter(|s| *s != ServiceKind::Penalty)
        .ok_or_else(|| {
            "ожидается услуга: electricity, electricity_common, cold_water, hot_water, heating, \
             wastewater"
                .to_owned()
        })
}

/// A consumer group code.
pub fn group(text: &str) -> Result<ConsumerGroup, String> {
    match text.to_lowercase().as_str() {
        "population" => Ok(ConsumerGroup::Population),
        "urban_electric_stoves" => Ok(ConsumerGroup::UrbanElectricStoves),
        "rural" => Ok(ConsumerGroup::Rural),
        "equated" => Ok(ConsumerGroup::Equated),
        _ => Err(
            "ожидается группа потребителей: population, urban_electric_stoves, rural, equated"
                .to_owned(),
        ),
    }
}

fn emergency(text: &str) -> Result<EmergencyPhone, String> {
    let (label, phone) = text
        .rsplit_once(':')
        .ok_or_else(|| "ожидается «название: телефон»".to_owned())?;
    let phone = Phone::parse(phone).map_err(|e| e.russian_message())?;
    EmergencyPhone::new(label.trim(), phone).map_err(|e| e.russian_message())
}

fn list<T>(parse: impl Fn(&str) -> Result<T, String>) -> impl Fn(&str) -> Result<Vec<T>, String> {
    move |text| items(text).map(&parse).collect()
}

/// The column a rule across requisites blames.
fn requisite_column(e: &RequisiteError) -> &'static str {
    match e {
        RequisiteError::KppRequired | RequisiteError::KppNotApplicable => "kpp",
        RequisiteError::NoEmergencyPhone => "emergency_phones",
        RequisiteError::AccountKey {
            field: Field::PersonalAcc,
            ..
        } => "personal_acc",
        _ => "corresp_acc",
    }
}

/// Reads a supplier row.
pub fn supplier(r: &mut Row<'_>) -> Option<SupplierRow> {
    let id = r.required("id", record_id);
    let name = r.required("name", requisite(OrgName::parse));
    let inn = r.required("inn", requisite(Inn::parse));
    let kpp = r.optional("kpp", requisite(Kpp::parse));
    let personal_acc = r.required("personal_acc", requisite(PersonalAcc::parse));
    let bank_name = r.required("bank_name", requisite(BankName::parse));
    let bic = r.required("bic", requisite(Bic::parse));
    let corresp_acc = r.required("corresp_acc", requisite(CorrespAcc::parse));
    let address = r.required("address", requisite(Address::parse));
    let phones = r.or("phones", Vec::new(), list(requisite(Phone::parse)));
    let emergency = r.required("emergency_phones", list(emergency));
    let minimum_payment = r.optional("minimum_payment", money);
    let bank = BankDetails::new(personal_acc?, bank_name?, bic?, corresp_acc?)
        .map_err(|e| r.fail(Some(requisite_column(&e)), e.russian_message()))
        .ok()?;
    let requisites = Requisites::new(name?, inn?, kpp?, bank, address?, phones?, emergency?)
        .map_err(|e| r.fail(Some(requisite_column(&e)), e.russian_message()))
        .ok()?;
    Some(SupplierRow {
        id: SupplierId::new(id?),
        requisites,
        minimum_payment: minimum_payment?,
    })
}

/// Reads a house row of `supplier`.
pub fn house(r: &mut Row<'_>, supplier: SupplierId) -> Option<House> {
    let id = r.required("id", record_id);
    let address = r.required("address", text(500));
    let total_area = r.required("total_area", positive);
    let common_area = r.or("common_area", Decimal::ZERO, non_negative);
    let billed = r.or("odn_billed", false, yes_no);
    let cap = r.or("odn_cap", false, yes_no);
    let norm = r.or("odn_norm", Decimal::ZERO, non_negative);
    let electric_heating = r.or("electric_heating", false, yes_no);
    let heat_meter = r.or("heat_meter", false, yes_no);
    Some(House {
        id: HouseId::new(id?),
        supplier,
        address: address?,
        total_area: total_area?,
        common_area: common_area?,
        odn: OdnPolicy {
            billed_by_supplier: billed?,
            cap_at_norm: cap?,
            norm_per_m2_common: norm?,
        },
        electric_heating: electric_heating?,
        heat_meter: heat_meter?,
    })
}

/// Reads a premise row.
pub fn premise(r: &mut Row<'_>) -> Option<Premise> {
    let id = r.required("id", record_id);
    let house = r.required("house", record_id);
    let number = r.or("number", String::new(), text(20));
    let area = r.required("area", positive);
    let residential = r.or("residential", true, yes_no);
    let persons = r.required("persons", whole(0, 1000));
    let rooms = r.or("rooms", 1, whole(0, 1000));
    Some(Premise {
        id: PremiseId::new(id?),
        house: HouseId::new(house?),
        number: number?,
        area: area?,
        residential: residential?,
        persons: persons?,
        rooms: rooms?,
    })
}

/// One service of an account: `code:norm`, or `code:norm:no-meter` when a meter cannot be
/// installed.
fn account_service(text: &str) -> Result<AccountService, String> {
    let mut parts = text.split(':').map(str::trim);
    let bad = || "услуга записывается как «код:норматив» или «код:норматив:no-meter»".to_owned();
    let service = service(parts.next().ok_or_else(bad)?)?;
    let norm = non_negative(parts.next().ok_or_else(bad)?)?;
    let meter_installable = match parts.next() {
        None => true,
        Some("no-meter") => false,
        Some(_) => return Err(bad()),
    };
    if parts.next().is_some() {
        return Err(bad());
    }
    Ok(AccountService {
        service,
        norm_per_unit: norm,
        meter_installable,
    })
}

/// A payment-document code: at least as long as the codes the service issues, no spaces.
fn payment_code(text: &str) -> Result<Secret<String>, String> {
    let min = crate::payment_codes::LENGTH;
    let chars = text.chars().count();
    if chars < min || chars > 64 {
        return Err(format!("код — от {min} до 64 символов"));
    }
    if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("код не может содержать пробелы".to_owned());
    }
    Ok(Secret::new(text.to_owned()))
}

/// What the rows of an accounts file read so far claimed: a number or a code belongs to one
/// account id.
#[derive(Default)]
pub struct AccountClaims {
    numbers: HashMap<AccountNumber, (AccountId, u64)>,
    codes: HashMap<String, (AccountId, u64)>,
}

impl AccountClaims {
    fn claim<K: std::hash::Hash + Eq>(
        map: &mut HashMap<K, (AccountId, u64)>,
        key: K,
        id: AccountId,
        line: u64,
    ) -> Result<(), u64> {
        match map.get(&key) {
            Some((owner, at)) if *owner != id => Err(*at),
            _ => {
                map.insert(key, (id, line));
                Ok(())
            }
        }
    }
}

/// Reads an account row of `supplier`; a number or code another account of the file has is
/// an error.
pub fn account(
    r: &mut Row<'_>,
    supplier: SupplierId,
    claims: &mut AccountClaims,
) -> Option<AccountRow> {
    let id = r.required("id", record_id);
    let number = r.required("number", |t| {
        AccountNumber::parse(t).map_err(|_| "номер ЛС — от 1 до 20 цифр".to_owned())
    });
    let premise = r.required("premise", record_id);
    let holder = r.required("holder", text(200));
    let group = r.required("group", group);
    let services = r.or("services", Vec::new(), list(account_service));
    let code = r.optional("payment_code", payment_code);
    let id = id.map(AccountId::new);
    let line = r.line();
    if let (Some(id), Some(number)) = (id, &number)
        && let Err(at) = AccountClaims::claim(&mut claims.numbers, number.clone(), id, line)
    {
        r.fail(
            Some("number"),
            format!("номер ЛС {number} уже указан в строке {at} у другого счёта"),
        );
    }
    if let (Some(id), Some(Some(code))) = (id, &code)
        && let Err(at) = AccountClaims::claim(&mut claims.codes, code.expose().to_owned(), id, line)
    {
        r.fail(
            Some("payment_code"),
            format!("этот код уже указан в строке {at} у другого счёта"),
        );
    }
    let services = services?;
    let mut seen = Vec::new();
    for s in &services {
        if seen.contains(&s.service) {
            r.fail(
                Some("services"),
                format!("услуга {} указана дважды", s.service.code()),
            );
        }
        seen.push(s.service);
    }
    Some(AccountRow {
        account: Account {
            id: id?,
            number: number?,
            supplier,
            premise: PremiseId::new(premise?),
            holder: holder?,
            group: group?,
            services,
        },
        payment_code: code?,
    })
}

fn scheme(text: &str) -> Result<ZoneScheme, String> {
    match text.to_lowercase().as_str() {
        "single" | "1" => Ok(ZoneScheme::Single),
        "two_zone" | "2" => Ok(ZoneScheme::TwoZone),
        "three_zone" | "3" => Ok(ZoneScheme::ThreeZone),
        _ => Err("ожидается схема: single, two_zone или three_zone (или 1, 2, 3)".to_owned()),
    }
}

/// Reads a meter row.
pub fn meter(r: &mut Row<'_>) -> Option<Meter> {
    let id = r.required("id", record_id);
    let account = r.optional("account", record_id);
    let service = r.required("service", service);
    let serial = r.required("serial", text(64));
    let scheme = r.required("scheme", scheme);
    let digits = r.required("digits", whole(1, 18));
    let decimals = r.or("decimals", 0, whole(0, 6));
    let coefficient = r.or("coefficient", Decimal::ONE, positive);
    let installed_on = r.required("installed_on", date);
    let commissioned_on = r.optional("commissioned_on", date);
    let verification_due = r.optional("verification_due", date);
    let failed_on = r.optional("failed_on", date);
    let removed_on = r.optional("removed_on", date);
    let automatic = r.or("automatic", false, yes_no);
    let installed_on = installed_on?;
    for (column, day) in [
        ("commissioned_on", commissioned_on.flatten()),
        ("failed_on", failed_on.flatten()),
        ("removed_on", removed_on.flatten()),
    ] {
        if day.is_some_and(|d| d < installed_on) {
            r.fail(Some(column), "дата раньше даты установки");
        }
    }
    Some(Meter {
        id: MeterId::new(id?),
        account: account?.map(AccountId::new),
        service: service?,
        serial: serial?,
        registers: RegisterSpec {
            scheme: scheme?,
            digits: digits?,
            decimals: decimals?,
            coefficient: coefficient?,
        },
        installed_on,
        commissioned_on: commissioned_on?,
        verification_due: verification_due?,
        failed_on: failed_on?,
        removed_on: removed_on?,
        automatic: automatic?,
    })
}
