//! The dev stack's demo client, "Acme Lending": a web page on an origin of its own that embeds
//! the widget exactly as a client's page would, and a tiny backend that takes `onSuccess`,
//! posts Default Import with the demo client's API key, and relays the result to the page.
//! The key stays on this side: the page only ever talks to its own backend. With an
//! [`inbox::Inbox`] it also receives Aisle's webhooks on its own origin and shows them.

pub mod inbox;

use std::{future::Future, sync::Arc};

use axum::{
    Json, Router,
    body::Bytes,
    extract::{Path, State},
    http::{HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Redirect, Response},
    routing::{get, post},
};
use serde::Deserialize;
use tokio::net::TcpListener;
use uuid::Uuid;

const DEMO_HTML: &str = include_str!("assets/demo.html");
const DEMO_JS: &str = include_str!("assets/demo.js");
const DEMO_CSS: &str = include_str!("assets/demo.css");

/// What the demo backend knows: where Aisle is and the demo client's credentials.
#[derive(Clone)]
pub struct Demo {
    pub aisle_url: String,
    pub client_id: Uuid,
    pub api_key: String,
    pub http: reqwest::Client,
}

pub fn router(demo: Demo) -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::to("/demo") }))
        .route("/demo", get(page))
        .route(
            "/demo/demo.js",
            get(|| async { ([(header::CONTENT_TYPE, "text/javascript")], DEMO_JS) }),
        )
        .route(
            "/demo/demo.css",
            get(|| async { ([(header::CONTENT_TYPE, "text/css")], DEMO_CSS) }),
        )
        .route("/demo/api/imports", post(start_import))
        .route("/demo/api/imports/{command_id}", get(import_result))
        .with_state(demo)
}

/// Serves the demo until `shutdown`.
pub async fn serve(
    listener: TcpListener,
    demo: Demo,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(demo))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Serves the demo with its webhook receiver until `shutdown`.
pub async fn serve_with_inbox(
    listener: TcpListener,
    demo: Demo,
    inbox: Arc<inbox::Inbox>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(demo).merge(inbox::router(inbox)))
        .with_graceful_shutdown(shutdown)
        .await
}

async fn page(State(demo): State<Demo>) -> Response {
    let aisle = demo.aisle_url.trim_end_matches('/');
    let body = DEMO_HTML
        .replace("__AISLE_URL__", aisle)
        .replace("__CLIENT_ID__", &demo.client_id.to_string());
    let csp = format!(
        "default-src 'none'; script-src 'self' {aisle}; frame-src {aisle}; style-src 'self'; \
         connect-src 'self'; img-src 'self' data:; base-uri 'none'; frame-ancestors 'none'"
    );
    let mut response = Html(body).into_response();
    if let Ok(csp) = HeaderValue::from_str(&csp) {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    response
}

/// What the page posts from `onSuccess`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SignedIn {
    session_id: String,
    session_id_signature: String,
}

async fn start_import(State(demo): State<Demo>, Json(signed_in): Json<SignedIn>) -> Response {
    let request = demo
        .http
        .post(format!("{}/v1/commands/default-import", demo.aisle_url))
        .bearer_auth(&demo.api_key)
        .json(&serde_json::json!({
            "sessionId": signed_in.session_id,
            "sessionIdSignature": signed_in.session_id_signature,
        }));
    relay(request).await
}

async fn import_result(State(demo): State<Demo>, Path(command_id): Path<Uuid>) -> Response {
    let request = demo
        .http
        .get(format!("{}/v1/commands/{command_id}", demo.aisle_url))
        .bearer_auth(&demo.api_key);
    relay(request).await
}

/// Aisle's answer, status and body as they came: the page shows problems as they are.
async fn relay(request: reqwest::RequestBuilder) -> Response {
    let answered = match request.send().await {
        Ok(response) => response,
        Err(e) => {
            tracing::warn!(error = %e, "the demo backend cannot reach Aisle");
            return (StatusCode::BAD_GATEWAY, "Aisle is unreachable").into_response();
        }
    };
    let status = answered.status();
    let content_type = answered
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("application/json")
        .to_string();
    let body = answered.bytes().await.unwrap_or_else(|_| Bytes::new());
    (status, [(header::CONTENT_TYPE, content_type)], body).into_response()
}
