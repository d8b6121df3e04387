//! The operator's data import: `POST /api/v1/operator/imports/{kind}` with a CSV file
//! (`text/csv`) of suppliers, houses, premises, accounts, meters, tariffs or readings, or a
//! bank's payment registry — Billing (or Admin).
//!
//! The file is checked row by row first; a file with bad rows is answered 422
//! `import-invalid` with every bad row (`errors: [{line, column, reason}]`, the first 100) and
//! nothing of it is applied. The formats are in `docs/import.md`. This crate parses nothing:
//! the [`Importer`] port (implemented by the `server` crate over `server::import`) does.
//!
//! The route takes bodies up to [`BODY_LIMIT`] (the rest of the API keeps the service's small
//! limit): [`with_body_limits`].

use std::sync::Arc;

use identity_core::model::OperatorRole;
use poem::web::Data;
use poem::{Endpoint, EndpointExt, Request, RequestBody, Response};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::{Json, ParsePayload, Payload};
use poem_openapi::registry::{MetaSchema, MetaSchemaRef};
use poem_openapi::{ApiRequest, Enum, Object, OpenApi};

use super::ApiTags;
use crate::AppState;
use crate::auth::OperatorAuth;
use crate::limits::BodyLimit;
use crate::problem::{Problem, ProblemResponse, ProblemType, RowError};

/// Where the import route lives (it gets the larger body limit).
pub const PATH_PREFIX: &str = "/api/v1/operator/imports";

/// The largest file accepted, in bytes: 32 MiB.
pub const BODY_LIMIT: usize = 32 * 1024 * 1024;

/// `app` behind the body limit `limit`, except that the import route takes bodies up to
/// [`BODY_LIMIT`].
pub fn with_body_limits<E>(app: E, limit: usize) -> impl Endpoint<Output = Response>
where
    E: Endpoint + 'static,
{
    let app = Arc::new(app);
    let small = Arc::new(
        app.clone()
            .with(BodyLimit::new(limit))
            .map_to_response()
            .boxed(),
    );
    let large = Arc::new(
        app.with(BodyLimit::new(BODY_LIMIT.max(limit)))
            .map_to_response()
            .boxed(),
    );
    poem::endpoint::make(move |req: Request| {
        let import = req
            .uri()
            .path()
            .strip_prefix(PATH_PREFIX)
            .is_some_and(|rest| rest.starts_with('/'));
        let endpoint = Arc::clone(if import { &large } else { &small });
        async move { endpoint.call(req).await }
    })
}

/// What a file holds.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[oai(rename_all = "kebab-case")]
pub enum ImportKind {
    /// Suppliers and their requisites.
    Suppliers,
    /// Houses of a supplier (`supplier` required).
    Houses,
    /// Premises of houses.
    Premises,
    /// Personal accounts (ЛС) of a supplier (`supplier` required), with optional payment codes.
    Accounts,
    /// Meters of accounts.
    Meters,
    /// Tariff versions of a supplier (`supplier` required).
    Tariffs,
    /// Meter readings from a previous system or an automatic metering system.
    Readings,
    /// A bank's registry of payments (`supplier` and `registry` required).
    BankRegistry,
}

/// An import to run.
#[derive(Clone, Debug)]
pub struct ImportRequest {
    /// What the file holds.
    pub kind: ImportKind,
    /// The file.
    pub csv: Vec<u8>,
    /// The supplier the rows belong to (houses, accounts, tariffs, bank registry).
    pub supplier: Option<u64>,
    /// The bank registry's identifier (bank registry only).
    pub registry: Option<String>,
}

/// An applied import.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImportReport {
    /// Rows in the file.
    pub rows: u64,
    /// Rows applied now.
    pub applied: u64,
    /// Bank registry: rows credited before (by an earlier import of the same registry).
    pub duplicates: Option<u64>,
}

/// Why an import was not applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImportFailure {
    /// Bad rows (the first 100) and how many were found; nothing was applied.
    Invalid {
        /// The bad rows, in line order.
        errors: Vec<RowError>,
        /// How many bad rows were found.
        total: u64,
    },
    /// The file contradicts the stored data (Russian text); nothing was applied.
    Conflict(String),
    /// The request is incomplete (a parameter missing or malformed; Russian text).
    BadRequest(String),
    /// The database failed (the port logs why; the Russian text says what to do).
    Unavailable(String),
}

