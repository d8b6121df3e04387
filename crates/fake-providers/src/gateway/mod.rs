//! [`SandboxGateway`]: a payment gateway that behaves like a real acquirer's sandbox —
//! `billing_core::online::PaymentGateway` plus the logic of its **hosted payment page** (the
//! server's poem page renders [`CheckoutView`] and calls [`SandboxGateway::submit_card`] and
//! [`SandboxGateway::confirm_code`]; the HTML lives in the server, not here).
//!
//! # Flow
//!
//! 1. [`PaymentGateway::create_payment`] stores a `pending` payment (idempotent per
//!    `order_ref`: the same `order_ref` again answers the payment created first; with another
//!    amount or account it is declined) and answers `confirmation_url =
//!    {public_base}/sandbox/pay/{id}`; ids are `sbx_` and 24 hex characters from the `Random`
//!    port.
//! 2. The payer opens the page ([`SandboxGateway::checkout`]) and submits a card
//!    ([`SandboxGateway::submit_card`]). The card is checked ([`cards::check_card`]: 16–19
//!    digits, Luhn, `MM/YY` not in the past, three-digit CVC); **the number is never stored
//!    or logged**, only its last four digits and brand. The number chooses the behaviour
//!    ([`TEST_CARDS`]; any other valid card succeeds).
//! 3. The 3-D Secure card (`2200 0000 0000 0012`) moves the payment to `awaiting_code` and, if
//!    the payment has a contact phone, puts an SMS with the code ([`CONFIRMATION_CODE`]) in the
//!    sandbox outbox (kind `3ds`, correlation = the payment id).
//!    [`SandboxGateway::confirm_code`] accepts it; [`MAX_CODE_ATTEMPTS`] wrong codes fail the
//!    payment («Превышено число попыток ввода кода»).
//! 4. When the payment becomes final (`succeeded` or `failed`) it is written with a
//!    compare-and-set on its version **together with its webhook event(s)**
//!    ([`GatewayStore::update_payment`]); a lost race re-reads, and if the payment became
//!    final meanwhile that final state is the answer. A final payment cannot be paid again
//!    ([`CardError::AlreadyFinal`]).
//! 5. [`PaymentGateway::refund`] (idempotent per `refund_ref`, only for succeeded payments,
//!    never above the amount not yet refunded) writes the refund, the payment and a
//!    `refund.succeeded` event in one transaction ([`GatewayStore::add_refund`]).
//!
//! The [`crate::webhooks`] dispatcher then posts the events, signed at send time.
//!
//! # Chaos
//!
//! [`WebhookChaos`] (global, deterministic) delays every event's first attempt, delivers every
//! n-th final event twice and/or follows every final payment event with a stale
//! `payment.pending`; the test cards do the same per payment (delivered twice, out of order,
//! late by [`GatewaySettings::late_card_delay`]). A duplicate is a second delivery row with the
//! key `<event id>#dup` and the **same payload** (same event id); the stale `payment.pending`
//! is due [`events::REORDER_GAP`] after the final event.
//!
//! # Webhook event format (the wire format the HTTP receiver parses)
//!
//! ```json
//! {
//!   "id": "evt_<24 hex>",
//!   "type": "payment.succeeded" | "payment.failed" | "payment.pending" | "refund.succeeded",
//!   "created_at": "<RFC 3339, UTC>",
//!   "data": {
//!     "payment": {
//!       "id": "sbx_<24 hex>",
//!       "order_ref": "…",
//!       "status": "pending" | "succeeded" | "failed",
//!       "amount": "1234.50",
//!       "refunded": "0.00",
//!       "currency": "RUB",
//!       "failure_reason": null | "…",
//!       "card": {"last4": "0004", "brand": "МИР"} | null
//!     },
//!     "refund": {"id": "rfd_<24 hex>", "refund_ref": "…", "amount": "100.00"}
//!   }
//! }
//! ```
//!
//! Money is a string with exactly two decimals; `refund` is present only in
//! `refund.succeeded`; the payment is a snapshot at the event's time (a stale
//! `payment.pending` carries the payment as created: pending, no card, nothing refunded).
//! The HTTP receiver (http-api) does not depend on this crate and parses this format itself.
//!
//! # Errors
//!
//! `PaymentGateway` calls answer [`GatewayError::Declined`] (English reason, for logs) when
//! retrying cannot help — an unknown payment id, a non-positive amount, an `order_ref` or
//! `refund_ref` reused with other data, a refund of a payment that did not succeed or above
//! what is left — and [`GatewayError::Unavailable`] when the store failed.

