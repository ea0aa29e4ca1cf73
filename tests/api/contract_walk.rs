//! The contract test: requests generated from `/openapi.json` itself, valid and invalid, sent
//! to every operation of a running app, every answer checked against the document.
//!
//! Valid requests come from proptest strategies built from each operation's schemas (an
//! `example` half the time, so that sign-ins succeed and the links to the next call can be
//! followed); invalid ones are valid ones broken in one place. Checked for every answer:
//! - no 5xx;
//! - its status is documented for the operation, its content type too, and a JSON body
//!   matches the documented schema (JSON Schema 2020-12, formats included);
//! - a request the schema allows is never refused as `InvalidParameter`, `PayloadTooLarge` or
//!   `UnsupportedMediaType`.
//!
//! Bounded in time: it stops generating at a deadline and requires a minimum of requests.

use std::time::{Duration, Instant};

use chrono::{Days, NaiveDate, Utc};
use proptest::{
    prelude::*,
    strategy::ValueTree,
    test_runner::{Config, RngAlgorithm, TestRng, TestRunner},
};
use reqwest::{Method, StatusCode, header};
use serde_json::{Map, Value, json};

use crate::helpers::{TestApp, spawn_app_without_workers};

/// Generated cases per operation: half valid, half broken.
const CASES_PER_OPERATION: usize = 200;
const DEADLINE: Duration = Duration::from_secs(40);
/// A run that sent fewer requests than this did not test the contract.
const MIN_REQUESTS: usize = 1_000;

#[derive(Default)]
struct Report {
    operations: usize,
    requests: usize,
    /// Answers by operation and status, to show what was reached.
    statuses: std::collections::BTreeMap<String, usize>,
    server_errors: usize,
    violations: Vec<String>,
}

struct Operation {
    path: String,
    method: Method,
    spec: Value,
}

struct Walker<'a> {
    app: &'a TestApp,
    doc: Value,
    runner: TestRunner,
    report: Report,
}

#[tokio::test]
async fn requests_generated_from_the_document_get_documented_answers_and_never_a_5xx() {
    let app = spawn_app_without_workers().await;
    let doc: Value = app
        .http
        .get(format!("{}/openapi.json", app.address))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // The example redirect URI is registered, so that valid redirections can succeed.
    let example_uri =
        doc["components"]["schemas"]["RedirectionRequest"]["examples"][0]["redirectUri"]
            .as_str()
            .unwrap()
            .to_string();
    app.register(app.client_id, &[], &[&example_uri]).await;

    let operations = operations(&doc);
    let mut walker = Walker {
        app: &app,
        doc,
        runner: TestRunner::new_with_rng(
            Config::default(),
            TestRng::from_seed(RngAlgorithm::ChaCha, &[11; 32]),
        ),
        report: Report::default(),
    };
    walker.report.operations = operations.len();
    let started = Instant::now();
    'cases: for case in 0..CASES_PER_OPERATION {
        for operation in &operations {
            if started.elapsed() > DEADLINE {
                break 'cases;
            }
            let request = walker.valid_request(operation);
            if case % 2 == 0 {
                let answer = walker.send(operation, &request, true).await;
                walker.follow_links(operation, &answer).await;
            } else {
                let broken = walker.broken_request(operation, request);
                walker.send(operation, &broken, false).await;
            }
        }
    }
    let report = walker.report;
    println!(
        "contract: {} operations, {} requests in {:.1} s, {} 5xx, {} violations",
        report.operations,
        report.requests,
        started.elapsed().as_secs_f64(),
        report.server_errors,
        report.violations.len()
    );
    for (answer, count) in &report.statuses {
        println!("  {count:>5} × {answer}");
    }
    assert!(
        report.requests >= MIN_REQUESTS,
        "only {} requests",
        report.requests
    );
    // The links were followed to the end: a sign-in, an import and a poll succeeded.
    for reached in [
        "POST /v1/sandbox/sessions 201",
        "POST /v1/commands/default-import 202",
        "GET /v1/commands/{command_id} 200",
        "GET /v1/signin/redirections/{redirection_id} 200",
    ] {
        assert!(
            report.statuses.contains_key(reached),
            "never reached {reached}"
        );
    }
    assert_eq!(report.server_errors, 0, "{:#?}", report.violations);
    assert!(report.violations.is_empty(), "{:#?}", report.violations);
}

