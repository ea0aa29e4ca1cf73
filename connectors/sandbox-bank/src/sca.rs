//! The bank's SCA page: where the PSU logs in (if the TPP did not say who), enters password
//! and one-time code, and approves or denies the consent before returning to the TPP.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use chrono::Utc;

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
        return Ok(Html(settled_page(consent.status_on(state.today()))));
    }
    Ok(Html(form_page(&consent, None, "")))
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
            Ok(Html(form_page(&consent, Some(message), &form.login)).into_response())
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

/// The page's look: a plain bank page on a phone, one card, full-width fields.
const STYLE: &str = r#"
*, *::before, *::after { box-sizing: border-box; }
body { margin: 0; background: #eef1f5; color: #1a2332; font: 16px/1.45 system-ui, -apple-system, Segoe UI, Roboto, Helvetica Neue, Arial, sans-serif; }
header { display: flex; align-items: center; gap: 10px; padding: 12px 16px; background: #0d3b66; color: #fff; }
header h1 { margin: 0; font-size: 1.15rem; }
.logo { display: inline-flex; align-items: center; justify-content: center; width: 32px; height: 32px; border-radius: 50%; background: #f4d35e; color: #0d3b66; font-size: 0.8rem; font-weight: 800; }
main { max-width: 480px; margin: 0 auto; padding: 16px; }
.card { padding: 20px 16px; border-radius: 12px; background: #fff; box-shadow: 0 1px 3px rgba(16, 24, 40, 0.15); }
p { margin: 0 0 14px; }
label { display: block; margin-bottom: 4px; font-size: 0.9rem; font-weight: 600; }
input { display: block; width: 100%; min-height: 46px; padding: 10px 12px; border: 1px solid #8d99a8; border-radius: 8px; background: #fff; font: inherit; }
input:focus { border-color: #0d3b66; outline: 3px solid rgba(13, 59, 102, 0.3); }
form p:last-child { display: flex; flex-direction: column; gap: 10px; margin: 22px 0 0; }
button { min-height: 48px; padding: 10px 16px; border: 1px solid #0d3b66; border-radius: 8px; font: inherit; font-weight: 600; cursor: pointer; }
button[value="approve"] { background: #0d3b66; color: #fff; }
button[value="approve"]:hover { background: #092a4a; }
button[value="deny"] { background: #fff; color: #0d3b66; }
button[value="deny"]:hover { background: #eef3f9; }
button:focus-visible { outline: 3px solid rgba(13, 59, 102, 0.4); outline-offset: 2px; }
[role="alert"] { padding: 10px 12px; border: 1px solid #f3c0b9; border-radius: 8px; background: #fdecea; color: #8a1c12; }
small { display: block; margin-top: 18px; color: #5b6470; }
code { padding: 1px 4px; border-radius: 4px; background: #eef1f5; }
"#;

/// The page's frame, around `content`.
fn html_page(content: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>Sandbox Bank</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
         <header><span class=\"logo\" aria-hidden=\"true\">SB</span><h1>Sandbox Bank</h1></header>\n\
         <main>\n<div class=\"card\">\n{content}</div>\n</main>\n</body>\n</html>\n"
    )
}

/// The sign-in form for `consent`; `login` refills the login field after an error.
fn form_page(consent: &Consent, error: Option<&str>, login: &str) -> String {
    let mut content = String::from(
        "<p>A third party asks to read your accounts, balances and transactions.</p>\n",
    );
    if let Some(persona) = consent.persona {
        content.push_str(&format!(
            "<p>Signing in as <strong>{}</strong>.</p>\n",
            escape(persona.owner_name)
        ));
    }
    if let Some(message) = error {
        content.push_str(&format!("<p role=\"alert\">{}</p>\n", escape(message)));
    }
    content.push_str(&format!(
        "<form method=\"post\" action=\"/sca/{}\">\n",
        escape(&consent.id)
    ));
    if consent.persona.is_none() {
        content.push_str(&format!(
            "<p><label for=\"login\">Login</label>\n\
             <input id=\"login\" name=\"login\" autocomplete=\"username\" required value=\"{}\"></p>\n",
            escape(login)
        ));
    }
    content.push_str(
        "<p><label for=\"password\">Password</label>\n\
         <input id=\"password\" name=\"password\" type=\"password\" \
         autocomplete=\"current-password\" required></p>\n\
         <p><label for=\"otp\">One-time code</label>\n\
         <input id=\"otp\" name=\"otp\" inputmode=\"numeric\" autocomplete=\"one-time-code\" \
         required></p>\n\
         <p><button type=\"submit\" name=\"decision\" value=\"approve\">Approve</button>\n\
         <button type=\"submit\" name=\"decision\" value=\"deny\" formnovalidate>Deny</button></p>\n\
         </form>\n",
    );
    content.push_str(&format!(
        "<p><small>Sandbox: the password is <code>{}</code> and the code <code>{}</code>.</small></p>\n",
        escape(TEST_PASSWORD),
        escape(TEST_OTP)
    ));
    html_page(&content)
}

/// The page for a consent that was already approved, rejected or ended.
fn settled_page(status: &str) -> String {
    html_page(&format!(
        "<p>This request is already {}; there is nothing left to decide.</p>\n",
        escape(status)
    ))
}

/// Escapes text for an HTML element or a quoted attribute.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_interpolated_text_is_escaped() {
        assert_eq!(
            escape("<a href=\"x\">O'Neil & co</a>"),
            "&lt;a href=&quot;x&quot;&gt;O&#39;Neil &amp; co&lt;/a&gt;"
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
