//! The API contract, defect by defect (issue 11): bad input is a clear 4xx in problem+json,
//! never a 5xx or a wrong answer, and the document describes what the service does.

use reqwest::{StatusCode, header};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, import_body, spawn_app_without_workers};

async fn post(app: &TestApp, path: &str, body: &Value) -> reqwest::Response {
    app.http
        .post(format!("{}{path}", app.address))
        .bearer_auth(&app.api_key)
        .json(body)
        .send()
        .await
        .unwrap()
}

/// Asserts a 400 `InvalidParameter` whose detail names `field`.
async fn assert_invalid(response: reqwest::Response, field: &str) {
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "application/problem+json"
    );
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["code"], "InvalidParameter", "{problem}");
    let detail = problem["detail"].as_str().unwrap();
    assert!(detail.contains(field), "the detail names {field}: {detail}");
}

async fn redirection_client(app: &TestApp) {
    app.register(app.client_id, &[], &["https://app.example.com/back"])
        .await;
}

fn redirection(overrides: Value) -> Value {
    let mut body = json!({
        "redirectUri": "https://app.example.com/back",
        "ownerExternalId": "owner-1",
    });
    for (key, value) in overrides.as_object().unwrap() {
        body[key] = value.clone();
    }
    body
}

// 1. A NUL in a stored string.

#[tokio::test]
async fn a_nul_in_a_sandbox_owner_id_is_an_invalid_parameter_not_a_500() {
    let app = spawn_app_without_workers().await;
    let body = json!({"bank": "sandbox", "login": "alice", "ownerExternalId": "a\u{0}b"});
    assert_invalid(
        post(&app, "/v1/sandbox/sessions", &body).await,
        "ownerExternalId",
    )
    .await;
    assert_eq!(app.count("select count(*) from sessions").await, 0);
}

#[tokio::test]
async fn a_nul_in_a_redirection_owner_id_or_bank_is_an_invalid_parameter_not_a_500() {
    let app = spawn_app_without_workers().await;
    redirection_client(&app).await;
    for (field, value) in [("ownerExternalId", "a\u{0}b"), ("bank", "sand\u{0}box")] {
        let body = redirection(json!({ field: value }));
        assert_invalid(post(&app, "/v1/signin/redirections", &body).await, field).await;
    }
    assert_eq!(app.count("select count(*) from signins").await, 0);
}

// 2. Dates outside years 1–9999.

#[tokio::test]
async fn a_since_in_year_zero_or_before_is_refused() {
    let app = spawn_app_without_workers().await;
    let session = app.sandbox_session(&app.api_key, "alice").await;
    for since in ["-0001-01-01", "0000-01-01", "+10000-01-01"] {
        let mut body = import_body(&session);
        body["since"] = json!(since);
        let response = app.post_default_import(&app.api_key, &body).await;
        assert_problem(response, StatusCode::BAD_REQUEST, "InvalidSince").await;
    }
    assert_eq!(app.count("select count(*) from commands").await, 0);
}

// 3. The framework's own rejections.

#[tokio::test]
async fn a_path_that_is_not_utf8_is_a_problem_json_400() {
    let app = spawn_app_without_workers().await;
    let response = app.get_command(&app.api_key, "%ff%fe").await;
    assert_problem(response, StatusCode::BAD_REQUEST, "InvalidParameter").await;
}

#[tokio::test]
async fn a_method_the_path_does_not_serve_is_a_problem_json_405_with_allow() {
    let app = spawn_app_without_workers().await;
    let response = app
        .http
        .delete(format!("{}/v1/commands/default-import", app.address))
        .bearer_auth(&app.api_key)
        .send()
        .await
        .unwrap();
    assert!(response.headers().contains_key(header::ALLOW));
    assert_problem(response, StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed").await;
}

#[tokio::test]
async fn a_body_over_the_limit_without_a_declared_length_is_a_413() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let app = spawn_app_without_workers().await;
    // Chunked, so no Content-Length warns the server: the limit is met while reading.
    let chunk = "x".repeat(300 * 1024);
    let request = format!(
        "POST /v1/commands/default-import HTTP/1.1\r\nhost: aisle\r\n\
         authorization: Bearer {key}\r\ncontent-type: application/json\r\n\
         transfer-encoding: chunked\r\nconnection: close\r\n\r\n\
         {len:x}\r\n{chunk}\r\n0\r\n\r\n",
        key = app.api_key,
        len = chunk.len(),
    );
    let address = app.address.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    // The server may answer and close before it has read everything.
    let _ = stream.write_all(request.as_bytes()).await;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer).to_lowercase();
    assert!(answer.starts_with("http/1.1 413"), "{answer}");
    assert!(
        answer.contains("content-type: application/problem+json"),
        "{answer}"
    );
    assert!(answer.contains("\"code\":\"payloadtoolarge\""), "{answer}");
}

