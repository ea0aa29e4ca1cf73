//! A simulated bank speaking the Berlin Group NextGenPSD2 account-information subset, with
//! deterministic personas, for Aisle's tests, demos and local development.
//!
//! Sign-in is a redirect SCA: `POST /v1/consents` answers with an `scaRedirect` link; the PSU
//! approves there (or a test posts to [`headless_approval_url`]) and the consent turns `valid`.

pub mod account_service;
mod accounts;
mod activity;
mod cards;
mod consents;
mod errors;
mod form_identities;
mod ledger;
mod middleware;
pub mod partner_account;
mod personas;
mod report;
mod sca;
mod state;

use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};

pub use personas::PERSONAS;

use crate::state::BankState;

/// How the sandbox bank behaves.
#[derive(Debug, Clone, Default)]
pub struct SandboxOptions {
    /// Added to every response, to make a slow bank.
    pub latency: Duration,
    /// What the partner account face (`/partner`) expects from its partner.
    pub partner_account: partner_account::PartnerAccountFace,
    /// The client credentials the account service face (`/account-service`) expects.
    pub account_service: account_service::AccountServiceFace,
}

/// The whole bank, its state inside.
pub fn app(options: SandboxOptions) -> Router {
    let state = BankState::new(options.latency);
    Router::new()
        .route("/v1/consents", post(consents::create))
        .route(
            "/v1/consents/{id}",
            get(consents::read).delete(consents::delete),
        )
        .route("/v1/consents/{id}/status", get(consents::status))
        .route("/sca/{id}", get(sca::page))
        .route("/sca/{id}/approve", post(sca::approve))
        .route("/v1/accounts", get(accounts::list))
        .route("/v1/accounts/{id}", get(accounts::read))
        .route("/v1/accounts/{id}/balances", get(accounts::balances_of))
        .route(
            "/v1/accounts/{id}/transactions",
            get(accounts::transactions),
        )
        .route("/v1/card-accounts", get(cards::list))
        .route("/v1/card-accounts/{id}", get(cards::read))
        .route("/v1/card-accounts/{id}/balances", get(cards::balances_of))
        .route(
            "/v1/card-accounts/{id}/transactions",
            get(cards::transactions),
        )
        .nest(
            "/partner",
            partner_account::router(&options.partner_account),
        )
        .nest(
            "/account-service",
            account_service::router(&options.account_service),
        )
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::latency_and_request_id,
        ))
        .with_state(state)
}

/// Serves the bank on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    options: SandboxOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app(options))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Turns a consent's `_links.scaRedirect.href` into the URL that approves it without a browser
/// (the headless path used by Aisle's `/v1/sandbox/sessions`): POST to it, no body.
pub fn headless_approval_url(sca_redirect: &str) -> String {
    format!("{sca_redirect}/approve")
}

/// The value persona `login` types into the sign-in form field `field` of the partner account
/// or account service face (`accountReference`, `birthDate`, `legalId`, `phoneNumber`, `otp`);
/// `None` for an unknown login or field. Aisle's headless sandbox sign-in fills forms with it.
pub fn form_answer(login: &str, field: &str) -> Option<String> {
    form_identities::form_answer(login, field)
}
