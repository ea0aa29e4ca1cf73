//! The import result as clients read it: owners, accounts with balances and transactions,
//! cards with balances and card transactions. Money is a decimal string next to its currency.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::types::Json;
use utoipa::ToSchema;
use uuid::Uuid;

use super::receipt::Receipt;

#[derive(Debug, Clone, Default, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImportResult {
    pub owners: Vec<OwnerView>,
    pub accounts: Vec<AccountView>,
    pub cards: Vec<CardView>,
}

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct OwnerView {
    pub name: String,
    pub title: Option<String>,
    /// `OWNER`, `CO_OWNER`, `ATTORNEY` or `OTHER`.
    pub kind: String,
    pub address: Option<String>,
    pub birth_date: Option<NaiveDate>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub national_id: Option<String>,
    /// ISO 3166-1 alpha-2.
    pub nationality: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct AccountView {
    #[serde(skip)]
    pub id: Uuid,
    /// The bank's identifier for the account.
    pub bank_account_id: String,
    pub iban: Option<String>,
    pub bban: Option<String>,
    pub masked_pan: Option<String>,
    pub currency: String,
    pub name: Option<String>,
    pub product: Option<String>,
    #[serde(rename = "type")]
    pub account_type: Option<String>,
    pub status: Option<String>,
    pub owner_names: Vec<String>,
    pub opened_on: Option<NaiveDate>,
    pub valid_until: Option<NaiveDate>,
    #[schema(value_type = Option<String>)]
    pub min_allowed_balance: Option<Decimal>,
    #[schema(value_type = Option<String>)]
    pub max_allowed_balance: Option<Decimal>,
    #[sqlx(skip)]
    pub balances: Vec<BalanceView>,
    #[sqlx(skip)]
    pub transactions: Transactions<TransactionView>,
    /// What history was asked for and obtained, and why anything is missing.
    #[schema(value_type = Option<Receipt>)]
    pub receipt: Option<Json<Receipt>>,
}

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct BalanceView {
    #[serde(skip)]
    pub owner_row: Uuid,
    #[serde(rename = "type")]
    pub balance_type: String,
    #[schema(value_type = String, example = "-20.00")]
    pub amount: Decimal,
    pub currency: String,
    pub reference_date: Option<NaiveDate>,
}

/// Booked and pending rows, newest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Transactions<T> {
    pub booked: Vec<T>,
    pub pending: Vec<T>,
}

impl<T> Default for Transactions<T> {
    fn default() -> Self {
        Self {
            booked: Vec::new(),
            pending: Vec::new(),
        }
    }
}

impl<T> Transactions<T> {
    pub fn push(&mut self, status: &str, row: T) {
        if status == "pending" {
            self.pending.push(row);
        } else {
            self.booked.push(row);
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct TransactionView {
    #[serde(skip)]
    pub account_id: Uuid,
    /// The bank's id when it has a stable one, else a fingerprint of the row's content.
    #[sqlx(rename = "identity")]
    pub id: String,
    pub status: String,
    pub booking_date: Option<NaiveDate>,
    pub value_date: Option<NaiveDate>,
    #[schema(value_type = String, example = "-20.00")]
    pub amount: Decimal,
    pub currency: String,
    pub counterparty_name: Option<String>,
    pub counterparty_account: Option<String>,
    pub description: Option<String>,
    pub bank_transaction_code: Option<String>,
    #[schema(value_type = Option<String>)]
    pub balance_after: Option<Decimal>,
}

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct CardView {
    #[serde(skip)]
    pub id: Uuid,
    pub bank_card_id: String,
    pub masked_pan: Option<String>,
    pub name: Option<String>,
    pub currency: String,
    #[schema(value_type = Option<String>)]
    pub credit_limit: Option<Decimal>,
    #[sqlx(skip)]
    pub balances: Vec<BalanceView>,
    #[sqlx(skip)]
    pub transactions: Transactions<CardTransactionView>,
    #[schema(value_type = Option<Receipt>)]
    pub receipt: Option<Json<Receipt>>,
}

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct CardTransactionView {
    #[serde(skip)]
    pub card_id: Uuid,
    #[sqlx(rename = "identity")]
    pub id: String,
    pub status: String,
    pub transaction_date: Option<NaiveDate>,
    pub booking_date: Option<NaiveDate>,
    #[schema(value_type = String, example = "-20.00")]
    pub amount: Decimal,
    pub currency: String,
    #[schema(value_type = Option<String>)]
    pub original_amount: Option<Decimal>,
    pub original_currency: Option<String>,
    pub description: Option<String>,
    pub merchant_name: Option<String>,
    pub merchant_category_code: Option<String>,
}
