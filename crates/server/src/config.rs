//! Configuration: command-line flags, then `ABONENT_*` environment variables, then an
//! optional TOML file (`--config`), then defaults — the first that sets a value wins.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use clap::parser::ValueSource;
use clap::{ArgMatches, Args, ValueEnum};
use serde::Deserialize;

/// The default database: a SQLite file in the working directory, created on first start.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://abonent.db";
/// The default listening address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// The default request body limit (64 KiB; CSV imports have their own, larger one).
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;
/// How long a graceful shutdown waits for requests in flight.
pub const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line (for log collectors).
    Json,
}

/// The service's configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Where to listen.
    pub listen: SocketAddr,
    /// The database: `sqlite://file.db` or `postgres://user@host/db`.
    pub database_url: String,
    /// The address subscribers reach the service at (links in messages); by default
    /// `http://<listen>`.
    pub public_url: Option<String>,
    /// How log lines are written.
    pub log_format: LogFormat,
    /// The largest request body, in bytes.
    pub body_limit: usize,
    /// Load (or repair) the demo supplier at start-up.
    pub demo: bool,
    /// The secret payment notifications are signed with; `None`: a random one per process
    /// (enough for the sandbox gateway, which runs in the same process).
    pub webhook_secret: Option<WebhookSecret>,
    /// How the sandbox payment gateway behaves.
    pub sandbox: SandboxConfig,
    /// Time between passes of the periodic work (reconciliation, receipts, purges), in
    /// milliseconds.
    pub maintenance_interval_ms: u64,
    /// An online payment still not final this long after it started is reconciled with the
    /// gateway, in milliseconds.
    pub reconcile_after_ms: u64,
    /// Reverse proxies in front of the service whose `X-Forwarded-For` names the client (for
    /// the per-address rate limits); none by default.
    pub trusted_proxies: http_api::proxy::TrustedProxies,
}

/// The payment notification secret. `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(pub String);

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret([REDACTED])")
    }
}

/// How the sandbox payment gateway delivers its notifications — late, twice, out of order —
/// so that the service's handling of real gateways' habits is exercised.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SandboxConfig {
    /// Delay of every notification's first delivery, in milliseconds.
    pub webhook_delay_ms: u64,
    /// Every n-th final notification is also delivered a second time (0: never).
    pub webhook_duplicate_every: u32,
    /// Every final notification is followed by a stale `payment.pending` one.
    pub webhook_reorder: bool,
    /// How often the dispatcher looks for due notifications, in milliseconds.
    pub webhook_poll_ms: u64,
    /// The first retry's back-off, in milliseconds (doubling up to 10 minutes).
    pub webhook_backoff_ms: u64,
    /// Randomise back-offs by ±20 % (off in tests, for determinism).
    pub webhook_jitter: bool,
    /// How late the late-notification test card's first delivery is, in milliseconds.
    pub late_card_delay_ms: u64,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            webhook_delay_ms: 2_000,
            webhook_duplicate_every: 10,
            webhook_reorder: false,
            webhook_poll_ms: 1_000,
            webhook_backoff_ms: 2_000,
            webhook_jitter: true,
            late_card_delay_ms: 10_000,
        }
    }
}

impl SandboxConfig {
    /// Fast and deterministic: for tests (no delay, no chaos beyond the test cards' own,
    /// polling every 20 ms, first retry after 50 ms, no jitter). The late-notification card's
    /// first delivery waits 10 minutes, so that a test sees a payment that only polling or the
    /// reconciliation can settle however slow the machine is.
    pub fn fast() -> Self {
        Self {
            webhook_delay_ms: 0,
            webhook_duplicate_every: 0,
            webhook_reorder: false,
            webhook_poll_ms: 20,
            webhook_backoff_ms: 50,
            webhook_jitter: false,
            late_card_delay_ms: 600_000,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database_url: DEFAULT_DATABASE_URL.to_owned(),
            public_url: None,
            log_format: LogFormat::Text,
            body_limit: DEFAULT_BODY_LIMIT,
            demo: true,
            webhook_secret: None,
            sandbox: SandboxConfig::default(),
            maintenance_interval_ms: 30_000,
            reconcile_after_ms: 120_000,
            trusted_proxies: http_api::proxy::TrustedProxies::none(),
        }
    }
}

impl Config {
    /// The public address: the configured one, or `http://<listen address>`.
    pub fn public_url(&self, bound: SocketAddr) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{bound}"))
            .trim_end_matches('/')
            .to_owned()
    }
}

