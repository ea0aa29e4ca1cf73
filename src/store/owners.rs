//! The owner view's reads: one owner's imports of one client, with their accounts, cards,
//! balances and receipts, in a few queries whatever the number of imports. Transactions are
//! not read, only the dates they span.

use std::collections::HashMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use sqlx::{PgPool, types::Json};
use uuid::Uuid;

use super::commands;
use crate::model::{
    owner::{self, ImportError, OwnerAccount, OwnerCard, OwnerImport, OwnerOverview},
    receipt::{DateRange, Receipt},
    result::{BalanceView, OwnerView},
};

/// The most imports the view shows, newest first.
pub const MAX_IMPORTS: i64 = 100;

/// The client's view of owner `owner_external_id`: `None` when the client has no import of
/// that owner (another client's owner is as unknown as one that never existed).
pub async fn overview(
    pool: &PgPool,
    client_id: Uuid,
    owner_external_id: &str,
) -> Result<Option<OwnerOverview>, sqlx::Error> {
    let commands = commands::for_owner(pool, client_id, owner_external_id, MAX_IMPORTS).await?;
    if commands.is_empty() {
        return Ok(None);
    }
    let with_result: Vec<Uuid> = commands
        .iter()
        .filter(|command| command.has_result())
        .map(|command| command.id)
        .collect();
    let mut owners = group(owners_of(pool, client_id, &with_result).await?);
    let mut accounts = group(accounts_of(pool, client_id, &with_result).await?);
    let mut cards = group(cards_of(pool, client_id, &with_result).await?);
    let account_rows: Vec<Uuid> = accounts
        .values()
        .flatten()
        .map(|account| account.id)
        .collect();
    let mut balances = group(balances_of(pool, client_id, &with_result).await?);
    let transactions = transaction_dates(pool, client_id, &account_rows).await?;

    let imports: Vec<OwnerImport> = commands
        .into_iter()
        .map(|command| {
            let id = command.id;
            let mut balances_of = |row: Uuid| balances.remove(&row).unwrap_or_default();
            let accounts = accounts.remove(&id).unwrap_or_default();
            let cards = cards.remove(&id).unwrap_or_default();
            OwnerImport {
                command_id: id,
                result: format!("/v1/commands/{id}"),
                owners: owners
                    .remove(&id)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|row| row.owner)
                    .collect(),
                accounts: accounts
                    .into_iter()
                    .map(|row| {
                        let balances = balances_of(row.id);
                        row.into_view(id, balances)
                    })
                    .collect(),
                cards: cards
                    .into_iter()
                    .map(|row| {
                        let balances = balances_of(row.id);
                        row.into_view(id, balances)
                    })
                    .collect(),
                bank: command.bank_id,
                state: command.state,
                started_by: command.started_by,
                since: command.since,
                created_at: command.created_at,
                finished_at: command.finished_at,
                error: command.error_code.map(|code| ImportError {
                    code,
                    detail: command.error_detail.unwrap_or_default(),
                }),
            }
        })
        .collect();
    Ok(Some(OwnerOverview {
        owner_external_id: owner_external_id.to_string(),
        aggregate: owner::aggregate(&imports, transactions),
        imports,
    }))
}

/// Rows of several commands, by the command (or account, card) they belong to.
trait Grouped {
    fn key(&self) -> Uuid;
}

fn group<T: Grouped>(rows: Vec<T>) -> HashMap<Uuid, Vec<T>> {
    let mut groups: HashMap<Uuid, Vec<T>> = HashMap::new();
    for row in rows {
        groups.entry(row.key()).or_default().push(row);
    }
    groups
}

#[derive(sqlx::FromRow)]
struct OwnerRow {
    command_id: Uuid,
    #[sqlx(flatten)]
    owner: OwnerView,
}

impl Grouped for OwnerRow {
    fn key(&self) -> Uuid {
        self.command_id
    }
}

async fn owners_of(
    pool: &PgPool,
    client_id: Uuid,
    commands: &[Uuid],
) -> Result<Vec<OwnerRow>, sqlx::Error> {
    sqlx::query_as(
        "select command_id, name, title, kind, address, birth_date, email, phone, national_id,
                nationality
         from owners where client_id = $1 and command_id = any($2)
         order by command_id, position",
    )
    .bind(client_id)
    .bind(commands)
    .fetch_all(pool)
    .await
}

