//! Database access, one module per aggregate. Every query that reads or writes a client's
//! data filters by that client's id.

pub mod clients;
pub mod commands;
pub mod results;
pub mod sessions;
pub mod signins;

use sqlx::PgPool;

/// Runs our migrations and apalis's (which live in their own `apalis` schema).
pub async fn migrate(pool: &PgPool) -> Result<(), MigrateError> {
    sqlx::migrate!("./migrations").run(pool).await?;
    apalis_postgres::PostgresStorage::setup(pool).await?;
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("our migrations failed: {0}")]
    Ours(#[from] sqlx::migrate::MigrateError),
    #[error("the queue's migrations failed: {0}")]
    Queue(#[from] apalis_postgres::Error),
}
