//! The tariff format: one tariff version per row. The `type` column says how the version
//! prices a volume, and which of the other columns it needs (the rest are ignored):
//!
//! | type | columns |
//! |---|---|
//! | `electricity_flat` | `p1` (+ `p1_two_zone`, `p1_three_zone`) |
//! | `electricity_social_norm` | `norm_base`, `norm_per_person`, `p1` within the norm, `p2` above it |
//! | `electricity_ranges` | `threshold1`, `threshold2`, `p1`–`p3`, `seasonal_factor`, `season` |
//! | `volumetric` | `price` |
//! | `hot_water` | `water_per_m3`, `heat_per_gcal`, `heat_norm_per_m3` |
//! | `heating` | `heat_per_gcal`, `heat_norm_per_m2`, `season`, `heating_mode` |
//!
//! A price table `pN` is the single-rate price; `pN_two_zone` is `day|night` and
//! `pN_three_zone` is `peak|night|semi_peak` (optional: a zoned meter is then priced at the
//! single rate). `season` lists months: `1-4|10-12`.

use billing_core::ServiceKind;
use billing_core::ids::{SupplierId, TariffId};
use billing_core::tariff::{
    ConsumptionRanges, ElectricityTiers, HeatingMode, SocialNorm, TariffKind, TariffVersion,
    ZonePrices,
};
use rust_decimal::Decimal;

use super::reference::{group, service};
use super::table::{Columns, Row, date, id, items, non_negative, positive};

/// The tariff format.
pub const TARIFFS: Columns = Columns {
    required: &["id", "service", "group", "valid_from", "type"],
    optional: &[
        "price",
        "p1",
        "p1_two_zone",
        "p1_three_zone",
        "p2",
        "p2_two_zone",
        "p2_three_zone",
        "p3",
        "p3_two_zone",
        "p3_three_zone",
        "norm_base",
        "norm_per_person",
        "threshold1",
        "threshold2",
        "seasonal_factor",
        "season",
        "water_per_m3",
        "heat_per_gcal",
        "heat_norm_per_m3",
        "heat_norm_per_m2",
        "heating_mode",
    ],
};

