//! Turns the window runs of one import into each account's and card's rows and receipt:
//! rows seen twice are kept once, and the obtained history is the unbroken stretch from
//! today back to the first day that could not be read.

use std::collections::{HashMap, HashSet};

use aisle_sdk::{ConnectorError, TransactionStatus};
use chrono::Days;

use super::continuity;
use super::history::{Holder, Row, WindowRun};
use super::planner::Plan;
use crate::model::receipt::{Continuity, DateRange, Receipt, Shortfall, ShortfallReason};

/// One account's or card's history, as its receipt tells it.
#[derive(Debug)]
pub struct Collected {
    pub receipt: Receipt,
    /// Identities of rows that were fetched (and may have been stored) but are not part of
    /// the history: they came from windows older than the first one that could not be read.
    pub dropped: Vec<String>,
}

/// Sorts `runs` by holder and assembles each of `holders`' history (a holder with no runs gets
/// an empty one). Fails when the bank's numbers cannot be added up.
pub fn collect(
    plan: &Plan,
    runs: Vec<WindowRun>,
    holders: impl IntoIterator<Item = Holder>,
) -> Result<HashMap<Holder, Collected>, ConnectorError> {
    let mut by_holder: HashMap<Holder, Vec<WindowRun>> = holders
        .into_iter()
        .map(|holder| (holder, Vec::new()))
        .collect();
    for run in runs {
        if let Some(slot) = by_holder.get_mut(&run.holder) {
            slot.push(run);
        }
    }
    by_holder
        .into_iter()
        .map(|(holder, runs)| Ok((holder, assemble(plan, runs)?)))
        .collect()
}

/// The history of an account whose bank offers no transactions.
pub fn not_supported(plan: &Plan, what: &str) -> Collected {
    let receipt = Receipt {
        requested: plan.requested.into(),
        obtained: None,
        booked: 0,
        pending: 0,
        windows: 0,
        pages: 0,
        shortfalls: vec![Shortfall {
            reason: ShortfallReason::NotSupportedByBank,
            days: Some(plan.requested.into()),
            detail: format!("the bank does not offer {what}"),
        }],
        balance_continuity: Continuity::NotChecked {
            reason: format!("the bank does not offer {what}"),
        },
    };
    Collected {
        receipt,
        dropped: Vec::new(),
    }
}

fn assemble(plan: &Plan, mut runs: Vec<WindowRun>) -> Result<Collected, ConnectorError> {
    runs.sort_by_key(|run| std::cmp::Reverse(run.planned.to));
    let oldest_planned = plan.bank_history_starts.unwrap_or(plan.requested.from);
    let mut shortfalls = Vec::new();
    if let Some(starts) = plan.bank_history_starts
        && let Some(before) = starts.pred_opt()
    {
        shortfalls.push(Shortfall {
            reason: ShortfallReason::BankHistoryLimit,
            days: Some(DateRange {
                from: plan.requested.from,
                to: before,
            }),
            detail: format!("the bank keeps history from {starts} only"),
        });
    }
    let (requests, pages) = runs
        .iter()
        .fold((0, 0), |(r, p), run| (r + run.requests, p + run.pages));
    if runs.iter().any(|run| run.shrunk) {
        shortfalls.push(Shortfall {
            reason: ShortfallReason::PeriodInvalidShrunk,
            days: None,
            detail: "the bank refused a date range; it was read in smaller windows".into(),
        });
    }

    let mut seen = HashSet::new();
    let mut rows = Vec::new();
    let mut obtained_from = None;
    let mut runs = runs.into_iter();
    for run in runs.by_ref() {
        for (identity, row) in run.rows {
            if seen.insert(identity.clone()) {
                rows.push((identity, row));
            }
        }
        let Some(missing) = run.missing else {
            obtained_from = Some(run.planned.from);
            continue;
        };
        if missing.newest_day < run.planned.to {
            obtained_from = missing.newest_day.checked_add_days(Days::new(1));
        }
        if let Some(reason) = missing.reason {
            shortfalls.push(Shortfall {
                reason,
                days: Some(DateRange {
                    from: oldest_planned,
                    to: missing.newest_day,
                }),
                detail: missing.detail,
            });
        }
        // Nothing older counts: the obtained history is unbroken by definition.
        break;
    }
    let dropped = runs
        .flat_map(|run| run.rows)
        .map(|(identity, _)| identity)
        .filter(|identity| !seen.contains(identity))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let count = |status| {
        let n = rows
            .iter()
            .filter(|(_, row)| row_status(row) == status)
            .count();
        u32::try_from(n).unwrap_or(u32::MAX)
    };
    let receipt = Receipt {
        requested: plan.requested.into(),
        obtained: obtained_from.map(|from| DateRange {
            from,
            to: plan.requested.to,
        }),
        booked: count(TransactionStatus::Booked),
        pending: count(TransactionStatus::Pending),
        windows: requests,
        pages,
        shortfalls,
        balance_continuity: continuity::check(rows.iter().filter_map(|(id, row)| match row {
            Row::Account(t) => Some((id.as_str(), t)),
            Row::Card(_) => None,
        }))?,
    };
    Ok(Collected { receipt, dropped })
}

