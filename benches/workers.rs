//! `just bench`: figures of real `aisle worker` (and `aisle api`) processes on one PostgreSQL
//! (issue 13), each against its anchor measured in the same run.
//!
//! - P7: a fresh worker process's peak resident memory (`VmHWM` in `/proc/<pid>/status`)
//!   after importing `big` back 70 days, 330 days and ten years (about 10k, 50k and 110k
//!   rows), from a sandbox bank that answers at once.
//! - P5: rows stored per second during the ten-year import, read from that worker's own
//!   `/metrics` (`aisle_rows_stored_total` over `aisle_rows_store_seconds_sum`: the time spent
//!   in the stores of rows, each a transaction of its own); anchor: `COPY … FROM STDIN` of the
//!   same rows into a table like `transactions`, with its indexes.
//! - P8: imports per second with 1, 2 and 4 worker processes (each running 4 imports at once)
//!   behind 2 `aisle api` processes, the bank answering after 50 ms; anchor: 1 worker process.
//!
//! `AISLE_BENCH_SHORT=1` (what CI runs) makes it finish in seconds: `alice` instead of `big`
//! for P7 and P5, and fewer imports for P8.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    sync::Arc,
    time::Duration,
};

use aisle::{
    config::{Config, Secret},
    devdb::{Durability, PrivateCluster},
    service::Service,
    store::clients,
};
use chrono::{Days, Utc};
use futures_util::{StreamExt, stream};
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio::{
    net::TcpListener,
    process::{Child, Command},
    time::Instant,
};
use tokio_util::sync::CancellationToken;

const SIGNING_KEY: &str = "bench-signing-key-0123456789abcdef";
/// Imports one worker process runs at once in P8.
const P8_CONCURRENCY: usize = 4;

