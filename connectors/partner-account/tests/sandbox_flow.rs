//! The connector against the sandbox bank's partner account face, in process: sign in with
//! the answers a persona types, read, end.

use aisle_partner_account::{PartnerAccountConnector, default_profile};
use aisle_sandbox_bank::partner_account::PartnerAccountFace;
use aisle_sandbox_bank::{SandboxOptions, form_answer, serve};
use aisle_sdk::{
    BankSession, Connector, ConnectorError, OwnerKind, SignInCallback, SignInProgress,
    SignInRequest, SignInStep,
};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use url::Url;

/// A sandbox bank on a free port; the partner face's base URL.
async fn start_bank() -> Url {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a free port");
    let address = listener.local_addr().expect("local address");
    tokio::spawn(serve(
        listener,
        SandboxOptions::default(),
        std::future::pending(),
    ));
    Url::parse(&format!("http://{address}/partner")).expect("bank url")
}

fn connector_with_token(base: Url, token: &str) -> PartnerAccountConnector {
    let face = PartnerAccountFace::default();
    PartnerAccountConnector::new(
        base,
        default_profile(),
        reqwest::Client::new(),
        token.to_owned(),
        face.partner_reference,
        face.program_code,
    )
}

fn connector(base: Url) -> PartnerAccountConnector {
    connector_with_token(base, &PartnerAccountFace::default().auth_token)
}

/// The form `login` fills in, each field answered as the sandbox says that persona would.
async fn fill_in(connector: &PartnerAccountConnector, login: &str) -> SignInCallback {
    let request = SignInRequest {
        psu_id: None,
        psu_ip_address: Some("192.0.2.10".to_owned()),
        redirect_uri: "https://aisle.example/signin/callback".to_owned(),
        max_import_date: None,
        force_sca: false,
    };
    let SignInStep::Form { fields, pending } =
        connector.begin_sign_in(&request).await.expect("a form")
    else {
        panic!("the partner sign-in is a form");
    };
    let params = fields
        .iter()
        .map(|f| {
            let value = form_answer(login, &f.name)
                .unwrap_or_else(|| panic!("{login} has an answer for {}", f.name));
            (f.name.clone(), value)
        })
        .collect();
    SignInCallback { pending, params }
}

async fn sign_in(
    connector: &PartnerAccountConnector,
    login: &str,
) -> Result<BankSession, ConnectorError> {
    let callback = fill_in(connector, login).await;
    match connector.complete_sign_in(&callback).await? {
        SignInProgress::Done(session) => Ok(session),
        SignInProgress::Next(step) => panic!("one step only, got {step:?}"),
    }
}

#[tokio::test]
async fn alice_signs_in_with_her_form_answers_is_read_and_the_session_ends() {
    let connector = connector(start_bank().await);
    let session = sign_in(&connector, "alice").await.expect("alice signs in");

    let owners = connector.owners(&session).await.expect("owners");
    assert_eq!(owners.len(), 1);
    let alice = &owners[0];
    assert_eq!(
        (alice.name.as_str(), alice.kind),
        ("Alice Example", OwnerKind::Owner)
    );
    assert_eq!(alice.title.as_deref(), Some("Ms"));
    assert_eq!(alice.birth_date, NaiveDate::from_ymd_opt(1990, 4, 12));
    assert_eq!(alice.nationality.as_deref(), Some("DE"));

    let accounts = connector.accounts(&session).await.expect("accounts");
    assert_eq!(accounts.len(), 1);
    let main = &accounts[0];
    assert_eq!(main.bban.as_deref(), Some("0012345678"));
    assert_eq!(main.currency, "EUR");
    assert_eq!(main.owner_names, ["Alice Example"]);
    assert_eq!(main.min_allowed_balance, Some(Decimal::new(-100000, 2)));
    assert_eq!(main.max_allowed_balance, Some(Decimal::new(5000000, 2)));
    assert_eq!(main.valid_until, NaiveDate::from_ymd_opt(2030, 12, 31));

    connector.end_session(&session).await.expect("ended");
}

#[tokio::test]
async fn bob_signs_in_to_the_business_account() {
    let connector = connector(start_bank().await);
    let session = sign_in(&connector, "bob").await.expect("bob signs in");
    let accounts = connector.accounts(&session).await.expect("accounts");
    assert_eq!(accounts[0].bban.as_deref(), Some("0098765432"));
    assert_eq!(accounts[0].owner_names, ["Bob Builder"]);
    assert_eq!(accounts[0].max_allowed_balance, None);
}

#[tokio::test]
async fn the_locked_persona_is_access_blocked() {
    let connector = connector(start_bank().await);
    assert_eq!(
        sign_in(&connector, "locked").await.err(),
        Some(ConnectorError::AccessBlocked)
    );
}

#[tokio::test]
async fn someone_elses_birth_date_is_invalid_credentials() {
    let connector = connector(start_bank().await);
    let mut callback = fill_in(&connector, "alice").await;
    callback.params.insert(
        "birthDate".to_owned(),
        form_answer("bob", "birthDate").expect("bob's birth date"),
    );
    assert_eq!(
        connector.complete_sign_in(&callback).await.err(),
        Some(ConnectorError::InvalidCredentials)
    );
}

#[tokio::test]
async fn a_token_the_bank_did_not_issue_is_a_protocol_error() {
    let connector = connector_with_token(start_bank().await, "not-the-token");
    assert!(matches!(
        sign_in(&connector, "alice").await,
        Err(ConnectorError::Protocol { .. })
    ));
}
