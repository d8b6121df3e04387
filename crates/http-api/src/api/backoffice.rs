//! The supplier's back office (operators with the Billing or Admin role): start a period's
//! billing run and follow its progress, and keep the Bank of Russia key-rate history the
//! penalties are computed with (billing-rules.md §7: the key rate is operator data, never
//! fetched); record written refund requests and carry them out (through the gateway for an
//! online payment, with a return receipt) or reject them.
//!
//! The run itself is storage's persisted supplier-wide run (resumable, one charge set per
//! account and period); http-api reaches it through the [`Backoffice`] port the server
//! implements, and starts it in the background: the answer is 202 with the progress so far.

use billing_core::ids::{AccountId, RefundRequestId};
use billing_core::keyrate::{KeyRateHistory, KeyRateStep, Rate};
use billing_core::money::Money;
use billing_core::online::OnlineRefundError;
use billing_core::period::Period;
use billing_core::ports::{RefundRequest, RefundStatus};
use billing_core::usecase::{RefundPaymentError, RequestRefund, RequestRefundError};
use identity_core::model::OperatorRole;
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use rust_decimal::Decimal;
use time::Date;

use super::ApiTags;
use super::cabinet::{money, period_param};
use crate::AppState;
use crate::auth::OperatorAuth;
use crate::problem::{Problem, ProblemResponse, ProblemType};

/// A billing run's state as the back office reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunStatus {
    /// Houses of the run.
    pub houses_total: u64,
    /// Houses billed.
    pub houses_done: u64,
    /// Houses that could not be billed.
    pub houses_failed: u64,
    /// Whether this process is running it now.
    pub running: bool,
    /// The houses that failed in the last start, with why (English).
    pub failures: Vec<(u64, String)>,
    /// Why the last start stopped, if it stopped on an error (English).
    pub error: Option<String>,
}

/// Why a back-office operation was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BackofficeError {
    /// No supplier has this id.
    #[error("supplier not found")]
    SupplierNotFound,
    /// The period is closed: its charges are final.
    #[error("period closed")]
    PeriodClosed,
    /// The period's readings window has not closed yet.
    #[error("too early: the period can be billed from {earliest}")]
    TooEarly {
        /// The first day the period can be billed.
        earliest: Date,
    },
    /// A dependency failed (English, for the log).
    #[error("{0}")]
    Unavailable(String),
}

/// What the back office needs from the server: the persisted billing run and the key-rate
/// history's storage.
#[async_trait::async_trait]
pub trait Backoffice: Send + Sync {
    /// Starts (or resumes, or finds running) the billing run of `supplier` for `period` in the
    /// background and answers its state.
    async fn start_billing_run(
        &self,
        supplier: u64,
        period: Period,
    ) -> Result<RunStatus, BackofficeError>;
    /// The state of the run of `supplier` for `period`; `None` if it was never started.
    async fn billing_run(
        &self,
        supplier: u64,
        period: Period,
    ) -> Result<Option<RunStatus>, BackofficeError>;
    /// The key-rate history in force.
    async fn key_rates(&self) -> Result<KeyRateHistory, BackofficeError>;
    /// Replaces the key-rate history.
    async fn set_key_rates(&self, history: &KeyRateHistory) -> Result<(), BackofficeError>;
}

/// The back office.
pub struct BackofficeApi;

/// A billing run to start.
#[derive(Object, Debug)]
#[oai(deny_unknown_fields)]
pub struct StartRunBody {
    /// The supplier.
    #[oai(validator(
        minimum(value = "1"),
        maximum(value = "9223372036854775808", exclusive = true)
    ))]
    pub supplier_id: u64,
    /// The period, `YYYY-MM`.
    #[oai(validator(max_length = 7))]
    pub period: String,
}

/// A billing run's progress.
#[derive(Object, Debug)]
pub struct RunDto {
    /// The supplier.
    pub supplier_id: u64,
    /// The period.
    pub period: String,
    /// Houses of the run.
    pub houses_total: u64,
    /// Houses billed.
    pub houses_done: u64,
    /// Houses that could not be billed.
    pub houses_failed: u64,
    /// Whether the run is going on now.
    pub running: bool,
    /// The houses that failed, with why.
    pub failures: Vec<RunFailureDto>,
    /// Why the last start stopped, if it stopped on an error.
    #[oai(nullable)]
    pub error: Option<String>,
}

