//! The receipt of one account's or card's import: what was asked, what was obtained, and for
//! every shortfall, why. Clients read it in the result next to the rows.

use aisle_sdk::DateWindow;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An inclusive range of days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DateRange {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl From<DateWindow> for DateRange {
    fn from(w: DateWindow) -> Self {
        Self {
            from: w.from,
            to: w.to,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Receipt {
    /// The history the command asked for (its `since` up to today, within the owner's limit).
    pub requested: DateRange,
    /// The unbroken history obtained, newest day first back to `from`; absent when none.
    pub obtained: Option<DateRange>,
    pub booked: u32,
    pub pending: u32,
    /// Requests for a date window (after any shrinking), and pages read in all.
    pub windows: u32,
    pub pages: u32,
    /// Every reason the obtained history is shorter than requested, or was read differently.
    pub shortfalls: Vec<Shortfall>,
    pub balance_continuity: Continuity,
}

impl Receipt {
    /// Records that the holder's balances could not be read, with the connector's reason.
    pub fn note_balances(&mut self, unavailable: Option<&str>) {
        if let Some(why) = unavailable {
            self.shortfalls.push(Shortfall {
                reason: ShortfallReason::BalancesUnavailable,
                days: None,
                detail: why.to_owned(),
            });
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Shortfall {
    pub reason: ShortfallReason,
    /// The days concerned, when the shortfall is about days.
    pub days: Option<DateRange>,
    pub detail: String,
}

/// Why a receipt falls short of the request. Stable names: clients match on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum ShortfallReason {
    /// The bank keeps less history than requested.
    BankHistoryLimit,
    /// Older history needs fresh SCA and the bank's window after SCA had closed.
    ScaWindowClosed,
    /// The bank refused a date range; it was split and read in smaller windows.
    PeriodInvalidShrunk,
    /// The bank does not offer this part of the scope.
    NotSupportedByBank,
    /// The bank's request budget ran out, or it asked us to wait longer than we may.
    RateLimited,
    /// The bank's answers for the account's balances were unusable; the account and its
    /// transactions are there, its balances are not.
    BalancesUnavailable,
}

/// Whether the balances agree with the transactions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "status", rename_all = "camelCase")]
pub enum Continuity {
    /// Every booked row's balance after equals the previous one plus its amount (or the
    /// opening and closing balances agree with the rows between them).
    #[serde(rename_all = "camelCase")]
    Consistent { checked_rows: u32 },
    /// The first row where the arithmetic breaks.
    #[serde(rename_all = "camelCase")]
    Inconsistent { first_break: BalanceBreak },
    /// The data does not allow a check (no balance after the rows, no opening balance).
    #[serde(rename_all = "camelCase")]
    NotChecked { reason: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BalanceBreak {
    /// The row's `id` in the result.
    pub transaction_id: String,
    pub booking_date: Option<NaiveDate>,
    #[schema(value_type = String)]
    pub expected_balance_after: Decimal,
    #[schema(value_type = String)]
    pub balance_after: Decimal,
}
