//! Corrupt rows: a value damaged in the database comes back as a clear port error naming the
//! table and column, never as a panic or a wrong record.

use billing_core::ports::RepoError;
use identity_core::model::{ChallengePurpose, OperatorRole, SecurityEventKind};
use identity_core::ports::{
    ApiKeyRepository, ChallengeRepository, ConsentRepository, LinkRepository, OperatorRepository,
    OperatorSessionRepository, PortError, QuestionRepository, SecurityLog, SessionRepository,
    SubscriberRepository,
};
use sea_orm::{ConnectionTrait, Statement};
use storage_seaorm::Storage;

use crate::common::fixtures::*;

contract!(
    corrupt_billing_rows_are_reported,
    corrupt_subscribers_are_reported,
    corrupt_challenges_are_reported,
    corrupt_rows_of_the_other_tables_are_reported,
    corrupt_questions_are_reported,
    corrupt_operators_are_reported,
    corrupt_api_keys_and_operator_sessions_are_reported,
    corrupt_online_payments_are_reported,
);

async fn damage(storage: &Storage, sql: &str, values: Vec<sea_orm::Value>) {
    let conn = storage.connection();
    conn.execute_raw(Statement::from_sql_and_values(
        conn.get_database_backend(),
        sql,
        values,
    ))
    .await
    .unwrap();
}

fn assert_reports<T: std::fmt::Debug>(result: Result<T, PortError>, table: &str, column: &str) {
    let message = result
        .expect_err("a corrupt row must be an error")
        .message()
        .to_owned();
    assert!(
        message.contains(&format!("corrupt row in {table}")) && message.contains(column),
        "{message}"
    );
}

async fn corrupt_subscribers_are_reported(storage: Storage) {
    let s = stored_subscriber(&storage, 1).await;
    let handle = s.handles()[0].clone();
    for (sql, column) in [
        ("UPDATE subscribers SET phone = 'not a phone'", "phone"),
        (
            "UPDATE subscribers SET version = -1, phone = '+79160000001'",
            "version",
        ),
        (
            "UPDATE subscribers SET version = 0, blocked_by = 'martians'",
            "blocked",
        ),
        (
            "UPDATE subscribers SET blocked_by = NULL, account_supplier = NULL",
            "account",
        ),
    ] {
        damage(&storage, sql, vec![]).await;
        assert_reports(
            SubscriberRepository::get(&storage, s.id).await,
            "subscribers",
            column,
        );
        assert_reports(storage.find_by_handle(&handle).await, "subscribers", column);
    }
}

async fn corrupt_challenges_are_reported(storage: Storage) {
    let c = challenge(
        1,
        ChallengePurpose::RecoverByEmail {
            subscriber: subscriber_id(1),
        },
        "t",
    );
    ChallengeRepository::insert(&storage, &c).await.unwrap();
    for (sql, column) in [
        ("UPDATE challenges SET recovers = NULL", "recovers"),
        ("UPDATE challenges SET purpose = 'decoy'", "purpose"),
        (
            "UPDATE challenges SET purpose = 'recover_by_email', payload = '{\"purpose\":'",
            "payload",
        ),
        (
            "UPDATE challenges SET failed_attempts = -5, payload = '{\"purpose\":\"recover_by_email\",\"subscriber\":\"00\"}'",
            "subscriber",
        ),
    ] {
        damage(&storage, sql, vec![]).await;
        assert_reports(
            ChallengeRepository::get(&storage, c.id).await,
            "challenges",
            column,
        );
    }
    damage(
        &storage,
        "UPDATE challenges SET payload = $1, recovers = $2",
        vec![
            format!(
                "{{\"purpose\":\"recover_by_email\",\"subscriber\":\"{}\"}}",
                subscriber_id(1)
            )
            .into(),
            subscriber_id(1).to_string().into(),
        ],
    )
    .await;
    assert_reports(
        ChallengeRepository::get(&storage, c.id).await,
        "challenges",
        "failed_attempts",
    );
    // `attempt` reports it too instead of guessing.
    damage(
        &storage,
        "UPDATE challenges SET failed_attempts = 0, digest = $1",
        vec![vec![1u8, 2, 3].into()],
    )
    .await;
    assert_reports(
        storage.attempt(c.id, &digest("x"), at(1), 5).await,
        "challenges",
        "digest",
    );
}

