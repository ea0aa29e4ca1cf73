//! A simulated bank speaking the Berlin Group NextGenPSD2 account-information subset, with
//! deterministic personas, for Aisle's tests, demos and local development.
//!
//! Sign-in is a redirect SCA: `POST /v1/consents` answers with an `scaRedirect` link to the
//! bank's SCA page. There the PSU logs in (when the TPP sent no `PSU-ID`), enters
//! [`TEST_PASSWORD`] and [`TEST_OTP`] and approves, which makes the consent `valid` and sends
//! the PSU back to the TPP. A test does the same headlessly: it posts the page's form, with
//! `decision=approve`, and expects a `303`. The README lists the personas.

pub mod account_service;
mod accounts;
mod activity;
mod cards;
mod consents;
mod data_access;
mod errors;
mod form_identities;
mod history;
mod knobs;
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
pub use sca::{TEST_OTP, TEST_PASSWORD};

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
        .route("/sca/{id}", get(sca::page).post(sca::submit))
        .merge(data_routes(state.clone()))
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

/// The AIS data calls, each admitted (and perhaps faulted) by [`data_access::gate`].
fn data_routes(state: BankState) -> Router<BankState> {
    Router::new()
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
        .route_layer(axum::middleware::from_fn_with_state(
            state,
            data_access::gate,
        ))
}

/// Serves the bank on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    options: SandboxOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::serve::ListenerExt;
    // Small answers go out at once instead of waiting on Nagle's algorithm; an importer
    // paging through `big` makes over a thousand of them on one connection.
    let listener = listener.tap_io(|tcp| {
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%error, "could not set TCP_NODELAY");
        }
    });
    axum::serve(listener, app(options))
        .with_graceful_shutdown(shutdown)
        .await
}

/// The value persona `login` types into the sign-in form field `field` of the partner account
/// or account service face (`accountReference`, `birthDate`, `legalId`, `phoneNumber`, `otp`);
/// `None` for an unknown login or field. Aisle's headless sandbox sign-in fills forms with it.
pub fn form_answer(login: &str, field: &str) -> Option<String> {
    form_identities::form_answer(login, field)
}
