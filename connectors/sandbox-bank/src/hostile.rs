//! The hostile personas' transactions reports (see [`Hostility`]) and the other host the
//! redirect-away persona sends its TPP to. Each reply is valid HTTP and, but for the one
//! flaw it exists to show, a valid Berlin Group report.

use std::convert::Infallible;
use std::fmt::Write as _;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router, routing::get};
use chrono::NaiveDate;
use futures_util::{future, stream};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::consents::header_str;
use crate::knobs::Hostility;
use crate::report::{ReportQuery, money};
use crate::state::BankState;

const CURRENCY: &str = "EUR";

/// What the huge-body persona's report weighs, at least.
pub const HUGE_BODY_BYTES: usize = 64 * 1024 * 1024;

/// Rows per chunk of the huge body: about 60 KiB, so the bank holds one chunk at a time.
const HUGE_ROWS_PER_CHUNK: u64 = 256;

/// The request a hostile report answers.
pub struct Asked<'a> {
    pub iban: &'a str,
    pub query: &'a ReportQuery,
    /// The report's path, which its links point under.
    pub path: &'a str,
    pub headers: &'a HeaderMap,
    pub uri: &'a Uri,
}

/// The hostile answer to a transactions report whose well-behaved body would be `tidy`.
pub fn transactions(hostility: Hostility, asked: &Asked<'_>, tidy: Value) -> Response {
    let date = asked.query.to;
    let report = |booked: Vec<Value>, next: Option<String>| {
        let links = next.map_or_else(|| json!({}), |href| json!({"next": {"href": href}}));
        let body = json!({
            "account": {"iban": asked.iban},
            "transactions": {"booked": booked, "pending": [], "_links": links},
        });
        Json(body).into_response()
    };
    match hostility {
        // Both readings of the day's order overflow: each row's balance is MAX, and so is
        // the credit added to it.
        Hostility::Overflow => report(
            vec![
                row(
                    &format!("overflow-{date}-1"),
                    date,
                    Decimal::MAX,
                    Some(Decimal::MAX),
                ),
                row(
                    &format!("overflow-{date}-2"),
                    date,
                    Decimal::MAX,
                    Some(Decimal::MAX),
                ),
            ],
            None,
        ),
        Hostility::EndlessPages => {
            let page = asked.query.page;
            let id = format!("endless-{}-{date}-{page}", asked.query.from);
            report(
                vec![row(&id, date, Decimal::NEGATIVE_ONE, None)],
                Some(asked.query.next_href(asked.path)),
            )
        }
        Hostility::LinkCycle => {
            let (id, next) = if asked.query.page == 1 {
                ("cycle-a", asked.query.page_href(asked.path, 2))
            } else {
                ("cycle-b", asked.query.page_href(asked.path, 1))
            };
            let id = format!("{id}-{}-{date}", asked.query.from);
            report(
                vec![row(&id, date, Decimal::NEGATIVE_ONE, None)],
                Some(next),
            )
        }
        Hostility::HugeBody => huge(asked.iban, date),
        Hostility::NulBytes => Json(with_nul_bytes(tidy)).into_response(),
        Hostility::RedirectAway => redirect_away(asked.headers, asked.uri),
    }
}

/// A booked row with the fields an importer needs. As on every sandbox row, the counterparty
/// of a debit is its creditor and of a credit its debtor: importers read the sign from it.
fn row(id: &str, date: NaiveDate, amount: Decimal, balance_after: Option<Decimal>) -> Value {
    let mut body = json!({
        "transactionId": id,
        "bookingDate": date,
        "valueDate": date,
        "transactionAmount": money(amount, CURRENCY),
        "remittanceInformationUnstructured": "hostile row",
    });
    let counterparty = if amount.is_sign_negative() {
        "creditorName"
    } else {
        "debtorName"
    };
    if let Some(fields) = body.as_object_mut() {
        fields.insert(counterparty.into(), json!("Hostile Counterparty"));
        if let Some(after) = balance_after {
            fields.insert(
                "balanceAfterTransaction".into(),
                json!({"balanceType": "closingBooked", "balanceAmount": money(after, CURRENCY)}),
            );
        }
    }
    body
}

