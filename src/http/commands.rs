//! Commands: start a Default Import, then poll it until it ends.

use axum::{
    Json, Router,
    extract::{Path, Query, State, rejection::QueryRejection},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use chrono::{DateTime, Days, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    auth::Authenticated,
    error::ApiError,
    json::AppJson,
    result_body::{self, ResultView},
};
use crate::{
    commands::start::{self, DefaultImportStart, StartError},
    model::{
        command::{CommandErrorCode, CommandKind, CommandState, Progress},
        deletion::DeletionReason,
        input::{Day, IdempotencyKey, OwnerExternalId},
        result::ImportResult,
    },
    state::AppState,
    store::{commands, results::Scope},
};

/// How long a client should wait before polling an in-progress command again.
const RETRY_AFTER_SECS: &str = "2";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/commands/default-import", post(default_import))
        .route("/v1/commands/{command_id}", get(get_command))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(examples(json!({
    "sessionId": "0193a4a0-7c1e-7d1a-9f4e-3c2b1a0f9e8d",
    "sessionIdSignature": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "since": "2026-01-01",
})))]
pub struct DefaultImportRequest {
    /// From the widget's `onSuccess`, a redirection or a sandbox session.
    #[schema(format = Uuid)]
    pub session_id: String,
    pub session_id_signature: String,
    /// The oldest booking date wanted, not in the future; default today − 90 days.
    #[schema(value_type = Option<Day>)]
    pub since: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(examples(json!({"commandId": "0193a4a1-0b2c-7e3d-8f4a-5b6c7d8e9f0a", "state": "in_progress"})))]
pub struct CommandAccepted {
    pub command_id: Uuid,
    pub state: CommandState,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CommandResponse {
    pub command_id: Uuid,
    pub kind: CommandKind,
    pub state: CommandState,
    pub progress: Progress,
    #[schema(value_type = OwnerExternalId)]
    pub owner_external_id: String,
    /// The bank's id in the registry.
    pub bank: String,
    pub since: NaiveDate,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// When the imported data was deleted (the client's retention ended, or the client
    /// asked); the result is absent from then on.
    pub data_deleted_at: Option<DateTime<Utc>>,
    /// Why the data was deleted; present with `dataDeletedAt`.
    pub data_deletion_reason: Option<DeletionReason>,
    /// Present when `state` is `successful` (or the error keeps what was read), until the
    /// data is deleted.
    pub result: Option<ImportResult>,
    /// Present when `state` is `error`.
    pub error: Option<CommandError>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CommandError {
    pub code: CommandErrorCode,
    pub detail: String,
}

/// Starts a Default Import with the session from a sign-in.
///
/// The import runs in the background: poll the command it answers with. A session serves
/// one import. A request repeated with the same `Idempotency-Key` answers with the same
/// command; a different request under a used key is refused.
#[utoipa::path(
    post,
    path = "/v1/commands/default-import",
    operation_id = "default_import",
    tag = "Commands",
    request_body = DefaultImportRequest,
    params((
        "Idempotency-Key" = Option<String>,
        Header,
        description = "Retry safely: the same key with the same request answers with the same command",
        min_length = 1,
        max_length = 255,
        pattern = "^[!-~]{1,255}$",
        example = "order-4711",
    )),
    responses(
        (status = 202, description = "The import is queued; poll the command.", body = CommandAccepted,
            headers(("Location" = String, description = "The command's URL"))),
    ),
)]
async fn default_import(
    State(state): State<AppState>,
    Authenticated(client): Authenticated,
    headers: HeaderMap,
    AppJson(request): AppJson<DefaultImportRequest>,
) -> Result<Response, ApiError> {
    let idempotency_key = idempotency_key(&headers)?;
    let session_id =
        Uuid::parse_str(&request.session_id).map_err(|_| ApiError::InvalidSessionId)?;
    let since = parse_since(request.since.as_deref(), Utc::now().date_naive())?;
    let started = start::default_import(
        &state.pool,
        &state.signer,
        &DefaultImportStart {
            client_id: client.id,
            session_id,
            signature: &request.session_id_signature,
            since,
            idempotency_key: idempotency_key.as_ref().map(IdempotencyKey::as_str),
            fingerprint: &start::request_fingerprint(
                &request.session_id,
                &request.session_id_signature,
                request.since.as_deref(),
            ),
            max_attempts: state.config.worker.max_attempts,
        },
    )
    .await?;
    Ok(accepted(started.command_id, started.state))
}

