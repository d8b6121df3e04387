//! Contracts of `OperatorRepository`, `ApiKeyRepository` and `OperatorSessionRepository`:
//! operators unique by id and login, keys found by digest and revoked once, operator sessions
//! found by token digest, touched and revoked once.

use identity_core::domain::OperatorLogin;
use identity_core::model::OperatorRole;
use identity_core::ports::{
    ApiKeyRepository, OperatorRepository, OperatorSessionRepository, WriteError,
};
use storage_seaorm::Storage;
use time::Duration;

use crate::common::fixtures::*;

contract!(
    an_operator_round_trips_by_id_and_login,
    an_operator_id_or_login_is_stored_once,
    a_missing_operator_is_none,
    an_api_key_round_trips_by_digest,
    an_api_key_id_or_digest_is_stored_once,
    api_keys_are_listed_oldest_first_revoked_included,
    an_api_key_is_revoked_once,
    an_operator_session_round_trips_by_token,
    an_operator_session_token_is_stored_once,
    touch_moves_one_operator_sessions_idle_deadline,
    an_operator_session_is_revoked_once,
);

async fn an_operator_round_trips_by_id_and_login(storage: Storage) {
    for (n, role) in (1..).zip(OperatorRole::ALL) {
        let mut o = operator(n, role);
        o.created_at = at(i64::from(n)) + Duration::nanoseconds(999_999_999);
        if role == OperatorRole::Billing {
            o.disabled_at = Some(at(100) + Duration::nanoseconds(1));
        }
        OperatorRepository::insert(&storage, &o).await.unwrap();
        assert_eq!(
            OperatorRepository::get(&storage, o.id).await.unwrap(),
            Some(o.clone())
        );
        assert_eq!(storage.find_by_login(&o.login).await.unwrap(), Some(o));
    }
    // Logins are case-insensitive: the parsed form is what is stored and looked up.
    let login = OperatorLogin::parse("  OPERATOR-1 ").unwrap();
    assert_eq!(
        storage.find_by_login(&login).await.unwrap().map(|o| o.id),
        Some(operator_id(1))
    );
}

async fn an_operator_id_or_login_is_stored_once(storage: Storage) {
    let first = stored_operator(&storage, 1, OperatorRole::Admin).await;
    let same_login = operator(2, OperatorRole::Support);
    let same_login = identity_core::model::Operator {
        login: first.login.clone(),
        ..same_login
    };
    assert_eq!(
        OperatorRepository::insert(&storage, &same_login).await,
        Err(WriteError::Duplicate)
    );
    assert_eq!(
        OperatorRepository::get(&storage, operator_id(2))
            .await
            .unwrap(),
        None
    );
    let same_id = identity_core::model::Operator {
        id: first.id,
        ..operator(3, OperatorRole::Billing)
    };
    assert_eq!(
        OperatorRepository::insert(&storage, &same_id).await,
        Err(WriteError::Duplicate)
    );
    assert_eq!(storage.find_by_login(&same_id.login).await.unwrap(), None);
    assert_eq!(
        OperatorRepository::get(&storage, first.id).await.unwrap(),
        Some(first)
    );
}

async fn a_missing_operator_is_none(storage: Storage) {
    stored_operator(&storage, 1, OperatorRole::Admin).await;
    assert_eq!(
        OperatorRepository::get(&storage, operator_id(2))
            .await
            .unwrap(),
        None
    );
    let login = OperatorLogin::parse("operator-2").unwrap();
    assert_eq!(storage.find_by_login(&login).await.unwrap(), None);
    assert_eq!(
        storage
            .find_by_key_digest(&digest("api-key-1"))
            .await
            .unwrap(),
        None
    );
    assert!(ApiKeyRepository::list(&storage).await.unwrap().is_empty());
    assert_eq!(
        OperatorSessionRepository::find_by_token(&storage, &digest("operator-token-1"))
            .await
            .unwrap(),
        None
    );
}

async fn an_api_key_round_trips_by_digest(storage: Storage) {
    let owner = stored_operator(&storage, 1, OperatorRole::Admin).await.id;
    for (n, role) in (1..).zip(OperatorRole::ALL) {
        let mut k = api_key(n, owner, i64::from(n));
        k.role = role;
        k.created_at += Duration::nanoseconds(5);
        if role == OperatorRole::Support {
            k.revoked_at = Some(at(50));
            k.name = String::new();
        }
        ApiKeyRepository::insert(&storage, &k).await.unwrap();
        assert_eq!(
            storage.find_by_key_digest(&k.digest).await.unwrap(),
            Some(k)
        );
    }
}

async fn an_api_key_id_or_digest_is_stored_once(storage: Storage) {
    let owner = stored_operator(&storage, 1, OperatorRole::Admin).await.id;
    let first = api_key(1, owner, 0);
    ApiKeyRepository::insert(&storage, &first).await.unwrap();
    let same_digest = identity_core::model::ApiKeyRecord {
        digest: first.digest,
        ..api_key(2, owner, 10)
    };
    assert_eq!(
        ApiKeyRepository::insert(&storage, &same_digest).await,
        Err(WriteError::Duplicate)
    );
    let same_id = identity_core::model::ApiKeyRecord {
        id: first.id,
        ..api_key(3, owner, 10)
    };
    assert_eq!(
        ApiKeyRepository::insert(&storage, &same_id).await,
        Err(WriteError::Duplicate)
    );
    assert_eq!(
        storage.find_by_key_digest(&same_id.digest).await.unwrap(),
        None
    );
    assert_eq!(ApiKeyRepository::list(&storage).await.unwrap(), [first]);
}

