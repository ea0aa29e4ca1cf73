//! The Default Import queue: its name, its job and how a job is pushed inside the caller's
//! own transaction (so a command row never exists without its job, nor a job without its row).

use apalis::prelude::{TaskBuilder, TaskId};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use ulid::Ulid;
use uuid::Uuid;

/// Set explicitly: apalis's default is the job type's Rust name, which a rename would change.
pub const QUEUE: &str = "default-import";

/// The queue job: everything else is read from the command's row.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DefaultImportJob {
    pub command_id: Uuid,
}

/// Pushes the job for `command_id`; its task id is the command id, so they map 1:1.
pub async fn enqueue(
    conn: &mut PgConnection,
    command_id: Uuid,
    max_attempts: usize,
) -> Result<(), apalis_postgres::Error> {
    let args = serde_json::to_vec(&DefaultImportJob { command_id })
        .map_err(apalis_postgres::Error::JsonError)?;
    let task = TaskBuilder::new(args)
        .task_id(TaskId::from_ulid(Ulid(command_id.as_u128())))
        .max_attempts(max_attempts)
        .build();
    apalis_postgres::queries::push_tasks(conn, QUEUE, vec![task]).await
}

/// Deletes this queue's finished jobs older than `age`. apalis never does: its table would
/// grow forever, and its fetch query slows down with it. Our commands table is the record.
///
/// "Finished" is "acknowledged" (`done_at` set) rather than a status: we saw apalis 1.0 leave
/// an acknowledged job in `Running`. A failed job with attempts left is kept for its retry.
pub async fn purge_finished(
    pool: &sqlx::PgPool,
    age: std::time::Duration,
) -> Result<u64, sqlx::Error> {
    let purged = sqlx::query(
        "delete from apalis.jobs
         where job_type = $1
           and done_at < now() - make_interval(secs => $2)
           and not (status = 'Failed' and attempts < max_attempts)",
    )
    .bind(QUEUE)
    .bind(age.as_secs_f64())
    .execute(pool)
    .await?;
    Ok(purged.rows_affected())
}

/// What the queue says of a command's job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    /// Waiting, running, or failed with attempts left: the queue will still run it.
    Live,
    /// Done, killed, or failed for good: the queue will not run it again.
    Over,
    /// No such job (never pushed, or purged).
    Missing,
}

/// The state of `command_id`'s job.
pub async fn job_state(pool: &sqlx::PgPool, command_id: Uuid) -> Result<JobState, sqlx::Error> {
    let id = TaskId::from_ulid(Ulid(command_id.as_u128())).to_string();
    let live: Option<bool> = sqlx::query_scalar(
        "select status in ('Pending', 'Queued', 'Running')
                or (status = 'Failed' and attempts < max_attempts)
         from apalis.jobs where id = $1 and job_type = $2",
    )
    .bind(id)
    .bind(QUEUE)
    .fetch_optional(pool)
    .await?;
    Ok(match live {
        Some(true) => JobState::Live,
        Some(false) => JobState::Over,
        None => JobState::Missing,
    })
}

/// Jobs waiting in this queue, and how long the oldest has waited (zero when none).
pub async fn depth(pool: &sqlx::PgPool) -> Result<(i64, f64), sqlx::Error> {
    sqlx::query_as(
        "select count(*),
                coalesce(extract(epoch from now() - min(run_at))::float8, 0)
         from apalis.jobs where job_type = $1 and status = 'Pending'",
    )
    .bind(QUEUE)
    .fetch_one(pool)
    .await
}
