//! The connector against the sandbox bank's decoupled and embedded SCA and its spec-shaped
//! reports: the personas issue 14 asks for, driven as the widget drives them.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aisle_berlin_group::{
    BerlinGroupConnector, OTP_FIELD, PASSWORD_FIELD, PSU_ID_FIELD, SCA_METHOD_FIELD, ScaApproach,
    default_profile,
};
use aisle_sandbox_bank::{APP_MESSAGE, SandboxOptions, TEST_OTP, TEST_PASSWORD, serve};
use aisle_sdk::{
    BankSession, Connector, ConnectorError, DateWindow, PageCursor, SignInCallback, SignInProgress,
    SignInRequest, SignInStep, Transaction, TransactionStatus,
};
use chrono::{Days, Utc};
use url::Url;

/// Longer than any persona takes in its app, with room for a loaded machine.
const APPROVAL_DEADLINE: Duration = Duration::from_secs(30);

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

async fn connector(preference: ScaApproach) -> BerlinGroupConnector {
    BerlinGroupConnector::new(
        start_bank().await,
        default_profile(),
        reqwest::Client::new(),
    )
    .with_sca_preference(preference)
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

/// What the owner types and picks, as the widget would pass it on.
struct Owner<'a> {
    login: &'a str,
    password: &'a str,
    otp: &'a str,
    /// The SCA method picked when the bank offers several.
    method: &'a str,
}

impl<'a> Owner<'a> {
    fn new(login: &'a str) -> Self {
        Self {
            login,
            password: TEST_PASSWORD,
            otp: TEST_OTP,
            method: "sms",
        }
    }
}

/// Every step the sign-in went through, and how it ended.
struct Trail {
    steps: Vec<SignInStep>,
    outcome: Result<BankSession, ConnectorError>,
}

/// Signs `owner` in through whatever steps the bank asks for, polling waiting steps at the
/// bank's pace until [`APPROVAL_DEADLINE`].
async fn sign_in(connector: &BerlinGroupConnector, owner: &Owner<'_>) -> Trail {
    let deadline = Instant::now() + APPROVAL_DEADLINE;
    let mut steps = Vec::new();
    let mut step = match connector.begin_sign_in(&request()).await {
        Ok(step) => step,
        Err(error) => {
            return Trail {
                steps,
                outcome: Err(error),
            };
        }
    };
    loop {
        steps.push(step.clone());
        let callback = match step {
            SignInStep::Form { fields, pending } => SignInCallback {
                params: fields
                    .iter()
                    .map(|field| {
                        let value = match field.name.as_str() {
                            PSU_ID_FIELD => owner.login,
                            PASSWORD_FIELD => owner.password,
                            OTP_FIELD => owner.otp,
                            other => panic!("an unexpected field {other}"),
                        };
                        (field.name.clone(), value.to_owned())
                    })
                    .collect(),
                pending,
            },
            SignInStep::Choose { name, pending, .. } => SignInCallback {
                params: BTreeMap::from([(name, owner.method.to_owned())]),
                pending,
            },
            SignInStep::Wait {
                poll_after,
                pending,
                ..
            } => {
                assert!(Instant::now() < deadline, "the bank never decided");
                tokio::time::sleep(poll_after).await;
                SignInCallback {
                    params: BTreeMap::new(),
                    pending,
                }
            }
            SignInStep::Redirect { .. } => panic!("no redirect was asked for"),
        };
        match connector.complete_sign_in(&callback).await {
            Ok(SignInProgress::Next(next)) => step = next,
            Ok(SignInProgress::Done(session)) => {
                return Trail {
                    steps,
                    outcome: Ok(session),
                };
            }
            Err(error) => {
                return Trail {
                    steps,
                    outcome: Err(error),
                };
            }
        }
    }
}

fn last_days(days: u64) -> DateWindow {
    let today = Utc::now().date_naive();
    DateWindow::new(today - Days::new(days - 1), today).expect("window")
}

async fn every_row(
    connector: &BerlinGroupConnector,
    session: &BankSession,
    window: DateWindow,
) -> Vec<Transaction> {
    let accounts = connector.accounts(session).await.expect("accounts");
    let mut cursor: Option<PageCursor> = None;
    let mut rows = Vec::new();
    loop {
        let page = connector
            .transactions(session, &accounts[0], window, cursor.as_ref())
            .await
            .expect("transactions page");
        rows.extend(page.items);
        match page.next {
            Some(next) => cursor = Some(next),
            None => return rows,
        }
    }
}

#[tokio::test]
async fn a_decoupled_persona_approves_in_the_app_after_a_delay_and_the_sign_in_waits_for_it() {
    let connector = connector(ScaApproach::Decoupled).await;
    let trail = sign_in(&connector, &Owner::new("decoupled")).await;
    let session = trail.outcome.expect("approved in the app");

    assert!(
        matches!(&trail.steps[0], SignInStep::Form { fields, .. } if fields.len() == 1 && fields[0].name == PSU_ID_FIELD),
        "the owner names their login first"
    );
    let waits: Vec<&SignInStep> = trail
        .steps
        .iter()
        .filter(|s| matches!(s, SignInStep::Wait { .. }))
        .collect();
    assert!(
        waits.len() >= 2,
        "the widget waits while the app decides, got {} waiting steps",
        waits.len()
    );
    assert!(
        waits
            .iter()
            .all(|s| matches!(s, SignInStep::Wait { message, .. } if message == APP_MESSAGE)),
        "the bank's message is shown while waiting"
    );
    assert!(
        trail.steps.iter().skip(2).any(
            |s| matches!(s, SignInStep::Wait { poll_after, .. } if *poll_after == Duration::from_secs(1))
        ),
        "the bank's Retry-After paces the polls"
    );
    assert!(
        !connector
            .accounts(&session)
            .await
            .expect("accounts")
            .is_empty()
    );
    connector.end_session(&session).await.expect("ended");
}

