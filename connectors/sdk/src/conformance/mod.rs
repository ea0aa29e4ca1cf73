//! The conformance kit: the checks every connector must pass, run by each connector's own
//! tests against a bank double it builds on wiremock.
//!
//! A connector's test implements [`BankDouble`] — how its protocol serves a [`Dataset`] and
//! how it breaks a call — and then invokes [`conformance_tests!`](crate::conformance_tests),
//! which generates one test per check:
//!
//! - every scope item the profile supports maps exactly, and the others answer `Unsupported`;
//! - no money passes through a float (the dataset holds [`MONEY_PROBE`]);
//! - paging is followed to the end;
//! - unknown fields are tolerated;
//! - a malformed body becomes `Protocol`, never a panic;
//! - every error class is produced by its trigger;
//! - every request carries the headers the protocol's specification makes mandatory for that
//!   call ([`BankDouble::mandatory_headers`]), and calls nothing the specification lacks.
//!
//! Sign-in is left to each connector's own tests: the flows (redirect, OAuth, forms) differ
//! too much for one script.

mod dataset;

use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::{BankSession, Connector, ConnectorError, Page, PageCursor};

pub use dataset::{Dataset, MONEY_PROBE};

/// How long the kit's HTTP client waits for an answer; [`Fault::Timeout`] must take longer.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(1);

/// How the double shapes its answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// Transactions per page; the rest follows through the protocol's next-page link.
    pub page_size: usize,
    /// Every object the bank sends carries fields the connector has never heard of.
    pub unknown_fields: bool,
}

impl Shape {
    const PLAIN: Self = Self {
        page_size: 100,
        unknown_fields: false,
    };
}

/// `value` with a field nobody has heard of added to every object in it: how a double serves
/// [`Shape::unknown_fields`].
pub fn with_unknown_fields(value: Value) -> Value {
    match value {
        Value::Object(fields) => {
            let mut fields: serde_json::Map<String, Value> = fields
                .into_iter()
                .map(|(k, v)| (k, with_unknown_fields(v)))
                .collect();
            fields.insert(
                "vendorExtension".to_owned(),
                json!({"flag": true, "list": [1, "two", null]}),
            );
            Value::Object(fields)
        }
        Value::Array(items) => Value::Array(items.into_iter().map(with_unknown_fields).collect()),
        other => other,
    }
}

/// A connector call the kit can break.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    Owners,
    Accounts,
    Transactions,
    Cards,
    CardTransactions,
    EndSession,
}

/// How a broken call answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// `200` with a body that does not parse (truncated JSON, say) → `Protocol`.
    Malformed,
    /// A `5xx` → `Transient`.
    ServerError,
    /// Answers slower than [`CLIENT_TIMEOUT`] (wiremock's `set_delay` of twice that) →
    /// `Transient`.
    Timeout,
    /// The protocol's "slow down" with a retry-after of this many seconds → `RateLimited`.
    RateLimited { retry_after_secs: u64 },
    /// The protocol's "that date range is not served" → `PeriodInvalid`.
    PeriodInvalid,
    /// The protocol's "this consent or token is no longer valid" → `ConsentExpired`.
    ConsentExpired,
    /// The protocol's "this customer is blocked" → `AccessBlocked`.
    AccessBlocked,
}

impl Fault {
    /// The error the connector must return for this fault.
    fn matches(self, error: &ConnectorError) -> bool {
        match (self, error) {
            (Self::Malformed, ConnectorError::Protocol { .. }) => true,
            (Self::ServerError | Self::Timeout, ConnectorError::Transient(_)) => true,
            (
                Self::RateLimited { retry_after_secs },
                ConnectorError::RateLimited { retry_after },
            ) => *retry_after == Some(Duration::from_secs(retry_after_secs)),
            (Self::PeriodInvalid, ConnectorError::PeriodInvalid) => true,
            (Self::ConsentExpired, ConnectorError::ConsentExpired) => true,
            (Self::AccessBlocked, ConnectorError::AccessBlocked) => true,
            _ => false,
        }
    }

