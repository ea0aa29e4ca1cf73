//! API errors as `application/problem+json` (RFC 9457) with a stable `code`. A 500's body is
//! opaque; its cause is logged once, inside the request's span.

use axum::{
    Json,
    extract::Request,
    http::{HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{model::command::CommandErrorCode, signin::flow::FlowError, store};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    InvalidParameter(String),
    #[error("a valid API key is required")]
    Unauthorized,
    #[error("requests from this address are not allowed for this client")]
    IpNotAllowed,
    #[error("no such session")]
    InvalidSessionId,
    #[error("the session id signature does not match")]
    InvalidSessionIdSignature,
    #[error("the session has expired")]
    SessionExpired,
    #[error("this session was already used by a Default Import")]
    DefaultImportAlreadyExecuted,
    #[error("{0}")]
    InvalidSince(String),
    #[error("no such command")]
    InvalidCommandId,
    #[error("this client has no import of this owner")]
    InvalidOwnerExternalId,
    #[error("no such resource")]
    NotFound,
    #[error("no such sign-in")]
    InvalidSignInId,
    #[error("no such redirection")]
    InvalidRedirectionId,
    #[error("{0}")]
    InvalidRedirectUri(String),
    #[error("this sign-in has ended or expired")]
    SignInClosed,
    #[error("{0}")]
    SignInConflict(String),
    #[error("no such webhook endpoint")]
    InvalidWebhookId,
    #[error("this endpoint has no such event")]
    InvalidEventId,
    #[error("this webhook endpoint is disabled")]
    WebhookDisabled,
    #[error("a client may have at most 20 webhook endpoints; delete one first")]
    TooManyWebhooks,
    #[error("too many sign-ins from this address; try again in {} s", .0.as_secs().max(1))]
    RateLimited(std::time::Duration),
    /// The bank refused a sign-in, or failed during one.
    #[error("{detail}")]
    SignIn {
        code: CommandErrorCode,
        detail: String,
    },
    #[error("this Idempotency-Key was already used for a different request")]
    IdempotencyKeyReused,
    #[error("this method is not allowed here")]
    MethodNotAllowed,
    #[error("the request body is larger than this API accepts")]
    PayloadTooLarge,
    #[error("the request body must be `application/json`")]
    UnsupportedMediaType,
    /// The database is out of reach (down, restarting, or every connection busy).
    #[error("{UNAVAILABLE}")]
    ServiceUnavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("the request took longer than {} s; retry after the Retry-After delay", .0.as_secs())]
    RequestTimeout(std::time::Duration),
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Every code a problem+json answer can carry. Stable names: clients match on them. They
/// follow Kontomatik's where one exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub enum ProblemCode {
    /// A parameter, header or body is malformed, too long, or not one the API knows.
    InvalidParameter,
    Unauthorized,
    IpNotAllowed,
    InvalidSessionId,
    InvalidSessionIdSignature,
    SessionExpired,
    DefaultImportAlreadyExecuted,
    /// The `Idempotency-Key` was used before for a request that differs from this one.
    IdempotencyKeyReused,
    InvalidSince,
    InvalidCommandId,
    /// No import of this owner by the calling client.
    InvalidOwnerExternalId,
    InvalidSignInId,
    InvalidRedirectionId,
    InvalidRedirectUri,
    SignInClosed,
    SignInConflict,
    InvalidWebhookId,
    InvalidEventId,
    WebhookDisabled,
    TooManyWebhooks,
    NotFound,
    MethodNotAllowed,
    PayloadTooLarge,
    UnsupportedMediaType,
    RateLimited,
    /// A sign-in at the bank failed (the codes of a command's error).
    ScaRequired,
    InvalidCredentials,
    AccessBlocked,
    BankUnavailable,
    BankRateLimited,
    BankProtocolError,
    Timeout,
    /// The database is out of reach, or the request took too long; retry after `Retry-After`.
    ServiceUnavailable,
    Internal,
}

