//! Turns a partner API answer that is not a success into a [`ConnectorError`].
//!
//! The API says what happened in `responseCode`; the HTTP status only matters where the
//! answer did not come from the API itself (a gateway's 429, a 5xx, an HTML error page).

use aisle_sdk::ConnectorError;
use aisle_sdk::http::Answer;
use aisle_sdk::redact::protocol;
use reqwest::StatusCode;

use crate::wire;

/// The answer is a success.
pub const SUCCESS: &str = "0000";
/// The `X-Auth-Token` is missing, unknown, expired or revoked.
pub const TOKEN_REFUSED: &str = "0001";
/// The token is fine but this partnerReference is not enrolled in this programCode.
pub const PARTNER_NOT_ENROLLED: &str = "0002";
/// A parameter is missing or malformed.
pub const INVALID_REQUEST: &str = "0003";
/// The account reference does not name an account.
pub const ACCOUNT_UNKNOWN: &str = "0008";
/// The account exists but is blocked or closed for partner access.
pub const ACCOUNT_BLOCKED: &str = "0009";
/// The account reference is not a valid account number or IBAN.
pub const REFERENCE_MALFORMED: &str = "0014";
/// The partner exceeded its request quota.
pub const TOO_MANY_REQUESTS: &str = "0029";
/// Planned maintenance or end-of-day cut-off.
pub const MAINTENANCE: &str = "0090";
/// The core system timed out.
pub const CORE_TIMEOUT: &str = "0091";
/// Any other failure at the bank.
pub const SYSTEM_ERROR: &str = "0096";

/// Why the account was read: an unknown account means wrong credentials at sign-in, but a
/// vanished one later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    SignIn,
    Data,
}

/// Classifies an answer that is not a `0000` success. `head` is its parsed envelope, when
/// the body had one.
pub fn classify(answer: &Answer, head: Option<&wire::Head>, stage: Stage) -> ConnectorError {
    if let Some(error) = answer.status_error() {
        return error;
    }
    let Some(head) = head else {
        if matches!(
            answer.status,
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
        ) {
            return token_refused(answer);
        }
        return protocol(
            &format!("the bank answered {} without a responseCode", answer.status),
            &answer.body,
        );
    };
    match (head.response_code.as_str(), stage) {
        (TOKEN_REFUSED, _) => token_refused(answer),
        (ACCOUNT_UNKNOWN | REFERENCE_MALFORMED, Stage::SignIn) => {
            ConnectorError::InvalidCredentials
        }
        // The account the session stands for is gone: the access it gave is over.
        (ACCOUNT_UNKNOWN, Stage::Data) => ConnectorError::ConsentExpired,
        (ACCOUNT_BLOCKED, _) => ConnectorError::AccessBlocked,
        (TOO_MANY_REQUESTS, _) => answer.rate_limited(),
        (PARTNER_NOT_ENROLLED, _) => protocol(
            "the bank does not enrol the configured partnerReference in the configured programCode",
            &answer.body,
        ),
        (INVALID_REQUEST | REFERENCE_MALFORMED, _) => protocol(
            &format!(
                "the bank refused the request as malformed (responseCode {})",
                head.response_code
            ),
            &answer.body,
        ),
        (MAINTENANCE | CORE_TIMEOUT | SYSTEM_ERROR, _) => ConnectorError::Transient(format!(
            "the bank answered responseCode {}",
            head.response_code
        )),
        (code, _) => protocol(
            &format!(
                "the bank answered {} with responseCode {code} ({})",
                answer.status,
                head.response_message.as_deref().unwrap_or("no message")
            ),
            &answer.body,
        ),
    }
}

/// A refused partner token is a configuration fault for an operator, not the owner's doing
/// and not worth retrying: it surfaces as a protocol error that names the header.
fn token_refused(answer: &Answer) -> ConnectorError {
    protocol(
        &format!(
            "the bank refused the partner token (X-Auth-Token), answering {}",
            answer.status
        ),
        &answer.body,
    )
}
