//! Turns a bank's error answer into a [`ConnectorError`] the engine can act on.

use aisle_sdk::{ConnectorError, parse_retry_after};
use chrono::Utc;
use reqwest::StatusCode;
use serde_json::Value;

use crate::snippet;

/// What the failed request was for, where that changes the meaning of a vague answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// A transactions report: a bare 400 there means the period was refused.
    Transactions,
    Other,
}

/// A [`ConnectorError::Protocol`] with secrets and account numbers blanked, in its snippet
/// and in its message too: a message can quote the bank (a status, a code, a token type), and
/// it is logged.
pub fn protocol(message: impl Into<String>, body: &str) -> ConnectorError {
    ConnectorError::protocol(snippet::redacted(&message.into()), &snippet::redacted(body))
}

/// Classifies a non-success XS2A answer. `retry_after` is the raw `Retry-After` header.
pub fn classify(
    status: StatusCode,
    retry_after: Option<&str>,
    body: &str,
    request: Request,
) -> ConnectorError {
    if let Some(error) = unavailable(status, retry_after, "the bank") {
        return error;
    }
    let codes = message_codes(body);
    let has = |wanted: &[&str]| codes.iter().any(|c| wanted.contains(&c.as_str()));
    if has(&["PERIOD_INVALID", "WRONG_TRANSACTIONS_PERIOD"]) {
        return ConnectorError::PeriodInvalid;
    }
    if has(&["SERVICE_BLOCKED"]) {
        return ConnectorError::AccessBlocked;
    }
    if has(&["PSU_CREDENTIALS_INVALID"]) {
        return ConnectorError::InvalidCredentials;
    }
    if has(&["SCA_INVALID", "SCA_REQUIRED"]) {
        return ConnectorError::ScaRequired;
    }
    if has(&[
        "CONSENT_EXPIRED",
        "CONSENT_INVALID",
        "CONSENT_UNKNOWN",
        "TOKEN_INVALID",
        "TOKEN_EXPIRED",
        "RESOURCE_EXPIRED",
    ]) {
        return ConnectorError::ConsentExpired;
    }
    // frequencyPerDay exhausted; some banks say so with a status other than 429.
    if has(&["ACCESS_EXCEEDED"]) {
        return rate_limited(retry_after);
    }
    // Banks in the wild refuse an out-of-range history with a plain 400 and prose.
    if request == Request::Transactions && status == StatusCode::BAD_REQUEST && codes.is_empty() {
        return ConnectorError::PeriodInvalid;
    }
    if status == StatusCode::UNAUTHORIZED && codes.is_empty() {
        return ConnectorError::ConsentExpired;
    }
    let code = codes.first().map_or("no message code", String::as_str);
    protocol(format!("the bank answered {status} ({code})"), body)
}

/// Classifies a non-success answer of an OAuth2 endpoint (RFC 6749 section 5.2 errors).
pub fn classify_oauth(status: StatusCode, retry_after: Option<&str>, body: &str) -> ConnectorError {
    if let Some(error) = unavailable(status, retry_after, "the authorisation server") {
        return error;
    }
    let error = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned));
    match error.as_deref() {
        // The code was used, expired or refused: the owner has to sign in again.
        Some("invalid_grant" | "access_denied") => ConnectorError::InvalidCredentials,
        Some(other) => protocol(
            format!("the authorisation server answered {status} ({other})"),
            body,
        ),
        None => protocol(format!("the authorisation server answered {status}"), body),
    }
}

/// What a 429, a 408 or a 5xx from `server` means, whatever the body says; `None` for any
/// other status.
fn unavailable(
    status: StatusCode,
    retry_after: Option<&str>,
    server: &str,
) -> Option<ConnectorError> {
    if status == StatusCode::TOO_MANY_REQUESTS {
        return Some(rate_limited(retry_after));
    }
    if status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT {
        return Some(ConnectorError::Transient(format!(
            "{server} answered {status}"
        )));
    }
    None
}

/// Rate limited, for as long as the raw `Retry-After` header says if it says.
fn rate_limited(retry_after: Option<&str>) -> ConnectorError {
    ConnectorError::RateLimited {
        retry_after: retry_after.and_then(|raw| parse_retry_after(raw, Utc::now())),
    }
}

