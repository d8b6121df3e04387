//! Meter readings (seeds 002–004): submit, correct, cancel — each behind the one gate
//! ([`crate::api::accounts::linked_account`]), submit and correct with an `Idempotency-Key`.
//! A reading after the window is accepted for the next period (`late: true`); the answer says
//! so in Russian.

use billing_core::ids::{AccountId, MeterId, ReadingId};
use billing_core::meter::ZoneValues;
use billing_core::reading::{
    ChangeReadingError, Reading, ReadingError, ReadingSource, ReadingStatus,
};
use billing_core::usecase::{
    AcceptedReading, CancelReadingError, CorrectReading, CorrectReadingError, SubmitReading,
    SubmitReadingError,
};
use poem::web::Data;
use poem_openapi::param::{Header, Path};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

use super::ApiTags;
use super::accounts::linked_account;
use crate::AppState;
use crate::auth::SubscriberAuth;
use crate::idempotency;
use crate::problem::{Problem, ProblemResponse, ProblemType};

/// Reading submission, correction and cancellation.
pub struct ReadingsApi;

/// Readings of a meter.
#[derive(Object, Debug, Serialize)]
#[oai(deny_unknown_fields)]
pub struct SubmitReadingBody {
    /// The meter (`GET /api/v1/accounts/{account_id}/meters`).
    #[oai(validator(
        minimum(value = "1"),
        maximum(value = "9223372036854775808", exclusive = true)
    ))]
    pub meter_id: u64,
    /// One value per register in register order (day, night; or peak, night, semi-peak), as
    /// decimal text: `"5910"`, `"1234.5"` (a decimal comma is accepted too).
    #[oai(validator(min_items = 1, max_items = 3))]
    pub values: Vec<String>,
}

/// New values for a reading.
#[derive(Object, Debug, Serialize)]
#[oai(deny_unknown_fields)]
pub struct CorrectReadingBody {
    /// One value per register, as in submission.
    #[oai(validator(min_items = 1, max_items = 3))]
    pub values: Vec<String>,
}

/// An accepted reading and what it means.
#[derive(Object, Debug, Serialize, Deserialize)]
pub struct AcceptedReadingDto {
    /// The reading's id (to correct or cancel it).
    pub reading_id: u64,
    /// The meter.
    pub meter_id: u64,
    /// The period it is billed in, `YYYY-MM`.
    pub period: String,
    /// The values, one per register.
    pub values: Vec<String>,
    /// The day taken.
    pub taken_on: Date,
    /// When it reached the supplier.
    pub submitted_at: OffsetDateTime,
    /// Consumption since the previous reading per register; absent for a meter's first.
    #[oai(nullable)]
    pub consumption: Option<Vec<String>>,
    /// Registers that rolled over (9993 → 0007).
    pub rollover: Vec<bool>,
    /// Submitted after the window: billed in the next period.
    pub late: bool,
    /// The confirmation in Russian.
    pub message: String,
}

/// A cancelled reading.
#[derive(Object, Debug)]
pub struct CancelledReadingDto {
    /// The reading's id.
    pub reading_id: u64,
    /// Its period, `YYYY-MM`.
    pub period: String,
    /// Its status now (`cancelled`).
    pub status: String,
}

/// The reading was accepted.
#[derive(ApiResponse)]
pub enum ReadingAccepted {
    /// Accepted (or, with a replayed `Idempotency-Key`, the first answer again).
    #[oai(status = 201)]
    Created(
        Json<AcceptedReadingDto>,
        /// `true` when this is the kept answer of an earlier request with the same key.
        #[oai(header = "Idempotent-Replayed")]
        Option<String>,
    ),
}

/// The correction was accepted.
#[derive(ApiResponse)]
pub enum ReadingCorrected {
    /// Accepted: the new reading replaces the old one.
    #[oai(status = 200)]
    Ok(
        Json<AcceptedReadingDto>,
        /// `true` when this is the kept answer of an earlier request with the same key.
        #[oai(header = "Idempotent-Replayed")]
        Option<String>,
    ),
}