/// The configuration flags (also read from `ABONENT_*` environment variables).
#[derive(Args, Clone, Debug)]
pub struct ConfigArgs {
    /// A TOML file with any of the settings below (keys as the flags, with `_`).
    #[arg(long, env = "ABONENT_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Where to listen.
    #[arg(long, env = "ABONENT_LISTEN", default_value = DEFAULT_LISTEN, global = true)]
    pub listen: SocketAddr,
    /// The database URL: `sqlite://abonent.db` (embedded) or `postgres://user@host/db`.
    #[arg(long, env = "ABONENT_DATABASE_URL", default_value = DEFAULT_DATABASE_URL, global = true)]
    pub database_url: String,
    /// The address subscribers reach the service at (default: http://<listen>).
    #[arg(long, env = "ABONENT_PUBLIC_URL", global = true)]
    pub public_url: Option<String>,
    /// Log format.
    #[arg(
        long,
        env = "ABONENT_LOG_FORMAT",
        value_enum,
        default_value = "text",
        global = true
    )]
    pub log_format: LogFormat,
    /// The largest request body, in bytes.
    #[arg(long, env = "ABONENT_BODY_LIMIT", default_value_t = DEFAULT_BODY_LIMIT, global = true)]
    pub body_limit: usize,
    /// Load the demo supplier (houses, ЛС, meters, tariffs) at start-up: `true` or `false`.
    #[arg(
        long,
        env = "ABONENT_DEMO",
        default_value_t = true,
        action = clap::ArgAction::Set,
        global = true
    )]
    pub demo: bool,
    /// The secret payment notifications are signed with (HMAC-SHA256); by default a random
    /// one per process.
    #[arg(
        long,
        env = "ABONENT_WEBHOOK_SECRET",
        global = true,
        hide_env_values = true
    )]
    pub webhook_secret: Option<String>,
    /// Sandbox gateway: delay of every notification's first delivery, in milliseconds.
    #[arg(
        long,
        env = "ABONENT_SANDBOX_WEBHOOK_DELAY_MS",
        default_value_t = 2_000,
        global = true
    )]
    pub sandbox_webhook_delay_ms: u64,
    /// Sandbox gateway: every n-th final notification is delivered twice (0: never).
    #[arg(
        long,
        env = "ABONENT_SANDBOX_WEBHOOK_DUPLICATE_EVERY",
        default_value_t = 10,
        global = true
    )]
    pub sandbox_webhook_duplicate_every: u32,
    /// Sandbox gateway: follow every final notification with a stale `payment.pending`.
    #[arg(
        long,
        env = "ABONENT_SANDBOX_WEBHOOK_REORDER",
        default_value_t = false,
        action = clap::ArgAction::Set,
        global = true
    )]
    pub sandbox_webhook_reorder: bool,
    /// Reverse proxies in front of the service, comma-separated addresses or networks
    /// (`127.0.0.1,10.0.0.0/8`): for requests from them the client is read from
    /// `X-Forwarded-For`. Empty: every connection's peer is the client.
    #[arg(
        long,
        env = "ABONENT_TRUSTED_PROXIES",
        default_value = "",
        global = true
    )]
    pub trusted_proxies: String,
}

/// The configuration file's contents: every key optional, unknown keys refused.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    database_url: Option<String>,
    public_url: Option<String>,
    log_format: Option<LogFormat>,
    body_limit: Option<usize>,
    demo: Option<bool>,
    trusted_proxies: Option<String>,
}

/// Why the configuration could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read the configuration file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has an unknown key or a bad value.
    #[error("invalid configuration file {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A setting is out of range.
    #[error("invalid setting {name}: {message}")]
    Invalid {
        /// The setting.
        name: &'static str,
        /// What is wrong.
        message: String,
    },
}

impl ConfigArgs {
    /// The configuration: flags and environment first, then the file for what they left at
    /// the default, then the defaults.
    pub fn resolve(&self, matches: &ArgMatches) -> Result<Config, ConfigError> {
        let file = match &self.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let defaulted = |id: &str| {
            matches!(
                matches.value_source(id),
                None | Some(ValueSource::DefaultValue)
            )
        };
        let mut config = Config {
            listen: self.listen,
            database_url: self.database_url.clone(),
            public_url: self.public_url.clone(),
            log_format: self.log_format,
            body_limit: self.body_limit,
            demo: self.demo,
            webhook_secret: self.webhook_secret.clone().map(WebhookSecret),
            sandbox: SandboxConfig {
                webhook_delay_ms: self.sandbox_webhook_delay_ms,
                webhook_duplicate_every: self.sandbox_webhook_duplicate_every,
                webhook_reorder: self.sandbox_webhook_reorder,
                ..SandboxConfig::default()
            },
            ..Config::default()
        };
        if let Some(v) = file.listen
            && defaulted("listen")
        {
            config.listen = v;
        }
        if let Some(v) = file.database_url
            && defaulted("database_url")
        {
            config.database_url = v;
        }
        if defaulted("public_url") && file.public_url.is_some() {
            config.public_url = file.public_url;
        }
        if let Some(v) = file.log_format
            && defaulted("log_format")
        {
            config.log_format = v;
        }
        if let Some(v) = file.body_limit
            && defaulted("body_limit")
        {
            config.body_limit = v;
        }
        if let Some(v) = file.demo
            && defaulted("demo")
        {
            config.demo = v;
        }
        let proxies = match file.trusted_proxies {
            Some(list) if defaulted("trusted_proxies") => list,
            _ => self.trusted_proxies.clone(),
        };
        config.trusted_proxies =
            http_api::proxy::TrustedProxies::parse(&proxies).map_err(|e| ConfigError::Invalid {
                name: "trusted_proxies",
                message: e.to_string(),
            })?;
        validate(&config)?;
        Ok(config)
    }
}

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    toml::from_str(&text).map_err(|e| ConfigError::Parse {
        path: path.to_owned(),
        message: e.to_string(),
    })
}

