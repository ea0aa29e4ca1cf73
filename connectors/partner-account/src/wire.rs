//! The partner API's JSON. Lenient on purpose: unknown fields are ignored, everything not
//! strictly needed is optional, and amounts stay raw JSON text until [`crate::mapping`] turns
//! them into decimals.

use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

/// What every answer starts with. Read on its own first, so that an error answer is
/// classified by its code even when the rest of its body is odd.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Head {
    #[serde(deserialize_with = "code_text")]
    pub response_code: String,
    pub response_message: Option<String>,
}

/// A `0000` answer.
#[derive(Debug, Deserialize)]
pub struct Success {
    pub data: AccountInformation,
}

#[derive(Debug, Deserialize)]
pub struct AccountInformation {
    pub owner: Option<Owner>,
    pub account: Option<Account>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Owner {
    pub title: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub address: Option<Address>,
    /// Country of residence, ISO 3166-1 alpha-2.
    pub country: Option<String>,
    pub birth_date: Option<String>,
    pub email: Option<String>,
    /// ISO 3166-1 alpha-2.
    pub nationality: Option<String>,
}

/// The designed shape is the object; a partner that prints one line is read too.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Address {
    Lines(AddressLines),
    Text(String),
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AddressLines {
    pub line1: Option<String>,
    pub line2: Option<String>,
    pub postal_code: Option<String>,
    pub city: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    pub accno: Option<String>,
    pub accno_type: Option<String>,
    pub currency: Option<String>,
    #[serde(rename = "type")]
    pub account_type: Option<String>,
    pub status: Option<String>,
    pub creation_date: Option<String>,
    pub validity_date: Option<String>,
    pub min_allowed_balance: Option<Box<RawValue>>,
    pub max_allowed_balance: Option<Box<RawValue>>,
}

/// `responseCode` as text; a partner that sends it as a number (`8`) loses its leading
/// zeros, which are put back.
fn code_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    aisle_sdk::lenient::code(deserializer, 4)
}