/// A house the run could not bill.
#[derive(Object, Debug)]
pub struct RunFailureDto {
    /// The house.
    pub house_id: u64,
    /// Why (English).
    pub reason: String,
}

/// The refund request was recorded.
#[derive(ApiResponse)]
pub enum RefundRequested {
    /// Recorded (or, for the same number and amount again, the stored one).
    #[oai(status = 201)]
    Created(Json<RefundRequestDto>),
}

/// The run was started (or is running, or was resumed).
#[derive(ApiResponse)]
pub enum RunStarted {
    /// Accepted: follow it at `GET /operator/billing-runs/{supplier_id}/{period}`.
    #[oai(status = 202)]
    Accepted(Json<RunDto>),
}

/// One step of the key-rate history.
#[derive(Object, Debug)]
#[oai(deny_unknown_fields)]
pub struct KeyRateStepDto {
    /// The first day the rate is in force.
    pub from: Date,
    /// The rate in percent per year, e.g. `"16.5"`.
    #[oai(validator(max_length = 10))]
    pub rate: String,
}

/// The key-rate history.
#[derive(Object, Debug)]
#[oai(deny_unknown_fields)]
pub struct KeyRatesDto {
    /// The steps, strictly ascending by `from`; a rate is in force until the next step.
    #[oai(validator(min_items = 1, max_items = 1000))]
    pub steps: Vec<KeyRateStepDto>,
}

/// A written refund request to record (seed 003: refunds on a written request within 30 days).
#[derive(Object, Debug)]
#[oai(deny_unknown_fields)]
pub struct RefundRequestBody {
    /// The ЛС (its `account_id`).
    #[oai(validator(
        minimum(value = "1"),
        maximum(value = "9223372036854775808", exclusive = true)
    ))]
    pub account_id: u64,
    /// The payment (its `payment_id`).
    #[oai(validator(
        minimum(value = "1"),
        maximum(value = "9223372036854775808", exclusive = true)
    ))]
    pub payment_id: u64,
    /// The amount asked for, e.g. `"100.00"`.
    #[oai(validator(max_length = 16))]
    pub amount: String,
    /// The registration number of the written request.
    #[oai(validator(min_length = 1, max_length = 64))]
    pub number: String,
    /// The day it was received.
    pub received_on: Date,
}

/// Why a refund is refused.
#[derive(Object, Debug)]
#[oai(deny_unknown_fields)]
pub struct RejectRefundBody {
    /// The reason, in Russian (told to the payer).
    #[oai(validator(min_length = 1, max_length = 500))]
    pub reason: String,
}

/// A refund request and its outcome.
#[derive(Object, Debug)]
pub struct RefundRequestDto {
    /// Its id.
    pub refund_request_id: u64,
    /// The ЛС.
    pub account_id: u64,
    /// The payment.
    pub payment_id: u64,
    /// The amount asked for.
    pub amount: String,
    /// The registration number of the written request.
    pub number: String,
    /// The day it was received.
    pub received_on: Date,
    /// The last day to refund.
    pub due_by: Date,
    /// `requested`, `refunded` or `rejected`.
    pub status: String,
    /// The day of the refund or the rejection.
    #[oai(nullable)]
    pub decided_on: Option<Date>,
    /// Why it was rejected.
    #[oai(nullable)]
    pub reason: Option<String>,
}

/// A refund carried out.
#[derive(Object, Debug)]
pub struct RefundDoneDto {
    /// The request, now `refunded`.
    pub request: RefundRequestDto,
    /// The ЛС's balance afterwards (positive is owed).
    pub balance: String,
    /// The gateway's refund id, for a payment taken online.
    #[oai(nullable)]
    pub gateway_refund_id: Option<String>,
    /// The return receipt's id, when one was issued.
    #[oai(nullable)]
    pub receipt_id: Option<u64>,
}

