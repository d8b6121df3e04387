//! Contract of `QuestionRepository`: questions stored once, read back whole, listed per
//! cabinet newest first, the open queue oldest first with a supplier filter and keyset pages,
//! and each question answered once (the race is in `concurrency`).

use identity_core::model::{Question, QuestionCursor, QuestionTopic};
use identity_core::ports::{QuestionRepository, WriteError};
use storage_seaorm::Storage;
use time::Duration;

use crate::common::fixtures::*;

contract!(
    a_question_round_trips_every_field,
    a_question_id_is_stored_once,
    a_missing_question_is_none,
    a_cabinets_questions_are_newest_first_and_limited,
    the_open_queue_is_oldest_first_without_answered_questions,
    the_open_queue_filters_by_supplier,
    the_open_queue_pages_after_a_cursor,
    an_answer_is_set_once,
);

fn ids(questions: &[Question]) -> Vec<u8> {
    questions.iter().map(|q| q.id.as_bytes()[0]).collect()
}

async fn a_question_round_trips_every_field(storage: Storage) {
    let owner = stored_subscriber(&storage, 1).await.id;
    let mut about = question(1, owner, Some(account("ES-1", 1001)), 0);
    about.topic = QuestionTopic::Charges;
    about.asked_at = at(0) + Duration::nanoseconds(123_456_789);
    let general = question(2, owner, None, 5);
    let mut answered = question(3, owner, Some(account("VK-2", 77)), 10);
    answered.topic = QuestionTopic::Other;
    answered.answer = Some(answer(
        4,
        20,
        "Показания приняты 25-го числа.\nПерерасчёт — в следующем ЕПД.",
    ));
    for q in [&about, &general, &answered] {
        QuestionRepository::insert(&storage, q).await.unwrap();
        assert_eq!(
            QuestionRepository::get(&storage, q.id).await.unwrap(),
            Some(q.clone())
        );
    }
    for (n, topic) in (10..).zip(QuestionTopic::ALL) {
        let mut q = question(n, owner, None, 30);
        q.topic = topic;
        QuestionRepository::insert(&storage, &q).await.unwrap();
        assert_eq!(
            QuestionRepository::get(&storage, q.id).await.unwrap(),
            Some(q)
        );
    }
}

async fn a_question_id_is_stored_once(storage: Storage) {
    let owner = stored_subscriber(&storage, 1).await.id;
    let first = question(1, owner, None, 0);
    QuestionRepository::insert(&storage, &first).await.unwrap();
    let mut again = question(1, owner, Some(account("ES-1", 5)), 60);
    again.topic = QuestionTopic::Payments;
    assert_eq!(
        QuestionRepository::insert(&storage, &again).await,
        Err(WriteError::Duplicate)
    );
    assert_eq!(
        QuestionRepository::get(&storage, first.id).await.unwrap(),
        Some(first)
    );
}

