//! Database access, one module per aggregate. Every query that reads or writes a client's
//! data filters by that client's id.

pub mod client_settings;
pub mod clients;
pub mod commands;
pub mod console;
pub mod deletions;
pub mod owners;
pub mod queue;
pub mod results;
pub mod sessions;
pub mod signins;
pub mod staff;
pub mod webhooks;

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

/// Whether a database error says the database is out of reach for now rather than that a
/// query is wrong: no connection within the acquire timeout, a broken socket, or a server that
/// is shutting down, starting up, or out of connection slots. Work that meets one may wait and
/// try again; an API answers 503.
pub fn is_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            // Class 08: connection exceptions; 57P01–57P03: admin or crash shutdown, cannot
            // connect now; 53300: too many connections.
            code.starts_with("08") || matches!(&*code, "57P01" | "57P02" | "57P03" | "53300")
        }),
        _ => false,
    }
}
