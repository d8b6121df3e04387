//! Contract of `AccountRepository` and `Storage::upsert_accounts`: accounts round-trip, are
//! found by their printed number per supplier and listed per house by id; a printed number
//! names one account of a supplier (`Duplicate`, writing nothing); a missing parent is
//! `NotFound`; ten thousand accounts import in one call.

use billing_core::ids::{AccountId, HouseId, SupplierId};
use billing_core::model::{AccountNumber, AccountService};
use billing_core::ports::{AccountRepository, RepoError};
use billing_core::service::ServiceKind;
use billing_core::tariff::ConsumerGroup;
use storage_seaorm::Storage;

use crate::common::seed::*;

contract!(
    accounts_round_trip_with_every_field,
    accounts_are_found_by_number_per_supplier,
    a_houses_accounts_are_listed_by_id,
    a_number_names_one_account_of_a_supplier,
    accounts_naming_a_missing_parent_are_not_found,
    ten_thousand_accounts_import_in_one_call,
    corrupt_accounts_are_reported,
);

fn number(n: &str) -> AccountNumber {
    AccountNumber::parse(n).unwrap()
}

async fn accounts_round_trip_with_every_field(storage: Storage) {
    let seeded = house_with_accounts(&storage, 1, 2).await;
    let mut rural = account(
        seeded.accounts[1].id.get(),
        SUPPLIER,
        seeded.premises[1].id.get(),
        "12345678901234567890",
    );
    rural.group = ConsumerGroup::Rural;
    rural.holder = "Сидорова Мария Петровна".into();
    rural.services = vec![
        AccountService {
            service: ServiceKind::Heating,
            norm_per_unit: d(156, 4),
            meter_installable: false,
        },
        AccountService {
            service: ServiceKind::HotWater,
            norm_per_unit: d(3_6, 1),
            meter_installable: true,
        },
    ];
    let mut bare = rural.clone();
    bare.group = ConsumerGroup::Equated;
    bare.services = Vec::new();
    bare.number = number("7");
    bare.id = AccountId::new(5);
    let mut stoves = bare.clone();
    stoves.group = ConsumerGroup::UrbanElectricStoves;
    stoves.number = number("8");
    stoves.id = AccountId::new(6);
    storage
        .upsert_accounts(&[rural.clone(), bare.clone(), stoves.clone()])
        .await
        .unwrap();
    let first = &seeded.accounts[0];
    assert_eq!(storage.account(first.id).await, Ok(Some(first.clone())));
    for a in [rural, bare, stoves] {
        assert_eq!(storage.account(a.id).await, Ok(Some(a)));
    }
    assert_eq!(storage.account(AccountId::new(99)).await, Ok(None));
}

async fn accounts_are_found_by_number_per_supplier(storage: Storage) {
    let seeded = house_with_accounts(&storage, 1, 2).await;
    seed_supplier(&storage, 2).await;
    // The same printed number at another supplier is another account.
    let premise = seeded.premises[0].id.get();
    let elsewhere = account(50, 2, premise, seeded.accounts[0].number.as_str());
    storage
        .upsert_accounts(std::slice::from_ref(&elsewhere))
        .await
        .unwrap();
    let first = &seeded.accounts[0];
    assert_eq!(
        storage
            .find_by_number(SupplierId::new(SUPPLIER), &first.number)
            .await,
        Ok(Some(first.clone()))
    );
    assert_eq!(
        storage
            .find_by_number(SupplierId::new(2), &first.number)
            .await,
        Ok(Some(elsewhere))
    );
    assert_eq!(
        storage
            .find_by_number(SupplierId::new(SUPPLIER), &number("404"))
            .await,
        Ok(None)
    );
}

async fn a_houses_accounts_are_listed_by_id(storage: Storage) {
    let one = house_with_accounts(&storage, 1, 3).await;
    house_with_accounts(&storage, 2, 2).await;
    // A second account on the last premise, with the smallest id: listed first.
    let extra = account(5, SUPPLIER, one.premises[2].id.get(), "990");
    storage
        .upsert_accounts(std::slice::from_ref(&extra))
        .await
        .unwrap();
    let ids: Vec<u64> = storage
        .accounts_in_house(HouseId::new(1))
        .await
        .unwrap()
        .iter()
        .map(|a| a.id.get())
        .collect();
    assert_eq!(ids, [5, 1_000_001, 1_000_002, 1_000_003]);
    assert_eq!(
        storage
            .accounts_in_house(HouseId::new(2))
            .await
            .unwrap()
            .len(),
        2
    );
    assert!(
        storage
            .accounts_in_house(HouseId::new(3))
            .await
            .unwrap()
            .is_empty()
    );
}

