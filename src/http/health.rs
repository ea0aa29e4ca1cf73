//! Liveness and readiness for orchestrators.

use axum::{Router, extract::State, routing::get};

use super::error::ApiError;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(alive))
        .route("/readyz", get(ready))
}

/// Alive: the process answers. Nothing else is checked, so an outage of the database does
/// not get every replica restarted.
#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "healthz",
    tag = "Service",
    security(()),
    responses((status = 200, description = "The process answers.", body = String, content_type = "text/plain", example = "ok")),
)]
async fn alive() -> &'static str {
    "ok"
}

/// Ready when the database answers.
#[utoipa::path(
    get,
    path = "/readyz",
    operation_id = "readyz",
    tag = "Service",
    security(()),
    responses((status = 200, description = "The database answers; send traffic.", body = String, content_type = "text/plain", example = "ready")),
)]
async fn ready(State(state): State<AppState>) -> Result<&'static str, ApiError> {
    // Any failure here means this replica cannot serve: not ready, whatever the cause.
    sqlx::query("select 1")
        .execute(&state.pool)
        .await
        .map_err(|e| ApiError::ServiceUnavailable(Box::new(e)))?;
    Ok("ready")
}
