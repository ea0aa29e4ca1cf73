//! Headless sign-in at sandbox banks, for tests and demos.

use axum::{Json, Router, extract::State, routing::post};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{auth::Authenticated, error::ApiError, json::AppJson};
use crate::{
    signin::sandbox::{HeadlessSignIn, SandboxSignIn, SandboxSignInError},
    state::AppState,
};

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/sandbox/sessions", post(create_session))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SandboxSessionRequest {
    /// A bank marked sandbox in the registry, e.g. `sandbox`.
    pub bank: String,
    /// The persona to sign in as, e.g. `alice`.
    pub login: String,
    /// The client's own id for the owner.
    pub owner_external_id: String,
    /// The oldest day of history the owner agrees to share.
    pub max_import_date: Option<NaiveDate>,
    #[serde(default)]
    pub force_sca: bool,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionCreated {
    pub session_id: Uuid,
    pub session_id_signature: String,
    /// The bank signed in to.
    pub target: String,
}

/// Signs in to a sandbox bank without a browser; refused for real banks.
#[utoipa::path(
    post,
    path = "/v1/sandbox/sessions",
    request_body = SandboxSessionRequest,
    responses(
        (status = 201, body = SessionCreated),
        (status = 400, body = super::error::Problem, description = "InvalidParameter (also: not a sandbox bank)"),
        (status = 422, body = super::error::Problem, description = "InvalidCredentials, AccessBlocked, BankUnavailable"),
    ),
    security(("api_key" = []))
)]
async fn create_session(
    State(state): State<AppState>,
    Authenticated(client): Authenticated,
    AppJson(request): AppJson<SandboxSessionRequest>,
) -> Result<(axum::http::StatusCode, Json<SessionCreated>), ApiError> {
    let owner = request.owner_external_id.trim();
    if owner.is_empty() || owner.len() > 255 {
        return Err(ApiError::InvalidParameter(
            "ownerExternalId must be 1 to 255 characters".into(),
        ));
    }
    let sign_in = SandboxSignIn {
        pool: &state.pool,
        registry: &state.registry,
        issuer: state.issuer(),
        public_url: &state.config.public_url,
    };
    let issued = sign_in
        .sign_in(&HeadlessSignIn {
            client_id: client.id,
            bank_id: &request.bank,
            login: &request.login,
            owner_external_id: owner,
            max_import_date: request.max_import_date,
            force_sca: request.force_sca,
        })
        .await
        .map_err(|e| match e {
            SandboxSignInError::NotASandboxBank(_) => ApiError::InvalidParameter(e.to_string()),
            SandboxSignInError::Bank(bank) => ApiError::SignIn {
                code: crate::model::command::CommandErrorCode::for_bank_error(&bank).as_str(),
                detail: bank.to_string(),
            },
            SandboxSignInError::Database(db) => db.into(),
        })?;
    Ok((
        axum::http::StatusCode::CREATED,
        Json(SessionCreated {
            session_id: issued.session_id,
            session_id_signature: issued.signature,
            target: issued.bank_id,
        }),
    ))
}