pub mod cards;
pub mod events;
pub mod store;

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use billing_core::money::Money;
use billing_core::online::{
    GatewayError, GatewayPayment, GatewayPaymentRequest, GatewayRefundId, GatewayRefundRequest,
    GatewayStatus, PaymentGateway, UNSPECIFIED_DECLINE_REASON,
};
use billing_core::ports::GatewayPaymentId;
use identity_core::ports::{Clock, PortError, Random};
use time::OffsetDateTime;

use crate::store::{MessageChannel, OutboxMessage, SandboxStore, StoreError};
pub use cards::{
    CONFIRMATION_CODE, CardBehaviour, CardForm, MAX_CODE_ATTEMPTS, TEST_CARDS, TestCard,
};
use cards::{TOO_MANY_CODES, check_card};
pub use events::WebhookChaos;
use events::{EventIds, EventPlanner};
#[cfg(any(test, feature = "test-support"))]
pub use store::MemoryGatewayStore;
pub use store::{
    GatewayStore, NewWebhookDelivery, RefundAdded, SandboxPaymentRecord, SandboxRefundRecord,
    WebhookAttempt, WebhookAttemptOutcome, WebhookDeliveryRecord,
};

/// The outbox `kind` of the SMS carrying the confirmation code.
pub const KIND_3DS: &str = "3ds";

/// How many times a lost compare-and-set is retried before giving up as unavailable.
const MAX_ROUNDS: usize = 16;

/// How the sandbox gateway is set up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GatewaySettings {
    /// The service's public base URL (`http://127.0.0.1:8080`), without a trailing slash: the
    /// hosted page is `{public_base}/sandbox/pay/{id}`.
    pub public_base: String,
    /// How late the late-webhook test card's first attempt is (default 10 s).
    pub late_card_delay: Duration,
    /// Global webhook chaos (default none).
    pub chaos: WebhookChaos,
}

impl GatewaySettings {
    /// Settings with the page under `public_base` (trailing slashes dropped), the default late
    /// delay and no chaos.
    pub fn new(public_base: &str) -> Self {
        Self {
            public_base: public_base.trim_end_matches('/').to_owned(),
            late_card_delay: Duration::from_secs(10),
            chaos: WebhookChaos::default(),
        }
    }
}

/// The state of a sandbox payment (stored as its [`SandboxStatus::as_str`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SandboxStatus {
    /// Waiting for the payer's card.
    Pending,
    /// Waiting for the confirmation code.
    AwaitingCode,
    /// Paid (final).
    Succeeded,
    /// Declined (final).
    Failed,
}

impl SandboxStatus {
    /// The stored text: `pending`, `awaiting_code`, `succeeded`, `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::AwaitingCode => "awaiting_code",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    /// The status stored as `text`, if it is one.
    pub fn parse(text: &str) -> Option<Self> {
        [
            Self::Pending,
            Self::AwaitingCode,
            Self::Succeeded,
            Self::Failed,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }

    /// True for `succeeded` and `failed`.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed)
    }
}

/// What the hosted page shows about a payment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckoutView {
    /// The payment's id.
    pub payment_id: String,
    /// The amount.
    pub amount: Money,
    /// What is paid, in Russian.
    pub description: String,
    /// The account paid.
    pub account_number: String,
    /// Its state.
    pub status: SandboxStatus,
    /// True when the page should ask for the confirmation code.
    pub code_awaited: bool,
    /// Wrong codes the payer may still enter.
    pub code_attempts_left: u32,
    /// Why it failed (Russian), when it did.
    pub failure_reason: Option<String>,
    /// The last four digits of the card, once submitted.
    pub card_last4: Option<String>,
    /// The card's brand, once submitted.
    pub card_brand: Option<String>,
    /// The amount refunded so far.
    pub refunded: Money,
    /// Where to send the payer back.
    pub return_url: String,
}

