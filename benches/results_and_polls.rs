//! `just bench`: P3 (polls per second) and P4 (a large result), each against its anchor
//! measured in the same run on the same PostgreSQL (issue 13).
//!
//! - P3: polls per second of an in-progress command, of a finished one revalidated with its
//!   ETag (304), and of a finished one's summary view, from 32 concurrent HTTP/1.1
//!   connections driven by `wrk` (a separate process in C, as `pgbench` is; `just bench`
//!   installs it), or by clients in this process when `wrk` is absent; anchor: `pgbench -S`
//!   (select-only, 32 clients) on the same server.
//! - P4: the result of the `big` persona: time to the first byte, bytes per second, and the
//!   process's peak resident memory while 16 clients fetch it at once; anchor: `COPY (…) TO
//!   STDOUT` of the same transactions.
//!
//! `AISLE_BENCH_SHORT=1` (what CI runs) makes it finish in seconds: `alice` instead of `big`
//! and one-second load phases.

use std::{
    path::Path,
    process::Command,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use aisle::{
    config::{Config, Secret},
    devdb::{Durability, PrivateCluster},
    service::Service,
    store::clients,
};
use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::{net::TcpListener, time::Instant};
use tokio_util::sync::CancellationToken;

const CLIENTS: usize = 32;
const RESULT_CLIENTS: usize = 16;

struct Settings {
    persona: &'static str,
    phase: Duration,
    /// `pgbench -i -s`: 100,000 accounts per unit.
    pgbench_scale: u32,
}

#[tokio::main]
async fn main() {
    aisle::telemetry::init();
    let short = std::env::var("AISLE_BENCH_SHORT").is_ok_and(|v| v == "1");
    let settings = if short {
        Settings {
            persona: "alice",
            phase: Duration::from_secs(1),
            pgbench_scale: 1,
        }
    } else {
        Settings {
            persona: "big",
            phase: Duration::from_secs(10),
            pgbench_scale: 10,
        }
    };
    let stop = CancellationToken::new();
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("aisle-bench-postgres");
    let cluster = PrivateCluster::start(&root, Durability::Throwaway).expect("private Postgres");
    let database = format!("bench_{}", uuid::Uuid::new_v4().simple());
    let database_url = cluster.ensure_database(&database).await.expect("database");

    let bank = TcpListener::bind("127.0.0.1:0").await.expect("bank port");
    let bank_url = format!("http://{}", bank.local_addr().expect("bank address"));
    tokio::spawn(aisle_sandbox_bank::serve(
        bank,
        aisle_sandbox_bank::SandboxOptions::default(),
        stop.clone().cancelled_owned(),
    ));
    let mut config = Config {
        database_url: Some(Secret(database_url.clone())),
        registry: Path::new(env!("CARGO_MANIFEST_DIR")).join("connectors/banks.toml"),
        session_signing_key: Some(Secret("bench-signing-key-0123456789abcdef".into())),
        secrets_key: Some(Secret("42".repeat(32))),
        deletion_receipt_key: Some(Secret("24".repeat(32))),
        ..Config::default()
    };
    config.sandbox_bank.url = Some(bank_url);
    config.pools.api.size = 16;
    let service = Arc::new(Service::start(config).await.expect("service"));
    let api = TcpListener::bind("127.0.0.1:0").await.expect("api port");
    let address = format!("http://{}", api.local_addr().expect("api address"));
    let api_service = service.clone();
    let api_stop = stop.clone();
    let api_task =
        tokio::spawn(async move { api_service.run_api(api, api_stop.cancelled_owned()).await });
    let (_, api_key) = clients::create(&service.pool, "bench", &[])
        .await
        .expect("client");
    let http = reqwest::Client::new();

    println!("machine: {} cores; phases of {:?}", cores(), settings.phase);
    let pgbench = pgbench_tps(&database_url, settings.pgbench_scale, settings.phase);
    println!("anchor  pgbench -S, {CLIENTS} clients: {pgbench:.0} tps");

    // P3, in progress: no workers yet, so the command stays queued.
    let queued = start_import(&http, &address, &api_key, "alice").await;
    let url = format!("{address}/v1/commands/{queued}");
    let rate = poll_rate(&http, &url, &api_key, None, settings.phase).await;
    println!(
        "P3 in-progress poll: {rate:.0}/s, {:.2}x pgbench -S (target >= 0.5)",
        rate / pgbench
    );

    let workers = service.clone();
    let workers_stop = stop.clone();
    let workers_task =
        tokio::spawn(async move { workers.run_workers(workers_stop.cancelled_owned()).await });
    wait(&http, &url, &api_key).await;
    let etag = http
        .get(&url)
        .bearer_auth(&api_key)
        .send()
        .await
        .expect("poll")
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .expect("an ETag");
    let rate = poll_rate(&http, &url, &api_key, Some(&etag), settings.phase).await;
    println!(
        "P3 finished poll, 304 on its ETag: {rate:.0}/s, {:.2}x pgbench -S (target >= 0.5)",
        rate / pgbench
    );
    let summary = format!("{url}?view=summary");
    let rate = poll_rate(&http, &summary, &api_key, None, settings.phase).await;
    println!(
        "P3 finished poll, summary view: {rate:.0}/s, {:.2}x pgbench -S (target >= 0.5)",
        rate / pgbench
    );

    // P4: a large result.
    let large = start_import(&http, &address, &api_key, settings.persona).await;
    let url = format!("{address}/v1/commands/{large}");
    wait(&http, &url, &api_key).await;
    let rows: i64 = sqlx::query_scalar("select count(*) from transactions where command_id = $1")
        .bind(uuid::Uuid::parse_str(&large).expect("uuid"))
        .fetch_one(&service.pool)
        .await
        .expect("count");
    let mut first_bytes = Vec::new();
    let mut size = 0;
    let started = Instant::now();
    for _ in 0..3 {
        let (first, bytes) = fetch(&http, &url, &api_key).await;
        first_bytes.push(first);
        size = bytes;
    }
    let api_rate = 3.0 * size as f64 / started.elapsed().as_secs_f64();
    first_bytes.sort();
    let (copy_bytes, copy_time) = copy_out(&service.pool, &large).await;
    let copy_rate = copy_bytes as f64 / copy_time.as_secs_f64();
    println!(
        "P4 result of {}: {rows} transactions, {:.1} MB",
        settings.persona,
        size as f64 / 1e6
    );
    println!(
        "P4 first byte: {:.1?} median (target < 50 ms)",
        first_bytes[first_bytes.len() / 2]
    );
    println!(
        "P4 bytes/s: {:.1} MB/s against COPY TO STDOUT {:.1} MB/s ({:.1} MB): {:.2}x (target >= 0.5)",
        api_rate / 1e6,
        copy_rate / 1e6,
        copy_bytes as f64 / 1e6,
        api_rate / copy_rate
    );
    let idle = rss_kib("VmRSS");
    reset_peak_rss();
    let fetches: Vec<_> = (0..RESULT_CLIENTS)
        .map(|_| {
            let (http, url, key) = (http.clone(), url.clone(), api_key.clone());
            tokio::spawn(async move { fetch(&http, &url, &key).await })
        })
        .collect();
    for fetch in fetches {
        fetch.await.expect("a fetch");
    }
    let peak = rss_kib("VmHWM");
    println!(
        "P4 peak RSS with {RESULT_CLIENTS} clients: {:.1} MB over idle {:.1} MB (target within 50 MB; \
         the clients run in this process and count too)",
        peak.saturating_sub(idle) as f64 / 1024.0,
        idle as f64 / 1024.0
    );
    stop.cancel();
    // The pools close only once nothing uses them any more.
    let _ = tokio::join!(api_task, workers_task);
    // The cluster is shared by every bench run until its last user ends; its databases are not.
    service.pool.close().await;
    service.queue_pool.close().await;
    service.import_pool.close().await;
    let dropped = match sqlx::PgPool::connect(&cluster.url("postgres")).await {
        Ok(admin) => sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "drop database {database} with (force)"
        )))
        .execute(&admin)
        .await
        .map(drop),
        Err(e) => Err(e),
    };
    if let Err(e) = dropped {
        eprintln!("could not drop the bench's database {database}: {e}");
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// `pgbench -S` transactions per second on the bench's database, after `pgbench -i`.
fn pgbench_tps(database_url: &str, scale: u32, phase: Duration) -> f64 {
    let scale = scale.to_string();
    let init = Command::new("pgbench")
        .args(["-i", "-q", "-s", &scale, database_url])
        .output()
        .expect("pgbench (the PostgreSQL client package)");
    assert!(init.status.success(), "pgbench -i: {init:?}");
    let secs = phase.as_secs().max(1).to_string();
    let threads = cores().to_string();
    let clients = CLIENTS.to_string();
    let run = Command::new("pgbench")
        .args([
            "-S",
            "-n",
            "-c",
            &clients,
            "-j",
            &threads,
            "-T",
            &secs,
            database_url,
        ])
        .output()
        .expect("pgbench");
    let out = String::from_utf8_lossy(&run.stdout);
    out.lines()
        .find_map(|line| {
            line.strip_prefix("tps = ")
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|tps| tps.parse().ok())
        })
        .unwrap_or_else(|| panic!("no tps in pgbench's output: {out}"))
}