/// `report` with a NUL inside every row's remittance information and counterparty name.
fn with_nul_bytes(mut report: Value) -> Value {
    for status in ["booked", "pending"] {
        let Some(rows) = report["transactions"][status].as_array_mut() else {
            continue;
        };
        for row in rows.iter_mut().filter_map(Value::as_object_mut) {
            for field in [
                "remittanceInformationUnstructured",
                "creditorName",
                "debtorName",
            ] {
                if let Some(Value::String(text)) = row.get_mut(field) {
                    insert_nul_midway(text);
                }
            }
        }
    }
    report
}

/// Puts a NUL between the middle two characters of `text` (never inside a UTF-8 sequence:
/// counterparty names carry umlauts).
fn insert_nul_midway(text: &mut String) {
    let middle = text
        .char_indices()
        .nth(text.chars().count() / 2)
        .map_or(text.len(), |(at, _)| at);
    text.insert(middle, '\0');
}

/// Where the huge body's stream stands.
enum HugePart {
    Head,
    Rows { next: u64, sent: usize },
    Tail,
    Done,
}

/// A valid report of at least [`HUGE_BODY_BYTES`], generated chunk by chunk as it is sent.
fn huge(iban: &str, date: NaiveDate) -> Response {
    let head = format!(
        "{{\"account\":{{\"iban\":{}}},\"transactions\":{{\"booked\":[",
        json!(iban)
    );
    let chunks = stream::unfold(HugePart::Head, move |part| {
        let (chunk, part) = match part {
            HugePart::Done => return future::ready(None),
            HugePart::Head => (
                head.clone(),
                HugePart::Rows {
                    next: 0,
                    sent: head.len(),
                },
            ),
            HugePart::Rows { next, sent } => {
                let mut chunk = String::new();
                for n in next..next + HUGE_ROWS_PER_CHUNK {
                    if n > 0 {
                        chunk.push(',');
                    }
                    // Written out rather than built as a `Value`: the body must come out at
                    // the speed of a real bank's, even from a debug build.
                    let _ = write!(
                        chunk,
                        "{{\"transactionId\":\"huge-{n}\",\"bookingDate\":\"{date}\",\
                         \"valueDate\":\"{date}\",\"transactionAmount\":{{\"currency\":\
                         \"{CURRENCY}\",\"amount\":\"-1.00\"}},\"creditorName\":\
                         \"Hostile Counterparty\",\"remittanceInformationUnstructured\":\
                         \"hostile row\"}}"
                    );
                }
                let sent = sent + chunk.len();
                let part = if sent >= HUGE_BODY_BYTES {
                    HugePart::Tail
                } else {
                    HugePart::Rows {
                        next: next + HUGE_ROWS_PER_CHUNK,
                        sent,
                    }
                };
                (chunk, part)
            }
            HugePart::Tail => (
                "],\"pending\":[],\"_links\":{}}}".to_owned(),
                HugePart::Done,
            ),
        };
        future::ready(Some((Ok::<_, Infallible>(Bytes::from(chunk)), part)))
    });
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(chunks),
    )
        .into_response()
}

/// A `302` to this same request under the bank's other name (`127.0.0.1` ⇄ `localhost`) and
/// the `/leak` prefix: a TPP that follows it carries its consent to another host.
fn redirect_away(headers: &HeaderMap, uri: &Uri) -> Response {
    let host = header_str(headers, header::HOST.as_str()).unwrap_or("127.0.0.1");
    let (name, port) = host.rsplit_once(':').unwrap_or((host, "80"));
    let other = if name == "localhost" {
        "127.0.0.1"
    } else {
        "localhost"
    };
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let location = format!("http://{other}:{port}/leak{path}");
    (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
}

/// The other host's routes: anything under `/leak` answers an empty report, and counts as a
/// leak when it carries `Consent-ID`.
pub fn leak_routes() -> Router<BankState> {
    Router::new().route("/leak/{*rest}", get(leak))
}

async fn leak(State(state): State<BankState>, headers: HeaderMap) -> Json<Value> {
    if headers.contains_key("consent-id") {
        tracing::warn!("a consent id reached the redirect-away persona's other host");
        state.count_consent_id_leak();
    }
    Json(json!({"transactions": {"booked": [], "pending": [], "_links": {}}}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nul_goes_between_characters_never_inside_one() {
        for (text, with_nul) in [("Bäcker", "Bäc\0ker"), ("äöü", "ä\0öü"), ("", "\0")] {
            let mut text = text.to_owned();
            insert_nul_midway(&mut text);
            assert_eq!(text, with_nul);
        }
    }
}
