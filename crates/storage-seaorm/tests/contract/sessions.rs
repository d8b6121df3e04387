//! Contract of `SessionRepository`: found by token digest with its cabinet, touched, revoked
//! one or all.

use identity_core::crypto::SecretDigest;
use identity_core::model::SessionRecord;
use identity_core::ports::{SessionRepository, SubscriberRepository};
use storage_seaorm::Storage;

use crate::common::fixtures::*;

contract!(
    round_trips_by_token_digest,
    touch_moves_the_idle_deadline,
    revoke_ends_one_unrevoked_session_of_its_owner,
    revoke_all_keeps_the_one_asked_for_and_counts,
    a_cabinet_that_does_not_decode_is_an_error_not_an_absent_one,
);

/// The session stored under `token`, without its cabinet.
async fn found(storage: &Storage, token: &SecretDigest) -> Option<SessionRecord> {
    storage
        .find_with_subscriber(token)
        .await
        .unwrap()
        .map(|(session, _)| session)
}

async fn round_trips_by_token_digest(storage: Storage) {
    // The owner is not the first cabinet stored, so a join that ignored its condition would
    // bring the wrong one.
    stored_subscriber(&storage, 1).await;
    let cabinet = stored_subscriber(&storage, 2).await;
    let owner = cabinet.id;
    let mut s = session(1, owner, 0);
    s.client.device = None;
    SessionRepository::insert(&storage, &s).await.unwrap();
    // The session comes with its own cabinet (one read, a join), not another one.
    let (session, with) = storage
        .find_with_subscriber(&s.token_digest)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(session, s);
    let stored = SubscriberRepository::get(&storage, owner).await.unwrap();
    assert_eq!(with, stored);
    assert_eq!(with.map(|c| c.id), Some(cabinet.id));
    assert_eq!(
        storage.find_with_subscriber(&digest("nope")).await.unwrap(),
        None
    );
    assert_eq!(
        SessionRepository::list(&storage, owner).await.unwrap(),
        vec![s]
    );
}

async fn touch_moves_the_idle_deadline(storage: Storage) {
    let owner = stored_subscriber(&storage, 1).await.id;
    let s = session(1, owner, 0);
    let other = session(2, owner, 0);
    SessionRepository::insert(&storage, &s).await.unwrap();
    SessionRepository::insert(&storage, &other).await.unwrap();
    storage.touch(s.id, at(600)).await.unwrap();
    let touched = found(&storage, &s.token_digest).await.unwrap();
    assert_eq!(touched.last_seen_at, at(600));
    assert_eq!(touched.created_at, at(0));
    let untouched = found(&storage, &other.token_digest).await.unwrap();
    assert_eq!(untouched.last_seen_at, at(0));
}

async fn revoke_ends_one_unrevoked_session_of_its_owner(storage: Storage) {
    let owner = stored_subscriber(&storage, 1).await.id;
    let stranger = stored_subscriber(&storage, 2).await.id;
    let s = session(1, owner, 0);
    SessionRepository::insert(&storage, &s).await.unwrap();
    assert!(!storage.revoke(stranger, s.id, at(5)).await.unwrap());
    assert!(storage.revoke(owner, s.id, at(10)).await.unwrap());
    assert!(!storage.revoke(owner, s.id, at(20)).await.unwrap());
    // Still found by its token (the core refuses it), with the first revocation time.
    let revoked = found(&storage, &s.token_digest).await.unwrap();
    assert_eq!(revoked.revoked_at, Some(at(10)));
    assert!(
        SessionRepository::list(&storage, owner)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn revoke_all_keeps_the_one_asked_for_and_counts(storage: Storage) {
    let owner = stored_subscriber(&storage, 1).await.id;
    let other = stored_subscriber(&storage, 2).await.id;
    for n in 1..=4 {
        SessionRepository::insert(&storage, &session(n, owner, i64::from(n)))
            .await
            .unwrap();
    }
    SessionRepository::insert(&storage, &session(9, other, 0))
        .await
        .unwrap();
    assert!(storage.revoke(owner, session_id(4), at(10)).await.unwrap());
    assert_eq!(
        storage
            .revoke_all(owner, Some(session_id(2)), at(20))
            .await
            .unwrap(),
        2
    );
    let left: Vec<_> = SessionRepository::list(&storage, owner)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(left, vec![session_id(2)]);
    assert_eq!(storage.revoke_all(owner, None, at(30)).await.unwrap(), 1);
    assert_eq!(storage.revoke_all(owner, None, at(40)).await.unwrap(), 0);
    assert_eq!(
        SessionRepository::list(&storage, other)
            .await
            .unwrap()
            .len(),
        1
    );
    let fourth = found(&storage, &session(4, owner, 4).token_digest)
        .await
        .unwrap();
    assert_eq!(fourth.revoked_at, Some(at(10)));
}

async fn a_cabinet_that_does_not_decode_is_an_error_not_an_absent_one(storage: Storage) {
    let owner = stored_subscriber(&storage, 1).await.id;
    let s = session(1, owner, 0);
    SessionRepository::insert(&storage, &s).await.unwrap();
    if storage.backend() == storage_seaorm::Backend::Sqlite {
        // SQLite lets a column hold a value of another type; PostgreSQL refuses the UPDATE.
        crate::common::seed::damage(&storage, "UPDATE subscribers SET version = 'x'").await;
        assert!(storage.find_with_subscriber(&s.token_digest).await.is_err());
    }
}