fn operations(doc: &Value) -> Vec<Operation> {
    let mut found = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, spec) in item.as_object().unwrap() {
            found.push(Operation {
                path: path.clone(),
                method: method.to_uppercase().parse().unwrap(),
                spec: spec.clone(),
            });
        }
    }
    found
}

/// One request: path parameters, headers and a JSON body.
#[derive(Debug, Clone, Default)]
struct Request {
    path_params: Map<String, Value>,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Option<Value>,
    raw_path: Option<String>,
    content_type: Option<String>,
    auth: Auth,
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
enum Auth {
    #[default]
    Bearer,
    LowerCaseBearer,
    ApiKeyHeader,
    Missing,
}

struct Answer {
    status: StatusCode,
    body: Option<Value>,
}

impl Walker<'_> {
    fn sample<T: std::fmt::Debug>(&mut self, strategy: impl Strategy<Value = T>) -> T {
        strategy.new_tree(&mut self.runner).unwrap().current()
    }

    fn resolve<'v>(&'v self, schema: &'v Value) -> &'v Value {
        match schema["$ref"].as_str() {
            Some(reference) => {
                let pointer = reference.trim_start_matches('#');
                self.resolve(self.doc.pointer(pointer).unwrap())
            }
            None => schema,
        }
    }

    fn valid_request(&mut self, operation: &Operation) -> Request {
        let mut request = Request {
            auth: self.sample(prop_oneof![
                Just(Auth::Bearer),
                Just(Auth::LowerCaseBearer),
                Just(Auth::ApiKeyHeader)
            ]),
            ..Request::default()
        };
        for parameter in operation.spec["parameters"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let required = parameter["required"].as_bool().unwrap_or(false);
            if !required && self.sample(any::<bool>()) {
                continue;
            }
            let value = self.value(&parameter["schema"].clone());
            let name = parameter["name"].as_str().unwrap().to_string();
            match parameter["in"].as_str() {
                Some("path") => {
                    request.path_params.insert(name, value);
                }
                // An optional header the generator chose to leave out.
                Some("header") if value.is_null() => {}
                // A value no HTTP client can send is not a request the server could receive.
                Some("header")
                    if reqwest::header::HeaderValue::from_str(&text_of(&value)).is_err() => {}
                Some("header") => request.headers.push((name, text_of(&value))),
                Some("query") if value.is_null() => {}
                // A cursor is a value this API gave, never one a client makes up.
                Some("query") if name == "cursor" => {}
                Some("query") => request.query.push((name, text_of(&value))),
                other => panic!("parameters in {other:?} are not generated yet"),
            }
        }
        if let Some(schema) = operation.spec["requestBody"]["content"]["application/json"]
            .get("schema")
            .cloned()
        {
            request.body = Some(self.value(&schema));
            request.content_type = Some("application/json".into());
        }
        request
    }