impl From<StartError> for ApiError {
    fn from(e: StartError) -> Self {
        match e {
            StartError::InvalidSessionId => Self::InvalidSessionId,
            StartError::InvalidSessionIdSignature => Self::InvalidSessionIdSignature,
            StartError::DefaultImportAlreadyExecuted => Self::DefaultImportAlreadyExecuted,
            StartError::SessionExpired => Self::SessionExpired,
            StartError::IdempotencyKeyReused => Self::IdempotencyKeyReused,
            StartError::Database(db) => db.into(),
            StartError::Queue(queue) => Self::internal(queue),
        }
    }
}

/// What a poll asks for.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct GetCommandQuery {
    /// `full` (the default) or `summary`: the result without its transactions (owners,
    /// accounts and cards with balances and receipts).
    #[param(inline)]
    view: Option<View>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum View {
    #[default]
    Full,
    Summary,
}

/// Reads a command: its state and progress, then its result or error.
///
/// The result is streamed: written while it is read from the database. A finished command
/// changes only when its data is deleted, so it carries a strong `ETag` (a new one once the
/// data is deleted), and a poll with a matching `If-None-Match` is answered `304` without
/// reading its rows. Once the data is deleted, `dataDeletedAt` says when and `result` is
/// absent.
#[utoipa::path(
    get,
    path = "/v1/commands/{command_id}",
    operation_id = "get_command",
    tag = "Commands",
    params(
        ("command_id" = String, Path, format = Uuid, description = "From the Default Import's answer"),
        GetCommandQuery,
        ("If-None-Match" = Option<String>, Header, description = "An ETag from an earlier answer"),
    ),
    responses(
        (status = 200, description = "The command: in progress, or ended with its result or error.", body = CommandResponse, headers(
            ("Retry-After" = u32, description = "While in progress: seconds before the next poll"),
            ("ETag" = String, description = "Once finished: a strong tag of this answer"),
        )),
        (status = 304, description = "The finished command is as the matching ETag saw it."),
    ),
)]
async fn get_command(
    State(state): State<AppState>,
    Authenticated(client): Authenticated,
    Path(command_id): Path<String>,
    query: Result<Query<GetCommandQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let command_id = Uuid::parse_str(&command_id).map_err(|_| ApiError::InvalidCommandId)?;
    let Query(query) = query.map_err(|e| ApiError::InvalidParameter(e.body_text()))?;
    let view = query.view.unwrap_or_default();
    let command = commands::find_for_client(&state.pool, client.id, command_id)
        .await?
        .ok_or(ApiError::InvalidCommandId)?;
    let etag = command
        .finished_at
        .filter(|_| command.state != CommandState::InProgress)
        .and_then(|finished_at| etag(command_id, finished_at, command.data_deleted_at, view));
    if let Some(etag) = &etag
        && if_none_match(&headers, etag)
    {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        response.headers_mut().insert(header::ETAG, etag.clone());
        return Ok(response);
    }
    let has_result = command.presents_result();
    let in_progress = command.state == CommandState::InProgress;
    let body = CommandResponse {
        command_id,
        kind: command.kind,
        state: command.state,
        progress: command.progress.0,
        owner_external_id: command.owner_external_id,
        bank: command.bank_id,
        since: command.since,
        created_at: command.created_at,
        finished_at: command.finished_at,
        data_deleted_at: command.data_deleted_at,
        data_deletion_reason: command.data_deleted_by,
        result: None,
        error: command.error_code.map(|code| CommandError {
            code,
            detail: command.error_detail.unwrap_or_default(),
        }),
    };
    let mut response = if has_result {
        let scope = Scope {
            client_id: client.id,
            command_id,
        };
        let head = serde_json::to_string(&body).map_err(ApiError::internal)?;
        let view = match view {
            View::Full => ResultView::Full,
            View::Summary => ResultView::Summary,
        };
        let pool = state.pool.clone();
        let body = result_body::streamed(move |writer| {
            result_body::write_command(writer, head, pool, scope, view)
        });
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            body,
        )
            .into_response()
    } else {
        Json(body).into_response()
    };
    if in_progress {
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from_static(RETRY_AFTER_SECS),
        );
    }
    if let Some(etag) = etag {
        response.headers_mut().insert(header::ETAG, etag);
    }
    Ok(response)
}

