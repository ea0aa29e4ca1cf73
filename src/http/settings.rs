//! The calling client's own settings: how long imported data is kept, and automatic imports.

use axum::{Json, Router, extract::State, routing::get};

use super::{auth::Authenticated, error::ApiError, json::AppJson};
use crate::{
    model::settings::{ClientSettings, SettingsChange},
    state::AppState,
    store::client_settings,
};

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/settings", get(get_settings).patch(change_settings))
}

/// Reads the client's settings.
#[utoipa::path(
    get,
    path = "/v1/settings",
    operation_id = "get_settings",
    tag = "Settings",
    responses(
        (status = 200, description = "The client's settings.", body = ClientSettings),
    ),
)]
async fn get_settings(
    State(state): State<AppState>,
    Authenticated(client): Authenticated,
) -> Result<Json<ClientSettings>, ApiError> {
    client_settings::get(&state.pool, client.id)
        .await?
        .map(Json)
        // The client was deleted between the key check and this read.
        .ok_or(ApiError::Unauthorized)
}

/// Changes some of the client's settings; a field left out stays as it is.
///
/// A shorter retention applies to data already kept too: the retention job deletes what is
/// past it at its next pass.
#[utoipa::path(
    patch,
    path = "/v1/settings",
    operation_id = "change_settings",
    tag = "Settings",
    request_body = SettingsChange,
    responses(
        (status = 200, description = "The client's settings after the change.", body = ClientSettings),
    ),
)]
async fn change_settings(
    State(state): State<AppState>,
    Authenticated(client): Authenticated,
    AppJson(change): AppJson<SettingsChange>,
) -> Result<Json<ClientSettings>, ApiError> {
    let settings = client_settings::update(&state.pool, client.id, &change)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    tracing::info!(
        retention_seconds = settings.retention_seconds.get(),
        auto_import_months = settings.auto_import.map(|a| a.months.get()),
        "client settings changed"
    );
    Ok(Json(settings))
}
