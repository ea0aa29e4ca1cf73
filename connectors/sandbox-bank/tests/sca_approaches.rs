//! The sandbox bank's decoupled and embedded SCA and its spec-shaped reports, over real HTTP,
//! in the shapes of the NextGenPSD2 1.3.12 examples.

mod common;

use std::time::{Duration, Instant};

use aisle_sandbox_bank::{APP_MESSAGE, DECOUPLED_DECISION_AFTER, TEST_OTP, TEST_PASSWORD};
use reqwest::StatusCode;
use serde_json::{Value, json};

use common::{
    accounts, assert_refused, client, consent_status, create_consent_with, data_call, days_ago,
    signed_in, start_bank, today,
};

const NO_REDIRECT: (&str, &str) = ("TPP-Redirect-Preferred", "false");
const DECOUPLED: (&str, &str) = ("TPP-Decoupled-Preferred", "true");

/// Creates a consent with `preference`; its id, the approach header and the body.
async fn consent(bank: &str, preference: &[(&str, &str)]) -> (String, String, Value) {
    let created = create_consent_with(bank, preference).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let approach = created.headers()["aspsp-sca-approach"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let body: Value = created.json().await.expect("json");
    let id = body["consentId"].as_str().expect("consentId").to_owned();
    (id, approach, body)
}

async fn start(bank: &str, href: &str, psu: &str, body: Value) -> reqwest::Response {
    client()
        .post(format!("{bank}{href}"))
        .header("PSU-ID", psu)
        .json(&body)
        .send()
        .await
        .expect("start authorisation")
}

async fn put(bank: &str, href: &str, body: Value) -> Value {
    let answer = client()
        .put(format!("{bank}{href}"))
        .json(&body)
        .send()
        .await
        .expect("update authorisation");
    assert_eq!(answer.status(), StatusCode::OK);
    answer.json().await.expect("json")
}

fn link<'a>(body: &'a Value, name: &str) -> &'a str {
    body["_links"][name]["href"]
        .as_str()
        .unwrap_or_else(|| panic!("a {name} link in {body}"))
}

#[tokio::test]
async fn without_a_preference_the_bank_redirects_as_before() {
    let bank = start_bank().await;
    let (_, approach, body) = consent(&bank, &[]).await;
    assert_eq!(approach, "REDIRECT");
    assert!(body["_links"]["scaRedirect"].is_object());
}

