//! The bank-wide dials over real HTTP: the fault rate, the timeout hold, the inspection
//! endpoints, and the binary's start line.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use aisle_sandbox_bank::{FaultRate, SandboxOptions};
use reqwest::StatusCode;
use serde_json::Value;

use common::{client, consent_status, data_call, delete_consent, signed_in, start_bank_with};

/// How a faulted call looked to the TPP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Seen {
    Ok,
    Unavailable,
    RateLimitedForOneSecond,
    CutOff,
    TimedOut,
}

/// A bank that faults every faultable call, holding timeouts for `hold`.
async fn always_failing_bank(hold: Duration) -> String {
    start_bank_with(SandboxOptions {
        fault_rate: FaultRate::new(1.0).expect("a valid rate"),
        timeout_hold: hold,
        ..SandboxOptions::default()
    })
    .await
}

/// A data call as a TPP with a 300 ms timeout sees it.
async fn seen(http: &reqwest::Client, url: &str, consent: &str) -> Seen {
    let sent = http
        .get(url)
        .header("Consent-ID", consent)
        .timeout(Duration::from_millis(300))
        .send()
        .await;
    let response = match sent {
        Ok(response) => response,
        Err(e) if e.is_timeout() => return Seen::TimedOut,
        Err(_) => return Seen::CutOff,
    };
    let status = response.status();
    let retry_after = response.headers().get("retry-after").cloned();
    match (status, response.bytes().await) {
        (_, Err(e)) if e.is_timeout() => Seen::TimedOut,
        (_, Err(_)) => Seen::CutOff,
        (StatusCode::SERVICE_UNAVAILABLE, Ok(_)) => Seen::Unavailable,
        (StatusCode::TOO_MANY_REQUESTS, Ok(_)) if retry_after.is_some_and(|v| v == "1") => {
            Seen::RateLimitedForOneSecond
        }
        (status, Ok(_)) if status.is_success() => Seen::Ok,
        (status, Ok(body)) => panic!("unexpected {status}: {body:?}"),
    }
}

#[tokio::test]
async fn at_fault_rate_one_every_data_call_fails_as_a_503_a_429_a_cut_connection_or_a_timeout() {
    let bank = always_failing_bank(Duration::from_secs(5)).await;
    // Signing in is never faulted, whatever the rate.
    let consent = signed_in(&bank, "alice").await;
    let http = client();
    let mut seen_kinds = std::collections::HashMap::new();
    for _ in 0..48 {
        let kind = seen(&http, &format!("{bank}/v1/accounts"), &consent).await;
        *seen_kinds.entry(kind).or_insert(0) += 1;
    }
    assert_eq!(seen_kinds.get(&Seen::Ok), None, "{seen_kinds:?}");
    // Equal odds over 48 calls: a kind missing altogether is a one-in-10^5 event.
    for kind in [
        Seen::Unavailable,
        Seen::RateLimitedForOneSecond,
        Seen::CutOff,
        Seen::TimedOut,
    ] {
        assert!(seen_kinds.contains_key(&kind), "{kind:?}: {seen_kinds:?}");
    }
    // The consent's own reads are never faulted, and faulted calls never reached the bank.
    assert_eq!(consent_status(&bank, &consent).await, "valid");
    let consents: Value = http
        .get(format!("{bank}/sandbox/consents"))
        .send()
        .await
        .expect("consents")
        .json()
        .await
        .expect("json");
    assert_eq!(consents[0]["dataCalls"], 0, "{consents}");
}

