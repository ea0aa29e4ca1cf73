//! `/v1/consents`: creating, reading and terminating AIS consents.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use serde::{Deserialize, Deserializer};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::errors::BankError;
use crate::knobs::Fault;
use crate::personas::{Persona, persona};
use crate::state::{BankState, Consent, ConsentStatus, ScaApproach};

/// The body of `POST /v1/consents`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConsentRequest {
    access: Value,
    #[serde(deserialize_with = "bool_or_string")]
    recurring_indicator: bool,
    valid_until: NaiveDate,
    frequency_per_day: u32,
}

/// The spec's own examples send `"recurringIndicator": "true"`, so accept both spellings.
fn bool_or_string<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Flag {
        Bool(bool),
        Text(String),
    }
    match Flag::deserialize(deserializer)? {
        Flag::Bool(b) => Ok(b),
        Flag::Text(t) if t == "true" => Ok(true),
        Flag::Text(t) if t == "false" => Ok(false),
        Flag::Text(t) => Err(serde::de::Error::custom(format!(
            "recurringIndicator must be true or false, not {t:?}"
        ))),
    }
}

pub(crate) fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Who the consent is for, from `PSU-ID`: nobody yet when the header is absent (the PSU
/// logs in on the SCA page), refused when the bank does not know or will not serve the PSU.
fn psu(headers: &HeaderMap) -> Result<Option<&'static Persona>, BankError> {
    let Some(psu_id) = header_str(headers, "psu-id") else {
        return Ok(None);
    };
    let persona = persona(psu_id).ok_or_else(BankError::psu_credentials_invalid)?;
    if persona.knobs.fault == Fault::Locked {
        return Err(BankError::service_blocked());
    }
    Ok(Some(persona))
}

/// A redirect header, which must be an absolute URL: the SCA page sends the PSU there.
fn redirect_header(headers: &HeaderMap, name: &str) -> Result<Option<String>, BankError> {
    let Some(raw) = header_str(headers, name) else {
        return Ok(None);
    };
    url::Url::parse(raw)
        .map_err(|e| BankError::format(format!("{name} must be an absolute URL: {e}")))?;
    Ok(Some(raw.to_owned()))
}

/// The approach the bank takes, from the TPP's preference: `TPP-Redirect-Preferred: false`
/// asks the bank to choose between embedded and decoupled, and `TPP-Decoupled-Preferred: true`
/// tips it to decoupled (the spec leaves the choice to the bank; this one follows the TPP).
fn approach_for(headers: &HeaderMap) -> ScaApproach {
    let flag = |name: &str| header_str(headers, name).map(str::trim);
    match (
        flag("tpp-redirect-preferred"),
        flag("tpp-decoupled-preferred"),
    ) {
        (_, Some("true")) => ScaApproach::Decoupled,
        (Some("false"), _) => ScaApproach::Embedded,
        _ => ScaApproach::Redirect,
    }
}

pub async fn create(
    State(state): State<BankState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, BankError> {
    let persona = psu(&headers)?;
    let redirect_uri = redirect_header(&headers, "tpp-redirect-uri")?
        .ok_or_else(|| BankError::format("The TPP-Redirect-URI header is required"))?;
    let nok_redirect_uri = redirect_header(&headers, "tpp-nok-redirect-uri")?;
    let request: ConsentRequest = serde_json::from_slice(&body)
        .map_err(|e| BankError::format(format!("Malformed consent request: {e}")))?;
    if !request.access.is_object() {
        return Err(BankError::format("access must be an object"));
    }
    if request.valid_until < state.today() {
        return Err(BankError::format("validUntil lies in the past"));
    }
    let approach = approach_for(&headers);
    let id = Uuid::new_v4().to_string();
    let host = header_str(&headers, header::HOST.as_str()).unwrap_or("localhost");
    state.insert_consent(Consent {
        id: id.clone(),
        persona,
        redirect_uri,
        nok_redirect_uri,
        access: request.access,
        recurring_indicator: request.recurring_indicator,
        valid_until: request.valid_until,
        frequency_per_day: request.frequency_per_day,
        status: ConsentStatus::Received,
        sca_at: None,
        data_calls: 0,
        spent_calls: 0,
        approach,
        authorisation: None,
    });
    let start = format!("/v1/consents/{id}/authorisations");
    let sca_link = match approach {
        ScaApproach::Redirect => {
            json!({"scaRedirect": {"href": format!("http://{host}/sca/{id}")}})
        }
        // consentResponseExample3_Decoupled and consentResponseExample4_Embedded.
        ScaApproach::Decoupled => {
            json!({"startAuthorisationWithPsuIdentification": {"href": start}})
        }
        ScaApproach::Embedded => {
            json!({"startAuthorisationWithPsuAuthentication": {"href": start}})
        }
    };
    let mut links = json!({
        "self": {"href": format!("/v1/consents/{id}")},
        "status": {"href": format!("/v1/consents/{id}/status")},
    });
    if let (Some(links), Value::Object(sca)) = (links.as_object_mut(), sca_link) {
        links.extend(sca);
    }
    let body = json!({
        "consentStatus": ConsentStatus::Received.as_str(),
        "consentId": id,
        "_links": links,
    });
    Ok((
        StatusCode::CREATED,
        [("aspsp-sca-approach", approach.as_str())],
        Json(body),
    )
        .into_response())
}

pub async fn status(
    State(state): State<BankState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, BankError> {
    let consent = state.consent(&id).ok_or_else(BankError::consent_unknown)?;
    Ok(Json(
        json!({"consentStatus": consent.status_on(state.today())}),
    ))
}

pub async fn read(
    State(state): State<BankState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, BankError> {
    let consent = state.consent(&id).ok_or_else(BankError::consent_unknown)?;
    let mut body = json!({
        "access": consent.access,
        "recurringIndicator": consent.recurring_indicator,
        "validUntil": consent.valid_until,
        "frequencyPerDay": consent.frequency_per_day,
        "consentStatus": consent.status_on(state.today()),
        "_links": {"account": {"href": "/v1/accounts"}},
    });
    if let (Some(sca_at), Some(fields)) = (consent.sca_at, body.as_object_mut()) {
        fields.insert("lastActionDate".into(), json!(sca_at.date_naive()));
    }
    Ok(Json(body))
}

pub async fn delete(
    State(state): State<BankState>,
    Path(id): Path<String>,
) -> Result<StatusCode, BankError> {
    state
        .update_consent(&id, |c| c.status = ConsentStatus::TerminatedByTpp)
        .ok_or_else(BankError::consent_unknown)?;
    Ok(StatusCode::NO_CONTENT)
}
