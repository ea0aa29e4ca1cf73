//! Typed configuration: embedded defaults, then an optional TOML file, then `AISLE_*`
//! environment variables (nested keys with `__`, e.g. `AISLE_WORKER__CONCURRENCY=8`).

use std::{collections::BTreeMap, fmt, net::SocketAddr, path::PathBuf, time::Duration};

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use serde::{Deserialize, Serialize};

use crate::telemetry::LogFormat;

/// Everything the service reads at start. Validated by [`Config::load`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// PostgreSQL URL. Every command but `dev` refuses to start without it; `dev` starts a
    /// private cluster under `state_dir` when it is absent.
    pub database_url: Option<Secret>,
    /// The service's connection pools, one per kind of work, so none can starve another.
    pub pools: PoolsConfig,
    /// The API server's limits.
    pub http: HttpConfig,
    /// Where the API listens.
    pub listen: SocketAddr,
    /// The URL owners' browsers and banks use to reach this API.
    pub public_url: String,
    /// The bank registry file.
    pub registry: PathBuf,
    /// Where the dev stack keeps its private cluster and generated secrets.
    pub state_dir: PathBuf,
    /// Key for `sessionIdSignature` (HMAC-SHA256). Required; only `dev` generates one.
    pub session_signing_key: Option<Secret>,
    /// Key sealing bank secrets at rest (AES-256-GCM): 64 hex characters. Required; only
    /// `dev` generates one.
    pub secrets_key: Option<Secret>,
    /// How long a session may wait for its Default Import.
    #[serde(with = "secs")]
    pub session_ttl: Duration,
    /// How long an owner has to finish a sign-in (widget or redirection).
    #[serde(with = "secs")]
    pub signin_ttl: Duration,
    /// Sign-in starts (widget opens, bank picks, retries) one address may make per minute.
    pub signin_starts_per_minute: u32,
    /// Whether to take the client IP from `X-Forwarded-For` (only behind a trusted proxy).
    pub trust_forwarded_for: bool,
    pub worker: WorkerConfig,
    pub sandbox_bank: SandboxBankConfig,
    /// Where the dev stack serves its demo client's page (`/demo`), on an origin of its own.
    pub demo_listen: SocketAddr,
    /// Per-bank secrets, keyed by bank id with `-` written `_`
    /// (`AISLE_BANK_SECRETS__SANDBOX_PARTNER__AUTH_TOKEN`). Never in the registry file.
    #[serde(default)]
    pub bank_secrets: BTreeMap<String, BankSecrets>,
    /// Timeout of one HTTP call to a bank.
    #[serde(with = "secs")]
    pub bank_timeout: Duration,
    /// How long an API key check is remembered per process; a revoked key still works for
    /// at most this long. 0 checks the database on every request.
    #[serde(with = "secs")]
    pub api_key_cache_ttl: Duration,
    /// Where `/metrics` is served (Prometheus text), apart from the API; absent: not served.
    pub metrics_listen: Option<SocketAddr>,
    /// `text` or `json` (one JSON object per line, with the span fields of each line).
    pub log_format: LogFormat,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerConfig {
    /// Imports one worker process runs at the same time.
    pub concurrency: usize,
    /// Worker heartbeat; a job whose worker missed `missed_heartbeats` of them is retaken.
    #[serde(with = "secs")]
    pub heartbeat: Duration,
    pub missed_heartbeats: usize,
    /// Fallback poll when a LISTEN/NOTIFY wake-up is lost.
    #[serde(with = "secs")]
    pub poll_interval: Duration,
    /// Queue attempts for a job whose worker failed (not for bank errors: those end the command).
    pub max_attempts: usize,
    /// An import running longer than this ends with `Timeout`.
    #[serde(with = "secs")]
    pub import_timeout: Duration,
    /// A running import's lease on its command; renewed every third of it. A run that dies
    /// is taken over once its lease has lapsed.
    #[serde(with = "secs")]
    pub lease_ttl: Duration,
    /// How long an import that is ready to store waits for an unavailable database before it
    /// hands its job back to the queue.
    #[serde(with = "secs")]
    pub database_patience: Duration,
    /// How often the reaper looks for commands that nothing else would end.
    #[serde(with = "secs")]
    pub reaper_interval: Duration,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolsConfig {
    /// Request handlers. A short acquire timeout turns a database outage into a quick 503.
    pub api: PoolConfig,
    /// The queue: apalis fetches, heartbeats, acks, its LISTEN connection and the purge. Kept
    /// apart so a busy import never starves a heartbeat into a false orphan re-queue.
    pub queue: PoolConfig,
    /// The imports' reads and writes.
    pub import: PoolConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolConfig {
    /// Connections the pool may open.
    pub size: u32,
    /// How long a caller waits for a connection before giving up.
    #[serde(with = "secs")]
    pub acquire_timeout: Duration,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// A connection that has not sent a whole request head by then is closed (slowloris).
    #[serde(with = "secs")]
    pub header_read_timeout: Duration,
    /// A request not answered by then gets 503 `ServiceUnavailable`.
    #[serde(with = "secs")]
    pub request_timeout: Duration,
    /// The largest request body, in bytes; a larger one gets 413 `PayloadTooLarge`.
    pub body_limit: usize,
    /// Connections served at once; more wait in the listen backlog.
    pub max_connections: usize,
    /// On shutdown, how long open connections may finish before they are cut.
    #[serde(with = "secs")]
    pub shutdown_grace: Duration,
}

/// The secrets one bank's connector needs; which ones depends on the connector.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BankSecrets {
    /// Partner account API: the `X-Auth-Token` the bank issued to Aisle.
    pub auth_token: Option<Secret>,
    /// Account service API: Aisle's client secret.
    pub client_secret: Option<Secret>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SandboxBankConfig {
    /// Where the dev stack runs the sandbox bank.
    pub listen: SocketAddr,
    /// Base URL of the running sandbox bank; replaces the registry's for banks marked sandbox.
    pub url: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            database_url: None,
            pools: PoolsConfig {
                api: PoolConfig {
                    size: 16,
                    acquire_timeout: Duration::from_secs(1),
                },
                queue: PoolConfig {
                    size: 4,
                    acquire_timeout: Duration::from_secs(5),
                },
                import: PoolConfig {
                    size: 8,
                    acquire_timeout: Duration::from_secs(30),
                },
            },
            http: HttpConfig {
                header_read_timeout: Duration::from_secs(10),
                request_timeout: Duration::from_secs(60),
                body_limit: 256 * 1024,
                max_connections: 1024,
                shutdown_grace: Duration::from_secs(20),
            },
            listen: ([127, 0, 0, 1], 8080).into(),
            public_url: "http://127.0.0.1:8080".into(),
            registry: "connectors/banks.toml".into(),
            state_dir: ".aisle".into(),
            session_signing_key: None,
            secrets_key: None,
            session_ttl: Duration::from_secs(60 * 60),
            signin_ttl: Duration::from_secs(30 * 60),
            signin_starts_per_minute: 30,
            trust_forwarded_for: false,
            worker: WorkerConfig {
                concurrency: 8,
                heartbeat: Duration::from_secs(5),
                missed_heartbeats: 6,
                poll_interval: Duration::from_secs(2),
                max_attempts: 3,
                import_timeout: Duration::from_secs(15 * 60),
                lease_ttl: Duration::from_secs(30),
                database_patience: Duration::from_secs(5 * 60),
                reaper_interval: Duration::from_secs(30),
            },
            sandbox_bank: SandboxBankConfig {
                listen: ([127, 0, 0, 1], 8090).into(),
                url: None,
            },
            demo_listen: ([127, 0, 0, 1], 8070).into(),
            bank_timeout: Duration::from_secs(30),
            api_key_cache_ttl: Duration::from_secs(30),
            metrics_listen: None,
            log_format: LogFormat::Text,
            bank_secrets: BTreeMap::new(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid configuration: {0}")]
    Invalid(#[from] Box<figment::Error>),
    #[error("invalid configuration: {0}")]
    Rule(String),
    #[error(
        "missing setting(s): {}; only `aisle dev` makes its own database and keys",
        .0.join(", ")
    )]
    Missing(Vec<&'static str>),
}

impl Config {
    /// Loads defaults, then `file` if given, then the environment. `DATABASE_URL` is honoured
    /// when `AISLE_DATABASE_URL` is not set.
    pub fn load(file: Option<&std::path::Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            figment = figment.merge(Toml::file_exact(file));
        }
        figment = figment.merge(Env::prefixed("AISLE_").split("__"));
        let mut config: Config = figment.extract().map_err(Box::new)?;
        if config.database_url.is_none() {
            config.database_url = std::env::var("DATABASE_URL").ok().map(Secret);
        }
        config.validate()?;
        Ok(config)
    }

    /// The database URL, required by every command but `dev`.
    pub fn require_database(&self) -> Result<&Secret, ConfigError> {
        self.database_url
            .as_ref()
            .ok_or_else(|| ConfigError::Missing(vec![DATABASE_URL_SETTING]))
    }

    /// The database and both keys, naming every one that is missing. Keys are never generated
    /// here: two replicas would each invent their own.
    pub fn require_service_settings(&self) -> Result<ServiceSettings<'_>, ConfigError> {
        match (
            &self.database_url,
            &self.session_signing_key,
            &self.secrets_key,
        ) {
            (Some(database_url), Some(session_signing_key), Some(secrets_key)) => {
                Ok(ServiceSettings {
                    database_url,
                    session_signing_key,
                    secrets_key,
                })
            }
            (database_url, session_signing_key, secrets_key) => {
                let missing = [
                    (database_url.is_none(), DATABASE_URL_SETTING),
                    (
                        session_signing_key.is_none(),
                        "AISLE_SESSION_SIGNING_KEY (session_signing_key)",
                    ),
                    (secrets_key.is_none(), "AISLE_SECRETS_KEY (secrets_key)"),
                ];
                Err(ConfigError::Missing(
                    missing
                        .into_iter()
                        .filter_map(|(absent, name)| absent.then_some(name))
                        .collect(),
                ))
            }
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.worker.lease_ttl < Duration::from_secs(3) || self.worker.reaper_interval.is_zero() {
            return Err(ConfigError::Rule(
                "worker.lease_ttl must be at least 3 s and worker.reaper_interval at least 1 s"
                    .into(),
            ));
        }
        if self.worker.concurrency == 0
            || self.worker.max_attempts == 0
            || self.signin_starts_per_minute == 0
        {
            return Err(ConfigError::Rule(
                "worker.concurrency, worker.max_attempts and signin_starts_per_minute must be \
                 at least 1"
                    .into(),
            ));
        }
        if let Some(key) = &self.session_signing_key
            && key.expose().len() < 32
        {
            return Err(ConfigError::Rule(
                "session_signing_key must be at least 32 characters".into(),
            ));
        }
        let pools = [&self.pools.api, &self.pools.queue, &self.pools.import];
        if pools
            .iter()
            .any(|p| p.size == 0 || p.acquire_timeout.is_zero())
        {
            return Err(ConfigError::Rule(
                "every pool needs a size and an acquire_timeout of at least 1".into(),
            ));
        }
        let http = &self.http;
        if http.header_read_timeout.is_zero()
            || http.request_timeout.is_zero()
            || http.body_limit == 0
            || http.max_connections == 0
        {
            return Err(ConfigError::Rule(
                "http.header_read_timeout, http.request_timeout, http.body_limit and \
                 http.max_connections must be at least 1"
                    .into(),
            ));
        }
        url::Url::parse(&self.public_url)
            .map_err(|e| ConfigError::Rule(format!("public_url: {e}")))?;
        Ok(())
    }
}

const DATABASE_URL_SETTING: &str = "AISLE_DATABASE_URL (database_url, or DATABASE_URL)";

/// The settings the service cannot run without, once checked to be there.
pub struct ServiceSettings<'a> {
    pub database_url: &'a Secret,
    pub session_signing_key: &'a Secret,
    pub secrets_key: &'a Secret,
}

/// A configuration value that must never reach a log line.
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Durations are written as whole seconds in files and the environment.
mod secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_secs())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_secs)
    }
}
