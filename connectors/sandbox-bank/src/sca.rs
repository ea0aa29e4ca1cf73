//! The bank's SCA page: where the PSU logs in (if the TPP did not say who), enters password
//! and one-time code, and approves or denies the consent before returning to the TPP.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use chrono::Utc;
use minijinja::{AutoEscape, Environment, UndefinedBehavior, context};
use std::sync::LazyLock;

use crate::errors::BankError;
use crate::knobs::Fault;
use crate::personas::persona;
use crate::state::{BankState, Consent, ConsentStatus};

/// The password every persona signs in with on the SCA page.
pub const TEST_PASSWORD: &str = "sandbox";

/// The one-time code every persona's SCA accepts.
pub const TEST_OTP: &str = "123456";

pub async fn page(
    State(state): State<BankState>,
    Path(id): Path<String>,
) -> Result<Html<String>, BankError> {
    let consent = state
        .consent(&id)
        .ok_or_else(|| BankError::resource_unknown("No such consent"))?;
    if consent.status != ConsentStatus::Received {
        return Ok(Html(settled_page(consent.status_on(state.today()))?));
    }
    Ok(Html(form_page(&consent, None, "")?))
}

/// What the PSU decided on the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decision {
    Approve,
    Deny,
}

/// The posted form, `application/x-www-form-urlencoded`.
#[derive(Debug, Default)]
struct ScaForm {
    login: String,
    password: String,
    otp: String,
    decision: Option<String>,
}

impl ScaForm {
    fn parse(body: &[u8]) -> Self {
        url::form_urlencoded::parse(body).fold(Self::default(), |mut form, (name, value)| {
            match name.as_ref() {
                "login" => form.login = value.trim().to_owned(),
                "password" => form.password = value.into_owned(),
                "otp" => form.otp = value.trim().to_owned(),
                "decision" => form.decision = Some(value.into_owned()),
                _ => {}
            }
            form
        })
    }
}

/// Where a submitted form leads.
enum Outcome {
    /// Back to the TPP, with a 303.
    Redirect(String),
    /// The same page again, with a message; the consent is unchanged.
    AskAgain(&'static str),
}

/// Decides the consent and sends the PSU back to the TPP, or shows the page again.
pub async fn submit(
    State(state): State<BankState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, BankError> {
    let form = ScaForm::parse(&body);
    let decision = match form.decision.as_deref() {
        Some("approve") => Decision::Approve,
        Some("deny") => Decision::Deny,
        _ => return Err(BankError::format("decision must be approve or deny")),
    };
    let outcome = state
        .update_consent(&id, |consent| decide(consent, decision, &form))
        .ok_or_else(|| BankError::resource_unknown("No such consent"))??;
    match outcome {
        Outcome::Redirect(location) => {
            Ok((StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response())
        }
        Outcome::AskAgain(message) => {
            let consent = state
                .consent(&id)
                .ok_or_else(|| BankError::resource_unknown("No such consent"))?;
            Ok(Html(form_page(&consent, Some(message), &form.login)?).into_response())
        }
    }
}

fn decide(consent: &mut Consent, decision: Decision, form: &ScaForm) -> Result<Outcome, BankError> {
    match (consent.status, decision) {
        (ConsentStatus::Received, _) => {}
        // Approving twice (a double click) lands on the same redirect.
        (ConsentStatus::Valid, Decision::Approve) => {
            return Ok(Outcome::Redirect(consent.redirect_uri.clone()));
        }
        (status, _) => {
            return Err(BankError::status_invalid(format!(
                "The consent is {} and cannot be decided again",
                status.as_str()
            )));
        }
    }
    if decision == Decision::Deny {
        return Ok(reject(consent, "access_denied"));
    }
    let persona = match consent.persona {
        Some(persona) => persona,
        None if form.login.is_empty() => return Ok(Outcome::AskAgain("Please enter your login.")),
        None => match persona(&form.login) {
            Some(persona) => persona,
            None => {
                return Ok(Outcome::AskAgain(
                    "This login is not known to the Sandbox Bank.",
                ));
            }
        },
    };
    if persona.knobs.fault == Fault::Locked {
        return Ok(reject(consent, "access_blocked"));
    }
    if form.password != TEST_PASSWORD || form.otp != TEST_OTP {
        return Ok(reject(consent, "invalid_credentials"));
    }
    consent.persona = Some(persona);
    consent.status = ConsentStatus::Valid;
    consent.sca_at = Some(Utc::now());
    // Exactly as the TPP sent it: it carries the TPP's own state.
    Ok(Outcome::Redirect(consent.redirect_uri.clone()))
}

fn reject(consent: &mut Consent, error: &str) -> Outcome {
    consent.status = ConsentStatus::Rejected;
    Outcome::Redirect(consent.nok_location(error))
}

/// The SCA page's template, embedded at build time; minijinja escapes every value for HTML.
static TEMPLATES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|_| AutoEscape::Html);
    env.set_undefined_behavior(UndefinedBehavior::Chainable);
    if let Err(e) = env.add_template("sca.html", include_str!("../templates/sca.html")) {
        tracing::error!(error = %e, "the SCA page's template does not parse");
    }
    env
});

fn render(context: minijinja::Value) -> Result<String, BankError> {
    TEMPLATES
        .get_template("sca.html")
        .and_then(|template| template.render(context))
        .map_err(|e| {
            tracing::error!(error = %e, "the SCA page does not render");
            BankError::service_unavailable()
        })
}

/// The sign-in form for `consent`; `login` refills the login field after an error.
fn form_page(consent: &Consent, error: Option<&str>, login: &str) -> Result<String, BankError> {
    render(context! {
        consent => consent.id.as_str(),
        persona => consent.persona.map(|persona| persona.owner_name),
        error => error,
        login => login,
        password => TEST_PASSWORD,
        otp => TEST_OTP,
    })
}

/// The page for a consent that was already approved, rejected or ended.
fn settled_page(status: &str) -> Result<String, BankError> {
    render(context! { settled => status })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_what_the_page_shows_is_escaped() {
        let page = render(context! {
            consent => "c1",
            error => "<a href=\"x\">O'Neil & co</a>",
            login => "\"><script>",
            password => TEST_PASSWORD,
            otp => TEST_OTP,
        })
        .unwrap();
        assert!(
            page.contains("&lt;a href=&quot;x&quot;&gt;O&#x27;Neil &amp; co&lt;&#x2f;a&gt;"),
            "{page}"
        );
        assert!(!page.contains("<script>"), "{page}");
        assert!(page.contains("id=\"password\""), "{page}");
        assert!(
            render(context! { settled => "valid" })
                .unwrap()
                .contains("already valid")
        );
    }

    #[test]
    fn the_form_is_read_from_url_encoded_fields() {
        let form = ScaForm::parse(b"login=+alice+&password=s%26b&otp=123456&decision=approve");
        assert_eq!(form.login, "alice");
        assert_eq!(form.password, "s&b");
        assert_eq!(form.decision.as_deref(), Some("approve"));
    }
}
