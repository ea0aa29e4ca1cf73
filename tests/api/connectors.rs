//! Issue 3: every connector behind the same flow. The dev registry has one sandbox bank per
//! connector; `login` picks the persona; faults the sandbox personas act out become the
//! command's stable error codes.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{TestApp, assert_problem, import_body, spawn_app};

async fn import_at(app: &TestApp, bank: &str, login: &str) -> Value {
    import_since(app, bank, login, None).await
}

async fn import_since(app: &TestApp, bank: &str, login: &str, since: Option<&str>) -> Value {
    let response = app.sandbox_sign_in(&app.api_key, bank, login).await;
    assert_eq!(response.status(), StatusCode::CREATED, "sign-in at {bank}");
    let session: Value = response.json().await.unwrap();
    assert_eq!(session["target"], bank);
    let mut body = import_body(&session);
    if let Some(since) = since {
        body["since"] = since.into();
    }
    let response = app.post_default_import(&app.api_key, &body).await;
    let accepted: Value = response.json().await.unwrap();
    let id = accepted["commandId"].as_str().unwrap().to_owned();
    app.wait_for_command(&id, Duration::from_secs(60)).await
}

#[tokio::test]
async fn the_catalog_lists_one_sandbox_bank_per_connector_with_its_scope_and_sign_in() {
    let app = spawn_app().await;
    let banks: Vec<Value> = app
        .http
        .get(format!("{}/v1/banks", app.address))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let bank = |id: &str| {
        banks
            .iter()
            .find(|b| b["id"] == id)
            .unwrap_or_else(|| panic!("{id} in {banks:?}"))
    };
    let berlin = bank("sandbox");
    assert_eq!(berlin["connector"], "berlin-group");
    assert_eq!(berlin["signIn"], "redirect");
    assert_eq!(
        berlin["scope"],
        serde_json::json!(["owners", "accounts", "balances", "transactions", "cards"])
    );
    let partner = bank("sandbox-partner");
    assert_eq!(partner["connector"], "partner-account");
    assert_eq!(partner["signIn"], "form");
    assert_eq!(partner["scope"], serde_json::json!(["owners", "accounts"]));
    let service = bank("sandbox-account-service");
    assert_eq!(service["connector"], "account-service");
    assert_eq!(
        service["scope"],
        serde_json::json!(["owners", "accounts", "balances"])
    );
    for bank in &banks {
        assert!(bank["id"].as_str().unwrap().starts_with("sandbox"));
        assert!(bank["historyDays"].as_u64().unwrap() > 0);
        assert_eq!(bank["country"], "DE");
    }
}

#[tokio::test]
async fn alice_is_imported_through_the_partner_account_api_with_a_receipt_saying_no_transactions() {
    let app = spawn_app().await;
    let command = import_at(&app, "sandbox-partner", "alice").await;
    assert_eq!(command["state"], "successful", "{command}");
    let result = &command["result"];
    assert_eq!(result["owners"][0]["name"], "Alice Example");
    assert!(result["owners"][0]["birthDate"].is_string());
    let account = &result["accounts"][0];
    assert!(account["maxAllowedBalance"].is_string(), "{account}");
    let reasons: Vec<&Value> = account["receipt"]["shortfalls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| &s["reason"])
        .collect();
    assert_eq!(reasons, ["NotSupportedByBank"]);
    assert_eq!(app.count("select count(*) from transactions").await, 0);
}

#[tokio::test]
async fn bob_is_imported_through_the_account_service_api_after_a_one_time_code() {
    let app = spawn_app().await;
    let command = import_at(&app, "sandbox-account-service", "bob").await;
    assert_eq!(command["state"], "successful", "{command}");
    let result = &command["result"];
    let names: Vec<&str> = result["owners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"Carol Builder"), "{names:?}");
    let balances = result["accounts"][0]["balances"].as_array().unwrap();
    assert!(!balances.is_empty());
    assert!(balances[0]["amount"].is_string());
}

#[tokio::test]
async fn a_locked_owner_is_refused_at_sign_in_at_every_sandbox_bank() {
    let app = spawn_app().await;
    for bank in ["sandbox", "sandbox-partner", "sandbox-account-service"] {
        let response = app.sandbox_sign_in(&app.api_key, bank, "locked").await;
        assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "AccessBlocked").await;
    }
    assert_eq!(app.count("select count(*) from sessions").await, 0);
}

#[tokio::test]
async fn a_bank_that_answers_garbage_fails_the_import_with_bank_protocol_error_and_no_result() {
    let app = spawn_app().await;
    let command = import_at(&app, "sandbox", "garbage").await;
    assert_eq!(command["state"], "error", "{command}");
    assert_eq!(command["error"]["code"], "BankProtocolError");
    assert!(
        command["result"].is_null(),
        "no half-written result: {command}"
    );
}

#[tokio::test]
async fn a_consent_that_expires_mid_import_ends_it_with_session_expired() {
    let app = spawn_app().await;
    // A year takes more than the six calls the persona's consent lives for.
    let since = (chrono::Utc::now().date_naive() - chrono::Days::new(364)).to_string();
    let command = import_since(&app, "sandbox", "expiring", Some(&since)).await;
    assert_eq!(command["state"], "error", "{command}");
    assert_eq!(command["error"]["code"], "SessionExpired");
}

#[tokio::test]
async fn every_persona_that_can_sign_in_imports_through_the_berlin_group_bank() {
    let app = spawn_app().await;
    for login in ["bob", "dave", "slow", "twins", "capped", "trio"] {
        let command = import_at(&app, "sandbox", login).await;
        assert_eq!(command["state"], "successful", "{login}: {command}");
    }
}

#[tokio::test]
async fn the_sandbox_banks_decoupled_and_embedded_approaches_sign_in_headlessly_and_import() {
    let app = spawn_app().await;
    let mut stored = 0;
    for (bank, login) in [
        ("sandbox-decoupled", "decoupled"),
        ("sandbox-embedded", "embedded"),
    ] {
        let command = import_at(&app, bank, login).await;
        assert_eq!(command["state"], "successful", "{bank}: {command}");
        let now = app.count("select count(*) from transactions").await;
        assert!(now > stored, "{bank} imported no transactions");
        stored = now;
    }
}

#[tokio::test]
async fn a_report_offered_only_as_a_download_is_a_not_supported_shortfall_of_a_successful_import() {
    let app = spawn_app().await;
    let command = import_at(&app, "sandbox", "report-download").await;
    assert_eq!(command["state"], "successful", "{command}");
    let account = &command["result"]["accounts"][0];
    let reasons: Vec<&Value> = account["receipt"]["shortfalls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| &s["reason"])
        .collect();
    assert!(
        reasons.iter().any(|r| *r == "NotSupportedByBank"),
        "{account}"
    );
    assert_eq!(app.count("select count(*) from transactions").await, 0);
}
