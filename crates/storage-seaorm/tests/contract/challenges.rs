//! Contract of `ChallengeRepository`: every purpose round-trips; `attempt`, `consume`,
//! `consume_recovery` and `reissue` behave exactly as the port documents.

use identity_core::domain::{Channel, ClientInfo, PersonName};
use identity_core::model::{
    AttemptOutcome, ChallengePurpose, ConsentDocument, LinkProof, RegistrationDraft,
};
use identity_core::password::PasswordHash;
use identity_core::ports::ChallengeRepository;
use storage_seaorm::Storage;

use crate::common::fixtures::*;

contract!(
    every_purpose_round_trips_by_id_and_digest,
    attempt_reports_each_state_and_counts_wrong_codes,
    attempt_refuses_without_counting_once_exhausted_expired_or_used,
    consume_is_a_compare_and_set,
    reissue_replaces_the_secret_of_an_unused_challenge,
    consume_recovery_uses_up_the_cabinets_other_recovery_challenges,
    a_failed_consume_recovery_changes_nothing,
);

const MAX: u32 = 3;

fn draft(n: u8, with_account: bool) -> RegistrationDraft {
    RegistrationDraft {
        subscriber: subscriber_id(n),
        name: PersonName::parse("Смирнова Анна").unwrap(),
        phone: phone(n),
        email: Some(email(n)),
        account: with_account.then(|| (account("ES-1", 4242), LinkProof::MeterNumber)),
        password_hash: with_account.then(|| PasswordHash::from_phc("$argon2id$v=19$hash")),
        consent: ConsentDocument::new("2025-01", "текст"),
        consented_at: at(1),
        client: ClientInfo::new(Channel::Api),
    }
}

fn recovery(subscriber: u8) -> ChallengePurpose {
    ChallengePurpose::RecoverByEmail {
        subscriber: subscriber_id(subscriber),
    }
}

async fn every_purpose_round_trips_by_id_and_digest(storage: Storage) {
    let purposes = [
        ChallengePurpose::Registration(Box::new(draft(1, true))),
        ChallengePurpose::Registration(Box::new(RegistrationDraft {
            email: None,
            ..draft(2, false)
        })),
        ChallengePurpose::DecoyRegistration(Box::new(draft(3, true))),
        ChallengePurpose::ConfirmEmail {
            subscriber: subscriber_id(4),
            email: email(4),
        },
        recovery(5),
        ChallengePurpose::RecoverByPhone {
            subscriber: subscriber_id(6),
        },
        ChallengePurpose::ChangePhone {
            subscriber: subscriber_id(7),
            phone: phone(7),
        },
        ChallengePurpose::Decoy {
            phone: phone(8),
            notify: true,
        },
    ];
    for (n, purpose) in (1u8..).zip(purposes) {
        let mut c = challenge(n, purpose, &format!("token-{n}"));
        c.failed_attempts = u32::from(n);
        ChallengeRepository::insert(&storage, &c).await.unwrap();
        assert_eq!(
            ChallengeRepository::get(&storage, c.id).await.unwrap(),
            Some(c.clone())
        );
        assert_eq!(storage.find_by_digest(&c.digest).await.unwrap(), Some(c));
    }
    assert_eq!(
        ChallengeRepository::get(&storage, challenge_id(99))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        storage.find_by_digest(&digest("unknown")).await.unwrap(),
        None
    );
}

async fn attempt_reports_each_state_and_counts_wrong_codes(storage: Storage) {
    let c = challenge(1, recovery(1), "right");
    ChallengeRepository::insert(&storage, &c).await.unwrap();
    assert_eq!(
        storage
            .attempt(challenge_id(2), &digest("right"), at(1), MAX)
            .await
            .unwrap(),
        AttemptOutcome::Missing
    );
    for expected in 1..=2 {
        assert_eq!(
            storage
                .attempt(c.id, &digest("wrong"), at(1), MAX)
                .await
                .unwrap(),
            AttemptOutcome::Wrong {
                failed_attempts: expected
            }
        );
    }
    let mut now = c.clone();
    now.failed_attempts = 2;
    // A match changes nothing: matching twice gives the same answer.
    for _ in 0..2 {
        assert_eq!(
            storage
                .attempt(c.id, &digest("right"), at(2), MAX)
                .await
                .unwrap(),
            AttemptOutcome::Matched(Box::new(now.clone()))
        );
    }
    assert_eq!(
        ChallengeRepository::get(&storage, c.id).await.unwrap(),
        Some(now)
    );
}

