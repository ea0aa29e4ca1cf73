//! The Kontomatik-compatible face: every reply shape in `kontomatik-compat.md` against Aisle's
//! real answers for sandbox personas, read with an XML parser (roxmltree) other than the
//! writer the service uses.

use std::time::{Duration, Instant};

use aisle::{
    commands::finish::Target,
    model::command::{CommandErrorCode, Outcome},
    store::commands::Fence,
};
use chrono::{Days, Utc};
use reqwest::{RequestBuilder, StatusCode};
use roxmltree::{Document, Node};
use serde_json::Value;
use uuid::Uuid;

use crate::helpers::{TestApp, spawn_app, spawn_app_without_workers};

const WAIT: Duration = Duration::from_secs(60);

/// An XML answer: its HTTP status, `Retry-After`, content type and body.
pub struct XmlReply {
    pub status: StatusCode,
    pub retry_after: Option<String>,
    pub content_type: String,
    pub body: String,
}

impl XmlReply {
    pub async fn read(request: RequestBuilder) -> XmlReply {
        let response = request.send().await.unwrap();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_string())
        };
        XmlReply {
            status: response.status(),
            retry_after: header("retry-after"),
            content_type: header("content-type").unwrap_or_default(),
            body: response.text().await.unwrap(),
        }
    }

    /// The document, after checking what every reply shares: UTF-8 declared, a `<reply>` root
    /// whose `status` is the HTTP status, and a response timestamp.
    pub fn document(&self) -> Document<'_> {
        assert!(
            self.body
                .starts_with(r#"<?xml version="1.0" encoding="UTF-8"?>"#),
            "{}",
            self.body
        );
        assert_eq!(self.content_type, "application/xml; charset=utf-8");
        let document = Document::parse(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body));
        let reply = document.root_element();
        assert_eq!(reply.tag_name().name(), "reply", "{}", self.body);
        assert_eq!(
            reply.attribute("status"),
            Some(self.status.to_string().as_str())
        );
        let at = reply.attribute("responseTimestamp").unwrap();
        assert!(
            chrono::NaiveDateTime::parse_from_str(at, "%Y-%m-%dT%H:%M:%SZ").is_ok(),
            "{at}"
        );
        document
    }
}

/// The element at `path` (`a/b/c`, names of first children) under `node`.
pub fn at<'a, 'i>(node: Node<'a, 'i>, path: &str) -> Node<'a, 'i> {
    path.split('/').fold(node, |node, name| {
        node.children()
            .find(|c| c.has_tag_name(name))
            .unwrap_or_else(|| panic!("no <{name}> in <{}>", node.tag_name().name()))
    })
}

/// Whether `node` has a child element `name`.
pub fn has(node: Node, name: &str) -> bool {
    node.children().any(|c| c.has_tag_name(name))
}

/// The text of the element at `path`.
pub fn text<'a>(node: Node<'a, '_>, path: &str) -> &'a str {
    at(node, path).text().unwrap_or_default()
}

/// The child elements named `name`.
pub fn all<'a, 'i>(node: Node<'a, 'i>, name: &str) -> Vec<Node<'a, 'i>> {
    node.children().filter(|c| c.has_tag_name(name)).collect()
}

