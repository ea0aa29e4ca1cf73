//! The HTTP API: one router per resource, merged here.

pub mod auth;
mod banks;
mod browser_binding;
mod commands;
mod deletions;
pub mod error;
pub(crate) mod exports;
mod health;
pub(crate) mod json;
pub mod metrics;
pub mod openapi;
mod owners;
mod pages;
pub(crate) mod privacy;
mod redirections;
mod result_body;
mod sandbox;
mod settings;
pub(crate) mod signin_frame;
mod signin_pages;
mod templates;
pub mod throttle;
mod webhooks;

use std::{future::Future, sync::Arc, time::Duration};

use axum::{
    Router,
    extract::{ConnectInfo, DefaultBodyLimit, Request, State},
    http::header::CONTENT_LENGTH,
    middleware::{self, Next},
    response::{IntoResponse, Response},
};
use hyper::{body::Incoming, server::conn::http1};
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    server::graceful::GracefulShutdown,
};
use tokio::{net::TcpListener, sync::Semaphore, task::JoinSet};
use tower::ServiceExt;
use tower_http::trace::TraceLayer;

use crate::{config::HttpConfig, state::AppState};

/// The whole API, with its body limit and request timeout from `state.config.http`.
pub fn app(state: AppState) -> Router {
    let limits = &state.config.http;
    Router::new()
        .merge(commands::router())
        .merge(pages::router())
        .merge(exports::router())
        .merge(owners::router())
        .merge(sandbox::router())
        .merge(redirections::router())
        .merge(signin_pages::router())
        .merge(signin_frame::router())
        .merge(banks::router())
        .merge(webhooks::router())
        .merge(deletions::router())
        .merge(settings::router())
        .merge(health::router())
        .merge(openapi::router())
        .merge(crate::compat::router())
        .merge(crate::console::router(state.clone()))
        .fallback(|| async { error::ApiError::NotFound })
        // Extractors stop reading a body of unknown length at the limit...
        .layer(DefaultBodyLimit::max(limits.body_limit))
        // ...and a declared length over it is refused before a byte of it is read.
        .layer(middleware::from_fn_with_state(
            limits.body_limit,
            refuse_declared_large_bodies,
        ))
        .layer(middleware::from_fn_with_state(
            limits.request_timeout,
            time_limit,
        ))
        .layer(middleware::from_fn(error::problems_everywhere))
        .layer(middleware::from_fn_with_state(
            privacy::hsts_for(&state.config.public_url),
            privacy::protect_answers,
        ))
        .layer(middleware::from_fn(metrics::record_request))
        .layer(TraceLayer::new_for_http().make_span_with(privacy::request_span))
        // Outermost, so a legacy `apiKey` is off the URI before the trace span records it.
        .layer(axum::middleware::from_fn(
            crate::compat::hide_legacy_api_key,
        ))
        .with_state(state)
}

async fn refuse_declared_large_bodies(
    State(limit): State<usize>,
    request: Request,
    next: Next,
) -> Response {
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return error::ApiError::PayloadTooLarge.into_response();
    }
    next.run(request).await
}

/// tower-http's `TimeoutLayer` answers with an empty body; this answers problem+json, like
/// every other error. Dropping the handler's future rolls back any transaction it had open.
async fn time_limit(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => error::ApiError::RequestTimeout(limit).into_response(),
    }
}

/// Serves the API on `listener` until `shutdown` resolves, then gives open connections
/// `limits.shutdown_grace` to finish before cutting them.
///
/// Served with hyper directly rather than `axum::serve`, which has no header-read timeout,
/// no connection limit and no bound on its graceful shutdown.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    limits: &HttpConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let router = app(state);
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    // Past the limit, new connections wait in the kernel's listen backlog.
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        while connections.try_join_next().is_some() {}
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot,
            () = &mut shutdown => break,
        };
        // The semaphore is never closed, so this only guards against a future change.
        let Ok(slot) = slot else { break };
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before it was taken:
                    // back off a little rather than spin.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        // The sign-in throttle and the IP allowlist read the peer address from here.
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(remote));
            router.clone().oneshot(request)
        });
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        connections.spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, %remote, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    while connections.try_join_next().is_some() {}
    let open = connections.len();
    if tokio::time::timeout(limits.shutdown_grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            open,
            grace_secs = limits.shutdown_grace.as_secs(),
            "connections still open after the shutdown grace; cutting them"
        );
    }
    connections.shutdown().await;
    Ok(())
}
