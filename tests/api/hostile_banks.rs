//! Issue 10: a bank can send anything. Each hostile reply ends its import with
//! `BankProtocolError`: never a panic, a hang, an unbounded read or a half-written result,
//! and never a secret header sent to another host.

use std::time::Duration;

use serde_json::Value;

use crate::helpers::{TestApp, spawn_app};

async fn import_of(app: &TestApp, login: &str) -> Value {
    let command_id = app.start_import(login).await;
    app.wait_for_command(&command_id, Duration::from_secs(120))
        .await
}

async fn assert_protocol_error(app: &TestApp, login: &str) {
    let command = import_of(app, login).await;
    assert_eq!(command["state"], "error", "{login}: {command}");
    assert_eq!(
        command["error"]["code"], "BankProtocolError",
        "{login}: {command}"
    );
    assert!(command["result"].is_null(), "{login}: no partial result");
    assert_eq!(
        app.count("select count(*) from transactions").await,
        0,
        "{login}: nothing stored"
    );
    assert_eq!(app.secrets_left().await, 0, "{login}: the secret is erased");
}

#[tokio::test]
async fn balances_that_overflow_a_decimal_end_the_import_as_a_protocol_error_not_a_panic() {
    assert_protocol_error(&spawn_app().await, "overflow").await;
}

#[tokio::test]
async fn next_links_that_go_round_in_a_loop_end_the_import_as_a_protocol_error() {
    assert_protocol_error(&spawn_app().await, "link-cycle").await;
}

#[tokio::test]
async fn pages_without_end_stop_at_the_page_cap_as_a_protocol_error() {
    assert_protocol_error(&spawn_app().await, "endless-pages").await;
}

#[tokio::test]
async fn a_body_larger_than_the_cap_is_not_read_whole_and_ends_as_a_protocol_error() {
    assert_protocol_error(&spawn_app().await, "huge-body").await;
}

#[tokio::test]
async fn nul_characters_in_bank_text_end_the_import_as_a_protocol_error_not_internal() {
    assert_protocol_error(&spawn_app().await, "nul-bytes").await;
}

#[tokio::test]
async fn a_redirect_to_another_host_is_not_followed_and_the_consent_id_never_leaves() {
    let app = spawn_app().await;
    assert_protocol_error(&app, "redirect-away").await;
    let leaks: Value = app
        .http
        .get(format!("{}/sandbox/leaks", app.bank_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(leaks["consentIdLeaks"], 0, "{leaks}");
}
