//! How the connector classifies what a bank answers, against a scripted bank (wiremock)
//! serving the error fixtures: every class the engine acts on, in both body shapes.

mod common;

use std::time::Duration;

use aisle_berlin_group::{BerlinGroupConnector, default_profile};
use aisle_sdk::{Account, Connector, ConnectorError};
use chrono::Utc;
use common::{Bank, CONSENT_ID, EUR_ACCOUNT, october_2017, session, sign_in_request};
use serde_json::json;
use url::Url;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn account() -> Account {
    Account::new(EUR_ACCOUNT, "EUR")
}

fn transactions_path() -> String {
    format!("/psd2/v1/accounts/{EUR_ACCOUNT}/transactions")
}

/// What a transactions request makes of `response`.
async fn transactions_answer(bank: &Bank, response: ResponseTemplate) -> ConnectorError {
    Mock::given(method("GET"))
        .and(path(transactions_path()))
        .respond_with(response)
        .mount(&bank.server)
        .await;
    bank.connector()
        .transactions(&session(), &account(), october_2017(), None)
        .await
        .expect_err("an error")
}

/// What an account-list request makes of `response`.
async fn accounts_answer(bank: &Bank, response: ResponseTemplate) -> ConnectorError {
    Mock::given(method("GET"))
        .and(path("/psd2/v1/accounts"))
        .respond_with(response)
        .mount(&bank.server)
        .await;
    bank.connector()
        .accounts(&session())
        .await
        .expect_err("an error")
}

/// What beginning a sign-in makes of the bank answering consent creation with `fixture`.
async fn consent_creation_answer(fixture: &str) -> Option<ConnectorError> {
    let bank = Bank::start().await;
    Mock::given(method("POST"))
        .and(path("/psd2/v1/consents"))
        .respond_with(bank.answer(fixture))
        .mount(&bank.server)
        .await;
    bank.connector()
        .begin_sign_in(&sign_in_request())
        .await
        .err()
}

#[tokio::test]
async fn every_error_fixture_maps_to_its_class_on_a_transactions_request() {
    for (fixture, expected) in [
        (
            "error-400-period-invalid.json",
            ConnectorError::PeriodInvalid,
        ),
        (
            "error-422-wrong-transactions-period.json",
            ConnectorError::PeriodInvalid,
        ),
        ("error-400-plain-text.json", ConnectorError::PeriodInvalid),
        (
            "error-401-consent-expired.json",
            ConnectorError::ConsentExpired,
        ),
        (
            "error-401-consent-invalid.json",
            ConnectorError::ConsentExpired,
        ),
        (
            "error-401-token-invalid.json",
            ConnectorError::ConsentExpired,
        ),
        (
            "error-400-consent-unknown.json",
            ConnectorError::ConsentExpired,
        ),
        (
            "error-403-consent-unknown.json",
            ConnectorError::ConsentExpired,
        ),
        (
            "error-403-service-blocked.json",
            ConnectorError::AccessBlocked,
        ),
        (
            "error-401-psu-credentials-invalid.json",
            ConnectorError::InvalidCredentials,
        ),
        (
            "error-429-access-exceeded.json",
            ConnectorError::RateLimited { retry_after: None },
        ),
        (
            "error-429-access-exceeded-bare.json",
            ConnectorError::RateLimited { retry_after: None },
        ),
    ] {
        let bank = Bank::start().await;
        assert_eq!(
            transactions_answer(&bank, bank.answer(fixture)).await,
            expected,
            "{fixture}"
        );
    }
}

#[tokio::test]
async fn a_server_error_is_transient() {
    let bank = Bank::start().await;
    let error = transactions_answer(&bank, bank.answer("error-503-service-unavailable.json")).await;
    assert!(matches!(error, ConnectorError::Transient(_)), "{error:?}");
}

