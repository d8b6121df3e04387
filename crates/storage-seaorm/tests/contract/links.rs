//! Contract of `LinkRepository`: once per cabinet, one active, oldest first.

use identity_core::ports::{LinkRepository, WriteError};
use storage_seaorm::Storage;

use crate::common::fixtures::*;

contract!(
    lists_oldest_first_per_cabinet,
    an_account_links_once_per_cabinet_but_to_many_cabinets,
    an_active_link_deactivates_the_others,
    a_refused_active_link_changes_nothing,
    remove_reports_whether_it_was_linked,
    set_active_makes_it_the_only_active_one,
);

async fn lists_oldest_first_per_cabinet(storage: Storage) {
    let owner = stored_subscriber(&storage, 1).await.id;
    let other = stored_subscriber(&storage, 2).await.id;
    assert!(storage.list(owner).await.unwrap().is_empty());
    let links = [
        link(account("ES-1", 7), 30, false),
        link(account("ES-1", 5), 10, false),
        link(account("WATER-2", 5), 20, true),
    ];
    for l in &links {
        LinkRepository::insert(&storage, owner, l).await.unwrap();
    }
    LinkRepository::insert(&storage, other, &link(account("ES-1", 9), 0, true))
        .await
        .unwrap();
    assert_eq!(storage.list(owner).await.unwrap(), links.to_vec());
}

async fn an_account_links_once_per_cabinet_but_to_many_cabinets(storage: Storage) {
    let first = stored_subscriber(&storage, 1).await.id;
    let second = stored_subscriber(&storage, 2).await.id;
    let flat = account("ES-1", 42);
    LinkRepository::insert(&storage, first, &link(flat.clone(), 0, true))
        .await
        .unwrap();
    assert_eq!(
        LinkRepository::insert(&storage, first, &link(flat.clone(), 5, false)).await,
        Err(WriteError::Duplicate)
    );
    LinkRepository::insert(&storage, second, &link(flat, 5, true))
        .await
        .unwrap();
    assert_eq!(storage.list(first).await.unwrap().len(), 1);
    assert_eq!(storage.list(second).await.unwrap().len(), 1);
}

async fn an_active_link_deactivates_the_others(storage: Storage) {
    let owner = stored_subscriber(&storage, 1).await.id;
    LinkRepository::insert(&storage, owner, &link(account("ES-1", 1), 0, true))
        .await
        .unwrap();
    LinkRepository::insert(&storage, owner, &link(account("ES-1", 2), 1, false))
        .await
        .unwrap();
    let active: Vec<bool> = storage
        .list(owner)
        .await
        .unwrap()
        .iter()
        .map(|l| l.active)
        .collect();
    assert_eq!(active, [true, false]);
    LinkRepository::insert(&storage, owner, &link(account("ES-1", 3), 2, true))
        .await
        .unwrap();
    let active: Vec<bool> = storage
        .list(owner)
        .await
        .unwrap()
        .iter()
        .map(|l| l.active)
        .collect();
    assert_eq!(active, [false, false, true]);
}

async fn a_refused_active_link_changes_nothing(storage: Storage) {
    let owner = stored_subscriber(&storage, 1).await.id;
    LinkRepository::insert(&storage, owner, &link(account("ES-1", 1), 0, false))
        .await
        .unwrap();
    LinkRepository::insert(&storage, owner, &link(account("ES-1", 2), 1, true))
        .await
        .unwrap();
    let before = storage.list(owner).await.unwrap();
    assert_eq!(
        LinkRepository::insert(&storage, owner, &link(account("ES-1", 1), 2, true)).await,
        Err(WriteError::Duplicate)
    );
    assert_eq!(storage.list(owner).await.unwrap(), before);
}

async fn remove_reports_whether_it_was_linked(storage: Storage) {
    let owner = stored_subscriber(&storage, 1).await.id;
    let other = stored_subscriber(&storage, 2).await.id;
    let flat = account("ES-1", 1);
    LinkRepository::insert(&storage, owner, &link(flat.clone(), 0, true))
        .await
        .unwrap();
    LinkRepository::insert(&storage, other, &link(flat.clone(), 0, true))
        .await
        .unwrap();
    assert!(!storage.remove(owner, &account("ES-1", 2)).await.unwrap());
    assert!(storage.remove(owner, &flat).await.unwrap());
    assert!(!storage.remove(owner, &flat).await.unwrap());
    assert!(storage.list(owner).await.unwrap().is_empty());
    assert_eq!(storage.list(other).await.unwrap().len(), 1);
}

async fn set_active_makes_it_the_only_active_one(storage: Storage) {
    let owner = stored_subscriber(&storage, 1).await.id;
    for (n, active) in [(1, true), (2, false), (3, false)] {
        LinkRepository::insert(&storage, owner, &link(account("ES-1", n), 0, active))
            .await
            .unwrap();
    }
    assert!(
        storage
            .set_active(owner, &account("ES-1", 3))
            .await
            .unwrap()
    );
    let active: Vec<bool> = storage
        .list(owner)
        .await
        .unwrap()
        .iter()
        .map(|l| l.active)
        .collect();
    assert_eq!(active, [false, false, true]);
    // Not linked: false, and nothing changes.
    assert!(
        !storage
            .set_active(owner, &account("ES-1", 9))
            .await
            .unwrap()
    );
    let after: Vec<bool> = storage
        .list(owner)
        .await
        .unwrap()
        .iter()
        .map(|l| l.active)
        .collect();
    assert_eq!(after, [false, false, true]);
}
