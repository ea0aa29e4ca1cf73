//! The apalis workers that run Default Imports, supervised so a database outage does not end
//! them. See `../shared/APALIS.md` for why each setting is what it is.

use std::{future::Future, sync::Arc, time::Duration};

use apalis::prelude::{
    BoxDynError, Data, Monitor, PollWith, Strategy, WorkerBuilder, WorkerBuilderExt,
};
use apalis_postgres::{Config as QueueConfig, PostgresStorage, Pubsub};
use sqlx::PgPool;
use tracing::Instrument;

use super::{
    import::{self, ImportContext},
    queue::{self, DefaultImportJob, QUEUE},
};
use crate::config::WorkerConfig;

/// Runs the import workers until `shutdown` resolves, then lets running imports finish.
pub async fn run(
    pool: PgPool,
    context: ImportContext,
    settings: WorkerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let purge = tokio::spawn(purge_periodically(pool.clone()));
    let context = Arc::new(context);
    let instance = format!(
        "{}-{}-{}",
        hostname(),
        std::process::id(),
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let monitor = Monitor::new()
        .register(move |restarts| {
            let storage = PostgresStorage::<DefaultImportJob>::new(&pool).with_config(
                QueueConfig::default()
                    .queue(QUEUE)
                    .heartbeat_interval(settings.heartbeat)
                    .missed_heartbeats(settings.missed_heartbeats)
                    .batch_size(settings.concurrency),
            );
            // LISTEN/NOTIFY for prompt pick-up, and an interval so a lost notification costs
            // one interval rather than a heartbeat.
            let strategy = Strategy::new()
                .stream(Pubsub::new(pool.clone(), QUEUE.to_string()))
                .interval(settings.poll_interval);
            // A restarted worker gets a new name: apalis never reclaims a job held under its
            // own old name.
            WorkerBuilder::new(format!("import-{instance}-{restarts}"))
                .backend(PollWith::new(storage, strategy))
                .concurrency(settings.concurrency)
                .data(context.clone())
                .build(handle)
        })
        .should_restart(|worker, error| {
            tracing::warn!(worker = worker.name(), %error, "import worker stopped; restarting");
            true
        })
        .shutdown_timeout(Duration::from_secs(30));
    let result = monitor
        .run_with_signal(async move {
            shutdown.await;
            Ok(())
        })
        .await
        .map_err(std::io::Error::other);
    purge.abort();
    result
}

/// Keeps the queue table small: finished jobs go after a day.
async fn purge_periodically(pool: PgPool) {
    const EVERY: Duration = Duration::from_secs(60 * 60);
    const AGE: Duration = Duration::from_secs(24 * 60 * 60);
    let mut tick = tokio::time::interval(EVERY);
    loop {
        tick.tick().await;
        match queue::purge_finished(&pool, AGE).await {
            Ok(0) => {}
            Ok(purged) => tracing::info!(purged, "purged finished queue jobs"),
            Err(e) => tracing::warn!(error = %e, "could not purge finished queue jobs"),
        }
    }
}

async fn handle(
    job: DefaultImportJob,
    context: Data<Arc<ImportContext>>,
) -> Result<(), BoxDynError> {
    let span =
        tracing::info_span!("import", command_id = %job.command_id, bank = tracing::field::Empty);
    import::run(&context, job.command_id)
        .instrument(span)
        .await
        .map_err(Into::into)
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".into())
}
