//! Each persona over real HTTP: its faults, its data's shape and its balances.

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use aisle_sandbox_bank::{HOSTILE_PERSONAS, PERSONAS};
use reqwest::StatusCode;
use serde_json::Value;

use common::{
    accounts, assert_refused, balance_breaks, booked_rows, closing_booked, code_of, consent_status,
    data_call, days_ago, received_consent, signed_in, start_bank, today, transactions_path,
};

/// A data call's status, message code and `Retry-After`.
type Answer = (StatusCode, String, Option<String>);

#[tokio::test]
async fn flaky_fails_two_of_eight_calls_first_with_503_then_with_429_and_retry_after() {
    let bank = start_bank().await;
    let consent = signed_in(&bank, "flaky").await;
    let mut answers = Vec::new();
    for _ in 0..8 {
        let response = data_call(&bank, &consent, "/v1/accounts").await;
        let status = response.status();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body: Value = response.json().await.expect("json");
        answers.push((status, code_of(&body).to_owned(), retry_after));
        // The consent's own endpoints are never faulted and do not count as data calls.
        assert_eq!(consent_status(&bank, &consent).await, "valid");
    }
    let faults: Vec<(usize, &Answer)> = answers
        .iter()
        .enumerate()
        .filter(|(_, (status, _, _))| !status.is_success())
        .collect();
    assert_eq!(faults.len(), 2, "{answers:?}");
    let (first, (status, code, _)) = faults[0];
    assert_eq!(
        (*status, code.as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE")
    );
    let (second, (status, code, retry_after)) = faults[1];
    assert_eq!(
        (*status, code.as_str(), retry_after.as_deref()),
        (StatusCode::TOO_MANY_REQUESTS, "ACCESS_EXCEEDED", Some("1"))
    );
    // The call after each fault succeeds.
    for fault in [first, second] {
        assert!(answers[fault + 1].0.is_success(), "{answers:?}");
    }
}

#[tokio::test]
async fn expiring_answers_consent_expired_after_six_successful_data_calls() {
    let bank = start_bank().await;
    let consent = signed_in(&bank, "expiring").await;
    for call in 1..=6 {
        let response = data_call(&bank, &consent, "/v1/accounts").await;
        assert_eq!(response.status(), StatusCode::OK, "call {call}");
        if call == 3 {
            // A failed call does not use up the consent.
            let missing = data_call(&bank, &consent, "/v1/accounts/no-such-account").await;
            assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        }
    }
    assert_eq!(consent_status(&bank, &consent).await, "expired");
    for path in ["/v1/accounts", "/v1/card-accounts"] {
        let refused = data_call(&bank, &consent, path).await;
        assert_refused(refused, StatusCode::UNAUTHORIZED, "CONSENT_EXPIRED").await;
    }
}

#[tokio::test]
async fn garbage_answers_its_transactions_with_a_200_whose_json_does_not_parse() {
    let bank = start_bank().await;
    let consent = signed_in(&bank, "garbage").await;
    let accounts = accounts(&bank, &consent).await;
    assert_eq!(accounts.len(), 1, "the account list is normal");
    let path = transactions_path(&accounts[0], days_ago(10), today());
    let response = data_call(&bank, &consent, &path).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.text().await.expect("body");
    assert!(body.starts_with("{\""), "{body}");
    assert!(serde_json::from_str::<Value>(&body).is_err(), "{body}");
}

#[tokio::test]
async fn slow_takes_at_least_half_a_second_per_call() {
    let bank = start_bank().await;
    let started = Instant::now();
    let consent = signed_in(&bank, "slow").await;
    assert!(
        started.elapsed() >= Duration::from_millis(1000),
        "consent and SCA page"
    );
    let started = Instant::now();
    accounts(&bank, &consent).await;
    assert!(started.elapsed() >= Duration::from_millis(500));
}

#[tokio::test]
async fn balances_add_up_across_pages_and_windows_for_every_persona_but_broken_balance() {
    let bank = start_bank().await;
    // locked cannot sign in, garbage's reports do not parse and the hostile ones are hostile,
    // by design; the ledger's own unit test checks their balances. mixed quotes booked amounts
    // unsigned (the connector's sandbox_sca test checks its books once signed) and
    // report-download serves no rows.
    const LEFT_OUT: &[&str] = &[
        "broken-balance",
        "locked",
        "garbage",
        "mixed",
        "report-download",
    ];
    let readable = PERSONAS
        .iter()
        .filter(|l| !LEFT_OUT.contains(*l) && !HOSTILE_PERSONAS.contains(*l));
    for login in readable {
        let consent = signed_in(&bank, login).await;
        for account in accounts(&bank, &consent).await {
            // Three windows of 30 days, which capped accepts too, read as one sequence.
            let mut rows = Vec::new();
            for back in [89, 59, 29] {
                let (window, _) = booked_rows(
                    &bank,
                    &consent,
                    &account,
                    days_ago(back),
                    days_ago(back - 29),
                )
                .await;
                rows.extend(window);
            }
            assert!(!rows.is_empty(), "{login}");
            assert_eq!(balance_breaks(&rows), Vec::<String>::new(), "{login}");
            let newest = rows.last().and_then(common::balance_after);
            assert_eq!(newest, Some(closing_booked(&account)), "{login}");
        }
    }
}

#[tokio::test]
async fn broken_balance_breaks_exactly_at_its_named_row() {
    let bank = start_bank().await;
    let consent = signed_in(&bank, "broken-balance").await;
    let account = &accounts(&bank, &consent).await[0];
    let (rows, _) = booked_rows(&bank, &consent, account, days_ago(59), today()).await;
    assert_eq!(balance_breaks(&rows), ["broken-balance-row"]);
    let broken = rows
        .iter()
        .position(|r| r["transactionId"] == "broken-balance-row")
        .expect("the broken row");
    let before = common::balance_after(&rows[broken - 1]).expect("balance");
    let row = &rows[broken];
    let expected = before + common::amount(&row["transactionAmount"]);
    let off = common::balance_after(row).expect("balance") - expected;
    assert_eq!(off.abs().to_string(), "1.00");
    assert_eq!(
        rows.last().and_then(common::balance_after),
        Some(closing_booked(account))
    );
}

// Two worker threads so the bank serves the windows side by side: 1,100 pages take a while
// in a debug build.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn big_yields_over_a_hundred_thousand_booked_rows_over_its_two_years() {
    let bank = start_bank().await;
    let consent = signed_in(&bank, "big").await;
    let account = accounts(&bank, &consent).await.remove(0);
    let mut windows = tokio::task::JoinSet::new();
    for quarter in 0..8u64 {
        let (bank, consent, account) = (bank.clone(), consent.clone(), account.clone());
        let back = 730 - quarter * 92;
        let (from, to) = (days_ago(back), days_ago(back.saturating_sub(91)));
        windows.spawn(async move { booked_rows(&bank, &consent, &account, from, to).await });
    }
    let mut rows = Vec::new();
    while let Some(window) = windows.join_next().await {
        let (window, pages) = window.expect("a window's task");
        assert_eq!(pages, window.len().div_ceil(100).max(1));
        rows.extend(window);
    }
    assert!(rows.len() >= 100_000, "{} rows", rows.len());
    let ids: HashSet<&str> = rows
        .iter()
        .filter_map(|r| r["transactionId"].as_str())
        .collect();
    assert_eq!(
        ids.len(),
        rows.len(),
        "ids are unique across pages and windows"
    );
}

