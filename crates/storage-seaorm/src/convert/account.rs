//! [`Account`] ⇄ `accounts` row. The consumer group is a tag; the services are JSON of the
//! domain's `Vec<AccountService>` serde form, pinned by a golden test.

use billing_core::ids::{AccountId, PremiseId, SupplierId};
use billing_core::model::{Account, AccountNumber};
use billing_core::ports::RepoError;

use super::Row;
use super::billing::{group_tag, to_db_id, to_json};
use crate::CorruptRow;
use crate::entity::account;

/// The row of an account.
pub fn to_row(a: &Account) -> Result<account::ActiveModel, RepoError> {
    use sea_orm::ActiveValue::Set;
    Ok(account::ActiveModel {
        id: Set(to_db_id(a.id.get())?),
        supplier_id: Set(to_db_id(a.supplier.get())?),
        number: Set(a.number.as_str().to_owned()),
        premise_id: Set(to_db_id(a.premise.get())?),
        holder: Set(a.holder.clone()),
        consumer_group: Set(group_tag(a.group).to_owned()),
        services: Set(to_json("account services", &a.services)?),
    })
}

/// The account a row stores.
pub fn from_row(m: account::Model) -> Result<Account, CorruptRow> {
    let row = Row::new("accounts", format!("id {}", m.id));
    Ok(Account {
        id: AccountId::new(row.id("id", m.id)?),
        number: row.parse("number", AccountNumber::parse(&m.number))?,
        supplier: SupplierId::new(row.id("supplier_id", m.supplier_id)?),
        premise: PremiseId::new(row.id("premise_id", m.premise_id)?),
        holder: m.holder,
        group: row.group("consumer_group", &m.consumer_group)?,
        services: row.json("services", &m.services)?,
    })
}

#[cfg(test)]
mod tests {
    use billing_core::model::AccountService;
    use billing_core::service::ServiceKind;
    use rust_decimal::Decimal;

    use super::*;

    #[test]
    fn the_services_json_is_pinned() {
        let services = vec![
            AccountService {
                service: ServiceKind::Electricity,
                norm_per_unit: Decimal::new(905, 1),
                meter_installable: true,
            },
            AccountService {
                service: ServiceKind::Heating,
                norm_per_unit: Decimal::new(156, 4),
                meter_installable: false,
            },
        ];
        let json = to_json("services", &services).unwrap();
        assert_eq!(
            json,
            r#"[{"service":"electricity","norm_per_unit":"90.5","meter_installable":true},{"service":"heating","norm_per_unit":"0.0156","meter_installable":false}]"#
        );
        assert_eq!(
            Row::new("accounts", "1").json::<Vec<AccountService>>("services", &json),
            Ok(services)
        );
    }

    #[test]
    fn a_damaged_number_is_a_corrupt_row() {
        let m = account::Model {
            id: 1,
            supplier_id: 1,
            number: "12a".into(),
            premise_id: 1,
            holder: "Иванов".into(),
            consumer_group: "population".into(),
            services: "[]".into(),
        };
        let err = from_row(m).unwrap_err().to_string();
        assert!(
            err.contains("corrupt row in accounts (id 1): number"),
            "{err}"
        );
    }
}
