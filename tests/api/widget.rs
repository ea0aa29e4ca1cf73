//! The widget in a real browser: a client's page on its own origin embeds `/widget.js`, the
//! owner picks a bank in the frame, approves in the bank's window (or on Aisle's form), and the
//! page's callbacks hear about it. Screenshots of every step land in target/widget-screenshots/.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::{
    browser::{Browser, ClientPage},
    helpers::{TestApp, spawn_app},
};

const WAIT: Duration = Duration::from_secs(15);
const FRAME: &str = "#widget iframe";

/// The app, a client page registered for the test client, and a browser on that page.
async fn embed(query: &[(&str, &str)]) -> (TestApp, ClientPage, Browser) {
    let app = spawn_app().await;
    let page = ClientPage::serve(&app.address).await;
    app.register(app.client_id, &[page.origin()], &[]).await;
    let client = app.client_id.to_string();
    let mut options = vec![("client", client.as_str()), ("ownerExternalId", "owner-7")];
    options.extend_from_slice(query);
    let browser = Browser::start().await;
    browser.goto(&page.url(&options)).await;
    (app, page, browser)
}

/// Waits until the page heard `event`; returns that callback's arguments.
async fn callback(browser: &Browser, event: &str) -> Value {
    browser.switch_to_top().await;
    let find = format!("window.aisleEvents.find(e => e.event === '{event}')");
    browser
        .wait_until_js(&format!("{find} !== undefined"), WAIT)
        .await;
    browser.eval(&format!("{find}.args")).await
}

async fn events(browser: &Browser) -> Vec<String> {
    browser.switch_to_top().await;
    let names = browser.eval("window.aisleEvents.map(e => e.event)").await;
    serde_json::from_value(names).unwrap()
}

async fn screen(browser: &Browser, name: &str) {
    browser.switch_to_top().await;
    browser.switch_to_frame(FRAME).await;
    browser
        .wait_for(&format!("main[data-screen=\"{name}\"]"), WAIT)
        .await;
}

/// Picks `bank` in the frame and opens its window; leaves the browser in that window.
async fn open_the_banks_window(browser: &Browser, bank: &str) {
    browser.switch_to_frame(FRAME).await;
    browser
        .wait_for(&format!(".bank[data-bank=\"{bank}\"]"), WAIT)
        .await;
    browser.screenshot("picker").await;
    browser.click(&format!(".bank[data-bank=\"{bank}\"]")).await;
    screen(browser, "redirect").await;
    browser.screenshot("redirect").await;
    browser.click("#continue").await;
    let bank_window = browser.wait_for_new_window(WAIT).await;
    browser.switch_to(&bank_window).await;
    browser.wait_for("#password", WAIT).await;
}

/// Answers the sandbox bank's SCA page in its window as `login`; back in the main window after.
async fn approve_at_the_bank(browser: &Browser, login: &str, password: &str) {
    browser.fill("#login", login).await;
    browser.fill("#password", password).await;
    browser.fill("#otp", aisle_sandbox_bank::TEST_OTP).await;
    browser.screenshot("bank").await;
    browser.click("button[value=\"approve\"]").await;
    browser.switch_to(&browser.main_window()).await;
}

/// Posts Default Import with what `onSuccess` gave and waits for the command to end.
async fn import(app: &TestApp, on_success: &Value) -> Value {
    let accepted = app
        .post_default_import(
            &app.api_key,
            &json!({"sessionId": on_success[1], "sessionIdSignature": on_success[2]}),
        )
        .await;
    assert_eq!(accepted.status(), reqwest::StatusCode::ACCEPTED);
    let command_id = accepted.json::<Value>().await.unwrap()["commandId"]
        .as_str()
        .unwrap()
        .to_string();
    app.wait_for_command(&command_id, Duration::from_secs(30))
        .await
}