/// What a card or code submission led to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CardOutcome {
    /// Paid: send the payer back to `return_url`.
    Succeeded {
        /// Where to send the payer.
        return_url: String,
    },
    /// Declined for good: show the reason, then send the payer back.
    Failed {
        /// Why, in Russian.
        reason: String,
        /// Where to send the payer.
        return_url: String,
    },
    /// The bank asks for the confirmation code: show the code form.
    CodeRequired {
        /// The masked phone the code was sent to (`+7********67`), if the payment has one.
        sms_to: Option<String>,
    },
}

/// Why a card or code submission was refused (nothing changed, except that a wrong code
/// counts). [`CardError::user_message`] is the Russian text for the form.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CardError {
    /// No payment has this id.
    #[error("payment not found")]
    NotFound,
    /// The payment is already final and cannot be paid again.
    #[error("payment already final (succeeded: {succeeded})")]
    AlreadyFinal {
        /// True if it succeeded, false if it failed.
        succeeded: bool,
    },
    /// A card was submitted while the confirmation code is awaited.
    #[error("a confirmation code is awaited")]
    CodeAwaited,
    /// A code was submitted but none is awaited.
    #[error("no confirmation code is awaited")]
    NotAwaitingCode,
    /// The number is not 16–19 digits.
    #[error("card number is not 16 to 19 digits")]
    InvalidNumber,
    /// The number fails the Luhn check.
    #[error("card number fails the Luhn check")]
    ChecksumMismatch,
    /// The expiry is not `MM/YY` with a month 01–12.
    #[error("expiry is not MM/YY")]
    InvalidExpiry,
    /// The expiry month is over.
    #[error("card expired")]
    Expired,
    /// The CVC is not three digits.
    #[error("CVC is not three digits")]
    InvalidCvc,
    /// The code is wrong; the payer may try again.
    #[error("wrong confirmation code ({attempts_left} attempts left)")]
    WrongCode {
        /// How many more wrong codes fail the payment.
        attempts_left: u32,
    },
    /// The store or the random source failed; the text is for logs.
    #[error("sandbox gateway unavailable: {0}")]
    Unavailable(String),
}

impl CardError {
    /// The refusal in Russian, for the form.
    pub fn user_message(&self) -> String {
        match self {
            Self::NotFound => "Платёж не найден.".into(),
            Self::AlreadyFinal { succeeded: true } => "Этот платёж уже оплачен.".into(),
            Self::AlreadyFinal { succeeded: false } => {
                "Этот платёж отклонён. Вернитесь в личный кабинет и начните новый платёж.".into()
            }
            Self::CodeAwaited => "Введите код подтверждения из SMS.".into(),
            Self::NotAwaitingCode => "Код подтверждения не запрашивался.".into(),
            Self::InvalidNumber => "Номер карты должен состоять из 16–19 цифр.".into(),
            Self::ChecksumMismatch => "Номер карты введён с ошибкой, проверьте цифры.".into(),
            Self::InvalidExpiry => "Укажите срок действия в формате ММ/ГГ.".into(),
            Self::Expired => "Срок действия карты истёк.".into(),
            Self::InvalidCvc => "CVC — три цифры на обороте карты.".into(),
            Self::WrongCode { attempts_left } => {
                format!("Неверный код подтверждения. Осталось попыток: {attempts_left}.")
            }
            Self::Unavailable(_) => "Сервис временно недоступен. Повторите попытку позже.".into(),
        }
    }
}

impl From<StoreError> for CardError {
    fn from(e: StoreError) -> Self {
        Self::Unavailable(e.to_string())
    }
}

impl From<PortError> for CardError {
    fn from(e: PortError) -> Self {
        Self::Unavailable(e.to_string())
    }
}

/// A payment change decided on a read record: written with a compare-and-set, then `answer`
/// is the result.
struct Change {
    record: SandboxPaymentRecord,
    events: Vec<NewWebhookDelivery>,
    answer: Result<CardOutcome, CardError>,
}

