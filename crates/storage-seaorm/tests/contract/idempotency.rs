//! HTTP idempotency keys (`idempotency_begin`, `idempotency_renew`, `idempotency_complete`,
//! `idempotency_abandon`, `idempotency_purge`): replay, mismatch, in progress, abandon,
//! per-principal keys, expiry and takeover, a stale claim (its process crashed) taken over by
//! a retry of the same request, a renewed claim that is not stale, a taken-over claim its
//! first holder can no longer complete, purge, eight tasks claiming one new, one expired or one stale key at once, and refused
//! inputs and corrupt rows.

use storage_seaorm::{IdempotencyBegin, Storage};
use time::{Duration, OffsetDateTime};

use crate::common::fixtures::at;
use crate::common::seed::{count_rows, damage};
use crate::concurrency::race;

contract!(
    fresh_then_complete_then_replay_returns_the_stored_response,
    same_key_other_request_is_a_mismatch,
    begin_while_unfinished_is_in_progress,
    a_stale_claim_is_taken_over_by_the_same_request_only,
    a_renewed_claim_is_not_stale_and_a_taken_over_one_is_not_its_holders,
    abandon_makes_the_key_fresh_again,
    abandon_of_a_completed_key_deletes_nothing,
    keys_are_per_principal,
    expired_key_is_fresh_and_its_old_response_is_gone,
    complete_after_a_takeover_is_refused,
    purge_removes_old_keys_only,
    eight_begins_of_a_fresh_key_one_wins,
    eight_takeovers_of_an_expired_key_one_wins,
    eight_takeovers_of_a_stale_claim_one_wins,
    invalid_principals_and_keys_are_refused,
    corrupt_row_is_an_error_not_a_panic,
    forty_keys_at_once_are_each_claimed_and_completed_as_alone,
);

const TTL: Duration = Duration::hours(24);
/// How long an unfinished claim is the running request's (the service's is a minute).
const LEASE: Duration = Duration::minutes(1);
const ALICE: &str = "operator:00000000000000000000000000000001";
const BOB: &str = "operator:00000000000000000000000000000002";
const KEY: &str = "5d41402a-bc4b-2a76-b971-9d911017c592";

fn fp(n: u8) -> [u8; 32] {
    [n; 32]
}

async fn begin(storage: &Storage, principal: &str, f: u8, now: OffsetDateTime) -> IdempotencyBegin {
    storage
        .idempotency_begin(principal, KEY, &fp(f), now, TTL, LEASE)
        .await
        .unwrap()
}

fn replay(status: u16, body: &[u8]) -> IdempotencyBegin {
    IdempotencyBegin::Replay {
        status,
        body: body.to_vec(),
    }
}

async fn fresh_then_complete_then_replay_returns_the_stored_response(storage: Storage) {
    // Every byte value, so nothing is taken as text on the way.
    let body: Vec<u8> = (0..=255)
        .chain(b"{\"id\":\"\xd0\x9b\xd0\xa1\"}".iter().copied())
        .collect();
    assert_eq!(
        begin(&storage, ALICE, 1, at(0)).await,
        IdempotencyBegin::Fresh
    );
    assert!(
        storage
            .idempotency_complete(ALICE, KEY, &fp(1), at(0), 201, &body, at(1))
            .await
            .unwrap()
    );
    assert_eq!(begin(&storage, ALICE, 1, at(2)).await, replay(201, &body));
    // A replay changes nothing: the next retry gets the same response.
    assert_eq!(begin(&storage, ALICE, 1, at(3)).await, replay(201, &body));
    // The response is stored once: completing again is refused and keeps the first one.
    assert!(
        !storage
            .idempotency_complete(ALICE, KEY, &fp(1), at(0), 500, b"other", at(4))
            .await
            .unwrap()
    );
    assert_eq!(begin(&storage, ALICE, 1, at(5)).await, replay(201, &body));
    // An empty body is a response, not a missing one.
    assert_eq!(
        storage
            .idempotency_begin(ALICE, "empty", &fp(1), at(6), TTL, LEASE)
            .await
            .unwrap(),
        IdempotencyBegin::Fresh
    );
    assert!(
        storage
            .idempotency_complete(ALICE, "empty", &fp(1), at(6), 204, b"", at(7))
            .await
            .unwrap()
    );
    assert_eq!(
        storage
            .idempotency_begin(ALICE, "empty", &fp(1), at(8), TTL, LEASE)
            .await
            .unwrap(),
        replay(204, b"")
    );
    assert_eq!(count_rows(&storage, "idempotency_keys").await, 2);
}

