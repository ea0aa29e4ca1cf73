use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{assert_problem, spawn_app_without_workers};

#[tokio::test]
async fn health_readiness_openapi_and_the_bank_catalog_answer() {
    let app = spawn_app_without_workers().await;
    let get = |path: &str| app.http.get(format!("{}{path}", app.address)).send();
    assert_eq!(get("/healthz").await.unwrap().status(), StatusCode::OK);
    assert_eq!(get("/readyz").await.unwrap().status(), StatusCode::OK);

    let openapi: Value = get("/openapi.json").await.unwrap().json().await.unwrap();
    for path in [
        "/v1/commands/default-import",
        "/v1/commands/{command_id}",
        "/v1/sandbox/sessions",
        "/v1/banks",
    ] {
        assert!(
            openapi["paths"][path].is_object(),
            "the OpenAPI document describes {path}"
        );
    }

    let banks: Value = get("/v1/banks").await.unwrap().json().await.unwrap();
    let sandbox = &banks.as_array().unwrap()[0];
    assert_eq!(sandbox["id"], "sandbox");
    assert_eq!(sandbox["sandbox"], true);

    assert_problem(
        get("/v1/nothing-here").await.unwrap(),
        StatusCode::NOT_FOUND,
        "NotFound",
    )
    .await;
}
