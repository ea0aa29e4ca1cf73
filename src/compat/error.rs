//! Request errors in Kontomatik's shape: HTTP 4xx with `reply/exception[name]`, the reply's
//! `status` attribute equal to the HTTP status. A 500's message is opaque; its cause is logged
//! once.

use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
};

use super::xml::{Body, ExceptionXml, Reply};
use crate::{commands::start::StartError, http::auth::AuthError};

#[derive(Debug, thiserror::Error)]
pub enum CompatError {
    /// Answered as recorded from Kontomatik: a `comment`, no `exception`.
    #[error("a valid API key is required (X-Api-Key header or apiKey parameter)")]
    Unauthorized,
    #[error("requests from this address are not allowed for this client")]
    IpNotAllowed,
    #[error("{0}")]
    InvalidParameter(String),
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
    #[error("no imported data for this ownerExternalId")]
    InvalidOwnerExternalId,
    #[error("{0}")]
    InvalidTarget(String),
    /// The bank refused a sandbox sign-in; `name` is the exception name for its reason.
    #[error("{message}")]
    SignInRefused { name: &'static str, message: String },
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl CompatError {
    pub fn internal(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Internal(Box::new(e))
    }

    /// The HTTP status and the exception name. Names are Kontomatik's where it has one for
    /// the case; `IpNotAllowed` and `Internal` are Aisle's own.
    fn status_and_name(&self) -> (StatusCode, &'static str) {
        match self {
            Self::Unauthorized => (StatusCode::UNAUTHORIZED, "Unauthorized"),
            Self::IpNotAllowed => (StatusCode::FORBIDDEN, "IpNotAllowed"),
            Self::InvalidParameter(_) => (StatusCode::BAD_REQUEST, "InvalidParameter"),
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
            Self::InvalidOwnerExternalId => (StatusCode::NOT_FOUND, "InvalidOwnerExternalId"),
            Self::InvalidTarget(_) => (StatusCode::BAD_REQUEST, "InvalidTarget"),
            Self::SignInRefused { name, .. } => (StatusCode::UNPROCESSABLE_ENTITY, name),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "Internal"),
        }
    }
}

impl IntoResponse for CompatError {
    fn into_response(self) -> Response {
        let (status, name) = self.status_and_name();
        if let Self::Internal(cause) = &self {
            tracing::error!(error = %cause, "request failed");
        }
        let body = match self {
            Self::Unauthorized => Body::Comment(self.to_string()),
            _ => Body::Exception(ExceptionXml {
                name,
                message: self.to_string(),
            }),
        };
        Reply::new(status, body).into_response()
    }
}

impl From<sqlx::Error> for CompatError {
    fn from(e: sqlx::Error) -> Self {
        Self::internal(e)
    }
}

impl From<AuthError> for CompatError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Unauthorized => Self::Unauthorized,
            AuthError::IpNotAllowed => Self::IpNotAllowed,
            AuthError::NoPeerAddress | AuthError::Database(_) => Self::internal(e),
        }
    }
}

impl From<StartError> for CompatError {
    fn from(e: StartError) -> Self {
        match e {
            StartError::InvalidSessionId => Self::InvalidSessionId,
            StartError::InvalidSessionIdSignature => Self::InvalidSessionIdSignature,
            StartError::DefaultImportAlreadyExecuted => Self::DefaultImportAlreadyExecuted,
            StartError::SessionExpired => Self::SessionExpired,
            StartError::IdempotencyKeyReused => Self::InvalidParameter(e.to_string()),
            StartError::Database(_) | StartError::Queue(_) => Self::internal(e),
        }
    }
}