async fn attempt_refuses_without_counting_once_exhausted_expired_or_used(storage: Storage) {
    let exhausted = challenge(1, recovery(1), "a");
    let expiring = challenge(2, recovery(1), "b");
    let used = challenge(3, recovery(1), "c");
    for c in [&exhausted, &expiring, &used] {
        ChallengeRepository::insert(&storage, c).await.unwrap();
    }
    for _ in 0..MAX {
        storage
            .attempt(exhausted.id, &digest("x"), at(1), MAX)
            .await
            .unwrap();
    }
    for presented in ["x", "a"] {
        assert_eq!(
            storage
                .attempt(exhausted.id, &digest(presented), at(1), MAX)
                .await
                .unwrap(),
            AttemptOutcome::Exhausted
        );
    }
    // Expired exactly at `expires_at`, not a nanosecond before.
    let just_before = expiring.expires_at - time::Duration::nanoseconds(1);
    assert!(matches!(
        storage
            .attempt(expiring.id, &digest("b"), just_before, MAX)
            .await
            .unwrap(),
        AttemptOutcome::Matched(_)
    ));
    assert_eq!(
        storage
            .attempt(expiring.id, &digest("x"), expiring.expires_at, MAX)
            .await
            .unwrap(),
        AttemptOutcome::Expired
    );
    assert!(
        storage
            .consume(used.id, &used.digest, at(1), MAX)
            .await
            .unwrap()
    );
    assert_eq!(
        storage
            .attempt(used.id, &digest("x"), at(2), MAX)
            .await
            .unwrap(),
        AttemptOutcome::Used
    );
    let after = |c: &identity_core::model::Challenge| c.failed_attempts;
    let stored = |id| {
        let storage = storage.clone();
        async move {
            ChallengeRepository::get(&storage, id)
                .await
                .unwrap()
                .unwrap()
        }
    };
    assert_eq!(after(&stored(exhausted.id).await), MAX);
    assert_eq!(after(&stored(expiring.id).await), 0);
    assert_eq!(after(&stored(used.id).await), 0);
}

async fn consume_is_a_compare_and_set(storage: Storage) {
    let c = challenge(1, recovery(1), "right");
    ChallengeRepository::insert(&storage, &c).await.unwrap();
    assert!(
        !storage
            .consume(c.id, &digest("wrong"), at(1), MAX)
            .await
            .unwrap()
    );
    assert!(
        !storage
            .consume(c.id, &c.digest, c.expires_at, MAX)
            .await
            .unwrap()
    );
    assert!(
        !storage
            .consume(challenge_id(9), &c.digest, at(1), MAX)
            .await
            .unwrap()
    );
    // At the limit of wrong attempts even the right code is refused.
    for _ in 0..MAX {
        storage
            .attempt(c.id, &digest("wrong"), at(1), MAX)
            .await
            .unwrap();
    }
    assert!(!storage.consume(c.id, &c.digest, at(1), MAX).await.unwrap());
    assert!(
        storage
            .consume(c.id, &c.digest, at(1), MAX + 1)
            .await
            .unwrap()
    );
    assert!(
        !storage
            .consume(c.id, &c.digest, at(2), MAX + 1)
            .await
            .unwrap()
    );
    let stored = ChallengeRepository::get(&storage, c.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.consumed_at, Some(at(1)));
}