/// Polls per second over `phase` from `CLIENTS` connections: `wrk`'s figure when it is
/// installed, else this process's own clients'.
async fn poll_rate(
    http: &reqwest::Client,
    url: &str,
    api_key: &str,
    etag: Option<&str>,
    phase: Duration,
) -> f64 {
    match wrk(url, api_key, etag, phase) {
        Some(rate) => rate,
        None => {
            println!("    (wrk is not installed: the load comes from this process)");
            load(http, url, api_key, etag, phase).await
        }
    }
}

/// `wrk`'s requests per second, `None` when it is not installed. Every answer must be 200, or
/// 304 when revalidating with `etag`.
fn wrk(url: &str, api_key: &str, etag: Option<&str>, phase: Duration) -> Option<f64> {
    let mut command = Command::new("wrk");
    command.args([
        "-t",
        &cores().to_string(),
        "-c",
        &CLIENTS.to_string(),
        "-d",
        &format!("{}s", phase.as_secs().max(1)),
        "-H",
        &format!("Authorization: Bearer {api_key}"),
    ]);
    if let Some(etag) = etag {
        command.args(["-H", &format!("If-None-Match: {etag}")]);
    }
    let run = command.arg(url).output().ok()?;
    let out = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "wrk: {out}");
    assert!(
        !out.contains("Non-2xx or 3xx responses"),
        "a poll was refused: {out}"
    );
    out.lines().find_map(|line| {
        line.trim()
            .strip_prefix("Requests/sec:")
            .and_then(|rate| rate.trim().parse().ok())
    })
}