    /// Faults every protocol can express on every call it supports.
    fn required(self, call: Call) -> bool {
        match self {
            Self::ServerError | Self::Timeout | Self::RateLimited { .. } => true,
            // A deletion usually answers without a body, so there is nothing to garble.
            Self::Malformed => call != Call::EndSession,
            Self::PeriodInvalid | Self::ConsentExpired | Self::AccessBlocked => false,
        }
    }
}

/// A connector's protocol, played by a wiremock server.
#[async_trait]
pub trait BankDouble: Send + Sync {
    /// The connector under test, talking to the bank at `base_url` through `http`.
    fn connector(&self, base_url: &str, http: reqwest::Client) -> Box<dyn Connector>;

    /// A session the double's answers accept.
    fn session(&self) -> BankSession;

    /// The part of `dataset` the protocol can carry, as the connector should map it back:
    /// drop what the protocol has no field for, keep the rest. The default keeps it all.
    fn adapt(&self, dataset: Dataset) -> Dataset {
        dataset
    }

    /// Whether `end_session` calls the bank (deletes a consent, revokes a token). A protocol
    /// with nothing to revoke makes no call, so no fault can reach it.
    fn ends_session_at_the_bank(&self) -> bool {
        true
    }

    /// The headers the protocol's specification makes mandatory on `request` (one the
    /// connector made: its method, path and query), by name; `None` for a call the
    /// specification does not have. Conditional headers (a signature only some banks want)
    /// are not listed: the kit checks what every bank may insist on.
    fn mandatory_headers(&self, request: &wiremock::Request) -> Option<&'static [&'static str]>;

    /// Mounts on `bank` the answers to every read of `dataset` (already adapted).
    async fn serve(&self, bank: &MockServer, dataset: &Dataset, shape: Shape);

    /// Mounts on `bank` (otherwise empty) an answer that breaks `call` with `fault`.
    /// Returns `false` when the protocol has no way to say it on that call.
    async fn break_call(
        &self,
        bank: &MockServer,
        dataset: &Dataset,
        call: Call,
        fault: Fault,
    ) -> bool;
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(CLIENT_TIMEOUT)
        .build()
        .unwrap_or_else(|e| panic!("kit HTTP client: {e}"))
}

/// What the connector made of a whole bank, call by call.
#[derive(Debug, PartialEq, Eq)]
struct Mapped {
    owners: Result<Vec<crate::Owner>, ConnectorError>,
    accounts: Result<Vec<crate::Account>, ConnectorError>,
    transactions: Vec<Result<Vec<crate::Transaction>, ConnectorError>>,
    cards: Result<Vec<crate::Card>, ConnectorError>,
    card_transactions: Vec<Result<Vec<crate::CardTransaction>, ConnectorError>>,
    end_session: Result<(), ConnectorError>,
}

/// Follows a listing's pages to the end, refusing to loop forever on a bank that does.
async fn all_pages<T, F, Fut>(mut fetch: F) -> Result<(Vec<T>, usize), ConnectorError>
where
    F: FnMut(Option<PageCursor>) -> Fut,
    Fut: Future<Output = Result<Page<T>, ConnectorError>>,
{
    let mut rows = Vec::new();
    let mut cursor = None;
    for pages in 1..=1000 {
        let page = fetch(cursor).await?;
        rows.extend(page.items);
        match page.next {
            Some(next) => cursor = Some(next),
            None => return Ok((rows, pages)),
        }
    }
    panic!("the connector followed 1000 pages without reaching the end");
}

async fn read_everything(
    double: &dyn BankDouble,
    dataset: &Dataset,
    shape: Shape,
) -> (Mapped, usize) {
    let bank = MockServer::start().await;
    read_everything_at(&bank, double, dataset, shape).await
}

