//! Owners: the searchable list, each owner's page (imports across banks, accounts with
//! balances and a balance chart, receipts in plain words, transactions filtered and paged),
//! and downloads of an owner's data as JSON and CSV.

use std::collections::{HashMap, HashSet};

use axum::{
    extract::{Path, Query, State},
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{
    activity::CommandLine,
    auth::Staff,
    charts, explain,
    views::{ConsoleError, context, render},
};
use crate::{
    model::{command::CommandState, receipt::Receipt, result::AccountView},
    state::AppState,
    store::{
        console::{
            self, CommandRow, OwnerSearch, OwnerTransaction, TransactionFilter, TransactionKey,
        },
        results::{self, Scope},
    },
};

/// Owners shown by one search.
const OWNER_LIMIT: i64 = 200;
/// Transactions per page.
const PAGE: i64 = 50;
/// Rows read per query by the CSV download.
const CSV_BATCH: i64 = 1_000;

/// A query parameter: absent and empty are the same.
fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

fn date(value: &Option<String>, field: &str) -> Result<Option<NaiveDate>, ConsoleError> {
    given(value)
        .map(|raw| {
            NaiveDate::parse_from_str(raw, "%Y-%m-%d")
                .map_err(|_| ConsoleError::BadInput(format!("{field}: a date is YYYY-MM-DD")))
        })
        .transpose()
}

fn amount(value: &Option<String>, field: &str) -> Result<Option<Decimal>, ConsoleError> {
    given(value)
        .map(|raw| {
            raw.parse::<Decimal>()
                .map_err(|_| ConsoleError::BadInput(format!("{field}: an amount like -20.00")))
        })
        .transpose()
}

#[derive(Debug, Default, Deserialize, Serialize)]
pub struct ListQuery {
    q: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

#[derive(Serialize)]
struct OwnerLine {
    id: String,
    /// The id as one URL path segment.
    path: String,
    name: Option<String>,
    imports: i64,
    banks: Vec<String>,
    last_import: String,
}

/// The owner list, searched by id, name or the end of an IBAN, and by import date.
pub async fn list(
    State(state): State<AppState>,
    staff: Staff,
    Query(query): Query<ListQuery>,
) -> Result<Response, ConsoleError> {
    let search = OwnerSearch {
        text: given(&query.q).map(|q| q.chars().take(100).collect()),
        from: date(&query.from, "from")?,
        to: date(&query.to, "to")?,
    };
    let owners = console::owners(&state.pool, staff.client_id, &search, OWNER_LIMIT).await?;
    let lines: Vec<OwnerLine> = owners
        .into_iter()
        .map(|o| OwnerLine {
            path: path_segment(&o.owner_external_id),
            id: o.owner_external_id,
            name: o.name,
            imports: o.imports,
            banks: o.banks,
            last_import: when(o.last_import_at),
        })
        .collect();
    render(
        "owners.html",
        context! {
            staff, section => "owners", owners => lines, query, limit => OWNER_LIMIT,
        },
    )
}

/// `text` as one URL path segment: every byte but RFC 3986's unreserved ones escaped, so an
/// owner id with `/`, `?` or `#` still names one owner.
pub fn path_segment(text: &str) -> String {
    let mut segment = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            segment.push(char::from(byte));
        } else {
            segment.push_str(&format!("%{byte:02X}"));
        }
    }
    segment
}

