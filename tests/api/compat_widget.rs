//! A page written for Kontomatik's widget (`<div id="kontomatik">`, `embedKontomatik({...})`
//! with its option and callback names), whose only change is the script URL, signs an owner in
//! through Aisle in a real Chromium; its backend then imports through the XML face.

use std::time::{Duration, Instant};

use axum::{Router, response::Html, routing::get};
use roxmltree::Document;
use serde_json::Value;
use tokio::net::TcpListener;

use crate::{
    browser::Browser,
    compat::{XmlReply, at},
    helpers::spawn_app,
};

const WAIT: Duration = Duration::from_secs(15);
const FRAME: &str = "#kontomatik iframe";

/// A Kontomatik integration's page, as its docs show it, with Aisle's script URL.
fn kontomatik_page(aisle_url: &str, client: &str) -> String {
    const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Lender</title></head>
<body>
<div id="kontomatik"></div>
<script>window.kontomatikEvents = [];</script>
<script src="{aisle}/widget.js"></script>
<script>
  function record(name) {
    return function () {
      window.kontomatikEvents.push({ event: name, args: Array.prototype.slice.call(arguments) });
    };
  }
  embedKontomatik({
    client: "{client}",
    ownerExternalId: "owner-9",
    locale: "en",
    country: "DE",
    target: "sandbox",
    autoImport: false,
    dynamicHeight: true,
    onInitialized: record("onInitialized"),
    onStarted: record("onStarted"),
    onTargetSelected: record("onTargetSelected"),
    onSuccess: record("onSuccess"),
    onError: record("onError"),
    onUnsupportedTarget: record("onUnsupportedTarget"),
  });
</script>
</body>
</html>
"#;
    PAGE.replace("{aisle}", aisle_url)
        .replace("{client}", client)
}

#[tokio::test]
async fn a_page_using_embed_kontomatik_signs_in_and_its_session_imports_through_the_xml_face() {
    let app = spawn_app().await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let page = kontomatik_page(&app.address, &app.client_id.to_string());
    let site = Router::new().route("/connect", get(move || async move { Html(page) }));
    let server = tokio::spawn(async move { axum::serve(listener, site).await.unwrap() });
    app.register(app.client_id, &[&origin], &[]).await;

    let browser = Browser::start().await;
    browser.goto(&format!("{origin}/connect")).await;
    // `target` preselects the bank: the frame opens at its sign-in step.
    browser.switch_to_frame(FRAME).await;
    browser.wait_for("#continue", WAIT).await;
    browser.screenshot("kontomatik-redirect").await;
    browser.click("#continue").await;
    let bank_window = browser.wait_for_new_window(WAIT).await;
    browser.switch_to(&bank_window).await;
    browser.wait_for("#password", WAIT).await;
    browser.fill("#login", "alice").await;
    browser
        .fill("#password", aisle_sandbox_bank::TEST_PASSWORD)
        .await;
    browser.fill("#otp", aisle_sandbox_bank::TEST_OTP).await;
    browser.click("button[value=\"approve\"]").await;
    browser.switch_to(&browser.main_window()).await;

    browser.switch_to_top().await;
    let success = "window.kontomatikEvents.find(e => e.event === 'onSuccess')";
    browser
        .wait_until_js(&format!("{success} !== undefined"), WAIT)
        .await;
    let on_success = browser.eval(&format!("{success}.args")).await;
    let events: Vec<String> = serde_json::from_value(
        browser
            .eval("window.kontomatikEvents.map(e => e.event)")
            .await,
    )
    .unwrap();
    assert_eq!(events.first().map(String::as_str), Some("onInitialized"));
    assert!(!events.contains(&"onError".to_string()), "{events:?}");
    assert_eq!(on_success[0], "sandbox", "target");
    assert_eq!(on_success[3]["ownerExternalId"], "owner-9");
    browser.switch_to_frame(FRAME).await;
    browser
        .wait_for("main[data-screen=\"success\"]", WAIT)
        .await;
    browser.screenshot("kontomatik-success").await;
    browser.close().await;

    // The page's backend, as a Kontomatik integration does it.
    let str_of = |v: &Value| v.as_str().unwrap().to_string();
    let accepted = XmlReply::read(
        app.http
            .post(format!("{}/v1/command/default-import.xml", app.address))
            .header("X-Api-Key", &app.api_key)
            .form(&[
                ("sessionId", str_of(&on_success[1])),
                ("sessionIdSignature", str_of(&on_success[2])),
            ]),
    )
    .await;
    assert_eq!(
        accepted.status,
        reqwest::StatusCode::ACCEPTED,
        "{}",
        accepted.body
    );
    let command_id = at(accepted.document().root_element(), "command")
        .attribute("id")
        .unwrap()
        .to_string();
    let started = Instant::now();
    loop {
        let reply = XmlReply::read(
            app.http
                .get(format!("{}/v1/command/{command_id}.xml", app.address))
                .header("X-Api-Key", &app.api_key),
        )
        .await;
        let document: Document = reply.document();
        let root = document.root_element();
        let state = at(root, "command").attribute("state").unwrap();
        if state != "in_progress" {
            assert_eq!(state, "successful", "{}", reply.body);
            assert_eq!(root.attribute("ownerExternalId"), Some("owner-9"));
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{}",
            reply.body
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.abort();
}
