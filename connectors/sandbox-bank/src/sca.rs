//! The bank's SCA pages: where the PSU approves a consent before returning to the TPP.

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use chrono::Utc;

use crate::errors::BankError;
use crate::state::{BankState, ConsentStatus};

/// The approval page. Deliberately tiny: one button that posts to the approve URL.
pub async fn page(
    State(state): State<BankState>,
    Path(id): Path<String>,
) -> Result<Html<String>, BankError> {
    let consent = state
        .consent(&id)
        .ok_or_else(|| BankError::resource_unknown("No such consent"))?;
    // The id is a UUID we minted and the name is ours, so nothing here needs HTML escaping.
    Ok(Html(format!(
        "<!doctype html><html><head><title>Sandbox Bank</title></head><body>\
         <h1>Sandbox Bank</h1><p>{} asks to read your accounts.</p>\
         <form method=\"post\" action=\"/sca/{id}/approve\"><button type=\"submit\">Approve</button></form>\
         </body></html>",
        consent.persona.owner_name
    )))
}

/// Approves the consent and sends the PSU back to the TPP.
pub async fn approve(
    State(state): State<BankState>,
    Path(id): Path<String>,
) -> Result<Response, BankError> {
    let outcome = state
        .update_consent(&id, |consent| match consent.status {
            ConsentStatus::Received => {
                consent.status = ConsentStatus::Valid;
                consent.sca_at = Some(Utc::now());
                Ok(consent.redirect_uri.clone())
            }
            // Approving twice (a double click) lands on the same redirect.
            ConsentStatus::Valid => Ok(consent.redirect_uri.clone()),
            ConsentStatus::TerminatedByTpp => Err(BankError::status_invalid(
                "The consent was terminated and cannot be approved",
            )),
        })
        .ok_or_else(|| BankError::resource_unknown("No such consent"))?;
    let redirect_uri = outcome?;
    let separator = if redirect_uri.contains('?') { '&' } else { '?' };
    let location = format!("{redirect_uri}{separator}consentId={id}");
    Ok((StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response())
}