fn refund_request_dto(r: &RefundRequest) -> RefundRequestDto {
    let (status, decided_on, reason) = match &r.status {
        RefundStatus::Requested => ("requested", None, None),
        RefundStatus::Refunded { on } => ("refunded", Some(*on), None),
        RefundStatus::Rejected { on, reason } => ("rejected", Some(*on), Some(reason.clone())),
    };
    RefundRequestDto {
        refund_request_id: r.id.get(),
        account_id: r.account.get(),
        payment_id: r.payment.get(),
        amount: money(r.amount),
        number: r.number.clone(),
        received_on: r.received_on,
        due_by: r.due_by,
        status: status.to_owned(),
        decided_on,
        reason,
    }
}

fn request_problem(e: &RequestRefundError) -> Problem {
    let said = |kind| Problem::with_detail(kind, e.user_message());
    match e {
        RequestRefundError::PaymentNotFound | RequestRefundError::NotYourPayment => {
            said(ProblemType::NotFound)
        }
        RequestRefundError::NotRefundable(_) | RequestRefundError::NumberConflict { .. } => {
            said(ProblemType::RefundRefused)
        }
        RequestRefundError::Repo(_) => Problem::unavailable("record a refund request", e),
        _ => said(ProblemType::RefundInvalid),
    }
}

fn refund_problem(e: &RefundPaymentError) -> Problem {
    let said = |kind| Problem::with_detail(kind, e.user_message());
    match e {
        RefundPaymentError::RequestNotFound => said(ProblemType::NotFound),
        RefundPaymentError::ReasonMissing => said(ProblemType::RefundInvalid),
        RefundPaymentError::Ledger(_) | RefundPaymentError::Repo(_) => {
            Problem::unavailable("refund a payment", e)
        }
        _ => said(ProblemType::RefundRefused),
    }
}

fn online_refund_problem(e: &OnlineRefundError) -> Problem {
    match e {
        OnlineRefundError::Refused(e) => refund_problem(e),
        OnlineRefundError::GatewayDeclined(reason) => {
            tracing::warn!(%reason, "gateway declined a refund");
            Problem::with_detail(ProblemType::RefundRefused, e.user_message())
        }
        OnlineRefundError::GatewayUnavailable(reason) => {
            tracing::error!(%reason, "gateway unavailable for a refund");
            Problem::with_detail(ProblemType::GatewayUnavailable, e.user_message())
        }
        OnlineRefundError::Repo(_) => Problem::unavailable("refund online", e),
    }
}

fn run_dto(supplier: u64, period: Period, s: RunStatus) -> RunDto {
    RunDto {
        supplier_id: supplier,
        period: period.to_string(),
        houses_total: s.houses_total,
        houses_done: s.houses_done,
        houses_failed: s.houses_failed,
        running: s.running,
        failures: s
            .failures
            .into_iter()
            .map(|(house_id, reason)| RunFailureDto { house_id, reason })
            .collect(),
        error: s.error,
    }
}

fn backoffice_problem(e: &BackofficeError) -> Problem {
    match e {
        BackofficeError::SupplierNotFound => {
            Problem::with_detail(ProblemType::NotFound, "Поставщик не найден.")
        }
        BackofficeError::PeriodClosed => Problem::with_detail(
            ProblemType::BillingRunRefused,
            "Период закрыт: его начисления окончательны, исправления — перерасчётом в следующем периоде.",
        ),
        BackofficeError::TooEarly { earliest } => Problem::with_detail(
            ProblemType::BillingRunRefused,
            format!(
                "Приём показаний за этот период ещё идёт: начисления можно выполнить с {}.",
                earliest
            ),
        ),
        BackofficeError::Unavailable(_) => Problem::unavailable("back office", e),
    }
}

