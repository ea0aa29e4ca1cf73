//! The bank's JSON, as the Berlin Group spec names it. Lenient on purpose: unknown fields are
//! ignored, everything not strictly needed is optional, `null` reads like an absent field,
//! and amounts stay raw JSON until [`crate::mapping`] turns them into decimals.

use std::collections::HashMap;

use serde::{Deserialize, Deserializer};
use serde_json::Value;
use serde_json::value::RawValue;

/// A `_links` object: link name to URL. Banks send `{"href": "..."}` as the spec says, some
/// send the URL as a bare string; anything else under a name is ignored, not fatal.
#[derive(Debug, Default)]
pub struct Links(HashMap<String, String>);

impl Links {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}

impl<'de> Deserialize<'de> for Links {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Option::<HashMap<String, Value>>::deserialize(deserializer)?.unwrap_or_default();
        let links = raw
            .into_iter()
            .filter_map(|(name, value)| {
                let href = match value {
                    Value::String(href) => href,
                    Value::Object(mut fields) => match fields.remove("href") {
                        Some(Value::String(href)) => href,
                        _ => return None,
                    },
                    _ => return None,
                };
                Some((name, href))
            })
            .collect();
        Ok(Self(links))
    }
}

/// The answer to `POST /v1/consents`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsentCreated {
    pub consent_id: String,
    #[serde(flatten)]
    pub sca: ScaAnswer,
}

/// What an answer says about the SCA in progress: the consent's creation, an
/// authorisation's start (`startScaprocessResponse`) or update (`updatePsuAuthenticationResponse`,
/// `selectPsuAuthenticationMethodResponse`, `scaStatusResponse`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScaAnswer {
    pub sca_status: Option<String>,
    #[serde(default, deserialize_with = "aisle_sdk::lenient::null_as_default")]
    pub sca_methods: Vec<ScaMethod>,
    pub chosen_sca_method: Option<ScaMethod>,
    pub challenge_data: Option<ChallengeData>,
    /// Text for the owner ("Please use your BankApp for transaction Authorisation.").
    pub psu_message: Option<String>,
    #[serde(rename = "_links", default)]
    pub links: Links,
}

/// An `authenticationObject`: one way the owner can pass SCA.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScaMethod {
    pub authentication_type: Option<String>,
    pub authentication_method_id: String,
    pub name: Option<String>,
}

/// What the owner needs to answer the challenge (embedded approach).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChallengeData {
    pub additional_information: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsentStatus {
    pub consent_status: String,
}

/// The answer to `GET /v1/consents/{id}`. Only the status is relied on; the rest is read to
/// notice a bank that granted something other than what was asked.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsentInformation {
    pub consent_status: Option<String>,
    /// A boolean, or `"true"`/`"false"` as in the spec's own examples.
    pub recurring_indicator: Option<Value>,
    pub valid_until: Option<String>,
    pub access: Option<Value>,
}

