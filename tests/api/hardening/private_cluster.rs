//! A private test cluster stops once the last process using it has ended, whether that
//! process returned or was killed, and not while another still uses it.

use std::{
    io::{BufRead, BufReader, Read},
    net::TcpStream,
    path::{Path, PathBuf},
    process::{Child, ChildStdout, Command, Stdio},
    time::{Duration, Instant},
};

use aisle::devdb::{Durability, PrivateCluster};

/// Where the holder below finds its cluster; unset, the holder does nothing.
const HOLD_ROOT: &str = "AISLE_TEST_HOLD_CLUSTER_ROOT";

/// Not a test: the process the test below starts (this test binary again, filtered to this
/// function). It takes the cluster, prints its port, and returns when its stdin closes.
#[test]
#[ignore = "run by a_private_cluster_stops_once_the_last_process_using_it_has_ended"]
fn hold_a_private_cluster() {
    let Some(root) = std::env::var_os(HOLD_ROOT) else {
        return;
    };
    let cluster = PrivateCluster::start(Path::new(&root), Durability::Throwaway).unwrap();
    println!("port {}", cluster.port());
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
}

struct Holder {
    child: Child,
    port: u16,
    /// Kept open so the holder's last lines of output do not fail on a closed pipe.
    _stdout: BufReader<ChildStdout>,
}

fn hold(root: &Path) -> Holder {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "hardening::private_cluster::hold_a_private_cluster",
            "--exact",
            "--ignored",
            "--nocapture",
        ])
        .env(HOLD_ROOT, root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let port = stdout
        .by_ref()
        .lines()
        .map_while(Result::ok)
        .find_map(|line| line.strip_prefix("port ").and_then(|p| p.parse().ok()))
        .expect("the holder printed its cluster's port");
    Holder {
        child,
        port,
        _stdout: stdout,
    }
}

fn answers(port: u16) -> bool {
    TcpStream::connect(("127.0.0.1", port)).is_ok()
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("aisle-lease-postgres")
}

#[test]
fn a_private_cluster_stops_once_the_last_process_using_it_has_ended() {
    let root = root();
    let mut killed = hold(&root);
    let mut ending = hold(&root);
    assert_eq!(killed.port, ending.port, "both holders share one cluster");
    let port = killed.port;

    killed.child.kill().unwrap();
    killed.child.wait().unwrap();
    assert!(answers(port), "still running for the other holder");

    drop(ending.child.stdin.take());
    assert!(ending.child.wait().unwrap().success());
    let deadline = Instant::now() + Duration::from_secs(30);
    while answers(port) {
        assert!(
            Instant::now() < deadline,
            "the cluster on port {port} still runs with no process using it"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
