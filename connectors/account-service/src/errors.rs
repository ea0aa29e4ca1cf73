//! Turns an Account Service answer that is not a success into a [`ConnectorError`].
//!
//! The service says what happened in `code`; the HTTP status only matters where the answer did
//! not come from the service itself (a gateway's 429, a 5xx, an HTML error page).

use aisle_sdk::ConnectorError;
use aisle_sdk::http::Answer;
use aisle_sdk::redact::protocol;
use reqwest::StatusCode;

use crate::wire;

/// The answer is a success.
pub const SUCCESS: &str = "00";
/// A field is missing or malformed.
pub const INVALID_REQUEST: &str = "01";
/// The client id or secret is missing or wrong.
pub const CLIENT_REFUSED: &str = "02";
/// No customer has this legal id or CIF.
pub const CUSTOMER_UNKNOWN: &str = "10";
/// The phone number is not the one the bank holds for the customer.
pub const PHONE_MISMATCH: &str = "11";
/// The one-time code is wrong.
pub const OTP_WRONG: &str = "12";
/// The one-time code expired, or its reference is unknown.
pub const OTP_EXPIRED: &str = "13";
/// Too many wrong one-time codes: the bank blocked the customer's remote access.
pub const OTP_ATTEMPTS_EXCEEDED: &str = "14";
/// The customer is blocked.
pub const CUSTOMER_BLOCKED: &str = "20";
/// The account does not exist or is not the customer's.
pub const ACCOUNT_UNKNOWN: &str = "21";
/// The client exceeded its request quota.
pub const TOO_MANY_REQUESTS: &str = "29";
/// The core banking system is unavailable.
pub const CORE_UNAVAILABLE: &str = "91";
/// Any other failure at the bank.
pub const SYSTEM_ERROR: &str = "96";

/// Why the service was called: an unknown customer means wrong credentials at sign-in, but
/// a vanished one later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    SignIn,
    Data,
}

/// Classifies an answer that is not a `00` success. `head` is its parsed envelope, when the
/// body had one.
pub fn classify(answer: &Answer, head: Option<&wire::Head>, stage: Stage) -> ConnectorError {
    if let Some(error) = answer.status_error() {
        return error;
    }
    let Some(head) = head else {
        if matches!(
            answer.status,
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
        ) {
            return client_refused(answer);
        }
        return protocol(
            &format!("the bank answered {} without a code", answer.status),
            &answer.body,
        );
    };
    match (head.code.as_str(), stage) {
        (CLIENT_REFUSED, _) => client_refused(answer),
        (CUSTOMER_UNKNOWN | PHONE_MISMATCH | OTP_WRONG | OTP_EXPIRED, Stage::SignIn) => {
            ConnectorError::InvalidCredentials
        }
        // The customer the session stands for is gone: the access it gave is over.
        (CUSTOMER_UNKNOWN, Stage::Data) => ConnectorError::ConsentExpired,
        (CUSTOMER_BLOCKED | OTP_ATTEMPTS_EXCEEDED, _) => ConnectorError::AccessBlocked,
        (TOO_MANY_REQUESTS, _) => answer.rate_limited(),
        (CORE_UNAVAILABLE | SYSTEM_ERROR, _) => {
            ConnectorError::Transient(format!("the bank answered code {}", head.code))
        }
        (INVALID_REQUEST, _) => protocol(
            &format!(
                "the bank refused the request as malformed ({})",
                head.message.as_deref().unwrap_or("no message")
            ),
            &answer.body,
        ),
        (ACCOUNT_UNKNOWN, _) => protocol(
            "the bank does not know an account it listed for the customer",
            &answer.body,
        ),
        (code, _) => protocol(
            &format!(
                "the bank answered {} with code {code} ({}, trace {})",
                answer.status,
                head.message.as_deref().unwrap_or("no message"),
                head.trace_id.as_deref().unwrap_or("none")
            ),
            &answer.body,
        ),
    }
}

/// Refused client credentials are a configuration fault for an operator, not the owner's
/// doing and not worth retrying: they surface as a protocol error that names the headers.
fn client_refused(answer: &Answer) -> ConnectorError {
    protocol(
        &format!(
            "the bank refused Aisle's client credentials (X-Client-Id / X-Client-Secret), answering {}",
            answer.status
        ),
        &answer.body,
    )
}
