//! Which date windows to fetch, following the 90-day rule (DESIGN.md, "The 90-day rule").
//!
//! A bank serves the last `free_history_days` without fresh SCA; older history only for
//! `sca_history_window` after the owner's SCA. So the plan has two parts, each tiled newest
//! first into windows no longer than the bank accepts: `recent` (always fetched) and `deep`
//! (fetched only while the SCA window is open). Together they cover `oldest ..= today` exactly,
//! with no gap and no overlap.

use aisle_sdk::{BankProfile, DateWindow};
use chrono::{Days, NaiveDate};

/// What the plan is made from.
#[derive(Debug, Clone, Copy)]
pub struct PlanInput<'a> {
    /// Today, in UTC.
    pub today: NaiveDate,
    /// The command's `since` (default: today − 90 days).
    pub since: NaiveDate,
    /// The oldest day the owner agreed to share at sign-in, if they limited it.
    pub max_import_date: Option<NaiveDate>,
    pub profile: &'a BankProfile,
}

/// The windows to fetch for every account and card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// What the client asked for, within what the owner agreed to share.
    pub requested: DateWindow,
    /// The oldest day the bank keeps, when that is newer than `requested.from`.
    pub bank_history_starts: Option<NaiveDate>,
    /// Windows inside the free history, newest first.
    pub recent: Vec<DateWindow>,
    /// Older windows, which need the SCA window to be open, newest first.
    pub deep: Vec<DateWindow>,
}

impl Plan {
    pub fn new(input: PlanInput<'_>) -> Self {
        let PlanInput {
            today,
            since,
            max_import_date,
            profile,
        } = input;
        let requested_from = since.max(max_import_date.unwrap_or(since)).min(today);
        let bank_oldest = days_before(today, profile.history_days.saturating_sub(1));
        let oldest = requested_from.max(bank_oldest);
        // One day of margin at the free edge: the bank's "today" may already be tomorrow in
        // its time zone, and a window one day too old is refused whole.
        let free_from = days_before(today, profile.free_history_days.saturating_sub(2));
        let span = profile.max_days_per_request.max(1);
        let recent = tile(oldest.max(free_from), today, span);
        let deep = match free_from.pred_opt() {
            Some(deep_to) if oldest <= deep_to => tile(oldest, deep_to, span),
            _ => Vec::new(),
        };
        Self {
            requested: DateWindow {
                from: requested_from,
                to: today,
            },
            bank_history_starts: (bank_oldest > requested_from).then_some(bank_oldest),
            recent,
            deep,
        }
    }

    /// How many windows the plan has for one account or card.
    pub fn windows_per_listing(&self) -> usize {
        self.recent.len() + self.deep.len()
    }
}

fn days_before(day: NaiveDate, days: u32) -> NaiveDate {
    day.checked_sub_days(Days::new(u64::from(days)))
        .unwrap_or(NaiveDate::MIN)
}

/// Windows of at most `span` days from `to` back to `from`, newest first; empty when
/// `from` is after `to`.
pub fn tile(from: NaiveDate, to: NaiveDate, span: u32) -> Vec<DateWindow> {
    let mut windows = Vec::new();
    let mut end = to;
    while end >= from {
        let start = days_before(end, span.max(1) - 1).max(from);
        windows.push(DateWindow {
            from: start,
            to: end,
        });
        match start.pred_opt() {
            Some(day) => end = day,
            None => break,
        }
    }
    windows
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use proptest::prelude::*;

    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().expect("test date")
    }

    fn profile(history_days: u32, free_history_days: u32, max_days: u32) -> BankProfile {
        BankProfile {
            history_days,
            free_history_days,
            sca_history_window: Duration::from_secs(900),
            max_days_per_request: max_days,
            ..BankProfile::default()
        }
    }

    fn assert_tiles(plan: &Plan, oldest: NaiveDate, today: NaiveDate, span: u32) {
        let windows: Vec<DateWindow> = plan.recent.iter().chain(&plan.deep).copied().collect();
        if oldest > today {
            assert!(windows.is_empty());
            return;
        }
        assert_eq!(windows.first().map(|w| w.to), Some(today), "starts today");
        assert_eq!(
            windows.last().map(|w| w.from),
            Some(oldest),
            "reaches the oldest day"
        );
        for pair in windows.windows(2) {
            assert_eq!(
                pair[1].to.succ_opt(),
                Some(pair[0].from),
                "no gap, no overlap"
            );
        }
        for w in &windows {
            assert!(
                w.from <= w.to && w.days() <= i64::from(span.max(1)),
                "{w:?}"
            );
        }
    }

    #[test]
    fn a_fresh_two_year_request_is_recent_days_then_older_windows() {
        let today = day("2026-11-21");
        let plan = Plan::new(PlanInput {
            today,
            since: day("2024-11-22"),
            max_import_date: None,
            profile: &profile(730, 90, 90),
        });
        assert_eq!(
            plan.recent,
            vec![DateWindow {
                from: day("2026-08-25"),
                to: today
            }]
        );
        assert_eq!(plan.deep.first().map(|w| w.to), Some(day("2026-08-24")));
        assert_eq!(plan.deep.last().map(|w| w.from), Some(day("2024-11-22")));
        assert_eq!(plan.bank_history_starts, None);
        assert_tiles(&plan, day("2024-11-22"), today, 90);
    }

    #[test]
    fn the_request_stops_at_the_bank_history_and_at_the_owners_limit() {
        let today = day("2026-11-21");
        let bank = profile(365, 90, 90);
        let plan = Plan::new(PlanInput {
            today,
            since: day("2020-01-01"),
            max_import_date: None,
            profile: &bank,
        });
        assert_eq!(plan.bank_history_starts, Some(day("2025-11-22")));
        assert_eq!(plan.deep.last().map(|w| w.from), Some(day("2025-11-22")));
        let plan = Plan::new(PlanInput {
            today,
            since: day("2020-01-01"),
            max_import_date: Some(day("2026-06-01")),
            profile: &bank,
        });
        assert_eq!(plan.requested.from, day("2026-06-01"));
        assert_eq!(plan.bank_history_starts, None);
    }

    #[test]
    fn a_request_inside_the_free_days_needs_no_older_window() {
        let today = day("2026-11-21");
        let plan = Plan::new(PlanInput {
            today,
            since: day("2026-10-01"),
            max_import_date: None,
            profile: &profile(730, 90, 31),
        });
        assert!(plan.deep.is_empty());
        assert_eq!(plan.recent.len(), 2);
    }

    proptest! {
        #[test]
        fn plans_tile_any_requested_range_exactly_for_any_profile(
            history_days in 0u32..4000,
            free_history_days in 0u32..200,
            max_days in 0u32..400,
            since_days_ago in 0u64..5000,
            limit_days_ago in proptest::option::of(0u64..5000),
            today_offset in 0u64..20_000,
        ) {
            let today = day("2000-01-01") + Days::new(today_offset);
            let since = today - Days::new(since_days_ago);
            let max_import_date = limit_days_ago.map(|d| today - Days::new(d));
            let bank = profile(history_days, free_history_days, max_days);
            let plan = Plan::new(PlanInput { today, since, max_import_date, profile: &bank });

            let bank_oldest = days_before(today, history_days.saturating_sub(1));
            let oldest = since.max(max_import_date.unwrap_or(since)).max(bank_oldest);
            assert_tiles(&plan, oldest, today, max_days);
            let free_from = days_before(today, free_history_days.saturating_sub(2));
            prop_assert!(plan.recent.iter().all(|w| w.from >= free_from));
            prop_assert!(plan.deep.iter().all(|w| w.to < free_from));
        }
    }
}
