//! Fuzzes every reading of a Berlin Group bank's answers: accounts, balances, transaction and
//! card reports with their `next` links, card accounts, consents and their status, OAuth
//! metadata and tokens, and error bodies. Each surface gets arbitrary bytes (with mutated
//! spec fixtures) and JSON shaped like its wire type; every call must return `Ok` or a
//! `ConnectorError`, never panic. See `aisle_sdk::fuzzing` for the case count.

use std::path::PathBuf;

use aisle_berlin_group::AmountSigns;
use aisle_berlin_group::fuzzing as bg;
use aisle_sdk::ConnectorError;
use aisle_sdk::fuzzing::{
    Json, Shape, bytes_body, exact_amount, fixture_files, mutated, retry_after, run, shaped_body,
    status,
};
use proptest::prelude::*;
use reqwest::StatusCode;
use serde_json::Value;

const CURRENCIES: &[&str] = &["EUR", "USD", "GBP", "XXX", "eur", ""];
const LINK_NAMES: &[&str] = &[
    "next",
    "self",
    "first",
    "last",
    "previous",
    "balances",
    "transactions",
    "download",
    "account",
];
const SIGN_IN_LINKS: &[&str] = &[
    "scaRedirect",
    "scaOAuth",
    "startAuthorisation",
    "startAuthorisationWithPsuAuthentication",
    "updatePsuIdentification",
    "scaStatus",
    "status",
    "self",
];

