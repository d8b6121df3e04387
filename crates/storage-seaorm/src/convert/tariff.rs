//! [`TariffVersion`] ⇄ `tariff_versions` row. Service and consumer group are tags; the prices
//! (`TariffKind`) are JSON of the domain's serde form, every variant pinned by a golden test.

use billing_core::ids::{SupplierId, TariffId};
use billing_core::ports::RepoError;
use billing_core::tariff::TariffVersion;

use super::Row;
use super::billing::{day_text, group_tag, service_tag, to_db_id, to_json};
use crate::CorruptRow;
use crate::entity::tariff_version;

/// The row of a tariff version.
pub fn to_row(t: &TariffVersion) -> Result<tariff_version::ActiveModel, RepoError> {
    use sea_orm::ActiveValue::Set;
    Ok(tariff_version::ActiveModel {
        id: Set(to_db_id(t.id.get())?),
        supplier_id: Set(to_db_id(t.supplier.get())?),
        service: Set(service_tag(t.service).to_owned()),
        consumer_group: Set(group_tag(t.group).to_owned()),
        valid_from: Set(day_text(t.valid_from)),
        kind: Set(to_json("tariff kind", &t.kind)?),
    })
}

/// The tariff version a row stores.
pub fn from_row(m: tariff_version::Model) -> Result<TariffVersion, CorruptRow> {
    let row = Row::new("tariff_versions", format!("id {}", m.id));
    Ok(TariffVersion {
        id: TariffId::new(row.id("id", m.id)?),
        supplier: SupplierId::new(row.id("supplier_id", m.supplier_id)?),
        service: row.service("service", Some(&m.service))?,
        group: row.group("consumer_group", &m.consumer_group)?,
        valid_from: row.day("valid_from", &m.valid_from)?,
        kind: row.json("kind", &m.kind)?,
    })
}

#[cfg(test)]
mod tests {
    use billing_core::tariff::{
        ConsumptionRanges, ElectricityTiers, HeatingMode, SocialNorm, TariffKind, ZonePrices,
    };
    use rust_decimal::Decimal;

    use super::*;

    fn d(v: i64, dp: u32) -> Decimal {
        Decimal::new(v, dp)
    }

    fn zoned() -> ZonePrices {
        ZonePrices {
            single: d(654, 2),
            two_zone: Some([d(712, 2), d(356, 2)]),
            three_zone: Some([d(801, 2), d(356, 2), d(654, 2)]),
        }
    }

    fn season() -> [bool; 12] {
        [
            true, true, true, true, false, false, false, false, false, true, true, true,
        ]
    }

    fn pinned(kind: TariffKind, json: &str) {
        assert_eq!(to_json("kind", &kind).unwrap(), json);
        assert_eq!(
            Row::new("tariff_versions", "1").json("kind", json),
            Ok(kind)
        );
    }

    #[test]
    fn the_tariff_kind_json_is_pinned_for_every_variant() {
        pinned(
            TariffKind::Electricity(ElectricityTiers::Flat(ZonePrices::flat(d(654, 2)))),
            r#"{"type":"electricity","tiers":"flat","single":"6.54","two_zone":null,"three_zone":null}"#,
        );
        pinned(
            TariffKind::Electricity(ElectricityTiers::SocialNorm {
                norm: SocialNorm {
                    base: d(90, 0),
                    per_additional_person: d(30, 0),
                },
                within: zoned(),
                above: ZonePrices::flat(d(915, 2)),
            }),
            r#"{"type":"electricity","tiers":"social_norm","norm":{"base":"90","per_additional_person":"30"},"within":{"single":"6.54","two_zone":["7.12","3.56"],"three_zone":["8.01","3.56","6.54"]},"above":{"single":"9.15","two_zone":null,"three_zone":null}}"#,
        );
        pinned(
            TariffKind::Electricity(ElectricityTiers::Ranges(ConsumptionRanges {
                thresholds: [d(3900, 0), d(6000, 0)],
                prices: [
                    ZonePrices::flat(d(654, 2)),
                    ZonePrices::flat(d(812, 2)),
                    ZonePrices::flat(d(1005, 2)),
                ],
                seasonal_factor: d(18, 1),
                heating_season: season(),
            })),
            r#"{"type":"electricity","tiers":"ranges","thresholds":["3900","6000"],"prices":[{"single":"6.54","two_zone":null,"three_zone":null},{"single":"8.12","two_zone":null,"three_zone":null},{"single":"10.05","two_zone":null,"three_zone":null}],"seasonal_factor":"1.8","heating_season":[true,true,true,true,false,false,false,false,false,true,true,true]}"#,
        );
        pinned(
            TariffKind::Volumetric { price: d(4567, 2) },
            r#"{"type":"volumetric","price":"45.67"}"#,
        );
        pinned(
            TariffKind::HotWaterTwoComponent {
                water_per_m3: d(4567, 2),
                heat_per_gcal: d(258_012, 2),
                heat_norm_gcal_per_m3: d(603, 4),
            },
            r#"{"type":"hot_water_two_component","water_per_m3":"45.67","heat_per_gcal":"2580.12","heat_norm_gcal_per_m3":"0.0603"}"#,
        );
        pinned(
            TariffKind::Heating {
                per_gcal: d(258_012, 2),
                norm_gcal_per_m2: d(156, 4),
                mode: HeatingMode::Even,
                season: season(),
            },
            r#"{"type":"heating","per_gcal":"2580.12","norm_gcal_per_m2":"0.0156","mode":"even","season":[true,true,true,true,false,false,false,false,false,true,true,true]}"#,
        );
    }
}
