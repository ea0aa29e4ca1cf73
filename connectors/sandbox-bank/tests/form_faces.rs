//! The partner account and account service faces over real HTTP: they check their
//! credentials, serve the form personas, and speak the dialect of the connectors' fixtures.

mod common;

use aisle_sandbox_bank::form_answer;
use reqwest::StatusCode;
use serde::Serialize;
use serde_json::{Value, json};

use common::start_bank;

const TOKEN: &str = "sandbox-partner-token";
const CLIENT_ID: &str = "aisle-sandbox";
const CLIENT_SECRET: &str = "sandbox-client-secret";

fn fixture(face: &str, name: &str) -> Value {
    let file = format!(
        "{}/../../fixtures/{face}/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("fixture {file}: {e}"));
    serde_json::from_str(&text).expect("fixture json")
}

/// Every field `actual` has, `documented` has too, with the same value: the face says
/// nothing the fixtures (and so the READMEs) do not show. Fixtures may hold more.
fn assert_within(actual: &Value, documented: &Value, at: &str) {
    match (actual, documented) {
        (Value::Object(a), Value::Object(d)) => {
            for (key, value) in a {
                let Some(expected) = d.get(key) else {
                    panic!("{at}.{key} is not in the fixture");
                };
                assert_within(value, expected, &format!("{at}.{key}"));
            }
        }
        (Value::Array(a), Value::Array(d)) => {
            assert_eq!(a.len(), d.len(), "{at} length");
            for (i, (value, expected)) in a.iter().zip(d).enumerate() {
                assert_within(value, expected, &format!("{at}[{i}]"));
            }
        }
        _ => assert_eq!(actual, documented, "{at}"),
    }
}

/// `value` without the fields that change with every answer.
fn without(mut value: Value, keys: &[&str]) -> Value {
    if let Some(fields) = value.as_object_mut() {
        for key in keys {
            fields.remove(*key);
        }
    }
    value
}

async fn partner_get(
    bank: &str,
    accno: &str,
    query: &(impl Serialize + ?Sized),
    token: &str,
) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .get(format!("{bank}/partner/account/{accno}"))
        .header("X-Auth-Token", token)
        .query(query)
        .send()
        .await
        .expect("partner request");
    let status = response.status();
    (status, response.json().await.expect("json"))
}

const PARTNER_QUERY: [(&str, &str); 5] = [
    ("partnerReference", "AISLE"),
    ("programCode", "AIS-SANDBOX"),
    ("accnoType", "ACCNO"),
    ("localDate", "20250314"),
    ("localTime", "101530"),
];

fn query_with(key: &str, value: &str) -> Vec<(&'static str, String)> {
    PARTNER_QUERY
        .iter()
        .map(|(k, v)| {
            (
                *k,
                if *k == key {
                    value.to_owned()
                } else {
                    (*v).to_owned()
                },
            )
        })
        .collect()
}

