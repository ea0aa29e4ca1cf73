//! `just bench`: one Default Import of two years at a slow bank, against its critical path.
//!
//! The scenario (issue 4): the sandbox bank answers every call after 100 ms; the persona has
//! three accounts; two years of history in 90-day windows. The import's wall time is the
//! command's `finishedAt − createdAt`. The critical path is the longest chain of calls that must
//! run one after another — the account list, then the slowest window's pages, which follow each
//! other through next-page links — timed by walking each window alone with the same connector.
//! The target is a wall time of at most 1.3 × the critical path.
//!
//! `AISLE_BENCH_SHORT=1` (what CI runs) makes the bank answer after 10 ms, so the run takes
//! seconds; the ratio is then dominated by fixed costs and is not the figure to report.

use std::{path::Path, sync::Arc, time::Duration};

use aisle::{
    config::{Config, Secret},
    devdb::{Durability, PrivateCluster},
    engine::planner::{Plan, PlanInput},
    sealing::SecretSealer,
    service::Service,
    store::clients,
};
use aisle_sdk::{BankSession, Connector, PageCursor};
use chrono::{DateTime, Days, Utc};
use serde_json::{Value, json};
use tokio::{net::TcpListener, time::Instant};
use tokio_util::sync::CancellationToken;

/// The bank's latency per call.
fn latency() -> Duration {
    if std::env::var("AISLE_BENCH_SHORT").is_ok_and(|v| v == "1") {
        Duration::from_millis(10)
    } else {
        Duration::from_millis(100)
    }
}

/// The key the bench's service seals consents with; the critical-path walk opens one with it.
fn secrets_key() -> String {
    "42".repeat(32)
}

#[tokio::main]
async fn main() {
    aisle::telemetry::init();
    let persona = std::env::var("BENCH_PERSONA").unwrap_or_else(|_| "trio".into());
    let stop = CancellationToken::new();
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("aisle-bench-postgres");
    // Stops by itself once this process has ended, however it ends (see `aisle::devdb`).
    let cluster = PrivateCluster::start(&root, Durability::Throwaway).expect("private Postgres");
    let database = format!("bench_{}", uuid::Uuid::new_v4().simple());
    let database_url = cluster.ensure_database(&database).await.expect("database");

    let bank = TcpListener::bind("127.0.0.1:0").await.expect("bank port");
    let bank_url = format!("http://{}", bank.local_addr().expect("bank address"));
    tokio::spawn(aisle_sandbox_bank::serve(
        bank,
        aisle_sandbox_bank::SandboxOptions {
            latency: latency(),
            ..Default::default()
        },
        stop.clone().cancelled_owned(),
    ));
    let mut config = Config {
        database_url: Some(Secret(database_url)),
        registry: Path::new(env!("CARGO_MANIFEST_DIR")).join("connectors/banks.toml"),
        session_signing_key: Some(Secret("bench-signing-key-0123456789abcdef".into())),
        secrets_key: Some(Secret(secrets_key())),
        deletion_receipt_key: Some(Secret(secrets_key())),
        ..Config::default()
    };
    config.sandbox_bank.url = Some(bank_url);
    let service = Arc::new(Service::start(config).await.expect("service"));
    let api = TcpListener::bind("127.0.0.1:0").await.expect("api port");
    let address = format!("http://{}", api.local_addr().expect("api address"));
    let (api_service, workers) = (service.clone(), service.clone());
    let (api_stop, workers_stop) = (stop.clone(), stop.clone());
    tokio::spawn(async move { api_service.run_api(api, api_stop.cancelled_owned()).await });
    tokio::spawn(async move { workers.run_workers(workers_stop.cancelled_owned()).await });
    let (_, api_key) = clients::create(&service.pool, "bench", &[])
        .await
        .expect("client");
    let http = reqwest::Client::new();

    let since = Utc::now().date_naive() - Days::new(729);
    let session = sign_in(&http, &address, &api_key, &persona).await;
    let accepted: Value = http
        .post(format!("{address}/v1/commands/default-import"))
        .bearer_auth(&api_key)
        .json(&json!({
            "sessionId": session["sessionId"],
            "sessionIdSignature": session["sessionIdSignature"],
            "since": since,
        }))
        .send()
        .await
        .expect("post import")
        .json()
        .await
        .expect("import accepted");
    let command_id = accepted["commandId"]
        .as_str()
        .expect("command id")
        .to_owned();
    let command = wait(&http, &address, &api_key, &command_id).await;
    assert_eq!(command["state"], "successful", "{command}");
    let instant = |field: &str| -> DateTime<Utc> {
        command[field]
            .as_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("{field} in {command}"))
    };
    let wall = (instant("finishedAt") - instant("createdAt"))
        .to_std()
        .expect("finished after created");

    let critical = critical_path(&service, &http, &address, &api_key, &persona, since).await;
    let receipts: Vec<&Value> = command["result"]["accounts"]
        .as_array()
        .map(|a| a.iter().map(|account| &account["receipt"]).collect())
        .unwrap_or_default();
    let pages: u64 = receipts.iter().filter_map(|r| r["pages"].as_u64()).sum();
    let windows: u64 = receipts.iter().filter_map(|r| r["windows"].as_u64()).sum();
    println!(
        "scenario: persona {persona}, {} accounts, since {since}, {:?} per call",
        receipts.len(),
        latency()
    );
    println!("import:        {wall:.2?} wall ({windows} windows, {pages} pages)");
    println!("critical path: {critical:.2?}");
    println!(
        "ratio:         {:.2} (target <= 1.30)",
        wall.as_secs_f64() / critical.as_secs_f64()
    );
    stop.cancel();
}

