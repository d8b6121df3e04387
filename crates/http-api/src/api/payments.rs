//! Paying online (seeds 003, 004): the proposed amount (the debt by service and the least
//! amount accepted), starting a payment — all of it or part, optionally split by service — at
//! the payment gateway, whose page takes the card, and the payment's status, which asks the
//! gateway while the payment is not final.
//!
//! Starting a payment accepts an `Idempotency-Key` (Stripe semantics, [`crate::idempotency`])
//! and derives the gateway's order reference from it — SHA-256 of the subscriber and the key —
//! so a retry never creates a second payment at the gateway either, even after the key's 24
//! hours. Without a key the order reference is 128 random bits.
//!
//! The fiscal receipt (54-ФЗ) goes to the `receipt` contact given, or else to the cabinet's
//! confirmed email, or else its phone.

use billing_core::autopay::{AutopayError, AutopayMode, AutopaySettings};
use billing_core::ids::AccountId;
use billing_core::ledger::{PaymentSplit, PaymentState};
use billing_core::money::Money;
use billing_core::online::{
    PaymentProposal, ProposalError, ReceiptContact, StartPayment, StartPaymentError,
};
use billing_core::ports::PaymentRecord;
use billing_core::receipt::{ReceiptKind, Receipts, ReceiptsReadError, StoredReceipt};
use billing_core::service::ServiceKind;
use identity_core::Authenticated;
use identity_core::domain::{Email, Phone};
use poem::web::Data;
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use serde::Serialize;
use sha2::{Digest, Sha256};
use time::{Date, OffsetDateTime};

use super::ApiTags;
use super::accounts::linked_account;
use super::cabinet::{PaymentHistoryDto, ServiceAmountDto, ServiceKindDto, money, payment_dto};
use crate::AppState;
use crate::auth::SubscriberAuth;
use crate::idempotency;
use crate::problem::{Problem, ProblemResponse, ProblemType};

/// The path the gateway's page sends the payer back to.
pub const RETURN_PATH: &str = "/l/payment-return";

/// Online payments.
pub struct PaymentsApi;

/// What the cabinet proposes to pay.
#[derive(Object, Debug, Serialize)]
pub struct ProposalDto {
    /// The day the proposal is for.
    pub as_of: Date,
    /// The debt per service (only services with a debt).
    pub debt_by_service: Vec<ServiceAmountDto>,
    /// The whole debt: the amount proposed.
    pub total: String,
    /// The advance already on the ЛС.
    pub advance: String,
    /// The balance (positive is owed).
    pub balance: String,
    /// The least amount accepted online, unless the payment settles the whole debt.
    pub minimum: String,
}

/// A part of the payment for one service.
#[derive(Object, Debug, Serialize)]
#[oai(deny_unknown_fields)]
pub struct SplitPartBody {
    /// The service.
    pub service: ServiceKindDto,
    /// The amount for it: a decimal with at most two decimals (`"1250.40"`).
    #[oai(validator(max_length = 16))]
    pub amount: String,
}

/// Where the fiscal receipt goes.
#[derive(Object, Debug, Serialize)]
#[oai(deny_unknown_fields)]
pub struct ReceiptContactBody {
    /// An email address.
    #[oai(validator(max_length = 254))]
    pub email: Option<String>,
    /// A Russian phone number.
    #[oai(validator(max_length = 32))]
    pub phone: Option<String>,
}

/// A payment to start.
#[derive(Object, Debug, Serialize)]
#[oai(deny_unknown_fields)]
pub struct StartPaymentBody {
    /// The amount: a decimal with at most two decimals (`"1500.00"`; a comma is accepted).
    #[oai(validator(max_length = 16))]
    pub amount: String,
    /// The payer's split by service, adding up to the amount; absent: the oldest debt first.
    #[oai(validator(min_items = 1, max_items = 7))]
    pub split: Option<Vec<SplitPartBody>>,
    /// Where to send the fiscal receipt; absent: the cabinet's email, else its phone.
    pub receipt: Option<ReceiptContactBody>,
}

/// A payment started at the gateway.
#[derive(Object, Debug, Serialize, serde::Deserialize)]
pub struct StartedPaymentDto {
    /// The payment (state `pending`: the gateway waits for the payer).
    pub payment: PaymentHistoryDto,
    /// The gateway's page to send the payer to.
    pub confirmation_url: String,
}

