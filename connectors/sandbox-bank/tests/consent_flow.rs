//! The sandbox bank over real HTTP: consent, approval, then account data.

mod common;

use reqwest::StatusCode;
use serde_json::{Value, json};

use common::{
    REDIRECT_URI, accounts, approve, assert_refused, client, consent_status, data_call,
    delete_consent, id_and_sca, signed_in, start_bank,
};

async fn create_consent(bank: &str, psu: &str) -> reqwest::Response {
    common::create_consent_with(bank, &[("PSU-ID", psu), ("X-Request-ID", "req-1")]).await
}

#[tokio::test]
async fn an_approved_consent_reads_accounts_and_a_terminated_one_does_not() {
    let bank = start_bank().await;
    let created = create_consent(&bank, "alice").await;
    assert_eq!(created.status(), StatusCode::CREATED);
    assert_eq!(created.headers()["x-request-id"], "req-1");
    let (consent_id, sca) = id_and_sca(&created.json().await.expect("json"));
    assert_eq!(sca, format!("{bank}/sca/{consent_id}"));

    let early = data_call(&bank, &consent_id, "/v1/accounts").await;
    assert_refused(early, StatusCode::UNAUTHORIZED, "CONSENT_INVALID").await;

    let approved = approve(&sca).await;
    assert_eq!(approved.status(), StatusCode::SEE_OTHER);
    assert_eq!(approved.headers()["location"], REDIRECT_URI);
    assert_eq!(consent_status(&bank, &consent_id).await, "valid");

    let accounts = accounts(&bank, &consent_id).await;
    assert_eq!(accounts.len(), 2);
    assert_eq!(accounts[0]["ownerName"], "Alice Example");
    assert_eq!(accounts[0]["balances"][0]["balanceType"], "closingBooked");
    assert!(accounts[0]["balances"][0]["balanceAmount"]["amount"].is_string());

    let deleted = delete_consent(&bank, &consent_id).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let after = data_call(&bank, &consent_id, "/v1/card-accounts").await;
    assert_refused(after, StatusCode::UNAUTHORIZED, "CONSENT_EXPIRED").await;
}

#[tokio::test]
async fn an_unknown_login_is_refused_at_consent() {
    let bank = start_bank().await;
    let refused = create_consent(&bank, "mallory").await;
    assert_refused(refused, StatusCode::UNAUTHORIZED, "PSU_CREDENTIALS_INVALID").await;
}

#[tokio::test]
async fn a_malformed_consent_body_is_a_format_error() {
    let bank = start_bank().await;
    let refused = client()
        .post(format!("{bank}/v1/consents"))
        .header("PSU-ID", "alice")
        .header("TPP-Redirect-URI", "https://tpp.example/back")
        .body("{\"access\":")
        .send()
        .await
        .expect("consent request");
    assert_refused(refused, StatusCode::BAD_REQUEST, "FORMAT_ERROR").await;
}

#[tokio::test]
async fn bobs_business_account_lists_both_owners() {
    let bank = start_bank().await;
    let consent_id = signed_in(&bank, "bob").await;
    let accounts: Value = data_call(&bank, &consent_id, "/v1/accounts")
        .await
        .json()
        .await
        .expect("json");
    let account = &accounts["accounts"][0];
    assert_eq!(account["product"], "Business Account");
    assert!(account.get("balances").is_none());
    assert_eq!(
        account["ownerNames"][1],
        json!({"name": "Carol Builder", "role": "co-owner"})
    );
}
