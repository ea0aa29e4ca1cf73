//! The bank's SCA page over real HTTP: the form, and where each way of leaving it leads.

mod common;

use aisle_sandbox_bank::{TEST_OTP, TEST_PASSWORD};
use reqwest::{Response, StatusCode};
use serde_json::Value;

use common::{
    REDIRECT_URI, accounts, approve, assert_refused, client, consent_status, create_consent_with,
    data_call, delete_consent, received_consent, received_consent_with, start_bank, submit,
};

const NOK_URI: &str = "https://tpp.example/nok";

fn location(response: &Response) -> &str {
    response
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .unwrap_or_default()
}

async fn page(sca: &str) -> (StatusCode, String, String) {
    let response = client().get(sca).send().await.expect("SCA page");
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|c| c.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, content_type, response.text().await.expect("html"))
}

/// A consent the TPP created without `PSU-ID` and with a NOK redirect.
async fn anonymous_consent_with_nok(bank: &str) -> (String, String) {
    received_consent_with(bank, &[("TPP-Nok-Redirect-URI", NOK_URI)]).await
}

/// Posts the page's form with `decision=approve`: the login typed (if the page asks for it),
/// the password and the one-time code.
async fn approve_with(sca: &str, login: Option<&str>, password: &str, otp: &str) -> Response {
    let mut fields = vec![
        ("password", password),
        ("otp", otp),
        ("decision", "approve"),
    ];
    if let Some(login) = login {
        fields.insert(0, ("login", login));
    }
    submit(sca, &fields).await
}

/// Approves as `login`, typed on the page, with the test password and code.
async fn approve_as(sca: &str, login: &str) -> Response {
    approve_with(sca, Some(login), TEST_PASSWORD, TEST_OTP).await
}

/// Asserts that a decision on the page sent the PSU to `to` (a 303) and left consent `id`
/// with `status`.
async fn assert_sent_back(bank: &str, id: &str, decided: &Response, to: &str, status: &str) {
    assert_eq!(decided.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(decided), to);
    assert_eq!(consent_status(bank, id).await, status);
}

#[tokio::test]
async fn the_sca_page_is_a_form_that_asks_for_the_login_only_when_the_tpp_named_nobody() {
    let bank = start_bank().await;
    let (anonymous, sca) = received_consent(&bank, None).await;
    assert_eq!(sca, format!("{bank}/sca/{anonymous}"));
    let (status, content_type, html) = page(&sca).await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/html"), "{content_type}");
    assert!(html.starts_with("<!doctype html>"));
    for field in [
        "name=\"login\"",
        "name=\"password\"",
        "name=\"otp\"",
        "name=\"decision\" value=\"approve\"",
        "name=\"decision\" value=\"deny\"",
        &format!("action=\"/sca/{anonymous}\""),
    ] {
        assert!(html.contains(field), "{field} missing from {html}");
    }

    let (_, sca) = received_consent(&bank, Some("alice")).await;
    let (_, _, html) = page(&sca).await;
    assert!(!html.contains("name=\"login\""), "{html}");
    assert!(html.contains("Alice Example"));
}

#[tokio::test]
async fn approving_with_the_test_password_and_code_returns_to_the_tpp_with_its_uri_unchanged() {
    let bank = start_bank().await;
    let (id, sca) = received_consent(&bank, None).await;
    let approved = approve_as(&sca, "bob").await;
    assert_sent_back(&bank, &id, &approved, REDIRECT_URI, "valid").await;
    let accounts = accounts(&bank, &id).await;
    assert_eq!(accounts[0]["ownerName"], "Bob Builder GmbH");
    let consent: Value = client()
        .get(format!("{bank}/v1/consents/{id}"))
        .send()
        .await
        .expect("consent")
        .json()
        .await
        .expect("json");
    assert_eq!(consent["lastActionDate"], common::today().to_string());
}

