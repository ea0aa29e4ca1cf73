//! The bank data an import yields, in Aisle's own shape. Money is always a `Decimal` next to
//! an ISO 4217 currency, serialised as a string; debits are negative.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// A person or company with rights on the accounts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Owner {
    pub name: String,
    /// Form of address (`Mr`, `Ms`, `Dr`), where the bank gives one.
    pub title: Option<String>,
    pub kind: OwnerKind,
    pub address: Option<String>,
    pub birth_date: Option<NaiveDate>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub national_id: Option<String>,
    /// ISO 3166-1 alpha-2 country of nationality.
    pub nationality: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OwnerKind {
    Owner,
    CoOwner,
    Attorney,
    Other,
}

/// A payment account as the bank describes it, with its balances.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    /// The bank's own identifier for the account (Berlin Group `resourceId`); opaque.
    pub bank_id: String,
    pub iban: Option<String>,
    pub bban: Option<String>,
    pub masked_pan: Option<String>,
    pub currency: String,
    pub name: Option<String>,
    pub product: Option<String>,
    pub account_type: Option<String>,
    pub status: Option<String>,
    /// Names of the account's owners, as the bank lists them.
    pub owner_names: Vec<String>,
    pub balances: Vec<Balance>,
    /// The day the account was opened, where the bank says.
    pub opened_on: Option<NaiveDate>,
    /// The last day the account (or its product) is valid, where the bank says.
    pub valid_until: Option<NaiveDate>,
    /// The lowest and highest balance the bank allows on the account, where it says.
    pub min_allowed_balance: Option<Decimal>,
    pub max_allowed_balance: Option<Decimal>,
    /// Why the account's balances could not be read, when the bank's answers for them were
    /// unusable; the account is kept without balances and its receipt records a shortfall.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balances_unavailable: Option<String>,
}

impl Account {
    /// An account known only by the bank's id and its currency; the rest filled in as known.
    pub fn new(bank_id: impl Into<String>, currency: impl Into<String>) -> Self {
        Self {
            bank_id: bank_id.into(),
            iban: None,
            bban: None,
            masked_pan: None,
            currency: currency.into(),
            name: None,
            product: None,
            account_type: None,
            status: None,
            owner_names: Vec::new(),
            balances: Vec::new(),
            opened_on: None,
            valid_until: None,
            min_allowed_balance: None,
            max_allowed_balance: None,
            balances_unavailable: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Balance {
    /// The bank's balance type: `closingBooked`, `interimAvailable`, `expected`, ...
    pub balance_type: String,
    pub amount: Decimal,
    pub currency: String,
    pub reference_date: Option<NaiveDate>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TransactionStatus {
    Booked,
    Pending,
}

impl TransactionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Booked => "booked",
            Self::Pending => "pending",
        }
    }
}

/// One movement on an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Transaction {
    /// The bank's transaction id, when it gives a stable one.
    pub bank_id: Option<String>,
    pub status: TransactionStatus,
    pub booking_date: Option<NaiveDate>,
    pub value_date: Option<NaiveDate>,
    pub amount: Decimal,
    pub currency: String,
    pub counterparty_name: Option<String>,
    pub counterparty_account: Option<String>,
    pub description: Option<String>,
    pub bank_transaction_code: Option<String>,
    pub balance_after: Option<Decimal>,
}

/// A card account (typically a credit card) with its balances.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Card {
    pub bank_id: String,
    pub masked_pan: Option<String>,
    pub name: Option<String>,
    pub currency: String,
    pub credit_limit: Option<Decimal>,
    pub balances: Vec<Balance>,
    /// Why the card's balances could not be read, when the bank's answers for them were
    /// unusable; the card is kept without balances and its receipt records a shortfall.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balances_unavailable: Option<String>,
}

/// One movement on a card, with merchant data where the bank gives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CardTransaction {
    pub bank_id: Option<String>,
    pub status: TransactionStatus,
    pub transaction_date: Option<NaiveDate>,
    pub booking_date: Option<NaiveDate>,
    pub amount: Decimal,
    pub currency: String,
    pub original_amount: Option<Decimal>,
    pub original_currency: Option<String>,
    pub description: Option<String>,
    pub merchant_name: Option<String>,
    pub merchant_category_code: Option<String>,
}

/// An inclusive range of booking dates to fetch in one go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DateWindow {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl DateWindow {
    /// A window from `from` to `to`, both included; `None` when `from` is after `to`.
    pub fn new(from: NaiveDate, to: NaiveDate) -> Option<Self> {
        (from <= to).then_some(Self { from, to })
    }

    /// How many days the window covers, both ends included.
    pub fn days(&self) -> i64 {
        (self.to - self.from).num_days() + 1
    }
}
