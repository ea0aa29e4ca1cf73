//! With PostgreSQL down, the API says so at once: 503 `ServiceUnavailable` with `Retry-After`,
//! within about the API pool's acquire timeout (1 s), and `/readyz` likewise.

use std::{
    path::Path,
    time::{Duration, Instant},
};

use aisle::{
    devdb::{Durability, PrivateCluster},
    service::Service,
    store::clients,
};
use reqwest::StatusCode;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::helpers::{assert_problem, test_config};

/// Within a second, as the issue asks; the default `pools.api.acquire_timeout_ms` is 500.
const PROMPT: Duration = Duration::from_secs(1);

#[tokio::test]
async fn with_the_database_stopped_the_api_and_readyz_answer_503_within_a_second_and_recover() {
    // A cluster of this test's own: stopping the shared one would fail every other test.
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("aisle-outage-postgres");
    let start = move || PrivateCluster::start(&root, Durability::Throwaway);
    let cluster = tokio::task::spawn_blocking(start.clone())
        .await
        .unwrap()
        .expect("a private cluster for the outage");
    let name = format!("test_{}", uuid::Uuid::new_v4().simple());
    let url = cluster.ensure_database(&name).await.unwrap();
    let service = Service::start(test_config(url, "http://127.0.0.1:9"))
        .await
        .expect("the service starts");
    let (_, api_key) = clients::create(&service.pool, "outage", &[]).await.unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let stop = CancellationToken::new();
    let api = tokio::spawn({
        let stop = stop.clone().cancelled_owned();
        async move { service.run_api(listener, stop).await }
    });
    let http = reqwest::Client::new();
    let command = format!("{address}/v1/commands/{}", uuid::Uuid::now_v7());
    let get_command = || http.get(&command).bearer_auth(&api_key).send();
    assert_problem(
        get_command().await.unwrap(),
        StatusCode::NOT_FOUND,
        "InvalidCommandId",
    )
    .await;

    tokio::task::spawn_blocking({
        let cluster = cluster.clone();
        move || cluster.stop()
    })
    .await
    .unwrap()
    .expect("PostgreSQL stops");

    let asked = Instant::now();
    let response = get_command().await.unwrap();
    let waited = asked.elapsed();
    assert!(waited < PROMPT, "the API answered after {waited:?}");
    assert!(
        response.headers().contains_key("retry-after"),
        "{:?}",
        response.headers()
    );
    assert_problem(
        response,
        StatusCode::SERVICE_UNAVAILABLE,
        "ServiceUnavailable",
    )
    .await;

    let asked = Instant::now();
    let ready = http.get(format!("{address}/readyz")).send().await.unwrap();
    let waited = asked.elapsed();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(waited < PROMPT, "/readyz answered after {waited:?}");

    // Back up on the same port: the pool reconnects by itself.
    tokio::task::spawn_blocking(start).await.unwrap().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while http
        .get(format!("{address}/readyz"))
        .send()
        .await
        .unwrap()
        .status()
        != StatusCode::OK
    {
        assert!(Instant::now() < deadline, "ready again after the restart");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_problem(
        get_command().await.unwrap(),
        StatusCode::NOT_FOUND,
        "InvalidCommandId",
    )
    .await;
    stop.cancel();
    api.await.unwrap().unwrap();
}