async fn same_key_other_request_is_a_mismatch(storage: Storage) {
    assert_eq!(
        begin(&storage, ALICE, 1, at(0)).await,
        IdempotencyBegin::Fresh
    );
    // While the first request runs…
    assert_eq!(
        begin(&storage, ALICE, 2, at(1)).await,
        IdempotencyBegin::Mismatch
    );
    // …and after it completed.
    storage
        .idempotency_complete(ALICE, KEY, &fp(1), at(0), 200, b"ok", at(2))
        .await
        .unwrap();
    assert_eq!(
        begin(&storage, ALICE, 2, at(3)).await,
        IdempotencyBegin::Mismatch
    );
    // Neither answer touched the stored response.
    assert_eq!(begin(&storage, ALICE, 1, at(4)).await, replay(200, b"ok"));
    // A fingerprint differing in its last byte only is another request.
    let mut almost = fp(1);
    almost[31] = 0;
    assert_eq!(
        storage
            .idempotency_begin(ALICE, KEY, &almost, at(5), TTL, LEASE)
            .await
            .unwrap(),
        IdempotencyBegin::Mismatch
    );
}

async fn begin_while_unfinished_is_in_progress(storage: Storage) {
    assert_eq!(
        begin(&storage, ALICE, 1, at(0)).await,
        IdempotencyBegin::Fresh
    );
    assert_eq!(
        begin(&storage, ALICE, 1, at(1)).await,
        IdempotencyBegin::InProgress
    );
    // Until its lease is up, it is the first request's.
    assert_eq!(
        begin(&storage, ALICE, 1, at(0) + LEASE).await,
        IdempotencyBegin::InProgress
    );
    // The first request completes its own claim.
    assert!(
        storage
            .idempotency_complete(ALICE, KEY, &fp(1), at(0), 200, b"ok", at(2))
            .await
            .unwrap()
    );
    assert_eq!(begin(&storage, ALICE, 1, at(3)).await, replay(200, b"ok"));
    // A completed key is never stale: long after the lease it still replays.
    assert_eq!(
        begin(&storage, ALICE, 1, at(0) + TTL).await,
        replay(200, b"ok")
    );
}

async fn a_stale_claim_is_taken_over_by_the_same_request_only(storage: Storage) {
    // The process that claimed the key died before it kept a response.
    assert_eq!(
        begin(&storage, ALICE, 1, at(0)).await,
        IdempotencyBegin::Fresh
    );
    let stale = at(0) + LEASE + Duration::nanoseconds(1);
    // Another request with the key is still refused: the key is the first request's.
    assert_eq!(
        begin(&storage, ALICE, 2, stale).await,
        IdempotencyBegin::Mismatch
    );
    // A retry of the same request takes the stale claim over…
    assert_eq!(
        begin(&storage, ALICE, 1, stale).await,
        IdempotencyBegin::Fresh
    );
    assert_eq!(count_rows(&storage, "idempotency_keys").await, 1);
    // …and holds a lease of its own, counted from the takeover.
    assert_eq!(
        begin(&storage, ALICE, 1, stale + LEASE).await,
        IdempotencyBegin::InProgress
    );
    assert!(
        storage
            .idempotency_complete(ALICE, KEY, &fp(1), stale, 201, b"retried", stale + LEASE)
            .await
            .unwrap()
    );
    // The first claimant, had it only been slow, cannot complete a claim no longer its own.
    assert!(
        !storage
            .idempotency_complete(ALICE, KEY, &fp(1), at(0), 201, b"slow", stale + LEASE)
            .await
            .unwrap()
    );
    assert_eq!(
        begin(&storage, ALICE, 1, stale + TTL).await,
        replay(201, b"retried")
    );
    // A lease of zero makes every unfinished claim stale at once; a negative one is refused.
    assert_eq!(
        storage
            .idempotency_begin(ALICE, "other", &fp(1), at(0), TTL, Duration::ZERO)
            .await
            .unwrap(),
        IdempotencyBegin::Fresh
    );
    assert_eq!(
        storage
            .idempotency_begin(ALICE, "other", &fp(1), at(1), TTL, Duration::ZERO)
            .await
            .unwrap(),
        IdempotencyBegin::Fresh
    );
    assert!(
        storage
            .idempotency_begin(ALICE, "other", &fp(1), at(2), TTL, Duration::seconds(-1))
            .await
            .is_err()
    );
}

