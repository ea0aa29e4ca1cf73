//! The service assembled from its configuration: database, registry, API and workers.

use std::{future::Future, num::NonZeroU32, sync::Arc};

use sqlx::{PgPool, postgres::PgPoolOptions};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::{
    config::Config,
    engine::{import::ImportContext, retry::RetryPolicy, worker},
    http::throttle::SignInThrottle,
    registry::{Registry, RegistryError},
    sealing::{SealingError, SecretSealer},
    signin::signature::SessionSigner,
    state::AppState,
    store::{self, MigrateError},
    webhooks::delivery::Deliverer,
};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("no database is configured (set AISLE_DATABASE_URL or DATABASE_URL)")]
    NoDatabase,
    #[error("no session_signing_key is configured (set AISLE_SESSION_SIGNING_KEY)")]
    NoSigningKey,
    #[error("no secrets_key is configured (set AISLE_SECRETS_KEY)")]
    NoSecretsKey,
    #[error("secrets_key: {0}")]
    SecretsKey(#[from] SealingError),
    #[error("cannot connect to the database: {0}")]
    Connect(#[from] sqlx::Error),
    #[error(transparent)]
    Migrate(#[from] MigrateError),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error("cannot build the bank HTTP client: {0}")]
    Http(#[from] reqwest::Error),
}

pub struct Service {
    pub config: Arc<Config>,
    pub pool: PgPool,
    pub registry: Arc<Registry>,
    signer: SessionSigner,
    sealer: SecretSealer,
    throttle: Arc<SignInThrottle>,
}

impl Service {
    /// Connects, migrates, and loads the registry.
    pub async fn start(config: Config) -> Result<Self, StartError> {
        let url = config.database_url.as_ref().ok_or(StartError::NoDatabase)?;
        let key = config
            .session_signing_key
            .as_ref()
            .ok_or(StartError::NoSigningKey)?;
        let signer = SessionSigner::new(key.expose().as_bytes());
        let sealer = SecretSealer::from_hex(
            config
                .secrets_key
                .as_ref()
                .ok_or(StartError::NoSecretsKey)?
                .expose(),
        )?;
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .connect(url.expose())
            .await?;
        store::migrate(&pool).await?;
        let http = reqwest::Client::builder()
            .timeout(config.bank_timeout)
            .user_agent(concat!("aisle/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let registry = Registry::load(
            &config.registry,
            config.sandbox_bank.url.as_deref(),
            &config.bank_secrets,
            http,
        )?;
        let throttle = Arc::new(SignInThrottle::per_minute(
            NonZeroU32::new(config.signin_starts_per_minute).unwrap_or(NonZeroU32::MIN),
        ));
        Ok(Self {
            config: Arc::new(config),
            pool,
            registry: Arc::new(registry),
            signer,
            sealer,
            throttle,
        })
    }

    pub fn app_state(&self) -> AppState {
        AppState {
            pool: self.pool.clone(),
            registry: self.registry.clone(),
            signer: self.signer.clone(),
            sealer: self.sealer.clone(),
            throttle: self.throttle.clone(),
            config: self.config.clone(),
        }
    }

    /// Serves the API on `listener` until `shutdown`.
    pub async fn run_api(
        &self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        crate::http::serve(listener, self.app_state(), shutdown).await
    }

    /// Runs the import workers and the webhook delivery worker until `shutdown`.
    pub async fn run_workers(
        &self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let stop = CancellationToken::new();
        let stop_on_shutdown = stop.clone();
        let imports = worker::run(
            self.pool.clone(),
            self.import_context(),
            self.config.worker.clone(),
            async move {
                shutdown.await;
                stop_on_shutdown.cancel();
            },
        );
        let (imported, ()) = tokio::join!(imports, self.deliverer().run(stop.cancelled_owned()));
        imported
    }

    /// The key that seals bank secrets and webhook secrets.
    pub fn sealer(&self) -> &SecretSealer {
        &self.sealer
    }

    /// The webhook delivery worker, with this service's database, key and settings.
    pub fn deliverer(&self) -> Deliverer {
        Deliverer {
            pool: self.pool.clone(),
            sealer: self.sealer.clone(),
            settings: self.config.webhooks.clone(),
        }
    }

    /// What the import workers run with.
    pub fn import_context(&self) -> ImportContext {
        ImportContext {
            pool: self.pool.clone(),
            registry: self.registry.clone(),
            sealer: self.sealer.clone(),
            retry: RetryPolicy::default(),
            import_timeout: self.config.worker.import_timeout,
            max_attempts: self.config.worker.max_attempts,
            lease_ttl: self.config.worker.lease_ttl,
            database_patience: self.config.worker.database_patience,
        }
    }
}
