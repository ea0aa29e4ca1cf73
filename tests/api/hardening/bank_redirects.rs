//! The bank HTTP client follows no redirects: a bank's 302 to another host would carry the
//! consent id and the other secret headers there.

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use axum::{
    Router,
    http::{StatusCode, header},
    response::IntoResponse,
};
use tokio::net::TcpListener;

use crate::helpers::{Options, spawn_app_configured};

/// A server that counts its requests and answers each with `answer`.
async fn counting_server(
    answer: impl Fn() -> axum::response::Response + Clone + Send + Sync + 'static,
) -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    let router = Router::new().fallback(move || {
        counted.fetch_add(1, Ordering::SeqCst);
        let answer = answer.clone();
        async move { answer() }
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (url, hits)
}

#[tokio::test]
async fn a_banks_redirect_to_another_host_is_never_followed() {
    let (elsewhere, elsewhere_hits) =
        counting_server(|| (StatusCode::OK, "{}").into_response()).await;
    let target = format!("{elsewhere}/collect");
    let (bank, bank_hits) = counting_server(move || {
        (StatusCode::FOUND, [(header::LOCATION, target.clone())]).into_response()
    })
    .await;
    let app = spawn_app_configured(
        Options {
            workers: false,
            ..Options::default()
        },
        |c| c.sandbox_bank.url = Some(bank),
    )
    .await;

    let response = app.sandbox_sign_in(&app.api_key, "sandbox", "alice").await;

    assert_ne!(response.status(), reqwest::StatusCode::CREATED);
    assert!(bank_hits.load(Ordering::SeqCst) >= 1, "the bank was called");
    assert_eq!(
        elsewhere_hits.load(Ordering::SeqCst),
        0,
        "the redirect's target was never called"
    );
}