#[derive(sqlx::FromRow)]
struct AccountRow {
    id: Uuid,
    command_id: Uuid,
    bank_account_id: String,
    iban: Option<String>,
    bban: Option<String>,
    masked_pan: Option<String>,
    currency: String,
    name: Option<String>,
    product: Option<String>,
    account_type: Option<String>,
    status: Option<String>,
    owner_names: Vec<String>,
    receipt: Option<Json<Receipt>>,
}

impl Grouped for AccountRow {
    fn key(&self) -> Uuid {
        self.command_id
    }
}

impl AccountRow {
    fn into_view(self, command_id: Uuid, balances: Vec<BalanceView>) -> OwnerAccount {
        OwnerAccount {
            transactions: format!(
                "/v1/commands/{command_id}/accounts/{}/transactions",
                path_segment(&self.bank_account_id)
            ),
            bank_account_id: self.bank_account_id,
            iban: self.iban,
            bban: self.bban,
            masked_pan: self.masked_pan,
            currency: self.currency,
            name: self.name,
            product: self.product,
            account_type: self.account_type,
            status: self.status,
            owner_names: self.owner_names,
            balances,
            receipt: self.receipt.map(|Json(receipt)| receipt),
        }
    }
}

async fn accounts_of(
    pool: &PgPool,
    client_id: Uuid,
    commands: &[Uuid],
) -> Result<Vec<AccountRow>, sqlx::Error> {
    sqlx::query_as(
        "select id, command_id, bank_account_id, iban, bban, masked_pan, currency, name, product,
                account_type, status, owner_names, receipt
         from accounts where client_id = $1 and command_id = any($2)
         order by command_id, position",
    )
    .bind(client_id)
    .bind(commands)
    .fetch_all(pool)
    .await
}

#[derive(sqlx::FromRow)]
struct CardRow {
    id: Uuid,
    command_id: Uuid,
    bank_card_id: String,
    masked_pan: Option<String>,
    name: Option<String>,
    currency: String,
    credit_limit: Option<Decimal>,
    receipt: Option<Json<Receipt>>,
}

impl Grouped for CardRow {
    fn key(&self) -> Uuid {
        self.command_id
    }
}

impl CardRow {
    fn into_view(self, command_id: Uuid, balances: Vec<BalanceView>) -> OwnerCard {
        OwnerCard {
            transactions: format!(
                "/v1/commands/{command_id}/cards/{}/transactions",
                path_segment(&self.bank_card_id)
            ),
            bank_card_id: self.bank_card_id,
            masked_pan: self.masked_pan,
            name: self.name,
            currency: self.currency,
            credit_limit: self.credit_limit,
            balances,
            receipt: self.receipt.map(|Json(receipt)| receipt),
        }
    }
}

async fn cards_of(
    pool: &PgPool,
    client_id: Uuid,
    commands: &[Uuid],
) -> Result<Vec<CardRow>, sqlx::Error> {
    sqlx::query_as(
        "select id, command_id, bank_card_id, masked_pan, name, currency, credit_limit, receipt
         from cards where client_id = $1 and command_id = any($2)
         order by command_id, position",
    )
    .bind(client_id)
    .bind(commands)
    .fetch_all(pool)
    .await
}

impl Grouped for BalanceView {
    fn key(&self) -> Uuid {
        self.owner_row
    }
}

async fn balances_of(
    pool: &PgPool,
    client_id: Uuid,
    commands: &[Uuid],
) -> Result<Vec<BalanceView>, sqlx::Error> {
    sqlx::query_as(
        "select coalesce(account_id, card_id) as owner_row, balance_type, amount, currency,
                reference_date
         from balances where client_id = $1 and command_id = any($2)
         order by command_id, position",
    )
    .bind(client_id)
    .bind(commands)
    .fetch_all(pool)
    .await
}

/// The booking (else value) dates of the oldest and newest transaction of these accounts.
async fn transaction_dates(
    pool: &PgPool,
    client_id: Uuid,
    accounts: &[Uuid],
) -> Result<Option<DateRange>, sqlx::Error> {
    let (from, to): (Option<NaiveDate>, Option<NaiveDate>) = sqlx::query_as(
        "select min(coalesce(booking_date, value_date)), max(coalesce(booking_date, value_date))
         from transactions where client_id = $1 and account_id = any($2)",
    )
    .bind(client_id)
    .bind(accounts)
    .fetch_one(pool)
    .await?;
    Ok(from.zip(to).map(|(from, to)| DateRange { from, to }))
}

/// `id` as one percent-encoded path segment: a bank's id may hold any character.
fn path_segment(id: &str) -> String {
    url::form_urlencoded::byte_serialize(id.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}
