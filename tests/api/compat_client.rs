//! A client written only from `kontomatik-compat.md` (form posts, `X-Api-Key`, XML replies
//! read with a parser, a poll every 2 s) runs the whole flow against the `aisle` binary: a
//! real `aisle serve` process on free ports, with its database and keys configured as in
//! production, and a client made with `aisle client create`.

use std::{
    path::Path,
    process::Stdio,
    time::{Duration, Instant},
};

use roxmltree::{Document, Node};
use serde_json::Value;
use tokio::{
    net::TcpListener,
    process::{Child, Command},
};
use tokio_util::sync::CancellationToken;

use crate::helpers::{TEST_DELETION_RECEIPT_KEY, TEST_SECRETS_KEY, test_database};

/// Kontomatik's documented poll interval is 2–5 s.
const POLL: Duration = Duration::from_secs(2);
const IMPORT_DEADLINE: Duration = Duration::from_secs(90);
const START_DEADLINE: Duration = Duration::from_secs(30);

/// What the spec says a client can do, and nothing it does not.
struct KontomatikClient {
    base_url: String,
    api_key: String,
    http: reqwest::Client,
}

/// A reply's HTTP status, its `reply@status` and body.
struct Answer {
    http_status: u16,
    body: String,
}

impl Answer {
    async fn of(response: reqwest::Response) -> Answer {
        Answer {
            http_status: response.status().as_u16(),
            body: response.text().await.unwrap(),
        }
    }

    /// The `<reply>` element, checked against the spec's conventions.
    fn reply(&self) -> Document<'_> {
        let document = Document::parse(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body));
        let reply = document.root_element();
        assert_eq!(reply.tag_name().name(), "reply");
        let status = reply.attribute("status").unwrap();
        assert!(
            status.starts_with(&self.http_status.to_string()),
            "the HTTP status equals the status attribute: {status} vs {}",
            self.http_status
        );
        document
    }
}

fn child<'a, 'i>(node: Node<'a, 'i>, name: &str) -> Option<Node<'a, 'i>> {
    node.children().find(|c| c.has_tag_name(name))
}

fn children<'a, 'i>(node: Node<'a, 'i>, name: &str) -> Vec<Node<'a, 'i>> {
    node.children().filter(|c| c.has_tag_name(name)).collect()
}

