//! Every malformed or unauthorised request gets a clear problem+json answer and changes nothing.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{TestApp, assert_problem, import_body, spawn_app_without_workers};

async fn nothing_was_queued(app: &TestApp) {
    assert_eq!(app.count("select count(*) from commands").await, 0);
    assert_eq!(app.count("select count(*) from apalis.jobs").await, 0);
}

#[tokio::test]
async fn malformed_json_is_refused_as_an_invalid_parameter() {
    let app = spawn_app_without_workers().await;
    let response = app
        .http
        .post(format!("{}/v1/commands/default-import", app.address))
        .bearer_auth(&app.api_key)
        .header("content-type", "application/json")
        .body("{\"sessionId\": ")
        .send()
        .await
        .unwrap();
    assert_problem(response, StatusCode::BAD_REQUEST, "InvalidParameter").await;
    nothing_was_queued(&app).await;
}

#[tokio::test]
async fn unknown_fields_are_refused_as_an_invalid_parameter() {
    let app = spawn_app_without_workers().await;
    let session = app.sandbox_session(&app.api_key, "alice").await;
    let mut body = import_body(&session);
    body["sessionIdSignatur"] = json!("typo");
    let response = app.post_default_import(&app.api_key, &body).await;
    assert_problem(response, StatusCode::BAD_REQUEST, "InvalidParameter").await;
    nothing_was_queued(&app).await;
}

#[tokio::test]
async fn a_wrong_signature_is_refused_and_leaves_the_session_usable() {
    let app = spawn_app_without_workers().await;
    let session = app.sandbox_session(&app.api_key, "alice").await;
    let mut body = import_body(&session);
    body["sessionIdSignature"] = json!("00".repeat(32));
    let response = app.post_default_import(&app.api_key, &body).await;
    assert_problem(
        response,
        StatusCode::BAD_REQUEST,
        "InvalidSessionIdSignature",
    )
    .await;
    nothing_was_queued(&app).await;

    let response = app
        .post_default_import(&app.api_key, &import_body(&session))
        .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
}

#[tokio::test]
async fn an_unknown_session_is_refused() {
    let app = spawn_app_without_workers().await;
    for session_id in [uuid::Uuid::new_v4().to_string(), "not-a-uuid".to_string()] {
        let body = json!({"sessionId": session_id, "sessionIdSignature": "00"});
        let response = app.post_default_import(&app.api_key, &body).await;
        assert_problem(response, StatusCode::NOT_FOUND, "InvalidSessionId").await;
    }
    nothing_was_queued(&app).await;
}

#[tokio::test]
async fn a_used_session_cannot_start_a_second_import() {
    let app = spawn_app_without_workers().await;
    let session = app.sandbox_session(&app.api_key, "alice").await;
    let first = app
        .post_default_import(&app.api_key, &import_body(&session))
        .await;
    assert_eq!(first.status(), StatusCode::ACCEPTED);
    let second = app
        .post_default_import(&app.api_key, &import_body(&session))
        .await;
    assert_problem(second, StatusCode::CONFLICT, "DefaultImportAlreadyExecuted").await;
    assert_eq!(app.count("select count(*) from commands").await, 1);
    assert_eq!(app.count("select count(*) from apalis.jobs").await, 1);
}

#[tokio::test]
async fn an_expired_session_is_refused() {
    let app = spawn_app_without_workers().await;
    let session = app.sandbox_session(&app.api_key, "alice").await;
    sqlx::query("update sessions set expires_at = now() - interval '1 second'")
        .execute(&app.pool)
        .await
        .unwrap();
    let response = app
        .post_default_import(&app.api_key, &import_body(&session))
        .await;
    assert_problem(response, StatusCode::GONE, "SessionExpired").await;
    nothing_was_queued(&app).await;
}

