//! The sandbox providers' storage: the outbox (`outbox_push`, `outbox_messages`,
//! `outbox_purge`) and captcha challenges (`captcha_put`, `captcha_use`, `captcha_purge`),
//! including eight tasks using one captcha at once.

use identity_core::ports::WriteError;
use sea_orm::{ConnectionTrait, Statement};
use storage_seaorm::{CaptchaRecord, NewOutboxMessage, OutboxChannel, OutboxRow, Storage};
use time::Duration;

use crate::common::fixtures::*;
use crate::concurrency::race;

contract!(
    outbox_round_trips_every_field,
    outbox_filters_by_recipient_and_pages_after_an_id,
    outbox_purge_removes_older_messages_and_ids_are_never_reused,
    outbox_corrupt_row_is_an_error_not_a_panic,
    captcha_is_used_once,
    captcha_wrong_answer_uses_it_up,
    captcha_expired_or_unknown_is_refused,
    captcha_same_id_twice_is_duplicate,
    captcha_purge_removes_expired_challenges,
    eight_uses_of_one_captcha_at_once_one_wins,
);

fn sms(to: &str, n: i64) -> NewOutboxMessage {
    NewOutboxMessage {
        channel: OutboxChannel::Sms,
        recipient: to.to_owned(),
        kind: "code".to_owned(),
        subject: None,
        body: format!("Код подтверждения регистрации: {n:06}. Никому не сообщайте его."),
        correlation: None,
        created_at: at(n),
    }
}

fn row_of(id: u64, m: &NewOutboxMessage) -> OutboxRow {
    OutboxRow {
        id,
        channel: m.channel,
        recipient: m.recipient.clone(),
        kind: m.kind.clone(),
        subject: m.subject.clone(),
        body: m.body.clone(),
        correlation: m.correlation.clone(),
        created_at: m.created_at,
    }
}

fn ids(rows: &[OutboxRow]) -> Vec<u64> {
    rows.iter().map(|r| r.id).collect()
}

async fn outbox_round_trips_every_field(storage: Storage) {
    let email = NewOutboxMessage {
        channel: OutboxChannel::Email,
        recipient: "ivan@example.ru".to_owned(),
        kind: "link".to_owned(),
        subject: Some("Подтверждение адреса электронной почты".to_owned()),
        body: "Здравствуйте!\n\nhttps://lk.example.ru/l/confirm-email?token=00ff\n".to_owned(),
        correlation: Some("payment-42".to_owned()),
        created_at: at(0) + Duration::nanoseconds(123_456_789),
    };
    let text = sms("+79160000001", 1);
    let first = storage.outbox_push(&email).await.unwrap();
    let second = storage.outbox_push(&text).await.unwrap();
    assert!(first < second, "{first} < {second}");
    assert_eq!(
        storage.outbox_messages(None, None, 10).await.unwrap(),
        [row_of(first, &email), row_of(second, &text)]
    );
}

