use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::{Options, spawn_app_with};

/// A worker killed mid-import leaves its job to another worker, which takes the lapsed lease
/// over and redoes the import: the dead run's rows are never presented, and are replaced by
/// one complete result, no duplicate rows.
#[tokio::test]
async fn an_import_whose_worker_dies_midway_is_retried_into_one_complete_result() {
    let app = spawn_app_with(Options {
        workers: false,
        // Slow enough that the history stage (at least one 600 ms page) is seen by a poll
        // every 50 ms long before the import could finish.
        bank_latency: Duration::from_millis(600),
    })
    .await;
    let command_id = app.start_import("alice").await;

    let first_worker = app.start_workers();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let command: Value = app
            .get_command(&app.api_key, &command_id)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(
            command["state"], "in_progress",
            "the import must not finish before the crash"
        );
        if command["progress"]["stage"] == "history" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the first worker never got going"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    first_worker.abort();
    let _ = first_worker.await;
    assert!(
        app.count("select count(*) from owners").await > 0,
        "rows are stored while the history is fetched"
    );
    let command: Value = app
        .get_command(&app.api_key, &command_id)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(command["state"], "in_progress");
    assert!(
        command.get("result").is_none_or(Value::is_null),
        "a dead run's rows are never presented as a result: {command}"
    );

    let _second_worker = app.start_workers();
    let command = app
        .wait_for_command(&command_id, Duration::from_secs(90))
        .await;
    assert_eq!(command["state"], "successful", "{command}");
    assert_eq!(
        app.count("select attempts::bigint from commands").await,
        2,
        "the import ran twice: once killed, once complete"
    );

    assert_eq!(app.count("select count(*) from accounts").await, 2);
    assert_eq!(app.count("select count(*) from cards").await, 1);
    assert_eq!(
        app.count("select count(*) - count(distinct (account_id, identity)) from transactions")
            .await,
        0
    );
    let stored = app.count("select count(*) from transactions").await;
    let returned = transaction_count(&command);
    assert_eq!(stored as usize, returned);

    // The same persona imported without a crash gives exactly as many rows.
    let clean_id = app.start_import("alice").await;
    let _third_worker = app.start_workers();
    let clean = app
        .wait_for_command(&clean_id, Duration::from_secs(90))
        .await;
    assert_eq!(returned, transaction_count(&clean));
}

/// Booked and pending transactions over all accounts of a finished command.
fn transaction_count(command: &Value) -> usize {
    command["result"]["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            a["transactions"]["booked"].as_array().unwrap().len()
                + a["transactions"]["pending"].as_array().unwrap().len()
        })
        .sum()
}
