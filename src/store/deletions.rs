//! Deleting a command's imported rows. The command row stays and records when and why its
//! data went; the callers (`commands::deletion`) lock the commands first, so a deletion never
//! races another one, or the retention job, on the same command.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::results::Scope;
use crate::model::{
    command::CommandState,
    deletion::{DeletedCounts, DeletionReason},
};

/// A command whose data may be deleted, locked for the caller's transaction.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LockedCommand {
    pub id: Uuid,
    pub client_id: Uuid,
    pub state: CommandState,
    pub owner_external_id: String,
    pub bank_id: String,
    pub data_deleted_at: Option<DateTime<Utc>>,
}

impl LockedCommand {
    pub fn scope(&self) -> Scope {
        Scope {
            client_id: self.client_id,
            command_id: self.id,
        }
    }
}

/// The select list, up to the lock (a macro so `concat!` keeps queries literal).
macro_rules! select_locked {
    () => {
        "select c.id, c.client_id, c.state, s.owner_external_id, s.bank_id, c.data_deleted_at
         from commands c join sessions s on s.id = c.session_id and s.client_id = c.client_id "
    };
}

/// The client's command, locked until the transaction ends.
pub async fn lock_command(
    conn: &mut PgConnection,
    client_id: Uuid,
    id: Uuid,
) -> Result<Option<LockedCommand>, sqlx::Error> {
    sqlx::query_as(concat!(
        select_locked!(),
        "where c.id = $1 and c.client_id = $2 for update of c"
    ))
    .bind(id)
    .bind(client_id)
    .fetch_optional(conn)
    .await
}

/// Every command of the client's owner, locked until the transaction ends (in id order, so
/// two deletions of one owner never deadlock).
pub async fn lock_owner_commands(
    conn: &mut PgConnection,
    client_id: Uuid,
    owner_external_id: &str,
) -> Result<Vec<LockedCommand>, sqlx::Error> {
    sqlx::query_as(concat!(
        select_locked!(),
        "where c.client_id = $1 and s.owner_external_id = $2 order by c.id for update of c"
    ))
    .bind(client_id)
    .bind(owner_external_id)
    .fetch_all(conn)
    .await
}

/// One command whose client's retention ended by `now` and whose result is still kept, locked
/// until the transaction ends. Commands another transaction holds are skipped, so retention
/// jobs in N processes each take a different one.
pub async fn lock_next_expired(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
) -> Result<Option<LockedCommand>, sqlx::Error> {
    sqlx::query_as(concat!(
        select_locked!(),
        "join clients cl on cl.id = c.client_id
         where c.finished_at is not null and c.data_deleted_at is null
           -- The commands that present a result (`CommandErrorCode::keeps_result`): the others
           -- stored nothing.
           and (c.state = 'successful' or c.error_code = 'BankRateLimited')
           -- Written as a bound on `finished_at`, so each client's due commands are a range of
           -- the `commands_data_kept` index.
           and c.finished_at <= $1 - make_interval(secs => cl.retention_seconds)
         limit 1
         for update of c skip locked"
    ))
    .bind(now)
    .fetch_optional(conn)
    .await
}

/// Deletes every row the command's import stored and counts them by kind.
pub async fn delete_rows(
    conn: &mut PgConnection,
    scope: Scope,
) -> Result<DeletedCounts, sqlx::Error> {
    // Children first, so that each kind is counted rather than cascaded away; each through
    // the parent's index.
    let mut deleted = DeletedCounts {
        card_transactions: delete(
            conn,
            scope,
            "delete from card_transactions where card_id in (
                 select id from cards where command_id = $1 and client_id = $2)",
        )
        .await?,
        transactions: delete(
            conn,
            scope,
            "delete from transactions where account_id in (
                 select id from accounts where command_id = $1 and client_id = $2)",
        )
        .await?,
        balances: delete(
            conn,
            scope,
            "delete from balances where account_id in (
                 select id from accounts where command_id = $1 and client_id = $2)",
        )
        .await?,
        ..DeletedCounts::default()
    };
    deleted.balances += delete(
        conn,
        scope,
        "delete from balances where card_id in (
             select id from cards where command_id = $1 and client_id = $2)",
    )
    .await?;
    deleted.owners = delete(
        conn,
        scope,
        "delete from owners where command_id = $1 and client_id = $2",
    )
    .await?;
    deleted.accounts = delete(
        conn,
        scope,
        "delete from accounts where command_id = $1 and client_id = $2",
    )
    .await?;
    deleted.cards = delete(
        conn,
        scope,
        "delete from cards where command_id = $1 and client_id = $2",
    )
    .await?;
    Ok(deleted)
}

async fn delete(
    conn: &mut PgConnection,
    scope: Scope,
    statement: &'static str,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(statement)
        .bind(scope.command_id)
        .bind(scope.client_id)
        .execute(conn)
        .await?;
    Ok(done.rows_affected())
}

/// Records that the command's data was deleted at `at`, for `reason`.
pub async fn mark_deleted(
    conn: &mut PgConnection,
    scope: Scope,
    at: DateTime<Utc>,
    reason: DeletionReason,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update commands set data_deleted_at = $3, data_deleted_by = $4
         where id = $1 and client_id = $2",
    )
    .bind(scope.command_id)
    .bind(scope.client_id)
    .bind(at)
    .bind(reason)
    .execute(conn)
    .await?;
    Ok(())
}

/// Whether the command's data has been deleted.
pub async fn data_deleted(pool: &PgPool, scope: Scope) -> Result<bool, sqlx::Error> {
    let deleted: Option<bool> = sqlx::query_scalar(
        "select data_deleted_at is not null from commands where id = $1 and client_id = $2",
    )
    .bind(scope.command_id)
    .bind(scope.client_id)
    .fetch_optional(pool)
    .await?;
    Ok(deleted.unwrap_or(true))
}
