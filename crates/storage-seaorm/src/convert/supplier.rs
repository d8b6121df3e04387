//! [`Supplier`] ⇄ `suppliers` row.
//!
//! Requisites only serialize in `billing-core` (they are built through validating
//! constructors), so they are stored as the adapter's own JSON record and rebuilt through
//! those constructors when read: a value that no longer passes them is a [`CorruptRow`]. The
//! billing and penalty policies are JSON of the domain's serde form, pinned by golden tests.

use billing_core::ids::SupplierId;
use billing_core::model::Supplier;
use billing_core::ports::RepoError;
use billing_core::requisites::{
    Address, BankDetails, BankName, Bic, CorrespAcc, EmergencyPhone, Inn, Kpp, OrgName,
    PersonalAcc, Phone, Requisites,
};
use serde::{Deserialize, Serialize};

use super::Row;
use super::billing::{money, to_db_id, to_json};
use crate::CorruptRow;
use crate::entity::supplier;

/// The stored form of [`Requisites`]: every field as the text it was entered as.
#[derive(Debug, Serialize, Deserialize)]
struct RequisitesRecord {
    name: String,
    inn: String,
    kpp: Option<String>,
    personal_acc: String,
    bank_name: String,
    bic: String,
    corresp_acc: String,
    address: String,
    phones: Vec<String>,
    emergency_phones: Vec<EmergencyPhoneRecord>,
}

/// The stored form of an [`EmergencyPhone`].
#[derive(Debug, Serialize, Deserialize)]
struct EmergencyPhoneRecord {
    label: String,
    phone: String,
}

fn requisites_record(r: &Requisites) -> RequisitesRecord {
    let bank = r.bank();
    RequisitesRecord {
        name: r.name().as_str().to_owned(),
        inn: r.inn().as_str().to_owned(),
        kpp: r.kpp().map(|k| k.as_str().to_owned()),
        personal_acc: bank.personal_acc().as_str().to_owned(),
        bank_name: bank.bank_name().as_str().to_owned(),
        bic: bank.bic().as_str().to_owned(),
        corresp_acc: bank.corresp_acc().as_str().to_owned(),
        address: r.address().as_str().to_owned(),
        phones: r.phones().iter().map(|p| p.as_str().to_owned()).collect(),
        emergency_phones: r
            .emergency_phones()
            .iter()
            .map(|e| EmergencyPhoneRecord {
                label: e.label().to_owned(),
                phone: e.phone().as_str().to_owned(),
            })
            .collect(),
    }
}

