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

    // Revoking is replacing the stored hash: the old key no longer matches any client.
    sqlx::query(
        "update clients set api_key_hash = sha256(gen_random_uuid()::text::bytea) where id = $1",
    )
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