fn row_status(row: &Row) -> TransactionStatus {
    match row {
        Row::Account(t) => t.status,
        Row::Card(t) => t.status,
    }
}

#[cfg(test)]
mod tests {
    use aisle_sdk::{BankProfile, DateWindow, Transaction};
    use chrono::NaiveDate;
    use rust_decimal::Decimal;

    use super::*;
    use crate::engine::history::Missing;
    use crate::engine::identity;
    use crate::engine::planner::PlanInput;

    fn day(s: &str) -> NaiveDate {
        s.parse().expect("test date")
    }

    fn coffee(date: &str) -> Row {
        Row::Account(Transaction {
            bank_id: None,
            status: TransactionStatus::Booked,
            booking_date: Some(day(date)),
            value_date: None,
            amount: Decimal::new(-350, 2),
            currency: "EUR".into(),
            counterparty_name: Some("Cafe".into()),
            counterparty_account: None,
            description: Some("coffee".into()),
            bank_transaction_code: None,
            balance_after: None,
        })
    }

    fn run(from: &str, to: &str, rows: Vec<Row>, missing: Option<Missing>) -> WindowRun {
        WindowRun {
            holder: Holder::Account(0),
            planned: DateWindow {
                from: day(from),
                to: day(to),
            },
            rows: identity::identify(rows),
            requests: 1,
            pages: 1,
            shrunk: false,
            missing,
        }
    }

    fn plan() -> Plan {
        Plan::new(PlanInput {
            today: day("2026-11-21"),
            since: day("2026-08-01"),
            max_import_date: None,
            profile: &BankProfile::default(),
        })
    }

    #[test]
    fn rows_seen_in_two_overlapping_windows_are_kept_once_and_same_day_twins_both() {
        // A bank that ignores dateFrom a little: the 2026-08-24 twins come back twice.
        let newer = run(
            "2026-08-24",
            "2026-11-21",
            vec![
                coffee("2026-08-24"),
                coffee("2026-08-24"),
                coffee("2026-11-01"),
            ],
            None,
        );
        let older = run(
            "2026-08-01",
            "2026-08-23",
            vec![
                coffee("2026-08-24"),
                coffee("2026-08-24"),
                coffee("2026-08-02"),
            ],
            None,
        );
        let collected = collect(&plan(), vec![older, newer], [Holder::Account(0)]).unwrap();
        let collected = &collected[&Holder::Account(0)];
        assert_eq!(
            collected.receipt.booked, 4,
            "twice the twins, the 1st and the 2nd"
        );
        assert!(collected.dropped.is_empty());
        assert_eq!(
            collected.receipt.obtained,
            Some(DateRange {
                from: day("2026-08-01"),
                to: day("2026-11-21"),
            })
        );
    }

    #[test]
    fn a_window_that_stopped_short_ends_the_obtained_history_and_names_the_reason() {
        let newer = run("2026-08-24", "2026-11-21", vec![coffee("2026-11-01")], None);
        let older = run(
            "2026-08-01",
            "2026-08-23",
            vec![coffee("2026-08-20")],
            Some(Missing {
                newest_day: day("2026-08-19"),
                reason: Some(ShortfallReason::ScaWindowClosed),
                detail: "closed".into(),
            }),
        );
        let collected = collect(&plan(), vec![newer, older], [Holder::Account(0)]).unwrap();
        let receipt = &collected[&Holder::Account(0)].receipt;
        assert_eq!(receipt.obtained.map(|r| r.from), Some(day("2026-08-20")));
        assert_eq!(
            receipt.shortfalls[0].reason,
            ShortfallReason::ScaWindowClosed
        );
        assert_eq!(
            receipt.shortfalls[0].days,
            Some(DateRange {
                from: day("2026-08-01"),
                to: day("2026-08-19"),
            })
        );
    }

    #[test]
    fn rows_of_windows_older_than_a_gap_are_dropped_unless_a_newer_window_had_them_too() {
        let newer = run("2026-08-24", "2026-11-21", vec![coffee("2026-11-01")], None);
        let gap = run(
            "2026-08-10",
            "2026-08-23",
            vec![coffee("2026-08-20")],
            Some(Missing {
                newest_day: day("2026-08-19"),
                reason: Some(ShortfallReason::BankHistoryLimit),
                detail: "refused".into(),
            }),
        );
        // A bank that ignored dateFrom sends the 1st of November again with the older rows.
        let older = run(
            "2026-08-01",
            "2026-08-09",
            vec![coffee("2026-08-02"), coffee("2026-11-01")],
            None,
        );
        let stale = identity::identify(vec![coffee("2026-08-02")]);
        let collected = collect(&plan(), vec![older, newer, gap], [Holder::Account(0)]).unwrap();
        let collected = &collected[&Holder::Account(0)];
        assert_eq!(
            collected.receipt.booked, 2,
            "the 1st of November and the 20th of August"
        );
        assert_eq!(collected.dropped, vec![stale[0].0.clone()]);
    }
}
