//! Headless sign-in at sandbox banks, for tests and demos.

use axum::{Json, Router, extract::State, http::StatusCode, routing::post};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{auth::Authenticated, error::ApiError, json::AppJson};
use crate::{
    model::{
        command::CommandErrorCode,
        input::{BankId, Day, OwnerExternalId, SandboxLogin},
    },
    signin::sandbox::{HeadlessSignIn, SandboxSignIn, SandboxSignInError},
    state::AppState,
};

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/sandbox/sessions", post(create_session))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(examples(json!({"bank": "sandbox", "login": "alice", "ownerExternalId": "customer-4711"})))]
pub struct SandboxSessionRequest {
    /// A bank marked sandbox in the registry.
    pub bank: BankId,
    pub login: SandboxLogin,
    pub owner_external_id: OwnerExternalId,
    /// The oldest day of history the owner agrees to share; not in the future.
    pub max_import_date: Option<Day>,
    /// Ask the bank for strong customer authentication even where it could skip it.
    #[serde(default)]
    pub force_sca: bool,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(examples(json!({
    "sessionId": "0193a4a0-7c1e-7d1a-9f4e-3c2b1a0f9e8d",
    "sessionIdSignature": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "target": "sandbox",
})))]
pub struct SessionCreated {
    pub session_id: Uuid,
    pub session_id_signature: String,
    /// The bank signed in to.
    #[schema(value_type = BankId)]
    pub target: String,
    /// The Default Import the sign-in started by itself, when the client has auto import on;
    /// poll it instead of starting one.
    pub command_id: Option<Uuid>,
}

/// Signs in to a sandbox bank without a browser; refused for real banks.
///
/// For tests and demos: the session it answers with goes straight to Default Import.
#[utoipa::path(
    post,
    path = "/v1/sandbox/sessions",
    operation_id = "create_sandbox_session",
    tag = "Sandbox",
    request_body = SandboxSessionRequest,
    responses(
        (status = 201, description = "Signed in; import with this session.", body = SessionCreated),
    ),
)]
async fn create_session(
    State(state): State<AppState>,
    Authenticated(client): Authenticated,
    AppJson(request): AppJson<SandboxSessionRequest>,
) -> Result<(StatusCode, Json<SessionCreated>), ApiError> {
    let max_import_date = request
        .max_import_date
        .map(|day| day.not_after(Utc::now().date_naive()))
        .transpose()
        .map_err(|reason| ApiError::invalid("maxImportDate", reason))?;
    let sign_in = SandboxSignIn {
        pool: &state.pool,
        registry: &state.registry,
        issuer: state.issuer(),
        public_url: &state.config.public_url,
    };
    let issued = sign_in
        .sign_in(&HeadlessSignIn {
            client_id: client.id,
            bank_id: request.bank.as_str(),
            login: request.login.as_str(),
            owner_external_id: request.owner_external_id.as_str(),
            max_import_date,
            force_sca: request.force_sca,
        })
        .await
        .map_err(|e| match e {
            SandboxSignInError::NotASandboxBank(_) => ApiError::invalid("bank", &e),
            SandboxSignInError::Bank(bank) => {
                let code = CommandErrorCode::for_bank_error(&bank);
                // A refusal is the owner's to read; how a bank's answer failed to parse
                // is ours, and stays in the logs.
                let detail = match code {
                    CommandErrorCode::BankProtocolError | CommandErrorCode::Internal => {
                        tracing::warn!(error = %bank, "sandbox sign-in failed");
                        "the bank's answer could not be used".to_string()
                    }
                    _ => bank.to_string(),
                };
                ApiError::SignIn { code, detail }
            }
            SandboxSignInError::Database(db) => db.into(),
            SandboxSignInError::AutoImport(queue) => ApiError::internal(queue),
        })?;
    Ok((
        StatusCode::CREATED,
        Json(SessionCreated {
            session_id: issued.session_id,
            session_id_signature: issued.signature,
            target: issued.bank_id,
            command_id: issued.command_id,
        }),
    ))
}