async fn renew(storage: &Storage, claimed_at: OffsetDateTime, now: OffsetDateTime) -> bool {
    storage
        .idempotency_renew(ALICE, KEY, &fp(1), claimed_at, now)
        .await
        .unwrap()
}

async fn a_renewed_claim_is_not_stale_and_a_taken_over_one_is_not_its_holders(storage: Storage) {
    assert_eq!(
        begin(&storage, ALICE, 1, at(0)).await,
        IdempotencyBegin::Fresh
    );
    // A slow request renews its claim: a lease after the claim it is still running.
    assert!(renew(&storage, at(0), at(50)).await);
    let tick = Duration::nanoseconds(1);
    assert_eq!(
        begin(&storage, ALICE, 1, at(0) + LEASE + tick).await,
        IdempotencyBegin::InProgress
    );
    // Only the holder renews: another request, or a claim time that is not the claim's, do not.
    assert!(
        !storage
            .idempotency_renew(ALICE, KEY, &fp(2), at(0), at(55))
            .await
            .unwrap()
    );
    assert!(!renew(&storage, at(1), at(55)).await);
    // A lease after the last renewal the claim is stale, and the retry takes it over.
    let takeover = at(50) + LEASE + tick;
    assert_eq!(
        begin(&storage, ALICE, 1, takeover).await,
        IdempotencyBegin::Fresh
    );
    // The first holder, still running after all, can no longer renew, complete or release
    // the key — even before the new holder completes.
    assert!(!renew(&storage, at(0), takeover).await);
    assert!(
        !storage
            .idempotency_complete(ALICE, KEY, &fp(1), at(0), 201, b"first", takeover)
            .await
            .unwrap()
    );
    assert!(
        !storage
            .idempotency_abandon(ALICE, KEY, &fp(1), at(0))
            .await
            .unwrap()
    );
    assert_eq!(
        begin(&storage, ALICE, 1, takeover + tick).await,
        IdempotencyBegin::InProgress
    );
    assert!(renew(&storage, takeover, takeover + tick).await);
    assert!(
        storage
            .idempotency_complete(
                ALICE,
                KEY,
                &fp(1),
                takeover,
                409,
                b"second",
                takeover + tick
            )
            .await
            .unwrap()
    );
    // A completed claim is not renewed (it has nothing left to hold).
    assert!(!renew(&storage, takeover, takeover + LEASE).await);
    assert_eq!(
        begin(&storage, ALICE, 1, takeover + TTL).await,
        replay(409, b"second")
    );
    assert!(
        storage
            .idempotency_renew(ALICE, "a b", &fp(1), at(0), at(1))
            .await
            .is_err()
    );
}

async fn abandon_makes_the_key_fresh_again(storage: Storage) {
    assert_eq!(
        begin(&storage, ALICE, 1, at(0)).await,
        IdempotencyBegin::Fresh
    );
    // Another request cannot release it.
    assert!(
        !storage
            .idempotency_abandon(ALICE, KEY, &fp(2), at(0))
            .await
            .unwrap()
    );
    assert_eq!(
        begin(&storage, ALICE, 1, at(1)).await,
        IdempotencyBegin::InProgress
    );
    assert!(
        storage
            .idempotency_abandon(ALICE, KEY, &fp(1), at(0))
            .await
            .unwrap()
    );
    assert!(
        !storage
            .idempotency_abandon(ALICE, KEY, &fp(1), at(0))
            .await
            .unwrap()
    );
    assert_eq!(count_rows(&storage, "idempotency_keys").await, 0);
    // Released, the key is free for any request, even another one.
    assert_eq!(
        begin(&storage, ALICE, 2, at(2)).await,
        IdempotencyBegin::Fresh
    );
    // The abandoned request's late completion does not land on the new claim.
    assert!(
        !storage
            .idempotency_complete(ALICE, KEY, &fp(1), at(0), 200, b"late", at(3))
            .await
            .unwrap()
    );
    assert_eq!(
        begin(&storage, ALICE, 2, at(4)).await,
        IdempotencyBegin::InProgress
    );
}

