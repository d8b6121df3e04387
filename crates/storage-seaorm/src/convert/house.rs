//! [`House`] ⇄ `houses` row, [`Premise`] ⇄ `premises` row and [`HousePeriodFacts`] ⇄
//! `house_period_facts` row. The ОДН policy is JSON of the domain's serde form, pinned by a
//! golden test.

use billing_core::ids::{HouseId, PremiseId, SupplierId};
use billing_core::model::{House, Premise};
use billing_core::period::Period;
use billing_core::ports::{HousePeriodFacts, RepoError};

use super::Row;
use super::billing::{period_code, to_db_id, to_db_int, to_json};
use crate::CorruptRow;
use crate::entity::{Exact, house, house_period_fact, premise};

/// The row of a house.
pub fn to_row(h: &House) -> Result<house::ActiveModel, RepoError> {
    use sea_orm::ActiveValue::Set;
    Ok(house::ActiveModel {
        id: Set(to_db_id(h.id.get())?),
        supplier_id: Set(to_db_id(h.supplier.get())?),
        address: Set(h.address.clone()),
        total_area: Set(Exact::of(h.total_area)),
        common_area: Set(Exact::of(h.common_area)),
        odn: Set(to_json("odn policy", &h.odn)?),
        electric_heating: Set(h.electric_heating),
        heat_meter: Set(h.heat_meter),
    })
}

/// The house a row stores.
pub fn from_row(m: house::Model) -> Result<House, CorruptRow> {
    let row = Row::new("houses", format!("id {}", m.id));
    Ok(House {
        id: HouseId::new(row.id("id", m.id)?),
        supplier: SupplierId::new(row.id("supplier_id", m.supplier_id)?),
        address: m.address,
        total_area: row.decimal("total_area", &m.total_area)?,
        common_area: row.decimal("common_area", &m.common_area)?,
        odn: row.json("odn", &m.odn)?,
        electric_heating: m.electric_heating,
        heat_meter: m.heat_meter,
    })
}

/// The row of a premise.
pub fn premise_to_row(p: &Premise) -> Result<premise::ActiveModel, RepoError> {
    use sea_orm::ActiveValue::Set;
    Ok(premise::ActiveModel {
        id: Set(to_db_id(p.id.get())?),
        house_id: Set(to_db_id(p.house.get())?),
        number: Set(p.number.clone()),
        area: Set(Exact::of(p.area)),
        residential: Set(p.residential),
        persons: Set(to_db_int(p.persons, "persons")?),
        rooms: Set(to_db_int(p.rooms, "rooms")?),
    })
}

/// The premise a row stores.
pub fn premise_from_row(m: premise::Model) -> Result<Premise, CorruptRow> {
    let row = Row::new("premises", format!("id {}", m.id));
    Ok(Premise {
        id: PremiseId::new(row.id("id", m.id)?),
        house: HouseId::new(row.id("house_id", m.house_id)?),
        number: m.number,
        area: row.decimal("area", &m.area)?,
        residential: m.residential,
        persons: row.int("persons", m.persons)?,
        rooms: row.int("rooms", m.rooms)?,
    })
}

/// The row of a house's facts for a period.
pub fn facts_to_row(
    house: HouseId,
    period: Period,
    f: &HousePeriodFacts,
) -> Result<house_period_fact::ActiveModel, RepoError> {
    use sea_orm::ActiveValue::Set;
    Ok(house_period_fact::ActiveModel {
        house_id: Set(to_db_id(house.get())?),
        period: Set(period_code(period)),
        house_meter_volume: Set(f.house_meter_volume.map(Exact::of)),
        other_non_residential_volume: Set(Exact::of(f.other_non_residential_volume)),
        heat_production_volume: Set(Exact::of(f.heat_production_volume)),
        carried_in: Set(Exact::of(f.carried_in)),
        heat_meter_volume: Set(f.heat_meter_volume.map(Exact::of)),
    })
}

/// The facts a row stores.
pub fn facts_from_row(m: house_period_fact::Model) -> Result<HousePeriodFacts, CorruptRow> {
    let row = Row::new(
        "house_period_facts",
        format!("house {} period {}", m.house_id, m.period),
    );
    Ok(HousePeriodFacts {
        house_meter_volume: row.opt_decimal("house_meter_volume", m.house_meter_volume.as_ref())?,
        other_non_residential_volume: row.decimal(
            "other_non_residential_volume",
            &m.other_non_residential_volume,
        )?,
        heat_production_volume: row.decimal("heat_production_volume", &m.heat_production_volume)?,
        carried_in: row.decimal("carried_in", &m.carried_in)?,
        heat_meter_volume: row.opt_decimal("heat_meter_volume", m.heat_meter_volume.as_ref())?,
    })
}

#[cfg(test)]
mod tests {
    use billing_core::odn::OdnPolicy;
    use rust_decimal::Decimal;

    use super::*;

    #[test]
    fn the_odn_policy_json_is_pinned() {
        let odn = OdnPolicy {
            billed_by_supplier: true,
            cap_at_norm: false,
            norm_per_m2_common: Decimal::new(21, 1),
        };
        let json = to_json("odn", &odn).unwrap();
        assert_eq!(
            json,
            r#"{"billed_by_supplier":true,"cap_at_norm":false,"norm_per_m2_common":"2.1"}"#
        );
        assert_eq!(Row::new("houses", "1").json("odn", &json), Ok(odn));
    }

    #[test]
    fn damaged_houses_and_premises_are_corrupt_rows() {
        let house = house::Model {
            id: 1,
            supplier_id: 1,
            address: "г. Тула".into(),
            total_area: Exact("abc".into()),
            common_area: Exact("1".into()),
            odn: "{}".into(),
            electric_heating: false,
            heat_meter: false,
        };
        assert!(
            from_row(house)
                .unwrap_err()
                .to_string()
                .contains("total_area")
        );
        let premise = premise::Model {
            id: 1,
            house_id: 1,
            number: "1".into(),
            area: Exact("50".into()),
            residential: true,
            persons: -1,
            rooms: 1,
        };
        assert!(
            premise_from_row(premise)
                .unwrap_err()
                .to_string()
                .contains("persons")
        );
    }
}
