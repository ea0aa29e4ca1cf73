//! No client reaches another's data (issue 12). Generated from `/openapi.json`: every operation
//! whose path takes an id is called as client B on client A's objects, and must answer 404,
//! never 403 (which would confirm the object exists) and never data. A new endpoint is covered
//! as soon as it is documented; one taking an id this suite cannot make fails the suite until
//! it is taught how, in `object_for`.

use std::{collections::BTreeMap, time::Duration};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

const BACK: &str = "http://127.0.0.1:9/back";

/// Client A's objects, by the kind of id a path parameter names.
struct Objects {
    ids: BTreeMap<&'static str, String>,
    /// Values that appear only in A's data: none may reach B.
    data: Vec<String>,
}

/// Makes one of everything as client A (the test app's client): a finished import with its
/// accounts and cards, and a redirection.
async fn client_a_objects(app: &TestApp) -> Objects {
    let command_id = app.start_import("alice").await;
    let command = app
        .wait_for_command(&command_id, Duration::from_secs(30))
        .await;
    assert_eq!(command["state"], "successful", "{command}");
    let result = &command["result"];
    let mut ids = BTreeMap::from([
        ("command", command_id.clone()),
        (
            "owner",
            command["ownerExternalId"].as_str().unwrap().to_string(),
        ),
    ]);
    // The result names an account or card by Aisle's `id` where it shows one, else by the
    // bank's.
    let first_id = |list: &str, bank_key: &str| {
        let first = &result[list][0];
        first["id"]
            .as_str()
            .or_else(|| first[bank_key].as_str())
            .map(str::to_string)
    };
    if let Some(account) = first_id("accounts", "bankAccountId") {
        ids.insert("account", account);
    }
    if let Some(card) = first_id("cards", "bankCardId") {
        ids.insert("card", card);
    }

    let redirection: Value = app.open_redirection(BACK, "owner-1", None).await;
    ids.insert(
        "redirection",
        redirection["redirectionId"].as_str().unwrap().to_string(),
    );

    let webhook: Value = app
        .http
        .post(format!("{}/v1/webhooks", app.address))
        .bearer_auth(&app.api_key)
        .json(&json!({"url": "https://shop.example/aisle-webhooks"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let webhook_id = webhook["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{webhook}"));
    ids.insert("webhook", webhook_id.to_string());
    // The endpoint is A's, and another client is refused on it before any event is looked up.
    ids.insert("event", uuid::Uuid::now_v7().to_string());

    let mut data = vec![command_id];
    data.extend(
        result["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|account| account["iban"].as_str().map(str::to_string)),
    );
    Objects { ids, data }
}

/// The kind of object path parameter `name` of `path` names: by its name (`command_id`,
/// `commandId`), or a bare `id` by the resource it follows.
fn object_for(path: &str, name: &str) -> &'static str {
    let placeholder = format!("{{{name}}}");
    let resource = path
        .split('/')
        .take_while(|segment| *segment != placeholder)
        .last()
        .unwrap_or_default();
    let name = name.replace('_', "").to_ascii_lowercase();
    match (name.as_str(), resource) {
        ("commandid", _) | ("id", "commands") => "command",
        ("accountid", _) | ("id", "accounts") => "account",
        ("cardid", _) | ("id", "cards") => "card",
        ("redirectionid", _) | ("id", "redirections") => "redirection",
        ("ownerexternalid", _) | ("id", "owners") => "owner",
        ("webhookid", _) | ("id", "webhooks") => "webhook",
        ("eventid", _) => "event",
        _ => panic!(
            "{path} takes `{name}`: teach the cross-client suite to make one as client A \
             (object_for and client_a_objects)"
        ),
    }
}

/// The names of `path`'s parameters, in order.
fn parameters(path: &str) -> Vec<&str> {
    path.split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
        .collect()
}

#[tokio::test]
async fn every_documented_operation_that_takes_an_id_answers_another_client_404_and_no_data() {
    let app = spawn_app().await;
    let objects = client_a_objects(&app).await;
    let (_, client_b_key) = app.create_client(&[]).await;
    let document: Value = app
        .http
        .get(format!("{}/openapi.json", app.address))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    let mut checked = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        let names = parameters(path);
        if names.is_empty() {
            continue;
        }
        let mut url = format!("{}{path}", app.address);
        let mut needs = Vec::new();
        for name in &names {
            let kind = object_for(path, name);
            needs.push(kind);
            let Some(id) = objects.ids.get(kind) else {
                continue;
            };
            url = url.replace(&format!("{{{name}}}"), id);
        }
        if url.contains('{') {
            // Client A has no object of this kind (alice holds no card): nothing to reach.
            eprintln!("skipped {path}: client A has no {needs:?}");
            continue;
        }
        for (method, _operation) in item.as_object().unwrap() {
            let Ok(method) = Method::from_bytes(method.to_ascii_uppercase().as_bytes()) else {
                continue;
            };
            if !matches!(
                method,
                Method::GET | Method::POST | Method::PUT | Method::PATCH | Method::DELETE
            ) {
                continue;
            }
            let mut request = app
                .http
                .request(method.clone(), &url)
                .bearer_auth(&client_b_key);
            if matches!(method, Method::POST | Method::PUT | Method::PATCH) {
                request = request.json(&json!({}));
            }
            let response = request.send().await.unwrap();
            let status = response.status();
            let body = response.text().await.unwrap();
            assert_eq!(
                status,
                StatusCode::NOT_FOUND,
                "{method} {path} as another client: {body}"
            );
            for value in &objects.data {
                assert!(
                    !body.contains(value.as_str()) || url.contains(value.as_str()),
                    "{method} {path} as another client shows client A's data: {body}"
                );
            }
            checked.push(format!("{method} {path}"));
        }
    }
    eprintln!(
        "cross-client: {} operations checked: {checked:?}",
        checked.len()
    );
    assert!(
        checked.iter().any(|op| op.contains("/v1/commands/"))
            && checked
                .iter()
                .any(|op| op.contains("/v1/signin/redirections/")),
        "{checked:?}"
    );
    for deletion in [
        "DELETE /v1/commands/{command_id}/data",
        "DELETE /v1/owners/{owner_external_id}/data",
    ] {
        assert!(checked.iter().any(|op| op == deletion), "{checked:?}");
    }
    // Client B's deletions reached nothing: client A's data is all there.
    let command: Value = app
        .get_command(&app.api_key, &objects.ids["command"])
        .await
        .json()
        .await
        .unwrap();
    assert!(
        command["result"]["accounts"][0].is_object() && command["dataDeletedAt"].is_null(),
        "{command}"
    );
}