async fn abandon_of_a_completed_key_deletes_nothing(storage: Storage) {
    assert_eq!(
        begin(&storage, ALICE, 1, at(0)).await,
        IdempotencyBegin::Fresh
    );
    storage
        .idempotency_complete(ALICE, KEY, &fp(1), at(0), 201, b"created", at(1))
        .await
        .unwrap();
    assert!(
        !storage
            .idempotency_abandon(ALICE, KEY, &fp(1), at(0))
            .await
            .unwrap()
    );
    assert_eq!(count_rows(&storage, "idempotency_keys").await, 1);
    assert_eq!(
        begin(&storage, ALICE, 1, at(2)).await,
        replay(201, b"created")
    );
}

async fn keys_are_per_principal(storage: Storage) {
    assert_eq!(
        begin(&storage, ALICE, 1, at(0)).await,
        IdempotencyBegin::Fresh
    );
    // Bob's same key is his own, whatever Alice's holds.
    assert_eq!(
        begin(&storage, BOB, 2, at(1)).await,
        IdempotencyBegin::Fresh
    );
    storage
        .idempotency_complete(ALICE, KEY, &fp(1), at(0), 201, b"alice", at(2))
        .await
        .unwrap();
    assert_eq!(
        begin(&storage, BOB, 2, at(3)).await,
        IdempotencyBegin::InProgress
    );
    // Completing, abandoning and reading act on the caller's key only.
    assert!(
        !storage
            .idempotency_complete(BOB, KEY, &fp(1), at(1), 500, b"wrong", at(4))
            .await
            .unwrap()
    );
    assert!(
        storage
            .idempotency_abandon(BOB, KEY, &fp(2), at(1))
            .await
            .unwrap()
    );
    assert_eq!(
        begin(&storage, ALICE, 1, at(5)).await,
        replay(201, b"alice")
    );
    assert_eq!(
        begin(&storage, BOB, 1, at(6)).await,
        IdempotencyBegin::Fresh
    );
    storage
        .idempotency_complete(BOB, KEY, &fp(1), at(6), 202, b"bob", at(7))
        .await
        .unwrap();
    assert_eq!(
        begin(&storage, ALICE, 1, at(8)).await,
        replay(201, b"alice")
    );
    assert_eq!(begin(&storage, BOB, 1, at(9)).await, replay(202, b"bob"));
}

async fn expired_key_is_fresh_and_its_old_response_is_gone(storage: Storage) {
    assert_eq!(
        begin(&storage, ALICE, 1, at(0)).await,
        IdempotencyBegin::Fresh
    );
    storage
        .idempotency_complete(ALICE, KEY, &fp(1), at(0), 201, b"old", at(1))
        .await
        .unwrap();
    // Exactly `ttl` after its creation it still counts…
    assert_eq!(
        begin(&storage, ALICE, 1, at(0) + TTL).await,
        replay(201, b"old")
    );
    // …one nanosecond later it is gone, and taken over, here by the same request.
    let later = at(0) + TTL + Duration::nanoseconds(1);
    assert_eq!(
        begin(&storage, ALICE, 1, later).await,
        IdempotencyBegin::Fresh
    );
    assert_eq!(count_rows(&storage, "idempotency_keys").await, 1);
    // The new claim has no response yet, and its lease counts from the takeover.
    assert_eq!(
        begin(&storage, ALICE, 1, later + LEASE).await,
        IdempotencyBegin::InProgress
    );
    assert!(
        storage
            .idempotency_complete(
                ALICE,
                KEY,
                &fp(1),
                later,
                200,
                b"new",
                later + Duration::hours(1)
            )
            .await
            .unwrap()
    );
    assert_eq!(
        begin(&storage, ALICE, 1, later + TTL).await,
        replay(200, b"new")
    );
    // An expired key is free for another request too, and an unfinished claim expires alike.
    let again = later + TTL + Duration::nanoseconds(1);
    assert_eq!(
        begin(&storage, ALICE, 2, again).await,
        IdempotencyBegin::Fresh
    );
    let third = again + TTL + Duration::nanoseconds(1);
    assert_eq!(
        begin(&storage, ALICE, 3, third).await,
        IdempotencyBegin::Fresh
    );
    assert_eq!(
        begin(&storage, ALICE, 2, third).await,
        IdempotencyBegin::Mismatch
    );
}

