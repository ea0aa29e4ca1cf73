//! The SDK's conformance kit, run against an Account Service double: the kit's standard
//! dataset, served as customer record, account list and per-account info.
//!
//! The service carries the customer and related parties, each account's summary, two
//! balances (`availableBalance` → `interimAvailable`, `ledgerBalance` → `interimBooked`) and
//! an overdraft limit, so [`BankDouble::adapt`] turns a booked balance into the ledger balance
//! and drops what has no field (validity, maximum balance, history, cards). The money probe
//! comes back through the ledger balance.
//!
//! All six of the kit's checks run; the double says `end_session` makes no call (there is
//! nothing to revoke: see the README), so the kit breaks no fault on it.

use aisle_account_service::{AccountServiceConnector, default_profile};
use aisle_sdk::conformance::{
    self, BankDouble, CLIENT_TIMEOUT, Call, Dataset, Fault, Shape, with_unknown_fields,
};
use aisle_sdk::{Account, Balance, BankSession, Connector, OwnerKind};
use async_trait::async_trait;
use chrono::Utc;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use url::Url;
use wiremock::matchers::{body_partial_json, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const CIF: &str = "20000001";
const AVAILABLE: &str = "interimAvailable";
const LEDGER: &str = "interimBooked";

struct ServiceDouble;

/// `"street, postal city, country"` back into the service's address object.
fn address(text: Option<&str>) -> Value {
    let Some(text) = text else {
        return Value::Null;
    };
    let parts: Vec<&str> = text.split(", ").collect();
    match parts.as_slice() {
        [street, town, country] => {
            let (postal_code, city) = town.split_once(' ').unwrap_or(("", town));
            json!({"street": street, "postalCode": postal_code, "city": city, "country": country})
        }
        _ => json!(text),
    }
}

fn role(kind: OwnerKind) -> &'static str {
    match kind {
        OwnerKind::Owner => "OWNER",
        OwnerKind::CoOwner => "CO_OWNER",
        OwnerKind::Attorney => "ATTORNEY",
        OwnerKind::Other => "BENEFICIARY",
    }
}

fn success(data: Value, shape: Shape) -> ResponseTemplate {
    let body = json!({"code": "00", "message": "Success", "traceId": "t-1", "data": data});
    let body = if shape.unknown_fields {
        with_unknown_fields(body)
    } else {
        body
    };
    ResponseTemplate::new(200).set_body_json(body)
}

fn refusal(status: u16, code: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .set_body_json(json!({"code": code, "message": message, "traceId": "t-2"}))
}

fn customer(dataset: &Dataset) -> Value {
    let customer = &dataset.owners[0];
    let related: Vec<Value> = dataset.owners[1..]
        .iter()
        .map(|o| json!({"fullName": o.name, "role": role(o.kind)}))
        .collect();
    json!({
        "cif": CIF,
        "customerType": "INDIVIDUAL",
        "title": customer.title,
        "fullName": customer.name,
        "legalId": customer.national_id,
        "legalIdType": "ID_CARD",
        "birthDate": customer.birth_date.map(|d| d.to_string()),
        "email": customer.email,
        "phoneNumber": customer.phone,
        "address": address(customer.address.as_deref()),
        "nationality": customer.nationality,
        "status": "ACTIVE",
        "relatedParties": related,
    })
}

fn summary(account: &Account) -> Value {
    let holders: Vec<Value> = account
        .owner_names
        .iter()
        .map(|name| json!({"name": name}))
        .collect();
    json!({
        "accountNumber": account.bank_id,
        "iban": account.iban,
        "accountName": account.name,
        "productName": account.product,
        "accountType": account.account_type,
        "currency": account.currency,
        "status": account.status,
        "openDate": account.opened_on.map(|d| d.to_string()),
        "holders": holders,
    })
}

fn info(account: &Account) -> Value {
    let amount = |kind: &str| {
        account
            .balances
            .iter()
            .find(|b| b.balance_type == kind)
            .map(|b| b.amount.to_string())
    };
    let overdraft = account.min_allowed_balance.map(|m| (-m).to_string());
    json!({
        "accountNumber": account.bank_id,
        "currency": account.currency,
        "status": account.status,
        "availableBalance": amount(AVAILABLE),
        "ledgerBalance": amount(LEDGER),
        "overdraftLimit": overdraft,
        "balanceDate": account.balances.first().and_then(|b| b.reference_date).map(|d| d.to_string()),
    })
}

/// The balances the service can carry, as the connector maps them back: available first,
/// then the booked balance as the ledger balance, all dated like the first.
fn carried(balances: &[Balance]) -> Vec<Balance> {
    let date = balances.first().and_then(|b| b.reference_date);
    let find = |kinds: &[&str]| {
        balances
            .iter()
            .find(|b| kinds.contains(&b.balance_type.as_str()))
    };
    [
        (AVAILABLE, find(&[AVAILABLE])),
        (LEDGER, find(&[LEDGER, "closingBooked"])),
    ]
    .into_iter()
    .filter_map(|(kind, found)| {
        found.map(|b| Balance {
            balance_type: kind.to_owned(),
            reference_date: date,
            ..b.clone()
        })
    })
    .collect()
}

