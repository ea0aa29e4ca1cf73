//! API errors as `application/problem+json` (RFC 9457) with a stable `code`. A 500's body is
//! opaque; its cause is logged once, inside the request's span.

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use utoipa::ToSchema;

use crate::signin::flow::FlowError;

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
    #[error("too many sign-ins from this address; try again in {} s", .0.as_secs().max(1))]
    RateLimited(std::time::Duration),
    #[error("{detail}")]
    SignIn { code: &'static str, detail: String },
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// The problem+json body.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A stable, machine-readable error code, e.g. `InvalidSessionId`.
    pub code: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
}

impl ApiError {
    pub fn internal(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Internal(Box::new(e))
    }

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::InvalidParameter(_) => (StatusCode::BAD_REQUEST, "InvalidParameter"),
            Self::Unauthorized => (StatusCode::UNAUTHORIZED, "Unauthorized"),
            Self::IpNotAllowed => (StatusCode::FORBIDDEN, "IpNotAllowed"),
            Self::InvalidSessionId => (StatusCode::NOT_FOUND, "InvalidSessionId"),
            Self::InvalidSessionIdSignature => {
                (StatusCode::BAD_REQUEST, "InvalidSessionIdSignature")
            }
            Self::SessionExpired => (StatusCode::GONE, "SessionExpired"),
            Self::DefaultImportAlreadyExecuted => {
                (StatusCode::CONFLICT, "DefaultImportAlreadyExecuted")
            }
            Self::InvalidSince(_) => (StatusCode::BAD_REQUEST, "InvalidSince"),
            Self::InvalidCommandId => (StatusCode::NOT_FOUND, "InvalidCommandId"),
            Self::NotFound => (StatusCode::NOT_FOUND, "NotFound"),
            Self::InvalidSignInId => (StatusCode::NOT_FOUND, "InvalidSignInId"),
            Self::InvalidRedirectionId => (StatusCode::NOT_FOUND, "InvalidRedirectionId"),
            Self::InvalidRedirectUri(_) => (StatusCode::BAD_REQUEST, "InvalidRedirectUri"),
            Self::SignInClosed => (StatusCode::CONFLICT, "SignInClosed"),
            Self::SignInConflict(_) => (StatusCode::CONFLICT, "SignInConflict"),
            Self::InvalidWebhookId => (StatusCode::NOT_FOUND, "InvalidWebhookId"),
            Self::InvalidEventId => (StatusCode::NOT_FOUND, "InvalidEventId"),
            Self::WebhookDisabled => (StatusCode::CONFLICT, "WebhookDisabled"),
            Self::RateLimited(_) => (StatusCode::TOO_MANY_REQUESTS, "RateLimited"),
            Self::SignIn { code, .. } => (StatusCode::UNPROCESSABLE_ENTITY, code),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "Internal"),
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
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        Self::internal(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if let Self::Internal(cause) = &self {
            tracing::error!(error = %cause, "request failed");
        }
        let problem = Problem {
            code: code.into(),
            title: status.canonical_reason().unwrap_or("Error").into(),
            status: status.as_u16(),
            detail: self.to_string(),
        };
        let mut response = (status, Json(problem)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Self::RateLimited(wait) = &self {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(wait.as_secs().max(1)),
            );
        }
        response
    }
}
