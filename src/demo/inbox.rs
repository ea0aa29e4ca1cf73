//! The demo client's webhook receiver: Aisle posts its signed events to the demo's own origin,
//! which verifies them as any client's backend would and keeps the latest for the page.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
};

use axum::{
    Json, Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    routing::{get, post},
};
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::webhooks::signing::SigningSecret;

/// Events kept for the page.
const KEPT: usize = 50;
/// How old a `webhook-timestamp` may be: older messages could be replays.
const TOLERANCE_SECS: i64 = 5 * 60;

/// What the demo received, newest first.
pub struct Inbox {
    secret: SigningSecret,
    received: Mutex<VecDeque<Received>>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct Received {
    webhook_id: String,
    received_at: DateTime<Utc>,
    /// Whether the signature and timestamp checked out; a message that did not is answered
    /// 401 and shown so.
    verified: bool,
    payload: serde_json::Value,
}

impl Inbox {
    /// An inbox verifying with the endpoint's secret.
    pub fn new(secret: SigningSecret) -> Arc<Self> {
        Arc::new(Self {
            secret,
            received: Mutex::new(VecDeque::new()),
        })
    }

    /// Whether the headers carry a fresh, valid signature of `body`.
    fn verifies(&self, headers: &HeaderMap, body: &[u8]) -> Option<String> {
        let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
        let id = header("webhook-id")?;
        let timestamp: i64 = header("webhook-timestamp")?.parse().ok()?;
        let fresh = (Utc::now().timestamp() - timestamp).abs() <= TOLERANCE_SECS;
        (fresh
            && self
                .secret
                .verify(id, timestamp, body, header("webhook-signature")?))
        .then(|| id.to_string())
    }
}

/// `POST /demo/webhooks` (Aisle's deliveries) and `GET /demo/api/webhooks` (the page's view).
pub fn router(inbox: Arc<Inbox>) -> Router {
    Router::new()
        .route("/demo/webhooks", post(receive))
        .route("/demo/api/webhooks", get(list))
        .with_state(inbox)
}

async fn receive(State(inbox): State<Arc<Inbox>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let verified = inbox.verifies(&headers, &body);
    let payload = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    let mut received = inbox.received.lock().unwrap_or_else(|e| e.into_inner());
    let status = match &verified {
        // At least once: a repeat of a message already taken is acknowledged, not shown twice.
        Some(id) if received.iter().any(|r| r.verified && &r.webhook_id == id) => {
            return StatusCode::NO_CONTENT;
        }
        Some(_) => StatusCode::NO_CONTENT,
        None => StatusCode::UNAUTHORIZED,
    };
    let webhook_id = headers
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    received.push_front(Received {
        webhook_id,
        received_at: Utc::now(),
        verified: verified.is_some(),
        payload,
    });
    received.truncate(KEPT);
    status
}

async fn list(State(inbox): State<Arc<Inbox>>) -> Json<Vec<Received>> {
    let received = inbox.received.lock().unwrap_or_else(|e| e.into_inner());
    Json(received.iter().cloned().collect())
}
