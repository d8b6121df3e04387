//! Concurrency: eight tasks race on one key, one code, one cabinet, one question; the atomic
//! steps of the ports hold on both backends (every task is released by one barrier so they
//! really overlap).

use std::future::Future;
use std::sync::Arc;

use identity_core::model::{AttemptOutcome, ChallengePurpose, Reservation, ThrottleKey};
use identity_core::policy::RateLimit;
use identity_core::ports::{
    ChallengeRepository, LinkRepository, QuestionRepository, SubscriberRepository,
    ThrottleRepository, WriteError,
};
use sea_orm::TransactionTrait;
use storage_seaorm::Storage;
use time::Duration;
use tokio::sync::Barrier;

use crate::common::fixtures::*;

const TASKS: usize = 8;

contract!(
    eight_reservations_at_once_never_exceed_the_limit,
    eight_consumers_of_one_code_one_wins,
    eight_wrong_codes_at_once_count_up_to_the_limit_only,
    eight_recoveries_of_one_cabinet_one_wins,
    eight_updates_from_one_version_one_wins,
    eight_registrations_of_one_phone_one_wins,
    eight_active_links_at_once_leave_one_active,
    eight_answers_to_one_question_one_wins,
);

/// Opens `TASKS` connections of the pool at once (each holds a transaction until all are
/// open), so that racers do not queue behind connection set-up and really overlap.
async fn warm_pool(storage: &Storage) {
    let barrier = Arc::new(Barrier::new(TASKS));
    let handles: Vec<_> = (0..TASKS)
        .map(|_| {
            let (storage, barrier) = (storage.clone(), barrier.clone());
            tokio::spawn(async move {
                let tx = storage.connection().begin().await.unwrap();
                barrier.wait().await;
                tx.commit().await.unwrap();
            })
        })
        .collect();
    for handle in handles {
        handle.await.expect("warming the pool failed");
    }
}

