//! Sign-ins in progress: the widget's or a redirection's way from picking a bank to a session.
//!
//! A step is answered by one request at a time: [`claim`] flips `answering` on, the bank is
//! called outside any transaction, and [`advance`], [`succeed`] or [`fail`] flip it off.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool, types::Json};
use uuid::Uuid;

use crate::model::input::AutoImportMonths;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Widget,
    Redirection,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Picking,
    InProgress,
    Succeeded,
    Failed,
}

/// The step the owner is answering, as far as the owner's browser may know it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Step {
    /// Approve at the bank's own page (`url`), which sends the owner back to our callback.
    Redirect { url: String },
    /// Answer these fields on an Aisle-hosted form.
    Form { fields: Vec<Field> },
    /// Choose one of `options` (an SCA method); the answer is `{name: value}`.
    Choose {
        name: String,
        label: String,
        options: Vec<Choice>,
    },
    /// Approve elsewhere (the bank's app) while the page shows `message` and polls, no more
    /// often than every `poll_after_ms`.
    #[serde(rename_all = "camelCase")]
    Wait { message: String, poll_after_ms: u64 },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Choice {
    pub value: String,
    pub label: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Field {
    pub name: String,
    pub label: String,
    /// `text`, `date`, `phone`, `secret` or `oneTimeCode`.
    pub kind: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SignIn {
    pub id: Uuid,
    /// What it was opened with; unchanged for its whole life.
    #[sqlx(flatten)]
    pub opened: NewSignIn,
    pub status: Status,
    pub bank_id: Option<String>,
    pub step: Option<Json<Step>>,
    pub pending_sealed: Option<Vec<u8>>,
    pub callback_token: Option<String>,
    pub session_id: Option<Uuid>,
    pub error_code: Option<String>,
    pub error_detail: Option<String>,
}

impl SignIn {
    pub fn expired(&self, now: DateTime<Utc>) -> bool {
        self.opened.expires_at <= now
    }
}

/// What a new sign-in starts from.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct NewSignIn {
    pub client_id: Uuid,
    pub channel: Channel,
    pub owner_external_id: String,
    pub parent_origin: Option<String>,
    pub widget_state: Option<String>,
    pub redirect_uri: Option<String>,
    pub locale: String,
    pub country: Option<String>,
    pub preselected_bank: Option<String>,
    pub max_import_date: Option<NaiveDate>,
    pub force_sca: bool,
    /// The months the import this sign-in starts by itself fetches; none starts when `None`.
    pub auto_import_months: Option<AutoImportMonths>,
    pub expires_at: DateTime<Utc>,
}

/// The sign-in columns (a macro so `concat!` keeps queries literal).
macro_rules! signin_columns {
    () => {
        "id, client_id, channel, owner_external_id, parent_origin, widget_state, redirect_uri, \
         locale, country, preselected_bank, max_import_date, force_sca, status, bank_id, step, \
         pending_sealed, callback_token, session_id, error_code, error_detail, expires_at, \
         auto_import_months"
    };
}

pub async fn insert(pool: &PgPool, new: &NewSignIn) -> Result<SignIn, sqlx::Error> {
    sqlx::query_as(concat!(
        "insert into signins (id, client_id, channel, owner_external_id, parent_origin,
                              widget_state, redirect_uri, locale, country, preselected_bank,
                              max_import_date, force_sca, status, expires_at,
                              auto_import_months)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'picking', $13, $14)
         returning ",
        signin_columns!()
    ))
    // v4: the id is the owner's capability, so it must be unguessable.
    .bind(Uuid::new_v4())
    .bind(new.client_id)
    .bind(new.channel)
    .bind(&new.owner_external_id)
    .bind(&new.parent_origin)
    .bind(&new.widget_state)
    .bind(&new.redirect_uri)
    .bind(&new.locale)
    .bind(&new.country)
    .bind(&new.preselected_bank)
    .bind(new.max_import_date)
    .bind(new.force_sca)
    .bind(new.expires_at)
    .bind(new.auto_import_months)
    .fetch_one(pool)
    .await
}

