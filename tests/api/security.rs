//! Issue 12, as an attacker tries it over HTTP: addresses behind proxies, and the headers that
//! keep answers out of caches and on https.

use reqwest::{StatusCode, header};
use serde_json::json;

use crate::helpers::{
    Options, TestApp, assert_problem, spawn_app_configured, spawn_app_without_workers,
};

/// The app behind a proxy on loopback, the address every test request comes from.
async fn spawn_app_behind_a_loopback_proxy() -> TestApp {
    spawn_app_configured(
        Options {
            workers: false,
            ..Options::default()
        },
        |config| config.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()],
    )
    .await
}

async fn open_sandbox_session(app: &TestApp, key: &str, forwarded_for: &str) -> reqwest::Response {
    app.http
        .post(format!("{}/v1/sandbox/sessions", app.address))
        .bearer_auth(key)
        .header("x-forwarded-for", forwarded_for)
        .json(&json!({"bank": "sandbox", "login": "alice", "ownerExternalId": "o"}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_stolen_key_does_not_pass_the_allowlist_by_naming_an_allowed_address_before_the_proxy_appends()
 {
    let app = spawn_app_behind_a_loopback_proxy().await;
    let (_, key) = app.create_client(&["10.0.0.0/8".parse().unwrap()]).await;

    // The attacker wrote `10.1.2.3`; the proxy appended the address it really saw.
    let spoofed = open_sandbox_session(&app, &key, "10.1.2.3, 203.0.113.9").await;
    assert_problem(spoofed, StatusCode::FORBIDDEN, "IpNotAllowed").await;
    assert_eq!(app.count("select count(*) from sessions").await, 0);

    // The same proxy vouching for an allowed client lets it in.
    let allowed = open_sandbox_session(&app, &key, "10.1.2.3").await;
    assert_eq!(allowed.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn a_forwarded_address_from_a_peer_that_is_no_trusted_proxy_is_ignored() {
    let app = spawn_app_configured(
        Options {
            workers: false,
            ..Options::default()
        },
        |config| config.trusted_proxies = vec!["192.0.2.0/24".parse().unwrap()],
    )
    .await;
    let (_, key) = app.create_client(&["10.0.0.0/8".parse().unwrap()]).await;
    let response = open_sandbox_session(&app, &key, "10.1.2.3").await;
    assert_problem(response, StatusCode::FORBIDDEN, "IpNotAllowed").await;
}

#[tokio::test]
async fn an_allowlist_written_as_ipv4_mapped_ipv6_admits_the_ipv4_caller() {
    let app = spawn_app_without_workers().await;
    let (_, key) = app
        .create_client(&["::ffff:127.0.0.0/104".parse().unwrap()])
        .await;
    app.sandbox_session(&key, "alice").await;
}

#[tokio::test]
async fn api_and_sign_in_answers_are_never_stored_by_a_cache() {
    let app = spawn_app_without_workers().await;
    let session = app
        .sandbox_sign_in(&app.api_key, "sandbox", "alice")
        .await;
    assert_eq!(session.status(), StatusCode::CREATED);
    let catalog = app
        .http
        .get(format!("{}/v1/banks", app.address))
        .send()
        .await
        .unwrap();
    let signin_api = app
        .http
        .get(format!("{}/signin/api/{}", app.address, uuid::Uuid::now_v7()))
        .send()
        .await
        .unwrap();
    for response in [&session, &catalog, &signin_api] {
        assert_eq!(
            response.headers().get(header::CACHE_CONTROL).unwrap(),
            "no-store",
            "{}",
            response.url()
        );
        assert!(
            response
                .headers()
                .get(header::STRICT_TRANSPORT_SECURITY)
                .is_none(),
            "no HSTS over http"
        );
    }
}

#[tokio::test]
async fn answers_carry_hsts_when_aisle_is_served_over_https() {
    let app = spawn_app_configured(
        Options {
            workers: false,
            ..Options::default()
        },
        |config| config.public_url = "https://aisle.example".into(),
    )
    .await;
    let response = app
        .http
        .get(format!("{}/healthz", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response
            .headers()
            .get(header::STRICT_TRANSPORT_SECURITY)
            .unwrap(),
        "max-age=63072000"
    );
}
