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
mod authorisations;
mod cards;
mod chaos;
pub mod cli;
mod consents;
mod data_access;
mod errors;
mod form_identities;
mod history;
mod hostile;
mod inspect;
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
use axum::handler::Handler;
use axum::routing::{get, post};

pub use authorisations::APP_MESSAGE;
pub use chaos::{DEFAULT_TIMEOUT_HOLD, FaultRate, FaultRateError};
pub use personas::{DECOUPLED_DECISION_AFTER, HOSTILE_PERSONAS, PERSONAS};
pub use sca::{TEST_OTP, TEST_PASSWORD};

use crate::chaos::Chaos;
use crate::state::BankState;

/// How the sandbox bank behaves.
#[derive(Debug, Clone)]
pub struct SandboxOptions {
    /// Added to every response, to make a slow bank.
    pub latency: Duration,
    /// The share of AIS data calls and consent terminations that fail: a 503, a 429 with
    /// `Retry-After: 1`, a cut connection or a held answer, with equal odds.
    pub fault_rate: FaultRate,
    /// How long a faulted call that times out holds its answer.
    pub timeout_hold: Duration,
    /// What the partner account face (`/partner`) expects from its partner.
    pub partner_account: partner_account::PartnerAccountFace,
    /// The client credentials the account service face (`/account-service`) expects.
    pub account_service: account_service::AccountServiceFace,
}

impl Default for SandboxOptions {
    fn default() -> Self {
        Self {
            latency: Duration::ZERO,
            fault_rate: FaultRate::NONE,
            timeout_hold: DEFAULT_TIMEOUT_HOLD,
            partner_account: partner_account::PartnerAccountFace::default(),
            account_service: account_service::AccountServiceFace::default(),
        }
    }
}

/// The whole bank, its state inside.
pub fn app(options: SandboxOptions) -> Router {
    let chaos = Chaos {
        fault_rate: options.fault_rate,
        timeout_hold: options.timeout_hold,
    };
    let state = BankState::new(options.latency, chaos);
    let chaos_layer = axum::middleware::from_fn_with_state(state.clone(), chaos::strike);
    Router::new()
        .route("/v1/consents", post(consents::create))
        .route(
            "/v1/consents/{id}",
            get(consents::read).delete(consents::delete.layer(chaos_layer.clone())),
        )
        .route("/v1/consents/{id}/status", get(consents::status))
        .route(
            "/v1/consents/{id}/authorisations",
            post(authorisations::start),
        )
        .route(
            "/v1/consents/{id}/authorisations/{authorisation}",
            get(authorisations::status).put(authorisations::update),
        )
        .route("/sca/{id}", get(sca::page).post(sca::submit))
        .merge(data_routes(state.clone()).route_layer(chaos_layer))
        .merge(hostile::leak_routes())
        .merge(inspect::routes())
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
/// or account service face (`accountReference`, `birthDate`, `legalId`, `phoneNumber`, `otp`),
/// or of the Berlin Group face's decoupled and embedded approaches (`psuId`, `password`,
/// `otp`); `None` for an unknown login or field. Aisle's headless sandbox sign-in fills forms
/// with it.
pub fn form_answer(login: &str, field: &str) -> Option<String> {
    let berlin_group = personas::persona(login).map(|p| p.login);
    match (field, berlin_group) {
        ("psuId", Some(login)) => Some(login.to_owned()),
        ("password", Some(_)) => Some(TEST_PASSWORD.to_owned()),
        ("otp", Some(_)) => Some(TEST_OTP.to_owned()),
        _ => form_identities::form_answer(login, field),
    }
}