async fn reissue_replaces_the_secret_of_an_unused_challenge(storage: Storage) {
    let c = challenge(1, recovery(1), "old");
    ChallengeRepository::insert(&storage, &c).await.unwrap();
    storage
        .attempt(c.id, &digest("wrong"), at(1), MAX)
        .await
        .unwrap();
    assert!(
        storage
            .reissue(c.id, &digest("new"), at(60), at(660))
            .await
            .unwrap()
    );
    let stored = ChallengeRepository::get(&storage, c.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            stored.digest,
            stored.issued_at,
            stored.expires_at,
            stored.failed_attempts
        ),
        (digest("new"), at(60), at(660), 0)
    );
    // The old secret no longer works, the new one does.
    assert!(
        !storage
            .consume(c.id, &digest("old"), at(61), MAX)
            .await
            .unwrap()
    );
    assert!(
        storage
            .consume(c.id, &digest("new"), at(61), MAX)
            .await
            .unwrap()
    );
    assert!(
        !storage
            .reissue(c.id, &digest("newer"), at(70), at(700))
            .await
            .unwrap()
    );
    assert!(
        !storage
            .reissue(challenge_id(9), &digest("x"), at(70), at(700))
            .await
            .unwrap()
    );
}

async fn consume_recovery_uses_up_the_cabinets_other_recovery_challenges(storage: Storage) {
    let by_email = challenge(1, recovery(1), "link");
    let by_phone = challenge(
        2,
        ChallengePurpose::RecoverByPhone {
            subscriber: subscriber_id(1),
        },
        "code",
    );
    let other_cabinet = challenge(3, recovery(2), "theirs");
    let not_recovery = challenge(
        4,
        ChallengePurpose::ConfirmEmail {
            subscriber: subscriber_id(1),
            email: email(1),
        },
        "confirm",
    );
    for c in [&by_email, &by_phone, &other_cabinet, &not_recovery] {
        ChallengeRepository::insert(&storage, c).await.unwrap();
    }
    assert!(
        storage
            .consume_recovery(by_email.id, &by_email.digest, at(5), MAX)
            .await
            .unwrap()
    );
    let consumed = |id| {
        let storage = storage.clone();
        async move {
            ChallengeRepository::get(&storage, id)
                .await
                .unwrap()
                .unwrap()
                .consumed_at
        }
    };
    assert_eq!(consumed(by_email.id).await, Some(at(5)));
    assert_eq!(consumed(by_phone.id).await, Some(at(5)));
    assert_eq!(consumed(other_cabinet.id).await, None);
    assert_eq!(consumed(not_recovery.id).await, None);
    assert!(
        !storage
            .consume_recovery(by_phone.id, &by_phone.digest, at(6), MAX)
            .await
            .unwrap()
    );
    // A challenge that recovers nothing is consumed like `consume` would.
    assert!(
        storage
            .consume_recovery(not_recovery.id, &not_recovery.digest, at(7), MAX)
            .await
            .unwrap()
    );
    assert_eq!(consumed(not_recovery.id).await, Some(at(7)));
    assert_eq!(consumed(other_cabinet.id).await, None);
}

async fn a_failed_consume_recovery_changes_nothing(storage: Storage) {
    let target = challenge(1, recovery(1), "link");
    let sibling = challenge(2, recovery(1), "other-link");
    for c in [&target, &sibling] {
        ChallengeRepository::insert(&storage, c).await.unwrap();
    }
    assert!(
        !storage
            .consume_recovery(target.id, &digest("wrong"), at(1), MAX)
            .await
            .unwrap()
    );
    assert!(
        !storage
            .consume_recovery(target.id, &target.digest, target.expires_at, MAX)
            .await
            .unwrap()
    );
    assert!(
        !storage
            .consume_recovery(challenge_id(9), &target.digest, at(1), MAX)
            .await
            .unwrap()
    );
    for c in [&target, &sibling] {
        assert_eq!(
            ChallengeRepository::get(&storage, c.id)
                .await
                .unwrap()
                .as_ref(),
            Some(c)
        );
    }
}
