//! The Account Service's JSON. Lenient on purpose: unknown fields are ignored, everything not
//! strictly needed is optional, `null` lists read as empty, and amounts stay raw JSON text
//! until [`crate::mapping`] turns them into decimals.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;

/// What every answer starts with: `{"code", "message", "traceId", "data"}`. Read on its own
/// first, so that an error answer is classified by its code even when the rest is odd.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Head {
    #[serde(deserialize_with = "code_text")]
    pub code: String,
    pub message: Option<String>,
    pub trace_id: Option<String>,
}

/// A `00` answer.
#[derive(Debug, Deserialize)]
pub struct Success<T> {
    pub data: T,
}

/// `POST /valid-legal-id`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LegalIdRequest<'a> {
    pub legal_id: &'a str,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LegalIdCheck {
    pub valid: Option<bool>,
    pub cif: Option<String>,
    pub customer_status: Option<String>,
}

/// `POST /valid-phone-number`: without `otp` it checks the number and sends a code; with
/// `otp` (and the `otpReference` of that sending) it checks the code.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PhoneRequest<'a> {
    pub cif: &'a str,
    pub phone_number: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub otp_reference: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub otp: Option<&'a str>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PhoneCheck {
    pub valid: Option<bool>,
    pub otp_reference: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Customer {
    pub title: Option<String>,
    pub full_name: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub legal_id: Option<String>,
    pub birth_date: Option<String>,
    pub email: Option<String>,
    pub phone_number: Option<String>,
    pub address: Option<Address>,
    /// ISO 3166-1 alpha-2.
    pub nationality: Option<String>,
    #[serde(default, deserialize_with = "aisle_sdk::lenient::null_as_default")]
    pub related_parties: Vec<RelatedParty>,
}

/// The designed shape is the object; a bank that prints one line is read too.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Address {
    Parts(AddressParts),
    Text(String),
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AddressParts {
    pub street: Option<String>,
    pub postal_code: Option<String>,
    pub city: Option<String>,
    pub country: Option<String>,
}

/// Someone else with rights on the customer's accounts: a joint holder, an attorney.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RelatedParty {
    pub full_name: Option<String>,
    pub role: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct AccountList {
    #[serde(default, deserialize_with = "aisle_sdk::lenient::null_as_default")]
    pub accounts: Vec<AccountSummary>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountSummary {
    pub account_number: Option<String>,
    pub iban: Option<String>,
    pub account_name: Option<String>,
    pub product_name: Option<String>,
    pub account_type: Option<String>,
    pub currency: Option<String>,
    pub status: Option<String>,
    pub open_date: Option<String>,
    #[serde(default, deserialize_with = "aisle_sdk::lenient::null_as_default")]
    pub holders: Vec<Holder>,
}

/// A holder of the account; the role is the customer record's business, not the account's.
#[derive(Debug, Deserialize)]
pub struct Holder {
    pub name: Option<String>,
}

/// `POST /get-account-info`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountInfoRequest<'a> {
    pub cif: &'a str,
    pub account_number: &'a str,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountInfo {
    pub currency: Option<String>,
    pub available_balance: Option<Box<RawValue>>,
    pub ledger_balance: Option<Box<RawValue>>,
    pub overdraft_limit: Option<Box<RawValue>>,
    pub balance_date: Option<String>,
}

/// `code` as text; a bank that sends it as a number (`0`) loses its leading zero, which is
/// put back.
fn code_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    aisle_sdk::lenient::code(deserializer, 2)
}
