//! The console's staff and their signed-in browsers. Every query that reads or changes a user
//! on a staff member's behalf names that member's client.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, PgPool};
use uuid::Uuid;

use crate::model::staff::Role;

/// A staff member with what signing in checks.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StaffUser {
    pub id: Uuid,
    pub client_id: Uuid,
    pub login: String,
    pub role: Role,
    /// Absent until the person has used their setup link.
    pub password_hash: Option<String>,
    pub totp_secret_sealed: Vec<u8>,
    pub totp_last_step: Option<i64>,
    pub locked_until: Option<DateTime<Utc>>,
    pub setup_expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

macro_rules! user_columns {
    () => {
        "id, client_id, login, role, password_hash, totp_secret_sealed, totp_last_step,
         locked_until, setup_expires_at, created_at"
    };
}

/// A user about to be invited: the caller seals the TOTP secret with the id it chose.
pub struct NewStaffUser<'a> {
    pub id: Uuid,
    pub client_id: Uuid,
    pub login: &'a str,
    pub role: Role,
    pub totp_secret_sealed: &'a [u8],
    pub setup_token_hash: &'a [u8],
    pub setup_expires_at: DateTime<Utc>,
}

/// Invites a user. Fails with a unique violation when the login is taken.
pub async fn insert(
    executor: impl PgExecutor<'_>,
    user: &NewStaffUser<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into staff_users (id, client_id, login, role, totp_secret_sealed,
                                  setup_token_hash, setup_expires_at)
         values ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(user.id)
    .bind(user.client_id)
    .bind(user.login)
    .bind(user.role)
    .bind(user.totp_secret_sealed)
    .bind(user.setup_token_hash)
    .bind(user.setup_expires_at)
    .execute(executor)
    .await?;
    Ok(())
}

/// The user whose setup link this is, while the link is unused and unexpired.
pub async fn find_by_setup_token(
    pool: &PgPool,
    token_hash: &[u8],
) -> Result<Option<StaffUser>, sqlx::Error> {
    sqlx::query_as(concat!(
        "select ",
        user_columns!(),
        " from staff_users where setup_token_hash = $1 and setup_expires_at > now()"
    ))
    .bind(token_hash)
    .fetch_optional(pool)
    .await
}

/// Sets the password of the user whose setup link this still is, uses up the link and the
/// TOTP step that proved the enrolment. False when the link was used meanwhile.
pub async fn complete_setup(
    pool: &PgPool,
    token_hash: &[u8],
    password_hash: &str,
    totp_step: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "update staff_users
         set password_hash = $2, totp_last_step = $3, setup_token_hash = null,
             setup_expires_at = null, failed_attempts = 0, locked_until = null
         where setup_token_hash = $1 and setup_expires_at > now()",
    )
    .bind(token_hash)
    .bind(password_hash)
    .bind(totp_step)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn find_by_login(pool: &PgPool, login: &str) -> Result<Option<StaffUser>, sqlx::Error> {
    sqlx::query_as(concat!(
        "select ",
        user_columns!(),
        " from staff_users where login = $1"
    ))
    .bind(login)
    .fetch_optional(pool)
    .await
}

/// Counts a wrong password or code; the `max_failures`-th in a row locks the account for
/// `lock`. Whether this failure locked it.
pub async fn record_failure(
    pool: &PgPool,
    id: Uuid,
    max_failures: i32,
    lock: Duration,
) -> Result<bool, sqlx::Error> {
    let locked: Option<bool> = sqlx::query_scalar(
        "update staff_users
         set failed_attempts = case when failed_attempts + 1 >= $2 then 0
                                    else failed_attempts + 1 end,
             locked_until = case when failed_attempts + 1 >= $2
                                 then now() + make_interval(secs => $3)
                                 else locked_until end
         where id = $1
         returning coalesce(locked_until > now(), false)",
    )
    .bind(id)
    .bind(max_failures)
    .bind(lock.as_secs_f64())
    .fetch_optional(pool)
    .await?;
    Ok(locked.unwrap_or(false))
}

