//! Sign-in against a scripted bank: consents of every mode, the explicit authorisation start,
//! the redirect and OAuth2 SCA approaches, and what the owner's return means.

mod common;

use std::collections::BTreeMap;

use aisle_berlin_group::{ACCOUNT_REFERENCE_FIELD, BerlinGroupConnector, ConsentMode};
use aisle_sdk::{
    BankSession, Connector, ConnectorError, FormFieldKind, SignInCallback, SignInProgress,
    SignInStep,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{Days, Utc};
use common::{
    ACCESS_TOKEN, Bank, CONSENT_ID, REDIRECT_URI, USD_ACCOUNT, expect_oauth_session_end, fixture,
    form, header, query, sign_in_request,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use url::Url;
use wiremock::matchers::{body_partial_json, header as has_header, header_exists, method, path};
use wiremock::{Mock, MockBuilder, ResponseTemplate};

const CONSENTS: &str = "/psd2/v1/consents";

fn consent_path(suffix: &str) -> String {
    format!("{CONSENTS}/{CONSENT_ID}{suffix}")
}

/// A consent request body as the fixture states it (the parts that do not change by day).
fn consent_request(name: &str) -> Value {
    fixture(name)["body"].clone()
}

async fn mount_consent_created(bank: &Bank, answer: &str) {
    Mock::given(method("POST"))
        .and(path(CONSENTS))
        .respond_with(bank.answer(answer))
        .mount(&bank.server)
        .await;
}

/// The consent's status and the consent itself, as a valid consent answers.
async fn mount_valid_consent(bank: &Bank) {
    Mock::given(method("GET"))
        .and(path(consent_path("/status")))
        .respond_with(bank.answer("consent-status-valid.json"))
        .expect(1)
        .mount(&bank.server)
        .await;
    Mock::given(method("GET"))
        .and(path(consent_path("")))
        .respond_with(bank.answer("consent-information.json"))
        .expect(1)
        .mount(&bank.server)
        .await;
}

fn redirect(step: SignInStep) -> (Url, String) {
    match step {
        SignInStep::Redirect { url, pending } => (Url::parse(&url).expect("url"), pending),
        other => panic!("expected a redirect, got {other:?}"),
    }
}

fn callback(pending: &str, params: &[(&str, &str)]) -> SignInCallback {
    SignInCallback {
        pending: pending.to_owned(),
        params: params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<BTreeMap<_, _>>(),
    }
}

/// Begins a sign-in with the usual request; the redirect it answers with.
async fn begun(connector: &BerlinGroupConnector) -> (Url, String) {
    redirect(
        connector
            .begin_sign_in(&sign_in_request())
            .await
            .expect("begun"),
    )
}

/// The query parameters of a URL the owner is sent to.
fn query_of(url: &Url) -> BTreeMap<String, String> {
    url.query_pairs().into_owned().collect()
}

/// A mock of `verb` at `at` that matches only calls carrying the OAuth2 access token.
fn with_token(verb: &str, at: &str) -> MockBuilder {
    Mock::given(method(verb)).and(path(at)).and(has_header(
        "Authorization",
        format!("Bearer {ACCESS_TOKEN}").as_str(),
    ))
}

fn done(progress: SignInProgress) -> BankSession {
    match progress {
        SignInProgress::Done(session) => session,
        SignInProgress::Next(step) => panic!("expected the sign-in to be done, got {step:?}"),
    }
}

#[tokio::test]
async fn an_all_accounts_consent_is_asked_for_single_access_with_the_owners_headers() {
    let bank = Bank::start().await;
    Mock::given(method("POST"))
        .and(path(CONSENTS))
        .and(body_partial_json(consent_request(
            "consent-request-all-accounts.json",
        )))
        .and(has_header("TPP-Redirect-URI", REDIRECT_URI))
        .and(has_header("TPP-Nok-Redirect-URI", REDIRECT_URI))
        .and(has_header("TPP-Redirect-Preferred", "true"))
        .and(has_header("PSU-ID", "PSU-1234"))
        .and(has_header("PSU-IP-Address", "192.0.2.10"))
        .and(header_exists("X-Request-ID"))
        .respond_with(bank.answer("consent-created-redirect.json"))
        .expect(1)
        .mount(&bank.server)
        .await;

    let (url, _) = begun(&bank.connector()).await;

    assert_eq!(
        url.as_str(),
        format!("{}/authentication/{CONSENT_ID}", bank.uri())
    );
    let sent: Value = bank.received_at(CONSENTS).await[0]
        .body_json()
        .expect("json body");
    let tomorrow = Utc::now().date_naive() + Days::new(1);
    assert_eq!(sent["validUntil"], json!(tomorrow.to_string()));
    assert_eq!(sent["recurringIndicator"], json!(false));
}

#[tokio::test]
async fn every_request_carries_its_own_request_id() {
    let bank = Bank::start().await;
    mount_consent_created(&bank, "consent-created-explicit-start.json").await;
    Mock::given(method("POST"))
        .and(path(consent_path("/authorisations")))
        .respond_with(bank.answer("authorisation-started-redirect.json"))
        .mount(&bank.server)
        .await;
    bank.connector()
        .begin_sign_in(&sign_in_request())
        .await
        .expect("sign-in begins");
    let ids: Vec<String> = bank
        .received()
        .await
        .iter()
        .map(|r| header(r, "X-Request-ID").expect("X-Request-ID").to_owned())
        .collect();
    assert_eq!(ids.len(), 2);
    assert_ne!(ids[0], ids[1]);
    assert!(ids.iter().all(|id| uuid::Uuid::parse_str(id).is_ok()));
}

#[tokio::test]
async fn a_bank_offered_consent_leaves_the_choice_of_accounts_to_the_owner() {
    let bank = Bank::start().await;
    Mock::given(method("POST"))
        .and(path(CONSENTS))
        .and(body_partial_json(consent_request(
            "consent-request-bank-offered.json",
        )))
        .respond_with(bank.answer("consent-created-redirect.json"))
        .expect(1)
        .mount(&bank.server)
        .await;
    let connector = bank.connector().with_consent_mode(ConsentMode::BankOffered);
    begun(&connector).await;
    let sent: Value = bank.received_at(CONSENTS).await[0]
        .body_json()
        .expect("json body");
    assert!(sent["access"].get("allPsd2").is_none());
}

#[tokio::test]
async fn a_dedicated_accounts_consent_first_asks_the_owner_which_ibans_to_share() {
    let bank = Bank::start().await;
    Mock::given(method("POST"))
        .and(path(CONSENTS))
        .and(body_partial_json(consent_request(
            "consent-request-dedicated-accounts.json",
        )))
        .and(has_header("PSU-IP-Address", "192.0.2.10"))
        .respond_with(bank.answer("consent-created-redirect.json"))
        .expect(1)
        .mount(&bank.server)
        .await;
    let connector = bank
        .connector()
        .with_consent_mode(ConsentMode::DedicatedAccounts);

    let SignInStep::Form { fields, pending } = connector
        .begin_sign_in(&sign_in_request())
        .await
        .expect("form step")
    else {
        panic!("a dedicated-accounts sign-in starts with a form");
    };
    assert_eq!(fields.len(), 1);
    assert_eq!(fields[0].name, ACCOUNT_REFERENCE_FIELD);
    assert_eq!(fields[0].kind, FormFieldKind::Text);
    assert!(
        bank.received().await.is_empty(),
        "no consent before the owner answered"
    );

    // As people type them: with spaces, lower case, one per line or comma.
    let answer = "DE40 1001 0010 3307 1186 08,\nde02100100109307118603; DE67100100101306118605";
    let next = connector
        .complete_sign_in(&callback(&pending, &[(ACCOUNT_REFERENCE_FIELD, answer)]))
        .await
        .expect("consent created");
    let SignInProgress::Next(step) = next else {
        panic!("the SCA redirect follows the form");
    };
    let (url, _) = redirect(step);
    assert!(url.path().ends_with(CONSENT_ID));
}

#[tokio::test]
async fn a_mistyped_iban_is_refused_before_any_consent_is_created() {
    let bank = Bank::start().await;
    Mock::given(method("POST"))
        .and(path(CONSENTS))
        .respond_with(bank.answer("consent-created-redirect.json"))
        .expect(0)
        .mount(&bank.server)
        .await;
    let connector = bank
        .connector()
        .with_consent_mode(ConsentMode::DedicatedAccounts);
    let SignInStep::Form { pending, .. } = connector
        .begin_sign_in(&sign_in_request())
        .await
        .expect("form step")
    else {
        panic!("a form first");
    };
    let typo = callback(
        &pending,
        &[(ACCOUNT_REFERENCE_FIELD, "DE40100100103307118609")],
    );
    assert_eq!(
        connector.complete_sign_in(&typo).await.err(),
        Some(ConnectorError::InvalidCredentials)
    );
}

#[tokio::test]
async fn an_explicit_authorisation_start_yields_the_sca_redirect() {
    let bank = Bank::start().await;
    mount_consent_created(&bank, "consent-created-explicit-start.json").await;
    Mock::given(method("POST"))
        .and(path(consent_path("/authorisations")))
        .and(has_header("TPP-Redirect-URI", REDIRECT_URI))
        .and(has_header("PSU-ID", "PSU-1234"))
        .and(has_header("PSU-IP-Address", "192.0.2.10"))
        .and(body_partial_json(json!({})))
        .respond_with(bank.answer("authorisation-started-redirect.json"))
        .expect(1)
        .mount(&bank.server)
        .await;
    let (url, _) = begun(&bank.connector()).await;
    assert_eq!(
        url.as_str(),
        format!("{}/authentication/{CONSENT_ID}", bank.uri())
    );
}

#[tokio::test]
async fn the_redirect_approach_finishes_with_a_valid_consent_read_back() {
    let bank = Bank::start().await;
    mount_consent_created(&bank, "consent-created-redirect.json").await;
    mount_valid_consent(&bank).await;
    let connector = bank.connector();
    let (_, pending) = begun(&connector).await;

    let session = done(
        connector
            .complete_sign_in(&callback(&pending, &[("consentId", CONSENT_ID)]))
            .await
            .expect("done"),
    );

    // The owner is present while the sign-in finishes: the bank is told their address.
    for suffix in ["/status", ""] {
        let read = &bank.received_at(&consent_path(suffix)).await[0];
        assert_eq!(header(read, "PSU-IP-Address"), Some("192.0.2.10"));
        assert_eq!(header(read, "Authorization"), None);
    }
    let secret: Value = serde_json::from_str(&session.secret).expect("the secret is JSON");
    assert_eq!(secret, json!({"consentId": CONSENT_ID}));
    assert!(session.sca_at <= Utc::now());
}

#[tokio::test]
async fn errors_the_bank_sends_the_owner_back_with_say_what_happened() {
    let bank = Bank::start().await;
    mount_consent_created(&bank, "consent-created-redirect.json").await;
    Mock::given(method("GET"))
        .and(path(consent_path("/status")))
        .respond_with(bank.answer("consent-status-valid.json"))
        .expect(0)
        .mount(&bank.server)
        .await;
    let connector = bank.connector();
    let (_, pending) = begun(&connector).await;
    for (error, expected) in [
        ("invalid_credentials", ConnectorError::InvalidCredentials),
        ("access_denied", ConnectorError::InvalidCredentials),
        ("access_blocked", ConnectorError::AccessBlocked),
    ] {
        assert_eq!(
            connector
                .complete_sign_in(&callback(&pending, &[("error", error)]))
                .await
                .err(),
            Some(expected),
            "error={error}"
        );
    }
}

#[tokio::test]
async fn the_consent_status_after_the_return_decides_the_sign_in() {
    for (status, expected) in [
        ("rejected", ConnectorError::InvalidCredentials),
        ("expired", ConnectorError::ConsentExpired),
        ("revokedByPsu", ConnectorError::ConsentExpired),
        ("terminatedByTpp", ConnectorError::ConsentExpired),
    ] {
        let bank = Bank::start().await;
        mount_consent_created(&bank, "consent-created-redirect.json").await;
        Mock::given(method("GET"))
            .and(path(consent_path("/status")))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(json!({"consentStatus": status})),
            )
            .mount(&bank.server)
            .await;
        let connector = bank.connector();
        let (_, pending) = begun(&connector).await;
        assert_eq!(
            connector
                .complete_sign_in(&callback(&pending, &[]))
                .await
                .err(),
            Some(expected),
            "consentStatus {status}"
        );
    }
}

#[tokio::test]
async fn a_return_for_another_consent_is_refused() {
    let bank = Bank::start().await;
    mount_consent_created(&bank, "consent-created-redirect.json").await;
    let connector = bank.connector();
    let (_, pending) = begun(&connector).await;
    assert!(matches!(
        connector
            .complete_sign_in(&callback(&pending, &[("consentId", "someone-else")]))
            .await,
        Err(ConnectorError::Protocol { .. })
    ));
}

async fn mount_oauth(bank: &Bank) {
    mount_consent_created(bank, "consent-created-oauth.json").await;
    Mock::given(method("GET"))
        .and(path("/oauth/.well-known/oauth-authorization-server"))
        .respond_with(bank.answer("oauth-server-metadata.json"))
        .mount(&bank.server)
        .await;
}

#[tokio::test]
async fn the_oauth_approach_sends_the_owner_to_the_authorisation_server_with_pkce() {
    let bank = Bank::start().await;
    mount_oauth(&bank).await;
    let connector = bank.connector().with_oauth_client_id("aisle-tpp");

    let (url, _) = begun(&connector).await;

    assert_eq!(
        url.as_str().split('?').next(),
        Some(format!("{}/oauth/authorize", bank.uri()).as_str())
    );
    let params = query_of(&url);
    assert_eq!(params["response_type"], "code");
    assert_eq!(params["client_id"], "aisle-tpp");
    assert_eq!(params["scope"], format!("AIS:{CONSENT_ID}"));
    assert_eq!(params["redirect_uri"], REDIRECT_URI);
    assert_eq!(params["code_challenge_method"], "S256");
    assert_eq!(params["code_challenge"].len(), 43);
    assert!(params["state"].len() >= 16);
}

#[tokio::test]
async fn the_oauth_return_trades_the_code_for_a_token_that_goes_with_every_call() {
    let bank = Bank::start().await;
    mount_oauth(&bank).await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(bank.answer("oauth-token.json"))
        .expect(1)
        .mount(&bank.server)
        .await;
    // The consent's status and the consent itself, then an AIS read and its balances.
    for (at, answer) in [
        (consent_path("/status"), "consent-status-valid.json"),
        (consent_path(""), "consent-information.json"),
    ] {
        with_token("GET", &at)
            .respond_with(bank.answer(answer))
            .expect(1)
            .mount(&bank.server)
            .await;
    }
    for (at, answer) in [
        (
            "/psd2/v1/accounts".to_owned(),
            "account-list-with-balances.json",
        ),
        (
            format!("/psd2/v1/accounts/{USD_ACCOUNT}/balances"),
            "balances-regular.json",
        ),
    ] {
        with_token("GET", &at)
            .and(has_header("Consent-ID", CONSENT_ID))
            .respond_with(bank.answer(answer))
            .expect(1)
            .mount(&bank.server)
            .await;
    }
    expect_oauth_session_end(&bank).await;
    let connector = bank.connector().with_oauth_client_id("aisle-tpp");
    let (url, pending) = begun(&connector).await;
    let params = query_of(&url);

    let session = done(
        connector
            .complete_sign_in(&callback(
                &pending,
                &[
                    ("code", "SplxlOBeZQQYbYS6WxSbIA"),
                    ("state", &params["state"]),
                ],
            ))
            .await
            .expect("signed in"),
    );

    let token_form = form(&bank.received_at("/oauth/token").await[0]);
    assert_eq!(token_form["grant_type"], "authorization_code");
    assert_eq!(token_form["code"], "SplxlOBeZQQYbYS6WxSbIA");
    assert_eq!(token_form["redirect_uri"], REDIRECT_URI);
    assert_eq!(token_form["client_id"], "aisle-tpp");
    // The verifier sent now is the one the challenge was made from.
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(token_form["code_verifier"].as_bytes()));
    assert_eq!(challenge, params["code_challenge"]);

    let accounts = connector.accounts(&session).await.expect("accounts");
    assert_eq!(accounts.len(), 2);
    connector.end_session(&session).await.expect("ended");
    let revoke = form(&bank.received_at("/oauth/revoke").await[0]);
    assert_eq!(revoke["token"], ACCESS_TOKEN);
    assert_eq!(revoke["token_type_hint"], "access_token");
}

