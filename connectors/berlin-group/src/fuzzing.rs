//! Entry points for the fuzz tests (`tests/fuzz.rs`), not an API: each takes a bank's body as
//! text and runs what the connector runs on it after reading it, from parsing to Aisle's
//! domain types, with no HTTP. The bank sits at `http://bank.test/xs2a/`.

use std::sync::LazyLock;

use aisle_sdk::{
    Account, Balance, Card, CardTransaction, ConnectorError, DateWindow, Owner, Page, PageCursor,
    Transaction,
};
use chrono::NaiveDate;
use reqwest::StatusCode;
use url::Url;

use crate::client::parse;
use crate::errors::{self, Request};
use crate::{AmountSigns, BerlinGroupConnector, consent, mapping, oauth, wire};

/// The bank's XS2A root.
pub const BASE_URL: &str = "http://bank.test/xs2a/";

/// Where the fuzzed OAuth server metadata was read (the spec's suffix form).
pub const METADATA_URL: &str = "http://bank.test/oauth/.well-known/oauth-authorization-server";

static CONNECTOR: LazyLock<BerlinGroupConnector> = LazyLock::new(|| {
    let base = Url::parse(BASE_URL).expect("the fuzz bank's URL");
    BerlinGroupConnector::new(base, crate::default_profile(), reqwest::Client::new())
});

fn window() -> DateWindow {
    let day = |d| NaiveDate::from_ymd_opt(2026, 1, d).expect("a January day");
    DateWindow::new(day(1), day(31)).expect("a window")
}

/// `GET /v1/accounts`: the accounts, and the owners the list names.
pub fn accounts(body: &str) -> Result<(Vec<Account>, Vec<Owner>), ConnectorError> {
    let list: wire::AccountList = parse(body)?;
    let owners = mapping::owners(&list.accounts);
    let accounts = list
        .accounts
        .into_iter()
        .map(|raw| mapping::account(raw, None))
        .collect::<Result<_, _>>()?;
    Ok((accounts, owners))
}

/// `GET /v1/accounts/{id}/balances` (or a card account's).
pub fn balances(body: &str) -> Result<Vec<Balance>, ConnectorError> {
    let read: wire::BalancesResponse = parse(body)?;
    read.balances.into_iter().map(mapping::balance).collect()
}

/// A page of `GET /v1/accounts/{id}/transactions`: the first page, or the one `cursor` (the
/// previous page's `next` link) points at.
pub fn transactions(
    body: &str,
    signs: AmountSigns,
    cursor: Option<&str>,
) -> Result<Page<Transaction>, ConnectorError> {
    let cursor = cursor.map(|c| PageCursor(c.to_owned()));
    let segments = ["v1", "accounts", "a1", "transactions"];
    let url = CONNECTOR.report_url(&segments, window(), cursor.as_ref())?;
    let answer: wire::TransactionsResponse = parse(body)?;
    let asked = (&url, &segments[..], cursor.as_ref());
    CONNECTOR.report_page(answer.transactions, &answer.links, asked, |report| {
        mapping::transactions(report, signs)
    })
}

/// `GET /v1/card-accounts`, with `balances` as the answer of each listed card's own
/// balances read where the list has none.
pub fn cards(body: &str, balances: &str) -> Result<Vec<Card>, ConnectorError> {
    let list: wire::CardAccountList = parse(body)?;
    list.card_accounts
        .into_iter()
        .map(|raw| {
            let mut debit_accounting = raw.debit_accounting.unwrap_or(false);
            let fetched = if raw.resource_id.is_some() && raw.balances.is_empty() {
                let read: wire::BalancesResponse = parse(balances)?;
                debit_accounting = read.debit_accounting.unwrap_or(debit_accounting);
                Some(read.balances)
            } else {
                None
            };
            mapping::card(raw, fetched, debit_accounting)
        })
        .collect()
}

/// A page of `GET /v1/card-accounts/{id}/transactions`, as [`transactions`].
pub fn card_transactions(
    body: &str,
    cursor: Option<&str>,
) -> Result<Page<CardTransaction>, ConnectorError> {
    let cursor = cursor.map(|c| PageCursor(c.to_owned()));
    let segments = ["v1", "card-accounts", "c1", "transactions"];
    let url = CONNECTOR.report_url(&segments, window(), cursor.as_ref())?;
    let answer: wire::CardTransactionsResponse = parse(body)?;
    let debit_accounting = answer.debit_accounting.unwrap_or(false);
    let asked = (&url, &segments[..], cursor.as_ref());
    CONNECTOR.report_page(answer.card_transactions, &answer.links, asked, |report| {
        mapping::card_transactions(report, debit_accounting)
    })
}

/// The links a sign-in follows from a consent's or an authorisation's `_links`:
/// `startAuthorisation` as an API call, the SCA pages as the owner's browser would.
fn sign_in_links(links: &wire::Links) -> Result<Vec<Url>, ConnectorError> {
    let mut urls = Vec::new();
    if let Some(start) = links.get("startAuthorisation") {
        urls.push(CONNECTOR.client.resolve_api_link(start)?);
    }
    for name in ["scaRedirect", "scaOAuth"] {
        if let Some(href) = links.get(name) {
            urls.push(CONNECTOR.client.resolve_link(href)?);
        }
    }
    Ok(urls)
}

/// `POST /v1/consents`: the consent id and the links the sign-in follows.
pub fn consent_created(body: &str) -> Result<(String, Vec<Url>), ConnectorError> {
    let created: wire::ConsentCreated = parse(body)?;
    Ok((created.consent_id, sign_in_links(&created.sca.links)?))
}

/// `POST /v1/consents/{id}/authorisations`: the links the sign-in follows.
pub fn authorisation_started(body: &str) -> Result<Vec<Url>, ConnectorError> {
    let started: wire::ScaAnswer = parse(body)?;
    sign_in_links(&started.links)
}

/// `GET /v1/consents/{id}/status` and `GET /v1/consents/{id}` after SCA.
pub fn consent_read_back(status: &str, information: &str) -> Result<(), ConnectorError> {
    let status: wire::ConsentStatus = parse(status)?;
    consent::require_valid(&status.consent_status)?;
    let information: wire::ConsentInformation = parse(information)?;
    consent::check_read_back(&information, chrono::Utc::now().date_naive()).map(drop)
}

/// The OAuth server metadata `scaOAuth` points at, checked and turned into the URL the owner
/// is sent to.
pub fn oauth_metadata(body: &str) -> Result<Url, ConnectorError> {
    let metadata: wire::ServerMetadata = parse(body)?;
    let url = Url::parse(METADATA_URL).expect("the fuzz metadata URL");
    oauth::check_issuer(&url, metadata.issuer.as_deref())?;
    let authorisation = oauth::authorisation(
        &metadata,
        "aisle",
        "consent-1",
        "https://aisle.test/callback",
    )?;
    Ok(authorisation.url)
}

/// A token endpoint's success answer.
pub fn oauth_token(body: &str) -> Result<String, ConnectorError> {
    oauth::read_token(body)
}

/// An XS2A error answer, classified; `transactions` when it answered a report read.
pub fn error(
    status: StatusCode,
    retry_after: Option<&str>,
    body: &str,
    transactions: bool,
) -> ConnectorError {
    let request = if transactions {
        Request::Transactions
    } else {
        Request::Other
    };
    errors::classify(status, retry_after, body, request)
}

/// An OAuth endpoint's error answer, classified.
pub fn oauth_error(status: StatusCode, retry_after: Option<&str>, body: &str) -> ConnectorError {
    errors::classify_oauth(status, retry_after, body)
}
