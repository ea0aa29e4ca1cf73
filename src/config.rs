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
    /// Ed25519 key signing deletion receipts: a 32-byte seed as 64 hex characters. Required;
    /// only `dev` generates one.
    pub deletion_receipt_key: Option<Secret>,
    /// Retired `deletion_receipt_key`s: their public halves stay published, so receipts they
    /// signed still verify; nothing new is signed with them.
    #[serde(default)]
    pub previous_deletion_receipt_keys: Vec<Secret>,
    /// Retired `session_signing_key`s: signatures they made still verify. See the README's
    /// key rotation procedure.
    #[serde(default)]
    pub previous_session_signing_keys: Vec<Secret>,
    /// Retired `secrets_key`s: values they sealed still open; nothing new is sealed with them.
    #[serde(default)]
    pub previous_secrets_keys: Vec<Secret>,
    /// How long a session may wait for its Default Import.
    #[serde(with = "secs")]
    pub session_ttl: Duration,
    /// How long an owner has to finish a sign-in (widget or redirection).
    #[serde(with = "secs")]
    pub signin_ttl: Duration,
    /// Sign-in starts (widget opens, bank picks, retries) one address may make per minute.
    pub signin_starts_per_minute: u32,
    /// The proxies in front of the API, as CIDRs. A request whose peer is one of them has its
    /// client address read from `X-Forwarded-For`: the right-most entry that is not itself a
    /// trusted proxy. Empty (the default): the header is never read.
    pub trusted_proxies: Vec<ipnet::IpNet>,
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
    /// How long a caller waits for a connection before giving up, in milliseconds (an API
    /// that must say 503 within a second during an outage needs less than a second here).
    #[serde(rename = "acquire_timeout_ms", with = "millis")]
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
            pools: PoolsConfig {
                api: PoolConfig {
                    size: 16,
                    acquire_timeout: Duration::from_millis(500),
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
            deletion_receipt_key: None,
            previous_deletion_receipt_keys: Vec::new(),
            previous_session_signing_keys: Vec::new(),
            previous_secrets_keys: Vec::new(),
            session_ttl: Duration::from_secs(60 * 60),
            signin_ttl: Duration::from_secs(30 * 60),
            signin_starts_per_minute: 30,
            trusted_proxies: Vec::new(),
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

    /// The database and the keys, naming every one that is missing. Keys are never generated
    /// here: two replicas would each invent their own.
    pub fn require_service_settings(&self) -> Result<ServiceSettings<'_>, ConfigError> {
        match (
            &self.database_url,
            &self.session_signing_key,
            &self.secrets_key,
            &self.deletion_receipt_key,
        ) {
            (
                Some(database_url),
                Some(session_signing_key),
                Some(secrets_key),
                Some(deletion_receipt_key),
            ) => Ok(ServiceSettings {
                database_url,
                session_signing_key,
                secrets_key,
                deletion_receipt_key,
            }),
            (database_url, session_signing_key, secrets_key, deletion_receipt_key) => {
                let missing = [
                    (database_url.is_none(), DATABASE_URL_SETTING),
                    (
                        session_signing_key.is_none(),
                        "AISLE_SESSION_SIGNING_KEY (session_signing_key)",
                    ),
                    (secrets_key.is_none(), "AISLE_SECRETS_KEY (secrets_key)"),
                    (
                        deletion_receipt_key.is_none(),
                        "AISLE_DELETION_RECEIPT_KEY (deletion_receipt_key)",
                    ),
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
        if self
            .session_signing_key
            .iter()
            .chain(&self.previous_session_signing_keys)
            .any(|key| key.expose().len() < 32)
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
                "every pool needs a size and an acquire_timeout_ms of at least 1".into(),
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
    pub deletion_receipt_key: &'a Secret,
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

/// A few short durations are written as whole milliseconds.
mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn from_toml(toml: &str) -> Result<Config, Box<figment::Error>> {
        Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::string(toml))
            .extract()
            .map_err(Box::new)
    }

    #[test]
    fn trusted_proxies_are_cidrs_and_the_old_forwarded_for_switch_is_refused() {
        let config = from_toml(r#"trusted_proxies = ["10.0.0.0/8", "2001:db8::/32"]"#).unwrap();
        assert_eq!(
            config.trusted_proxies,
            vec![
                "10.0.0.0/8".parse::<ipnet::IpNet>().unwrap(),
                "2001:db8::/32".parse().unwrap()
            ]
        );
        assert!(from_toml(r#"trusted_proxies = ["10.0.0.1/33"]"#).is_err());
        let old = from_toml("trust_forwarded_for = true").unwrap_err();
        assert!(old.to_string().contains("trust_forwarded_for"), "{old}");
    }
}
