//! Unit tests of the sandbox gateway over `MemoryGatewayStore`, a hand-moved clock and the OS
//! random source.

use std::sync::Mutex;

use billing_core::model::AccountNumber;
use billing_core::online::ReceiptContact;
use serde_json::Value;
use time::macros::datetime;

use super::cards::{DECLINED_BY_BANK, INSUFFICIENT_FUNDS};
use super::events::{PAYMENT_FAILED, PAYMENT_PENDING, PAYMENT_SUCCEEDED, REFUND_SUCCEEDED};
use super::store::MemoryGatewayStore;
use super::*;
use crate::random::OsRandom;
use crate::store::{MemorySandboxStore, StoredMessage};
use crate::testing::{ManualClock, T0};

const S: Duration = Duration::from_secs(1);
const PHONE: &str = "+79161234567";
const RETURN_URL: &str = "http://127.0.0.1:8080/cabinet/payments";

struct Fixture {
    gateway: SandboxGateway,
    store: Arc<MemoryGatewayStore>,
    outbox: Arc<MemorySandboxStore>,
    clock: Arc<ManualClock>,
}

fn fixture_over(
    settings: GatewaySettings,
    store: Arc<dyn GatewayStore>,
    memory: Arc<MemoryGatewayStore>,
) -> Fixture {
    let outbox = Arc::new(MemorySandboxStore::new());
    let clock = ManualClock::new();
    let gateway = SandboxGateway::new(
        store,
        outbox.clone(),
        clock.clone(),
        Arc::new(OsRandom),
        settings,
    );
    Fixture {
        gateway,
        store: memory,
        outbox,
        clock,
    }
}

/// A fixture whose gateway goes through a [`Meddling`] store.
fn meddling_fixture() -> (Fixture, Arc<Meddling>) {
    let memory = Arc::new(MemoryGatewayStore::new());
    let meddling = Arc::new(Meddling::new(memory.clone()));
    let f = fixture_over(GatewaySettings::new("http://x"), meddling.clone(), memory);
    (f, meddling)
}

fn fixture(settings: GatewaySettings) -> Fixture {
    let store = Arc::new(MemoryGatewayStore::new());
    fixture_over(settings, store.clone(), store)
}

fn default_fixture() -> Fixture {
    fixture(GatewaySettings::new("http://127.0.0.1:8080/"))
}

fn request(order_ref: &str) -> GatewayPaymentRequest {
    GatewayPaymentRequest {
        order_ref: order_ref.to_owned(),
        account_number: AccountNumber::parse("1234567890").unwrap(),
        amount: Money::from_kopecks(123_450),
        description: "Оплата ЖКУ по ЛС 1234567890".to_owned(),
        return_url: RETURN_URL.to_owned(),
        contact: ReceiptContact {
            email: Some("payer@example.ru".to_owned()),
            phone: Some(PHONE.to_owned()),
        },
    }
}

fn card(number: &str) -> CardForm {
    CardForm {
        number: number.to_owned(),
        expiry: "12/27".to_owned(),
        cvc: "123".to_owned(),
    }
}

fn succeeded() -> CardOutcome {
    CardOutcome::Succeeded {
        return_url: RETURN_URL.to_owned(),
    }
}

fn failed(reason: &str) -> CardOutcome {
    CardOutcome::Failed {
        reason: reason.to_owned(),
        return_url: RETURN_URL.to_owned(),
    }
}

impl Fixture {
    async fn create(&self, order_ref: &str) -> String {
        let created = self
            .gateway
            .create_payment(&request(order_ref))
            .await
            .unwrap();
        created.id.as_str().to_owned()
    }

    async fn pay(&self, id: &str, number: &str) -> Result<CardOutcome, CardError> {
        self.gateway.submit_card(id, &card(number)).await
    }

    async fn confirm(&self, id: &str, code: &str) -> Result<CardOutcome, CardError> {
        self.gateway.confirm_code(id, code).await
    }

    async fn record(&self, id: &str) -> SandboxPaymentRecord {
        self.store.payment(id).await.unwrap().unwrap()
    }

    /// The deliveries of payment `id`, oldest first.
    async fn deliveries(&self, id: &str) -> Vec<WebhookDeliveryRecord> {
        let mut rows = self.store.webhook_deliveries(Some(id), 100).await.unwrap();
        rows.reverse();
        rows
    }

