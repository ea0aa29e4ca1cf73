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
use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{auth::Authenticated, error::ApiError, json::AppJson, signin_frame::outcome};
use crate::{
    model::input::{AutoImportOption, BankId, CountryCode, Day, Locale, OwnerExternalId},
    signin::{
        options::{Opener, SignInOptions},
        origins,
    },
    state::AppState,
    store::{
        clients, commands,
        signins::{self, Channel, Status},
    },
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
#[schema(examples(json!({
    "redirectUri": "https://app.example.com/bank-connected",
    "ownerExternalId": "customer-4711",
    "country": "DE",
    "locale": "de",
})))]
pub struct RedirectionRequest {
    /// Where the owner returns, with `?redirectionId=…` added. Must be one of the client's
    /// registered redirect URIs, exactly.
    #[schema(format = "uri", max_length = 2048, pattern = "^https?://[^\\s]+$")]
    pub redirect_uri: String,
    pub owner_external_id: OwnerExternalId,
    /// Only this country's banks are offered.
    pub country: Option<CountryCode>,
    /// A bank to begin with instead of the bank list.
    pub bank: Option<BankId>,
    /// The oldest day of history the owner is asked to share; not in the future.
    pub max_import_date: Option<Day>,
    /// Ask the bank for strong customer authentication even where it could skip it.
    #[serde(default)]
    pub force_sca: bool,
    /// The pages' language; default `en`.
    pub locale: Option<Locale>,
    /// Whether Aisle starts the Default Import itself once the owner signed in, overriding the
    /// client's auto import setting for this sign-in: `{"months": N}` imports N months (even
    /// where the setting is off), `false` leaves the import to the client, `true` or nothing
    /// follows the setting. The status then carries the import's `commandId`.
    pub auto_import: Option<AutoImportOption>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(examples(json!({
    "redirectionId": "0193a4a2-1c2d-7e3f-8a4b-5c6d7e8f9a0b",
    "redirectionLink": "https://aisle.example.com/signin/s/0193a4a2-1c2d-7e3f-8a4b-5c6d7e8f9a0b",
})))]
pub struct RedirectionCreated {
    pub redirection_id: Uuid,
    /// Send the owner here.
    #[schema(format = "uri")]
    pub redirection_link: String,
}

/// Where a redirection stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RedirectionState {
    /// The owner has not finished yet.
    Pending,
    /// Signed in: the session is ready for Default Import.
    Succeeded,
    Failed,
}

/// `pending` until the owner finished, then `succeeded` with the session or `failed`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RedirectionStatus {
    pub redirection_id: Uuid,
    pub status: RedirectionState,
    pub session_id: Option<Uuid>,
    pub session_id_signature: Option<String>,
    /// The bank signed in to.
    #[schema(value_type = Option<BankId>)]
    pub target: Option<String>,
    pub error: Option<RedirectionError>,
    /// Once succeeded: the Default Import the sign-in started by itself (auto import), or the
    /// one the client started with the session. Poll it.
    pub command_id: Option<Uuid>,
}

/// Why a sign-in failed. Stable names: clients match on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum SignInErrorCode {
    /// The owner did not finish in time.
    SignInExpired,
    /// The bank does not offer what the sign-in needs.
    NotSupportedByBank,
    SessionExpired,
    ScaRequired,
    InvalidCredentials,
    AccessBlocked,
    BankUnavailable,
    BankRateLimited,
    BankProtocolError,
    Timeout,
    Internal,
}

impl SignInErrorCode {
    /// The code as the sign-in stored it; one this version does not know reads as `Internal`.
    fn from_stored(code: &str) -> Self {
        serde_json::from_value(serde_json::Value::String(code.to_owned())).unwrap_or_else(|_| {
            tracing::warn!(code, "a sign-in ended with an unknown code");
            Self::Internal
        })
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RedirectionError {
    pub code: SignInErrorCode,
    pub detail: String,
}

/// Starts a sign-in the owner finishes on Aisle's pages.
///
/// Send the owner to `redirectionLink`; when they come back to `redirectUri`, read the
/// redirection for its session.
#[utoipa::path(
    post,
    path = "/v1/signin/redirections",
    operation_id = "create_redirection",
    tag = "Sign-in",
    request_body = RedirectionRequest,
    responses(
        (status = 201, description = "The sign-in is open; send the owner to its link.", body = RedirectionCreated),
    ),
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
    if let Some(bank) = &request.bank
        && state.registry.get(bank.as_str()).is_none()
    {
        return Err(ApiError::invalid(
            "bank",
            "no bank has this id; GET /v1/banks lists them",
        ));
    }
    let options = SignInOptions::new(
        request.owner_external_id.as_str(),
        request.country.as_ref().map(CountryCode::as_str),
        Some(request.locale.unwrap_or_default().as_str()),
        request.bank.as_ref().map(BankId::as_str),
        request.max_import_date.map(Day::date),
        request.force_sca,
        Utc::now().date_naive(),
    )
    .map_err(|message| ApiError::InvalidParameter(message.into()))?
    .with_auto_import(
        request
            .auto_import
            .map(AutoImportOption::choice)
            .unwrap_or_default(),
    );
    let client_auto_import = clients::auto_import_months(&state.pool, client.id).await?;
    let flow = state.flow();
    let new = options.open(
        client.id,
        client_auto_import,
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
    operation_id = "get_redirection",
    tag = "Sign-in",
    params(("redirection_id" = String, Path, format = Uuid, description = "From the redirection's creation")),
    responses(
        (status = 200, description = "The redirection: pending, or its session or error.", body = RedirectionStatus),
    ),
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
    let command_id = match session_id {
        Some(session) => commands::for_session(&state.pool, client.id, session)
            .await?
            .map(|command| command.id),
        None => None,
    };
    Ok(Json(RedirectionStatus {
        redirection_id: signin.id,
        status: match status {
            Status::Picking | Status::InProgress => RedirectionState::Pending,
            Status::Succeeded => RedirectionState::Succeeded,
            Status::Failed => RedirectionState::Failed,
        },
        session_id,
        session_id_signature: session_id.map(|session| {
            state
                .signer
                .sign(client.id, session, &signin.opened.owner_external_id)
        }),
        target: signin.bank_id.clone(),
        error: error.map(|(code, detail)| RedirectionError {
            code: SignInErrorCode::from_stored(&code),
            detail,
        }),
        command_id,
    }))
}