const AMOUNT: Shape = Shape::Object(&[
    ("currency", Shape::Required(&Shape::Code(CURRENCIES))),
    ("amount", Shape::Required(&Shape::Amount)),
]);
const BALANCE: Shape = Shape::Object(&[
    ("balanceAmount", Shape::Required(&AMOUNT)),
    (
        "balanceType",
        Shape::Required(&Shape::Code(&[
            "closingBooked",
            "expected",
            "interimAvailable",
            "interimBooked",
        ])),
    ),
    ("referenceDate", Shape::Date),
    ("lastChangeDateTime", Shape::Date),
]);
const OWNER: Shape = Shape::Object(&[
    ("name", Shape::Required(&Shape::Text)),
    (
        "role",
        Shape::Code(&[
            "owner",
            "co-owner",
            "legalRepresentative",
            "CoOwner",
            "beneficiary",
        ]),
    ),
]);
const ACCOUNT: Shape = Shape::Object(&[
    ("resourceId", Shape::Text),
    ("iban", Shape::Text),
    ("bban", Shape::Text),
    ("maskedPan", Shape::Text),
    ("currency", Shape::Code(CURRENCIES)),
    ("name", Shape::Text),
    ("displayName", Shape::Text),
    ("product", Shape::Text),
    ("cashAccountType", Shape::Code(&["CACC", "SVGS", "CARD"])),
    ("status", Shape::Code(&["enabled", "deleted", "blocked"])),
    ("ownerName", Shape::Text),
    ("ownerNames", Shape::List(&OWNER)),
    ("balances", Shape::List(&BALANCE)),
    ("_links", Shape::Links(LINK_NAMES)),
]);
const ACCOUNT_LIST: Shape = Shape::Object(&[("accounts", Shape::List(&ACCOUNT))]);
const BALANCES: Shape = Shape::Object(&[
    ("account", REFERENCE),
    ("balances", Shape::List(&BALANCE)),
    ("debitAccounting", Shape::Flag),
]);
const REFERENCE: Shape = Shape::Object(&[
    ("iban", Shape::Text),
    ("bban", Shape::Text),
    ("maskedPan", Shape::Text),
    ("pan", Shape::Text),
    ("msisdn", Shape::Text),
    ("currency", Shape::Code(CURRENCIES)),
]);
const TRANSACTION: Shape = Shape::Object(&[
    ("transactionId", Shape::Text),
    ("entryReference", Shape::Text),
    ("bookingDate", Shape::Date),
    ("valueDate", Shape::Date),
    ("transactionAmount", Shape::Required(&AMOUNT)),
    (
        "creditDebitIndicator",
        Shape::Code(&["DBIT", "CRDT", "D", "C", "debit", "Credit"]),
    ),
    ("creditorName", Shape::Text),
    ("creditorAccount", REFERENCE),
    ("debtorName", Shape::Text),
    ("debtorAccount", REFERENCE),
    ("remittanceInformationUnstructured", Shape::Text),
    (
        "remittanceInformationUnstructuredArray",
        Shape::List(&Shape::Text),
    ),
    ("additionalInformation", Shape::Text),
    ("bankTransactionCode", Shape::Text),
    ("proprietaryBankTransactionCode", Shape::Text),
    ("balanceAfterTransaction", BALANCE),
]);
const REPORT: Shape = Shape::Object(&[
    ("booked", Shape::List(&TRANSACTION)),
    ("pending", Shape::List(&TRANSACTION)),
    ("_links", Shape::Links(LINK_NAMES)),
]);
const TRANSACTIONS: Shape = Shape::Object(&[
    ("account", REFERENCE),
    ("transactions", REPORT),
    ("balances", Shape::List(&BALANCE)),
    ("_links", Shape::Links(LINK_NAMES)),
]);
const CARD_ACCOUNT: Shape = Shape::Object(&[
    ("resourceId", Shape::Text),
    ("maskedPan", Shape::Text),
    ("currency", Shape::Code(CURRENCIES)),
    ("name", Shape::Text),
    ("displayName", Shape::Text),
    ("product", Shape::Text),
    ("debitAccounting", Shape::Flag),
    ("creditLimit", AMOUNT),
    ("balances", Shape::List(&BALANCE)),
    ("_links", Shape::Links(LINK_NAMES)),
]);
const CARD_ACCOUNTS: Shape = Shape::Object(&[("cardAccounts", Shape::List(&CARD_ACCOUNT))]);
const CARD_TRANSACTION: Shape = Shape::Object(&[
    ("cardTransactionId", Shape::Text),
    ("transactionDate", Shape::Date),
    ("bookingDate", Shape::Date),
    ("transactionAmount", Shape::Required(&AMOUNT)),
    ("originalAmount", AMOUNT),
    ("cardAcceptorId", Shape::Text),
    (
        "merchantCategoryCode",
        Shape::Code(&["5411", "5812", "0000"]),
    ),
    ("transactionDetails", Shape::Text),
    ("proprietaryBankTransactionCode", Shape::Text),
]);
const CARD_TRANSACTIONS: Shape = Shape::Object(&[
    ("debitAccounting", Shape::Flag),
    (
        "cardTransactions",
        Shape::Object(&[
            ("booked", Shape::List(&CARD_TRANSACTION)),
            ("pending", Shape::List(&CARD_TRANSACTION)),
            ("_links", Shape::Links(LINK_NAMES)),
        ]),
    ),
    ("_links", Shape::Links(LINK_NAMES)),
]);
const CONSENT_STATUSES: &[&str] = &[
    "received",
    "rejected",
    "valid",
    "revokedByPsu",
    "expired",
    "terminatedByTpp",
    "partiallyAuthorised",
];
const CONSENT_CREATED: Shape = Shape::Object(&[
    ("consentStatus", Shape::Code(CONSENT_STATUSES)),
    ("consentId", Shape::Required(&Shape::Text)),
    ("authorisationId", Shape::Text),
    ("_links", Shape::Links(SIGN_IN_LINKS)),
]);
const AUTHORISATION_STARTED: Shape = Shape::Object(&[
    (
        "scaStatus",
        Shape::Code(&["received", "started", "finalised"]),
    ),
    ("authorisationId", Shape::Text),
    ("_links", Shape::Links(SIGN_IN_LINKS)),
]);
const CONSENT_STATUS: Shape = Shape::Object(&[(
    "consentStatus",
    Shape::Required(&Shape::Code(CONSENT_STATUSES)),
)]);
const CONSENT_INFORMATION: Shape = Shape::Object(&[
    ("consentStatus", Shape::Code(CONSENT_STATUSES)),
    ("recurringIndicator", Shape::Flag),
    ("validUntil", Shape::Date),
    ("frequencyPerDay", Shape::Amount),
    ("lastActionDate", Shape::Date),
    (
        "access",
        Shape::Object(&[
            (
                "allPsd2",
                Shape::Code(&["allAccounts", "allAccountsWithOwnerName"]),
            ),
            ("accounts", Shape::List(&REFERENCE)),
            ("balances", Shape::List(&REFERENCE)),
            ("transactions", Shape::List(&REFERENCE)),
        ]),
    ),
]);
const METADATA: Shape = Shape::Object(&[
    (
        "issuer",
        Shape::Code(&[
            "http://bank.test/oauth",
            "http://bank.test/oauth/",
            "https://evil.test/oauth",
        ]),
    ),
    ("authorization_endpoint", Shape::Required(&Shape::Url)),
    ("token_endpoint", Shape::Required(&Shape::Url)),
    ("revocation_endpoint", Shape::Url),
    (
        "code_challenge_methods_supported",
        Shape::List(&Shape::Code(&["S256", "plain"])),
    ),
]);
const TOKEN: Shape = Shape::Object(&[
    ("access_token", Shape::Required(&Shape::Text)),
    (
        "token_type",
        Shape::Code(&["Bearer", "bearer", "mac", "DPoP"]),
    ),
    ("expires_in", Shape::Amount),
    ("refresh_token", Shape::Text),
    ("scope", Shape::Text),
]);
const ERROR_CODES: &[&str] = &[
    "PERIOD_INVALID",
    "WRONG_TRANSACTIONS_PERIOD",
    "SERVICE_BLOCKED",
    "PSU_CREDENTIALS_INVALID",
    "SCA_REQUIRED",
    "CONSENT_EXPIRED",
    "CONSENT_UNKNOWN",
    "TOKEN_INVALID",
    "ACCESS_EXCEEDED",
    "FORMAT_ERROR",
    "PARAMETER_NOT_SUPPORTED",
];
const TPP_MESSAGE: Shape = Shape::Object(&[
    ("category", Shape::Code(&["ERROR", "WARNING"])),
    ("code", Shape::Code(ERROR_CODES)),
    ("path", Shape::Text),
    ("text", Shape::Text),
]);
const ERROR: Shape = Shape::Object(&[
    ("tppMessages", Shape::List(&TPP_MESSAGE)),
    ("type", Shape::Link),
    ("title", Shape::Text),
    ("detail", Shape::Text),
    ("code", Shape::Code(ERROR_CODES)),
    ("additionalErrors", Shape::List(&TPP_MESSAGE)),
]);
const OAUTH_ERROR: Shape = Shape::Object(&[
    (
        "error",
        Shape::Code(&[
            "invalid_grant",
            "access_denied",
            "invalid_client",
            "unsupported_token_type",
        ]),
    ),
    ("error_description", Shape::Text),
]);

