//! `/v1/accounts`: the payment accounts, their balances and their transaction reports.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::data_access::ConsentedData;
use crate::errors::BankError;
use crate::hostile;
use crate::knobs::Fault;
use crate::ledger::{AccountData, AccountRow, PersonaData};
use crate::personas::RowQuirk;
use crate::report::{self, ReportQuery, money};

const CURRENCY: &str = "EUR";

fn balances(data: &PersonaData, account: &AccountData) -> Value {
    report::balances(
        account.closing_booked,
        account.available(),
        CURRENCY,
        data.today,
    )
}

fn details(data: &PersonaData, account: &AccountData, with_balance: bool) -> Value {
    let id = &account.resource_id;
    let mut body = json!({
        "resourceId": id,
        "iban": account.iban,
        "currency": CURRENCY,
        "name": account.plan.name,
        "product": account.plan.product,
        "cashAccountType": account.plan.cash_account_type,
        "status": "enabled",
        "ownerName": data.persona.owner_name,
        "_links": {
            "balances": {"href": format!("/v1/accounts/{id}/balances")},
            "transactions": {"href": format!("/v1/accounts/{id}/transactions")},
        },
    });
    if let Some(fields) = body.as_object_mut() {
        if !data.persona.owners.is_empty() {
            let owners: Vec<Value> = data
                .persona
                .owners
                .iter()
                .map(|(name, role)| json!({"name": name, "role": role}))
                .collect();
            fields.insert("ownerNames".into(), Value::Array(owners));
        }
        if with_balance {
            fields.insert("balances".into(), balances(data, account));
        }
    }
    body
}

/// A row as the report prints it; `with_id` is false at a bank that gives rows no id.
fn transaction(row: &AccountRow, with_id: bool) -> Value {
    let mut body = json!({
        "valueDate": row.value_date,
        "transactionAmount": money(row.amount, CURRENCY),
        "remittanceInformationUnstructured": row.remittance,
        "bankTransactionCode": row.bank_transaction_code,
    });
    let (name_field, account_field) = if row.amount.is_sign_negative() {
        ("creditorName", "creditorAccount")
    } else {
        ("debtorName", "debtorAccount")
    };
    if let Some(fields) = body.as_object_mut() {
        if with_id {
            fields.insert("transactionId".into(), json!(row.id));
        }
        fields.insert(name_field.into(), json!(row.counterparty_name));
        if let Some(iban) = &row.counterparty_iban {
            fields.insert(account_field.into(), json!({"iban": iban}));
        }
        if let Some(date) = row.booking_date {
            fields.insert("bookingDate".into(), json!(date));
        }
        if let Some(after) = row.balance_after {
            fields.insert(
                "balanceAfterTransaction".into(),
                json!({"balanceType": "closingBooked", "balanceAmount": money(after, CURRENCY)}),
            );
        }
    }
    body
}

fn lookup<'a>(data: &'a PersonaData, id: &str) -> Result<&'a AccountData, BankError> {
    data.account(id)
        .ok_or_else(|| BankError::resource_unknown(format!("No account {id}")))
}

pub async fn list(
    ConsentedData { data, .. }: ConsentedData,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, BankError> {
    let with_balance = query.get("withBalance").is_some_and(|v| v == "true");
    let accounts: Vec<Value> = data
        .accounts
        .iter()
        .map(|a| details(&data, a, with_balance))
        .collect();
    Ok(Json(json!({"accounts": accounts})))
}

pub async fn read(
    ConsentedData { data, .. }: ConsentedData,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, BankError> {
    let account = lookup(&data, &id)?;
    let with_balance = query.get("withBalance").is_some_and(|v| v == "true");
    Ok(Json(
        json!({"account": details(&data, account, with_balance)}),
    ))
}

pub async fn balances_of(
    ConsentedData { data, .. }: ConsentedData,
    Path(id): Path<String>,
) -> Result<Json<Value>, BankError> {
    let account = lookup(&data, &id)?;
    Ok(Json(json!({
        "account": {"iban": account.iban},
        "balances": balances(&data, account),
    })))
}

pub async fn transactions(
    ConsentedData { data, sca_at }: ConsentedData,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, BankError> {
    let account = lookup(&data, &id)?;
    let query = ReportQuery::admitted(&query, &data, sca_at)?;
    let knobs = &data.persona.knobs;
    let with_ids = data.persona.quirk != RowQuirk::TwinsWithoutIds;
    let path = format!("/v1/accounts/{id}/transactions");
    let report = report::page_body(
        &query,
        &path,
        knobs.page_size,
        account.booked_within(query.from, query.to),
        &account.pending,
        |r| r.value_date,
        |r| transaction(r, with_ids),
    );
    let body = match data.persona.quirk {
        RowQuirk::UnsignedBooked => {
            json!({"account": {"iban": account.iban}, "transactions": unsigned_booked(report)})
        }
        RowQuirk::ReportAsDownload => download_offer(&account.iban, &path, &query),
        RowQuirk::None | RowQuirk::TwinsWithoutIds | RowQuirk::BrokenBalance => {
            json!({"account": {"iban": account.iban}, "transactions": report})
        }
    };
    Ok(match knobs.fault {
        Fault::GarbageTransactions => truncated(&body),
        Fault::Hostile(hostility) => {
            let asked = hostile::Asked {
                iban: &account.iban,
                query: &query,
                path: &path,
                headers: &headers,
                uri: &uri,
            };
            hostile::transactions(hostility, &asked, body)
        }
        _ => Json(body).into_response(),
    })
}

/// `report` with its booked amounts quoted without a sign, as the spec's first transactions
/// example quotes them; the side a row names (creditor or debtor) still tells the direction.
fn unsigned_booked(mut report: Value) -> Value {
    let booked = report.get_mut("booked").and_then(Value::as_array_mut);
    for row in booked.into_iter().flatten() {
        if let Some(Value::String(amount)) = row.pointer_mut("/transactionAmount/amount")
            && let Some(unsigned) = amount.strip_prefix('-')
        {
            *amount = unsigned.to_owned();
        }
    }
    report
}

/// The spec's download answer (transactionsExample2_Download_json): no rows, a link to a
/// report file instead, which the bank would serve as camt.05x.
fn download_offer(iban: &str, path: &str, query: &ReportQuery) -> Value {
    json!({
        "account": {"iban": iban},
        "_links": {"download": {"href": format!("{path}/download/{}-{}.xml", query.from, query.to)}},
    })
}

/// `body` cut off halfway, as a bank's proxy might deliver it: a 200 whose JSON never ends.
fn truncated(body: &Value) -> Response {
    let text = body.to_string();
    let mut cut = text.len() / 2;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut text = text;
    text.truncate(cut);
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        text,
    )
        .into_response()
}