/// The fields that make two rows the same payment, whatever the bank numbers them.
fn payment(row: &Value) -> String {
    [
        "bookingDate",
        "valueDate",
        "transactionAmount",
        "creditorName",
        "debtorName",
        "remittanceInformationUnstructured",
    ]
    .iter()
    .map(|field| row[*field].to_string())
    .collect::<Vec<_>>()
    .join("|")
}

#[tokio::test]
async fn twins_rows_carry_no_ids_and_a_week_ago_two_of_them_are_identical() {
    let bank = start_bank().await;
    let consent = signed_in(&bank, "twins").await;
    let account = &accounts(&bank, &consent).await[0];
    let both = format!(
        "{}&page=1",
        transactions_path(account, days_ago(89), today()).replace("booked", "both")
    );
    let report: Value = data_call(&bank, &consent, &both)
        .await
        .json()
        .await
        .expect("json");
    for kind in ["booked", "pending"] {
        let rows = report["transactions"][kind].as_array().expect("rows");
        assert!(
            rows.iter().all(|r| r.get("transactionId").is_none()),
            "{kind}"
        );
    }
    for back in [7, 120] {
        let day = days_ago(back);
        let (rows, _) = booked_rows(&bank, &consent, account, day, day).await;
        let payments: Vec<String> = rows.iter().map(payment).collect();
        let distinct: HashSet<&String> = payments.iter().collect();
        assert!(
            distinct.len() < payments.len(),
            "no twins on {day}: {payments:?}"
        );
    }
}

#[tokio::test]
async fn a_consent_without_psu_id_reads_nothing_until_approved() {
    let bank = start_bank().await;
    let (id, _) = received_consent(&bank, None).await;
    let early = data_call(&bank, &id, "/v1/accounts").await;
    assert_eq!(early.status(), StatusCode::UNAUTHORIZED);
}