fn list_call() -> wiremock::MockBuilder {
    Mock::given(method("GET"))
        .and(path("/get-list-account-by-customer"))
        .and(query_param("cif", CIF))
}

fn customer_call() -> wiremock::MockBuilder {
    Mock::given(method("GET"))
        .and(path("/get-customer-by-id"))
        .and(query_param("cif", CIF))
}

#[async_trait]
impl BankDouble for ServiceDouble {
    fn connector(&self, base_url: &str, http: reqwest::Client) -> Box<dyn Connector> {
        Box::new(AccountServiceConnector::new(
            Url::parse(base_url).expect("bank url"),
            default_profile(),
            http,
            "conformance-client".to_owned(),
            "conformance-secret".to_owned(),
        ))
    }

    fn ends_session_at_the_bank(&self) -> bool {
        false
    }

    /// Every call of the account service (README, "The calls") authenticates the client with
    /// `X-Client-Id` and `X-Client-Secret`.
    fn mandatory_headers(&self, request: &wiremock::Request) -> Option<&'static [&'static str]> {
        const CLIENT: &[&str] = &["X-Client-Id", "X-Client-Secret"];
        match (request.method.as_str(), request.url.path()) {
            (
                "GET",
                "/get-customer-by-id" | "/get-list-account-by-customer" | "/get-customer-info",
            )
            | ("POST", "/get-account-info" | "/valid-legal-id" | "/valid-phone-number") => {
                Some(CLIENT)
            }
            _ => None,
        }
    }

    fn session(&self) -> BankSession {
        BankSession {
            secret: json!({"cif": CIF}).to_string(),
            sca_at: Utc::now(),
        }
    }

    fn adapt(&self, mut dataset: Dataset) -> Dataset {
        // The customer is the owner; related parties carry a name and a role only.
        for (i, owner) in dataset.owners.iter_mut().enumerate() {
            if i == 0 {
                owner.kind = OwnerKind::Owner;
            } else {
                owner.title = None;
                owner.address = None;
                owner.birth_date = None;
                owner.email = None;
                owner.phone = None;
                owner.national_id = None;
                owner.nationality = None;
            }
        }
        for account in &mut dataset.accounts {
            account.bban = Some(account.bank_id.clone());
            account.masked_pan = None;
            account.valid_until = None;
            account.max_allowed_balance = None;
            // An overdraft limit says how far below zero, nothing above it.
            account.min_allowed_balance =
                account.min_allowed_balance.filter(|m| *m <= Decimal::ZERO);
            account.balances = carried(&account.balances);
        }
        dataset.transactions = vec![Vec::new(); dataset.accounts.len()];
        dataset.cards.clear();
        dataset.card_transactions.clear();
        dataset
    }

    async fn serve(&self, bank: &MockServer, dataset: &Dataset, shape: Shape) {
        customer_call()
            .respond_with(success(customer(dataset), shape))
            .mount(bank)
            .await;
        let accounts: Vec<Value> = dataset.accounts.iter().map(summary).collect();
        list_call()
            .respond_with(success(json!({"cif": CIF, "accounts": accounts}), shape))
            .mount(bank)
            .await;
        for account in &dataset.accounts {
            Mock::given(method("POST"))
                .and(path("/get-account-info"))
                .and(body_partial_json(
                    json!({"cif": CIF, "accountNumber": account.bank_id}),
                ))
                .respond_with(success(info(account), shape))
                .mount(bank)
                .await;
        }
    }

    async fn break_call(
        &self,
        bank: &MockServer,
        dataset: &Dataset,
        call: Call,
        fault: Fault,
    ) -> bool {
        let (mock, data) = match call {
            Call::Owners => (customer_call(), customer(dataset)),
            Call::Accounts => (list_call(), json!({"cif": CIF, "accounts": []})),
            // end_session makes no call; the rest answer Unsupported without one.
            _ => return false,
        };
        let response = match fault {
            Fault::Malformed => ResponseTemplate::new(200)
                .set_body_raw(r#"{"code":"00","data":{"accounts":[{"#, "application/json"),
            Fault::ServerError => refusal(500, "96", "System error"),
            Fault::Timeout => success(
                data,
                Shape {
                    page_size: 100,
                    unknown_fields: false,
                },
            )
            .set_delay(CLIENT_TIMEOUT * 2),
            Fault::RateLimited { retry_after_secs } => refusal(429, "29", "Too many requests")
                .insert_header("Retry-After", retry_after_secs.to_string()),
            // The customer the session names is gone.
            Fault::ConsentExpired => refusal(404, "10", "Customer not found"),
            Fault::AccessBlocked => refusal(423, "20", "Customer is blocked"),
            // No history, so no period to refuse.
            Fault::PeriodInvalid => return false,
        };
        mock.respond_with(response).mount(bank).await;
        true
    }
}

aisle_sdk::conformance_tests!(ServiceDouble);

/// `end_session` has nothing to revoke, so it makes no call at all.
#[tokio::test]
async fn ending_the_session_makes_no_call_for_a_fault_to_break() {
    conformance::ending_the_session_makes_no_call(&ServiceDouble).await;
}
