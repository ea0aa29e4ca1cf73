//! An import stores each window's rows while it fetches the next, yet a result is presented
//! only once its command has ended with one: rows of a run still going, or of one that failed,
//! are never seen.

use std::time::{Duration, Instant};

use chrono::{Days, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Options, TestApp, spawn_app, spawn_app_with};

/// Starts `login`'s import reaching `days` back; returns its command id.
async fn start_import_since(app: &TestApp, login: &str, days: u64) -> String {
    let session = app.sandbox_session(&app.api_key, login).await;
    let since = Utc::now().date_naive() - Days::new(days);
    let response = app
        .post_default_import(
            &app.api_key,
            &json!({
                "sessionId": session["sessionId"],
                "sessionIdSignature": session["sessionIdSignature"],
                "since": since,
            }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let accepted: Value = response.json().await.unwrap();
    accepted["commandId"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn rows_stored_while_fetching_are_not_presented_until_the_command_is_successful() {
    // Every call takes 300 ms, and ten years are many windows: the import is long in progress
    // after its first rows are stored.
    let app = spawn_app_with(Options {
        bank_latency: Duration::from_millis(300),
        ..Options::default()
    })
    .await;
    let command_id = start_import_since(&app, "dave", 3650).await;

    let deadline = Instant::now() + Duration::from_secs(60);
    while app.count("select count(*) from transactions").await == 0 {
        assert!(
            Instant::now() < deadline,
            "no row was stored while fetching"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let command: Value = app
        .get_command(&app.api_key, &command_id)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        command["state"], "in_progress",
        "the first rows are stored long before the import ends"
    );
    assert!(
        command.get("result").is_none_or(Value::is_null),
        "no result while in progress: {command}"
    );
    let account: String = sqlx::query_scalar("select bank_account_id from accounts limit 1")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let page = app
        .http
        .get(format!(
            "{}/v1/commands/{command_id}/accounts/{account}/transactions",
            app.address
        ))
        .bearer_auth(&app.api_key)
        .send()
        .await
        .unwrap();
    assert_eq!(
        page.status(),
        StatusCode::NOT_FOUND,
        "no page of a result that does not exist yet"
    );
    let today = Utc::now().date_naive();
    let export = app
        .http
        .get(format!(
            "{}/v1/exports/transactions?since={today}&until={today}",
            app.address
        ))
        .bearer_auth(&app.api_key)
        .send()
        .await
        .unwrap();
    assert_eq!(export.status(), StatusCode::OK);
    assert_eq!(
        export.text().await.unwrap(),
        "",
        "nothing finished to export"
    );

    let command = app
        .wait_for_command(&command_id, Duration::from_secs(120))
        .await;
    assert_eq!(command["state"], "successful", "{command}");
    let presented: usize = command["result"]["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|account| {
            ["booked", "pending"]
                .iter()
                .map(|status| {
                    account["transactions"][status]
                        .as_array()
                        .map_or(0, Vec::len)
                })
                .sum::<usize>()
        })
        .sum();
    assert_eq!(
        presented as i64,
        app.count("select count(*) from transactions").await,
        "the result is every stored row, once"
    );
}

#[tokio::test]
async fn a_failed_import_leaves_none_of_the_rows_it_stored_while_fetching() {
    let app = spawn_app().await;
    // The consent expires after six calls: the owners, accounts and cards, then a few
    // windows are read and stored before the bank refuses the rest.
    let command_id = start_import_since(&app, "expiring", 729).await;
    let command = app
        .wait_for_command(&command_id, Duration::from_secs(60))
        .await;
    assert_eq!(command["state"], "error", "{command}");
    assert_eq!(command["error"]["code"], "SessionExpired", "{command}");
    for table in [
        "owners",
        "accounts",
        "cards",
        "balances",
        "transactions",
        "card_transactions",
    ] {
        assert_eq!(
            app.count(&format!("select count(*) from {table}")).await,
            0,
            "{table} still holds rows of a failed import"
        );
    }
}
