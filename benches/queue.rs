//! `just bench`: the queue's figures (issue 13), each against its anchor measured in the same
//! run on the same PostgreSQL.
//!
//! - P2: pick-up latency with an idle worker: a command's first run starts
//!   (`attempt_started_at`) after it was created (`created_at`), both stamped by PostgreSQL.
//!   Imports are posted one at a time, the worker idle between them.
//! - P1: imports per second through Aisle's real path (POST → queue → worker → finish) for a
//!   persona that has almost nothing (`bob`, one account, since today: four bank calls at an
//!   in-process sandbox bank that answers at once); anchor: a bare `SELECT … FOR UPDATE SKIP
//!   LOCKED` job loop over as many rows, one commit per job, with as many workers.
//! - P1b: the queue's drain rate with 200,000 jobs already queued, against its rate with an
//!   empty queue. The jobs are real Default Import jobs through the real workers, for commands
//!   that do not exist (the handler ends such a delivery at once), so only the queue is timed.
//!   Prints the plan of apalis's fetch with the backlog (`EXPLAIN ANALYZE`).
//!
//! `AISLE_BENCH_SHORT=1` (what CI runs) makes it finish in seconds, with fewer imports and a
//! backlog of 5,000.

use std::{path::Path, sync::Arc, time::Duration};

use aisle::{
    config::{Config, Secret},
    devdb::{Durability, PrivateCluster},
    service::Service,
    store::{clients, queue},
};
use apalis::prelude::{TaskBuilder, TaskId};
use futures_util::{StreamExt, stream};
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio::{net::TcpListener, task::JoinHandle, time::Instant};
use tokio_util::sync::CancellationToken;
use ulid::Ulid;

/// Imports in flight in one worker process, and rows of the anchor's loop in flight.
const CONCURRENCY: usize = 16;

struct Settings {
    /// P2's imports, posted one at a time.
    pickups: usize,
    /// P1's imports, and the anchor's jobs.
    imports: usize,
    /// P1b's backlog, and the jobs timed through it.
    backlog: usize,
    drained: usize,
}

