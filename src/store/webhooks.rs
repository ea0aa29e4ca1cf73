//! Webhook endpoints, the outbox of events, their deliveries and the attempt log. Every query
//! a client's request makes filters by that client; the delivery worker acts for all clients.
//! The transitions of a delivery are decided in [`crate::webhooks::delivery`]; these are its
//! statements.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool, types::Json};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::webhooks::EventType;

/// Why an endpoint no longer receives deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type, ToSchema)]
#[sqlx(type_name = "text")]
pub enum DisabledReason {
    /// It answered `410 Gone`.
    Gone,
    /// Its attempts kept failing for longer than `webhooks.disable_after`.
    KeptFailing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type, ToSchema)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Waiting for its next attempt (or in one).
    Pending,
    /// An attempt was answered with a 2xx.
    Succeeded,
    /// Out of attempts, or its endpoint was disabled.
    Failed,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Endpoint {
    pub id: Uuid,
    pub client_id: Uuid,
    pub url: String,
    pub events: Vec<EventType>,
    pub created_at: DateTime<Utc>,
    pub failing_since: Option<DateTime<Utc>>,
    pub disabled_at: Option<DateTime<Utc>>,
    pub disabled_reason: Option<DisabledReason>,
    pub disabled_detail: Option<String>,
}

macro_rules! endpoint_columns {
    () => {
        "id, client_id, url, events, created_at, failing_since, disabled_at, disabled_reason, \
         disabled_detail"
    };
}

pub struct NewEndpoint<'a> {
    pub id: Uuid,
    pub client_id: Uuid,
    pub url: &'a str,
    pub events: &'a [EventType],
    pub secret_sealed: &'a [u8],
}

pub async fn insert_endpoint(
    pool: &PgPool,
    new: &NewEndpoint<'_>,
) -> Result<Endpoint, sqlx::Error> {
    sqlx::query_as(concat!(
        "insert into webhook_endpoints (id, client_id, url, events, secret_sealed)
         values ($1, $2, $3, $4, $5)
         returning ",
        endpoint_columns!()
    ))
    .bind(new.id)
    .bind(new.client_id)
    .bind(new.url)
    .bind(new.events)
    .bind(new.secret_sealed)
    .fetch_one(pool)
    .await
}

/// The client's endpoints, oldest first.
pub async fn endpoints_for_client(
    pool: &PgPool,
    client_id: Uuid,
) -> Result<Vec<Endpoint>, sqlx::Error> {
    sqlx::query_as(concat!(
        "select ",
        endpoint_columns!(),
        " from webhook_endpoints where client_id = $1 order by created_at, id"
    ))
    .bind(client_id)
    .fetch_all(pool)
    .await
}

/// The client's endpoint with this id; another client's is as absent as an unknown one.
pub async fn find_endpoint(
    pool: &PgPool,
    client_id: Uuid,
    id: Uuid,
) -> Result<Option<Endpoint>, sqlx::Error> {
    sqlx::query_as(concat!(
        "select ",
        endpoint_columns!(),
        " from webhook_endpoints where id = $1 and client_id = $2"
    ))
    .bind(id)
    .bind(client_id)
    .fetch_optional(pool)
    .await
}

/// Deletes the endpoint with its deliveries and their log. False when the client has no such
/// endpoint.
pub async fn delete_endpoint(
    pool: &PgPool,
    client_id: Uuid,
    id: Uuid,
) -> Result<bool, sqlx::Error> {
    let deleted = sqlx::query("delete from webhook_endpoints where id = $1 and client_id = $2")
        .bind(id)
        .bind(client_id)
        .execute(pool)
        .await?;
    Ok(deleted.rows_affected() == 1)
}

/// Whether any of the client's enabled endpoints subscribes to `event`.
pub async fn has_subscriber(
    conn: &mut PgConnection,
    client_id: Uuid,
    event: EventType,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "select exists (select 1 from webhook_endpoints
                        where client_id = $1 and disabled_at is null and $2 = any(events))",
    )
    .bind(client_id)
    .bind(event)
    .fetch_one(conn)
    .await
}

/// The client's own id for the owner a session belongs to.
pub async fn owner_of_session(
    conn: &mut PgConnection,
    client_id: Uuid,
    session_id: Uuid,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("select owner_external_id from sessions where id = $1 and client_id = $2")
        .bind(session_id)
        .bind(client_id)
        .fetch_optional(conn)
        .await
}

