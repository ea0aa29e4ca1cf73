//! Every call and every answer class of the Account Service, against a scripted bank
//! (wiremock) serving the answers kept in `fixtures/account-service/`.

use std::collections::BTreeMap;
use std::time::Duration;

use aisle_account_service::{AccountServiceConnector, default_profile};
use aisle_sdk::conformance::bank_never_called;
use aisle_sdk::{
    Account, BankSession, Card, Connector, ConnectorError, DateWindow, FormFieldKind, OwnerKind,
    SignInCallback, SignInProgress, SignInRequest, SignInStep,
};
use chrono::{NaiveDate, Utc};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use url::Url;
use wiremock::matchers::{body_partial_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const CLIENT_ID: &str = "aisle-client";
const CLIENT_SECRET: &str = "client-secret-1";
const ALICE_CIF: &str = "10000001";
const ALICE_LEGAL_ID: &str = "T220001293";
const ALICE_PHONE: &str = "+4915100000001";
const OTP_REFERENCE: &str = "otp-7c1e2f9a";

fn fixture(name: &str) -> String {
    let file = format!(
        "{}/../../fixtures/account-service/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("fixture {file}: {e}"))
}

fn answer(status: u16, fixture_name: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(fixture(fixture_name), "application/json")
}

/// The JSON body has no field `name`: the phone check that sends a code, not the one that
/// verifies it.
struct WithoutField(&'static str);

impl wiremock::Match for WithoutField {
    fn matches(&self, request: &Request) -> bool {
        serde_json::from_slice::<Value>(&request.body)
            .is_ok_and(|body| body.is_object() && body.get(self.0).is_none())
    }
}

/// One operation of the service under `/account-service`, carrying the client credentials.
fn operation(verb: &str, name: &str) -> wiremock::MockBuilder {
    Mock::given(method(verb))
        .and(path(format!("/account-service/{name}")))
        .and(header("X-Client-Id", CLIENT_ID))
        .and(header("X-Client-Secret", CLIENT_SECRET))
        .and(header("Accept", "application/json"))
}

async fn legal_id_answers(bank: &MockServer, response: ResponseTemplate) {
    operation("POST", "valid-legal-id")
        .and(body_partial_json(json!({"legalId": ALICE_LEGAL_ID})))
        .respond_with(response)
        .expect(1)
        .mount(bank)
        .await;
}

async fn code_sending_answers(bank: &MockServer, response: ResponseTemplate) {
    operation("POST", "valid-phone-number")
        .and(body_partial_json(
            json!({"cif": ALICE_CIF, "phoneNumber": ALICE_PHONE}),
        ))
        .and(WithoutField("otp"))
        .respond_with(response)
        .expect(1)
        .mount(bank)
        .await;
}

async fn code_check_answers(bank: &MockServer, otp: &str, response: ResponseTemplate) {
    operation("POST", "valid-phone-number")
        .and(body_partial_json(json!({
            "cif": ALICE_CIF,
            "phoneNumber": ALICE_PHONE,
            "otpReference": OTP_REFERENCE,
            "otp": otp,
        })))
        .respond_with(response)
        .expect(1)
        .mount(bank)
        .await;
}

/// A bank whose only operation answers `response`, exactly once.
async fn get_answers(name: &str, response: ResponseTemplate) -> MockServer {
    let bank = MockServer::start().await;
    operation("GET", name)
        .and(query_param("cif", ALICE_CIF))
        .respond_with(response)
        .expect(1)
        .mount(&bank)
        .await;
    bank
}

fn connector(bank: &MockServer) -> AccountServiceConnector {
    let base = Url::parse(&format!("{}/account-service", bank.uri())).expect("mock url");
    AccountServiceConnector::new(
        base,
        default_profile(),
        reqwest::Client::new(),
        CLIENT_ID.to_owned(),
        CLIENT_SECRET.to_owned(),
    )
}

/// A session as the connector writes it (the format the README documents).
fn session() -> BankSession {
    BankSession {
        secret: format!(r#"{{"cif":"{ALICE_CIF}"}}"#),
        sca_at: Utc::now(),
    }
}

fn request() -> SignInRequest {
    SignInRequest {
        psu_id: None,
        psu_ip_address: None,
        redirect_uri: "https://aisle.example/signin/callback".to_owned(),
        max_import_date: None,
        force_sca: false,
    }
}

fn answers(pending: &str, fields: &[(&str, &str)]) -> SignInCallback {
    SignInCallback {
        pending: pending.to_owned(),
        params: fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    }
}

/// Step one with alice's legal id and `phone`: the pending state of the code step.
async fn first_step(
    connector: &AccountServiceConnector,
    phone: &str,
) -> Result<String, ConnectorError> {
    let SignInStep::Form { pending, .. } = connector.begin_sign_in(&request()).await? else {
        panic!("the account service sign-in is a form");
    };
    let callback = answers(
        &pending,
        &[("legalId", ALICE_LEGAL_ID), ("phoneNumber", phone)],
    );
    match connector.complete_sign_in(&callback).await? {
        SignInProgress::Next(SignInStep::Form { fields, pending }) => {
            let named: Vec<(&str, FormFieldKind)> =
                fields.iter().map(|f| (f.name.as_str(), f.kind)).collect();
            assert_eq!(named, [("otp", FormFieldKind::OneTimeCode)]);
            Ok(pending)
        }
        other => panic!("a code step follows the credentials, got {other:?}"),
    }
}

/// A bank where step one succeeds for alice.
async fn bank_past_step_one() -> MockServer {
    let bank = MockServer::start().await;
    legal_id_answers(&bank, answer(200, "valid-legal-id.success.json")).await;
    code_sending_answers(&bank, answer(200, "valid-phone-number.otp-sent.json")).await;
    bank
}

/// How the code step ends when the bank answers `response` to the code `otp`.
async fn code_step_error(otp: &str, response: ResponseTemplate) -> Option<ConnectorError> {
    let bank = bank_past_step_one().await;
    code_check_answers(&bank, otp, response).await;
    let connector = connector(&bank);
    let pending = first_step(&connector, ALICE_PHONE)
        .await
        .expect("code sent");
    connector
        .complete_sign_in(&answers(&pending, &[("otp", otp)]))
        .await
        .err()
}

/// The error's class: the free text of `Transient` and `Protocol` is left out.
fn class(error: ConnectorError) -> ConnectorError {
    match error {
        ConnectorError::Transient(_) => ConnectorError::Transient(String::new()),
        ConnectorError::Protocol { .. } => ConnectorError::protocol("", ""),
        other => other,
    }
}

#[tokio::test]
async fn the_sign_in_starts_with_a_form_for_legal_id_and_phone_number() {
    let bank = bank_never_called().await;
    let SignInStep::Form { fields, .. } = connector(&bank)
        .begin_sign_in(&request())
        .await
        .expect("a form")
    else {
        panic!("the account service sign-in is a form");
    };
    let named: Vec<(&str, FormFieldKind)> =
        fields.iter().map(|f| (f.name.as_str(), f.kind)).collect();
    assert_eq!(
        named,
        [
            ("legalId", FormFieldKind::Text),
            ("phoneNumber", FormFieldKind::Phone)
        ]
    );
}

#[tokio::test]
async fn legal_id_phone_number_and_texted_code_sign_in_in_two_steps() {
    let bank = bank_past_step_one().await;
    code_check_answers(
        &bank,
        "123456",
        answer(200, "valid-phone-number.otp-verified.json"),
    )
    .await;
    // The session reads the customer it signed in.
    operation("GET", "get-customer-by-id")
        .and(query_param("cif", ALICE_CIF))
        .respond_with(answer(200, "get-customer-info.json"))
        .expect(1)
        .mount(&bank)
        .await;
    let connector = connector(&bank);
    // Typed the way people type phone numbers.
    let pending = first_step(&connector, "+49 151 000 000 01")
        .await
        .expect("a code was sent");
    let before = Utc::now();
    let progress = connector
        .complete_sign_in(&answers(&pending, &[("otp", " 123456 ")]))
        .await
        .expect("the code is right");
    let SignInProgress::Done(session) = progress else {
        panic!("the code is the last step, got {progress:?}");
    };
    assert!(session.sca_at >= before);
    let owners = connector.owners(&session).await.expect("owners");
    assert_eq!(owners[0].name, "Alice Example");
}

#[tokio::test]
async fn a_refused_first_step_says_why() {
    let not_valid = json!({"code": "00", "message": "Success", "data": {"valid": false}});
    let blocked = json!({"code": "00", "data": {"valid": true, "cif": ALICE_CIF, "customerStatus": "BLOCKED"}});
    for (case, legal_id, code_sending, expected) in [
        (
            "an unknown legal id is invalid credentials",
            answer(404, "customer-unknown.json"),
            None,
            ConnectorError::InvalidCredentials,
        ),
        (
            "a legal id answered as not valid is invalid credentials",
            ResponseTemplate::new(200).set_body_json(not_valid),
            None,
            ConnectorError::InvalidCredentials,
        ),
        (
            "a blocked customer is access blocked",
            answer(423, "valid-legal-id.blocked.json"),
            None,
            ConnectorError::AccessBlocked,
        ),
        (
            "a customer status BLOCKED inside a success is access blocked",
            ResponseTemplate::new(200).set_body_json(blocked),
            None,
            ConnectorError::AccessBlocked,
        ),
        (
            "a phone number that is not the customer's is invalid credentials",
            answer(200, "valid-legal-id.success.json"),
            Some(answer(422, "valid-phone-number.mismatch.json")),
            ConnectorError::InvalidCredentials,
        ),
    ] {
        let bank = MockServer::start().await;
        legal_id_answers(&bank, legal_id).await;
        if let Some(response) = code_sending {
            code_sending_answers(&bank, response).await;
        }
        assert_eq!(
            first_step(&connector(&bank), ALICE_PHONE).await.err(),
            Some(expected),
            "{case}"
        );
    }
}

#[tokio::test]
async fn a_refused_code_says_why() {
    let unclear = json!({"code": "00", "message": "Success", "data": {}});
    for (case, otp, response, expected) in [
        (
            "a wrong code is invalid credentials",
            "654321",
            answer(422, "valid-phone-number.otp-wrong.json"),
            ConnectorError::InvalidCredentials,
        ),
        (
            "an expired code is invalid credentials",
            "654321",
            answer(422, "valid-phone-number.otp-expired.json"),
            ConnectorError::InvalidCredentials,
        ),
        (
            "too many wrong codes block the access",
            "654321",
            answer(423, "valid-phone-number.otp-attempts-exceeded.json"),
            ConnectorError::AccessBlocked,
        ),
        (
            "a code check without an explicit yes is invalid credentials",
            "123456",
            ResponseTemplate::new(200).set_body_json(unclear),
            ConnectorError::InvalidCredentials,
        ),
    ] {
        assert_eq!(
            code_step_error(otp, response).await,
            Some(expected),
            "{case}"
        );
    }
}

#[tokio::test]
async fn unusable_answers_are_refused_without_asking_the_bank() {
    let bank = bank_never_called().await;
    let connector = connector(&bank);
    let SignInStep::Form { pending, .. } =
        connector.begin_sign_in(&request()).await.expect("a form")
    else {
        panic!("a form");
    };
    for fields in [
        vec![("legalId", ""), ("phoneNumber", ALICE_PHONE)],
        vec![("legalId", ALICE_LEGAL_ID), ("phoneNumber", "call me")],
        vec![("legalId", ALICE_LEGAL_ID)],
    ] {
        assert_eq!(
            connector
                .complete_sign_in(&answers(&pending, &fields))
                .await
                .err(),
            Some(ConnectorError::InvalidCredentials),
            "{fields:?}"
        );
    }
    let code_step =
        json!({"step": "otp", "cif": ALICE_CIF, "phoneNumber": ALICE_PHONE}).to_string();
    assert_eq!(
        connector
            .complete_sign_in(&answers(&code_step, &[("otp", " ")]))
            .await
            .err(),
        Some(ConnectorError::InvalidCredentials)
    );
    assert!(matches!(
        connector
            .complete_sign_in(&answers("not ours", &[("otp", "123456")]))
            .await,
        Err(ConnectorError::Protocol { .. })
    ));
}

#[tokio::test]
async fn the_owners_are_the_customer_and_the_related_parties() {
    let bank = get_answers("get-customer-by-id", answer(200, "get-customer-by-id.json")).await;
    let owners = connector(&bank).owners(&session()).await.expect("owners");
    let named: Vec<(&str, OwnerKind)> = owners.iter().map(|o| (o.name.as_str(), o.kind)).collect();
    assert_eq!(
        named,
        [
            ("Bob Builder", OwnerKind::Owner),
            ("Carol Builder", OwnerKind::CoOwner)
        ]
    );
    let bob = &owners[0];
    assert_eq!(bob.title.as_deref(), Some("Mr"));
    assert_eq!(
        bob.address.as_deref(),
        Some("Baustraße 7, 80331 München, DE")
    );
    assert_eq!(bob.birth_date, NaiveDate::from_ymd_opt(1975, 9, 30));
    assert_eq!(bob.email.as_deref(), Some("bob@builder.example"));
    assert_eq!(bob.phone.as_deref(), Some("+4915100000002"));
    assert_eq!(bob.national_id.as_deref(), Some("L01X00T471"));
    assert_eq!(bob.nationality.as_deref(), Some("AT"));
}

#[tokio::test]
async fn accounts_carry_the_balances_each_account_info_gives_read_leniently() {
    let bank = MockServer::start().await;
    operation("GET", "get-list-account-by-customer")
        .and(query_param("cif", ALICE_CIF))
        .respond_with(answer(200, "get-list-account-by-customer.json"))
        .expect(1)
        .mount(&bank)
        .await;
    for (number, response) in [
        ("0012345678", "get-account-info.main.json"),
        ("0012345679", "get-account-info.savings-lenient.json"),
    ] {
        operation("POST", "get-account-info")
            .and(body_partial_json(
                json!({"cif": ALICE_CIF, "accountNumber": number}),
            ))
            .respond_with(answer(200, response))
            .expect(1)
            .mount(&bank)
            .await;
    }
    let accounts = connector(&bank)
        .accounts(&session())
        .await
        .expect("accounts");
    assert_eq!(accounts.len(), 2);
    let (main, savings) = (&accounts[0], &accounts[1]);
    assert_eq!(main.bank_id, "0012345678");
    assert_eq!(main.iban.as_deref(), Some("DE27100200300012345678"));
    assert_eq!(main.bban.as_deref(), Some("0012345678"));
    assert_eq!(main.name.as_deref(), Some("Main account"));
    assert_eq!(main.product.as_deref(), Some("Girokonto"));
    assert_eq!(main.account_type.as_deref(), Some("CURRENT"));
    assert_eq!(main.status.as_deref(), Some("ACTIVE"));
    assert_eq!(main.owner_names, ["Alice Example"]);
    assert_eq!(main.opened_on, NaiveDate::from_ymd_opt(2016, 5, 2));
    assert_eq!(main.min_allowed_balance, Some(Decimal::new(-100000, 2)));
    assert_eq!(main.max_allowed_balance, None);
    let day = NaiveDate::from_ymd_opt(2025, 3, 14);
    let balances: Vec<(&str, Decimal, Option<NaiveDate>)> = main
        .balances
        .iter()
        .map(|b| (b.balance_type.as_str(), b.amount, b.reference_date))
        .collect();
    assert_eq!(
        balances,
        [
            ("interimAvailable", Decimal::new(248055, 2), day),
            ("interimBooked", Decimal::new(253055, 2), day)
        ]
    );
    assert!(main.balances.iter().all(|b| b.currency == "EUR"));
    // JSON numbers, a code sent as a number, a compact date, unknown fields.
    let amounts: Vec<Decimal> = savings.balances.iter().map(|b| b.amount).collect();
    assert_eq!(
        amounts,
        [Decimal::new(512040, 2), Decimal::new(900719925474099301, 2)]
    );
    assert_eq!(savings.balances[0].reference_date, day);
    assert_eq!(savings.min_allowed_balance, None);
}

#[tokio::test]
async fn every_answer_class_of_a_customer_read_maps_to_its_error() {
    let transient = ConnectorError::Transient(String::new());
    for (case, response, expected) in [
        (
            "a customer gone after sign-in is an expired consent",
            answer(404, "customer-unknown.json"),
            ConnectorError::ConsentExpired,
        ),
        (
            "a 5xx with the service's body is transient",
            answer(500, "system-error.json"),
            transient.clone(),
        ),
        (
            "a 5xx with a gateway's page is transient",
            ResponseTemplate::new(503).set_body_raw("<html>down</html>", "text/html"),
            transient,
        ),
        (
            "a 429 is rate limited for the Retry-After seconds",
            answer(429, "too-many-requests.json").insert_header("Retry-After", "12"),
            ConnectorError::RateLimited {
                retry_after: Some(Duration::from_secs(12)),
            },
        ),
        (
            "a request the bank calls malformed is a protocol error",
            answer(400, "invalid-request.json"),
            ConnectorError::protocol("", ""),
        ),
    ] {
        let bank = get_answers("get-customer-by-id", response).await;
        assert_eq!(
            connector(&bank).owners(&session()).await.err().map(class),
            Some(expected),
            "{case}"
        );
    }
}

#[tokio::test]
async fn an_account_the_bank_listed_but_does_not_know_is_a_protocol_error() {
    let bank = get_answers(
        "get-list-account-by-customer",
        answer(200, "get-list-account-by-customer.json"),
    )
    .await;
    operation("POST", "get-account-info")
        .respond_with(answer(404, "account-unknown.json"))
        .expect(1)
        .mount(&bank)
        .await;
    assert!(matches!(
        connector(&bank).accounts(&session()).await,
        Err(ConnectorError::Protocol { .. })
    ));
}

#[tokio::test]
async fn a_malformed_body_is_a_protocol_error_that_hides_the_account_number() {
    let bank = get_answers(
        "get-list-account-by-customer",
        answer(200, "malformed.json"),
    )
    .await;
    let Err(ConnectorError::Protocol { snippet, .. }) = connector(&bank).accounts(&session()).await
    else {
        panic!("a cut-off body is a protocol error");
    };
    assert!(!snippet.contains("0012345678"), "{snippet}");
}

#[tokio::test]
async fn refused_client_credentials_are_a_protocol_error_that_names_the_headers() {
    for response in [
        answer(401, "client-refused.json"),
        ResponseTemplate::new(403).set_body_raw("Forbidden", "text/plain"),
    ] {
        let bank = MockServer::start().await;
        legal_id_answers(&bank, response).await;
        let error = first_step(&connector(&bank), ALICE_PHONE).await.err();
        let Some(ConnectorError::Protocol { message, .. }) = error else {
            panic!("refused client credentials are an operator's problem, got {error:?}");
        };
        assert!(message.contains("X-Client-Secret"), "{message}");
        assert!(!message.contains(CLIENT_SECRET));
    }
}

#[tokio::test]
async fn a_connection_refused_is_transient() {
    // A port that was free a moment ago and has no listener now.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address");
    drop(listener);
    let connector = AccountServiceConnector::new(
        Url::parse(&format!("http://{address}/account-service")).expect("url"),
        default_profile(),
        reqwest::Client::new(),
        CLIENT_ID.to_owned(),
        CLIENT_SECRET.to_owned(),
    );
    assert!(matches!(
        connector.accounts(&session()).await,
        Err(ConnectorError::Transient(_))
    ));
}

#[tokio::test]
async fn transactions_and_cards_are_unsupported_and_ending_the_session_asks_nothing() {
    let bank = bank_never_called().await;
    let connector = connector(&bank);
    let day = NaiveDate::from_ymd_opt(2025, 1, 1).expect("date");
    let window = DateWindow::new(day, day).expect("window");
    let card = Card {
        bank_id: "card-1".to_owned(),
        masked_pan: None,
        name: None,
        currency: "EUR".to_owned(),
        credit_limit: None,
        balances: Vec::new(),
        balances_unavailable: None,
    };
    assert!(matches!(
        connector
            .transactions(&session(), &Account::new("0012345678", "EUR"), window, None)
            .await,
        Err(ConnectorError::Unsupported(_))
    ));
    assert!(matches!(
        connector.cards(&session()).await,
        Err(ConnectorError::Unsupported(_))
    ));
    assert!(matches!(
        connector
            .card_transactions(&session(), &card, window, None)
            .await,
        Err(ConnectorError::Unsupported(_))
    ));
    connector
        .end_session(&session())
        .await
        .expect("nothing to revoke");
}

#[tokio::test]
async fn the_default_profile_offers_owners_accounts_and_balances_only() {
    let supports = default_profile().supports;
    assert!(supports.owners && supports.balances);
    assert!(!supports.transactions && !supports.cards && !supports.pending);
}

#[test]
fn every_fixture_is_json_except_the_malformed_one() {
    let dir = format!(
        "{}/../../fixtures/account-service",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut seen = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).expect("fixtures dir") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        let parses = serde_json::from_str::<Value>(&fixture(&name)).is_ok();
        seen.insert(name, parses);
    }
    for (name, parses) in &seen {
        assert_eq!(*parses, name != "malformed.json", "{name}");
    }
}