    async fn status(&self, id: &str) -> Result<GatewayStatus, GatewayError> {
        let id = GatewayPaymentId::parse(id).unwrap();
        self.gateway.payment_status(&id).await
    }

    async fn refund(
        &self,
        id: &str,
        refund_ref: &str,
        kopecks: i64,
    ) -> Result<String, GatewayError> {
        let request = GatewayRefundRequest {
            payment: GatewayPaymentId::parse(id).unwrap(),
            amount: Money::from_kopecks(kopecks),
            refund_ref: refund_ref.to_owned(),
        };
        self.gateway
            .refund(&request)
            .await
            .map(|r| r.as_str().to_owned())
    }

    async fn sms(&self) -> Vec<StoredMessage> {
        self.outbox.messages(None, None, 100).await.unwrap()
    }
}

fn json(row: &WebhookDeliveryRecord) -> Value {
    serde_json::from_str(&row.payload).unwrap()
}

fn is_hex_id(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix).is_some_and(|hex| {
        hex.len() == 24 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    })
}

fn types(rows: &[WebhookDeliveryRecord]) -> Vec<&str> {
    rows.iter().map(|r| r.event_type.as_str()).collect()
}

// ----- create and status ----------------------------------------------------------------------

#[tokio::test]
async fn create_is_idempotent_per_order_ref() {
    let f = default_fixture();
    let first = f.gateway.create_payment(&request("order-1")).await.unwrap();
    assert!(is_hex_id(first.id.as_str(), "sbx_"), "{:?}", first.id);
    assert_eq!(
        first.confirmation_url,
        format!("http://127.0.0.1:8080/sandbox/pay/{}", first.id)
    );
    let again = f.gateway.create_payment(&request("order-1")).await.unwrap();
    assert_eq!(again, first);
    let other = f.gateway.create_payment(&request("order-2")).await.unwrap();
    assert_ne!(other.id, first.id);

    let record = f.record(first.id.as_str()).await;
    assert_eq!(record.status, "pending");
    assert_eq!(record.amount, Money::from_kopecks(123_450));
    assert_eq!(record.account_number, "1234567890");
    assert_eq!(record.contact_phone.as_deref(), Some(PHONE));
    assert_eq!((record.created_at, record.version), (T0, 0));
    assert!(
        f.store
            .webhook_deliveries(None, 10)
            .await
            .unwrap()
            .is_empty()
    );

    // The same order_ref for another amount is refused; so is a non-positive amount.
    let mut changed = request("order-1");
    changed.amount = Money::from_roubles(1);
    assert!(matches!(
        f.gateway.create_payment(&changed).await,
        Err(GatewayError::Declined(_))
    ));
    let mut zero = request("order-3");
    zero.amount = Money::ZERO;
    assert!(matches!(
        f.gateway.create_payment(&zero).await,
        Err(GatewayError::Declined(_))
    ));
    assert!(
        f.store
            .payment_by_order_ref("order-3")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn a_create_losing_the_insert_race_answers_the_winner() {
    let (f, racing) = meddling_fixture();
    let winner = f.create("order-1").await;
    // The next lookup misses the payment, as if the winner inserted it just after.
    racing.hide_next_order_ref_lookup();
    let loser = f.create("order-1").await;
    assert_eq!(loser, winner);
    assert_eq!(f.store.webhook_deliveries(None, 10).await.unwrap().len(), 0);
}

#[tokio::test]
async fn payment_status_maps_every_state() {
    let f = default_fixture();
    let pending = f.create("o-pending").await;
    assert_eq!(f.status(&pending).await, Ok(GatewayStatus::Pending));

    let code = f.create("o-code").await;
    f.pay(&code, "2200000000000012").await.unwrap();
    assert_eq!(f.record(&code).await.status, "awaiting_code");
    assert_eq!(f.status(&code).await, Ok(GatewayStatus::Pending));

    let paid = f.create("o-paid").await;
    f.pay(&paid, "2200000000000004").await.unwrap();
    assert_eq!(f.status(&paid).await, Ok(GatewayStatus::Succeeded));

    let declined = f.create("o-declined").await;
    f.pay(&declined, "2200000000000020").await.unwrap();
    assert_eq!(
        f.status(&declined).await,
        Ok(GatewayStatus::Failed {
            reason: INSUFFICIENT_FUNDS.to_owned()
        })
    );

    f.refund(&paid, "r1", 10_000).await.unwrap();
    assert_eq!(
        f.status(&paid).await,
        Ok(GatewayStatus::Refunded {
            amount: Money::from_roubles(100)
        })
    );
    assert!(matches!(
        f.status("sbx_unknown").await,
        Err(GatewayError::Declined(reason)) if reason.contains("sbx_unknown")
    ));
}

// ----- test cards -------------------------------------------------------------------------------

#[tokio::test]
async fn success_cards_pay_and_enqueue_one_succeeded_event() {
    let cases = [
        ("2200 0000 0000 0004", "0004", "МИР"),
        ("4111 1111 1111 1111", "1111", "Visa"),
        ("5555555555554444", "4444", "Mastercard"),
        ("4000000000000000006", "0006", "Visa"),
    ];
    for (number, last4, brand) in cases {
        let f = default_fixture();
        let id = f.create("order").await;
        f.clock.advance(5 * S);
        let outcome = f.pay(&id, number).await.unwrap();
        assert_eq!(outcome, succeeded(), "{number}");
        let record = f.record(&id).await;
        assert_eq!(record.status, "succeeded");
        assert_eq!(record.card_last4.as_deref(), Some(last4));
        assert_eq!(record.card_brand.as_deref(), Some(brand));
        assert_eq!((record.updated_at, record.version), (T0 + 5 * S, 1));

        let rows = f.deliveries(&id).await;
        assert_eq!(types(&rows), [PAYMENT_SUCCEEDED], "{number}");
        let row = &rows[0];
        assert!(is_hex_id(&row.event_id, "evt_"), "{}", row.event_id);
        assert_eq!(row.next_attempt_at, T0 + 5 * S);
        let body = json(row);
        assert_eq!(body["id"], row.event_id.as_str());
        assert_eq!(body["type"], PAYMENT_SUCCEEDED);
        assert_eq!(body["created_at"], "2026-12-01T10:00:05Z");
        let payment = &body["data"]["payment"];
        assert_eq!(payment["id"], id.as_str());
        assert_eq!(payment["order_ref"], "order");
        assert_eq!(payment["status"], "succeeded");
        assert_eq!(payment["amount"], "1234.50");
        assert_eq!(payment["refunded"], "0.00");
        assert_eq!(payment["currency"], "RUB");
        assert_eq!(payment["failure_reason"], Value::Null);
        assert_eq!(payment["card"]["last4"], last4);
        assert_eq!(payment["card"]["brand"], brand);
        assert!(body["data"].get("refund").is_none());
    }
}

#[tokio::test]
async fn decline_cards_fail_the_payment_with_their_reason() {
    for (number, reason) in [
        ("2200000000000020", INSUFFICIENT_FUNDS),
        ("2200000000000038", DECLINED_BY_BANK),
    ] {
        let f = default_fixture();
        let id = f.create("order").await;
        let outcome = f.pay(&id, number).await.unwrap();
        assert_eq!(outcome, failed(reason));
        let record = f.record(&id).await;
        assert_eq!(record.status, "failed");
        assert_eq!(record.failure_reason.as_deref(), Some(reason));
        let rows = f.deliveries(&id).await;
        assert_eq!(types(&rows), [PAYMENT_FAILED]);
        let payment = &json(&rows[0])["data"]["payment"];
        assert_eq!(payment["status"], "failed");
        assert_eq!(payment["failure_reason"], reason);
        assert_eq!(payment["card"]["last4"], &number[12..]);
    }
}

#[tokio::test]
async fn the_duplicate_card_delivers_the_same_event_twice() {
    let f = default_fixture();
    let id = f.create("order").await;
    assert_eq!(f.pay(&id, "2200000000000046").await, Ok(succeeded()));
    let rows = f.deliveries(&id).await;
    assert_eq!(types(&rows), [PAYMENT_SUCCEEDED, PAYMENT_SUCCEEDED]);
    assert_eq!(rows[1].event_id, format!("{}#dup", rows[0].event_id));
    assert_eq!(rows[1].payload, rows[0].payload);
    assert_eq!(json(&rows[1])["id"], rows[0].event_id.as_str());
    assert_eq!(rows[0].next_attempt_at, rows[1].next_attempt_at);
    assert!(rows[0].id < rows[1].id);
}

#[tokio::test]
async fn the_reorder_card_follows_success_with_a_stale_pending() {
    let f = default_fixture();
    let id = f.create("order").await;
    f.clock.advance(60 * S);
    f.pay(&id, "2200000000000053").await.unwrap();
    let rows = f.deliveries(&id).await;
    assert_eq!(types(&rows), [PAYMENT_SUCCEEDED, PAYMENT_PENDING]);
    assert_eq!(rows[0].next_attempt_at, T0 + 60 * S);
    assert_eq!(
        rows[1].next_attempt_at,
        T0 + 61 * S,
        "due after the final event"
    );
    assert_ne!(json(&rows[1])["id"], json(&rows[0])["id"]);
    let stale = json(&rows[1]);
    assert_eq!(stale["type"], PAYMENT_PENDING);
    assert_eq!(stale["created_at"], "2026-12-01T10:00:00Z");
    assert_eq!(stale["data"]["payment"]["status"], "pending");
    assert_eq!(stale["data"]["payment"]["card"], Value::Null);
    assert_eq!(stale["data"]["payment"]["amount"], "1234.50");
}

#[tokio::test]
async fn the_late_card_delays_the_first_attempt() {
    let mut settings = GatewaySettings::new("http://x");
    settings.late_card_delay = 90 * S;
    settings.chaos.first_delay = 5 * S;
    let f = fixture(settings);
    let late = f.create("late").await;
    f.pay(&late, "2200000000000061").await.unwrap();
    let rows = f.deliveries(&late).await;
    assert_eq!(types(&rows), [PAYMENT_SUCCEEDED]);
    assert_eq!(rows[0].next_attempt_at, T0 + 90 * S);
    // Any other card is delayed by the global first delay only.
    let other = f.create("other").await;
    f.pay(&other, "2200000000000004").await.unwrap();
    assert_eq!(f.deliveries(&other).await[0].next_attempt_at, T0 + 5 * S);
}

#[tokio::test]
async fn global_chaos_duplicates_every_nth_final_event_and_reorders() {
    let mut settings = GatewaySettings::new("http://x");
    settings.chaos = WebhookChaos {
        first_delay: 2 * S,
        duplicate_every: 2,
        reorder: false,
    };
    let f = fixture(settings);
    let mut counts = Vec::new();
    for n in 0..4 {
        let id = f.create(&format!("order-{n}")).await;
        f.pay(&id, "2200000000000004").await.unwrap();
        let rows = f.deliveries(&id).await;
        assert!(rows.iter().all(|r| r.next_attempt_at == T0 + 2 * S));
        counts.push(rows.len());
    }
    assert_eq!(counts, [1, 2, 1, 2]);

    let mut settings = GatewaySettings::new("http://x");
    settings.chaos.reorder = true;
    let f = fixture(settings);
    let id = f.create("order").await;
    f.pay(&id, "2200000000000038").await.unwrap();
    assert_eq!(
        types(&f.deliveries(&id).await),
        [PAYMENT_FAILED, PAYMENT_PENDING]
    );
}

// ----- card errors and secrecy ------------------------------------------------------------------

#[tokio::test]
async fn malformed_cards_are_refused_and_change_nothing() {
    let f = default_fixture();
    let id = f.create("order").await;
    let cases = [
        (card("2200000000000005"), CardError::ChecksumMismatch),
        (card("2200 0000 0000 000"), CardError::InvalidNumber),
        (card("2200x00000000004"), CardError::InvalidNumber),
        (
            CardForm {
                expiry: "11/26".to_owned(),
                ..card("2200000000000004")
            },
            CardError::Expired,
        ),
        (
            CardForm {
                expiry: "ab/cd".to_owned(),
                ..card("2200000000000004")
            },
            CardError::InvalidExpiry,
        ),
        (
            CardForm {
                cvc: "12".to_owned(),
                ..card("2200000000000004")
            },
            CardError::InvalidCvc,
        ),
    ];
    for (form, error) in cases {
        assert_eq!(f.gateway.submit_card(&id, &form).await, Err(error.clone()));
        assert!(
            error
                .user_message()
                .chars()
                .any(|c| ('а'..='я').contains(&c))
        );
    }
    // The expiry is judged by the gateway's clock: a card valid today expires with time.
    f.clock.set(datetime!(2028-01-01 00:00 UTC));
    assert_eq!(
        f.pay(&id, "2200000000000004").await,
        Err(CardError::Expired)
    );
    let record = f.record(&id).await;
    assert_eq!((record.status.as_str(), record.version), ("pending", 0));
    assert_eq!(record.card_last4, None);
    assert!(f.deliveries(&id).await.is_empty());
}

#[tokio::test]
async fn the_card_number_is_never_stored() {
    let f = default_fixture();
    let id = f.create("order").await;
    f.pay(&id, "4111 1111 1111 1111").await.unwrap();
    let code = f.create("order-code").await;
    f.pay(&code, "2200000000000012").await.unwrap();
    let mut stored = format!("{:?}", f.record(&id).await);
    stored.push_str(&format!("{:?}", f.record(&code).await));
    stored.push_str(&format!(
        "{:?}",
        f.store.webhook_deliveries(None, 100).await.unwrap()
    ));
    stored.push_str(&format!("{:?}", f.sms().await));
    for secret in [
        "4111111111111111",
        "411111111111",
        "2200000000000012",
        "220000000000",
    ] {
        assert!(!stored.contains(secret), "{secret} found");
    }
    assert!(
        stored.contains("1111") && stored.contains("0012"),
        "last4 kept"
    );
}

#[tokio::test]
async fn unknown_and_final_payments_cannot_be_paid() {
    let f = default_fixture();
    assert_eq!(
        f.pay("sbx_nope", "2200000000000004").await,
        Err(CardError::NotFound)
    );
    assert_eq!(f.gateway.checkout("sbx_nope").await, Ok(None));

    let paid = f.create("paid").await;
    f.pay(&paid, "2200000000000004").await.unwrap();
    let again = f.pay(&paid, "4111111111111111").await;
    assert_eq!(again, Err(CardError::AlreadyFinal { succeeded: true }));
    assert_eq!(
        f.confirm(&paid, CONFIRMATION_CODE).await,
        Err(CardError::AlreadyFinal { succeeded: true })
    );
    let declined = f.create("declined").await;
    f.pay(&declined, "2200000000000020").await.unwrap();
    let err = f.pay(&declined, "2200000000000004").await;
    assert_eq!(err, Err(CardError::AlreadyFinal { succeeded: false }));
    assert_ne!(
        CardError::AlreadyFinal { succeeded: false }.user_message(),
        CardError::AlreadyFinal { succeeded: true }.user_message()
    );
    // Nothing changed: the first card and one event each.
    assert_eq!(f.record(&paid).await.card_brand.as_deref(), Some("МИР"));
    assert_eq!(f.deliveries(&paid).await.len(), 1);
    assert_eq!(f.deliveries(&declined).await.len(), 1);
}

#[tokio::test]
async fn checkout_shows_what_the_page_needs() {
    let f = default_fixture();
    let id = f.create("order").await;
    let view = f.gateway.checkout(&id).await.unwrap().unwrap();
    assert_eq!(
        view,
        CheckoutView {
            payment_id: id.clone(),
            amount: Money::from_kopecks(123_450),
            description: "Оплата ЖКУ по ЛС 1234567890".to_owned(),
            account_number: "1234567890".to_owned(),
            status: SandboxStatus::Pending,
            code_awaited: false,
            code_attempts_left: 3,
            failure_reason: None,
            card_last4: None,
            card_brand: None,
            refunded: Money::ZERO,
            return_url: RETURN_URL.to_owned(),
        }
    );
    f.pay(&id, "2200000000000012").await.unwrap();
    f.confirm(&id, "000000").await.unwrap_err();
    let view = f.gateway.checkout(&id).await.unwrap().unwrap();
    assert_eq!(view.status, SandboxStatus::AwaitingCode);
    assert!(view.code_awaited);
    assert_eq!(view.code_attempts_left, 2);
    assert_eq!(view.card_last4.as_deref(), Some("0012"));
}

// ----- 3-D Secure -------------------------------------------------------------------------------

#[tokio::test]
async fn the_code_card_waits_for_the_code_and_sends_it_by_sms() {
    let f = default_fixture();
    let id = f.create("order").await;
    let outcome = f.pay(&id, "2200000000000012").await;
    assert_eq!(
        outcome,
        Ok(CardOutcome::CodeRequired {
            sms_to: Some("+7********67".to_owned())
        })
    );
    assert!(f.deliveries(&id).await.is_empty(), "not final: no event");
    let sms = f.sms().await;
    assert_eq!(sms.len(), 1);
    let m = &sms[0].message;
    assert_eq!(
        (m.channel, m.recipient.as_str(), m.kind.as_str()),
        (MessageChannel::Sms, PHONE, KIND_3DS)
    );
    assert_eq!(m.correlation.as_deref(), Some(id.as_str()));
    assert!(m.body.contains(CONFIRMATION_CODE), "{}", m.body);
    assert!(m.body.contains("1\u{a0}234,50\u{a0}₽"), "{}", m.body);

    // Another card while the code is awaited is refused; so is the code on a pending payment.
    assert_eq!(
        f.pay(&id, "2200000000000004").await,
        Err(CardError::CodeAwaited)
    );
    let pending = f.create("pending").await;
    assert_eq!(
        f.confirm(&pending, CONFIRMATION_CODE).await,
        Err(CardError::NotAwaitingCode)
    );

    assert_eq!(
        f.confirm(&id, "654321").await,
        Err(CardError::WrongCode { attempts_left: 2 })
    );
    assert_eq!(f.record(&id).await.code_attempts, 1);
    assert_eq!(f.confirm(&id, " 123456 ").await, Ok(succeeded()));
    assert_eq!(f.record(&id).await.status, "succeeded");
    assert_eq!(types(&f.deliveries(&id).await), [PAYMENT_SUCCEEDED]);
    assert_eq!(
        f.confirm(&id, CONFIRMATION_CODE).await,
        Err(CardError::AlreadyFinal { succeeded: true })
    );
}

#[tokio::test]
async fn three_wrong_codes_fail_the_payment() {
    let f = default_fixture();
    let id = f.create("order").await;
    f.pay(&id, "2200000000000012").await.unwrap();
    for left in [2, 1] {
        assert_eq!(
            f.confirm(&id, "111111").await,
            Err(CardError::WrongCode {
                attempts_left: left
            })
        );
        assert!(f.deliveries(&id).await.is_empty());
    }
    assert_eq!(
        f.confirm(&id, "111111").await,
        Ok(failed("Превышено число попыток ввода кода"))
    );
    let record = f.record(&id).await;
    assert_eq!(record.status, "failed");
    assert_eq!(record.code_attempts, 3);
    assert_eq!(types(&f.deliveries(&id).await), [PAYMENT_FAILED]);
    // The right code is too late now.
    assert_eq!(
        f.confirm(&id, CONFIRMATION_CODE).await,
        Err(CardError::AlreadyFinal { succeeded: false })
    );
}

#[tokio::test]
async fn without_a_phone_no_sms_is_sent() {
    let f = default_fixture();
    let mut no_phone = request("order");
    no_phone.contact.phone = None;
    let id = f.gateway.create_payment(&no_phone).await.unwrap().id;
    let outcome = f.pay(id.as_str(), "2200000000000012").await;
    assert_eq!(outcome, Ok(CardOutcome::CodeRequired { sms_to: None }));
    assert!(f.sms().await.is_empty());
}

// ----- races ------------------------------------------------------------------------------------

#[tokio::test]
async fn a_lost_race_retries_on_the_fresh_record() {
    let (f, meddling) = meddling_fixture();
    let id = f.create("order").await;
    f.pay(&id, "2200000000000012").await.unwrap();
    // Just before the code is checked, a parallel wrong code is counted.
    let mut parallel = f.record(&id).await;
    parallel.code_attempts = 2;
    meddling.before_next_update(parallel);
    assert_eq!(
        f.confirm(&id, "000000").await,
        Ok(failed("Превышено число попыток ввода кода")),
        "the third wrong code, counted on the fresh record"
    );
    assert_eq!(f.record(&id).await.code_attempts, 3);
    assert_eq!(types(&f.deliveries(&id).await), [PAYMENT_FAILED]);
}

#[tokio::test]
async fn a_payment_that_became_final_during_a_race_answers_its_outcome() {
    let (f, meddling) = meddling_fixture();
    let id = f.create("order").await;
    let mut parallel = f.record(&id).await;
    parallel.status = "failed".to_owned();
    parallel.failure_reason = Some(INSUFFICIENT_FUNDS.to_owned());
    meddling.before_next_update(parallel);
    assert_eq!(
        f.pay(&id, "2200000000000004").await,
        Ok(failed(INSUFFICIENT_FUNDS))
    );
    let record = f.record(&id).await;
    assert_eq!(record.status, "failed");
    assert_eq!(record.card_last4, None, "the losing card was not written");
    assert!(
        f.deliveries(&id).await.is_empty(),
        "the loser enqueued nothing"
    );
}

// ----- refunds ----------------------------------------------------------------------------------

async fn paid(f: &Fixture, order_ref: &str) -> String {
    let id = f.create(order_ref).await;
    f.pay(&id, "2200000000000004").await.unwrap();
    id
}

#[tokio::test]
async fn refunds_are_idempotent_per_refund_ref_and_enqueue_an_event() {
    let f = default_fixture();
    let id = paid(&f, "order").await;
    f.clock.advance(3600 * S);
    let refund = f.refund(&id, "req-1", 20_000).await.unwrap();
    assert!(is_hex_id(&refund, "rfd_"), "{refund}");
    assert_eq!(f.refund(&id, "req-1", 20_000).await, Ok(refund.clone()));
    assert!(matches!(
        f.refund(&id, "req-1", 30_000).await,
        Err(GatewayError::Declined(_))
    ));
    let refunds = f.store.refunds(&id).await.unwrap();
    assert_eq!(refunds.len(), 1);
    assert_eq!(refunds[0].amount, Money::from_roubles(200));
    assert_eq!(f.record(&id).await.refunded, Money::from_roubles(200));

    let rows = f.deliveries(&id).await;
    assert_eq!(types(&rows), [PAYMENT_SUCCEEDED, REFUND_SUCCEEDED]);
    let event = json(&rows[1]);
    assert_eq!(event["type"], REFUND_SUCCEEDED);
    assert_eq!(event["data"]["payment"]["status"], "succeeded");
    assert_eq!(event["data"]["payment"]["refunded"], "200.00");
    assert_eq!(event["data"]["refund"]["id"], refund.as_str());
    assert_eq!(event["data"]["refund"]["refund_ref"], "req-1");
    assert_eq!(event["data"]["refund"]["amount"], "200.00");
    assert_eq!(rows[1].next_attempt_at, T0 + 3600 * S);
}

#[tokio::test]
async fn refunds_never_exceed_what_is_left() {
    let f = default_fixture();
    let id = paid(&f, "order").await;
    f.refund(&id, "r1", 20_000).await.unwrap();
    // 1234.50 − 200.00 = 1034.50 left.
    let over = f.refund(&id, "r2", 103_451).await;
    assert!(matches!(over, Err(GatewayError::Declined(_))), "{over:?}");
    assert!(matches!(
        f.refund(&id, "r3", 0).await,
        Err(GatewayError::Declined(_))
    ));
    f.refund(&id, "r4", 103_450).await.unwrap();
    assert!(matches!(
        f.refund(&id, "r5", 1).await,
        Err(GatewayError::Declined(_))
    ));
    // A replay of a done refund still answers it, even with nothing left.
    assert!(f.refund(&id, "r1", 20_000).await.is_ok());
    assert_eq!(f.record(&id).await.refunded, Money::from_kopecks(123_450));
    assert_eq!(
        f.status(&id).await,
        Ok(GatewayStatus::Refunded {
            amount: Money::from_kopecks(123_450)
        })
    );
    assert_eq!(f.store.refunds(&id).await.unwrap().len(), 2);
}

#[tokio::test]
async fn only_succeeded_payments_are_refunded() {
    let f = default_fixture();
    let pending = f.create("pending").await;
    let declined = f.create("declined").await;
    f.pay(&declined, "2200000000000020").await.unwrap();
    for id in [pending.as_str(), declined.as_str(), "sbx_unknown"] {
        let result = f.refund(id, &format!("ref-{id}"), 100).await;
        assert!(
            matches!(result, Err(GatewayError::Declined(_))),
            "{id}: {result:?}"
        );
    }
    // A refund_ref used for another payment is refused.
    let a = paid(&f, "a").await;
    let b = paid(&f, "b").await;
    f.refund(&a, "shared", 100).await.unwrap();
    assert!(matches!(
        f.refund(&b, "shared", 100).await,
        Err(GatewayError::Declined(_))
    ));
    assert_eq!(f.record(&b).await.refunded, Money::ZERO);
}

// ----- a store that meddles ---------------------------------------------------------------------

/// Forwards to a `MemoryGatewayStore`, but can hide the next order_ref lookup (a create racing
/// another) or write a parallel change just before the next payment update (a lost race).
struct Meddling {
    inner: Arc<MemoryGatewayStore>,
    hide_lookup: Mutex<bool>,
    parallel: Mutex<Option<SandboxPaymentRecord>>,
}

impl Meddling {
    fn new(inner: Arc<MemoryGatewayStore>) -> Self {
        Self {
            inner,
            hide_lookup: Mutex::new(false),
            parallel: Mutex::new(None),
        }
    }

    fn hide_next_order_ref_lookup(&self) {
        *self.hide_lookup.lock().unwrap() = true;
    }

    fn before_next_update(&self, parallel: SandboxPaymentRecord) {
        *self.parallel.lock().unwrap() = Some(parallel);
    }
}

#[async_trait]
impl GatewayStore for Meddling {
    async fn insert_payment(&self, payment: &SandboxPaymentRecord) -> Result<(), StoreError> {
        self.inner.insert_payment(payment).await
    }
    async fn payment(&self, id: &str) -> Result<Option<SandboxPaymentRecord>, StoreError> {
        self.inner.payment(id).await
    }
    async fn payment_by_order_ref(
        &self,
        order_ref: &str,
    ) -> Result<Option<SandboxPaymentRecord>, StoreError> {
        if std::mem::take(&mut *self.hide_lookup.lock().unwrap()) {
            return Ok(None);
        }
        self.inner.payment_by_order_ref(order_ref).await
    }
    async fn update_payment(
        &self,
        payment: &SandboxPaymentRecord,
        events: &[NewWebhookDelivery],
    ) -> Result<bool, StoreError> {
        let parallel = self.parallel.lock().unwrap().take();
        if let Some(parallel) = parallel {
            assert!(self.inner.update_payment(&parallel, &[]).await?);
        }
        self.inner.update_payment(payment, events).await
    }
    async fn add_refund(
        &self,
        refund: &SandboxRefundRecord,
        payment: &SandboxPaymentRecord,
        events: &[NewWebhookDelivery],
    ) -> Result<RefundAdded, StoreError> {
        self.inner.add_refund(refund, payment, events).await
    }
    async fn refunds(&self, payment_id: &str) -> Result<Vec<SandboxRefundRecord>, StoreError> {
        self.inner.refunds(payment_id).await
    }
    async fn enqueue_webhook(&self, delivery: &NewWebhookDelivery) -> Result<u64, StoreError> {
        self.inner.enqueue_webhook(delivery).await
    }
    async fn claim_due_webhooks(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<WebhookDeliveryRecord>, StoreError> {
        self.inner.claim_due_webhooks(now, lease_until, limit).await
    }
    async fn record_webhook_attempt(
        &self,
        id: u64,
        attempt: &WebhookAttempt,
    ) -> Result<bool, StoreError> {
        self.inner.record_webhook_attempt(id, attempt).await
    }
    async fn webhook_deliveries(
        &self,
        payment_id: Option<&str>,
        limit: u32,
    ) -> Result<Vec<WebhookDeliveryRecord>, StoreError> {
        self.inner.webhook_deliveries(payment_id, limit).await
    }
    async fn redeliver_webhook(&self, id: u64, at: OffsetDateTime) -> Result<bool, StoreError> {
        self.inner.redeliver_webhook(id, at).await
    }
    async fn purge_webhooks(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        self.inner.purge_webhooks(before).await
    }
}