/// The bodies of the spec-derived answers in `fixtures/berlin-group/` whose names start with
/// one of `prefixes` (each file wraps its body with where it comes from).
fn fixtures(prefixes: &[&str]) -> Vec<String> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/berlin-group");
    fixture_files(dir, prefixes)
        .iter()
        .map(|text| {
            let wrapper: Value = serde_json::from_str(text).expect("a fixture wrapper");
            match &wrapper["body"] {
                Value::String(text) => text.clone(),
                body => body.to_string(),
            }
        })
        .collect()
}

/// Arbitrary bytes, and the fixtures of a surface with a few edits.
fn bytes_or_mutated(prefixes: &[&str]) -> BoxedStrategy<String> {
    prop_oneof![bytes_body(), mutated(fixtures(prefixes))].boxed()
}

/// What a `Protocol` error may quote of a bank's body: at most 200 characters, and no
/// account number, consent id or token. The connector's redactor blanks identifier-like
/// words, the SDK's (behind the lenient readers) masks runs of five digits or more, so no
/// long word with digits may keep such a run.
fn redacted<T>(result: &Result<T, ConnectorError>) -> Result<(), TestCaseError> {
    if let Err(ConnectorError::Protocol { snippet, .. }) = result {
        prop_assert!(snippet.chars().count() <= 200, "{snippet:?}");
        let is_word_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
        for word in snippet.split(|c: char| !is_word_char(c)) {
            let digits = word.chars().filter(char::is_ascii_digit).count();
            let identifier = word.len() >= 12 && digits >= 4;
            prop_assert!(
                !identifier || !has_digit_run(word),
                "{word:?} in {snippet:?}"
            );
        }
    }
    Ok(())
}

fn has_digit_run(word: &str) -> bool {
    let mut run = 0;
    word.chars().any(|c| {
        run = if c.is_ascii_digit() { run + 1 } else { 0 };
        run >= 5
    })
}

fn accounts(body: String) -> Result<(), TestCaseError> {
    let read = bg::accounts(&body);
    if let Ok((_, owners)) = &read {
        for (i, owner) in owners.iter().enumerate() {
            prop_assert!(!owner.name.is_empty() && owner.name == owner.name.trim());
            prop_assert!(owners[..i].iter().all(|o| o.name != owner.name));
        }
    }
    redacted(&read)
}

#[test]
fn account_lists_from_arbitrary_bytes_map_or_fail_cleanly() {
    run(
        "berlin-group accounts from bytes",
        bytes_or_mutated(&["account-list"]),
        accounts,
    );
}