/// An instant as the console shows it.
pub fn when(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

#[derive(Debug, Default, Deserialize)]
pub struct TransactionQuery {
    from: Option<String>,
    to: Option<String>,
    min: Option<String>,
    max: Option<String>,
    text: Option<String>,
    status: Option<String>,
    /// Where the previous page ended: `YYYY-MM-DD_uuid`.
    after: Option<String>,
}

impl TransactionQuery {
    fn filter(&self) -> Result<TransactionFilter, ConsoleError> {
        let status = match given(&self.status) {
            None => None,
            Some("booked") => Some("booked"),
            Some("pending") => Some("pending"),
            Some(_) => return Err(ConsoleError::BadInput("status: booked or pending".into())),
        };
        Ok(TransactionFilter {
            from: date(&self.from, "from")?,
            to: date(&self.to, "to")?,
            min_amount: amount(&self.min, "min")?,
            max_amount: amount(&self.max, "max")?,
            text: given(&self.text).map(|t| t.chars().take(100).collect()),
            status,
        })
    }

    fn after(&self) -> Result<Option<TransactionKey>, ConsoleError> {
        let Some(raw) = given(&self.after) else {
            return Ok(None);
        };
        let bad = || ConsoleError::BadInput("after: not a page position".into());
        let (day, id) = raw.split_once('_').ok_or_else(bad)?;
        Ok(Some(TransactionKey {
            date: NaiveDate::parse_from_str(day, "%Y-%m-%d").map_err(|_| bad())?,
            id: id.parse().map_err(|_| bad())?,
        }))
    }

    /// The filter as a query string (without the page position), for links.
    fn filter_query(&self) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in [
            ("from", &self.from),
            ("to", &self.to),
            ("min", &self.min),
            ("max", &self.max),
            ("text", &self.text),
            ("status", &self.status),
        ] {
            if let Some(value) = given(value) {
                query.append_pair(name, value);
            }
        }
        query.finish()
    }
}

/// An account as the owner's page shows it.
#[derive(Serialize)]
struct AccountCard {
    bank: String,
    label: String,
    iban: Option<String>,
    currency: String,
    balances: Vec<BalanceLine>,
    receipt: Option<ReceiptLines>,
    chart: Option<String>,
    imported: String,
}

#[derive(Serialize)]
struct BalanceLine {
    kind: String,
    amount: String,
    currency: String,
    date: Option<NaiveDate>,
}

#[derive(Serialize)]
struct ReceiptLines {
    requested: String,
    obtained: Option<String>,
    booked: u32,
    pending: u32,
    shortfalls: Vec<ShortfallLine>,
}

#[derive(Serialize)]
struct ShortfallLine {
    reason: String,
    days: Option<String>,
    explanation: &'static str,
}

fn receipt_lines(receipt: &Receipt) -> ReceiptLines {
    ReceiptLines {
        requested: format!("{} to {}", receipt.requested.from, receipt.requested.to),
        obtained: receipt
            .obtained
            .map(|range| format!("{} to {}", range.from, range.to)),
        booked: receipt.booked,
        pending: receipt.pending,
        shortfalls: receipt
            .shortfalls
            .iter()
            .map(|s| ShortfallLine {
                reason: format!("{:?}", s.reason),
                days: s.days.map(|d| format!("{} to {}", d.from, d.to)),
                explanation: explain::shortfall(s.reason),
            })
            .collect(),
    }
}

/// The commands of an owner that present a result, newest first.
fn presenting(commands: &[CommandRow]) -> impl Iterator<Item = &CommandRow> {
    commands.iter().filter(|c| {
        c.state == CommandState::Successful || c.error_code.is_some_and(|code| code.keeps_result())
    })
}

/// The owner's accounts: each bank account once, from the newest import that has it.
struct Accounts {
    cards: Vec<AccountCard>,
    row_ids: Vec<Uuid>,
    /// Row id → (bank, account label), for the transaction list.
    names: HashMap<Uuid, (String, String)>,
    owner_name: Option<String>,
}

