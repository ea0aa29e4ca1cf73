//! Sessions: what a completed sign-in yields, claimed by exactly one Default Import.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Session {
    pub id: Uuid,
    pub client_id: Uuid,
    pub bank_id: String,
    pub owner_external_id: String,
    /// The bank's consent or token, sealed ([`crate::sealing`]); none once erased.
    pub bank_secret: Option<Vec<u8>>,
    pub sca_at: DateTime<Utc>,
    pub max_import_date: Option<NaiveDate>,
    pub force_sca: bool,
    pub expires_at: DateTime<Utc>,
    pub claimed_at: Option<DateTime<Utc>>,
}

/// The session columns (a macro so `concat!` keeps queries literal).
macro_rules! session_columns {
    () => {
        "id, client_id, bank_id, owner_external_id, bank_secret, sca_at, max_import_date, \
         force_sca, expires_at, claimed_at"
    };
}

pub async fn insert(conn: &mut PgConnection, session: &Session) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into sessions (id, client_id, bank_id, owner_external_id, bank_secret, sca_at,
                               max_import_date, force_sca, expires_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(session.id)
    .bind(session.client_id)
    .bind(&session.bank_id)
    .bind(&session.owner_external_id)
    .bind(&session.bank_secret)
    .bind(session.sca_at)
    .bind(session.max_import_date)
    .bind(session.force_sca)
    .bind(session.expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// The client's session with this id; another client's is as absent as an unknown one.
pub async fn find_for_client(
    conn: &mut PgConnection,
    client_id: Uuid,
    id: Uuid,
) -> Result<Option<Session>, sqlx::Error> {
    sqlx::query_as(concat!(
        "select ",
        session_columns!(),
        " from sessions where id = $1 and client_id = $2 for update"
    ))
    .bind(id)
    .bind(client_id)
    .fetch_optional(conn)
    .await
}

/// Marks the session used. False when another import claimed it first.
pub async fn claim(
    conn: &mut PgConnection,
    client_id: Uuid,
    id: Uuid,
) -> Result<bool, sqlx::Error> {
    let claimed = sqlx::query(
        "update sessions set claimed_at = now()
         where id = $1 and client_id = $2 and claimed_at is null",
    )
    .bind(id)
    .bind(client_id)
    .execute(conn)
    .await?;
    Ok(claimed.rows_affected() == 1)
}

/// A bank secret that left its session and waits for its bank session to be ended.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ErasedSecret {
    pub session_id: Uuid,
    pub bank_id: String,
    /// Sealed ([`crate::sealing`]) with the session's id.
    pub sealed: Vec<u8>,
    pub sca_at: DateTime<Utc>,
}

/// How long the one who erased a secret has to end its bank session before the reaper may.
const ENDING_GRACE_SECS: f64 = 30.0;

/// Forgets the bank's consent or token: single access leaves no standing access behind.
/// In the same statement the secret moves to `bank_session_endings`, so its bank session is
/// ended even if this process dies first; returns it for the caller to end now.
pub async fn erase_secret(
    conn: &mut PgConnection,
    client_id: Uuid,
    id: Uuid,
) -> Result<Option<ErasedSecret>, sqlx::Error> {
    sqlx::query_as(
        "with erased as (
             select id, client_id, bank_id, bank_secret, sca_at from sessions
             where id = $1 and client_id = $2 and bank_secret is not null
             for update
         ), cleared as (
             update sessions s set bank_secret = null
             from erased where s.id = erased.id
             returning erased.id, erased.client_id, erased.bank_id, erased.bank_secret,
                       erased.sca_at
         ), recorded as (
             insert into bank_session_endings
                 (session_id, client_id, bank_id, sealed, sca_at, next_try_at)
             select id, client_id, bank_id, bank_secret, sca_at,
                    now() + make_interval(secs => $3)
             from cleared
         )
         select id as session_id, bank_id, bank_secret as sealed, sca_at from cleared",
    )
    .bind(id)
    .bind(client_id)
    .bind(ENDING_GRACE_SECS)
    .fetch_optional(conn)
    .await
}

