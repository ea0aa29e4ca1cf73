//! The service assembled from its configuration: database, registry, API and workers.

use std::{future::Future, num::NonZeroU32, str::FromStr, sync::Arc};

use sqlx::{
    PgPool,
    postgres::{PgConnectOptions, PgPoolOptions},
};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::{
    config::{Config, ConfigError, PoolConfig},
    deletion_signing::{ReceiptKeyError, ReceiptSigner},
    engine::{import::ImportContext, retry::RetryPolicy, worker},
    http::{auth::ApiKeyCache, throttle::SignInThrottle},
    registry::{Registry, RegistryError},
    sealing::{SealingError, SecretSealer},
    signin::signature::SessionSigner,
    state::AppState,
    store::{self, MigrateError},
    webhooks::delivery::Deliverer,
};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("database_url is not a PostgreSQL URL: {0}")]
    DatabaseUrl(#[source] sqlx::Error),
    #[error("secrets_key: {0}")]
    SecretsKey(#[from] SealingError),
    #[error("deletion_receipt_key: {0}")]
    DeletionReceiptKey(#[from] ReceiptKeyError),
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
    /// The API's pool (`pools.api`).
    pub pool: PgPool,
    /// The queue's pool (`pools.queue`): apalis storage, its LISTEN connection, the purge.
    pub queue_pool: PgPool,
    /// The imports' pool (`pools.import`).
    pub import_pool: PgPool,
    pub registry: Arc<Registry>,
    signer: SessionSigner,
    sealer: SecretSealer,
    receipts: ReceiptSigner,
    throttle: Arc<SignInThrottle>,
    api_keys: Arc<ApiKeyCache>,
}

impl Service {
    /// Checks that the database and keys are configured, migrates, and loads the registry.
    /// The pools connect lazily, so a process opens connections only in the pools it uses
    /// (`aisle api` none in the queue's or the imports').
    pub async fn start(config: Config) -> Result<Self, StartError> {
        let settings = config.require_service_settings()?;
        let signer = SessionSigner::new(settings.session_signing_key.expose().as_bytes())
            .also_verifying(
                config
                    .previous_session_signing_keys
                    .iter()
                    .map(|key| key.expose().as_bytes()),
            );
        let sealer = SecretSealer::from_hex(settings.secrets_key.expose())?
            .also_opening(config.previous_secrets_keys.iter().map(|key| key.expose()))?;
        let receipts = ReceiptSigner::from_hex(settings.deletion_receipt_key.expose())?
            .also_publishing(
                config
                    .previous_deletion_receipt_keys
                    .iter()
                    .map(|key| key.expose()),
            )?;
        let connect = PgConnectOptions::from_str(settings.database_url.expose())
            .map_err(StartError::DatabaseUrl)?;
        let pool = lazy_pool(&config.pools.api, &connect);
        let queue_pool = lazy_pool(&config.pools.queue, &connect);
        let import_pool = lazy_pool(&config.pools.import, &connect);
        migrate(&connect).await?;
        let http = reqwest::Client::builder()
            .timeout(config.bank_timeout)
            .user_agent(concat!("aisle/", env!("CARGO_PKG_VERSION")))
            // A bank's redirect would carry the consent id and the other secret headers to
            // whatever host it names; a bank API has no business redirecting, so a 3xx is
            // answered to the connector as it came.
            .redirect(reqwest::redirect::Policy::none())
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
        let api_keys = Arc::new(ApiKeyCache::new(config.api_key_cache_ttl));
        Ok(Self {
            config: Arc::new(config),
            pool,
            queue_pool,
            import_pool,
            registry: Arc::new(registry),
            signer,
            sealer,
            receipts,
            throttle,
            api_keys,
        })
    }

    pub fn app_state(&self) -> AppState {
        AppState {
            pool: self.pool.clone(),
            registry: self.registry.clone(),
            signer: self.signer.clone(),
            sealer: self.sealer.clone(),
            receipts: self.receipts.clone(),
            throttle: self.throttle.clone(),
            api_keys: self.api_keys.clone(),
            config: self.config.clone(),
        }
    }

    /// Serves the API on `listener` until `shutdown`.
    pub async fn run_api(
        &self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        crate::http::serve(listener, self.app_state(), &self.config.http, shutdown).await
    }

    /// Serves `/metrics` on `metrics_listen`, if set, until the process ends.
    pub async fn serve_metrics(&self) -> std::io::Result<()> {
        let Some(listen) = self.config.metrics_listen else {
            return Ok(());
        };
        let Some(handle) = crate::http::metrics::install() else {
            return Ok(());
        };
        let listener = TcpListener::bind(listen).await?;
        tracing::info!(%listen, "serving /metrics");
        let queue_pool = self.queue_pool.clone();
        tokio::spawn(async move {
            let served =
                crate::http::metrics::serve(listener, handle, queue_pool, std::future::pending())
                    .await;
            if let Err(e) = served {
                tracing::error!(error = %e, "the metrics listener stopped");
            }
        });
        Ok(())
    }

    /// Runs the import workers and the webhook delivery worker until `shutdown`.
    pub async fn run_workers(
        &self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let stop = CancellationToken::new();
        let stop_on_shutdown = stop.clone();
        let imports = worker::run(
            self.queue_pool.clone(),
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
            pool: self.import_pool.clone(),
            sealer: self.sealer.clone(),
            settings: self.config.webhooks.clone(),
        }
    }

    /// What the import workers run with.
    pub fn import_context(&self) -> ImportContext {
        ImportContext {
            pool: self.import_pool.clone(),
            registry: self.registry.clone(),
            sealer: self.sealer.clone(),
            receipts: self.receipts.clone(),
            retry: RetryPolicy::default(),
            import_timeout: self.config.worker.import_timeout,
            max_attempts: self.config.worker.max_attempts,
            lease_ttl: self.config.worker.lease_ttl,
            database_patience: self.config.worker.database_patience,
        }
    }
}

fn lazy_pool(settings: &PoolConfig, connect: &PgConnectOptions) -> PgPool {
    PgPoolOptions::new()
        .max_connections(settings.size)
        .acquire_timeout(settings.acquire_timeout)
        .connect_lazy_with(connect.clone())
}

/// Migrates over a connection of its own, closed afterwards, so no pool keeps one it does not
/// need. Several processes may start at once: the migrators serialise on an advisory lock.
async fn migrate(connect: &PgConnectOptions) -> Result<(), StartError> {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(connect.clone())
        .await?;
    let migrated = store::migrate(&pool).await;
    pool.close().await;
    Ok(migrated?)
}