/// The sandbox payment gateway (see the module docs). Share it in an `Arc`.
pub struct SandboxGateway {
    store: Arc<dyn GatewayStore>,
    outbox: Arc<dyn SandboxStore>,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
    settings: GatewaySettings,
    planner: EventPlanner,
}

impl std::fmt::Debug for SandboxGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxGateway")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl SandboxGateway {
    /// A gateway keeping payments in `store`, putting confirmation-code SMS in `outbox`, timed
    /// by `clock`, drawing ids from `random`.
    pub fn new(
        store: Arc<dyn GatewayStore>,
        outbox: Arc<dyn SandboxStore>,
        clock: Arc<dyn Clock>,
        random: Arc<dyn Random>,
        settings: GatewaySettings,
    ) -> Self {
        let planner = EventPlanner::new(settings.chaos, settings.late_card_delay);
        Self {
            store,
            outbox,
            clock,
            random,
            settings,
            planner,
        }
    }

    /// The settings it was made with.
    pub fn settings(&self) -> &GatewaySettings {
        &self.settings
    }

    /// The hosted page of payment `id`: `{public_base}/sandbox/pay/{id}`.
    pub fn confirmation_url(&self, id: &str) -> String {
        format!("{}/sandbox/pay/{id}", self.settings.public_base)
    }

    /// What the hosted page shows about payment `id`; `None` if there is none.
    pub async fn checkout(&self, id: &str) -> Result<Option<CheckoutView>, StoreError> {
        let Some(p) = self.store.payment(id).await? else {
            return Ok(None);
        };
        let status = status_of(&p).map_err(StoreError::Unavailable)?;
        Ok(Some(CheckoutView {
            amount: p.amount,
            status,
            code_awaited: status == SandboxStatus::AwaitingCode,
            code_attempts_left: MAX_CODE_ATTEMPTS.saturating_sub(p.code_attempts),
            refunded: p.refunded,
            payment_id: p.id,
            description: p.description,
            account_number: p.account_number,
            failure_reason: p.failure_reason,
            card_last4: p.card_last4,
            card_brand: p.card_brand,
            return_url: p.return_url,
        }))
    }

    /// The payer submits a card for payment `id` (see the module docs for what happens).
    /// Refused without a change if the payment is unknown or final, awaits a code, or the card
    /// is malformed.
    pub async fn submit_card(&self, id: &str, form: &CardForm) -> Result<CardOutcome, CardError> {
        let outcome = self
            .transition(id, |p, status, now| {
                if status == SandboxStatus::AwaitingCode {
                    return Err(CardError::CodeAwaited);
                }
                let card = check_card(form, now)?;
                let mut record = p.clone();
                record.card_last4 = Some(card.last4);
                record.card_brand = Some(card.brand.to_owned());
                record.updated_at = now;
                match card.behaviour {
                    CardBehaviour::ConfirmationCode => {
                        record.status = SandboxStatus::AwaitingCode.as_str().to_owned();
                        record.code_attempts = 0;
                        let sms_to = record.contact_phone.as_deref().map(mask_phone);
                        Ok(Change {
                            record,
                            events: Vec::new(),
                            answer: Ok(CardOutcome::CodeRequired { sms_to }),
                        })
                    }
                    CardBehaviour::Decline(reason) => {
                        self.finish(record, Err(reason), card.behaviour, now)
                    }
                    behaviour => self.finish(record, Ok(()), behaviour, now),
                }
            })
            .await?;
        if let CardOutcome::CodeRequired { .. } = outcome {
            self.send_code(id).await;
        }
        Ok(outcome)
    }

    /// The payer enters the confirmation code of payment `id`. The right code
    /// ([`CONFIRMATION_CODE`], spaces around allowed) pays it; a wrong one is
    /// [`CardError::WrongCode`] until the [`MAX_CODE_ATTEMPTS`]-th, which fails the payment
    /// («Превышено число попыток ввода кода»).
    pub async fn confirm_code(&self, id: &str, code: &str) -> Result<CardOutcome, CardError> {
        self.transition(id, |p, status, now| {
            if status != SandboxStatus::AwaitingCode {
                return Err(CardError::NotAwaitingCode);
            }
            let mut record = p.clone();
            record.updated_at = now;
            if code.trim() == CONFIRMATION_CODE {
                return self.finish(record, Ok(()), CardBehaviour::Succeed, now);
            }
            record.code_attempts = record.code_attempts.saturating_add(1);
            if record.code_attempts >= MAX_CODE_ATTEMPTS {
                return self.finish(record, Err(TOO_MANY_CODES), CardBehaviour::Succeed, now);
            }
            let attempts_left = MAX_CODE_ATTEMPTS - record.code_attempts;
            Ok(Change {
                record,
                events: Vec::new(),
                answer: Err(CardError::WrongCode { attempts_left }),
            })
        })
        .await
    }

    /// Reads payment `id`, lets `decide` change it and writes the change with a
    /// compare-and-set, re-reading on a lost race. A payment final at the first read is
    /// [`CardError::AlreadyFinal`]; one that became final during a race answers its outcome.
    async fn transition<F>(&self, id: &str, decide: F) -> Result<CardOutcome, CardError>
    where
        F: Fn(&SandboxPaymentRecord, SandboxStatus, OffsetDateTime) -> Result<Change, CardError>
            + Send
            + Sync,
    {
        for round in 0..MAX_ROUNDS {
            let record = self.store.payment(id).await?.ok_or(CardError::NotFound)?;
            let status = status_of(&record).map_err(CardError::Unavailable)?;
            if status.is_final() {
                let succeeded = status == SandboxStatus::Succeeded;
                return if round == 0 {
                    Err(CardError::AlreadyFinal { succeeded })
                } else {
                    Ok(final_outcome(&record, succeeded))
                };
            }
            let change = decide(&record, status, self.clock.now())?;
            if self
                .store
                .update_payment(&change.record, &change.events)
                .await?
            {
                tracing::info!(
                    payment = %id,
                    status = %change.record.status,
                    events = change.events.len(),
                    "sandbox payment updated"
                );
                return change.answer;
            }
        }
        Err(CardError::Unavailable(format!(
            "payment {id} kept changing during {MAX_ROUNDS} attempts"
        )))
    }

    /// The change making `record` final: succeeded (`Ok`) or failed with the reason (`Err`),
    /// with its webhook events.
    fn finish(
        &self,
        mut record: SandboxPaymentRecord,
        result: Result<(), &str>,
        behaviour: CardBehaviour,
        now: OffsetDateTime,
    ) -> Result<Change, CardError> {
        let (status, reason) = match result {
            Ok(()) => (SandboxStatus::Succeeded, None),
            Err(reason) => (SandboxStatus::Failed, Some(reason.to_owned())),
        };
        record.status = status.as_str().to_owned();
        record.failure_reason = reason;
        let events = self
            .planner
            .plan(&record, None, behaviour, self.event_ids()?, now);
        let answer = Ok(final_outcome(&record, status == SandboxStatus::Succeeded));
        Ok(Change {
            record,
            events,
            answer,
        })
    }

    /// Puts the confirmation-code SMS of payment `id` in the outbox, if it has a phone. A
    /// failure is logged only: the code is documented, the page works without the SMS.
    async fn send_code(&self, id: &str) {
        let payment = match self.store.payment(id).await {
            Ok(Some(p)) => p,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(payment = %id, error = %e, "3-DS SMS not sent: store failed");
                return;
            }
        };
        let Some(phone) = payment.contact_phone else {
            return;
        };
        let message = OutboxMessage {
            channel: MessageChannel::Sms,
            recipient: phone,
            kind: KIND_3DS.to_owned(),
            subject: None,
            body: format!(
                "Код подтверждения оплаты {}: {CONFIRMATION_CODE}. Никому не сообщайте этот код.",
                payment.amount.to_russian()
            ),
            correlation: Some(payment.id),
            created_at: self.clock.now(),
        };
        if let Err(e) = self.outbox.push_message(&message).await {
            tracing::warn!(payment = %id, error = %e, "3-DS SMS not sent: outbox failed");
        }
    }

    /// A new id: `prefix` and 24 lowercase hex characters.
    fn new_id(&self, prefix: &str) -> Result<String, PortError> {
        let mut bytes = [0u8; 12];
        self.random.fill(&mut bytes)?;
        Ok(format!("{prefix}{}", hex::encode(bytes)))
    }

    fn event_ids(&self) -> Result<EventIds, PortError> {
        Ok(EventIds {
            main: self.new_id("evt_")?,
            stale: self.new_id("evt_")?,
        })
    }

    fn created(&self, record: &SandboxPaymentRecord) -> Result<GatewayPayment, GatewayError> {
        let id = GatewayPaymentId::parse(&record.id)
            .map_err(|e| GatewayError::Unavailable(format!("stored payment id: {e}")))?;
        Ok(GatewayPayment {
            confirmation_url: self.confirmation_url(&record.id),
            id,
        })
    }

    /// The payment created first for the request's `order_ref`, if it was for the same account
    /// and amount.
    fn existing(
        &self,
        record: &SandboxPaymentRecord,
        request: &GatewayPaymentRequest,
    ) -> Result<GatewayPayment, GatewayError> {
        if record.amount != request.amount
            || record.account_number != request.account_number.as_str()
        {
            return Err(GatewayError::Declined(format!(
                "order_ref {} was used for another payment",
                request.order_ref
            )));
        }
        self.created(record)
    }

    /// The refund answering `request` if `refund` (found by its `refund_ref`) is the same one.
    fn same_refund(
        refund: SandboxRefundRecord,
        request: &GatewayRefundRequest,
    ) -> Result<GatewayRefundId, GatewayError> {
        if refund.payment_id != request.payment.as_str() || refund.amount != request.amount {
            return Err(GatewayError::Declined(format!(
                "refund_ref {} was used for another refund",
                request.refund_ref
            )));
        }
        Ok(GatewayRefundId::new(refund.id))
    }
}

