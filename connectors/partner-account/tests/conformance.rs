//! The SDK's conformance kit, run against a partner API double: the kit's standard dataset,
//! served as Get Account Information v1.5 answers.
//!
//! The API carries one owner and one account, without balances, so [`BankDouble::adapt`]
//! keeps the first owner and the first account (named by its IBAN) and drops what has no
//! field. The money probe comes back through `maxAllowedBalance`.
//!
//! All six of the kit's checks run; the double says `end_session` makes no call (there is
//! nothing to revoke: see the README), so the kit breaks no fault on it.

use aisle_partner_account::{PartnerAccountConnector, default_profile};
use aisle_sdk::conformance::{
    self, BankDouble, CLIENT_TIMEOUT, Call, Dataset, Fault, Shape, with_unknown_fields,
};
use aisle_sdk::{BankSession, Connector, OwnerKind};
use async_trait::async_trait;
use chrono::Utc;
use serde_json::{Value, json};
use url::Url;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "conformance-token";

struct PartnerDouble;

/// The account's reference on the wire: its IBAN, which is also how the connector names it.
fn accno(dataset: &Dataset) -> String {
    dataset
        .accounts
        .first()
        .map(|a| a.bank_id.clone())
        .unwrap_or_default()
}

/// `"street, postal city, country"` back into the API's address object and country.
fn address(text: Option<&str>) -> (Value, Value) {
    let Some(text) = text else {
        return (Value::Null, Value::Null);
    };
    let parts: Vec<&str> = text.split(", ").collect();
    match parts.as_slice() {
        [line1, town, country] => {
            let (postal_code, city) = town.split_once(' ').unwrap_or(("", town));
            (
                json!({"line1": line1, "line2": null, "postalCode": postal_code, "city": city}),
                json!(country),
            )
        }
        _ => (json!(text), Value::Null),
    }
}

fn success(dataset: &Dataset) -> Value {
    let owner = &dataset.owners[0];
    let account = &dataset.accounts[0];
    let (first_name, last_name) = owner.name.split_once(' ').unwrap_or((&owner.name, ""));
    let (address, country) = address(owner.address.as_deref());
    let money = |amount: Option<rust_decimal::Decimal>| amount.map(|a| a.to_string());
    json!({
        "responseCode": "0000",
        "responseMessage": "Success",
        "responseDateTime": "2025-03-28T10:00:00+00:00",
        "data": {
            "owner": {
                "title": owner.title,
                "firstName": first_name,
                "lastName": last_name,
                "address": address,
                "country": country,
                "birthDate": owner.birth_date.map(|d| d.to_string()),
                "email": owner.email,
                "nationality": owner.nationality,
            },
            "account": {
                "accno": account.bank_id,
                "accnoType": "IBAN",
                "currency": account.currency,
                "type": account.account_type,
                "status": account.status,
                "creationDate": account.opened_on.map(|d| d.to_string()),
                "validityDate": account.valid_until.map(|d| d.to_string()),
                "minAllowedBalance": money(account.min_allowed_balance),
                "maxAllowedBalance": money(account.max_allowed_balance),
            },
        },
    })
}

fn refusal(code: &str, message: &str) -> Value {
    json!({"responseCode": code, "responseMessage": message, "data": null})
}

fn read_of(dataset: &Dataset) -> wiremock::MockBuilder {
    Mock::given(method("GET"))
        .and(path(format!("/account/{}", accno(dataset))))
        .and(query_param("accnoType", "IBAN"))
}

#[async_trait]
impl BankDouble for PartnerDouble {
    fn connector(&self, base_url: &str, http: reqwest::Client) -> Box<dyn Connector> {
        Box::new(PartnerAccountConnector::new(
            Url::parse(base_url).expect("bank url"),
            default_profile(),
            http,
            TOKEN.to_owned(),
            "AISLE".to_owned(),
            "AIS-01".to_owned(),
        ))
    }

