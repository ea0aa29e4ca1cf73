//! `/v1/consents/{id}/authorisations`: the decoupled and embedded SCA approaches, for consents
//! whose TPP asked not to be redirected (see `consents::approach_for`).
//!
//! - Decoupled: the TPP starts the authorisation with `PSU-ID`; the persona decides in "the
//!   bank's app" a fixed time later ([`AppDecision`]); the TPP polls the `scaStatus` link,
//!   paced by `Retry-After: 1`.
//! - Embedded: the TPP starts it with `PSU-ID` and `psuData.password`; a persona with several
//!   methods has one chosen (`authenticationMethodId`), then the one-time code
//!   (`scaAuthenticationData`) finishes it.
//!
//! The test credentials are the SCA page's: [`TEST_PASSWORD`] and [`TEST_OTP`].

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::consents::header_str;
use crate::errors::BankError;
use crate::knobs::Fault;
use crate::personas::{AppDecision, Persona, ScaMethod, persona};
use crate::sca::{TEST_OTP, TEST_PASSWORD};
use crate::state::{
    Authorisation, AuthorisationStage, BankState, Consent, ConsentStatus, ScaApproach,
};

/// The bank's text on a decoupled authorisation, shown to the PSU by the TPP.
pub const APP_MESSAGE: &str = "Please approve the access in your Sandbox Bank app.";

/// The body of a start or an update; each field is what one step sends.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AuthorisationBody {
    psu_data: Option<PsuData>,
    authentication_method_id: Option<String>,
    sca_authentication_data: Option<String>,
}

#[derive(Debug, Deserialize)]
struct PsuData {
    password: Option<String>,
}

fn read_body(body: &[u8]) -> Result<AuthorisationBody, BankError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(AuthorisationBody::default());
    }
    serde_json::from_slice(body)
        .map_err(|e| BankError::format(format!("Malformed authorisation request: {e}")))
}

