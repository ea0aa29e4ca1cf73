//! Turns the window runs of one import into each account's and card's rows and receipt:
//! rows seen twice are kept once, and the obtained history is the unbroken stretch from
//! today back to the first day that could not be read.

use std::collections::HashSet;

use aisle_sdk::TransactionStatus;
use chrono::Days;

use super::history::{Row, WindowRun};
use super::planner::Plan;
use super::receipt::{Continuity, DateRange, Receipt, Shortfall, ShortfallReason};

/// One account's or card's history, ready to store.
#[derive(Debug)]
pub struct Collected {
    pub rows: Vec<(String, Row)>,
    pub receipt: Receipt,
}

/// Splits `runs` by target (`0..targets`) and assembles each.
pub fn collect(plan: &Plan, runs: Vec<WindowRun>, targets: usize) -> Vec<Collected> {
    let mut by_target: Vec<Vec<WindowRun>> = (0..targets).map(|_| Vec::new()).collect();
    for run in runs {
        if let Some(slot) = by_target.get_mut(run.target) {
            slot.push(run);
        }
    }
    by_target
        .into_iter()
        .map(|runs| assemble(plan, runs))
        .collect()
}

/// The receipt of a listing whose bank offers no transactions.
pub fn not_supported(plan: &Plan, what: &str) -> Receipt {
    Receipt {
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
    }
}

fn assemble(plan: &Plan, mut runs: Vec<WindowRun>) -> Collected {
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
    for run in runs {
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
        balance_continuity: Continuity::NotChecked {
            reason: "card transactions carry no balance after".into(),
        },
    };
    Collected { rows, receipt }
}

fn row_status(row: &Row) -> TransactionStatus {
    match row {
        Row::Account(t) => t.status,
        Row::Card(t) => t.status,
    }
}
