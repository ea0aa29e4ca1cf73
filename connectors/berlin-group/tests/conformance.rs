//! The SDK's conformance kit, run against a Berlin Group bank double: the kit's standard
//! dataset rendered in the shapes of the spec's examples (`fixtures/berlin-group/`), and its
//! faults answered with the error fixtures.

mod common;

use aisle_berlin_group::{BerlinGroupConnector, default_profile};
use aisle_sdk::conformance::{self, BankDouble, CLIENT_TIMEOUT, Call, Dataset, Fault, Shape};
use aisle_sdk::{
    Account, Balance, BankSession, Card, CardTransaction, Connector, OwnerKind, Transaction,
    TransactionStatus,
};
use async_trait::async_trait;
use chrono::Utc;
use common::fixture_answer;
use serde_json::{Map, Value, json};
use url::Url;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const CONSENT_ID: &str = "conformance-consent";
/// The double's XS2A root under the mock, as in the spec's links.
const ROOT: &str = "/psd2";

struct BerlinGroupDouble;

fn accounts_path() -> String {
    format!("{ROOT}/v1/accounts")
}

fn transactions_path(account: &str) -> String {
    format!("{ROOT}/v1/accounts/{account}/transactions")
}

fn cards_path() -> String {
    format!("{ROOT}/v1/card-accounts")
}

fn card_transactions_path(card: &str) -> String {
    format!("{ROOT}/v1/card-accounts/{card}/transactions")
}

fn consent_path() -> String {
    format!("{ROOT}/v1/consents/{CONSENT_ID}")
}

fn amount(value: rust_decimal::Decimal, currency: &str) -> Value {
    // A string, as the spec says; Decimal prints every digit.
    json!({"currency": currency, "amount": value.to_string()})
}

fn balance(b: &Balance) -> Value {
    let mut body = json!({
        "balanceType": b.balance_type,
        "balanceAmount": amount(b.amount, &b.currency),
    });
    if let Some(day) = b.reference_date {
        body["referenceDate"] = json!(day);
    }
    body
}

/// Sets `key` only when there is a value: banks leave out what they do not have.
fn put(body: &mut Value, key: &str, value: Option<Value>) {
    if let (Some(value), Some(fields)) = (value, body.as_object_mut()) {
        fields.insert(key.to_owned(), value);
    }
}

/// [`put`] for each text field: (key, value).
fn put_texts(body: &mut Value, fields: &[(&str, &Option<String>)]) {
    for (key, value) in fields {
        put(body, key, value.as_deref().map(Value::from));
    }
}

/// An `accountDetails` with its balances inline (the answer to `withBalance=true`), in the
/// shape of `account-list-with-balances.json`.
fn account_details(account: &Account) -> Value {
    let mut body = json!({
        "resourceId": account.bank_id,
        "currency": account.currency,
        "balances": account.balances.iter().map(balance).collect::<Vec<_>>(),
        "_links": {
            "balances": {"href": format!("{}/{}/balances", accounts_path(), account.bank_id)},
            "transactions": {"href": transactions_path(&account.bank_id)},
        },
    });
    put_texts(
        &mut body,
        &[
            ("iban", &account.iban),
            ("name", &account.name),
            ("product", &account.product),
            ("cashAccountType", &account.account_type),
            ("status", &account.status),
        ],
    );
    // Berlin Group has no co-owner role: every joint owner is an "owner".
    let owners: Vec<Value> = account
        .owner_names
        .iter()
        .map(|name| json!({"name": name, "role": "owner"}))
        .collect();
    put(
        &mut body,
        "ownerNames",
        (!owners.is_empty()).then_some(Value::Array(owners)),
    );
    body
}

/// A `transactions` entry in the shape of `transactions-regular.json`: the other party is the
/// creditor of a debit and the debtor of a credit.
fn transaction(row: &Transaction) -> Value {
    let mut body = json!({"transactionAmount": amount(row.amount, &row.currency)});
    let (name, account) = if row.amount.is_sign_negative() {
        ("creditorName", "creditorAccount")
    } else {
        ("debtorName", "debtorAccount")
    };
    put_texts(
        &mut body,
        &[
            ("transactionId", &row.bank_id),
            (name, &row.counterparty_name),
            ("remittanceInformationUnstructured", &row.description),
            ("bankTransactionCode", &row.bank_transaction_code),
        ],
    );
    put(&mut body, "bookingDate", row.booking_date.map(|d| json!(d)));
    put(&mut body, "valueDate", row.value_date.map(|d| json!(d)));
    put(
        &mut body,
        account,
        row.counterparty_account
            .clone()
            .map(|iban| json!({"iban": iban})),
    );
    put(
        &mut body,
        "balanceAfterTransaction",
        row.balance_after.map(|after| {
            json!({"balanceType": "interimBooked", "balanceAmount": amount(after, &row.currency)})
        }),
    );
    body
}

