//! The sandbox bank over real HTTP: consent, approval, then account data.

mod common;

use reqwest::StatusCode;
use serde_json::{Value, json};

use common::{REDIRECT_URI, approve, client, code_of, start_bank};

async fn create_consent(bank: &str, psu: &str) -> reqwest::Response {
    common::create_consent_with(bank, &[("PSU-ID", psu), ("X-Request-ID", "req-1")]).await
}

#[tokio::test]
async fn an_approved_consent_reads_accounts_and_a_terminated_one_does_not() {
    let bank = start_bank().await;
    let created = create_consent(&bank, "alice").await;
    assert_eq!(created.status(), StatusCode::CREATED);
    assert_eq!(created.headers()["x-request-id"], "req-1");
    let created: Value = created.json().await.expect("json");
    let consent_id = created["consentId"].as_str().expect("consentId").to_owned();
    let sca = created["_links"]["scaRedirect"]["href"]
        .as_str()
        .expect("scaRedirect");
    assert_eq!(sca, format!("{bank}/sca/{consent_id}"));

    let early = client()
        .get(format!("{bank}/v1/accounts"))
        .header("Consent-ID", &consent_id)
        .send()
        .await
        .expect("accounts");
    assert_eq!(early.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        code_of(&early.json().await.expect("json")),
        "CONSENT_INVALID"
    );

    let approved = approve(sca).await;
    assert_eq!(approved.status(), StatusCode::SEE_OTHER);
    assert_eq!(approved.headers()["location"], REDIRECT_URI);

    let status: Value = client()
        .get(format!("{bank}/v1/consents/{consent_id}/status"))
        .send()
        .await
        .expect("status")
        .json()
        .await
        .expect("json");
    assert_eq!(status["consentStatus"], "valid");

    let accounts: Value = client()
        .get(format!("{bank}/v1/accounts?withBalance=true"))
        .header("Consent-ID", &consent_id)
        .send()
        .await
        .expect("accounts")
        .json()
        .await
        .expect("json");
    let accounts = accounts["accounts"].as_array().expect("accounts array");
    assert_eq!(accounts.len(), 2);
    assert_eq!(accounts[0]["ownerName"], "Alice Example");
    assert_eq!(accounts[0]["balances"][0]["balanceType"], "closingBooked");
    assert!(accounts[0]["balances"][0]["balanceAmount"]["amount"].is_string());

    let deleted = client()
        .delete(format!("{bank}/v1/consents/{consent_id}"))
        .send()
        .await
        .expect("delete");
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let after = client()
        .get(format!("{bank}/v1/card-accounts"))
        .header("Consent-ID", &consent_id)
        .send()
        .await
        .expect("cards");
    assert_eq!(after.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        code_of(&after.json().await.expect("json")),
        "CONSENT_EXPIRED"
    );
}

#[tokio::test]
async fn an_unknown_login_is_refused_at_consent() {
    let bank = start_bank().await;
    let refused = create_consent(&bank, "mallory").await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        code_of(&refused.json().await.expect("json")),
        "PSU_CREDENTIALS_INVALID"
    );
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
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        code_of(&refused.json().await.expect("json")),
        "FORMAT_ERROR"
    );
}

#[tokio::test]
async fn bobs_business_account_lists_both_owners() {
    let bank = start_bank().await;
    let created: Value = create_consent(&bank, "bob")
        .await
        .json()
        .await
        .expect("json");
    let consent_id = created["consentId"].as_str().expect("consentId");
    let sca = created["_links"]["scaRedirect"]["href"]
        .as_str()
        .expect("sca");
    approve(sca).await;
    let accounts: Value = client()
        .get(format!("{bank}/v1/accounts"))
        .header("Consent-ID", consent_id)
        .send()
        .await
        .expect("accounts")
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