/// The sign-in with this id, whoever it belongs to: the id itself is the owner's capability.
pub async fn find(pool: &PgPool, id: Uuid) -> Result<Option<SignIn>, sqlx::Error> {
    sqlx::query_as(concat!(
        "select ",
        signin_columns!(),
        " from signins where id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// The client's sign-in with this id; another client's is as absent as an unknown one.
pub async fn find_for_client(
    pool: &PgPool,
    client_id: Uuid,
    id: Uuid,
) -> Result<Option<SignIn>, sqlx::Error> {
    sqlx::query_as(concat!(
        "select ",
        signin_columns!(),
        " from signins where id = $1 and client_id = $2"
    ))
    .bind(id)
    .bind(client_id)
    .fetch_optional(pool)
    .await
}

/// The sign-in the bank sent the owner back to.
pub async fn find_by_callback_token(
    pool: &PgPool,
    token: &str,
) -> Result<Option<SignIn>, sqlx::Error> {
    sqlx::query_as(concat!(
        "select ",
        signin_columns!(),
        " from signins where callback_token = $1"
    ))
    .bind(token)
    .fetch_optional(pool)
    .await
}

/// Which state a claim may start from.
pub enum ClaimFrom {
    /// Picking a bank, or leaving the current one's step for another bank.
    AnyOpen,
    /// Answering the current step.
    Step,
}

/// Takes the turn to call the bank for this sign-in: none when it ended, expired, or another
/// request holds the turn.
pub async fn claim(
    pool: &PgPool,
    id: Uuid,
    from: ClaimFrom,
) -> Result<Option<SignIn>, sqlx::Error> {
    let statuses: &[&str] = match from {
        ClaimFrom::AnyOpen => &["picking", "in_progress"],
        ClaimFrom::Step => &["in_progress"],
    };
    sqlx::query_as(concat!(
        "update signins set answering = true
         where id = $1 and status = any($2) and not answering and expires_at > now()
         returning ",
        signin_columns!()
    ))
    .bind(id)
    .bind(statuses)
    .fetch_optional(pool)
    .await
}

/// The next step at `bank_id`, answered through `callback_token`; gives the turn back.
pub async fn advance(
    pool: &PgPool,
    id: Uuid,
    bank_id: &str,
    step: &Step,
    pending_sealed: &[u8],
    callback_token: &str,
) -> Result<SignIn, sqlx::Error> {
    sqlx::query_as(concat!(
        "update signins set status = 'in_progress', bank_id = $2, step = $3,
                            pending_sealed = $4, callback_token = $5, answering = false
         where id = $1
         returning ",
        signin_columns!()
    ))
    .bind(id)
    .bind(bank_id)
    .bind(Json(step))
    .bind(pending_sealed)
    .bind(callback_token)
    .fetch_one(pool)
    .await
}

/// Back to the bank list; gives the turn back.
pub async fn reopen(pool: &PgPool, id: Uuid) -> Result<SignIn, sqlx::Error> {
    sqlx::query_as(concat!(
        "update signins set status = 'picking', bank_id = null, step = null,
                            pending_sealed = null, callback_token = null, answering = false
         where id = $1
         returning ",
        signin_columns!()
    ))
    .bind(id)
    .fetch_one(pool)
    .await
}

/// The sign-in ended with `session_id` at `bank_id`; its pending state is forgotten.
pub async fn succeed(
    conn: &mut PgConnection,
    id: Uuid,
    bank_id: &str,
    session_id: Uuid,
) -> Result<SignIn, sqlx::Error> {
    sqlx::query_as(concat!(
        "update signins set status = 'succeeded', bank_id = $2, session_id = $3, step = null,
                            pending_sealed = null, answering = false
         where id = $1
         returning ",
        signin_columns!()
    ))
    .bind(id)
    .bind(bank_id)
    .bind(session_id)
    .fetch_one(conn)
    .await
}

/// The sign-in ended with an error; its pending state is forgotten.
pub async fn fail(
    conn: impl sqlx::PgExecutor<'_>,
    id: Uuid,
    bank_id: Option<&str>,
    code: &str,
    detail: &str,
) -> Result<SignIn, sqlx::Error> {
    sqlx::query_as(concat!(
        "update signins set status = 'failed', error_code = $2, error_detail = $3, step = null,
                            pending_sealed = null, answering = false,
                            bank_id = coalesce($4, bank_id)
         where id = $1
         returning ",
        signin_columns!()
    ))
    .bind(id)
    .bind(code)
    .bind(detail)
    .bind(bank_id)
    .fetch_one(conn)
    .await
}

/// Gives the turn back, the step unchanged.
pub async fn release(pool: &PgPool, id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("update signins set answering = false where id = $1")
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

/// Erases the connector's pending state (PKCE verifiers, consent ids) of sign-ins that expired
/// without finishing. A sign-in a request is answering is left to the next pass.
pub async fn erase_expired_pending(pool: &PgPool) -> Result<u64, sqlx::Error> {
    let erased = sqlx::query(
        "update signins set pending_sealed = null
         where pending_sealed is not null and not answering and expires_at <= now()",
    )
    .execute(pool)
    .await?;
    Ok(erased.rows_affected())
}

/// Deletes up to `limit` sign-ins that expired longer than `kept` ago.
pub async fn purge_inert(pool: &PgPool, kept: Duration, limit: i64) -> Result<u64, sqlx::Error> {
    let purged = sqlx::query(
        "delete from signins where id in (
             select id from signins
             where not answering and expires_at <= now() - make_interval(secs => $1)
             limit $2)",
    )
    .bind(kept.as_secs_f64())
    .bind(limit)
    .execute(pool)
    .await?;
    Ok(purged.rows_affected())
}
