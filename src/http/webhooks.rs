//! Webhook endpoints: a client registers where Aisle posts its signed events, reads each
//! endpoint's delivery log, and redelivers an event by hand.

use std::collections::HashMap;

use axum::{
    Json, Router,
    extract::{Path, Query, State},
    http::StatusCode,
    routing::{get, post},
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{auth::Authenticated, error::ApiError, json::AppJson};
use crate::{
    state::AppState,
    store::webhooks::{self as store, DeliveryState, DisabledReason, Endpoint},
    webhooks::{
        EventType,
        endpoints::{self, EndpointError, WebhookUrl},
    },
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/webhooks", post(create_webhook).get(list_webhooks))
        .route(
            "/v1/webhooks/{webhook_id}",
            get(get_webhook).delete(delete_webhook),
        )
        .route("/v1/webhooks/{webhook_id}/deliveries", get(list_deliveries))
        .route(
            "/v1/webhooks/{webhook_id}/deliveries/{event_id}/redeliver",
            post(redeliver),
        )
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WebhookRequest {
    /// Where events are posted: `https` to a public host name (plain `http` to loopback only
    /// on a dev stack). The pattern is what every deployment accepts.
    #[schema(
        max_length = 2048,
        pattern = "^https://[a-z][a-z0-9-]{0,30}(\\.[a-z][a-z0-9-]{0,30}){1,3}(/[A-Za-z0-9_-]{0,30}){0,3}$",
        example = "https://shop.example/aisle-webhooks"
    )]
    pub url: String,
    /// The events to send; every event type when absent or empty.
    pub events: Option<Vec<EventType>>,
}

/// An endpoint as the client sees it; its secret is shown only when it is created.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookView {
    pub id: Uuid,
    pub url: String,
    pub events: Vec<EventType>,
    pub created_at: DateTime<Utc>,
    /// `enabled` or `disabled`.
    pub status: &'static str,
    /// When its current run of failed attempts began; absent while it answers.
    pub failing_since: Option<DateTime<Utc>>,
    /// Why and when it was disabled.
    pub disabled: Option<Disabled>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Disabled {
    pub reason: DisabledReason,
    pub at: DateTime<Utc>,
    pub detail: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookCreated {
    #[serde(flatten)]
    pub webhook: WebhookView,
    /// The signing secret (`whsec_…`), shown this once: configure your Standard Webhooks
    /// verifier with it.
    pub secret: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryView {
    /// The event's id, sent as `webhook-id`: the same on every attempt and redelivery.
    pub event_id: Uuid,
    #[serde(rename = "type")]
    pub event_type: EventType,
    pub state: DeliveryState,
    pub attempts: i32,
    /// When the next attempt is due, while `pending`.
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// Every attempt, oldest first.
    pub log: Vec<AttemptView>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttemptView {
    pub attempt: i32,
    pub attempted_at: DateTime<Utc>,
    /// The receiver's HTTP status; absent when it did not answer.
    pub status: Option<i16>,
    pub latency_ms: i32,
    /// The start of the receiver's answer (at most 1 KiB).
    pub response_snippet: Option<String>,
    /// Why there was no answer: a refused destination, a timeout, a connection failure.
    pub error: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct DeliveriesQuery {
    /// How many of the latest deliveries (1 to 100, default 50).
    pub limit: Option<i64>,
}

impl From<Endpoint> for WebhookView {
    fn from(endpoint: Endpoint) -> Self {
        let disabled = match (endpoint.disabled_reason, endpoint.disabled_at) {
            (Some(reason), Some(at)) => Some(Disabled {
                reason,
                at,
                detail: endpoint.disabled_detail.unwrap_or_default(),
            }),
            _ => None,
        };
        Self {
            id: endpoint.id,
            url: endpoint.url,
            events: endpoint.events,
            created_at: endpoint.created_at,
            status: if disabled.is_some() {
                "disabled"
            } else {
                "enabled"
            },
            failing_since: endpoint.failing_since,
            disabled,
        }
    }
}

impl From<EndpointError> for ApiError {
    fn from(e: EndpointError) -> Self {
        match e {
            EndpointError::Database(db) => db.into(),
            EndpointError::InvalidUrl(_) | EndpointError::NoEvents => {
                Self::InvalidParameter(e.to_string())
            }
            EndpointError::TooMany => Self::TooManyWebhooks,
        }
    }
}

/// Registers an endpoint; the answer holds its signing secret, shown this once.
#[utoipa::path(
    post,
    path = "/v1/webhooks",
    operation_id = "create_webhook",
    tag = "Webhooks",
    request_body = WebhookRequest,
    responses(
        (status = 201, description = "The endpoint, with its signing secret: shown only here.", body = WebhookCreated),
    ),
)]
async fn create_webhook(
    State(state): State<AppState>,
    Authenticated(client): Authenticated,
    AppJson(request): AppJson<WebhookRequest>,
) -> Result<(StatusCode, Json<WebhookCreated>), ApiError> {
    let url = WebhookUrl::parse(&request.url, state.config.webhooks.allow_private)?;
    let events = request
        .events
        .filter(|events| !events.is_empty())
        .unwrap_or_else(|| EventType::ALL.to_vec());
    let registered =
        endpoints::register(&state.pool, &state.sealer, client.id, &url, &events).await?;
    Ok((
        StatusCode::CREATED,
        Json(WebhookCreated {
            webhook: registered.endpoint.into(),
            secret: registered.secret.expose(),
        }),
    ))
}

/// The client's endpoints, with why any was disabled.
#[utoipa::path(
    get,
    path = "/v1/webhooks",
    operation_id = "list_webhooks",
    tag = "Webhooks",
    responses(
        (status = 200, description = "The client's endpoints, with why any was disabled.", body = Vec<WebhookView>),
    ),
)]
async fn list_webhooks(
    State(state): State<AppState>,
    Authenticated(client): Authenticated,
) -> Result<Json<Vec<WebhookView>>, ApiError> {
    let endpoints = store::endpoints_for_client(&state.pool, client.id).await?;
    Ok(Json(endpoints.into_iter().map(Into::into).collect()))
}