#[tokio::test]
async fn an_owner_who_approves_in_the_banks_window_hands_the_page_a_session_that_imports() {
    let (app, _page, browser) = embed(&[]).await;
    open_the_banks_window(&browser, "sandbox").await;
    approve_at_the_bank(&browser, "alice", aisle_sandbox_bank::TEST_PASSWORD).await;

    let on_success = callback(&browser, "onSuccess").await;
    screen(&browser, "success").await;
    browser.screenshot("success").await;
    assert_eq!(on_success[0], "sandbox", "target");
    assert_eq!(on_success[3]["ownerExternalId"], "owner-7");
    assert_eq!(
        events(&browser).await,
        ["onStarted", "onTargetSelected", "onSuccess"]
    );
    let command = import(&app, &on_success).await;
    assert_eq!(command["state"], "successful", "{command}");
    assert_eq!(command["ownerExternalId"], "owner-7");
    browser.close().await;
}

#[tokio::test]
async fn a_wrong_password_at_the_bank_reaches_the_page_as_invalid_credentials() {
    let (app, _page, browser) = embed(&[]).await;
    open_the_banks_window(&browser, "sandbox").await;
    approve_at_the_bank(&browser, "alice", "not-the-password").await;

    let on_error = callback(&browser, "onError").await;
    assert_eq!(on_error[0], "InvalidCredentials");
    assert_eq!(on_error[1]["target"], "sandbox");
    screen(&browser, "failure").await;
    browser.screenshot("failure").await;
    assert!(!events(&browser).await.contains(&"onSuccess".to_string()));
    assert_eq!(app.count("select count(*) from sessions").await, 0);
    browser.close().await;
}

#[tokio::test]
async fn an_owner_who_closes_the_banks_window_is_reported_as_closing_the_sign_in() {
    let (app, _page, browser) = embed(&[]).await;
    open_the_banks_window(&browser, "sandbox").await;
    browser.close_window().await;
    browser.switch_to(&browser.main_window()).await;

    callback(&browser, "onClose").await;
    screen(&browser, "cancelled").await;
    browser.screenshot("cancelled").await;
    assert_eq!(app.count("select count(*) from sessions").await, 0);
    browser.close().await;
}

#[tokio::test]
async fn a_form_bank_is_signed_in_on_the_widgets_own_form_step_by_step() {
    let (app, _page, browser) = embed(&[("bank", "sandbox-account-service")]).await;
    browser.switch_to_frame(FRAME).await;
    // Legal id and phone, then a one-time code: answer every form the bank asks for.
    for step in 1..=3 {
        browser
            .wait_until_js(
                "['form', 'success', 'failure'].includes(document.querySelector('main').dataset.screen)",
                WAIT,
            )
            .await;
        let names = browser
            .eval("document.querySelector('main').dataset.screen === 'form' ? [...document.querySelectorAll('#signin-form input')].map(i => i.name) : []")
            .await;
        let names: Vec<String> = serde_json::from_value(names).unwrap();
        if names.is_empty() {
            break;
        }
        for name in &names {
            let answer = aisle_sandbox_bank::form_answer("bob", name)
                .unwrap_or_else(|| panic!("the sandbox has an answer for {name}"));
            browser
                .fill(&format!("#signin-form input[name=\"{name}\"]"), &answer)
                .await;
        }
        browser.screenshot(&format!("form-{step}")).await;
        browser.click("#submit").await;
        let asked = serde_json::to_string(&names).unwrap();
        browser
            .wait_until_js(
                &format!(
                    "document.querySelector('main').dataset.screen !== 'form' || \
                     JSON.stringify([...document.querySelectorAll('#signin-form input')].map(i => i.name)) !== '{asked}'"
                ),
                WAIT,
            )
            .await;
    }
    let on_success = callback(&browser, "onSuccess").await;
    browser.screenshot("success").await;
    assert_eq!(on_success[0], "sandbox-account-service");
    let command = import(&app, &on_success).await;
    assert_eq!(command["state"], "successful", "{command}");
    browser.close().await;
}

