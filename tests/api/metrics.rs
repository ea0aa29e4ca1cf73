//! `/metrics` on its own listener: imports, bank calls and HTTP requests, in Prometheus text.

use std::time::Duration;

use tokio::net::TcpListener;

use crate::helpers::spawn_app;

#[tokio::test]
async fn metrics_count_imports_bank_calls_and_requests_by_route_on_their_own_listener() {
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
    // The flaky persona answers its 2nd data call 503 and its 6th 429 with `Retry-After`.
    let flaky = app.start_import("flaky").await;
    let flaky = app.wait_for_command(&flaky, Duration::from_secs(60)).await;
    assert_eq!(flaky["state"], "successful", "{flaky}");

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
        "aisle_bank_calls_total{bank=\"sandbox\",endpoint=\"accounts\",status=\"ok\"}",
        "aisle_bank_calls_total{bank=\"sandbox\",endpoint=\"transactions\",status=\"ok\"}",
        "aisle_bank_calls_total{bank=\"sandbox\",endpoint=\"card_transactions\",status=\"ok\"}",
        "aisle_bank_call_duration_seconds_bucket{bank=\"sandbox\",endpoint=\"accounts\",le=",
        "aisle_bank_retries_total{bank=\"sandbox\",endpoint=",
        "aisle_bank_rate_limit_waits_total{bank=\"sandbox\",source=\"retry_after\"}",
        "aisle_bank_rate_limit_wait_seconds_bucket{bank=\"sandbox\",source=\"retry_after\",le=",
    ] {
        assert!(scraped.contains(expected), "no {expected} in:\n{scraped}");
    }
    for (metric, label) in [
        ("aisle_bank_calls_total{", "status=\"transient\""),
        ("aisle_bank_calls_total{", "status=\"rate_limited\""),
        ("aisle_bank_retries_total{", "reason=\"transient\""),
        ("aisle_bank_retries_total{", "reason=\"rate_limited\""),
    ] {
        assert!(
            scraped
                .lines()
                .any(|line| line.starts_with(metric) && line.contains(label)),
            "no {metric}…{label} in:\n{scraped}"
        );
    }
    // Labels are names, never URLs or ids: one series per bank and operation, not per account.
    for line in scraped.lines().filter(|l| l.starts_with("aisle_bank_")) {
        assert!(
            !line.contains("http") && !line.contains("/"),
            "a bank-call label carries a URL: {line}"
        );
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