#[tokio::test]
async fn a_format_error_is_a_protocol_error() {
    let bank = Bank::start().await;
    let error = transactions_answer(&bank, bank.answer("error-400-format-error.json")).await;
    let ConnectorError::Protocol { message, .. } = error else {
        panic!("a format error is the bank not understanding us: {error:?}");
    };
    assert!(message.contains("FORMAT_ERROR"), "{message}");
}

#[tokio::test]
async fn a_plain_400_is_a_refused_period_only_on_a_transactions_request() {
    let bank = Bank::start().await;
    assert!(matches!(
        accounts_answer(&bank, bank.answer("error-400-plain-text.json")).await,
        ConnectorError::Protocol { .. }
    ));
}

#[tokio::test]
async fn a_429_with_retry_after_in_seconds_is_rate_limited_for_that_long() {
    let bank = Bank::start().await;
    let answer = bank
        .answer("error-429-access-exceeded.json")
        .insert_header("Retry-After", "30");
    assert_eq!(
        transactions_answer(&bank, answer).await,
        ConnectorError::RateLimited {
            retry_after: Some(Duration::from_secs(30))
        }
    );
}

#[tokio::test]
async fn a_429_with_retry_after_as_an_http_date_waits_until_then() {
    let bank = Bank::start().await;
    let at = Utc::now() + chrono::Duration::seconds(120);
    let answer = bank
        .answer("error-429-access-exceeded-bare.json")
        .insert_header(
            "Retry-After",
            at.format("%a, %d %b %Y %H:%M:%S GMT").to_string(),
        );
    let ConnectorError::RateLimited {
        retry_after: Some(wait),
    } = accounts_answer(&bank, answer).await
    else {
        panic!("rate limited with a wait");
    };
    assert!(
        (Duration::from_secs(100)..=Duration::from_secs(120)).contains(&wait),
        "{wait:?}"
    );
}

#[tokio::test]
async fn access_exceeded_under_another_status_is_rate_limited_too() {
    let bank = Bank::start().await;
    let answer =
        ResponseTemplate::new(403).set_body_json(bank.body("error-429-access-exceeded.json"));
    assert_eq!(
        accounts_answer(&bank, answer).await,
        ConnectorError::RateLimited { retry_after: None }
    );
}

#[tokio::test]
async fn an_unknown_psu_at_consent_creation_is_invalid_credentials() {
    assert_eq!(
        consent_creation_answer("error-401-psu-credentials-invalid.json").await,
        Some(ConnectorError::InvalidCredentials)
    );
}

#[tokio::test]
async fn a_blocked_service_at_consent_creation_is_access_blocked() {
    assert_eq!(
        consent_creation_answer("error-403-service-blocked.json").await,
        Some(ConnectorError::AccessBlocked)
    );
}

#[tokio::test]
async fn an_expired_consent_on_the_status_read_after_sca_is_an_expired_consent() {
    let bank = Bank::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/psd2/v1/consents/{CONSENT_ID}/status")))
        .respond_with(bank.answer("error-401-consent-expired.json"))
        .mount(&bank.server)
        .await;
    let callback = aisle_sdk::SignInCallback {
        pending: json!({"step": "sca", "consentId": CONSENT_ID}).to_string(),
        params: Default::default(),
    };
    assert_eq!(
        bank.connector().complete_sign_in(&callback).await.err(),
        Some(ConnectorError::ConsentExpired)
    );
}

