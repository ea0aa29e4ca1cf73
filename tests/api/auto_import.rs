//! Auto import (issue 15): with the client's setting on, a sign-in starts its Default Import
//! itself, in the transaction that issues the session, and the pages and the redirection's
//! status hand over the command's id. Driven over HTTP; the browser's `onSuccess` is checked in
//! `widget.rs`.

use std::time::Duration;

use aisle::{model::input::AutoImportMonths, store::clients};
use chrono::{Months, NaiveDate, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{
    helpers::{TestApp, binding_cookie, spawn_app, spawn_app_without_workers},
    signin::{
        BACK, answer_sca_page, approve_at_the_bank, browser, create_redirection, frame_api,
        location, redirection_status,
    },
};

const ORIGIN: &str = "http://127.0.0.1:7000";
const STATE: &str = "0123456789abcdef0123456789abcdef";

async fn set_auto_import(app: &TestApp, months: Option<i64>) {
    let months = months.map(|m| AutoImportMonths::new(m).unwrap());
    assert!(
        clients::set_auto_import(&app.pool, app.client_id, months)
            .await
            .unwrap()
    );
}

/// Opens the widget's sign-in as its frame does (a POST from Aisle's own page, with the
/// embed's options as `/widget.js` passes them); returns the sign-in's id.
async fn open_widget(app: &TestApp, auto_import: Option<&str>) -> String {
    app.register(app.client_id, &[ORIGIN], &[]).await;
    let mut params = json!({
        "client": app.client_id.to_string(),
        "origin": ORIGIN,
        "state": STATE,
        "ownerExternalId": "owner-15",
    });
    if let Some(auto_import) = auto_import {
        params["autoImport"] = json!(auto_import);
    }
    let opened = app
        .http
        .post(format!("{}/signin/widget", app.address))
        .header("origin", &app.address)
        .header("sec-fetch-site", "same-origin")
        .json(&params)
        .send()
        .await
        .unwrap();
    assert_eq!(opened.status(), StatusCode::CREATED);
    opened.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Signs in as alice at the Berlin Group sandbox through widget sign-in `id`, as the frame and
/// its bank window do: the window's return page holds the one-time code, which the frame
/// exchanges for the session. Returns that answer.
async fn sign_in_as_alice(app: &TestApp, id: &str) -> Value {
    frame_api(app, id, "bank", json!({"bank": "sandbox"})).await;
    let go = browser()
        .get(format!("{}/signin/s/{id}/go", app.address))
        .send()
        .await
        .unwrap();
    let cookie = binding_cookie(&go).expect("the bank window is bound");
    let callback =
        answer_sca_page(&location(&go), "alice", aisle_sandbox_bank::TEST_PASSWORD).await;
    let returned = browser()
        .get(&callback)
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    let page = returned.text().await.unwrap();
    let code = page
        .split("data-completion=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the return page holds the completion code");
    let view = frame_api(app, id, "complete", json!({"code": code})).await;
    assert_eq!(view["status"], "succeeded", "{view}");
    view
}

/// `today` minus `months`, for today as it was before and after the import started (a test
/// may straddle midnight UTC).
fn months_ago(months: u32, before: NaiveDate) -> [NaiveDate; 2] {
    let after = Utc::now().date_naive();
    [before, after].map(|day| day.checked_sub_months(Months::new(months)).unwrap())
}

fn since_of(command: &Value) -> NaiveDate {
    command["since"].as_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn with_auto_import_on_a_widget_sign_in_imports_with_no_request_from_the_client() {
    let app = spawn_app().await;
    set_auto_import(&app, Some(12)).await;
    let today = Utc::now().date_naive();
    let id = open_widget(&app, None).await;
    let view = sign_in_as_alice(&app, &id).await;

    let command_id = view["session"]["commandId"]
        .as_str()
        .unwrap_or_else(|| panic!("the frame hands the page the command id: {view}"))
        .to_string();
    let command = app
        .wait_for_command(&command_id, Duration::from_secs(30))
        .await;
    assert_eq!(command["state"], "successful", "{command}");
    assert_eq!(command["ownerExternalId"], "owner-15");
    assert!(
        months_ago(12, today).contains(&since_of(&command)),
        "{command}"
    );
    assert!(
        !command["result"]["accounts"].as_array().unwrap().is_empty(),
        "{command}"
    );
}

#[tokio::test]
async fn an_embeds_months_replace_the_client_settings_months() {
    let app = spawn_app_without_workers().await;
    set_auto_import(&app, Some(12)).await;
    let today = Utc::now().date_naive();
    let id = open_widget(&app, Some("3")).await;
    let view = sign_in_as_alice(&app, &id).await;
    let command_id = view["session"]["commandId"].as_str().unwrap();
    let command: Value = app
        .get_command(&app.api_key, command_id)
        .await
        .json()
        .await
        .unwrap();
    assert!(
        months_ago(3, today).contains(&since_of(&command)),
        "{command}"
    );
}

#[tokio::test]
async fn an_embed_turns_auto_import_off_but_cannot_turn_it_on() {
    let app = spawn_app_without_workers().await;
    set_auto_import(&app, Some(12)).await;
    let off = open_widget(&app, Some("off")).await;
    let view = sign_in_as_alice(&app, &off).await;
    assert_eq!(view["session"]["commandId"], Value::Null, "{view}");

    set_auto_import(&app, None).await;
    let asked = open_widget(&app, Some("6")).await;
    let view = sign_in_as_alice(&app, &asked).await;
    assert_eq!(view["session"]["commandId"], Value::Null, "{view}");
    assert_eq!(app.count("select count(*) from commands").await, 0);
    assert_eq!(app.count("select count(*) from sessions").await, 2);

    let refused = browser()
        .get(format!("{}/signin/widget", app.address))
        .query(&[
            ("client", app.client_id.to_string().as_str()),
            ("origin", ORIGIN),
            ("state", STATE),
            ("ownerExternalId", "owner-15"),
            ("autoImport", "121"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_redirection_may_turn_auto_import_on_and_its_status_carries_the_command_id() {
    let app = spawn_app().await;
    app.register(app.client_id, &[], &[BACK]).await;
    let today = Utc::now().date_naive();
    let created = create_redirection(
        &app,
        json!({"redirectUri": BACK, "ownerExternalId": "owner-15", "autoImport": {"months": 6}}),
    )
    .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let id = created.json::<Value>().await.unwrap()["redirectionId"]
        .as_str()
        .unwrap()
        .to_string();
    let (callback, cookie) =
        approve_at_the_bank(&app, &id, "alice", aisle_sandbox_bank::TEST_PASSWORD).await;
    browser()
        .get(&callback)
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();

    let status = redirection_status(&app, &id).await;
    assert_eq!(status["status"], "succeeded", "{status}");
    let command_id = status["commandId"]
        .as_str()
        .unwrap_or_else(|| panic!("{status}"));
    let command = app
        .wait_for_command(command_id, Duration::from_secs(30))
        .await;
    assert_eq!(command["state"], "successful", "{command}");
    assert!(
        months_ago(6, today).contains(&since_of(&command)),
        "{command}"
    );

    for wrong in [json!({"months": 0}), json!({"months": 121}), json!("yes")] {
        let refused = create_redirection(
            &app,
            json!({"redirectUri": BACK, "ownerExternalId": "o", "autoImport": wrong}),
        )
        .await;
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST, "{wrong}");
    }
}

#[tokio::test]
async fn a_client_that_also_posts_default_import_gets_the_auto_imports_command() {
    let app = spawn_app_without_workers().await;
    set_auto_import(&app, Some(12)).await;
    let session = app.sandbox_session(&app.api_key, "alice").await;
    let auto = session["commandId"]
        .as_str()
        .unwrap_or_else(|| panic!("the headless sign-in started the import: {session}"))
        .to_string();
    let body = json!({
        "sessionId": session["sessionId"],
        "sessionIdSignature": session["sessionIdSignature"],
        "since": "2020-01-01",
    });
    for idempotency_key in [None, Some("order-15"), Some("order-15")] {
        let mut request = app
            .http
            .post(format!("{}/v1/commands/default-import", app.address))
            .bearer_auth(&app.api_key)
            .json(&body);
        if let Some(key) = idempotency_key {
            request = request.header("idempotency-key", key);
        }
        let answer = request.send().await.unwrap();
        assert_eq!(answer.status(), StatusCode::ACCEPTED);
        let accepted: Value = answer.json().await.unwrap();
        assert_eq!(accepted["commandId"], auto.as_str(), "{accepted}");
        assert_eq!(accepted["state"], "in_progress");
    }
    assert_eq!(app.count("select count(*) from commands").await, 1);

    // The signature still has to match: the replay is the session's, not anyone's.
    let forged = app
        .post_default_import(
            &app.api_key,
            &json!({"sessionId": session["sessionId"], "sessionIdSignature": "00"}),
        )
        .await;
    assert_eq!(forged.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_command_and_its_job_exist_as_soon_as_the_session_does() {
    let app = spawn_app_without_workers().await;
    set_auto_import(&app, Some(12)).await;
    // Watch the tables while sign-ins complete: a session is never seen without its command
    // and job, because the three commit together.
    let pool = app.pool.clone();
    let watcher = tokio::spawn(async move {
        let mut looks = 0u32;
        loop {
            // One statement, so one snapshot of the three tables.
            let (sessions, unimported, jobs): (i64, i64, i64) = sqlx::query_as(
                "select (select count(*) from sessions),
                        (select count(*) from sessions s where not exists (
                             select 1 from commands c where c.session_id = s.id)),
                        (select count(*) from apalis.jobs where job_type = $1)",
            )
            .bind(aisle::store::queue::QUEUE)
            .fetch_one(&pool)
            .await
            .unwrap();
            assert_eq!(unimported, 0, "a session without its command");
            assert_eq!(jobs, sessions, "a session without its job");
            looks += 1;
            if sessions == 3 {
                return looks;
            }
            tokio::task::yield_now().await;
        }
    });
    let mut commands = Vec::new();
    for _ in 0..3 {
        let session = app.sandbox_session(&app.api_key, "alice").await;
        commands.push(session["commandId"].as_str().unwrap().parse().unwrap());
    }
    let looks = tokio::time::timeout(Duration::from_secs(30), watcher)
        .await
        .expect("the watcher sees the three sessions")
        .unwrap();
    assert!(looks > 0);
    for command_id in commands {
        let job = aisle::store::queue::job_state(&app.pool, command_id)
            .await
            .unwrap();
        assert_eq!(job, aisle::store::queue::JobState::Live);
    }
}

#[tokio::test]
async fn a_queue_that_refuses_the_job_leaves_no_session_behind() {
    let app = spawn_app_without_workers().await;
    set_auto_import(&app, Some(12)).await;
    // The queue's table refuses every job, as a full disk or a broken queue would.
    sqlx::raw_sql(
        "create function refuse_jobs() returns trigger language plpgsql as
             $$ begin raise exception 'the queue is broken'; end $$;
         create trigger refuse_jobs before insert on apalis.jobs
             for each row execute function refuse_jobs();",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let refused = app.sandbox_sign_in(&app.api_key, "sandbox", "alice").await;
    assert_eq!(refused.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(app.count("select count(*) from sessions").await, 0);
    assert_eq!(app.count("select count(*) from commands").await, 0);
}

#[tokio::test]
async fn a_widget_sign_in_finished_in_a_browser_without_the_frame_starts_no_import() {
    // The forwarded-link attack with auto import on: the victim goes through the bank in their
    // own browser, so the session is issued, but the code that hands it over stays in a window
    // no frame opened. Nothing is imported under the attacker's owner id.
    let app = spawn_app_without_workers().await;
    set_auto_import(&app, Some(12)).await;
    let id = open_widget(&app, None).await;
    frame_api(&app, &id, "bank", json!({"bank": "sandbox"})).await;
    let victim = browser();
    let go = victim
        .get(format!("{}/signin/s/{id}/go", app.address))
        .send()
        .await
        .unwrap();
    let cookie = binding_cookie(&go).expect("the victim's browser is bound");
    let callback =
        answer_sca_page(&location(&go), "alice", aisle_sandbox_bank::TEST_PASSWORD).await;
    let returned = victim
        .get(&callback)
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(returned.status(), StatusCode::OK);
    assert_eq!(app.count("select count(*) from sessions").await, 1);
    assert_eq!(
        app.count("select count(*) from commands").await,
        0,
        "no import starts before the frame presents the code"
    );
}