#[tokio::test]
async fn the_decoupled_persona_approves_in_the_app_after_its_delay() {
    let bank = start_bank().await;
    let (id, approach, created) = consent(&bank, &[NO_REDIRECT, DECOUPLED]).await;
    assert_eq!(approach, "DECOUPLED");
    let started = start(
        &bank,
        link(&created, "startAuthorisationWithPsuIdentification"),
        "decoupled",
        json!({}),
    )
    .await;
    assert_eq!(started.status(), StatusCode::CREATED);
    assert_eq!(started.headers()["aspsp-sca-approach"], "DECOUPLED");
    let started: Value = started.json().await.expect("json");
    assert_eq!(started["psuMessage"], APP_MESSAGE);
    let status_link = link(&started, "scaStatus").to_owned();

    let asked = Instant::now();
    let deadline = asked + DECOUPLED_DECISION_AFTER + Duration::from_secs(20);
    let mut seen = Vec::new();
    loop {
        let answer = client()
            .get(format!("{bank}{status_link}"))
            .send()
            .await
            .expect("sca status");
        let waiting = answer.headers().get("retry-after").cloned();
        let status: Value = answer.json().await.expect("json");
        let status = status["scaStatus"].as_str().expect("scaStatus").to_owned();
        seen.push(status.clone());
        if status == "finalised" {
            break;
        }
        assert_eq!(status, "started");
        assert_eq!(waiting.as_ref().map(|v| v.as_bytes()), Some(&b"1"[..]));
        assert!(Instant::now() < deadline, "never approved: {seen:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(asked.elapsed() >= DECOUPLED_DECISION_AFTER.saturating_sub(Duration::from_millis(500)));
    assert_eq!(seen[0], "started", "not approved at once");
    assert_eq!(consent_status(&bank, &id).await, "valid");
    assert_eq!(accounts(&bank, &id).await[0]["ownerName"], "Dora Decoupled");
}

#[tokio::test]
async fn the_embedded_persona_is_offered_two_methods_and_finishes_with_the_code() {
    let bank = start_bank().await;
    let (id, approach, created) = consent(&bank, &[NO_REDIRECT]).await;
    assert_eq!(approach, "EMBEDDED");
    let start_link = link(&created, "startAuthorisationWithPsuAuthentication").to_owned();

    let wrong = start(
        &bank,
        &start_link,
        "embedded",
        json!({"psuData": {"password": "nope"}}),
    )
    .await;
    assert_refused(wrong, StatusCode::UNAUTHORIZED, "PSU_CREDENTIALS_INVALID").await;
    assert_eq!(consent_status(&bank, &id).await, "rejected");

    let (id, _, created) = consent(&bank, &[NO_REDIRECT]).await;
    let started: Value = start(
        &bank,
        link(&created, "startAuthorisationWithPsuAuthentication"),
        "embedded",
        json!({"psuData": {"password": TEST_PASSWORD}}),
    )
    .await
    .json()
    .await
    .expect("json");
    assert_eq!(started["scaStatus"], "psuAuthenticated");
    let methods: Vec<&str> = started["scaMethods"]
        .as_array()
        .expect("scaMethods")
        .iter()
        .filter_map(|m| m["authenticationMethodId"].as_str())
        .collect();
    assert_eq!(methods, ["sms", "push"]);

    let selected = put(
        &bank,
        link(&started, "selectAuthenticationMethod"),
        json!({"authenticationMethodId": "push"}),
    )
    .await;
    assert_eq!(selected["scaStatus"], "scaMethodSelected");
    assert_eq!(
        selected["chosenScaMethod"]["authenticationType"],
        "PUSH_OTP"
    );
    let finished = put(
        &bank,
        link(&selected, "authoriseTransaction"),
        json!({"scaAuthenticationData": TEST_OTP}),
    )
    .await;
    assert_eq!(finished["scaStatus"], "finalised");
    assert_eq!(consent_status(&bank, &id).await, "valid");
}

#[tokio::test]
async fn a_wrong_one_time_code_fails_the_authorisation_and_rejects_the_consent() {
    let bank = start_bank().await;
    let (id, _, created) = consent(&bank, &[NO_REDIRECT]).await;
    let started: Value = start(
        &bank,
        link(&created, "startAuthorisationWithPsuAuthentication"),
        "alice",
        json!({"psuData": {"password": TEST_PASSWORD}}),
    )
    .await
    .json()
    .await
    .expect("json");
    assert_eq!(
        started["scaStatus"], "scaMethodSelected",
        "one method: chosen at once"
    );
    let failed = put(
        &bank,
        link(&started, "authoriseTransaction"),
        json!({"scaAuthenticationData": "000000"}),
    )
    .await;
    assert_eq!(failed["scaStatus"], "failed");
    assert_eq!(consent_status(&bank, &id).await, "rejected");
}

#[tokio::test]
async fn the_mixed_persona_quotes_booked_amounts_unsigned_next_to_signed_pending_ones() {
    let bank = start_bank().await;
    let consent = signed_in(&bank, "mixed").await;
    let account = accounts(&bank, &consent).await.remove(0);
    let id = account["resourceId"].as_str().expect("resourceId");
    let path = format!(
        "/v1/accounts/{id}/transactions?dateFrom={}&dateTo={}&bookingStatus=both",
        days_ago(5),
        today()
    );
    let report: Value = data_call(&bank, &consent, &path)
        .await
        .json()
        .await
        .expect("json");
    let amounts = |list: &str| -> Vec<String> {
        report["transactions"][list]
            .as_array()
            .unwrap_or_else(|| panic!("{list} rows"))
            .iter()
            .filter_map(|row| row["transactionAmount"]["amount"].as_str())
            .map(str::to_owned)
            .collect()
    };
    let booked = amounts("booked");
    assert!(!booked.is_empty() && booked.iter().all(|a| !a.starts_with('-')));
    assert!(
        report["transactions"]["booked"]
            .as_array()
            .expect("booked")
            .iter()
            .any(|row| row["creditorName"].is_string()),
        "debits are still told by their creditor"
    );
    assert!(amounts("pending").iter().any(|a| a.starts_with('-')));
}

#[tokio::test]
async fn the_report_download_persona_answers_with_a_download_link_and_no_rows() {
    let bank = start_bank().await;
    let consent = signed_in(&bank, "report-download").await;
    let account = accounts(&bank, &consent).await.remove(0);
    let path = common::transactions_path(&account, days_ago(30), today());
    let report: Value = data_call(&bank, &consent, &path)
        .await
        .json()
        .await
        .expect("json");
    assert!(report["transactions"].is_null());
    assert!(
        report["_links"]["download"]["href"]
            .as_str()
            .is_some_and(|href| href.contains("/download/"))
    );
}
