//! Logs never carry a capability or a full account number (issue 12). One full run, from a
//! redirection through the bank's SCA page and callback to a finished import, is logged at
//! debug level into memory and searched for every secret the run handled.
//!
//! A binary of its own: the capture must be the process's global subscriber, installed before
//! anything logs, and no other test may write into it.

#[allow(dead_code)] // the harness serves the `api` binary's many tests; this one uses a few
#[path = "api/helpers.rs"]
mod helpers;

use std::{
    io,
    sync::{Arc, Mutex},
    time::Duration,
};

use reqwest::{StatusCode, redirect::Policy};
use serde_json::{Value, json};
use tracing_subscriber::{EnvFilter, fmt::MakeWriter};

use helpers::spawn_app;

/// Every line logged, in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
    }
}

const BACK: &str = "http://127.0.0.1:9/back";

fn location(response: &reqwest::Response) -> String {
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "a 303");
    response.headers()["location"].to_str().unwrap().to_string()
}

#[tokio::test]
async fn a_full_run_logged_at_debug_level_names_no_capability_and_no_account_number() {
    let logs = Captured::default();
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new("debug"))
        .with_ansi(false)
        .with_writer(logs.clone())
        .init();

    let app = spawn_app().await;
    let browser = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap();
    app.register(app.client_id, &[], &[BACK]).await;
    let created: Value = app
        .http
        .post(format!("{}/v1/signin/redirections", app.address))
        .bearer_auth(&app.api_key)
        .json(&json!({"redirectUri": BACK, "ownerExternalId": "owner-9"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let signin_id = created["redirectionId"].as_str().unwrap().to_string();

    let picked = browser
        .post(format!("{}/signin/api/{signin_id}/bank", app.address))
        .json(&json!({"bank": "sandbox"}))
        .send()
        .await
        .unwrap();
    assert_eq!(picked.status(), StatusCode::OK);
    // The page's browser is bound to the bank attempt: it sends the cookie back, as any does.
    let cookie = picked
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(|value| value.split(';').next())
        .expect("the binding cookie")
        .to_string();
    let go = browser
        .get(format!("{}/signin/s/{signin_id}/go", app.address))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    let sca_page = location(&go);
    let approved = browser
        .post(&sca_page)
        .form(&[
            ("login", "alice"),
            ("password", aisle_sandbox_bank::TEST_PASSWORD),
            ("otp", aisle_sandbox_bank::TEST_OTP),
            ("decision", "approve"),
        ])
        .send()
        .await
        .unwrap();
    let callback = reqwest::Url::parse(&location(&approved)).unwrap();
    let back = browser
        .get(callback.clone())
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert!(location(&back).starts_with(BACK));

    let status: Value = app
        .http
        .get(format!(
            "{}/v1/signin/redirections/{signin_id}",
            app.address
        ))
        .bearer_auth(&app.api_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["status"], "succeeded", "{status}");
    let session = json!({
        "sessionId": status["sessionId"],
        "sessionIdSignature": status["sessionIdSignature"],
    });
    let command_id = app.start_import_with_session(&session).await;
    let command = app
        .wait_for_command(&command_id, Duration::from_secs(30))
        .await;
    assert_eq!(command["state"], "successful", "{command}");

    let callback_token = callback
        .path_segments()
        .and_then(|mut segments| segments.next_back())
        .unwrap()
        .to_string();
    let mut secrets = vec![
        ("sign-in id", signin_id.clone()),
        ("sign-in id, unhyphenated", signin_id.replace('-', "")),
        ("callback token", callback_token),
        (
            "session signature",
            status["sessionIdSignature"].as_str().unwrap().to_string(),
        ),
        ("API key", app.api_key.clone()),
        (
            "browser-binding key",
            cookie.split_once('=').unwrap().1.to_string(),
        ),
    ];
    // Whatever the bank put in its way back (OAuth code and state, consent references).
    for (name, value) in callback.query_pairs() {
        secrets.push(("callback parameter", format!("{name}={value}")));
        if value.len() >= 8 {
            secrets.push(("callback parameter value", value.into_owned()));
        }
    }
    let accounts = command["result"]["accounts"].as_array().unwrap();
    assert!(!accounts.is_empty(), "{command}");
    for account in accounts {
        if let Some(iban) = account["iban"].as_str() {
            secrets.push(("IBAN", iban.to_string()));
        }
    }

    let logged = logs.text();
    assert!(
        logged.contains("DEBUG") && logged.contains("command finished"),
        "the run was logged at debug level"
    );
    for (what, secret) in &secrets {
        if let Some(line) = logged.lines().find(|line| line.contains(secret.as_str())) {
            panic!("the logs name a {what}: {line}");
        }
    }
}