#[tokio::test]
async fn a_body_that_is_not_json_is_a_415() {
    let app = spawn_app_without_workers().await;
    let response = app
        .http
        .post(format!("{}/v1/commands/default-import", app.address))
        .bearer_auth(&app.api_key)
        .header(header::CONTENT_TYPE, "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_problem(
        response,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "UnsupportedMediaType",
    )
    .await;
}

// 4. Auth scheme names are case-insensitive.

#[tokio::test]
async fn a_bearer_scheme_in_any_case_is_accepted() {
    let app = spawn_app_without_workers().await;
    for scheme in ["bearer", "BEARER", "Bearer"] {
        let response = app
            .http
            .get(format!(
                "{}/v1/commands/{}",
                app.address,
                uuid::Uuid::now_v7()
            ))
            .header(header::AUTHORIZATION, format!("{scheme} {}", app.api_key))
            .send()
            .await
            .unwrap();
        assert_problem(response, StatusCode::NOT_FOUND, "InvalidCommandId").await;
    }
}

// 5. A control character in a sandbox login.

#[tokio::test]
async fn a_control_character_in_a_sandbox_login_is_the_clients_error_not_the_banks() {
    let app = spawn_app_without_workers().await;
    let body = json!({"bank": "sandbox", "login": "ali\nce", "ownerExternalId": "o"});
    assert_invalid(post(&app, "/v1/sandbox/sessions", &body).await, "login").await;
}

// 6. Values the API accepted though it should not have.

#[tokio::test]
async fn a_redirection_to_an_unknown_or_overlong_bank_or_an_unknown_locale_is_refused() {
    let app = spawn_app_without_workers().await;
    redirection_client(&app).await;
    for (field, value) in [
        ("bank", json!("no-such-bank")),
        ("bank", json!("b".repeat(100 * 1024))),
        ("locale", json!("xx")),
    ] {
        let body = redirection(json!({ field: value }));
        assert_invalid(post(&app, "/v1/signin/redirections", &body).await, field).await;
    }
    assert_eq!(app.count("select count(*) from signins").await, 0);

    let known = redirection(json!({"bank": "sandbox", "locale": "de", "country": "de"}));
    let response = post(&app, "/v1/signin/redirections", &known).await;
    assert_eq!(response.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn a_sandbox_session_with_a_future_max_import_date_is_refused() {
    let app = spawn_app_without_workers().await;
    let tomorrow = chrono::Utc::now().date_naive() + chrono::Days::new(1);
    let body = json!({
        "bank": "sandbox", "login": "alice", "ownerExternalId": "o",
        "maxImportDate": tomorrow.to_string(),
    });
    assert_invalid(
        post(&app, "/v1/sandbox/sessions", &body).await,
        "maxImportDate",
    )
    .await;
    assert_eq!(app.count("select count(*) from sessions").await, 0);
}

#[tokio::test]
async fn an_idempotency_key_with_a_space_is_refused() {
    let app = spawn_app_without_workers().await;
    let session = app.sandbox_session(&app.api_key, "alice").await;
    let response = app
        .http
        .post(format!("{}/v1/commands/default-import", app.address))
        .bearer_auth(&app.api_key)
        .header("idempotency-key", "order 42")
        .json(&import_body(&session))
        .send()
        .await
        .unwrap();
    assert_invalid(response, "Idempotency-Key").await;
    assert_eq!(app.count("select count(*) from commands").await, 0);
}

#[tokio::test]
async fn an_idempotency_key_reused_with_a_different_since_is_a_conflict() {
    let app = spawn_app_without_workers().await;
    let session = app.sandbox_session(&app.api_key, "alice").await;
    let send = |since: Option<&str>| {
        let mut body = import_body(&session);
        if let Some(since) = since {
            body["since"] = json!(since);
        }
        app.http
            .post(format!("{}/v1/commands/default-import", app.address))
            .bearer_auth(&app.api_key)
            .header("idempotency-key", "order-44")
            .json(&body)
            .send()
    };
    let first = send(None).await.unwrap();
    assert_eq!(first.status(), StatusCode::ACCEPTED);
    let first: Value = first.json().await.unwrap();
    let repeated: Value = send(None).await.unwrap().json().await.unwrap();
    assert_eq!(repeated["commandId"], first["commandId"]);

    // The default `since` is today − 90 days; spelling it out is still a different request.
    let default_since = chrono::Utc::now().date_naive() - chrono::Days::new(90);
    for since in ["2026-01-01".to_string(), default_since.to_string()] {
        let response = send(Some(&since)).await.unwrap();
        assert_problem(response, StatusCode::CONFLICT, "IdempotencyKeyReused").await;
    }
    assert_eq!(app.count("select count(*) from commands").await, 1);
}

// 7–12. The document.

async fn document(app: &TestApp) -> Value {
    app.http
        .get(format!("{}/openapi.json", app.address))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Every (path, method, operation) in the document.
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut found = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            found.push((path.clone(), method.clone(), operation.clone()));
        }
    }
    found
}