async fn complete_after_a_takeover_is_refused(storage: Storage) {
    assert_eq!(
        begin(&storage, ALICE, 1, at(0)).await,
        IdempotencyBegin::Fresh
    );
    // The first request outlives its key; another one takes the key over.
    let later = at(0) + Duration::hours(25);
    assert_eq!(
        begin(&storage, ALICE, 2, later).await,
        IdempotencyBegin::Fresh
    );
    assert!(
        !storage
            .idempotency_complete(
                ALICE,
                KEY,
                &fp(1),
                at(0),
                201,
                b"stale",
                later + Duration::seconds(1)
            )
            .await
            .unwrap()
    );
    assert!(
        !storage
            .idempotency_abandon(ALICE, KEY, &fp(1), at(0))
            .await
            .unwrap()
    );
    assert_eq!(
        begin(&storage, ALICE, 2, later + Duration::seconds(2)).await,
        IdempotencyBegin::InProgress
    );
    assert!(
        storage
            .idempotency_complete(
                ALICE,
                KEY,
                &fp(2),
                later,
                200,
                b"fresh",
                later + Duration::seconds(3)
            )
            .await
            .unwrap()
    );
    assert_eq!(
        begin(&storage, ALICE, 2, later + Duration::seconds(4)).await,
        replay(200, b"fresh")
    );
    assert_eq!(
        begin(&storage, ALICE, 1, later + Duration::seconds(5)).await,
        IdempotencyBegin::Mismatch
    );
}

async fn purge_removes_old_keys_only(storage: Storage) {
    for (n, key) in ["k0", "k1", "k2"].into_iter().enumerate() {
        let created = at(i64::try_from(n).unwrap() * 10);
        assert_eq!(
            storage
                .idempotency_begin(ALICE, key, &fp(1), created, TTL, LEASE)
                .await
                .unwrap(),
            IdempotencyBegin::Fresh
        );
    }
    storage
        .idempotency_complete(ALICE, "k0", &fp(1), at(0), 200, b"zero", at(1))
        .await
        .unwrap();
    storage
        .idempotency_complete(ALICE, "k1", &fp(1), at(10), 200, b"one", at(11))
        .await
        .unwrap();
    // Created before `before`, completed or not; one created exactly at `before` stays.
    assert_eq!(storage.idempotency_purge(at(0)).await.unwrap(), 0);
    assert_eq!(storage.idempotency_purge(at(10)).await.unwrap(), 1);
    assert_eq!(storage.idempotency_purge(at(10)).await.unwrap(), 0);
    assert_eq!(count_rows(&storage, "idempotency_keys").await, 2);
    let read = |key: &'static str| {
        let storage = storage.clone();
        async move {
            storage
                .idempotency_begin(ALICE, key, &fp(1), at(30), TTL, LEASE)
                .await
                .unwrap()
        }
    };
    assert_eq!(read("k1").await, replay(200, b"one"));
    assert_eq!(read("k2").await, IdempotencyBegin::InProgress);
    // The purged key is new again (this claims it).
    assert_eq!(read("k0").await, IdempotencyBegin::Fresh);
    assert_eq!(storage.idempotency_purge(at(31)).await.unwrap(), 3);
    assert_eq!(count_rows(&storage, "idempotency_keys").await, 0);
}

fn tally(results: &[IdempotencyBegin]) -> (usize, usize) {
    let fresh = results
        .iter()
        .filter(|r| **r == IdempotencyBegin::Fresh)
        .count();
    let in_progress = results
        .iter()
        .filter(|r| **r == IdempotencyBegin::InProgress)
        .count();
    (fresh, in_progress)
}

async fn eight_begins_of_a_fresh_key_one_wins(storage: Storage) {
    let results = race(&storage, |_| {
        let storage = storage.clone();
        async move {
            storage
                .idempotency_begin(ALICE, KEY, &fp(1), at(0), TTL, LEASE)
                .await
                .unwrap()
        }
    })
    .await;
    assert_eq!(tally(&results), (1, results.len() - 1), "{results:?}");
    assert_eq!(count_rows(&storage, "idempotency_keys").await, 1);
}

