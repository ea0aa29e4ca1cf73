//! The coverage catalog: which banks Aisle reaches.

use axum::{Json, Router, extract::State, routing::get};
use serde::Serialize;
use utoipa::ToSchema;

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/banks", get(list_banks))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BankView {
    pub id: String,
    pub name: String,
    pub country: String,
    pub connector: String,
    /// `redirect` or `form`.
    pub sign_in: String,
    pub sandbox: bool,
    pub history_days: u32,
    /// Parts of the scope the bank offers.
    pub scope: Vec<&'static str>,
}

/// Lists the banks in the registry. Public: the sign-in widget shows it before any client
/// authentication.
#[utoipa::path(get, path = "/v1/banks", responses((status = 200, body = Vec<BankView>)))]
async fn list_banks(State(state): State<AppState>) -> Json<Vec<BankView>> {
    let banks = state
        .registry
        .banks()
        .map(|bank| {
            let profile = bank.connector.profile();
            let supports = profile.supports;
            let scope = [
                (supports.owners, "owners"),
                (true, "accounts"),
                (supports.balances, "balances"),
                (supports.transactions, "transactions"),
                (supports.cards, "cards"),
            ]
            .into_iter()
            .filter_map(|(offered, item)| offered.then_some(item))
            .collect();
            BankView {
                id: bank.entry.id.clone(),
                name: bank.entry.name.clone(),
                country: bank.entry.country.clone(),
                connector: bank.entry.connector.clone(),
                sign_in: bank.entry.sign_in.clone(),
                sandbox: bank.entry.sandbox,
                history_days: profile.history_days,
                scope,
            }
        })
        .collect();
    Json(banks)
}