#[test]
fn account_lists_from_structured_json_map_or_fail_cleanly() {
    run(
        "berlin-group accounts from JSON",
        shaped_body(&ACCOUNT_LIST),
        accounts,
    );
}

#[test]
fn balances_from_arbitrary_bytes_map_or_fail_cleanly() {
    run(
        "berlin-group balances from bytes",
        bytes_or_mutated(&["balances", "card-balances"]),
        |body| redacted(&bg::balances(&body)),
    );
}

#[test]
fn balances_from_structured_json_map_or_fail_cleanly() {
    run(
        "berlin-group balances from JSON",
        shaped_body(&BALANCES),
        |body| redacted(&bg::balances(&body)),
    );
}

#[test]
fn balances_keep_the_amount_written_to_the_last_digit() {
    run(
        "berlin-group exact balances",
        exact_amount(),
        |(expected, text)| {
            let body = format!(
                r#"{{"balances":[{{"balanceAmount":{{"currency":"EUR","amount":{text}}},"balanceType":"expected"}}]}}"#
            );
            let read = bg::balances(&body).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(read.len(), 1);
            prop_assert_eq!(read[0].amount, expected);
            prop_assert_eq!(read[0].amount.to_string(), text);
            Ok(())
        },
    );
}

fn signs() -> impl Strategy<Value = AmountSigns> {
    prop_oneof![
        Just(AmountSigns::Auto),
        Just(AmountSigns::Signed),
        Just(AmountSigns::Unsigned)
    ]
}

/// The page just read: the first, or one a `next` link pointed at.
fn cursor() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(aisle_sdk::fuzzing::link())
}

/// A page's `next` link must never be the page just read, and must be one the connector
/// will follow: on the bank's own host.
fn next_is_followable(cursor: Option<&str>, next: Option<&str>) -> Result<(), TestCaseError> {
    if let Some(next) = next {
        prop_assert!(
            cursor != Some(next),
            "the next link {next:?} is the page just read"
        );
        let followed = bg::transactions("{}", AmountSigns::Auto, Some(next));
        prop_assert!(
            followed.is_ok(),
            "the next link {next:?} is not followed: {followed:?}"
        );
    }
    Ok(())
}

fn transactions(
    (body, signs, cursor): (String, AmountSigns, Option<String>),
) -> Result<(), TestCaseError> {
    let read = bg::transactions(&body, signs, cursor.as_deref());
    if let Ok(page) = &read {
        next_is_followable(cursor.as_deref(), page.next.as_ref().map(|c| c.0.as_str()))?;
    }
    redacted(&read)
}

#[test]
fn transaction_reports_from_arbitrary_bytes_map_or_fail_cleanly() {
    let input = (bytes_or_mutated(&["transactions"]), signs(), cursor());
    run("berlin-group transactions from bytes", input, transactions);
}

#[test]
fn transaction_reports_from_structured_json_map_or_fail_cleanly() {
    let input = (shaped_body(&TRANSACTIONS), signs(), cursor());
    run("berlin-group transactions from JSON", input, transactions);
}

