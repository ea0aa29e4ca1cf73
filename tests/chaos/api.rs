//! What the harness asks of the `aisle api` process and of the sandbox bank, over HTTP.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use uuid::Uuid;

pub struct Api {
    http: reqwest::Client,
    base: String,
    api_key: String,
}

/// One request made while PostgreSQL was down, and how the API answered it.
#[derive(Debug, Clone)]
pub struct Probe {
    /// The status, or the transport error if no answer came.
    pub answer: Result<u16, String>,
    pub code: Option<String>,
    pub problem_json: bool,
    pub retry_after: bool,
    pub took: Duration,
}

impl Probe {
    /// Issue 10's contract during an outage: `503` problem+json with code
    /// `ServiceUnavailable` and `Retry-After`, within a second.
    pub fn keeps_the_outage_contract(&self) -> bool {
        self.answer == Ok(503)
            && self.code.as_deref() == Some("ServiceUnavailable")
            && self.problem_json
            && self.retry_after
            && self.took <= Duration::from_secs(1)
    }
}

impl Api {
    pub fn new(base: &str, api_key: String) -> Self {
        Self {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("an HTTP client"),
            base: base.to_owned(),
            api_key,
        }
    }

    /// Signs `login` in headlessly at the sandbox bank and starts its Default Import.
    pub async fn start_import(&self, login: &str) -> Result<Uuid, String> {
        let session = self
            .post(
                "/v1/sandbox/sessions",
                &json!({"bank": "sandbox", "login": login, "ownerExternalId": format!("chaos-{login}")}),
                201,
            )
            .await?;
        let accepted = self
            .post(
                "/v1/commands/default-import",
                &json!({
                    "sessionId": session["sessionId"],
                    "sessionIdSignature": session["sessionIdSignature"],
                }),
                202,
            )
            .await?;
        accepted["commandId"]
            .as_str()
            .and_then(|id| id.parse().ok())
            .ok_or_else(|| format!("no commandId in {accepted}"))
    }

    async fn post(&self, path: &str, body: &Value, expected: u16) -> Result<Value, String> {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.api_key)
            .json(body)
            .send()
            .await
            .map_err(|e| format!("{path}: {e}"))?;
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if status != expected {
            return Err(format!("{path}: {status} {body}"));
        }
        Ok(body)
    }

    /// Polls a command the way a client does, and times the answer.
    pub async fn probe(&self, command_id: Uuid) -> Probe {
        let started = Instant::now();
        let sent = self
            .http
            .get(format!("{}/v1/commands/{command_id}", self.base))
            .bearer_auth(&self.api_key)
            .timeout(Duration::from_secs(5))
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(e) => {
                return Probe {
                    answer: Err(e.without_url().to_string()),
                    code: None,
                    problem_json: false,
                    retry_after: false,
                    took: started.elapsed(),
                };
            }
        };
        let took = started.elapsed();
        let status = response.status().as_u16();
        let header = |name: &str| response.headers().get(name).cloned();
        let problem_json = header("content-type").is_some_and(|v| v == "application/problem+json");
        let retry_after = header("retry-after").is_some();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        Probe {
            answer: Ok(status),
            code: body["code"].as_str().map(str::to_owned),
            problem_json,
            retry_after,
            took,
        }
    }
}

/// The sandbox bank's consents: `{consentId, status, login, dataCalls}` each.
pub async fn bank_consents(bank_url: &str) -> Vec<Value> {
    reqwest::get(format!("{bank_url}/sandbox/consents"))
        .await
        .expect("the bank's consents")
        .json()
        .await
        .expect("a JSON list")
}

/// Requests that carried `Consent-ID` to the redirect-away persona's other host.
pub async fn bank_leaks(bank_url: &str) -> u64 {
    let body: Value = reqwest::get(format!("{bank_url}/sandbox/leaks"))
        .await
        .expect("the bank's leak count")
        .json()
        .await
        .expect("JSON");
    body["consentIdLeaks"].as_u64().expect("a count")
}