#[tokio::test]
async fn every_error_answer_is_documented_as_problem_json_with_its_codes_as_an_enum() {
    let app = spawn_app_without_workers().await;
    let doc = document(&app).await;
    for (path, method, operation) in operations(&doc) {
        let responses = operation["responses"].as_object().unwrap();
        for expected in ["500", "503"] {
            assert!(
                responses.contains_key(expected),
                "{method} {path}: {expected}"
            );
        }
        let authenticated = operation.get("security").is_none();
        if authenticated {
            for expected in ["401", "403"] {
                assert!(
                    responses.contains_key(expected),
                    "{method} {path}: {expected}"
                );
            }
        }
        if operation.get("requestBody").is_some() {
            for expected in ["400", "413", "415"] {
                assert!(
                    responses.contains_key(expected),
                    "{method} {path}: {expected}"
                );
            }
        }
        if path.contains('{') {
            assert!(responses.contains_key("400"), "{method} {path}: 400");
        }
        for (status, response) in responses {
            assert!(
                !response["description"]
                    .as_str()
                    .unwrap_or_default()
                    .is_empty(),
                "{method} {path} {status} has a description"
            );
            if status.starts_with(['4', '5']) {
                let content = response["content"].as_object().unwrap();
                assert_eq!(
                    content.keys().collect::<Vec<_>>(),
                    ["application/problem+json"],
                    "{method} {path} {status}"
                );
                let codes = &content["application/problem+json"]["schema"]["allOf"][1]["properties"]
                    ["code"]["enum"];
                assert!(
                    codes.as_array().is_some_and(|codes| !codes.is_empty()),
                    "{method} {path} {status} lists its codes"
                );
            }
        }
    }
    let import = &doc["paths"]["/v1/commands/default-import"]["post"]["responses"];
    let conflict_codes = &import["409"]["content"]["application/problem+json"]["schema"]["allOf"]
        [1]["properties"]["code"]["enum"];
    assert_eq!(
        conflict_codes,
        &json!(["DefaultImportAlreadyExecuted", "IdempotencyKeyReused"])
    );
}