/// Rebuilds requisites from their record through the validating constructors.
fn requisites(row: &Row, json: &str) -> Result<Requisites, CorruptRow> {
    const COLUMN: &str = "requisites";
    let r: RequisitesRecord = row.json(COLUMN, json)?;
    let bank = row.parse(
        COLUMN,
        BankDetails::new(
            row.parse(COLUMN, PersonalAcc::parse(&r.personal_acc))?,
            row.parse(COLUMN, BankName::parse(&r.bank_name))?,
            row.parse(COLUMN, Bic::parse(&r.bic))?,
            row.parse(COLUMN, CorrespAcc::parse(&r.corresp_acc))?,
        ),
    )?;
    let phones = r
        .phones
        .iter()
        .map(|phone| row.parse(COLUMN, Phone::parse(phone)))
        .collect::<Result<Vec<_>, _>>()?;
    let emergency = r
        .emergency_phones
        .iter()
        .map(|e| {
            row.parse(
                COLUMN,
                EmergencyPhone::new(&e.label, row.parse(COLUMN, Phone::parse(&e.phone))?),
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    row.parse(
        COLUMN,
        Requisites::new(
            row.parse(COLUMN, OrgName::parse(&r.name))?,
            row.parse(COLUMN, Inn::parse(&r.inn))?,
            r.kpp
                .as_deref()
                .map(|k| row.parse(COLUMN, Kpp::parse(k)))
                .transpose()?,
            bank,
            row.parse(COLUMN, Address::parse(&r.address))?,
            phones,
            emergency,
        ),
    )
}

/// The row of a supplier.
pub fn to_row(s: &Supplier) -> Result<supplier::ActiveModel, RepoError> {
    use sea_orm::ActiveValue::Set;
    Ok(supplier::ActiveModel {
        id: Set(to_db_id(s.id.get())?),
        requisites: Set(to_json("requisites", &requisites_record(&s.requisites))?),
        policy: Set(to_json("billing policy", &s.policy)?),
        penalty: Set(to_json("penalty policy", &s.penalty)?),
        minimum_payment: Set(money(s.minimum_payment)),
    })
}

/// The supplier a row stores.
pub fn from_row(m: supplier::Model) -> Result<Supplier, CorruptRow> {
    let row = Row::new("suppliers", format!("id {}", m.id));
    Ok(Supplier {
        id: SupplierId::new(row.id("id", m.id)?),
        requisites: requisites(&row, &m.requisites)?,
        policy: row.json("policy", &m.policy)?,
        penalty: row.json("penalty", &m.penalty)?,
        minimum_payment: row.money("minimum_payment", &m.minimum_payment)?,
    })
}

#[cfg(test)]
mod tests {
    use billing_core::money::Money;
    use billing_core::penalty::PenaltyPolicy;
    use billing_core::policy::BillingPolicy;
    use sea_orm::ActiveValue;

    use super::*;

    fn sample() -> Supplier {
        let bank = BankDetails::new(
            PersonalAcc::parse("40702810200000000001").unwrap(),
            BankName::parse("ПАО Сбербанк").unwrap(),
            Bic::parse("044525225").unwrap(),
            CorrespAcc::parse("30101810400000000225").unwrap(),
        )
        .unwrap();
        Supplier {
            id: SupplierId::new(3),
            requisites: Requisites::new(
                OrgName::parse("АО «Энергосбыт»").unwrap(),
                Inn::parse("7707083893").unwrap(),
                Some(Kpp::parse("770701001").unwrap()),
                bank,
                Address::parse("г. Тула, ул. Советская, д. 1").unwrap(),
                vec![Phone::parse("8 800 100-00-00").unwrap()],
                vec![
                    EmergencyPhone::new("Аварийная служба", Phone::parse("112").unwrap()).unwrap(),
                ],
            )
            .unwrap(),
            policy: BillingPolicy::default(),
            penalty: PenaltyPolicy::default(),
            minimum_payment: Money::from_roubles(50),
        }
    }

    fn text(value: ActiveValue<String>) -> String {
        match value {
            ActiveValue::Set(s) | ActiveValue::Unchanged(s) => s,
            ActiveValue::NotSet => panic!("column not set"),
        }
    }

    #[test]
    fn requisites_are_stored_as_the_adapters_own_record() {
        let row = to_row(&sample()).unwrap();
        assert_eq!(
            text(row.requisites),
            r#"{"name":"АО «Энергосбыт»","inn":"7707083893","kpp":"770701001","personal_acc":"40702810200000000001","bank_name":"ПАО Сбербанк","bic":"044525225","corresp_acc":"30101810400000000225","address":"г. Тула, ул. Советская, д. 1","phones":["8 800 100-00-00"],"emergency_phones":[{"label":"Аварийная служба","phone":"112"}]}"#
        );
    }

    #[test]
    fn the_billing_policy_json_is_pinned() {
        assert_eq!(
            to_json("policy", &BillingPolicy::default()).unwrap(),
            r#"{"readings_window":{"opens_on_day":15,"closes_on_day":25,"accept_before_window":true},"due_day":{"day_before_switch":10,"switch_date":[2026,60],"day_after_switch":15},"plausibility":{"rollover_max_share_of_capacity":"0.1","max_multiple_of_average":"10","min_implausible_volume":"1000"},"average":{"full_months":6,"min_months":3,"max_periods_residential":3,"max_periods_non_residential":2},"increasing":{"rules":[{"service":"electricity","from":[2017,1],"value":"1.5"},{"service":"hot_water","from":[2017,1],"value":"1.5"},{"service":"cold_water","from":[2017,1],"value":"1.5"},{"service":"cold_water","from":[2025,340],"value":"3"}],"electricity_after_supplier_duty":false,"supplier_duty_from":[2020,183]},"tariff_split":"by_days","negative_odn":"keep_on_record","social_norm_includes_odn":true,"volume_dp":[],"refuse_manual_readings_of_automatic_meters":true}"#
        );
    }

    #[test]
    fn the_penalty_policy_json_is_pinned() {
        assert_eq!(
            to_json("penalty", &PenaltyPolicy::default()).unwrap(),
            r#"{"grace_days":30,"late_from_day":91,"early_fraction":[1,300],"late_fraction":[1,130],"payment_day":"counted","capped_rate":"lower_of_cap_and_payment_day"}"#
        );
    }

    #[test]
    fn a_supplier_round_trips_and_bad_requisites_are_corrupt() {
        let s = sample();
        let row = to_row(&s).unwrap();
        let model = supplier::Model {
            id: 3,
            requisites: text(row.requisites),
            policy: text(row.policy),
            penalty: text(row.penalty),
            minimum_payment: crate::entity::Exact("50.00".into()),
        };
        assert_eq!(from_row(model.clone()), Ok(s));
        let damaged = supplier::Model {
            requisites: model.requisites.replace("7707083893", "7707083894"),
            ..model.clone()
        };
        let err = from_row(damaged).unwrap_err();
        assert_eq!(err.table(), "suppliers");
        assert!(err.to_string().contains("requisites"), "{err}");
        let damaged = supplier::Model {
            requisites: model
                .requisites
                .replace(r#""kpp":"770701001""#, r#""kpp":null"#),
            ..model.clone()
        };
        assert!(from_row(damaged).is_err());
        let damaged = supplier::Model {
            policy: "{}".into(),
            ..model
        };
        assert!(
            from_row(damaged)
                .unwrap_err()
                .to_string()
                .contains("policy")
        );
    }
}
