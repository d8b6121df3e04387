//! Contract of `MeterRepository` and `Storage::upsert_meters`: single-, two- and three-zone
//! meters, house meters, failed and removed ones round-trip with every field; an account's
//! meters are every meter ever installed on it, by id; a missing account is `NotFound`; a
//! damaged row is `Corrupt`.

use billing_core::ids::{AccountId, MeterId};
use billing_core::meter::{RegisterSpec, ZoneScheme};
use billing_core::ports::{MeterRepository, RepoError};
use billing_core::service::ServiceKind;
use storage_seaorm::Storage;
use time::macros::date;

use crate::common::seed::*;

contract!(
    meters_round_trip_with_every_field,
    an_accounts_meters_are_listed_by_id_removed_ones_included,
    meters_naming_a_missing_account_are_not_found,
    corrupt_meters_are_reported,
);

async fn meters_round_trip_with_every_field(storage: Storage) {
    let seeded = house_with_accounts(&storage, 1, 3).await;
    assert_eq!(
        seeded
            .meters
            .iter()
            .map(|m| m.registers.scheme)
            .collect::<Vec<_>>(),
        [
            ZoneScheme::Single,
            ZoneScheme::TwoZone,
            ZoneScheme::ThreeZone
        ]
    );
    let account = seeded.accounts[0].id.get();
    let mut failed = meter(10, Some(account), ZoneScheme::TwoZone);
    failed.failed_on = Some(date!(2025 - 02 - 03));
    failed.automatic = true;
    failed.registers = RegisterSpec {
        scheme: ZoneScheme::TwoZone,
        digits: 6,
        decimals: 2,
        coefficient: d(40, 0),
    };
    let mut removed = meter(11, Some(account), ZoneScheme::ThreeZone);
    removed.removed_on = Some(date!(2025 - 01 - 31));
    removed.verification_due = None;
    let mut water = meter(12, Some(account), ZoneScheme::Single);
    water.service = ServiceKind::ColdWater;
    water.registers = RegisterSpec {
        scheme: ZoneScheme::Single,
        digits: 5,
        decimals: 3,
        coefficient: d(25, 1),
    };
    water.commissioned_on = None;
    water.serial = "ВСКМ 90-15 № 0012".into();
    let mut house_meter = meter(13, None, ZoneScheme::Single);
    house_meter.registers.coefficient = d(1200, 0);
    let extra = [failed, removed, water, house_meter];
    storage.upsert_meters(&extra).await.unwrap();
    for m in seeded.meters.iter().chain(&extra) {
        assert_eq!(storage.meter(m.id).await, Ok(Some(m.clone())));
    }
    assert_eq!(storage.meter(MeterId::new(99)).await, Ok(None));
}

async fn an_accounts_meters_are_listed_by_id_removed_ones_included(storage: Storage) {
    let seeded = house_with_accounts(&storage, 1, 2).await;
    let account = seeded.accounts[0].id;
    let mut old = seeded.meters[0].clone();
    old.removed_on = Some(date!(2025 - 02 - 14));
    let replacement = meter(5, Some(account.get()), ZoneScheme::TwoZone);
    storage
        .upsert_meters(&[replacement.clone(), old.clone()])
        .await
        .unwrap();
    assert_eq!(
        storage.meters_of_account(account).await,
        Ok(vec![replacement, old])
    );
    assert_eq!(
        storage.meters_of_account(seeded.accounts[1].id).await,
        Ok(vec![seeded.meters[1].clone()])
    );
    assert_eq!(
        storage.meters_of_account(AccountId::new(99)).await,
        Ok(vec![])
    );
}

async fn meters_naming_a_missing_account_are_not_found(storage: Storage) {
    let seeded = house_with_accounts(&storage, 1, 1).await;
    let account = seeded.accounts[0].id.get();
    assert_eq!(
        storage
            .upsert_meters(&[
                meter(20, Some(account), ZoneScheme::Single),
                meter(21, Some(404), ZoneScheme::Single),
            ])
            .await,
        Err(RepoError::NotFound)
    );
    assert_eq!(count_rows(&storage, "meters").await, 1);
}

async fn corrupt_meters_are_reported(storage: Storage) {
    let seeded = house_with_accounts(&storage, 1, 1).await;
    let (id, account) = (seeded.meters[0].id, seeded.accounts[0].id);
    for (sql, column) in [
        ("UPDATE meters SET scheme = 'four_zone'", "scheme"),
        ("UPDATE meters SET scheme = 'single', digits = -5", "digits"),
        ("UPDATE meters SET digits = 5, service = 'gas'", "service"),
        (
            "UPDATE meters SET service = 'electricity', installed_on = '2025-02-30'",
            "installed_on",
        ),
        (
            "UPDATE meters SET installed_on = '2024-01-10', removed_on = 'вчера'",
            "removed_on",
        ),
    ] {
        damage(&storage, sql).await;
        assert_corrupt(storage.meter(id).await, "meters", column);
        assert_corrupt(storage.meters_of_account(account).await, "meters", column);
    }
    if storage.backend() == storage_seaorm::Backend::Sqlite {
        damage(
            &storage,
            "UPDATE meters SET removed_on = NULL, coefficient = 'один'",
        )
        .await;
        assert_corrupt(storage.meter(id).await, "meters", "coefficient");
    }
}
