//! Contract of `SubscriberRepository`: round trips, unique handles, version compare-and-swap.

use identity_core::domain::{LoginHandle, PersonName};
use identity_core::model::{BlockedBy, CabinetStatus};
use identity_core::ports::{SubscriberRepository, WriteError};
use storage_seaorm::Storage;

use crate::common::fixtures::*;

contract!(
    round_trips_and_is_found_by_every_handle,
    missing_subscribers_are_none,
    a_taken_id_is_duplicate,
    each_taken_handle_is_duplicate_and_nothing_is_stored,
    cabinets_without_handles_do_not_collide,
    update_is_a_compare_and_swap_on_the_version,
    update_of_a_missing_subscriber_is_conflict,
    update_onto_another_cabinets_handle_is_duplicate_and_writes_nothing,
    a_handle_given_up_can_be_taken,
    blocked_statuses_round_trip,
);

async fn round_trips_and_is_found_by_every_handle(storage: Storage) {
    let mut s = subscriber(1);
    s.pending_email = Some(email(99));
    storage.insert(&s).await.unwrap();
    assert_eq!(storage.get(s.id).await.unwrap(), Some(s.clone()));
    for handle in s.handles() {
        assert_eq!(
            storage.find_by_handle(&handle).await.unwrap(),
            Some(s.clone()),
            "{handle:?}"
        );
    }
    // The pending email is not a login handle.
    let pending = LoginHandle::Email(email(99));
    assert_eq!(storage.find_by_handle(&pending).await.unwrap(), None);
}

async fn missing_subscribers_are_none(storage: Storage) {
    stored_subscriber(&storage, 1).await;
    assert_eq!(storage.get(subscriber_id(2)).await.unwrap(), None);
    for handle in subscriber(2).handles() {
        assert_eq!(storage.find_by_handle(&handle).await.unwrap(), None);
    }
}

async fn a_taken_id_is_duplicate(storage: Storage) {
    let first = stored_subscriber(&storage, 1).await;
    let mut same_id = subscriber(2);
    same_id.id = first.id;
    assert_eq!(storage.insert(&same_id).await, Err(WriteError::Duplicate));
    assert_eq!(storage.get(first.id).await.unwrap(), Some(first));
}

async fn each_taken_handle_is_duplicate_and_nothing_is_stored(storage: Storage) {
    let first = stored_subscriber(&storage, 1).await;
    let clashes = [
        {
            let mut s = subscriber(2);
            // Same ЛС number at another supplier: the handle is the number alone.
            s.account = Some(account("WATER-7", 1001));
            s
        },
        {
            let mut s = subscriber(2);
            s.phone = first.phone.clone();
            s
        },
        {
            let mut s = subscriber(2);
            s.email = first.email.clone();
            s
        },
    ];
    for clash in clashes {
        assert_eq!(storage.insert(&clash).await, Err(WriteError::Duplicate));
        assert_eq!(storage.get(clash.id).await.unwrap(), None);
        for handle in subscriber(2).handles() {
            if !first.handles().contains(&handle) {
                assert_eq!(storage.find_by_handle(&handle).await.unwrap(), None);
            }
        }
    }
}

async fn cabinets_without_handles_do_not_collide(storage: Storage) {
    for n in [1, 2] {
        let mut s = subscriber(n);
        s.account = None;
        s.email = None;
        s.phone = None;
        s.password_hash = None;
        storage.insert(&s).await.unwrap();
        assert_eq!(storage.get(s.id).await.unwrap(), Some(s));
    }
}

async fn update_is_a_compare_and_swap_on_the_version(storage: Storage) {
    let original = stored_subscriber(&storage, 1).await;
    let mut renamed = original.clone();
    renamed.name = PersonName::parse("Петров Пётр").unwrap();
    storage.update(&renamed).await.unwrap();
    let stored = storage.get(original.id).await.unwrap().unwrap();
    assert_eq!(stored.version, 1);
    assert_eq!(stored.name, renamed.name);

    // A second writer that read version 0 loses, and changes nothing.
    let mut stale = original.clone();
    stale.phone = Some(phone(50));
    assert_eq!(storage.update(&stale).await, Err(WriteError::Conflict));
    assert_eq!(
        storage.get(original.id).await.unwrap(),
        Some(stored.clone())
    );

    // Re-read and retry: it applies, and the version moves on.
    let mut retry = stored;
    retry.phone = Some(phone(50));
    storage.update(&retry).await.unwrap();
    let again = storage.get(original.id).await.unwrap().unwrap();
    assert_eq!(again.version, 2);
    assert_eq!(again.phone, Some(phone(50)));
}

async fn update_of_a_missing_subscriber_is_conflict(storage: Storage) {
    assert_eq!(
        storage.update(&subscriber(1)).await,
        Err(WriteError::Conflict)
    );
    assert_eq!(storage.get(subscriber_id(1)).await.unwrap(), None);
}

async fn update_onto_another_cabinets_handle_is_duplicate_and_writes_nothing(storage: Storage) {
    let first = stored_subscriber(&storage, 1).await;
    let second = stored_subscriber(&storage, 2).await;
    let mut thief = second.clone();
    thief.email = first.email.clone();
    thief.name = PersonName::parse("Сидоров Сидор").unwrap();
    assert_eq!(storage.update(&thief).await, Err(WriteError::Duplicate));
    assert_eq!(storage.get(second.id).await.unwrap(), Some(second));
}

async fn a_handle_given_up_can_be_taken(storage: Storage) {
    let first = stored_subscriber(&storage, 1).await;
    let mut moved = first.clone();
    moved.phone = Some(phone(77));
    storage.update(&moved).await.unwrap();
    let mut newcomer = subscriber(2);
    newcomer.phone = first.phone.clone();
    storage.insert(&newcomer).await.unwrap();
    let old_phone = LoginHandle::Phone(first.phone.clone().unwrap());
    assert_eq!(
        storage
            .find_by_handle(&old_phone)
            .await
            .unwrap()
            .map(|s| s.id),
        Some(newcomer.id)
    );
}

async fn blocked_statuses_round_trip(storage: Storage) {
    let statuses = [
        CabinetStatus::Blocked {
            at: at(60),
            by: BlockedBy::Subscriber,
        },
        CabinetStatus::Blocked {
            at: at(120),
            by: BlockedBy::Operator {
                operator: "оператор-17".to_owned(),
            },
        },
    ];
    for (n, status) in (1u8..).zip(statuses) {
        let mut s = subscriber(n);
        s.status = status;
        storage.insert(&s).await.unwrap();
        assert_eq!(storage.get(s.id).await.unwrap(), Some(s.clone()));
        // Unblocking is an ordinary update.
        let mut unblocked = s.clone();
        unblocked.status = CabinetStatus::Active;
        storage.update(&unblocked).await.unwrap();
        let stored = storage.get(s.id).await.unwrap().unwrap();
        assert_eq!(stored.status, CabinetStatus::Active);
    }
}
