//! Typed configuration: embedded defaults, then an optional TOML file, then `AISLE_*`
//! environment variables (nested keys with `__`, e.g. `AISLE_WORKER__CONCURRENCY=8`).

use std::{collections::BTreeMap, fmt, net::SocketAddr, path::PathBuf, time::Duration};

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use serde::{Deserialize, Serialize};

/// Everything the service reads at start. Validated by [`Config::load`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// PostgreSQL URL. When absent, `aisle` (dev) starts a private cluster under `./.aisle/`.
    pub database_url: Option<Secret>,
    /// Where the API listens.
    pub listen: SocketAddr,
    /// The URL owners' browsers and banks use to reach this API.
    pub public_url: String,
    /// The bank registry file.
    pub registry: PathBuf,
    /// Where the dev stack keeps its private cluster and generated secrets.
    pub state_dir: PathBuf,
    /// Key for `sessionIdSignature` (HMAC-SHA256). The dev stack generates one when absent.
    pub session_signing_key: Option<Secret>,
    /// Key sealing bank secrets at rest (AES-256-GCM): 64 hex characters. The dev stack
    /// generates one when absent.
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
    pub webhooks: WebhooksConfig,
    /// Where the dev stack serves its demo client's page (`/demo`), on an origin of its own.
    pub demo_listen: SocketAddr,
    /// Per-bank secrets, keyed by bank id with `-` written `_`
    /// (`AISLE_BANK_SECRETS__SANDBOX_PARTNER__AUTH_TOKEN`). Never in the registry file.
    #[serde(default)]
    pub bank_secrets: BTreeMap<String, BankSecrets>,
    /// Timeout of one HTTP call to a bank.
    #[serde(with = "secs")]
    pub bank_timeout: Duration,
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

/// Webhook delivery: where it may go, how long an attempt may take, how it retries.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhooksConfig {
    /// Allow private, loopback and link-local destinations, and plain `http` to loopback.
    /// Only for development: the dev stack sets it.
    pub allow_private: bool,
    /// One attempt's limit: connecting, sending and reading the start of the answer.
    #[serde(with = "secs")]
    pub attempt_timeout: Duration,
    /// Attempts per delivery before it fails.
    pub max_attempts: u32,
    /// The wait after the first failed attempt; each later wait is four times longer.
    #[serde(with = "secs")]
    pub retry_base: Duration,
    /// The longest wait between attempts (also caps a receiver's `Retry-After`).
    #[serde(with = "secs")]
    pub retry_cap: Duration,
    /// An endpoint whose attempts keep failing for this long is disabled.
    #[serde(with = "secs")]
    pub disable_after: Duration,
    /// How often an idle delivery worker looks for due deliveries.
    #[serde(with = "secs")]
    pub poll_interval: Duration,
    /// Attempts one worker process runs at once.
    pub concurrency: usize,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        Self {
            allow_private: false,
            attempt_timeout: Duration::from_secs(10),
            max_attempts: 8,
            retry_base: Duration::from_secs(30),
            retry_cap: Duration::from_secs(12 * 60 * 60),
            disable_after: Duration::from_secs(5 * 24 * 60 * 60),
            poll_interval: Duration::from_secs(1),
            concurrency: 16,
        }
    }
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
            webhooks: WebhooksConfig::default(),
            demo_listen: ([127, 0, 0, 1], 8070).into(),
            bank_timeout: Duration::from_secs(30),
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
        let webhooks = &self.webhooks;
        if webhooks.attempt_timeout.is_zero()
            || webhooks.max_attempts == 0
            || webhooks.poll_interval.is_zero()
            || webhooks.concurrency == 0
            || webhooks.retry_base > webhooks.retry_cap
        {
            return Err(ConfigError::Rule(
                "webhooks.attempt_timeout, max_attempts, poll_interval and concurrency must be \
                 at least 1, and webhooks.retry_base at most webhooks.retry_cap"
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
        url::Url::parse(&self.public_url)
            .map_err(|e| ConfigError::Rule(format!("public_url: {e}")))?;
        Ok(())
    }
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