#[tokio::test]
async fn a_wrong_password_rejects_the_consent_and_goes_to_the_nok_uri() {
    let bank = start_bank().await;
    let (id, sca) = anonymous_consent_with_nok(&bank).await;
    let refused = approve_with(&sca, Some("alice"), "guess", TEST_OTP).await;
    assert_sent_back(
        &bank,
        &id,
        &refused,
        "https://tpp.example/nok?error=invalid_credentials",
        "rejected",
    )
    .await;
    let read = data_call(&bank, &id, "/v1/accounts").await;
    assert_refused(read, StatusCode::UNAUTHORIZED, "CONSENT_INVALID").await;
}

#[tokio::test]
async fn a_wrong_code_without_a_nok_uri_goes_back_to_the_redirect_uri_with_the_error_appended() {
    let bank = start_bank().await;
    let (id, sca) = received_consent(&bank, Some("alice")).await;
    let refused = approve_with(&sca, None, TEST_PASSWORD, "000000").await;
    assert_sent_back(
        &bank,
        &id,
        &refused,
        "https://tpp.example/back?state=1&error=invalid_credentials",
        "rejected",
    )
    .await;
}

#[tokio::test]
async fn denying_rejects_the_consent_with_access_denied() {
    let bank = start_bank().await;
    let (id, sca) = anonymous_consent_with_nok(&bank).await;
    let denied = submit(&sca, &[("decision", "deny")]).await;
    assert_sent_back(
        &bank,
        &id,
        &denied,
        "https://tpp.example/nok?error=access_denied",
        "rejected",
    )
    .await;
}

#[tokio::test]
async fn the_locked_login_on_the_page_is_rejected_with_access_blocked() {
    let bank = start_bank().await;
    let (id, sca) = received_consent(&bank, None).await;
    let blocked = approve_as(&sca, "locked").await;
    assert_sent_back(
        &bank,
        &id,
        &blocked,
        "https://tpp.example/back?state=1&error=access_blocked",
        "rejected",
    )
    .await;
}

#[tokio::test]
async fn an_unknown_login_on_the_page_shows_the_form_again_escaped_and_changes_nothing() {
    let bank = start_bank().await;
    let (id, sca) = received_consent(&bank, None).await;
    let again = approve_as(&sca, "<script>mallory</script>").await;
    assert_eq!(again.status(), StatusCode::OK);
    let html = again.text().await.expect("html");
    assert!(html.contains("not known"), "{html}");
    assert!(
        // minijinja's HTML escaping writes `/` as `&#x2f;` too.
        html.contains("value=\"&lt;script&gt;mallory&lt;&#x2f;script&gt;\""),
        "{html}"
    );
    assert!(!html.contains("<script>"), "{html}");
    assert_eq!(consent_status(&bank, &id).await, "received");
    // The PSU may then correct the login and go on.
    let approved = approve_as(&sca, "alice").await;
    assert_eq!(approved.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_decided_consent_cannot_be_decided_again_but_a_repeat_approve_lands_on_the_same_redirect()
{
    let bank = start_bank().await;
    let (id, sca) = received_consent(&bank, Some("alice")).await;
    let first = approve(&sca).await;
    let second = approve(&sca).await;
    assert_eq!(second.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&first), location(&second));
    let deny_after_approve = submit(&sca, &[("decision", "deny")]).await;
    assert_refused(deny_after_approve, StatusCode::CONFLICT, "STATUS_INVALID").await;
    assert_eq!(consent_status(&bank, &id).await, "valid");

    let (_, rejected) = received_consent(&bank, Some("alice")).await;
    submit(&rejected, &[("decision", "deny")]).await;
    assert_eq!(approve(&rejected).await.status(), StatusCode::CONFLICT);

    let (terminated_id, terminated) = received_consent(&bank, Some("alice")).await;
    delete_consent(&bank, &terminated_id).await;
    assert_eq!(approve(&terminated).await.status(), StatusCode::CONFLICT);
}

#[tokio::test]
async fn a_locked_psu_id_is_refused_at_consent_creation_with_service_blocked() {
    let bank = start_bank().await;
    let refused = create_consent_with(&bank, &[("PSU-ID", "locked")]).await;
    assert_refused(refused, StatusCode::FORBIDDEN, "SERVICE_BLOCKED").await;
}
