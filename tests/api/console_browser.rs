//! The console end to end in Chromium: a client's admin signs in with password and TOTP,
//! turns auto import on, an owner signs in at the sandbox bank through the client's widget,
//! and the owner's data appears in the console with no call from the client's backend; the
//! balance chart renders, a filter narrows the transactions and the CSV holds the same rows.
//! Screenshots of every page land in target/console-screenshots/.

use std::time::Duration;

use crate::{
    browser::{Browser, ClientPage},
    console::{staff_member, totp_code},
    helpers::spawn_app,
};
use aisle::model::staff::Role;

const WAIT: Duration = Duration::from_secs(30);
const SHOTS: &str = "console-screenshots";

#[tokio::test]
async fn an_admin_turns_on_auto_import_and_sees_an_owners_data_arrive_with_no_backend_call() {
    let app = spawn_app().await;
    let page = ClientPage::serve(&app.address).await;
    app.register(app.client_id, &[page.origin()], &[]).await;
    let admin = staff_member(&app, app.client_id, Role::Admin).await;
    let browser = Browser::start().await;
    browser.resize(1280, 900).await;

    // 1. The admin signs in with password and TOTP.
    browser
        .goto(&format!("{}/console/login", app.address))
        .await;
    browser.wait_for("#login-form", WAIT).await;
    browser.fill("#login", &admin.login).await;
    browser.fill("#password", &admin.password).await;
    browser
        .fill("#code", &totp_code(&admin.totp_secret, 0))
        .await;
    browser.screenshot_into(SHOTS, "login").await;
    browser.click("#sign-in").await;
    browser.wait_for("#owner-search", WAIT).await;
    browser.screenshot_into(SHOTS, "owners-empty").await;

    // 2. Auto import on, for 12 months.
    browser
        .goto(&format!("{}/console/settings", app.address))
        .await;
    browser.wait_for("#auto-import-form", WAIT).await;
    browser.click("#auto-import-enabled").await;
    browser.fill("#auto-import-months", "12").await;
    browser.click("#save-auto-import").await;
    browser.wait_for(".notice", WAIT).await;
    browser.screenshot_into(SHOTS, "settings").await;
    let months = app
        .count(&format!(
            "select coalesce(auto_import_months, 0)::bigint from clients where id = '{}'",
            app.client_id
        ))
        .await;
    assert_eq!(months, 12);

    // 3. The demo page's owner signs in at the sandbox bank as alice.
    let client = app.client_id.to_string();
    browser
        .goto(&page.url(&[("client", client.as_str()), ("ownerExternalId", "owner-7")]))
        .await;
    browser.switch_to_frame("#widget iframe").await;
    browser.click(".bank[data-bank=\"sandbox\"]").await;
    browser.click("#continue").await;
    let bank_window = browser.wait_for_new_window(WAIT).await;
    browser.switch_to(&bank_window).await;
    browser.fill("#login", "alice").await;
    browser
        .fill("#password", aisle_sandbox_bank::TEST_PASSWORD)
        .await;
    browser.fill("#otp", aisle_sandbox_bank::TEST_OTP).await;
    browser.click("button[value=\"approve\"]").await;
    browser.switch_to(&browser.main_window()).await;
    browser.switch_to_top().await;
    browser
        .wait_until_js(
            "window.aisleEvents.some(e => e.event === 'onSuccess')",
            WAIT,
        )
        .await;

    // 4. The import runs by itself and shows in the live list, then under Owners.
    browser
        .goto(&format!("{}/console/imports", app.address))
        .await;
    browser.wait_for("#imports", WAIT).await;
    browser.screenshot_into(SHOTS, "imports-live").await;
    browser
        .wait_for("tr.import[data-state=\"successful\"]", WAIT)
        .await;
    browser.screenshot_into(SHOTS, "imports-done").await;
    assert_eq!(
        app.count("select count(*) from commands where started_by = 'auto_import'")
            .await,
        1,
        "started by Aisle, not by the client's backend"
    );
    assert_eq!(app.count("select count(*) from commands").await, 1);

    browser
        .goto(&format!("{}/console/owners", app.address))
        .await;
    let link = browser.wait_for("a.owner-link", WAIT).await;
    assert_eq!(link.text().await.unwrap(), "owner-7");
    browser.screenshot_into(SHOTS, "owners").await;
    browser.click("a.owner-link").await;

    // 5. The balance chart renders, a filter works, the CSV holds the rows.
    browser.wait_for(".balance-chart svg polyline", WAIT).await;
    browser.screenshot_into(SHOTS, "owner").await;
    browser.fill("#filter-text", "Miete").await;
    browser.click("#apply-filter").await;
    browser
        .wait_until_js("location.search.includes('text=Miete')", WAIT)
        .await;
    browser.wait_for("#transactions", WAIT).await;
    browser
        .eval("document.querySelector('#transaction-filter').scrollIntoView() || true")
        .await;
    browser.screenshot_into(SHOTS, "owner-filtered").await;
    let shown: Vec<String> = serde_json::from_value(
        browser
            .eval("[...document.querySelectorAll('#transactions tr.tx .description')].map(td => td.textContent)")
            .await,
    )
    .unwrap();
    assert!(!shown.is_empty());
    assert!(shown.iter().all(|d| d.contains("Miete")), "{shown:?}");
    let csv = browser
        .eval("fetch(document.querySelector('#download-csv').href).then(r => r.text())")
        .await;
    let csv = csv.as_str().unwrap_or_default();
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert_eq!(rows.len(), shown.len(), "{csv}");
    assert!(rows.iter().all(|row| row.contains("Miete")), "{csv}");

    browser
        .goto(&format!("{}/console/usage", app.address))
        .await;
    browser.wait_for("#per-day svg", WAIT).await;
    browser.screenshot_into(SHOTS, "usage").await;
    browser
        .goto(&format!("{}/console/users", app.address))
        .await;
    browser.wait_for("#users", WAIT).await;
    browser
        .fill("#invite input[name=\"login\"]", "grace@example.com")
        .await;
    browser.click("#invite button").await;
    let link = browser.text("#setup-link code").await;
    browser.screenshot_into(SHOTS, "team").await;
    // The invited person's first page: a password, and the authenticator's QR code.
    browser.click("form.who button").await;
    browser.wait_for("#login-form", WAIT).await;
    browser.goto(&link).await;
    browser.wait_for("#setup-form svg.qr, svg.qr", WAIT).await;
    browser.screenshot_into(SHOTS, "setup").await;
    browser.close().await;
}
