//! The streamed result: the same JSON as the result assembled in memory, a summary without
//! transactions, strong ETags, and a connection cut rather than a body that looks complete.

use std::time::Duration;

use aisle::store::results::{self, Scope};
use reqwest::{StatusCode, header};
use serde_json::Value;
use uuid::Uuid;

use crate::helpers::{TestApp, spawn_app};

/// Imports alice, then adds rows to her first account and her card straight into the
/// database, so the result has several batches of rows: dates shared by many rows, rows with
/// no date at all, booked and pending. Returns the command id.
pub async fn import_with_many_rows(app: &TestApp, extra_rows: i64) -> String {
    let command_id = app.start_import("alice").await;
    let command = app
        .wait_for_command(&command_id, Duration::from_secs(60))
        .await;
    assert_eq!(command["state"], "successful", "{command}");
    sqlx::query(
        "insert into transactions (id, client_id, command_id, account_id, identity, status,
                                   booking_date, value_date, amount, currency, description)
         select gen_random_uuid(), a.client_id, a.command_id, a.id, 'extra-' || n,
                case when n % 7 = 0 then 'pending' else 'booked' end,
                case when n % 11 = 0 then null else date '2020-01-01' + (n / 40)::int end,
                case when n % 13 = 0 then null else date '2020-01-02' + (n / 40)::int end,
                (n % 500) - 250.25, 'EUR', 'row ' || n || ' \"quoted\" ü'
         from accounts a, generate_series(1, $2) as n
         where a.command_id = $1 and a.position = 0",
    )
    .bind(Uuid::parse_str(&command_id).unwrap())
    .bind(extra_rows)
    .execute(&app.pool)
    .await
    .unwrap();
    sqlx::query(
        "insert into card_transactions (id, client_id, command_id, card_id, identity, status,
                                        transaction_date, booking_date, amount, currency)
         select gen_random_uuid(), c.client_id, c.command_id, c.id, 'extra-' || n,
                case when n % 5 = 0 then 'pending' else 'booked' end,
                case when n % 9 = 0 then null else date '2021-01-01' + (n / 25)::int end,
                null, -(n % 90) - 0.5, 'EUR'
         from cards c, generate_series(1, $2) as n
         where c.command_id = $1 and c.position = 0",
    )
    .bind(Uuid::parse_str(&command_id).unwrap())
    .bind(extra_rows / 4)
    .execute(&app.pool)
    .await
    .unwrap();
    command_id
}

async fn in_memory_result(app: &TestApp, command_id: &str) -> String {
    let scope = Scope {
        client_id: app.client_id,
        command_id: Uuid::parse_str(command_id).unwrap(),
    };
    let result = results::load(&app.pool, scope).await.unwrap();
    serde_json::to_string(&result).unwrap()
}

#[tokio::test]
async fn a_streamed_result_has_the_same_bytes_as_the_result_assembled_in_memory() {
    let app = spawn_app().await;
    let command_id = import_with_many_rows(&app, 12_000).await;

    let response = app.get_command(&app.api_key, &command_id).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
    assert!(
        response.headers().get(header::CONTENT_LENGTH).is_none(),
        "the result is streamed, not measured first"
    );
    let body = response.text().await.unwrap();
    let command: Value = serde_json::from_str(&body).expect("the streamed body is JSON");
    assert_eq!(command["state"], "successful");
    assert!(command["error"].is_null());

    let expected = in_memory_result(&app, &command_id).await;
    assert!(
        body.contains(&format!("\"result\":{expected},\"error\":null}}")),
        "the streamed result differs from the one assembled in memory"
    );
    let booked = command["result"]["accounts"][0]["transactions"]["booked"]
        .as_array()
        .unwrap();
    assert!(booked.len() > 10_000, "several batches were streamed");
}