/// [`read_everything`] from a `bank` the caller holds, to look at the requests afterwards.
async fn read_everything_at(
    bank: &MockServer,
    double: &dyn BankDouble,
    dataset: &Dataset,
    shape: Shape,
) -> (Mapped, usize) {
    double.serve(bank, dataset, shape).await;
    let connector = double.connector(&bank.uri(), http());
    let session = double.session();
    let mut pages = 0;
    let mut transactions = Vec::new();
    for account in &dataset.accounts {
        let fetched = all_pages(|cursor| {
            let (connector, session) = (&connector, &session);
            async move {
                connector
                    .transactions(session, account, dataset.window, cursor.as_ref())
                    .await
            }
        })
        .await;
        pages += fetched.as_ref().map_or(0, |(_, n)| *n);
        transactions.push(fetched.map(|(rows, _)| rows));
    }
    let mut card_transactions = Vec::new();
    for card in &dataset.cards {
        let fetched = all_pages(|cursor| {
            let (connector, session) = (&connector, &session);
            async move {
                connector
                    .card_transactions(session, card, dataset.window, cursor.as_ref())
                    .await
            }
        })
        .await;
        card_transactions.push(fetched.map(|(rows, _)| rows));
    }
    let mapped = Mapped {
        owners: connector.owners(&session).await,
        accounts: connector.accounts(&session).await,
        transactions,
        cards: connector.cards(&session).await,
        card_transactions,
        end_session: connector.end_session(&session).await,
    };
    (mapped, pages)
}

/// What a correct connector makes of `dataset`, given what its profile says it supports.
fn expected(connector: &dyn Connector, dataset: &Dataset) -> Mapped {
    let supports = connector.profile().supports;
    fn scoped<T: Clone>(
        supported: bool,
        rows: &[T],
        what: &'static str,
    ) -> Result<Vec<T>, ConnectorError> {
        if supported {
            Ok(rows.to_vec())
        } else {
            Err(ConnectorError::Unsupported(what))
        }
    }
    Mapped {
        owners: scoped(supports.owners, &dataset.owners, "owners"),
        accounts: Ok(dataset.accounts.clone()),
        transactions: dataset
            .transactions
            .iter()
            .map(|rows| scoped(supports.transactions, rows, "transactions"))
            .collect(),
        cards: scoped(supports.cards, &dataset.cards, "cards"),
        card_transactions: dataset
            .card_transactions
            .iter()
            .map(|rows| scoped(supports.cards, rows, "card transactions"))
            .collect(),
        end_session: Ok(()),
    }
}

/// `Unsupported` carries a free-text name; the kit only checks the class.
fn normalise(mut mapped: Mapped) -> Mapped {
    fn class<T>(result: &mut Result<T, ConnectorError>) {
        if let Err(ConnectorError::Unsupported(what)) = result {
            *what = "";
        }
    }
    class(&mut mapped.owners);
    class(&mut mapped.accounts);
    class(&mut mapped.cards);
    mapped.transactions.iter_mut().for_each(class);
    mapped.card_transactions.iter_mut().for_each(class);
    mapped
}

fn adapted(double: &dyn BankDouble) -> Dataset {
    double.adapt(Dataset::standard())
}

fn assert_maps_exactly(double: &dyn BankDouble, dataset: &Dataset, mapped: Mapped) {
    let connector = double.connector("http://127.0.0.1:9", http());
    let expected = normalise(expected(connector.as_ref(), dataset));
    let mapped = normalise(mapped);
    assert_eq!(mapped.owners, expected.owners, "owners");
    assert_eq!(mapped.accounts, expected.accounts, "accounts");
    assert_eq!(mapped.transactions, expected.transactions, "transactions");
    assert_eq!(mapped.cards, expected.cards, "cards");
    assert_eq!(
        mapped.card_transactions, expected.card_transactions,
        "card transactions"
    );
    assert_eq!(mapped.end_session, expected.end_session, "end_session");
}

/// Every scope item the profile supports maps to exactly the dataset; the others answer
/// `Unsupported`.
pub async fn every_scope_item_maps_exactly(double: &dyn BankDouble) {
    let dataset = adapted(double);
    let (mapped, _) = read_everything(double, &dataset, Shape::PLAIN).await;
    assert_maps_exactly(double, &dataset, mapped);
}

