//! Contract of `ThrottleRepository`: reservations decide exactly as `RateLimit::check` over
//! the recorded events would one at a time; refusals record nothing; release gives back one
//! event; clear forgets a key; keys are independent.

use identity_core::model::{Reservation, ThrottleKey};
use identity_core::policy::{Backoff, RateLimit};
use identity_core::ports::ThrottleRepository;
use storage_seaorm::Storage;
use time::{Duration, OffsetDateTime};

use crate::common::fixtures::*;

contract!(
    reservations_follow_the_rate_limit_one_at_a_time,
    backoff_and_minimum_interval_are_kept,
    a_refusal_records_nothing,
    release_gives_back_one_attempt_at_that_time,
    clear_forgets_only_its_key,
);

fn window_limit() -> RateLimit {
    RateLimit {
        max_events: 3,
        window: Duration::minutes(1),
        min_interval: Duration::seconds(5),
        backoff: None,
    }
}

fn backoff_limit() -> RateLimit {
    RateLimit {
        max_events: 10,
        window: Duration::hours(1),
        min_interval: Duration::ZERO,
        backoff: Some(Backoff {
            free_events: 2,
            base: Duration::seconds(2),
            max: Duration::seconds(30),
        }),
    }
}

fn key(n: u8) -> ThrottleKey {
    ThrottleKey::login_subscriber(subscriber_id(n))
}

/// Reserves at each time in turn and checks every answer against the pure model: `check`
/// over the events recorded so far.
async fn replay(storage: &Storage, key: &ThrottleKey, limit: &RateLimit, seconds: &[i64]) -> usize {
    let mut recorded: Vec<OffsetDateTime> = Vec::new();
    let mut granted = 0;
    for &s in seconds {
        let now = at(s);
        let expected = match limit.check(&recorded, now) {
            Ok(()) => {
                recorded.push(now);
                granted += 1;
                Reservation::Granted
            }
            Err(retry_after) => Reservation::Refused { retry_after },
        };
        assert_eq!(
            storage.reserve(key, limit, now).await.unwrap(),
            expected,
            "at +{s}s"
        );
    }
    granted
}

async fn reservations_follow_the_rate_limit_one_at_a_time(storage: Storage) {
    let times = [0, 1, 5, 6, 10, 20, 59, 60, 61, 65, 66, 70, 130, 131, 200];
    let granted = replay(&storage, &key(1), &window_limit(), &times).await;
    assert!(granted >= 5 && granted < times.len(), "granted {granted}");
}

async fn backoff_and_minimum_interval_are_kept(storage: Storage) {
    let times: Vec<i64> = (0..40).map(|i| i * 3).collect();
    let granted = replay(&storage, &key(1), &backoff_limit(), &times).await;
    assert!(granted > 2 && granted < times.len(), "granted {granted}");
}

async fn a_refusal_records_nothing(storage: Storage) {
    let limit = RateLimit {
        min_interval: Duration::ZERO,
        ..window_limit()
    };
    for _ in 0..3 {
        assert_eq!(
            storage.reserve(&key(1), &limit, at(0)).await.unwrap(),
            Reservation::Granted
        );
    }
    // Many refusals later, the window is still measured from the three granted attempts only.
    for s in 1..30 {
        assert!(matches!(
            storage.reserve(&key(1), &limit, at(s)).await.unwrap(),
            Reservation::Refused { .. }
        ));
    }
    assert_eq!(
        storage.reserve(&key(1), &limit, at(60)).await.unwrap(),
        Reservation::Granted
    );
}

async fn release_gives_back_one_attempt_at_that_time(storage: Storage) {
    let limit = RateLimit {
        min_interval: Duration::ZERO,
        ..window_limit()
    };
    for _ in 0..3 {
        storage.reserve(&key(1), &limit, at(0)).await.unwrap();
    }
    assert!(matches!(
        storage.reserve(&key(1), &limit, at(1)).await.unwrap(),
        Reservation::Refused { .. }
    ));
    // Releasing a time with no event, or another key, changes nothing.
    storage.release(&key(1), at(1)).await.unwrap();
    storage.release(&key(2), at(0)).await.unwrap();
    assert!(matches!(
        storage.reserve(&key(1), &limit, at(1)).await.unwrap(),
        Reservation::Refused { .. }
    ));
    // Releasing one of the three events at +0 frees exactly one attempt.
    storage.release(&key(1), at(0)).await.unwrap();
    assert_eq!(
        storage.reserve(&key(1), &limit, at(2)).await.unwrap(),
        Reservation::Granted
    );
    assert!(matches!(
        storage.reserve(&key(1), &limit, at(3)).await.unwrap(),
        Reservation::Refused { .. }
    ));
}

async fn clear_forgets_only_its_key(storage: Storage) {
    let limit = RateLimit {
        min_interval: Duration::ZERO,
        ..window_limit()
    };
    let delivery = ThrottleKey::delivery_phone(&phone(1));
    for _ in 0..3 {
        storage.reserve(&key(1), &limit, at(0)).await.unwrap();
        storage.reserve(&key(2), &limit, at(0)).await.unwrap();
        storage.reserve(&delivery, &limit, at(0)).await.unwrap();
    }
    storage.clear(&key(1)).await.unwrap();
    storage
        .clear(&ThrottleKey::delivery_email(&email(1)))
        .await
        .unwrap();
    assert_eq!(
        storage.reserve(&key(1), &limit, at(1)).await.unwrap(),
        Reservation::Granted
    );
    for still_full in [key(2), delivery] {
        assert!(matches!(
            storage.reserve(&still_full, &limit, at(1)).await.unwrap(),
            Reservation::Refused { .. }
        ));
    }
}
