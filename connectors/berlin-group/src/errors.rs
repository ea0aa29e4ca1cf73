//! Turns a bank's error answer into a [`ConnectorError`] the engine can act on.

use std::time::Duration;

use aisle_sdk::ConnectorError;
use reqwest::StatusCode;
use serde_json::Value;

/// What the failed request was for, where that changes the meaning of a vague answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// A transactions report: a bare 400 there means the period was refused.
    Transactions,
    Other,
}

/// Classifies a non-success answer. `retry_after` is the raw `Retry-After` header.
pub fn classify(
    status: StatusCode,
    retry_after: Option<&str>,
    body: &str,
    request: Request,
) -> ConnectorError {
    if status == StatusCode::TOO_MANY_REQUESTS {
        return ConnectorError::RateLimited {
            retry_after: retry_after.and_then(parse_retry_after),
        };
    }
    if status.is_server_error() {
        return ConnectorError::Transient(format!("the bank answered {status}"));
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
    if has(&["ACCESS_EXCEEDED"]) {
        return ConnectorError::RateLimited {
            retry_after: retry_after.and_then(parse_retry_after),
        };
    }
    // Banks in the wild refuse an out-of-range history with a plain 400 and prose.
    if request == Request::Transactions && status == StatusCode::BAD_REQUEST && codes.is_empty() {
        return ConnectorError::PeriodInvalid;
    }
    if status == StatusCode::UNAUTHORIZED && codes.is_empty() {
        return ConnectorError::ConsentExpired;
    }
    let code = codes.first().map_or("no message code", String::as_str);
    ConnectorError::protocol(format!("the bank answered {status} ({code})"), body)
}

/// `Retry-After` in delta-seconds; the HTTP-date form is rare at banks and read as unknown.
fn parse_retry_after(raw: &str) -> Option<Duration> {
    raw.trim().parse::<u64>().ok().map(Duration::from_secs)
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
    fn codes_are_read_from_every_body_shape() {
        let tpp = r#"{"tppMessages":[{"category":"ERROR","code":"PERIOD_INVALID","text":"x"}]}"#;
        let rfc = r#"{"type":"https://berlingroup.com/error-codes/CONSENT_EXPIRED","title":"t","detail":"d","code":"CONSENT_EXPIRED"}"#;
        // The spec's own 429 example is a bare array.
        let bare = r#"[{"category":"ERROR","code":"ACCESS_EXCEEDED"}]"#;
        assert_eq!(message_codes(tpp), ["PERIOD_INVALID"]);
        assert_eq!(message_codes(rfc), ["CONSENT_EXPIRED"]);
        assert_eq!(message_codes(bare), ["ACCESS_EXCEEDED"]);
        assert!(message_codes("<html>oops</html>").is_empty());
    }

    #[test]
    fn a_wrong_transactions_period_at_422_means_shrink_the_window() {
        let body = r#"{"tppMessages":[{"category":"ERROR","code":"WRONG_TRANSACTIONS_PERIOD"}]}"#;
        let error = classify(
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            body,
            Request::Transactions,
        );
        assert_eq!(error, ConnectorError::PeriodInvalid);
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
    fn a_blocked_service_is_access_blocked() {
        let body = r#"{"tppMessages":[{"category":"ERROR","code":"SERVICE_BLOCKED"}]}"#;
        let error = classify(StatusCode::FORBIDDEN, None, body, Request::Other);
        assert_eq!(error, ConnectorError::AccessBlocked);
    }
}
