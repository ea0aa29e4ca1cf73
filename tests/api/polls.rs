//! Cheap polls: API key checks remembered for a short, configured time.

use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::helpers::{Options, spawn_app_configured};

#[tokio::test]
async fn a_revoked_api_key_stops_working_within_the_cache_ttl() {
    let ttl = Duration::from_secs(1);
    let app = spawn_app_configured(Options::default(), |config| {
        config.api_key_cache_ttl = ttl;
    })
    .await;
    let command_id = app.start_import("alice").await;
    assert_eq!(
        app.get_command(&app.api_key, &command_id).await.status(),
        StatusCode::OK
    );

    sqlx::query("update api_keys set revoked_at = now() where client_id = $1")
        .bind(app.client_id)
        .execute(&app.pool)
        .await
        .unwrap();
    let revoked = Instant::now();
    loop {
        let status = app.get_command(&app.api_key, &command_id).await.status();
        if status == StatusCode::UNAUTHORIZED {
            break;
        }
        assert_eq!(status, StatusCode::OK);
        assert!(
            revoked.elapsed() < ttl + Duration::from_secs(2),
            "the revoked key still works {:?} after revocation",
            revoked.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_openapi_document_describes_views_pages_and_the_export() {
    let app = crate::helpers::spawn_app_without_workers().await;
    let openapi: serde_json::Value = app
        .http
        .get(format!("{}/openapi.json", app.address))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for path in [
        "/v1/commands/{command_id}/accounts/{account_id}/transactions",
        "/v1/commands/{command_id}/cards/{card_id}/transactions",
        "/v1/exports/transactions",
    ] {
        assert!(
            openapi["paths"][path]["get"].is_object(),
            "{path} is described"
        );
    }
    let poll = &openapi["paths"]["/v1/commands/{command_id}"]["get"];
    assert!(poll["responses"]["304"].is_object(), "the 304 is described");
    let parameters = poll["parameters"].as_array().unwrap();
    assert!(parameters.iter().any(|p| p["name"] == "view"));
    assert!(parameters.iter().any(|p| p["name"] == "If-None-Match"));
}
