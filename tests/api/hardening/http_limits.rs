//! The API server's limits: a header-read timeout, a request timeout, a body limit, a
//! connection limit and a bounded graceful shutdown.

use std::time::{Duration, Instant};

use aisle::{service::Service, store::clients};
use reqwest::StatusCode;
use serde_json::json;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};
use tokio_util::sync::CancellationToken;

use crate::helpers::{
    Options, TestApp, assert_problem, spawn_app_configured, test_config, test_database,
};

async fn app_with(configure: impl FnOnce(&mut aisle::config::Config)) -> TestApp {
    spawn_app_configured(
        Options {
            workers: false,
            ..Options::default()
        },
        configure,
    )
    .await
}

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.address.trim_start_matches("http://"))
        .await
        .unwrap()
}

/// Reads until the server closes the connection; the bytes it sent first.
async fn read_until_closed(stream: &mut TcpStream, deadline: Duration) -> String {
    let mut answer = Vec::new();
    tokio::time::timeout(deadline, stream.read_to_end(&mut answer))
        .await
        .expect("the server closed the connection in time")
        .ok();
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn a_connection_that_never_finishes_its_headers_is_closed_after_the_header_read_timeout() {
    let app = app_with(|c| c.http.header_read_timeout = Duration::from_secs(1)).await;
    let mut slowloris = connect(&app).await;
    slowloris
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: aisle\r\nX-Slow: ")
        .await
        .unwrap();
    let started = Instant::now();
    read_until_closed(&mut slowloris, Duration::from_secs(10)).await;
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused_with_413_payload_too_large() {
    let app = app_with(|c| c.http.body_limit = 1024).await;
    let padding = "x".repeat(2048);
    let declared = app
        .post_default_import(
            &app.api_key,
            &json!({"sessionId": padding, "sessionIdSignature": "x"}),
        )
        .await;
    assert_problem(declared, StatusCode::PAYLOAD_TOO_LARGE, "PayloadTooLarge").await;

    // No Content-Length: the limit applies as the body is read.
    let mut chunked = connect(&app).await;
    let chunk = format!(r#"{{"sessionId":"{padding}","sessionIdSignature":"x"}}"#);
    let request = format!(
        "POST /v1/commands/default-import HTTP/1.1\r\nHost: aisle\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
         {:x}\r\n{chunk}\r\n0\r\n\r\n",
        app.api_key,
        chunk.len()
    );
    chunked.write_all(request.as_bytes()).await.unwrap();
    let answer = read_until_closed(&mut chunked, Duration::from_secs(10)).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("application/problem+json"), "{answer}");
    assert!(answer.contains("PayloadTooLarge"), "{answer}");
}

#[tokio::test]
async fn a_request_slower_than_the_request_timeout_gets_503_service_unavailable() {
    let app = spawn_app_configured(
        Options {
            workers: false,
            bank_latency: Duration::from_secs(3),
        },
        |c| c.http.request_timeout = Duration::from_secs(1),
    )
    .await;
    let started = Instant::now();
    let response = app.sandbox_sign_in(&app.api_key, "sandbox", "alice").await;
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(response.headers().contains_key("retry-after"));
    assert_problem(
        response,
        StatusCode::SERVICE_UNAVAILABLE,
        "ServiceUnavailable",
    )
    .await;
}

#[tokio::test]
async fn connections_past_the_limit_wait_until_one_closes() {
    let app = app_with(|c| c.http.max_connections = 1).await;
    let mut first = connect(&app).await;
    first
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: aisle\r\n\r\n")
        .await
        .unwrap();
    let mut answer = [0u8; 12];
    first.read_exact(&mut answer).await.unwrap();
    assert_eq!(&answer, b"HTTP/1.1 200");

    // The first connection is kept alive, so the second is not served...
    let second = app.http.get(format!("{}/healthz", app.address)).send();
    tokio::pin!(second);
    assert!(
        tokio::time::timeout(Duration::from_millis(500), &mut second)
            .await
            .is_err(),
        "a second connection was served while the first held the only slot"
    );
    // ...until the first one goes.
    drop(first);
    let served = tokio::time::timeout(Duration::from_secs(5), second)
        .await
        .expect("served once the slot is free")
        .unwrap();
    assert_eq!(served.status(), StatusCode::OK);
}

#[tokio::test]
async fn graceful_shutdown_ends_within_its_grace_while_a_request_is_still_open() {
    let mut config = test_config(test_database().await, "http://127.0.0.1:9");
    config.http.shutdown_grace = Duration::from_secs(1);
    let service = Service::start(config).await.unwrap();
    let (_, api_key) = clients::create(&service.pool, "shutdown", &[])
        .await
        .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    let api = tokio::spawn({
        let stop = stop.clone().cancelled_owned();
        async move { service.run_api(listener, stop).await }
    });

    // A request whose body never finishes: its handler waits on it.
    let mut open = TcpStream::connect(address).await.unwrap();
    let head = format!(
        "POST /v1/commands/default-import HTTP/1.1\r\nHost: aisle\r\nAuthorization: Bearer \
         {api_key}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"sessi"
    );
    open.write_all(head.as_bytes()).await.unwrap();
    // Answered on a second connection, after the server has taken the first.
    let probe = reqwest::get(format!("http://{address}/healthz"))
        .await
        .unwrap();
    assert_eq!(probe.status(), StatusCode::OK);

    let asked = Instant::now();
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(10), api)
        .await
        .expect("the server stopped within its grace")
        .unwrap()
        .unwrap();
    let took = asked.elapsed();
    assert!(took < Duration::from_secs(3), "shutdown took {took:?}");
    read_until_closed(&mut open, Duration::from_secs(5)).await;
}
