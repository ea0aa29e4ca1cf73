//! `/metrics` on its own listener: imports and HTTP requests, in Prometheus text.

use std::time::Duration;

use tokio::net::TcpListener;

use crate::helpers::spawn_app;

#[tokio::test]
async fn metrics_count_imports_and_requests_by_route_on_their_own_listener() {
    let handle = aisle::http::metrics::install().expect("the recorder installs");
    let app = spawn_app().await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let metrics_url = format!("http://{}/metrics", listener.local_addr().unwrap());
    tokio::spawn(aisle::http::metrics::serve(
        listener,
        handle,
        app.pool.clone(),
        std::future::pending(),
    ));

    let command_id = app.start_import("alice").await;
    app.wait_for_command(&command_id, Duration::from_secs(60))
        .await;

    let scraped = app
        .http
        .get(&metrics_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for expected in [
        "aisle_imports_total{bank=\"sandbox\",outcome=\"successful\"}",
        "aisle_import_duration_seconds_bucket",
        "aisle_rows_stored_total{kind=\"transactions\"}",
        "aisle_http_requests_total{route=\"/v1/commands/{command_id}\",status=\"200\"}",
        "aisle_queue_depth",
        "aisle_imports_active",
    ] {
        assert!(scraped.contains(expected), "no {expected} in:\n{scraped}");
    }
    let public = app
        .http
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(
        public.status(),
        reqwest::StatusCode::NOT_FOUND,
        "not on the public API"
    );
}