    /// A value `schema` allows.
    fn value(&mut self, schema: &Value) -> Value {
        let schema = self.resolve(schema).clone();
        if let Some(options) = schema["oneOf"].as_array().or(schema["anyOf"].as_array()) {
            let index = self.sample(0..options.len());
            return self.value(&options[index]);
        }
        if let Some(values) = schema["enum"].as_array() {
            let index = self.sample(0..values.len());
            return values[index].clone();
        }
        let examples = schema["examples"].as_array().cloned().unwrap_or_default();
        if !examples.is_empty() && self.sample(any::<bool>()) {
            let index = self.sample(0..examples.len());
            return examples[index].clone();
        }
        let types: Vec<&str> = match &schema["type"] {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => vec!["object"],
        };
        let chosen = types[self.sample(0..types.len())];
        match chosen {
            "null" => Value::Null,
            "boolean" => json!(self.sample(any::<bool>())),
            "integer" => {
                let min = schema["minimum"].as_i64().unwrap_or(0);
                let max = schema["maximum"].as_i64().unwrap_or(1_000_000);
                json!(self.sample(min..=max))
            }
            "string" => json!(self.string(&schema)),
            "array" => {
                let length = self.sample(0..3usize);
                Value::Array((0..length).map(|_| self.value(&schema["items"])).collect())
            }
            _ => {
                let required: Vec<&str> = schema["required"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                let mut object = Map::new();
                for (name, property) in schema["properties"].as_object().into_iter().flatten() {
                    if required.contains(&name.as_str()) || self.sample(any::<bool>()) {
                        object.insert(name.clone(), self.value(property));
                    }
                }
                Value::Object(object)
            }
        }
    }

    fn string(&mut self, schema: &Value) -> String {
        match schema["format"].as_str() {
            Some("uuid") => return uuid::Uuid::from_u128(self.sample(any::<u128>())).to_string(),
            // Dates the service takes are not in the future, as their descriptions say.
            Some("date") => {
                let today = Utc::now().date_naive();
                let first = NaiveDate::from_ymd_opt(1, 1, 1).unwrap();
                let span = (today - first).num_days() as u64;
                let back = self.sample(prop_oneof![0..400u64, 0..=span]);
                return (today - Days::new(back)).to_string();
            }
            _ => {}
        }
        let min = schema["minLength"].as_u64().unwrap_or(0);
        let max = schema["maxLength"].as_u64().unwrap_or(40).min(300);
        let pattern = match schema["pattern"].as_str() {
            // The document's patterns are anchored; the generator wants them bare.
            Some(pattern) => pattern
                .trim_start_matches('^')
                .trim_end_matches('$')
                .to_string(),
            // Any character at all, control characters included.
            None => format!("(?s:.{{{min},{max}}})"),
        };
        let generated = proptest::string::string_regex(&pattern)
            .unwrap_or_else(|e| panic!("pattern {pattern}: {e}"));
        let text = self.sample(generated);
        let length = text.chars().count() as u64;
        if length < min || length > max {
            // The pattern allowed more than the lengths: try again within them.
            return self.string(schema);
        }
        text
    }

    /// `request` broken in one place.
    fn broken_request(&mut self, operation: &Operation, mut request: Request) -> Request {
        let path_params: Vec<String> = request.path_params.keys().cloned().collect();
        let body_fields: Vec<String> = request
            .body
            .as_ref()
            .and_then(Value::as_object)
            .map(|body| body.keys().cloned().collect())
            .unwrap_or_default();
        let secured = operation.spec.get("security").is_none();
        let way = self.sample(0..9u8);
        match way {
            0 if secured => request.auth = Auth::Missing,
            1 if !path_params.is_empty() => {
                let garbage = self.sample(prop_oneof![
                    Just("%ff%fe".to_string()),
                    Just("42".to_string()),
                    "[a-z0-9%]{1,30}",
                ]);
                let mut path = operation.path.clone();
                for name in &path_params {
                    path = path.replace(&format!("{{{name}}}"), &garbage);
                }
                request.raw_path = Some(path);
            }
            2 if !request.headers.is_empty() => {
                request.headers[0].1 = self.sample("[ -~]{0,10} [ -~]{0,10}");
            }
            3 if request.body.is_some() => request.content_type = Some("text/plain".into()),
            4 if request.body.is_some() => request.body = Some(json!(self.sample(any::<i64>()))),
            5 if !body_fields.is_empty() => {
                let field = &body_fields[self.sample(0..body_fields.len())];
                let poison = self.sample(prop_oneof![
                    Just(json!("a\u{0}b")),
                    Just(json!("\u{1b}[2J")),
                    Just(json!("x".repeat(70_000))),
                    Just(json!(-1)),
                    Just(json!({"nested": true})),
                    Just(json!("-0001-01-01")),
                ]);
                request.body.as_mut().unwrap()[field] = poison;
            }
            6 if request.body.is_some() => {
                request.body.as_mut().unwrap()["noSuchField"] = json!(1);
            }
            7 if !body_fields.is_empty() => {
                let field = &body_fields[self.sample(0..body_fields.len())];
                request
                    .body
                    .as_mut()
                    .unwrap()
                    .as_object_mut()
                    .unwrap()
                    .remove(field);
            }
            _ => request.auth = Auth::Missing,
        }
        request
    }

    async fn send(&mut self, operation: &Operation, request: &Request, valid: bool) -> Answer {
        let path = request.raw_path.clone().unwrap_or_else(|| {
            request
                .path_params
                .iter()
                .fold(operation.path.clone(), |path, (name, value)| {
                    path.replace(&format!("{{{name}}}"), &path_segment(&text_of(value)))
                })
        });
        let mut builder = self.app.http.request(
            operation.method.clone(),
            format!("{}{path}", self.app.address),
        );
        builder = match request.auth {
            Auth::Bearer => builder.bearer_auth(&self.app.api_key),
            Auth::LowerCaseBearer => builder.header(
                header::AUTHORIZATION,
                format!("bearer {}", self.app.api_key),
            ),
            Auth::ApiKeyHeader => builder.header("x-api-key", &self.app.api_key),
            Auth::Missing => builder,
        };
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        if !request.query.is_empty() {
            builder = builder.query(&request.query);
        }
        if let Some(body) = &request.body {
            builder = builder.body(serde_json::to_vec(body).unwrap());
        }
        if let Some(content_type) = &request.content_type {
            builder = builder.header(header::CONTENT_TYPE, content_type);
        }
        let response = builder.send().await.unwrap();
        self.report.requests += 1;
        let status = response.status();
        *self
            .report
            .statuses
            .entry(format!(
                "{} {} {}",
                operation.method,
                operation.path,
                status.as_u16()
            ))
            .or_default() += 1;
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or_default().trim().to_string());
        let bytes = response.bytes().await.unwrap_or_else(|e| {
            panic!(
                "{} {path} ({status}) cut its body: {e}; request {request:?}",
                operation.method
            )
        });
        let body: Option<Value> = serde_json::from_slice(&bytes).ok();
        let found = self.check(
            operation,
            status,
            content_type,
            &bytes,
            body.as_ref(),
            valid,
        );
        if status.is_server_error() {
            self.report.server_errors += 1;
        }
        let kind = if valid { "valid" } else { "broken" };
        for what in found {
            let mut shown = format!("{request:?}");
            shown.truncate(400);
            self.report.violations.push(format!(
                "{} {} ({kind}) → {status}: {what}; request {shown}",
                operation.method, operation.path
            ));
        }
        Answer { status, body }
    }

