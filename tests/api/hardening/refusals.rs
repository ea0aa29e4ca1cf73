//! Outside `aisle dev`, nothing is invented: a process without its database or keys refuses
//! to start and names what is missing.

use std::{
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
    time::{Duration, Instant},
};

/// `aisle` with an environment holding nothing of ours, in a fresh working directory.
fn aisle(work_dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_aisle"));
    command
        .args(args)
        .env_clear()
        .env("AISLE_STATE_DIR", work_dir.join("state"))
        .current_dir(work_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Runs `command`, killing it if it is still running after `deadline` (it then started, which
/// is the failure these tests look for).
fn run_briefly(mut command: Command, deadline: Duration) -> Output {
    let mut child = command.spawn().expect("aisle runs");
    let started = Instant::now();
    while child.try_wait().expect("aisle's status").is_none() {
        if started.elapsed() > deadline {
            child.kill().expect("kill aisle");
            let output = child.wait_with_output().expect("aisle's output");
            panic!(
                "aisle started instead of refusing: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("aisle's output")
}

fn work_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("refusals")
        .join(uuid::Uuid::new_v4().simple().to_string());
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn api_worker_and_serve_without_database_or_keys_refuse_naming_every_missing_setting() {
    for command in ["api", "worker", "serve"] {
        let dir = work_dir();
        let output = run_briefly(aisle(&dir, &[command]), Duration::from_secs(20));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{command}: {stderr}");
        for setting in [
            "AISLE_DATABASE_URL",
            "AISLE_SESSION_SIGNING_KEY",
            "AISLE_SECRETS_KEY",
            "AISLE_DELETION_RECEIPT_KEY",
        ] {
            assert!(
                stderr.contains(setting),
                "{command} names {setting}: {stderr}"
            );
        }
        assert!(
            !dir.join("state").exists(),
            "{command} wrote nothing into the state directory (no generated key, no cluster)"
        );
    }
}

#[test]
fn an_api_with_a_database_but_no_keys_refuses_naming_only_the_keys() {
    let dir = work_dir();
    let mut command = aisle(&dir, &["api"]);
    // Never reached: the refusal comes before any connection.
    command.env("AISLE_DATABASE_URL", "postgres://aisle@127.0.0.1:9/none");
    let output = run_briefly(command, Duration::from_secs(20));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains("AISLE_SESSION_SIGNING_KEY"), "{stderr}");
    assert!(stderr.contains("AISLE_SECRETS_KEY"), "{stderr}");
    assert!(stderr.contains("AISLE_DELETION_RECEIPT_KEY"), "{stderr}");
    assert!(!stderr.contains("AISLE_DATABASE_URL"), "{stderr}");
}

#[test]
fn migrate_and_client_create_without_a_database_refuse_instead_of_starting_a_cluster() {
    for args in [&["migrate"][..], &["client", "create", "--name", "x"][..]] {
        let dir = work_dir();
        let output = run_briefly(aisle(&dir, args), Duration::from_secs(20));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?}: {stderr}");
        assert!(stderr.contains("AISLE_DATABASE_URL"), "{args:?}: {stderr}");
        assert!(!dir.join("state").exists(), "{args:?} started no cluster");
    }
}