async fn eight_takeovers_of_an_expired_key_one_wins(storage: Storage) {
    assert_eq!(
        begin(&storage, ALICE, 1, at(0)).await,
        IdempotencyBegin::Fresh
    );
    storage
        .idempotency_complete(ALICE, KEY, &fp(1), at(0), 201, b"old", at(1))
        .await
        .unwrap();
    let later = at(0) + Duration::hours(25);
    let results = race(&storage, |_| {
        let storage = storage.clone();
        async move {
            storage
                .idempotency_begin(ALICE, KEY, &fp(2), later, TTL, LEASE)
                .await
                .unwrap()
        }
    })
    .await;
    assert_eq!(tally(&results), (1, results.len() - 1), "{results:?}");
    assert_eq!(
        begin(&storage, ALICE, 2, later).await,
        IdempotencyBegin::InProgress
    );
}

async fn eight_takeovers_of_a_stale_claim_one_wins(storage: Storage) {
    assert_eq!(
        begin(&storage, ALICE, 1, at(0)).await,
        IdempotencyBegin::Fresh
    );
    let stale = at(0) + LEASE + Duration::seconds(1);
    let results = race(&storage, |_| {
        let storage = storage.clone();
        async move {
            storage
                .idempotency_begin(ALICE, KEY, &fp(1), stale, TTL, LEASE)
                .await
                .unwrap()
        }
    })
    .await;
    assert_eq!(tally(&results), (1, results.len() - 1), "{results:?}");
    assert_eq!(count_rows(&storage, "idempotency_keys").await, 1);
}

async fn invalid_principals_and_keys_are_refused(storage: Storage) {
    let long = "k".repeat(256);
    let bad_keys = ["", "a b", " ", "ключ", "a\tb", "a\u{7f}", long.as_str()];
    for key in bad_keys {
        assert!(
            storage
                .idempotency_begin(ALICE, key, &fp(1), at(0), TTL, LEASE)
                .await
                .is_err(),
            "begin {key:?}"
        );
        assert!(
            storage
                .idempotency_complete(ALICE, key, &fp(1), at(0), 200, b"", at(0))
                .await
                .is_err(),
            "complete {key:?}"
        );
        assert!(
            storage
                .idempotency_abandon(ALICE, key, &fp(1), at(0))
                .await
                .is_err(),
            "abandon {key:?}"
        );
    }
    let long_principal = "п".repeat(65);
    for principal in ["", long_principal.as_str()] {
        assert!(
            storage
                .idempotency_begin(principal, KEY, &fp(1), at(0), TTL, LEASE)
                .await
                .is_err(),
            "begin {principal:?}"
        );
    }
    // A negative TTL would take over keys still in use.
    assert!(
        storage
            .idempotency_begin(ALICE, KEY, &fp(1), at(0), Duration::seconds(-1), LEASE)
            .await
            .is_err()
    );
    assert_eq!(count_rows(&storage, "idempotency_keys").await, 0);
    // The longest of each is accepted, and stored as given.
    let longest_key: String = (0x21u8..=0x7e).map(char::from).cycle().take(255).collect();
    let longest_principal = "п".repeat(64);
    assert_eq!(
        storage
            .idempotency_begin(&longest_principal, &longest_key, &fp(1), at(0), TTL, LEASE)
            .await
            .unwrap(),
        IdempotencyBegin::Fresh
    );
    assert!(
        storage
            .idempotency_complete(
                &longest_principal,
                &longest_key,
                &fp(1),
                at(0),
                200,
                b"ok",
                at(1)
            )
            .await
            .unwrap()
    );
    assert_eq!(
        storage
            .idempotency_begin(&longest_principal, &longest_key, &fp(1), at(2), TTL, LEASE)
            .await
            .unwrap(),
        replay(200, b"ok")
    );
}