#[tokio::test]
async fn the_summary_view_has_everything_but_the_transactions() {
    let app = spawn_app().await;
    let command_id = import_with_many_rows(&app, 100).await;
    let full: Value = app
        .get_command(&app.api_key, &command_id)
        .await
        .json()
        .await
        .unwrap();

    let summary: Value = app
        .http
        .get(format!(
            "{}/v1/commands/{command_id}?view=summary",
            app.address
        ))
        .bearer_auth(&app.api_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    let mut expected = full.clone();
    for list in ["accounts", "cards"] {
        for item in expected["result"][list].as_array_mut().unwrap() {
            item.as_object_mut().unwrap().remove("transactions");
        }
    }
    assert_eq!(summary, expected);
    assert!(summary["result"]["accounts"][0]["receipt"].is_object());
    assert!(summary["result"]["accounts"][0]["balances"].is_array());
}

#[tokio::test]
async fn a_finished_command_answers_304_to_its_own_etag() {
    let app = spawn_app().await;
    let command_id = app.start_import("alice").await;
    app.wait_for_command(&command_id, Duration::from_secs(60))
        .await;
    let url = format!("{}/v1/commands/{command_id}", app.address);

    let first = app.get_command(&app.api_key, &command_id).await;
    let etag = first.headers()[header::ETAG].to_str().unwrap().to_string();
    assert!(
        etag.starts_with('"') && etag.ends_with('"'),
        "a strong tag: {etag}"
    );

    let again = app
        .http
        .get(&url)
        .bearer_auth(&app.api_key)
        .header(header::IF_NONE_MATCH, &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(again.headers()[header::ETAG], etag.as_str());
    assert!(again.bytes().await.unwrap().is_empty());

    let other_tag = app
        .http
        .get(&url)
        .bearer_auth(&app.api_key)
        .header(header::IF_NONE_MATCH, "\"something-else\"")
        .send()
        .await
        .unwrap();
    assert_eq!(other_tag.status(), StatusCode::OK);

    let summary = app
        .http
        .get(format!("{url}?view=summary"))
        .bearer_auth(&app.api_key)
        .header(header::IF_NONE_MATCH, &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(
        summary.status(),
        StatusCode::OK,
        "each view has its own tag"
    );
    assert_ne!(summary.headers()[header::ETAG], etag.as_str());
}

#[tokio::test]
async fn an_in_progress_command_has_no_etag() {
    let app = crate::helpers::spawn_app_without_workers().await;
    let command_id = app.start_import("alice").await;
    let response = app.get_command(&app.api_key, &command_id).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().get(header::ETAG).is_none());
    assert!(response.headers().get(header::RETRY_AFTER).is_some());
}

#[tokio::test]
async fn a_result_that_fails_mid_stream_ends_in_a_cut_connection_not_a_complete_body() {
    let app = spawn_app().await;
    let command_id = import_with_many_rows(&app, 60_000).await;

    let mut response = app.get_command(&app.api_key, &command_id).await;
    assert_eq!(response.status(), StatusCode::OK);
    let mut received = response
        .chunk()
        .await
        .unwrap()
        .expect("a first chunk")
        .to_vec();
    // The writer waits for this reader, so it is mid-way through the rows. Renaming the table
    // makes its next batch fail.
    sqlx::query("alter table transactions rename to transactions_gone")
        .execute(&app.pool)
        .await
        .unwrap();
    let ended = loop {
        match response.chunk().await {
            Ok(Some(chunk)) => received.extend_from_slice(&chunk),
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        }
    };
    assert!(ended.is_err(), "the transfer is cut, not ended");
    assert!(
        serde_json::from_slice::<Value>(&received).is_err(),
        "what arrived does not parse as a complete body"
    );
}

/// Every row of a paged list, following `nextCursor` from the first page to the last.
async fn all_pages(app: &TestApp, path: &str, limit: usize) -> Vec<Value> {
    let mut rows = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut request = app
            .http
            .get(format!("{}{path}", app.address))
            .bearer_auth(&app.api_key)
            .query(&[("limit", limit.to_string())]);
        if let Some(cursor) = &cursor {
            request = request.query(&[("cursor", cursor)]);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let page: Value = response.json().await.unwrap();
        let transactions = page["transactions"].as_array().unwrap();
        assert!(transactions.len() <= limit);
        rows.extend(transactions.iter().cloned());
        match page["nextCursor"].as_str() {
            Some(next) => {
                assert_eq!(transactions.len(), limit, "only the last page is short");
                cursor = Some(next.to_string());
            }
            None => return rows,
        }
    }
}

fn booked_then_pending(item: &Value) -> Vec<Value> {
    let transactions = &item["transactions"];
    let mut rows = transactions["booked"].as_array().unwrap().clone();
    rows.extend(transactions["pending"].as_array().unwrap().iter().cloned());
    rows
}

#[tokio::test]
async fn pages_of_any_size_neither_skip_nor_repeat_a_row() {
    let app = spawn_app().await;
    let command_id = import_with_many_rows(&app, 2_000).await;
    let command: Value = app
        .get_command(&app.api_key, &command_id)
        .await
        .json()
        .await
        .unwrap();
    let account = &command["result"]["accounts"][0];
    let card = &command["result"]["cards"][0];
    let account_path = format!(
        "/v1/commands/{command_id}/accounts/{}/transactions",
        account["bankAccountId"].as_str().unwrap()
    );
    let card_path = format!(
        "/v1/commands/{command_id}/cards/{}/transactions",
        card["bankCardId"].as_str().unwrap()
    );

    let expected = booked_then_pending(account);
    assert!(expected.len() > 2_000);
    for limit in [1_000, 97] {
        assert_eq!(
            all_pages(&app, &account_path, limit).await,
            expected,
            "limit {limit}"
        );
    }
    let expected = booked_then_pending(card);
    assert!(expected.len() > 400);
    for limit in [13, 1] {
        assert_eq!(
            all_pages(&app, &card_path, limit).await,
            expected,
            "limit {limit}"
        );
    }
}

#[tokio::test]
async fn a_page_request_with_a_bad_cursor_limit_or_account_is_refused() {
    let app = spawn_app().await;
    let command_id = app.start_import("alice").await;
    app.wait_for_command(&command_id, Duration::from_secs(60))
        .await;
    let get = |path: String| {
        app.http
            .get(format!("{}{path}", app.address))
            .bearer_auth(&app.api_key)
            .send()
    };
    let base = format!("/v1/commands/{command_id}/accounts");
    let command: Value = app
        .get_command(&app.api_key, &command_id)
        .await
        .json()
        .await
        .unwrap();
    let account = command["result"]["accounts"][0]["bankAccountId"]
        .as_str()
        .unwrap()
        .to_string();

    for query in ["limit=0", "limit=1001", "cursor=zz", "cursor=00", "limit=x"] {
        let response = get(format!("{base}/{account}/transactions?{query}"))
            .await
            .unwrap();
        crate::helpers::assert_problem(response, StatusCode::BAD_REQUEST, "InvalidParameter").await;
    }
    let response = get(format!("{base}/no-such-account/transactions"))
        .await
        .unwrap();
    crate::helpers::assert_problem(response, StatusCode::NOT_FOUND, "NotFound").await;
}
