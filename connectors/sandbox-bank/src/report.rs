//! The query and paging rules shared by account and card transaction reports.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::errors::BankError;
use crate::history;
use crate::ledger::PersonaData;

/// Which rows a report includes (Berlin Group `bookingStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BookingStatus {
    Booked,
    Pending,
    Both,
}

impl BookingStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::Booked => "booked",
            Self::Pending => "pending",
            Self::Both => "both",
        }
    }

    pub fn booked(self) -> bool {
        self != Self::Pending
    }

    pub fn pending(self) -> bool {
        self != Self::Booked
    }
}

/// A validated transactions query.
#[derive(Debug, Clone, Copy)]
pub struct ReportQuery {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub status: BookingStatus,
    /// 1-based.
    pub page: usize,
}

impl ReportQuery {
    /// Parses the query; a missing or future `dateTo` means today. Which history may be
    /// read is [`crate::history`]'s to say.
    pub fn parse(query: &HashMap<String, String>, today: NaiveDate) -> Result<Self, BankError> {
        let date = |name: &str| -> Result<Option<NaiveDate>, BankError> {
            query
                .get(name)
                .map(|raw| {
                    raw.parse::<NaiveDate>().map_err(|_| {
                        BankError::format(format!(
                            "{name} must be a date (YYYY-MM-DD), not {raw:?}"
                        ))
                    })
                })
                .transpose()
        };
        let from = date("dateFrom")?.ok_or_else(|| BankError::format("dateFrom is required"))?;
        let to = date("dateTo")?.map_or(today, |to| to.min(today));
        if from > to {
            return Err(BankError::period_invalid("dateFrom lies after dateTo"));
        }
        let status = match query.get("bookingStatus").map(String::as_str) {
            Some("booked") => BookingStatus::Booked,
            Some("pending") => BookingStatus::Pending,
            Some("both") => BookingStatus::Both,
            Some(other) => {
                return Err(BankError::format(format!(
                    "bookingStatus {other:?} is not supported"
                )));
            }
            None => return Err(BankError::format("bookingStatus is required")),
        };
        let page = match query.get("page") {
            None => 1,
            Some(raw) => raw
                .parse::<usize>()
                .ok()
                .filter(|p| *p >= 1)
                .ok_or_else(|| BankError::format("page must be a positive number"))?,
        };
        Ok(Self {
            from,
            to,
            status,
            page,
        })
    }

    /// Parses the query of a report on `data` and checks its period may be read now by a
    /// consent whose SCA happened at `sca_at` (see [`history::check`]).
    pub fn admitted(
        query: &HashMap<String, String>,
        data: &PersonaData,
        sca_at: Option<DateTime<Utc>>,
    ) -> Result<Self, BankError> {
        let query = Self::parse(query, data.today)?;
        let knobs = &data.persona.knobs;
        history::check(query.from, query.to, knobs, data.today, sca_at, Utc::now())?;
        Ok(query)
    }

    pub fn covers(&self, date: NaiveDate) -> bool {
        self.from <= date && date <= self.to
    }

    /// The link to the page after this one, under `path`.
    pub fn next_href(&self, path: &str) -> String {
        self.page_href(path, self.page + 1)
    }

    /// The link to page `page` of this report, under `path`. Page 1 is written without a
    /// `page` parameter, as a TPP asks for it.
    pub fn page_href(&self, path: &str, page: usize) -> String {
        let first = format!(
            "{path}?dateFrom={}&dateTo={}&bookingStatus={}",
            self.from,
            self.to,
            self.status.as_str()
        );
        if page <= 1 {
            first
        } else {
            format!("{first}&page={page}")
        }
    }
}

/// One page of a report: booked rows first, then pending, a page size in all.
struct ReportPage<'a, B, P> {
    booked: Vec<&'a B>,
    pending: Vec<&'a P>,
    /// The `_links` object of the report, with `next` when rows remain.
    links: Value,
}

fn paginate<'a, B, P>(
    query: &ReportQuery,
    path: &str,
    page_size: usize,
    booked: &'a [B],
    pending: Vec<&'a P>,
) -> ReportPage<'a, B, P> {
    let start = (query.page - 1).saturating_mul(page_size);
    let end = start.saturating_add(page_size);
    let total = booked.len() + pending.len();
    let slice = |len_before: usize, len: usize| {
        let from = start.clamp(len_before, len_before + len) - len_before;
        let to = end.clamp(len_before, len_before + len) - len_before;
        from..to
    };
    let booked_range = slice(0, booked.len());
    let pending_range = slice(booked.len(), pending.len());
    let links = if end < total {
        json!({"next": {"href": query.next_href(path)}})
    } else {
        json!({})
    };
    ReportPage {
        booked: booked
            .get(booked_range)
            .unwrap_or_default()
            .iter()
            .collect(),
        pending: pending.get(pending_range).unwrap_or_default().to_vec(),
        links,
    }
}

