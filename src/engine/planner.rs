//! Which date windows to fetch. The windows tile the requested range newest first, each no
//! longer than the bank accepts in one request.

use aisle_sdk::{BankProfile, DateWindow};
use chrono::{Days, NaiveDate};

/// The oldest day to import: `since`, but never before what the bank keeps or what the owner
/// agreed to share.
pub fn oldest_day(
    since: NaiveDate,
    today: NaiveDate,
    profile: &BankProfile,
    max_import_date: Option<NaiveDate>,
) -> NaiveDate {
    let bank_limit = today - Days::new(u64::from(profile.history_days.saturating_sub(1)));
    [Some(since), Some(bank_limit), max_import_date]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(since)
}

/// Windows from `today` back to `oldest`, newest first, with no gap and no overlap.
pub fn windows(oldest: NaiveDate, today: NaiveDate, profile: &BankProfile) -> Vec<DateWindow> {
    let span = u64::from(profile.max_days_per_request.max(1));
    let mut windows = Vec::new();
    let mut to = today;
    while to >= oldest {
        let from = (to - Days::new(span - 1)).max(oldest);
        windows.extend(DateWindow::new(from, to));
        match from.pred_opt() {
            Some(day) => to = day,
            None => break,
        }
    }
    windows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn windows_tile_the_range_newest_first_without_gap_or_overlap() {
        let profile = BankProfile {
            max_days_per_request: 31,
            ..BankProfile::default()
        };
        let windows = windows(day("2026-01-01"), day("2026-03-15"), &profile);
        assert_eq!(windows.first().unwrap().to, day("2026-03-15"));
        assert_eq!(windows.last().unwrap().from, day("2026-01-01"));
        for pair in windows.windows(2) {
            assert_eq!(pair[1].to.succ_opt().unwrap(), pair[0].from);
        }
        assert!(windows.iter().all(|w| w.days() <= 31));
        let covered: i64 = windows.iter().map(DateWindow::days).sum();
        assert_eq!(
            covered,
            (day("2026-03-15") - day("2026-01-01")).num_days() + 1
        );
    }

    #[test]
    fn the_oldest_day_respects_the_bank_history_and_the_owners_limit() {
        let profile = BankProfile {
            history_days: 365,
            ..BankProfile::default()
        };
        let today = day("2026-11-21");
        assert_eq!(
            oldest_day(day("2020-01-01"), today, &profile, None),
            day("2025-11-22")
        );
        assert_eq!(
            oldest_day(day("2020-01-01"), today, &profile, Some(day("2026-06-01"))),
            day("2026-06-01")
        );
        assert_eq!(
            oldest_day(day("2026-10-01"), today, &profile, None),
            day("2026-10-01")
        );
    }
}
