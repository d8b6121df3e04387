//! Starting and stopping the service: [`App::start`] connects the database, applies the
//! migrations, binds the listener and serves; [`RunningApp::stop`] stops accepting, lets
//! requests in flight finish (up to [`SHUTDOWN_GRACE`]), then the work of keyed requests whose
//! clients went away (up to [`SHUTDOWN_GRACE`] again), and closes the database pool.

use std::net::SocketAddr;
use std::sync::Arc;

use billing_core::BillingService;
use billing_core::online::OnlinePayments;
use fake_providers::gateway::GatewayStore;
use fake_providers::store::SandboxStore;
use fake_providers::{
    AdjustableClock, CaptchaSettings, DispatcherSettings, GatewaySettings, LinkBase, OsRandom,
    SandboxCaptcha, SandboxEmail, SandboxGateway, SandboxSms, WebhookChaos, WebhookDispatcher,
};
use http_api::webhook::{DEFAULT_TOLERANCE, WebhookSettings};
use http_api::{AppState, ConsentText, HttpSettings, Readiness, ReadinessError};
use identity_core::password::Argon2idHasher;
use identity_core::ports::Random as _;
use identity_core::secret::Secret;
use identity_core::{
    IdentityService, OperatorPorts, OperatorService, Ports, QuestionPorts, QuestionService,
    SecurityPolicy,
};
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::middleware::Tracing;
use poem::{EndpointExt, Server};
use sea_orm_migration::MigratorTrait;
use storage_seaorm::Storage;
use storage_seaorm::migration::Migrator;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use tokio_util::task::TaskTracker;

