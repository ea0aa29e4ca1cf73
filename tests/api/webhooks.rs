//! Signed webhooks: the API, delivery with retries, the log, disabling, the SSRF guard, and a
//! delivery that survives its worker being killed. Receivers are real HTTP servers on
//! loopback, so the delivery worker under test allows private destinations unless a test
//! checks that it refuses them.

use std::{
    future::Future,
    path::Path,
    process::Stdio,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use aisle::{
    config::WebhooksConfig,
    sealing::SecretSealer,
    webhooks::{
        EventType,
        delivery::Deliverer,
        endpoints::{self, WebhookUrl},
        outbox,
        signing::SigningSecret,
    },
};
use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode as AxumStatus},
    response::{IntoResponse, Response},
    routing::post,
};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::{net::TcpListener, process::Child};
use uuid::Uuid;

use crate::helpers::{
    TEST_DELETION_RECEIPT_KEY, TEST_SECRETS_KEY, TestApp, assert_problem, spawn_app,
    spawn_app_without_workers,
};

const WAIT: Duration = Duration::from_secs(60);

/// What a receiver answers to its n-th request (the last answer repeats).
#[derive(Debug, Clone)]
enum Reply {
    Status(u16),
    /// A status with one extra header.
    StatusWith(u16, &'static str, &'static str),
    /// Answers only after this long.
    Late(Duration),
}

/// One request a receiver got.
#[derive(Debug, Clone)]
struct Seen {
    headers: HeaderMap,
    body: Bytes,
}

impl Seen {
    fn header(&self, name: &str) -> &str {
        self.headers[name].to_str().unwrap()
    }

    fn payload(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    /// Whether it carries a valid Standard Webhooks signature under `secret`.
    fn verifies_with(&self, secret: &SigningSecret) -> bool {
        secret.verify(
            self.header("webhook-id"),
            self.header("webhook-timestamp").parse().unwrap(),
            &self.body,
            self.header("webhook-signature"),
        )
    }
}

struct ReceiverState {
    script: Vec<Reply>,
    seen: Mutex<Vec<Seen>>,
}

/// A webhook receiver on a port of its own.
struct Receiver {
    url: String,
    state: Arc<ReceiverState>,
}

impl Receiver {
    async fn start(script: Vec<Reply>) -> Self {
        let state = Arc::new(ReceiverState {
            script,
            seen: Mutex::new(Vec::new()),
        });
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hooks", listener.local_addr().unwrap());
        let app = Router::new()
            .route("/hooks", post(receive))
            .route("/elsewhere", post(receive))
            .with_state(state.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, state }
    }

    fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }

    /// Waits until it has seen `count` requests.
    async fn wait_for(&self, count: usize) -> Vec<Seen> {
        until(
            WAIT,
            &format!("{count} requests at the receiver"),
            || async {
                let seen = self.seen();
                (seen.len() >= count).then_some(seen)
            },
        )
        .await
    }
}

async fn receive(
    State(state): State<Arc<ReceiverState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let n = {
        let mut seen = state.seen.lock().unwrap();
        seen.push(Seen { headers, body });
        seen.len()
    };
    let reply = state.script[(n - 1).min(state.script.len() - 1)].clone();
    match reply {
        Reply::Status(status) => (AxumStatus::from_u16(status).unwrap(), "ok").into_response(),
        Reply::StatusWith(status, name, value) => (
            AxumStatus::from_u16(status).unwrap(),
            [(name, value)],
            "see there",
        )
            .into_response(),
        Reply::Late(after) => {
            tokio::time::sleep(after).await;
            (AxumStatus::OK, "late").into_response()
        }
    }
}