/// The dataset's money probe survives the double's adaptation and comes back to the cent.
pub async fn money_never_passes_through_a_float(double: &dyn BankDouble) {
    let dataset = adapted(double);
    let probe: rust_decimal::Decimal = MONEY_PROBE
        .parse()
        .unwrap_or_else(|e| panic!("money probe: {e}"));
    assert!(
        dataset.amounts().contains(&probe),
        "the double's protocol must carry at least one amount; keep {MONEY_PROBE} in it"
    );
    let (mapped, _) = read_everything(double, &dataset, Shape::PLAIN).await;
    let served = Dataset {
        owners: Vec::new(),
        accounts: mapped.accounts.unwrap_or_default(),
        transactions: mapped
            .transactions
            .into_iter()
            .map(Result::unwrap_or_default)
            .collect(),
        cards: mapped.cards.unwrap_or_default(),
        card_transactions: mapped
            .card_transactions
            .into_iter()
            .map(Result::unwrap_or_default)
            .collect(),
        window: dataset.window,
    };
    assert!(
        served.amounts().contains(&probe),
        "{MONEY_PROBE} did not come back exactly: the amounts mapped were {:?}",
        served.amounts()
    );
}

/// With pages of two rows, every row still arrives, in order, through the next-page links.
pub async fn paging_is_followed_to_the_end(double: &dyn BankDouble) {
    let dataset = adapted(double);
    let shape = Shape {
        page_size: 2,
        unknown_fields: false,
    };
    let (mapped, pages) = read_everything(double, &dataset, shape).await;
    let connector = double.connector("http://127.0.0.1:9", http());
    if connector.profile().supports.transactions {
        let rows: usize = dataset.transactions.iter().map(Vec::len).sum();
        assert!(
            pages >= rows / 2,
            "{rows} rows in pages of 2 came in only {pages} pages"
        );
    }
    assert_maps_exactly(double, &dataset, mapped);
}

/// Fields the connector has never heard of change nothing.
pub async fn unknown_fields_are_tolerated(double: &dyn BankDouble) {
    let dataset = adapted(double);
    let shape = Shape {
        page_size: 100,
        unknown_fields: true,
    };
    let (mapped, _) = read_everything(double, &dataset, shape).await;
    assert_maps_exactly(double, &dataset, mapped);
}

async fn call_once(
    double: &dyn BankDouble,
    dataset: &Dataset,
    call: Call,
    fault: Fault,
) -> Option<ConnectorError> {
    let bank = MockServer::start().await;
    if !double.break_call(&bank, dataset, call, fault).await {
        assert!(
            !fault.required(call),
            "every protocol must be able to answer {call:?} with {fault:?}"
        );
        return None;
    }
    let connector = double.connector(&bank.uri(), http());
    let session = double.session();
    let (account, card) = (&dataset.accounts[0], dataset.cards.first());
    let result = match call {
        Call::Owners => connector.owners(&session).await.map(drop),
        Call::Accounts => connector.accounts(&session).await.map(drop),
        Call::Transactions => connector
            .transactions(&session, account, dataset.window, None)
            .await
            .map(drop),
        Call::Cards => connector.cards(&session).await.map(drop),
        Call::CardTransactions => match card {
            Some(card) => connector
                .card_transactions(&session, card, dataset.window, None)
                .await
                .map(drop),
            None => return None,
        },
        Call::EndSession => connector.end_session(&session).await,
    };
    Some(
        result.err().unwrap_or_else(|| {
            panic!("{call:?} answered {fault:?} but the connector saw no error")
        }),
    )
}

/// The calls a connector with this profile makes.
fn calls(double: &dyn BankDouble, connector: &dyn Connector) -> Vec<Call> {
    let supports = connector.profile().supports;
    let mut calls = vec![Call::Accounts];
    if double.ends_session_at_the_bank() {
        calls.push(Call::EndSession);
    }
    if supports.owners {
        calls.push(Call::Owners);
    }
    if supports.transactions {
        calls.push(Call::Transactions);
    }
    if supports.cards {
        calls.extend([Call::Cards, Call::CardTransactions]);
    }
    calls
}

/// A body that does not parse is a `Protocol` error on every read.
pub async fn a_malformed_body_is_a_protocol_error(double: &dyn BankDouble) {
    let dataset = adapted(double);
    let connector = double.connector("http://127.0.0.1:9", http());
    for call in calls(double, connector.as_ref()) {
        if let Some(error) = call_once(double, &dataset, call, Fault::Malformed).await {
            assert!(
                Fault::Malformed.matches(&error),
                "{call:?} with a malformed body gave {error:?}"
            );
        }
    }
}