impl TestApp {
    fn compat(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// A form post with the key in `X-Api-Key`.
    async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> XmlReply {
        XmlReply::read(
            self.http
                .post(self.compat(path))
                .header("X-Api-Key", &self.api_key)
                .form(form),
        )
        .await
    }

    async fn get_xml(&self, path: &str) -> XmlReply {
        XmlReply::read(
            self.http
                .get(self.compat(path))
                .header("X-Api-Key", &self.api_key),
        )
        .await
    }

    /// A sandbox session from `mock-session.xml`: `(sessionId, signature)`.
    async fn mock_session(&self, login: &str, extra: &[(&str, &str)]) -> (String, String) {
        let mut form = vec![
            ("login", login),
            ("ownerExternalId", "owner-1"),
            ("country", "DE"),
        ];
        form.extend_from_slice(extra);
        let reply = self.post_form("/v1/mock-session.xml", &form).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        let document = reply.document();
        let session = at(document.root_element(), "session");
        (
            session.attribute("id").unwrap().to_string(),
            session.attribute("signature").unwrap().to_string(),
        )
    }

    /// Posts Default Import as a form; returns the command id from the 202 reply.
    async fn xml_import(&self, session: &(String, String), since: Option<&str>) -> String {
        let mut form = vec![
            ("sessionId", session.0.as_str()),
            ("sessionIdSignature", session.1.as_str()),
        ];
        if let Some(since) = since {
            form.push(("since", since));
        }
        let reply = self
            .post_form("/v1/command/default-import.xml", &form)
            .await;
        assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
        let document = reply.document();
        let root = document.root_element();
        assert_eq!(root.attribute("user"), Some("test client"));
        assert_eq!(root.attribute("ownerExternalId"), Some("owner-1"));
        let command = at(root, "command");
        assert_eq!(command.attribute("state"), Some("in_progress"));
        assert_eq!(command.attribute("name"), Some("DefaultImportCommand"));
        // Queued (0), or already reading accounts (10) when a worker was quicker than this.
        assert!(
            matches!(text(command, "progress/value"), "0" | "10"),
            "{}",
            reply.body
        );
        command.attribute("id").unwrap().to_string()
    }

    /// Polls `command/{id}.xml` until it leaves `in_progress`.
    async fn xml_result(&self, command_id: &str) -> XmlReply {
        let started = Instant::now();
        loop {
            let reply = self.get_xml(&format!("/v1/command/{command_id}.xml")).await;
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
            let state = {
                let document = reply.document();
                at(document.root_element(), "command")
                    .attribute("state")
                    .unwrap()
                    .to_string()
            };
            if state != "in_progress" {
                return reply;
            }
            assert!(
                started.elapsed() < WAIT,
                "still in progress: {}",
                reply.body
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn days_ago(days: u64) -> String {
    (Utc::now().date_naive() - Days::new(days)).to_string()
}

/// `-20.00`: a signed amount with EUR's two minor digits.
fn is_eur_amount(value: &str) -> bool {
    let digits = value.strip_prefix('-').unwrap_or(value);
    let (units, cents) = digits.split_once('.').unwrap_or((digits, ""));
    !units.is_empty() && units.bytes().all(|b| b.is_ascii_digit()) && cents.len() == 2
}

#[tokio::test]
async fn a_form_posted_default_import_of_alice_ends_successful_in_kontomatiks_result_shape() {
    let app = spawn_app().await;
    let session = app.mock_session("alice", &[]).await;
    let command_id = app.xml_import(&session, None).await;
    let reply = app.xml_result(&command_id).await;
    let document = reply.document();
    let root = document.root_element();
    assert_eq!(root.attribute("user"), Some("test client"));
    let command = at(root, "command");
    assert_eq!(command.attribute("id"), Some(command_id.as_str()));
    assert_eq!(
        command.attribute("state"),
        Some("successful"),
        "{}",
        reply.body
    );
    assert_eq!(command.attribute("name"), Some("DefaultImportCommand"));
    assert_eq!(command.attribute("target"), Some("sandbox"));
    assert_eq!(
        command.attribute("institution"),
        Some("Aisle Sandbox Bank (Berlin Group)")
    );
    assert_eq!(text(command, "progress/value"), "100");
    assert!(!has(command, "exception"));
    assert!(reply.retry_after.is_none());

    let result = at(command, "result");
    let owners = all(at(result, "owners"), "owner");
    assert!(!owners.is_empty());
    for owner in &owners {
        assert!(!text(*owner, "name").is_empty());
        assert!(["OWNER", "CO_OWNER"].contains(&text(*owner, "kind")));
    }

    // The JSON face of the same command is the reference for what the XML must carry.
    let json: Value = app
        .get_command(&app.api_key, &command_id)
        .await
        .json()
        .await
        .unwrap();
    let json_accounts = json["result"]["accounts"].as_array().unwrap();
    let accounts = all(at(result, "accounts"), "account");
    assert_eq!(accounts.len(), json_accounts.len());
    for (account, expected) in accounts.iter().zip(json_accounts) {
        assert_eq!(account.attribute("partialDueToTimeout"), None);
        assert!(!text(*account, "name").is_empty());
        assert_eq!(text(*account, "iban"), expected["iban"]);
        assert_eq!(text(*account, "currencyName"), "EUR");
        assert!(is_eur_amount(text(*account, "currencyBalance")));
        let rows = all(at(*account, "moneyTransactions"), "moneyTransaction");
        let expected_rows = expected["transactions"]["booked"].as_array().unwrap().len()
            + expected["transactions"]["pending"]
                .as_array()
                .unwrap()
                .len();
        assert_eq!(rows.len(), expected_rows);
        assert!(!rows.is_empty());
        for row in rows {
            assert!(
                is_eur_amount(text(row, "currencyAmount")),
                "{}",
                text(row, "currencyAmount")
            );
            assert!(chrono::NaiveDate::parse_from_str(text(row, "bookedOn"), "%Y-%m-%d").is_ok());
            assert!(has(row, "transactionOn"));
            assert!(["DONE", "PENDING"].contains(&text(row, "status")));
            assert_eq!(has(row, "party"), has(row, "partyIban"));
            // No currency and no id per transaction, as in Kontomatik's replies.
            assert!(!has(row, "currency") && !has(row, "id"));
        }
    }
    let cards = all(at(result, "creditCards"), "creditCard");
    assert_eq!(
        cards.len(),
        json["result"]["cards"].as_array().unwrap().len()
    );
    for card in cards {
        assert!(!text(card, "cardId").is_empty());
        assert!(has(card, "number"));
        assert_eq!(text(card, "currencyName"), "EUR");
        assert!(has(card, "moneyTransactions"));
    }
}

#[tokio::test]
async fn an_account_whose_history_is_cut_by_the_bank_is_marked_partial_due_to_timeout() {
    let app = spawn_app().await;
    let session = app.mock_session("alice", &[]).await;
    // Further back than the sandbox bank keeps (ten years): the receipt has a shortfall.
    let command_id = app.xml_import(&session, Some(&days_ago(3700))).await;
    let reply = app.xml_result(&command_id).await;
    let document = reply.document();
    let command = at(document.root_element(), "command");
    assert_eq!(
        command.attribute("state"),
        Some("successful"),
        "{}",
        reply.body
    );
    let accounts = all(at(command, "result/accounts"), "account");
    assert!(!accounts.is_empty());
    for account in accounts {
        assert_eq!(account.attribute("partialDueToTimeout"), Some("true"));
    }
}

#[tokio::test]
async fn a_command_still_running_answers_in_progress_with_its_progress_and_retry_after() {
    let app = spawn_app_without_workers().await;
    let session = app.mock_session("alice", &[]).await;
    let command_id = app.xml_import(&session, None).await;
    let reply = app.get_xml(&format!("/v1/command/{command_id}.xml")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.retry_after.as_deref(), Some("2"));
    let document = reply.document();
    let command = at(document.root_element(), "command");
    assert_eq!(command.attribute("state"), Some("in_progress"));
    assert_eq!(text(command, "progress/value"), "0");
    assert!(!has(command, "result") && !has(command, "exception"));
}

#[tokio::test]
async fn failed_imports_answer_error_with_the_exception_named_for_their_code() {
    let app = spawn_app().await;
    let cases = [
        ("garbage", None, "BankProtocolError", "BankProtocolError"),
        (
            "expiring",
            Some(days_ago(364)),
            "SessionExpired",
            "SessionExpired",
        ),
    ];
    for (login, since, name, code) in cases {
        let session = app.mock_session(login, &[]).await;
        let command_id = app.xml_import(&session, since.as_deref()).await;
        let reply = app.xml_result(&command_id).await;
        let document = reply.document();
        let command = at(document.root_element(), "command");
        assert_eq!(command.attribute("state"), Some("error"), "{}", reply.body);
        assert_eq!(command.attribute("name"), Some("DefaultImportCommand"));
        assert_eq!(text(command, "progress/value"), "100");
        let exception = at(command, "exception");
        assert_eq!(exception.attribute("name"), Some(name), "{login}");
        assert!(
            text(exception, "message").starts_with(code),
            "{}",
            reply.body
        );
        assert!(!has(command, "result"));
    }
}

#[tokio::test]
async fn an_import_ended_by_an_internal_failure_answers_fatal() {
    let app = spawn_app_without_workers().await;
    let session = app.mock_session("alice", &[]).await;
    let command_id = app.xml_import(&session, None).await;
    let finished = app
        .import_context()
        .finisher()
        .finish(
            &Target {
                command_id: command_id.parse().unwrap(),
                client_id: app.client_id,
                session_id: session.0.parse().unwrap(),
                bank_id: "sandbox".into(),
            },
            Fence::Unleased,
            &Outcome::error(CommandErrorCode::Internal, "the worker failed"),
        )
        .await
        .unwrap();
    assert!(finished);
    let reply = app.xml_result(&command_id).await;
    let document = reply.document();
    let command = at(document.root_element(), "command");
    assert_eq!(command.attribute("state"), Some("fatal"));
    assert_eq!(at(command, "exception").attribute("name"), Some("Internal"));
}

/// Asserts a request error: the HTTP status, the same status in the reply, and the exception.
fn assert_exception(reply: &XmlReply, status: StatusCode, name: &str) {
    assert_eq!(reply.status, status, "{name}: {}", reply.body);
    let document = reply.document();
    let exception = at(document.root_element(), "exception");
    assert_eq!(exception.attribute("name"), Some(name), "{}", reply.body);
    assert!(!text(exception, "message").is_empty());
}

#[tokio::test]
async fn every_request_error_answers_its_exception_with_the_http_status_in_the_reply() {
    let app = spawn_app_without_workers().await;
    let import = "/v1/command/default-import.xml";
    let (id, signature) = app.mock_session("alice", &[]).await;

    let missing = app.post_form(import, &[("sessionIdSignature", "x")]).await;
    assert_exception(&missing, StatusCode::BAD_REQUEST, "InvalidParameter");
    let malformed = app
        .post_form(import, &[("sessionId", "12"), ("sessionIdSignature", "x")])
        .await;
    assert_exception(&malformed, StatusCode::NOT_FOUND, "InvalidSessionId");
    let unknown = Uuid::new_v4().to_string();
    let unknown = app
        .post_form(
            import,
            &[("sessionId", &unknown), ("sessionIdSignature", "x")],
        )
        .await;
    assert_exception(&unknown, StatusCode::NOT_FOUND, "InvalidSessionId");
    let forged = app
        .post_form(
            import,
            &[("sessionId", &id), ("sessionIdSignature", "00ff")],
        )
        .await;
    assert_exception(
        &forged,
        StatusCode::BAD_REQUEST,
        "InvalidSessionIdSignature",
    );
    let future = days_ago(0).replace('-', "/");
    let bad_since = app
        .post_form(
            import,
            &[
                ("sessionId", &id),
                ("sessionIdSignature", &signature),
                ("since", &future),
            ],
        )
        .await;
    assert_exception(&bad_since, StatusCode::BAD_REQUEST, "InvalidSince");

    app.xml_import(&(id.clone(), signature.clone()), None).await;
    let again = app
        .post_form(
            import,
            &[("sessionId", &id), ("sessionIdSignature", &signature)],
        )
        .await;
    assert_exception(&again, StatusCode::CONFLICT, "DefaultImportAlreadyExecuted");

    let (expired, expired_signature) = app.mock_session("alice", &[]).await;
    sqlx::query("update sessions set expires_at = now() - interval '1 second' where id = $1")
        .bind(Uuid::parse_str(&expired).unwrap())
        .execute(&app.pool)
        .await
        .unwrap();
    let late = app
        .post_form(
            import,
            &[
                ("sessionId", &expired),
                ("sessionIdSignature", &expired_signature),
            ],
        )
        .await;
    assert_exception(&late, StatusCode::GONE, "SessionExpired");

    let no_command = app
        .get_xml(&format!("/v1/command/{}.xml", Uuid::new_v4()))
        .await;
    assert_exception(&no_command, StatusCode::NOT_FOUND, "InvalidCommandId");
    let not_an_id = app.get_xml("/v1/command/42.xml").await;
    assert_exception(&not_an_id, StatusCode::NOT_FOUND, "InvalidCommandId");
    let nobody = app.get_xml("/v1/data.xml?ownerExternalId=nobody").await;
    assert_exception(&nobody, StatusCode::NOT_FOUND, "InvalidOwnerExternalId");

    let real_bank = app
        .post_form(
            "/v1/mock-session.xml",
            &[
                ("login", "alice"),
                ("ownerExternalId", "o"),
                ("target", "no-such-bank"),
            ],
        )
        .await;
    assert_exception(&real_bank, StatusCode::BAD_REQUEST, "InvalidTarget");
    let locked = app
        .post_form(
            "/v1/mock-session.xml",
            &[("login", "locked"), ("ownerExternalId", "o")],
        )
        .await;
    assert_exception(&locked, StatusCode::UNPROCESSABLE_ENTITY, "AccessBlocked");

    let (fenced, fenced_key) = app.create_client(&["10.0.0.0/8".parse().unwrap()]).await;
    assert_ne!(fenced, app.client_id);
    let outside = XmlReply::read(
        app.http
            .get(app.compat("/v1/data.xml?ownerExternalId=owner-1"))
            .header("X-Api-Key", fenced_key),
    )
    .await;
    assert_exception(&outside, StatusCode::FORBIDDEN, "IpNotAllowed");
}

#[tokio::test]
async fn a_missing_or_wrong_key_is_refused_with_401_and_a_legacy_api_key_parameter_is_accepted() {
    let app = spawn_app_without_workers().await;
    let url = app.compat("/v1/mock-session.xml");
    let form = [("login", "alice"), ("ownerExternalId", "owner-1")];
    for request in [
        app.http.post(&url).form(&form),
        app.http
            .post(&url)
            .header("X-Api-Key", "aisle_sk_wrong")
            .form(&form),
    ] {
        let reply = XmlReply::read(request).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        let document = reply.document();
        let root = document.root_element();
        assert!(!text(root, "comment").is_empty());
        assert!(!has(root, "exception"));
    }

    // Clients from 2016–2018 send the key as a form or query parameter.
    let mut legacy_form = form.to_vec();
    legacy_form.push(("apiKey", &app.api_key));
    let by_form = XmlReply::read(app.http.post(&url).form(&legacy_form)).await;
    assert_eq!(by_form.status, StatusCode::OK, "{}", by_form.body);
    let by_query = XmlReply::read(app.http.get(app.compat("/v1/data.xml")).query(&[
        ("apiKey", app.api_key.as_str()),
        ("ownerExternalId", "nobody"),
    ]))
    .await;
    assert_exception(&by_query, StatusCode::NOT_FOUND, "InvalidOwnerExternalId");

    // The JSON API still takes its key from headers only.
    let json = app
        .http
        .get(format!("{}/v1/commands/{}", app.address, Uuid::new_v4()))
        .query(&[("apiKey", app.api_key.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(json.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn data_xml_gathers_an_owners_imports_across_banks() {
    let app = spawn_app().await;
    for target in ["sandbox", "sandbox-partner"] {
        let session = app.mock_session("alice", &[("target", target)]).await;
        let command_id = app.xml_import(&session, None).await;
        let reply = app.xml_result(&command_id).await;
        let document = reply.document();
        let state = at(document.root_element(), "command").attribute("state");
        assert_eq!(state, Some("successful"), "{}", reply.body);
    }
    let reply = app.get_xml("/v1/data.xml?ownerExternalId=owner-1").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let document = reply.document();
    let root = document.root_element();
    assert_eq!(root.attribute("ownerExternalId"), Some("owner-1"));
    let result = at(root, "result");
    let accounts: i64 = app.count("select count(*) from accounts").await;
    assert_eq!(
        all(at(result, "accounts"), "account").len() as i64,
        accounts
    );
    assert!(!all(at(result, "owners"), "owner").is_empty());
}

#[tokio::test]
async fn signing_out_ends_the_bank_session_and_the_session_cannot_import_afterwards() {
    let app = spawn_app_without_workers().await;
    let (id, signature) = app.mock_session("alice", &[]).await;
    let reply = app
        .post_form(
            "/v1/command/sign-out.xml",
            &[("sessionId", &id), ("sessionIdSignature", &signature)],
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert!(!text(reply.document().root_element(), "comment").is_empty());
    assert_eq!(app.secrets_left().await, 0);
    let import = app
        .post_form(
            "/v1/command/default-import.xml",
            &[("sessionId", &id), ("sessionIdSignature", &signature)],
        )
        .await;
    assert_exception(
        &import,
        StatusCode::CONFLICT,
        "DefaultImportAlreadyExecuted",
    );
    let forged = app
        .post_form(
            "/v1/command/sign-out.xml",
            &[("sessionId", &id), ("sessionIdSignature", "00")],
        )
        .await;
    assert_exception(
        &forged,
        StatusCode::BAD_REQUEST,
        "InvalidSessionIdSignature",
    );
}

#[tokio::test]
async fn the_redirection_aliases_start_a_redirection_and_report_it_pending() {
    let app = spawn_app_without_workers().await;
    app.register(app.client_id, &[], &["https://shop.example/back"])
        .await;
    let created: Value = app
        .http
        .post(app.compat("/v1/signin/redirection"))
        .header("X-Api-Key", &app.api_key)
        .json(&serde_json::json!({
            "redirectUri": "https://shop.example/back",
            "ownerExternalId": "owner-1",
            "country": "DE",
            "locale": "pl",
            "somethingKontomatikSends": true,
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["redirectionId"].as_str().unwrap();
    assert!(
        created["redirectionLink"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/signin/s/{id}"))
    );
    let status: Value = app
        .http
        .get(app.compat("/v1/signin/redirection-status"))
        .header("X-Api-Key", &app.api_key)
        .query(&[("redirectionId", id)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["status"], "pending", "{status}");
    assert_eq!(status["params"]["sessionId"], Value::Null);
}
