use reqwest::StatusCode;

use crate::helpers::{assert_problem, import_body, spawn_app_without_workers};

#[tokio::test]
async fn two_clients_cannot_see_each_others_sessions_or_commands() {
    let app = spawn_app_without_workers().await;
    let (_, other_key) = app.create_client(&[]).await;

    let session = app.sandbox_session(&app.api_key, "alice").await;
    let stolen = app
        .post_default_import(&other_key, &import_body(&session))
        .await;
    assert_problem(stolen, StatusCode::NOT_FOUND, "InvalidSessionId").await;

    let command_id = app.start_import_with_session(&session).await;
    let peek = app.get_command(&other_key, &command_id).await;
    assert_problem(peek, StatusCode::NOT_FOUND, "InvalidCommandId").await;
    let own = app.get_command(&app.api_key, &command_id).await;
    assert_eq!(own.status(), StatusCode::OK);
}