/// Writes the event and one due delivery to each of the client's enabled endpoints that
/// subscribes to it. Returns the number of deliveries.
pub async fn insert_event(
    conn: &mut PgConnection,
    id: Uuid,
    client_id: Uuid,
    event: EventType,
    payload: &serde_json::Value,
) -> Result<u64, sqlx::Error> {
    sqlx::query(
        "insert into webhook_events (id, client_id, type, payload) values ($1, $2, $3, $4)",
    )
    .bind(id)
    .bind(client_id)
    .bind(event)
    .bind(Json(payload))
    .execute(&mut *conn)
    .await?;
    let fanned_out = sqlx::query(
        "insert into webhook_deliveries (endpoint_id, event_id)
         select id, $1 from webhook_endpoints
         where client_id = $2 and disabled_at is null and $3 = any(events)",
    )
    .bind(id)
    .bind(client_id)
    .bind(event)
    .execute(conn)
    .await?;
    Ok(fanned_out.rows_affected())
}

/// A delivery claimed for one attempt.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Claimed {
    pub endpoint_id: Uuid,
    pub event_id: Uuid,
    /// This attempt's number, from 1; the fence its outcome is written under.
    pub attempt: i32,
    pub url: String,
    pub secret_sealed: Vec<u8>,
    pub payload: Json<serde_json::Value>,
}

/// Claims up to `limit` due deliveries of enabled endpoints for one attempt each. A claim
/// lapses after `lease`: a worker that dies mid-attempt leaves the delivery due again then.
/// `skip locked` lets any number of workers claim side by side, each delivery once.
pub async fn claim_due(
    pool: &PgPool,
    limit: i64,
    lease: Duration,
) -> Result<Vec<Claimed>, sqlx::Error> {
    sqlx::query_as(
        "update webhook_deliveries d
         set attempts = d.attempts + 1, next_attempt_at = now() + make_interval(secs => $2)
         from (select due.endpoint_id, due.event_id
               from webhook_deliveries due
               join webhook_endpoints e on e.id = due.endpoint_id
               where due.state = 'pending' and due.next_attempt_at <= now()
                 and e.disabled_at is null
               order by due.next_attempt_at
               limit $1
               for update of due skip locked) due,
              webhook_endpoints e, webhook_events ev
         where d.endpoint_id = due.endpoint_id and d.event_id = due.event_id
           and e.id = d.endpoint_id and ev.id = d.event_id
         returning d.endpoint_id, d.event_id, d.attempts as attempt, e.url, e.secret_sealed,
                   ev.payload",
    )
    .bind(limit)
    .bind(lease.as_secs_f64())
    .fetch_all(pool)
    .await
}

/// One attempt, for the log.
pub struct AttemptLog<'a> {
    pub endpoint_id: Uuid,
    pub event_id: Uuid,
    pub attempt: i32,
    pub attempted_at: DateTime<Utc>,
    pub status: Option<u16>,
    pub latency: Duration,
    pub response_snippet: Option<&'a str>,
    pub error: Option<&'a str>,
}

pub async fn insert_attempt(
    conn: &mut PgConnection,
    log: &AttemptLog<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into webhook_attempts
             (endpoint_id, event_id, attempt, attempted_at, status, latency_ms, response_snippet, error)
         values ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(log.endpoint_id)
    .bind(log.event_id)
    .bind(log.attempt)
    .bind(log.attempted_at)
    .bind(log.status.map(|s| i16::try_from(s).unwrap_or(i16::MAX)))
    .bind(i32::try_from(log.latency.as_millis()).unwrap_or(i32::MAX))
    .bind(log.response_snippet)
    .bind(log.error)
    .execute(conn)
    .await?;
    Ok(())
}

/// Sets the delivery's state after attempt `attempt`, if no later claim took it over.
/// Returns whether it did.
pub async fn settle_delivery(
    conn: &mut PgConnection,
    endpoint_id: Uuid,
    event_id: Uuid,
    attempt: i32,
    state: DeliveryState,
    next_attempt_at: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let settled = sqlx::query(
        "update webhook_deliveries set state = $4, next_attempt_at = $5
         where endpoint_id = $1 and event_id = $2 and attempts = $3 and state = 'pending'",
    )
    .bind(endpoint_id)
    .bind(event_id)
    .bind(attempt)
    .bind(state)
    .bind(next_attempt_at)
    .execute(conn)
    .await?;
    Ok(settled.rows_affected() == 1)
}