#[tokio::main]
async fn main() {
    aisle::telemetry::init();
    let short = std::env::var("AISLE_BENCH_SHORT").is_ok_and(|v| v == "1");
    let settings = if short {
        Settings {
            pickups: 10,
            imports: 40,
            backlog: 5_000,
            drained: 500,
        }
    } else {
        Settings {
            pickups: 200,
            imports: 1_000,
            backlog: 200_000,
            drained: 5_000,
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
        database_url: Some(Secret(database_url)),
        registry: Path::new(env!("CARGO_MANIFEST_DIR")).join("connectors/banks.toml"),
        session_signing_key: Some(Secret("bench-signing-key-0123456789abcdef".into())),
        secrets_key: Some(Secret("42".repeat(32))),
        deletion_receipt_key: Some(Secret("24".repeat(32))),
        ..Config::default()
    };
    config.sandbox_bank.url = Some(bank_url);
    config.worker.concurrency = CONCURRENCY;
    config.pools.api.size = 16;
    let max_attempts = config.worker.max_attempts;
    let service = Arc::new(Service::start(config).await.expect("service"));
    let api = TcpListener::bind("127.0.0.1:0").await.expect("api port");
    let address = format!("http://{}", api.local_addr().expect("api address"));
    let (api_service, api_stop) = (service.clone(), stop.clone());
    tokio::spawn(async move { api_service.run_api(api, api_stop.cancelled_owned()).await });
    let (_, api_key) = clients::create(&service.pool, "bench", &[])
        .await
        .expect("client");
    let http = reqwest::Client::new();
    let bench = Bench {
        http,
        address,
        api_key,
        pool: service.pool.clone(),
    };
    println!(
        "machine: {} cores, load average {}",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        load_average()
    );

    // P2: one import at a time, the worker idle in between.
    let sessions = bench.sessions(settings.pickups).await;
    let workers = Workers::start(&service);
    let mut commands = Vec::new();
    for session in &sessions {
        let id = bench.post_import(session).await;
        bench.wait_all_ended().await;
        commands.push(id);
        // Let the worker fall idle again, as between real imports.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut pickups: Vec<f64> = sqlx::query_scalar(
        "select extract(epoch from attempt_started_at - created_at)::float8 * 1000
         from commands where id = any($1)",
    )
    .bind(&commands)
    .fetch_all(&bench.pool)
    .await
    .expect("pick-ups");
    pickups.sort_by(f64::total_cmp);
    println!(
        "P2 pick-up latency, idle worker, {} imports: p50 {:.1} ms, p99 {:.1} ms (targets <= 5 ms, <= 20 ms)",
        pickups.len(),
        quantile(&pickups, 0.50),
        quantile(&pickups, 0.99)
    );

    // P1: the anchor, then the real path, on the same database.
    let anchor = skip_locked_loop(&bench.pool, settings.imports).await;
    println!(
        "anchor  bare SKIP LOCKED job loop, {CONCURRENCY} workers: {anchor:.0} jobs/s ({} jobs)",
        settings.imports
    );
    let sessions = bench.sessions(settings.imports).await;
    let started = Instant::now();
    stream::iter(&sessions)
        .for_each_concurrent(CONCURRENCY, |session| async {
            bench.post_import(session).await;
        })
        .await;
    bench.wait_all_ended().await;
    let rate = settings.imports as f64 / started.elapsed().as_secs_f64();
    let failed: i64 =
        sqlx::query_scalar("select count(*) from commands where state <> 'successful'")
            .fetch_one(&bench.pool)
            .await
            .expect("failures");
    assert_eq!(failed, 0, "every import succeeds");
    println!(
        "P1 no-op imports through POST, queue, worker and finish: {rate:.0}/s, {:.2}x the bare loop (target >= 1.0); load average {}",
        rate / anchor,
        load_average()
    );

    // P1b: the drain rate with an empty queue, then behind a backlog.
    let empty = bench.drain_rate(settings.drained, 0, max_attempts).await;
    println!(
        "anchor  drain rate, empty queue: {empty:.0} jobs/s ({} jobs)",
        settings.drained
    );
    workers.stop().await;
    bench.push_noop_jobs(settings.backlog, max_attempts).await;
    sqlx::query("analyze apalis.jobs")
        .execute(&bench.pool)
        .await
        .expect("analyze");
    print_fetch_plan(&bench.pool).await;
    let workers = Workers::start(&service);
    let backlogged = bench
        .drain_rate(settings.drained, settings.backlog, max_attempts)
        .await;
    println!(
        "P1b drain rate, {} jobs queued: {backlogged:.0} jobs/s, {:.2}x the empty queue (target >= 0.8); load average {}",
        settings.backlog,
        backlogged / empty,
        load_average()
    );
    workers.stop().await;
    stop.cancel();
}

struct Bench {
    http: reqwest::Client,
    address: String,
    api_key: String,
    pool: PgPool,
}

impl Bench {
    /// `count` sandbox sessions of `bob`, signed in before anything is timed.
    async fn sessions(&self, count: usize) -> Vec<Value> {
        stream::iter(0..count)
            .map(|_| async {
                self.http
                    .post(format!("{}/v1/sandbox/sessions", self.address))
                    .bearer_auth(&self.api_key)
                    .json(&json!({"bank": "sandbox", "login": "bob", "ownerExternalId": "bench"}))
                    .send()
                    .await
                    .expect("sign in")
                    .json::<Value>()
                    .await
                    .expect("session")
            })
            .buffer_unordered(8)
            .collect()
            .await
    }

    async fn post_import(&self, session: &Value) -> uuid::Uuid {
        let accepted: Value = self
            .http
            .post(format!("{}/v1/commands/default-import", self.address))
            .bearer_auth(&self.api_key)
            .json(&json!({
                "sessionId": session["sessionId"],
                "sessionIdSignature": session["sessionIdSignature"],
                "since": chrono::Utc::now().date_naive(),
            }))
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
        let deadline = Instant::now() + Duration::from_secs(600);
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
                "imports still running after 10 minutes"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// Pushes `count` Default Import jobs for commands that do not exist.
    async fn push_noop_jobs(&self, count: usize, max_attempts: usize) {
        let mut conn = self.pool.acquire().await.expect("a connection");
        let mut left = count;
        while left > 0 {
            let batch = left.min(10_000);
            let tasks = (0..batch)
                .map(|_| {
                    let command_id = uuid::Uuid::new_v4();
                    let args =
                        serde_json::to_vec(&queue::DefaultImportJob { command_id }).expect("a job");
                    TaskBuilder::new(args)
                        .task_id(TaskId::from_ulid(Ulid(command_id.as_u128())))
                        .max_attempts(max_attempts)
                        .build()
                })
                .collect();
            apalis_postgres::queries::push_tasks(&mut *conn, queue::QUEUE, tasks)
                .await
                .expect("push jobs");
            left -= batch;
        }
    }

    /// Jobs per second while the first `drained` jobs of a queue holding `queued` are taken
    /// and done (pushing `drained` more when `queued` is zero).
    async fn drain_rate(&self, drained: usize, queued: usize, max_attempts: usize) -> f64 {
        let done_before = self.done_jobs().await;
        let started = Instant::now();
        if queued == 0 {
            self.push_noop_jobs(drained, max_attempts).await;
        }
        let deadline = started + Duration::from_secs(600);
        loop {
            let done = self.done_jobs().await - done_before;
            if done >= drained as i64 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the queue drained {done} jobs in 10 minutes"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let rate = drained as f64 / started.elapsed().as_secs_f64();
        // What is left of the backlog is not part of any other figure.
        sqlx::query("delete from apalis.jobs where job_type = $1 and status = 'Pending'")
            .bind(queue::QUEUE)
            .execute(&self.pool)
            .await
            .expect("clear the backlog");
        rate
    }

    async fn done_jobs(&self) -> i64 {
        sqlx::query_scalar(
            "select count(*) from apalis.jobs where job_type = $1 and done_at is not null",
        )
        .bind(queue::QUEUE)
        .fetch_one(&self.pool)
        .await
        .expect("done jobs")
    }
}

/// The service's workers, in this process, until stopped.
struct Workers {
    stop: CancellationToken,
    task: JoinHandle<std::io::Result<()>>,
}

impl Workers {
    fn start(service: &Arc<Service>) -> Self {
        let stop = CancellationToken::new();
        let (service, shutdown) = (service.clone(), stop.clone());
        let task =
            tokio::spawn(async move { service.run_workers(shutdown.cancelled_owned()).await });
        Self { stop, task }
    }

    async fn stop(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}

/// The anchor: `jobs` rows taken one at a time by `CONCURRENCY` loops, each a transaction of
/// `SELECT … FOR UPDATE SKIP LOCKED` and an update marking the row done.
async fn skip_locked_loop(pool: &PgPool, jobs: usize) -> f64 {
    sqlx::raw_sql(
        "create table bench_jobs (id bigserial primary key, payload jsonb not null, done boolean not null default false);
         create index bench_jobs_pending on bench_jobs (id) where not done;",
    )
    .execute(pool)
    .await
    .expect("anchor table");
    sqlx::query(
        "insert into bench_jobs (payload) select jsonb_build_object('n', n) from generate_series(1, $1) n",
    )
    .bind(i64::try_from(jobs).unwrap_or(i64::MAX))
    .execute(pool)
    .await
    .expect("anchor jobs");
    let started = Instant::now();
    let loops: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let pool = pool.clone();
            tokio::spawn(async move {
                loop {
                    let mut tx = pool.begin().await.expect("begin");
                    let job: Option<i64> = sqlx::query_scalar(
                        "select id from bench_jobs where not done order by id
                         limit 1 for update skip locked",
                    )
                    .fetch_optional(&mut *tx)
                    .await
                    .expect("take a job");
                    let Some(id) = job else { break };
                    sqlx::query("update bench_jobs set done = true where id = $1")
                        .bind(id)
                        .execute(&mut *tx)
                        .await
                        .expect("finish a job");
                    tx.commit().await.expect("commit");
                }
            })
        })
        .collect();
    for job_loop in loops {
        job_loop.await.expect("a loop");
    }
    jobs as f64 / started.elapsed().as_secs_f64()
}

/// apalis's own fetch (the body of `apalis.get_jobs`), explained with the backlog in place.
async fn print_fetch_plan(pool: &PgPool) {
    let plan: Vec<String> = sqlx::query_scalar(
        "explain (analyze, buffers, costs off)
         select id from apalis.jobs
         where (status = 'Pending' or (status = 'Failed' and attempts < max_attempts))
           and run_at < now() and job_type = $1
         order by priority desc, run_at asc
         limit 16 for update skip locked",
    )
    .bind(queue::QUEUE)
    .fetch_all(pool)
    .await
    .expect("explain");
    println!("P1b apalis fetch plan with the backlog:");
    for line in plan {
        println!("    {line}");
    }
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let at = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[at.min(sorted.len() - 1)]
}

/// The one-minute load average, to read each figure beside.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}
