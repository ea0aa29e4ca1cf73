//! The test harness: a fresh database per test on a private cluster (or the server named by
//! `DATABASE_URL`), the sandbox bank, the API and, unless asked otherwise, the workers.

use std::{
    path::Path,
    sync::{Arc, OnceLock},
    time::{Duration, Instant},
};

use aisle::{
    config::{Config, Secret},
    devdb::{Durability, PrivateCluster},
    engine::import::ImportContext,
    service::Service,
    store::clients,
};
use ipnet::IpNet;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio::{net::TcpListener, task::JoinHandle};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// The key the tests' service seals bank secrets with, so a test can check what is stored.
pub const TEST_SECRETS_KEY: &str =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

/// The seed of the tests' deletion receipt key (Ed25519).
pub const TEST_DELETION_RECEIPT_KEY: &str =
    "1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100";

pub struct TestApp {
    pub address: String,
    pub pool: PgPool,
    pub http: reqwest::Client,
    /// The client made for this test, and its key.
    pub client_id: Uuid,
    pub api_key: String,
    /// The sandbox bank's base URL.
    pub bank_url: String,
    service: Arc<Service>,
    shutdown: CancellationToken,
}

pub struct Options {
    pub workers: bool,
    /// Added to every sandbox bank response.
    pub bank_latency: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            workers: true,
            bank_latency: Duration::ZERO,
        }
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Options::default()).await
}

/// The app with no workers: commands stay queued, so nothing races the assertions.
pub async fn spawn_app_without_workers() -> TestApp {
    spawn_app_with(Options {
        workers: false,
        ..Options::default()
    })
    .await
}

pub async fn spawn_app_with(options: Options) -> TestApp {
    spawn_app_configured(options, |_| {}).await
}

/// The app with `configure` applied to the tests' configuration (limits, pools, bank URL...).
pub async fn spawn_app_configured(
    options: Options,
    configure: impl FnOnce(&mut Config),
) -> TestApp {
    aisle::telemetry::init();
    let shutdown = CancellationToken::new();
    let bank_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let bank_url = format!("http://{}", bank_listener.local_addr().unwrap());
    tokio::spawn(aisle_sandbox_bank::serve(
        bank_listener,
        aisle_sandbox_bank::SandboxOptions {
            latency: options.bank_latency,
            ..Default::default()
        },
        shutdown.clone().cancelled_owned(),
    ));

    let mut config = test_config(test_database().await, &bank_url);
    // Banks send owners back to the public URL, so it is the address the API listens on.
    let api_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", api_listener.local_addr().unwrap());
    config.public_url = address.clone();
    configure(&mut config);
    let service = Arc::new(Service::start(config).await.expect("the service starts"));

    let api = service.clone();
    let stop = shutdown.clone().cancelled_owned();
    tokio::spawn(async move { api.run_api(api_listener, stop).await });

    let (client, api_key) = clients::create(&service.pool, "test client", &[])
        .await
        .unwrap();
    let app = TestApp {
        client_id: client.id,
        bank_url,
        address,
        pool: service.pool.clone(),
        http: reqwest::Client::new(),
        api_key,
        service,
        shutdown,
    };
    if options.workers {
        app.start_workers();
    }
    app
}

