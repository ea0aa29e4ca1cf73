//! Entry points for the fuzz tests (`tests/fuzz.rs`), not an API: each takes the partner
//! API's answer (status and body) and runs what the connector runs on it after reading it,
//! from the envelope to Aisle's domain types, with no HTTP.

use aisle_sdk::http::Answer;
use aisle_sdk::{Account, ConnectorError, Owner};
use reqwest::StatusCode;

use crate::errors::Stage;
use crate::{account_information, mapping};

fn answer(status: StatusCode, retry_after: Option<&str>, body: &str) -> Answer {
    Answer {
        status,
        retry_after: retry_after.map(str::to_owned),
        headers: Default::default(),
        body: body.to_owned(),
    }
}

/// `GET /account/{accno}` read for its owner, at sign-in or for the data.
pub fn owner(
    status: StatusCode,
    retry_after: Option<&str>,
    body: &str,
    sign_in: bool,
) -> Result<Owner, ConnectorError> {
    let stage = if sign_in { Stage::SignIn } else { Stage::Data };
    let info = account_information(&answer(status, retry_after, body), stage)?;
    let owner = info
        .owner
        .as_ref()
        .ok_or_else(|| ConnectorError::protocol("the answer names no owner", ""))?;
    mapping::owner(owner)
}

/// `GET /account/{accno}` read for the account.
pub fn account(
    status: StatusCode,
    retry_after: Option<&str>,
    body: &str,
) -> Result<Account, ConnectorError> {
    let info = account_information(&answer(status, retry_after, body), Stage::Data)?;
    let account = info
        .account
        .as_ref()
        .ok_or_else(|| ConnectorError::protocol("the answer has no account", ""))?;
    mapping::account(account, info.owner.as_ref())
}