/// An `amount`: the spec says a string, some banks send a number. Kept as the raw JSON
/// text, so a number is read from its digits, never through a float (serde_json would
/// parse it into an `f64` on the way to a `Value`).
#[derive(Debug, Deserialize)]
pub struct Amount {
    pub currency: String,
    pub amount: Box<RawValue>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Balance {
    pub balance_amount: Amount,
    pub balance_type: String,
    pub reference_date: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct AccountOwner {
    pub name: String,
    pub role: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountDetails {
    pub resource_id: Option<String>,
    pub iban: Option<String>,
    pub bban: Option<String>,
    pub masked_pan: Option<String>,
    /// Required by the spec; a bank that leaves it out gets ISO 4217's "no currency".
    #[serde(default = "no_currency")]
    pub currency: String,
    pub name: Option<String>,
    pub display_name: Option<String>,
    pub product: Option<String>,
    pub cash_account_type: Option<String>,
    pub status: Option<String>,
    pub owner_name: Option<String>,
    #[serde(default, deserialize_with = "aisle_sdk::lenient::null_as_default")]
    pub owner_names: Vec<AccountOwner>,
    #[serde(default, deserialize_with = "aisle_sdk::lenient::null_as_default")]
    pub balances: Vec<Balance>,
    #[serde(rename = "_links", default)]
    pub links: Links,
}

#[derive(Debug, Deserialize)]
pub struct AccountList {
    #[serde(default, deserialize_with = "aisle_sdk::lenient::null_as_default")]
    pub accounts: Vec<AccountDetails>,
}

/// The answer to a balances read, of an account or of a card account.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BalancesResponse {
    #[serde(default, deserialize_with = "aisle_sdk::lenient::null_as_default")]
    pub balances: Vec<Balance>,
    /// Card accounts only: debits, and so the balances, are quoted positive.
    pub debit_accounting: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CardAccountDetails {
    pub resource_id: Option<String>,
    pub masked_pan: Option<String>,
    #[serde(default = "no_currency")]
    pub currency: String,
    pub name: Option<String>,
    pub display_name: Option<String>,
    pub product: Option<String>,
    pub debit_accounting: Option<bool>,
    pub credit_limit: Option<Amount>,
    #[serde(default, deserialize_with = "aisle_sdk::lenient::null_as_default")]
    pub balances: Vec<Balance>,
    #[serde(rename = "_links", default)]
    pub links: Links,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CardAccountList {
    #[serde(default, deserialize_with = "aisle_sdk::lenient::null_as_default")]
    pub card_accounts: Vec<CardAccountDetails>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Transaction {
    pub transaction_id: Option<String>,
    pub entry_reference: Option<String>,
    pub booking_date: Option<String>,
    pub value_date: Option<String>,
    pub transaction_amount: Amount,
    /// Not in the Berlin Group spec, but some banks quote every amount positive and say the
    /// direction here (`DBIT`/`CRDT`, ISO 20022 style).
    pub credit_debit_indicator: Option<String>,
    pub creditor_name: Option<String>,
    /// An `accountReference`; kept raw because banks send `{}`, an array, or `null` too.
    pub creditor_account: Option<Value>,
    pub debtor_name: Option<String>,
    pub debtor_account: Option<Value>,
    pub remittance_information_unstructured: Option<String>,
    #[serde(default, deserialize_with = "aisle_sdk::lenient::null_as_default")]
    pub remittance_information_unstructured_array: Vec<String>,
    pub additional_information: Option<String>,
    pub bank_transaction_code: Option<String>,
    pub proprietary_bank_transaction_code: Option<String>,
    pub balance_after_transaction: Option<Balance>,
}

/// A page of a report, the spec's `accountReport` (rows [`Transaction`]) or
/// `cardAccountReport` (rows [`CardTransaction`]).
#[derive(Debug, Deserialize)]
#[serde(bound(deserialize = "T: Deserialize<'de>"))]
pub struct Report<T> {
    #[serde(default, deserialize_with = "aisle_sdk::lenient::null_as_default")]
    pub booked: Vec<T>,
    #[serde(default, deserialize_with = "aisle_sdk::lenient::null_as_default")]
    pub pending: Vec<T>,
    #[serde(rename = "_links", default)]
    pub links: Links,
}

#[derive(Debug, Deserialize)]
pub struct TransactionsResponse {
    /// Absent when the bank offers the report as a download, or, at some banks, when the
    /// account has no rows in the period.
    pub transactions: Option<Report<Transaction>>,
    #[serde(rename = "_links", default)]
    pub links: Links,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CardTransaction {
    pub card_transaction_id: Option<String>,
    pub transaction_date: Option<String>,
    pub booking_date: Option<String>,
    pub transaction_amount: Amount,
    pub original_amount: Option<Amount>,
    pub card_acceptor_id: Option<String>,
    pub merchant_category_code: Option<String>,
    pub transaction_details: Option<String>,
    pub proprietary_bank_transaction_code: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CardTransactionsResponse {
    /// When true, debits are quoted positive (spec `debitAccounting`).
    pub debit_accounting: Option<bool>,
    pub card_transactions: Option<Report<CardTransaction>>,
    #[serde(rename = "_links", default)]
    pub links: Links,
}

/// OAuth 2.0 Authorization Server Metadata (RFC 8414), the document `scaOAuth` points at.
#[derive(Debug, Deserialize)]
pub struct ServerMetadata {
    pub issuer: Option<String>,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub revocation_endpoint: Option<String>,
    #[serde(default, deserialize_with = "aisle_sdk::lenient::null_as_default")]
    pub code_challenge_methods_supported: Vec<String>,
}

/// A token endpoint's success answer (RFC 6749 section 5.1). No `Debug`: it holds the token.
#[derive(Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: Option<String>,
}

fn no_currency() -> String {
    "XXX".to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_accept_href_objects_and_bare_strings_and_skip_the_rest() {
        let links: Links = serde_json::from_str(
            r#"{"next": {"href": "/v1/a?page=2"}, "self": "/v1/a", "first": null, "odd": [1]}"#,
        )
        .expect("links");
        assert_eq!(links.get("next"), Some("/v1/a?page=2"));
        assert_eq!(links.get("self"), Some("/v1/a"));
        assert_eq!(links.get("first"), None);
        assert_eq!(links.get("odd"), None);
    }
}