/// The payment was started.
#[derive(ApiResponse)]
pub enum PaymentStarted {
    /// Started (or, with a replayed `Idempotency-Key`, the first answer again).
    #[oai(status = 201)]
    Created(
        Json<StartedPaymentDto>,
        /// `true` when this is the kept answer of an earlier request with the same key.
        #[oai(header = "Idempotent-Replayed")]
        Option<String>,
    ),
}

impl From<ServiceKindDto> for ServiceKind {
    fn from(s: ServiceKindDto) -> Self {
        match s {
            ServiceKindDto::Electricity => Self::Electricity,
            ServiceKindDto::ElectricityCommon => Self::ElectricityCommon,
            ServiceKindDto::ColdWater => Self::ColdWater,
            ServiceKindDto::HotWater => Self::HotWater,
            ServiceKindDto::Heating => Self::Heating,
            ServiceKindDto::Wastewater => Self::Wastewater,
            ServiceKindDto::Penalty => Self::Penalty,
        }
    }
}

/// One item of a fiscal receipt.
#[derive(Object, Debug)]
pub struct ReceiptItemDto {
    /// The name as printed.
    pub name: String,
    /// The service paid; absent for an advance not tied to a service.
    #[oai(nullable)]
    pub service: Option<ServiceKindDto>,
    /// The billed period paid (`YYYY-MM`); absent for an advance.
    #[oai(nullable)]
    pub period: Option<String>,
    /// The amount, VAT included.
    pub amount: String,
    /// The VAT as printed: `НДС 22 %`, `НДС 22/122`, `Без НДС`.
    pub vat: String,
    /// The VAT inside the amount.
    pub vat_amount: String,
    /// The payment method sign (признак способа расчёта), in Russian.
    pub method: String,
    /// What is paid for (признак предмета расчёта), in Russian.
    pub subject: String,
}

/// The sums of one VAT treatment.
#[derive(Object, Debug)]
pub struct VatTotalDto {
    /// The VAT as printed.
    pub vat: String,
    /// The items' amounts.
    pub amount: String,
    /// Their VAT.
    pub vat_amount: String,
}

/// What the fiscal data operator confirmed.
#[derive(Object, Debug)]
pub struct FiscalRegistrationDto {
    /// The fiscal drive's number (ФН).
    pub fiscal_number: String,
    /// The fiscal document's number (ФД).
    pub document_number: u64,
    /// The fiscal sign (ФП).
    pub fiscal_sign: String,
    /// When it was registered.
    pub registered_at: OffsetDateTime,
}

/// An electronic fiscal receipt (54-ФЗ).
#[derive(Object, Debug)]
pub struct ReceiptDto {
    /// Its id.
    pub receipt_id: u64,
    /// `income` (приход) or `income_return` (возврат прихода).
    pub kind: String,
    /// The same in Russian.
    pub kind_name: String,
    /// The payment.
    pub payment_id: u64,
    /// The refund request of a return receipt.
    #[oai(nullable)]
    pub refund_request_id: Option<u64>,
    /// The ЛС.
    pub account_number: String,
    /// The seller.
    pub seller_name: String,
    /// The seller's ИНН.
    pub seller_inn: String,
    /// The taxation system, in Russian.
    pub taxation: String,
    /// The items.
    pub items: Vec<ReceiptItemDto>,
    /// The total.
    pub total: String,
    /// The sums per VAT treatment.
    pub vat_totals: Vec<VatTotalDto>,
    /// Where it was sent (the email, or else the phone).
    #[oai(nullable)]
    pub sent_to: Option<String>,
    /// When it was issued.
    pub issued_at: OffsetDateTime,
    /// The registration; absent while the receipt waits for the cash register.
    #[oai(nullable)]
    pub registration: Option<FiscalRegistrationDto>,
}

