//! The bank's error answers, in the Berlin Group `tppMessages` shape.

use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An error the bank answers with: an HTTP status and one Berlin Group message code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BankError {
    pub status: StatusCode,
    pub code: &'static str,
    pub text: String,
    /// Seconds for a `Retry-After` header, on answers that ask the TPP to come back later.
    pub retry_after: Option<u32>,
}

impl BankError {
    fn new(status: StatusCode, code: &'static str, text: impl Into<String>) -> Self {
        Self {
            status,
            code,
            text: text.into(),
            retry_after: None,
        }
    }

    pub fn format(text: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "FORMAT_ERROR", text)
    }

    pub fn period_invalid(text: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "PERIOD_INVALID", text)
    }

    pub fn psu_credentials_invalid() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "PSU_CREDENTIALS_INVALID",
            "The PSU-ID is not known to the bank",
        )
    }

    pub fn service_blocked() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "SERVICE_BLOCKED",
            "Access for this PSU is blocked; the PSU should contact the bank",
        )
    }

    /// The bank is briefly down. The spec names no 503 code; banks use this one.
    pub fn service_unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "SERVICE_UNAVAILABLE",
            "The service is temporarily unavailable, please try again",
        )
    }

    pub fn access_exceeded(retry_after_secs: u32) -> Self {
        Self {
            retry_after: Some(retry_after_secs),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "ACCESS_EXCEEDED",
                "Too many requests for this consent, please slow down",
            )
        }
    }

    pub fn consent_invalid() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "CONSENT_INVALID",
            "The consent is unknown or not yet authorised",
        )
    }

    pub fn consent_expired() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "CONSENT_EXPIRED",
            "The consent was terminated or has expired",
        )
    }

    pub fn consent_unknown() -> Self {
        Self::new(StatusCode::FORBIDDEN, "CONSENT_UNKNOWN", "No such consent")
    }

    pub fn status_invalid(text: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "STATUS_INVALID", text)
    }

    pub fn resource_unknown(text: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "RESOURCE_UNKNOWN", text)
    }
}

impl IntoResponse for BankError {
    fn into_response(self) -> Response {
        let body = json!({
            "tppMessages": [{"category": "ERROR", "code": self.code, "text": self.text}]
        });
        let mut response = (self.status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, seconds.into());
        }
        response
    }
}