#[tokio::main]
async fn main() {
    aisle::telemetry::init();
    let short = std::env::var("AISLE_BENCH_SHORT").is_ok_and(|v| v == "1");
    let stop = CancellationToken::new();
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("aisle-bench-postgres");
    let cluster = PrivateCluster::start(&root, Durability::Throwaway).expect("private Postgres");
    let database = format!("bench_{}", uuid::Uuid::new_v4().simple());
    let database_url = cluster.ensure_database(&database).await.expect("database");
    let fast_bank = sandbox_bank(Duration::ZERO, &stop).await;
    let slow_bank = sandbox_bank(Duration::from_millis(50), &stop).await;

    // The API for P7 and P5 in this process (it migrates the database); workers are processes.
    let mut config = Config {
        database_url: Some(Secret(database_url.clone())),
        registry: registry(),
        session_signing_key: Some(Secret(SIGNING_KEY.into())),
        secrets_key: Some(Secret(secrets_key())),
        deletion_receipt_key: Some(Secret(DELETION_RECEIPT_KEY.into())),
        ..Config::default()
    };
    config.sandbox_bank.url = Some(fast_bank.clone());
    let service = Arc::new(Service::start(config).await.expect("service"));
    let api = TcpListener::bind("127.0.0.1:0").await.expect("api port");
    let address = format!("http://{}", api.local_addr().expect("api address"));
    let (api_service, api_stop) = (service.clone(), stop.clone());
    tokio::spawn(async move { api_service.run_api(api, api_stop.cancelled_owned()).await });
    let (_, api_key) = clients::create(&service.pool, "bench", &[])
        .await
        .expect("client");
    let bench = Bench {
        http: reqwest::Client::new(),
        api_key,
        pool: service.pool.clone(),
        database_url,
    };
    println!(
        "machine: {} cores, load average {}",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        load_average()
    );

    // P7 and P5.
    // `big` has about 55,000 rows a year over two years: 70 days, 330 days and everything.
    let (persona, spans): (&str, &[u64]) = if short {
        ("alice", &[365])
    } else {
        ("big", &[70, 330, 3650])
    };
    let mut last = None;
    for &days in spans {
        let metrics_port = free_port().await;
        let mut worker = bench.spawn(
            "worker",
            &fast_bank,
            &[("AISLE_METRICS_LISTEN", format!("127.0.0.1:{metrics_port}"))],
        );
        let since = Utc::now().date_naive() - Days::new(days);
        let session = bench.session(&address, persona).await;
        let command = bench.post_import(&address, &session, Some(since)).await;
        bench.wait_all_ended().await;
        let rows: i64 =
            sqlx::query_scalar("select count(*) from transactions where command_id = $1")
                .bind(command)
                .fetch_one(&bench.pool)
                .await
                .expect("rows");
        assert!(rows > 0, "the import stored its rows");
        let peak = peak_rss_mib(&worker);
        println!(
            "P7 worker peak RSS importing {persona} back {days} days, {rows} rows: {peak:.1} MB (target <= 150 MB, flat); load average {}",
            load_average()
        );
        let scraped = bench
            .http
            .get(format!("http://127.0.0.1:{metrics_port}/metrics"))
            .send()
            .await
            .expect("the worker's metrics")
            .text()
            .await
            .expect("metrics text");
        let _ = worker.kill().await;
        last = Some((command, rows, scraped));
    }
    let (command, rows, scraped) = last.expect("an import");
    let stored = ["transactions", "card_transactions"]
        .iter()
        .map(|kind| {
            metric(
                &scraped,
                &format!("aisle_rows_stored_total{{kind=\"{kind}\"}}"),
            )
            .unwrap_or(0.0)
        })
        .sum::<f64>();
    let store_seconds = metric(&scraped, "aisle_rows_store_seconds_sum").expect("the stores' time");
    let import_rate = stored / store_seconds;
    let copy_rate = rows as f64 / copy_in(&bench.pool, command).await.as_secs_f64();
    println!(
        "P5 rows stored per second during the import: {import_rate:.0}/s ({stored:.0} rows in {store_seconds:.2} s of stores); COPY FROM STDIN of the same rows: {copy_rate:.0}/s; {:.2}x (target >= 0.5)",
        import_rate / copy_rate
    );

    // P8.
    let imports = if short { 12 } else { 120 };
    let apis: Vec<(Child, String)> = {
        let mut apis = Vec::new();
        for _ in 0..2 {
            let port = free_port().await;
            let child = bench.spawn(
                "api",
                &slow_bank,
                &[("AISLE_LISTEN", format!("127.0.0.1:{port}"))],
            );
            apis.push((child, format!("http://127.0.0.1:{port}")));
        }
        apis
    };
    for (_, api) in &apis {
        bench.wait_ready(api).await;
    }
    let mut anchor = None;
    let bench = &bench;
    for processes in [1, 2, 4] {
        let sessions: Vec<(Value, &str)> = stream::iter(0..imports)
            .map(|at| {
                let api = apis[at % apis.len()].1.as_str();
                async move { (bench.session(api, "alice").await, api) }
            })
            .buffer_unordered(8)
            .collect()
            .await;
        let round: chrono::DateTime<Utc> = sqlx::query_scalar("select now()")
            .fetch_one(&bench.pool)
            .await
            .expect("the database's clock");
        let mut workers: Vec<Child> = (0..processes)
            .map(|_| {
                bench.spawn(
                    "worker",
                    &slow_bank,
                    &[("AISLE_WORKER__CONCURRENCY", P8_CONCURRENCY.to_string())],
                )
            })
            .collect();
        // Every worker is up once it has registered with the queue.
        bench.wait_workers(processes, round).await;
        let started = Instant::now();
        stream::iter(&sessions)
            .for_each_concurrent(16, |(session, api)| async move {
                bench.post_import(api, session, None).await;
            })
            .await;
        bench.wait_all_ended().await;
        let rate = imports as f64 / started.elapsed().as_secs_f64();
        let anchor = *anchor.get_or_insert(rate);
        println!(
            "P8 {processes} worker process(es) x {P8_CONCURRENCY} imports, 2 api processes, bank at 50 ms: {rate:.1} imports/s, {:.2}x one process (targets >= 1.8x with 2, >= 3x with 4); load average {}",
            rate / anchor,
            load_average()
        );
        for worker in &mut workers {
            let _ = worker.kill().await;
        }
    }
    let failed: i64 =
        sqlx::query_scalar("select count(*) from commands where state <> 'successful'")
            .fetch_one(&bench.pool)
            .await
            .expect("failures");
    assert_eq!(failed, 0, "every import succeeds");
    for (mut api, _) in apis {
        let _ = api.kill().await;
    }
    stop.cancel();
}

struct Bench {
    http: reqwest::Client,
    api_key: String,
    pool: PgPool,
    database_url: String,
}

