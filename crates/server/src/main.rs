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

use std::process::ExitCode;

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
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
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

async fn serve(config: Config) -> Result<(), String> {
    let database_url = config.database_url.clone();
    let app = App::start(config).await.map_err(|e| e.to_string())?;
    println!("{}", server::banner::banner(&app, &database_url));
    shutdown_signal().await;
    tracing::info!("shutting down");
    app.stop().await.map_err(|e| e.to_string())
}

/// Ctrl+C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl+C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
