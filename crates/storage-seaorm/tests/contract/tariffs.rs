//! Contract of `TariffRepository` and `Storage::upsert_tariffs`: every `TariffKind` variant
//! round-trips, a supplier's versions come ordered by first day in force then id, a missing
//! supplier is `NotFound`, a damaged row is `Corrupt`.

use billing_core::ids::{SupplierId, TariffId};
use billing_core::ports::{RepoError, TariffRepository};
use billing_core::service::ServiceKind;
use billing_core::tariff::{
    ConsumerGroup, ConsumptionRanges, ElectricityTiers, HeatingMode, SocialNorm, TariffKind,
    TariffVersion, ZonePrices,
};
use storage_seaorm::Storage;
use time::macros::date;

use crate::common::seed::*;

contract!(
    every_tariff_kind_round_trips,
    versions_are_ordered_by_first_day_then_id,
    versions_naming_a_missing_supplier_are_not_found,
    corrupt_tariffs_are_reported,
);

fn zoned(base: i64) -> ZonePrices {
    ZonePrices {
        single: d(base, 2),
        two_zone: Some([d(base + 50, 2), d(base - 300, 2)]),
        three_zone: Some([d(base + 150, 2), d(base - 300, 2), d(base, 2)]),
    }
}

fn season() -> [bool; 12] {
    let mut months = [true; 12];
    months[4..9].fill(false);
    months
}

fn kinds() -> Vec<(ServiceKind, ConsumerGroup, TariffKind)> {
    vec![
        (
            ServiceKind::Electricity,
            ConsumerGroup::Population,
            TariffKind::Electricity(ElectricityTiers::Flat(zoned(654))),
        ),
        (
            ServiceKind::Electricity,
            ConsumerGroup::Rural,
            TariffKind::Electricity(ElectricityTiers::SocialNorm {
                norm: SocialNorm {
                    base: d(90, 0),
                    per_additional_person: d(305, 1),
                },
                within: zoned(458),
                above: ZonePrices::flat(d(915, 2)),
            }),
        ),
        (
            ServiceKind::Electricity,
            ConsumerGroup::UrbanElectricStoves,
            TariffKind::Electricity(ElectricityTiers::Ranges(ConsumptionRanges {
                thresholds: [d(3900, 0), d(6000, 0)],
                prices: [zoned(600), zoned(700), ZonePrices::flat(d(1234, 2))],
                seasonal_factor: d(18, 1),
                heating_season: season(),
            })),
        ),
        (
            ServiceKind::ColdWater,
            ConsumerGroup::Population,
            TariffKind::Volumetric { price: d(4_567, 2) },
        ),
        (
            ServiceKind::HotWater,
            ConsumerGroup::Equated,
            TariffKind::HotWaterTwoComponent {
                water_per_m3: d(4_567, 2),
                heat_per_gcal: d(258_012, 2),
                heat_norm_gcal_per_m3: d(603, 4),
            },
        ),
        (
            ServiceKind::Heating,
            ConsumerGroup::Population,
            TariffKind::Heating {
                per_gcal: d(258_012, 2),
                norm_gcal_per_m2: d(156, 4),
                mode: HeatingMode::Seasonal,
                season: season(),
            },
        ),
        (
            ServiceKind::Heating,
            ConsumerGroup::Rural,
            TariffKind::Heating {
                per_gcal: d(1, 0),
                norm_gcal_per_m2: d(1, 4),
                mode: HeatingMode::Even,
                season: [false; 12],
            },
        ),
    ]
}

async fn every_tariff_kind_round_trips(storage: Storage) {
    seed_supplier(&storage, SUPPLIER).await;
    let versions: Vec<TariffVersion> = kinds()
        .into_iter()
        .zip(1_u64..)
        .map(|((service, group, kind), id)| TariffVersion {
            id: TariffId::new(id),
            supplier: SupplierId::new(SUPPLIER),
            service,
            group,
            valid_from: date!(2025 - 01 - 01),
            kind,
        })
        .collect();
    storage.upsert_tariffs(&versions).await.unwrap();
    assert_eq!(
        storage.versions(SupplierId::new(SUPPLIER)).await,
        Ok(versions)
    );
}

async fn versions_are_ordered_by_first_day_then_id(storage: Storage) {
    seed_supplier(&storage, 1).await;
    seed_supplier(&storage, 2).await;
    let p = |v| d(v, 2);
    let versions = [
        flat_tariff(5, 1, date!(2025 - 07 - 01), p(700)),
        flat_tariff(3, 1, date!(2024 - 07 - 01), p(600)),
        flat_tariff(9, 1, date!(2025 - 01 - 01), p(650)),
        flat_tariff(4, 1, date!(2025 - 01 - 01), p(651)),
        flat_tariff(6, 2, date!(2020 - 01 - 01), p(100)),
    ];
    storage.upsert_tariffs(&versions).await.unwrap();
    let ids: Vec<u64> = storage
        .versions(SupplierId::new(1))
        .await
        .unwrap()
        .iter()
        .map(|v| v.id.get())
        .collect();
    assert_eq!(ids, [3, 4, 9, 5]);
    assert_eq!(
        storage.versions(SupplierId::new(2)).await,
        Ok(vec![versions[4]])
    );
    assert_eq!(storage.versions(SupplierId::new(3)).await, Ok(vec![]));
    // An upsert moves a version.
    let moved = flat_tariff(5, 1, date!(2024 - 01 - 01), p(700));
    storage.upsert_tariffs(&[moved]).await.unwrap();
    assert_eq!(
        storage.versions(SupplierId::new(1)).await.unwrap()[0],
        moved
    );
}

async fn versions_naming_a_missing_supplier_are_not_found(storage: Storage) {
    seed_supplier(&storage, 1).await;
    assert_eq!(
        storage
            .upsert_tariffs(&[
                flat_tariff(1, 1, date!(2025 - 01 - 01), d(1, 0)),
                flat_tariff(2, 2, date!(2025 - 01 - 01), d(1, 0)),
            ])
            .await,
        Err(RepoError::NotFound)
    );
    assert_eq!(count_rows(&storage, "tariff_versions").await, 0);
}

async fn corrupt_tariffs_are_reported(storage: Storage) {
    seed_supplier(&storage, 1).await;
    storage
        .upsert_tariffs(&[flat_tariff(1, 1, date!(2025 - 01 - 01), d(1, 0))])
        .await
        .unwrap();
    let supplier = SupplierId::new(1);
    for (sql, column) in [
        (
            "UPDATE tariff_versions SET kind = '{\"type\":\"barter\"}'",
            "kind",
        ),
        (
            "UPDATE tariff_versions SET kind = '{\"type\":\"volumetric\",\"price\":\"дорого\"}'",
            "kind",
        ),
        (
            "UPDATE tariff_versions SET kind = '{\"type\":\"volumetric\",\"price\":\"1\"}', \
             consumer_group = 'nobles'",
            "consumer_group",
        ),
        (
            "UPDATE tariff_versions SET consumer_group = 'rural', service = 'gas'",
            "service",
        ),
        (
            "UPDATE tariff_versions SET service = 'cold_water', valid_from = '2025-13-01'",
            "valid_from",
        ),
    ] {
        damage(&storage, sql).await;
        assert_corrupt(storage.versions(supplier).await, "tariff_versions", column);
    }
}
