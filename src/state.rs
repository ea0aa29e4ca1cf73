//! What every request handler shares.

use std::sync::Arc;

use sqlx::PgPool;

use crate::{
    config::Config,
    http::{auth::ApiKeyCache, throttle::SignInThrottle},
    registry::Registry,
    sealing::SecretSealer,
    signin::{flow::Flow, session::Issuer, signature::SessionSigner},
};

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub registry: Arc<Registry>,
    pub signer: SessionSigner,
    pub sealer: SecretSealer,
    pub throttle: Arc<SignInThrottle>,
    pub api_keys: Arc<ApiKeyCache>,
    pub config: Arc<Config>,
}

impl AppState {
    /// Issues sessions with this service's keys and TTL.
    pub fn issuer(&self) -> Issuer<'_> {
        Issuer {
            signer: &self.signer,
            sealer: &self.sealer,
            ttl: self.config.session_ttl,
            max_import_attempts: self.config.worker.max_attempts,
        }
    }

    /// The interactive sign-in, with this service's registry and keys.
    pub fn flow(&self) -> Flow<'_> {
        Flow {
            pool: &self.pool,
            registry: &self.registry,
            issuer: self.issuer(),
            public_url: &self.config.public_url,
            ttl: chrono::Duration::from_std(self.config.signin_ttl)
                .unwrap_or(chrono::Duration::minutes(30)),
        }
    }
}
