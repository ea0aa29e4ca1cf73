//! HTTP as every connector speaks it: a request carries a fresh `X-Request-ID` and asks for
//! JSON, an answer is read whole whatever its status, a bank that cannot be reached is a
//! passing fault, and a body that does not parse is a protocol error quoting it redacted.

use std::fmt;

use chrono::Utc;
use reqwest::header::{HeaderValue, RETRY_AFTER};
use reqwest::{RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::redact::protocol;
use crate::{ConnectorError, parse_retry_after};

/// A credential Aisle sends in a header (a partner token, a client secret): kept out of
/// `Debug` output and marked sensitive on the wire. Errors name it by `what`, never by value.
#[derive(Clone)]
pub struct Secret {
    what: &'static str,
    value: String,
}

impl Secret {
    pub fn new(what: &'static str, value: String) -> Self {
        Self { what, value }
    }

    /// The header value, marked sensitive.
    pub fn header_value(&self) -> Result<HeaderValue, ConnectorError> {
        let mut value = HeaderValue::from_str(&self.value).map_err(|_| {
            ConnectorError::protocol(
                format!("the configured {} is not a valid header value", self.what),
                "",
            )
        })?;
        value.set_sensitive(true);
        Ok(value)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({}: [redacted])", self.what)
    }
}

/// A bank's answer, body read.
// No `Debug`: the body may hold account numbers.
pub struct Answer {
    pub status: StatusCode,
    /// The raw `Retry-After` header.
    pub retry_after: Option<String>,
    /// Every header of the answer, for what a protocol reads beyond `Retry-After` (Berlin
    /// Group's `ASPSP-SCA-Approach`, say).
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Answer {
    /// What the status says whatever the body: a 429 is [`ConnectorError::RateLimited`], a
    /// 5xx [`ConnectorError::Transient`] (a gateway's page as often as the API's own answer).
    pub fn status_error(&self) -> Option<ConnectorError> {
        if self.status == StatusCode::TOO_MANY_REQUESTS {
            return Some(self.rate_limited());
        }
        self.status
            .is_server_error()
            .then(|| ConnectorError::Transient(format!("the bank answered {}", self.status)))
    }

    /// [`ConnectorError::RateLimited`] for as long as this answer's `Retry-After` says, for a
    /// 429 or for a protocol's own "slow down" under another status.
    pub fn rate_limited(&self) -> ConnectorError {
        ConnectorError::RateLimited {
            retry_after: self
                .retry_after
                .as_deref()
                .and_then(|raw| parse_retry_after(raw, Utc::now())),
        }
    }
}

/// `builder` with the headers every call to a bank carries: a fresh `X-Request-ID` (one per
/// request, so a retry is a new request to the bank too) and `Accept: application/json`.
pub fn standard_headers(builder: RequestBuilder) -> RequestBuilder {
    builder
        .header("X-Request-ID", Uuid::new_v4().to_string())
        .header("Accept", "application/json")
}

/// Sends `builder` and reads the whole answer, whatever its status, up to `max_body_bytes`.
///
/// A larger body is a protocol error, read no further: a bank's answer never decides how much
/// memory Aisle spends on it. So is a body that writes a NUL character (`\u0000`): no bank
/// text has one, and PostgreSQL cannot store it.
pub async fn send(
    builder: RequestBuilder,
    max_body_bytes: usize,
) -> Result<Answer, ConnectorError> {
    let mut response = builder.send().await.map_err(transport_error)?;
    let status = response.status();
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let headers = response.headers().clone();
    let too_large = || {
        ConnectorError::protocol(
            format!("the bank's answer is larger than {max_body_bytes} bytes"),
            "",
        )
    };
    if response
        .content_length()
        .is_some_and(|length| length > max_body_bytes as u64)
    {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(transport_error)? {
        if bytes.len() + chunk.len() > max_body_bytes {
            return Err(too_large());
        }
        bytes.extend_from_slice(&chunk);
    }
    let body = String::from_utf8_lossy(&bytes).into_owned();
    if writes_nul(&body) {
        return Err(ConnectorError::protocol(
            "the bank's answer holds a NUL character",
            "",
        ));
    }
    Ok(Answer {
        status,
        retry_after,
        headers,
        body,
    })
}

/// Whether `body` holds a NUL, raw or as the JSON escape `\u0000` (an escape is one when an
/// odd number of backslashes leads up to its `u`).
fn writes_nul(body: &str) -> bool {
    if body.contains('\0') {
        return true;
    }
    let bytes = body.as_bytes();
    body.match_indices("u0000").any(|(at, _)| {
        let backslashes = bytes[..at]
            .iter()
            .rev()
            .take_while(|&&b| b == b'\\')
            .count();
        backslashes % 2 == 1
    })
}

/// A request that got no whole answer.
fn transport_error(error: reqwest::Error) -> ConnectorError {
    // URLs hold account numbers, customer ids and consent ids, and this message is logged;
    // it needs no URL to be useful.
    let error = error.without_url();
    if error.is_builder() {
        return ConnectorError::protocol(format!("could not build the request: {error}"), "");
    }
    // Timeouts, refused connections and cut-off bodies pass; retrying is the right answer.
    ConnectorError::Transient(format!("could not reach the bank: {error}"))
}

/// Parses a body; anything that does not fit is a protocol error, never a panic. serde quotes
/// the offending value in its message, so the message is redacted like the body.
pub fn parse<T: DeserializeOwned>(body: &str) -> Result<T, ConnectorError> {
    serde_json::from_str(body)
        .map_err(|e| protocol(&format!("unexpected response body: {e}"), body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nul_is_seen_raw_or_escaped_but_an_escaped_backslash_is_no_escape() {
        assert!(writes_nul("{\"a\":\"x\\u0000y\"}"));
        assert!(writes_nul("x\0y"));
        assert!(writes_nul("\\\\\\u0000"));
        assert!(!writes_nul("{\"a\":\"x\\\\u0000y\"}"));
        assert!(!writes_nul("{\"a\":\"u0000\"}"));
    }

    #[test]
    fn a_secret_is_named_but_never_shown() {
        let secret = Secret::new("X-Auth-Token", "tok-very-secret".to_owned());
        let printed = format!("{secret:?}");
        assert!(!printed.contains("tok-very-secret"), "{printed}");
        assert!(printed.contains("X-Auth-Token"), "{printed}");
        assert!(secret.header_value().is_ok_and(|v| v.is_sensitive()));
        let Err(ConnectorError::Protocol { message, .. }) =
            Secret::new("client secret", "line\nbreak".to_owned()).header_value()
        else {
            panic!("a line break is no header value");
        };
        assert_eq!(
            message,
            "the configured client secret is not a valid header value"
        );
    }

    fn answer(status: u16, retry_after: Option<&str>) -> Answer {
        Answer {
            status: StatusCode::from_u16(status).expect("a status"),
            retry_after: retry_after.map(str::to_owned),
            headers: reqwest::header::HeaderMap::new(),
            body: String::new(),
        }
    }

    #[test]
    fn the_status_alone_says_slow_down_or_try_again_and_nothing_else() {
        assert_eq!(
            answer(429, Some("30")).status_error(),
            Some(ConnectorError::RateLimited {
                retry_after: Some(std::time::Duration::from_secs(30))
            })
        );
        assert!(matches!(
            answer(503, None).status_error(),
            Some(ConnectorError::Transient(_))
        ));
        for status in [200, 400, 401, 404] {
            assert_eq!(answer(status, None).status_error(), None, "{status}");
        }
    }

    #[test]
    fn a_body_that_does_not_fit_is_a_redacted_protocol_error() {
        let Err(ConnectorError::Protocol { message, snippet }) =
            parse::<Vec<u32>>(r#"["DE27100200300012345678"]"#)
        else {
            panic!("a string is not a number");
        };
        assert!(!message.contains("100200300012345678"), "{message}");
        assert!(!snippet.contains("100200300012345678"), "{snippet}");
        assert!(snippet.contains("5678"), "{snippet}");
    }
}