    /// What is wrong with an answer, by the document.
    fn check(
        &self,
        operation: &Operation,
        status: StatusCode,
        content_type: Option<String>,
        bytes: &[u8],
        body: Option<&Value>,
        valid: bool,
    ) -> Vec<String> {
        let mut found = Vec::new();
        let mut violation = |what: String| found.push(what);
        if status.is_server_error() {
            violation(format!("a 5xx: {}", String::from_utf8_lossy(bytes)));
        }
        let Some(documented) = operation.spec["responses"].get(status.as_str()) else {
            violation("an undocumented status".into());
            return found;
        };
        let documented = self.resolve(documented).clone();
        match (&content_type, documented["content"].as_object()) {
            (Some(content_type), Some(content)) => match content.get(content_type) {
                None => violation(format!("content type {content_type} is not documented")),
                // NDJSON is JSON line by line, not one document: its lines are checked by
                // the export's own tests.
                Some(_) if content_type == "application/x-ndjson" => {}
                Some(media) if content_type.ends_with("json") => match body {
                    None => violation("a body that is not JSON".into()),
                    Some(body) => {
                        if let Some(error) = self.schema_error(&media["schema"], body) {
                            violation(format!("the body does not match its schema: {error}"));
                        }
                    }
                },
                Some(_) => {}
            },
            (None, Some(content)) if !content.is_empty() && !bytes.is_empty() => {
                violation("a body without a content type".into())
            }
            (Some(content_type), None) if !bytes.is_empty() => {
                violation(format!("an undocumented body ({content_type})"))
            }
            _ => {}
        }
        if valid && status.is_client_error() {
            let code = body.and_then(|b| b["code"].as_str()).unwrap_or_default();
            if matches!(
                code,
                "InvalidParameter" | "PayloadTooLarge" | "UnsupportedMediaType"
            ) {
                let detail = body.and_then(|b| b["detail"].as_str()).unwrap_or_default();
                violation(format!(
                    "a request the schema allows was refused as {code}: {detail}"
                ));
            }
        }
        found
    }

