//! The connector against the sandbox bank, in process: the whole single-access flow.

use std::collections::HashSet;

use aisle_berlin_group::{BerlinGroupConnector, default_profile};
use aisle_sandbox_bank::{SandboxOptions, TEST_OTP, TEST_PASSWORD, serve};
use aisle_sdk::{
    BankSession, Connector, ConnectorError, DateWindow, OwnerKind, PageCursor, SignInCallback,
    SignInProgress, SignInRequest, SignInStep, TransactionStatus,
};
use chrono::{Days, Utc};
use reqwest::StatusCode;
use reqwest::redirect::Policy;
use url::Url;

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
    Url::parse(&format!("http://{address}")).expect("bank url")
}

fn connector(bank: Url) -> BerlinGroupConnector {
    BerlinGroupConnector::new(bank, default_profile(), reqwest::Client::new())
}

/// Signs `login` in the way Aisle's headless sandbox path does.
async fn sign_in(connector: &BerlinGroupConnector, login: &str) -> BankSession {
    let request = SignInRequest {
        psu_id: Some(login.to_owned()),
        psu_ip_address: Some("192.0.2.10".to_owned()),
        redirect_uri: "https://aisle.example/signin/callback".to_owned(),
        max_import_date: None,
        force_sca: false,
    };
    let SignInStep::Redirect { url, pending } = connector
        .begin_sign_in(&request)
        .await
        .expect("consent created")
    else {
        panic!("the Berlin Group sign-in is a redirect");
    };
    let callback = SignInCallback {
        pending,
        params: Default::default(),
    };
    assert!(
        matches!(
            connector.complete_sign_in(&callback).await,
            Ok(SignInProgress::Next(SignInStep::Wait { .. }))
        ),
        "a consent not yet valid is waited for, not failed"
    );
    let browser = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .expect("client");
    let approved = browser
        .post(&url)
        .form(&[
            ("password", TEST_PASSWORD),
            ("otp", TEST_OTP),
            ("decision", "approve"),
        ])
        .send()
        .await
        .expect("approve");
    assert_eq!(approved.status(), StatusCode::SEE_OTHER);
    match connector
        .complete_sign_in(&callback)
        .await
        .expect("consent valid after approval")
    {
        SignInProgress::Done(session) => session,
        SignInProgress::Next(step) => panic!("no step after approval, got {step:?}"),
    }
}

fn last_days(days: u64) -> DateWindow {
    let today = Utc::now().date_naive();
    DateWindow::new(today - Days::new(days - 1), today).expect("window")
}

#[tokio::test]
async fn alice_is_imported_end_to_end_and_the_consent_is_gone_afterwards() {
    let connector = connector(start_bank().await);
    let session = sign_in(&connector, "alice").await;

    let accounts = connector.accounts(&session).await.expect("accounts");
    assert_eq!(accounts.len(), 2);
    assert!(
        accounts
            .iter()
            .all(|a| a.iban.is_some() && a.currency == "EUR")
    );
    assert!(
        accounts
            .iter()
            .all(|a| a.balances.iter().any(|b| b.balance_type == "closingBooked"))
    );

    let owners = connector.owners(&session).await.expect("owners");
    assert_eq!(owners.len(), 1);
    assert_eq!(
        (owners[0].name.as_str(), owners[0].kind),
        ("Alice Example", OwnerKind::Owner)
    );

    // Follow the main account's last 90 days to the end.
    let main = &accounts[0];
    let window = last_days(90);
    let mut cursor: Option<PageCursor> = None;
    let mut pages = 0;
    let mut ids = HashSet::new();
    let mut booked = Vec::new();
    loop {
        let page = connector
            .transactions(&session, main, window, cursor.as_ref())
            .await
            .expect("transactions page");
        pages += 1;
        for row in &page.items {
            let id = row.bank_id.clone().expect("sandbox rows carry ids");
            assert!(ids.insert(id), "a row repeats across pages");
            if row.status == TransactionStatus::Booked {
                booked.push(row.clone());
            }
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert!(pages > 1, "90 days of alice span more than one page");
    assert!(
        booked
            .iter()
            .all(|r| r.booking_date.is_some_and(|d| d >= window.from))
    );
    // Each booked row's balance is the previous one plus its amount.
    for pair in booked.windows(2) {
        let (Some(before), Some(after)) = (pair[0].balance_after, pair[1].balance_after) else {
            panic!("booked rows carry balances");
        };
        assert_eq!(before + pair[1].amount, after);
    }
    let closing = main
        .balances
        .iter()
        .find(|b| b.balance_type == "closingBooked")
        .map(|b| b.amount);
    assert_eq!(booked.last().and_then(|r| r.balance_after), closing);

    let cards = connector.cards(&session).await.expect("cards");
    assert_eq!(cards.len(), 1);
    assert!(cards[0].credit_limit.is_some());
    let card_page = connector
        .card_transactions(&session, &cards[0], last_days(30), None)
        .await
        .expect("card transactions");
    assert!(!card_page.items.is_empty());
    assert!(card_page.items.iter().all(|t| t.merchant_name.is_some()));
    // Purchases (the rows with a merchant category) are debits, so negative.
    assert!(
        card_page
            .items
            .iter()
            .filter(|t| t.merchant_category_code.is_some())
            .all(|t| t.amount.is_sign_negative())
    );

    connector
        .end_session(&session)
        .await
        .expect("consent deleted");
    assert_eq!(
        connector.accounts(&session).await.err(),
        Some(ConnectorError::ConsentExpired)
    );
    // Ending twice is harmless: the consent is already gone.
    connector
        .end_session(&session)
        .await
        .expect("already gone is fine");
}

#[tokio::test]
async fn history_older_than_the_bank_keeps_is_a_refused_period() {
    let connector = connector(start_bank().await);
    let session = sign_in(&connector, "alice").await;
    let accounts = connector.accounts(&session).await.expect("accounts");
    let too_old = last_days(3652);
    assert_eq!(
        connector
            .transactions(&session, &accounts[0], too_old, None)
            .await
            .err(),
        Some(ConnectorError::PeriodInvalid)
    );
}

#[tokio::test]
async fn bobs_co_owner_is_named_as_such_and_bob_has_no_cards() {
    let connector = connector(start_bank().await);
    let session = sign_in(&connector, "bob").await;
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
    assert_eq!(accounts[0].owner_names, ["Bob Builder", "Carol Builder"]);
    assert!(connector.cards(&session).await.expect("cards").is_empty());
}

#[tokio::test]
async fn an_unknown_login_is_refused_as_invalid_credentials() {
    let connector = connector(start_bank().await);
    let request = SignInRequest {
        psu_id: Some("mallory".to_owned()),
        psu_ip_address: None,
        redirect_uri: "https://aisle.example/signin/callback".to_owned(),
        max_import_date: None,
        force_sca: false,
    };
    assert_eq!(
        connector.begin_sign_in(&request).await.err(),
        Some(ConnectorError::InvalidCredentials)
    );
}