/// The tests' configuration: `database_url`, the sandbox bank at `bank_url`, fixed keys and a
/// quick queue.
pub fn test_config(database_url: String, bank_url: &str) -> Config {
    let mut config = Config {
        database_url: Some(Secret(database_url)),
        registry: Path::new(env!("CARGO_MANIFEST_DIR")).join("connectors/banks.toml"),
        session_signing_key: Some(Secret("test-signing-key-0123456789abcdef".into())),
        secrets_key: Some(Secret(TEST_SECRETS_KEY.into())),
        deletion_receipt_key: Some(Secret(TEST_DELETION_RECEIPT_KEY.into())),
        ..Config::default()
    };
    config.sandbox_bank.url = Some(bank_url.to_string());
    config.worker.heartbeat = Duration::from_secs(1);
    config.worker.missed_heartbeats = 3;
    config.worker.poll_interval = Duration::from_secs(1);
    config.worker.lease_ttl = Duration::from_secs(3);
    // Tests change a client's settings and expect the next request to see them; the cache is
    // tested on its own (polls.rs).
    config.api_key_cache_ttl = Duration::ZERO;
    config.worker.reaper_interval = Duration::from_secs(1);
    config
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl TestApp {
    /// The service behind the app, for its pools and registry.
    pub fn service(&self) -> &Service {
        &self.service
    }

    /// Starts a worker process's worth of import workers; abort the handle to kill them.
    pub fn start_workers(&self) -> JoinHandle<std::io::Result<()>> {
        self.start_workers_with(self.import_context())
    }

    /// What this app's workers run imports with, for a test to change before it starts some.
    pub fn import_context(&self) -> ImportContext {
        self.service.import_context()
    }

    /// Starts import workers that run with `context`.
    pub fn start_workers_with(&self, context: ImportContext) -> JoinHandle<std::io::Result<()>> {
        let pool = self.service.queue_pool.clone();
        let settings = self.service.config.worker.clone();
        let stop = self.shutdown.clone().cancelled_owned();
        tokio::spawn(aisle::engine::worker::run(pool, context, settings, stop))
    }

    /// Registers where `client`'s owners may sign in from and return to.
    pub async fn register(&self, client: Uuid, widget_origins: &[&str], redirect_uris: &[&str]) {
        let owned = |values: &[&str]| values.iter().map(|v| v.to_string()).collect::<Vec<_>>();
        let found = clients::register_signin_places(
            &self.pool,
            client,
            &owned(widget_origins),
            &owned(redirect_uris),
        )
        .await
        .unwrap();
        assert!(found, "client {client} exists");
    }

    /// Registers `back` as a redirect URI of the client and opens a redirection to it for
    /// `owner` (at `bank`, when given); returns the API's answer.
    pub async fn open_redirection(&self, back: &str, owner: &str, bank: Option<&str>) -> Value {
        self.register(self.client_id, &[], &[back]).await;
        let created = self
            .http
            .post(format!("{}/v1/signin/redirections", self.address))
            .bearer_auth(&self.api_key)
            .json(&serde_json::json!({"redirectUri": back, "ownerExternalId": owner, "bank": bank}))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), StatusCode::CREATED, "a redirection opens");
        created.json().await.unwrap()
    }

    pub async fn create_client(&self, allowed_ips: &[IpNet]) -> (Uuid, String) {
        let (client, key) = clients::create(&self.pool, "another client", allowed_ips)
            .await
            .unwrap();
        (client.id, key)
    }

    /// Signs in headlessly at the sandbox bank as `login`; returns the session JSON.
    pub async fn sandbox_session(&self, api_key: &str, login: &str) -> Value {
        let response = self.sandbox_sign_in(api_key, "sandbox", login).await;
        assert_eq!(response.status(), StatusCode::CREATED, "sandbox sign-in");
        response.json().await.unwrap()
    }

    /// Asks for a headless sign-in at sandbox bank `bank` as `login`.
    pub async fn sandbox_sign_in(&self, api_key: &str, bank: &str, login: &str) -> Response {
        self.http
            .post(format!("{}/v1/sandbox/sessions", self.address))
            .bearer_auth(api_key)
            .json(&json!({"bank": bank, "login": login, "ownerExternalId": "owner-1"}))
            .send()
            .await
            .unwrap()
    }

    pub async fn post_default_import(&self, api_key: &str, body: &Value) -> Response {
        self.http
            .post(format!("{}/v1/commands/default-import", self.address))
            .bearer_auth(api_key)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn get_command(&self, api_key: &str, command_id: &str) -> Response {
        self.http
            .get(format!("{}/v1/commands/{command_id}", self.address))
            .bearer_auth(api_key)
            .send()
            .await
            .unwrap()
    }

    /// Signs in as `login` and starts an import; returns its command id.
    pub async fn start_import(&self, login: &str) -> String {
        let session = self.sandbox_session(&self.api_key, login).await;
        self.start_import_with_session(&session).await
    }

    /// Starts an import with a session from [`Self::sandbox_session`]; returns its command id.
    pub async fn start_import_with_session(&self, session: &Value) -> String {
        let response = self
            .post_default_import(&self.api_key, &import_body(session))
            .await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        let accepted: Value = response.json().await.unwrap();
        accepted["commandId"].as_str().unwrap().to_string()
    }

    /// Polls the command until it leaves `in_progress`, failing after `deadline`.
    pub async fn wait_for_command(&self, command_id: &str, deadline: Duration) -> Value {
        let started = Instant::now();
        loop {
            let command: Value = self
                .get_command(&self.api_key, command_id)
                .await
                .json()
                .await
                .unwrap();
            if command["state"] != "in_progress" {
                return command;
            }
            assert!(
                started.elapsed() < deadline,
                "command {command_id} still in progress after {deadline:?}: {command}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Sessions that still hold a bank secret.
    pub async fn secrets_left(&self) -> i64 {
        self.count("select count(*) from sessions where bank_secret is not null")
            .await
    }

    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }
}

/// The Default Import body for a session from `/v1/sandbox/sessions`.
pub fn import_body(session: &Value) -> Value {
    json!({
        "sessionId": session["sessionId"],
        "sessionIdSignature": session["sessionIdSignature"],
    })
}

/// Asserts a problem+json answer with `status` and `code`.
pub async fn assert_problem(response: Response, status: StatusCode, code: &str) {
    assert_eq!(response.status(), status);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["code"], code, "{problem}");
}

/// A fresh, empty database for one test.
pub async fn test_database() -> String {
    let name = format!("test_{}", Uuid::new_v4().simple());
    match std::env::var("AISLE_DATABASE_URL").or_else(|_| std::env::var("DATABASE_URL")) {
        Ok(server) => {
            let mut admin = sqlx::PgPool::connect(&server)
                .await
                .unwrap()
                .acquire()
                .await
                .unwrap()
                .detach();
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("create database {name}")))
                .execute(&mut admin)
                .await
                .unwrap();
            let mut url = url::Url::parse(&server).unwrap();
            url.set_path(&name);
            url.to_string()
        }
        Err(_) => cluster().ensure_database(&name).await.unwrap(),
    }
}

/// The private cluster the tests share (each test still gets its own database). It stops by
/// itself once the last test process using it has ended (see `aisle::devdb`).
fn cluster() -> &'static PrivateCluster {
    static CLUSTER: OnceLock<PrivateCluster> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("aisle-test-postgres");
        PrivateCluster::start(&root, Durability::Throwaway).expect(
            "a private PostgreSQL cluster for the tests (install postgresql or set DATABASE_URL)",
        )
    })
}

/// The `name=value` of the browser-binding cookie a sign-in answer set, as a browser would send
/// it back in `Cookie`.
pub fn binding_cookie(response: &Response) -> Option<String> {
    response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|value| value.contains("aisle-signin-"))
        .and_then(|value| value.split(';').next())
        .map(str::to_string)
}
