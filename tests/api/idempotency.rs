use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{assert_problem, import_body, spawn_app_without_workers};

#[tokio::test]
async fn the_same_idempotency_key_twice_gives_the_same_command() {
    let app = spawn_app_without_workers().await;
    let session = app.sandbox_session(&app.api_key, "alice").await;
    let post = || {
        app.http
            .post(format!("{}/v1/commands/default-import", app.address))
            .bearer_auth(&app.api_key)
            .header("idempotency-key", "order-42")
            .json(&import_body(&session))
            .send()
    };
    let first = post().await.unwrap();
    assert_eq!(first.status(), StatusCode::ACCEPTED);
    let first: Value = first.json().await.unwrap();
    let second = post().await.unwrap();
    assert_eq!(second.status(), StatusCode::ACCEPTED);
    let second: Value = second.json().await.unwrap();
    assert_eq!(first["commandId"], second["commandId"]);
    assert_eq!(app.count("select count(*) from commands").await, 1);
    assert_eq!(app.count("select count(*) from apalis.jobs").await, 1);
}

#[tokio::test]
async fn an_idempotency_key_reused_for_another_session_is_refused() {
    let app = spawn_app_without_workers().await;
    let post = |session: Value| {
        app.http
            .post(format!("{}/v1/commands/default-import", app.address))
            .bearer_auth(&app.api_key)
            .header("idempotency-key", "order-43")
            .json(&import_body(&session))
            .send()
    };
    let first = app.sandbox_session(&app.api_key, "alice").await;
    assert_eq!(post(first).await.unwrap().status(), StatusCode::ACCEPTED);
    let second = app.sandbox_session(&app.api_key, "alice").await;
    let response = post(second).await.unwrap();
    assert_problem(response, StatusCode::CONFLICT, "IdempotencyKeyReused").await;
    assert_eq!(app.count("select count(*) from commands").await, 1);
}
