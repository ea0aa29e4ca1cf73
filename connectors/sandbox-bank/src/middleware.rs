//! What every response gets: the configured latency and the caller's `X-Request-ID` echoed.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::state::BankState;

pub async fn latency_and_request_id(
    State(state): State<BankState>,
    request: Request,
    next: Next,
) -> Response {
    let request_id = request.headers().get("x-request-id").cloned();
    let mut response = next.run(request).await;
    let latency = state.latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if let Some(id) = request_id {
        response.headers_mut().insert("x-request-id", id);
    }
    response
}
