//! Contract of `SecurityLog`: append-only, newest first, limited, every kind round-trips.

use identity_core::model::{BlockedBy, LinkProof, SecurityEventKind};
use identity_core::ports::SecurityLog;
use storage_seaorm::Storage;

use crate::common::fixtures::*;

contract!(every_kind_round_trips_newest_first, limit_and_owner_filter);

fn every_kind() -> Vec<SecurityEventKind> {
    use SecurityEventKind as K;
    vec![
        K::Registered,
        K::SignedIn {
            session: session_id(1),
        },
        K::SignInFailed,
        K::SessionEnded {
            session: session_id(2),
        },
        K::SignedOutEverywhere { sessions: 3 },
        K::PasswordChanged,
        K::PasswordRecovered,
        K::EmailChanged,
        K::PhoneChanged,
        K::PersonalDataChanged,
        K::AccountLinked {
            account: account("ES-1", 5),
            proof: LinkProof::Address,
        },
        K::LinkProofRejected,
        K::AccountUnlinked {
            account: account("ES-1", 5),
        },
        K::ActiveAccountSwitched {
            account: account("WATER-2", 6),
        },
        K::CabinetBlocked {
            by: BlockedBy::Subscriber,
        },
        K::CabinetBlocked {
            by: BlockedBy::Operator {
                operator: "op-1".to_owned(),
            },
        },
        K::CabinetUnblocked {
            operator: "op-1".to_owned(),
        },
        K::ConsentGiven {
            consent: consent_id(1),
        },
        K::ConsentWithdrawn {
            consent: consent_id(1),
        },
    ]
}

async fn every_kind_round_trips_newest_first(storage: Storage) {
    let owner = stored_subscriber(&storage, 1).await.id;
    // All at the same instant: the order is the order of appending.
    let events: Vec<_> = every_kind()
        .into_iter()
        .map(|k| event(owner, 0, k))
        .collect();
    for e in &events {
        storage.append(e).await.unwrap();
    }
    let newest_first: Vec<_> = events.iter().rev().cloned().collect();
    assert_eq!(
        SecurityLog::list(&storage, owner, 100).await.unwrap(),
        newest_first
    );
}

async fn limit_and_owner_filter(storage: Storage) {
    let owner = stored_subscriber(&storage, 1).await.id;
    let other = stored_subscriber(&storage, 2).await.id;
    for n in 0..5 {
        storage
            .append(&event(owner, n, SecurityEventKind::SignInFailed))
            .await
            .unwrap();
        storage
            .append(&event(other, n, SecurityEventKind::PasswordChanged))
            .await
            .unwrap();
    }
    let latest = SecurityLog::list(&storage, owner, 2).await.unwrap();
    assert_eq!(
        latest,
        vec![
            event(owner, 4, SecurityEventKind::SignInFailed),
            event(owner, 3, SecurityEventKind::SignInFailed),
        ]
    );
    assert!(
        SecurityLog::list(&storage, owner, 0)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        SecurityLog::list(&storage, other, 10).await.unwrap().len(),
        5
    );
}