/// The values as decimals, or `invalid-request` naming the field.
fn parse_values(field: &str, values: &[String]) -> Result<Vec<Decimal>, Problem> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let text = v.trim().replace(',', ".");
            let ok = !text.is_empty()
                && text.len() <= 20
                && text.bytes().all(|b| b.is_ascii_digit() || b == b'.');
            ok.then(|| text.parse::<Decimal>().ok())
                .flatten()
                .ok_or_else(|| {
                    let mut p = Problem::with_detail(
                        ProblemType::InvalidRequest,
                        "Показания вводятся цифрами, например 5910 или 1234,5.",
                    );
                    p.reason = Some(format!("`{field}[{i}]` is not a decimal number"));
                    p
                })
        })
        .collect()
}

fn texts(v: &ZoneValues) -> Vec<String> {
    v.values()
        .iter()
        .map(|d| d.normalize().to_string())
        .collect()
}

fn status_name(s: ReadingStatus) -> &'static str {
    match s {
        ReadingStatus::Accepted => "accepted",
        ReadingStatus::Superseded => "superseded",
        ReadingStatus::Cancelled => "cancelled",
    }
}

fn accepted_dto(a: &AcceptedReading) -> AcceptedReadingDto {
    let r: &Reading = &a.reading;
    let registers = r.values.values().len();
    AcceptedReadingDto {
        reading_id: r.id.get(),
        meter_id: r.meter.get(),
        period: r.period.to_string(),
        values: texts(&r.values),
        taken_on: r.taken_on,
        submitted_at: r.submitted_at,
        consumption: a.consumption.as_ref().map(texts),
        rollover: a.rollover.iter().take(registers).copied().collect(),
        late: a.late,
        message: a.user_message(),
    }
}

/// A stable code for why a reading was refused (`reason` of `reading-rejected`).
fn reading_reason(e: &ReadingError) -> &'static str {
    match e {
        ReadingError::MeterNotWorking { .. } => "meter_not_working",
        ReadingError::AutomaticMeter => "automatic_meter",
        ReadingError::WrongZoneCount { .. } => "wrong_zone_count",
        ReadingError::Negative { .. } => "negative",
        ReadingError::TooManyDigits { .. } => "too_many_digits",
        ReadingError::TooManyDecimals { .. } => "too_many_decimals",
        ReadingError::LowerThanPrevious { .. } => "lower_than_previous",
        ReadingError::Implausible { .. } => "implausible",
        ReadingError::WindowNotOpen { .. } => "window_not_open",
        ReadingError::PeriodClosed(_) => "period_closed",
        ReadingError::OlderThanLast { .. } => "older_than_last",
    }
}

fn rejected(e: &ReadingError) -> Problem {
    let mut p = Problem::with_detail(ProblemType::ReadingRejected, e.user_message());
    p.reason = Some(reading_reason(e).to_owned());
    p
}

fn not_found(detail: String) -> Problem {
    Problem::with_detail(ProblemType::NotFound, detail)
}

fn submit_problem(e: &SubmitReadingError) -> Problem {
    match e {
        SubmitReadingError::MeterNotFound | SubmitReadingError::NotYourMeter => {
            not_found(SubmitReadingError::MeterNotFound.user_message())
        }
        SubmitReadingError::AccountNotFound => Problem::new(ProblemType::NotLinked),
        SubmitReadingError::Invalid(r) => rejected(r),
        SubmitReadingError::AlreadySubmitted { .. } => {
            Problem::with_detail(ProblemType::ReadingAlreadySubmitted, e.user_message())
        }
        SubmitReadingError::Repo(_) => Problem::unavailable("submit a reading", e),
    }
}

fn change_problem(e: &ChangeReadingError) -> Problem {
    match e {
        ChangeReadingError::Invalid(r) => rejected(r),
        ChangeReadingError::PeriodClosed(_)
        | ChangeReadingError::WindowClosed(_)
        | ChangeReadingError::NotAccepted(_)
        | ChangeReadingError::NotOwnReading(_) => {
            Problem::with_detail(ProblemType::ReadingNotChangeable, e.user_message())
        }
    }
}

fn correct_problem(e: &CorrectReadingError) -> Problem {
    match e {
        CorrectReadingError::ReadingNotFound | CorrectReadingError::NotYourReading => {
            not_found(CorrectReadingError::ReadingNotFound.user_message())
        }
        CorrectReadingError::Refused(c) => change_problem(c),
        CorrectReadingError::Repo(_) => Problem::unavailable("correct a reading", e),
    }
}

