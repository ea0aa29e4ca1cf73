//! What every request handler shares.

use std::sync::Arc;

use sqlx::PgPool;

use crate::{config::Config, registry::Registry, signin::signature::SessionSigner};

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub registry: Arc<Registry>,
    pub signer: SessionSigner,
    pub config: Arc<Config>,
}
