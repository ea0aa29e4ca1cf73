//! Sign-in redirections: for clients that cannot run the widget. The client's backend asks for
//! a link, the owner follows it and signs in on Aisle's page, the bank's, and comes back to a
//! URI the client registered; the backend then reads the session here, so the signature never
//! passes through the owner's browser.

use axum::{
    Json, Router,
    extract::{Path, State},
    http::StatusCode,
    routing::{get, post},
};
use chrono::{NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{auth::Authenticated, error::ApiError, json::AppJson, signin_frame::outcome};
use crate::{
    signin::{
        options::{Opener, SignInOptions},
        origins,
    },
    state::AppState,
    store::signins::{self, Channel, Status},
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/signin/redirections", post(create_redirection))
        .route(
            "/v1/signin/redirections/{redirection_id}",
            get(get_redirection),
        )
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RedirectionRequest {
    /// Where the owner returns, with `?redirectionId=…` added. Must be one of the client's
    /// registered redirect URIs, exactly.
    pub redirect_uri: String,
    /// The client's own id for the owner.
    pub owner_external_id: String,
    /// ISO 3166 alpha-2: only this country's banks are offered.
    pub country: Option<String>,
    /// A bank id to begin with instead of the bank list.
    pub bank: Option<String>,
    /// The oldest day of history the owner is asked to share.
    pub max_import_date: Option<NaiveDate>,
    #[serde(default)]
    pub force_sca: bool,
    /// `en` (default), `de` or `pl`.
    pub locale: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RedirectionCreated {
    pub redirection_id: Uuid,
    /// Send the owner here.
    pub redirection_link: String,
}

/// `pending` until the owner finished, then `succeeded` with the session or `failed`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RedirectionStatus {
    pub redirection_id: Uuid,
    /// `pending`, `succeeded` or `failed`.
    pub status: &'static str,
    pub session_id: Option<Uuid>,
    pub session_id_signature: Option<String>,
    /// The bank signed in to.
    pub target: Option<String>,
    pub error: Option<RedirectionError>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RedirectionError {
    /// `InvalidCredentials`, `AccessBlocked`, `BankUnavailable`, `SignInExpired`, ...
    pub code: String,
    pub detail: String,
}

/// Starts a sign-in the owner finishes on Aisle's pages.
#[utoipa::path(
    post,
    path = "/v1/signin/redirections",
    request_body = RedirectionRequest,
    responses(
        (status = 201, body = RedirectionCreated),
        (status = 400, body = super::error::Problem, description = "InvalidParameter, InvalidRedirectUri"),
        (status = 401, body = super::error::Problem, description = "Unauthorized"),
        (status = 403, body = super::error::Problem, description = "IpNotAllowed"),
    ),
    security(("api_key" = []))
)]
async fn create_redirection(
    State(state): State<AppState>,
    Authenticated(client): Authenticated,
    AppJson(request): AppJson<RedirectionRequest>,
) -> Result<(StatusCode, Json<RedirectionCreated>), ApiError> {
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
        request.bank.as_deref(),
        request.max_import_date,
        request.force_sca,
        Utc::now().date_naive(),
    )
    .map_err(|message| ApiError::InvalidParameter(message.into()))?;
    let flow = state.flow();
    let new = options.open(
        client.id,
        Opener::Redirection { redirect_uri },
        Utc::now() + flow.ttl,
    );
    // The owner is not here yet: the bank is begun when they open the link, so that their
    // address (`PSU-IP-Address`, mandatory on a Berlin Group consent) goes with it.
    let signin = flow.open(&new).await?;
    Ok((
        StatusCode::CREATED,
        Json(RedirectionCreated {
            redirection_id: signin.id,
            redirection_link: format!(
                "{}/signin/s/{}",
                state.config.public_url.trim_end_matches('/'),
                signin.id
            ),
        }),
    ))
}

/// Where a redirection is; once `succeeded`, its session goes to Default Import.
#[utoipa::path(
    get,
    path = "/v1/signin/redirections/{redirection_id}",
    params(("redirection_id" = Uuid, Path)),
    responses(
        (status = 200, body = RedirectionStatus),
        (status = 401, body = super::error::Problem, description = "Unauthorized"),
        (status = 404, body = super::error::Problem, description = "InvalidRedirectionId"),
    ),
    security(("api_key" = []))
)]
async fn get_redirection(
    State(state): State<AppState>,
    Authenticated(client): Authenticated,
    Path(redirection_id): Path<String>,
) -> Result<Json<RedirectionStatus>, ApiError> {
    let id = Uuid::parse_str(&redirection_id).map_err(|_| ApiError::InvalidRedirectionId)?;
    let signin = signins::find_for_client(&state.pool, client.id, id)
        .await?
        .filter(|signin| signin.opened.channel == Channel::Redirection)
        .ok_or(ApiError::InvalidRedirectionId)?;
    let (status, error) = outcome(&signin);
    let session_id = signin.session_id.filter(|_| status == Status::Succeeded);
    Ok(Json(RedirectionStatus {
        redirection_id: signin.id,
        status: match status {
            Status::Picking | Status::InProgress => "pending",
            Status::Succeeded => "succeeded",
            Status::Failed => "failed",
        },
        session_id,
        session_id_signature: session_id.map(|session| {
            state
                .signer
                .sign(client.id, session, &signin.opened.owner_external_id)
        }),
        target: signin.bank_id.clone(),
        error: error.map(|(code, detail)| RedirectionError { code, detail }),
    }))
}
