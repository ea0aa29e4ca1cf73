//! Fuzzes the reading of the partner API's answer: the envelope and its response codes, the
//! owner and the account, under any HTTP status. Each is fed arbitrary bytes (with mutated
//! recorded answers) and JSON shaped like the wire types; every call must return `Ok` or a
//! `ConnectorError`, never panic. See `aisle_sdk::fuzzing` for the case count.

use aisle_partner_account::fuzzing as partner;
use aisle_sdk::ConnectorError;
use aisle_sdk::fuzzing::{
    Shape, bytes_body, exact_amount, fixture_files, mutated, retry_after, run, shaped_body, status,
};
use proptest::prelude::*;
use reqwest::StatusCode;

const RESPONSE_CODES: &[&str] = &[
    "0000", "0001", "0002", "0003", "0008", "0009", "0014", "0029", "0090", "0091", "0096", "0042",
];
const COUNTRIES: &[&str] = &["DE", "de", "DEU", "", "D1"];
const ADDRESS: Shape = Shape::Either(&[
    Shape::Object(&[
        ("line1", Shape::Text),
        ("line2", Shape::Text),
        ("postalCode", Shape::Text),
        ("city", Shape::Text),
    ]),
    Shape::Text,
]);
const OWNER: Shape = Shape::Object(&[
    ("title", Shape::Text),
    ("firstName", Shape::Text),
    ("lastName", Shape::Text),
    ("address", ADDRESS),
    ("country", Shape::Code(COUNTRIES)),
    ("birthDate", Shape::Date),
    ("email", Shape::Text),
    ("nationality", Shape::Code(COUNTRIES)),
]);
const ACCOUNT: Shape = Shape::Object(&[
    (
        "accno",
        Shape::Either(&[
            Shape::Code(&["DE27100200300012345678", "0012345678"]),
            Shape::Text,
        ]),
    ),
    ("accnoType", Shape::Code(&["IBAN", "ACCNO", "iban", ""])),
    ("currency", Shape::Code(&["EUR", "usd", "", "EURO"])),
    ("type", Shape::Code(&["CURRENT", "SAVINGS"])),
    ("status", Shape::Code(&["ACTIVE", "CLOSED"])),
    ("creationDate", Shape::Date),
    ("validityDate", Shape::Date),
    ("minAllowedBalance", Shape::Amount),
    ("maxAllowedBalance", Shape::Amount),
]);
const ANSWER: Shape = Shape::Object(&[
    // Half of the answers a success, the rest spread over the codes the API documents.
    (
        "responseCode",
        Shape::Required(&Shape::Either(&[
            Shape::Code(&["0000"]),
            Shape::Code(RESPONSE_CODES),
        ])),
    ),
    ("responseMessage", Shape::Text),
    ("responseDateTime", Shape::Date),
    (
        "data",
        Shape::Object(&[("owner", OWNER), ("account", ACCOUNT)]),
    ),
]);

fn recorded() -> BoxedStrategy<String> {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/partner-account"
    );
    mutated(fixture_files(dir, &[""]))
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

fn read(
    (status, retry_after, body, sign_in): (u16, Option<String>, String, bool),
) -> Result<(), TestCaseError> {
    let status = StatusCode::from_u16(status).expect("a generated status");
    let retry_after = retry_after.as_deref();
    let owner = partner::owner(status, retry_after, &body, sign_in);
    if let Ok(owner) = &owner {
        prop_assert!(!owner.name.is_empty() && owner.name == owner.name.trim());
    }
    redacted(&owner)?;
    let account = partner::account(status, retry_after, &body);
    if let Ok(account) = &account {
        prop_assert!(!account.bank_id.is_empty());
        prop_assert_eq!(
            account.currency.to_ascii_uppercase(),
            account.currency.clone()
        );
    }
    redacted(&account)
}

/// Mostly 200, where the body decides.
fn answer_status() -> impl Strategy<Value = u16> {
    prop_oneof![3 => Just(200u16), 1 => status()]
}

#[test]
fn answers_from_arbitrary_bytes_map_or_fail_cleanly() {
    let body = prop_oneof![bytes_body(), recorded()];
    let input = (answer_status(), retry_after(), body, any::<bool>());
    run("partner-account answer from bytes", input, read);
}

#[test]
fn answers_from_structured_json_map_or_fail_cleanly() {
    let input = (
        answer_status(),
        retry_after(),
        shaped_body(&ANSWER),
        any::<bool>(),
    );
    run("partner-account answer from JSON", input, read);
}

#[test]
fn allowed_balances_keep_the_amount_written_to_the_last_digit() {
    run(
        "partner-account exact amounts",
        exact_amount(),
        |(expected, text)| {
            let body = format!(
                r#"{{"responseCode":"0000","data":{{"account":{{"accno":"0012345678","currency":"EUR","minAllowedBalance":{text},"maxAllowedBalance":"{text}"}}}}}}"#
            );
            let account = partner::account(StatusCode::OK, None, &body)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            for read in [account.min_allowed_balance, account.max_allowed_balance] {
                prop_assert_eq!(read, Some(expected));
                prop_assert_eq!(read.map(|d| d.to_string()), Some(text.clone()));
            }
            Ok(())
        },
    );
}
