//! The HTTP API's import port ([`http_api::api::imports::Importer`]) over [`Importer`].

use std::io::Cursor;
use std::sync::Arc;

use http_api::api::imports::{ImportFailure, ImportKind, ImportReport, ImportRequest};
use http_api::problem::RowError;

use super::{ImportError, Importer, Kind, Options, Silent};

fn kind(k: ImportKind) -> Kind {
    match k {
        ImportKind::Suppliers => Kind::Suppliers,
        ImportKind::Houses => Kind::Houses,
        ImportKind::Premises => Kind::Premises,
        ImportKind::Accounts => Kind::Accounts,
        ImportKind::Meters => Kind::Meters,
        ImportKind::Tariffs => Kind::Tariffs,
        ImportKind::Readings => Kind::Readings,
        ImportKind::BankRegistry => Kind::BankRegistry,
    }
}

impl From<ImportError> for ImportFailure {
    fn from(e: ImportError) -> Self {
        match e {
            ImportError::Invalid { errors, total } => ImportFailure::Invalid {
                errors: errors
                    .into_iter()
                    .map(|e| RowError {
                        line: e.line,
                        column: e.column,
                        reason: e.reason,
                    })
                    .collect(),
                total,
            },
            ImportError::Options(text) => ImportFailure::BadRequest(text),
            ImportError::Conflict(text) => ImportFailure::Conflict(text),
            ImportError::Storage(text) => {
                tracing::error!(error = %text, "an import failed in the database");
                ImportFailure::Unavailable(
                    "База данных недоступна. Повторите загрузку позже: загруженное раньше не \
                     задвоится."
                        .into(),
                )
            }
        }
    }
}

#[async_trait::async_trait]
impl http_api::api::imports::Importer for Importer {
    async fn import(&self, request: ImportRequest) -> Result<ImportReport, ImportFailure> {
        let report = self
            .run(
                kind(request.kind),
                Cursor::new(request.csv),
                Options {
                    supplier: request.supplier,
                    registry: request.registry,
                },
                Arc::new(Silent),
            )
            .await?;
        Ok(ImportReport {
            rows: report.rows,
            applied: report.applied,
            duplicates: report.duplicates,
        })
    }
}
