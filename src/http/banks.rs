//! The coverage catalog: which banks Aisle reaches.

use axum::{Json, Router, extract::State, routing::get};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{model::input::BankId, state::AppState};

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/banks", get(list_banks))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(examples(json!({
    "id": "sandbox", "name": "Sandbox Bank", "country": "DE", "connector": "berlin-group",
    "signIn": "redirect", "sandbox": true, "historyDays": 730,
    "scope": ["owners", "accounts", "balances", "transactions", "cards"],
})))]
pub struct BankView {
    #[schema(value_type = BankId)]
    pub id: String,
    pub name: String,
    /// ISO 3166-1 alpha-2.
    #[schema(pattern = "^[A-Z]{2}$")]
    pub country: String,
    pub connector: String,
    pub sign_in: SignInMethod,
    pub sandbox: bool,
    pub history_days: u32,
    /// Parts of the scope the bank offers.
    pub scope: Vec<ScopeItem>,
}

/// Where the owner authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SignInMethod {
    /// On the bank's own page.
    Redirect,
    /// In a form Aisle shows.
    Form,
}

impl SignInMethod {
    /// The registry writes `redirect` or `form`; redirection is what banks do by default.
    fn from_registry(text: &str) -> Self {
        if text == "form" {
            Self::Form
        } else {
            Self::Redirect
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ScopeItem {
    Owners,
    Accounts,
    Balances,
    Transactions,
    Cards,
}

/// Lists the banks in the registry. Public: the sign-in widget shows it before any client
/// authentication.
#[utoipa::path(
    get,
    path = "/v1/banks",
    operation_id = "list_banks",
    tag = "Banks",
    security(()),
    responses((status = 200, description = "The banks Aisle reaches.", body = Vec<BankView>)),
)]
async fn list_banks(State(state): State<AppState>) -> Json<Vec<BankView>> {
    let banks = state
        .registry
        .banks()
        .map(|bank| {
            let profile = bank.connector.profile();
            let supports = profile.supports;
            let scope = [
                (supports.owners, ScopeItem::Owners),
                (true, ScopeItem::Accounts),
                (supports.balances, ScopeItem::Balances),
                (supports.transactions, ScopeItem::Transactions),
                (supports.cards, ScopeItem::Cards),
            ]
            .into_iter()
            .filter_map(|(offered, item)| offered.then_some(item))
            .collect();
            BankView {
                id: bank.entry.id.clone(),
                name: bank.entry.name.clone(),
                country: bank.entry.country.clone(),
                connector: bank.entry.connector.clone(),
                sign_in: SignInMethod::from_registry(&bank.entry.sign_in),
                sandbox: bank.entry.sandbox,
                history_days: profile.history_days,
                scope,
            }
        })
        .collect();
    Json(banks)
}
