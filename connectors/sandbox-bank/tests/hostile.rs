//! The hostile personas over real HTTP: each transactions report is hostile in exactly the
//! way the README says, and accounts and consents behave.

mod common;

use std::collections::HashSet;

use aisle_sandbox_bank::{FaultRate, SandboxOptions};
use reqwest::StatusCode;
use rust_decimal::Decimal;
use serde_json::Value;

use common::{
    accounts, amount, balance_after, client, data_call, days_ago, signed_in, start_bank,
    start_bank_with, today, transactions_path,
};

/// Signs `login` in and returns the consent and the path of its account's last 30 days.
async fn report_path(bank: &str, login: &str) -> (String, String) {
    let consent = signed_in(bank, login).await;
    let accounts = accounts(bank, &consent).await;
    assert_eq!(accounts.len(), 1, "{login}: one account, listed as usual");
    let path = transactions_path(&accounts[0], days_ago(30), today());
    (consent, path)
}

async fn page(bank: &str, consent: &str, path: &str) -> Value {
    let response = data_call(bank, consent, path).await;
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    response.json().await.expect("a JSON report")
}

fn next_of(report: &Value) -> Option<String> {
    report["transactions"]["_links"]["next"]["href"]
        .as_str()
        .map(str::to_owned)
}

fn booked(report: &Value) -> Vec<Value> {
    report["transactions"]["booked"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test]
async fn overflow_books_rows_whose_previous_balance_plus_amount_overflows_a_decimal() {
    let bank = start_bank().await;
    let (consent, path) = report_path(&bank, "overflow").await;
    let rows = booked(&page(&bank, &consent, &path).await);
    assert_eq!(rows.len(), 2);
    for row in &rows {
        assert_eq!(amount(&row["transactionAmount"]), Decimal::MAX);
        assert_eq!(balance_after(row), Some(Decimal::MAX));
        // A credit, as its debtor says: an importer keeps its sign.
        assert_eq!(row["debtorName"], "Hostile Counterparty", "{row}");
        assert!(row.get("creditorName").is_none(), "{row}");
    }
    let before = balance_after(&rows[0]).expect("a balance");
    assert_eq!(
        before.checked_add(amount(&rows[1]["transactionAmount"])),
        None
    );
}

#[tokio::test]
async fn endless_pages_always_link_to_a_new_page_with_new_rows() {
    let bank = start_bank().await;
    let (consent, mut path) = report_path(&bank, "endless-pages").await;
    let mut hrefs = HashSet::new();
    let mut ids = HashSet::new();
    for _ in 0..50 {
        let report = page(&bank, &consent, &path).await;
        for row in booked(&report) {
            assert!(ids.insert(row["transactionId"].to_string()), "{row}");
        }
        path = next_of(&report).expect("another page, always");
        assert!(hrefs.insert(path.clone()), "{path} seen before");
    }
}

#[tokio::test]
async fn link_cycle_page_two_links_back_to_the_first_page_as_it_was_asked_for() {
    let bank = start_bank().await;
    let (consent, first) = report_path(&bank, "link-cycle").await;
    let a = page(&bank, &consent, &first).await;
    let second = next_of(&a).expect("page 1 links on");
    assert_ne!(second, first);
    let b = page(&bank, &consent, &second).await;
    assert_eq!(next_of(&b), Some(first.clone()), "page 2 links back");
    let again = page(&bank, &consent, &first).await;
    assert_eq!(again, a, "page 1 is the same page each time");
}

#[tokio::test]
async fn huge_body_streams_a_valid_report_of_at_least_64_mib() {
    let bank = start_bank().await;
    let (consent, path) = report_path(&bank, "huge-body").await;
    let mut response = data_call(&bank, &consent, &path).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers().get("content-length"),
        None,
        "streamed, its length unknown in advance"
    );
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.expect("a chunk") {
        body.extend_from_slice(&chunk);
    }
    assert!(body.len() >= 64 * 1024 * 1024, "{} bytes", body.len());
    assert!(body.len() < 65 * 1024 * 1024, "{} bytes", body.len());
    // Read as a TPP's parser would, without building a tree of 200,000 rows.
    #[derive(serde::Deserialize)]
    struct Report {
        transactions: Rows,
    }
    #[derive(serde::Deserialize)]
    struct Rows {
        booked: Vec<serde::de::IgnoredAny>,
    }
    let report: Report = serde_json::from_slice(&body).expect("valid JSON");
    assert!(report.transactions.booked.len() > 100_000);
}

#[tokio::test]
async fn nul_bytes_hide_a_nul_in_every_remittance_and_counterparty_name() {
    let bank = start_bank().await;
    let (consent, path) = report_path(&bank, "nul-bytes").await;
    let rows = booked(&page(&bank, &consent, &path).await);
    assert!(!rows.is_empty());
    for row in &rows {
        let name = row["creditorName"]
            .as_str()
            .or_else(|| row["debtorName"].as_str())
            .expect("a counterparty");
        let remittance = row["remittanceInformationUnstructured"]
            .as_str()
            .expect("remittance");
        assert!(name.contains('\0') && remittance.contains('\0'), "{row}");
    }
}

#[tokio::test]
async fn redirect_away_sends_the_tpp_to_another_host_which_counts_consent_ids_that_arrive() {
    let bank = start_bank().await;
    let port = bank.rsplit(':').next().expect("a port").to_owned();
    let (consent, path) = report_path(&bank, "redirect-away").await;
    let response = data_call(&bank, &consent, &path).await;
    assert_eq!(response.status(), StatusCode::FOUND);
    let location = response.headers()["location"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert_eq!(location, format!("http://localhost:{port}/leak{path}"));
    let leaks = || async {
        let body: Value = client()
            .get(format!("{bank}/sandbox/leaks"))
            .send()
            .await
            .expect("leaks")
            .json()
            .await
            .expect("json");
        body["consentIdLeaks"].as_u64().expect("a count")
    };
    assert_eq!(leaks().await, 0);
    // Followed without the consent: nothing leaked.
    let bare = client().get(&location).send().await.expect("leak host");
    assert_eq!(bare.status(), StatusCode::OK);
    assert_eq!(leaks().await, 0);
    // Followed as reqwest does by default, carrying every header but Authorization.
    let carried = client()
        .get(&location)
        .header("Consent-ID", &consent)
        .send()
        .await
        .expect("leak host");
    assert_eq!(carried.status(), StatusCode::OK);
    assert_eq!(leaks().await, 1);
}

#[tokio::test]
async fn hostile_personas_are_never_struck_by_the_fault_dial() {
    let bank = start_bank_with(SandboxOptions {
        fault_rate: FaultRate::new(1.0).expect("a valid rate"),
        ..SandboxOptions::default()
    })
    .await;
    let (consent, path) = report_path(&bank, "overflow").await;
    for _ in 0..10 {
        assert_eq!(booked(&page(&bank, &consent, &path).await).len(), 2);
    }
    let deleted = common::delete_consent(&bank, &consent).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
}
