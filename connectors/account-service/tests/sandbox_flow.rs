//! The connector against the sandbox bank's account service face, in process: both sign-in
//! steps with the answers a persona types, read, end.

use aisle_account_service::{AccountServiceConnector, default_profile};
use aisle_sandbox_bank::account_service::AccountServiceFace;
use aisle_sandbox_bank::{SandboxOptions, form_answer, serve};
use aisle_sdk::{
    BankSession, Connector, ConnectorError, FormField, OwnerKind, SignInCallback, SignInProgress,
    SignInRequest, SignInStep,
};
use rust_decimal::Decimal;
use url::Url;

/// A sandbox bank on a free port; the account service face's base URL.
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
    Url::parse(&format!("http://{address}/account-service")).expect("bank url")
}

fn connector(base: Url) -> AccountServiceConnector {
    let face = AccountServiceFace::default();
    AccountServiceConnector::new(
        base,
        default_profile(),
        reqwest::Client::new(),
        face.client_id,
        face.client_secret,
    )
}

/// `fields` answered as the sandbox says `login` would.
fn fill_in(login: &str, fields: &[FormField], pending: String) -> SignInCallback {
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

fn request() -> SignInRequest {
    SignInRequest {
        psu_id: None,
        psu_ip_address: Some("192.0.2.10".to_owned()),
        redirect_uri: "https://aisle.example/signin/callback".to_owned(),
        max_import_date: None,
        force_sca: false,
    }
}

/// Step one for `login`: the code step's callback, answered as `login` would.
async fn past_step_one(
    connector: &AccountServiceConnector,
    login: &str,
) -> Result<SignInCallback, ConnectorError> {
    let SignInStep::Form { fields, pending } = connector.begin_sign_in(&request()).await? else {
        panic!("the account service sign-in is a form");
    };
    match connector
        .complete_sign_in(&fill_in(login, &fields, pending))
        .await?
    {
        SignInProgress::Next(SignInStep::Form { fields, pending }) => {
            Ok(fill_in(login, &fields, pending))
        }
        other => panic!("a code step follows the credentials, got {other:?}"),
    }
}

async fn sign_in(
    connector: &AccountServiceConnector,
    login: &str,
) -> Result<BankSession, ConnectorError> {
    let code = past_step_one(connector, login).await?;
    match connector.complete_sign_in(&code).await? {
        SignInProgress::Done(session) => Ok(session),
        SignInProgress::Next(step) => panic!("the code is the last step, got {step:?}"),
    }
}

#[tokio::test]
async fn alice_signs_in_in_two_steps_is_read_with_balances_and_the_session_ends() {
    let connector = connector(start_bank().await);
    let session = sign_in(&connector, "alice").await.expect("alice signs in");

    let owners = connector.owners(&session).await.expect("owners");
    assert_eq!(owners.len(), 1);
    let alice = &owners[0];
    assert_eq!(
        (alice.name.as_str(), alice.kind),
        ("Alice Example", OwnerKind::Owner)
    );
    assert_eq!(alice.national_id.as_deref(), Some("T220001293"));
    assert_eq!(alice.phone.as_deref(), Some("+4915100000001"));

    let accounts = connector.accounts(&session).await.expect("accounts");
    let numbers: Vec<&str> = accounts.iter().map(|a| a.bank_id.as_str()).collect();
    assert_eq!(numbers, ["0012345678", "0012345679"]);
    let main = &accounts[0];
    assert_eq!(main.iban.as_deref(), Some("DE27100200300012345678"));
    let balances: Vec<(&str, Decimal)> = main
        .balances
        .iter()
        .map(|b| (b.balance_type.as_str(), b.amount))
        .collect();
    assert_eq!(
        balances,
        [
            ("interimAvailable", Decimal::new(248055, 2)),
            ("interimBooked", Decimal::new(253055, 2))
        ]
    );
    assert_eq!(main.min_allowed_balance, Some(Decimal::new(-100000, 2)));
    // No overdraft on savings: the floor is zero, not "-0.00".
    assert_eq!(
        accounts[1]
            .min_allowed_balance
            .map(|d| d.to_string())
            .as_deref(),
        Some("0.00")
    );

    connector.end_session(&session).await.expect("ended");
}

#[tokio::test]
async fn bobs_co_owner_is_named_as_such() {
    let connector = connector(start_bank().await);
    let session = sign_in(&connector, "bob").await.expect("bob signs in");
    let owners = connector.owners(&session).await.expect("owners");
    let named: Vec<(&str, OwnerKind)> = owners.iter().map(|o| (o.name.as_str(), o.kind)).collect();
    assert_eq!(
        named,
        [
            ("Bob Builder", OwnerKind::Owner),
            ("Carol Builder", OwnerKind::CoOwner)
        ]
    );
    let accounts = connector.accounts(&session).await.expect("accounts");
    assert_eq!(accounts[0].name.as_deref(), Some("Bob Builder GmbH"));
    assert_eq!(accounts[0].owner_names, ["Bob Builder", "Carol Builder"]);
}

#[tokio::test]
async fn the_locked_persona_is_access_blocked() {
    let connector = connector(start_bank().await);
    assert_eq!(
        past_step_one(&connector, "locked").await.err(),
        Some(ConnectorError::AccessBlocked)
    );
}

#[tokio::test]
async fn a_wrong_code_is_invalid_credentials() {
    let connector = connector(start_bank().await);
    let mut code = past_step_one(&connector, "alice").await.expect("code sent");
    code.params.insert("otp".to_owned(), "000000".to_owned());
    assert_eq!(
        connector.complete_sign_in(&code).await.err(),
        Some(ConnectorError::InvalidCredentials)
    );
}

#[tokio::test]
async fn someone_elses_phone_number_is_invalid_credentials() {
    let connector = connector(start_bank().await);
    let SignInStep::Form { fields, pending } =
        connector.begin_sign_in(&request()).await.expect("a form")
    else {
        panic!("a form");
    };
    let mut callback = fill_in("alice", &fields, pending);
    callback.params.insert(
        "phoneNumber".to_owned(),
        form_answer("bob", "phoneNumber").expect("bob's number"),
    );
    assert_eq!(
        connector.complete_sign_in(&callback).await.err(),
        Some(ConnectorError::InvalidCredentials)
    );
}
