//! The account service face: a retail bank's Account Service, served under
//! `/account-service`, for the `aisle-account-service` connector.
//!
//! Every call carries `X-Client-Id` and `X-Client-Secret`. The face sends no SMS: the
//! one-time code of every sending is [`form_identities::TEST_OTP`]. Answers are
//! `{"code", "message", "traceId", "data"}` as in `fixtures/account-service/`.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{SecondsFormat, Utc};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::form_identities::{self, FormAccount, Identity, TEST_OTP, money};

/// The client credentials the face expects: the bank would issue these to Aisle.
#[derive(Clone)]
pub struct AccountServiceFace {
    /// Expected in `X-Client-Id`.
    pub client_id: String,
    /// Expected in `X-Client-Secret`.
    pub client_secret: String,
}

impl Default for AccountServiceFace {
    /// The dev stack's values, documented in the sandbox bank's README.
    fn default() -> Self {
        Self {
            client_id: "aisle-sandbox".to_owned(),
            client_secret: "sandbox-client-secret".to_owned(),
        }
    }
}

impl fmt::Debug for AccountServiceFace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccountServiceFace")
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .finish()
    }
}

/// How long a texted code stays good.
const OTP_LIFETIME: Duration = Duration::from_secs(5 * 60);
/// Wrong codes allowed for one sending before the face answers `14`.
const OTP_ATTEMPTS: u8 = 3;

/// One sending of a one-time code.
struct Challenge {
    cif: &'static str,
    sent_at: Instant,
    wrong_attempts: u8,
}

struct FaceState {
    face: AccountServiceFace,
    challenges: Mutex<HashMap<String, Challenge>>,
}

type Shared = Arc<FaceState>;

/// The face's routes, to be nested under `/account-service`.
pub(crate) fn router<S: Clone + Send + Sync + 'static>(face: &AccountServiceFace) -> Router<S> {
    let state = Arc::new(FaceState {
        face: face.clone(),
        challenges: Mutex::new(HashMap::new()),
    });
    Router::new()
        .route("/get-customer-info", get(customer_info))
        .route("/get-customer-by-id", get(customer_by_id))
        .route("/get-list-account-by-customer", get(list_accounts))
        .route("/get-account-info", post(account_info))
        .route("/valid-legal-id", post(valid_legal_id))
        .route("/valid-phone-number", post(valid_phone_number))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            client_credentials,
        ))
        .with_state(state)
}

/// A refusal or a success, in the service's envelope.
struct Reply {
    status: StatusCode,
    code: &'static str,
    message: &'static str,
    data: Option<Value>,
}

impl Reply {
    fn ok(message: &'static str, data: Value) -> Self {
        Self {
            status: StatusCode::OK,
            code: "00",
            message,
            data: Some(data),
        }
    }

    fn refuse(status: StatusCode, code: &'static str, message: &'static str) -> Self {
        Self {
            status,
            code,
            message,
            data: None,
        }
    }

    fn invalid(message: &'static str) -> Self {
        Self::refuse(StatusCode::BAD_REQUEST, "01", message)
    }

    fn customer_unknown() -> Self {
        Self::refuse(StatusCode::NOT_FOUND, "10", "Customer not found")
    }

    fn customer_blocked() -> Self {
        Self::refuse(StatusCode::LOCKED, "20", "Customer is blocked")
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let mut body = json!({
            "code": self.code,
            "message": self.message,
            "traceId": Uuid::new_v4().to_string(),
        });
        if let (Some(fields), Some(data)) = (body.as_object_mut(), self.data) {
            fields.insert("data".to_owned(), data);
        }
        (self.status, Json(body)).into_response()
    }
}

async fn client_credentials(
    State(state): State<Shared>,
    headers: HeaderMap,
    request: Request,
    next: Next,
) -> Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if header("x-client-id") != Some(state.face.client_id.as_str())
        || header("x-client-secret") != Some(state.face.client_secret.as_str())
    {
        return Reply::refuse(
            StatusCode::UNAUTHORIZED,
            "02",
            "Unknown client or wrong secret",
        )
        .into_response();
    }
    next.run(request).await
}