async fn api_keys_are_listed_oldest_first_revoked_included(storage: Storage) {
    let admin = stored_operator(&storage, 1, OperatorRole::Admin).await.id;
    let billing = stored_operator(&storage, 2, OperatorRole::Billing).await.id;
    // Keys 3 and 1 are created at the same instant: the id breaks the tie.
    for (n, owner, seconds) in [
        (3, admin, 10),
        (2, billing, 20),
        (1, billing, 10),
        (4, admin, 5),
    ] {
        ApiKeyRepository::insert(&storage, &api_key(n, owner, seconds))
            .await
            .unwrap();
    }
    assert!(
        ApiKeyRepository::revoke(&storage, api_key_id(3), at(30))
            .await
            .unwrap()
    );
    let listed = ApiKeyRepository::list(&storage).await.unwrap();
    let order: Vec<_> = listed.iter().map(|k| k.id).collect();
    assert_eq!(
        order,
        [api_key_id(4), api_key_id(1), api_key_id(3), api_key_id(2)]
    );
    assert_eq!(listed[2].revoked_at, Some(at(30)));
    assert_eq!(listed[1], api_key(1, billing, 10));
}

async fn an_api_key_is_revoked_once(storage: Storage) {
    let owner = stored_operator(&storage, 1, OperatorRole::Admin).await.id;
    let k = api_key(1, owner, 0);
    let other = api_key(2, owner, 0);
    ApiKeyRepository::insert(&storage, &k).await.unwrap();
    ApiKeyRepository::insert(&storage, &other).await.unwrap();
    let first = at(10) + Duration::nanoseconds(3);
    assert!(
        ApiKeyRepository::revoke(&storage, k.id, first)
            .await
            .unwrap()
    );
    assert!(
        !ApiKeyRepository::revoke(&storage, k.id, at(20))
            .await
            .unwrap()
    );
    assert!(
        !ApiKeyRepository::revoke(&storage, api_key_id(9), at(20))
            .await
            .unwrap()
    );
    // Still found by its digest (the core refuses it), with the first revocation time.
    let revoked = storage
        .find_by_key_digest(&k.digest)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(revoked.revoked_at, Some(first));
    assert_eq!(
        storage.find_by_key_digest(&other.digest).await.unwrap(),
        Some(other)
    );
}

async fn an_operator_session_round_trips_by_token(storage: Storage) {
    let owner = stored_operator(&storage, 1, OperatorRole::Support).await.id;
    let mut s = operator_session(1, owner, 0);
    s.last_seen_at = at(30) + Duration::nanoseconds(42);
    let mut revoked = operator_session(2, owner, 5);
    revoked.revoked_at = Some(at(60));
    for s in [&s, &revoked] {
        OperatorSessionRepository::insert(&storage, s)
            .await
            .unwrap();
        assert_eq!(
            OperatorSessionRepository::find_by_token(&storage, &s.token_digest)
                .await
                .unwrap(),
            Some(s.clone())
        );
    }
}

async fn an_operator_session_token_is_stored_once(storage: Storage) {
    let owner = stored_operator(&storage, 1, OperatorRole::Support).await.id;
    let s = operator_session(1, owner, 0);
    OperatorSessionRepository::insert(&storage, &s)
        .await
        .unwrap();
    let same_token = identity_core::model::OperatorSessionRecord {
        token_digest: s.token_digest,
        ..operator_session(2, owner, 10)
    };
    assert!(
        OperatorSessionRepository::insert(&storage, &same_token)
            .await
            .is_err()
    );
    assert_eq!(
        OperatorSessionRepository::find_by_token(&storage, &s.token_digest)
            .await
            .unwrap(),
        Some(s)
    );
}

async fn touch_moves_one_operator_sessions_idle_deadline(storage: Storage) {
    let owner = stored_operator(&storage, 1, OperatorRole::Support).await.id;
    let s = operator_session(1, owner, 0);
    let other = operator_session(2, owner, 0);
    OperatorSessionRepository::insert(&storage, &s)
        .await
        .unwrap();
    OperatorSessionRepository::insert(&storage, &other)
        .await
        .unwrap();
    OperatorSessionRepository::touch(&storage, s.id, at(600))
        .await
        .unwrap();
    // Touching a session that does not exist changes nothing and is not an error.
    OperatorSessionRepository::touch(&storage, operator_session_id(9), at(700))
        .await
        .unwrap();
    let touched = OperatorSessionRepository::find_by_token(&storage, &s.token_digest)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(touched.last_seen_at, at(600));
    assert_eq!(touched.created_at, at(0));
    let untouched = OperatorSessionRepository::find_by_token(&storage, &other.token_digest)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(untouched, other);
}

async fn an_operator_session_is_revoked_once(storage: Storage) {
    let owner = stored_operator(&storage, 1, OperatorRole::Support).await.id;
    let s = operator_session(1, owner, 0);
    let other = operator_session(2, owner, 0);
    OperatorSessionRepository::insert(&storage, &s)
        .await
        .unwrap();
    OperatorSessionRepository::insert(&storage, &other)
        .await
        .unwrap();
    assert!(
        OperatorSessionRepository::revoke(&storage, s.id, at(10))
            .await
            .unwrap()
    );
    assert!(
        !OperatorSessionRepository::revoke(&storage, s.id, at(20))
            .await
            .unwrap()
    );
    assert!(
        !OperatorSessionRepository::revoke(&storage, operator_session_id(9), at(20))
            .await
            .unwrap()
    );
    let revoked = OperatorSessionRepository::find_by_token(&storage, &s.token_digest)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(revoked.revoked_at, Some(at(10)));
    assert_eq!(
        OperatorSessionRepository::find_by_token(&storage, &other.token_digest)
            .await
            .unwrap(),
        Some(other)
    );
}
