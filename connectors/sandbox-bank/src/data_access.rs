//! What every AIS data call (accounts, balances, cards, transactions) goes through: the
//! consent named in `Consent-ID` must be valid now, the call is counted against the consent,
//! and the persona's fault, if it has one, strikes here.

use std::sync::Arc;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};

use crate::consents::header_str;
use crate::errors::BankError;
use crate::knobs::Fault;
use crate::ledger::PersonaData;
use crate::state::{BankState, Consent};

/// The consent as it was when the call was admitted, handed from [`gate`] to the handler.
#[derive(Clone)]
struct Admitted(Consent);

/// Admits a data call, or answers for the bank before the handler runs.
pub async fn gate(State(state): State<BankState>, mut request: Request, next: Next) -> Response {
    let consent = match admit(&state, request.headers()) {
        Ok(consent) => consent,
        Err(error) => return error.into_response(),
    };
    let spends_budget = consent
        .persona
        .is_some_and(|p| matches!(p.knobs.fault, Fault::ExpiresAfter(_)));
    let id = consent.id.clone();
    request.extensions_mut().insert(Admitted(consent));
    let response = next.run(request).await;
    // Only successful calls use up the expiring persona's budget; admission reserved one.
    if spends_budget && !response.status().is_success() {
        state.update_consent(&id, |c| c.spent_calls = c.spent_calls.saturating_sub(1));
    }
    response
}

/// Checks the consent a data call names, counts the call and applies the persona's fault.
fn admit(state: &BankState, headers: &HeaderMap) -> Result<Consent, BankError> {
    let id = header_str(headers, "consent-id")
        .ok_or_else(|| BankError::format("The Consent-ID header is required"))?;
    let today = state.today();
    state
        .update_consent(id, |consent| {
            match consent.status_on(today) {
                "valid" => {}
                "received" | "rejected" => return Err(BankError::consent_invalid()),
                _ => return Err(BankError::consent_expired()),
            }
            // A valid consent always names its persona: approval sets it.
            let persona = consent.persona.ok_or_else(BankError::consent_invalid)?;
            consent.data_calls = consent.data_calls.saturating_add(1);
            let admitted = consent.clone();
            match persona.knobs.fault {
                Fault::Flaky => flaky(consent.data_calls)?,
                // Reserved now, so calls running side by side cannot overdraw the budget.
                Fault::ExpiresAfter(_) => {
                    consent.spent_calls = consent.spent_calls.saturating_add(1)
                }
                Fault::None | Fault::GarbageTransactions | Fault::Locked | Fault::Hostile(_) => {}
            }
            Ok(admitted)
        })
        .unwrap_or_else(|| Err(BankError::consent_invalid()))
}

/// The flaky persona's answer to its `call`-th data call: the 2nd, 6th, 10th... fail, first
/// with a 503, then with a 429, and so on alternately.
fn flaky(call: u32) -> Result<(), BankError> {
    if call % 4 != 2 {
        return Ok(());
    }
    if (call / 4).is_multiple_of(2) {
        Err(BankError::service_unavailable())
    } else {
        Err(BankError::access_exceeded(1))
    }
}

/// The persona data an AIS call may read, and when its consent's SCA happened. Every account
/// and card handler takes this instead of checking the consent itself.
pub struct ConsentedData {
    pub data: Arc<PersonaData>,
    pub sca_at: Option<DateTime<Utc>>,
}

impl FromRequestParts<BankState> for ConsentedData {
    type Rejection = BankError;

    async fn from_request_parts(parts: &mut Parts, state: &BankState) -> Result<Self, BankError> {
        let consent = match parts.extensions.remove::<Admitted>() {
            Some(Admitted(consent)) => consent,
            // A route outside the gate still gets the consent checked, and counted, here.
            None => admit(state, &parts.headers)?,
        };
        let persona = consent.persona.ok_or_else(BankError::consent_invalid)?;
        Ok(Self {
            data: state.persona_data(persona),
            sca_at: consent.sca_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flaky_persona_fails_every_fourth_call_alternating_503_and_429() {
        let answers: Vec<Option<u16>> = (1..=12)
            .map(|call| flaky(call).err().map(|e| e.status.as_u16()))
            .collect();
        assert_eq!(
            answers,
            [
                None,
                Some(503),
                None,
                None,
                None,
                Some(429),
                None,
                None,
                None,
                Some(503),
                None,
                None
            ]
        );
    }
}
