//! The HTTP API: one router per resource, merged here.

mod auth;
mod banks;
mod commands;
pub mod error;
mod health;
mod json;
pub mod openapi;
mod redirections;
mod sandbox;
mod signin_frame;
mod signin_pages;
pub mod throttle;
mod webhooks;

use std::{future::Future, net::SocketAddr};

use axum::Router;
use tokio::net::TcpListener;
use tower_http::trace::TraceLayer;

use crate::state::AppState;

/// The whole API.
pub fn app(state: AppState) -> Router {
    Router::new()
        .merge(commands::router())
        .merge(sandbox::router())
        .merge(redirections::router())
        .merge(signin_pages::router())
        .merge(signin_frame::router())
        .merge(banks::router())
        .merge(webhooks::router())
        .merge(health::router())
        .merge(openapi::router())
        .fallback(|| async { error::ApiError::NotFound })
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Serves the API on `listener` until `shutdown` resolves, then drains open requests.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        app(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