#[tokio::test]
async fn a_bank_slower_than_the_client_timeout_is_transient() {
    let bank = Bank::start().await;
    Mock::given(method("GET"))
        .and(path("/psd2/v1/accounts"))
        .respond_with(
            bank.answer("account-list.json")
                .set_delay(Duration::from_millis(500)),
        )
        .mount(&bank.server)
        .await;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_millis(100))
        .build()
        .expect("client");
    let connector = BerlinGroupConnector::new(bank.base(), default_profile(), http);
    let error = connector.accounts(&session()).await.err();
    assert!(
        matches!(error, Some(ConnectorError::Transient(_))),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_connection_refused_is_transient() {
    // A port that was free a moment ago and has no listener now.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address");
    drop(listener);
    let base = Url::parse(&format!("http://{address}")).expect("url");
    let connector = BerlinGroupConnector::new(base, default_profile(), reqwest::Client::new());
    assert!(matches!(
        connector.accounts(&session()).await,
        Err(ConnectorError::Transient(_))
    ));
}

#[tokio::test]
async fn a_200_with_malformed_json_is_a_protocol_error() {
    let bank = Bank::start().await;
    let answer = ResponseTemplate::new(200).set_body_raw(
        r#"{"transactions":{"booked":[{"transactionAmount":"#,
        "application/json",
    );
    assert!(matches!(
        transactions_answer(&bank, answer).await,
        ConnectorError::Protocol { .. }
    ));
}

#[tokio::test]
async fn a_row_without_an_amount_is_a_protocol_error_whose_snippet_hides_account_numbers() {
    let bank = Bank::start().await;
    let mut report = bank.body("transactions-regular.json");
    report["transactions"]["booked"][0]
        .as_object_mut()
        .expect("row")
        .remove("transactionAmount");
    let error = transactions_answer(&bank, ResponseTemplate::new(200).set_body_json(report)).await;
    let ConnectorError::Protocol { snippet, .. } = error else {
        panic!("a row without an amount is unreadable: {error:?}");
    };
    assert!(!snippet.contains("DE67100100101306118605"), "{snippet}");
    assert!(!snippet.contains("John Miles"), "{snippet}");
}

#[tokio::test]
async fn a_next_link_to_the_same_page_is_refused() {
    let bank = Bank::start().await;
    let mut report = bank.body("transactions-regular.json");
    let same = format!(
        "/psd2/v1/accounts/{EUR_ACCOUNT}/transactions?dateFrom=2017-10-01&dateTo=2017-10-31&bookingStatus=both"
    );
    report["transactions"]["_links"]["next"] = json!({"href": same});
    let error = transactions_answer(&bank, ResponseTemplate::new(200).set_body_json(report)).await;
    assert!(
        matches!(error, ConnectorError::Protocol { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_relative_next_link_is_followed_under_the_banks_path_prefix() {
    let bank = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/xs2a/v1/accounts/acc-1/transactions"))
        .and(query_param("page", "2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "transactions": {"booked": [{"transactionAmount": {"currency": "EUR", "amount": "1.00"}}], "_links": {}}
        })))
        .with_priority(1)
        .mount(&bank)
        .await;
    Mock::given(method("GET"))
        .and(path("/xs2a/v1/accounts/acc-1/transactions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "transactions": {"booked": [], "_links": {"next": {"href": "/v1/accounts/acc-1/transactions?page=2"}}}
        })))
        .mount(&bank)
        .await;
    let base = Url::parse(&format!("{}/xs2a", bank.uri())).expect("url");
    let connector = BerlinGroupConnector::new(base, default_profile(), reqwest::Client::new());
    let account = Account::new("acc-1", "EUR");
    let first = connector
        .transactions(&session(), &account, october_2017(), None)
        .await
        .expect("first page");
    let next = first.next.expect("a next page");
    // Only the prefixed path answers, so reaching page 2 proves the prefix was kept.
    let second = connector
        .transactions(&session(), &account, october_2017(), Some(&next))
        .await
        .expect("second page");
    assert_eq!(second.items.len(), 1);
    assert!(second.next.is_none());
}

#[tokio::test]
async fn a_next_link_to_another_host_is_not_followed() {
    let bank = Bank::start().await;
    let mut report = bank.body("transactions-regular.json");
    report["transactions"]["_links"]["next"] = json!({"href": "https://elsewhere.example/v1/x"});
    // Following it would send the consent to that host, so the page itself is refused.
    let error = transactions_answer(&bank, ResponseTemplate::new(200).set_body_json(report)).await;
    assert!(
        matches!(error, ConnectorError::Protocol { .. }),
        "{error:?}"
    );
}
