//! http-api's [`Backoffice`] port over storage: the persisted supplier-wide billing run,
//! started in the background, and the key-rate history.
//!
//! A run's progress lives in the database (`billing_runs`, `billing_run_houses`), so it
//! survives a restart and is the same for every instance; this process only remembers whether
//! it is running a run now and how its last start ended. A run stopped by a shutdown or a crash
//! is resumed by starting it again — storage bills each house once (one charge set per account
//! and period), so nothing is charged twice.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use billing_core::BillingService;
use billing_core::ids::SupplierId;
use billing_core::keyrate::KeyRateHistory;
use billing_core::period::Period;
use billing_core::ports::{KeyRateSource, PeriodRepository};
use billing_core::reads::SupplierError;
use billing_core::run::earliest_billing_day;
use http_api::api::backoffice::{Backoffice, BackofficeError, RunStatus};
use storage_seaorm::Storage;
use storage_seaorm::{RunError, RunOptions};

/// How the last start of a run in this process went.
#[derive(Clone, Debug, Default)]
struct LocalRun {
    running: bool,
    failures: Vec<(u64, String)>,
    error: Option<String>,
}

/// The back office over the service's storage.
#[derive(Clone)]
pub struct StorageBackoffice {
    storage: Storage,
    billing: Arc<BillingService>,
    runs: Arc<Mutex<HashMap<(u64, Period), LocalRun>>>,
}

fn unavailable(e: impl std::fmt::Display) -> BackofficeError {
    BackofficeError::Unavailable(e.to_string())
}

impl StorageBackoffice {
    /// The back office over `storage`, with `billing` for the supplier and today.
    pub fn new(storage: Storage, billing: Arc<BillingService>) -> StorageBackoffice {
        StorageBackoffice {
            storage,
            billing,
            runs: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    fn local(&self, key: (u64, Period)) -> Option<LocalRun> {
        self.runs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
            .cloned()
    }

    async fn status(
        &self,
        supplier: u64,
        period: Period,
    ) -> Result<Option<RunStatus>, BackofficeError> {
        let stored = self
            .storage
            .billing_run_progress(SupplierId::new(supplier), period)
            .await
            .map_err(unavailable)?;
        let local = self.local((supplier, period));
        Ok(match (stored, local) {
            (None, None) => None,
            (stored, local) => {
                let local = local.unwrap_or_default();
                let p = stored.unwrap_or_default();
                Some(RunStatus {
                    houses_total: p.houses_total,
                    houses_done: p.houses_done,
                    houses_failed: p.houses_failed,
                    running: local.running,
                    failures: local.failures,
                    error: local.error,
                })
            }
        })
    }
}

#[async_trait::async_trait]
impl Backoffice for StorageBackoffice {
    async fn start_billing_run(
        &self,
        supplier: u64,
        period: Period,
    ) -> Result<RunStatus, BackofficeError> {
        let id = SupplierId::new(supplier);
        let found = self.billing.supplier(id).await.map_err(|e| match e {
            SupplierError::SupplierNotFound => BackofficeError::SupplierNotFound,
            SupplierError::Repo(e) => unavailable(e),
        })?;
        if let Some(closed) = self.storage.last_closed(id).await.map_err(unavailable)?
            && period <= closed
        {
            return Err(BackofficeError::PeriodClosed);
        }
        let today = self.billing.today();
        let earliest = earliest_billing_day(&found, period);
        if today < earliest {
            return Err(BackofficeError::TooEarly { earliest });
        }
        let key = (supplier, period);
        let start = {
            let mut runs = self.runs.lock().unwrap_or_else(PoisonError::into_inner);
            let run = runs.entry(key).or_default();
            if run.running {
                false
            } else {
                *run = LocalRun {
                    running: true,
                    ..LocalRun::default()
                };
                true
            }
        };
        if start {
            let this = self.clone();
            tokio::spawn(async move {
                tracing::info!(supplier, %period, "billing run started");
                let result = this
                    .storage
                    .run_supplier_billing(
                        id,
                        period,
                        today,
                        RunOptions::default(),
                        Arc::new(|_| {}),
                    )
                    .await;
                let mut runs = this.runs.lock().unwrap_or_else(PoisonError::into_inner);
                let run = runs.entry(key).or_default();
                run.running = false;
                match result {
                    Ok(report) => {
                        tracing::info!(supplier, %period, done = report.progress.houses_done,
                            failed = report.failed.len(), "billing run finished");
                        run.failures = report
                            .failed
                            .into_iter()
                            .map(|(house, why)| (house.get(), why))
                            .collect();
                    }
                    Err(e) => {
                        tracing::error!(supplier, %period, error = %e, "billing run stopped");
                        run.error = Some(match e {
                            RunError::PeriodClosed(_) => "the period was closed".to_owned(),
                            e => e.to_string(),
                        });
                    }
                }
            });
        }
        Ok(self.status(supplier, period).await?.unwrap_or(RunStatus {
            houses_total: 0,
            houses_done: 0,
            houses_failed: 0,
            running: true,
            failures: Vec::new(),
            error: None,
        }))
    }

    async fn billing_run(
        &self,
        supplier: u64,
        period: Period,
    ) -> Result<Option<RunStatus>, BackofficeError> {
        self.status(supplier, period).await
    }

    async fn key_rates(&self) -> Result<KeyRateHistory, BackofficeError> {
        self.storage.key_rates().await.map_err(unavailable)
    }

    async fn set_key_rates(&self, history: &KeyRateHistory) -> Result<(), BackofficeError> {
        self.storage
            .set_key_rates(history)
            .await
            .map_err(unavailable)
    }
}