    /// Why `value` does not match `schema` (resolved against the whole document), if it does not.
    fn schema_error(&self, schema: &Value, value: &Value) -> Option<String> {
        let mut root = schema.clone();
        if let Value::Object(root) = &mut root {
            root.insert("components".into(), self.doc["components"].clone());
        } else {
            return None;
        }
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(true)
            .build(&root)
            .unwrap_or_else(|e| panic!("the document's schema does not compile: {e}"));
        let errors: Vec<String> = validator
            .iter_errors(value)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        (!errors.is_empty()).then(|| errors.join("; "))
    }

    /// Follows the documented links of a successful answer: sign-in → import → poll.
    async fn follow_links(&mut self, operation: &Operation, answer: &Answer) {
        let Some(body) = &answer.body else { return };
        let links = operation.spec["responses"][answer.status.as_str()]["links"].clone();
        for link in links
            .as_object()
            .into_iter()
            .flatten()
            .map(|(_, link)| link)
        {
            let target_id = link["operationId"].as_str().unwrap();
            let Some(target) = operations(&self.doc)
                .into_iter()
                .find(|o| o.spec["operationId"] == target_id)
            else {
                self.report
                    .violations
                    .push(format!("a link to unknown operation {target_id}"));
                continue;
            };
            let mut request = Request::default();
            for (name, expression) in link["parameters"].as_object().into_iter().flatten() {
                let value = expand(expression.as_str().unwrap(), body);
                request.path_params.insert(name.clone(), value);
            }
            if let Some(template) = link.get("requestBody") {
                let mut filled = Map::new();
                for (name, expression) in template.as_object().unwrap() {
                    let expression = expression.as_str().unwrap();
                    let expression = expression.trim_start_matches('{').trim_end_matches('}');
                    filled.insert(name.clone(), expand(expression, body));
                }
                request.body = Some(Value::Object(filled));
                request.content_type = Some("application/json".into());
            }
            if request.path_params.values().any(Value::is_null)
                || request
                    .body
                    .as_ref()
                    .is_some_and(|b| b.as_object().unwrap().values().any(Value::is_null))
            {
                // The answer had no value for the link (a pending redirection has no session).
                continue;
            }
            let next = Box::pin(self.send(&target, &request, true)).await;
            if next.status.is_success() {
                Box::pin(self.follow_links(&target, &next)).await;
            }
        }
    }
}

/// The value of a runtime expression `$response.body#/pointer` in `body`.
fn expand(expression: &str, body: &Value) -> Value {
    let pointer = expression
        .strip_prefix("$response.body#")
        .unwrap_or_else(|| panic!("unsupported link expression {expression}"));
    body.pointer(pointer).cloned().unwrap_or(Value::Null)
}

/// A generated value as it goes into a path or a query: a string as it is, anything else as
/// its JSON text (an invalid request on purpose).
/// `text` as one path segment, as any HTTP client writes a value into a path: a string id
/// (an owner's) may hold `/`, `?`, `%` or spaces.
fn path_segment(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

fn text_of(value: &Value) -> String {
    value
        .as_str()
        .map_or_else(|| value.to_string(), str::to_owned)
}
