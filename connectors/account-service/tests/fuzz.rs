//! Fuzzes the reading of the Account Service's answers: the envelope and its codes, the
//! sign-in's checks, the customer, the account list and each account's details, under any
//! HTTP status. Each is fed arbitrary bytes (with mutated recorded answers) and JSON shaped
//! like the wire types; every call must return `Ok` or a `ConnectorError`, never panic. See
//! `aisle_sdk::fuzzing` for the case count.

use aisle_account_service::fuzzing::{self as service, Reply};
use aisle_sdk::fuzzing::{
    Shape, bytes_body, exact_amount, fixture_files, mutated, retry_after, run, shaped_body, status,
};
use aisle_sdk::{ConnectorError, OwnerKind};
use proptest::prelude::*;
use reqwest::StatusCode;
use rust_decimal::Decimal;

const CODES: &[&str] = &[
    "00", "01", "02", "10", "11", "12", "13", "14", "20", "21", "29", "91", "96", "42",
];
const COUNTRIES: &[&str] = &["VN", "de", "DEU", ""];

/// The envelope every answer comes in, around `data`: half of them a success.
macro_rules! envelope {
    ($data:expr) => {
        Shape::Object(&[
            (
                "code",
                Shape::Required(&Shape::Either(&[Shape::Code(&["00"]), Shape::Code(CODES)])),
            ),
            ("message", Shape::Text),
            ("traceId", Shape::Text),
            ("data", $data),
        ])
    };
}

const LEGAL_ID_CHECK: Shape = envelope!(Shape::Object(&[
    ("valid", Shape::Flag),
    ("cif", Shape::Text),
    (
        "customerStatus",
        Shape::Code(&["ACTIVE", "BLOCKED", " blocked "])
    ),
]));
const PHONE_CHECK: Shape = envelope!(Shape::Object(&[
    ("valid", Shape::Flag),
    ("otpReference", Shape::Text),
]));
const CUSTOMER: Shape = envelope!(Shape::Object(&[
    ("title", Shape::Text),
    ("fullName", Shape::Text),
    ("firstName", Shape::Text),
    ("lastName", Shape::Text),
    ("legalId", Shape::Text),
    ("birthDate", Shape::Date),
    ("email", Shape::Text),
    ("phoneNumber", Shape::Text),
    (
        "address",
        Shape::Either(&[
            Shape::Object(&[
                ("street", Shape::Text),
                ("postalCode", Shape::Text),
                ("city", Shape::Text),
                ("country", Shape::Code(COUNTRIES)),
            ]),
            Shape::Text,
        ]),
    ),
    ("nationality", Shape::Code(COUNTRIES)),
    (
        "relatedParties",
        Shape::List(&Shape::Object(&[
            ("fullName", Shape::Text),
            (
                "role",
                Shape::Code(&[
                    "JOINT_HOLDER",
                    "co-owner",
                    "Power of Attorney",
                    "BENEFICIARY"
                ]),
            ),
        ])),
    ),
]));
const ACCOUNT_LIST: Shape = envelope!(Shape::Object(&[(
    "accounts",
    Shape::List(&Shape::Object(&[
        (
            "accountNumber",
            Shape::Either(&[Shape::Code(&["0012345678"]), Shape::Text]),
        ),
        ("iban", Shape::Text),
        ("accountName", Shape::Text),
        ("productName", Shape::Text),
        ("accountType", Shape::Code(&["CURRENT", "SAVINGS"])),
        ("currency", Shape::Code(&["EUR", "vnd", "", "EURO"])),
        ("status", Shape::Code(&["ACTIVE", "DORMANT"])),
        ("openDate", Shape::Date),
        (
            "holders",
            Shape::List(&Shape::Object(&[("name", Shape::Text)]))
        ),
    ])),
)]));
const ACCOUNT_INFO: Shape = envelope!(Shape::Object(&[
    ("currency", Shape::Code(&["EUR", "vnd", ""])),
    ("availableBalance", Shape::Amount),
    ("ledgerBalance", Shape::Amount),
    ("overdraftLimit", Shape::Amount),
    ("balanceDate", Shape::Date),
]));

/// The recorded answers of `fixtures/account-service/` whose names start with one of
/// `prefixes`, with a few edits each, and arbitrary bytes.
fn bytes_or_recorded(prefixes: &[&str]) -> BoxedStrategy<String> {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/account-service"
    );
    // Every error answer applies to every operation.
    let mut seeds = fixture_files(dir, prefixes);
    seeds.extend(fixture_files(
        dir,
        &["account-unknown", "client-refused", "malformed"],
    ));
    prop_oneof![bytes_body(), mutated(seeds)].boxed()
}

/// A status (mostly 200, where the body decides), a `Retry-After` and a body.
fn reply(body: BoxedStrategy<String>) -> impl Strategy<Value = (u16, Option<String>, String)> {
    (
        prop_oneof![3 => Just(200u16), 1 => status()],
        retry_after(),
        body,
    )
}

