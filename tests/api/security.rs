//! Issue 12, as an attacker tries it over HTTP: addresses behind proxies, the headers that
//! keep answers out of caches and on https, and secrets that outlive their use.

use std::time::Duration;

use aisle::{
    config::Secret,
    expiry::{INERT_ROWS_KEPT, sweep_once},
    sealing::SecretSealer,
    signin::signature::SessionSigner,
};
use reqwest::{StatusCode, header};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{
    Options, TEST_SECRETS_KEY, TestApp, assert_problem, import_body, spawn_app,
    spawn_app_configured, spawn_app_without_workers,
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
    let session = app.sandbox_sign_in(&app.api_key, "sandbox", "alice").await;
    assert_eq!(session.status(), StatusCode::CREATED);
    let catalog = app
        .http
        .get(format!("{}/v1/banks", app.address))
        .send()
        .await
        .unwrap();
    let signin_api = app
        .http
        .get(format!("{}/signin/api/{}", app.address, Uuid::now_v7()))
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

/// The consent id inside session `session_id`'s sealed bank secret.
async fn consent_of(app: &TestApp, session_id: Uuid) -> String {
    let sealed: Vec<u8> = sqlx::query_scalar("select bank_secret from sessions where id = $1")
        .bind(session_id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let secret = SecretSealer::from_hex(TEST_SECRETS_KEY)
        .unwrap()
        .open(&sealed, session_id.as_bytes())
        .unwrap();
    serde_json::from_str::<Value>(&secret).unwrap()["consentId"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn consent_status(app: &TestApp, consent_id: &str) -> Value {
    app.http
        .get(format!("{}/v1/consents/{consent_id}/status", app.bank_url))
        .header("x-request-id", Uuid::new_v4().to_string())
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["consentStatus"]
        .clone()
}

#[tokio::test]
async fn a_session_never_imported_loses_its_secret_and_its_bank_consent_once_expired() {
    let app = spawn_app_without_workers().await;
    let session = app.sandbox_session(&app.api_key, "alice").await;
    let session_id = Uuid::parse_str(session["sessionId"].as_str().unwrap()).unwrap();
    let consent_id = consent_of(&app, session_id).await;
    let finisher = app.import_context().finisher();

    let swept = sweep_once(&finisher, Duration::ZERO).await.unwrap();
    assert_eq!(swept.sessions_ended, 0, "a live session is left alone");
    assert_eq!(consent_status(&app, &consent_id).await, "valid");

    sqlx::query("update sessions set expires_at = now() - interval '1 second' where id = $1")
        .bind(session_id)
        .execute(&app.pool)
        .await
        .unwrap();
    let swept = sweep_once(&finisher, Duration::ZERO).await.unwrap();
    assert_eq!(swept.sessions_ended, 1);
    let left: Option<Vec<u8>> =
        sqlx::query_scalar("select bank_secret from sessions where id = $1")
            .bind(session_id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(left, None, "the expired session's bank secret is erased");
    assert_eq!(consent_status(&app, &consent_id).await, "terminatedByTpp");
    let import = app
        .post_default_import(&app.api_key, &import_body(&session))
        .await;
    assert_problem(import, StatusCode::GONE, "SessionExpired").await;
}

#[tokio::test]
async fn an_expired_sign_in_loses_its_pending_secrets_and_inert_rows_go_after_a_week() {
    let app = spawn_app_without_workers().await;
    let back = "http://127.0.0.1:9/back";
    let created: Value = app.open_redirection(back, "owner-9", None).await;
    let id = Uuid::parse_str(created["redirectionId"].as_str().unwrap()).unwrap();
    let picked = app
        .http
        .post(format!("{}/signin/api/{id}/bank", app.address))
        .json(&json!({"bank": "sandbox"}))
        .send()
        .await
        .unwrap();
    assert_eq!(picked.status(), StatusCode::OK);
    let pending = "select count(*) from signins where pending_sealed is not null";
    assert_eq!(app.count(pending).await, 1, "the bank's step is pending");
    // An unclaimed session of another owner, expired as long ago as the sign-in.
    let session = app.sandbox_session(&app.api_key, "alice").await;

    let finisher = app.import_context().finisher();
    sqlx::query("update signins set expires_at = now() - interval '1 second'")
        .execute(&app.pool)
        .await
        .unwrap();
    let swept = sweep_once(&finisher, Duration::ZERO).await.unwrap();
    assert_eq!(swept.signins_erased, 1);
    assert_eq!(app.count(pending).await, 0);
    assert_eq!(
        app.count("select count(*) from signins").await,
        1,
        "kept a while"
    );

    let a_minute_too_long = (INERT_ROWS_KEPT + Duration::from_secs(60)).as_secs_f64();
    for update in [
        "update signins set expires_at = now() - make_interval(secs => $1)",
        "update sessions set expires_at = now() - make_interval(secs => $1)",
    ] {
        sqlx::query(update)
            .bind(a_minute_too_long)
            .execute(&app.pool)
            .await
            .unwrap();
    }
    let swept = sweep_once(&finisher, Duration::ZERO).await.unwrap();
    assert_eq!(swept.sessions_ended, 1, "{session}");
    assert_eq!(swept.rows_purged, 2);
    assert_eq!(app.count("select count(*) from signins").await, 0);
    assert_eq!(app.count("select count(*) from sessions").await, 0);
}

#[tokio::test]
async fn a_session_an_import_claimed_stays_with_its_command() {
    let app = spawn_app().await;
    let command_id = app.start_import("alice").await;
    let command = app
        .wait_for_command(&command_id, Duration::from_secs(30))
        .await;
    assert_eq!(command["state"], "successful");
    sqlx::query("update sessions set expires_at = now() - interval '30 days'")
        .execute(&app.pool)
        .await
        .unwrap();
    let swept = sweep_once(&app.import_context().finisher(), Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(swept.rows_purged, 0);
    assert_eq!(app.count("select count(*) from sessions").await, 1);
}

/// Runs `aisle client key ...` against the test's database; returns what it printed.
async fn key_command(app: &TestApp, args: &[&str]) -> String {
    let database_url = app.service().config.database_url.as_ref().unwrap().expose();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_aisle"))
        .args(["client", "key"])
        .args(args)
        .env_clear()
        .env("AISLE_DATABASE_URL", database_url)
        .env("AISLE_STATE_DIR", env!("CARGO_TARGET_TMPDIR"))
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "aisle client key {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

async fn is_accepted(app: &TestApp, api_key: &str) -> bool {
    let response = app.get_command(api_key, &Uuid::now_v7().to_string()).await;
    match response.status() {
        StatusCode::NOT_FOUND => true,
        StatusCode::UNAUTHORIZED => false,
        other => panic!("unexpected {other}"),
    }
}

#[tokio::test]
async fn a_client_rotates_its_key_with_no_moment_when_neither_works_and_the_old_one_then_fails() {
    let app = spawn_app_without_workers().await;
    let client = app.client_id.to_string();
    let old_key_id = key_command(&app, &["list", "--client", &client]).await;
    let old_key_id = old_key_id.split_whitespace().next().unwrap().to_string();

    let issued: Value =
        serde_json::from_str(&key_command(&app, &["create", "--client", &client, "--json"]).await)
            .unwrap();
    let new_key = issued["apiKey"].as_str().unwrap();
    assert!(
        is_accepted(&app, new_key).await,
        "the new key works at once"
    );
    assert!(
        is_accepted(&app, &app.api_key).await,
        "the old key still works"
    );

    key_command(&app, &["revoke", "--client", &client, "--key", &old_key_id]).await;
    assert!(
        !is_accepted(&app, &app.api_key).await,
        "the old key is revoked"
    );
    assert!(is_accepted(&app, new_key).await);
    let listed = key_command(&app, &["list", "--client", &client]).await;
    assert!(
        listed.contains("revoked") && listed.contains("active"),
        "{listed}"
    );
}

#[tokio::test]
async fn a_client_cannot_revoke_another_clients_key() {
    let app = spawn_app_without_workers().await;
    let (other, _) = app.create_client(&[]).await;
    let own_keys = aisle::store::clients::api_keys(&app.pool, app.client_id)
        .await
        .unwrap();
    let revoked = aisle::store::clients::revoke_api_key(&app.pool, other, own_keys[0].id)
        .await
        .unwrap();
    assert!(!revoked);
    assert!(is_accepted(&app, &app.api_key).await);
}

#[tokio::test]
async fn a_session_sealed_and_signed_before_a_key_rotation_still_imports_after_it() {
    const NEW_SECRETS_KEY: &str =
        "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff000102030405060708090a0b0c0d0e0f";
    let mut old_signing_key = String::new();
    let app = spawn_app_configured(Options::default(), |config| {
        let old = config
            .session_signing_key
            .replace(Secret("the signing key after the rotation".into()));
        old_signing_key = old.clone().unwrap().expose().to_string();
        config.previous_session_signing_keys = old.into_iter().collect();
        config.previous_secrets_keys = vec![Secret(TEST_SECRETS_KEY.into())];
        config.secrets_key = Some(Secret(NEW_SECRETS_KEY.into()));
    })
    .await;
    let session = app.sandbox_session(&app.api_key, "alice").await;
    let session_id = Uuid::parse_str(session["sessionId"].as_str().unwrap()).unwrap();

    // Rewrite the session as the service wrote it before the rotation: sealed and signed with
    // the keys that are now only `previous`.
    let sealed: Vec<u8> = sqlx::query_scalar("select bank_secret from sessions where id = $1")
        .bind(session_id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let secret = SecretSealer::from_hex(NEW_SECRETS_KEY)
        .unwrap()
        .open(&sealed, session_id.as_bytes())
        .unwrap();
    let sealed_before = SecretSealer::from_hex(TEST_SECRETS_KEY)
        .unwrap()
        .seal(&secret, session_id.as_bytes());
    sqlx::query("update sessions set bank_secret = $2 where id = $1")
        .bind(session_id)
        .bind(sealed_before)
        .execute(&app.pool)
        .await
        .unwrap();
    let signed_before =
        SessionSigner::new(old_signing_key.as_bytes()).sign(app.client_id, session_id, "owner-1");
    assert_ne!(session["sessionIdSignature"], signed_before.as_str());

    let command_id = app
        .start_import_with_session(
            &json!({"sessionId": session_id, "sessionIdSignature": signed_before}),
        )
        .await;
    let command = app
        .wait_for_command(&command_id, Duration::from_secs(30))
        .await;
    assert_eq!(command["state"], "successful", "{command}");
}