fn cancel_problem(e: &CancelReadingError) -> Problem {
    match e {
        CancelReadingError::ReadingNotFound | CancelReadingError::NotYourReading => {
            not_found(CancelReadingError::ReadingNotFound.user_message())
        }
        CancelReadingError::Refused(c) => change_problem(c),
        CancelReadingError::Repo(_) => Problem::unavailable("cancel a reading", e),
    }
}

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Readings")]
impl ReadingsApi {
    /// Submit a meter's readings (seeds 002–004). Accepted in the readings window for the
    /// current period; after it, for the next one (`late`). A value below the previous one is
    /// a rollover (9993 → 0007) when plausible. Send an `Idempotency-Key` to retry safely.
    #[oai(
        path = "/accounts/:account_id/readings",
        method = "post",
        operation_id = "submitReading"
    )]
    async fn submit(
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
        body: Json<SubmitReadingBody>,
    ) -> Result<ReadingAccepted, ProblemResponse> {
        let key = idempotency::parse_key(idempotency_key.0.as_deref())?;
        let (_, account) = linked_account(&state, &auth, account_id.0).await?;
        let values = parse_values("values", &body.0.values)?;
        let operation = format!("POST /accounts/{}/readings", account_id.0);
        let fingerprint = idempotency::fingerprint(&operation, &body.0);
        let principal = auth.auth().subscriber().to_string();
        let account = account.id;
        let meter = MeterId::new(body.0.meter_id);
        let billing = state.billing.clone();
        let outcome = idempotency::run(
            &state,
            &principal,
            key.as_deref(),
            fingerprint,
            201,
            move || async move {
                billing
                    .submit_reading(SubmitReading {
                        account,
                        meter,
                        values,
                        source: ReadingSource::Subscriber,
                    })
                    .await
                    .map(|a| accepted_dto(&a))
                    .map_err(|e| submit_problem(&e))
            },
        )
        .await?;
        let replayed = outcome.replayed_header();
        Ok(ReadingAccepted::Created(
            Json(outcome.into_inner()),
            replayed,
        ))
    }

    /// Correct a reading of the current period while the window is open (seed 002): the new
    /// values replace it. Send an `Idempotency-Key` to retry safely.
    #[oai(
        path = "/accounts/:account_id/readings/:reading_id",
        method = "put",
        operation_id = "correctReading"
    )]
    async fn correct(
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
        reading_id: Path<u64>,
        /// As for submission.
        #[oai(name = "Idempotency-Key")]
        idempotency_key: Header<Option<String>>,
        body: Json<CorrectReadingBody>,
    ) -> Result<ReadingCorrected, ProblemResponse> {
        let key = idempotency::parse_key(idempotency_key.0.as_deref())?;
        let (_, account) = linked_account(&state, &auth, account_id.0).await?;
        let values = parse_values("values", &body.0.values)?;
        let operation = format!("PUT /accounts/{}/readings/{}", account_id.0, reading_id.0);
        let fingerprint = idempotency::fingerprint(&operation, &body.0);
        let principal = auth.auth().subscriber().to_string();
        let account: AccountId = account.id;
        let reading = ReadingId::new(reading_id.0);
        let billing = state.billing.clone();
        let outcome = idempotency::run(
            &state,
            &principal,
            key.as_deref(),
            fingerprint,
            200,
            move || async move {
                billing
                    .correct_reading(CorrectReading {
                        account,
                        reading,
                        values,
                    })
                    .await
                    .map(|a| accepted_dto(&a))
                    .map_err(|e| correct_problem(&e))
            },
        )
        .await?;
        let replayed = outcome.replayed_header();
        Ok(ReadingCorrected::Ok(Json(outcome.into_inner()), replayed))
    }

    /// Cancel a reading of the current period while the window is open: the period is then
    /// billed as if it had not been sent.
    #[oai(
        path = "/accounts/:account_id/readings/:reading_id",
        method = "delete",
        operation_id = "cancelReading"
    )]
    async fn cancel(
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
        reading_id: Path<u64>,
    ) -> Result<Json<CancelledReadingDto>, ProblemResponse> {
        let (_, account) = linked_account(&state, &auth, account_id.0).await?;
        let reading = state
            .billing
            .cancel_reading(account.id, ReadingId::new(reading_id.0))
            .await
            .map_err(|e| cancel_problem(&e))?;
        Ok(Json(CancelledReadingDto {
            reading_id: reading.id.get(),
            period: reading.period.to_string(),
            status: status_name(reading.status).to_owned(),
        }))
    }
}
