//! The client console under `/console`: a client's staff sign in (password and TOTP) and see
//! their owners, imports and usage, and manage keys, allowlists, sign-in places, auto import,
//! retention, webhooks and staff, each as their role allows.
//!
//! Server-rendered with minijinja; the only script is htmx (vendored), which refreshes the
//! imports list. Every page reads through the signed-in member's client id and nothing else,
//! so another client's owner, command, key or webhook is simply not found.

mod activity;
pub mod auth;
mod charts;
pub mod explain;
mod owners;
mod settings;
mod views;

use axum::{
    Router,
    extract::Request,
    http::{HeaderValue, header},
    middleware::{self, Next},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};

use crate::state::AppState;

const CSS: &str = include_str!("../../templates/console/static/console.css");
const HTMX: &str = include_str!("../../templates/console/static/htmx.min.js");

/// The console's routes, with its CSRF check and its security headers.
pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route(
            "/console",
            get(|| async { Redirect::to("/console/owners") }),
        )
        .route("/console/login", get(auth::login_page).post(auth::login))
        .route("/console/logout", post(auth::logout))
        .route(
            "/console/setup/{token}",
            get(auth::setup_form).post(auth::setup),
        )
        .route("/console/owners", get(owners::list))
        .route("/console/owners/{owner}", get(owners::page))
        .route(
            "/console/owners/{owner}/transactions.csv",
            get(owners::transactions_csv),
        )
        .route("/console/owners/{owner}/data.json", get(owners::data_json))
        .route("/console/imports", get(activity::imports))
        .route("/console/imports/rows", get(activity::import_rows))
        .route("/console/usage", get(activity::usage))
        .route("/console/settings", get(settings::page))
        .route("/console/settings/keys", post(settings::create_key))
        .route(
            "/console/settings/keys/{key}/name",
            post(settings::name_key),
        )
        .route(
            "/console/settings/keys/{key}/revoke",
            post(settings::revoke_key),
        )
        .route("/console/settings/ips", post(settings::set_ips))
        .route(
            "/console/settings/signin-places",
            post(settings::set_signin_places),
        )
        .route(
            "/console/settings/auto-import",
            post(settings::set_auto_import),
        )
        .route("/console/settings/retention", post(settings::set_retention))
        .route("/console/settings/webhooks", post(settings::create_webhook))
        .route(
            "/console/settings/webhooks/{webhook}/delete",
            post(settings::delete_webhook),
        )
        .route(
            "/console/users",
            get(settings::users).post(settings::invite),
        )
        .route("/console/users/{user}/role", post(settings::set_role))
        .route("/console/users/{user}/remove", post(settings::remove_user))
        .route(
            "/console/assets/console.css",
            get(|| async { asset(CSS, "text/css; charset=utf-8") }),
        )
        .route(
            "/console/assets/htmx.min.js",
            get(|| async { asset(HTMX, "text/javascript; charset=utf-8") }),
        )
        .layer(middleware::from_fn_with_state(state, auth::check_csrf))
        .layer(middleware::from_fn(protect))
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            ),
        ],
        body,
    )
        .into_response()
}

/// Console pages hold bank data and capabilities: never cached, never framed, scripts and
/// styles from Aisle only, and no referrer leaving with a setup link or an owner's id.
async fn protect(request: Request, next: Next) -> Response {
    let is_asset = request.uri().path().starts_with("/console/assets/");
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    if !is_asset {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}
