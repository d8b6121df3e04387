//! Contract of `VolumeHistoryRepository` and `Storage::import_volumes`: billed and imported
//! volumes both come back, oldest first and only before the period asked about; an import
//! replaces an imported volume but never a billed one (`Duplicate`, writing nothing); a missing
//! account is `NotFound`.

use billing_core::ids::AccountId;
use billing_core::meter::ZoneScheme;
use billing_core::period::Period;
use billing_core::ports::{RepoError, VolumeHistoryRepository};
use billing_core::service::ServiceKind;
use billing_core::volume::{PastVolume, VolumeKind};
use sea_orm::{ConnectionTrait, Statement};
use storage_seaorm::Storage;

use crate::common::billing::period;
use crate::common::seed::*;

contract!(
    billed_and_imported_volumes_come_back_oldest_first,
    an_import_replaces_imported_volumes_only,
    volumes_naming_a_missing_account_are_not_found,
    corrupt_volumes_are_reported,
);

fn volume(p: Period, kind: VolumeKind, scheme: ZoneScheme, value: i64) -> PastVolume {
    PastVolume {
        period: p,
        kind,
        values: same_values(scheme, value),
    }
}

/// Stores a `billed` volume the way the charge-set code does (a plain row of origin `billed`).
async fn bill(storage: &Storage, account: AccountId, service: &str, p: Period, values: &str) {
    let conn = storage.connection();
    conn.execute_raw(Statement::from_sql_and_values(
        conn.get_database_backend(),
        "INSERT INTO volume_history (account_id, service, period, kind, register_values, origin) \
         VALUES ($1, $2, $3, 'true_up', $4, 'billed')",
        [
            i64::try_from(account.get()).unwrap().into(),
            service.into(),
            (p.year() * 100 + i32::try_from(p.month_number()).unwrap()).into(),
            values.into(),
        ],
    ))
    .await
    .unwrap();
}

async fn billed_and_imported_volumes_come_back_oldest_first(storage: Storage) {
    let seeded = house_with_accounts(&storage, 1, 2).await;
    let (a, b) = (seeded.accounts[0].id, seeded.accounts[1].id);
    let e = ServiceKind::Electricity;
    let imported = [
        (
            a,
            e,
            volume(
                period(2024, 11),
                VolumeKind::Readings,
                ZoneScheme::ThreeZone,
                30,
            ),
        ),
        (
            a,
            e,
            volume(
                period(2024, 12),
                VolumeKind::Average,
                ZoneScheme::TwoZone,
                20,
            ),
        ),
        (
            a,
            e,
            volume(period(2024, 10), VolumeKind::Norm, ZoneScheme::Single, 10),
        ),
        (
            a,
            ServiceKind::ColdWater,
            volume(period(2024, 12), VolumeKind::Norm, ZoneScheme::Single, 5),
        ),
        (
            b,
            e,
            volume(
                period(2024, 12),
                VolumeKind::Readings,
                ZoneScheme::Single,
                99,
            ),
        ),
    ];
    storage.import_volumes(&imported).await.unwrap();
    bill(&storage, a, "electricity", period(2025, 1), "12.5;7.25").await;
    bill(&storage, a, "electricity", period(2025, 2), "13").await;
    let history = storage.volumes(a, e, period(2025, 2)).await.unwrap();
    assert_eq!(
        history,
        [
            imported[2].2,
            imported[0].2,
            imported[1].2,
            PastVolume {
                period: period(2025, 1),
                kind: VolumeKind::TrueUp,
                values: billing_core::meter::ZoneValues::new(
                    ZoneScheme::TwoZone,
                    &[d(125, 1), d(725, 2)]
                )
                .unwrap(),
            },
        ]
    );
    assert_eq!(
        storage.volumes(a, e, period(2025, 3)).await.unwrap().len(),
        5
    );
    assert_eq!(storage.volumes(a, e, period(2024, 10)).await, Ok(vec![]));
    assert_eq!(
        storage
            .volumes(a, ServiceKind::ColdWater, period(2025, 3))
            .await,
        Ok(vec![imported[3].2])
    );
    assert_eq!(
        storage.volumes(b, e, period(2025, 3)).await,
        Ok(vec![imported[4].2])
    );
    assert_eq!(
        storage
            .volumes(AccountId::new(404), e, period(2025, 3))
            .await,
        Ok(vec![])
    );
}

async fn an_import_replaces_imported_volumes_only(storage: Storage) {
    let seeded = house_with_accounts(&storage, 1, 1).await;
    let a = seeded.accounts[0].id;
    let e = ServiceKind::Electricity;
    let dec = period(2024, 12);
    storage
        .import_volumes(&[(a, e, volume(dec, VolumeKind::Norm, ZoneScheme::Single, 1))])
        .await
        .unwrap();
    // Replaced by a later import (and the last of a key within one call wins).
    let fixed = volume(dec, VolumeKind::Readings, ZoneScheme::TwoZone, 2);
    storage
        .import_volumes(&[
            (
                a,
                e,
                volume(dec, VolumeKind::Average, ZoneScheme::Single, 3),
            ),
            (a, e, fixed),
        ])
        .await
        .unwrap();
    assert_eq!(
        storage.volumes(a, e, period(2025, 1)).await,
        Ok(vec![fixed])
    );
    // A billed period is never overwritten; nothing of the refused batch is written.
    bill(&storage, a, "electricity", period(2025, 1), "40").await;
    let nov = volume(period(2024, 11), VolumeKind::Norm, ZoneScheme::Single, 9);
    assert_eq!(
        storage
            .import_volumes(&[
                (a, e, nov),
                (
                    a,
                    e,
                    volume(period(2025, 1), VolumeKind::Norm, ZoneScheme::Single, 4)
                ),
            ])
            .await,
        Err(RepoError::Duplicate)
    );
    let history = storage.volumes(a, e, period(2025, 2)).await.unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[1].kind, VolumeKind::TrueUp);
    assert_eq!(history[1].values, same_values(ZoneScheme::Single, 40));
    storage.import_volumes(&[]).await.unwrap();
}

async fn volumes_naming_a_missing_account_are_not_found(storage: Storage) {
    let seeded = house_with_accounts(&storage, 1, 1).await;
    let v = volume(period(2024, 12), VolumeKind::Norm, ZoneScheme::Single, 1);
    assert_eq!(
        storage
            .import_volumes(&[
                (seeded.accounts[0].id, ServiceKind::Electricity, v),
                (AccountId::new(404), ServiceKind::Electricity, v),
            ])
            .await,
        Err(RepoError::NotFound)
    );
    assert_eq!(count_rows(&storage, "volume_history").await, 0);
}

async fn corrupt_volumes_are_reported(storage: Storage) {
    let seeded = house_with_accounts(&storage, 1, 1).await;
    let a = seeded.accounts[0].id;
    let e = ServiceKind::Electricity;
    let v = volume(period(2024, 12), VolumeKind::Norm, ZoneScheme::Single, 1);
    storage.import_volumes(&[(a, e, v)]).await.unwrap();
    for (sql, column) in [
        ("UPDATE volume_history SET kind = 'guess'", "kind"),
        (
            "UPDATE volume_history SET kind = 'norm', register_values = ''",
            "register_values",
        ),
        (
            "UPDATE volume_history SET register_values = '1', origin = 'stolen'",
            "origin",
        ),
    ] {
        damage(&storage, sql).await;
        assert_corrupt(
            storage.volumes(a, e, period(2025, 1)).await,
            "volume_history",
            column,
        );
    }
}
