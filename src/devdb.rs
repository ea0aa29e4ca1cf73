//! A private PostgreSQL cluster for the dev stack and the tests, made with the system's
//! `initdb`/`pg_ctl` when no database URL is configured.
//!
//! PostgreSQL refuses to run as root, so when we are root the server runs as the `postgres`
//! OS user (through `runuser`) and owns its directory. The cluster listens on 127.0.0.1 only,
//! with trust authentication for its own superuser `aisle`: it is a developer's local
//! database, never a production one.
//!
//! A cluster stops when the last process using it ends, however it ends (normal exit, panic,
//! SIGKILL): every user holds a shared `flock` on `users.lock` for as long as it holds a
//! [`PrivateCluster`], and a watchdog (`flock(1)` from util-linux, in a process group of its
//! own) waits for the exclusive lock and then stops the server. The kernel drops a dead
//! process's locks, so nothing needs to run at exit; concurrent test binaries share one
//! cluster and the last one out turns it off.

use std::{
    fs,
    net::TcpListener,
    os::unix::process::CommandExt,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::Arc,
};

use sqlx::{Connection, PgConnection};

#[derive(Debug, thiserror::Error)]
pub enum DevDbError {
    #[error(
        "PostgreSQL server binaries (initdb, pg_ctl) were not found; install them (Debian: apt-get install postgresql) or set AISLE_DATABASE_URL"
    )]
    NoServer,
    #[error("{what} failed: {detail}")]
    Command { what: String, detail: String },
    #[error("private cluster at {0}: {1}")]
    Io(PathBuf, std::io::Error),
    #[error("could not create database: {0}")]
    Database(#[from] sqlx::Error),
}

/// How the cluster trades durability for speed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// The dev stack: default settings.
    Safe,
    /// Tests: no fsync, since every test database is thrown away.
    Throwaway,
}

/// A running private cluster, kept running while this value (or a clone) lives.
#[derive(Debug, Clone)]
pub struct PrivateCluster {
    data_dir: PathBuf,
    bin_dir: PathBuf,
    run_as_postgres: bool,
    port: u16,
    /// The shared lock on `users.lock` that keeps the watchdog waiting.
    _lease: Arc<fs::File>,
    durability: Durability,
}

impl PrivateCluster {
    /// Starts the cluster kept under `root` (making it on first use), or joins it when it is
    /// already running. Safe to call from several processes at once.
    pub fn start(root: &Path, durability: Durability) -> Result<Self, DevDbError> {
        let io = |e| DevDbError::Io(root.to_path_buf(), e);
        fs::create_dir_all(root).map_err(io)?;
        let root = root.canonicalize().map_err(io)?;
        // The lease comes before the start lock, in every process: a watchdog holding the
        // exclusive lease while it stops the server thus never waits on a starter.
        let lease = fs::File::create(root.join(USERS_LOCK)).map_err(io)?;
        lease.lock_shared().map_err(io)?;
        // Serialise starts: `cargo test` runs several test processes against one cluster.
        let lock = fs::File::create(root.join("start.lock")).map_err(io)?;
        lock.lock().map_err(io)?;

        let bin_dir = find_bin_dir().ok_or(DevDbError::NoServer)?;
        let run_as_postgres = running_as_root();
        let data_dir = root.join("data");
        let mut cluster = Self {
            data_dir,
            bin_dir,
            run_as_postgres,
            port: 0,
            _lease: Arc::new(lease),
            durability,
        };
        if !cluster.data_dir.join("PG_VERSION").exists() {
            cluster.initdb(&root)?;
        }
        let port_file = root.join("port");
        let recorded_port = fs::read_to_string(&port_file)
            .ok()
            .and_then(|p| p.trim().parse::<u16>().ok());
        match recorded_port {
            Some(port) if cluster.is_running() => cluster.port = port,
            _ => {
                cluster.port = recorded_port
                    .filter(|p| port_is_free(*p))
                    .map_or_else(free_port, Ok)
                    .map_err(io)?;
                cluster.start_server()?;
                fs::write(&port_file, cluster.port.to_string()).map_err(io)?;
            }
        }
        // One per start, even when joining: a server whose watchdog was killed gets a new
        // one, and a spare watchdog only ever stops a server nobody holds.
        cluster.spawn_watchdog(&root)?;
        Ok(cluster)
    }