/// A bank session whose ending is due, and how many rounds have tried it, this one included.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DueEnding {
    #[sqlx(flatten)]
    pub erased: ErasedSecret,
    pub tries: i32,
}

/// Takes up to `limit` bank sessions whose ending is due, holding each for `hold` so that no
/// other reaper takes it meanwhile, and counts the try.
pub async fn due_endings(
    pool: &PgPool,
    limit: i64,
    hold: std::time::Duration,
) -> Result<Vec<DueEnding>, sqlx::Error> {
    sqlx::query_as(
        "update bank_session_endings e
         set tries = e.tries + 1, next_try_at = now() + make_interval(secs => $2)
         where e.session_id in (
             select session_id from bank_session_endings
             where next_try_at <= now()
             order by next_try_at
             limit $1
             for update skip locked)
         returning e.session_id, e.bank_id, e.sealed, e.sca_at, e.tries",
    )
    .bind(limit)
    .bind(hold.as_secs_f64())
    .fetch_all(pool)
    .await
}

/// Forgets a bank session that has been ended (or that the bank will never end).
pub async fn ending_done(pool: &PgPool, session_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("delete from bank_session_endings where session_id = $1")
        .bind(session_id)
        .execute(pool)
        .await?;
    Ok(())
}

/// The client's session with this id, for the worker running the import that claimed it.
pub async fn find(
    pool: &PgPool,
    client_id: Uuid,
    id: Uuid,
) -> Result<Option<Session>, sqlx::Error> {
    sqlx::query_as(concat!(
        "select ",
        session_columns!(),
        " from sessions where id = $1 and client_id = $2"
    ))
    .bind(id)
    .bind(client_id)
    .fetch_optional(pool)
    .await
}

/// A session that expired unclaimed, with the bank secret just erased from it.
/// Erases the bank secrets of up to `limit` sessions that expired unclaimed longer than
/// `margin` ago, handing each to `bank_session_endings` in the same statement (as
/// [`erase_secret`] does), and returns them so their bank sessions can be ended now. Rows
/// another transaction holds (a Default Import deciding on it) are skipped, not waited for.
pub async fn erase_expired_secrets(
    pool: &PgPool,
    margin: Duration,
    limit: i64,
) -> Result<Vec<ErasedSecret>, sqlx::Error> {
    sqlx::query_as(
        "with erased as (
             select id, client_id, bank_id, bank_secret, sca_at from sessions
             where claimed_at is null and bank_secret is not null
               and expires_at <= now() - make_interval(secs => $1)
             order by expires_at limit $2
             for update skip locked
         ), cleared as (
             update sessions s set bank_secret = null
             from erased where s.id = erased.id
             returning erased.id, erased.client_id, erased.bank_id, erased.bank_secret,
                       erased.sca_at
         ), recorded as (
             insert into bank_session_endings
                 (session_id, client_id, bank_id, sealed, sca_at, next_try_at)
             select id, client_id, bank_id, bank_secret, sca_at,
                    now() + make_interval(secs => $3)
             from cleared
         )
         select id as session_id, bank_id, bank_secret as sealed, sca_at from cleared",
    )
    .bind(margin.as_secs_f64())
    .bind(limit)
    .bind(ENDING_GRACE_SECS)
    .fetch_all(pool)
    .await
}

/// Deletes up to `limit` sessions that expired longer than `kept` ago and that nothing refers
/// to any more, and whose secret is gone (so the bank's side was ended first).
pub async fn purge_inert(pool: &PgPool, kept: Duration, limit: i64) -> Result<u64, sqlx::Error> {
    let purged = sqlx::query(
        "delete from sessions where id in (
             select s.id from sessions s
             where s.bank_secret is null and s.expires_at <= now() - make_interval(secs => $1)
               and not exists (select 1 from commands c where c.session_id = s.id)
               and not exists (select 1 from signins i where i.session_id = s.id)
               and not exists (select 1 from bank_session_endings e where e.session_id = s.id)
             limit $2)",
    )
    .bind(kept.as_secs_f64())
    .bind(limit)
    .execute(pool)
    .await?;
    Ok(purged.rows_affected())
}
