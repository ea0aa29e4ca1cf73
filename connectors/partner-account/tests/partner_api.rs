//! Every call and every answer class of the partner API, against a scripted bank (wiremock)
//! serving the answers kept in `fixtures/partner-account/`.

use std::collections::BTreeMap;
use std::time::Duration;

use aisle_partner_account::{PartnerAccountConnector, default_profile};
use aisle_sdk::conformance::bank_never_called;
use aisle_sdk::{
    Account, BankSession, Card, Connector, ConnectorError, DateWindow, FormFieldKind, OwnerKind,
    SignInCallback, SignInProgress, SignInRequest, SignInStep,
};
use chrono::{NaiveDate, NaiveTime, Utc};
use rust_decimal::Decimal;
use url::Url;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const TOKEN: &str = "partner-token-1";
const PARTNER: &str = "AISLE-PARTNER";
const PROGRAM: &str = "AIS-01";
const ALICE_ACCNO: &str = "0012345678";

fn fixture(name: &str) -> String {
    let file = format!(
        "{}/../../fixtures/partner-account/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("fixture {file}: {e}"))
}

fn answer(status: u16, fixture_name: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(fixture(fixture_name), "application/json")
}

/// `localDate` is `YYYYMMDD` and `localTime` `HHMMSS`, whatever the day.
struct LocalClockIsWellFormed;

impl wiremock::Match for LocalClockIsWellFormed {
    fn matches(&self, request: &Request) -> bool {
        let query: BTreeMap<String, String> = request.url.query_pairs().into_owned().collect();
        let date = query
            .get("localDate")
            .is_some_and(|d| d.len() == 8 && NaiveDate::parse_from_str(d, "%Y%m%d").is_ok());
        let time = query
            .get("localTime")
            .is_some_and(|t| t.len() == 6 && NaiveTime::parse_from_str(t, "%H%M%S").is_ok());
        date && time
    }
}

/// A bank under `/partner` answering `response` to exactly `calls` well-formed requests for
/// `accno` of `accno_type`.
async fn bank_for(
    accno: &str,
    accno_type: &str,
    response: ResponseTemplate,
    calls: u64,
) -> MockServer {
    let bank = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/partner/account/{accno}")))
        .and(header("X-Auth-Token", TOKEN))
        .and(header("Accept", "application/json"))
        .and(query_param("partnerReference", PARTNER))
        .and(query_param("programCode", PROGRAM))
        .and(query_param("accnoType", accno_type))
        .and(LocalClockIsWellFormed)
        .respond_with(response)
        .expect(calls)
        .mount(&bank)
        .await;
    bank
}

async fn bank(response: ResponseTemplate) -> MockServer {
    bank_for(ALICE_ACCNO, "ACCNO", response, 1).await
}

fn connector(bank: &MockServer) -> PartnerAccountConnector {
    let base = Url::parse(&format!("{}/partner", bank.uri())).expect("mock url");
    PartnerAccountConnector::new(
        base,
        default_profile(),
        reqwest::Client::new(),
        TOKEN.to_owned(),
        PARTNER.to_owned(),
        PROGRAM.to_owned(),
    )
}

/// A session as the connector writes it (the format the README documents).
fn session() -> BankSession {
    BankSession {
        secret: format!(r#"{{"accno":"{ALICE_ACCNO}","accnoType":"ACCNO"}}"#),
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

fn form(reference: &str, birth_date: &str) -> SignInCallback {
    SignInCallback {
        pending: String::new(),
        params: BTreeMap::from([
            ("accountReference".to_owned(), reference.to_owned()),
            ("birthDate".to_owned(), birth_date.to_owned()),
        ]),
    }
}

async fn sign_in(
    bank: &MockServer,
    reference: &str,
    birth_date: &str,
) -> Result<BankSession, ConnectorError> {
    match connector(bank)
        .complete_sign_in(&form(reference, birth_date))
        .await?
    {
        SignInProgress::Done(session) => Ok(session),
        SignInProgress::Next(step) => panic!("the partner sign-in has one step, got {step:?}"),
    }
}

/// The two reads a session makes; both ask for the same account.
#[derive(Debug, Clone, Copy)]
enum Read {
    Owners,
    Accounts,
}

async fn read_error(bank: &MockServer, read: Read) -> Option<ConnectorError> {
    let connector = connector(bank);
    match read {
        Read::Owners => connector.owners(&session()).await.err(),
        Read::Accounts => connector.accounts(&session()).await.err(),
    }
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
async fn the_sign_in_form_asks_for_the_account_reference_and_the_birth_date() {
    let bank = bank_never_called().await;
    let step = connector(&bank)
        .begin_sign_in(&request())
        .await
        .expect("a form");
    let SignInStep::Form { fields, .. } = step else {
        panic!("the partner sign-in is a form, got {step:?}");
    };
    let named: Vec<(&str, FormFieldKind)> =
        fields.iter().map(|f| (f.name.as_str(), f.kind)).collect();
    assert_eq!(
        named,
        [
            ("accountReference", FormFieldKind::Text),
            ("birthDate", FormFieldKind::Date)
        ]
    );
}

#[tokio::test]
async fn a_matching_birth_date_signs_in_and_the_session_reads_the_same_account() {
    // One call to sign in, one to read the owners with the session it gave.
    let bank = bank_for(ALICE_ACCNO, "ACCNO", answer(200, "success.json"), 2).await;
    let before = Utc::now();
    let session = sign_in(&bank, " 0012345678 ", "1990-04-12")
        .await
        .expect("signed in");
    assert!(session.sca_at >= before);
    let owners = connector(&bank).owners(&session).await.expect("owners");
    assert_eq!(owners[0].name, "Alice Example");
}

#[tokio::test]
async fn an_iban_typed_with_spaces_is_sent_compact_as_accno_type_iban() {
    let bank = bank_for(
        "DE27100200300012345678",
        "IBAN",
        answer(200, "success.json"),
        1,
    )
    .await;
    sign_in(&bank, "de27 1002 0030 0012 3456 78", "1990-04-12")
        .await
        .expect("signed in with an IBAN");
}

#[tokio::test]
async fn a_refused_sign_in_says_why() {
    for (case, response, birth_date, expected) in [
        (
            "an unknown account reference is invalid credentials",
            answer(404, "account-unknown.json"),
            "1990-04-12",
            ConnectorError::InvalidCredentials,
        ),
        (
            "an account reference the bank finds malformed is invalid credentials",
            answer(400, "reference-malformed.json"),
            "1990-04-12",
            ConnectorError::InvalidCredentials,
        ),
        (
            "a birth date that does not match the owner's is invalid credentials",
            answer(200, "success.json"),
            "1990-04-13",
            ConnectorError::InvalidCredentials,
        ),
        (
            "a blocked account is access blocked",
            answer(403, "account-blocked.json"),
            "1990-04-12",
            ConnectorError::AccessBlocked,
        ),
    ] {
        let bank = bank(response).await;
        assert_eq!(
            sign_in(&bank, ALICE_ACCNO, birth_date).await.err(),
            Some(expected),
            "{case}"
        );
    }
}

#[tokio::test]
async fn unusable_answers_are_refused_without_asking_the_bank() {
    let bank = bank_never_called().await;
    let connector = connector(&bank);
    for (reference, birth_date) in [
        (ALICE_ACCNO, "12.04.1990"),
        (ALICE_ACCNO, ""),
        ("", "1990-04-12"),
        ("0012/345678", "1990-04-12"),
    ] {
        assert_eq!(
            connector
                .complete_sign_in(&form(reference, birth_date))
                .await
                .err(),
            Some(ConnectorError::InvalidCredentials),
            "{reference:?} {birth_date:?}"
        );
    }
    let nothing = SignInCallback {
        pending: String::new(),
        params: BTreeMap::new(),
    };
    assert_eq!(
        connector.complete_sign_in(&nothing).await.err(),
        Some(ConnectorError::InvalidCredentials)
    );
}

#[tokio::test]
async fn the_owner_carries_title_address_birth_date_email_and_nationality() {
    let bank = bank(answer(200, "success.json")).await;
    let owners = connector(&bank).owners(&session()).await.expect("owners");
    assert_eq!(owners.len(), 1);
    let alice = &owners[0];
    assert_eq!(alice.name, "Alice Example");
    assert_eq!(alice.title.as_deref(), Some("Ms"));
    assert_eq!(alice.kind, OwnerKind::Owner);
    assert_eq!(
        alice.address.as_deref(),
        Some("Musterstraße 1, 10115 Berlin, DE")
    );
    assert_eq!(alice.birth_date, NaiveDate::from_ymd_opt(1990, 4, 12));
    assert_eq!(alice.email.as_deref(), Some("alice@example.com"));
    assert_eq!(alice.nationality.as_deref(), Some("DE"));
    assert_eq!(
        (alice.phone.as_ref(), alice.national_id.as_ref()),
        (None, None)
    );
}

#[tokio::test]
async fn the_account_carries_type_status_dates_and_the_allowed_balance_range() {
    let bank = bank(answer(200, "success.json")).await;
    let accounts = connector(&bank)
        .accounts(&session())
        .await
        .expect("accounts");
    assert_eq!(accounts.len(), 1);
    let main = &accounts[0];
    assert_eq!(main.bank_id, ALICE_ACCNO);
    assert_eq!(main.bban.as_deref(), Some(ALICE_ACCNO));
    assert_eq!(main.iban, None);
    assert_eq!(main.currency, "EUR");
    assert_eq!(main.account_type.as_deref(), Some("CURRENT"));
    assert_eq!(main.status.as_deref(), Some("ACTIVE"));
    assert_eq!(main.owner_names, ["Alice Example"]);
    assert_eq!(main.opened_on, NaiveDate::from_ymd_opt(2016, 5, 2));
    assert_eq!(main.valid_until, NaiveDate::from_ymd_opt(2030, 12, 31));
    assert_eq!(main.min_allowed_balance, Some(Decimal::new(-100000, 2)));
    assert_eq!(main.max_allowed_balance, Some(Decimal::new(5000000, 2)));
    assert!(main.balances.is_empty(), "the API gives no balances");
}

#[tokio::test]
async fn unknown_fields_json_numbers_and_other_spellings_are_read_leniently() {
    let bank = bank_for(ALICE_ACCNO, "ACCNO", answer(200, "success-lenient.json"), 2).await;
    let connector = connector(&bank);
    let accounts = connector.accounts(&session()).await.expect("accounts");
    let account = &accounts[0];
    assert_eq!(account.iban.as_deref(), Some("DE20100200300098765432"));
    assert_eq!(account.bban, None);
    assert_eq!(account.currency, "EUR");
    assert_eq!(account.opened_on, NaiveDate::from_ymd_opt(2019, 3, 1));
    assert_eq!(account.valid_until, None);
    assert_eq!(account.min_allowed_balance, Some(Decimal::new(-500000, 2)));
    // Beyond what an f64 holds: read from the JSON text, every digit is kept.
    assert_eq!(
        account.max_allowed_balance,
        Some(Decimal::new(123456789012345678, 2))
    );
    let owners = connector.owners(&session()).await.expect("owners");
    let bob = &owners[0];
    assert_eq!(bob.name, "Bob Builder");
    assert_eq!(
        bob.address.as_deref(),
        Some("Baustraße 7, 80331 München, DE")
    );
    assert_eq!(bob.birth_date, NaiveDate::from_ymd_opt(1975, 9, 30));
    // "AUT" is alpha-3: not passed on under a field that promises alpha-2.
    assert_eq!(bob.nationality, None);
}

#[tokio::test]
async fn every_answer_class_of_a_read_maps_to_its_error() {
    let transient = ConnectorError::Transient(String::new());
    let protocol = ConnectorError::protocol("", "");
    for (case, response, read, expected) in [
        (
            "a malformed body is a protocol error",
            answer(200, "malformed.json"),
            Read::Accounts,
            protocol.clone(),
        ),
        (
            "a 503 is transient",
            ResponseTemplate::new(503).set_body_string("maintenance"),
            Read::Owners,
            transient.clone(),
        ),
        (
            "a system error response code is transient even under HTTP 200",
            answer(200, "system-error.json"),
            Read::Owners,
            transient,
        ),
        (
            "a 429 is rate limited for the Retry-After seconds",
            answer(429, "too-many-requests.json").insert_header("Retry-After", "30"),
            Read::Accounts,
            ConnectorError::RateLimited {
                retry_after: Some(Duration::from_secs(30)),
            },
        ),
        (
            "a quota response code is rate limited even without a 429",
            answer(200, "too-many-requests.json"),
            Read::Accounts,
            ConnectorError::RateLimited { retry_after: None },
        ),
        (
            "a partner not enrolled is a protocol error",
            answer(403, "partner-not-enrolled.json"),
            Read::Owners,
            protocol.clone(),
        ),
        (
            "a refused parameter is a protocol error",
            answer(400, "invalid-request.json"),
            Read::Owners,
            protocol,
        ),
        (
            "an account gone after sign-in is an expired consent",
            answer(404, "account-unknown.json"),
            Read::Accounts,
            ConnectorError::ConsentExpired,
        ),
    ] {
        let bank = bank(response).await;
        assert_eq!(
            read_error(&bank, read).await.map(class),
            Some(expected),
            "{case}"
        );
    }
}

#[tokio::test]
async fn a_protocol_error_quotes_the_body_without_the_account_number() {
    let body = r#"{"responseCode":"0000","data":{"account":{"accno":"0012345678","currency":7}}}"#;
    let bank = bank(ResponseTemplate::new(200).set_body_raw(body, "application/json")).await;
    let Err(ConnectorError::Protocol { message, snippet }) =
        connector(&bank).accounts(&session()).await
    else {
        panic!("a currency that is a number is a protocol error");
    };
    assert!(!snippet.contains(ALICE_ACCNO), "{snippet}");
    assert!(
        snippet.contains("5678"),
        "the last digits tell accounts apart: {snippet}"
    );
    assert!(!message.contains(ALICE_ACCNO), "{message}");
}

#[tokio::test]
async fn a_refused_token_is_a_protocol_error_that_names_the_token() {
    for response in [
        answer(401, "token-refused.json"),
        // A gateway in front of the API refusing it with its own page.
        ResponseTemplate::new(401).set_body_raw(fixture("gateway-unauthorized.html"), "text/html"),
    ] {
        let bank = bank(response).await;
        let error = sign_in(&bank, ALICE_ACCNO, "1990-04-12").await.err();
        let Some(ConnectorError::Protocol { message, .. }) = error else {
            panic!("a refused token is an operator's problem, got {error:?}");
        };
        assert!(message.contains("X-Auth-Token"), "{message}");
        assert!(!message.contains(TOKEN));
    }
}

#[tokio::test]
async fn a_connection_refused_is_transient() {
    // A port that was free a moment ago and has no listener now.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address");
    drop(listener);
    let connector = PartnerAccountConnector::new(
        Url::parse(&format!("http://{address}/partner")).expect("url"),
        default_profile(),
        reqwest::Client::new(),
        TOKEN.to_owned(),
        PARTNER.to_owned(),
        PROGRAM.to_owned(),
    );
    let error = connector.owners(&session()).await.err();
    let Some(ConnectorError::Transient(message)) = error else {
        panic!("a refused connection is transient, got {error:?}");
    };
    assert!(!message.contains(ALICE_ACCNO), "{message}");
}

#[tokio::test]
async fn transactions_and_cards_are_unsupported_and_ending_the_session_asks_nothing() {
    let bank = bank_never_called().await;
    let connector = connector(&bank);
    let day = NaiveDate::from_ymd_opt(2025, 1, 1).expect("date");
    let window = DateWindow::new(day, day).expect("window");
    let account = Account::new(ALICE_ACCNO, "EUR");
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
            .transactions(&session(), &account, window, None)
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
async fn the_default_profile_offers_owners_and_accounts_only() {
    let supports = default_profile().supports;
    assert!(supports.owners);
    assert!(!supports.balances && !supports.transactions && !supports.cards && !supports.pending);
}