#[tokio::test]
async fn a_preselected_bank_that_is_not_offered_is_reported_as_unsupported() {
    let (_app, _page, browser) = embed(&[("bank", "no-such-bank"), ("country", "DE")]).await;
    let unsupported = callback(&browser, "onUnsupportedTarget").await;
    assert_eq!(unsupported[0]["target"], "no-such-bank");
    assert_eq!(unsupported[0]["country"], "DE");
    screen(&browser, "picker").await;
    browser.screenshot("unsupported").await;
    browser.close().await;
}

#[tokio::test]
async fn the_demo_page_shows_alices_accounts_after_a_click_through_sign_in() {
    let app = spawn_app().await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let demo_url = format!("http://{}", listener.local_addr().unwrap());
    app.register(app.client_id, &[&demo_url], &[]).await;
    let demo = aisle::demo::Demo {
        aisle_url: app.address.clone(),
        client_id: app.client_id,
        api_key: app.api_key.clone(),
        http: reqwest::Client::new(),
    };
    tokio::spawn(aisle::demo::serve(listener, demo, std::future::pending()));

    let browser = Browser::start().await;
    browser.goto(&format!("{demo_url}/demo")).await;
    browser.wait_for("#widget iframe", WAIT).await;
    browser.switch_to_frame("#widget iframe").await;
    browser.wait_for(".bank[data-bank=\"sandbox\"]", WAIT).await;
    browser.click(".bank[data-bank=\"sandbox\"]").await;
    browser.wait_for("#continue", WAIT).await;
    browser.click("#continue").await;
    let bank_window = browser.wait_for_new_window(WAIT).await;
    browser.switch_to(&bank_window).await;
    browser.wait_for("#password", WAIT).await;
    approve_at_the_bank(&browser, "alice", aisle_sandbox_bank::TEST_PASSWORD).await;

    browser.switch_to_top().await;
    browser
        .wait_until_js(
            "!document.querySelector('#result').hidden && \
             document.querySelector('#result').textContent.includes('EUR')",
            Duration::from_secs(30),
        )
        .await;
    browser.screenshot("demo-result").await;
    let result = browser.text("#result").await;
    assert!(result.contains("Alice"), "the owner's name: {result}");
    browser.close().await;
}

/// Waits for the frame's form screen asking exactly `names`, fills each from `answers`.
async fn answer_the_form(browser: &Browser, names: &[&str], answers: &[(&str, &str)]) {
    let asked = serde_json::to_string(names).unwrap();
    browser
        .wait_until_js(
            &format!(
                "document.querySelector('main').dataset.screen === 'form' && \
                 JSON.stringify([...document.querySelectorAll('#signin-form input')].map(i => i.name)) === '{asked}'"
            ),
            WAIT,
        )
        .await;
    for (name, answer) in answers {
        browser
            .fill(&format!("#signin-form input[name=\"{name}\"]"), answer)
            .await;
    }
}

#[tokio::test]
async fn an_owner_who_approves_in_the_banks_app_watches_the_widget_wait_then_succeed() {
    let (app, _page, browser) = embed(&[("bank", "sandbox-decoupled")]).await;
    browser.switch_to_frame(FRAME).await;
    answer_the_form(&browser, &["psuId"], &[("psuId", "decoupled")]).await;
    browser.screenshot("decoupled-login").await;
    browser.click("#submit").await;

    // The persona takes a few seconds in its app: the widget shows the bank's message meanwhile.
    screen(&browser, "app-wait").await;
    browser.screenshot("decoupled-waiting").await;
    assert_eq!(
        browser.text("#bank-message").await,
        aisle_sandbox_bank::APP_MESSAGE
    );

    let on_success = callback(&browser, "onSuccess").await;
    screen(&browser, "success").await;
    browser.screenshot("decoupled-success").await;
    assert_eq!(on_success[0], "sandbox-decoupled");
    let command = import(&app, &on_success).await;
    assert_eq!(command["state"], "successful", "{command}");
    browser.close().await;
}

