use std::time::Duration;

/// What went wrong at the bank, classified so the engine can decide what to do without
/// matching strings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectorError {
    /// A passing fault (5xx, timeout, connection reset): retry with backoff and jitter.
    #[error("the bank is temporarily unavailable: {0}")]
    Transient(String),
    /// The bank asked us to slow down.
    #[error("the bank rate-limited the request (retry after {retry_after:?})")]
    RateLimited { retry_after: Option<Duration> },
    /// The requested date range is more than the bank serves in one request or at all.
    #[error("the bank refused the requested period")]
    PeriodInvalid,
    /// The bank needs fresh strong customer authentication.
    #[error("the bank requires strong customer authentication")]
    ScaRequired,
    /// The consent or token is expired, revoked or unknown.
    #[error("the consent is expired or invalid")]
    ConsentExpired,
    /// The owner's credentials were refused at sign-in.
    #[error("the bank refused the credentials")]
    InvalidCredentials,
    /// The owner's access is blocked at the bank.
    #[error("the owner's access is blocked at the bank")]
    AccessBlocked,
    /// The bank does not offer this operation.
    #[error("the bank does not support {0}")]
    Unsupported(&'static str),
    /// The bank answered outside the protocol: an error status no other class covers (a
    /// 404, a `FORMAT_ERROR`), or a body that does not parse. `message` says which;
    /// `snippet` is a short, redacted excerpt for the logs.
    #[error("the bank's answer breaks its protocol: {message}")]
    Protocol { message: String, snippet: String },
}

impl ConnectorError {
    /// Builds a [`ConnectorError::Protocol`] keeping at most the first 200 characters of the body.
    pub fn protocol(message: impl Into<String>, body: &str) -> Self {
        let snippet: String = body.chars().take(200).collect();
        Self::Protocol {
            message: message.into(),
            snippet,
        }
    }
}
