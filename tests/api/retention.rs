//! Issue 12, retention and deletion: imported data goes when the client's retention ends or
//! when the client asks, with a receipt signed with Ed25519 that verifies with the published
//! key alone; the command stays and says when its data went. And the client's own settings.

use std::time::Duration;

use aisle::{commands::deletion, deletion_signing::ReceiptSigner, expiry};
use base64::{
    Engine,
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
};
use chrono::{DateTime, Utc};
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use reqwest::{StatusCode, header};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{
    TEST_DELETION_RECEIPT_KEY, TestApp, assert_problem, spawn_app, spawn_app_without_workers,
};

/// Signs in at `bank` as `login` for `owner`, imports, and waits for the import to succeed.
async fn imported(app: &TestApp, bank: &str, login: &str, owner: &str) -> String {
    let response = app
        .http
        .post(format!("{}/v1/sandbox/sessions", app.address))
        .bearer_auth(&app.api_key)
        .json(&json!({"bank": bank, "login": login, "ownerExternalId": owner}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED, "sign-in at {bank}");
    let session: Value = response.json().await.unwrap();
    let command_id = app.start_import_with_session(&session).await;
    let command = app
        .wait_for_command(&command_id, Duration::from_secs(60))
        .await;
    assert_eq!(command["state"], "successful", "{command}");
    command_id
}

/// The rows a command's import stored, by kind, counted in the database.
async fn rows_of(app: &TestApp, command_id: &str) -> Value {
    let mut counts = serde_json::Map::new();
    for (kind, table) in [
        ("owners", "owners"),
        ("accounts", "accounts"),
        ("balances", "balances"),
        ("transactions", "transactions"),
        ("cards", "cards"),
        ("cardTransactions", "card_transactions"),
    ] {
        let count = app
            .count(&format!(
                "select count(*) from {table} where command_id = '{command_id}'"
            ))
            .await;
        counts.insert(kind.into(), json!(count));
    }
    Value::Object(counts)
}

async fn delete(app: &TestApp, api_key: &str, path: &str) -> reqwest::Response {
    app.http
        .delete(format!("{}{path}", app.address))
        .bearer_auth(api_key)
        .send()
        .await
        .unwrap()
}

async fn poll(app: &TestApp, command_id: &str, query: &str) -> (Value, String) {
    let response = app
        .http
        .get(format!("{}/v1/commands/{command_id}{query}", app.address))
        .bearer_auth(&app.api_key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let etag = response.headers()[header::ETAG]
        .to_str()
        .unwrap()
        .to_string();
    (response.json().await.unwrap(), etag)
}

/// Keys sorted, no whitespace: written here independently of the service's own writer, as an
/// auditor would (Python's `json.dumps(sort_keys=True, separators=(",", ":"))`).
fn canonical(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let members: Vec<String> = keys
                .into_iter()
                .map(|key| format!("{}:{}", json!(key), canonical(&map[key])))
                .collect();
            format!("{{{}}}", members.join(","))
        }
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(canonical).collect();
            format!("[{}]", items.join(","))
        }
        scalar => scalar.to_string(),
    }
}

