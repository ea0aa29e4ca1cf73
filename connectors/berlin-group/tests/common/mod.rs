//! Test support: a wiremock bank serving the spec-derived fixtures of `fixtures/berlin-group/`
//! (see the README there for where each comes from).

// Each test file uses its own part of this module.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use aisle_berlin_group::{BerlinGroupConnector, default_profile};
use aisle_sdk::{BankSession, DateWindow, SignInRequest};
use chrono::{NaiveDate, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};
use url::Url;
use wiremock::matchers::{header as has_header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

/// The absolute host of the spec's examples (`scaRedirect`, `scaOAuth`), served by the mock.
const SPEC_HOST: &str = "https://www.testbank.com";

/// The consent id of the spec's consent examples.
pub const CONSENT_ID: &str = "1234-wertiq-983";

/// The resource ids of `accountListExample1` and `cardAccountListExample1`.
pub const EUR_ACCOUNT: &str = "3dc3d5b3-7023-4848-9853-f5400a64e80f";
pub const USD_ACCOUNT: &str = "3dc3d5b3-7023-4848-9853-f5400a64e81e";
pub const CARD: &str = "3d9a81b3-a47d-4130-8765-a9c0ff861b99";

/// The access token of `oauth-token.json`.
pub const ACCESS_TOKEN: &str = "2YotnFZFEjr1zCsicMWpAA";

pub const REDIRECT_URI: &str = "https://aisle.example/signin/callback";

fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/berlin-group")
}

fn fixture_text(name: &str) -> String {
    let path = fixtures_dir().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
}

/// A fixture file: its wrapper with `source`, `cleaned`, `status` and `body`.
pub fn fixture(name: &str) -> Value {
    let wrapper: Value =
        serde_json::from_str(&fixture_text(name)).unwrap_or_else(|e| panic!("fixture {name}: {e}"));
    for key in ["source", "cleaned", "body"] {
        assert!(wrapper.get(key).is_some(), "fixture {name} has no {key}");
    }
    wrapper
}

/// A fixture as the answer of the bank at `uri`: its status and its body as the file writes
/// it, the spec's host replaced by `uri` (text bodies as `text/plain`). Sent verbatim, so an
/// amount the fixture gives as a JSON number reaches the connector digit for digit.
pub fn fixture_answer(name: &str, uri: &str) -> ResponseTemplate {
    /// The wrapper, its body kept as text; `source` and `cleaned` must be there too.
    #[derive(Deserialize)]
    struct Verbatim {
        source: Box<RawValue>,
        cleaned: Box<RawValue>,
        status: Option<u16>,
        body: Box<RawValue>,
    }
    let wrapper: Verbatim =
        serde_json::from_str(&fixture_text(name)).unwrap_or_else(|e| panic!("fixture {name}: {e}"));
    let status = wrapper.status.unwrap_or(200);
    let body = wrapper.body.get().replace(SPEC_HOST, uri);
    match serde_json::from_str::<String>(&body) {
        Ok(text) => ResponseTemplate::new(status).set_body_string(text),
        Err(_) => ResponseTemplate::new(status).set_body_raw(body, "application/json"),
    }
}

/// A bank played by wiremock, its XS2A root at `/psd2` as in the spec's links.
pub struct Bank {
    pub server: MockServer,
}

impl Bank {
    pub async fn start() -> Self {
        Self {
            server: MockServer::start().await,
        }
    }

    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// The XS2A root the connector is given.
    pub fn base(&self) -> Url {
        Url::parse(&format!("{}/psd2", self.server.uri())).expect("base url")
    }

    /// A fixture's body, the spec's host replaced by this bank's, for a test to edit. A
    /// `Value` holds a JSON number as an `f64`: amounts to be read exactly go out through
    /// [`Bank::answer`], which sends the file's text.
    pub fn body(&self, name: &str) -> Value {
        let body = fixture(name)["body"].to_string();
        serde_json::from_str(&body.replace(SPEC_HOST, &self.uri())).expect("body")
    }

    /// A fixture as this bank's answer (see [`fixture_answer`]).
    pub fn answer(&self, name: &str) -> ResponseTemplate {
        fixture_answer(name, &self.uri())
    }

    pub fn connector(&self) -> BerlinGroupConnector {
        BerlinGroupConnector::new(self.base(), default_profile(), reqwest::Client::new())
    }

    /// The requests the bank received, as (method, path, query) and the request itself.
    pub async fn received(&self) -> Vec<Request> {
        self.server
            .received_requests()
            .await
            .expect("request recording is on")
    }

    /// The received requests to `path`.
    pub async fn received_at(&self, path: &str) -> Vec<Request> {
        self.received()
            .await
            .into_iter()
            .filter(|r| r.url.path() == path)
            .collect()
    }
}

/// A redirect-approach session for the spec's consent.
pub fn session() -> BankSession {
    BankSession {
        secret: json!({"consentId": CONSENT_ID}).to_string(),
        sca_at: Utc::now(),
    }
}

pub fn sign_in_request() -> SignInRequest {
    SignInRequest {
        psu_id: Some("PSU-1234".to_owned()),
        psu_ip_address: Some("192.0.2.10".to_owned()),
        redirect_uri: REDIRECT_URI.to_owned(),
        max_import_date: None,
        force_sca: false,
    }
}

/// October 2017, the month of the spec's transaction examples.
pub fn october_2017() -> DateWindow {
    let day = |d| NaiveDate::from_ymd_opt(2017, 10, d).expect("date");
    DateWindow::new(day(1), day(31)).expect("window")
}

/// A header of a received request, as text.
pub fn header<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
    request.headers.get(name).and_then(|v| v.to_str().ok())
}

/// The query parameters of a received request.
pub fn query(request: &Request) -> Vec<(String, String)> {
    request.url.query_pairs().into_owned().collect()
}

/// The form a received request posted (`application/x-www-form-urlencoded`).
pub fn form(request: &Request) -> BTreeMap<String, String> {
    url::form_urlencoded::parse(&request.body)
        .into_owned()
        .collect()
}

/// Expects an OAuth2 session to end at the bank: its consent deleted under its token, then the
/// token revoked, each once.
pub async fn expect_oauth_session_end(bank: &Bank) {
    Mock::given(method("DELETE"))
        .and(path(format!("/psd2/v1/consents/{CONSENT_ID}")))
        .and(has_header(
            "Authorization",
            format!("Bearer {ACCESS_TOKEN}").as_str(),
        ))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&bank.server)
        .await;
    expect_revocation(bank, ResponseTemplate::new(200)).await;
}

/// Expects one token revocation, answered with `answer`.
pub async fn expect_revocation(bank: &Bank, answer: ResponseTemplate) {
    Mock::given(method("POST"))
        .and(path("/oauth/revoke"))
        .respond_with(answer)
        .expect(1)
        .mount(&bank.server)
        .await;
}
