//! `/metrics` in Prometheus text format, on its own listener (`metrics_listen`), so that the
//! public API never exposes it. Metrics are recorded through the `metrics` facade wherever
//! they arise; this module installs the recorder and serves what it rendered.
//!
//! What is recorded (names as scraped):
//! - `aisle_http_requests_total{route,status}`, `aisle_http_request_duration_seconds{route}`;
//! - `aisle_imports_total{bank,outcome}`, `aisle_import_duration_seconds{bank}`,
//!   `aisle_imports_active`, `aisle_import_pickup_seconds` (command created → run started),
//!   `aisle_rows_stored_total{kind}`, `aisle_rows_store_seconds` (each store of rows while an
//!   import fetches);
//! - `aisle_bank_calls_total{bank,endpoint,status}`, `aisle_bank_call_duration_seconds{bank,endpoint}`,
//!   `aisle_bank_retries_total{bank,endpoint,reason}`, `aisle_bank_rate_limit_waits_total{bank,source}`
//!   and `aisle_bank_rate_limit_wait_seconds{bank,source}` (recorded in `engine::pace`);
//! - `aisle_queue_depth`, `aisle_queue_oldest_pending_seconds`, sampled at each scrape.

use std::{
    future::Future,
    sync::OnceLock,
    time::{Duration, Instant},
};

use axum::{
    Router,
    extract::{MatchedPath, Request, State},
    middleware::Next,
    response::{IntoResponse, Response},
    routing::get,
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use sqlx::PgPool;
use tokio::net::TcpListener;

use crate::store::queue;

/// Histogram buckets for every `*_seconds` metric: 1 ms to 5 minutes.
const SECONDS_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];

/// Installs the process's Prometheus recorder once; later calls return the same handle.
/// `None` if another recorder was installed first (then nothing is exported here).
pub fn install() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)
                .ok()?;
            match builder.install_recorder() {
                Ok(handle) => Some(handle),
                Err(e) => {
                    tracing::warn!(error = %e, "metrics are not exported");
                    None
                }
            }
        })
        .as_ref()
}

#[derive(Clone)]
struct Scrape {
    handle: &'static PrometheusHandle,
    queue_pool: PgPool,
}

/// Serves `/metrics` on `listener` until `shutdown`.
pub async fn serve(
    listener: TcpListener,
    handle: &'static PrometheusHandle,
    queue_pool: PgPool,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/metrics", get(render))
        .with_state(Scrape { handle, queue_pool });
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

async fn render(State(scrape): State<Scrape>) -> Response {
    // The queue is sampled when scraped: exact when read, and free when nobody reads.
    let sampled = tokio::time::timeout(Duration::from_secs(2), queue::depth(&scrape.queue_pool));
    match sampled.await {
        Ok(Ok((depth, oldest))) => {
            metrics::gauge!("aisle_queue_depth").set(depth as f64);
            metrics::gauge!("aisle_queue_oldest_pending_seconds").set(oldest);
        }
        Ok(Err(e)) => tracing::debug!(error = %e, "could not sample the queue"),
        Err(_) => tracing::debug!("sampling the queue timed out"),
    }
    scrape.handle.run_upkeep();
    (
        [("content-type", "text/plain; version=0.0.4")],
        scrape.handle.render(),
    )
        .into_response()
}

/// Counts and times every request by its route (the pattern, never the path: ids would make
/// one series per command).
pub async fn record_request(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("aisle_http_requests_total", "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("aisle_http_request_duration_seconds", "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}
