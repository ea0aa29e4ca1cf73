//! `/sandbox/...`: what a test harness may ask the bank about itself, beyond the Berlin Group
//! API. Not part of any bank's interface; it names no account data.

use axum::extract::State;
use axum::{Json, Router, routing::get};
use serde_json::{Value, json};

use crate::state::BankState;

pub fn routes() -> Router<BankState> {
    Router::new()
        .route("/sandbox/consents", get(consents))
        .route("/sandbox/leaks", get(leaks))
}

/// Every consent with its status, its persona's login (`null` until the PSU names themself)
/// and how many AIS data calls it admitted, so a harness can check each import ended its own.
async fn consents(State(state): State<BankState>) -> Json<Value> {
    let today = state.today();
    let consents: Vec<Value> = state
        .consents()
        .iter()
        .map(|c| {
            json!({
                "consentId": c.id,
                "status": c.status_on(today),
                "login": c.persona.map(|p| p.login),
                "dataCalls": c.data_calls,
            })
        })
        .collect();
    Json(Value::Array(consents))
}

/// `{consentIdLeaks}`: requests that reached the redirect-away persona's other host carrying
/// `Consent-ID`.
async fn leaks(State(state): State<BankState>) -> Json<Value> {
    Json(json!({"consentIdLeaks": state.consent_id_leaks()}))
}
