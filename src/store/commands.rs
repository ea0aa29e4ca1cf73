//! Commands: the asynchronous jobs clients ask for, and the state clients poll. This table,
//! not the queue's, is the record of what happened.
//!
//! A running import holds a lease on its command (`lease_owner`, `lease_until`), renewed while
//! it runs. Its writes are fenced on that lease, and a command ends once, through [`finish`],
//! under a [`Fence`] that says who may end it.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{PgConnection, PgPool, types::Json};
use uuid::Uuid;

use crate::model::command::{
    CommandErrorCode, CommandKind, CommandState, Outcome, Progress, Stage, StartedBy,
};

/// A command with the session facts clients see next to it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Command {
    pub id: Uuid,
    pub client_id: Uuid,
    pub kind: CommandKind,
    pub session_id: Uuid,
    pub state: CommandState,
    pub progress: Json<Progress>,
    pub since: NaiveDate,
    pub error_code: Option<CommandErrorCode>,
    pub error_detail: Option<String>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub owner_external_id: String,
    pub bank_id: String,
    pub started_by: StartedBy,
}

impl Command {
    /// Whether the command has imported rows to show: it succeeded, or ended with a code that
    /// keeps what it had read.
    pub fn has_result(&self) -> bool {
        self.state == CommandState::Successful
            || self.error_code.is_some_and(CommandErrorCode::keeps_result)
    }
}

/// The select list shared by the command queries (a macro so `concat!` keeps it a literal).
macro_rules! select_commands {
    () => {
        "select c.id, c.client_id, c.kind, c.session_id, c.state, c.progress, c.since,
        c.error_code, c.error_detail, c.created_at, c.finished_at, s.owner_external_id, s.bank_id,
        c.started_by
    from commands c join sessions s on s.id = c.session_id and s.client_id = c.client_id"
    };
}

pub struct NewCommand<'a> {
    pub id: Uuid,
    pub client_id: Uuid,
    pub session_id: Uuid,
    pub idempotency_key: Option<&'a str>,
    /// A digest of the request as the client sent it, kept with its idempotency key.
    pub idempotency_fingerprint: Option<&'a [u8]>,
    pub since: NaiveDate,
    pub started_by: StartedBy,
}

/// A command found by its idempotency key, with what the request that made it looked like.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct KeyedCommand {
    pub id: Uuid,
    pub session_id: Uuid,
    pub state: CommandState,
    /// Absent on commands made before fingerprints were kept.
    pub idempotency_fingerprint: Option<Vec<u8>>,
}

/// Records a Default Import as in progress. Fails with a unique violation when the session or
/// the idempotency key is already used.
pub async fn insert(conn: &mut PgConnection, command: &NewCommand<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into commands (id, client_id, kind, session_id, idempotency_key, state, progress, since,
                               idempotency_fingerprint, started_by)
         values ($1, $2, $3, $4, $5, 'in_progress', $6, $7, $8, $9)",
    )
    .bind(command.id)
    .bind(command.client_id)
    .bind(CommandKind::DefaultImport)
    .bind(command.session_id)
    .bind(command.idempotency_key)
    .bind(Json(Progress::at(Stage::Queued)))
    .bind(command.since)
    .bind(command.idempotency_fingerprint)
    .bind(command.started_by)
    .execute(conn)
    .await?;
    Ok(())
}

/// The command that claimed a session, and who started it.
#[derive(Debug, Clone, Copy, sqlx::FromRow)]
pub struct SessionCommand {
    pub id: Uuid,
    pub state: CommandState,
    pub started_by: StartedBy,
}

/// The client's command that claimed session `session_id`, if one did.
pub async fn for_session(
    db: impl sqlx::PgExecutor<'_>,
    client_id: Uuid,
    session_id: Uuid,
) -> Result<Option<SessionCommand>, sqlx::Error> {
    sqlx::query_as(
        "select id, state, started_by from commands where session_id = $1 and client_id = $2",
    )
    .bind(session_id)
    .bind(client_id)
    .fetch_optional(db)
    .await
}

/// The client's command with this id; another client's is as absent as an unknown one.
pub async fn find_for_client(
    pool: &PgPool,
    client_id: Uuid,
    id: Uuid,
) -> Result<Option<Command>, sqlx::Error> {
    sqlx::query_as(concat!(
        select_commands!(),
        " where c.id = $1 and c.client_id = $2"
    ))
    .bind(id)
    .bind(client_id)
    .fetch_optional(pool)
    .await
}

