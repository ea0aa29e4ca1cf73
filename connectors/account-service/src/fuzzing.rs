//! Entry points for the fuzz tests (`tests/fuzz.rs`), not an API: each takes the Account
//! Service's answer (status and body) and runs what the connector runs on it after reading
//! it, from the envelope to Aisle's domain types, with no HTTP.

use std::sync::LazyLock;

use aisle_sdk::http::Answer;
use aisle_sdk::{Account, BankProfile, ConnectorError, Owner};
use reqwest::StatusCode;
use url::Url;

use crate::errors::Stage;
use crate::{AccountServiceConnector, mapping, wire};

static CONNECTOR: LazyLock<AccountServiceConnector> = LazyLock::new(|| {
    AccountServiceConnector::new(
        Url::parse("http://bank.test/").expect("the fuzz bank's URL"),
        BankProfile::default(),
        reqwest::Client::new(),
        "aisle".to_owned(),
        "secret".to_owned(),
    )
});

/// A bank's answer: status, raw `Retry-After` and body.
pub type Reply<'a> = (StatusCode, Option<&'a str>, &'a str);

fn answer((status, retry_after, body): Reply<'_>) -> Answer {
    Answer {
        status,
        retry_after: retry_after.map(str::to_owned),
        headers: Default::default(),
        body: body.to_owned(),
    }
}

/// The sign-in's answers: `POST /valid-legal-id`, then `POST /valid-phone-number`.
pub fn sign_in(legal_id: Reply<'_>, phone: Reply<'_>) -> Result<(), ConnectorError> {
    let _: wire::LegalIdCheck =
        CONNECTOR.data("valid-legal-id", &answer(legal_id), Stage::SignIn)?;
    let _: wire::PhoneCheck =
        CONNECTOR.data("valid-phone-number", &answer(phone), Stage::SignIn)?;
    Ok(())
}

/// `GET /get-customer-by-id`: the customer and the parties the record names.
pub fn owners(reply: Reply<'_>) -> Result<Vec<Owner>, ConnectorError> {
    let customer: wire::Customer =
        CONNECTOR.data("get-customer-by-id", &answer(reply), Stage::Data)?;
    mapping::owners(&customer)
}

/// `GET /get-list-account-by-customer`, then `info` as every listed account's
/// `POST /get-account-info`.
pub fn accounts(list: Reply<'_>, info: Reply<'_>) -> Result<Vec<Account>, ConnectorError> {
    let list: wire::AccountList =
        CONNECTOR.data("get-list-account-by-customer", &answer(list), Stage::Data)?;
    list.accounts
        .iter()
        .map(|summary| {
            mapping::account_number(summary)?;
            let info: wire::AccountInfo =
                CONNECTOR.data("get-account-info", &answer(info), Stage::Data)?;
            mapping::account(summary, &info)
        })
        .collect()
}