async fn corrupt_row_is_an_error_not_a_panic(storage: Storage) {
    assert_eq!(
        begin(&storage, ALICE, 1, at(0)).await,
        IdempotencyBegin::Fresh
    );
    storage
        .idempotency_complete(ALICE, KEY, &fp(1), at(0), 200, b"ok", at(1))
        .await
        .unwrap();
    damage(&storage, "UPDATE idempotency_keys SET status = -1").await;
    let err = storage
        .idempotency_begin(ALICE, KEY, &fp(1), at(2), TTL, LEASE)
        .await
        .unwrap_err();
    assert!(
        err.message().contains(&format!(
            "corrupt row in idempotency_keys ({ALICE} {KEY}): status"
        )),
        "{err}"
    );
    damage(
        &storage,
        "UPDATE idempotency_keys SET status = 200, body = NULL",
    )
    .await;
    let err = storage
        .idempotency_begin(ALICE, KEY, &fp(1), at(3), TTL, LEASE)
        .await
        .unwrap_err();
    assert!(err.message().contains("body"), "{err}");
}

/// Forty requests at once — on PostgreSQL their new keys claimed and their responses stored in
/// shared statements (`Storage::batches`) — each get what they would get alone: a fresh
/// claim, a completed response replayed byte for byte; a key already claimed is in progress,
/// one claimed for another request a mismatch; a completion of a claim that is not there (or
/// completed already) changes nothing, even next to ones that do.
async fn forty_keys_at_once_are_each_claimed_and_completed_as_alone(storage: Storage) {
    use std::sync::Arc;
    const N: usize = 40;
    let now = at(0);
    let key = |i: usize| format!("batch-{i:03}");
    let principal = |i: usize| if i.is_multiple_of(2) { ALICE } else { BOB };
    let f = |i: usize| u8::try_from(i % 7).unwrap();
    // Keys 30..35 exist already: claimed by the same request (in progress) or another one.
    for i in 30..35 {
        let other = if i < 33 { f(i) } else { f(i) + 100 };
        storage
            .idempotency_begin(principal(i), &key(i), &fp(other), now, TTL, LEASE)
            .await
            .unwrap();
    }
    let before = storage.batches();
    let barrier = Arc::new(tokio::sync::Barrier::new(N));
    let claims: Vec<_> = (0..N)
        .map(|i| {
            let (storage, barrier, key) = (storage.clone(), barrier.clone(), key(i));
            tokio::spawn(async move {
                barrier.wait().await;
                storage
                    .idempotency_begin(principal(i), &key, &fp(f(i)), now, TTL, LEASE)
                    .await
            })
        })
        .collect();
    for (i, c) in claims.into_iter().enumerate() {
        let want = match i {
            30..=32 => IdempotencyBegin::InProgress,
            33..=34 => IdempotencyBegin::Mismatch,
            _ => IdempotencyBegin::Fresh,
        };
        assert_eq!(c.await.unwrap(), Ok(want), "key {i}");
    }
    let claimed = storage.batches();
    crate::common::assert_shared(&storage, before.key_claims, claimed.key_claims, N);
    // Completions: every fresh claim, plus ones for claims that are not there (a wrong claim
    // time) — each key once per batch round, so the two kinds share statements.
    let completes: Vec<_> = (0..N)
        .map(|i| {
            let (storage, barrier, key) = (storage.clone(), barrier.clone(), key(i));
            let claimed = if (35..40).contains(&i) {
                now + Duration::seconds(1)
            } else {
                now
            };
            tokio::spawn(async move {
                barrier.wait().await;
                let body = format!("response {i}").into_bytes();
                storage
                    .idempotency_complete(
                        principal(i),
                        &key,
                        &fp(f(i)),
                        claimed,
                        201 + u16::try_from(i).unwrap(),
                        &body,
                        now,
                    )
                    .await
            })
        })
        .collect();
    for (i, c) in completes.into_iter().enumerate() {
        let want = !(30..40).contains(&i) || (30..33).contains(&i);
        assert_eq!(c.await.unwrap(), Ok(want), "key {i}");
    }
    for i in 0..N {
        let got = storage
            .idempotency_begin(principal(i), &key(i), &fp(f(i)), now, TTL, LEASE)
            .await
            .unwrap();
        let want = match i {
            33..=34 => IdempotencyBegin::Mismatch,
            35..=39 => IdempotencyBegin::InProgress,
            _ => replay(
                201 + u16::try_from(i).unwrap(),
                format!("response {i}").as_bytes(),
            ),
        };
        assert_eq!(got, want, "key {i}");
    }
    let after = storage.batches();
    crate::common::assert_shared(&storage, claimed.key_outcomes, after.key_outcomes, N);
}