fn receipt_dto(stored: &StoredReceipt) -> ReceiptDto {
    let r = &stored.receipt;
    ReceiptDto {
        receipt_id: stored.id.get(),
        kind: match r.kind {
            ReceiptKind::Income => "income",
            ReceiptKind::IncomeReturn => "income_return",
        }
        .to_owned(),
        kind_name: r.kind.russian().to_owned(),
        payment_id: r.payment.get(),
        refund_request_id: r.refund.map(|id| id.get()),
        account_number: r.account_number.to_string(),
        seller_name: r.seller_name.as_str().to_owned(),
        seller_inn: r.seller_inn.as_str().to_owned(),
        taxation: r.taxation.russian().to_owned(),
        items: r
            .items
            .iter()
            .map(|i| ReceiptItemDto {
                name: i.name.clone(),
                service: i.service.map(Into::into),
                period: i.period.map(|p| p.to_string()),
                amount: money(i.amount),
                vat: i.vat.label(),
                vat_amount: money(i.vat_amount),
                method: i.method.russian().to_owned(),
                subject: i.subject.russian().to_owned(),
            })
            .collect(),
        total: money(r.total),
        vat_totals: r
            .vat_totals
            .iter()
            .map(|t| VatTotalDto {
                vat: t.vat.label(),
                amount: money(t.amount),
                vat_amount: money(t.vat_amount),
            })
            .collect(),
        sent_to: r.contact.email.clone().or_else(|| r.contact.phone.clone()),
        issued_at: r.at,
        registration: stored.registration.as_ref().map(|g| FiscalRegistrationDto {
            fiscal_number: g.fiscal_number.clone(),
            document_number: g.document_number,
            fiscal_sign: g.fiscal_sign.clone(),
            registered_at: g.registered_at,
        }),
    }
}

/// The receipts `read` finds, as answered (none while receipts are off).
async fn receipts_json(
    state: &AppState,
    read: impl AsyncFnOnce(&Receipts) -> Result<Vec<StoredReceipt>, ReceiptsReadError>,
) -> Result<Json<Vec<ReceiptDto>>, ProblemResponse> {
    let Some(receipts) = state.payments.receipts() else {
        return Ok(Json(Vec::new()));
    };
    let list = read(receipts).await.map_err(|e| receipts_problem(&e))?;
    Ok(Json(list.iter().map(receipt_dto).collect()))
}

fn receipts_problem(e: &ReceiptsReadError) -> Problem {
    match e {
        ReceiptsReadError::AccountNotFound => Problem::new(ProblemType::NotLinked),
        ReceiptsReadError::PaymentNotFound => {
            Problem::with_detail(ProblemType::NotFound, e.user_message())
        }
        ReceiptsReadError::Repo(_) => Problem::unavailable("read receipts", e),
    }
}

/// Autopay settings (seed 004). Paying on the day with a saved card is the gateway's
/// recurring-payment feature and not part of this release: the settings are kept and
/// validated.
#[derive(Object, Debug)]
pub struct AutopayDto {
    /// Whether it is on.
    pub enabled: bool,
    /// `full_debt` (the whole debt on the day) or `fixed`.
    pub mode: String,
    /// The fixed amount (mode `fixed`).
    #[oai(nullable)]
    pub amount: Option<String>,
    /// The day of the month (1–28).
    pub day_of_month: u8,
    /// The most paid in a month.
    #[oai(nullable)]
    pub limit: Option<String>,
    /// The version: send it back with a change.
    pub version: u64,
}

/// Autopay settings to store.
#[derive(Object, Debug)]
#[oai(deny_unknown_fields)]
pub struct AutopayBody {
    /// Whether it is on.
    pub enabled: bool,
    /// `full_debt` or `fixed`.
    #[oai(validator(pattern = "^(full_debt|fixed)$"))]
    pub mode: String,
    /// The fixed amount (required for mode `fixed`).
    #[oai(validator(max_length = 16))]
    pub amount: Option<String>,
    /// The day of the month (1–28).
    #[oai(validator(minimum(value = "1"), maximum(value = "28")))]
    pub day_of_month: u8,
    /// The most paid in a month.
    #[oai(validator(max_length = 16))]
    pub limit: Option<String>,
    /// The version read (0 for the first settings).
    pub version: u64,
}

/// No autopay settings any more.
#[derive(ApiResponse)]
pub enum AutopayDeleted {
    /// Deleted.
    #[oai(status = 204)]
    Done,
}

