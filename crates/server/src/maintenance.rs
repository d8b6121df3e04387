//! The service's periodic work, one background task: what a notification might have missed and
//! what must not be kept.
//!
//! Every pass (every 30 s by default):
//! - **reconciles** online payments still `created`/`pending` a while after they started (a
//!   notification lost or not yet retried): the gateway is asked and its status applied,
//!   exactly once like a notification;
//! - **registers pending fiscal receipts** (the cash register was down) and **backfills** the
//!   income receipts of payments credited without one (the process stopped between crediting
//!   and claiming) — when receipts are on;
//! - **purges** what is kept for a day only: sandbox outbox messages and captcha challenges,
//!   `Idempotency-Key`s (24 h, Stripe's retention), and webhook deliveries a week old.
//!
//! A failure is logged and the pass goes on with the next item; the next pass retries.

use std::sync::Arc;
use std::time::Duration;

use billing_core::online::{OnlinePaymentRepository, OnlinePayments};
use identity_core::ports::Clock;
use storage_seaorm::Storage;
use time::{Date, OffsetDateTime};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::sandbox::ClockGate;

/// How the periodic work runs.
#[derive(Clone, Debug)]
pub struct MaintenanceSettings {
    /// Time between passes.
    pub interval: Duration,
    /// A payment is reconciled once it is this old and still not final.
    pub reconcile_after: Duration,
    /// Most items of each kind per pass.
    pub batch: u32,
    /// Outbox messages, captcha challenges and idempotency keys are kept this long.
    pub retention: Duration,
    /// Webhook deliveries (delivered or given up) are kept this long.
    pub webhook_retention: Duration,
    /// Income receipts are backfilled for online payments created on or after this day (the
    /// server starts it a month back, so a stop between crediting and claiming is mended after
    /// a restart).
    pub receipts_since: Date,
}

impl MaintenanceSettings {
    /// Every 30 s, payments reconciled after 2 minutes, 50 items, 24 h retention (a week for
    /// webhook deliveries).
    pub fn new(receipts_since: Date) -> MaintenanceSettings {
        MaintenanceSettings {
            interval: Duration::from_secs(30),
            reconcile_after: Duration::from_secs(120),
            batch: 50,
            retention: Duration::from_secs(24 * 3600),
            webhook_retention: Duration::from_secs(7 * 24 * 3600),
            receipts_since,
        }
    }
}

/// What one pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MaintenanceReport {
    /// Payments whose status was asked of the gateway.
    pub reconciled: usize,
    /// Pending receipts registered now.
    pub receipts_registered: usize,
    /// Income receipts issued for payments credited without one.
    pub receipts_backfilled: usize,
    /// Rows purged (outbox, captchas, idempotency keys, webhook deliveries).
    pub purged: u64,
    /// Steps that failed (logged).
    pub failures: usize,
}

/// The periodic work.
pub struct Maintenance {
    storage: Storage,
    payments: Arc<OnlinePayments>,
    clock: Arc<dyn Clock>,
    clock_gate: ClockGate,
    settings: MaintenanceSettings,
}

fn ago(now: OffsetDateTime, d: Duration) -> OffsetDateTime {
    now - time::Duration::try_from(d).unwrap_or(time::Duration::ZERO)
}

impl Maintenance {
    /// The work over the storage and the payment use cases. A pass holds `clock_gate`
    /// steady from its start to its end: it purges by the `now` it read at its start.
    pub fn new(
        storage: Storage,
        payments: Arc<OnlinePayments>,
        clock: Arc<dyn Clock>,
        clock_gate: ClockGate,
        settings: MaintenanceSettings,
    ) -> Maintenance {
        Maintenance {
            storage,
            payments,
            clock,
            clock_gate,
            settings,
        }
    }

    /// One pass.
    pub async fn run_once(&self) -> MaintenanceReport {
        let mut report = MaintenanceReport::default();
        // The cutoffs below come from this `now`: the clock must not move back before the
        // purges are done (see `ClockGate`).
        let _steady = self.clock_gate.steady().await;
        let now = self.clock.now();
        let batch = self.settings.batch;
        match self
            .storage
            .unsettled(ago(now, self.settings.reconcile_after), batch)
            .await
        {
            Ok(records) => {
                for record in records {
                    report.reconciled += 1;
                    if let Err(e) = self.payments.reconcile(&record.gateway_id).await {
                        report.failures += 1;
                        tracing::warn!(error = %e, gateway_id = %record.gateway_id, "reconcile failed");
                    }
                }
            }
            Err(e) => {
                report.failures += 1;
                tracing::error!(error = %e, "unsettled payments not listed");
            }
        }
        if let Some(receipts) = self.payments.receipts() {
            match receipts.issue_pending_receipts(batch).await {
                Ok(pass) => {
                    report.receipts_registered = pass.registered.len();
                    for (id, e) in &pass.still_pending {
                        tracing::warn!(receipt = id.get(), error = %e, "receipt still pending");
                    }
                }
                Err(e) => {
                    report.failures += 1;
                    tracing::error!(error = %e, "pending receipts not registered");
                }
            }
            match receipts
                .backfill_income_receipts(self.settings.receipts_since, batch)
                .await
            {
                Ok(pass) => {
                    report.receipts_backfilled = pass.issued.len();
                    for (id, e) in &pass.refused {
                        report.failures += 1;
                        tracing::error!(gateway_id = %id, error = %e, "receipt cannot be issued");
                    }
                }
                Err(e) => {
                    report.failures += 1;
                    tracing::error!(error = %e, "income receipts not backfilled");
                }
            }
        }
        let day = ago(now, self.settings.retention);
        let purges = [
            ("outbox", self.storage.outbox_purge(day).await),
            ("captchas", self.storage.captcha_purge(day).await),
            (
                "idempotency keys",
                self.storage.idempotency_purge(day).await,
            ),
            (
                "webhook deliveries",
                self.storage
                    .webhook_purge(ago(now, self.settings.webhook_retention))
                    .await,
            ),
        ];
        for (what, result) in purges {
            match result {
                Ok(n) => report.purged += n,
                Err(e) => {
                    report.failures += 1;
                    tracing::error!(error = %e, what, "purge failed");
                }
            }
        }
        if report != MaintenanceReport::default() {
            tracing::info!(?report, "maintenance pass");
        }
        report
    }

    /// Runs a pass every interval until `shutdown` turns true (or its sender is dropped).
    pub fn spawn(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) -> JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(self.settings.interval) => {}
                    changed = shutdown.changed() => {
                        if changed.is_err() || *shutdown.borrow() {
                            break;
                        }
                    }
                }
                self.run_once().await;
            }
        })
    }
}
