//! Contract of `HouseRepository` and the house imports: houses, premises (by id) and period
//! facts round-trip, a period without facts has the default ones, a row naming a missing
//! parent is `NotFound` and a refused batch writes nothing.

use billing_core::ids::{HouseId, PremiseId};
use billing_core::odn::OdnPolicy;
use billing_core::ports::{HousePeriodFacts, HouseRepository, RepoError};
use storage_seaorm::Storage;

use crate::common::billing::period;
use crate::common::seed::*;

contract!(
    houses_and_premises_round_trip,
    premises_are_listed_per_house_by_id,
    missing_houses_and_premises_are_none,
    upserts_replace_by_id,
    period_facts_default_to_nothing_recorded,
    period_facts_round_trip_and_are_replaced,
    rows_naming_a_missing_parent_are_not_found_and_write_nothing,
    corrupt_houses_and_premises_are_reported,
);

async fn houses_and_premises_round_trip(storage: Storage) {
    seed_supplier(&storage, SUPPLIER).await;
    let mut heated = house(2, SUPPLIER);
    heated.electric_heating = true;
    heated.heat_meter = true;
    heated.total_area = d(123_456_789, 4);
    heated.odn = OdnPolicy {
        billed_by_supplier: false,
        cap_at_norm: true,
        norm_per_m2_common: d(1_234, 3),
    };
    let plain = house(1, SUPPLIER);
    storage
        .upsert_houses(&[plain.clone(), heated.clone()])
        .await
        .unwrap();
    let mut office = premise(20, 2, 1);
    office.residential = false;
    office.persons = 0;
    office.rooms = 7;
    office.area = d(1_000_001, 3);
    office.number = "пом. 1Н".into();
    let flat = premise(10, 1, 5);
    storage
        .upsert_premises(&[flat.clone(), office.clone()])
        .await
        .unwrap();
    assert_eq!(storage.house(HouseId::new(1)).await, Ok(Some(plain)));
    assert_eq!(storage.house(HouseId::new(2)).await, Ok(Some(heated)));
    assert_eq!(storage.premise(PremiseId::new(10)).await, Ok(Some(flat)));
    assert_eq!(storage.premise(PremiseId::new(20)).await, Ok(Some(office)));
}

async fn premises_are_listed_per_house_by_id(storage: Storage) {
    seed_supplier(&storage, SUPPLIER).await;
    storage
        .upsert_houses(&[house(1, SUPPLIER), house(2, SUPPLIER)])
        .await
        .unwrap();
    let premises = [
        premise(30, 1, 3),
        premise(10, 1, 1),
        premise(15, 2, 1),
        premise(20, 1, 2),
    ];
    storage.upsert_premises(&premises).await.unwrap();
    let ids: Vec<u64> = storage
        .premises(HouseId::new(1))
        .await
        .unwrap()
        .iter()
        .map(|p| p.id.get())
        .collect();
    assert_eq!(ids, [10, 20, 30]);
    assert_eq!(storage.premises(HouseId::new(2)).await.unwrap().len(), 1);
    assert!(storage.premises(HouseId::new(3)).await.unwrap().is_empty());
}

async fn missing_houses_and_premises_are_none(storage: Storage) {
    assert_eq!(storage.house(HouseId::new(1)).await, Ok(None));
    assert_eq!(storage.premise(PremiseId::new(1)).await, Ok(None));
}

async fn upserts_replace_by_id(storage: Storage) {
    seed_supplier(&storage, SUPPLIER).await;
    storage.upsert_houses(&[house(1, SUPPLIER)]).await.unwrap();
    storage.upsert_premises(&[premise(10, 1, 1)]).await.unwrap();
    let mut moved = house(1, SUPPLIER);
    moved.address = "г. Тула, ул. Пушкина, д. 2".into();
    let mut bigger = premise(10, 1, 1);
    bigger.area = d(600, 1);
    bigger.persons = 4;
    // The last row of an id in one call wins.
    storage
        .upsert_houses(&[house(1, SUPPLIER), moved.clone()])
        .await
        .unwrap();
    storage
        .upsert_premises(std::slice::from_ref(&bigger))
        .await
        .unwrap();
    assert_eq!(storage.house(HouseId::new(1)).await, Ok(Some(moved)));
    assert_eq!(storage.premise(PremiseId::new(10)).await, Ok(Some(bigger)));
    assert_eq!(count_rows(&storage, "houses").await, 1);
    assert_eq!(count_rows(&storage, "premises").await, 1);
}