async fn accounts(
    state: &AppState,
    client_id: Uuid,
    commands: &[CommandRow],
) -> Result<Accounts, ConsoleError> {
    let mut seen = HashSet::new();
    let mut found = Accounts {
        cards: Vec::new(),
        row_ids: Vec::new(),
        names: HashMap::new(),
        owner_name: None,
    };
    for command in presenting(commands) {
        let scope = Scope {
            client_id,
            command_id: command.id,
        };
        let heads = results::load_heads(&state.pool, scope).await?;
        if found.owner_name.is_none() {
            found.owner_name = heads.owners.first().map(|o| o.name.clone());
        }
        for account in heads.accounts {
            if !seen.insert((command.bank_id.clone(), account.bank_account_id.clone())) {
                continue;
            }
            let imported_on = command
                .finished_at
                .unwrap_or(command.created_at)
                .date_naive();
            let chart = balance_chart(state, client_id, &account, imported_on).await?;
            let label = account
                .name
                .clone()
                .or(account.product.clone())
                .unwrap_or_else(|| account.bank_account_id.clone());
            found.row_ids.push(account.id);
            found
                .names
                .insert(account.id, (command.bank_id.clone(), label.clone()));
            found.cards.push(AccountCard {
                bank: command.bank_id.clone(),
                label,
                iban: account.iban.clone(),
                currency: account.currency.clone(),
                balances: account
                    .balances
                    .iter()
                    .map(|b| BalanceLine {
                        kind: b.balance_type.clone(),
                        amount: b.amount.to_string(),
                        currency: b.currency.clone(),
                        date: b.reference_date,
                    })
                    .collect(),
                receipt: account.receipt.as_ref().map(|r| receipt_lines(r)),
                chart,
                imported: when(command.finished_at.unwrap_or(command.created_at)),
            });
        }
    }
    Ok(found)
}

/// The account's balance over time as SVG, walked back from its booked balance.
async fn balance_chart(
    state: &AppState,
    client_id: Uuid,
    account: &AccountView,
    imported_on: NaiveDate,
) -> Result<Option<String>, ConsoleError> {
    let preference = [
        "closingBooked",
        "interimBooked",
        "interimAvailable",
        "expected",
    ];
    let reference = preference
        .iter()
        .find_map(|kind| account.balances.iter().find(|b| b.balance_type == *kind))
        .or(account.balances.first());
    let Some(reference) = reference else {
        return Ok(None);
    };
    let daily = console::daily_net(&state.pool, client_id, account.id).await?;
    let day = reference.reference_date.unwrap_or(imported_on);
    let history = charts::balance_history((day, reference.amount), &daily);
    Ok(charts::balance_line(
        charts::Frame::CARD,
        &history,
        &account.currency,
    ))
}

#[derive(Serialize)]
struct TransactionLine {
    date: Option<NaiveDate>,
    status: String,
    amount: String,
    negative: bool,
    currency: String,
    counterparty: Option<String>,
    description: Option<String>,
    account: String,
    bank: String,
}

fn transaction_line(
    row: &OwnerTransaction,
    names: &HashMap<Uuid, (String, String)>,
) -> TransactionLine {
    let (bank, account) = names.get(&row.account_id).cloned().unwrap_or_default();
    TransactionLine {
        date: row.booking_date.or(row.value_date),
        status: row.status.clone(),
        amount: row.amount.to_string(),
        negative: row.amount.is_sign_negative(),
        currency: row.currency.clone(),
        counterparty: row.counterparty_name.clone(),
        description: row.description.clone(),
        account,
        bank,
    }
}

/// One owner's page.
pub async fn page(
    State(state): State<AppState>,
    staff: Staff,
    Path(owner): Path<String>,
    Query(query): Query<TransactionQuery>,
) -> Result<Response, ConsoleError> {
    let filter = query.filter()?;
    let after = query.after()?;
    let commands = console::owner_commands(&state.pool, staff.client_id, &owner).await?;
    if commands.is_empty() {
        return Err(ConsoleError::NotFound);
    }
    let accounts = accounts(&state, staff.client_id, &commands).await?;
    let mut rows = console::owner_transactions(
        &state.pool,
        staff.client_id,
        &accounts.row_ids,
        &filter,
        after,
        PAGE + 1,
    )
    .await?;
    let next = if rows.len() as i64 > PAGE {
        rows.truncate(PAGE as usize);
        rows.last().map(|last| format!("{}_{}", last.date, last.id))
    } else {
        None
    };
    let transactions: Vec<TransactionLine> = rows
        .iter()
        .map(|row| transaction_line(row, &accounts.names))
        .collect();
    let imports: Vec<CommandLine> = commands.iter().map(CommandLine::from).collect();
    let filter_query = query.filter_query();
    render(
        "owner.html",
        context! {
            staff, section => "owners", owner_path => path_segment(&owner), owner,
            owner_name => accounts.owner_name,
            imports, accounts => accounts.cards, transactions, next, filter_query,
            paged => after.is_some(),
            filter => context! {
                from => given(&query.from), to => given(&query.to), min => given(&query.min),
                max => given(&query.max), text => given(&query.text),
                status => given(&query.status),
            },
        },
    )
}