fn autopay_dto(s: &AutopaySettings) -> AutopayDto {
    let (mode, amount) = match s.mode {
        AutopayMode::FullDebt => ("full_debt", None),
        AutopayMode::Fixed(a) => ("fixed", Some(money(a))),
    };
    AutopayDto {
        enabled: s.enabled,
        mode: mode.to_owned(),
        amount,
        day_of_month: s.day_of_month,
        limit: s.limit.map(money),
        version: s.version,
    }
}

fn autopay_problem(e: &AutopayError) -> Problem {
    let said = |kind| Problem::with_detail(kind, e.user_message());
    match e {
        AutopayError::AccountNotFound => Problem::new(ProblemType::NotLinked),
        AutopayError::Conflict => said(ProblemType::AutopayConflict),
        AutopayError::Repo(_) => Problem::unavailable("autopay settings", e),
        _ => said(ProblemType::AutopayInvalid),
    }
}

fn no_autopay() -> Problem {
    Problem::with_detail(ProblemType::NotFound, "Автоплатёж не настроен.")
}

fn proposal_dto(p: &PaymentProposal) -> ProposalDto {
    ProposalDto {
        as_of: p.as_of,
        debt_by_service: p
            .debt_by_service
            .iter()
            .map(|(s, m)| ServiceAmountDto {
                service: (*s).into(),
                amount: money(*m),
            })
            .collect(),
        total: money(p.total),
        advance: money(p.advance),
        balance: money(p.balance),
        minimum: money(p.minimum),
    }
}

fn field_problem(field: &str, detail: &str) -> Problem {
    let mut p = Problem::with_detail(ProblemType::InvalidRequest, detail);
    p.reason = Some(format!("{field} is invalid"));
    p
}

/// A positive amount with at most two decimals.
fn parse_amount(field: &str, text: &str) -> Result<Money, Problem> {
    let t = text.trim();
    let plain = !t.is_empty()
        && t.bytes()
            .all(|b| b.is_ascii_digit() || b == b'.' || b == b',');
    plain
        .then(|| t.parse::<Money>().ok())
        .flatten()
        .ok_or_else(|| {
            field_problem(
                field,
                "Сумма указывается в рублях, не более двух знаков после запятой, например 1500.00.",
            )
        })
}

fn parse_split(parts: Option<&[SplitPartBody]>) -> Result<PaymentSplit, Problem> {
    let Some(parts) = parts else {
        return Ok(PaymentSplit::Default);
    };
    parts
        .iter()
        .enumerate()
        .map(|(i, p)| {
            Ok((
                p.service.into(),
                parse_amount(&format!("split[{i}].amount"), &p.amount)?,
            ))
        })
        .collect::<Result<Vec<_>, Problem>>()
        .map(PaymentSplit::ByService)
}

/// The receipt contact: the one given (validated), else the cabinet's email, else its phone.
async fn receipt_contact(
    state: &AppState,
    auth: &Authenticated,
    given: Option<&ReceiptContactBody>,
) -> Result<ReceiptContact, Problem> {
    if let Some(given) = given {
        let email = given
            .email
            .as_deref()
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .map(|e| {
                Email::parse(e).map_err(|_| {
                    field_problem("receipt.email", "Адрес электронной почты указан неверно.")
                })
            })
            .transpose()?;
        let phone = given
            .phone
            .as_deref()
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| {
                Phone::parse(p)
                    .map_err(|_| field_problem("receipt.phone", "Номер телефона указан неверно."))
            })
            .transpose()?;
        if email.is_some() || phone.is_some() {
            return Ok(ReceiptContact {
                email: email.map(|e| e.to_string()),
                phone: phone.map(|p| p.as_str().to_owned()),
            });
        }
    }
    let profile = state
        .identity
        .profile(auth)
        .await
        .map_err(|e| Problem::unavailable("read the profile for a receipt contact", &e))?;
    Ok(match (profile.email, profile.phone) {
        (Some(email), _) => ReceiptContact {
            email: Some(email.to_string()),
            phone: None,
        },
        (None, Some(phone)) => ReceiptContact {
            email: None,
            phone: Some(phone.as_str().to_owned()),
        },
        (None, None) => ReceiptContact::default(),
    })
}

