//! A command's transactions page by page, for an account or a card.
//!
//! The order is the result's: booked rows, then pending ones, each newest first and then by
//! identity. A page ends with an opaque cursor naming its last row; the next page starts
//! strictly after that row (keyset pagination), so rows are neither skipped nor repeated
//! whatever the page sizes, and a page costs the same at any depth.

use axum::{
    Json, Router,
    extract::{Path, Query, State, rejection::QueryRejection},
    routing::get,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{auth::Authenticated, error::ApiError};
use crate::{
    model::result::{CardTransactionView, TransactionView},
    state::AppState,
    store::{
        commands,
        results::{self, RowKey, RowStatus, Scope},
    },
};

const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 1_000;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/commands/{command_id}/accounts/{account_id}/transactions",
            get(account_transactions),
        )
        .route(
            "/v1/commands/{command_id}/cards/{card_id}/transactions",
            get(card_transactions),
        )
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Rows per page, 1 to 1000; default 100.
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
    /// `nextCursor` from the previous page; absent for the first page.
    cursor: Option<String>,
}

/// One page of an account's transactions.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TransactionPage {
    pub transactions: Vec<TransactionView>,
    /// Absent on the last page.
    pub next_cursor: Option<String>,
}

/// One page of a card's transactions.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CardTransactionPage {
    pub transactions: Vec<CardTransactionView>,
    /// Absent on the last page.
    pub next_cursor: Option<String>,
}

/// Where the previous page ended: the status and key of its last row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Cursor {
    status: RowStatus,
    #[serde(flatten)]
    key: RowKey,
}

impl Cursor {
    /// Hex of a small JSON document: opaque to clients, who only hand it back.
    fn encode(&self) -> String {
        hex::encode(serde_json::to_vec(self).unwrap_or_default())
    }

    fn decode(text: &str) -> Result<Self, ApiError> {
        hex::decode(text)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or_else(|| ApiError::InvalidParameter("`cursor` is not one this API gave".into()))
    }
}

/// A command's account transactions, page by page.
#[utoipa::path(
    get,
    path = "/v1/commands/{command_id}/accounts/{account_id}/transactions",
    operation_id = "account_transactions",
    tag = "Commands",
    params(
        ("command_id" = String, Path, format = Uuid, description = "From the Default Import's answer"),
        ("account_id" = String, Path, description = "The account's `bankAccountId` in the result"),
        PageQuery,
    ),
    responses(
        (status = 200, description = "One page of the account's transactions, and the cursor of the next.", body = TransactionPage),
    ),
)]
async fn account_transactions(
    State(state): State<AppState>,
    Authenticated(client): Authenticated,
    Path((command_id, account_id)): Path<(String, String)>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Json<TransactionPage>, ApiError> {
    let (scope, limit, cursor) = page_request(&state, client.id, &command_id, query).await?;
    let account = results::find_account(&state.pool, scope, &account_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let (transactions, more) = page(limit, cursor, |status, after, limit| {
        let pool = state.pool.clone();
        async move {
            results::transactions_batch(&pool, scope, account, status, after.as_ref(), limit).await
        }
    })
    .await?;
    Ok(Json(TransactionPage {
        next_cursor: more.zip(transactions.last()).map(|(status, last)| {
            Cursor {
                status,
                key: RowKey::of_transaction(last),
            }
            .encode()
        }),
        transactions,
    }))
}

/// A command's card transactions, page by page.
#[utoipa::path(
    get,
    path = "/v1/commands/{command_id}/cards/{card_id}/transactions",
    operation_id = "card_transactions",
    tag = "Commands",
    params(
        ("command_id" = String, Path, format = Uuid, description = "From the Default Import's answer"),
        ("card_id" = String, Path, description = "The card's `bankCardId` in the result"),
        PageQuery,
    ),
    responses(
        (status = 200, description = "One page of the card's transactions, and the cursor of the next.", body = CardTransactionPage),
    ),
)]
async fn card_transactions(
    State(state): State<AppState>,
    Authenticated(client): Authenticated,
    Path((command_id, card_id)): Path<(String, String)>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Json<CardTransactionPage>, ApiError> {
    let (scope, limit, cursor) = page_request(&state, client.id, &command_id, query).await?;
    let card = results::find_card(&state.pool, scope, &card_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let (transactions, more) = page(limit, cursor, |status, after, limit| {
        let pool = state.pool.clone();
        async move {
            results::card_transactions_batch(&pool, scope, card, status, after.as_ref(), limit)
                .await
        }
    })
    .await?;
    Ok(Json(CardTransactionPage {
        next_cursor: more.zip(transactions.last()).map(|(status, last)| {
            Cursor {
                status,
                key: RowKey::of_card_transaction(last),
            }
            .encode()
        }),
        transactions,
    }))
}

/// The command's scope, if it presents a result, with the page's limit and cursor.
async fn page_request(
    state: &AppState,
    client_id: Uuid,
    command_id: &str,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<(Scope, i64, Option<Cursor>), ApiError> {
    let command_id = Uuid::parse_str(command_id).map_err(|_| ApiError::InvalidCommandId)?;
    let Query(query) = query.map_err(|e| ApiError::InvalidParameter(e.body_text()))?;
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::InvalidParameter(format!(
            "`limit` must be 1 to {MAX_LIMIT}"
        )));
    }
    let cursor = query.cursor.as_deref().map(Cursor::decode).transpose()?;
    let command = commands::find_for_client(&state.pool, client_id, command_id)
        .await?
        .ok_or(ApiError::InvalidCommandId)?;
    if let Some(deleted_at) = command.data_deleted_at {
        return Err(ApiError::DataDeleted(
            deleted_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        ));
    }
    // Rows are presented only with the result they belong to: never while a run may still be
    // writing them, nor after a failure that discards them.
    if !command.presents_result() {
        return Err(ApiError::NotFound);
    }
    Ok((
        Scope {
            client_id,
            command_id,
        },
        limit,
        cursor,
    ))
}

/// Up to `limit` rows after `cursor`, booked then pending, and, when more rows follow, the
/// status of the page's last row (its cursor's status).
async fn page<T, Batch>(
    limit: i64,
    cursor: Option<Cursor>,
    read: impl Fn(RowStatus, Option<RowKey>, i64) -> Batch,
) -> Result<(Vec<T>, Option<RowStatus>), sqlx::Error>
where
    Batch: Future<Output = Result<Vec<T>, sqlx::Error>>,
{
    let (mut status, mut after) = match cursor {
        Some(cursor) => (cursor.status, Some(cursor.key)),
        None => (RowStatus::Booked, None),
    };
    let mut rows = Vec::new();
    let mut last_status = status;
    loop {
        let wanted = limit - rows.len() as i64;
        // One row more than wanted says whether another page follows.
        let mut batch = read(status, after.clone(), wanted + 1).await?;
        let more = batch.len() as i64 > wanted;
        batch.truncate(wanted as usize);
        if !batch.is_empty() {
            last_status = status;
        }
        rows.extend(batch);
        if more {
            return Ok((rows, Some(last_status)));
        }
        match status {
            RowStatus::Booked => {
                status = RowStatus::Pending;
                after = None;
            }
            RowStatus::Pending => return Ok((rows, None)),
        }
    }
}