async fn corrupt_rows_of_the_other_tables_are_reported(storage: Storage) {
    let owner = stored_subscriber(&storage, 1).await.id;
    SessionRepository::insert(&storage, &session(1, owner, 0))
        .await
        .unwrap();
    LinkRepository::insert(&storage, owner, &link(account("ES-1", 1), 0, true))
        .await
        .unwrap();
    ConsentRepository::insert(&storage, &consent(1, owner, 0))
        .await
        .unwrap();
    storage
        .append(&event(owner, 0, SecurityEventKind::Registered))
        .await
        .unwrap();

    damage(
        &storage,
        "UPDATE sessions SET token_digest = $1",
        vec![vec![9u8; 31].into()],
    )
    .await;
    assert_reports(
        SessionRepository::list(&storage, owner).await,
        "sessions",
        "token_digest",
    );
    damage(
        &storage,
        "UPDATE linked_accounts SET proof = 'telepathy'",
        vec![],
    )
    .await;
    assert_reports(
        LinkRepository::list(&storage, owner).await,
        "linked_accounts",
        "proof",
    );
    damage(&storage, "UPDATE consents SET channel = 'pigeon'", vec![]).await;
    assert_reports(
        ConsentRepository::list(&storage, owner).await,
        "consents",
        "channel",
    );
    damage(
        &storage,
        "UPDATE security_events SET kind = 'signed_in'",
        vec![],
    )
    .await;
    assert_reports(
        SecurityLog::list(&storage, owner, 10).await,
        "security_events",
        "kind",
    );
}

fn corrupt<T: std::fmt::Debug>(result: Result<T, RepoError>, table: &str, column: &str) {
    match result {
        Err(RepoError::Corrupt(message)) => assert!(
            message.contains(&format!("corrupt row in {table}")) && message.contains(column),
            "{message}"
        ),
        other => panic!("expected a corrupt {table}.{column}, got {other:?}"),
    }
}

async fn corrupt_billing_rows_are_reported(storage: Storage) {
    use billing_core::ports::LedgerRepository;

    use crate::common::billing::*;

    let p = storage
        .record_payment(&new_payment("pay-1", 7, 10000))
        .await
        .unwrap();
    let r = storage
        .record_refund_request(&refund_request(p.id, "pay-1", 7, 100, "R-1"))
        .await
        .unwrap();
    // Values a driver accepts on both backends but the domain refuses.
    damage(&storage, "UPDATE payments SET state = 'lost'", vec![]).await;
    corrupt(
        storage.payment_by_gateway_id(&gateway("pay-1")).await,
        "payments",
        "state",
    );
    corrupt(storage.payments(account_id(7)).await, "payments", "state");
    damage(
        &storage,
        "UPDATE payments SET state = 'created', created_on = '2025-02-30'",
        vec![],
    )
    .await;
    corrupt(
        storage.payments(account_id(7)).await,
        "payments",
        "created_on",
    );
    damage(&storage, "UPDATE ledger_journal SET kind = 'gift'", vec![]).await;
    corrupt(
        storage.journal(account_id(7)).await,
        "ledger_journal",
        "kind",
    );
    damage(
        &storage,
        "UPDATE ledger_journal SET kind = 'payment_created', payment_id = NULL",
        vec![],
    )
    .await;
    corrupt(
        storage.journal(account_id(7)).await,
        "ledger_journal",
        "payment_id",
    );
    damage(
        &storage,
        "UPDATE refund_requests SET status = 'refunded'",
        vec![],
    )
    .await;
    corrupt(
        storage.refund_request(r.id).await,
        "refund_requests",
        "decided_on",
    );
    damage(&storage, "UPDATE payments SET split = '{'", vec![]).await;
    corrupt(storage.payments(account_id(7)).await, "payments", "split");
    if storage.backend() == storage_seaorm::Backend::Sqlite {
        // NUMERIC(30, 2) cannot hold these on PostgreSQL; SQLite's text can be damaged.
        damage(
            &storage,
            "UPDATE payments SET split = NULL, amount = '1.005'",
            vec![],
        )
        .await;
        corrupt(storage.payments(account_id(7)).await, "payments", "amount");
        damage(&storage, "UPDATE payments SET amount = 'many'", vec![]).await;
        corrupt(storage.payments(account_id(7)).await, "payments", "amount");
    }
}

async fn corrupt_questions_are_reported(storage: Storage) {
    let owner = stored_subscriber(&storage, 1).await.id;
    let q = question(1, owner, Some(account("ES-1", 1001)), 0);
    QuestionRepository::insert(&storage, &q).await.unwrap();
    for (sql, column) in [
        ("UPDATE questions SET topic = 'gossip'", "topic"),
        (
            "UPDATE questions SET topic = 'readings', account_number = NULL",
            "account",
        ),
        (
            "UPDATE questions SET account_supplier = NULL, text = '   '",
            "text",
        ),
        (
            "UPDATE questions SET text = 'Вопрос', answered_by = 'abc'",
            "answer",
        ),
        (
            "UPDATE questions SET answer_text = 'Ответ', answered_at = 1",
            "answered_by",
        ),
    ] {
        damage(&storage, sql, vec![]).await;
        assert_reports(
            QuestionRepository::get(&storage, q.id).await,
            "questions",
            column,
        );
        assert_reports(
            storage.list_by_subscriber(owner, 10).await,
            "questions",
            column,
        );
    }
    // An open question damaged the same way breaks the operators' queue with an error too.
    damage(
        &storage,
        "UPDATE questions SET answer_text = NULL, answered_by = NULL, answered_at = NULL, \
         topic = 'gossip'",
        vec![],
    )
    .await;
    assert_reports(
        storage.list_open(None, None, 10).await,
        "questions",
        "topic",
    );
}