#[async_trait]
impl PaymentGateway for SandboxGateway {
    async fn create_payment(
        &self,
        request: &GatewayPaymentRequest,
    ) -> Result<GatewayPayment, GatewayError> {
        if !request.amount.is_positive() {
            return Err(GatewayError::Declined("amount must be positive".into()));
        }
        if let Some(existing) = self
            .store
            .payment_by_order_ref(&request.order_ref)
            .await
            .map_err(unavailable)?
        {
            return self.existing(&existing, request);
        }
        let now = self.clock.now();
        let record = SandboxPaymentRecord {
            id: self.new_id("sbx_").map_err(unavailable)?,
            order_ref: request.order_ref.clone(),
            account_number: request.account_number.as_str().to_owned(),
            amount: request.amount,
            description: request.description.clone(),
            return_url: request.return_url.clone(),
            contact_email: request.contact.email.clone(),
            contact_phone: request.contact.phone.clone(),
            status: SandboxStatus::Pending.as_str().to_owned(),
            failure_reason: None,
            card_last4: None,
            card_brand: None,
            code_attempts: 0,
            refunded: Money::ZERO,
            created_at: now,
            updated_at: now,
            version: 0,
        };
        match self.store.insert_payment(&record).await {
            Ok(()) => {
                tracing::info!(payment = %record.id, amount = %record.amount, "sandbox payment created");
                self.created(&record)
            }
            // A parallel call with the same order_ref won: answer its payment.
            Err(StoreError::Duplicate) => match self
                .store
                .payment_by_order_ref(&request.order_ref)
                .await
                .map_err(unavailable)?
            {
                Some(existing) => self.existing(&existing, request),
                None => Err(GatewayError::Unavailable(
                    "sandbox payment id collision".into(),
                )),
            },
            Err(e) => Err(unavailable(e)),
        }
    }