/// The endpoint answered: it is no longer failing.
pub async fn endpoint_answered(conn: &mut PgConnection, id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("update webhook_endpoints set failing_since = null where id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// The endpoint failed an attempt. Returns whether it has now been failing for longer than
/// `disable_after`.
pub async fn endpoint_failed(
    conn: &mut PgConnection,
    id: Uuid,
    disable_after: Duration,
) -> Result<bool, sqlx::Error> {
    let kept_failing: Option<bool> = sqlx::query_scalar(
        "update webhook_endpoints set failing_since = coalesce(failing_since, now())
         where id = $1
         returning failing_since <= now() - make_interval(secs => $2)",
    )
    .bind(id)
    .bind(disable_after.as_secs_f64())
    .fetch_optional(conn)
    .await?;
    Ok(kept_failing.unwrap_or(false))
}

/// Disables the endpoint, and fails its pending deliveries: nothing more is sent to it.
pub async fn disable_endpoint(
    conn: &mut PgConnection,
    id: Uuid,
    reason: DisabledReason,
    detail: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update webhook_endpoints
         set disabled_at = now(), disabled_reason = $2, disabled_detail = $3
         where id = $1 and disabled_at is null",
    )
    .bind(id)
    .bind(reason)
    .bind(detail)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "update webhook_deliveries set state = 'failed'
         where endpoint_id = $1 and state = 'pending'",
    )
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// A delivery as the client's log shows it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Delivery {
    pub event_id: Uuid,
    pub event_type: EventType,
    pub state: DeliveryState,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

/// The endpoint's latest deliveries, newest first.
pub async fn deliveries(
    pool: &PgPool,
    client_id: Uuid,
    endpoint_id: Uuid,
    limit: i64,
) -> Result<Vec<Delivery>, sqlx::Error> {
    sqlx::query_as(
        "select d.event_id, ev.type as event_type, d.state, d.attempts, d.next_attempt_at,
                d.created_at
         from webhook_deliveries d join webhook_events ev on ev.id = d.event_id
         where d.endpoint_id = $2 and ev.client_id = $1
         order by d.created_at desc, d.event_id desc
         limit $3",
    )
    .bind(client_id)
    .bind(endpoint_id)
    .bind(limit)
    .fetch_all(pool)
    .await
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Attempt {
    pub event_id: Uuid,
    pub attempt: i32,
    pub attempted_at: DateTime<Utc>,
    pub status: Option<i16>,
    pub latency_ms: i32,
    pub response_snippet: Option<String>,
    pub error: Option<String>,
}

/// The logged attempts of these deliveries of the endpoint, in order.
pub async fn attempts(
    pool: &PgPool,
    endpoint_id: Uuid,
    event_ids: &[Uuid],
) -> Result<Vec<Attempt>, sqlx::Error> {
    sqlx::query_as(
        "select event_id, attempt, attempted_at, status, latency_ms, response_snippet, error
         from webhook_attempts
         where endpoint_id = $1 and event_id = any($2)
         order by event_id, attempt, id",
    )
    .bind(endpoint_id)
    .bind(event_ids)
    .fetch_all(pool)
    .await
}

/// Makes the delivery due now, whatever its state. The schedule resumes from its attempt
/// count: a delivery that had used all its attempts gets one more. False when the enabled
/// endpoint has no such delivery.
pub async fn make_due(
    pool: &PgPool,
    client_id: Uuid,
    endpoint_id: Uuid,
    event_id: Uuid,
) -> Result<bool, sqlx::Error> {
    let updated = sqlx::query(
        "update webhook_deliveries d set state = 'pending', next_attempt_at = now()
         from webhook_endpoints e
         where d.endpoint_id = $1 and d.event_id = $2 and e.id = d.endpoint_id
           and e.client_id = $3 and e.disabled_at is null",
    )
    .bind(endpoint_id)
    .bind(event_id)
    .bind(client_id)
    .execute(pool)
    .await?;
    Ok(updated.rows_affected() == 1)
}
