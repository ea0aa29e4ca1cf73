//! How the connector classifies what a bank answers, against a scripted bank (wiremock).

use std::time::Duration;

use aisle_berlin_group::{BerlinGroupConnector, default_profile};
use aisle_sdk::{Account, BankSession, Connector, ConnectorError, DateWindow, SignInRequest};
use chrono::{NaiveDate, Utc};
use serde_json::json;
use url::Url;
use wiremock::matchers::{header, header_exists, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn connector(bank: &MockServer) -> BerlinGroupConnector {
    let base = Url::parse(&bank.uri()).expect("mock url");
    BerlinGroupConnector::new(base, default_profile(), reqwest::Client::new())
}

fn session() -> BankSession {
    BankSession {
        secret: "consent-1".to_owned(),
        sca_at: Utc::now(),
    }
}

fn account() -> Account {
    Account::new("acc-1", "EUR")
}

fn window() -> DateWindow {
    let day = |d| NaiveDate::from_ymd_opt(2025, 1, d).expect("date");
    DateWindow::new(day(1), day(31)).expect("window")
}

async fn transactions_answer(response: ResponseTemplate) -> Result<usize, ConnectorError> {
    let bank = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/accounts/acc-1/transactions"))
        .and(header("Consent-ID", "consent-1"))
        .and(header_exists("X-Request-ID"))
        .respond_with(response)
        .mount(&bank)
        .await;
    connector(&bank)
        .transactions(&session(), &account(), window(), None)
        .await
        .map(|page| page.items.len())
}

#[tokio::test]
async fn a_429_with_retry_after_is_rate_limited_for_that_long() {
    // The spec's own 429 example is a bare array.
    let answer = ResponseTemplate::new(429)
        .insert_header("Retry-After", "30")
        .set_body_raw(
            r#"[{"category":"ERROR","code":"ACCESS_EXCEEDED"}]"#,
            "application/json",
        );
    assert_eq!(
        transactions_answer(answer).await,
        Err(ConnectorError::RateLimited {
            retry_after: Some(Duration::from_secs(30))
        })
    );
}

#[tokio::test]
async fn a_400_period_invalid_asks_for_a_smaller_window() {
    let answer = ResponseTemplate::new(400).set_body_json(json!({
        "tppMessages": [{"category": "ERROR", "code": "PERIOD_INVALID", "text": "too old"}]
    }));
    assert_eq!(
        transactions_answer(answer).await,
        Err(ConnectorError::PeriodInvalid)
    );
}

#[tokio::test]
async fn an_rfc7807_consent_expired_is_an_expired_consent() {
    let answer = ResponseTemplate::new(401).set_body_raw(
        r#"{"type":"https://berlingroup.com/error-codes/CONSENT_EXPIRED","title":"Consent expired","detail":"The consent has expired","code":"CONSENT_EXPIRED"}"#,
        "application/problem+json",
    );
    assert_eq!(
        transactions_answer(answer).await,
        Err(ConnectorError::ConsentExpired)
    );
}

#[tokio::test]
async fn a_503_is_transient() {
    let answer = ResponseTemplate::new(503).set_body_string("maintenance");
    assert!(matches!(
        transactions_answer(answer).await,
        Err(ConnectorError::Transient(_))
    ));
}

#[tokio::test]
async fn a_200_with_malformed_json_is_a_protocol_error() {
    let answer = ResponseTemplate::new(200).set_body_raw(
        r#"{"transactions":{"booked":[{"transactionAmount":"#,
        "application/json",
    );
    assert!(matches!(
        transactions_answer(answer).await,
        Err(ConnectorError::Protocol { .. })
    ));
}

#[tokio::test]
async fn a_row_without_an_amount_is_a_protocol_error() {
    let answer = ResponseTemplate::new(200).set_body_json(json!({
        "transactions": {"booked": [{"transactionId": "t1", "bookingDate": "2025-01-02"}], "_links": {}}
    }));
    assert!(matches!(
        transactions_answer(answer).await,
        Err(ConnectorError::Protocol { .. })
    ));
}

#[tokio::test]
async fn an_amount_sent_as_a_json_number_is_read_exactly() {
    let answer = ResponseTemplate::new(200).set_body_raw(
        r#"{"transactions":{"booked":[{"transactionAmount":{"currency":"EUR","amount":-0.10},"unknownField":1}],"_links":{}}}"#,
        "application/json",
    );
    assert_eq!(transactions_answer(answer).await, Ok(1));
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
async fn an_unknown_psu_at_consent_is_invalid_credentials() {
    let bank = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/consents"))
        .and(header("PSU-ID", "nobody"))
        .and(header("TPP-Redirect-URI", "https://aisle.example/cb"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "tppMessages": [{"category": "ERROR", "code": "PSU_CREDENTIALS_INVALID", "text": "?"}]
        })))
        .mount(&bank)
        .await;
    let request = SignInRequest {
        psu_id: Some("nobody".to_owned()),
        psu_ip_address: None,
        redirect_uri: "https://aisle.example/cb".to_owned(),
        max_import_date: None,
        force_sca: false,
    };
    assert_eq!(
        connector(&bank).begin_sign_in(&request).await.err(),
        Some(ConnectorError::InvalidCredentials)
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
    let first = connector
        .transactions(&session(), &account(), window(), None)
        .await
        .expect("first page");
    let next = first.next.expect("a next page");
    // Only the prefixed path answers, so reaching page 2 proves the prefix was kept.
    let second = connector
        .transactions(&session(), &account(), window(), Some(&next))
        .await
        .expect("second page");
    assert_eq!(second.items.len(), 1);
    assert!(second.next.is_none());
}

#[tokio::test]
async fn a_next_link_to_another_host_is_not_followed() {
    let bank = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/accounts/acc-1/transactions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "transactions": {"booked": [], "_links": {"next": {"href": "https://elsewhere.example/v1/x"}}}
        })))
        .mount(&bank)
        .await;
    // Following it would send the consent to that host, so the page itself is refused.
    assert!(matches!(
        connector(&bank)
            .transactions(&session(), &account(), window(), None)
            .await,
        Err(ConnectorError::Protocol { .. })
    ));
}