    /// Unknown ids are [`GatewayError::Declined`]: asking again cannot help.
    async fn payment_status(&self, id: &GatewayPaymentId) -> Result<GatewayStatus, GatewayError> {
        let record = self
            .store
            .payment(id.as_str())
            .await
            .map_err(unavailable)?
            .ok_or_else(|| GatewayError::Declined(format!("unknown payment {id}")))?;
        let status = status_of(&record).map_err(GatewayError::Unavailable)?;
        Ok(match status {
            SandboxStatus::Pending | SandboxStatus::AwaitingCode => GatewayStatus::Pending,
            SandboxStatus::Succeeded if record.refunded.is_positive() => GatewayStatus::Refunded {
                amount: record.refunded,
            },
            SandboxStatus::Succeeded => GatewayStatus::Succeeded,
            SandboxStatus::Failed => GatewayStatus::Failed {
                reason: record
                    .failure_reason
                    .unwrap_or_else(|| UNSPECIFIED_DECLINE_REASON.to_owned()),
            },
        })
    }

    async fn refund(
        &self,
        request: &GatewayRefundRequest,
    ) -> Result<GatewayRefundId, GatewayError> {
        let id = request.payment.as_str();
        for _ in 0..MAX_ROUNDS {
            let payment = self
                .store
                .payment(id)
                .await
                .map_err(unavailable)?
                .ok_or_else(|| GatewayError::Declined(format!("unknown payment {id}")))?;
            let refunds = self.store.refunds(id).await.map_err(unavailable)?;
            if let Some(done) = refunds
                .into_iter()
                .find(|r| r.refund_ref == request.refund_ref)
            {
                return Self::same_refund(done, request);
            }
            if payment.status != SandboxStatus::Succeeded.as_str() {
                return Err(GatewayError::Declined(format!(
                    "payment {id} is {}, only succeeded payments are refunded",
                    payment.status
                )));
            }
            let left = payment.amount - payment.refunded;
            if !request.amount.is_positive() || request.amount > left {
                return Err(GatewayError::Declined(format!(
                    "refund {} is not within 0.01..={left} left of payment {id}",
                    request.amount
                )));
            }
            let now = self.clock.now();
            let refund = SandboxRefundRecord {
                id: self.new_id("rfd_").map_err(unavailable)?,
                payment_id: payment.id.clone(),
                refund_ref: request.refund_ref.clone(),
                amount: request.amount,
                created_at: now,
            };
            let updated = SandboxPaymentRecord {
                refunded: payment.refunded + request.amount,
                updated_at: now,
                ..payment
            };
            let ids = self.event_ids().map_err(unavailable)?;
            let events =
                self.planner
                    .plan(&updated, Some(&refund), CardBehaviour::Succeed, ids, now);
            match self
                .store
                .add_refund(&refund, &updated, &events)
                .await
                .map_err(unavailable)?
            {
                RefundAdded::Added => {
                    tracing::info!(payment = %id, refund = %refund.id, amount = %refund.amount, "sandbox refund made");
                    return Ok(GatewayRefundId::new(refund.id));
                }
                RefundAdded::DuplicateRef(done) => return Self::same_refund(done, request),
                RefundAdded::VersionConflict => {}
            }
        }
        Err(GatewayError::Unavailable(format!(
            "payment {id} kept changing during {MAX_ROUNDS} attempts"
        )))
    }
}

/// A store or random-source failure as the gateway port's error.
fn unavailable(e: impl std::fmt::Display) -> GatewayError {
    GatewayError::Unavailable(e.to_string())
}

/// The record's status, or an English error for a corrupt one.
fn status_of(record: &SandboxPaymentRecord) -> Result<SandboxStatus, String> {
    SandboxStatus::parse(&record.status).ok_or_else(|| {
        format!(
            "sandbox payment {} has an unknown status {:?}",
            record.id, record.status
        )
    })
}

/// The page's outcome of a final payment.
fn final_outcome(record: &SandboxPaymentRecord, succeeded: bool) -> CardOutcome {
    let return_url = record.return_url.clone();
    if succeeded {
        CardOutcome::Succeeded { return_url }
    } else {
        CardOutcome::Failed {
            reason: record
                .failure_reason
                .clone()
                .unwrap_or_else(|| UNSPECIFIED_DECLINE_REASON.to_owned()),
            return_url,
        }
    }
}

/// A phone with all but its first two and last two characters hidden: `+7********67`.
fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    let n = chars.len();
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if n > 4 && (i < 2 || i >= n - 2) {
                *c
            } else {
                '*'
            }
        })
        .collect()
}