#[tokio::test]
async fn an_oauth_return_with_a_foreign_state_is_refused_before_any_token_is_asked_for() {
    let bank = Bank::start().await;
    mount_oauth(&bank).await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(bank.answer("oauth-token.json"))
        .expect(0)
        .mount(&bank.server)
        .await;
    let connector = bank.connector().with_oauth_client_id("aisle-tpp");
    let (_, pending) = begun(&connector).await;
    for params in [
        vec![("code", "c"), ("state", "forged")],
        vec![("code", "c")],
    ] {
        assert!(matches!(
            connector
                .complete_sign_in(&callback(&pending, &params))
                .await,
            Err(ConnectorError::Protocol { .. })
        ));
    }
}

#[tokio::test]
async fn a_used_or_expired_code_means_signing_in_again() {
    let bank = Bank::start().await;
    mount_oauth(&bank).await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(bank.answer("oauth-token-invalid-grant.json"))
        .mount(&bank.server)
        .await;
    let connector = bank.connector().with_oauth_client_id("aisle-tpp");
    let (url, pending) = begun(&connector).await;
    let state = &query_of(&url)["state"];
    assert_eq!(
        connector
            .complete_sign_in(&callback(&pending, &[("code", "old"), ("state", state)]))
            .await
            .err(),
        Some(ConnectorError::InvalidCredentials)
    );
}

