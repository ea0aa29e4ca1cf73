//! The owner view: every import of one owner across banks, newest first, and what they add up
//! to. Transactions are not repeated here: each account and card names the paged list of its
//! rows, and each import its full result.
//!
//! How the aggregate counts (decided for issue 15):
//! - An account is one account however many imports saw it: the same IBAN (or, without one,
//!   the same bank and bank account id) is counted once, from the newest import that has it.
//! - Its balance in the total is one balance, the first type present in [`BALANCE_PREFERENCE`]
//!   (booked before expected before available: available amounts include credit lines, which
//!   are not the owner's money), the latest `referenceDate` within a type. An account with
//!   none of these is counted in `accountsWithoutBalance` and in no total.
//! - Totals are per currency, in exact decimals; amounts in different currencies are never
//!   added. Cards are listed but not totalled: their balances are owed, not held.
//! - Only imports with a result count (successful, or ended with a code that keeps one).

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    command::{CommandErrorCode, CommandState, StartedBy},
    receipt::{DateRange, Receipt},
    result::{BalanceView, OwnerView},
};

/// The balance types a total takes, most wanted first.
pub const BALANCE_PREFERENCE: [&str; 6] = [
    "closingBooked",
    "interimBooked",
    "expected",
    "openingBooked",
    "interimAvailable",
    "forwardAvailable",
];

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OwnerOverview {
    pub owner_external_id: String,
    /// Every import of the owner by this client (the newest 100), newest first.
    pub imports: Vec<OwnerImport>,
    pub aggregate: Aggregate,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OwnerImport {
    pub command_id: Uuid,
    /// The bank's id in the registry.
    pub bank: String,
    pub state: CommandState,
    pub started_by: StartedBy,
    pub since: NaiveDate,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub error: Option<ImportError>,
    /// The command, with its whole result: `GET` it.
    pub result: String,
    pub owners: Vec<OwnerView>,
    pub accounts: Vec<OwnerAccount>,
    pub cards: Vec<OwnerCard>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportError {
    pub code: CommandErrorCode,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OwnerAccount {
    pub bank_account_id: String,
    pub iban: Option<String>,
    pub bban: Option<String>,
    pub masked_pan: Option<String>,
    pub currency: String,
    pub name: Option<String>,
    pub product: Option<String>,
    #[serde(rename = "type")]
    pub account_type: Option<String>,
    pub status: Option<String>,
    pub owner_names: Vec<String>,
    pub balances: Vec<BalanceView>,
    pub receipt: Option<Receipt>,
    /// The account's transactions, page by page: `GET` it.
    pub transactions: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OwnerCard {
    pub bank_card_id: String,
    pub masked_pan: Option<String>,
    pub name: Option<String>,
    pub currency: String,
    #[schema(value_type = Option<String>)]
    pub credit_limit: Option<Decimal>,
    pub balances: Vec<BalanceView>,
    pub receipt: Option<Receipt>,
    /// The card's transactions, page by page: `GET` it.
    pub transactions: String,
}

/// What the owner's imports add up to (see the rules in the module's documentation).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Aggregate {
    /// Distinct accounts across the imports.
    pub accounts: u32,
    pub accounts_without_balance: u32,
    /// One total per currency, by currency code.
    pub balances: Vec<CurrencyTotal>,
    /// Distinct accounts per bank, by bank id.
    pub banks: Vec<BankAccounts>,
    /// The booking (else value) dates of the oldest and newest transaction imported.
    pub transactions: Option<DateRange>,
    /// The days whose history was obtained, as disjoint ranges, oldest first (the union of
    /// the receipts' `obtained`).
    pub periods: Vec<DateRange>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CurrencyTotal {
    pub currency: String,
    #[schema(value_type = String, example = "1520.35")]
    pub total: Decimal,
    /// The accounts in this total.
    pub accounts: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct BankAccounts {
    pub bank: String,
    pub accounts: u32,
}

/// The aggregate of `imports` (newest first), with `transactions` the dates of the oldest and
/// newest transaction among them.
pub fn aggregate(imports: &[OwnerImport], transactions: Option<DateRange>) -> Aggregate {
    let mut seen = HashSet::new();
    let mut totals: BTreeMap<String, (Decimal, u32)> = BTreeMap::new();
    let mut banks: BTreeMap<String, u32> = BTreeMap::new();
    let mut aggregate = Aggregate {
        transactions,
        ..Aggregate::default()
    };
    let mut obtained = Vec::new();
    for import in imports {
        for account in &import.accounts {
            obtained.extend(account.receipt.as_ref().and_then(|r| r.obtained));
            if !seen.insert(account_identity(&import.bank, account)) {
                continue;
            }
            aggregate.accounts += 1;
            *banks.entry(import.bank.clone()).or_default() += 1;
            match counted_balance(&account.balances) {
                Some(balance) => {
                    let total = totals.entry(balance.currency.clone()).or_default();
                    total.0 += balance.amount;
                    total.1 += 1;
                }
                None => aggregate.accounts_without_balance += 1,
            }
        }
    }
    aggregate.balances = totals
        .into_iter()
        .map(|(currency, (total, accounts))| CurrencyTotal {
            currency,
            total,
            accounts,
        })
        .collect();
    aggregate.banks = banks
        .into_iter()
        .map(|(bank, accounts)| BankAccounts { bank, accounts })
        .collect();
    aggregate.periods = union(obtained);
    aggregate
}

/// What makes two imports' accounts the same account: the IBAN, which is unique across banks,
/// else the bank's own id for it.
fn account_identity(bank: &str, account: &OwnerAccount) -> String {
    match &account.iban {
        Some(iban) => {
            let normal: String = iban
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect::<String>()
                .to_ascii_uppercase();
            format!("iban:{normal}")
        }
        None => format!("bank:{}:{bank}:{}", bank.len(), account.bank_account_id),
    }
}

/// The one balance of an account that a total counts.
fn counted_balance(balances: &[BalanceView]) -> Option<&BalanceView> {
    let rank = |balance: &BalanceView| {
        BALANCE_PREFERENCE
            .iter()
            .position(|kind| *kind == balance.balance_type)
    };
    balances
        .iter()
        .filter_map(|balance| rank(balance).map(|rank| (rank, balance)))
        .min_by(|(rank_a, a), (rank_b, b)| {
            rank_a
                .cmp(rank_b)
                .then_with(|| b.reference_date.cmp(&a.reference_date))
        })
        .map(|(_, balance)| balance)
}

/// Disjoint ranges covering the same days as `ranges`, oldest first; adjacent ranges merge.
fn union(mut ranges: Vec<DateRange>) -> Vec<DateRange> {
    ranges.sort_by_key(|range| range.from);
    let mut merged: Vec<DateRange> = Vec::new();
    for range in ranges {
        match merged.last_mut() {
            Some(last) if range.from <= last.to.succ_opt().unwrap_or(last.to) => {
                last.to = last.to.max(range.to);
            }
            _ => merged.push(range),
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn balance(kind: &str, amount: &str, currency: &str, date: Option<&str>) -> BalanceView {
        BalanceView {
            owner_row: Uuid::nil(),
            balance_type: kind.into(),
            amount: amount.parse().unwrap(),
            currency: currency.into(),
            reference_date: date.map(day),
        }
    }

    fn account(id: &str, iban: Option<&str>, balances: Vec<BalanceView>) -> OwnerAccount {
        OwnerAccount {
            bank_account_id: id.into(),
            iban: iban.map(str::to_string),
            bban: None,
            masked_pan: None,
            currency: "EUR".into(),
            name: None,
            product: None,
            account_type: None,
            status: None,
            owner_names: Vec::new(),
            balances,
            receipt: None,
            transactions: String::new(),
        }
    }

    fn import(bank: &str, accounts: Vec<OwnerAccount>) -> OwnerImport {
        OwnerImport {
            command_id: Uuid::now_v7(),
            bank: bank.into(),
            state: CommandState::Successful,
            started_by: StartedBy::Api,
            since: day("2026-01-01"),
            created_at: Utc::now(),
            finished_at: None,
            error: None,
            result: String::new(),
            owners: Vec::new(),
            accounts,
            cards: Vec::new(),
        }
    }

    #[test]
    fn an_account_seen_by_two_imports_counts_once_with_the_newest_balance() {
        let newest = import(
            "bank-a",
            vec![
                account(
                    "1",
                    Some("DE89 3704 0044 0532 0130 00"),
                    vec![balance("closingBooked", "100.10", "EUR", None)],
                ),
                account(
                    "2",
                    None,
                    vec![balance("interimAvailable", "0.01", "PLN", None)],
                ),
            ],
        );
        let older = import(
            "bank-a",
            vec![
                account(
                    "1-old",
                    Some("de89370400440532013000"),
                    vec![balance("closingBooked", "999.99", "EUR", None)],
                ),
                account("2", None, vec![]),
            ],
        );
        let other_bank = import(
            "bank-b",
            vec![
                account(
                    "2",
                    None,
                    vec![balance("closingBooked", "0.20", "EUR", None)],
                ),
                account("3", None, vec![balance("nonInvoiced", "5", "EUR", None)]),
            ],
        );
        let aggregate = aggregate(&[newest, older, other_bank], None);
        assert_eq!(aggregate.accounts, 4);
        assert_eq!(aggregate.accounts_without_balance, 1);
        assert_eq!(
            aggregate.balances,
            [
                CurrencyTotal {
                    currency: "EUR".into(),
                    total: "100.30".parse().unwrap(),
                    accounts: 2
                },
                CurrencyTotal {
                    currency: "PLN".into(),
                    total: "0.01".parse().unwrap(),
                    accounts: 1
                },
            ]
        );
        assert_eq!(
            aggregate.banks,
            [
                BankAccounts {
                    bank: "bank-a".into(),
                    accounts: 2
                },
                BankAccounts {
                    bank: "bank-b".into(),
                    accounts: 2
                },
            ]
        );
    }

    #[test]
    fn a_booked_balance_is_preferred_and_the_latest_of_a_type_wins() {
        let balances = [
            balance("interimAvailable", "50", "EUR", Some("2026-11-20")),
            balance("closingBooked", "10", "EUR", Some("2026-11-18")),
            balance("closingBooked", "12", "EUR", Some("2026-11-19")),
        ];
        let counted = counted_balance(&balances).unwrap();
        assert_eq!(counted.amount, "12".parse::<Decimal>().unwrap());
        assert!(counted_balance(&[balance("nonInvoiced", "1", "EUR", None)]).is_none());
    }

    #[test]
    fn the_periods_are_the_union_of_the_obtained_histories() {
        let range = |from: &str, to: &str| DateRange {
            from: day(from),
            to: day(to),
        };
        assert_eq!(
            union(vec![
                range("2026-05-01", "2026-06-30"),
                range("2026-01-01", "2026-03-31"),
                range("2026-04-01", "2026-04-10"),
                range("2026-06-01", "2026-07-01"),
            ]),
            [
                range("2026-01-01", "2026-04-10"),
                range("2026-05-01", "2026-07-01")
            ]
        );
    }
}
