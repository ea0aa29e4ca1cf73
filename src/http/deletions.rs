//! Deleting imported data on demand, with a signed receipt, and the keys that verify receipts.

use axum::{
    Json, Router,
    extract::{Path, State},
    routing::{delete, get},
};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{auth::Authenticated, error::ApiError};
use crate::{
    commands::deletion::{self, DeletionError},
    deletion_signing::PublishedKey,
    model::{deletion::SignedDeletionReceipt, input::OwnerExternalId},
    state::AppState,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/commands/{command_id}/data",
            delete(delete_command_data),
        )
        .route(
            "/v1/owners/{owner_external_id}/data",
            delete(delete_owner_data),
        )
        .route("/v1/deletion-receipts/keys", get(receipt_keys))
}

impl From<DeletionError> for ApiError {
    fn from(e: DeletionError) -> Self {
        match e {
            DeletionError::UnknownCommand => Self::InvalidCommandId,
            DeletionError::UnknownOwner => Self::InvalidOwnerExternalId,
            DeletionError::CommandInProgress => Self::CommandInProgress,
            DeletionError::Database(db) => db.into(),
        }
    }
}

/// Deletes a finished command's imported data now.
///
/// Owners, accounts, balances, transactions, cards and card transactions go; the command stays,
/// and polling it then answers `dataDeletedAt` and no result. Answers a receipt signed with
/// Ed25519 (verify it with a key from `GET /v1/deletion-receipts/keys`). Deleting again
/// answers a receipt with zero counts.
#[utoipa::path(
    delete,
    path = "/v1/commands/{command_id}/data",
    operation_id = "delete_command_data",
    tag = "Data deletion",
    params(
        ("command_id" = String, Path, format = Uuid, description = "From the Default Import's answer"),
    ),
    responses(
        (status = 200, description = "The data is deleted; the signed receipt says what went.", body = SignedDeletionReceipt),
    ),
)]
async fn delete_command_data(
    State(state): State<AppState>,
    Authenticated(client): Authenticated,
    Path(command_id): Path<String>,
) -> Result<Json<SignedDeletionReceipt>, ApiError> {
    let command_id = Uuid::parse_str(&command_id).map_err(|_| ApiError::InvalidCommandId)?;
    let signed =
        deletion::delete_command_data(&state.pool, &state.receipts, client.id, command_id).await?;
    Ok(Json(signed))
}

/// Deletes the imported data of every command of an owner now, across banks.
///
/// Refused with `CommandInProgress` while one of the owner's imports runs. Answers one signed
/// receipt listing every command; commands whose data had gone before are listed with zero
/// counts.
#[utoipa::path(
    delete,
    path = "/v1/owners/{owner_external_id}/data",
    operation_id = "delete_owner_data",
    tag = "Data deletion",
    params(
        ("owner_external_id" = OwnerExternalId, Path, description = "The client's own id for the owner"),
    ),
    responses(
        (status = 200, description = "The owner's data is deleted; the signed receipt says what went.", body = SignedDeletionReceipt),
    ),
)]
async fn delete_owner_data(
    State(state): State<AppState>,
    Authenticated(client): Authenticated,
    Path(owner): Path<String>,
) -> Result<Json<SignedDeletionReceipt>, ApiError> {
    let owner =
        OwnerExternalId::parse(&owner).map_err(|e| ApiError::invalid("ownerExternalId", e))?;
    let signed =
        deletion::delete_owner_data(&state.pool, &state.receipts, client.id, &owner).await?;
    Ok(Json(signed))
}

/// The public keys deletion receipts are signed with (a JWK set).
#[derive(Debug, Serialize, ToSchema)]
pub struct ReceiptKeys {
    /// The current key first, then retired ones that signed older receipts.
    pub keys: Vec<PublishedKey>,
}

/// The keys that verify deletion receipts: public, so auditors need no API key.
///
/// A receipt's `signature.keyId` names one of them (`kid`). The signature is Ed25519 over the
/// receipt's canonical JSON: keys sorted, no whitespace.
#[utoipa::path(
    get,
    path = "/v1/deletion-receipts/keys",
    operation_id = "deletion_receipt_keys",
    tag = "Data deletion",
    security(()),
    responses(
        (status = 200, description = "The public keys, as a JWK set with each key's PEM form.", body = ReceiptKeys),
    ),
)]
async fn receipt_keys(State(state): State<AppState>) -> Json<ReceiptKeys> {
    Json(ReceiptKeys {
        keys: state.receipts.published(),
    })
}
