//! The owner view (issue 15): every import of one owner across banks, newest first, with
//! totals per currency exact to the cent, and nothing of another client's.

use std::{
    collections::{BTreeMap, HashSet},
    time::Duration,
};

use reqwest::StatusCode;
use rust_decimal::Decimal;
use serde_json::Value;

use crate::helpers::{TestApp, assert_problem, spawn_app};

async fn owner(app: &TestApp, api_key: &str, owner: &str) -> reqwest::Response {
    app.http
        .get(format!("{}/v1/owners/{owner}", app.address))
        .bearer_auth(api_key)
        .send()
        .await
        .unwrap()
}

/// Signs `owner-1` in as alice at `bank` and imports; returns the finished command.
async fn import_at(app: &TestApp, bank: &str) -> Value {
    let response = app.sandbox_sign_in(&app.api_key, bank, "alice").await;
    assert_eq!(response.status(), StatusCode::CREATED, "sign-in at {bank}");
    let session: Value = response.json().await.unwrap();
    let command_id = app.start_import_with_session(&session).await;
    let command = app
        .wait_for_command(&command_id, Duration::from_secs(30))
        .await;
    assert_eq!(command["state"], "successful", "{command}");
    command
}

/// The balance the view counts for an account, as its documentation says.
fn counted(account: &Value) -> Option<(String, Decimal)> {
    const PREFERENCE: [&str; 6] = [
        "closingBooked",
        "interimBooked",
        "expected",
        "openingBooked",
        "interimAvailable",
        "forwardAvailable",
    ];
    let balances = account["balances"].as_array().unwrap();
    PREFERENCE.iter().find_map(|kind| {
        balances
            .iter()
            .filter(|b| b["type"] == *kind)
            .max_by_key(|b| b["referenceDate"].as_str().map(str::to_string))
            .map(|b| {
                (
                    b["currency"].as_str().unwrap().to_string(),
                    b["amount"].as_str().unwrap().parse().unwrap(),
                )
            })
    })
}

#[tokio::test]
async fn an_owners_imports_at_two_banks_add_up_per_currency_to_the_cent_newest_first() {
    let app = spawn_app().await;
    let first = import_at(&app, "sandbox").await;
    let second = import_at(&app, "sandbox-partner").await;
    let third = import_at(&app, "sandbox").await;

    let response = owner(&app, &app.api_key, "owner-1").await;
    assert_eq!(response.status(), StatusCode::OK);
    let view: Value = response.json().await.unwrap();
    assert_eq!(view["ownerExternalId"], "owner-1");
    let imports = view["imports"].as_array().unwrap();
    let ids: Vec<&Value> = imports.iter().map(|i| &i["commandId"]).collect();
    assert_eq!(
        ids,
        [
            &third["commandId"],
            &second["commandId"],
            &first["commandId"]
        ],
        "newest first"
    );
    assert_eq!(imports[1]["bank"], "sandbox-partner");

    // What the aggregate must say, from the commands' own results, newest first: each account
    // once, by IBAN or else by bank and bank id.
    let mut seen = HashSet::new();
    let mut totals: BTreeMap<String, Decimal> = BTreeMap::new();
    let mut per_bank: BTreeMap<String, u64> = BTreeMap::new();
    for command in [&third, &second, &first] {
        let bank = command["bank"].as_str().unwrap();
        for account in command["result"]["accounts"].as_array().unwrap() {
            let identity = match account["iban"].as_str() {
                Some(iban) => iban.replace(' ', "").to_uppercase(),
                None => format!("{bank}/{}", account["bankAccountId"]),
            };
            if !seen.insert(identity) {
                continue;
            }
            *per_bank.entry(bank.to_string()).or_default() += 1;
            if let Some((currency, amount)) = counted(account) {
                *totals.entry(currency).or_default() += amount;
            }
        }
    }
    let aggregate = &view["aggregate"];
    assert_eq!(aggregate["accounts"], seen.len() as u64, "{aggregate}");
    let shown: BTreeMap<String, Decimal> = aggregate["balances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|total| {
            let text = total["total"].as_str().unwrap();
            let decimals = text.split_once('.').map_or(0, |(_, cents)| cents.len());
            assert!(decimals <= 2, "an exact amount in cents: {text}");
            (
                total["currency"].as_str().unwrap().to_string(),
                text.parse().unwrap(),
            )
        })
        .collect();
    assert!(!totals.is_empty());
    assert_eq!(shown, totals, "{aggregate}");
    let banks: BTreeMap<String, u64> = aggregate["banks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["bank"].as_str().unwrap().to_string(),
                b["accounts"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(banks, per_bank);
    let transactions = &aggregate["transactions"];
    assert!(
        transactions["from"].as_str().unwrap() <= transactions["to"].as_str().unwrap(),
        "{aggregate}"
    );
    assert!(!aggregate["periods"].as_array().unwrap().is_empty());

    // Transactions are not repeated: each account links to its pages.
    let account = &imports[0]["accounts"][0];
    assert!(
        account.get("transactions").unwrap().is_string(),
        "{account}"
    );
    let page = app
        .http
        .get(format!(
            "{}{}",
            app.address,
            account["transactions"].as_str().unwrap()
        ))
        .bearer_auth(&app.api_key)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(imports[0]["accounts"][0]["receipt"]["requested"].is_object());
}

#[tokio::test]
async fn another_clients_owner_and_an_unknown_owner_are_not_found() {
    let app = spawn_app().await;
    import_at(&app, "sandbox").await;
    let (_, other_key) = app.create_client(&[]).await;
    let other = owner(&app, &other_key, "owner-1").await;
    assert_problem(other, StatusCode::NOT_FOUND, "InvalidOwnerExternalId").await;
    let unknown = owner(&app, &app.api_key, "owner-2").await;
    assert_problem(unknown, StatusCode::NOT_FOUND, "InvalidOwnerExternalId").await;
    // The other client's own import of an owner with the same id is its own.
    let session = app.sandbox_session(&other_key, "alice").await;
    let accepted = app
        .post_default_import(&other_key, &crate::helpers::import_body(&session))
        .await;
    assert_eq!(accepted.status(), StatusCode::ACCEPTED);
    let theirs: Value = owner(&app, &other_key, "owner-1")
        .await
        .json()
        .await
        .unwrap();
    let ours: Value = owner(&app, &app.api_key, "owner-1")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(theirs["imports"].as_array().unwrap().len(), 1);
    assert_eq!(ours["imports"].as_array().unwrap().len(), 1);
    assert_ne!(
        theirs["imports"][0]["commandId"],
        ours["imports"][0]["commandId"]
    );
}