/// The client's commands for one owner, whatever their state, newest first, at most `limit`.
pub async fn for_owner(
    pool: &PgPool,
    client_id: Uuid,
    owner_external_id: &str,
    limit: i64,
) -> Result<Vec<Command>, sqlx::Error> {
    sqlx::query_as(concat!(
        select_commands!(),
        " where c.client_id = $1 and s.client_id = $1 and s.owner_external_id = $2
          order by c.created_at desc, c.id desc limit $3"
    ))
    .bind(client_id)
    .bind(owner_external_id)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// The client's successful commands for one owner, newest first, at most `limit`.
pub async fn successful_for_owner(
    pool: &PgPool,
    client_id: Uuid,
    owner_external_id: &str,
    limit: i64,
) -> Result<Vec<Command>, sqlx::Error> {
    sqlx::query_as(concat!(
        select_commands!(),
        " where c.client_id = $1 and s.owner_external_id = $2 and c.state = 'successful'
          order by c.created_at desc limit $3"
    ))
    .bind(client_id)
    .bind(owner_external_id)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// The client's command made with this idempotency key, if any.
pub async fn find_by_idempotency_key(
    conn: &mut PgConnection,
    client_id: Uuid,
    key: &str,
) -> Result<Option<KeyedCommand>, sqlx::Error> {
    sqlx::query_as(
        "select id, session_id, state, idempotency_fingerprint from commands
         where client_id = $1 and idempotency_key = $2",
    )
    .bind(client_id)
    .bind(key)
    .fetch_optional(conn)
    .await
}

/// The command a queue job names. The worker acts for whichever client owns it, and passes
/// that client's id to every later query.
pub async fn find_for_job(pool: &PgPool, id: Uuid) -> Result<Option<Command>, sqlx::Error> {
    sqlx::query_as(concat!(select_commands!(), " where c.id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// Writes a running import's progress, if its lease still stands. Returns whether it did.
pub async fn set_progress(
    pool: &PgPool,
    id: Uuid,
    lease: Uuid,
    progress: &Progress,
) -> Result<bool, sqlx::Error> {
    let updated = sqlx::query(
        "update commands set progress = $3
         where id = $1 and lease_owner = $2 and state = 'in_progress'",
    )
    .bind(id)
    .bind(lease)
    .bind(Json(progress))
    .execute(pool)
    .await?;
    Ok(updated.rows_affected() == 1)
}

/// What came of asking for a command's lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseTake {
    /// The lease is this run's; `attempt` counts the runs so far, this one included.
    Taken { attempt: u32 },
    /// Another run holds a lease that has not expired.
    HeldByLiveRun,
    /// The command has ended (or does not exist): there is nothing to run.
    Ended,
}

/// Takes the command's lease for `owner` unless a live run holds it, counting a new attempt.
pub async fn take_lease(
    pool: &PgPool,
    id: Uuid,
    owner: Uuid,
    ttl: Duration,
) -> Result<LeaseTake, sqlx::Error> {
    let taken: Option<i32> = sqlx::query_scalar(
        "update commands
         set lease_owner = $2, lease_until = now() + make_interval(secs => $3),
             attempts = attempts + 1, attempt_started_at = now()
         where id = $1 and state = 'in_progress'
           and (lease_until is null or lease_until < now())
         returning attempts",
    )
    .bind(id)
    .bind(owner)
    .bind(ttl.as_secs_f64())
    .fetch_optional(pool)
    .await?;
    if let Some(attempt) = taken {
        return Ok(LeaseTake::Taken {
            attempt: u32::try_from(attempt).unwrap_or(0),
        });
    }
    let in_progress: Option<bool> =
        sqlx::query_scalar("select state = 'in_progress' from commands where id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await?;
    Ok(match in_progress {
        Some(true) => LeaseTake::HeldByLiveRun,
        _ => LeaseTake::Ended,
    })
}

/// Extends `owner`'s lease. False when the lease is no longer its own (taken over after it
/// expired) or the command has ended: the run must stop writing.
pub async fn renew_lease(
    pool: &PgPool,
    id: Uuid,
    owner: Uuid,
    ttl: Duration,
) -> Result<bool, sqlx::Error> {
    let renewed = sqlx::query(
        "update commands set lease_until = now() + make_interval(secs => $3)
         where id = $1 and lease_owner = $2 and state = 'in_progress'",
    )
    .bind(id)
    .bind(owner)
    .bind(ttl.as_secs_f64())
    .execute(pool)
    .await?;
    Ok(renewed.rows_affected() == 1)
}

/// Gives the lease up without ending the command, so the next delivery may run at once.
pub async fn release_lease(pool: &PgPool, id: Uuid, owner: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update commands set lease_owner = null, lease_until = null
         where id = $1 and lease_owner = $2",
    )
    .bind(id)
    .bind(owner)
    .execute(pool)
    .await?;
    Ok(())
}

/// Locks the command for the rest of the caller's transaction if `owner` holds its lease:
/// a takeover waits until the transaction ends, so rows written under it are never mixed
/// with another run's.
pub async fn hold_lease(
    conn: &mut PgConnection,
    id: Uuid,
    owner: Uuid,
) -> Result<bool, sqlx::Error> {
    let held: Option<i32> = sqlx::query_scalar(
        "select 1 from commands
         where id = $1 and lease_owner = $2 and state = 'in_progress'
         for share",
    )
    .bind(id)
    .bind(owner)
    .fetch_optional(conn)
    .await?;
    Ok(held.is_some())
}

/// The update that ends a command, up to its fence condition.
macro_rules! finish_commands {
    () => {
        "update commands
         set state = $2, error_code = $3, error_detail = $4, finished_at = now(),
             progress = jsonb_set(progress, '{stage}', to_jsonb($5::text)),
             lease_owner = null, lease_until = null
         where id = $1 and state = 'in_progress' and "
    };
}

/// Who may end a command.
#[derive(Debug, Clone, Copy)]
pub enum Fence {
    /// The run holding this lease.
    Lease(Uuid),
    /// Anyone, when no live run holds a lease.
    Unleased,
    /// Anyone, when the current run began longer ago than this.
    Overdue(Duration),
}

/// Ends the command, under `fence`. Only an in-progress command ends, once; returns whether
/// this call ended it.
pub async fn finish(
    conn: &mut PgConnection,
    id: Uuid,
    fence: Fence,
    outcome: &Outcome,
) -> Result<bool, sqlx::Error> {
    let (state, code, detail, stage) = match outcome {
        Outcome::Successful => (CommandState::Successful, None, None, Stage::Done),
        Outcome::Error { code, detail } => (
            CommandState::Error,
            Some(*code),
            Some(detail.as_str()),
            Stage::Failed,
        ),
    };
    let sql = match fence {
        Fence::Lease(_) => concat!(finish_commands!(), "lease_owner = $6"),
        Fence::Unleased => concat!(
            finish_commands!(),
            "(lease_until is null or lease_until < now())"
        ),
        Fence::Overdue(_) => concat!(
            finish_commands!(),
            "attempt_started_at < now() - make_interval(secs => $6)"
        ),
    };
    let query = sqlx::query(sql)
        .bind(id)
        .bind(state)
        .bind(code)
        .bind(detail)
        .bind(stage);
    let query = match fence {
        Fence::Lease(owner) => query.bind(owner),
        Fence::Unleased => query,
        Fence::Overdue(age) => query.bind(age.as_secs_f64()),
    };
    let ended = query.execute(conn).await?;
    Ok(ended.rows_affected() == 1)
}

/// An in-progress command that may need the reaper.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Unfinished {
    pub id: Uuid,
    pub client_id: Uuid,
    pub session_id: Uuid,
    pub bank_id: String,
    /// No live run holds a lease.
    pub unleased: bool,
    /// The current run began longer ago than the overdue age.
    pub overdue: bool,
}

/// In-progress commands older than `grace` that no live run holds, and those whose run is
/// overdue.
pub async fn unfinished(
    pool: &PgPool,
    grace: Duration,
    overdue: Duration,
    limit: i64,
) -> Result<Vec<Unfinished>, sqlx::Error> {
    sqlx::query_as(
        "select c.id, c.client_id, c.session_id, s.bank_id,
                (c.lease_until is null or c.lease_until < now()) as unleased,
                coalesce(c.attempt_started_at < now() - make_interval(secs => $2), false) as overdue
         from commands c join sessions s on s.id = c.session_id
         where c.state = 'in_progress'
           and (((c.lease_until is null or c.lease_until < now())
                 and c.created_at < now() - make_interval(secs => $1))
                or c.attempt_started_at < now() - make_interval(secs => $2))
         order by c.created_at
         limit $3",
    )
    .bind(grace.as_secs_f64())
    .bind(overdue.as_secs_f64())
    .bind(limit)
    .fetch_all(pool)
    .await
}
