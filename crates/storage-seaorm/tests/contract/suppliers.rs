//! Contract of `SupplierRepository` and `Storage::upsert_supplier`: every field round-trips
//! (requisites rebuilt through their validating constructors, every policy), an upsert
//! replaces, a missing supplier is `None`, and a damaged row is `Corrupt`.

use billing_core::ids::SupplierId;
use billing_core::money::Money;
use billing_core::penalty::{CappedRateEdition, Fraction, PaymentDayCounting, PenaltyPolicy};
use billing_core::policy::{
    BillingPolicy, CoefficientRule, NegativeOdnPolicy, ReadingsWindow, TariffSplitPolicy,
};
use billing_core::ports::SupplierRepository;
use billing_core::service::ServiceKind;
use storage_seaorm::Storage;
use time::macros::date;

use crate::common::seed::*;

contract!(
    a_supplier_round_trips_with_every_field,
    an_upsert_replaces_the_supplier,
    a_missing_supplier_is_none,
    corrupt_suppliers_are_reported,
);

/// Every policy set away from its default.
fn unusual_supplier(id: u64) -> billing_core::model::Supplier {
    let mut policy = BillingPolicy {
        readings_window: ReadingsWindow {
            opens_on_day: 20,
            closes_on_day: 25,
            accept_before_window: false,
        },
        tariff_split: TariffSplitPolicy::VersionOnLastDay,
        negative_odn: NegativeOdnPolicy::CarryForward,
        social_norm_includes_odn: false,
        volume_dp: vec![(ServiceKind::Heating, 4), (ServiceKind::ColdWater, 2)],
        refuse_manual_readings_of_automatic_meters: false,
        ..BillingPolicy::default()
    };
    policy.due_day.day_after_switch = 20;
    policy.plausibility.max_multiple_of_average = d(125, 1);
    policy.average.full_months = 12;
    policy.increasing.rules.push(CoefficientRule {
        service: ServiceKind::HotWater,
        from: date!(2026 - 01 - 01),
        value: d(25, 1),
    });
    policy.increasing.electricity_after_supplier_duty = true;
    billing_core::model::Supplier {
        id: SupplierId::new(id),
        requisites: entrepreneur_requisites(),
        policy,
        penalty: PenaltyPolicy {
            grace_days: 10,
            late_from_day: 61,
            early_fraction: Fraction::new(1, 365).unwrap(),
            late_fraction: Fraction::new(2, 300).unwrap(),
            payment_day: PaymentDayCounting::NotCounted,
            capped_rate: CappedRateEdition::FixedRate,
        },
        minimum_payment: Money::from_kopecks(10_050),
    }
}

async fn a_supplier_round_trips_with_every_field(storage: Storage) {
    let plain = supplier(1);
    let unusual = unusual_supplier(2);
    storage.upsert_supplier(&plain).await.unwrap();
    storage.upsert_supplier(&unusual).await.unwrap();
    assert_eq!(storage.supplier(SupplierId::new(1)).await, Ok(Some(plain)));
    assert_eq!(
        storage.supplier(SupplierId::new(2)).await,
        Ok(Some(unusual))
    );
}

async fn an_upsert_replaces_the_supplier(storage: Storage) {
    storage.upsert_supplier(&supplier(1)).await.unwrap();
    let replaced = unusual_supplier(1);
    storage.upsert_supplier(&replaced).await.unwrap();
    assert_eq!(
        storage.supplier(SupplierId::new(1)).await,
        Ok(Some(replaced))
    );
}

async fn a_missing_supplier_is_none(storage: Storage) {
    assert_eq!(storage.supplier(SupplierId::new(9)).await, Ok(None));
}

async fn corrupt_suppliers_are_reported(storage: Storage) {
    storage.upsert_supplier(&supplier(1)).await.unwrap();
    let id = SupplierId::new(1);
    damage(
        &storage,
        "UPDATE suppliers SET requisites = REPLACE(requisites, '7707083893', '7707083894')",
    )
    .await;
    assert_corrupt(storage.supplier(id).await, "suppliers", "requisites");
    damage(&storage, "UPDATE suppliers SET requisites = '{\"name\":1}'").await;
    assert_corrupt(storage.supplier(id).await, "suppliers", "requisites");
    storage.upsert_supplier(&supplier(1)).await.unwrap();
    damage(
        &storage,
        "UPDATE suppliers SET policy = '{\"readings_window\":7}'",
    )
    .await;
    assert_corrupt(storage.supplier(id).await, "suppliers", "policy");
    storage.upsert_supplier(&supplier(1)).await.unwrap();
    damage(&storage, "UPDATE suppliers SET penalty = 'null'").await;
    assert_corrupt(storage.supplier(id).await, "suppliers", "penalty");
    storage.upsert_supplier(&supplier(1)).await.unwrap();
    // SQLite keeps the text as written; PostgreSQL's NUMERIC(30, 2) rounds it on the way in.
    damage(&storage, "UPDATE suppliers SET minimum_payment = '50.005'").await;
    if storage.backend() == storage_seaorm::Backend::Sqlite {
        assert_corrupt(storage.supplier(id).await, "suppliers", "minimum_payment");
    }
}