async fn corrupt_operators_are_reported(storage: Storage) {
    let o = stored_operator(&storage, 1, OperatorRole::Support).await;
    for (sql, column) in [
        ("UPDATE operators SET role = 'root'", "role"),
        ("UPDATE operators SET role = 'support', name = ''", "name"),
        (
            // Not normalised: `find_by_login` could never find it.
            "UPDATE operators SET name = 'Петрова Анна', login = 'Operator-1'",
            "login",
        ),
    ] {
        damage(&storage, sql, vec![]).await;
        assert_reports(
            OperatorRepository::get(&storage, o.id).await,
            "operators",
            column,
        );
        if column != "login" {
            assert_reports(storage.find_by_login(&o.login).await, "operators", column);
        }
    }
    damage(
        &storage,
        "UPDATE operators SET login = 'operator-1', id = 'xyz'",
        vec![],
    )
    .await;
    assert_reports(storage.find_by_login(&o.login).await, "operators", "id");
}

async fn corrupt_api_keys_and_operator_sessions_are_reported(storage: Storage) {
    let owner = stored_operator(&storage, 1, OperatorRole::Admin).await.id;
    let k = api_key(1, owner, 0);
    ApiKeyRepository::insert(&storage, &k).await.unwrap();
    let s = operator_session(1, owner, 0);
    OperatorSessionRepository::insert(&storage, &s)
        .await
        .unwrap();

    damage(
        &storage,
        "UPDATE operator_api_keys SET role = 'root'",
        vec![],
    )
    .await;
    assert_reports(
        ApiKeyRepository::list(&storage).await,
        "operator_api_keys",
        "role",
    );
    assert_reports(
        storage.find_by_key_digest(&k.digest).await,
        "operator_api_keys",
        "role",
    );
    damage(
        &storage,
        "UPDATE operator_api_keys SET role = 'billing', id = 'nope'",
        vec![],
    )
    .await;
    assert_reports(
        ApiKeyRepository::list(&storage).await,
        "operator_api_keys",
        "id",
    );
    damage(
        &storage,
        "UPDATE operator_api_keys SET id = $1, key_digest = $2",
        vec![k.id.to_string().into(), vec![1u8; 31].into()],
    )
    .await;
    assert_reports(
        ApiKeyRepository::list(&storage).await,
        "operator_api_keys",
        "key_digest",
    );

    damage(&storage, "UPDATE operator_sessions SET id = 'nope'", vec![]).await;
    assert_reports(
        OperatorSessionRepository::find_by_token(&storage, &s.token_digest).await,
        "operator_sessions",
        "id",
    );
}

async fn corrupt_online_payments_are_reported(storage: Storage) {
    use billing_core::ledger::PaymentSplit;
    use billing_core::online::{OnlinePaymentRecord, OnlinePaymentRepository, ReceiptContact};
    use billing_core::ports::LedgerRepository;

    use crate::common::billing::*;

    let r = OnlinePaymentRecord {
        gateway_id: gateway("sbp-1"),
        order_ref: "order-1".to_owned(),
        account: account_id(7),
        amount: rub(10000),
        split: PaymentSplit::Default,
        payer: "p".to_owned(),
        contact: ReceiptContact::default(),
        confirmation_url: "https://pay.example/confirm/sbp-1".to_owned(),
        created_at: at(0),
    };
    OnlinePaymentRepository::insert(&storage, &r).await.unwrap();
    storage
        .record_payment(&new_payment("sbp-1", 7, 10000))
        .await
        .unwrap();
    damage(&storage, "UPDATE online_payments SET split = '{'", vec![]).await;
    corrupt(
        storage.by_order_ref("order-1").await,
        "online_payments",
        "split",
    );
    corrupt(
        storage.unsettled(at(1), 10).await,
        "online_payments",
        "split",
    );
    damage(
        &storage,
        "UPDATE online_payments SET split = '[[\"gas\", \"100.00\"]]'",
        vec![],
    )
    .await;
    corrupt(
        storage.by_gateway_id(&gateway("sbp-1")).await,
        "online_payments",
        "split",
    );
    damage(
        &storage,
        "UPDATE online_payments SET split = NULL, account_id = -7",
        vec![],
    )
    .await;
    corrupt(
        storage.by_order_ref("order-1").await,
        "online_payments",
        "account_id",
    );
    if storage.backend() == storage_seaorm::Backend::Sqlite {
        // NUMERIC(30, 2) cannot hold this on PostgreSQL; SQLite's text can be damaged.
        damage(
            &storage,
            "UPDATE online_payments SET account_id = 7, amount = '1.005'",
            vec![],
        )
        .await;
        corrupt(
            storage.by_order_ref("order-1").await,
            "online_payments",
            "amount",
        );
    }
}