async fn period_facts_default_to_nothing_recorded(storage: Storage) {
    seed_supplier(&storage, SUPPLIER).await;
    storage.upsert_houses(&[house(1, SUPPLIER)]).await.unwrap();
    let facts = storage
        .period_facts(HouseId::new(1), period(2025, 3))
        .await
        .unwrap();
    assert_eq!(facts, HousePeriodFacts::default());
    assert_eq!(facts.house_meter_volume, None);
    // Also for a house that does not exist.
    assert_eq!(
        storage.period_facts(HouseId::new(9), period(2025, 3)).await,
        Ok(HousePeriodFacts::default())
    );
}

async fn period_facts_round_trip_and_are_replaced(storage: Storage) {
    seed_supplier(&storage, SUPPLIER).await;
    storage.upsert_houses(&[house(1, SUPPLIER)]).await.unwrap();
    let (house_id, march) = (HouseId::new(1), period(2025, 3));
    let full = HousePeriodFacts {
        house_meter_volume: Some(d(1_234_567, 3)),
        other_non_residential_volume: d(4_500, 1),
        heat_production_volume: d(12, 0),
        carried_in: d(-3_275, 2),
        heat_meter_volume: Some(d(1_575, 4)),
    };
    storage
        .put_house_facts(house_id, march, &full)
        .await
        .unwrap();
    assert_eq!(storage.period_facts(house_id, march).await, Ok(full));
    assert_eq!(
        storage.period_facts(house_id, march.next()).await,
        Ok(HousePeriodFacts::default())
    );
    let partial = HousePeriodFacts {
        other_non_residential_volume: d(1, 0),
        ..HousePeriodFacts::default()
    };
    storage
        .put_house_facts(house_id, march, &partial)
        .await
        .unwrap();
    assert_eq!(storage.period_facts(house_id, march).await, Ok(partial));
}

async fn rows_naming_a_missing_parent_are_not_found_and_write_nothing(storage: Storage) {
    assert_eq!(
        storage.upsert_houses(&[house(1, SUPPLIER)]).await,
        Err(RepoError::NotFound)
    );
    seed_supplier(&storage, SUPPLIER).await;
    // The second house names a supplier that does not exist: neither is written.
    assert_eq!(
        storage
            .upsert_houses(&[house(1, SUPPLIER), house(2, 7)])
            .await,
        Err(RepoError::NotFound)
    );
    assert_eq!(count_rows(&storage, "houses").await, 0);
    storage.upsert_houses(&[house(1, SUPPLIER)]).await.unwrap();
    assert_eq!(
        storage
            .upsert_premises(&[premise(10, 1, 1), premise(11, 2, 1)])
            .await,
        Err(RepoError::NotFound)
    );
    assert_eq!(count_rows(&storage, "premises").await, 0);
    assert_eq!(
        storage
            .put_house_facts(
                HouseId::new(2),
                period(2025, 3),
                &HousePeriodFacts::default()
            )
            .await,
        Err(RepoError::NotFound)
    );
    assert_eq!(count_rows(&storage, "house_period_facts").await, 0);
}

async fn corrupt_houses_and_premises_are_reported(storage: Storage) {
    seed_house(&storage).await;
    damage(&storage, "UPDATE houses SET odn = '{\"cap_at_norm\":true}'").await;
    assert_corrupt(storage.house(HouseId::new(1)).await, "houses", "odn");
    damage(&storage, "UPDATE premises SET persons = -2").await;
    assert_corrupt(
        storage.premise(PremiseId::new(1_000_001)).await,
        "premises",
        "persons",
    );
    assert_corrupt(
        storage.premises(HouseId::new(1)).await,
        "premises",
        "persons",
    );
    // Only SQLite's exact-text columns can hold a decimal that does not parse.
    if storage.backend() == storage_seaorm::Backend::Sqlite {
        let march = period(2025, 3);
        storage
            .put_house_facts(HouseId::new(1), march, &HousePeriodFacts::default())
            .await
            .unwrap();
        damage(&storage, "UPDATE house_period_facts SET carried_in = 'x'").await;
        assert_corrupt(
            storage.period_facts(HouseId::new(1), march).await,
            "house_period_facts",
            "carried_in",
        );
        damage(&storage, "UPDATE premises SET persons = 2, area = '1,5'").await;
        assert_corrupt(storage.premises(HouseId::new(1)).await, "premises", "area");
    }
}

async fn seed_house(storage: &Storage) {
    house_with_accounts(storage, 1, 1).await;
}
