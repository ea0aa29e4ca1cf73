use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{import_body, spawn_app, spawn_app_without_workers};

#[tokio::test]
async fn alice_is_imported_end_to_end_with_owners_accounts_transactions_and_cards() {
    let app = spawn_app().await;
    let session = app.sandbox_session(&app.api_key, "alice").await;
    assert_eq!(session["target"], "sandbox");

    let response = app
        .post_default_import(&app.api_key, &import_body(&session))
        .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let accepted: Value = response.json().await.unwrap();
    assert_eq!(accepted["state"], "in_progress");
    let command_id = accepted["commandId"].as_str().unwrap();

    let command = app
        .wait_for_command(command_id, Duration::from_secs(60))
        .await;
    assert_eq!(command["state"], "successful", "{command}");
    assert_eq!(command["bank"], "sandbox");
    assert_eq!(command["ownerExternalId"], "owner-1");
    assert!(command["finishedAt"].is_string());
    let result = &command["result"];

    assert!(!result["owners"].as_array().unwrap().is_empty());
    let accounts = result["accounts"].as_array().unwrap();
    assert_eq!(accounts.len(), 2, "alice has two current accounts");
    for account in accounts {
        assert!(account["iban"].is_string());
        let balances = account["balances"].as_array().unwrap();
        assert!(!balances.is_empty());
        assert!(
            balances[0]["amount"].is_string(),
            "money is a decimal string"
        );
        let booked = account["transactions"]["booked"].as_array().unwrap();
        assert!(!booked.is_empty());
        for transaction in booked {
            assert!(
                transaction["amount"].is_string(),
                "money is a decimal string"
            );
            let booking_date = transaction["bookingDate"].as_str().unwrap();
            assert!(booking_date >= command["since"].as_str().unwrap());
        }
        assert!(account["transactions"]["pending"].is_array());
    }
    let main_account = &accounts[0]["transactions"]["booked"];
    assert!(
        main_account.as_array().unwrap().len() > 100,
        "more than one page of the bank's transactions was followed"
    );

    let cards = result["cards"].as_array().unwrap();
    assert_eq!(cards.len(), 1, "alice has one credit card");
    assert!(
        !cards[0]["transactions"]["booked"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    assert_eq!(
        app.secrets_left().await,
        0,
        "single access: the bank secret is erased when the import ends"
    );
}

#[tokio::test]
async fn a_polled_import_in_progress_says_when_to_poll_again() {
    // No workers: the command stays queued, as it would behind a busy queue.
    let app = spawn_app_without_workers().await;
    let command_id = app.start_import("alice").await;
    let response = app.get_command(&app.api_key, &command_id).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["retry-after"], "2");
    let command: Value = response.json().await.unwrap();
    assert_eq!(command["state"], "in_progress");
    assert_eq!(command["progress"]["stage"], "queued");
    assert!(command["result"].is_null() && command["error"].is_null());
}

#[tokio::test]
async fn a_co_owned_business_account_lists_both_owners() {
    let app = spawn_app().await;
    let command_id = app.start_import("bob").await;
    let command = app
        .wait_for_command(&command_id, Duration::from_secs(60))
        .await;
    assert_eq!(command["state"], "successful", "{command}");
    let kinds: Vec<&str> = command["result"]["owners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"OWNER") && kinds.contains(&"CO_OWNER"),
        "{kinds:?}"
    );
}

#[tokio::test]
async fn finished_queue_jobs_older_than_a_day_are_purged_and_the_command_remains() {
    let app = spawn_app().await;
    let command_id = app.start_import("alice").await;
    app.wait_for_command(&command_id, Duration::from_secs(60))
        .await;
    let purge_age = Duration::from_secs(24 * 60 * 60);
    assert_eq!(
        aisle::store::queue::purge_finished(&app.pool, purge_age)
            .await
            .unwrap(),
        0
    );

    sqlx::query("update apalis.jobs set done_at = now() - interval '2 days'")
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        aisle::store::queue::purge_finished(&app.pool, purge_age)
            .await
            .unwrap(),
        1
    );
    assert_eq!(app.count("select count(*) from apalis.jobs").await, 0);
    let command = app
        .wait_for_command(&command_id, Duration::from_secs(1))
        .await;
    assert_eq!(command["state"], "successful");
}