fn history_of(body: &KeyRatesDto) -> Result<KeyRateHistory, Problem> {
    let invalid = |reason: String, detail: String| {
        let mut p = Problem::with_detail(ProblemType::InvalidRequest, detail);
        p.reason = Some(reason);
        p
    };
    let steps = body
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let rate = s
                .rate
                .trim()
                .replace(',', ".")
                .parse::<Decimal>()
                .ok()
                .and_then(|d| Rate::from_percent(d).ok())
                .ok_or_else(|| {
                    invalid(
                        format!("steps[{i}].rate is not a rate in percent"),
                        format!(
                            "Ставка «{}» указана неверно: нужен процент годовых, не более двух знаков после запятой.",
                            s.rate
                        ),
                    )
                })?;
            Ok(KeyRateStep { from: s.from, rate })
        })
        .collect::<Result<Vec<_>, Problem>>()?;
    KeyRateHistory::new(steps).map_err(|e| {
        invalid(
            e.to_string(),
            "Даты ставок должны идти по возрастанию, без повторов.".to_owned(),
        )
    })
}

fn history_dto(h: &KeyRateHistory) -> KeyRatesDto {
    KeyRatesDto {
        steps: h
            .steps()
            .iter()
            .map(|s| KeyRateStepDto {
                from: s.from,
                rate: s.rate.percent().to_string(),
            })
            .collect(),
    }
}

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Operator")]
impl BackofficeApi {
    /// Start the billing run of a supplier's period (Billing): every house is billed once,
    /// in the background; starting it again resumes it and never charges twice.
    #[oai(
        path = "/operator/billing-runs",
        method = "post",
        operation_id = "operatorStartBillingRun"
    )]
    async fn start_run(
        &self,
        state: Data<&AppState>,
        auth: OperatorAuth,
        body: Json<StartRunBody>,
    ) -> Result<RunStarted, ProblemResponse> {
        auth.require(OperatorRole::Billing)?;
        let period = period_param("period", &body.0.period)?;
        let status = state
            .backoffice
            .start_billing_run(body.0.supplier_id, period)
            .await
            .map_err(|e| backoffice_problem(&e))?;
        Ok(RunStarted::Accepted(Json(run_dto(
            body.0.supplier_id,
            period,
            status,
        ))))
    }

    /// A billing run's progress (Billing).
    #[oai(
        path = "/operator/billing-runs/:supplier_id/:period",
        method = "get",
        operation_id = "operatorBillingRun"
    )]
    async fn run(
        &self,
        state: Data<&AppState>,
        auth: OperatorAuth,
        #[oai(validator(
            minimum(value = "1"),
            maximum(value = "9223372036854775808", exclusive = true)
        ))]
        supplier_id: Path<u64>,
        #[oai(validator(max_length = 7))] period: Path<String>,
    ) -> Result<Json<RunDto>, ProblemResponse> {
        auth.require(OperatorRole::Billing)?;
        let period = period_param("period", &period.0)?;
        let status = state
            .backoffice
            .billing_run(supplier_id.0, period)
            .await
            .map_err(|e| backoffice_problem(&e))?
            .ok_or_else(|| {
                Problem::with_detail(
                    ProblemType::NotFound,
                    "Начисления за этот период не запускались.",
                )
            })?;
        Ok(Json(run_dto(supplier_id.0, period, status)))
    }

    /// The key-rate history of the Bank of Russia the penalties use (Billing).
    #[oai(
        path = "/operator/key-rates",
        method = "get",
        operation_id = "operatorKeyRates"
    )]
    async fn key_rates(
        &self,
        state: Data<&AppState>,
        auth: OperatorAuth,
    ) -> Result<Json<KeyRatesDto>, ProblemResponse> {
        auth.require(OperatorRole::Billing)?;
        let history = state
            .backoffice
            .key_rates()
            .await
            .map_err(|e| backoffice_problem(&e))?;
        Ok(Json(history_dto(&history)))
    }

    /// Replace the key-rate history (Billing): the whole list, strictly ascending by date.
    /// Penalties computed from now on use it; closed periods are not recomputed.
    #[oai(
        path = "/operator/key-rates",
        method = "put",
        operation_id = "operatorSetKeyRates"
    )]
    async fn set_key_rates(
        &self,
        state: Data<&AppState>,
        auth: OperatorAuth,
        body: Json<KeyRatesDto>,
    ) -> Result<Json<KeyRatesDto>, ProblemResponse> {
        auth.require(OperatorRole::Billing)?;
        let history = history_of(&body.0)?;
        state
            .backoffice
            .set_key_rates(&history)
            .await
            .map_err(|e| backoffice_problem(&e))?;
        Ok(Json(history_dto(&history)))
    }

    /// Record a subscriber's written refund request for a payment (Billing). Idempotent per
    /// (payment, number).
    #[oai(
        path = "/operator/refund-requests",
        method = "post",
        operation_id = "operatorRequestRefund"
    )]
    async fn request_refund(
        &self,
        state: Data<&AppState>,
        auth: OperatorAuth,
        body: Json<RefundRequestBody>,
    ) -> Result<RefundRequested, ProblemResponse> {
        auth.require(OperatorRole::Billing)?;
        let body = body.0;
        let amount = body.amount.trim().parse::<Money>().map_err(|_| {
            let mut p = Problem::with_detail(
                ProblemType::InvalidRequest,
                "Сумма указывается в рублях, не более двух знаков после запятой.",
            );
            p.reason = Some("amount is not an amount".to_owned());
            p
        })?;
        let account = AccountId::new(body.account_id);
        let payment = state
            .billing
            .payments(account)
            .await
            .map_err(Problem::from)?
            .into_iter()
            .find(|p| p.id.get() == body.payment_id)
            .ok_or_else(|| Problem::with_detail(ProblemType::NotFound, "Платёж не найден."))?;
        let request = state
            .billing
            .request_refund(RequestRefund {
                gateway_id: payment.gateway_id,
                account,
                amount,
                number: body.number,
                received_on: body.received_on,
            })
            .await
            .map_err(|e| request_problem(&e))?;
        Ok(RefundRequested::Created(Json(refund_request_dto(&request))))
    }

    /// Carry out a refund request (Billing): the money goes back through the gateway for an
    /// online payment, the ЛС's balance grows by it and a return receipt is issued. Idempotent.
    #[oai(
        path = "/operator/refund-requests/:refund_request_id/refund",
        method = "post",
        operation_id = "operatorRefund"
    )]
    async fn refund(
        &self,
        state: Data<&AppState>,
        auth: OperatorAuth,
        #[oai(validator(
            minimum(value = "1"),
            maximum(value = "9223372036854775808", exclusive = true)
        ))]
        refund_request_id: Path<u64>,
    ) -> Result<Json<RefundDoneDto>, ProblemResponse> {
        auth.require(OperatorRole::Billing)?;
        let done = state
            .payments
            .refund(RefundRequestId::new(refund_request_id.0))
            .await
            .map_err(|e| online_refund_problem(&e))?;
        let receipt_id = match &done.receipt {
            Some(Ok(issued)) => Some(issued.stored.id.get()),
            Some(Err(e)) => {
                tracing::error!(error = %e, "return receipt not issued; refund again to retry");
                None
            }
            None => None,
        };
        Ok(Json(RefundDoneDto {
            request: refund_request_dto(&done.refund.request),
            balance: money(done.refund.balance),
            gateway_refund_id: done.gateway_refund.map(|g| g.as_str().to_owned()),
            receipt_id,
        }))
    }

    /// Refuse a refund request, with the reason the payer is told (Billing).
    #[oai(
        path = "/operator/refund-requests/:refund_request_id/reject",
        method = "post",
        operation_id = "operatorRejectRefund"
    )]
    async fn reject_refund(
        &self,
        state: Data<&AppState>,
        auth: OperatorAuth,
        #[oai(validator(
            minimum(value = "1"),
            maximum(value = "9223372036854775808", exclusive = true)
        ))]
        refund_request_id: Path<u64>,
        body: Json<RejectRefundBody>,
    ) -> Result<Json<RefundRequestDto>, ProblemResponse> {
        auth.require(OperatorRole::Billing)?;
        let request = state
            .billing
            .reject_refund(RefundRequestId::new(refund_request_id.0), &body.0.reason)
            .await
            .map_err(|e| refund_problem(&e))?;
        Ok(Json(refund_request_dto(&request)))
    }
}
