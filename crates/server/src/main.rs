//! `abonent`: the Abonent service and its administration commands.
//!
//! - `abonent` / `abonent serve` — start the service (default: `127.0.0.1:8080`, SQLite file
//!   `abonent.db`); stop with Ctrl+C or SIGTERM (requests in flight are finished).
//! - `abonent migrate` — apply the database migrations and exit.
//! - `abonent openapi` — print the OpenAPI document.
//! - `abonent operator create --login L --name N --role admin|billing|support` — create an
//!   operator account; the password is read from `ABONENT_OPERATOR_PASSWORD` or, if unset,
//!   from the first line of standard input (never from the command line, which other users
//!   of the machine can see).
//! - `abonent import <kind> <file> [--supplier N] [--registry ID]` — import a CSV file
//!   (suppliers, houses, premises, accounts, meters, tariffs, readings, bank-registry; formats
//!   in `docs/import.md`) with a progress bar; a file with bad rows is not applied, its line
//!   errors are printed and the exit code is 1.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use server::app::App;
use server::config::{Config, ConfigArgs, LogFormat};
use tracing_subscriber::EnvFilter;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The Abonent service: a utility supplier's subscriber cabinet and billing.
#[derive(Parser, Debug)]
#[command(name = "abonent", version, about)]
struct Cli {
    #[command(flatten)]
    config: ConfigArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug, Clone)]
enum Command {
    /// Start the service (the default).
    Serve,
    /// Apply the database migrations and exit.
    Migrate,
    /// Print the OpenAPI document (JSON) and exit.
    Openapi,
    /// Operator accounts.
    #[command(subcommand)]
    Operator(OperatorCommand),
    /// Import a CSV file (UTF-8, `;`-separated, a header row first; see docs/import.md).
    Import {
        /// What the file holds.
        #[arg(value_enum)]
        kind: server::import::Kind,
        /// The file.
        file: PathBuf,
        /// The supplier (houses, accounts, tariffs, bank-registry).
        #[arg(long)]
        supplier: Option<u64>,
        /// The bank registry's identifier (bank-registry): a payment is credited once per
        /// registry and row reference.
        #[arg(long)]
        registry: Option<String>,
    },
}

#[derive(Subcommand, Debug, Clone)]
enum OperatorCommand {
    /// Create an operator. The password comes from ABONENT_OPERATOR_PASSWORD or the first
    /// line of standard input.
    Create {
        /// The login: 3–64 of a-z 0-9 . _ -
        #[arg(long)]
        login: String,
        /// The operator's name.
        #[arg(long)]
        name: String,
        /// What the operator may do.
        #[arg(long, value_enum)]
        role: RoleArg,
    },
}