fn as_reply(reply: &(u16, Option<String>, String)) -> Reply<'_> {
    let status = StatusCode::from_u16(reply.0).expect("a generated status");
    (status, reply.1.as_deref(), &reply.2)
}

/// What every `Protocol` error keeps of a bank's answer: a snippet of at most 200 characters,
/// and no run of five digits or more (an account number) in it or in the message.
fn redacted<T>(result: &Result<T, ConnectorError>) -> Result<(), TestCaseError> {
    if let Err(ConnectorError::Protocol { message, snippet }) = result {
        prop_assert!(snippet.chars().count() <= 200, "{snippet:?}");
        for text in [message, snippet] {
            let mut run = 0;
            let long_run = text.chars().any(|c| {
                run = if c.is_ascii_digit() { run + 1 } else { 0 };
                run >= 5
            });
            prop_assert!(!long_run, "unredacted digits in {text:?}");
        }
    }
    Ok(())
}

type RawReply = (u16, Option<String>, String);

fn sign_in((legal_id, phone): (RawReply, RawReply)) -> Result<(), TestCaseError> {
    redacted(&service::sign_in(as_reply(&legal_id), as_reply(&phone)))
}

#[test]
fn sign_in_answers_from_arbitrary_bytes_pass_or_fail_cleanly() {
    let input = (
        reply(bytes_or_recorded(&["valid-legal-id"])),
        reply(bytes_or_recorded(&["valid-phone-number"])),
    );
    run("account-service sign-in from bytes", input, sign_in);
}

#[test]
fn sign_in_answers_from_structured_json_pass_or_fail_cleanly() {
    let input = (
        reply(shaped_body(&LEGAL_ID_CHECK)),
        reply(shaped_body(&PHONE_CHECK)),
    );
    run("account-service sign-in from JSON", input, sign_in);
}

fn owners(reply: RawReply) -> Result<(), TestCaseError> {
    let read = service::owners(as_reply(&reply));
    if let Ok(owners) = &read {
        prop_assert_eq!(owners.first().map(|o| o.kind), Some(OwnerKind::Owner));
        for (i, owner) in owners.iter().enumerate() {
            prop_assert!(!owner.name.is_empty() && owner.name == owner.name.trim());
            prop_assert!(owners[..i].iter().all(|o| o.name != owner.name));
        }
    }
    redacted(&read)
}

#[test]
fn customers_from_arbitrary_bytes_map_or_fail_cleanly() {
    let input = reply(bytes_or_recorded(&["get-customer"]));
    run("account-service customer from bytes", input, owners);
}

#[test]
fn customers_from_structured_json_map_or_fail_cleanly() {
    run(
        "account-service customer from JSON",
        reply(shaped_body(&CUSTOMER)),
        owners,
    );
}

fn accounts((list, info): (RawReply, RawReply)) -> Result<(), TestCaseError> {
    let read = service::accounts(as_reply(&list), as_reply(&info));
    if let Ok(accounts) = &read {
        for account in accounts {
            // An overdraft limit is how far below zero the balance may go.
            prop_assert!(
                account
                    .min_allowed_balance
                    .is_none_or(|m| m <= Decimal::ZERO)
            );
            prop_assert!(account.balances.len() <= 2);
        }
    }
    redacted(&read)
}

#[test]
fn accounts_from_arbitrary_bytes_map_or_fail_cleanly() {
    let input = (
        reply(bytes_or_recorded(&["get-list-account"])),
        reply(bytes_or_recorded(&["get-account-info"])),
    );
    run("account-service accounts from bytes", input, accounts);
}

#[test]
fn accounts_from_structured_json_map_or_fail_cleanly() {
    let input = (
        reply(shaped_body(&ACCOUNT_LIST)),
        reply(shaped_body(&ACCOUNT_INFO)),
    );
    run("account-service accounts from JSON", input, accounts);
}

#[test]
fn balances_keep_the_amount_written_to_the_last_digit() {
    run(
        "account-service exact amounts",
        exact_amount(),
        |(expected, text)| {
            let list = r#"{"code":"00","data":{"accounts":[{"accountNumber":"0012345678","currency":"EUR"}]}}"#;
            let info = format!(
                r#"{{"code":"00","data":{{"availableBalance":{text},"ledgerBalance":"{text}"}}}}"#
            );
            let accounts =
                service::accounts((StatusCode::OK, None, list), (StatusCode::OK, None, &info))
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(accounts.len(), 1);
            prop_assert_eq!(accounts[0].balances.len(), 2);
            for balance in &accounts[0].balances {
                prop_assert_eq!(balance.amount, expected);
                prop_assert_eq!(balance.amount.to_string(), text.clone());
            }
            Ok(())
        },
    );
}