impl From<CommandErrorCode> for ProblemCode {
    fn from(code: CommandErrorCode) -> Self {
        match code {
            CommandErrorCode::SessionExpired => Self::SessionExpired,
            CommandErrorCode::ScaRequired => Self::ScaRequired,
            CommandErrorCode::InvalidCredentials => Self::InvalidCredentials,
            CommandErrorCode::AccessBlocked => Self::AccessBlocked,
            CommandErrorCode::BankUnavailable => Self::BankUnavailable,
            CommandErrorCode::BankRateLimited => Self::BankRateLimited,
            CommandErrorCode::BankProtocolError => Self::BankProtocolError,
            CommandErrorCode::Timeout => Self::Timeout,
            CommandErrorCode::Internal => Self::Internal,
        }
    }
}

/// The problem+json body (RFC 9457).
#[derive(Debug, Serialize, ToSchema)]
#[schema(examples(json!({
    "code": "InvalidParameter",
    "title": "Bad Request",
    "status": 400,
    "detail": "ownerExternalId: must not contain control characters",
})))]
pub struct Problem {
    pub code: ProblemCode,
    /// The status's reason phrase.
    pub title: String,
    #[schema(minimum = 400, maximum = 599)]
    pub status: u16,
    /// A sentence for the developer; never a database message.
    pub detail: String,
}

impl ApiError {
    pub fn internal(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Internal(Box::new(e))
    }

    /// A parameter that failed to parse; the detail names it.
    pub fn invalid(field: &str, reason: impl std::fmt::Display) -> Self {
        Self::InvalidParameter(format!("{field}: {reason}"))
    }

    fn status_and_code(&self) -> (StatusCode, ProblemCode) {
        use ProblemCode as C;
        match self {
            Self::ServiceUnavailable(_) | Self::RequestTimeout(_) => {
                (StatusCode::SERVICE_UNAVAILABLE, C::ServiceUnavailable)
            }
            // Whichever layer wrapped it, a database out of reach is an outage, not a bug.
            Self::Internal(cause) if database_unavailable(cause.as_ref()) => {
                (StatusCode::SERVICE_UNAVAILABLE, C::ServiceUnavailable)
            }
            Self::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, C::PayloadTooLarge),
            Self::UnsupportedMediaType => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, C::UnsupportedMediaType)
            }
            Self::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, C::MethodNotAllowed),
            Self::InvalidParameter(_) => (StatusCode::BAD_REQUEST, C::InvalidParameter),
            Self::Unauthorized => (StatusCode::UNAUTHORIZED, C::Unauthorized),
            Self::IpNotAllowed => (StatusCode::FORBIDDEN, C::IpNotAllowed),
            Self::InvalidSessionId => (StatusCode::NOT_FOUND, C::InvalidSessionId),
            Self::InvalidSessionIdSignature => {
                (StatusCode::BAD_REQUEST, C::InvalidSessionIdSignature)
            }
            Self::SessionExpired => (StatusCode::GONE, C::SessionExpired),
            Self::DefaultImportAlreadyExecuted => {
                (StatusCode::CONFLICT, C::DefaultImportAlreadyExecuted)
            }
            Self::IdempotencyKeyReused => (StatusCode::CONFLICT, C::IdempotencyKeyReused),
            Self::InvalidSince(_) => (StatusCode::BAD_REQUEST, C::InvalidSince),
            Self::InvalidCommandId => (StatusCode::NOT_FOUND, C::InvalidCommandId),
            Self::InvalidOwnerExternalId => (StatusCode::NOT_FOUND, C::InvalidOwnerExternalId),
            Self::NotFound => (StatusCode::NOT_FOUND, C::NotFound),
            Self::InvalidSignInId => (StatusCode::NOT_FOUND, C::InvalidSignInId),
            Self::InvalidRedirectionId => (StatusCode::NOT_FOUND, C::InvalidRedirectionId),
            Self::InvalidRedirectUri(_) => (StatusCode::BAD_REQUEST, C::InvalidRedirectUri),
            Self::SignInClosed => (StatusCode::CONFLICT, C::SignInClosed),
            Self::SignInConflict(_) => (StatusCode::CONFLICT, C::SignInConflict),
            Self::InvalidWebhookId => (StatusCode::NOT_FOUND, C::InvalidWebhookId),
            Self::InvalidEventId => (StatusCode::NOT_FOUND, C::InvalidEventId),
            Self::WebhookDisabled => (StatusCode::CONFLICT, C::WebhookDisabled),
            Self::TooManyWebhooks => (StatusCode::CONFLICT, C::TooManyWebhooks),
            Self::RateLimited(_) => (StatusCode::TOO_MANY_REQUESTS, C::RateLimited),
            Self::SignIn { code, .. } => (StatusCode::UNPROCESSABLE_ENTITY, (*code).into()),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, C::Internal),
        }
    }
}

