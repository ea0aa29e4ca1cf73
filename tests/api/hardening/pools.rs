//! The API, the queue and the imports each have a pool of their own, so none starves another,
//! and a process opens connections only in the pools it uses.

use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::helpers::{Options, spawn_app_configured, spawn_app_without_workers};

#[tokio::test]
async fn a_process_serving_only_the_api_opens_no_queue_or_import_connection() {
    let app = spawn_app_without_workers().await;
    let session = app.sandbox_session(&app.api_key, "alice").await;
    app.start_import_with_session(&session).await;
    let ready = app.http.get(format!("{}/readyz", app.address)).send();
    assert_eq!(ready.await.unwrap().status(), StatusCode::OK);

    let service = app.service();
    assert!(service.pool.size() >= 1, "the API used its own pool");
    assert_eq!(service.queue_pool.size(), 0, "no queue connection");
    assert_eq!(service.import_pool.size(), 0, "no import connection");
}

#[tokio::test]
async fn the_api_answers_at_once_while_every_import_and_queue_connection_is_taken() {
    let app = spawn_app_configured(
        Options {
            workers: false,
            ..Options::default()
        },
        |c| {
            c.pools.import.size = 2;
            c.pools.queue.size = 1;
        },
    )
    .await;
    let service = app.service();
    let mut held = Vec::new();
    for pool in [
        &service.import_pool,
        &service.import_pool,
        &service.queue_pool,
    ] {
        held.push(pool.acquire().await.unwrap());
    }

    let asked = Instant::now();
    let session = app.sandbox_session(&app.api_key, "alice").await;
    let command_id = app.start_import_with_session(&session).await;
    let polled = app.get_command(&app.api_key, &command_id).await;
    assert_eq!(polled.status(), StatusCode::OK);
    assert!(asked.elapsed() < Duration::from_secs(5));
    drop(held);
}
