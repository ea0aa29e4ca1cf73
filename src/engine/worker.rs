//! The apalis workers that run Default Imports, supervised so a database outage does not end
//! them, and the reaper beside them. See `../shared/APALIS.md` for why each setting is what
//! it is.
//!
//! Each delivery runs in a task of its own: when apalis restarts a worker (its heartbeat
//! failed during a database outage, say) it drops the worker's futures, and an import must
//! not die with them. The task goes on, holding its command's lease; apalis's later
//! redelivery of the same job finds that lease and waits for the run to end. The tasks end
//! with [`run`] itself, as they would with the process.

use std::{future::Future, sync::Arc, time::Duration};

use apalis::prelude::{
    BoxDynError, Data, Monitor, PollWith, Strategy, WorkerBuilder, WorkerBuilderExt,
};
use apalis_postgres::{Config as QueueConfig, PostgresStorage, Pubsub};
use sqlx::PgPool;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::import::{self, ImportContext};
use crate::{
    commands::reaper::{self, ReaperSettings},
    config::WorkerConfig,
    store::queue::{self, DefaultImportJob, QUEUE},
};

/// What each delivery's handler gets.
struct Deliveries {
    context: ImportContext,
    /// Imports running in this process, whatever apalis's restarts: at most `concurrency`.
    slots: Semaphore,
    /// Cancelled when [`run`] ends or is dropped.
    stopped: CancellationToken,
}

/// Runs the import workers, the reaper and the expiry sweep until `shutdown` resolves, then
/// lets running imports finish. `pool` is the queue's own (apalis's fetches and heartbeats
/// must never wait behind imports); the imports use the context's.
pub async fn run(
    pool: PgPool,
    context: ImportContext,
    settings: WorkerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let purge = tokio::spawn(purge_periodically(pool.clone()));
    let reaper = tokio::spawn(reaper::run(
        context.finisher(),
        ReaperSettings {
            every: settings.reaper_interval,
            overdue_after: context.import_timeout + OVERDUE_MARGIN,
            grace: settings.reaper_interval,
        },
    ));
    let expiry = tokio::spawn(crate::expiry::run(
        context.finisher(),
        settings.reaper_interval,
    ));
    let stopped = CancellationToken::new();
    let _stop_deliveries = stopped.clone().drop_guard();
    let deliveries = Arc::new(Deliveries {
        slots: Semaphore::new(settings.concurrency),
        context,
        stopped,
    });
    let instance = format!(
        "{}-{}-{}",
        hostname(),
        std::process::id(),
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let closed = pool.clone();
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
                .data(deliveries.clone())
                .build(handle)
        })
        .should_restart(move |worker, error| {
            // A closed pool is the process shutting down, not an outage: a restarted worker
            // would fail again at once, in a loop as fast as the logs can take it.
            if closed.is_closed() {
                tracing::info!(
                    worker = worker.name(),
                    "queue pool closed; import worker stops"
                );
                return false;
            }
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
    reaper.abort();
    expiry.abort();
    result
}

/// How long past the import timeout a run may go before the reaper ends its command: the run's
/// own timeout should have ended it first.
const OVERDUE_MARGIN: Duration = Duration::from_secs(60);

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
    deliveries: Data<Arc<Deliveries>>,
) -> Result<(), BoxDynError> {
    let deliveries = Arc::clone(&deliveries);
    let span =
        tracing::info_span!("import", command_id = %job.command_id, bank = tracing::field::Empty);
    let delivery = tokio::spawn(
        async move {
            let _slot = deliveries.slots.acquire().await?;
            tokio::select! {
                delivered = import::deliver(&deliveries.context, job.command_id) => {
                    delivered.map_err(BoxDynError::from)
                }
                // The workers are gone; the command's lease lapses and another worker
                // takes the job over.
                () = deliveries.stopped.cancelled() => Ok(()),
            }
        }
        .instrument(span),
    );
    delivery.await?
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".into())
}
