//! Ending a session: the consent is deleted and an OAuth2 token revoked; what is already
//! gone counts as ended.

mod common;

use std::collections::BTreeMap;

use aisle_sdk::{BankSession, Connector, ConnectorError};
use chrono::Utc;
use common::{
    ACCESS_TOKEN, Bank, CONSENT_ID, expect_oauth_session_end, expect_revocation, form, header,
    session,
};
use serde_json::json;
use wiremock::matchers::{header_exists, method, path};
use wiremock::{Mock, ResponseTemplate};

fn consent_path() -> String {
    format!("/psd2/v1/consents/{CONSENT_ID}")
}

fn oauth_session(bank: &Bank) -> BankSession {
    BankSession {
        secret: json!({
            "consentId": CONSENT_ID,
            "accessToken": ACCESS_TOKEN,
            "revocationEndpoint": format!("{}/oauth/revoke", bank.uri()),
        })
        .to_string(),
        sca_at: Utc::now(),
    }
}

#[tokio::test]
async fn ending_a_session_deletes_its_consent() {
    let bank = Bank::start().await;
    Mock::given(method("DELETE"))
        .and(path(consent_path()))
        .and(header_exists("X-Request-ID"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&bank.server)
        .await;
    bank.connector()
        .end_session(&session())
        .await
        .expect("ended");
    let deleted = &bank.received_at(&consent_path()).await[0];
    assert_eq!(header(deleted, "Authorization"), None);
}

#[tokio::test]
async fn a_consent_already_gone_counts_as_ended() {
    for answer in [
        "error-401-consent-expired.json",
        "error-403-consent-unknown.json",
        "error-400-consent-unknown.json",
        "error-401-consent-invalid.json",
    ] {
        let bank = Bank::start().await;
        Mock::given(method("DELETE"))
            .and(path(consent_path()))
            .respond_with(bank.answer(answer))
            .mount(&bank.server)
            .await;
        assert_eq!(
            bank.connector().end_session(&session()).await,
            Ok(()),
            "{answer}"
        );
    }
    let bank = Bank::start().await;
    Mock::given(method("DELETE"))
        .and(path(consent_path()))
        .respond_with(ResponseTemplate::new(404))
        .mount(&bank.server)
        .await;
    assert_eq!(bank.connector().end_session(&session()).await, Ok(()));
}

#[tokio::test]
async fn an_oauth_session_also_revokes_its_token() {
    let bank = Bank::start().await;
    expect_oauth_session_end(&bank).await;
    let connector = bank.connector().with_oauth_client_id("aisle-tpp");
    connector
        .end_session(&oauth_session(&bank))
        .await
        .expect("ended");
    let revoke = &bank.received_at("/oauth/revoke").await[0];
    assert_eq!(
        form(revoke),
        BTreeMap::from([
            ("client_id".to_owned(), "aisle-tpp".to_owned()),
            ("token".to_owned(), ACCESS_TOKEN.to_owned()),
            ("token_type_hint".to_owned(), "access_token".to_owned()),
        ])
    );
}

#[tokio::test]
async fn a_server_that_cannot_revoke_access_tokens_leaves_them_to_expire() {
    let bank = Bank::start().await;
    Mock::given(method("DELETE"))
        .and(path(consent_path()))
        .respond_with(ResponseTemplate::new(204))
        .mount(&bank.server)
        .await;
    expect_revocation(
        &bank,
        ResponseTemplate::new(400).set_body_json(json!({"error": "unsupported_token_type"})),
    )
    .await;
    assert_eq!(
        bank.connector().end_session(&oauth_session(&bank)).await,
        Ok(())
    );
}

#[tokio::test]
async fn a_failed_deletion_is_reported_and_the_token_revoked_all_the_same() {
    let bank = Bank::start().await;
    Mock::given(method("DELETE"))
        .and(path(consent_path()))
        .respond_with(bank.answer("error-503-service-unavailable.json"))
        .mount(&bank.server)
        .await;
    expect_revocation(&bank, ResponseTemplate::new(200)).await;
    assert!(matches!(
        bank.connector().end_session(&oauth_session(&bank)).await,
        Err(ConnectorError::Transient(_))
    ));
}
