//! Issue 12's browser binding, as an attacker would try it: a sign-in's bank link (Aisle's
//! `/go` hop, or the bank's own page) taken out of the browser that started the sign-in and
//! approved by a victim in another. Over plain HTTP, then end to end in two Chromium profiles
//! (two ChromeDrivers, two user-data-dirs): the attacker's frame, `GET /signin/api/{id}` and
//! `onSuccess` never get a session, and a redirection's backend never reads one.
//!
//! Also: `GET /signin/widget` has no side effects, sign-in POSTs from other sites are refused,
//! and the pages' `Cross-Origin-Opener-Policy`.

use std::time::{Duration, Instant};

use axum::{Router, response::Html, routing::get};
use reqwest::{StatusCode, redirect::Policy};
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::{
    browser::{Browser, ClientPage},
    helpers::{TestApp, assert_problem, binding_cookie, spawn_app},
    signin::answer_sca_page,
};

const WAIT: Duration = Duration::from_secs(15);
const FRAME: &str = "#widget iframe";
/// How long the tests watch for a session that must never appear.
const NEVER: Duration = Duration::from_secs(3);
const STATE: &str = "0123456789abcdef0123456789abcdef";

/// A browser over plain HTTP that does not follow redirects, so each hop can be checked.
fn hop() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

fn location(response: &reqwest::Response) -> String {
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "a 303");
    response.headers()["location"].to_str().unwrap().to_string()
}

fn header<'r>(response: &'r reqwest::Response, name: &str) -> &'r str {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("a {name} header"))
        .to_str()
        .unwrap()
}

/// The widget entry's parameters for the test client embedded on `origin`.
fn widget_params(app: &TestApp, origin: &str, bank: Option<&str>) -> Value {
    let mut params = json!({
        "client": app.client_id.to_string(),
        "origin": origin,
        "state": STATE,
        "ownerExternalId": "attacker-1",
    });
    if let Some(bank) = bank {
        params["bank"] = json!(bank);
    }
    params
}