/// Polls `check` until it yields, failing after `deadline`.
async fn until<T, F, Fut>(deadline: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(started.elapsed() < deadline, "no {what} after {deadline:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Delivery settings with waits short enough for a test.
fn quick() -> WebhooksConfig {
    WebhooksConfig {
        allow_private: true,
        attempt_timeout: Duration::from_secs(2),
        retry_base: Duration::from_millis(100),
        retry_cap: Duration::from_millis(200),
        poll_interval: Duration::from_millis(50),
        ..WebhooksConfig::default()
    }
}

fn sealer() -> SecretSealer {
    SecretSealer::from_hex(TEST_SECRETS_KEY).unwrap()
}

/// Runs a delivery worker for the rest of the test.
fn start_deliveries(app: &TestApp, settings: WebhooksConfig) {
    let deliverer = Deliverer {
        pool: app.pool.clone(),
        sealer: sealer(),
        settings,
    };
    tokio::spawn(deliverer.run(std::future::pending()));
}

/// Registers a loopback endpoint for the test's client (the API refuses loopback unless the
/// service allows private destinations, which the tests' API does not).
async fn register(app: &TestApp, url: &str, events: &[EventType]) -> (Uuid, SigningSecret) {
    let url = WebhookUrl::parse(url, true).unwrap();
    let registered = endpoints::register(&app.pool, &sealer(), app.client_id, &url, events)
        .await
        .unwrap();
    (registered.endpoint.id, registered.secret)
}

/// Writes an event to the outbox as the end of a command would.
async fn emit(app: &TestApp, data: Value) {
    let mut conn = app.pool.acquire().await.unwrap();
    outbox::record(&mut conn, app.client_id, EventType::ImportSucceeded, data)
        .await
        .unwrap();
}

async fn api_get(app: &TestApp, path: &str) -> reqwest::Response {
    app.http
        .get(format!("{}{path}", app.address))
        .bearer_auth(&app.api_key)
        .send()
        .await
        .unwrap()
}

async fn deliveries(app: &TestApp, endpoint: Uuid) -> Value {
    let response = api_get(app, &format!("/v1/webhooks/{endpoint}/deliveries")).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

/// Waits until the endpoint's newest delivery is no longer pending; returns it.
async fn settled_delivery(app: &TestApp, endpoint: Uuid) -> Value {
    until(WAIT, "settled delivery", || async {
        let list = deliveries(app, endpoint).await;
        let newest = list.get(0).cloned()?;
        (newest["state"] != "pending").then_some(newest)
    })
    .await
}

async fn webhook(app: &TestApp, endpoint: Uuid) -> Value {
    let response = api_get(app, &format!("/v1/webhooks/{endpoint}")).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

#[tokio::test]
async fn an_import_that_ends_posts_a_small_signed_import_succeeded_event_to_the_endpoint() {
    let app = spawn_app().await;
    let receiver = Receiver::start(vec![Reply::Status(204)]).await;
    let (endpoint, secret) = register(&app, &receiver.url, &EventType::ALL).await;
    start_deliveries(&app, quick());

    let command_id = app.start_import("alice").await;
    let command = app.wait_for_command(&command_id, WAIT).await;
    assert_eq!(command["state"], "successful");
    let seen = receiver.wait_for(1).await;

    let event = &seen[0];
    assert!(event.verifies_with(&secret), "the signature verifies");
    assert_eq!(event.header("content-type"), "application/json");
    let sent_at: i64 = event.header("webhook-timestamp").parse().unwrap();
    assert!((chrono::Utc::now().timestamp() - sent_at).abs() < 60);
    let payload = event.payload();
    assert_eq!(payload["type"], "import.succeeded");
    assert_eq!(
        payload["data"],
        json!({
            "commandId": command_id,
            "state": "successful",
            "bank": "sandbox",
            "ownerExternalId": "owner-1",
            "links": {"command": format!("/v1/commands/{command_id}")},
        }),
        "ids, state and links only: no bank data"
    );
    let delivery = settled_delivery(&app, endpoint).await;
    assert_eq!(delivery["state"], "succeeded");
    assert_eq!(delivery["eventId"], event.header("webhook-id"));
}

#[tokio::test]
async fn a_failed_import_posts_import_failed_with_its_error_code() {
    let app = spawn_app().await;
    let receiver = Receiver::start(vec![Reply::Status(200)]).await;
    register(&app, &receiver.url, &[EventType::ImportFailed]).await;
    start_deliveries(&app, quick());

    let command_id = app.start_import("garbage").await;
    let command = app.wait_for_command(&command_id, WAIT).await;
    assert_eq!(command["state"], "error");
    let payload = receiver.wait_for(1).await[0].payload();
    assert_eq!(payload["type"], "import.failed");
    assert_eq!(payload["data"]["state"], "error");
    assert_eq!(payload["data"]["errorCode"], "BankProtocolError");
}

#[tokio::test]
async fn a_receiver_that_fails_three_times_then_succeeds_gets_one_successful_delivery_after_four_logged_attempts()
 {
    let app = spawn_app_without_workers().await;
    let receiver = Receiver::start(vec![
        Reply::Status(500),
        Reply::StatusWith(503, "retry-after", "0"),
        Reply::Status(502),
        Reply::Status(200),
    ])
    .await;
    let (endpoint, secret) = register(&app, &receiver.url, &EventType::ALL).await;
    start_deliveries(&app, quick());

    emit(&app, json!({"commandId": Uuid::now_v7()})).await;
    let delivery = settled_delivery(&app, endpoint).await;

    assert_eq!(delivery["state"], "succeeded");
    assert_eq!(delivery["attempts"], 4);
    let log = delivery["log"].as_array().unwrap();
    let statuses: Vec<&Value> = log.iter().map(|attempt| &attempt["status"]).collect();
    assert_eq!(statuses, [500, 503, 502, 200]);
    assert_eq!(
        log.iter()
            .map(|a| a["attempt"].as_i64().unwrap())
            .collect::<Vec<_>>(),
        [1, 2, 3, 4]
    );
    assert!(log.iter().all(|a| a["latencyMs"].as_i64().unwrap() >= 0));
    assert_eq!(log[3]["responseSnippet"], "ok");
    let seen = receiver.seen();
    assert_eq!(seen.len(), 4, "nothing after the success");
    assert!(
        seen.iter().all(|s| s.verifies_with(&secret)),
        "each attempt signed anew"
    );
    assert!(
        seen.iter()
            .all(|s| s.header("webhook-id") == seen[0].header("webhook-id")),
        "one webhook-id for every attempt, so the receiver can dedupe"
    );
    assert_eq!(webhook(&app, endpoint).await["failingSince"], Value::Null);
}

#[tokio::test]
async fn a_delivery_out_of_attempts_fails_and_can_be_redelivered_by_hand() {
    let app = spawn_app_without_workers().await;
    let receiver = Receiver::start(vec![
        Reply::Status(500),
        Reply::Status(500),
        Reply::Status(204),
    ])
    .await;
    let (endpoint, _) = register(&app, &receiver.url, &EventType::ALL).await;
    start_deliveries(
        &app,
        WebhooksConfig {
            max_attempts: 2,
            ..quick()
        },
    );
    emit(&app, json!({})).await;
    let failed = settled_delivery(&app, endpoint).await;
    assert_eq!(failed["state"], "failed");
    assert_eq!(failed["attempts"], 2);

    let event_id = failed["eventId"].as_str().unwrap();
    let redelivered = app
        .http
        .post(format!(
            "{}/v1/webhooks/{endpoint}/deliveries/{event_id}/redeliver",
            app.address
        ))
        .bearer_auth(&app.api_key)
        .send()
        .await
        .unwrap();
    assert_eq!(redelivered.status(), StatusCode::ACCEPTED);
    let delivered = settled_delivery(&app, endpoint).await;
    assert_eq!(delivered["state"], "succeeded");
    assert_eq!(delivered["attempts"], 3);
    assert_eq!(receiver.seen()[2].header("webhook-id"), event_id);

    let unknown = app
        .http
        .post(format!(
            "{}/v1/webhooks/{endpoint}/deliveries/{}/redeliver",
            app.address,
            Uuid::now_v7()
        ))
        .bearer_auth(&app.api_key)
        .send()
        .await
        .unwrap();
    assert_problem(unknown, StatusCode::NOT_FOUND, "InvalidEventId").await;
}

#[tokio::test]
async fn an_endpoint_that_answers_410_is_disabled_and_says_why() {
    let app = spawn_app_without_workers().await;
    let receiver = Receiver::start(vec![Reply::Status(410)]).await;
    let (endpoint, _) = register(&app, &receiver.url, &EventType::ALL).await;
    start_deliveries(&app, quick());
    emit(&app, json!({})).await;
    assert_eq!(settled_delivery(&app, endpoint).await["state"], "failed");

    let disabled = webhook(&app, endpoint).await;
    assert_eq!(disabled["status"], "disabled");
    assert_eq!(disabled["disabled"]["reason"], "Gone");
    // A disabled endpoint gets no new deliveries.
    emit(&app, json!({})).await;
    assert_eq!(
        deliveries(&app, endpoint).await.as_array().unwrap().len(),
        1
    );
    assert_eq!(receiver.seen().len(), 1);
}

#[tokio::test]
async fn an_endpoint_that_keeps_failing_past_the_configured_time_is_disabled_with_the_last_failure()
{
    let app = spawn_app_without_workers().await;
    let receiver = Receiver::start(vec![Reply::Status(500)]).await;
    let (endpoint, _) = register(&app, &receiver.url, &EventType::ALL).await;
    start_deliveries(
        &app,
        WebhooksConfig {
            disable_after: Duration::ZERO,
            ..quick()
        },
    );
    emit(&app, json!({})).await;
    let delivery = settled_delivery(&app, endpoint).await;
    assert_eq!(
        delivery["state"], "failed",
        "its pending delivery fails with it"
    );

    let disabled = webhook(&app, endpoint).await;
    assert_eq!(disabled["status"], "disabled");
    assert_eq!(disabled["disabled"]["reason"], "KeptFailing");
    let detail = disabled["disabled"]["detail"].as_str().unwrap();
    assert!(detail.contains("answered 500"), "{detail}");
    let redelivered = app
        .http
        .post(format!(
            "{}/v1/webhooks/{endpoint}/deliveries/{}/redeliver",
            app.address,
            delivery["eventId"].as_str().unwrap()
        ))
        .bearer_auth(&app.api_key)
        .send()
        .await
        .unwrap();
    assert_problem(redelivered, StatusCode::CONFLICT, "WebhookDisabled").await;
}

#[tokio::test]
async fn a_loopback_destination_is_refused_without_allow_private_and_never_called() {
    let app = spawn_app_without_workers().await;
    let receiver = Receiver::start(vec![Reply::Status(200)]).await;
    let local = receiver.url.replace("127.0.0.1", "localhost");
    let (by_name, _) = register(&app, &local, &EventType::ALL).await;
    let (by_address, _) = register(&app, &receiver.url, &EventType::ALL).await;
    start_deliveries(
        &app,
        WebhooksConfig {
            allow_private: false,
            max_attempts: 1,
            ..quick()
        },
    );
    emit(&app, json!({})).await;
    for endpoint in [by_name, by_address] {
        let delivery = settled_delivery(&app, endpoint).await;
        assert_eq!(delivery["state"], "failed");
        let attempt = &delivery["log"][0];
        assert_eq!(attempt["status"], Value::Null);
        let error = attempt["error"].as_str().unwrap();
        assert!(
            error.starts_with("refused:") && error.contains("loopback"),
            "{error}"
        );
    }
    assert!(receiver.seen().is_empty(), "the receiver was never called");
}

#[tokio::test]
async fn a_redirect_is_not_followed_and_a_slow_receiver_times_out() {
    let app = spawn_app_without_workers().await;
    let redirecting = Receiver::start(vec![Reply::StatusWith(307, "location", "/elsewhere")]).await;
    let slow = Receiver::start(vec![Reply::Late(Duration::from_secs(30))]).await;
    let (redirect_endpoint, _) = register(&app, &redirecting.url, &EventType::ALL).await;
    let (slow_endpoint, _) = register(&app, &slow.url, &EventType::ALL).await;
    start_deliveries(
        &app,
        WebhooksConfig {
            attempt_timeout: Duration::from_secs(1),
            max_attempts: 1,
            ..quick()
        },
    );
    emit(&app, json!({})).await;

    let redirected = settled_delivery(&app, redirect_endpoint).await;
    assert_eq!(redirected["state"], "failed", "a 3xx is not a delivery");
    assert_eq!(redirected["log"][0]["status"], 307);
    assert_eq!(redirecting.seen().len(), 1, "/elsewhere was never asked");

    let timed_out = settled_delivery(&app, slow_endpoint).await;
    let error = timed_out["log"][0]["error"].as_str().unwrap();
    assert_eq!(error, "no answer within 1 s");
    let latency = timed_out["log"][0]["latencyMs"].as_i64().unwrap();
    assert!((900..10_000).contains(&latency), "{latency} ms");
}

#[tokio::test]
async fn no_event_is_written_for_a_command_whose_state_did_not_change() {
    let app = spawn_app().await;
    let receiver = Receiver::start(vec![Reply::Status(200)]).await;
    register(&app, &receiver.url, &EventType::ALL).await;
    let command_id = app.start_import("alice").await;
    let command = app.wait_for_command(&command_id, WAIT).await;
    assert_eq!(command["state"], "successful");
    assert_eq!(app.count("select count(*) from webhook_events").await, 1);

    // A second ending (a reaper, a late run) is refused by the fence and writes nothing.
    let session_id: Uuid = sqlx::query_scalar("select session_id from commands")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let target = aisle::commands::finish::Target {
        command_id: command_id.parse().unwrap(),
        client_id: app.client_id,
        session_id,
        bank_id: "sandbox".into(),
    };
    let finished_again = app
        .import_context()
        .finisher()
        .finish(
            &target,
            aisle::store::commands::Fence::Unleased,
            &aisle::model::command::Outcome::error(
                aisle::model::command::CommandErrorCode::Internal,
                "late",
            ),
        )
        .await
        .unwrap();
    assert!(!finished_again);
    assert_eq!(app.count("select count(*) from webhook_events").await, 1);
    assert_eq!(
        app.count("select count(*) from webhook_deliveries").await,
        1
    );
}

#[tokio::test]
async fn a_client_without_a_subscribed_endpoint_gets_no_events_written() {
    let app = spawn_app().await;
    let receiver = Receiver::start(vec![Reply::Status(200)]).await;
    register(&app, &receiver.url, &[EventType::SigninFailed]).await;
    let command_id = app.start_import("alice").await;
    app.wait_for_command(&command_id, WAIT).await;
    assert_eq!(app.count("select count(*) from webhook_events").await, 0);
}

#[tokio::test]
async fn a_redirection_that_ends_posts_signin_succeeded_or_signin_failed() {
    let app = spawn_app().await;
    let receiver = Receiver::start(vec![Reply::Status(200)]).await;
    register(
        &app,
        &receiver.url,
        &[EventType::SigninSucceeded, EventType::SigninFailed],
    )
    .await;
    start_deliveries(&app, quick());
    let back = "http://127.0.0.1:9/back";
    app.register(app.client_id, &[], &[back]).await;

    let refused = redirect_through_the_bank(&app, back, "not-the-password").await;
    let failed = receiver.wait_for(1).await[0].payload();
    assert_eq!(failed["type"], "signin.failed");
    assert_eq!(
        failed["data"],
        json!({
            "channel": "redirection",
            "redirectionId": refused,
            "bank": "sandbox",
            "ownerExternalId": "owner-w",
            "errorCode": "InvalidCredentials",
            "links": {"redirection": format!("/v1/signin/redirections/{refused}")},
        })
    );

    let approved = redirect_through_the_bank(&app, back, aisle_sandbox_bank::TEST_PASSWORD).await;
    let succeeded = receiver.wait_for(2).await[1].payload();
    assert_eq!(succeeded["type"], "signin.succeeded");
    assert_eq!(succeeded["data"]["redirectionId"], approved);
    let status: Value = api_get(&app, &format!("/v1/signin/redirections/{approved}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(succeeded["data"]["sessionId"], status["sessionId"]);
    assert!(succeeded["data"].get("sessionIdSignature").is_none());
}

/// Opens a redirection, picks the sandbox bank and answers its SCA page with `password`;
/// returns the redirection's id once the bank sent the owner back.
async fn redirect_through_the_bank(app: &TestApp, back: &str, password: &str) -> String {
    let created = app.open_redirection(back, "owner-w", Some("sandbox")).await;
    let id = created["redirectionId"].as_str().unwrap().to_string();
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // The link's page begins the preselected bank, with the owner's address, and binds the
    // attempt to this browser.
    let arrived = browser
        .post(format!("{}/signin/api/{id}/arrive", app.address))
        .send()
        .await
        .unwrap();
    let cookie = crate::helpers::binding_cookie(&arrived).expect("the browser is bound");
    let go = browser
        .get(format!("{}/signin/s/{id}/go", app.address))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    let sca_page = go.headers()["location"].to_str().unwrap().to_string();
    let answered = browser
        .post(&sca_page)
        .form(&[
            ("login", "alice"),
            ("password", password),
            ("otp", aisle_sandbox_bank::TEST_OTP),
            ("decision", "approve"),
        ])
        .send()
        .await
        .unwrap();
    let callback = answered.headers()["location"].to_str().unwrap().to_string();
    let returned = browser
        .get(&callback)
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(returned.status(), StatusCode::SEE_OTHER);
    id
}

#[tokio::test]
async fn an_endpoint_is_registered_with_its_secret_shown_once_then_listed_read_and_deleted() {
    let app = spawn_app_without_workers().await;
    let created = app
        .http
        .post(format!("{}/v1/webhooks", app.address))
        .bearer_auth(&app.api_key)
        .json(&json!({"url": "https://hooks.shop.example/aisle", "events": ["import.failed", "import.succeeded"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.unwrap();
    let secret = created["secret"].as_str().unwrap();
    assert!(SigningSecret::parse(secret).is_ok(), "{secret}");
    assert_eq!(created["status"], "enabled");
    assert_eq!(
        created["events"],
        json!(["import.succeeded", "import.failed"])
    );
    let id = created["id"].as_str().unwrap();

    let listed: Value = api_get(&app, "/v1/webhooks").await.json().await.unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["url"], "https://hooks.shop.example/aisle");
    assert!(listed[0].get("secret").is_none(), "shown once");
    let stored: Vec<u8> = sqlx::query_scalar("select secret_sealed from webhook_endpoints")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(
        !stored.windows(8).any(|w| w == &secret.as_bytes()[6..14]),
        "stored sealed, not in plain text"
    );

    let (_, other_key) = app.create_client(&[]).await;
    let theirs = app
        .http
        .get(format!("{}/v1/webhooks/{id}", app.address))
        .bearer_auth(&other_key)
        .send()
        .await
        .unwrap();
    assert_problem(theirs, StatusCode::NOT_FOUND, "InvalidWebhookId").await;

    let delete = |key: String| {
        app.http
            .delete(format!("{}/v1/webhooks/{id}", app.address))
            .bearer_auth(key)
            .send()
    };
    assert_problem(
        delete(other_key).await.unwrap(),
        StatusCode::NOT_FOUND,
        "InvalidWebhookId",
    )
    .await;
    assert_eq!(
        delete(app.api_key.clone()).await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    assert_problem(
        api_get(&app, &format!("/v1/webhooks/{id}")).await,
        StatusCode::NOT_FOUND,
        "InvalidWebhookId",
    )
    .await;
}

#[tokio::test]
async fn every_webhook_operation_is_in_the_openapi_document() {
    let app = spawn_app_without_workers().await;
    let document: Value = api_get(&app, "/openapi.json").await.json().await.unwrap();
    let paths = &document["paths"];
    for (path, method) in [
        ("/v1/webhooks", "post"),
        ("/v1/webhooks", "get"),
        ("/v1/webhooks/{webhook_id}", "get"),
        ("/v1/webhooks/{webhook_id}", "delete"),
        ("/v1/webhooks/{webhook_id}/deliveries", "get"),
        (
            "/v1/webhooks/{webhook_id}/deliveries/{event_id}/redeliver",
            "post",
        ),
    ] {
        assert!(paths[path][method].is_object(), "{method} {path}");
    }
    let events = &document["components"]["schemas"]["EventType"]["enum"];
    assert_eq!(
        events,
        &json!([
            "import.succeeded",
            "import.failed",
            "signin.succeeded",
            "signin.failed",
            "data.deleted"
        ])
    );
}

#[tokio::test]
async fn an_endpoint_url_that_is_not_https_or_names_a_private_address_or_an_unknown_event_is_refused()
 {
    let app = spawn_app_without_workers().await;
    for body in [
        json!({"url": "http://hooks.shop.example/"}),
        json!({"url": "https://127.0.0.1/hooks"}),
        json!({"url": "https://169.254.169.254/latest"}),
        json!({"url": "https://[fd00::1]/hooks"}),
        json!({"url": "https://localhost/hooks"}),
        json!({"url": "https://hooks.shop.example/", "events": ["import.started"]}),
    ] {
        let response = app
            .http
            .post(format!("{}/v1/webhooks", app.address))
            .bearer_auth(&app.api_key)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_problem(response, StatusCode::BAD_REQUEST, "InvalidParameter").await;
    }
    assert_eq!(app.count("select count(*) from webhook_endpoints").await, 0);
}

/// `aisle worker` as its own OS process, on this test's database and sandbox bank.
fn worker_process(app: &TestApp) -> Child {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    tokio::process::Command::new(env!("CARGO_BIN_EXE_aisle"))
        .arg("worker")
        .current_dir(root)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AISLE_DATABASE_URL", database_url(app))
        .env(
            "AISLE_SESSION_SIGNING_KEY",
            "test-signing-key-0123456789abcdef",
        )
        .env("AISLE_SECRETS_KEY", TEST_SECRETS_KEY)
        .env("AISLE_DELETION_RECEIPT_KEY", TEST_DELETION_RECEIPT_KEY)
        .env("AISLE_REGISTRY", root.join("connectors/banks.toml"))
        .env("AISLE_STATE_DIR", env!("CARGO_TARGET_TMPDIR"))
        .env("AISLE_SANDBOX_BANK__URL", &app.bank_url)
        .env("AISLE_WORKER__POLL_INTERVAL", "1")
        .env("AISLE_WEBHOOKS__ALLOW_PRIVATE", "true")
        // Long enough for the test to kill a worker mid-attempt; the claim then lapses 5 s later.
        .env("AISLE_WEBHOOKS__ATTEMPT_TIMEOUT", "5")
        .env("AISLE_WEBHOOKS__RETRY_BASE", "1")
        .env("AISLE_WEBHOOKS__RETRY_CAP", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("aisle worker starts")
}

/// The URL of the test's own database, for a process of its own.
fn database_url(app: &TestApp) -> String {
    let options = app.pool.connect_options();
    let database = options.get_database().unwrap();
    match std::env::var("AISLE_DATABASE_URL").or_else(|_| std::env::var("DATABASE_URL")) {
        Ok(server) => {
            let mut url = url::Url::parse(&server).unwrap();
            url.set_path(database);
            url.to_string()
        }
        Err(_) => format!(
            "postgres://{}@{}:{}/{database}",
            options.get_username(),
            options.get_host(),
            options.get_port()
        ),
    }
}

#[tokio::test]
async fn a_worker_killed_after_finishing_a_command_but_before_delivering_its_event_delivers_it_after_restart()
 {
    let app = spawn_app_without_workers().await;
    // The first attempt hangs, so the worker is killed with the event claimed but undelivered.
    let receiver = Receiver::start(vec![
        Reply::Late(Duration::from_secs(120)),
        Reply::Status(204),
    ])
    .await;
    let (endpoint, secret) = register(&app, &receiver.url, &[EventType::ImportSucceeded]).await;
    let command_id = app.start_import("alice").await;

    let mut first = worker_process(&app);
    let in_flight = receiver.wait_for(1).await;
    let command: Value = app
        .get_command(&app.api_key, &command_id)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        command["state"], "successful",
        "the command ended before its event went out"
    );
    first.start_kill().unwrap();
    let status = first.wait().await.unwrap();
    assert!(!status.success(), "killed: {status}");
    assert_eq!(
        deliveries(&app, endpoint).await[0]["state"],
        "pending",
        "the event is still owed"
    );

    let _second = worker_process(&app);
    let seen = receiver.wait_for(2).await;
    assert_eq!(
        seen[1].header("webhook-id"),
        in_flight[0].header("webhook-id")
    );
    assert!(seen[1].verifies_with(&secret));
    assert_eq!(seen[1].payload()["data"]["commandId"], command_id);
    let delivery = settled_delivery(&app, endpoint).await;
    assert_eq!(delivery["state"], "succeeded");
    assert_eq!(delivery["attempts"], 2, "the killed attempt counts");
    assert_eq!(app.count("select count(*) from webhook_events").await, 1);
}

#[tokio::test]
async fn the_demo_client_receives_verifies_and_lists_its_webhooks_on_its_own_origin() {
    let app = spawn_app().await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let demo_url = format!("http://{}", listener.local_addr().unwrap());
    let (_, secret) = register(
        &app,
        &format!("{demo_url}/demo/webhooks"),
        &[EventType::ImportSucceeded],
    )
    .await;
    let demo = aisle::demo::Demo {
        aisle_url: app.address.clone(),
        client_id: app.client_id,
        api_key: app.api_key.clone(),
        http: reqwest::Client::new(),
    };
    tokio::spawn(aisle::demo::serve_with_inbox(
        listener,
        demo,
        aisle::demo::inbox::Inbox::new(secret),
        std::future::pending(),
    ));
    start_deliveries(&app, quick());

    let command_id = app.start_import("alice").await;
    let shown = until(WAIT, "a webhook on the demo page", || async {
        let shown: Value = app
            .http
            .get(format!("{demo_url}/demo/api/webhooks"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        (!shown.as_array().unwrap().is_empty()).then_some(shown)
    })
    .await;
    assert_eq!(shown[0]["verified"], true);
    assert_eq!(shown[0]["payload"]["type"], "import.succeeded");
    assert_eq!(shown[0]["payload"]["data"]["commandId"], command_id);

    // A message not signed with the endpoint's secret is refused and shown as such.
    let forged = app
        .http
        .post(format!("{demo_url}/demo/webhooks"))
        .header("webhook-id", "evt-forged")
        .header(
            "webhook-timestamp",
            chrono::Utc::now().timestamp().to_string(),
        )
        .header("webhook-signature", "v1,bm9wZQ==")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
}
