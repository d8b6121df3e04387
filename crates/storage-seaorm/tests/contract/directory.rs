//! What finds an ЛС by a subscriber's proof: payment-document codes (`set_payment_code`,
//! `account_by_payment_code`, `has_payment_code`), the house search (`search_houses`) and the
//! cabinet's gate (`linked_account`).

use billing_core::ids::{AccountId, HouseId, SupplierId};
use identity_core::crypto::SecretDigest;
use identity_core::ports::WriteError;
use storage_seaorm::{HouseMatch, Storage};

use crate::common::fixtures::{account, at, link, session, stored_subscriber};
use crate::common::seed::*;

contract!(
    payment_code_finds_its_account_and_only_it,
    payment_code_is_replaced_and_the_old_one_stops_matching,
    one_code_cannot_name_two_accounts,
    payment_code_of_a_missing_account_is_refused,
    deleting_an_account_deletes_its_code,
    house_search_matches_every_word_case_insensitively,
    house_search_is_per_supplier_and_limited,
    the_gate_opens_an_account_only_to_a_cabinet_it_is_linked_to,
    a_link_that_does_not_decode_is_an_error_not_a_closed_gate,
    a_session_comes_with_its_cabinets_link_as_the_two_reads_give_them,
    sessions_read_at_once_are_each_what_the_two_reads_give,
);

fn code(text: &str) -> SecretDigest {
    SecretDigest::of_token(text)
}

async fn payment_code_finds_its_account_and_only_it(storage: Storage) {
    let seeded = house_with_accounts(&storage, 1, 2).await;
    let first = seeded.accounts[0].id;
    storage
        .set_payment_code(first, &code("Ab3xK9pQ"), at(0))
        .await
        .unwrap();
    assert_eq!(
        storage
            .account_by_payment_code(&code("Ab3xK9pQ"))
            .await
            .unwrap(),
        Some(first)
    );
    // Case matters: the digest of another spelling names nothing.
    assert_eq!(
        storage
            .account_by_payment_code(&code("ab3xk9pq"))
            .await
            .unwrap(),
        None
    );
    assert!(storage.has_payment_code(first).await.unwrap());
    assert!(
        !storage
            .has_payment_code(seeded.accounts[1].id)
            .await
            .unwrap()
    );
}

async fn payment_code_is_replaced_and_the_old_one_stops_matching(storage: Storage) {
    let seeded = house_with_accounts(&storage, 1, 1).await;
    let account = seeded.accounts[0].id;
    storage
        .set_payment_code(account, &code("old"), at(0))
        .await
        .unwrap();
    storage
        .set_payment_code(account, &code("new"), at(1))
        .await
        .unwrap();
    assert_eq!(
        storage.account_by_payment_code(&code("old")).await.unwrap(),
        None
    );
    assert_eq!(
        storage.account_by_payment_code(&code("new")).await.unwrap(),
        Some(account)
    );
    assert_eq!(count_rows(&storage, "account_codes").await, 1);
}

async fn one_code_cannot_name_two_accounts(storage: Storage) {
    let seeded = house_with_accounts(&storage, 1, 2).await;
    let (a, b) = (seeded.accounts[0].id, seeded.accounts[1].id);
    storage
        .set_payment_code(a, &code("same"), at(0))
        .await
        .unwrap();
    assert!(matches!(
        storage.set_payment_code(b, &code("same"), at(1)).await,
        Err(WriteError::Duplicate)
    ));
    assert_eq!(
        storage
            .account_by_payment_code(&code("same"))
            .await
            .unwrap(),
        Some(a)
    );
    assert!(!storage.has_payment_code(b).await.unwrap());
}

async fn payment_code_of_a_missing_account_is_refused(storage: Storage) {
    house_with_accounts(&storage, 1, 1).await;
    let missing = AccountId::new(999_999);
    assert!(matches!(
        storage.set_payment_code(missing, &code("x"), at(0)).await,
        Err(WriteError::Port(_))
    ));
    assert_eq!(count_rows(&storage, "account_codes").await, 0);
}