#[tokio::test]
async fn a_timeout_fault_holds_its_answer_for_the_configured_hold_then_answers_503() {
    let hold = Duration::from_secs(1);
    let bank = always_failing_bank(hold).await;
    let consent = signed_in(&bank, "bob").await;
    let http = client();
    // A quarter of faults are held ones: one in 60 calls is all but certain. The others
    // answer at once, far below the hold even on a loaded machine.
    for _ in 0..60 {
        let started = Instant::now();
        let answer = http
            .get(format!("{bank}/v1/accounts"))
            .header("Consent-ID", &consent)
            .timeout(Duration::from_secs(5))
            .send()
            .await;
        let took = started.elapsed();
        if let Ok(answer) = answer
            && took >= hold
        {
            assert_eq!(answer.status(), StatusCode::SERVICE_UNAVAILABLE);
            assert!(took < hold * 4, "{took:?}");
            return;
        }
    }
    panic!("no call of 60 was held");
}

#[tokio::test]
async fn a_consent_termination_is_faulted_like_a_data_call_and_lands_once_it_gets_through() {
    let bank = always_failing_bank(Duration::from_millis(50)).await;
    let consent = signed_in(&bank, "alice").await;
    let refused = client()
        .delete(format!("{bank}/v1/consents/{consent}"))
        .send()
        .await;
    // A 503, a 429, a held answer, or a cut connection (which may come as an error, not an
    // answer): anything but the 204 of a termination.
    assert!(
        !refused.is_ok_and(|r| r.status() == StatusCode::NO_CONTENT),
        "a faulted termination went through"
    );
    assert_eq!(consent_status(&bank, &consent).await, "valid");

    let calm = start_bank_with(SandboxOptions::default()).await;
    let consent = signed_in(&calm, "alice").await;
    assert_eq!(
        delete_consent(&calm, &consent).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(consent_status(&calm, &consent).await, "terminatedByTpp");
}

#[tokio::test]
async fn the_consents_endpoint_lists_status_login_and_data_calls_of_every_consent() {
    let bank = start_bank_with(SandboxOptions::default()).await;
    let alice = signed_in(&bank, "alice").await;
    let bob = signed_in(&bank, "bob").await;
    for _ in 0..3 {
        assert!(
            data_call(&bank, &alice, "/v1/accounts")
                .await
                .status()
                .is_success()
        );
    }
    assert_eq!(
        delete_consent(&bank, &bob).await.status(),
        StatusCode::NO_CONTENT
    );
    let listed: Vec<Value> = client()
        .get(format!("{bank}/sandbox/consents"))
        .send()
        .await
        .expect("consents")
        .json()
        .await
        .expect("json");
    let find = |id: &str| {
        listed
            .iter()
            .find(|c| c["consentId"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("{id} listed: {listed:?}"))
    };
    let alice = find(&alice);
    assert_eq!(
        (&alice["status"], &alice["login"], &alice["dataCalls"]),
        (&"valid".into(), &"alice".into(), &3.into())
    );
    let bob = find(&bob);
    assert_eq!(
        (&bob["status"], &bob["login"], &bob["dataCalls"]),
        (&"terminatedByTpp".into(), &"bob".into(), &0.into())
    );
}

/// Kills the child when the test ends, however it ends.
struct Reaped(std::process::Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn the_binary_on_port_zero_prints_the_address_it_listens_on_and_serves_there() {
    let mut bank = Reaped(
        Command::new(env!("CARGO_BIN_EXE_aisle-sandbox-bank"))
            .args(["--port", "0", "--fault-rate", "0.5", "--latency-ms", "1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the bank starts"),
    );
    let stdout = bank.0.stdout.take().expect("piped stdout");
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).map(|_| line)
    })
    .await
    .expect("reader")
    .expect("a line");
    let url = line
        .trim()
        .strip_prefix("sandbox bank listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let consent = signed_in(url, "alice").await;
    assert_eq!(consent_status(url, &consent).await, "valid");
}

#[test]
fn the_binary_refuses_a_fault_rate_outside_zero_to_one() {
    let output = Command::new(env!("CARGO_BIN_EXE_aisle-sandbox-bank"))
        .args(["--port", "0", "--fault-rate", "1.5"])
        .output()
        .expect("the bank runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("from 0.0 to 1.0"), "{stderr}");
}