/// `POST /v1/consents/{id}/authorisations`.
pub async fn start(
    State(state): State<BankState>,
    Path(consent_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, BankError> {
    let request = read_body(&body)?;
    let psu_id = header_str(&headers, "psu-id").map(str::trim);
    let started = state
        .update_consent(&consent_id, |consent| {
            begin(consent, psu_id, request.psu_data.as_ref())
        })
        .ok_or_else(BankError::consent_unknown)??;
    let body = answer(&consent_id, &started);
    let approach = started.approach.as_str();
    Ok((
        StatusCode::CREATED,
        [("aspsp-sca-approach", approach)],
        Json(body),
    )
        .into_response())
}

/// What an authorisation answer is made of.
struct Step {
    approach: ScaApproach,
    authorisation: Authorisation,
    persona: &'static Persona,
}

fn begin(
    consent: &mut Consent,
    psu_id: Option<&str>,
    psu_data: Option<&PsuData>,
) -> Result<Step, BankError> {
    if consent.approach == ScaApproach::Redirect {
        return Err(BankError::status_invalid(
            "This consent is authorised on the bank's SCA page",
        ));
    }
    if consent.status != ConsentStatus::Received || consent.authorisation.is_some() {
        return Err(BankError::status_invalid(format!(
            "The consent is {} and its authorisation has started",
            consent.status.as_str()
        )));
    }
    let persona = psu_id
        .and_then(persona)
        .ok_or_else(BankError::psu_credentials_invalid)?;
    if consent.persona.is_some_and(|p| p.login != persona.login) {
        return Err(BankError::psu_credentials_invalid());
    }
    if persona.knobs.fault == Fault::Locked {
        consent.status = ConsentStatus::Rejected;
        return Err(BankError::service_blocked());
    }
    let stage = match consent.approach {
        ScaApproach::Embedded => {
            let password = psu_data.and_then(|d| d.password.as_deref());
            if password != Some(TEST_PASSWORD) {
                consent.status = ConsentStatus::Rejected;
                return Err(BankError::psu_credentials_invalid());
            }
            match persona.sca.methods {
                [only] => AuthorisationStage::MethodSelected(only),
                _ => AuthorisationStage::MethodsOffered,
            }
        }
        ScaApproach::Decoupled | ScaApproach::Redirect => AuthorisationStage::InApp,
    };
    consent.persona = Some(persona);
    let authorisation = Authorisation {
        id: Uuid::new_v4().to_string(),
        stage,
        started: std::time::Instant::now(),
    };
    consent.authorisation = Some(authorisation.clone());
    Ok(Step {
        approach: consent.approach,
        authorisation,
        persona,
    })
}

/// `GET /v1/consents/{id}/authorisations/{authorisationId}`: the `scaStatus`, after the
/// decoupled persona's app has had its say.
pub async fn status(
    State(state): State<BankState>,
    Path((consent_id, authorisation_id)): Path<(String, String)>,
) -> Result<Response, BankError> {
    let stage = state
        .update_consent(&consent_id, |consent| {
            let stage = authorisation_of(consent, &authorisation_id)?.stage;
            Ok(if stage == AuthorisationStage::InApp {
                decide_in_app(consent)
            } else {
                stage
            })
        })
        .ok_or_else(BankError::consent_unknown)??;
    let mut response = Json(json!({"scaStatus": stage.sca_status()})).into_response();
    if stage == AuthorisationStage::InApp {
        // The TPP should come back soon, not hammer: a second is what the app needs.
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    Ok(response)
}

fn authorisation_of<'a>(
    consent: &'a mut Consent,
    authorisation_id: &str,
) -> Result<&'a mut Authorisation, BankError> {
    consent
        .authorisation
        .as_mut()
        .filter(|a| a.id == authorisation_id)
        .ok_or_else(|| BankError::resource_unknown("No such authorisation"))
}

/// The persona decides in the app once its time is up; the consent follows.
fn decide_in_app(consent: &mut Consent) -> AuthorisationStage {
    let (Some(persona), Some(authorisation)) = (consent.persona, consent.authorisation.as_mut())
    else {
        return AuthorisationStage::InApp;
    };
    let elapsed = authorisation.started.elapsed();
    let stage = match persona.sca.app {
        AppDecision::Approve { after } if elapsed >= after => AuthorisationStage::Finalised,
        AppDecision::Refuse { after } if elapsed >= after => AuthorisationStage::Failed,
        _ => return AuthorisationStage::InApp,
    };
    authorisation.stage = stage;
    settle(consent, stage);
    stage
}

/// A finished authorisation settles its consent: valid from now, or rejected.
fn settle(consent: &mut Consent, stage: AuthorisationStage) {
    match stage {
        AuthorisationStage::Finalised => {
            consent.status = ConsentStatus::Valid;
            consent.sca_at = Some(Utc::now());
        }
        AuthorisationStage::Failed => consent.status = ConsentStatus::Rejected,
        _ => {}
    }
}

/// `PUT /v1/consents/{id}/authorisations/{authorisationId}`: the chosen method, or the
/// one-time code.
pub async fn update(
    State(state): State<BankState>,
    Path((consent_id, authorisation_id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, BankError> {
    let request = read_body(&body)?;
    let step = state
        .update_consent(&consent_id, |consent| {
            advance(consent, &authorisation_id, &request)
        })
        .ok_or_else(BankError::consent_unknown)??;
    Ok(Json(answer(&consent_id, &step)).into_response())
}

fn advance(
    consent: &mut Consent,
    authorisation_id: &str,
    request: &AuthorisationBody,
) -> Result<Step, BankError> {
    let approach = consent.approach;
    let persona = consent
        .persona
        .ok_or_else(|| BankError::status_invalid("The PSU has not been identified"))?;
    let authorisation = authorisation_of(consent, authorisation_id)?;
    let stage = match (authorisation.stage, request) {
        (
            AuthorisationStage::MethodsOffered,
            AuthorisationBody {
                authentication_method_id: Some(id),
                ..
            },
        ) => {
            let method = persona
                .sca
                .methods
                .iter()
                .find(|m| m.id == id)
                .ok_or_else(|| BankError::format("authenticationMethodId is not offered"))?;
            AuthorisationStage::MethodSelected(method)
        }
        (
            AuthorisationStage::MethodSelected(_),
            AuthorisationBody {
                sca_authentication_data: Some(code),
                ..
            },
        ) if code.trim() == TEST_OTP => AuthorisationStage::Finalised,
        (
            AuthorisationStage::MethodSelected(_),
            AuthorisationBody {
                sca_authentication_data: Some(_),
                ..
            },
        ) => AuthorisationStage::Failed,
        (stage, _) => {
            return Err(BankError::status_invalid(format!(
                "The authorisation is {} and expects another step",
                stage.sca_status()
            )));
        }
    };
    authorisation.stage = stage;
    let authorisation = authorisation.clone();
    settle(consent, stage);
    Ok(Step {
        approach,
        authorisation,
        persona,
    })
}

/// The body answering a start or an update, in the shapes of the spec's examples.
fn answer(consent_id: &str, step: &Step) -> Value {
    let authorisation = &step.authorisation;
    let href = format!(
        "/v1/consents/{consent_id}/authorisations/{}",
        authorisation.id
    );
    let stage = authorisation.stage;
    let mut body = json!({
        "scaStatus": stage.sca_status(),
        "authorisationId": authorisation.id,
    });
    let extra = match stage {
        // updatePsuIdentificationResponseExample_Decoupled.
        AuthorisationStage::InApp => json!({
            "psuMessage": APP_MESSAGE,
            "_links": {"scaStatus": {"href": href}},
        }),
        AuthorisationStage::MethodsOffered => json!({
            "scaMethods": step.persona.sca.methods.iter().map(method).collect::<Vec<_>>(),
            "_links": {"selectAuthenticationMethod": {"href": href}},
        }),
        // selectPsuAuthenticationMethodResponseExample_Embedded.
        AuthorisationStage::MethodSelected(chosen) => json!({
            "chosenScaMethod": method(chosen),
            "challengeData": {
                "otpMaxLength": 6,
                "otpFormat": "integer",
                "additionalInformation": chosen.prompt,
            },
            "_links": {"authoriseTransaction": {"href": href}},
        }),
        AuthorisationStage::Finalised | AuthorisationStage::Failed => json!({
            "_links": {"scaStatus": {"href": href}},
        }),
    };
    if let (Some(fields), Value::Object(extra)) = (body.as_object_mut(), extra) {
        fields.extend(extra);
    }
    body
}

fn method(method: &ScaMethod) -> Value {
    json!({
        "authenticationType": method.kind,
        "authenticationMethodId": method.id,
        "name": method.name,
    })
}
