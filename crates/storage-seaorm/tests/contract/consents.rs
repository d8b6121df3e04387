//! Contract of `ConsentRepository`: oldest first, withdrawn ones kept, withdrawn once.

use identity_core::ports::ConsentRepository;
use storage_seaorm::Storage;

use crate::common::fixtures::*;

contract!(lists_every_consent_oldest_first, withdraw_once_by_its_owner);

async fn lists_every_consent_oldest_first(storage: Storage) {
    let owner = stored_subscriber(&storage, 1).await.id;
    let other = stored_subscriber(&storage, 2).await.id;
    assert!(
        ConsentRepository::list(&storage, owner)
            .await
            .unwrap()
            .is_empty()
    );
    let mut second = consent(2, owner, 0);
    second.client.device = None;
    let consents = [consent(1, owner, 5), second];
    for c in &consents {
        ConsentRepository::insert(&storage, c).await.unwrap();
    }
    ConsentRepository::insert(&storage, &consent(3, other, 0))
        .await
        .unwrap();
    assert_eq!(
        ConsentRepository::list(&storage, owner).await.unwrap(),
        consents.to_vec()
    );
}

async fn withdraw_once_by_its_owner(storage: Storage) {
    let owner = stored_subscriber(&storage, 1).await.id;
    let other = stored_subscriber(&storage, 2).await.id;
    let c = consent(1, owner, 0);
    ConsentRepository::insert(&storage, &c).await.unwrap();
    assert!(!storage.withdraw(other, c.id, at(5)).await.unwrap());
    assert!(!storage.withdraw(owner, consent_id(7), at(5)).await.unwrap());
    assert!(storage.withdraw(owner, c.id, at(10)).await.unwrap());
    assert!(!storage.withdraw(owner, c.id, at(20)).await.unwrap());
    let mut withdrawn = c;
    withdrawn.withdrawn_at = Some(at(10));
    assert_eq!(
        ConsentRepository::list(&storage, owner).await.unwrap(),
        vec![withdrawn]
    );
}
