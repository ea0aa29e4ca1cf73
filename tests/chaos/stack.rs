//! The production shape as OS processes: a private PostgreSQL cluster, the sandbox bank, one
//! `aisle api` and two `aisle worker`s. Every child is killed, and the cluster stopped, when
//! the [`Stack`] is dropped, whether the run passed or panicked.

use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use aisle::devdb::{Durability, PrivateCluster};
use rand::Rng;
use sqlx::PgPool;
use uuid::Uuid;

use super::plan::Plan;

/// The keys every `aisle` process of the run shares (what a deployment's secret store gives).
const SESSION_SIGNING_KEY: &str = "chaos-session-signing-key-0123456789abcdef";
const SECRETS_KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

/// A child process, killed (SIGKILL) and reaped when dropped.
pub struct Proc {
    pub name: String,
    child: Child,
}

impl Proc {
    fn spawn(name: impl Into<String>, command: &mut Command) -> Self {
        let name = name.into();
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name}: {e}"));
        Self { name, child }
    }

    /// SIGKILL, then wait for the process to be gone.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The exit status, if the process has ended.
    fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A process that ended without the harness killing it.
#[derive(Debug, Clone)]
pub struct UnexpectedExit {
    pub name: String,
    pub status: String,
}

/// The bank's dials for one bank process.
#[derive(Debug, Clone, Copy)]
pub struct BankDials {
    pub latency: Duration,
    pub fault_rate: f64,
}

/// The run's directory (cluster, logs) and its cluster: stopped when dropped, and the
/// directory removed unless the run failed.
pub struct RunDir {
    pub path: PathBuf,
    pub cluster: PrivateCluster,
}