/// The import port: parses, checks and applies a file.
#[async_trait::async_trait]
pub trait Importer: Send + Sync {
    /// Runs `request`: every row checked first; applied only if none is bad.
    async fn import(&self, request: ImportRequest) -> Result<ImportReport, ImportFailure>;
}

/// A CSV file (`text/csv`, UTF-8).
#[derive(Debug)]
pub struct CsvFile(pub Vec<u8>);

impl Payload for CsvFile {
    const CONTENT_TYPE: &'static str = "text/csv";

    fn check_content_type(content_type: &str) -> bool {
        let essence = content_type.split(';').next().unwrap_or_default().trim();
        essence.eq_ignore_ascii_case(Self::CONTENT_TYPE)
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema::new("string")))
    }
}

impl ParsePayload for CsvFile {
    const IS_REQUIRED: bool = true;

    async fn from_request(request: &Request, body: &mut RequestBody) -> poem::Result<Self> {
        let bytes = <Vec<u8> as poem::FromRequest<'_>>::from_request(request, body).await?;
        Ok(Self(bytes))
    }
}

/// The body of an import.
#[derive(ApiRequest, Debug)]
pub enum CsvBody {
    /// The file: UTF-8, `;`-separated, a header row first (formats in `docs/import.md`).
    Csv(CsvFile),
}

/// The outcome of an applied import.
#[derive(Object, Debug)]
pub struct ImportReportDto {
    /// What the file held.
    pub kind: ImportKind,
    /// Rows in the file.
    pub rows: u64,
    /// Rows applied now (bank registry: payments credited now).
    pub applied: u64,
    /// Bank registry: payments of the file credited before, not credited again.
    #[oai(skip_serializing_if_is_none)]
    pub duplicates: Option<u64>,
}

/// The import API.
pub struct ImportsApi;

fn failure_problem(failure: ImportFailure) -> Problem {
    match failure {
        ImportFailure::Invalid { errors, total } => {
            let shown = errors.len();
            let mut p = Problem::with_detail(
                ProblemType::ImportInvalid,
                if u64::try_from(shown).is_ok_and(|s| s < total) {
                    format!("Файл не загружен: ошибок {total}, показаны первые {shown}.")
                } else {
                    format!(
                        "Файл не загружен: ошибок {total}. Исправьте их и загрузите файл снова."
                    )
                },
            );
            p.errors = Some(errors);
            p
        }
        ImportFailure::Conflict(detail) => {
            Problem::with_detail(ProblemType::ImportConflict, detail)
        }
        ImportFailure::BadRequest(detail) => {
            Problem::with_detail(ProblemType::InvalidRequest, detail)
        }
        ImportFailure::Unavailable(detail) => {
            Problem::with_detail(ProblemType::ServiceUnavailable, detail)
        }
    }
}

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Operator")]
impl ImportsApi {
    /// Import a CSV file — Billing. Every row is checked first: a file with bad rows is
    /// answered 422 `import-invalid` listing them, and nothing of it is applied; otherwise the
    /// whole file is applied in one transaction. A bank registry credits each payment exactly
    /// once (re-importing it credits nothing twice: those rows count as `duplicates`). Files
    /// up to 32 MiB.
    #[oai(
        path = "/operator/imports/:kind",
        method = "post",
        operation_id = "operatorImport"
    )]
    async fn import(
        &self,
        state: Data<&AppState>,
        auth: OperatorAuth,
        /// What the file holds.
        kind: Path<ImportKind>,
        /// The supplier (houses, accounts, tariffs, bank-registry).
        supplier: Query<Option<u64>>,
        /// The bank registry's identifier (1–40 of `A-Z a-z 0-9 . _ -`): a payment is
        /// credited once per registry and row reference.
        #[oai(validator(min_length = 1, max_length = 40))]
        registry: Query<Option<String>>,
        body: CsvBody,
    ) -> Result<Json<ImportReportDto>, ProblemResponse> {
        auth.require(OperatorRole::Billing)?;
        let CsvBody::Csv(CsvFile(csv)) = body;
        let report = state
            .imports
            .import(ImportRequest {
                kind: kind.0,
                csv,
                supplier: supplier.0,
                registry: registry.0,
            })
            .await
            .map_err(failure_problem)?;
        Ok(Json(ImportReportDto {
            kind: kind.0,
            rows: report.rows,
            applied: report.applied,
            duplicates: report.duplicates,
        }))
    }
}