#[tokio::test]
async fn an_owner_who_refuses_in_the_banks_app_ends_the_widget_with_invalid_credentials() {
    let (app, _page, browser) = embed(&[("bank", "sandbox-decoupled")]).await;
    browser.switch_to_frame(FRAME).await;
    answer_the_form(&browser, &["psuId"], &[("psuId", "decoupled-refused")]).await;
    browser.click("#submit").await;
    screen(&browser, "app-wait").await;

    let on_error = callback(&browser, "onError").await;
    assert_eq!(on_error[0], "InvalidCredentials");
    screen(&browser, "failure").await;
    browser.screenshot("decoupled-refused").await;
    assert_eq!(app.count("select count(*) from sessions").await, 0);
    browser.close().await;
}

#[tokio::test]
async fn an_embedded_bank_is_signed_in_on_the_widget_with_a_method_choice_and_a_code() {
    let (app, _page, browser) = embed(&[("bank", "sandbox-embedded")]).await;
    browser.switch_to_frame(FRAME).await;
    answer_the_form(
        &browser,
        &["psuId", "password"],
        &[
            ("psuId", "embedded"),
            ("password", aisle_sandbox_bank::TEST_PASSWORD),
        ],
    )
    .await;
    browser.screenshot("embedded-login").await;
    browser.click("#submit").await;

    screen(&browser, "choose").await;
    let offered = browser
        .eval("[...document.querySelectorAll('#choice-form input[type=radio]')].map(i => i.value)")
        .await;
    assert_eq!(offered, json!(["sms", "push"]));
    browser.click("label[for=\"choice-1\"]").await;
    browser.screenshot("embedded-choice").await;
    browser.click("#submit").await;

    answer_the_form(&browser, &["otp"], &[("otp", aisle_sandbox_bank::TEST_OTP)]).await;
    let label = browser.text("label[for=\"field-0\"]").await;
    assert!(
        label.contains("app"),
        "the code's hint names the push method: {label}"
    );
    browser.screenshot("embedded-code").await;
    browser.click("#submit").await;

    let on_success = callback(&browser, "onSuccess").await;
    screen(&browser, "success").await;
    browser.screenshot("embedded-success").await;
    assert_eq!(on_success[0], "sandbox-embedded");
    let command = import(&app, &on_success).await;
    assert_eq!(command["state"], "successful", "{command}");
    browser.close().await;
}

#[tokio::test]
async fn with_auto_import_on_the_page_hears_the_command_id_and_the_import_runs_by_itself() {
    let app = spawn_app().await;
    let months = aisle::model::input::AutoImportMonths::new(12).unwrap();
    aisle::store::clients::set_auto_import(&app.pool, app.client_id, Some(months))
        .await
        .unwrap();
    let page = ClientPage::serve(&app.address).await;
    app.register(app.client_id, &[page.origin()], &[]).await;
    let client = app.client_id.to_string();
    let browser = Browser::start().await;
    browser
        .goto(&page.url(&[
            ("client", client.as_str()),
            ("ownerExternalId", "owner-7"),
            ("autoImport", r#"{"months": 3}"#),
        ]))
        .await;
    open_the_banks_window(&browser, "sandbox").await;
    approve_at_the_bank(&browser, "alice", aisle_sandbox_bank::TEST_PASSWORD).await;

    let on_success = callback(&browser, "onSuccess").await;
    screen(&browser, "success").await;
    browser.screenshot("auto-import-success").await;
    let command_id = on_success[3]["commandId"]
        .as_str()
        .unwrap_or_else(|| panic!("onSuccess carries the command id: {on_success}"));
    let command = app
        .wait_for_command(command_id, Duration::from_secs(30))
        .await;
    assert_eq!(command["state"], "successful", "{command}");
    assert_eq!(command["ownerExternalId"], "owner-7");
    let since: chrono::NaiveDate = command["since"].as_str().unwrap().parse().unwrap();
    let today = chrono::Utc::now().date_naive();
    assert!(
        (today - since).num_days() < 100,
        "the embed's 3 months, not the setting's 12: {since}"
    );
    browser.close().await;
}