/// One endpoint, with why it was disabled if it was.
#[utoipa::path(
    get,
    path = "/v1/webhooks/{webhook_id}",
    operation_id = "get_webhook",
    tag = "Webhooks",
    params(("webhook_id" = String, Path, format = Uuid, description = "From the endpoint's creation")),
    responses(
        (status = 200, description = "The endpoint.", body = WebhookView),
    ),
)]
async fn get_webhook(
    State(state): State<AppState>,
    Authenticated(client): Authenticated,
    Path(webhook_id): Path<String>,
) -> Result<Json<WebhookView>, ApiError> {
    Ok(Json(endpoint(&state, client.id, &webhook_id).await?.into()))
}

/// Deletes an endpoint with its delivery log; nothing more is sent to it.
#[utoipa::path(
    delete,
    path = "/v1/webhooks/{webhook_id}",
    operation_id = "delete_webhook",
    tag = "Webhooks",
    params(("webhook_id" = String, Path, format = Uuid, description = "From the endpoint's creation")),
    responses(
        (status = 204, description = "Deleted, with its delivery log."),
    ),
)]
async fn delete_webhook(
    State(state): State<AppState>,
    Authenticated(client): Authenticated,
    Path(webhook_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = parse_id(&webhook_id, ApiError::InvalidWebhookId)?;
    if !store::delete_endpoint(&state.pool, client.id, id).await? {
        return Err(ApiError::InvalidWebhookId);
    }
    Ok(StatusCode::NO_CONTENT)
}

/// The endpoint's latest deliveries, newest first, each with its attempts: status, latency
/// and the start of the receiver's answer.
#[utoipa::path(
    get,
    path = "/v1/webhooks/{webhook_id}/deliveries",
    operation_id = "list_deliveries",
    tag = "Webhooks",
    params(("webhook_id" = String, Path, format = Uuid, description = "From the endpoint's creation"), DeliveriesQuery),
    responses(
        (status = 200, description = "The newest deliveries, each with its attempts.", body = Vec<DeliveryView>),
    ),
)]
async fn list_deliveries(
    State(state): State<AppState>,
    Authenticated(client): Authenticated,
    Path(webhook_id): Path<String>,
    Query(query): Query<DeliveriesQuery>,
) -> Result<Json<Vec<DeliveryView>>, ApiError> {
    let limit = query.limit.unwrap_or(50);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::InvalidParameter("limit must be 1 to 100".into()));
    }
    let endpoint = endpoint(&state, client.id, &webhook_id).await?;
    let deliveries = store::deliveries(&state.pool, client.id, endpoint.id, limit).await?;
    let event_ids: Vec<Uuid> = deliveries.iter().map(|d| d.event_id).collect();
    let mut logs: HashMap<Uuid, Vec<AttemptView>> = HashMap::new();
    for attempt in store::attempts(&state.pool, endpoint.id, &event_ids).await? {
        logs.entry(attempt.event_id).or_default().push(AttemptView {
            attempt: attempt.attempt,
            attempted_at: attempt.attempted_at,
            status: attempt.status,
            latency_ms: attempt.latency_ms,
            response_snippet: attempt.response_snippet,
            error: attempt.error,
        });
    }
    Ok(Json(
        deliveries
            .into_iter()
            .map(|delivery| DeliveryView {
                event_id: delivery.event_id,
                event_type: delivery.event_type,
                state: delivery.state,
                attempts: delivery.attempts,
                next_attempt_at: (delivery.state == DeliveryState::Pending)
                    .then_some(delivery.next_attempt_at),
                created_at: delivery.created_at,
                log: logs.remove(&delivery.event_id).unwrap_or_default(),
            })
            .collect(),
    ))
}

/// Sends an event to the endpoint again, now, under the same `webhook-id`; its schedule
/// resumes if this attempt fails (a delivery that used all its attempts gets one more).
#[utoipa::path(
    post,
    path = "/v1/webhooks/{webhook_id}/deliveries/{event_id}/redeliver",
    operation_id = "redeliver",
    tag = "Webhooks",
    params(
        ("webhook_id" = String, Path, format = Uuid, description = "From the endpoint's creation"),
        ("event_id" = String, Path, format = Uuid, description = "The delivery's `webhook-id`"),
    ),
    responses(
        (status = 202, description = "The delivery is due now."),
    ),
)]
async fn redeliver(
    State(state): State<AppState>,
    Authenticated(client): Authenticated,
    Path((webhook_id, event_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let endpoint = endpoint(&state, client.id, &webhook_id).await?;
    if endpoint.disabled_at.is_some() {
        return Err(ApiError::WebhookDisabled);
    }
    let event_id = parse_id(&event_id, ApiError::InvalidEventId)?;
    if !store::make_due(&state.pool, client.id, endpoint.id, event_id).await? {
        return Err(ApiError::InvalidEventId);
    }
    Ok(StatusCode::ACCEPTED)
}

/// The client's endpoint named in the path.
async fn endpoint(state: &AppState, client_id: Uuid, raw_id: &str) -> Result<Endpoint, ApiError> {
    let id = parse_id(raw_id, ApiError::InvalidWebhookId)?;
    store::find_endpoint(&state.pool, client_id, id)
        .await?
        .ok_or(ApiError::InvalidWebhookId)
}

fn parse_id(raw: &str, unknown: ApiError) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| unknown)
}
