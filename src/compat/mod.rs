//! The Kontomatik-compatible face: a client with a working Kontomatik integration switches to
//! Aisle by changing its base URL (and its widget's script URL).
//!
//! It is a second way into the same commands, not a second engine: Default Import starts
//! through [`crate::commands::start`], results are read from the same tables, and every value
//! is mapped in [`mapping`] (the README's "Coming from Kontomatik" lists each mapping).
//!
//! - `POST /v1/command/default-import.xml`, `GET /v1/command/{id}.xml`,
//!   `POST /v1/command/sign-out.xml`, `GET /v1/data.xml`, `POST /v1/mock-session.xml`: XML
//!   replies ([`xml`]), form-encoded requests, the key in `X-Api-Key` or an `apiKey` parameter
//!   ([`caller`]);
//! - `POST /v1/signin/redirection`, `GET /v1/signin/redirection-status`: JSON aliases of the
//!   redirections ([`redirection`]).
//!
//! Data removal endpoints are not offered until retention exists (issue 12).

mod caller;
mod commands;
mod error;
mod mapping;
mod redirection;
mod xml;

use axum::{
    Router,
    routing::{get, post},
};

pub use caller::hide_legacy_api_key;

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/command/default-import.xml",
            post(commands::default_import),
        )
        .route("/v1/command/sign-out.xml", post(commands::sign_out))
        .route("/v1/command/{file}", get(commands::get_command))
        .route("/v1/data.xml", get(commands::owner_data))
        .route("/v1/mock-session.xml", post(commands::mock_session))
        .route("/v1/signin/redirection", post(redirection::create))
        .route("/v1/signin/redirection-status", get(redirection::status))
}