#[tokio::test]
async fn the_document_states_the_enums_formats_patterns_and_lengths_the_server_enforces() {
    let app = spawn_app_without_workers().await;
    let doc = document(&app).await;
    let schemas = &doc["components"]["schemas"];
    for (schema, values) in [
        ("ProblemCode", "IdempotencyKeyReused"),
        ("CommandErrorCode", "BankProtocolError"),
        ("Stage", "history"),
        ("CommandKind", "default_import"),
        ("RedirectionState", "succeeded"),
        ("SignInMethod", "form"),
        ("SignInErrorCode", "SignInExpired"),
        ("Locale", "pl"),
    ] {
        let listed = schemas[schema]["enum"].as_array();
        assert!(
            listed.is_some_and(|listed| listed.contains(&json!(values))),
            "{schema} lists {values}: {}",
            schemas[schema]
        );
    }
    assert_eq!(
        schemas["Problem"]["properties"]["code"]["$ref"],
        "#/components/schemas/ProblemCode"
    );
    assert_eq!(schemas["OwnerExternalId"]["minLength"], 1);
    assert_eq!(schemas["OwnerExternalId"]["maxLength"], 255);
    assert!(schemas["OwnerExternalId"]["pattern"].is_string());
    assert_eq!(schemas["Day"]["format"], "date");
    assert_eq!(schemas["CountryCode"]["pattern"], "^[A-Za-z]{2}$");
    assert_eq!(
        schemas["DefaultImportRequest"]["properties"]["sessionId"]["format"],
        "uuid"
    );

    let import = &doc["paths"]["/v1/commands/default-import"]["post"];
    let key = import["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "Idempotency-Key")
        .unwrap();
    assert_eq!(key["schema"]["maxLength"], 255);
    let get = &doc["paths"]["/v1/commands/{command_id}"]["get"];
    assert_eq!(get["parameters"][0]["schema"]["format"], "uuid");
    assert_eq!(
        get["responses"]["200"]["headers"]["Retry-After"]["schema"]["type"],
        "integer"
    );
}

#[tokio::test]
async fn the_document_declares_both_auth_schemes_tags_examples_links_and_the_service_paths() {
    let app = spawn_app_without_workers().await;
    let doc = document(&app).await;
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["apiKey"]["name"], "X-Api-Key");
    assert_eq!(doc["security"], json!([{"bearer": []}, {"apiKey": []}]));

    for path in ["/healthz", "/readyz", "/openapi.json", "/docs"] {
        assert!(
            doc["paths"][path]["get"].is_object(),
            "{path} is documented"
        );
    }
    for (path, method, operation) in operations(&doc) {
        let tags = operation["tags"].as_array().unwrap();
        assert!(
            tags.iter().all(|tag| !tag.as_str().unwrap().contains("::")),
            "{method} {path}: {tags:?}"
        );
    }
    let schemas = &doc["components"]["schemas"];
    for schema in [
        "DefaultImportRequest",
        "SandboxSessionRequest",
        "RedirectionRequest",
        "Problem",
    ] {
        assert!(
            schemas[schema]["examples"].is_array(),
            "{schema} has examples"
        );
    }

    let link = |path: &str, method: &str, status: &str, name: &str| {
        doc["paths"][path][method]["responses"][status]["links"][name]["operationId"].clone()
    };
    assert_eq!(
        link("/v1/sandbox/sessions", "post", "201", "DefaultImport"),
        "default_import"
    );
    assert_eq!(
        link("/v1/signin/redirections", "post", "201", "GetRedirection"),
        "get_redirection"
    );
    assert_eq!(
        link(
            "/v1/signin/redirections/{redirection_id}",
            "get",
            "200",
            "DefaultImport"
        ),
        "default_import"
    );
    assert_eq!(
        link("/v1/commands/default-import", "post", "202", "GetCommand"),
        "get_command"
    );
}

// The docs page.

#[tokio::test]
async fn the_docs_page_renders_the_document_with_assets_served_by_aisle_itself() {
    let app = spawn_app_without_workers().await;
    let page = app
        .http
        .get(format!("{}/docs", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let csp = page.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    let html = page.text().await.unwrap();
    assert!(html.contains("spec-url=\"openapi.json\""));
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no outside asset: {html}"
    );

    let script = app
        .http
        .get(format!("{}/docs/redoc.standalone.js", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(script.status(), StatusCode::OK);
    assert!(
        script.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    assert!(script.text().await.unwrap().len() > 500_000);
}