/// Each fault maps to its error class, on every call that can answer it.
pub async fn every_error_class_is_produced_by_its_trigger(double: &dyn BankDouble) {
    let dataset = adapted(double);
    let connector = double.connector("http://127.0.0.1:9", http());
    let faults = [
        Fault::ServerError,
        Fault::Timeout,
        Fault::RateLimited {
            retry_after_secs: 7,
        },
        Fault::PeriodInvalid,
        Fault::ConsentExpired,
        Fault::AccessBlocked,
    ];
    for call in calls(double, connector.as_ref()) {
        for fault in faults {
            if let Some(error) = call_once(double, &dataset, call, fault).await {
                assert!(
                    fault.matches(&error),
                    "{call:?} answering {fault:?} gave {error:?}"
                );
            }
        }
    }
}

/// Every request of a whole read carries the headers the specification makes mandatory for
/// its call, each with a value; and the connector calls nothing the specification lacks.
pub async fn every_request_carries_its_mandatory_headers(double: &dyn BankDouble) {
    let dataset = adapted(double);
    let bank = MockServer::start().await;
    read_everything_at(&bank, double, &dataset, Shape::PLAIN).await;
    let requests = bank
        .received_requests()
        .await
        .unwrap_or_else(|| panic!("the kit's bank records requests"));
    assert!(!requests.is_empty(), "the connector made no request at all");
    for request in &requests {
        let call = format!("{} {}", request.method, request.url.path());
        let mandatory = double
            .mandatory_headers(request)
            .unwrap_or_else(|| panic!("{call} is not a call of the protocol's specification"));
        for name in mandatory {
            let value = request
                .headers
                .get(*name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim);
            assert!(
                value.is_some_and(|v| !v.is_empty()),
                "{call} lacks the mandatory header {name}"
            );
        }
    }
}

/// A bank that fails the test, when it is dropped, if the connector called it at all: for
/// what a connector must answer without asking the bank.
pub async fn bank_never_called() -> MockServer {
    let bank = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&bank)
        .await;
    bank
}

/// For a protocol with nothing to revoke ([`BankDouble::ends_session_at_the_bank`] is
/// `false`): `end_session` succeeds without a single call to the bank, so no fault can reach
/// it. Not one of the generated checks: a connector with nothing to revoke calls it itself.
pub async fn ending_the_session_makes_no_call(double: &dyn BankDouble) {
    assert!(
        !double.ends_session_at_the_bank(),
        "the double says end_session calls the bank"
    );
    let bank = bank_never_called().await;
    double
        .connector(&bank.uri(), http())
        .end_session(&double.session())
        .await
        .expect("nothing to revoke");
}

/// Generates the kit's tests for a connector: `conformance_tests!(MyDouble::new());` in a
/// test file with `tokio` as a dev-dependency.
#[macro_export]
macro_rules! conformance_tests {
    ($double:expr) => {
        mod conformance_kit {
            use super::*;
            use $crate::conformance;

            #[tokio::test]
            async fn every_scope_item_maps_exactly() {
                conformance::every_scope_item_maps_exactly(&$double).await;
            }

            #[tokio::test]
            async fn money_never_passes_through_a_float() {
                conformance::money_never_passes_through_a_float(&$double).await;
            }

            #[tokio::test]
            async fn paging_is_followed_to_the_end() {
                conformance::paging_is_followed_to_the_end(&$double).await;
            }

            #[tokio::test]
            async fn unknown_fields_are_tolerated() {
                conformance::unknown_fields_are_tolerated(&$double).await;
            }

            #[tokio::test]
            async fn a_malformed_body_is_a_protocol_error() {
                conformance::a_malformed_body_is_a_protocol_error(&$double).await;
            }

            #[tokio::test]
            async fn every_error_class_is_produced_by_its_trigger() {
                conformance::every_error_class_is_produced_by_its_trigger(&$double).await;
            }

            #[tokio::test]
            async fn every_request_carries_its_mandatory_headers() {
                conformance::every_request_carries_its_mandatory_headers(&$double).await;
            }
        }
    };
}