async fn sign_in(http: &reqwest::Client, address: &str, api_key: &str, login: &str) -> Value {
    http.post(format!("{address}/v1/sandbox/sessions"))
        .bearer_auth(api_key)
        .json(&json!({"bank": "sandbox", "login": login, "ownerExternalId": "bench"}))
        .send()
        .await
        .expect("sign in")
        .json()
        .await
        .expect("session")
}

async fn wait(http: &reqwest::Client, address: &str, api_key: &str, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let command: Value = http
            .get(format!("{address}/v1/commands/{id}"))
            .bearer_auth(api_key)
            .send()
            .await
            .expect("poll")
            .json()
            .await
            .expect("command");
        if command["state"] != "in_progress" {
            return command;
        }
        assert!(Instant::now() < deadline, "the import took over 5 minutes");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The account list, then the slowest single window's page chain, timed alone.
async fn critical_path(
    service: &Service,
    http: &reqwest::Client,
    address: &str,
    api_key: &str,
    login: &str,
    since: chrono::NaiveDate,
) -> Duration {
    // A fresh session of our own, read straight from the store: this walk is a measurement,
    // not an import, so it borrows the consent rather than claiming the session.
    let session = sign_in(http, address, api_key, login).await;
    let id: uuid::Uuid = session["sessionId"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("session id");
    let (sealed, sca_at): (Vec<u8>, DateTime<Utc>) =
        sqlx::query_as("select bank_secret, sca_at from sessions where id = $1")
            .bind(id)
            .fetch_one(&service.pool)
            .await
            .expect("the session's consent");
    let secret = SecretSealer::from_hex(&secrets_key())
        .expect("the bench's key")
        .open(&sealed, id.as_bytes())
        .expect("the consent opens with the bench's key");
    let bank_session = BankSession { secret, sca_at };
    let connector: &dyn Connector = service
        .registry
        .get("sandbox")
        .expect("the sandbox bank")
        .connector
        .as_ref();
    let started = Instant::now();
    let accounts = connector.accounts(&bank_session).await.expect("accounts");
    let accounts_call = started.elapsed();
    let plan = Plan::new(PlanInput {
        today: Utc::now().date_naive(),
        since,
        max_import_date: None,
        profile: connector.profile(),
    });
    let mut slowest = Duration::ZERO;
    for account in &accounts {
        for window in plan.recent.iter().chain(&plan.deep) {
            let started = Instant::now();
            let mut cursor: Option<PageCursor> = None;
            loop {
                let page = connector
                    .transactions(&bank_session, account, *window, cursor.as_ref())
                    .await
                    .expect("a page");
                match page.next {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
            slowest = slowest.max(started.elapsed());
        }
    }
    accounts_call + slowest
}