/// The body's format version: bump it when the JSON of a finished command changes, so that no
/// client keeps a copy in the old format under a tag that still matches.
const BODY_FORMAT: &str = "2";

/// A strong tag of a finished command's answer. A finished command's state and error never
/// change, and its rows only go, all at once, when its data is deleted: so its id, its end,
/// the deletion's time and the view name its bytes; hashed, so the tag is opaque.
fn etag(
    command_id: Uuid,
    finished_at: DateTime<Utc>,
    data_deleted_at: Option<DateTime<Utc>>,
    view: View,
) -> Option<HeaderValue> {
    let mut hash = Sha256::new();
    hash.update(BODY_FORMAT.as_bytes());
    hash.update(command_id.as_bytes());
    hash.update(finished_at.timestamp_micros().to_be_bytes());
    if let Some(deleted_at) = data_deleted_at {
        hash.update(deleted_at.timestamp_micros().to_be_bytes());
    }
    hash.update([view as u8]);
    let tag = format!("\"{}\"", hex::encode(&hash.finalize()[..16]));
    HeaderValue::from_str(&tag).ok()
}

/// Whether `If-None-Match` names `etag` (or is `*`). The comparison is weak, as RFC 9110 asks
/// for this header: a `W/` prefix is ignored.
fn if_none_match(headers: &HeaderMap, etag: &HeaderValue) -> bool {
    let Ok(etag) = etag.to_str() else {
        return false;
    };
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|tag| tag.trim())
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
}

fn accepted(command_id: Uuid, state: CommandState) -> Response {
    let mut response = (
        StatusCode::ACCEPTED,
        Json(CommandAccepted { command_id, state }),
    )
        .into_response();
    if let Ok(location) = HeaderValue::from_str(&format!("/v1/commands/{command_id}")) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<IdempotencyKey>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(|key| IdempotencyKey::parse(key).ok())
        .map(Some)
        .ok_or_else(|| {
            ApiError::invalid(
                "Idempotency-Key",
                "must be 1 to 255 visible ASCII characters, without spaces",
            )
        })
}

/// `since` as a day in years 1–9999, no later than today; absent means today − 90 days.
fn parse_since(since: Option<&str>, today: NaiveDate) -> Result<NaiveDate, ApiError> {
    let Some(since) = since else {
        return Ok(today - Days::new(90));
    };
    Day::parse(since)
        .and_then(|day| day.not_after(today))
        .map_err(|reason| ApiError::InvalidSince(format!("since: {reason}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        "2026-11-21".parse().unwrap()
    }

    #[test]
    fn since_defaults_to_ninety_days_ago() {
        assert_eq!(
            parse_since(None, today()).unwrap(),
            "2026-08-23".parse().unwrap()
        );
    }

    #[test]
    fn since_in_the_future_or_malformed_is_refused() {
        assert!(matches!(
            parse_since(Some("2026-11-22"), today()),
            Err(ApiError::InvalidSince(_))
        ));
        for since in ["21.11.2026", "-0001-01-01", "0000-01-01"] {
            assert!(matches!(
                parse_since(Some(since), today()),
                Err(ApiError::InvalidSince(_))
            ));
        }
        assert_eq!(parse_since(Some("2026-11-21"), today()).unwrap(), today());
    }
}
