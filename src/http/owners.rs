//! The owner view: everything a client imported for one of its owners, across banks.

use axum::{
    Json, Router,
    extract::{Path, State},
    routing::get,
};

use super::{auth::Authenticated, error::ApiError};
use crate::{
    model::{input::OwnerExternalId, owner::OwnerOverview},
    state::AppState,
    store::owners,
};

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/owners/{owner_external_id}", get(get_owner))
}

/// Reads every import of one owner across banks, newest first, and what they add up to.
///
/// Each import lists its owners, accounts and cards with balances and receipts; transactions
/// are read through each account's `transactions` link (paged) or the import's `result`. The
/// aggregate counts each account once (the same IBAN, else the same bank and account id, from
/// the newest import that has it) and totals one balance per account per currency, exactly:
/// `closingBooked` first, then `interimBooked`, `expected`, `openingBooked`,
/// `interimAvailable`, `forwardAvailable`. Cards are not totalled.
#[utoipa::path(
    get,
    path = "/v1/owners/{owner_external_id}",
    operation_id = "get_owner",
    tag = "Owners",
    params(("owner_external_id" = OwnerExternalId, Path, description = "The client's own id for the owner, percent-encoded")),
    responses(
        (status = 200, description = "The owner's imports, newest first, with their aggregate.", body = OwnerOverview),
    ),
)]
async fn get_owner(
    State(state): State<AppState>,
    Authenticated(client): Authenticated,
    Path(owner_external_id): Path<String>,
) -> Result<Json<OwnerOverview>, ApiError> {
    let owner = OwnerExternalId::parse(&owner_external_id)
        .map_err(|reason| ApiError::invalid("ownerExternalId", reason))?;
    let overview = owners::overview(&state.pool, client.id, owner.as_str())
        .await?
        .ok_or(ApiError::InvalidOwnerExternalId)?;
    Ok(Json(overview))
}