fn body<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, Reply> {
    serde_json::from_slice(bytes).map_err(|_| Reply::invalid("Malformed or incomplete JSON body"))
}

/// `cif` from the query, and the customer it names.
fn customer_of(cif: Option<&str>) -> Result<&'static Identity, Reply> {
    let cif = cif
        .filter(|c| !c.trim().is_empty())
        .ok_or_else(|| Reply::invalid("Missing parameter: cif"))?;
    form_identities::by_cif(cif).ok_or_else(Reply::customer_unknown)
}

fn customer(identity: &Identity) -> Value {
    let related: Vec<Value> = identity
        .related_parties
        .iter()
        .map(|(name, role)| json!({"fullName": name, "role": role}))
        .collect();
    json!({
        "cif": identity.cif,
        "customerType": "INDIVIDUAL",
        "title": identity.title,
        "fullName": identity.full_name(),
        "firstName": identity.first_name,
        "lastName": identity.last_name,
        "legalId": identity.legal_id,
        "legalIdType": "ID_CARD",
        "birthDate": identity.birth_date,
        "email": identity.email,
        "phoneNumber": identity.phone_number,
        "address": {
            "street": identity.street,
            "postalCode": identity.postal_code,
            "city": identity.city,
            "country": identity.country,
        },
        "nationality": identity.nationality,
        "status": if identity.blocked { "BLOCKED" } else { "ACTIVE" },
        "relatedParties": related,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LegalIdQuery {
    legal_id: Option<String>,
}

/// `GET /get-customer-info?legalId=`: the customer record found by ID card number. Not used
/// by the connector, which learns the CIF at sign-in; here so the face has every endpoint.
async fn customer_info(Query(query): Query<LegalIdQuery>) -> Result<Reply, Reply> {
    let legal_id = query
        .legal_id
        .filter(|l| !l.trim().is_empty())
        .ok_or_else(|| Reply::invalid("Missing parameter: legalId"))?;
    let identity = form_identities::by_legal_id(&legal_id).ok_or_else(Reply::customer_unknown)?;
    Ok(Reply::ok("Success", customer(identity)))
}

#[derive(Deserialize)]
struct CifQuery {
    cif: Option<String>,
}

/// `GET /get-customer-by-id?cif=`.
async fn customer_by_id(Query(query): Query<CifQuery>) -> Result<Reply, Reply> {
    let identity = customer_of(query.cif.as_deref())?;
    Ok(Reply::ok("Success", customer(identity)))
}

fn summary(account: &FormAccount) -> Value {
    let holders: Vec<Value> = account
        .holders
        .iter()
        .map(|(name, role)| json!({"name": name, "role": role}))
        .collect();
    json!({
        "accountNumber": account.number,
        "iban": account.iban,
        "accountName": account.name,
        "productName": account.product,
        "accountType": account.kind,
        "currency": account.currency,
        "status": account.status,
        "openDate": account.opened_on,
        "holders": holders,
    })
}

/// `GET /get-list-account-by-customer?cif=`.
async fn list_accounts(Query(query): Query<CifQuery>) -> Result<Reply, Reply> {
    let identity = customer_of(query.cif.as_deref())?;
    let accounts: Vec<Value> = identity.accounts.iter().map(summary).collect();
    Ok(Reply::ok(
        "Success",
        json!({"cif": identity.cif, "accounts": accounts}),
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AccountInfoBody {
    cif: String,
    account_number: String,
}

/// `POST /get-account-info {cif, accountNumber}`: balances as of today.
async fn account_info(bytes: Bytes) -> Result<Reply, Reply> {
    let request: AccountInfoBody = body(&bytes)?;
    let identity = customer_of(Some(&request.cif))?;
    let account = identity
        .accounts
        .iter()
        .find(|a| a.number == request.account_number.trim())
        .ok_or_else(|| {
            Reply::refuse(
                StatusCode::NOT_FOUND,
                "21",
                "Account not found for customer",
            )
        })?;
    Ok(Reply::ok(
        "Success",
        json!({
            "accountNumber": account.number,
            "iban": account.iban,
            "accountName": account.name,
            "currency": account.currency,
            "status": account.status,
            "availableBalance": money(account.available_cents),
            "ledgerBalance": money(account.ledger_cents),
            "overdraftLimit": money(account.overdraft_cents),
            "balanceDate": Utc::now().date_naive().to_string(),
        }),
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LegalIdBody {
    legal_id: String,
}

/// `POST /valid-legal-id {legalId}`: the CIF of the customer with this ID card.
async fn valid_legal_id(bytes: Bytes) -> Result<Reply, Reply> {
    let request: LegalIdBody = body(&bytes)?;
    let identity =
        form_identities::by_legal_id(&request.legal_id).ok_or_else(Reply::customer_unknown)?;
    if identity.blocked {
        return Err(Reply::customer_blocked());
    }
    Ok(Reply::ok(
        "Success",
        json!({"valid": true, "cif": identity.cif, "customerStatus": "ACTIVE"}),
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PhoneBody {
    cif: String,
    phone_number: String,
    otp_reference: Option<String>,
    otp: Option<String>,
}

/// Digits with a leading `+`, however they were typed.
fn compact_phone(typed: &str) -> String {
    typed
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == '+')
        .collect()
}

/// `+49*********0001`: what the bank may show of the number it texted.
fn masked(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if i < 3 || i + 4 >= chars.len() {
                *c
            } else {
                '*'
            }
        })
        .collect()
}

/// `POST /valid-phone-number`: without `otp`, checks the number and "texts" a code; with
/// `otp` and `otpReference`, checks the code.
async fn valid_phone_number(State(state): State<Shared>, bytes: Bytes) -> Result<Reply, Reply> {
    let request: PhoneBody = body(&bytes)?;
    let identity = customer_of(Some(&request.cif))?;
    if identity.blocked {
        return Err(Reply::customer_blocked());
    }
    if compact_phone(&request.phone_number) != identity.phone_number {
        return Err(Reply::refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            "11",
            "Phone number does not match the customer",
        ));
    }
    // A poisoned lock only means a handler panicked mid-request; the map is still whole.
    let mut challenges = state
        .challenges
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    challenges.retain(|_, c| c.sent_at.elapsed() < OTP_LIFETIME);
    let Some(otp) = request.otp else {
        let reference = format!("otp-{}", Uuid::new_v4().simple());
        challenges.insert(
            reference.clone(),
            Challenge {
                cif: identity.cif,
                sent_at: Instant::now(),
                wrong_attempts: 0,
            },
        );
        let expires_at = Utc::now()
            + chrono::Duration::from_std(OTP_LIFETIME).unwrap_or(chrono::Duration::zero());
        return Ok(Reply::ok(
            "One-time code sent",
            json!({
                "valid": true,
                "otpReference": reference,
                "otpExpiresAt": expires_at.to_rfc3339_opts(SecondsFormat::Secs, true),
                "maskedPhoneNumber": masked(identity.phone_number),
            }),
        ));
    };
    let reference = request
        .otp_reference
        .ok_or_else(|| Reply::invalid("Missing field: otpReference"))?;
    let expired = || {
        Reply::refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            "13",
            "One-time code expired or unknown",
        )
    };
    let challenge = challenges.get_mut(&reference).ok_or_else(expired)?;
    if challenge.cif != identity.cif {
        return Err(expired());
    }
    if otp.trim() == TEST_OTP {
        challenges.remove(&reference);
        return Ok(Reply::ok(
            "One-time code verified",
            json!({"valid": true, "otpVerified": true}),
        ));
    }
    challenge.wrong_attempts = challenge.wrong_attempts.saturating_add(1);
    if challenge.wrong_attempts >= OTP_ATTEMPTS {
        challenges.remove(&reference);
        return Err(Reply::refuse(
            StatusCode::LOCKED,
            "14",
            "Too many wrong one-time codes; remote access blocked",
        ));
    }
    let attempts_left = OTP_ATTEMPTS - challenge.wrong_attempts;
    Err(Reply {
        data: Some(json!({"attemptsLeft": attempts_left})),
        ..Reply::refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            "12",
            "Wrong one-time code",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_masked_number_shows_its_country_code_and_last_four_digits() {
        assert_eq!(masked("+4915100000001"), "+49*******0001");
        assert_eq!(masked("+1"), "+1");
    }
}