/// The gateway order reference: derived from the subscriber and the `Idempotency-Key`, or
/// random.
fn order_ref(state: &AppState, principal: &str, key: Option<&str>) -> Result<String, Problem> {
    match key {
        Some(key) => {
            let mut h = Sha256::new();
            h.update(principal.as_bytes());
            h.update([0]);
            h.update(key.as_bytes());
            Ok(format!("ik-{}", hex::encode(h.finalize())))
        }
        None => {
            let mut bytes = [0u8; 16];
            state
                .random
                .fill(&mut bytes)
                .map_err(|e| Problem::unavailable("draw a payment order reference", &e))?;
            Ok(format!("rnd-{}", hex::encode(bytes)))
        }
    }
}

fn start_problem(e: &StartPaymentError) -> Problem {
    let said = |kind| Problem::with_detail(kind, e.user_message());
    match e {
        StartPaymentError::InvalidOrderRef
        | StartPaymentError::GatewayIdConflict(_)
        | StartPaymentError::Repo(_) => Problem::unavailable("start an online payment", e),
        StartPaymentError::AccountNotFound => Problem::new(ProblemType::NotLinked),
        StartPaymentError::ContactMissing => said(ProblemType::ReceiptContactMissing),
        StartPaymentError::InvalidAmount(_) => said(ProblemType::PaymentAmountInvalid),
        StartPaymentError::InvalidSplit(_) => said(ProblemType::PaymentSplitInvalid),
        StartPaymentError::OrderRefConflict => said(ProblemType::IdempotencyKeyReused),
        StartPaymentError::GatewayDeclined(reason) => {
            tracing::warn!(%reason, "gateway declined to create a payment");
            said(ProblemType::PaymentDeclined)
        }
        StartPaymentError::GatewayUnavailable(reason) => {
            tracing::error!(%reason, "payment gateway unavailable");
            said(ProblemType::GatewayUnavailable)
        }
    }
}

fn proposal_problem(e: &ProposalError) -> Problem {
    match e {
        ProposalError::AccountNotFound => Problem::new(ProblemType::NotLinked),
        ProposalError::Repo(_) => Problem::unavailable("propose a payment", e),
    }
}