fn card_details(card: &Card) -> Value {
    let mut body = json!({
        "resourceId": card.bank_id,
        "currency": card.currency,
        "debitAccounting": false,
        "balances": card.balances.iter().map(balance).collect::<Vec<_>>(),
        "_links": {"transactions": {"href": card_transactions_path(&card.bank_id)}},
    });
    put_texts(
        &mut body,
        &[("maskedPan", &card.masked_pan), ("name", &card.name)],
    );
    put(
        &mut body,
        "creditLimit",
        card.credit_limit.map(|limit| amount(limit, &card.currency)),
    );
    body
}

fn card_transaction(row: &CardTransaction) -> Value {
    let mut body = json!({"transactionAmount": amount(row.amount, &row.currency)});
    put_texts(
        &mut body,
        &[
            ("cardTransactionId", &row.bank_id),
            ("transactionDetails", &row.merchant_name),
            ("merchantCategoryCode", &row.merchant_category_code),
        ],
    );
    put(
        &mut body,
        "transactionDate",
        row.transaction_date.map(|d| json!(d)),
    );
    put(&mut body, "bookingDate", row.booking_date.map(|d| json!(d)));
    if let (Some(original), Some(currency)) = (row.original_amount, &row.original_currency) {
        put(
            &mut body,
            "originalAmount",
            Some(amount(original, currency)),
        );
    }
    body
}

fn ok_json(body: Value, shape: Shape) -> ResponseTemplate {
    let body = if shape.unknown_fields {
        conformance::with_unknown_fields(body)
    } else {
        body
    };
    ResponseTemplate::new(200).set_body_json(body)
}

/// Mounts a report's pages: the first at `report_path`, page `n` at `?page=n`, each but the
/// last with a `next` link, rows split in the dataset's order (booked ones first, as in the
/// dataset, so booked-then-pending per page keeps that order).
async fn mount_report(
    bank: &MockServer,
    report_path: &str,
    report_key: &str,
    rows: Vec<(Value, TransactionStatus)>,
    shape: Shape,
) {
    let chunks: Vec<Vec<(Value, TransactionStatus)>> = if rows.is_empty() {
        vec![Vec::new()]
    } else {
        rows.chunks(shape.page_size.max(1))
            .map(<[_]>::to_vec)
            .collect()
    };
    let pages = chunks.len();
    for (index, chunk) in chunks.into_iter().enumerate() {
        let number = index + 1;
        let (booked, pending): (Vec<_>, Vec<_>) = chunk
            .into_iter()
            .partition(|(_, status)| *status == TransactionStatus::Booked);
        let strip = |rows: Vec<(Value, TransactionStatus)>| -> Vec<Value> {
            rows.into_iter().map(|(row, _)| row).collect()
        };
        let mut links = Map::new();
        if number < pages {
            let next = format!(
                "{report_path}?dateFrom=2025-03-01&dateTo=2025-03-28&bookingStatus=both&page={}",
                number + 1
            );
            links.insert("next".to_owned(), json!({"href": next}));
        }
        let body = json!({
            report_key: {"booked": strip(booked), "pending": strip(pending), "_links": links}
        });
        let mock = Mock::given(method("GET")).and(path(report_path));
        let mock = if number == 1 {
            mock.respond_with(ok_json(body, shape)).with_priority(10)
        } else {
            mock.and(query_param("page", number.to_string()))
                .respond_with(ok_json(body, shape))
                .with_priority(1)
        };
        mock.mount(bank).await;
    }
}

#[async_trait]
impl BankDouble for BerlinGroupDouble {
    fn connector(&self, base_url: &str, http: reqwest::Client) -> Box<dyn Connector> {
        let base = Url::parse(&format!("{}{ROOT}", base_url.trim_end_matches('/')))
            .unwrap_or_else(|e| panic!("double base URL {base_url}: {e}"));
        Box::new(BerlinGroupConnector::new(base, default_profile(), http))
    }