async fn a_number_names_one_account_of_a_supplier(storage: Storage) {
    let seeded = house_with_accounts(&storage, 1, 2).await;
    let premise = seeded.premises[0].id.get();
    let taken = seeded.accounts[0].number.as_str().to_owned();
    // A new account with a number in use: refused, and nothing of its batch is written.
    assert_eq!(
        storage
            .upsert_accounts(&[
                account(60, SUPPLIER, premise, "600"),
                account(61, SUPPLIER, premise, &taken),
            ])
            .await,
        Err(RepoError::Duplicate)
    );
    assert_eq!(storage.account(AccountId::new(60)).await, Ok(None));
    assert_eq!(count_rows(&storage, "accounts").await, 2);
    // Two new accounts with one number in one batch.
    assert_eq!(
        storage
            .upsert_accounts(&[
                account(60, SUPPLIER, premise, "600"),
                account(61, SUPPLIER, premise, "600"),
            ])
            .await,
        Err(RepoError::Duplicate)
    );
    // An existing account taking another's number.
    let mut renumbered = seeded.accounts[1].clone();
    renumbered.number = seeded.accounts[0].number.clone();
    assert_eq!(
        storage.upsert_accounts(&[renumbered]).await,
        Err(RepoError::Duplicate)
    );
    // Renumbering to a free number, or keeping one's own, is fine.
    let mut renumbered = seeded.accounts[1].clone();
    renumbered.number = number("777");
    storage
        .upsert_accounts(&[seeded.accounts[0].clone(), renumbered.clone()])
        .await
        .unwrap();
    assert_eq!(
        storage
            .find_by_number(SupplierId::new(SUPPLIER), &number("777"))
            .await,
        Ok(Some(renumbered))
    );
}

async fn accounts_naming_a_missing_parent_are_not_found(storage: Storage) {
    let seeded = house_with_accounts(&storage, 1, 1).await;
    let premise = seeded.premises[0].id.get();
    assert_eq!(
        storage
            .upsert_accounts(&[account(70, SUPPLIER, 999, "70")])
            .await,
        Err(RepoError::NotFound)
    );
    assert_eq!(
        storage
            .upsert_accounts(&[
                account(71, SUPPLIER, premise, "71"),
                account(72, 9, premise, "72")
            ])
            .await,
        Err(RepoError::NotFound)
    );
    assert_eq!(count_rows(&storage, "accounts").await, 1);
}

async fn ten_thousand_accounts_import_in_one_call(storage: Storage) {
    const N: usize = 10_000;
    let seeded = build_house(3, N);
    seed_supplier(&storage, SUPPLIER).await;
    storage
        .upsert_houses(std::slice::from_ref(&seeded.house))
        .await
        .unwrap();
    storage.upsert_premises(&seeded.premises).await.unwrap();
    storage.upsert_accounts(&seeded.accounts).await.unwrap();
    storage.upsert_meters(&seeded.meters).await.unwrap();
    let stored = storage.accounts_in_house(HouseId::new(3)).await.unwrap();
    assert_eq!(stored, seeded.accounts);
    assert_eq!(count_rows(&storage, "meters").await, 10_000);
    // Importing again updates in place.
    storage.upsert_accounts(&seeded.accounts).await.unwrap();
    assert_eq!(count_rows(&storage, "accounts").await, 10_000);
}

async fn corrupt_accounts_are_reported(storage: Storage) {
    let seeded = house_with_accounts(&storage, 1, 1).await;
    let id = seeded.accounts[0].id;
    damage(&storage, "UPDATE accounts SET consumer_group = 'nobles'").await;
    assert_corrupt(storage.account(id).await, "accounts", "consumer_group");
    damage(
        &storage,
        "UPDATE accounts SET consumer_group = 'population', services = '[{\"service\":\"gas\"}]'",
    )
    .await;
    assert_corrupt(storage.account(id).await, "accounts", "services");
    assert_corrupt(
        storage.accounts_in_house(HouseId::new(1)).await,
        "accounts",
        "services",
    );
    damage(
        &storage,
        "UPDATE accounts SET services = '[]', number = '12-x'",
    )
    .await;
    assert_corrupt(storage.account(id).await, "accounts", "number");
}
