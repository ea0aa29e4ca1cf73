//! `/v1/card-accounts`: the credit cards, their balances and their transaction reports.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::data_access::ConsentedData;
use crate::errors::BankError;
use crate::ledger::{CardData, CardRow, PersonaData};
use crate::report::{self, ReportQuery, money};

const CURRENCY: &str = "EUR";

fn balances(data: &PersonaData, card: &CardData) -> Value {
    report::balances(card.closing_booked, card.available(), CURRENCY, data.today)
}

fn details(data: &PersonaData, card: &CardData) -> Value {
    let id = &card.resource_id;
    json!({
        "resourceId": id,
        "maskedPan": card.plan.masked_pan,
        "currency": CURRENCY,
        "name": card.plan.name,
        "product": card.plan.product,
        // Debits are quoted negative, as on payment accounts.
        "debitAccounting": false,
        "status": "enabled",
        "usage": "PRIV",
        "creditLimit": money(Decimal::new(card.plan.credit_limit_cents, 2), CURRENCY),
        "balances": balances(data, card),
        "ownerName": data.persona.owner_name,
        "_links": {
            "balances": {"href": format!("/v1/card-accounts/{id}/balances")},
            "transactions": {"href": format!("/v1/card-accounts/{id}/transactions")},
        },
    })
}

fn transaction(card: &CardData, row: &CardRow) -> Value {
    let mut body = json!({
        "cardTransactionId": row.id,
        "transactionDate": row.transaction_date,
        "transactionAmount": money(row.amount, CURRENCY),
        "maskedPAN": card.plan.masked_pan,
        "transactionDetails": row.details,
    });
    if let Some(fields) = body.as_object_mut() {
        if let Some(date) = row.booking_date {
            fields.insert("bookingDate".into(), json!(date));
        }
        if let Some((amount, currency)) = row.original {
            fields.insert("originalAmount".into(), money(amount, currency));
        }
        if let Some(mcc) = row.merchant_category_code {
            fields.insert("merchantCategoryCode".into(), json!(mcc));
        }
        if let Some(acceptor) = &row.card_acceptor_id {
            fields.insert("cardAcceptorId".into(), json!(acceptor));
        }
    }
    body
}

fn lookup<'a>(data: &'a PersonaData, id: &str) -> Result<&'a CardData, BankError> {
    data.card(id)
        .ok_or_else(|| BankError::resource_unknown(format!("No card account {id}")))
}

pub async fn list(ConsentedData { data, .. }: ConsentedData) -> Result<Json<Value>, BankError> {
    let cards: Vec<Value> = data.cards.iter().map(|c| details(&data, c)).collect();
    Ok(Json(json!({"cardAccounts": cards})))
}

pub async fn read(
    ConsentedData { data, .. }: ConsentedData,
    Path(id): Path<String>,
) -> Result<Json<Value>, BankError> {
    let card = lookup(&data, &id)?;
    Ok(Json(json!({"cardAccount": details(&data, card)})))
}

pub async fn balances_of(
    ConsentedData { data, .. }: ConsentedData,
    Path(id): Path<String>,
) -> Result<Json<Value>, BankError> {
    let card = lookup(&data, &id)?;
    Ok(Json(json!({
        "cardAccount": {"maskedPan": card.plan.masked_pan},
        "balances": balances(&data, card),
    })))
}

pub async fn transactions(
    ConsentedData { data, sca_at }: ConsentedData,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, BankError> {
    let card = lookup(&data, &id)?;
    let query = ReportQuery::admitted(&query, &data, sca_at)?;
    let report = report::page_body(
        &query,
        &format!("/v1/card-accounts/{id}/transactions"),
        data.persona.knobs.page_size,
        card.booked_within(query.from, query.to),
        &card.pending,
        |r| r.transaction_date,
        |r| transaction(card, r),
    );
    Ok(Json(json!({
        "cardAccount": {"maskedPan": card.plan.masked_pan},
        "debitAccounting": false,
        "cardTransactions": report,
    })))
}