impl Drop for RunDir {
    fn drop(&mut self) {
        if let Err(e) = self.cluster.stop() {
            eprintln!("stopping the chaos cluster: {e}");
        }
        if std::thread::panicking() {
            eprintln!("chaos run kept for inspection: {}", self.path.display());
        } else {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

/// Fields drop in order: the processes are killed before the cluster stops.
pub struct Stack {
    bank: Option<Proc>,
    api: Option<Proc>,
    workers: Vec<Proc>,
    /// The harness's own pool, for setup and for the verdict.
    pub pool: PgPool,
    pub api_url: String,
    pub bank_url: String,
    bank_port: u16,
    env: Vec<(&'static str, String)>,
    pub kills: usize,
    pub restarts: usize,
    pub unexpected_exits: Vec<UnexpectedExit>,
    pub run: RunDir,
}

impl Stack {
    /// Starts the cluster, the bank with `dials`, the API and two workers, and waits until
    /// the API answers.
    pub async fn start(plan: &Plan, dials: BankDials) -> Self {
        let path = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("chaos-{}", Uuid::new_v4().simple()));
        fs::create_dir_all(&path).expect("the run directory");
        let cluster_dir = path.join("postgres");
        let cluster = tokio::task::spawn_blocking(move || {
            PrivateCluster::start(&cluster_dir, Durability::Throwaway)
        })
        .await
        .expect("cluster start")
        .expect("a private PostgreSQL cluster (install postgresql)");
        let run = RunDir { path, cluster };
        let database_url = run
            .cluster
            .ensure_database("aisle")
            .await
            .expect("the run's database");
        let pool = PgPool::connect(&database_url).await.expect("a pool");
        aisle::store::migrate(&pool).await.expect("migrations");

        let api_port = free_port();
        let mut stack = Self {
            bank: None,
            api: None,
            workers: Vec::new(),
            pool,
            api_url: format!("http://127.0.0.1:{api_port}"),
            bank_url: String::new(),
            bank_port: 0,
            env: Vec::new(),
            kills: 0,
            restarts: 0,
            unexpected_exits: Vec::new(),
            run,
        };
        stack.start_bank(0, dials).await;
        let registry = Path::new(env!("CARGO_MANIFEST_DIR")).join("connectors/banks.toml");
        let state_dir = stack.run.path.join("state");
        stack.env = vec![
            ("AISLE_DATABASE_URL", database_url),
            ("AISLE_SESSION_SIGNING_KEY", SESSION_SIGNING_KEY.into()),
            ("AISLE_SECRETS_KEY", SECRETS_KEY.into()),
            ("AISLE_DELETION_RECEIPT_KEY", SECRETS_KEY.into()),
            ("AISLE_LISTEN", format!("127.0.0.1:{api_port}")),
            ("AISLE_PUBLIC_URL", stack.api_url.clone()),
            ("AISLE_SANDBOX_BANK__URL", stack.bank_url.clone()),
            ("AISLE_REGISTRY", registry.display().to_string()),
            ("AISLE_STATE_DIR", state_dir.display().to_string()),
            ("AISLE_WORKER__HEARTBEAT", "1".into()),
            ("AISLE_WORKER__MISSED_HEARTBEATS", "3".into()),
            ("AISLE_WORKER__POLL_INTERVAL", "1".into()),
            ("AISLE_WORKER__REAPER_INTERVAL", "2".into()),
            ("AISLE_WORKER__LEASE_TTL", "5".into()),
            (
                "AISLE_WORKER__MAX_ATTEMPTS",
                plan.max_attempts().to_string(),
            ),
            ("AISLE_BANK_TIMEOUT", "3".into()),
            (
                "RUST_LOG",
                "info,sqlx=warn,apalis=warn,apalis_core=warn".into(),
            ),
        ];
        stack.api = Some(stack.aisle("api"));
        stack.wait_until_ready().await;
        for n in 1..=2 {
            let worker = stack.aisle(&format!("worker-{n}"));
            stack.workers.push(worker);
        }
        stack
    }

    /// `aisle <role>` with the run's environment, logging to `<name>.log` in the run directory.
    fn aisle(&self, name: &str) -> Proc {
        let role = name.split('-').next().unwrap_or(name);
        let mut command = aisle_command();
        command.arg(role).stdin(Stdio::null());
        command.envs(self.env.iter().map(|(k, v)| (k, v)));
        let log = self.log(name);
        let err = log.try_clone().expect("log handle");
        command.stdout(log).stderr(err);
        Proc::spawn(name, &mut command)
    }

    fn log(&self, name: &str) -> File {
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.run.path.join(format!("{name}.log")))
            .expect("a log file")
    }

    /// Starts the bank on `port` (0: any), reading its address from its first line.
    async fn start_bank(&mut self, port: u16, dials: BankDials) {
        let mut command = aisle_command();
        command
            .arg("sandbox-bank")
            .args(["--port", &port.to_string()])
            .args(["--latency-ms", &dials.latency.as_millis().to_string()])
            .args(["--fault-rate", &dials.fault_rate.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(self.log("bank"));
        let mut bank = Proc::spawn("bank", &mut command);
        let stdout = bank.child.stdout.take().expect("piped stdout");
        let first_line = tokio::task::spawn_blocking(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let read = reader.read_line(&mut line);
            // The bank writes nothing more to stdout; drain it anyway, so a stray line can
            // never meet a closed pipe.
            std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
            read.map(|_| line)
        });
        let line = tokio::time::timeout(Duration::from_secs(30), first_line)
            .await
            .expect("the bank prints its address within 30 s")
            .expect("reader")
            .expect("the bank's first line");
        let url = line
            .trim()
            .strip_prefix("sandbox bank listening on ")
            .unwrap_or_else(|| panic!("unexpected first line from the bank: {line:?}"))
            .to_owned();
        self.bank_port = url
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("a port in the bank's address");
        self.bank_url = url;
        self.bank = Some(bank);
    }

    /// Replaces the bank with one with other dials, on the same address. Its consents go
    /// with it: check them first.
    pub async fn replace_bank(&mut self, dials: BankDials) {
        if let Some(mut bank) = self.bank.take() {
            bank.kill();
        }
        let port = self.bank_port;
        self.start_bank(port, dials).await;
    }

    async fn wait_until_ready(&mut self) {
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ready = http
                .get(format!("{}/healthz", self.api_url))
                .timeout(Duration::from_secs(2))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ready {
                return;
            }
            self.note_exits();
            assert!(
                Instant::now() < deadline,
                "the API did not come up; see {}",
                self.run.path.display()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// SIGKILLs a random worker and starts a new one in its place.
    pub fn kill_a_worker(&mut self) {
        let index = rand::rng().random_range(0..self.workers.len());
        let name = self.workers[index].name.clone();
        self.workers[index].kill();
        self.kills += 1;
        self.workers[index] = self.aisle(&name);
        self.restarts += 1;
    }

    /// Records every process that ended on its own since the last look, and starts a worker
    /// again in place of one that did, so the run can still finish and report.
    pub fn note_exits(&mut self) {
        let mut ended = Vec::new();
        for (index, worker) in self.workers.iter_mut().enumerate() {
            if let Some(status) = worker.exited() {
                ended.push((index, worker.name.clone(), status));
            }
        }
        for (index, name, status) in ended {
            self.unexpected_exits.push(UnexpectedExit {
                name: name.clone(),
                status: status.to_string(),
            });
            self.workers[index] = self.aisle(&name);
        }
        for process in [self.api.as_mut(), self.bank.as_mut()]
            .into_iter()
            .flatten()
        {
            if let Some(status) = process.exited() {
                let exit = UnexpectedExit {
                    name: process.name.clone(),
                    status: status.to_string(),
                };
                // Once is enough: a dead API or bank is not restarted, and the run fails.
                if !self.unexpected_exits.iter().any(|e| e.name == exit.name) {
                    self.unexpected_exits.push(exit);
                }
            }
        }
    }

    /// `pg_ctl restart -m fast`, off the async threads.
    pub async fn restart_database(&self) {
        let cluster = self.run.cluster.clone();
        tokio::task::spawn_blocking(move || cluster.restart())
            .await
            .expect("restart task")
            .expect("pg_ctl restart");
    }

    pub async fn stop_database(&self) {
        let cluster = self.run.cluster.clone();
        tokio::task::spawn_blocking(move || cluster.stop())
            .await
            .expect("stop task")
            .expect("pg_ctl stop");
    }

    pub async fn resume_database(&self) {
        let cluster = self.run.cluster.clone();
        tokio::task::spawn_blocking(move || cluster.resume())
            .await
            .expect("start task")
            .expect("pg_ctl start");
    }
}

/// The `aisle` binary with none of the settings the developer's shell may carry: a run is
/// configured by the harness alone.
fn aisle_command() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_aisle"));
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("AISLE_") || key == "DATABASE_URL" {
            command.env_remove(key.as_ref());
        }
    }
    command
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}
