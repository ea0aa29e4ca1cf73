//! Shared by the HTTP tests: a bank on a free port and the calls a TPP makes to it.

// Each test binary uses its own subset of these helpers.
#![allow(dead_code)]

use aisle_sandbox_bank::{SandboxOptions, TEST_OTP, TEST_PASSWORD, serve};
use chrono::{Days, NaiveDate, Utc};
use reqwest::redirect::Policy;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

pub const REDIRECT_URI: &str = "https://tpp.example/back?state=1";

/// Starts a bank on a free port; it stops when the test's runtime ends.
pub async fn start_bank() -> String {
    start_bank_with(SandboxOptions::default()).await
}

/// [`start_bank`] with dials of the test's choosing.
pub async fn start_bank_with(options: SandboxOptions) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a free port");
    let address = listener.local_addr().expect("local address");
    tokio::spawn(serve(listener, options, std::future::pending()));
    format!("http://{address}")
}

/// A client that, like a test of a redirect flow must, does not follow redirects.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .expect("client")
}

pub fn today() -> NaiveDate {
    Utc::now().date_naive()
}

pub fn days_ago(days: u64) -> NaiveDate {
    today() - Days::new(days)
}

pub fn code_of(body: &Value) -> &str {
    body["tppMessages"][0]["code"].as_str().unwrap_or_default()
}

/// Asserts that the bank refused with `status` and the Berlin Group message code `code`.
pub async fn assert_refused(response: Response, status: StatusCode, code: &str) {
    assert_eq!(response.status(), status);
    assert_eq!(code_of(&response.json().await.expect("json")), code);
}

/// `POST /v1/consents` with `headers` (name, value) added to the usual ones.
pub async fn create_consent_with(bank: &str, headers: &[(&str, &str)]) -> Response {
    let mut request = client()
        .post(format!("{bank}/v1/consents"))
        .header("TPP-Redirect-URI", REDIRECT_URI)
        .json(&json!({
            "access": {"allPsd2": "allAccounts"},
            "recurringIndicator": "false",
            "validUntil": "2999-01-01",
            "frequencyPerDay": 4
        }));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.expect("consent request")
}

/// The consent id and SCA page URL a consent-creation answer names.
pub fn id_and_sca(created: &Value) -> (String, String) {
    let id = created["consentId"].as_str().expect("consentId").to_owned();
    let sca = created["_links"]["scaRedirect"]["href"]
        .as_str()
        .expect("scaRedirect")
        .to_owned();
    (id, sca)
}

/// A consent created with `headers` added to the usual ones, not yet approved: its id and SCA
/// page URL.
pub async fn received_consent_with(bank: &str, headers: &[(&str, &str)]) -> (String, String) {
    let created = create_consent_with(bank, headers).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    id_and_sca(&created.json().await.expect("json"))
}

/// A consent for `psu`, created but not yet approved: its id and SCA page URL.
pub async fn received_consent(bank: &str, psu: Option<&str>) -> (String, String) {
    let headers: Vec<(&str, &str)> = psu.map(|p| ("PSU-ID", p)).into_iter().collect();
    received_consent_with(bank, &headers).await
}

/// `DELETE /v1/consents/{consent}`, as a TPP ends a consent.
pub async fn delete_consent(bank: &str, consent: &str) -> Response {
    client()
        .delete(format!("{bank}/v1/consents/{consent}"))
        .send()
        .await
        .expect("delete")
}

/// Posts the SCA page's form.
pub async fn submit(sca: &str, fields: &[(&str, &str)]) -> Response {
    client()
        .post(sca)
        .form(fields)
        .send()
        .await
        .expect("SCA form")
}

/// Approves on the SCA page with the test password and code.
pub async fn approve(sca: &str) -> Response {
    submit(
        sca,
        &[
            ("password", TEST_PASSWORD),
            ("otp", TEST_OTP),
            ("decision", "approve"),
        ],
    )
    .await
}

/// Signs `login` in, as a TPP and a PSU together would; returns the valid consent's id.
pub async fn signed_in(bank: &str, login: &str) -> String {
    let (id, sca) = received_consent(bank, Some(login)).await;
    let approved = approve(&sca).await;
    assert_eq!(approved.status(), StatusCode::SEE_OTHER, "{login} approves");
    id
}