async fn outbox_filters_by_recipient_and_pages_after_an_id(storage: Storage) {
    let mut pushed = Vec::new();
    for n in 0..6 {
        let to = if n % 2 == 0 {
            "+79160000001"
        } else {
            "+79160000002"
        };
        pushed.push(storage.outbox_push(&sms(to, n)).await.unwrap());
    }
    let to_first = storage
        .outbox_messages(Some("+79160000001"), None, 100)
        .await
        .unwrap();
    assert_eq!(ids(&to_first), [pushed[0], pushed[2], pushed[4]]);
    assert!(
        to_first.iter().all(|r| r.recipient == "+79160000001"),
        "{to_first:?}"
    );
    // Without a cursor: the latest `limit`, oldest first.
    let latest = storage.outbox_messages(None, None, 2).await.unwrap();
    assert_eq!(ids(&latest), [pushed[4], pushed[5]]);
    // With a cursor: the first `limit` after it, so paging forward skips nothing.
    let page = storage
        .outbox_messages(None, Some(pushed[0]), 2)
        .await
        .unwrap();
    assert_eq!(ids(&page), [pushed[1], pushed[2]]);
    let page = storage
        .outbox_messages(Some("+79160000002"), Some(pushed[1]), 10)
        .await
        .unwrap();
    assert_eq!(ids(&page), [pushed[3], pushed[5]]);
    assert!(
        storage
            .outbox_messages(None, Some(pushed[5]), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        storage
            .outbox_messages(None, Some(u64::MAX), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        storage
            .outbox_messages(Some("nobody"), None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        storage
            .outbox_messages(None, None, 0)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn outbox_purge_removes_older_messages_and_ids_are_never_reused(storage: Storage) {
    let mut pushed = Vec::new();
    for n in 0..4 {
        pushed.push(storage.outbox_push(&sms("+79160000001", n)).await.unwrap());
    }
    assert_eq!(storage.outbox_purge(at(2)).await.unwrap(), 2);
    let left = storage.outbox_messages(None, None, 10).await.unwrap();
    assert_eq!(ids(&left), [pushed[2], pushed[3]]);
    // Purge everything, including the newest row: the next id still grows, so a reader
    // polling "after the last id it saw" cannot miss the next message.
    assert_eq!(storage.outbox_purge(at(100)).await.unwrap(), 2);
    assert!(
        storage
            .outbox_messages(None, None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let next = storage.outbox_push(&sms("+79160000001", 5)).await.unwrap();
    assert!(next > pushed[3], "{next} > {}", pushed[3]);
    assert_eq!(
        ids(&storage
            .outbox_messages(None, Some(pushed[3]), 10)
            .await
            .unwrap()),
        [next]
    );
}

async fn outbox_corrupt_row_is_an_error_not_a_panic(storage: Storage) {
    let id = storage.outbox_push(&sms("+79160000001", 0)).await.unwrap();
    let conn = storage.connection();
    conn.execute_raw(Statement::from_string(
        conn.get_database_backend(),
        format!("UPDATE outbox_messages SET channel = 'fax' WHERE id = {id}"),
    ))
    .await
    .unwrap();
    let err = storage.outbox_messages(None, None, 10).await.unwrap_err();
    assert!(
        err.message()
            .contains(&format!("corrupt row in outbox_messages ({id}): channel")),
        "{err}"
    );
}

fn captcha(n: u8, answer: u8) -> CaptchaRecord {
    CaptchaRecord {
        id: format!("{n:032x}"),
        answer_digest: [answer; 32],
        issued_at: at(0),
        expires_at: at(600),
    }
}

async fn captcha_is_used_once(storage: Storage) {
    let c = captcha(1, 7);
    storage.captcha_put(&c).await.unwrap();
    assert!(storage.captcha_use(&c.id, &[7; 32], at(1)).await.unwrap());
    assert!(!storage.captcha_use(&c.id, &[7; 32], at(2)).await.unwrap());
    // Another challenge is untouched by the first one's use.
    let other = captcha(2, 7);
    storage.captcha_put(&other).await.unwrap();
    assert!(
        storage
            .captcha_use(&other.id, &[7; 32], at(3))
            .await
            .unwrap()
    );
}

async fn captcha_wrong_answer_uses_it_up(storage: Storage) {
    let c = captcha(1, 7);
    storage.captcha_put(&c).await.unwrap();
    let mut wrong = [7; 32];
    wrong[31] = 8;
    assert!(!storage.captcha_use(&c.id, &wrong, at(1)).await.unwrap());
    assert!(!storage.captcha_use(&c.id, &[7; 32], at(2)).await.unwrap());
}

async fn captcha_expired_or_unknown_is_refused(storage: Storage) {
    let c = captcha(1, 7);
    storage.captcha_put(&c).await.unwrap();
    // Exactly at the deadline it is no longer accepted, and the refusal does not use it.
    assert!(!storage.captcha_use(&c.id, &[7; 32], at(600)).await.unwrap());
    assert!(
        storage
            .captcha_use(&c.id, &[7; 32], at(600) - Duration::nanoseconds(1))
            .await
            .unwrap()
    );
    assert!(
        !storage
            .captcha_use(&captcha(9, 7).id, &[7; 32], at(1))
            .await
            .unwrap()
    );
}

async fn captcha_same_id_twice_is_duplicate(storage: Storage) {
    let c = captcha(1, 7);
    storage.captcha_put(&c).await.unwrap();
    assert_eq!(
        storage.captcha_put(&captcha(1, 8)).await,
        Err(WriteError::Duplicate)
    );
    // The first one stands.
    assert!(storage.captcha_use(&c.id, &[7; 32], at(1)).await.unwrap());
}

async fn captcha_purge_removes_expired_challenges(storage: Storage) {
    let used = captcha(1, 7);
    let unused = captcha(2, 7);
    let later = CaptchaRecord {
        expires_at: at(1200),
        ..captcha(3, 7)
    };
    for c in [&used, &unused, &later] {
        storage.captcha_put(c).await.unwrap();
    }
    assert!(
        storage
            .captcha_use(&used.id, &[7; 32], at(1))
            .await
            .unwrap()
    );
    assert_eq!(storage.captcha_purge(at(600)).await.unwrap(), 0);
    assert_eq!(storage.captcha_purge(at(601)).await.unwrap(), 2);
    assert!(
        storage
            .captcha_use(&later.id, &[7; 32], at(2))
            .await
            .unwrap()
    );
}

async fn eight_uses_of_one_captcha_at_once_one_wins(storage: Storage) {
    let c = captcha(1, 7);
    storage.captcha_put(&c).await.unwrap();
    let results = race(&storage, |_| {
        let (storage, id) = (storage.clone(), c.id.clone());
        async move { storage.captcha_use(&id, &[7; 32], at(1)).await.unwrap() }
    })
    .await;
    assert_eq!(results.iter().filter(|won| **won).count(), 1, "{results:?}");
}