async fn partner_code(
    bank: &str,
    accno: &str,
    query: &[(&'static str, String)],
    token: &str,
) -> (StatusCode, String) {
    let (status, body) = partner_get(bank, accno, query, token).await;
    (
        status,
        body["responseCode"].as_str().unwrap_or_default().to_owned(),
    )
}

#[tokio::test]
async fn the_partner_face_answers_alice_as_the_fixture_shows() {
    let bank = start_bank().await;
    let alice = form_answer("alice", "accountReference").expect("alice's account");
    let (status, body) = partner_get(&bank, &alice, &PARTNER_QUERY, TOKEN).await;
    assert_eq!(status, StatusCode::OK);
    assert_within(
        &without(body, &["responseDateTime"]),
        &fixture("partner-account", "success.json"),
        "",
    );
}

#[tokio::test]
async fn the_partner_face_finds_an_account_by_iban_too() {
    let bank = start_bank().await;
    let query = query_with("accnoType", "IBAN");
    let (status, body) = partner_get(&bank, "DE20100200300098765432", &query, TOKEN).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["owner"]["lastName"], "Builder");
    assert_eq!(body["data"]["account"]["accnoType"], "IBAN");
    assert_eq!(body["data"]["account"]["maxAllowedBalance"], Value::Null);
}

#[tokio::test]
async fn the_partner_face_refuses_with_the_documented_codes() {
    let bank = start_bank().await;
    let alice = "0012345678";
    let cases = [
        (
            alice,
            query_with("", ""),
            "wrong",
            StatusCode::UNAUTHORIZED,
            "0001",
        ),
        (
            alice,
            query_with("programCode", "OTHER"),
            TOKEN,
            StatusCode::FORBIDDEN,
            "0002",
        ),
        (
            alice,
            query_with("localDate", "2025-03-14"),
            TOKEN,
            StatusCode::BAD_REQUEST,
            "0003",
        ),
        (
            alice,
            query_with("accnoType", "PHONE"),
            TOKEN,
            StatusCode::BAD_REQUEST,
            "0003",
        ),
        (
            "0000000000",
            query_with("", ""),
            TOKEN,
            StatusCode::NOT_FOUND,
            "0008",
        ),
        (
            "0055555555",
            query_with("", ""),
            TOKEN,
            StatusCode::FORBIDDEN,
            "0009",
        ),
        (
            "00-12",
            query_with("", ""),
            TOKEN,
            StatusCode::BAD_REQUEST,
            "0014",
        ),
    ];
    for (accno, query, token, status, code) in cases {
        assert_eq!(
            partner_code(&bank, accno, &query, token).await,
            (status, code.to_owned()),
            "{accno} {code}"
        );
    }
}

struct Service {
    bank: String,
    http: reqwest::Client,
}

impl Service {
    async fn start() -> Self {
        Self {
            bank: start_bank().await,
            http: reqwest::Client::new(),
        }
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let response = request
            .header("X-Client-Id", CLIENT_ID)
            .header("X-Client-Secret", CLIENT_SECRET)
            .send()
            .await
            .expect("service request");
        let status = response.status();
        (status, response.json().await.expect("json"))
    }

    async fn post(&self, operation: &str, body: Value) -> (StatusCode, Value) {
        let url = format!("{}/account-service/{operation}", self.bank);
        self.send(self.http.post(url).json(&body)).await
    }

    async fn get(&self, operation: &str, query: &[(&str, &str)]) -> (StatusCode, Value) {
        let url = format!("{}/account-service/{operation}", self.bank);
        self.send(self.http.get(url).query(query)).await
    }

    /// Step one for alice: the reference of the code "texted" to her.
    async fn send_code(&self) -> String {
        let (status, sent) = self
            .post(
                "valid-phone-number",
                json!({"cif": "10000001", "phoneNumber": "+49 151 000 000 01"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        sent["data"]["otpReference"]
            .as_str()
            .expect("otpReference")
            .to_owned()
    }
}

fn code_of(body: &Value) -> &str {
    body["code"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn the_account_service_refuses_a_client_with_a_wrong_secret() {
    let service = Service::start().await;
    let response = service
        .http
        .get(format!(
            "{}/account-service/get-customer-by-id",
            service.bank
        ))
        .query(&[("cif", "10000001")])
        .header("X-Client-Id", CLIENT_ID)
        .header("X-Client-Secret", "guess")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body: Value = response.json().await.expect("json");
    assert_eq!(code_of(&body), "02");
}

#[tokio::test]
async fn the_account_service_signs_alice_in_with_the_fixed_code() {
    let service = Service::start().await;
    let legal_id = form_answer("alice", "legalId").expect("legal id");
    let (status, checked) = service
        .post("valid-legal-id", json!({"legalId": legal_id}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_within(
        &without(checked, &["traceId"]),
        &fixture("account-service", "valid-legal-id.success.json"),
        "",
    );
    let reference = service.send_code().await;
    let verify = json!({"cif": "10000001", "phoneNumber": "+4915100000001",
                        "otpReference": reference, "otp": "123456"});
    let (status, verified) = service.post("valid-phone-number", verify.clone()).await;
    assert_eq!(status, StatusCode::OK);
    assert_within(
        &without(verified, &["traceId"]),
        &fixture("account-service", "valid-phone-number.otp-verified.json"),
        "",
    );
    // A code is good once.
    let (_, again) = service.post("valid-phone-number", verify).await;
    assert_eq!(code_of(&again), "13");
}

#[tokio::test]
async fn three_wrong_codes_block_the_sending() {
    let service = Service::start().await;
    let reference = service.send_code().await;
    let wrong = json!({"cif": "10000001", "phoneNumber": "+4915100000001",
                       "otpReference": reference, "otp": "000000"});
    let mut codes = Vec::new();
    for _ in 0..3 {
        let (status, body) = service.post("valid-phone-number", wrong.clone()).await;
        codes.push((status, code_of(&body).to_owned()));
    }
    assert_eq!(
        codes,
        [
            (StatusCode::UNPROCESSABLE_ENTITY, "12".to_owned()),
            (StatusCode::UNPROCESSABLE_ENTITY, "12".to_owned()),
            (StatusCode::LOCKED, "14".to_owned()),
        ]
    );
}

#[tokio::test]
async fn the_account_service_refuses_with_the_documented_codes() {
    let service = Service::start().await;
    let cases = [
        (
            "valid-legal-id",
            json!({"legalId": "X0000000"}),
            StatusCode::NOT_FOUND,
            "10",
        ),
        (
            "valid-legal-id",
            json!({"legalId": "C01X00T478"}),
            StatusCode::LOCKED,
            "20",
        ),
        (
            "valid-legal-id",
            json!({"legal": "T220001293"}),
            StatusCode::BAD_REQUEST,
            "01",
        ),
        (
            "valid-phone-number",
            json!({"cif": "10000001", "phoneNumber": "+4915100000002"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "11",
        ),
        (
            "valid-phone-number",
            json!({"cif": "10000003", "phoneNumber": "+4915100000003"}),
            StatusCode::LOCKED,
            "20",
        ),
        (
            "get-account-info",
            json!({"cif": "10000001", "accountNumber": "0098765432"}),
            StatusCode::NOT_FOUND,
            "21",
        ),
    ];
    for (operation, body, status, code) in cases {
        let (got_status, got) = service.post(operation, body.clone()).await;
        assert_eq!(
            (got_status, code_of(&got)),
            (status, code),
            "{operation} {body}"
        );
    }
    let (status, unknown) = service.get("get-customer-by-id", &[("cif", "99")]).await;
    assert_eq!((status, code_of(&unknown)), (StatusCode::NOT_FOUND, "10"));
}

#[tokio::test]
async fn the_account_service_shows_customers_and_accounts_as_the_fixtures_do() {
    let service = Service::start().await;
    for (operation, query) in [
        ("get-customer-info", ("legalId", "T220001293")),
        ("get-customer-by-id", ("cif", "10000002")),
        ("get-list-account-by-customer", ("cif", "10000001")),
    ] {
        let (_, answer) = service.get(operation, &[query]).await;
        assert_within(
            &without(answer, &["traceId"]),
            &fixture("account-service", &format!("{operation}.json")),
            operation,
        );
    }
    let (_, mut info) = service
        .post(
            "get-account-info",
            json!({"cif": "10000001", "accountNumber": "0012345678"}),
        )
        .await;
    assert_eq!(info["data"]["balanceDate"], common::today().to_string());
    info["data"] = without(info["data"].take(), &["balanceDate"]);
    assert_within(
        &without(info, &["traceId"]),
        &fixture("account-service", "get-account-info.main.json"),
        "",
    );
}
