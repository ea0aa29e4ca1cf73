//! Kontomatik's redirection paths, as aliases of Aisle's redirections (`/v1/signin/redirections`).
//! These are JSON on both sides; errors are Aisle's problem+json, as Kontomatik's shape for
//! them is not known.

use axum::{
    Json,
    extract::{Query, State, rejection::QueryRejection},
};
use chrono::{NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{
    http::{auth::Authenticated, error::ApiError, json::AppJson, signin_frame::outcome},
    signin::{
        options::{Opener, SignInOptions},
        origins,
    },
    state::AppState,
    store::{
        clients,
        signins::{self, Channel, Status},
    },
};

/// Kontomatik's body; fields it may send that Aisle has no use for are ignored.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RedirectionRequest {
    redirect_uri: String,
    owner_external_id: String,
    country: Option<String>,
    locale: Option<String>,
    /// A bank to begin with (Kontomatik's name for a bank is "target").
    target: Option<String>,
    max_import_date: Option<NaiveDate>,
    #[serde(default)]
    force_sca: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RedirectionCreated {
    redirection_id: Uuid,
    redirection_link: String,
}

/// `POST /v1/signin/redirection`.
pub async fn create(
    State(state): State<AppState>,
    Authenticated(client): Authenticated,
    AppJson(request): AppJson<RedirectionRequest>,
) -> Result<Json<RedirectionCreated>, ApiError> {
    let redirect_uri = origins::redirect_uri(&request.redirect_uri)
        .ok()
        .filter(|uri| client.redirect_uris.contains(uri))
        .ok_or_else(|| {
            ApiError::InvalidRedirectUri(
                "redirectUri is not one of the client's registered redirect URIs".into(),
            )
        })?;
    let options = SignInOptions::new(
        &request.owner_external_id,
        request.country.as_deref(),
        request.locale.as_deref(),
        request.target.as_deref(),
        request.max_import_date,
        request.force_sca,
        Utc::now().date_naive(),
    )
    .map_err(|message| ApiError::InvalidParameter(message.into()))?;
    let flow = state.flow();
    let client_auto_import = clients::auto_import_months(&state.pool, client.id).await?;
    let new = options.open(
        client.id,
        client_auto_import,
        Opener::Redirection { redirect_uri },
        Utc::now() + flow.ttl,
    );
    // The owner is not here yet: their address reaches the bank only when they pick it.
    let signin = flow.start(&new, None).await?;
    Ok(Json(RedirectionCreated {
        redirection_id: signin.id,
        redirection_link: format!(
            "{}/signin/s/{}",
            state.config.public_url.trim_end_matches('/'),
            signin.id
        ),
    }))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusQuery {
    redirection_id: String,
}

#[derive(Debug, Serialize)]
pub struct RedirectionStatus {
    /// `pending`, `succeeded` or `failed`, as `/v1/signin/redirections/{id}`.
    status: &'static str,
    params: StatusParams,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusParams {
    session_id: Option<Uuid>,
    session_id_signature: Option<String>,
    target: Option<String>,
    /// The bank's name.
    official_name: Option<String>,
    /// The failure's code (`InvalidCredentials`, `AccessBlocked`, `SignInExpired`, ...).
    exception: Option<String>,
}

/// `GET /v1/signin/redirection-status?redirectionId=…`.
pub async fn status(
    State(state): State<AppState>,
    Authenticated(client): Authenticated,
    query: Result<Query<StatusQuery>, QueryRejection>,
) -> Result<Json<RedirectionStatus>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::InvalidParameter(e.body_text()))?;
    let id = Uuid::parse_str(&query.redirection_id).map_err(|_| ApiError::InvalidRedirectionId)?;
    let signin = signins::find_for_client(&state.pool, client.id, id)
        .await?
        .filter(|signin| signin.opened.channel == Channel::Redirection)
        .ok_or(ApiError::InvalidRedirectionId)?;
    let (status, error) = outcome(&signin);
    let session_id = signin.session_id.filter(|_| status == Status::Succeeded);
    Ok(Json(RedirectionStatus {
        status: match status {
            Status::Picking | Status::InProgress => "pending",
            Status::Succeeded => "succeeded",
            Status::Failed => "failed",
        },
        params: StatusParams {
            session_id,
            session_id_signature: session_id.map(|session| {
                state
                    .signer
                    .sign(client.id, session, &signin.opened.owner_external_id)
            }),
            official_name: signin
                .bank_id
                .as_deref()
                .and_then(|id| state.registry.get(id))
                .map(|bank| bank.entry.name.clone()),
            target: signin.bank_id,
            exception: error.map(|(code, _)| code),
        },
    }))
}