impl KontomatikClient {
    async fn post(&self, path: &str, form: &[(&str, &str)]) -> Answer {
        Answer::of(
            self.http
                .post(format!("{}{path}", self.base_url))
                .header("X-Api-Key", &self.api_key)
                .form(form)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    async fn get(&self, path: &str) -> Answer {
        Answer::of(
            self.http
                .get(format!("{}{path}", self.base_url))
                .header("X-Api-Key", &self.api_key)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// `POST /v1/mock-session.xml` → `<reply><session id signature/></reply>`.
    async fn mock_session(&self, login: &str, owner: &str) -> (String, String) {
        let answer = self
            .post(
                "/v1/mock-session.xml",
                &[
                    ("login", login),
                    ("country", "DE"),
                    ("ownerExternalId", owner),
                ],
            )
            .await;
        let document = answer.reply();
        let session = child(document.root_element(), "session").expect("a session");
        (
            session.attribute("id").unwrap().to_string(),
            session.attribute("signature").unwrap().to_string(),
        )
    }

    /// `POST /v1/command/default-import.xml` → 202 with `command[id]`.
    async fn default_import(&self, session: &(String, String)) -> String {
        let answer = self
            .post(
                "/v1/command/default-import.xml",
                &[
                    ("sessionId", &session.0),
                    ("sessionIdSignature", &session.1),
                ],
            )
            .await;
        assert_eq!(answer.http_status, 202, "{}", answer.body);
        let document = answer.reply();
        let command = child(document.root_element(), "command").unwrap();
        assert_eq!(command.attribute("name"), Some("DefaultImportCommand"));
        assert!(["setup", "in_progress"].contains(&command.attribute("state").unwrap()));
        command.attribute("id").unwrap().to_string()
    }

    /// Polls `GET /v1/command/{id}.xml` every 2 s until it leaves `setup`/`in_progress`;
    /// returns the final answer and the progress values seen on the way.
    async fn import_result(&self, id: &str) -> (Answer, Vec<u32>) {
        let started = Instant::now();
        let mut progress = Vec::new();
        loop {
            let answer = self.get(&format!("/v1/command/{id}.xml")).await;
            assert_eq!(answer.http_status, 200, "{}", answer.body);
            let state = {
                let document = answer.reply();
                let command = child(document.root_element(), "command").unwrap();
                let value = child(command, "progress")
                    .and_then(|p| child(p, "value"))
                    .and_then(|v| v.text())
                    .unwrap();
                progress.push(value.parse().unwrap());
                command.attribute("state").unwrap().to_string()
            };
            if state != "setup" && state != "in_progress" {
                return (answer, progress);
            }
            assert!(started.elapsed() < IMPORT_DEADLINE, "{}", answer.body);
            tokio::time::sleep(POLL).await;
        }
    }
}

/// `aisle serve`, killed when dropped.
struct Server {
    process: Child,
    url: String,
}

/// The environment of a production-like `aisle`: a configured database and keys.
fn configure(command: &mut Command, database_url: &str, listen: &str, sandbox_url: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    command
        .current_dir(env!("CARGO_TARGET_TMPDIR"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "warn")
        .env("AISLE_DATABASE_URL", database_url)
        .env("AISLE_LISTEN", listen)
        .env("AISLE_PUBLIC_URL", format!("http://{listen}"))
        .env("AISLE_REGISTRY", root.join("connectors/banks.toml"))
        .env(
            "AISLE_SESSION_SIGNING_KEY",
            "compat-client-signing-key-0123456789",
        )
        .env("AISLE_SECRETS_KEY", TEST_SECRETS_KEY)
        .env("AISLE_DELETION_RECEIPT_KEY", TEST_DELETION_RECEIPT_KEY)
        .env("AISLE_SANDBOX_BANK__URL", sandbox_url)
        .stdin(Stdio::null())
        .kill_on_drop(true);
}

async fn free_address() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().to_string()
}

impl Server {
    async fn start(database_url: &str, sandbox_url: &str) -> Server {
        let listen = free_address().await;
        let log = Path::new(env!("CARGO_TARGET_TMPDIR")).join("compat-client-aisle.log");
        let mut command = Command::new(env!("CARGO_BIN_EXE_aisle"));
        command.arg("serve");
        configure(&mut command, database_url, &listen, sandbox_url);
        command
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        let mut process = command.spawn().expect("the aisle binary starts");
        let url = format!("http://{listen}");
        let http = reqwest::Client::new();
        let started = Instant::now();
        loop {
            if let Some(status) = process.try_wait().unwrap() {
                panic!("aisle serve exited ({status}); log: {}", log.display());
            }
            let ready = http.get(format!("{url}/readyz")).send().await;
            if ready.is_ok_and(|r| r.status().is_success()) {
                return Server { process, url };
            }
            assert!(
                started.elapsed() < START_DEADLINE,
                "aisle serve not ready; log: {}",
                log.display()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// `aisle client create --json`: the client's id and API key.
async fn create_client(database_url: &str, sandbox_url: &str) -> Value {
    let mut command = Command::new(env!("CARGO_BIN_EXE_aisle"));
    command.args(["client", "create", "--name", "Kontomatik migrant", "--json"]);
    configure(&mut command, database_url, "127.0.0.1:0", sandbox_url);
    let output = command.stderr(Stdio::piped()).output().await.unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[tokio::test]
async fn a_client_written_from_the_spec_runs_the_whole_flow_against_the_aisle_binary() {
    let stop = CancellationToken::new();
    let _stop_guard = stop.clone().drop_guard();
    let bank = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sandbox_url = format!("http://{}", bank.local_addr().unwrap());
    tokio::spawn(aisle_sandbox_bank::serve(
        bank,
        aisle_sandbox_bank::SandboxOptions::default(),
        stop.clone().cancelled_owned(),
    ));
    let database_url = test_database().await;
    let created = create_client(&database_url, &sandbox_url).await;
    let mut server = Server::start(&database_url, &sandbox_url).await;
    let client = KontomatikClient {
        base_url: server.url.clone(),
        api_key: created["apiKey"].as_str().unwrap().to_string(),
        http: reqwest::Client::new(),
    };

    let session = client.mock_session("alice", "customer-42").await;
    let command_id = client.default_import(&session).await;
    let (answer, progress) = client.import_result(&command_id).await;
    let document = answer.reply();
    let root = document.root_element();
    assert_eq!(root.attribute("user"), Some("Kontomatik migrant"));
    let command = child(root, "command").unwrap();
    assert_eq!(
        command.attribute("state"),
        Some("successful"),
        "{}",
        answer.body
    );
    assert!(progress.windows(2).all(|w| w[0] <= w[1]), "{progress:?}");
    assert_eq!(progress.last(), Some(&100));

    let result = child(command, "result").unwrap();
    let owners = children(child(result, "owners").unwrap(), "owner");
    assert!(owners.iter().any(|o| child(*o, "name").is_some()));
    let accounts = children(child(result, "accounts").unwrap(), "account");
    assert!(!accounts.is_empty());
    let mut transactions = 0;
    for account in &accounts {
        for name in ["name", "iban", "currencyBalance", "currencyName"] {
            assert!(child(*account, name).is_some(), "account without {name}");
        }
        let rows = children(
            child(*account, "moneyTransactions").unwrap(),
            "moneyTransaction",
        );
        for row in &rows {
            let amount = child(*row, "currencyAmount").unwrap().text().unwrap();
            assert!(amount.parse::<f64>().is_ok(), "{amount}");
            assert!(child(*row, "bookedOn").is_some() && child(*row, "status").is_some());
        }
        transactions += rows.len();
    }
    assert!(transactions > 0);

    // The owner's data across imports, as a Kontomatik client reads it.
    let data = client.get("/v1/data.xml?ownerExternalId=customer-42").await;
    assert_eq!(data.http_status, 200, "{}", data.body);
    let data_document = data.reply();
    let data_accounts = children(
        child(
            child(data_document.root_element(), "result").unwrap(),
            "accounts",
        )
        .unwrap(),
        "account",
    );
    assert_eq!(data_accounts.len(), accounts.len());

    // A second import with the same session is refused, in the reply shape.
    let again = client
        .post(
            "/v1/command/default-import.xml",
            &[
                ("sessionId", &session.0),
                ("sessionIdSignature", &session.1),
            ],
        )
        .await;
    let again_document = again.reply();
    let exception = child(again_document.root_element(), "exception").unwrap();
    assert_eq!(
        exception.attribute("name"),
        Some("DefaultImportAlreadyExecuted")
    );

    server.process.kill().await.unwrap();
}