    /// The header parameters `required: true` in berlin-group-nextgenpsd2-1.3.12.yaml: every
    /// AIS read wants `X-Request-ID` and `Consent-ID`, the consent's own calls `X-Request-ID`.
    /// (`PSU-IP-Address`, mandatory on `POST /v1/consents`, is a sign-in call: tests/specification.rs.)
    fn mandatory_headers(&self, request: &wiremock::Request) -> Option<&'static [&'static str]> {
        const AIS_READ: &[&str] = &["X-Request-ID", "Consent-ID"];
        const CONSENT_CALL: &[&str] = &["X-Request-ID"];
        let path = request.url.path().strip_prefix(ROOT)?;
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        match (request.method.as_str(), segments.as_slice()) {
            ("GET", ["v1", "accounts" | "card-accounts"])
            | ("GET", ["v1", "accounts" | "card-accounts", _])
            | (
                "GET",
                [
                    "v1",
                    "accounts" | "card-accounts",
                    _,
                    "balances" | "transactions",
                ],
            ) => Some(AIS_READ),
            ("GET" | "DELETE", ["v1", "consents", _])
            | ("GET", ["v1", "consents", _, "status"]) => Some(CONSENT_CALL),
            _ => None,
        }
    }

    fn session(&self) -> BankSession {
        BankSession {
            secret: json!({"consentId": CONSENT_ID}).to_string(),
            sca_at: Utc::now(),
        }
    }

    /// Berlin Group carries no owner details beyond the name, no co-owner role, no account
    /// dates or balance range, and one free-text field on a card row (`transactionDetails`,
    /// where banks print the merchant).
    fn adapt(&self, mut dataset: Dataset) -> Dataset {
        for owner in &mut dataset.owners {
            owner.title = None;
            owner.address = None;
            owner.birth_date = None;
            owner.email = None;
            owner.phone = None;
            owner.national_id = None;
            owner.nationality = None;
            if owner.kind == OwnerKind::CoOwner {
                owner.kind = OwnerKind::Owner;
            }
        }
        for account in &mut dataset.accounts {
            account.opened_on = None;
            account.valid_until = None;
            account.min_allowed_balance = None;
            account.max_allowed_balance = None;
        }
        for row in dataset.card_transactions.iter_mut().flatten() {
            row.description = row.merchant_name.clone();
        }
        dataset
    }

    async fn serve(&self, bank: &MockServer, dataset: &Dataset, shape: Shape) {
        let accounts: Vec<Value> = dataset.accounts.iter().map(account_details).collect();
        Mock::given(method("GET"))
            .and(path(accounts_path()))
            .respond_with(ok_json(json!({"accounts": accounts}), shape))
            .mount(bank)
            .await;
        for (account, rows) in dataset.accounts.iter().zip(&dataset.transactions) {
            let rows = rows.iter().map(|t| (transaction(t), t.status)).collect();
            mount_report(
                bank,
                &transactions_path(&account.bank_id),
                "transactions",
                rows,
                shape,
            )
            .await;
        }
        let cards: Vec<Value> = dataset.cards.iter().map(card_details).collect();
        Mock::given(method("GET"))
            .and(path(cards_path()))
            .respond_with(ok_json(json!({"cardAccounts": cards}), shape))
            .mount(bank)
            .await;
        for (card, rows) in dataset.cards.iter().zip(&dataset.card_transactions) {
            let rows = rows
                .iter()
                .map(|t| (card_transaction(t), t.status))
                .collect();
            mount_report(
                bank,
                &card_transactions_path(&card.bank_id),
                "cardTransactions",
                rows,
                shape,
            )
            .await;
        }
        Mock::given(method("DELETE"))
            .and(path(consent_path()))
            .respond_with(ResponseTemplate::new(204))
            .mount(bank)
            .await;
    }

    async fn break_call(
        &self,
        bank: &MockServer,
        dataset: &Dataset,
        call: Call,
        fault: Fault,
    ) -> bool {
        let (verb, at) = match call {
            Call::Owners | Call::Accounts => ("GET", accounts_path()),
            Call::Transactions => ("GET", transactions_path(&dataset.accounts[0].bank_id)),
            Call::Cards => ("GET", cards_path()),
            Call::CardTransactions => match dataset.cards.first() {
                Some(card) => ("GET", card_transactions_path(&card.bank_id)),
                None => return false,
            },
            Call::EndSession => ("DELETE", consent_path()),
        };
        let report = matches!(call, Call::Transactions | Call::CardTransactions);
        let error_answer = |name: &str| fixture_answer(name, &bank.uri());
        let answer = match fault {
            // A deletion answers without a body: nothing to garble.
            Fault::Malformed if call == Call::EndSession => return false,
            Fault::Malformed => ResponseTemplate::new(200)
                .set_body_raw(r#"{"accounts": [{"resourceId": "#, "application/json"),
            Fault::ServerError => error_answer("error-503-service-unavailable.json"),
            Fault::Timeout => ResponseTemplate::new(200)
                .set_body_json(json!({}))
                .set_delay(CLIENT_TIMEOUT * 2),
            Fault::RateLimited { retry_after_secs } => {
                error_answer("error-429-access-exceeded.json")
                    .insert_header("Retry-After", retry_after_secs.to_string())
            }
            Fault::PeriodInvalid if report => error_answer("error-400-period-invalid.json"),
            // Only a report has a period to refuse.
            Fault::PeriodInvalid => return false,
            // Deleting an expired consent is what was wanted: no error to produce.
            Fault::ConsentExpired if call == Call::EndSession => return false,
            Fault::ConsentExpired => error_answer("error-401-consent-expired.json"),
            Fault::AccessBlocked => error_answer("error-403-service-blocked.json"),
        };
        Mock::given(method(verb))
            .and(path(at))
            .respond_with(answer)
            .mount(bank)
            .await;
        true
    }
}

aisle_sdk::conformance_tests!(BerlinGroupDouble);