impl Bench {
    /// Starts `aisle <role>` against the bench's database and `bank`, quiet, killed with the
    /// bench.
    fn spawn(&self, role: &str, bank: &str, extra: &[(&str, String)]) -> Child {
        let mut command = Command::new(env!("CARGO_BIN_EXE_aisle"));
        // The processes refuse settings they do not know, such as the bench's own.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("AISLE_") {
                command.env_remove(key);
            }
        }
        command
            .arg(role)
            .env("AISLE_DATABASE_URL", &self.database_url)
            .env("AISLE_SESSION_SIGNING_KEY", SIGNING_KEY)
            .env("AISLE_SECRETS_KEY", secrets_key())
            .env("AISLE_DELETION_RECEIPT_KEY", DELETION_RECEIPT_KEY)
            .env("AISLE_SANDBOX_BANK__URL", bank)
            .env("AISLE_REGISTRY", registry())
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .kill_on_drop(true);
        // `AISLE_BENCH_CHILD_LOGS=1` shows the processes' logs, to see why one misbehaves.
        if std::env::var_os("AISLE_BENCH_CHILD_LOGS").is_none() {
            command.stdout(Stdio::null()).stderr(Stdio::null());
        }
        for (key, value) in extra {
            command.env(key, value);
        }
        command.spawn().expect("the aisle binary")
    }

    async fn wait_ready(&self, api: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ready = self.http.get(format!("{api}/readyz")).send().await;
            if ready.is_ok_and(|r| r.status().is_success()) {
                return;
            }
            assert!(Instant::now() < deadline, "{api} never became ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until `processes` workers have registered with the queue since `round`.
    async fn wait_workers(&self, processes: usize, round: chrono::DateTime<Utc>) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let registered: i64 =
                sqlx::query_scalar("select count(*) from apalis.workers where last_seen >= $1")
                    .bind(round)
                    .fetch_one(&self.pool)
                    .await
                    .expect("workers");
            if registered >= processes as i64 {
                return;
            }
            assert!(Instant::now() < deadline, "the workers never registered");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn session(&self, api: &str, login: &str) -> Value {
        self.http
            .post(format!("{api}/v1/sandbox/sessions"))
            .bearer_auth(&self.api_key)
            .json(&json!({"bank": "sandbox", "login": login, "ownerExternalId": "bench"}))
            .send()
            .await
            .expect("sign in")
            .json()
            .await
            .expect("session")
    }

    async fn post_import(
        &self,
        api: &str,
        session: &Value,
        since: Option<chrono::NaiveDate>,
    ) -> uuid::Uuid {
        let mut body = json!({
            "sessionId": session["sessionId"],
            "sessionIdSignature": session["sessionIdSignature"],
        });
        if let Some(since) = since {
            body["since"] = json!(since);
        }
        let accepted: Value = self
            .http
            .post(format!("{api}/v1/commands/default-import"))
            .bearer_auth(&self.api_key)
            .json(&body)
            .send()
            .await
            .expect("post import")
            .json()
            .await
            .expect("import accepted");
        accepted["commandId"]
            .as_str()
            .and_then(|id| id.parse().ok())
            .unwrap_or_else(|| panic!("no command id in {accepted}"))
    }

    /// Polls until no command is in progress.
    async fn wait_all_ended(&self) {
        let deadline = Instant::now() + Duration::from_secs(900);
        loop {
            let running: i64 =
                sqlx::query_scalar("select count(*) from commands where state = 'in_progress'")
                    .fetch_one(&self.pool)
                    .await
                    .expect("count");
            if running == 0 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "imports still running after 15 minutes"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// The anchor of P5: the command's transactions, read out with `COPY … TO STDOUT`, then timed
/// going back in with `COPY … FROM STDIN` into a table like `transactions` (with its indexes).
async fn copy_in(pool: &PgPool, command: uuid::Uuid) -> Duration {
    let mut conn = pool.acquire().await.expect("a connection");
    sqlx::raw_sql("create table copy_target (like transactions including all)")
        .execute(&mut *conn)
        .await
        .expect("the anchor's table");
    let out = format!("copy (select * from transactions where command_id = '{command}') to stdout");
    let mut rows = Vec::new();
    let mut stream = conn.copy_out_raw(&out).await.expect("copy out");
    while let Some(chunk) = stream.next().await {
        rows.extend_from_slice(&chunk.expect("a chunk"));
    }
    drop(stream);
    let started = Instant::now();
    let mut copy = conn
        .copy_in_raw("copy copy_target from stdin")
        .await
        .expect("copy in");
    copy.send(rows).await.expect("the rows");
    copy.finish().await.expect("copy finished");
    started.elapsed()
}

async fn sandbox_bank(latency: Duration, stop: &CancellationToken) -> String {
    let bank = TcpListener::bind("127.0.0.1:0").await.expect("bank port");
    let url = format!("http://{}", bank.local_addr().expect("bank address"));
    tokio::spawn(aisle_sandbox_bank::serve(
        bank,
        aisle_sandbox_bank::SandboxOptions {
            latency,
            ..Default::default()
        },
        stop.clone().cancelled_owned(),
    ));
    url
}

async fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
    listener.local_addr().expect("its address").port()
}

fn registry() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("connectors/banks.toml")
}

/// An Ed25519 seed for the processes' deletion receipts (64 hex characters).
const DELETION_RECEIPT_KEY: &str =
    "2424242424242424242424242424242424242424242424242424242424242424";

fn secrets_key() -> String {
    "42".repeat(32)
}

/// A process's peak resident memory, in MiB.
fn peak_rss_mib(child: &Child) -> f64 {
    let pid = child.id().expect("the worker runs");
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status.lines().find_map(|line| {
                line.strip_prefix("VmHWM:")
                    .and_then(|rest| rest.split_whitespace().next())
                    .and_then(|kib| kib.parse::<f64>().ok())
            })
        })
        .expect("VmHWM")
        / 1024.0
}

/// A sample's value in Prometheus text, by its name and labels as rendered.
fn metric(scraped: &str, series: &str) -> Option<f64> {
    scraped.lines().find_map(|line| {
        line.strip_prefix(series)
            .and_then(|rest| rest.trim().parse().ok())
    })
}

/// The one-minute load average, to read each figure beside.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}