    /// The port the cluster listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL of database `name` on this cluster.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://aisle@127.0.0.1:{}/{name}", self.port)
    }

    /// Makes database `name` unless it exists, and returns its URL.
    pub async fn ensure_database(&self, name: &str) -> Result<String, DevDbError> {
        let mut conn = PgConnection::connect(&self.url("postgres")).await?;
        let exists: bool =
            sqlx::query_scalar("select exists(select 1 from pg_database where datname = $1)")
                .bind(name)
                .fetch_one(&mut conn)
                .await?;
        if !exists {
            // A name cannot be a bind parameter; callers pass identifiers we made ourselves.
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("create database \"{name}\"")))
                .execute(&mut conn)
                .await?;
        }
        Ok(self.url(name))
    }

    /// Stops the server, waiting for it to shut down.
    pub fn stop(&self) -> Result<(), DevDbError> {
        self.stop_command().run("pg_ctl stop")
    }

    /// A detached `flock -x users.lock pg_ctl stop`: it waits for every lease to go, then stops
    /// the server. Its own process group keeps a terminal's Ctrl-C from killing it early.
    fn spawn_watchdog(&self, root: &Path) -> Result<(), DevDbError> {
        let stop = self.stop_command();
        Command::new("flock")
            .arg("--exclusive")
            .arg(root.join(USERS_LOCK))
            .arg(stop.get_program())
            .args(stop.get_args())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .map(drop)
            .map_err(|e| DevDbError::Command {
                what: "the cluster's watchdog (flock, from util-linux)".into(),
                detail: e.to_string(),
            })
    }

    fn stop_command(&self) -> Command {
        let mut command = self.pg("pg_ctl");
        command
            .arg("-D")
            .arg(&self.data_dir)
            .args(["-m", "fast", "-w", "stop"]);
        command
    }

    /// Restarts the server at once (`pg_ctl restart -m fast`): every connection is cut, and
    /// the server comes back on the same port. For outage tests.
    pub fn restart(&self) -> Result<(), DevDbError> {
        self.pg("pg_ctl")
            .arg("-D")
            .arg(&self.data_dir)
            .arg("-l")
            .arg(self.log_file())
            .args(["-m", "fast", "-w", "-t", "60", "restart"])
            .run("pg_ctl restart")
    }

    /// Starts the server again after [`Self::stop`], on the same port and with the same
    /// settings. For outage tests.
    pub fn resume(&self) -> Result<(), DevDbError> {
        self.start_server()
    }

    fn initdb(&self, root: &Path) -> Result<(), DevDbError> {
        if self.run_as_postgres {
            Command::new("chown")
                .args(["-R", "postgres:"])
                .arg(root)
                .run("chown of the private cluster to the postgres user")?;
        }
        self.pg("initdb")
            .arg("-D")
            .arg(&self.data_dir)
            .args(["-U", "aisle", "--auth=trust", "-E", "UTF8", "--no-locale"])
            .run("initdb")
    }

    fn is_running(&self) -> bool {
        self.pg("pg_ctl")
            .arg("-D")
            .arg(&self.data_dir)
            .arg("status")
            .output()
            .is_ok_and(|o| o.status.success())
    }

    /// Where the server logs: beside its data directory. A file, never the caller's stdout,
    /// which `pg_ctl` would hand to the server and so keep open.
    fn log_file(&self) -> PathBuf {
        self.data_dir.with_file_name("server.log")
    }

    fn start_server(&self) -> Result<(), DevDbError> {
        let mut options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c max_connections=300",
            self.port
        );
        if self.durability == Durability::Throwaway {
            options.push_str(" -c fsync=off -c synchronous_commit=off -c full_page_writes=off");
        }
        self.pg("pg_ctl")
            .arg("-D")
            .arg(&self.data_dir)
            .arg("-l")
            .arg(self.log_file())
            .args(["-w", "-t", "60", "-o", &options, "start"])
            .run("pg_ctl start")
    }

    fn pg(&self, program: &str) -> Command {
        let program = self.bin_dir.join(program);
        if self.run_as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            Command::new(program)
        }
    }
}

/// Held shared by every process using the cluster, exclusively by its watchdog.
const USERS_LOCK: &str = "users.lock";

trait RunChecked {
    fn run(&mut self, what: &str) -> Result<(), DevDbError>;
}

impl RunChecked for Command {
    fn run(&mut self, what: &str) -> Result<(), DevDbError> {
        let output = self.output().map_err(|e| DevDbError::Command {
            what: what.into(),
            detail: e.to_string(),
        })?;
        if output.status.success() {
            Ok(())
        } else {
            Err(DevDbError::Command {
                what: what.into(),
                detail: String::from_utf8_lossy(&output.stderr).trim().to_string(),
            })
        }
    }
}

/// `initdb`'s directory: from `PATH`, else the newest `/usr/lib/postgresql/*/bin` (Debian
/// keeps the server binaries off `PATH`).
fn find_bin_dir() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .and_then(|path| std::env::split_paths(&path).find(|dir| dir.join("initdb").is_file()));
    on_path
        .map(|dir| {
            // A symlink in /usr/local/bin points at the real directory, which has pg_ctl too.
            fs::canonicalize(dir.join("initdb"))
                .ok()
                .and_then(|p| p.parent().map(Path::to_path_buf))
                .unwrap_or(dir)
        })
        .or_else(|| {
            let mut versions: Vec<PathBuf> = fs::read_dir("/usr/lib/postgresql")
                .ok()?
                .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
                .filter(|bin| bin.join("initdb").is_file())
                .collect();
            versions.sort_by_key(|bin| {
                bin.parent()
                    .and_then(|v| v.file_name())
                    .and_then(|v| v.to_str())
                    .and_then(|v| v.parse::<u32>().ok())
            });
            versions.pop()
        })
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn port_is_free(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind(("127.0.0.1", 0))?.local_addr()?.port())
}