/// The message codes of an error body, whichever shape it has: `{"tppMessages": [...]}`,
/// RFC 7807 `{"code", "additionalErrors": [...]}`, or a bare array of messages.
pub fn message_codes(body: &str) -> Vec<String> {
    let Ok(value) = serde_json::from_str::<Value>(body) else {
        return Vec::new();
    };
    let from_list = |list: &Value| -> Vec<String> {
        list.as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m.get("code").and_then(Value::as_str))
            .map(str::to_owned)
            .collect()
    };
    match &value {
        Value::Array(_) => from_list(&value),
        Value::Object(fields) => {
            let mut codes = Vec::new();
            if let Some(code) = fields.get("code").and_then(Value::as_str) {
                codes.push(code.to_owned());
            }
            for key in ["tppMessages", "additionalErrors"] {
                if let Some(list) = fields.get(key) {
                    codes.extend(from_list(list));
                }
            }
            codes
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_protocol_error_quoting_the_bank_keeps_no_account_number_in_its_message() {
        let ConnectorError::Protocol { message, .. } = protocol(
            "the consent has the unknown status DE27100200300012345678",
            "",
        ) else {
            panic!("a protocol error");
        };
        assert!(!message.contains("100200300012345678"), "{message}");
        assert!(
            message.starts_with("the consent has the unknown status"),
            "{message}"
        );
    }

    #[test]
    fn codes_are_read_from_every_body_shape() {
        let tpp = r#"{"tppMessages":[{"category":"ERROR","code":"PERIOD_INVALID","text":"x"}]}"#;
        let rfc = r#"{"type":"https://berlingroup.com/error-codes/CONSENT_EXPIRED","title":"t","detail":"d","code":"CONSENT_EXPIRED"}"#;
        let rfc_more =
            r#"{"type":"t","code":"FORMAT_ERROR","additionalErrors":[{"code":"PERIOD_INVALID"}]}"#;
        // The spec's own 429 example is a bare array.
        let bare = r#"[{"category":"ERROR","code":"ACCESS_EXCEEDED"}]"#;
        assert_eq!(message_codes(tpp), ["PERIOD_INVALID"]);
        assert_eq!(message_codes(rfc), ["CONSENT_EXPIRED"]);
        assert_eq!(message_codes(rfc_more), ["FORMAT_ERROR", "PERIOD_INVALID"]);
        assert_eq!(message_codes(bare), ["ACCESS_EXCEEDED"]);
        assert!(message_codes("<html>oops</html>").is_empty());
    }

    #[test]
    fn a_bare_400_means_a_refused_period_only_for_transactions() {
        let text = "Requested period exceeds 90 days";
        let during = |r| classify(StatusCode::BAD_REQUEST, None, text, r);
        assert_eq!(during(Request::Transactions), ConnectorError::PeriodInvalid);
        assert!(matches!(
            during(Request::Other),
            ConnectorError::Protocol { .. }
        ));
    }

    #[test]
    fn a_408_is_transient() {
        assert!(matches!(
            classify(StatusCode::REQUEST_TIMEOUT, None, "", Request::Other),
            ConnectorError::Transient(_)
        ));
    }

    #[test]
    fn an_oauth_invalid_grant_means_sign_in_again() {
        let body = r#"{"error":"invalid_grant","error_description":"code expired"}"#;
        assert_eq!(
            classify_oauth(StatusCode::BAD_REQUEST, None, body),
            ConnectorError::InvalidCredentials
        );
        let client = r#"{"error":"invalid_client"}"#;
        assert!(matches!(
            classify_oauth(StatusCode::UNAUTHORIZED, None, client),
            ConnectorError::Protocol { .. }
        ));
    }

    #[test]
    fn a_protocol_snippet_never_carries_the_consent_id() {
        let body = r#"{"consentId":"1234-wertiq-983","tppMessages":[{"code":"FORMAT_ERROR"}]}"#;
        let ConnectorError::Protocol { snippet, .. } =
            classify(StatusCode::BAD_REQUEST, None, body, Request::Other)
        else {
            panic!("a format error is a protocol error");
        };
        assert!(!snippet.contains("1234-wertiq-983"), "{snippet}");
    }
}