/// Verifies a signed receipt with the keys `GET /v1/deletion-receipts/keys` publishes, asked
/// for without an API key.
async fn assert_verifies(app: &TestApp, signed: &Value) {
    let response = app
        .http
        .get(format!("{}/v1/deletion-receipts/keys", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let keys: Value = response.json().await.unwrap();
    let key = keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|key| key["kid"] == signed["signature"]["keyId"])
        .unwrap_or_else(|| panic!("the receipt's key is published: {keys}"));
    assert_eq!(
        (&key["kty"], &key["crv"]),
        (&json!("OKP"), &json!("Ed25519"))
    );
    let public: [u8; 32] = URL_SAFE_NO_PAD
        .decode(key["x"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let public = VerifyingKey::from_bytes(&public).unwrap();
    assert_eq!(signed["signature"]["algorithm"], "Ed25519");
    let signature = STANDARD
        .decode(signed["signature"]["value"].as_str().unwrap())
        .unwrap();
    let signature = Signature::from_slice(&signature).unwrap();
    let payload = canonical(&signed["receipt"]);
    public
        .verify(payload.as_bytes(), &signature)
        .expect("the receipt verifies with the published key");
    let mut forged = signed["receipt"].clone();
    forged["deleted"]["transactions"] =
        json!(forged["deleted"]["transactions"].as_u64().unwrap() + 1);
    assert!(
        public
            .verify(canonical(&forged).as_bytes(), &signature)
            .is_err(),
        "a changed receipt does not verify"
    );
}

fn signer() -> ReceiptSigner {
    ReceiptSigner::from_hex(TEST_DELETION_RECEIPT_KEY).unwrap()
}

async fn set_retention(app: &TestApp, seconds: i64) {
    let response = app
        .http
        .patch(format!("{}/v1/settings", app.address))
        .bearer_auth(&app.api_key)
        .json(&json!({"retentionSeconds": seconds}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

async fn export_lines(app: &TestApp) -> usize {
    let today = Utc::now().date_naive();
    let response = app
        .http
        .get(format!(
            "{}/v1/exports/transactions?since={today}",
            app.address
        ))
        .bearer_auth(&app.api_key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.text().await.unwrap().lines().count()
}

#[tokio::test]
async fn retention_deletes_an_imports_data_once_its_period_ends_and_a_poll_says_when() {
    let app = spawn_app().await;
    set_retention(&app, 60).await;
    let command_id = imported(&app, "sandbox", "alice", "owner-1").await;
    let (before, etag_before) = poll(&app, &command_id, "").await;
    let (_, summary_etag_before) = poll(&app, &command_id, "?view=summary").await;
    assert!(before["dataDeletedAt"].is_null() && before["result"].is_object());
    let rows = rows_of(&app, &command_id).await;
    assert!(rows["transactions"].as_i64().unwrap() > 0, "{rows}");
    assert!(export_lines(&app).await > 0);
    let finished_at: DateTime<Utc> = before["finishedAt"].as_str().unwrap().parse().unwrap();

    let early = deletion::retention_once(
        &app.pool,
        &signer(),
        finished_at + chrono::Duration::seconds(59),
    )
    .await
    .unwrap();
    assert_eq!(early.commands, 0, "kept for its whole retention");
    assert_eq!(rows_of(&app, &command_id).await, rows);

    let pass = deletion::retention_once(
        &app.pool,
        &signer(),
        finished_at + chrono::Duration::seconds(61),
    )
    .await
    .unwrap();
    assert_eq!(pass.commands, 1);
    assert_eq!(
        pass.deleted.transactions,
        rows["transactions"].as_u64().unwrap()
    );
    assert!(
        rows_of(&app, &command_id)
            .await
            .as_object()
            .unwrap()
            .values()
            .all(|count| count == 0),
        "every imported row is gone"
    );

    let (after, etag_after) = poll(&app, &command_id, "").await;
    assert_eq!(after["state"], "successful", "the command stays");
    assert!(after["result"].is_null(), "{after}");
    assert_eq!(after["dataDeletionReason"], "retention");
    let deleted_at: DateTime<Utc> = after["dataDeletedAt"].as_str().unwrap().parse().unwrap();
    assert!(deleted_at >= finished_at && deleted_at <= Utc::now());
    assert_ne!(etag_after, etag_before, "the ETag changes with the data");
    let (summary, summary_etag_after) = poll(&app, &command_id, "?view=summary").await;
    assert!(summary["result"].is_null() && summary["dataDeletedAt"] == after["dataDeletedAt"]);
    assert_ne!(summary_etag_after, summary_etag_before);
    // A client holding the old tag is not told its copy is current.
    let revalidated = app
        .http
        .get(format!("{}/v1/commands/{command_id}", app.address))
        .bearer_auth(&app.api_key)
        .header(header::IF_NONE_MATCH, &etag_before)
        .send()
        .await
        .unwrap();
    assert_eq!(revalidated.status(), StatusCode::OK);

    let account = before["result"]["accounts"][0]["bankAccountId"]
        .as_str()
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
    assert_problem(page, StatusCode::GONE, "DataDeleted").await;
    assert_eq!(export_lines(&app).await, 0, "the export skips deleted data");

    let again =
        deletion::retention_once(&app.pool, &signer(), Utc::now() + chrono::Duration::days(1))
            .await
            .unwrap();
    assert_eq!(again.commands, 0, "deleted once");
}

#[tokio::test]
async fn deleting_a_commands_data_answers_a_receipt_that_verifies_with_the_published_key() {
    let app = spawn_app().await;
    let command_id = imported(&app, "sandbox", "alice", "owner-1").await;
    let rows = rows_of(&app, &command_id).await;
    let (_, etag_before) = poll(&app, &command_id, "").await;

    let response = delete(
        &app,
        &app.api_key,
        &format!("/v1/commands/{command_id}/data"),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let signed: Value = response.json().await.unwrap();
    let receipt = &signed["receipt"];
    assert_eq!(
        receipt["deleted"], rows,
        "the counts are the rows there were"
    );
    assert_eq!(receipt["reason"], "request");
    assert_eq!(receipt["clientId"], app.client_id.to_string());
    assert_eq!(
        receipt["scope"],
        json!({"kind": "command", "commandId": command_id})
    );
    assert_eq!(receipt["commands"][0]["commandId"], command_id.as_str());
    assert_eq!(receipt["commands"][0]["deleted"], rows);
    assert_verifies(&app, &signed).await;
    let signed_receipt: aisle::model::deletion::SignedDeletionReceipt =
        serde_json::from_value(signed.clone()).unwrap();
    assert!(signer().verifies(&signed_receipt));

    let (after, etag_after) = poll(&app, &command_id, "").await;
    assert_eq!(after["dataDeletedAt"], receipt["deletedAt"]);
    assert_eq!(after["dataDeletionReason"], "request");
    assert!(after["result"].is_null());
    assert_ne!(etag_after, etag_before);

    let response = delete(
        &app,
        &app.api_key,
        &format!("/v1/commands/{command_id}/data"),
    )
    .await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "deleting twice is harmless"
    );
    let twice: Value = response.json().await.unwrap();
    assert!(
        twice["receipt"]["deleted"]
            .as_object()
            .unwrap()
            .values()
            .all(|count| count == 0),
        "{twice}"
    );
    assert_eq!(
        twice["receipt"]["commands"][0]["dataDeletedAt"], receipt["deletedAt"],
        "it says when the data went"
    );
    assert_ne!(twice["receipt"]["receiptId"], receipt["receiptId"]);
    assert_verifies(&app, &twice).await;

    let unknown = delete(
        &app,
        &app.api_key,
        &format!("/v1/commands/{}/data", Uuid::now_v7()),
    )
    .await;
    assert_problem(unknown, StatusCode::NOT_FOUND, "InvalidCommandId").await;
}

#[tokio::test]
async fn deleting_an_owners_data_covers_every_command_at_every_bank_and_no_other_owner() {
    let app = spawn_app().await;
    let at_sandbox = imported(&app, "sandbox", "alice", "owner-1").await;
    let at_partner = imported(&app, "sandbox-partner", "alice", "owner-1").await;
    let other_owner = imported(&app, "sandbox", "alice", "owner-2").await;
    let mut expected = json!({});
    for command in [&at_sandbox, &at_partner] {
        for (kind, count) in rows_of(&app, command).await.as_object().unwrap() {
            let sum = expected[kind].as_i64().unwrap_or(0) + count.as_i64().unwrap();
            expected[kind] = json!(sum);
        }
    }
    let others_rows = rows_of(&app, &other_owner).await;

    let response = delete(&app, &app.api_key, "/v1/owners/owner-1/data").await;
    assert_eq!(response.status(), StatusCode::OK);
    let signed: Value = response.json().await.unwrap();
    let receipt = &signed["receipt"];
    assert_eq!(
        receipt["scope"],
        json!({"kind": "owner", "ownerExternalId": "owner-1"})
    );
    assert_eq!(receipt["deleted"], expected);
    let mut covered: Vec<(String, String)> = receipt["commands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["commandId"].as_str().unwrap().to_string(),
                c["bank"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    covered.sort();
    let mut wanted = vec![
        (at_sandbox.clone(), "sandbox".to_string()),
        (at_partner.clone(), "sandbox-partner".to_string()),
    ];
    wanted.sort();
    assert_eq!(covered, wanted);
    assert_verifies(&app, &signed).await;
    for command in [&at_sandbox, &at_partner] {
        let (after, _) = poll(&app, command, "").await;
        assert_eq!(after["dataDeletedAt"], receipt["deletedAt"], "{after}");
    }
    assert_eq!(
        rows_of(&app, &other_owner).await,
        others_rows,
        "another owner's data stays"
    );

    let unknown = delete(&app, &app.api_key, "/v1/owners/nobody/data").await;
    assert_problem(unknown, StatusCode::NOT_FOUND, "InvalidOwnerExternalId").await;
    let blank = delete(&app, &app.api_key, "/v1/owners/%20/data").await;
    assert_problem(blank, StatusCode::BAD_REQUEST, "InvalidParameter").await;
}

#[tokio::test]
async fn an_import_in_progress_keeps_its_data_until_it_ends() {
    let app = spawn_app_without_workers().await;
    let command_id = app.start_import("alice").await;
    let response = delete(
        &app,
        &app.api_key,
        &format!("/v1/commands/{command_id}/data"),
    )
    .await;
    assert_problem(response, StatusCode::CONFLICT, "CommandInProgress").await;
    let response = delete(&app, &app.api_key, "/v1/owners/owner-1/data").await;
    assert_problem(response, StatusCode::CONFLICT, "CommandInProgress").await;
    let command: Value = app
        .get_command(&app.api_key, &command_id)
        .await
        .json()
        .await
        .unwrap();
    assert!(command["dataDeletedAt"].is_null());
}

#[tokio::test]
async fn deletions_record_a_data_deleted_webhook_event_with_the_signed_receipt() {
    let app = spawn_app().await;
    set_retention(&app, 60).await;
    let response = app
        .http
        .post(format!("{}/v1/webhooks", app.address))
        .bearer_auth(&app.api_key)
        .json(&json!({"url": "https://shop.example/aisle-webhooks", "events": ["data.deleted"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let asked = imported(&app, "sandbox", "alice", "owner-1").await;
    let expiring = imported(&app, "sandbox", "alice", "owner-2").await;

    let response = delete(&app, &app.api_key, &format!("/v1/commands/{asked}/data")).await;
    let signed: Value = response.json().await.unwrap();
    delete(&app, &app.api_key, &format!("/v1/commands/{asked}/data")).await;
    let pass = deletion::retention_once(
        &app.pool,
        &signer(),
        Utc::now() + chrono::Duration::minutes(2),
    )
    .await
    .unwrap();
    assert_eq!(
        pass.commands, 1,
        "only the command whose data was still there"
    );

    let events: Vec<(String, Value)> =
        sqlx::query_as("select type, payload from webhook_events where client_id = $1 order by id")
            .bind(app.client_id)
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        events.len(),
        2,
        "one per deletion that deleted something: {events:?}"
    );
    assert!(events.iter().all(|(kind, _)| kind == "data.deleted"));
    let on_request = &events[0].1["data"];
    assert_eq!(on_request["deletionReceipt"], signed);
    assert_eq!(on_request["reason"], "request");
    assert_eq!(on_request["commandIds"], json!([asked]));
    let on_retention = &events[1].1["data"];
    assert_eq!(on_retention["reason"], "retention");
    assert_eq!(on_retention["commandIds"], json!([expiring]));
    assert_verifies(&app, &on_retention["deletionReceipt"]).await;
}

#[tokio::test]
async fn a_client_reads_and_changes_its_retention_and_auto_import_settings() {
    let app = spawn_app_without_workers().await;
    let settings = |method: reqwest::Method, body: Option<Value>| {
        let mut request = app
            .http
            .request(method, format!("{}/v1/settings", app.address))
            .bearer_auth(&app.api_key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send()
    };
    let response = settings(reqwest::Method::GET, None).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let current: Value = response.json().await.unwrap();
    assert_eq!(
        current,
        json!({"retentionSeconds": 86400, "autoImport": null})
    );

    let response = settings(
        reqwest::Method::PATCH,
        Some(json!({"retentionSeconds": 3600, "autoImport": {"months": 12}})),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let changed: Value = response.json().await.unwrap();
    assert_eq!(
        changed,
        json!({"retentionSeconds": 3600, "autoImport": {"months": 12}})
    );
    let stored: (i32, Option<i16>) =
        sqlx::query_as("select retention_seconds, auto_import_months from clients where id = $1")
            .bind(app.client_id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(stored, (3600, Some(12)));

    let response = settings(reqwest::Method::PATCH, Some(json!({"autoImport": null})))
        .await
        .unwrap();
    let changed: Value = response.json().await.unwrap();
    assert_eq!(
        changed,
        json!({"retentionSeconds": 3600, "autoImport": null}),
        "a field left out stays; null turns auto import off"
    );

    for refused in [
        json!({"retentionSeconds": 59}),
        json!({"retentionSeconds": 31_622_401}),
        json!({"retentionSeconds": -1}),
        json!({"retentionSeconds": "PT1H"}),
        json!({"retentionSeconds": null}),
        json!({"retentionSeconds": 60.5}),
        json!({"autoImport": {"months": 0}}),
        json!({"autoImport": {"months": 121}}),
        json!({"autoImport": {}}),
        json!({"autoImport": 3}),
        json!({"retention": 60}),
    ] {
        let response = settings(reqwest::Method::PATCH, Some(refused.clone()))
            .await
            .unwrap();
        assert_problem(response, StatusCode::BAD_REQUEST, "InvalidParameter").await;
    }
    let unchanged: Value = settings(reqwest::Method::GET, None)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        unchanged,
        json!({"retentionSeconds": 3600, "autoImport": null})
    );

    let anonymous = app
        .http
        .get(format!("{}/v1/settings", app.address))
        .send()
        .await
        .unwrap();
    assert_problem(anonymous, StatusCode::UNAUTHORIZED, "Unauthorized").await;
}

#[tokio::test]
async fn a_sign_in_a_dead_process_left_answering_still_loses_its_pending_secrets_and_goes() {
    let app = spawn_app_without_workers().await;
    let back = "http://127.0.0.1:9/back";
    let created: Value = app.open_redirection(back, "owner-9", None).await;
    let id = created["redirectionId"].as_str().unwrap();
    let picked = app
        .http
        .post(format!("{}/signin/api/{id}/bank", app.address))
        .json(&json!({"bank": "sandbox"}))
        .send()
        .await
        .unwrap();
    assert_eq!(picked.status(), StatusCode::OK);
    let pending = "select count(*) from signins where pending_sealed is not null";
    assert_eq!(app.count(pending).await, 1);
    // The process answering the owner's step died with the flag set, and the sign-in expired.
    sqlx::query("update signins set answering = true, expires_at = now() - interval '1 minute'")
        .execute(&app.pool)
        .await
        .unwrap();
    let finisher = app.import_context().finisher();
    let swept = expiry::sweep_once(&finisher, Duration::from_secs(5 * 60))
        .await
        .unwrap();
    assert_eq!(swept.signins_erased, 0, "an answer may still be running");
    assert_eq!(app.count(pending).await, 1);

    sqlx::query("update signins set expires_at = now() - interval '6 minutes'")
        .execute(&app.pool)
        .await
        .unwrap();
    let swept = expiry::sweep_once(&finisher, Duration::from_secs(5 * 60))
        .await
        .unwrap();
    assert_eq!(swept.signins_erased, 1, "no answer runs that long");
    assert_eq!(app.count(pending).await, 0);

    sqlx::query("update signins set expires_at = now() - make_interval(secs => $1)")
        .bind((expiry::INERT_ROWS_KEPT + Duration::from_secs(60)).as_secs_f64())
        .execute(&app.pool)
        .await
        .unwrap();
    expiry::sweep_once(&finisher, Duration::from_secs(5 * 60))
        .await
        .unwrap();
    assert_eq!(app.count("select count(*) from signins").await, 0);
}

#[tokio::test]
async fn an_operator_sets_a_clients_retention_from_the_command_line() {
    let app = spawn_app_without_workers().await;
    let database_url = app
        .service()
        .config
        .database_url
        .as_ref()
        .unwrap()
        .expose()
        .to_string();
    let set_retention = |seconds: &str| {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_aisle"))
            .args(["client", "set-retention", "--client"])
            .arg(app.client_id.to_string())
            .args(["--seconds", seconds])
            .env_clear()
            .env("AISLE_DATABASE_URL", &database_url)
            .env("AISLE_STATE_DIR", env!("CARGO_TARGET_TMPDIR"))
            .output()
    };
    let output = set_retention("120").await.unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let refused = set_retention("59").await.unwrap();
    assert!(!refused.status.success(), "a minute at least");

    let settings: Value = app
        .http
        .get(format!("{}/v1/settings", app.address))
        .bearer_auth(&app.api_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(settings["retentionSeconds"], 120);
}

#[tokio::test]
async fn a_result_whose_data_is_deleted_while_it_streams_is_cut_not_sent_short() {
    let app = spawn_app().await;
    let command_id = crate::results::import_with_many_rows(&app, 60_000).await;
    let mut response = app.get_command(&app.api_key, &command_id).await;
    assert_eq!(response.status(), StatusCode::OK);
    let etag = response.headers()[header::ETAG].clone();
    let mut received = response
        .chunk()
        .await
        .unwrap()
        .expect("a first chunk")
        .to_vec();
    // The writer waits for this reader, so it is mid-way through the rows.
    let deleted = delete(
        &app,
        &app.api_key,
        &format!("/v1/commands/{command_id}/data"),
    )
    .await;
    assert_eq!(deleted.status(), StatusCode::OK);
    let ended = loop {
        match response.chunk().await {
            Ok(Some(chunk)) => received.extend_from_slice(&chunk),
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        }
    };
    assert!(
        ended.is_err(),
        "a result short of its deleted rows never ends as if whole, under {etag:?}"
    );
    assert!(serde_json::from_slice::<Value>(&received).is_err());
}