    fn ends_session_at_the_bank(&self) -> bool {
        false
    }

    /// The partner API's one read, `GET /account/{accno}`, rides on the partner's token.
    fn mandatory_headers(&self, request: &wiremock::Request) -> Option<&'static [&'static str]> {
        let is_account_read = request.method.as_str() == "GET"
            && request
                .url
                .path()
                .strip_prefix("/account/")
                .is_some_and(|accno| !accno.is_empty() && !accno.contains('/'));
        is_account_read.then_some(&["X-Auth-Token"][..])
    }

    fn session(&self) -> BankSession {
        let dataset = self.adapt(Dataset::standard());
        BankSession {
            secret: json!({"accno": accno(&dataset), "accnoType": "IBAN"}).to_string(),
            sca_at: Utc::now(),
        }
    }

    fn adapt(&self, mut dataset: Dataset) -> Dataset {
        // One owner, who owns the one account; no phone or national id on the wire.
        dataset.owners.truncate(1);
        for owner in &mut dataset.owners {
            owner.kind = OwnerKind::Owner;
            owner.phone = None;
            owner.national_id = None;
        }
        let owner_names: Vec<String> = dataset.owners.iter().map(|o| o.name.clone()).collect();
        dataset.accounts.truncate(1);
        for account in &mut dataset.accounts {
            let reference = account
                .iban
                .clone()
                .unwrap_or_else(|| account.bank_id.clone());
            account.bank_id = reference.clone();
            account.iban = Some(reference);
            account.bban = None;
            account.masked_pan = None;
            account.name = None;
            account.product = None;
            account.owner_names = owner_names.clone();
            account.balances.clear();
        }
        dataset.transactions = vec![Vec::new(); dataset.accounts.len()];
        dataset.cards.clear();
        dataset.card_transactions.clear();
        dataset
    }

    async fn serve(&self, bank: &MockServer, dataset: &Dataset, shape: Shape) {
        let body = if shape.unknown_fields {
            with_unknown_fields(success(dataset))
        } else {
            success(dataset)
        };
        read_of(dataset)
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
            .mount(bank)
            .await;
    }

    async fn break_call(
        &self,
        bank: &MockServer,
        dataset: &Dataset,
        call: Call,
        fault: Fault,
    ) -> bool {
        if !matches!(call, Call::Owners | Call::Accounts) {
            // end_session makes no call; the rest answer Unsupported without one.
            return false;
        }
        let response = match fault {
            Fault::Malformed => ResponseTemplate::new(200).set_body_raw(
                r#"{"responseCode":"0000","data":{"owner":{"#,
                "application/json",
            ),
            Fault::ServerError => {
                ResponseTemplate::new(500).set_body_json(refusal("0096", "System error"))
            }
            Fault::Timeout => ResponseTemplate::new(200)
                .set_body_json(success(dataset))
                .set_delay(CLIENT_TIMEOUT * 2),
            Fault::RateLimited { retry_after_secs } => ResponseTemplate::new(429)
                .insert_header("Retry-After", retry_after_secs.to_string())
                .set_body_json(refusal("0029", "Request quota exceeded")),
            // The account the session names is gone.
            Fault::ConsentExpired => {
                ResponseTemplate::new(404).set_body_json(refusal("0008", "Account not found"))
            }
            Fault::AccessBlocked => {
                ResponseTemplate::new(403).set_body_json(refusal("0009", "Account blocked"))
            }
            // No history, so no period to refuse.
            Fault::PeriodInvalid => return false,
        };
        read_of(dataset).respond_with(response).mount(bank).await;
        true
    }
}

aisle_sdk::conformance_tests!(PartnerDouble);

/// `end_session` has nothing to revoke, so it makes no call at all.
#[tokio::test]
async fn ending_the_session_makes_no_call_for_a_fault_to_break() {
    conformance::ending_the_session_makes_no_call(&PartnerDouble).await;
}