async fn find_payment(
    state: &AppState,
    account: AccountId,
    payment_id: u64,
) -> Result<PaymentRecord, Problem> {
    state
        .billing
        .payments(account)
        .await
        .map_err(Problem::from)?
        .into_iter()
        .find(|p| p.id.get() == payment_id)
        .ok_or_else(|| Problem::with_detail(ProblemType::NotFound, "Платёж не найден."))
}

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Payments")]
impl PaymentsApi {
    /// The amount the cabinet proposes to pay today: the debt by service, its total and the
    /// least amount accepted (seed 003).
    #[oai(
        path = "/accounts/:account_id/payment-proposal",
        method = "get",
        operation_id = "paymentProposal"
    )]
    async fn proposal(
        &self,
        state: Data<&AppState>,
        auth: SubscriberAuth,
        #[oai(validator(
            minimum(value = "1"),
            maximum(value = "9223372036854775808", exclusive = true)
        ))]
        account_id: Path<u64>,
    ) -> Result<Json<ProposalDto>, ProblemResponse> {
        let (_, account) = linked_account(&state, &auth, account_id.0).await?;
        let proposal = state
            .payments
            .proposal(account.id)
            .await
            .map_err(|e| proposal_problem(&e))?;
        Ok(Json(proposal_dto(&proposal)))
    }

    /// Start an online payment of all or part of the debt, optionally split by service
    /// (seeds 003, 004). The answer's `confirmation_url` is the gateway's page, where the
    /// payer enters the card; the gateway then notifies the service and the payment is
    /// credited. Send an `Idempotency-Key` to retry safely.
    #[oai(
        path = "/accounts/:account_id/payments",
        method = "post",
        operation_id = "startPayment"
    )]
    async fn start(
        &self,
        state: Data<&AppState>,
        auth: SubscriberAuth,
        #[oai(validator(
            minimum(value = "1"),
            maximum(value = "9223372036854775808", exclusive = true)
        ))]
        account_id: Path<u64>,
        /// A key of 1–255 printable ASCII characters; the same key with the same request
        /// answers the first response again for 24 hours.
        #[oai(name = "Idempotency-Key")]
        idempotency_key: Header<Option<String>>,
        body: Json<StartPaymentBody>,
    ) -> Result<PaymentStarted, ProblemResponse> {
        let key = idempotency::parse_key(idempotency_key.0.as_deref())?;
        let (_, account) = linked_account(&state, &auth, account_id.0).await?;
        let amount = parse_amount("amount", &body.0.amount)?;
        let split = parse_split(body.0.split.as_deref())?;
        let contact = receipt_contact(&state, auth.auth(), body.0.receipt.as_ref()).await?;
        let principal = auth.auth().subscriber().to_string();
        let order_ref = order_ref(&state, &principal, key.as_deref())?;
        let operation = format!("POST /accounts/{}/payments", account_id.0);
        let fingerprint = idempotency::fingerprint(&operation, &body.0);
        let return_url = format!(
            "{}{RETURN_PATH}",
            state.settings.public_url.trim_end_matches('/')
        );
        let command = StartPayment {
            account: account.id,
            order_ref,
            amount,
            split,
            payer: principal.clone(),
            contact,
            return_url,
        };
        let payments = state.payments.clone();
        let outcome = idempotency::run(
            &state,
            &principal,
            key.as_deref(),
            fingerprint,
            201,
            move || async move {
                payments
                    .start(command)
                    .await
                    .map(|s| StartedPaymentDto {
                        payment: payment_dto(&s.payment),
                        confirmation_url: s.confirmation_url,
                    })
                    .map_err(|e| start_problem(&e))
            },
        )
        .await?;
        let replayed = outcome.replayed_header();
        Ok(PaymentStarted::Created(
            Json(outcome.into_inner()),
            replayed,
        ))
    }

    /// One payment of the ЛС. While it is not final (`created`, `pending`) the gateway is
    /// asked for its status first, so the answer is current even if a notification is late.
    #[oai(
        path = "/accounts/:account_id/payments/:payment_id",
        method = "get",
        operation_id = "getPayment"
    )]
    async fn payment(
        &self,
        state: Data<&AppState>,
        auth: SubscriberAuth,
        #[oai(validator(
            minimum(value = "1"),
            maximum(value = "9223372036854775808", exclusive = true)
        ))]
        account_id: Path<u64>,
        #[oai(validator(
            minimum(value = "1"),
            maximum(value = "9223372036854775808", exclusive = true)
        ))]
        payment_id: Path<u64>,
    ) -> Result<Json<PaymentHistoryDto>, ProblemResponse> {
        let (_, account) = linked_account(&state, &auth, account_id.0).await?;
        let payment = find_payment(&state, account.id, payment_id.0).await?;
        if matches!(payment.state, PaymentState::Created | PaymentState::Pending) {
            match state.payments.reconcile(&payment.gateway_id).await {
                Ok(applied) => return Ok(Json(payment_dto(&applied.payment))),
                Err(e) => {
                    // The recorded state is still a true answer; the gateway is asked again on
                    // the next read and the notification will come.
                    tracing::warn!(error = %e, payment = payment.id.get(), "reconcile failed");
                }
            }
        }
        Ok(Json(payment_dto(&payment)))
    }

    /// The fiscal receipts of the ЛС, newest first (54-ФЗ: one for every online payment and
    /// refund, also sent to the payer's email or phone).
    #[oai(
        path = "/accounts/:account_id/receipts",
        method = "get",
        operation_id = "listReceipts"
    )]
    async fn receipts(
        &self,
        state: Data<&AppState>,
        auth: SubscriberAuth,
        #[oai(validator(
            minimum(value = "1"),
            maximum(value = "9223372036854775808", exclusive = true)
        ))]
        account_id: Path<u64>,
        /// At most this many (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "200")))]
        limit: Query<Option<u32>>,
    ) -> Result<Json<Vec<ReceiptDto>>, ProblemResponse> {
        let (_, account) = linked_account(&state, &auth, account_id.0).await?;
        let limit = limit.0.unwrap_or(50);
        receipts_json(&state, async |r| {
            r.receipts_of_account(account.id, limit).await
        })
        .await
    }

    /// The fiscal receipts of one payment: the income receipt, then any return receipts.
    #[oai(
        path = "/accounts/:account_id/payments/:payment_id/receipts",
        method = "get",
        operation_id = "paymentReceipts"
    )]
    async fn payment_receipts(
        &self,
        state: Data<&AppState>,
        auth: SubscriberAuth,
        #[oai(validator(
            minimum(value = "1"),
            maximum(value = "9223372036854775808", exclusive = true)
        ))]
        account_id: Path<u64>,
        #[oai(validator(
            minimum(value = "1"),
            maximum(value = "9223372036854775808", exclusive = true)
        ))]
        payment_id: Path<u64>,
    ) -> Result<Json<Vec<ReceiptDto>>, ProblemResponse> {
        let (_, account) = linked_account(&state, &auth, account_id.0).await?;
        let payment = find_payment(&state, account.id, payment_id.0).await?;
        receipts_json(&state, async |r| {
            r.receipts_of_payment(account.id, &payment.gateway_id).await
        })
        .await
    }

    /// The cabinet's autopay settings for the ЛС (seed 004).
    #[oai(
        path = "/accounts/:account_id/autopay",
        method = "get",
        operation_id = "getAutopay"
    )]
    async fn get_autopay(
        &self,
        state: Data<&AppState>,
        auth: SubscriberAuth,
        #[oai(validator(
            minimum(value = "1"),
            maximum(value = "9223372036854775808", exclusive = true)
        ))]
        account_id: Path<u64>,
    ) -> Result<Json<AutopayDto>, ProblemResponse> {
        let (_, account) = linked_account(&state, &auth, account_id.0).await?;
        let payer = auth.auth().subscriber().to_string();
        let settings = state
            .autopay
            .get(account.id, &payer)
            .await
            .map_err(|e| autopay_problem(&e))?
            .ok_or_else(no_autopay)?;
        Ok(Json(autopay_dto(&settings)))
    }

    /// Set up or change autopay for the ЛС (seed 004): the whole debt or a fixed amount on a
    /// day of the month, optionally limited. Send the `version` you read (0 the first time):
    /// a change made meanwhile elsewhere is 409 `autopay-conflict`.
    #[oai(
        path = "/accounts/:account_id/autopay",
        method = "put",
        operation_id = "setAutopay"
    )]
    async fn set_autopay(
        &self,
        state: Data<&AppState>,
        auth: SubscriberAuth,
        #[oai(validator(
            minimum(value = "1"),
            maximum(value = "9223372036854775808", exclusive = true)
        ))]
        account_id: Path<u64>,
        body: Json<AutopayBody>,
    ) -> Result<Json<AutopayDto>, ProblemResponse> {
        let (_, account) = linked_account(&state, &auth, account_id.0).await?;
        let body = body.0;
        let mode = match (body.mode.as_str(), body.amount.as_deref()) {
            ("fixed", Some(a)) => AutopayMode::Fixed(parse_amount("amount", a)?),
            ("fixed", None) => {
                return Err(Problem::with_detail(
                    ProblemType::AutopayInvalid,
                    "Укажите сумму автоплатежа.",
                )
                .into());
            }
            _ => AutopayMode::FullDebt,
        };
        let limit = body
            .limit
            .as_deref()
            .map(|l| parse_amount("limit", l))
            .transpose()?;
        let stored = state
            .autopay
            .set(AutopaySettings {
                account: account.id,
                payer: auth.auth().subscriber().to_string(),
                enabled: body.enabled,
                mode,
                day_of_month: body.day_of_month,
                limit,
                version: body.version,
            })
            .await
            .map_err(|e| autopay_problem(&e))?;
        Ok(Json(autopay_dto(&stored)))
    }

    /// Turn autopay off for the ЛС (the settings are deleted).
    #[oai(
        path = "/accounts/:account_id/autopay",
        method = "delete",
        operation_id = "deleteAutopay"
    )]
    async fn delete_autopay(
        &self,
        state: Data<&AppState>,
        auth: SubscriberAuth,
        #[oai(validator(
            minimum(value = "1"),
            maximum(value = "9223372036854775808", exclusive = true)
        ))]
        account_id: Path<u64>,
    ) -> Result<AutopayDeleted, ProblemResponse> {
        let (_, account) = linked_account(&state, &auth, account_id.0).await?;
        let payer = auth.auth().subscriber().to_string();
        let deleted = state
            .autopay
            .delete(account.id, &payer)
            .await
            .map_err(|e| autopay_problem(&e))?;
        if deleted {
            Ok(AutopayDeleted::Done)
        } else {
            Err(no_autopay().into())
        }
    }
}