#[test]
fn signed_transactions_keep_the_amount_written_to_the_last_digit() {
    run(
        "berlin-group exact transactions",
        exact_amount(),
        |(expected, text)| {
            let row = Json::Object(vec![(
                "transactionAmount".to_owned(),
                Json::Object(vec![
                    ("currency".to_owned(), Json::Text("EUR".to_owned())),
                    ("amount".to_owned(), Json::Number(text.clone())),
                ]),
            )]);
            let body = format!(r#"{{"transactions":{{"booked":[{}]}}}}"#, row.render());
            let page = bg::transactions(&body, AmountSigns::Signed, None)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(page.items.len(), 1);
            prop_assert_eq!(page.items[0].amount, expected);
            prop_assert_eq!(page.items[0].amount.to_string(), text);
            Ok(())
        },
    );
}

fn cards((list, balances): (String, String)) -> Result<(), TestCaseError> {
    redacted(&bg::cards(&list, &balances))
}

#[test]
fn card_accounts_from_arbitrary_bytes_map_or_fail_cleanly() {
    let input = (
        bytes_or_mutated(&["card-account-list"]),
        bytes_or_mutated(&["card-balances"]),
    );
    run("berlin-group cards from bytes", input, cards);
}

#[test]
fn card_accounts_from_structured_json_map_or_fail_cleanly() {
    let input = (shaped_body(&CARD_ACCOUNTS), shaped_body(&BALANCES));
    run("berlin-group cards from JSON", input, cards);
}

fn card_transactions((body, cursor): (String, Option<String>)) -> Result<(), TestCaseError> {
    let read = bg::card_transactions(&body, cursor.as_deref());
    if let Ok(page) = &read {
        next_is_followable(cursor.as_deref(), page.next.as_ref().map(|c| c.0.as_str()))?;
    }
    redacted(&read)
}

#[test]
fn card_reports_from_arbitrary_bytes_map_or_fail_cleanly() {
    let input = (bytes_or_mutated(&["card-transactions"]), cursor());
    run(
        "berlin-group card transactions from bytes",
        input,
        card_transactions,
    );
}

#[test]
fn card_reports_from_structured_json_map_or_fail_cleanly() {
    let input = (shaped_body(&CARD_TRANSACTIONS), cursor());
    run(
        "berlin-group card transactions from JSON",
        input,
        card_transactions,
    );
}

fn consent((created, started): (String, String)) -> Result<(), TestCaseError> {
    redacted(&bg::consent_created(&created))?;
    redacted(&bg::authorisation_started(&started))
}

#[test]
fn consent_answers_from_arbitrary_bytes_give_links_or_fail_cleanly() {
    let input = (
        bytes_or_mutated(&["consent-created"]),
        bytes_or_mutated(&["authorisation-started"]),
    );
    run("berlin-group consent creation from bytes", input, consent);
}

#[test]
fn consent_answers_from_structured_json_give_links_or_fail_cleanly() {
    let input = (
        shaped_body(&CONSENT_CREATED),
        shaped_body(&AUTHORISATION_STARTED),
    );
    run("berlin-group consent creation from JSON", input, consent);
}

fn read_back((status, information): (String, String)) -> Result<(), TestCaseError> {
    redacted(&bg::consent_read_back(&status, &information))
}

#[test]
fn consent_read_backs_from_arbitrary_bytes_pass_or_fail_cleanly() {
    let input = (
        bytes_or_mutated(&["consent-status"]),
        bytes_or_mutated(&["consent-information"]),
    );
    run("berlin-group consent status from bytes", input, read_back);
}

#[test]
fn consent_read_backs_from_structured_json_pass_or_fail_cleanly() {
    let input = (
        shaped_body(&CONSENT_STATUS),
        shaped_body(&CONSENT_INFORMATION),
    );
    run("berlin-group consent status from JSON", input, read_back);
}

fn oauth((metadata, token): (String, String)) -> Result<(), TestCaseError> {
    redacted(&bg::oauth_metadata(&metadata))?;
    // A token answer is never quoted, not even redacted.
    let read = bg::oauth_token(&token);
    if let Err(ConnectorError::Protocol { snippet, .. }) = &read {
        prop_assert!(snippet.is_empty(), "{snippet:?}");
    }
    if let Ok(token) = &read {
        prop_assert!(!token.trim().is_empty());
    }
    Ok(())
}

#[test]
fn oauth_answers_from_arbitrary_bytes_read_or_fail_cleanly() {
    let input = (
        bytes_or_mutated(&["oauth-server-metadata"]),
        bytes_or_mutated(&["oauth-token"]),
    );
    run("berlin-group oauth from bytes", input, oauth);
}

#[test]
fn oauth_answers_from_structured_json_read_or_fail_cleanly() {
    let input = (shaped_body(&METADATA), shaped_body(&TOKEN));
    run("berlin-group oauth from JSON", input, oauth);
}

fn errors(
    (status, retry_after, body, transactions): (u16, Option<String>, String, bool),
) -> Result<(), TestCaseError> {
    let status = StatusCode::from_u16(status).expect("a generated status");
    let retry_after = retry_after.as_deref();
    redacted::<()>(&Err(bg::error(status, retry_after, &body, transactions)))?;
    redacted::<()>(&Err(bg::oauth_error(status, retry_after, &body)))
}

#[test]
fn error_answers_from_arbitrary_bytes_are_classified() {
    let input = (
        status(),
        retry_after(),
        bytes_or_mutated(&["error", "oauth-token-invalid"]),
        any::<bool>(),
    );
    run("berlin-group errors from bytes", input, errors);
}

#[test]
fn error_answers_from_structured_json_are_classified() {
    let body = prop_oneof![
        shaped_body(&ERROR),
        shaped_body(&Shape::List(&TPP_MESSAGE)),
        shaped_body(&OAUTH_ERROR),
    ];
    run(
        "berlin-group errors from JSON",
        (status(), retry_after(), body, any::<bool>()),
        errors,
    );
}