async fn a_missing_question_is_none(storage: Storage) {
    let owner = stored_subscriber(&storage, 1).await.id;
    assert_eq!(
        QuestionRepository::get(&storage, question_id(9))
            .await
            .unwrap(),
        None
    );
    assert!(
        storage
            .list_by_subscriber(owner, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(storage.list_open(None, None, 10).await.unwrap().is_empty());
}

async fn a_cabinets_questions_are_newest_first_and_limited(storage: Storage) {
    let owner = stored_subscriber(&storage, 1).await.id;
    let other = stored_subscriber(&storage, 2).await.id;
    // Three asked at the same instant: the id breaks the tie, descending.
    for (n, who, seconds) in [
        (1, owner, 20),
        (2, owner, 10),
        (3, owner, 20),
        (4, owner, 20),
        (5, other, 30),
        (6, owner, 10),
    ] {
        QuestionRepository::insert(&storage, &question(n, who, None, seconds))
            .await
            .unwrap();
    }
    // Answered questions are listed too.
    assert!(
        storage
            .answer(question_id(6), &answer(1, 40, "Ответ"))
            .await
            .unwrap()
    );
    let all = storage.list_by_subscriber(owner, 10).await.unwrap();
    assert_eq!(ids(&all), [4, 3, 1, 6, 2]);
    assert_eq!(all[3].answer, Some(answer(1, 40, "Ответ")));
    assert_eq!(
        ids(&storage.list_by_subscriber(owner, 3).await.unwrap()),
        [4, 3, 1]
    );
    assert!(
        storage
            .list_by_subscriber(owner, 0)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        ids(&storage.list_by_subscriber(other, 10).await.unwrap()),
        [5]
    );
    assert!(
        storage
            .list_by_subscriber(subscriber_id(3), 10)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Seven questions: open ones in queue order are 2 (10 s), 7 (15 s), 1, 3, 4 (all 20 s) and
/// 5 (30 s); 6 (10 s) is answered. 1, 2, 4 and 6 are about ES-1, 5 and 7 about VK-2, 3 is
/// general.
async fn seed_queue(storage: &Storage) {
    let owner = stored_subscriber(storage, 1).await.id;
    let other = stored_subscriber(storage, 2).await.id;
    let es = || Some(account("ES-1", 1001));
    let vk = || Some(account("VK-2", 2002));
    for (n, who, about, seconds) in [
        (1, owner, es(), 20),
        (2, owner, es(), 10),
        (3, owner, None, 20),
        (4, owner, es(), 20),
        (5, other, vk(), 30),
        (6, owner, es(), 10),
        (7, other, vk(), 15),
    ] {
        QuestionRepository::insert(storage, &question(n, who, about, seconds))
            .await
            .unwrap();
    }
    assert!(
        storage
            .answer(question_id(6), &answer(1, 40, "Ответ"))
            .await
            .unwrap()
    );
}

async fn the_open_queue_is_oldest_first_without_answered_questions(storage: Storage) {
    seed_queue(&storage).await;
    let open = storage.list_open(None, None, 100).await.unwrap();
    assert_eq!(ids(&open), [2, 7, 1, 3, 4, 5]);
    assert!(open.iter().all(|q| q.is_open()));
    assert_eq!(
        ids(&storage.list_open(None, None, 2).await.unwrap()),
        [2, 7]
    );
    assert!(storage.list_open(None, None, 0).await.unwrap().is_empty());
}

async fn the_open_queue_filters_by_supplier(storage: Storage) {
    seed_queue(&storage).await;
    let es = account("ES-1", 1).supplier;
    let vk = account("VK-2", 1).supplier;
    let none = account("NONE", 1).supplier;
    assert_eq!(
        ids(&storage
            .list_open(Some(es.clone()), None, 100)
            .await
            .unwrap()),
        [2, 1, 4]
    );
    assert_eq!(
        ids(&storage.list_open(Some(vk), None, 100).await.unwrap()),
        [7, 5]
    );
    assert!(
        storage
            .list_open(Some(none), None, 100)
            .await
            .unwrap()
            .is_empty()
    );
    let after_one = QuestionCursor {
        asked_at: at(20),
        id: question_id(1),
    };
    assert_eq!(
        ids(&storage
            .list_open(Some(es), Some(after_one), 100)
            .await
            .unwrap()),
        [4]
    );
}

async fn the_open_queue_pages_after_a_cursor(storage: Storage) {
    seed_queue(&storage).await;
    // Pages of two, each continuing after the last question of the one before: the three
    // questions asked at 20 s are split across pages without loss or repetition.
    let mut pages = Vec::new();
    let mut after = None;
    loop {
        let page = storage.list_open(None, after, 2).await.unwrap();
        let Some(last) = page.last() else { break };
        after = Some(last.cursor());
        pages.push(ids(&page));
    }
    assert_eq!(pages, [vec![2, 7], vec![1, 3], vec![4, 5]]);
    // Strictly after (asked_at, id): a cursor at 20 s with id 2 skips 1 (smaller id), keeps 3.
    let between = QuestionCursor {
        asked_at: at(20),
        id: question_id(2),
    };
    assert_eq!(
        ids(&storage.list_open(None, Some(between), 100).await.unwrap()),
        [3, 4, 5]
    );
    // A cursor survives the answer of its own question, and is exact to the nanosecond.
    let cursor = storage.get(question_id(1)).await.unwrap().unwrap().cursor();
    assert!(
        storage
            .answer(question_id(1), &answer(1, 50, "Ответ"))
            .await
            .unwrap()
    );
    assert_eq!(
        ids(&storage.list_open(None, Some(cursor), 100).await.unwrap()),
        [3, 4, 5]
    );
    let just_before = QuestionCursor {
        asked_at: at(30) - Duration::nanoseconds(1),
        id: question_id(200),
    };
    assert_eq!(
        ids(&storage
            .list_open(None, Some(just_before), 100)
            .await
            .unwrap()),
        [5]
    );
    let last = QuestionCursor {
        asked_at: at(30),
        id: question_id(5),
    };
    assert!(
        storage
            .list_open(None, Some(last), 100)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn an_answer_is_set_once(storage: Storage) {
    let owner = stored_subscriber(&storage, 1).await.id;
    let q = question(1, owner, Some(account("ES-1", 1001)), 0);
    QuestionRepository::insert(&storage, &q).await.unwrap();
    let mut first = answer(2, 60, "Ваши показания учтены.\nСпасибо.");
    first.at += Duration::nanoseconds(7);
    assert!(storage.answer(q.id, &first).await.unwrap());
    assert!(
        !storage
            .answer(q.id, &answer(3, 120, "Другой ответ"))
            .await
            .unwrap()
    );
    assert!(
        !storage
            .answer(question_id(9), &answer(3, 120, "Нет такого вопроса"))
            .await
            .unwrap()
    );
    let stored = storage.get(q.id).await.unwrap().unwrap();
    assert_eq!(stored.answer, Some(first));
    assert_eq!(
        stored,
        Question {
            answer: stored.answer.clone(),
            ..q
        }
    );
    assert!(storage.list_open(None, None, 10).await.unwrap().is_empty());
}