fn validate(config: &Config) -> Result<(), ConfigError> {
    if storage_seaorm::Backend::of_url(&config.database_url).is_none() {
        return Err(ConfigError::Invalid {
            name: "database_url",
            message: "expected sqlite://… or postgres://…".to_owned(),
        });
    }
    if config.body_limit < 1024 {
        return Err(ConfigError::Invalid {
            name: "body_limit",
            message: "at least 1024 bytes".to_owned(),
        });
    }
    if let Some(secret) = &config.webhook_secret
        && secret.0.len() < 16
    {
        return Err(ConfigError::Invalid {
            name: "webhook_secret",
            message: "at least 16 characters".to_owned(),
        });
    }
    if let Some(url) = &config.public_url
        && !(url.starts_with("http://") || url.starts_with("https://"))
    {
        return Err(ConfigError::Invalid {
            name: "public_url",
            message: "expected http://… or https://…".to_owned(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, FromArgMatches, Parser};

    #[derive(Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        config: ConfigArgs,
    }

    fn resolve(args: &[&str]) -> Result<Config, ConfigError> {
        let matches = Cli::command()
            .try_get_matches_from(args)
            .expect("arguments");
        let cli = Cli::from_arg_matches(&matches).expect("arguments");
        cli.config.resolve(&matches)
    }

    fn file(text: &str) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().expect("temp file");
        std::fs::write(f.path(), text).expect("write");
        f
    }

    #[test]
    fn defaults_file_then_flags() {
        let c = resolve(&["abonent"]).unwrap();
        assert_eq!(c, Config::default());
        let f = file("listen = \"127.0.0.1:9000\"\nbody_limit = 4096\nlog_format = \"json\"\n");
        let path = f.path().to_str().unwrap();
        let c = resolve(&["abonent", "--config", path]).unwrap();
        assert_eq!(c.listen, "127.0.0.1:9000".parse().unwrap());
        assert_eq!(c.body_limit, 4096);
        assert_eq!(c.log_format, LogFormat::Json);
        assert_eq!(c.database_url, DEFAULT_DATABASE_URL);
        let c = resolve(&["abonent", "--config", path, "--listen", "127.0.0.1:9100"]).unwrap();
        assert_eq!(
            c.listen,
            "127.0.0.1:9100".parse().unwrap(),
            "flag beats file"
        );
        assert_eq!(c.body_limit, 4096);
    }

    #[test]
    fn bad_settings_are_refused_with_their_name() {
        let f = file("lisen = \"127.0.0.1:9000\"\n");
        let err = resolve(&["abonent", "--config", f.path().to_str().unwrap()]).unwrap_err();
        assert!(err.to_string().contains("lisen"), "{err}");
        let err = resolve(&["abonent", "--database-url", "mysql://x"]).unwrap_err();
        assert!(err.to_string().contains("database_url"), "{err}");
        let err = resolve(&["abonent", "--body-limit", "10"]).unwrap_err();
        assert!(err.to_string().contains("body_limit"), "{err}");
        let err = resolve(&["abonent", "--public-url", "ftp://x"]).unwrap_err();
        assert!(err.to_string().contains("public_url"), "{err}");
        let err = resolve(&["abonent", "--config", "/no/such/file.toml"]).unwrap_err();
        assert!(matches!(err, ConfigError::Read { .. }), "{err}");
        let err = resolve(&["abonent", "--trusted-proxies", "10.0.0.0/8,proxy.local"]).unwrap_err();
        assert!(err.to_string().contains("trusted_proxies"), "{err}");
        assert!(err.to_string().contains("proxy.local"), "{err}");
    }

    #[test]
    fn trusted_proxies_from_the_file_or_the_flag() {
        let f = file("trusted_proxies = \"10.0.0.0/8\"\n");
        let path = f.path().to_str().unwrap();
        let c = resolve(&["abonent", "--config", path]).unwrap();
        assert!(c.trusted_proxies.contains("10.1.2.3".parse().unwrap()));
        assert!(!c.trusted_proxies.contains("127.0.0.1".parse().unwrap()));
        let c = resolve(&[
            "abonent",
            "--config",
            path,
            "--trusted-proxies",
            "127.0.0.1",
        ])
        .unwrap();
        assert!(c.trusted_proxies.contains("127.0.0.1".parse().unwrap()));
        assert!(
            !c.trusted_proxies.contains("10.1.2.3".parse().unwrap()),
            "flag beats file"
        );
    }
}