impl From<FlowError> for ApiError {
    fn from(e: FlowError) -> Self {
        match e {
            FlowError::NotFound => Self::InvalidSignInId,
            FlowError::Closed => Self::SignInClosed,
            FlowError::Busy | FlowError::WrongStep => Self::SignInConflict(e.to_string()),
            FlowError::BankNotOffered(_) | FlowError::InvalidAnswer(_) => {
                Self::InvalidParameter(e.to_string())
            }
            FlowError::Database(db) => db.into(),
            FlowError::AutoImport(e) => Self::internal(e),
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        if store::is_unavailable(&e) {
            Self::ServiceUnavailable(Box::new(e))
        } else {
            Self::internal(e)
        }
    }
}

const UNAVAILABLE: &str = "the service is briefly unavailable; retry after the Retry-After delay";

/// How long a client should wait after a 503: about what a PostgreSQL restart takes.
const RETRY_AFTER_UNAVAILABLE_SECS: u64 = 5;

fn database_unavailable(cause: &(dyn std::error::Error + 'static)) -> bool {
    std::iter::successors(Some(cause), |e| e.source()).any(|e| {
        e.downcast_ref::<sqlx::Error>()
            .is_some_and(store::is_unavailable)
    })
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        match &self {
            Self::Internal(cause) | Self::ServiceUnavailable(cause)
                if status == StatusCode::SERVICE_UNAVAILABLE =>
            {
                tracing::warn!(error = %cause, "the database is unavailable");
            }
            Self::Internal(cause) => tracing::error!(error = %cause, "request failed"),
            Self::RequestTimeout(limit) => {
                tracing::warn!(limit_secs = limit.as_secs(), "request timed out");
            }
            _ => {}
        }
        // An opaque 500 that turned out to be an outage says so, not "internal error".
        let detail = match &self {
            Self::Internal(_) if status == StatusCode::SERVICE_UNAVAILABLE => UNAVAILABLE.into(),
            _ => self.to_string(),
        };
        let problem = Problem {
            code,
            title: status.canonical_reason().unwrap_or("Error").into(),
            status: status.as_u16(),
            detail,
        };
        let mut response = (status, Json(problem)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        let retry_after = match &self {
            Self::RateLimited(wait) => Some(wait.as_secs().max(1)),
            _ if status == StatusCode::SERVICE_UNAVAILABLE => Some(RETRY_AFTER_UNAVAILABLE_SECS),
            _ => None,
        };
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// The longest framework message kept as a problem's detail; longer ones are cut.
const MAX_FRAMEWORK_DETAIL: usize = 200;

/// Turns the framework's own error answers (a path, query or header that does not parse, an
/// unknown method, an empty-bodied status) into problem+json, so that every error answer has
/// one shape. Pages that render their own HTML or JSON errors are left alone.
pub async fn problems_everywhere(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let plain = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v.starts_with("text/plain"));
    if !(status.is_client_error() || status.is_server_error()) || !plain {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 4 * MAX_FRAMEWORK_DETAIL)
        .await
        .ok()
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default();
    let detail: String = text.trim().chars().take(MAX_FRAMEWORK_DETAIL).collect();
    let error = match status {
        StatusCode::NOT_FOUND => ApiError::NotFound,
        StatusCode::METHOD_NOT_ALLOWED => ApiError::MethodNotAllowed,
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType,
        s if s.is_client_error() => ApiError::InvalidParameter(if detail.is_empty() {
            s.canonical_reason().unwrap_or("bad request").into()
        } else {
            detail
        }),
        StatusCode::SERVICE_UNAVAILABLE => {
            ApiError::ServiceUnavailable(Box::new(std::io::Error::other(detail)))
        }
        _ => ApiError::internal(std::io::Error::other(format!(
            "a plain {status} answer: {detail}"
        ))),
    };
    let mut problem = error.into_response();
    // A 405 keeps its `Allow`, a 503 its `Retry-After`.
    for name in [header::ALLOW, header::RETRY_AFTER] {
        if let Some(value) = parts.headers.get(&name) {
            problem.headers_mut().insert(name, value.clone());
        }
    }
    problem
}