use crate::config::{Config, SHUTDOWN_GRACE};
use crate::glue::{CaptchaGlue, Directory, HouseGlue, IdempotencyGlue, LinkGlue, StoreGlue};
use crate::hashing::{BlockingHasher, default_workers};

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The database could not be reached or migrated.
    #[error("database: {0}")]
    Database(#[from] storage_seaorm::StorageError),
    /// The demo supplier could not be loaded.
    #[error("{0}")]
    Demo(#[from] crate::demo::DemoError),
    /// The webhook secret could not be drawn or the HTTP client built.
    #[error("payments: {0}")]
    Payments(String),
    /// The listening address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// Why the service did not stop cleanly.
#[derive(Debug, thiserror::Error)]
pub enum StopError {
    /// The HTTP server failed.
    #[error("server: {0}")]
    Server(#[from] std::io::Error),
    /// The server task panicked or was cancelled.
    #[error("server task: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// The database pool did not close.
    #[error("database: {0}")]
    Database(#[from] storage_seaorm::StorageError),
}

/// The service.
pub struct App;

/// A started service.
pub struct RunningApp {
    /// The address it listens on (the bound one, also when the configured port was 0).
    pub addr: SocketAddr,
    /// Where subscribers reach it.
    pub public_url: String,
    /// The storage it uses.
    pub storage: Storage,
    /// The demo ЛС, when the demo supplier was loaded.
    pub demo: Option<&'static [crate::demo::DemoAccount]>,
    shutdown: oneshot::Sender<()>,
    server: JoinHandle<std::io::Result<()>>,
    stop_tasks: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    requests: TaskTracker,
}

/// Readiness: the database answers and no migration is pending.
struct StorageReadiness(Storage);

#[async_trait::async_trait]
impl Readiness for StorageReadiness {
    async fn check(&self) -> Result<(), ReadinessError> {
        let db = self.0.connection();
        db.ping()
            .await
            .map_err(|e| ReadinessError(format!("database does not answer: {e}")))?;
        let pending = Migrator::get_pending_migrations(db)
            .await
            .map_err(|e| ReadinessError(format!("cannot read the migrations: {e}")))?;
        if pending.is_empty() {
            Ok(())
        } else {
            Err(ReadinessError(format!(
                "{} migrations are not applied",
                pending.len()
            )))
        }
    }
}

impl App {
    /// Connects, migrates, binds and starts serving in a background task.
    pub async fn start(config: Config) -> Result<RunningApp, StartError> {
        let storage = Storage::connect(&config.database_url).await?;
        storage.migrate().await?;
        let demo = if config.demo {
            let accounts = crate::demo::load(&storage, time::OffsetDateTime::now_utc()).await?;
            tracing::info!(accounts = accounts.len(), "demo supplier loaded");
            Some(accounts)
        } else {
            None
        };
        let acceptor = TcpListener::bind(config.listen)
            .into_acceptor()
            .await
            .map_err(|source| StartError::Bind {
                addr: config.listen,
                source,
            })?;
        let addr = acceptor
            .local_addr()
            .first()
            .and_then(|a| a.as_socket_addr().copied())
            .unwrap_or(config.listen);
        let public_url = config.public_url(addr);
        let secret = webhook_secret(&config)?;
        let wiring = wire(&storage, &public_url, &config);
        if demo.is_some() {
            crate::demo::ensure_operator(&wiring.operators).await?;
        }
        let dispatcher = webhook_dispatcher(&config, addr, secret.clone(), &wiring)?;
        let requests = TaskTracker::new();
        let state = AppState {
            settings: Arc::new(HttpSettings {
                body_limit: config.body_limit,
                public_url: public_url.clone(),
                consent: ConsentText {
                    version: http_api::DEFAULT_CONSENT_VERSION.to_owned(),
                    text: http_api::DEFAULT_CONSENT_TEXT.to_owned(),
                },
                trusted_proxies: config.trusted_proxies.clone(),
            }),
            readiness: Arc::new(StorageReadiness(storage.clone())),
            identity: wiring.identity,
            billing: wiring.billing.clone(),
            operators: wiring.operators.clone(),
            questions: wiring.questions,
            idempotency: Arc::new(IdempotencyGlue(storage.clone())),
            clock: wiring.clock.clone(),
            houses: Arc::new(HouseGlue(storage.clone())),
            links: Arc::new(LinkGlue(storage.clone())),
            captcha: wiring.captcha,
            payments: wiring.payments.clone(),
            webhooks: Arc::new(WebhookSettings {
                secrets: vec![Secret::new(secret.clone())],
                tolerance: DEFAULT_TOLERANCE,
            }),
            random: wiring.random.clone(),
            autopay: Arc::new(billing_core::autopay::AutopayService::new(
                Arc::clone(&wiring.billing),
                Arc::new(storage.clone()),
            )),
            backoffice: Arc::new(crate::backoffice::StorageBackoffice::new(
                storage.clone(),
                Arc::clone(&wiring.billing),
            )),
            imports: Arc::new(crate::import::Importer::new(
                storage.clone(),
                wiring.clock.clone(),
            )),
            tasks: requests.clone(),
        };
        let (stop_tasks, stopping) = watch::channel(false);
        let clock_gate = crate::sandbox::ClockGate::default();
        let maintenance = Arc::new(crate::maintenance::Maintenance::new(
            storage.clone(),
            Arc::clone(&wiring.payments),
            wiring.clock.clone(),
            clock_gate.clone(),
            crate::maintenance::MaintenanceSettings {
                interval: std::time::Duration::from_millis(config.maintenance_interval_ms),
                reconcile_after: std::time::Duration::from_millis(config.reconcile_after_ms),
                // Online payments of the last month are backfilled, so a stop between
                // crediting and claiming a receipt is mended after a restart days later.
                ..crate::maintenance::MaintenanceSettings::new(
                    (identity_core::ports::Clock::now(wiring.clock.as_ref())
                        - time::Duration::days(31))
                    .date(),
                )
            },
        ));
        let tasks = vec![
            dispatcher.spawn(stopping.clone()),
            maintenance.spawn(stopping),
        ];
        let sandbox = crate::sandbox::routes(wiring.sandbox, wiring.clock.clone(), clock_gate)
            .nest(
                "/",
                crate::sandbox_pay::routes(wiring.gateway, wiring.gateway_store, wiring.clock),
            );
        let endpoint = http_api::routes(state, Some(sandbox)).with(Tracing);
        let (shutdown, stop) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            Server::new_with_acceptor(acceptor)
                .run_with_graceful_shutdown(
                    endpoint,
                    async {
                        let _ = stop.await;
                    },
                    Some(SHUTDOWN_GRACE),
                )
                .await
        });
        tracing::info!(%addr, database = %storage_kind(&config.database_url), "listening");
        Ok(RunningApp {
            addr,
            public_url,
            storage,
            demo,
            shutdown,
            server,
            stop_tasks,
            tasks,
            requests,
        })
    }
}

/// The secret payment notifications are signed with: the configured one, or 32 random bytes
/// for this process (the sandbox gateway signs in the same process).
fn webhook_secret(config: &Config) -> Result<Vec<u8>, StartError> {
    if let Some(secret) = &config.webhook_secret {
        return Ok(secret.0.as_bytes().to_vec());
    }
    let mut bytes = vec![0u8; 32];
    OsRandom
        .fill(&mut bytes)
        .map_err(|e| StartError::Payments(format!("cannot draw a webhook secret: {e}")))?;
    Ok(bytes)
}

/// The sandbox gateway's webhook dispatcher, delivering to this process's
/// `/webhooks/payments` over HTTP (the loopback address when listening on all interfaces).
fn webhook_dispatcher(
    config: &Config,
    addr: std::net::SocketAddr,
    secret: Vec<u8>,
    wiring: &Wiring,
) -> Result<Arc<WebhookDispatcher>, StartError> {
    let mut target = addr;
    if target.ip().is_unspecified() {
        target.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let mut settings = DispatcherSettings::new(format!("http://{target}/webhooks/payments"));
    settings.poll = std::time::Duration::from_millis(config.sandbox.webhook_poll_ms);
    settings.backoff_base = std::time::Duration::from_millis(config.sandbox.webhook_backoff_ms);
    settings.jitter = config.sandbox.webhook_jitter;
    let transport = crate::gateway_glue::HttpTransport::new()
        .map_err(|e| StartError::Payments(format!("cannot build the webhook client: {e}")))?;
    let signer: fake_providers::Signer =
        Arc::new(move |t: i64, body: &[u8]| http_api::webhook::signature::sign(&secret, t, body));
    Ok(Arc::new(WebhookDispatcher::new(
        Arc::clone(&wiring.gateway_store),
        Arc::new(transport),
        signer,
        wiring.clock.clone(),
        wiring.random.clone(),
        settings,
    )))
}

/// What [`wire`] builds.
struct Wiring {
    identity: Arc<IdentityService>,
    questions: Arc<QuestionService>,
    operators: Arc<OperatorService>,
    billing: Arc<BillingService>,
    captcha: Arc<dyn http_api::CaptchaIssuer>,
    sandbox: Arc<dyn SandboxStore>,
    clock: Arc<AdjustableClock>,
    random: Arc<OsRandom>,
    payments: Arc<OnlinePayments>,
    gateway: Arc<SandboxGateway>,
    gateway_store: Arc<dyn GatewayStore>,
}

/// The operators' use cases on `storage` alone (for `abonent operator …`): the system clock,
/// the OS random source, Argon2id.
pub fn operator_service(storage: &Storage) -> OperatorService {
    let repo = Arc::new(storage.clone());
    let random = Arc::new(OsRandom);
    OperatorService::new(
        OperatorPorts {
            clock: Arc::new(fake_providers::SystemClock::default()),
            random: random.clone(),
            hasher: Arc::new(BlockingHasher::new(
                Arc::new(Argon2idHasher::new(random)),
                default_workers(),
            )),
            throttle: repo.clone(),
            operators: repo.clone(),
            api_keys: repo.clone(),
            sessions: repo,
        },
        SecurityPolicy::default(),
    )
}

/// The identity and billing use cases on the storage and the sandbox providers.
fn wire(storage: &Storage, public_url: &str, config: &Config) -> Wiring {
    let clock = Arc::new(AdjustableClock::default());
    let random = Arc::new(OsRandom);
    let sandbox: Arc<dyn SandboxStore> = Arc::new(StoreGlue(storage.clone()));
    let links = LinkBase::new(public_url);
    let captcha = SandboxCaptcha::new(
        Arc::clone(&sandbox),
        clock.clone(),
        random.clone(),
        CaptchaSettings::default(),
    );
    let repo = Arc::new(storage.clone());
    let ports = Ports {
        clock: clock.clone(),
        random: random.clone(),
        hasher: Arc::new(BlockingHasher::new(
            Arc::new(Argon2idHasher::new(random.clone())),
            default_workers(),
        )),
        subscribers: repo.clone(),
        links: repo.clone(),
        sessions: repo.clone(),
        challenges: repo.clone(),
        throttle: repo.clone(),
        consents: repo.clone(),
        security_log: repo.clone(),
        sms: Arc::new(SandboxSms::new(
            Arc::clone(&sandbox),
            clock.clone(),
            links.clone(),
        )),
        email: Arc::new(SandboxEmail::new(
            Arc::clone(&sandbox),
            clock.clone(),
            links,
        )),
        captcha: Arc::new(captcha.clone()),
        directory: Arc::new(Directory(storage.clone())),
    };
    let operators = OperatorPorts::new(&ports, repo.clone(), repo.clone(), repo.clone());
    let questions = QuestionPorts::new(&ports, repo.clone());
    let billing = Arc::new(BillingService::new(storage.billing_ports(clock.clone())));
    let gateway_store: Arc<dyn GatewayStore> = Arc::new(StoreGlue(storage.clone()));
    let mut gateway_settings = GatewaySettings::new(public_url);
    gateway_settings.chaos = WebhookChaos {
        first_delay: std::time::Duration::from_millis(config.sandbox.webhook_delay_ms),
        duplicate_every: config.sandbox.webhook_duplicate_every,
        reorder: config.sandbox.webhook_reorder,
    };
    gateway_settings.late_card_delay =
        std::time::Duration::from_millis(config.sandbox.late_card_delay_ms);
    let gateway = Arc::new(SandboxGateway::new(
        Arc::clone(&gateway_store),
        Arc::clone(&sandbox),
        clock.clone(),
        random.clone(),
        gateway_settings,
    ));
    let fiscal = Arc::new(fake_providers::SandboxFiscal::new(
        Arc::clone(&sandbox),
        clock.clone(),
        fake_providers::FiscalSettings::default(),
    ));
    let payments = Arc::new(
        OnlinePayments::new(Arc::clone(&billing), gateway.clone(), repo.clone()).with_receipts(
            fiscal,
            repo.clone(),
            billing_core::receipt::ReceiptPolicy::default(),
        ),
    );
    Wiring {
        questions: Arc::new(QuestionService::new(questions, SecurityPolicy::default())),
        operators: Arc::new(OperatorService::new(operators, SecurityPolicy::default())),
        identity: Arc::new(IdentityService::new(ports, SecurityPolicy::default())),
        billing,
        captcha: Arc::new(CaptchaGlue {
            captcha,
            reveal_answer: true,
        }),
        sandbox,
        clock,
        random,
        payments,
        gateway,
        gateway_store,
    }
}

impl RunningApp {
    /// Stops accepting connections, waits for requests in flight (up to the grace period) and
    /// for the work of keyed requests whose clients went away (up to the grace period again),
    /// and closes the database pool.
    pub async fn stop(self) -> Result<(), StopError> {
        let _ = self.shutdown.send(());
        self.server.await??;
        self.requests.close();
        if tokio::time::timeout(SHUTDOWN_GRACE, self.requests.wait())
            .await
            .is_err()
        {
            // Their keys stay claimed until the claim's lease runs out; a retry then runs them.
            tracing::warn!(
                unfinished = self.requests.len(),
                "stopping with requests still running"
            );
        }
        let _ = self.stop_tasks.send(true);
        for task in self.tasks {
            task.await?;
        }
        let batches = self.storage.batches();
        for (kind, count) in [
            ("reading corrections", batches.corrections),
            ("reading contexts", batches.reading_contexts),
            ("idempotency key claims", batches.key_claims),
            ("idempotency key outcomes", batches.key_outcomes),
            ("sessions with their link", batches.session_links),
        ] {
            if count.calls > 0 {
                tracing::info!(
                    kind,
                    calls = count.calls,
                    statements = count.batches,
                    largest = count.largest,
                    split = count.split,
                    "calls served in shared statements"
                );
            }
        }
        self.storage.close().await?;
        tracing::info!("stopped");
        Ok(())
    }
}

/// The database URL without credentials, for logs and the banner.
pub fn storage_kind(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let host_and_path = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
            format!("{scheme}://{host_and_path}")
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::storage_kind;

    #[test]
    fn credentials_never_reach_the_log() {
        assert_eq!(
            storage_kind("postgres://abonent:s3cret@db:5432/abonent"),
            "postgres://db:5432/abonent"
        );
        assert_eq!(storage_kind("sqlite://abonent.db"), "sqlite://abonent.db");
    }
}
