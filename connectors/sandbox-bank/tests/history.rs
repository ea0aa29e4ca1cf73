//! The history rules of the transactions endpoints over real HTTP: retention, the SCA window
//! for older history, the first day of a persona's history, and capped's limits.

mod common;

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;

use common::{
    accounts, booked_rows, code_of, data_call, days_ago, signed_in, start_bank, today,
    transactions_path,
};

/// How long short-sca's bank serves older history after SCA.
const SHORT_SCA_WINDOW: Duration = Duration::from_secs(5);

async fn report(bank: &str, consent: &str, path: &str) -> (StatusCode, Value) {
    let response = data_call(bank, consent, path).await;
    let status = response.status();
    (status, response.json().await.expect("json"))
}

#[tokio::test]
async fn dave_reads_back_ten_years_and_not_a_day_more() {
    let bank = start_bank().await;
    let consent = signed_in(&bank, "dave").await;
    let account = &accounts(&bank, &consent).await[0];
    let oldest = days_ago(3650);
    let (status, body) = report(&bank, &consent, &transactions_path(account, oldest, oldest)).await;
    assert_eq!(status, StatusCode::OK);
    let first = &body["transactions"]["booked"][0];
    assert!(
        first.is_null() || first["bookingDate"] == oldest.to_string(),
        "{body}"
    );
    let (rows, _) = booked_rows(&bank, &consent, account, oldest, days_ago(3620)).await;
    assert!(!rows.is_empty(), "dave banked ten years ago");

    let too_old = days_ago(3651);
    let (status, body) = report(
        &bank,
        &consent,
        &transactions_path(account, too_old, today()),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(code_of(&body), "PERIOD_INVALID");
}

#[tokio::test]
async fn days_before_a_personas_first_day_of_history_yield_no_rows_rather_than_an_error() {
    let bank = start_bank().await;
    let consent = signed_in(&bank, "alice").await;
    let account = &accounts(&bank, &consent).await[0];
    let path = transactions_path(account, days_ago(1000), days_ago(800));
    let (status, body) = report(&bank, &consent, &path).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["transactions"]["booked"], serde_json::json!([]));
    let (rows, _) = booked_rows(&bank, &consent, account, days_ago(800), days_ago(700)).await;
    let first = rows.first().and_then(|r| r["bookingDate"].as_str());
    assert_eq!(first, Some(days_ago(730).to_string().as_str()));
}

#[tokio::test]
async fn short_scas_older_history_closes_five_seconds_after_sca_while_90_days_stay_open() {
    let bank = start_bank().await;
    // The window runs on the bank's clock from the approval, which happens between these two
    // instants: it cannot close before `opens_at` plus five seconds, and must have closed by
    // `closed_by`.
    let opens_at = Instant::now();
    let consent = signed_in(&bank, "short-sca").await;
    let closed_by = Instant::now() + SHORT_SCA_WINDOW;
    let account = &accounts(&bank, &consent).await[0];
    let older = transactions_path(account, days_ago(200), days_ago(100));
    let (status, _) = report(&bank, &consent, &older).await;
    assert_eq!(status, StatusCode::OK, "open right after SCA");
    let card = &data_call(&bank, &consent, "/v1/card-accounts")
        .await
        .json::<Value>()
        .await
        .expect("json")["cardAccounts"][0];
    let card_id = card["resourceId"].as_str().expect("card id");
    let older_card = format!(
        "/v1/card-accounts/{card_id}/transactions?dateFrom={}&bookingStatus=booked",
        days_ago(200)
    );
    assert_eq!(report(&bank, &consent, &older_card).await.0, StatusCode::OK);

    // Ask until the window has closed, failing if it is still open well after `closed_by`.
    loop {
        let (status, _) = report(&bank, &consent, &older).await;
        if status != StatusCode::OK {
            break;
        }
        assert!(
            Instant::now() < closed_by + Duration::from_secs(2),
            "older history is still open more than five seconds after SCA"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A little slack: the test's clock and the bank's are read a moment apart.
    assert!(
        opens_at.elapsed() + Duration::from_millis(100) >= SHORT_SCA_WINDOW,
        "older history closed {:?} after sign-in began, before the window's five seconds",
        opens_at.elapsed()
    );
    for path in [&older, &older_card] {
        let (status, body) = report(&bank, &consent, path).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
        assert_eq!(code_of(&body), "PERIOD_INVALID");
        let text = body["tppMessages"][0]["text"].as_str().unwrap_or_default();
        assert!(text.contains("SCA window"), "{text}");
    }
    let recent = transactions_path(account, days_ago(89), today());
    assert_eq!(report(&bank, &consent, &recent).await.0, StatusCode::OK);
}

#[tokio::test]
async fn capped_refuses_more_than_31_days_per_request_and_pages_by_25() {
    let bank = start_bank().await;
    let consent = signed_in(&bank, "capped").await;
    let account = &accounts(&bank, &consent).await[0];
    let (status, body) = report(
        &bank,
        &consent,
        &transactions_path(account, days_ago(31), today()),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(code_of(&body), "PERIOD_INVALID");

    let (status, body) = report(
        &bank,
        &consent,
        &transactions_path(account, days_ago(30), today()),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["transactions"]["booked"].as_array().map(Vec::len),
        Some(25)
    );
    let (rows, pages) = booked_rows(&bank, &consent, account, days_ago(30), today()).await;
    assert!(rows.len() > 25, "{} rows in 31 days", rows.len());
    assert_eq!(pages, rows.len().div_ceil(25));
}