/// Requests per second from `CLIENTS` concurrent clients over `phase`; every answer must be
/// 200, or 304 when revalidating with `etag`.
async fn load(
    http: &reqwest::Client,
    url: &str,
    api_key: &str,
    etag: Option<&str>,
    phase: Duration,
) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + phase;
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (http, url, key) = (http.clone(), url.to_owned(), api_key.to_owned());
            let etag = etag.map(str::to_owned);
            let done = done.clone();
            tokio::spawn(async move {
                while Instant::now() < deadline {
                    let mut request = http.get(&url).bearer_auth(&key);
                    if let Some(etag) = &etag {
                        request = request.header("if-none-match", etag);
                    }
                    let response = request.send().await.expect("a poll");
                    let expected = if etag.is_some() { 304 } else { 200 };
                    assert_eq!(response.status().as_u16(), expected);
                    response.bytes().await.expect("a body");
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let started = Instant::now();
    for task in tasks {
        task.await.expect("a client");
    }
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

/// Time to the first byte of the body, and the body's size, read chunk by chunk.
async fn fetch(http: &reqwest::Client, url: &str, api_key: &str) -> (Duration, usize) {
    let started = Instant::now();
    let mut response = http
        .get(url)
        .bearer_auth(api_key)
        .send()
        .await
        .expect("a result");
    let mut first = None;
    let mut size = 0;
    while let Some(chunk) = response.chunk().await.expect("a chunk") {
        first.get_or_insert_with(|| started.elapsed());
        size += chunk.len();
    }
    (first.unwrap_or_default(), size)
}

/// The anchor: the same transactions' columns through `COPY … TO STDOUT`.
async fn copy_out(pool: &sqlx::PgPool, command_id: &str) -> (usize, Duration) {
    let mut conn = pool.acquire().await.expect("a connection");
    let statement = format!(
        "copy (select identity, status, booking_date, value_date, amount, currency,
                      counterparty_name, counterparty_account, description,
                      bank_transaction_code, balance_after
               from transactions where command_id = '{}'
               order by account_id, status,
                        coalesce(booking_date, value_date, 'infinity'::date) desc, identity)
         to stdout",
        uuid::Uuid::parse_str(command_id).expect("uuid")
    );
    let started = Instant::now();
    let mut stream = conn.copy_out_raw(&statement).await.expect("copy out");
    let mut size = 0;
    while let Some(chunk) = stream.next().await {
        size += chunk.expect("a copy chunk").len();
    }
    (size, started.elapsed())
}

async fn start_import(http: &reqwest::Client, address: &str, api_key: &str, login: &str) -> String {
    let session: Value = http
        .post(format!("{address}/v1/sandbox/sessions"))
        .bearer_auth(api_key)
        .json(&json!({"bank": "sandbox", "login": login, "ownerExternalId": "bench"}))
        .send()
        .await
        .expect("sign in")
        .json()
        .await
        .expect("session");
    let since = chrono::Utc::now().date_naive() - chrono::Days::new(3650);
    let accepted: Value = http
        .post(format!("{address}/v1/commands/default-import"))
        .bearer_auth(api_key)
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
    accepted["commandId"]
        .as_str()
        .expect("command id")
        .to_owned()
}

async fn wait(http: &reqwest::Client, url: &str, api_key: &str) {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let command: Value = http
            .get(format!("{url}?view=summary"))
            .bearer_auth(api_key)
            .send()
            .await
            .expect("poll")
            .json()
            .await
            .expect("command");
        if command["state"] != "in_progress" {
            assert_eq!(command["state"], "successful", "{command}");
            return;
        }
        assert!(Instant::now() < deadline, "the import took over 10 minutes");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A `/proc/self/status` memory figure in KiB.
fn rss_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status.lines().find_map(|line| {
                line.strip_prefix(field)
                    .and_then(|rest| rest.trim_start_matches(':').split_whitespace().next())
                    .and_then(|kib| kib.parse().ok())
            })
        })
        .unwrap_or(0)
}

/// Resets the peak (`VmHWM`) to the current resident size (Linux `clear_refs` value 5).
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}