/// Accepts a sign-in whose code was for TOTP step `step`: only if no later or equal step was
/// accepted before (a code is good once) and the account is not locked. Clears the failures.
pub async fn accept_sign_in(pool: &PgPool, id: Uuid, step: i64) -> Result<bool, sqlx::Error> {
    let accepted = sqlx::query(
        "update staff_users set totp_last_step = $2, failed_attempts = 0
         where id = $1 and password_hash is not null
           and (totp_last_step is null or totp_last_step < $2)
           and (locked_until is null or locked_until <= now())",
    )
    .bind(id)
    .bind(step)
    .execute(pool)
    .await?;
    Ok(accepted.rows_affected() == 1)
}

/// The client's staff, oldest first.
pub async fn users_of_client(
    pool: &PgPool,
    client_id: Uuid,
) -> Result<Vec<StaffUser>, sqlx::Error> {
    sqlx::query_as(concat!(
        "select ",
        user_columns!(),
        " from staff_users where client_id = $1 order by created_at, id"
    ))
    .bind(client_id)
    .fetch_all(pool)
    .await
}

/// Changes a user's role, unless that would leave the client with no admin. False when the
/// client has no such user or it would.
pub async fn set_role(
    pool: &PgPool,
    client_id: Uuid,
    id: Uuid,
    role: Role,
) -> Result<bool, sqlx::Error> {
    let changed = sqlx::query(
        "update staff_users set role = $3
         where id = $1 and client_id = $2
           and ($3 = 'admin' or exists (
               select 1 from staff_users other
               where other.client_id = $2 and other.id <> $1 and other.role = 'admin'))",
    )
    .bind(id)
    .bind(client_id)
    .bind(role)
    .execute(pool)
    .await?;
    Ok(changed.rows_affected() == 1)
}

/// Removes a user (their sessions go with them), unless they are the client's last admin.
pub async fn remove(pool: &PgPool, client_id: Uuid, id: Uuid) -> Result<bool, sqlx::Error> {
    let removed = sqlx::query(
        "delete from staff_users
         where id = $1 and client_id = $2
           and (role <> 'admin' or exists (
               select 1 from staff_users other
               where other.client_id = $2 and other.id <> $1 and other.role = 'admin'))",
    )
    .bind(id)
    .bind(client_id)
    .execute(pool)
    .await?;
    Ok(removed.rows_affected() == 1)
}

/// The staff member a live console session belongs to.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionUser {
    pub user_id: Uuid,
    pub client_id: Uuid,
    pub login: String,
    pub role: Role,
    pub client_name: String,
}

/// Opens a session for `user`, ending at `absolute` at the latest.
pub async fn insert_session(
    pool: &PgPool,
    id_hash: &[u8],
    user: &StaffUser,
    absolute: Duration,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into console_sessions (id_hash, user_id, client_id, expires_at)
         values ($1, $2, $3, now() + make_interval(secs => $4))",
    )
    .bind(id_hash)
    .bind(user.id)
    .bind(user.client_id)
    .bind(absolute.as_secs_f64())
    .execute(pool)
    .await?;
    Ok(())
}

/// The session's user if the session is live (used within `idle` and before its absolute
/// expiry), marking it used now.
pub async fn touch_session(
    pool: &PgPool,
    id_hash: &[u8],
    idle: Duration,
) -> Result<Option<SessionUser>, sqlx::Error> {
    sqlx::query_as(
        "with live as (
             update console_sessions set last_seen_at = now()
             where id_hash = $1 and expires_at > now()
               and last_seen_at > now() - make_interval(secs => $2)
             returning user_id, client_id)
         select u.id as user_id, u.client_id, u.login, u.role, c.name as client_name
         from live join staff_users u on u.id = live.user_id and u.client_id = live.client_id
         join clients c on c.id = u.client_id",
    )
    .bind(id_hash)
    .bind(idle.as_secs_f64())
    .fetch_optional(pool)
    .await
}

pub async fn delete_session(pool: &PgPool, id_hash: &[u8]) -> Result<(), sqlx::Error> {
    sqlx::query("delete from console_sessions where id_hash = $1")
        .bind(id_hash)
        .execute(pool)
        .await?;
    Ok(())
}