#[tokio::test]
async fn a_bank_offering_only_oauth_needs_a_client_id() {
    let bank = Bank::start().await;
    mount_oauth(&bank).await;
    assert!(matches!(
        bank.connector().begin_sign_in(&sign_in_request()).await,
        Err(ConnectorError::Unsupported(_))
    ));
}

#[tokio::test]
async fn authorisation_server_metadata_naming_another_issuer_is_refused() {
    let bank = Bank::start().await;
    mount_consent_created(&bank, "consent-created-oauth.json").await;
    let mut metadata = bank.body("oauth-server-metadata.json");
    metadata["issuer"] = json!("https://impostor.example/oauth");
    Mock::given(method("GET"))
        .and(path("/oauth/.well-known/oauth-authorization-server"))
        .respond_with(ResponseTemplate::new(200).set_body_json(metadata))
        .mount(&bank.server)
        .await;
    let connector = bank.connector().with_oauth_client_id("aisle-tpp");
    assert!(matches!(
        connector.begin_sign_in(&sign_in_request()).await,
        Err(ConnectorError::Protocol { .. })
    ));
}

#[tokio::test]
async fn a_consent_still_received_or_partially_authorised_is_waited_for_not_failed() {
    for status in ["received", "partiallyAuthorised"] {
        let bank = Bank::start().await;
        mount_consent_created(&bank, "consent-created-redirect.json").await;
        Mock::given(method("GET"))
            .and(path(consent_path("/status")))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(json!({"consentStatus": status})),
            )
            .mount(&bank.server)
            .await;
        let connector = bank.connector();
        let (_, pending) = begun(&connector).await;
        let next = connector.complete_sign_in(&callback(&pending, &[])).await;
        assert!(
            matches!(next, Ok(SignInProgress::Next(SignInStep::Wait { .. }))),
            "consentStatus {status}: {next:?}"
        );
        assert!(
            bank.received_at(&consent_path("")).await.is_empty(),
            "a consent that may still turn valid is not deleted"
        );
    }
}

#[tokio::test]
async fn the_owners_address_is_left_out_when_the_owner_is_not_there() {
    let bank = Bank::start().await;
    mount_consent_created(&bank, "consent-created-redirect.json").await;
    let mut request = sign_in_request();
    request.psu_ip_address = None;
    request.psu_id = None;
    bank.connector()
        .begin_sign_in(&request)
        .await
        .expect("begun");
    let sent = &bank.received_at(CONSENTS).await[0];
    assert_eq!(header(sent, "PSU-IP-Address"), None);
    assert_eq!(header(sent, "PSU-ID"), None);
    assert!(query(sent).is_empty());
}
