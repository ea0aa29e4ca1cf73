//! The bank's JSON, as the Berlin Group spec names it. Lenient on purpose: unknown fields are
//! ignored, everything not strictly needed is optional, and amounts stay raw JSON until
//! [`crate::mapping`] turns them into decimals.

use std::collections::HashMap;

use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// `{"href": "..."}`.
#[derive(Debug, Deserialize)]
pub struct Href {
    pub href: String,
}

pub type Links = HashMap<String, Href>;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsentCreated {
    pub consent_id: String,
    #[serde(rename = "_links", default)]
    pub links: Links,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsentStatus {
    pub consent_status: String,
}

/// An `amount`: the spec says a string, some banks send a number. Kept as raw JSON so a
/// number is read from its text, never through a float.
#[derive(Debug, Deserialize)]
pub struct Amount {
    pub currency: String,
    pub amount: Value,
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
    pub currency: String,
    pub name: Option<String>,
    pub display_name: Option<String>,
    pub product: Option<String>,
    pub cash_account_type: Option<String>,
    pub status: Option<String>,
    pub owner_name: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub owner_names: Vec<AccountOwner>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub balances: Vec<Balance>,
    #[serde(rename = "_links", default, deserialize_with = "null_as_default")]
    pub links: Links,
}

#[derive(Debug, Deserialize)]
pub struct AccountList {
    pub accounts: Vec<AccountDetails>,
}

#[derive(Debug, Deserialize)]
pub struct BalancesResponse {
    #[serde(default, deserialize_with = "null_as_default")]
    pub balances: Vec<Balance>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CardAccountDetails {
    pub resource_id: Option<String>,
    pub masked_pan: Option<String>,
    pub currency: String,
    pub name: Option<String>,
    pub display_name: Option<String>,
    pub product: Option<String>,
    pub credit_limit: Option<Amount>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub balances: Vec<Balance>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CardAccountList {
    pub card_accounts: Vec<CardAccountDetails>,
}

/// An `accountReference`: whichever identifier the bank gives.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountReference {
    pub iban: Option<String>,
    pub bban: Option<String>,
    pub masked_pan: Option<String>,
    pub pan: Option<String>,
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
    pub creditor_account: Option<AccountReference>,
    pub debtor_name: Option<String>,
    pub debtor_account: Option<AccountReference>,
    pub remittance_information_unstructured: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub remittance_information_unstructured_array: Vec<String>,
    pub additional_information: Option<String>,
    pub bank_transaction_code: Option<String>,
    pub proprietary_bank_transaction_code: Option<String>,
    pub balance_after_transaction: Option<Balance>,
}

#[derive(Debug, Deserialize)]
pub struct AccountReport {
    #[serde(default, deserialize_with = "null_as_default")]
    pub booked: Vec<Transaction>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub pending: Vec<Transaction>,
    #[serde(rename = "_links", default, deserialize_with = "null_as_default")]
    pub links: Links,
}

#[derive(Debug, Deserialize)]
pub struct TransactionsResponse {
    /// Absent when the account has no rows in the period at some banks.
    pub transactions: Option<AccountReport>,
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
pub struct CardAccountReport {
    #[serde(default, deserialize_with = "null_as_default")]
    pub booked: Vec<CardTransaction>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub pending: Vec<CardTransaction>,
    #[serde(rename = "_links", default, deserialize_with = "null_as_default")]
    pub links: Links,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CardTransactionsResponse {
    /// When true, debits are quoted positive (spec `debitAccounting`).
    pub debit_accounting: Option<bool>,
    pub card_transactions: Option<CardAccountReport>,
}

/// Treats an explicit `null` like an absent field: banks send both.
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}