/// The report object of one page (`transactions` or `cardTransactions`): of the period's
/// `booked` rows and the `pending` rows whose `date` it covers, those of the query's booking
/// status and page, each as `render` prints it, with the page's `_links`.
pub fn page_body<R>(
    query: &ReportQuery,
    path: &str,
    page_size: usize,
    booked: &[R],
    pending: &[R],
    date: impl Fn(&R) -> NaiveDate,
    render: impl Fn(&R) -> Value,
) -> Value {
    let booked = if query.status.booked() { booked } else { &[] };
    let pending: Vec<&R> = pending
        .iter()
        .filter(|r| query.status.pending() && query.covers(date(r)))
        .collect();
    let page = paginate(query, path, page_size, booked, pending);
    let render_all = |rows: Vec<&R>| -> Vec<Value> { rows.into_iter().map(&render).collect() };
    let mut report = json!({"booked": render_all(page.booked), "_links": page.links});
    if query.status.pending()
        && let Some(fields) = report.as_object_mut()
    {
        fields.insert("pending".into(), Value::Array(render_all(page.pending)));
    }
    report
}

/// The `balances` of an account or a card: booked at today's close, and what may be spent.
pub fn balances(
    closing_booked: Decimal,
    available: Decimal,
    currency: &str,
    today: NaiveDate,
) -> Value {
    json!([
        balance("closingBooked", closing_booked, currency, today),
        balance("interimAvailable", available, currency, today),
    ])
}

/// A Berlin Group `amount` object; the amount is a string, as the spec requires.
pub fn money(amount: Decimal, currency: &str) -> Value {
    json!({"currency": currency, "amount": amount.to_string()})
}

/// A Berlin Group `balance` object.
fn balance(kind: &str, amount: Decimal, currency: &str, date: NaiveDate) -> Value {
    json!({"balanceAmount": money(amount, currency), "balanceType": kind, "referenceDate": date})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, 3, d).expect("valid date")
    }

    fn query(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_future_date_to_is_clamped_to_today() {
        let q = query(&[
            ("dateFrom", "2025-03-01"),
            ("dateTo", "2025-12-31"),
            ("bookingStatus", "both"),
        ]);
        let parsed = ReportQuery::parse(&q, day(14)).expect("valid query");
        assert_eq!(parsed.to, day(14));
    }

    #[test]
    fn a_reversed_range_is_a_period_error_and_a_bad_date_a_format_error() {
        let q = query(&[
            ("dateFrom", "2025-03-10"),
            ("dateTo", "2025-03-01"),
            ("bookingStatus", "both"),
        ]);
        let err = ReportQuery::parse(&q, day(14)).expect_err("reversed");
        assert_eq!(err.code, "PERIOD_INVALID");
        let q = query(&[("dateFrom", "yesterday"), ("bookingStatus", "both")]);
        assert_eq!(
            ReportQuery::parse(&q, day(14)).expect_err("bad").code,
            "FORMAT_ERROR"
        );
    }

    #[test]
    fn pages_split_booked_then_pending_and_link_only_while_rows_remain() {
        let booked: Vec<u32> = (0..150).collect();
        let pending: Vec<u32> = (0..60).collect();
        let q = |page| ReportQuery {
            from: day(1),
            to: day(14),
            status: BookingStatus::Both,
            page,
        };
        let first = paginate(&q(1), "/x", 100, &booked, pending.iter().collect());
        assert_eq!((first.booked.len(), first.pending.len()), (100, 0));
        assert!(
            first.links["next"]["href"]
                .as_str()
                .is_some_and(|h| h.ends_with("page=2"))
        );
        let second = paginate(&q(2), "/x", 100, &booked, pending.iter().collect());
        assert_eq!((second.booked.len(), second.pending.len()), (50, 50));
        let third = paginate(&q(3), "/x", 100, &booked, pending.iter().collect());
        assert_eq!((third.booked.len(), third.pending.len()), (0, 10));
        assert!(third.links.get("next").is_none());
    }
}