/// Runs `task(i)` for `i` in `0..TASKS` at once and returns their results in task order.
pub async fn race<T, F, Fut>(storage: &Storage, task: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
{
    warm_pool(storage).await;
    let barrier = Arc::new(Barrier::new(TASKS));
    let handles: Vec<_> = (0..TASKS)
        .map(|i| {
            let barrier = barrier.clone();
            let work = task(i);
            tokio::spawn(async move {
                barrier.wait().await;
                work.await
            })
        })
        .collect();
    let mut results = Vec::with_capacity(TASKS);
    for handle in handles {
        results.push(handle.await.expect("a racing task panicked"));
    }
    results
}

async fn eight_reservations_at_once_never_exceed_the_limit(storage: Storage) {
    let limit = RateLimit {
        max_events: 3,
        window: Duration::hours(1),
        min_interval: Duration::ZERO,
        backoff: None,
    };
    let key = ThrottleKey::delivery_phone(&phone(1));
    // The key exists and has room for two more: creating its row must not be what serialises
    // the racers.
    assert_eq!(
        storage.reserve(&key, &limit, at(0)).await.unwrap(),
        Reservation::Granted
    );
    for (round, expected) in [(1, 2), (2, 0)] {
        let results = race(&storage, |_| {
            let (storage, key, limit) = (storage.clone(), key.clone(), limit.clone());
            async move { storage.reserve(&key, &limit, at(round)).await.unwrap() }
        })
        .await;
        let granted = results
            .iter()
            .filter(|r| **r == Reservation::Granted)
            .count();
        assert_eq!(granted, expected, "round {round}: {results:?}");
    }
}

async fn eight_consumers_of_one_code_one_wins(storage: Storage) {
    let c = challenge(
        1,
        ChallengePurpose::RecoverByPhone {
            subscriber: subscriber_id(1),
        },
        "code",
    );
    ChallengeRepository::insert(&storage, &c).await.unwrap();
    let results = race(&storage, |_| {
        let (storage, c) = (storage.clone(), c.clone());
        async move { storage.consume(c.id, &c.digest, at(1), 5).await.unwrap() }
    })
    .await;
    assert_eq!(results.iter().filter(|won| **won).count(), 1, "{results:?}");
}

async fn eight_wrong_codes_at_once_count_up_to_the_limit_only(storage: Storage) {
    let c = challenge(
        1,
        ChallengePurpose::RecoverByPhone {
            subscriber: subscriber_id(1),
        },
        "code",
    );
    ChallengeRepository::insert(&storage, &c).await.unwrap();
    let max = 3;
    let results = race(&storage, |i| {
        let storage = storage.clone();
        async move {
            storage
                .attempt(c.id, &digest(&format!("guess-{i}")), at(1), max)
                .await
                .unwrap()
        }
    })
    .await;
    let mut counts: Vec<u32> = results
        .iter()
        .filter_map(|r| match r {
            AttemptOutcome::Wrong { failed_attempts } => Some(*failed_attempts),
            _ => None,
        })
        .collect();
    counts.sort_unstable();
    assert_eq!(counts, [1, 2, 3], "{results:?}");
    let exhausted = results
        .iter()
        .filter(|r| **r == AttemptOutcome::Exhausted)
        .count();
    assert_eq!(exhausted, TASKS - 3);
    let stored = ChallengeRepository::get(&storage, c.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.failed_attempts, max);
}

async fn eight_recoveries_of_one_cabinet_one_wins(storage: Storage) {
    let challenges: Vec<_> = (0..TASKS)
        .map(|i| {
            let n = u8::try_from(i + 1).unwrap();
            challenge(
                n,
                ChallengePurpose::RecoverByEmail {
                    subscriber: subscriber_id(1),
                },
                &format!("link-{n}"),
            )
        })
        .collect();
    for c in &challenges {
        ChallengeRepository::insert(&storage, c).await.unwrap();
    }
    let results = race(&storage, |i| {
        let (storage, c) = (storage.clone(), challenges[i].clone());
        async move {
            storage
                .consume_recovery(c.id, &c.digest, at(1), 5)
                .await
                .unwrap()
        }
    })
    .await;
    assert_eq!(results.iter().filter(|won| **won).count(), 1, "{results:?}");
    for c in &challenges {
        let stored = ChallengeRepository::get(&storage, c.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.consumed_at, Some(at(1)));
    }
}

async fn eight_updates_from_one_version_one_wins(storage: Storage) {
    let s = stored_subscriber(&storage, 1).await;
    let results = race(&storage, |i| {
        let storage = storage.clone();
        let mut change = s.clone();
        change.pending_email = Some(email(u8::try_from(100 + i).unwrap()));
        async move { storage.update(&change).await }
    })
    .await;
    let won = results.iter().filter(|r| r.is_ok()).count();
    let lost = results
        .iter()
        .filter(|r| **r == Err(WriteError::Conflict))
        .count();
    assert_eq!((won, lost), (1, TASKS - 1), "{results:?}");
    assert_eq!(
        SubscriberRepository::get(&storage, s.id)
            .await
            .unwrap()
            .unwrap()
            .version,
        1
    );
}

async fn eight_registrations_of_one_phone_one_wins(storage: Storage) {
    let results = race(&storage, |i| {
        let storage = storage.clone();
        let mut s = subscriber(u8::try_from(i + 1).unwrap());
        s.phone = Some(phone(200));
        async move { SubscriberRepository::insert(&storage, &s).await }
    })
    .await;
    let won = results.iter().filter(|r| r.is_ok()).count();
    let duplicate = results
        .iter()
        .filter(|r| **r == Err(WriteError::Duplicate))
        .count();
    assert_eq!((won, duplicate), (1, TASKS - 1), "{results:?}");
}

async fn eight_active_links_at_once_leave_one_active(storage: Storage) {
    let owner = stored_subscriber(&storage, 1).await.id;
    let results = race(&storage, |i| {
        let storage = storage.clone();
        let l = link(account("ES-1", u32::try_from(i).unwrap()), 0, true);
        async move { LinkRepository::insert(&storage, owner, &l).await }
    })
    .await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let links = storage.list(owner).await.unwrap();
    assert_eq!(links.len(), TASKS);
    assert_eq!(links.iter().filter(|l| l.active).count(), 1);
}

async fn eight_answers_to_one_question_one_wins(storage: Storage) {
    let owner = stored_subscriber(&storage, 1).await.id;
    let q = question(1, owner, Some(account("ES-1", 1001)), 0);
    QuestionRepository::insert(&storage, &q).await.unwrap();
    let answers: Vec<_> = (0..TASKS)
        .map(|i| {
            let n = u8::try_from(i + 1).unwrap();
            answer(n, i64::from(n), &format!("Ответ оператора {n}"))
        })
        .collect();
    let results = race(&storage, |i| {
        let (storage, a) = (storage.clone(), answers[i].clone());
        async move { storage.answer(q.id, &a).await.unwrap() }
    })
    .await;
    assert_eq!(results.iter().filter(|won| **won).count(), 1, "{results:?}");
    let winner = results.iter().position(|won| *won).unwrap();
    let stored = QuestionRepository::get(&storage, q.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.answer.as_ref(), Some(&answers[winner]));
}