async fn deleting_an_account_deletes_its_code(storage: Storage) {
    let seeded = house_with_accounts(&storage, 1, 1).await;
    let account = seeded.accounts[0].id;
    storage
        .set_payment_code(account, &code("gone"), at(0))
        .await
        .unwrap();
    // Only the FK cascade is under test; the meters referencing the ЛС go first.
    damage(&storage, "DELETE FROM meters").await;
    damage(
        &storage,
        &format!("DELETE FROM accounts WHERE id = {}", account.get()),
    )
    .await;
    assert_eq!(
        storage
            .account_by_payment_code(&code("gone"))
            .await
            .unwrap(),
        None
    );
    assert_eq!(count_rows(&storage, "account_codes").await, 0);
}

fn addresses(found: &[HouseMatch]) -> Vec<&str> {
    found.iter().map(|h| h.address.as_str()).collect()
}

async fn stored_houses(storage: &Storage, supplier: u64, houses: &[(u64, &str)]) {
    seed_supplier(storage, supplier).await;
    let houses: Vec<_> = houses
        .iter()
        .map(|(id, address)| {
            let mut h = house(*id, supplier);
            h.address = (*address).to_owned();
            h
        })
        .collect();
    storage.upsert_houses(&houses).await.unwrap();
}

async fn house_search_matches_every_word_case_insensitively(storage: Storage) {
    stored_houses(
        &storage,
        SUPPLIER,
        &[
            (1, "г. Тула, ул. Семёновская, д. 5"),
            (2, "г. Тула, ул. Ленина, д. 15"),
            (3, "г. Тула, ул. Ленина, д. 7"),
        ],
    )
    .await;
    let supplier = SupplierId::new(SUPPLIER);
    let found = storage
        .search_houses(supplier, "ЛЕНИНА 15", 10)
        .await
        .unwrap();
    assert_eq!(
        found,
        [HouseMatch {
            id: HouseId::new(2),
            address: "г. Тула, ул. Ленина, д. 15".to_owned()
        }]
    );
    assert_eq!(
        addresses(
            &storage
                .search_houses(supplier, "семеновская", 10)
                .await
                .unwrap()
        ),
        ["г. Тула, ул. Семёновская, д. 5"]
    );
    assert_eq!(
        addresses(&storage.search_houses(supplier, "ленина", 10).await.unwrap()),
        ["г. Тула, ул. Ленина, д. 15", "г. Тула, ул. Ленина, д. 7"]
    );
    assert!(
        storage
            .search_houses(supplier, "   ", 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        storage
            .search_houses(supplier, "Москва", 10)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn house_search_is_per_supplier_and_limited(storage: Storage) {
    stored_houses(
        &storage,
        1,
        &[(1, "ул. Мира, 1"), (2, "ул. Мира, 2"), (3, "ул. Мира, 3")],
    )
    .await;
    stored_houses(&storage, 2, &[(4, "ул. Мира, 4")]).await;
    let first = storage
        .search_houses(SupplierId::new(1), "мира", 2)
        .await
        .unwrap();
    assert_eq!(addresses(&first), ["ул. Мира, 1", "ул. Мира, 2"]);
    let other = storage
        .search_houses(SupplierId::new(2), "мира", 10)
        .await
        .unwrap();
    assert_eq!(addresses(&other), ["ул. Мира, 4"]);
    assert!(
        storage
            .search_houses(SupplierId::new(3), "мира", 10)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Two ЛС of one house; cabinet 1 (the owner) has the first linked and, at another supplier,
/// the second's number; cabinet 2 (a stranger) has nothing.
struct Linked {
    mine: billing_core::model::Account,
    neighbours: billing_core::model::Account,
    owner: identity_core::domain::SubscriberId,
    stranger: identity_core::domain::SubscriberId,
    number: u32,
    linked: identity_core::model::LinkedAccount,
}

async fn linked_setup(storage: &Storage) -> Linked {
    use identity_core::ports::LinkRepository;
    let seeded = house_with_accounts(storage, 1, 2).await;
    let (mine, neighbours) = (seeded.accounts[0].clone(), seeded.accounts[1].clone());
    let owner = stored_subscriber(storage, 1).await.id;
    let stranger = stored_subscriber(storage, 2).await.id;
    let number: u32 = mine.number.as_str().parse().unwrap();
    let linked = link(account(&SUPPLIER.to_string(), number), 0, true);
    LinkRepository::insert(storage, owner, &linked)
        .await
        .unwrap();
    // The same number at another supplier is another ЛС: linking it opens nothing here.
    let other_supplier = link(
        account("999", neighbours.number.as_str().parse().unwrap()),
        1,
        false,
    );
    LinkRepository::insert(storage, owner, &other_supplier)
        .await
        .unwrap();
    Linked {
        mine,
        neighbours,
        owner,
        stranger,
        number,
        linked,
    }
}

async fn the_gate_opens_an_account_only_to_a_cabinet_it_is_linked_to(storage: Storage) {
    use identity_core::ports::LinkRepository;
    let Linked {
        mine,
        neighbours,
        owner,
        stranger,
        number,
        linked,
    } = linked_setup(&storage).await;
    let (mine, neighbours) = (&mine, &neighbours);

    assert_eq!(
        storage.linked_account(owner, mine.id).await.unwrap(),
        Some((linked, mine.clone()))
    );
    assert_eq!(
        storage.linked_account(owner, neighbours.id).await.unwrap(),
        None
    );
    assert_eq!(
        storage.linked_account(stranger, mine.id).await.unwrap(),
        None
    );
    assert_eq!(
        storage
            .linked_account(owner, AccountId::new(987_654))
            .await
            .unwrap(),
        None
    );
    // Unlinked, it is closed again.
    LinkRepository::remove(&storage, owner, &account(&SUPPLIER.to_string(), number))
        .await
        .unwrap();
    assert_eq!(storage.linked_account(owner, mine.id).await.unwrap(), None);
}

async fn a_link_that_does_not_decode_is_an_error_not_a_closed_gate(storage: Storage) {
    use identity_core::ports::LinkRepository;
    let seeded = house_with_accounts(&storage, 1, 1).await;
    let mine = &seeded.accounts[0];
    let owner = stored_subscriber(&storage, 1).await.id;
    let number: u32 = mine.number.as_str().parse().unwrap();
    let linked = link(account(&SUPPLIER.to_string(), number), 0, true);
    LinkRepository::insert(&storage, owner, &linked)
        .await
        .unwrap();
    if storage.backend() == storage_seaorm::Backend::Sqlite {
        // SQLite lets a column hold a value of another type; PostgreSQL refuses the UPDATE.
        use identity_core::ports::SessionRepository;
        let owners = session(1, owner, 10);
        SessionRepository::insert(&storage, &owners).await.unwrap();
        damage(&storage, "UPDATE linked_accounts SET linked_at = 'x'").await;
        assert!(storage.linked_account(owner, mine.id).await.is_err());
        // The session still comes back, to be judged first; the link's damage comes with it.
        let (found, link) = storage
            .session_with_link(&owners.token_digest, mine.id)
            .await
            .unwrap();
        assert_eq!(found.map(|(record, _)| record), Some(owners));
        assert!(link.is_err());
    }
}

/// Asserts `session_with_link` answers what the two single reads answer for the same rows, and
/// returns the link it found.
async fn same_as_two_reads(
    storage: &Storage,
    digest: &SecretDigest,
    account: AccountId,
) -> Option<(
    identity_core::model::LinkedAccount,
    billing_core::model::Account,
)> {
    use identity_core::ports::SessionRepository;
    let (found, link) = storage.session_with_link(digest, account).await.unwrap();
    let expected = storage.find_with_subscriber(digest).await.unwrap();
    assert_eq!(found, expected, "the session and its cabinet");
    let expected_link = match &found {
        Some((record, _)) => storage
            .linked_account(record.subscriber, account)
            .await
            .unwrap(),
        None => None,
    };
    let link = link.expect("an undamaged link row decodes");
    assert_eq!(link, expected_link, "the link of the session's cabinet");
    link
}

async fn a_session_comes_with_its_cabinets_link_as_the_two_reads_give_them(storage: Storage) {
    use identity_core::ports::{LinkRepository, SessionRepository};
    let Linked {
        mine,
        neighbours,
        owner,
        stranger,
        number,
        linked,
    } = linked_setup(&storage).await;
    let (mine, neighbours) = (&mine, &neighbours);
    let (owners, strangers) = (session(1, owner, 10), session(2, stranger, 20));
    SessionRepository::insert(&storage, &owners).await.unwrap();
    SessionRepository::insert(&storage, &strangers)
        .await
        .unwrap();

    assert_eq!(
        same_as_two_reads(&storage, &owners.token_digest, mine.id).await,
        Some((linked.clone(), mine.clone()))
    );
    assert_eq!(
        same_as_two_reads(&storage, &owners.token_digest, neighbours.id).await,
        None
    );
    assert_eq!(
        same_as_two_reads(&storage, &owners.token_digest, AccountId::new(987_654)).await,
        None
    );
    assert_eq!(
        same_as_two_reads(&storage, &strangers.token_digest, mine.id).await,
        None
    );
    // An unknown token: no session, and so no link either.
    assert_eq!(
        storage
            .session_with_link(&code("no-such-token"), mine.id)
            .await
            .unwrap(),
        (None, Ok(None))
    );
    // A revoked session still comes back with its link: the core judges the session.
    assert!(storage.revoke(owner, owners.id, at(30)).await.unwrap());
    let (found, link) = storage
        .session_with_link(&owners.token_digest, mine.id)
        .await
        .unwrap();
    assert_eq!(found.unwrap().0.revoked_at, Some(at(30)));
    assert_eq!(link, Ok(Some((linked, mine.clone()))));
    // Unlinked, the gate is closed.
    LinkRepository::remove(&storage, owner, &account(&SUPPLIER.to_string(), number))
        .await
        .unwrap();
    assert_eq!(
        same_as_two_reads(&storage, &owners.token_digest, mine.id).await,
        None
    );
}

/// Session reads asked at once — on PostgreSQL served by shared queries (`Storage::batches`) —
/// are each what the two single reads give: the owner's and a stranger's sessions, linked,
/// unlinked and unknown ЛС, unknown tokens.
async fn sessions_read_at_once_are_each_what_the_two_reads_give(storage: Storage) {
    use identity_core::ports::SessionRepository;
    use std::sync::Arc;
    let Linked {
        mine,
        neighbours,
        owner,
        stranger,
        ..
    } = linked_setup(&storage).await;
    let mut asked = Vec::new();
    for n in 1..=12u8 {
        let who = if n % 3 == 0 { stranger } else { owner };
        let s = session(n, who, i64::from(n));
        SessionRepository::insert(&storage, &s).await.unwrap();
        for a in [mine.id, neighbours.id, AccountId::new(987_654)] {
            asked.push((s.token_digest, a));
        }
    }
    for t in ["no-such-token", "nor-this-one"] {
        asked.push((code(t), mine.id));
    }
    let mut alone = Vec::new();
    for (digest, a) in &asked {
        alone.push(same_as_two_reads(&storage, digest, *a).await);
    }
    assert!(alone.iter().filter(|l| l.is_some()).count() >= 8);
    let before = storage.batches().session_links;
    let barrier = Arc::new(tokio::sync::Barrier::new(asked.len()));
    let handles: Vec<_> = asked
        .iter()
        .cloned()
        .map(|(digest, a)| {
            let (storage, barrier) = (storage.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                storage.session_with_link(&digest, a).await
            })
        })
        .collect();
    for ((h, want), (digest, a)) in handles.into_iter().zip(&alone).zip(&asked) {
        let (found, link) = h.await.unwrap().unwrap();
        assert_eq!(
            found,
            storage.find_with_subscriber(digest).await.unwrap(),
            "{a:?}"
        );
        assert_eq!(link.unwrap(), *want, "{a:?}");
    }
    let after = storage.batches().session_links;
    crate::common::assert_shared(&storage, before, after, asked.len());
}