#[derive(clap::ValueEnum, Debug, Clone, Copy)]
enum RoleArg {
    /// Everything, including API keys.
    Admin,
    /// Reference data, imports, billing runs, key rates.
    Billing,
    /// Cabinets and questions.
    Support,
}

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    if let Some(Command::Openapi) = cli.command {
        println!("{}", http_api::openapi_json());
        return ExitCode::SUCCESS;
    }
    let config = match cli.config.resolve(&matches) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("abonent: {e}");
            return ExitCode::from(2);
        }
    };
    init_logging(config.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("abonent: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Migrate => migrate(&config).await,
            Command::Operator(OperatorCommand::Create { login, name, role }) => {
                create_operator(&config, &login, &name, role).await
            }
            Command::Import {
                kind,
                file,
                supplier,
                registry,
            } => {
                let options = server::import::Options { supplier, registry };
                import(&config, kind, &file, options).await
            }
            Command::Serve | Command::Openapi => serve(config).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "abonent failed");
            eprintln!("abonent: {e}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_env("ABONENT_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn,sea_orm_migration=warn"));
    // Colours only for a person at a terminal: a log file, journald or `docker logs` would
    // keep the escape codes.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

async fn migrate(config: &Config) -> Result<(), String> {
    let storage = storage_seaorm::Storage::connect(&config.database_url)
        .await
        .map_err(|e| e.to_string())?;
    storage.migrate().await.map_err(|e| e.to_string())?;
    storage.close().await.map_err(|e| e.to_string())?;
    println!("migrations applied");
    Ok(())
}

async fn create_operator(
    config: &Config,
    login: &str,
    name: &str,
    role: RoleArg,
) -> Result<(), String> {
    use identity_core::domain::{OperatorLogin, PersonName};
    use identity_core::model::OperatorRole;
    use identity_core::service::NewOperator;
    let login = OperatorLogin::parse(login).map_err(|e| format!("--login: {e}"))?;
    let name = PersonName::parse(name).map_err(|e| format!("--name: {e}"))?;
    let password = match std::env::var("ABONENT_OPERATOR_PASSWORD") {
        Ok(p) => p,
        Err(_) => {
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .map_err(|e| format!("cannot read the password from standard input: {e}"))?;
            line.trim_end_matches(['\r', '\n']).to_owned()
        }
    };
    let role = match role {
        RoleArg::Admin => OperatorRole::Admin,
        RoleArg::Billing => OperatorRole::Billing,
        RoleArg::Support => OperatorRole::Support,
    };
    let storage = storage_seaorm::Storage::connect(&config.database_url)
        .await
        .map_err(|e| e.to_string())?;
    storage.migrate().await.map_err(|e| e.to_string())?;
    let created = server::app::operator_service(&storage)
        .create_operator(NewOperator {
            login,
            name,
            password: identity_core::Secret::new(password),
            role,
        })
        .await
        .map_err(|e| format!("{e}: {}", identity_core::UserMessage::user_message(&e)))?;
    storage.close().await.map_err(|e| e.to_string())?;
    println!(
        "operator {} created ({:?}), id {}",
        created.login, created.role, created.id
    );
    Ok(())
}

/// The progress bar of `abonent import`: bytes read, then rows applied (drawn on standard
/// error, only when it is a terminal).
struct Bar(indicatif::ProgressBar);

impl Bar {
    fn new(bytes: u64) -> Bar {
        let bar = indicatif::ProgressBar::new(bytes);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{msg:24} [{bar:40}] {bytes}/{total_bytes} {elapsed}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message("проверка файла");
        Bar(bar)
    }
}

impl server::import::Progress for Bar {
    fn reading(&self, bytes: u64, rows: u64) {
        self.0.set_position(bytes);
        self.0.set_message(format!("проверено строк: {rows}"));
    }

    fn applying(&self, rows: u64) {
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("{msg:24} [{bar:40}] {pos}/{len} {elapsed}")
        {
            self.0.set_style(style.progress_chars("=> "));
        }
        self.0.set_length(rows);
        self.0.set_position(0);
        self.0.set_message("загрузка");
    }

    fn applied(&self, done: u64) {
        self.0.set_position(done);
    }
}

async fn import(
    config: &Config,
    kind: server::import::Kind,
    file: &Path,
    options: server::import::Options,
) -> Result<(), String> {
    use server::import::{ImportError, Importer};
    let opened = std::fs::File::open(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let size = opened.metadata().map_or(0, |m| m.len());
    let storage = storage_seaorm::Storage::connect(&config.database_url)
        .await
        .map_err(|e| e.to_string())?;
    storage.migrate().await.map_err(|e| e.to_string())?;
    let importer = Importer::new(
        storage.clone(),
        Arc::new(fake_providers::SystemClock::default()),
    );
    let bar = Arc::new(Bar::new(size));
    let input = std::io::BufReader::new(opened);
    let result = importer.run(kind, input, options, bar.clone()).await;
    bar.0.finish_and_clear();
    storage.close().await.map_err(|e| e.to_string())?;
    match result {
        Ok(report) => {
            let duplicates = report
                .duplicates
                .map(|d| format!(", {d} credited before"))
                .unwrap_or_default();
            println!(
                "{}: {} rows, {} applied{duplicates}",
                kind.code(),
                report.rows,
                report.applied
            );
            Ok(())
        }
        Err(ImportError::Invalid { errors, total }) => {
            for e in &errors {
                let column = e
                    .column
                    .as_ref()
                    .map(|c| format!(", {c}"))
                    .unwrap_or_default();
                eprintln!("{}:{}{column}: {}", file.display(), e.line, e.reason);
            }
            Err(format!(
                "{}: not imported, {total} bad rows{}",
                file.display(),
                if total > u64::try_from(errors.len()).unwrap_or(0) {
                    format!(" (the first {} shown)", errors.len())
                } else {
                    String::new()
                }
            ))
        }
        Err(e) => Err(format!("{}: not imported: {e}", file.display())),
    }
}

async fn serve(config: Config) -> Result<(), String> {
    let database_url = config.database_url.clone();
    let app = App::start(config).await.map_err(|e| e.to_string())?;
    // Listen for SIGTERM before the banner says the service is up: a signal sent right after
    // the banner must stop it gracefully, not kill it (a race seen under load).
    #[cfg(unix)]
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| format!("cannot listen for SIGTERM: {e}"))?;
    println!("{}", server::banner::banner(&app, &database_url));
    #[cfg(unix)]
    shutdown_signal(term).await;
    #[cfg(not(unix))]
    shutdown_signal().await;
    tracing::info!("shutting down");
    app.stop().await.map_err(|e| e.to_string())
}

/// Ctrl+C or SIGTERM (its listener registered by the caller).
async fn shutdown_signal(#[cfg(unix)] mut term: tokio::signal::unix::Signal) {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl+C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        term.recv().await;
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
