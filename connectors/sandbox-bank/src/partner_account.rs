//! The partner account face: the partner "Get Account Information" API (v1.5), served under
//! `/partner`, for the `aisle-partner-account` connector.
//!
//! `GET /partner/account/{accno}` with `X-Auth-Token`, `partnerReference`, `programCode`,
//! `accnoType` (`ACCNO` or `IBAN`), `localDate` (`YYYYMMDD`) and `localTime` (`HHMMSS`).
//! The persona data comes from [`crate::form_identities`].

use std::fmt;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{NaiveDate, NaiveTime, SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::form_identities::{self, FormAccount, Identity, money};

/// What the partner face expects from its one partner: the bank would issue these to Aisle.
#[derive(Clone)]
pub struct PartnerAccountFace {
    /// Expected in `X-Auth-Token`.
    pub auth_token: String,
    /// Expected in `partnerReference`.
    pub partner_reference: String,
    /// Expected in `programCode`.
    pub program_code: String,
}

impl Default for PartnerAccountFace {
    /// The dev stack's values, documented in the sandbox bank's README.
    fn default() -> Self {
        Self {
            auth_token: "sandbox-partner-token".to_owned(),
            partner_reference: "AISLE".to_owned(),
            program_code: "AIS-SANDBOX".to_owned(),
        }
    }
}

impl fmt::Debug for PartnerAccountFace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PartnerAccountFace")
            .field("auth_token", &"[redacted]")
            .field("partner_reference", &self.partner_reference)
            .field("program_code", &self.program_code)
            .finish()
    }
}

/// The face's routes, to be nested under `/partner`.
pub(crate) fn router<S: Clone + Send + Sync + 'static>(face: &PartnerAccountFace) -> Router<S> {
    Router::new()
        .route("/account/{accno}", get(account_information))
        .with_state(Arc::new(face.clone()))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AccountQuery {
    partner_reference: Option<String>,
    program_code: Option<String>,
    accno_type: Option<String>,
    local_date: Option<String>,
    local_time: Option<String>,
}

/// The API's envelope; `data` is `null` on every refusal.
fn reply(status: StatusCode, code: &str, message: &str, data: Option<Value>) -> Response {
    let body = json!({
        "responseCode": code,
        "responseMessage": message,
        "responseDateTime": Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true),
        "data": data,
    });
    (status, Json(body)).into_response()
}

fn well_formed_clock(query: &AccountQuery) -> bool {
    let date = query
        .local_date
        .as_deref()
        .is_some_and(|d| d.len() == 8 && NaiveDate::parse_from_str(d, "%Y%m%d").is_ok());
    let time = query
        .local_time
        .as_deref()
        .is_some_and(|t| t.len() == 6 && NaiveTime::parse_from_str(t, "%H%M%S").is_ok());
    date && time
}

async fn account_information(
    State(face): State<Arc<PartnerAccountFace>>,
    Path(accno): Path<String>,
    Query(query): Query<AccountQuery>,
    headers: HeaderMap,
) -> Response {
    let token = headers.get("x-auth-token").and_then(|v| v.to_str().ok());
    if token != Some(face.auth_token.as_str()) {
        return reply(
            StatusCode::UNAUTHORIZED,
            "0001",
            "Invalid or expired token",
            None,
        );
    }
    if query.partner_reference.as_deref() != Some(face.partner_reference.as_str())
        || query.program_code.as_deref() != Some(face.program_code.as_str())
    {
        return reply(
            StatusCode::FORBIDDEN,
            "0002",
            "Partner not enrolled in program",
            None,
        );
    }
    if !well_formed_clock(&query) {
        return reply(
            StatusCode::BAD_REQUEST,
            "0003",
            "Invalid parameter: localDate/localTime",
            None,
        );
    }
    let is_iban = match query.accno_type.as_deref() {
        Some("ACCNO") => false,
        Some("IBAN") => true,
        _ => {
            return reply(
                StatusCode::BAD_REQUEST,
                "0003",
                "Invalid parameter: accnoType",
                None,
            );
        }
    };
    if accno.is_empty() || !accno.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return reply(
            StatusCode::BAD_REQUEST,
            "0014",
            "Invalid account number",
            None,
        );
    }
    let Some((identity, account)) = form_identities::by_account(&accno, is_iban) else {
        return reply(StatusCode::NOT_FOUND, "0008", "Account not found", None);
    };
    if identity.blocked {
        return reply(StatusCode::FORBIDDEN, "0009", "Account blocked", None);
    }
    reply(
        StatusCode::OK,
        "0000",
        "Success",
        Some(information(identity, account, is_iban)),
    )
}

/// The `data` of a success, in the shape of `fixtures/partner-account/success.json`.
fn information(identity: &Identity, account: &FormAccount, by_iban: bool) -> Value {
    let (accno, accno_type) = if by_iban {
        (account.iban, "IBAN")
    } else {
        (account.number, "ACCNO")
    };
    json!({
        "owner": {
            "title": identity.title,
            "firstName": identity.first_name,
            "lastName": identity.last_name,
            "address": {
                "line1": identity.street,
                "line2": null,
                "postalCode": identity.postal_code,
                "city": identity.city,
            },
            "country": identity.country,
            "birthDate": identity.birth_date,
            "email": identity.email,
            "nationality": identity.nationality,
        },
        "account": {
            "accno": accno,
            "accnoType": accno_type,
            "currency": account.currency,
            "type": account.kind,
            "status": account.status,
            "creationDate": account.opened_on,
            "validityDate": account.valid_until,
            "minAllowedBalance": account.min_balance().to_string(),
            "maxAllowedBalance": account.max_balance_cents.map(money),
        },
    })
}
