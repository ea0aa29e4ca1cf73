//! Sign-in over plain HTTP: the redirection from link to session, the widget's entry checks,
//! and what single access leaves behind. The browser itself is driven in `widget.rs`.

use std::time::{Duration, Instant};

use aisle::sealing::SecretSealer;
use reqwest::{StatusCode, redirect::Policy};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TEST_SECRETS_KEY, TestApp, assert_problem, binding_cookie, spawn_app};

pub(crate) const BACK: &str = "http://127.0.0.1:9/back?shop=1";

/// A browser that does not follow redirects, so each hop can be checked.
pub(crate) fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

pub(crate) fn location(response: &reqwest::Response) -> String {
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "a 303");
    response.headers()["location"].to_str().unwrap().to_string()
}

pub(crate) async fn create_redirection(app: &TestApp, body: Value) -> reqwest::Response {
    app.http
        .post(format!("{}/v1/signin/redirections", app.address))
        .bearer_auth(&app.api_key)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn redirection(app: &TestApp, api_key: &str, id: &str) -> reqwest::Response {
    app.http
        .get(format!("{}/v1/signin/redirections/{id}", app.address))
        .bearer_auth(api_key)
        .send()
        .await
        .unwrap()
}

pub(crate) async fn redirection_status(app: &TestApp, id: &str) -> Value {
    let response = redirection(app, &app.api_key, id).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

/// Opens a redirection for `owner-9`; returns its id.
async fn open_redirection(app: &TestApp, bank: Option<&str>) -> String {
    app.register(app.client_id, &[], &[BACK]).await;
    let response = create_redirection(
        app,
        json!({"redirectUri": BACK, "ownerExternalId": "owner-9", "bank": bank}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: Value = response.json().await.unwrap();
    let id = created["redirectionId"].as_str().unwrap().to_string();
    assert_eq!(
        created["redirectionLink"],
        format!("{}/signin/s/{id}", app.address)
    );
    id
}

/// What the sign-in pages read about sign-in `id`.
pub(crate) async fn signin_view(app: &TestApp, id: &str) -> Value {
    let response = app
        .http
        .get(format!("{}/signin/api/{id}", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

pub(crate) async fn frame_api(app: &TestApp, id: &str, action: &str, body: Value) -> Value {
    let response = app
        .http
        .post(format!("{}/signin/api/{id}/{action}", app.address))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "POST {action}");
    response.json().await.unwrap()
}

/// Picks the Berlin Group sandbox bank on a redirection's page and answers its SCA page as the
/// owner would; returns where the bank sends the owner back (our callback) and the cookie that
/// binds the attempt to the owner's browser.
pub(crate) async fn approve_at_the_bank(
    app: &TestApp,
    id: &str,
    login: &str,
    password: &str,
) -> (String, String) {
    let picked = app
        .http
        .post(format!("{}/signin/api/{id}/bank", app.address))
        .json(&json!({"bank": "sandbox"}))
        .send()
        .await
        .unwrap();
    assert_eq!(picked.status(), StatusCode::OK);
    let cookie = binding_cookie(&picked).expect("the page's browser is bound");
    let view: Value = picked.json().await.unwrap();
    assert_eq!(view["status"], "in_progress");
    assert_eq!(
        view["step"],
        json!({"kind": "redirect"}),
        "no bank URL leaks"
    );
    let browser = browser();
    let go = browser
        .get(format!("{}/signin/s/{id}/go", app.address))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    let sca_page = location(&go);
    assert!(
        sca_page.starts_with(&format!("{}/sca/", app.bank_url)),
        "{sca_page}"
    );
    let callback = answer_sca_page(&sca_page, login, password).await;
    assert!(
        callback.starts_with(&format!("{}/signin/callback/", app.address)),
        "{callback}"
    );
    (callback, cookie)
}

/// Answers the sandbox bank's SCA page at `sca_page` as `login` approving access; returns
/// where the bank sends the browser back (Aisle's callback).
pub(crate) async fn answer_sca_page(sca_page: &str, login: &str, password: &str) -> String {
    let answered = browser()
        .post(sca_page)
        .form(&[
            ("login", login),
            ("password", password),
            ("otp", aisle_sandbox_bank::TEST_OTP),
            ("decision", "approve"),
        ])
        .send()
        .await
        .unwrap();
    location(&answered)
}

/// The owner's browser following `url` with its binding `cookie`.
async fn follow(url: &str, cookie: &str) -> reqwest::Response {
    browser()
        .get(url)
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn an_owner_who_follows_a_redirection_returns_to_the_client_whose_session_then_imports() {
    let app = spawn_app().await;
    let id = open_redirection(&app, None).await;
    assert_eq!(redirection_status(&app, &id).await["status"], "pending");

    let page = browser()
        .get(format!("{}/signin/s/{id}", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let csp = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(page.headers()["referrer-policy"], "no-referrer");

    let (callback, cookie) =
        approve_at_the_bank(&app, &id, "alice", aisle_sandbox_bank::TEST_PASSWORD).await;
    let back = follow(&callback, &cookie).await;
    assert_eq!(location(&back), format!("{BACK}&redirectionId={id}"));

    let status = redirection_status(&app, &id).await;
    assert_eq!(status["status"], "succeeded", "{status}");
    assert_eq!(status["target"], "sandbox");
    assert_eq!(status["error"], Value::Null);
    let accepted = app
        .post_default_import(
            &app.api_key,
            &json!({
                "sessionId": status["sessionId"],
                "sessionIdSignature": status["sessionIdSignature"],
            }),
        )
        .await;
    assert_eq!(accepted.status(), StatusCode::ACCEPTED);
    let command_id = accepted.json::<Value>().await.unwrap()["commandId"]
        .as_str()
        .unwrap()
        .to_string();
    let command = app
        .wait_for_command(&command_id, Duration::from_secs(30))
        .await;
    assert_eq!(command["state"], "successful", "{command}");
    assert_eq!(command["ownerExternalId"], "owner-9");
}

#[tokio::test]
async fn a_wrong_password_at_the_bank_fails_the_redirection_with_invalid_credentials() {
    let app = spawn_app().await;
    let id = open_redirection(&app, None).await;
    let (callback, cookie) = approve_at_the_bank(&app, &id, "alice", "not-the-password").await;
    let back = follow(&callback, &cookie).await;
    assert_eq!(location(&back), format!("{BACK}&redirectionId={id}"));
    let status = redirection_status(&app, &id).await;
    assert_eq!(status["status"], "failed");
    assert_eq!(status["error"]["code"], "InvalidCredentials");
    assert_eq!(status["sessionId"], Value::Null);
    assert_eq!(app.count("select count(*) from sessions").await, 0);
}

#[tokio::test]
async fn a_replayed_bank_callback_changes_nothing_and_an_unknown_one_is_not_found() {
    let app = spawn_app().await;
    let id = open_redirection(&app, None).await;
    let (callback, cookie) =
        approve_at_the_bank(&app, &id, "alice", aisle_sandbox_bank::TEST_PASSWORD).await;
    let first = location(&follow(&callback, &cookie).await);
    let again = location(&follow(&callback, &cookie).await);
    assert_eq!(first, again);
    assert_eq!(app.count("select count(*) from sessions").await, 1);

    let unknown = browser()
        .get(format!(
            "{}/signin/callback/{}",
            app.address,
            "ab".repeat(32)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_form_bank_is_signed_in_on_aisles_own_form_one_step_at_a_time() {
    let app = spawn_app().await;
    let id = open_redirection(&app, Some("sandbox-partner")).await;
    assert_eq!(signin_view(&app, &id).await["status"], "picking");
    // Opening the link only renders; the page then begins the bank by POST, so that the
    // owner's address goes with it and a link scanner's GET calls no bank.
    let page = reqwest::get(format!("{}/signin/s/{id}", app.address))
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(signin_view(&app, &id).await["status"], "picking");
    frame_api(&app, &id, "arrive", json!({})).await;
    let view = signin_view(&app, &id).await;
    assert_eq!(
        view["status"], "in_progress",
        "the preselected bank is begun"
    );
    assert_eq!(view["bank"]["id"], "sandbox-partner");
    assert_eq!(view["step"]["kind"], "form");
    let fields = view["step"]["fields"].as_array().unwrap();
    assert!(!fields.is_empty());

    let missing = app
        .http
        .post(format!("{}/signin/api/{id}/form", app.address))
        .json(&json!({"values": {}}))
        .send()
        .await
        .unwrap();
    assert_problem(missing, StatusCode::BAD_REQUEST, "InvalidParameter").await;

    let values: serde_json::Map<String, Value> = fields
        .iter()
        .map(|field| {
            let name = field["name"].as_str().unwrap();
            let answer = aisle_sandbox_bank::form_answer("alice", name).unwrap();
            (name.to_string(), Value::String(answer))
        })
        .collect();
    let done = frame_api(&app, &id, "form", json!({"values": values})).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(
        done["session"],
        Value::Null,
        "a redirection's session is for the backend"
    );
    assert_eq!(
        done["completionCode"],
        Value::Null,
        "nor is there a code for it"
    );
    assert_eq!(
        done["returnTo"],
        format!("{BACK}&redirectionId={id}"),
        "the page sends the owner back"
    );
    let status = redirection_status(&app, &id).await;
    assert_eq!(status["status"], "succeeded");
    assert_eq!(status["target"], "sandbox-partner");
}

#[tokio::test]
async fn a_redirection_to_a_uri_the_client_did_not_register_is_refused() {
    let app = spawn_app().await;
    app.register(app.client_id, &[], &[BACK]).await;
    for foreign in [
        "https://evil.example/back?shop=1",
        "http://127.0.0.1:9/back?shop=1&x=1",
        "http://127.0.0.1:9/back",
        "http://127.0.0.1:10/back?shop=1",
        "javascript:alert(1)",
    ] {
        let response = create_redirection(
            &app,
            json!({"redirectUri": foreign, "ownerExternalId": "owner-9"}),
        )
        .await;
        assert_problem(response, StatusCode::BAD_REQUEST, "InvalidRedirectUri").await;
    }
    assert_eq!(app.count("select count(*) from signins").await, 0);
}

#[tokio::test]
async fn another_clients_redirection_is_not_found() {
    let app = spawn_app().await;
    let id = open_redirection(&app, None).await;
    let (_, other_key) = app.create_client(&[]).await;
    let response = redirection(&app, &other_key, &id).await;
    assert_problem(response, StatusCode::NOT_FOUND, "InvalidRedirectionId").await;
    let unknown = redirection(&app, &app.api_key, &Uuid::new_v4().to_string()).await;
    assert_problem(unknown, StatusCode::NOT_FOUND, "InvalidRedirectionId").await;
}

#[tokio::test]
async fn a_redirection_left_unfinished_past_its_time_fails_as_expired() {
    let app = spawn_app().await;
    let id = open_redirection(&app, None).await;
    sqlx::query("update signins set expires_at = now() - interval '1 second'")
        .execute(&app.pool)
        .await
        .unwrap();
    let status = redirection_status(&app, &id).await;
    assert_eq!(status["status"], "failed");
    assert_eq!(status["error"]["code"], "SignInExpired");
    let late = app
        .http
        .post(format!("{}/signin/api/{id}/bank", app.address))
        .json(&json!({"bank": "sandbox"}))
        .send()
        .await
        .unwrap();
    assert_problem(late, StatusCode::CONFLICT, "SignInClosed").await;
}

#[tokio::test]
async fn the_widget_opens_only_for_a_registered_origin_and_only_that_origin_may_frame_it() {
    let app = spawn_app().await;
    let origin = "http://127.0.0.1:7000";
    app.register(app.client_id, &[origin], &[]).await;
    let client = app.client_id.to_string();
    let params = |origin: &str, state: &str| json!({"client": client, "origin": origin, "state": state, "ownerExternalId": "owner-1"});
    let entry = |origin: &str, state: &str| {
        browser()
            .get(format!("{}/signin/widget", app.address))
            .query(&params(origin, state))
            .send()
    };
    let state = "0123456789abcdef0123456789abcdef";
    for refused in [
        entry("http://127.0.0.1:7001", state).await.unwrap(),
        entry("https://evil.example", state).await.unwrap(),
        entry(origin, "short").await.unwrap(),
    ] {
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    }
    let rendered = entry(origin, state).await.unwrap();
    assert_eq!(rendered.status(), StatusCode::OK);
    let csp = rendered.headers()["content-security-policy"]
        .to_str()
        .unwrap();
    assert!(csp.contains(&format!("frame-ancestors {origin}")), "{csp}");
    assert_eq!(app.count("select count(*) from signins").await, 0);

    // The frame opens the sign-in by POST; the parameters are checked the same way.
    let open = |origin: &str, state: &str| {
        app.http
            .post(format!("{}/signin/widget", app.address))
            .header("origin", &app.address)
            .header("sec-fetch-site", "same-origin")
            .json(&params(origin, state))
            .send()
    };
    let refused = open("https://evil.example", state).await.unwrap();
    assert_problem(refused, StatusCode::BAD_REQUEST, "InvalidParameter").await;
    assert_eq!(app.count("select count(*) from signins").await, 0);
    let opened = open(origin, state).await.unwrap();
    assert_eq!(opened.status(), StatusCode::CREATED);
    assert_eq!(opened.headers()["cache-control"], "no-store");
    let opened: Value = opened.json().await.unwrap();
    let id = opened["id"].as_str().unwrap();
    let page = browser()
        .get(format!("{}/signin/s/{id}", app.address))
        .send()
        .await
        .unwrap();
    let csp = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains(&format!("frame-ancestors {origin}")), "{csp}");
    assert!(csp.contains("script-src 'self'"), "{csp}");

    let view = signin_view(&app, id).await;
    assert_eq!(view["parentOrigin"], origin);
    assert_eq!(view["state"], state);
    assert_eq!(view["clientName"], "test client");
}

#[tokio::test]
async fn bank_secrets_are_sealed_at_rest_and_erased_with_the_banks_consent_when_the_import_ends() {
    let app = spawn_app().await;
    let session = app.sandbox_session(&app.api_key, "alice").await;
    let session_id = Uuid::parse_str(session["sessionId"].as_str().unwrap()).unwrap();
    let sealed: Vec<u8> = sqlx::query_scalar("select bank_secret from sessions where id = $1")
        .bind(session_id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let secret = SecretSealer::from_hex(TEST_SECRETS_KEY)
        .unwrap()
        .open(&sealed, session_id.as_bytes())
        .unwrap();
    let consent_id = serde_json::from_str::<Value>(&secret).unwrap()["consentId"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        !String::from_utf8_lossy(&sealed).contains(&consent_id),
        "the consent id is not stored in the clear"
    );

    let command_id = app.start_import_with_session(&session).await;
    let command = app
        .wait_for_command(&command_id, Duration::from_secs(30))
        .await;
    assert_eq!(command["state"], "successful");
    let left: Option<Vec<u8>> =
        sqlx::query_scalar("select bank_secret from sessions where id = $1")
            .bind(session_id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(left, None, "the session's bank secret is erased");
    // The bank's side is ended right after the command: poll it with a deadline.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let consent: Value = app
            .http
            .get(format!("{}/v1/consents/{consent_id}/status", app.bank_url))
            .header("x-request-id", Uuid::new_v4().to_string())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if consent["consentStatus"] == "terminatedByTpp" {
            break;
        }
        assert!(Instant::now() < deadline, "consent still {consent}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn an_address_opening_sign_ins_too_fast_is_told_to_wait() {
    let app = spawn_app().await;
    let origin = "http://127.0.0.1:7000";
    app.register(app.client_id, &[origin], &[]).await;
    let client = app.client_id.to_string();
    let query = [
        ("client", client.as_str()),
        ("origin", origin),
        ("state", "0123456789abcdef0123456789abcdef"),
        ("ownerExternalId", "owner-1"),
    ];
    let body: serde_json::Map<String, Value> = query
        .iter()
        .map(|(name, value)| (name.to_string(), Value::String(value.to_string())))
        .collect();
    let open = || {
        app.http
            .post(format!("{}/signin/widget", app.address))
            .header("origin", &app.address)
            .json(&body)
            .send()
    };
    // The default quota: 30 a minute, in a burst.
    for _ in 0..30 {
        assert_eq!(open().await.unwrap().status(), StatusCode::CREATED);
    }
    let refused = open().await.unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry_after), "{retry_after}");
    assert_eq!(app.count("select count(*) from signins").await, 30);
}