/// A GET under the bank with the consent's id, as every AIS data call is made.
pub async fn data_call(bank: &str, consent: &str, path: &str) -> Response {
    data_call_with(&client(), bank, consent, path).await
}

/// [`data_call`] on a client of the caller's, for loops that would otherwise build a client
/// (and its TLS setup) per call.
pub async fn data_call_with(
    client: &reqwest::Client,
    bank: &str,
    consent: &str,
    path: &str,
) -> Response {
    client
        .get(format!("{bank}{path}"))
        .header("Consent-ID", consent)
        .send()
        .await
        .expect("data call")
}

pub async fn consent_status(bank: &str, consent: &str) -> String {
    let body: Value = client()
        .get(format!("{bank}/v1/consents/{consent}/status"))
        .send()
        .await
        .expect("status")
        .json()
        .await
        .expect("json");
    body["consentStatus"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// The persona's accounts, with balances.
pub async fn accounts(bank: &str, consent: &str) -> Vec<Value> {
    let body: Value = data_call(bank, consent, "/v1/accounts?withBalance=true")
        .await
        .json()
        .await
        .expect("accounts json");
    body["accounts"].as_array().cloned().unwrap_or_default()
}

pub fn transactions_path(account: &Value, from: NaiveDate, to: NaiveDate) -> String {
    let id = account["resourceId"].as_str().expect("resourceId");
    format!("/v1/accounts/{id}/transactions?dateFrom={from}&dateTo={to}&bookingStatus=booked")
}

/// Every booked row of `from..=to`, following `next` links, in the order the bank gives them;
/// also how many pages that took. A 503 or 429 is retried once, as an importer would.
pub async fn booked_rows(
    bank: &str,
    consent: &str,
    account: &Value,
    from: NaiveDate,
    to: NaiveDate,
) -> (Vec<Value>, usize) {
    let mut path = Some(transactions_path(account, from, to));
    let mut rows = Vec::new();
    let mut pages = 0;
    let client = client();
    while let Some(current) = path.take() {
        let mut response = data_call_with(&client, bank, consent, &current).await;
        if matches!(
            response.status(),
            StatusCode::SERVICE_UNAVAILABLE | StatusCode::TOO_MANY_REQUESTS
        ) {
            response = data_call_with(&client, bank, consent, &current).await;
        }
        assert_eq!(response.status(), StatusCode::OK, "{current}");
        let body: Value = response.json().await.expect("report json");
        pages += 1;
        rows.extend(
            body["transactions"]["booked"]
                .as_array()
                .cloned()
                .unwrap_or_default(),
        );
        path = body["transactions"]["_links"]["next"]["href"]
            .as_str()
            .map(str::to_owned);
    }
    (rows, pages)
}

pub fn amount(value: &Value) -> rust_decimal::Decimal {
    value["amount"]
        .as_str()
        .and_then(|a| a.parse().ok())
        .expect("a decimal amount string")
}

/// A booked row's balance after it, if the bank prints one.
pub fn balance_after(row: &Value) -> Option<rust_decimal::Decimal> {
    let balance = &row["balanceAfterTransaction"]["balanceAmount"];
    balance.is_object().then(|| amount(balance))
}

/// The rows (by `transactionId`, or position) whose balance is not the previous balance plus
/// their amount.
pub fn balance_breaks(rows: &[Value]) -> Vec<String> {
    rows.windows(2)
        .enumerate()
        .filter(|(_, pair)| {
            let before = balance_after(&pair[0]).expect("booked rows carry balances");
            let after = balance_after(&pair[1]).expect("booked rows carry balances");
            before + amount(&pair[1]["transactionAmount"]) != after
        })
        .map(|(i, pair)| {
            pair[1]["transactionId"]
                .as_str()
                .map_or_else(|| format!("row {}", i + 1), str::to_owned)
        })
        .collect()
}

pub fn closing_booked(account: &Value) -> rust_decimal::Decimal {
    let balances = account["balances"].as_array().expect("balances");
    let closing = balances
        .iter()
        .find(|b| b["balanceType"] == "closingBooked")
        .expect("closingBooked");
    amount(&closing["balanceAmount"])
}