#[tokio::test]
async fn since_malformed_or_in_the_future_is_refused() {
    let app = spawn_app_without_workers().await;
    let session = app.sandbox_session(&app.api_key, "alice").await;
    let tomorrow = (chrono::Utc::now().date_naive() + chrono::Days::new(1)).to_string();
    for since in ["2026-13-01", "yesterday", tomorrow.as_str()] {
        let mut body = import_body(&session);
        body["since"] = json!(since);
        let response = app.post_default_import(&app.api_key, &body).await;
        assert_problem(response, StatusCode::BAD_REQUEST, "InvalidSince").await;
    }
    nothing_was_queued(&app).await;
}

#[tokio::test]
async fn an_unknown_command_id_is_not_found() {
    let app = spawn_app_without_workers().await;
    for id in [uuid::Uuid::now_v7().to_string(), "42".to_string()] {
        let response = app.get_command(&app.api_key, &id).await;
        assert_problem(response, StatusCode::NOT_FOUND, "InvalidCommandId").await;
    }
}

#[tokio::test]
async fn a_missing_or_wrong_api_key_is_unauthorized() {
    let app = spawn_app_without_workers().await;
    let url = format!("{}/v1/commands/default-import", app.address);
    let body = json!({"sessionId": uuid::Uuid::new_v4(), "sessionIdSignature": "00"});
    let missing = app.http.post(&url).json(&body).send().await.unwrap();
    assert_problem(missing, StatusCode::UNAUTHORIZED, "Unauthorized").await;
    let wrong = app
        .http
        .post(&url)
        .bearer_auth("aisle_sk_wrong")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_problem(wrong, StatusCode::UNAUTHORIZED, "Unauthorized").await;
    nothing_was_queued(&app).await;
}

#[tokio::test]
async fn the_api_key_is_also_accepted_as_x_api_key() {
    let app = spawn_app_without_workers().await;
    let response = app
        .http
        .get(format!(
            "{}/v1/commands/{}",
            app.address,
            uuid::Uuid::now_v7()
        ))
        .header("x-api-key", &app.api_key)
        .send()
        .await
        .unwrap();
    assert_problem(response, StatusCode::NOT_FOUND, "InvalidCommandId").await;
}

#[tokio::test]
async fn a_request_from_outside_the_ip_allowlist_is_forbidden() {
    let app = spawn_app_without_workers().await;
    let (_, key) = app.create_client(&["10.0.0.0/8".parse().unwrap()]).await;
    let response = app
        .http
        .post(format!("{}/v1/sandbox/sessions", app.address))
        .bearer_auth(&key)
        .json(&json!({"bank": "sandbox", "login": "alice", "ownerExternalId": "o"}))
        .send()
        .await
        .unwrap();
    assert_problem(response, StatusCode::FORBIDDEN, "IpNotAllowed").await;
    assert_eq!(app.count("select count(*) from sessions").await, 0);

    let (_, loopback_key) = app.create_client(&["127.0.0.0/8".parse().unwrap()]).await;
    app.sandbox_session(&loopback_key, "alice").await;
}

#[tokio::test]
async fn headless_sign_in_is_refused_for_an_unknown_bank_and_a_wrong_login() {
    let app = spawn_app_without_workers().await;
    let sign_in = |bank: &str, login: &str| {
        app.http
            .post(format!("{}/v1/sandbox/sessions", app.address))
            .bearer_auth(&app.api_key)
            .json(&json!({"bank": bank, "login": login, "ownerExternalId": "o"}))
            .send()
    };
    let unknown_bank = sign_in("no-such-bank", "alice").await.unwrap();
    assert_problem(unknown_bank, StatusCode::BAD_REQUEST, "InvalidParameter").await;
    let unknown_login = sign_in("sandbox", "mallory").await.unwrap();
    assert_problem(
        unknown_login,
        StatusCode::UNPROCESSABLE_ENTITY,
        "InvalidCredentials",
    )
    .await;
    assert_eq!(app.count("select count(*) from sessions").await, 0);
}