/// Opens a widget sign-in as the frame does (a POST from Aisle's own page); returns its id.
async fn open_widget_signin(app: &TestApp, origin: &str) -> String {
    let opened = app
        .http
        .post(format!("{}/signin/widget", app.address))
        .header("origin", &app.address)
        .header("sec-fetch-site", "same-origin")
        .json(&widget_params(app, origin, None))
        .send()
        .await
        .unwrap();
    assert_eq!(opened.status(), StatusCode::CREATED);
    opened.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn signin_api(app: &TestApp, id: &str, action: &str, body: Value) -> reqwest::Response {
    app.http
        .post(format!("{}/signin/api/{id}/{action}", app.address))
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// What `GET /signin/api/{id}` shows anyone holding the sign-in's id.
async fn view(app: &TestApp, id: &str) -> Value {
    let response = app
        .http
        .get(format!("{}/signin/api/{id}", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

/// Answers the sandbox bank's SCA page at `sca_page` as alice; returns where the bank sends
/// the browser back (Aisle's callback).
async fn approve_over_http(sca_page: &str) -> String {
    answer_sca_page(sca_page, "alice", aisle_sandbox_bank::TEST_PASSWORD).await
}

async fn signin_row(app: &TestApp, id: &str) -> (String, Option<String>) {
    sqlx::query_as("select status, error_code from signins where id = $1::uuid")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

/// Polls the sign-in's row until its status is `status`.
async fn wait_for_status(app: &TestApp, id: &str, status: &str) {
    let started = Instant::now();
    loop {
        let (now, _) = signin_row(app, id).await;
        if now == status {
            return;
        }
        assert!(
            started.elapsed() < WAIT,
            "sign-in still {now}, not {status}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_widget_entry_get_only_renders_and_opens_no_sign_in_even_with_a_bank() {
    let app = spawn_app().await;
    let origin = "http://127.0.0.1:7000";
    app.register(app.client_id, &[origin], &[]).await;
    let params = widget_params(&app, origin, Some("sandbox"));
    for _ in 0..3 {
        let page = hop()
            .get(format!("{}/signin/widget", app.address))
            .query(&params)
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        assert!(header(&page, "content-type").starts_with("text/html"));
    }
    // No sign-in row, so no bank consent either: the flow begins a bank only for a sign-in.
    assert_eq!(app.count("select count(*) from signins").await, 0);

    let opened = open_widget_signin(&app, origin).await;
    assert_eq!(view(&app, &opened).await["status"], "picking");
    let preselected = app
        .http
        .post(format!("{}/signin/widget", app.address))
        .header("origin", &app.address)
        .json(&params)
        .send()
        .await
        .unwrap();
    assert_eq!(preselected.status(), StatusCode::CREATED);
    let id = preselected.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        view(&app, &id).await["status"],
        "in_progress",
        "the POST begins the preselected bank"
    );
}

#[tokio::test]
async fn a_sign_in_post_from_another_site_is_refused_with_a_problem() {
    let app = spawn_app().await;
    let origin = "http://127.0.0.1:7000";
    app.register(app.client_id, &[origin], &[]).await;
    let params = widget_params(&app, origin, Some("sandbox"));
    let post = |origin: Option<&str>, site: Option<&str>| {
        let mut request = app
            .http
            .post(format!("{}/signin/widget", app.address))
            .json(&params);
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        if let Some(site) = site {
            request = request.header("sec-fetch-site", site);
        }
        request.send()
    };
    for (origin, site) in [
        // A page on another site posting to Aisle (a form, a fetch in no-cors mode)...
        (Some("https://evil.example"), Some("cross-site")),
        (Some("https://evil.example"), None),
        // ...even the client's own page, which must go through the frame...
        (Some(origin), Some("cross-site")),
        // ...a browser that says it is cross-site whatever Origin says, an opaque origin...
        (Some(app.address.as_str()), Some("cross-site")),
        (Some("null"), Some("same-origin")),
        // ...and a request without Origin, which no browser's POST is.
        (None, None),
    ] {
        let refused = post(origin, site).await.unwrap();
        assert_problem(refused, StatusCode::FORBIDDEN, "ForbiddenOrigin").await;
    }
    assert_eq!(app.count("select count(*) from signins").await, 0);

    // The frame's other POSTs too: a step answered from another site is refused.
    let id = open_widget_signin(&app, origin).await;
    let foreign = app
        .http
        .post(format!("{}/signin/api/{id}/bank", app.address))
        .header("origin", "https://evil.example")
        .header("sec-fetch-site", "cross-site")
        .json(&json!({"bank": "sandbox"}))
        .send()
        .await
        .unwrap();
    assert_problem(foreign, StatusCode::FORBIDDEN, "ForbiddenOrigin").await;
    assert_eq!(view(&app, &id).await["status"], "picking");
}

#[tokio::test]
async fn a_widget_session_is_handed_out_once_only_for_the_code_of_the_window_that_went_through_the_bank()
 {
    let app = spawn_app().await;
    let origin = "http://127.0.0.1:7000";
    app.register(app.client_id, &[origin], &[]).await;
    let id = open_widget_signin(&app, origin).await;
    let frame = hop()
        .get(format!("{}/signin/s/{id}", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(
        header(&frame, "cross-origin-opener-policy"),
        "same-origin-allow-popups"
    );
    let picked = signin_api(&app, &id, "bank", json!({"bank": "sandbox"})).await;
    assert_eq!(picked.status(), StatusCode::OK);
    assert_eq!(
        binding_cookie(&picked),
        None,
        "a third-party frame is bound at its bank window, not here"
    );

    // The bank window: `/go` binds the attempt to it and keeps its opener.
    let go = hop()
        .get(format!("{}/signin/s/{id}/go", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(header(&go, "cross-origin-opener-policy"), "unsafe-none");
    assert_eq!(header(&go, "referrer-policy"), "no-referrer");
    let cookie = binding_cookie(&go).expect("the bank window is bound");
    let set = header(&go, "set-cookie");
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/signin"] {
        assert!(set.contains(attribute), "{attribute} in {set}");
    }
    let callback = approve_over_http(&location(&go)).await;
    let done = hop()
        .get(&callback)
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), StatusCode::OK);
    assert_eq!(header(&done, "cross-origin-opener-policy"), "unsafe-none");
    let page = done.text().await.unwrap();
    let code = page
        .split("data-completion=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the return page holds the completion code")
        .to_string();

    let shown = view(&app, &id).await;
    assert_eq!(shown["status"], "succeeded");
    assert_eq!(shown["session"], Value::Null, "GET never shows the session");
    assert_eq!(shown["completionCode"], Value::Null);
    let wrong = signin_api(&app, &id, "complete", json!({"code": "ab".repeat(32)})).await;
    assert_problem(wrong, StatusCode::FORBIDDEN, "CompletionRefused").await;

    let completed = signin_api(&app, &id, "complete", json!({"code": code})).await;
    assert_eq!(completed.status(), StatusCode::OK);
    assert_eq!(header(&completed, "cache-control"), "no-store");
    let completed: Value = completed.json().await.unwrap();
    assert_eq!(completed["session"]["target"], "sandbox", "{completed}");
    let accepted = app
        .post_default_import(
            &app.api_key,
            &json!({
                "sessionId": completed["session"]["sessionId"],
                "sessionIdSignature": completed["session"]["sessionIdSignature"],
            }),
        )
        .await;
    assert_eq!(accepted.status(), StatusCode::ACCEPTED);

    let again = signin_api(&app, &id, "complete", json!({"code": code})).await;
    assert_problem(again, StatusCode::FORBIDDEN, "CompletionRefused").await;
    assert_eq!(view(&app, &id).await["session"], Value::Null);
    let stored: Option<Vec<u8>> =
        sqlx::query_scalar("select completion_hash from signins where id = $1::uuid")
            .bind(&id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(stored, None, "a spent code leaves nothing behind");
}

#[tokio::test]
async fn a_widget_bank_link_taken_by_another_browser_first_gives_the_frame_nothing_over_http() {
    let app = spawn_app().await;
    let origin = "http://127.0.0.1:7000";
    app.register(app.client_id, &[origin], &[]).await;
    let id = open_widget_signin(&app, origin).await;
    signin_api(&app, &id, "bank", json!({"bank": "sandbox"})).await;
    let go = format!("{}/signin/s/{id}/go", app.address);

    // The victim opens the forwarded link first and approves: the attempt is theirs.
    let victims = hop().get(&go).send().await.unwrap();
    let victim_cookie = binding_cookie(&victims).unwrap();
    let callback = approve_over_http(&location(&victims)).await;
    // The attacker's own browser cannot use the link any more...
    let attackers = hop().get(&go).send().await.unwrap();
    assert_eq!(attackers.status(), StatusCode::FORBIDDEN);
    assert!(attackers.headers().get("location").is_none());
    // ...nor the way back, which fails the sign-in if it comes first; here the victim's does.
    let done = hop()
        .get(&callback)
        .header("cookie", &victim_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), StatusCode::OK);
    assert_eq!(view(&app, &id).await["status"], "succeeded");
    let deadline = Instant::now() + NEVER;
    while Instant::now() < deadline {
        assert_eq!(view(&app, &id).await["session"], Value::Null);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_redirections_bank_link_and_bank_page_work_only_in_the_browser_that_began_them() {
    let app = spawn_app().await;
    let back = "http://127.0.0.1:9/back";
    let created: Value = app.open_redirection(back, "attacker-1", None).await;
    let id = created["redirectionId"].as_str().unwrap().to_string();
    let picked = signin_api(&app, &id, "bank", json!({"bank": "sandbox"})).await;
    let attacker_cookie = binding_cookie(&picked).expect("the page's browser is bound");
    let go = format!("{}/signin/s/{id}/go", app.address);

    // The `/go` link forwarded to a victim: no bank page for them.
    let victims = hop().get(&go).send().await.unwrap();
    assert_eq!(victims.status(), StatusCode::FORBIDDEN);
    assert!(victims.headers().get("location").is_none());

    // The bank's page forwarded instead: the victim approves, and the way back fails it.
    let attackers = hop()
        .get(&go)
        .header("cookie", &attacker_cookie)
        .send()
        .await
        .unwrap();
    let callback = approve_over_http(&location(&attackers)).await;
    let refused = hop().get(&callback).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    // The attacker replaying the way back in their own, bound browser gets nothing either.
    let replayed = hop()
        .get(&callback)
        .header("cookie", &attacker_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(location(&replayed), format!("{back}?redirectionId={id}"));

    let status: Value = app
        .http
        .get(format!("{}/v1/signin/redirections/{id}", app.address))
        .bearer_auth(&app.api_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["status"], "failed", "{status}");
    assert_eq!(status["error"]["code"], "BrowserMismatch");
    assert_eq!(status["sessionId"], Value::Null);
    assert_eq!(app.count("select count(*) from sessions").await, 0);
}

// ---- in Chromium: two profiles, the attacker's and the victim's ----------------------------

/// The attacker's browser on a client page embedding the widget, at the bank list.
async fn attackers_widget(app: &TestApp) -> (ClientPage, Browser) {
    let page = ClientPage::serve(&app.address).await;
    app.register(app.client_id, &[page.origin()], &[]).await;
    let client = app.client_id.to_string();
    let attacker = Browser::start().await;
    attacker
        .goto(&page.url(&[
            ("client", client.as_str()),
            ("ownerExternalId", "attacker-1"),
        ]))
        .await;
    attacker.switch_to_frame(FRAME).await;
    attacker.click(".bank[data-bank=\"sandbox\"]").await;
    attacker
        .wait_for("main[data-screen=\"redirect\"] #continue", WAIT)
        .await;
    (page, attacker)
}

/// The sign-in id in the frame's (current document's) URL.
async fn frame_signin_id(browser: &Browser) -> String {
    let path = browser.eval("location.pathname").await;
    path.as_str()
        .unwrap()
        .trim_start_matches("/signin/s/")
        .to_string()
}

/// Approves at the sandbox bank's SCA page open in `browser`'s current window, as alice.
async fn approve_in(browser: &Browser) {
    browser.fill("#login", "alice").await;
    browser
        .fill("#password", aisle_sandbox_bank::TEST_PASSWORD)
        .await;
    browser.fill("#otp", aisle_sandbox_bank::TEST_OTP).await;
    browser.click("button[value=\"approve\"]").await;
}

/// The names of the callbacks the attacker's page heard.
async fn heard(browser: &Browser) -> Vec<String> {
    browser.switch_to_top().await;
    serde_json::from_value(browser.eval("window.aisleEvents.map(e => e.event)").await).unwrap()
}

/// Watches for `NEVER` that neither the page's `onSuccess` nor `GET /signin/api/{id}` (asked
/// from the attacker's own frame) yields a session.
async fn assert_no_session_reaches(app: &TestApp, attacker: &Browser, id: &str) {
    let deadline = Instant::now() + NEVER;
    while Instant::now() < deadline {
        assert!(
            !heard(attacker).await.contains(&"onSuccess".to_string()),
            "onSuccess was called"
        );
        attacker.switch_to_frame(FRAME).await;
        let seen = attacker
            .eval("fetch('/signin/api/' + location.pathname.split('/')[3]).then(r => r.json()).then(v => v.session)")
            .await;
        assert_eq!(seen, Value::Null, "the frame's GET shows a session");
        assert_eq!(view(app, id).await["session"], Value::Null);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        signin_api(app, id, "complete", json!({"code": "00".repeat(32)}))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn a_bank_link_kept_from_the_widget_and_approved_in_another_browser_gives_the_frame_no_session()
 {
    let app = spawn_app().await;
    let (_page, attacker) = attackers_widget(&app).await;
    // The attacker keeps the link instead of opening it, and sends it to the victim.
    let id = frame_signin_id(&attacker).await;
    let link = format!("{}/signin/s/{id}/go", app.address);

    let victim = Browser::start().await;
    victim.goto(&link).await;
    victim.wait_for("#password", WAIT).await;
    approve_in(&victim).await;
    // The victim's window went through the bank: the sign-in succeeds there, and its return
    // page, opened by nobody, hands its code to nobody.
    victim.wait_for("#done-message", WAIT).await;
    victim.screenshot("victim-done").await;
    wait_for_status(&app, &id, "succeeded").await;

    assert_no_session_reaches(&app, &attacker, &id).await;
    // Reloaded, the attacker's frame learns it was finished elsewhere, and says so.
    attacker.switch_to_top().await;
    attacker.switch_to_frame(FRAME).await;
    attacker
        .eval("(() => { location.reload(); return true; })()")
        .await;
    attacker.switch_to_top().await;
    attacker
        .wait_until_js(
            "window.aisleEvents.some(e => e.event === 'onError' && e.args[0] === 'BrowserMismatch')",
            WAIT,
        )
        .await;
    attacker.switch_to_frame(FRAME).await;
    attacker.screenshot("attacker-frame").await;
    assert_no_session_reaches(&app, &attacker, &id).await;
    victim.close().await;
    attacker.close().await;
}

#[tokio::test]
async fn a_bank_page_taken_from_the_widgets_window_and_approved_in_another_browser_fails_the_sign_in()
 {
    let app = spawn_app().await;
    let (_page, attacker) = attackers_widget(&app).await;
    let id = frame_signin_id(&attacker).await;
    attacker.click("#continue").await;
    let bank_window = attacker.wait_for_new_window(WAIT).await;
    attacker.switch_to(&bank_window).await;
    attacker.wait_for("#password", WAIT).await;
    // The attacker's bank window holds the bank's own page; its URL goes to the victim.
    let sca_page = attacker.eval("location.href").await;
    let sca_page = sca_page.as_str().unwrap().to_string();
    assert!(sca_page.starts_with(&app.bank_url), "{sca_page}");

    let victim = Browser::start().await;
    victim.goto(&sca_page).await;
    victim.wait_for("#password", WAIT).await;
    approve_in(&victim).await;
    let refused = victim.text("main[data-screen=\"problem\"] p").await;
    assert!(refused.contains("another browser"), "{refused}");
    victim.screenshot("victim-refused").await;
    wait_for_status(&app, &id, "failed").await;
    assert_eq!(
        signin_row(&app, &id).await.1.as_deref(),
        Some("BrowserMismatch")
    );

    attacker.switch_to(&attacker.main_window()).await;
    attacker.switch_to_top().await;
    attacker
        .wait_until_js(
            "window.aisleEvents.some(e => e.event === 'onError' && e.args[0] === 'BrowserMismatch')",
            WAIT,
        )
        .await;
    assert_no_session_reaches(&app, &attacker, &id).await;
    assert_eq!(app.count("select count(*) from sessions").await, 0);
    victim.close().await;
    attacker.close().await;
}

/// A client's redirect URI on its own port: `/back` shows the query it was given.
async fn serve_back() -> (String, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let back = format!("http://{}/back", listener.local_addr().unwrap());
    let site = Router::new().route(
        "/back",
        get(|| async { Html("<!doctype html><title>Back</title><p id=\"back\">back</p>") }),
    );
    let server = tokio::spawn(async move { axum::serve(listener, site).await.unwrap() });
    (back, server)
}

async fn create_redirection(app: &TestApp, back: &str, bank: Option<&str>) -> (String, String) {
    let created: Value = app.open_redirection(back, "owner-r", bank).await;
    (
        created["redirectionId"].as_str().unwrap().to_string(),
        created["redirectionLink"].as_str().unwrap().to_string(),
    )
}

async fn redirection_status(app: &TestApp, id: &str) -> Value {
    app.http
        .get(format!("{}/v1/signin/redirections/{id}", app.address))
        .bearer_auth(&app.api_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn an_owner_who_follows_a_redirection_link_in_one_browser_returns_with_a_session() {
    let app = spawn_app().await;
    let (back, _server) = serve_back().await;
    let (id, link) = create_redirection(&app, &back, Some("sandbox")).await;
    let owner = Browser::start().await;
    owner.goto(&link).await;
    // The page begins the preselected bank by POST and shows its step.
    owner
        .click("main[data-screen=\"redirect\"] #continue")
        .await;
    owner.wait_for("#password", WAIT).await;
    approve_in(&owner).await;
    owner.wait_for("#back", WAIT).await;
    let url = owner.eval("location.href").await;
    assert_eq!(url, format!("{back}?redirectionId={id}"));
    let status = redirection_status(&app, &id).await;
    assert_eq!(status["status"], "succeeded", "{status}");
    assert!(status["sessionIdSignature"].is_string());
    owner.close().await;
}

#[tokio::test]
async fn a_redirections_bank_link_or_bank_page_approved_in_another_browser_gives_the_backend_no_session()
 {
    let app = spawn_app().await;
    let (back, _server) = serve_back().await;
    let (id, link) = create_redirection(&app, &back, None).await;
    let attacker = Browser::start().await;
    attacker.goto(&link).await;
    attacker.click(".bank[data-bank=\"sandbox\"]").await;
    attacker
        .wait_for("main[data-screen=\"redirect\"] #continue", WAIT)
        .await;

    // The `/go` link, kept and forwarded: the victim's browser is refused before the bank.
    let victim = Browser::start().await;
    victim.goto(&format!("{link}/go")).await;
    let refused = victim.text("main[data-screen=\"problem\"] p").await;
    assert!(refused.contains("another browser"), "{refused}");
    assert_eq!(
        redirection_status(&app, &id).await["status"],
        "pending",
        "a refused link changes nothing"
    );

    // The bank's own page, forwarded: the victim approves, and the way back fails it.
    attacker.click("#continue").await;
    attacker.wait_for("#password", WAIT).await;
    let sca_page = attacker.eval("location.href").await;
    victim.goto(sca_page.as_str().unwrap()).await;
    victim.wait_for("#password", WAIT).await;
    approve_in(&victim).await;
    let refused = victim.text("main[data-screen=\"problem\"] p").await;
    assert!(refused.contains("another browser"), "{refused}");
    victim.screenshot("victim-refused").await;

    let deadline = Instant::now() + NEVER;
    loop {
        let status = redirection_status(&app, &id).await;
        assert_eq!(status["sessionId"], Value::Null, "{status}");
        assert_eq!(status["sessionIdSignature"], Value::Null, "{status}");
        if Instant::now() > deadline {
            assert_eq!(status["status"], "failed", "{status}");
            assert_eq!(status["error"]["code"], "BrowserMismatch");
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(app.count("select count(*) from sessions").await, 0);
    victim.close().await;
    attacker.close().await;
}