#[tokio::test]
async fn a_decoupled_persona_refusing_in_the_app_fails_the_sign_in_as_invalid_credentials() {
    let connector = connector(ScaApproach::Decoupled).await;
    let trail = sign_in(&connector, &Owner::new("decoupled-refused")).await;
    assert_eq!(
        trail.outcome.err(),
        Some(ConnectorError::InvalidCredentials)
    );
    assert!(
        trail
            .steps
            .iter()
            .any(|s| matches!(s, SignInStep::Wait { .. }))
    );
}

#[tokio::test]
async fn any_persona_signs_in_decoupled_and_a_stranger_is_refused() {
    let connector = connector(ScaApproach::Decoupled).await;
    assert!(
        sign_in(&connector, &Owner::new("alice"))
            .await
            .outcome
            .is_ok()
    );
    assert_eq!(
        sign_in(&connector, &Owner::new("mallory"))
            .await
            .outcome
            .err(),
        Some(ConnectorError::InvalidCredentials)
    );
    assert_eq!(
        sign_in(&connector, &Owner::new("locked"))
            .await
            .outcome
            .err(),
        Some(ConnectorError::AccessBlocked)
    );
}

#[tokio::test]
async fn the_embedded_persona_chooses_between_two_methods_then_types_the_code() {
    for method in ["sms", "push"] {
        let connector = connector(ScaApproach::Embedded).await;
        let owner = Owner {
            method,
            ..Owner::new("embedded")
        };
        let trail = sign_in(&connector, &owner).await;
        let session = trail.outcome.expect("signed in");
        let kinds: Vec<&str> = trail
            .steps
            .iter()
            .map(|s| match s {
                SignInStep::Form { fields, .. } => {
                    if fields.iter().any(|f| f.name == OTP_FIELD) {
                        "code"
                    } else {
                        "login"
                    }
                }
                SignInStep::Choose { .. } => "choice",
                SignInStep::Wait { .. } => "wait",
                SignInStep::Redirect { .. } => "redirect",
            })
            .collect();
        assert_eq!(kinds, ["login", "choice", "code"], "{method}");
        let SignInStep::Choose { name, options, .. } = &trail.steps[1] else {
            unreachable!("checked above");
        };
        assert_eq!(name, SCA_METHOD_FIELD);
        let values: Vec<&str> = options.iter().map(|o| o.value.as_str()).collect();
        assert_eq!(values, ["sms", "push"]);
        assert!(
            !connector
                .accounts(&session)
                .await
                .expect("accounts")
                .is_empty()
        );
    }
}

#[tokio::test]
async fn a_persona_with_one_method_goes_from_password_straight_to_the_code() {
    let connector = connector(ScaApproach::Embedded).await;
    let trail = sign_in(&connector, &Owner::new("alice")).await;
    trail.outcome.expect("signed in");
    assert_eq!(trail.steps.len(), 2, "login and password, then the code");
    assert!(matches!(
        &trail.steps[1],
        SignInStep::Form { fields, .. } if fields[0].name == OTP_FIELD && fields[0].label.contains("SMS")
    ));
}

#[tokio::test]
async fn a_wrong_password_or_code_at_the_embedded_bank_is_invalid_credentials() {
    let connector = connector(ScaApproach::Embedded).await;
    let wrong_password = Owner {
        password: "not-it",
        ..Owner::new("embedded")
    };
    assert_eq!(
        sign_in(&connector, &wrong_password).await.outcome.err(),
        Some(ConnectorError::InvalidCredentials)
    );
    let wrong_code = Owner {
        otp: "000000",
        ..Owner::new("embedded")
    };
    assert_eq!(
        sign_in(&connector, &wrong_code).await.outcome.err(),
        Some(ConnectorError::InvalidCredentials)
    );
}

#[tokio::test]
async fn the_mixed_personas_unsigned_booked_rows_are_read_with_the_right_signs() {
    let connector = connector(ScaApproach::Embedded).await;
    let session = sign_in(&connector, &Owner::new("mixed"))
        .await
        .outcome
        .expect("signed in");
    let rows = every_row(&connector, &session, last_days(90)).await;
    let booked: Vec<&Transaction> = rows
        .iter()
        .filter(|r| r.status == TransactionStatus::Booked)
        .collect();
    assert!(booked.iter().any(|r| r.amount.is_sign_negative()));
    assert!(
        rows.iter().any(|r| r.status == TransactionStatus::Pending),
        "the report mixes pending rows in"
    );
    // Signed right, every booked row's balance is the previous one plus its amount.
    for pair in booked.windows(2) {
        let (Some(before), Some(after)) = (pair[0].balance_after, pair[1].balance_after) else {
            panic!("booked rows carry balances");
        };
        assert_eq!(before + pair[1].amount, after, "{:?}", pair[1].bank_id);
    }
    assert!(
        rows.iter().all(|r| r.counterparty_name.is_some()),
        "every row keeps its counterparty"
    );
}

#[tokio::test]
async fn a_report_offered_only_as_a_download_is_unsupported_not_a_failure() {
    let connector = connector(ScaApproach::Embedded).await;
    let session = sign_in(&connector, &Owner::new("report-download"))
        .await
        .outcome
        .expect("signed in");
    let accounts = connector.accounts(&session).await.expect("accounts");
    let read = connector
        .transactions(&session, &accounts[0], last_days(30), None)
        .await;
    assert!(
        matches!(read, Err(ConnectorError::Unsupported(_))),
        "{read:?}"
    );
}
