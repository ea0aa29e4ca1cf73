//! What every response gets: the configured latency, the persona's own extra latency, and
//! the caller's `X-Request-ID` echoed.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::consents::header_str;
use crate::personas::{Persona, persona};
use crate::state::BankState;

pub async fn latency_and_request_id(
    State(state): State<BankState>,
    request: Request,
    next: Next,
) -> Response {
    let request_id = request.headers().get("x-request-id").cloned();
    let persona_latency = persona_of(&state, &request).map(|p| p.knobs.extra_latency);
    let mut response = next.run(request).await;
    let latency = state.latency() + persona_latency.unwrap_or_default();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if let Some(id) = request_id {
        response.headers_mut().insert("x-request-id", id);
    }
    response
}

/// The persona a request is about, as far as the bank can tell before handling it: from the
/// consent it names (header or path), else from `PSU-ID`.
pub(crate) fn persona_of(state: &BankState, request: &Request) -> Option<&'static Persona> {
    let headers = request.headers();
    let path = request.uri().path();
    let consent_id = header_str(headers, "consent-id").or_else(|| {
        path.strip_prefix("/sca/")
            .or_else(|| path.strip_prefix("/v1/consents/"))
            .and_then(|rest| rest.split('/').next())
    });
    match consent_id {
        Some(id) => state.consent(id).and_then(|c| c.persona),
        None => header_str(headers, "psu-id").and_then(persona),
    }
}
