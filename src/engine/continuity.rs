//! The balance continuity check: each booked row's balance after must be the previous row's
//! plus its amount. Banks list a day's rows oldest or newest first and rarely say which, so
//! both readings are tried and the one with fewer breaks is believed.
//!
//! The arithmetic is checked: amounts are the bank's, and a sum past what a decimal holds
//! says the bank sent nonsense, which is a protocol error, never a panic.

use aisle_sdk::{ConnectorError, Transaction, TransactionStatus};

use crate::model::receipt::{BalanceBreak, Continuity};

/// Checks an account's rows as fetched (`(identity, row)`, in the bank's order per window).
/// A card's rows carry no balance after, so they are never checked.
pub fn check<'a>(
    rows: impl IntoIterator<Item = (&'a str, &'a Transaction)>,
) -> Result<Continuity, ConnectorError> {
    let booked: Vec<(&str, &Transaction)> = rows
        .into_iter()
        .filter(|(_, t)| {
            t.status == TransactionStatus::Booked
                && t.booking_date.is_some()
                && t.balance_after.is_some()
        })
        .collect();
    if booked.len() < 2 {
        return Ok(Continuity::NotChecked {
            reason: "fewer than two booked rows carry a balance after".into(),
        });
    }
    let mut as_listed = booked.clone();
    as_listed.sort_by_key(|(_, t)| t.booking_date);
    let mut day_reversed = booked;
    day_reversed.reverse();
    day_reversed.sort_by_key(|(_, t)| t.booking_date);

    let (listed_breaks, listed_first) = breaks(&as_listed)?;
    let (reversed_breaks, reversed_first) = breaks(&day_reversed)?;
    let first = if reversed_breaks < listed_breaks {
        reversed_first
    } else {
        listed_first
    };
    Ok(match first {
        None => Continuity::Consistent {
            checked_rows: u32::try_from(as_listed.len()).unwrap_or(u32::MAX),
        },
        Some(first_break) => Continuity::Inconsistent { first_break },
    })
}

/// How many rows break the chain, and the first one.
fn breaks(chain: &[(&str, &Transaction)]) -> Result<(usize, Option<BalanceBreak>), ConnectorError> {
    let mut count = 0;
    let mut first = None;
    for pair in chain.windows(2) {
        let (previous, (id, row)) = (pair[0].1, pair[1]);
        let (Some(before), Some(after)) = (previous.balance_after, row.balance_after) else {
            continue;
        };
        let expected = before.checked_add(row.amount).ok_or_else(|| {
            ConnectorError::protocol(
                "a balance plus a transaction's amount is larger than any amount can be",
                "",
            )
        })?;
        if expected != after {
            count += 1;
            first.get_or_insert_with(|| BalanceBreak {
                transaction_id: id.to_owned(),
                booking_date: row.booking_date,
                expected_balance_after: expected,
                balance_after: after,
            });
        }
    }
    Ok((count, first))
}

#[cfg(test)]
mod tests {
    use rust_decimal::Decimal;

    use super::*;

    fn listed(rows: &[(String, Transaction)]) -> impl Iterator<Item = (&str, &Transaction)> {
        rows.iter().map(|(id, t)| (id.as_str(), t))
    }

    fn row(id: &str, date: &str, cents: i64, after_cents: i64) -> (String, Transaction) {
        (
            id.to_owned(),
            Transaction {
                bank_id: Some(id.to_owned()),
                status: TransactionStatus::Booked,
                booking_date: date.parse().ok(),
                value_date: None,
                amount: Decimal::new(cents, 2),
                currency: "EUR".into(),
                counterparty_name: None,
                counterparty_account: None,
                description: None,
                bank_transaction_code: None,
                balance_after: Some(Decimal::new(after_cents, 2)),
            },
        )
    }

    #[test]
    fn rows_that_add_up_are_consistent_whichever_way_a_day_is_listed() {
        let oldest_first = vec![
            row("a", "2026-11-01", -500, 9_500),
            row("b", "2026-11-02", -250, 9_250),
            row("c", "2026-11-02", 1_000, 10_250),
        ];
        let mut newest_first = oldest_first.clone();
        newest_first.reverse();
        for rows in [oldest_first, newest_first] {
            assert_eq!(
                check(listed(&rows)).unwrap(),
                Continuity::Consistent { checked_rows: 3 }
            );
        }
    }

    #[test]
    fn the_first_row_that_does_not_add_up_is_named() {
        let rows = vec![
            row("a", "2026-11-01", -500, 9_500),
            row("b", "2026-11-02", -250, 9_350),
            row("c", "2026-11-03", 1_000, 10_250),
        ];
        let Continuity::Inconsistent { first_break } = check(listed(&rows)).unwrap() else {
            panic!("a row is off by one euro");
        };
        assert_eq!(first_break.transaction_id, "b");
        assert_eq!(first_break.expected_balance_after, Decimal::new(9_250, 2));
        assert_eq!(first_break.balance_after, Decimal::new(9_350, 2));
    }

    #[test]
    fn a_balance_that_overflows_with_the_next_amount_is_a_protocol_error_not_a_panic() {
        let mut rows = vec![
            row("a", "2026-11-01", 100, 0),
            row("b", "2026-11-02", 100, 0),
        ];
        rows[0].1.balance_after = Some(Decimal::MAX);
        rows[1].1.amount = Decimal::MAX;
        rows[1].1.balance_after = Some(Decimal::MAX);
        assert!(matches!(
            check(listed(&rows)),
            Err(ConnectorError::Protocol { .. })
        ));
    }

    #[test]
    fn without_balances_after_the_rows_nothing_is_checked() {
        let mut rows = vec![row("a", "2026-11-01", -500, 9_500)];
        rows[0].1.balance_after = None;
        assert!(matches!(
            check(listed(&rows)).unwrap(),
            Continuity::NotChecked { .. }
        ));
    }
}