/// The price-table columns: single rate, two-zone, three-zone.
const TABLES: [[&str; 3]; 3] = [
    ["p1", "p1_two_zone", "p1_three_zone"],
    ["p2", "p2_two_zone", "p2_three_zone"],
    ["p3", "p3_two_zone", "p3_three_zone"],
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Type {
    Flat,
    SocialNorm,
    Ranges,
    Volumetric,
    HotWater,
    Heating,
}

fn tariff_type(text: &str) -> Result<Type, String> {
    match text.to_lowercase().as_str() {
        "electricity_flat" => Ok(Type::Flat),
        "electricity_social_norm" => Ok(Type::SocialNorm),
        "electricity_ranges" => Ok(Type::Ranges),
        "volumetric" => Ok(Type::Volumetric),
        "hot_water" => Ok(Type::HotWater),
        "heating" => Ok(Type::Heating),
        _ => Err("ожидается тип: electricity_flat, electricity_social_norm, \
                  electricity_ranges, volumetric, hot_water, heating"
            .to_owned()),
    }
}

impl Type {
    /// Whether a version of this type can price `service`.
    fn prices(self, service: ServiceKind) -> bool {
        match self {
            Type::Flat | Type::SocialNorm | Type::Ranges => service == ServiceKind::Electricity,
            Type::Volumetric => matches!(service, ServiceKind::ColdWater | ServiceKind::Wastewater),
            Type::HotWater => service == ServiceKind::HotWater,
            Type::Heating => service == ServiceKind::Heating,
        }
    }
}

/// `n` prices separated by `|`.
fn zone_prices<const N: usize>(text: &str) -> Result<[Decimal; N], String> {
    let values = items(text)
        .map(non_negative)
        .collect::<Result<Vec<_>, _>>()?;
    values
        .try_into()
        .map_err(|_| format!("ожидается {N} цены через «|»"))
}

/// Months of a season: `1-4|10-12` or `1|2|3`.
fn season(text: &str) -> Result<[bool; 12], String> {
    let bad = || "ожидаются месяцы 1–12: например «1-4|10-12»".to_owned();
    let month = |t: &str| {
        t.trim()
            .parse::<usize>()
            .ok()
            .filter(|m| (1..=12).contains(m))
            .ok_or_else(bad)
    };
    let mut months = [false; 12];
    for item in items(text) {
        let (from, to) = match item.split_once('-') {
            Some((a, b)) => (month(a)?, month(b)?),
            None => (month(item)?, month(item)?),
        };
        if from > to {
            return Err(bad());
        }
        months[from - 1..to].fill(true);
    }
    Ok(months)
}

/// Price table `n` (0-based) of the row.
fn table(r: &mut Row<'_>, n: usize) -> Option<ZonePrices> {
    let [single, two, three] = TABLES[n];
    let single = r.required(single, non_negative);
    let two = r.optional(two, zone_prices::<2>);
    let three = r.optional(three, zone_prices::<3>);
    Some(ZonePrices {
        single: single?,
        two_zone: two?,
        three_zone: three?,
    })
}

fn kind(r: &mut Row<'_>, ty: Type) -> Option<TariffKind> {
    Some(match ty {
        Type::Flat => TariffKind::Electricity(ElectricityTiers::Flat(table(r, 0)?)),
        Type::SocialNorm => {
            let base = r.required("norm_base", non_negative);
            let per_person = r.required("norm_per_person", non_negative);
            let within = table(r, 0);
            let above = table(r, 1);
            TariffKind::Electricity(ElectricityTiers::SocialNorm {
                norm: SocialNorm {
                    base: base?,
                    per_additional_person: per_person?,
                },
                within: within?,
                above: above?,
            })
        }
        Type::Ranges => {
            let first = r.required("threshold1", positive);
            let second = r.required("threshold2", positive);
            let factor = r.or("seasonal_factor", Decimal::ONE, positive);
            let season = r.or("season", [false; 12], season);
            let prices = [table(r, 0), table(r, 1), table(r, 2)];
            let thresholds = [first?, second?];
            if thresholds[0] >= thresholds[1] {
                r.fail(
                    Some("threshold2"),
                    "второй порог должен быть больше первого",
                );
            }
            let [p1, p2, p3] = prices;
            TariffKind::Electricity(ElectricityTiers::Ranges(ConsumptionRanges {
                thresholds,
                prices: [p1?, p2?, p3?],
                seasonal_factor: factor?,
                heating_season: season?,
            }))
        }
        Type::Volumetric => TariffKind::Volumetric {
            price: r.required("price", non_negative)?,
        },
        Type::HotWater => {
            let water = r.required("water_per_m3", non_negative);
            let heat = r.required("heat_per_gcal", non_negative);
            let norm = r.required("heat_norm_per_m3", non_negative);
            TariffKind::HotWaterTwoComponent {
                water_per_m3: water?,
                heat_per_gcal: heat?,
                heat_norm_gcal_per_m3: norm?,
            }
        }
        Type::Heating => {
            let price = r.required("heat_per_gcal", non_negative);
            let norm = r.required("heat_norm_per_m2", non_negative);
            let season = r.required("season", season);
            let mode = r.or("heating_mode", HeatingMode::Seasonal, |t| {
                match t.to_lowercase().as_str() {
                    "seasonal" => Ok(HeatingMode::Seasonal),
                    "even" => Ok(HeatingMode::Even),
                    _ => Err("ожидается seasonal или even".to_owned()),
                }
            });
            TariffKind::Heating {
                per_gcal: price?,
                norm_gcal_per_m2: norm?,
                mode: mode?,
                season: season?,
            }
        }
    })
}

/// Reads a tariff row of `supplier`.
pub fn tariff(r: &mut Row<'_>, supplier: SupplierId) -> Option<TariffVersion> {
    let id = r.required("id", id);
    let service = r.required("service", service);
    let group = r.required("group", group);
    let valid_from = r.required("valid_from", date);
    let ty = r.required("type", tariff_type)?;
    let kind = kind(r, ty);
    let service = service?;
    if !ty.prices(service) {
        r.fail(
            Some("type"),
            format!("этот тип тарифа не подходит для услуги {}", service.code()),
        );
    }
    Some(TariffVersion {
        id: TariffId::new(id?),
        supplier,
        service,
        group: group?,
        valid_from: valid_from?,
        kind: kind?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seasons_and_zone_prices() {
        let s = season("1-4|10-12").unwrap();
        assert_eq!(
            s,
            [
                true, true, true, true, false, false, false, false, false, true, true, true
            ]
        );
        assert!(season("4-1").is_err() && season("13").is_err());
        assert_eq!(
            zone_prices::<2>("7,90|4,10").unwrap(),
            [Decimal::new(790, 2), Decimal::new(410, 2)]
        );
        assert!(zone_prices::<3>("7,90|4,10").is_err());
    }
}
