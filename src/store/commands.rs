//! Commands: the asynchronous jobs clients ask for, and the state clients poll. This table,
//! not the queue's, is the record of what happened.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool, types::Json};
use uuid::Uuid;

pub const DEFAULT_IMPORT: &str = "default_import";

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type, utoipa::ToSchema,
)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum CommandState {
    InProgress,
    Successful,
    Error,
}

/// Where a running import is, for clients to show something honest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    /// `queued`, `accounts` (owners, accounts and cards), `history` (transactions, window by
    /// window), `storing`, `finishing`, then `done` or `failed`.
    pub stage: String,
    /// History windows fetched so far, over all accounts and cards.
    pub windows_done: u32,
    pub windows_total: u32,
}

impl Progress {
    pub fn stage(stage: &str) -> Self {
        Self {
            stage: stage.into(),
            ..Self::default()
        }
    }
}

/// A command with the session facts clients see next to it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Command {
    pub id: Uuid,
    pub client_id: Uuid,
    pub kind: String,
    pub session_id: Uuid,
    pub state: CommandState,
    pub progress: Json<Progress>,
    pub since: NaiveDate,
    pub error_code: Option<String>,
    pub error_detail: Option<String>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub owner_external_id: String,
    pub bank_id: String,
}

/// The select list shared by the command queries (a macro so `concat!` keeps it a literal).
macro_rules! select_commands {
    () => {
        "select c.id, c.client_id, c.kind, c.session_id, c.state, c.progress, c.since,
        c.error_code, c.error_detail, c.created_at, c.finished_at, s.owner_external_id, s.bank_id
    from commands c join sessions s on s.id = c.session_id and s.client_id = c.client_id"
    };
}

pub struct NewCommand<'a> {
    pub id: Uuid,
    pub client_id: Uuid,
    pub session_id: Uuid,
    pub idempotency_key: Option<&'a str>,
    pub since: NaiveDate,
}

/// Records a Default Import as in progress. Fails with a unique violation when the session or
/// the idempotency key is already used.
pub async fn insert(conn: &mut PgConnection, command: &NewCommand<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into commands (id, client_id, kind, session_id, idempotency_key, state, progress, since)
         values ($1, $2, $3, $4, $5, 'in_progress', $6, $7)",
    )
    .bind(command.id)
    .bind(command.client_id)
    .bind(DEFAULT_IMPORT)
    .bind(command.session_id)
    .bind(command.idempotency_key)
    .bind(Json(Progress::stage("queued")))
    .bind(command.since)
    .execute(conn)
    .await?;
    Ok(())
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

/// The client's command made with this idempotency key, if any.
pub async fn find_by_idempotency_key(
    pool: &PgPool,
    client_id: Uuid,
    key: &str,
) -> Result<Option<Command>, sqlx::Error> {
    sqlx::query_as(concat!(
        select_commands!(),
        " where c.client_id = $1 and c.idempotency_key = $2"
    ))
    .bind(client_id)
    .bind(key)
    .fetch_optional(pool)
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

pub async fn set_progress(
    pool: &PgPool,
    client_id: Uuid,
    id: Uuid,
    progress: &Progress,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update commands set progress = $3 where id = $1 and client_id = $2 and state = 'in_progress'",
    )
    .bind(id)
    .bind(client_id)
    .bind(Json(progress))
    .execute(pool)
    .await?;
    Ok(())
}

/// Counts a new run of the command's import; returns how many runs there have been.
pub async fn start_attempt(pool: &PgPool, client_id: Uuid, id: Uuid) -> Result<i32, sqlx::Error> {
    sqlx::query_scalar(
        "update commands set attempts = attempts + 1 where id = $1 and client_id = $2
         returning attempts",
    )
    .bind(id)
    .bind(client_id)
    .fetch_one(pool)
    .await
}

/// Ends the command. Only an in-progress command can end, once.
pub async fn finish(
    conn: &mut PgConnection,
    client_id: Uuid,
    id: Uuid,
    outcome: &Outcome,
) -> Result<(), sqlx::Error> {
    let (state, code, detail) = match outcome {
        Outcome::Successful => (CommandState::Successful, None, None),
        Outcome::Error { code, detail } => {
            (CommandState::Error, Some(*code), Some(detail.as_str()))
        }
    };
    let stage = if state == CommandState::Successful {
        "done"
    } else {
        "failed"
    };
    sqlx::query(
        "update commands
         set state = $3, error_code = $4, error_detail = $5, finished_at = now(),
             progress = jsonb_set(progress, '{stage}', to_jsonb($6::text))
         where id = $1 and client_id = $2 and state = 'in_progress'",
    )
    .bind(id)
    .bind(client_id)
    .bind(state)
    .bind(code)
    .bind(detail)
    .bind(stage)
    .execute(conn)
    .await?;
    Ok(())
}

/// How a command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Successful,
    /// `code` is one of the stable command error codes in DESIGN.md.
    Error {
        code: &'static str,
        detail: String,
    },
}
