//! Which history a transactions request may read: the bank's retention, the free 90 days,
//! the SCA window for older history, and the persona's longest range per request.

use chrono::{DateTime, Days, NaiveDate, TimeDelta, Utc};

use crate::errors::BankError;
use crate::knobs::Knobs;

/// How far back the bank keeps anyone's transactions.
pub const RETENTION_DAYS: u64 = 3650;

/// The days up to today that may be read without fresh SCA (RTS Art. 10a).
pub const FREE_HISTORY_DAYS: u64 = 90;

/// Whether `from..=to` may be read now by a consent whose SCA happened at `sca_at`.
pub fn check(
    from: NaiveDate,
    to: NaiveDate,
    knobs: &Knobs,
    today: NaiveDate,
    sca_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<(), BankError> {
    let retained = today
        .checked_sub_days(Days::new(RETENTION_DAYS))
        .unwrap_or(NaiveDate::MIN);
    if from < retained {
        return Err(BankError::period_invalid(format!(
            "This bank keeps transactions from {retained} on"
        )));
    }
    let days = (to - from).num_days().saturating_add(1);
    if let Some(max) = knobs.max_days_per_request
        && days > i64::from(max)
    {
        return Err(BankError::period_invalid(format!(
            "At most {max} days per request; this one spans {days}"
        )));
    }
    let free_from = today
        .checked_sub_days(Days::new(FREE_HISTORY_DAYS - 1))
        .unwrap_or(NaiveDate::MIN);
    if from < free_from && !sca_window_open(knobs, sca_at, now) {
        return Err(BankError::period_invalid(format!(
            "The SCA window for older history has closed: transactions before {free_from} \
             need a fresh SCA"
        )));
    }
    Ok(())
}

fn sca_window_open(knobs: &Knobs, sca_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    let window = TimeDelta::from_std(knobs.sca_history_window).unwrap_or(TimeDelta::MAX);
    sca_at.is_some_and(|at| now.signed_duration_since(at) <= window)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, 3, 14).expect("valid date")
    }

    fn days_ago(days: u64) -> NaiveDate {
        today() - Days::new(days)
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2025-03-14T12:00:00Z")
            .expect("valid instant")
            .with_timezone(&Utc)
    }

    fn code(result: Result<(), BankError>) -> Option<&'static str> {
        result.err().map(|e| e.code)
    }

    #[test]
    fn history_beyond_the_banks_retention_is_refused_even_right_after_sca() {
        let knobs = Knobs::with_history(3650);
        let sca = Some(now());
        let oldest = days_ago(3650);
        assert_eq!(
            code(check(oldest, today(), &knobs, today(), sca, now())),
            None
        );
        assert_eq!(
            code(check(days_ago(3651), today(), &knobs, today(), sca, now())),
            Some("PERIOD_INVALID")
        );
    }

    #[test]
    fn the_last_90_days_stay_free_after_the_sca_window_closes() {
        let knobs = Knobs {
            sca_history_window: Duration::from_secs(5),
            ..Knobs::with_history(730)
        };
        let long_ago = Some(now() - TimeDelta::seconds(6));
        assert_eq!(
            code(check(
                days_ago(89),
                today(),
                &knobs,
                today(),
                long_ago,
                now()
            )),
            None
        );
        let refused = check(days_ago(90), today(), &knobs, today(), long_ago, now());
        let error = refused.expect_err("older history needs the window");
        assert_eq!(error.code, "PERIOD_INVALID");
        assert!(error.text.contains("SCA window"), "{}", error.text);
        let just_now = Some(now() - TimeDelta::seconds(4));
        assert_eq!(
            code(check(
                days_ago(700),
                today(),
                &knobs,
                today(),
                just_now,
                now()
            )),
            None
        );
    }

    #[test]
    fn a_range_longer_than_the_persona_allows_is_refused() {
        let knobs = Knobs {
            max_days_per_request: Some(31),
            ..Knobs::with_history(730)
        };
        let sca = Some(now());
        assert_eq!(
            code(check(days_ago(30), today(), &knobs, today(), sca, now())),
            None
        );
        assert_eq!(
            code(check(days_ago(31), today(), &knobs, today(), sca, now())),
            Some("PERIOD_INVALID")
        );
    }
}