/// Every transaction of the owner that passes the filter, as CSV.
pub async fn transactions_csv(
    State(state): State<AppState>,
    staff: Staff,
    Path(owner): Path<String>,
    Query(query): Query<TransactionQuery>,
) -> Result<Response, ConsoleError> {
    use crate::http::exports::{csv_quoted, csv_text};
    let filter = query.filter()?;
    let commands = console::owner_commands(&state.pool, staff.client_id, &owner).await?;
    if commands.is_empty() {
        return Err(ConsoleError::NotFound);
    }
    let accounts = accounts(&state, staff.client_id, &commands).await?;
    let mut csv = String::from(
        "ownerExternalId,bank,account,id,status,bookingDate,valueDate,amount,currency,\
         counterpartyName,counterpartyAccount,description,bankTransactionCode,balanceAfter\r\n",
    );
    let mut after = None;
    loop {
        let rows = console::owner_transactions(
            &state.pool,
            staff.client_id,
            &accounts.row_ids,
            &filter,
            after,
            CSV_BATCH,
        )
        .await?;
        for row in &rows {
            let (bank, account) = accounts
                .names
                .get(&row.account_id)
                .cloned()
                .unwrap_or_default();
            let text = |v: &Option<String>| v.as_deref().map(csv_text).unwrap_or_default();
            let plain = |v: Option<String>| v.map(|v| csv_quoted(&v)).unwrap_or_default();
            let fields = [
                csv_text(&owner),
                csv_text(&bank),
                csv_text(&account),
                row.id.to_string(),
                row.status.clone(),
                plain(row.booking_date.map(|d| d.to_string())),
                plain(row.value_date.map(|d| d.to_string())),
                row.amount.to_string(),
                csv_text(&row.currency),
                text(&row.counterparty_name),
                text(&row.counterparty_account),
                text(&row.description),
                text(&row.bank_transaction_code),
                plain(row.balance_after.map(|b| b.to_string())),
            ];
            csv.push_str(&fields.join(","));
            csv.push_str("\r\n");
        }
        match rows.last() {
            Some(last) if rows.len() as i64 == CSV_BATCH => {
                after = Some(TransactionKey {
                    date: last.date,
                    id: last.id,
                });
            }
            _ => break,
        }
    }
    Ok(download(csv, "text/csv; charset=utf-8", "transactions.csv"))
}

/// Every import of the owner with its whole result, as JSON.
pub async fn data_json(
    State(state): State<AppState>,
    staff: Staff,
    Path(owner): Path<String>,
) -> Result<Response, ConsoleError> {
    let commands = console::owner_commands(&state.pool, staff.client_id, &owner).await?;
    if commands.is_empty() {
        return Err(ConsoleError::NotFound);
    }
    let keeps: HashSet<Uuid> = presenting(&commands).map(|c| c.id).collect();
    let mut imports = Vec::with_capacity(commands.len());
    for command in &commands {
        let result = match keeps.contains(&command.id) {
            true => Some(
                results::load(
                    &state.pool,
                    Scope {
                        client_id: staff.client_id,
                        command_id: command.id,
                    },
                )
                .await?,
            ),
            false => None,
        };
        imports.push(serde_json::json!({
            "commandId": command.id,
            "bank": command.bank_id,
            "state": command.state,
            "since": command.since,
            "createdAt": command.created_at,
            "finishedAt": command.finished_at,
            "error": command.error_code,
            "result": result,
        }));
    }
    let body = serde_json::to_string_pretty(&serde_json::json!({
        "ownerExternalId": owner,
        "imports": imports,
    }))
    .map_err(|e| ConsoleError::Internal(e.to_string()))?;
    Ok(download(body, "application/json", "owner.json"))
}

fn download(body: String, content_type: &'static str, filename: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_str(&format!("attachment; filename=\"{filename}\""))
                    .unwrap_or_else(|_| HeaderValue::from_static("attachment")),
            ),
        ],
        body,
    )
        .into_response()
}
