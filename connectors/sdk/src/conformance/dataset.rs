//! The bank data every double serves: small, but with every field filled and with amounts
//! that a float cannot carry, so a connector that parses money through `f64` fails.

use chrono::NaiveDate;
use rust_decimal::Decimal;

use crate::{
    Account, Balance, Card, CardTransaction, DateWindow, Owner, OwnerKind, Transaction,
    TransactionStatus,
};

/// 2^53 + 1 with cents: the first integer an `f64` cannot hold, so any float on the way
/// turns it into `...992.00` or `...994.00`.
pub const MONEY_PROBE: &str = "9007199254740993.01";

/// What a bank holds for one owner, in Aisle's shape. `transactions[i]` belongs to
/// `accounts[i]`, `card_transactions[i]` to `cards[i]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dataset {
    pub owners: Vec<Owner>,
    pub accounts: Vec<Account>,
    pub transactions: Vec<Vec<Transaction>>,
    pub cards: Vec<Card>,
    pub card_transactions: Vec<Vec<CardTransaction>>,
    /// A window that holds every dated row.
    pub window: DateWindow,
}

fn money(text: &str) -> Decimal {
    text.parse()
        .unwrap_or_else(|e| panic!("kit amount {text}: {e}"))
}

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 3, d).unwrap_or_else(|| panic!("kit day {d}"))
}

fn balance(kind: &str, amount: &str, currency: &str) -> Balance {
    Balance {
        balance_type: kind.to_owned(),
        amount: money(amount),
        currency: currency.to_owned(),
        reference_date: Some(day(28)),
    }
}

fn transaction(
    n: u32,
    status: TransactionStatus,
    amount: &str,
    balance_after: Option<&str>,
) -> Transaction {
    Transaction {
        bank_id: Some(format!("tx-{n}")),
        status,
        booking_date: (status == TransactionStatus::Booked).then(|| day(n)),
        value_date: Some(day(n)),
        amount: money(amount),
        currency: "EUR".to_owned(),
        counterparty_name: Some(format!("Counterparty {n}")),
        counterparty_account: Some("DE89370400440532013000".to_owned()),
        description: Some(format!("Invoice {n}")),
        bank_transaction_code: Some("PMNT-RCDT-ESCT".to_owned()),
        balance_after: balance_after.map(money),
    }
}

impl Dataset {
    /// The kit's standard owner: two owners, two accounts (one with more rows than fit a
    /// small page), a credit card with card transactions.
    pub fn standard() -> Self {
        use TransactionStatus::{Booked, Pending};
        let owners = vec![
            Owner {
                name: "Alice Example".to_owned(),
                title: Some("Ms".to_owned()),
                kind: OwnerKind::Owner,
                address: Some("Hauptstrasse 1, 10115 Berlin, DE".to_owned()),
                birth_date: NaiveDate::from_ymd_opt(1990, 4, 1),
                email: Some("alice@example.com".to_owned()),
                phone: Some("+4915112345678".to_owned()),
                national_id: Some("T22000129".to_owned()),
                nationality: Some("DE".to_owned()),
            },
            Owner {
                name: "Carol Builder".to_owned(),
                title: None,
                kind: OwnerKind::CoOwner,
                address: None,
                birth_date: None,
                email: None,
                phone: None,
                national_id: None,
                nationality: None,
            },
        ];
        let mut current = Account::new("acc-current", "EUR");
        current.iban = Some("DE89370400440532013000".to_owned());
        current.name = Some("Main account".to_owned());
        current.product = Some("Girokonto".to_owned());
        current.account_type = Some("CACC".to_owned());
        current.status = Some("enabled".to_owned());
        current.owner_names = vec!["Alice Example".to_owned(), "Carol Builder".to_owned()];
        current.balances = vec![
            balance("closingBooked", MONEY_PROBE, "EUR"),
            balance("interimAvailable", "0.30", "EUR"),
        ];
        current.opened_on = NaiveDate::from_ymd_opt(2015, 6, 1);
        current.valid_until = NaiveDate::from_ymd_opt(2030, 6, 1);
        current.min_allowed_balance = Some(money("-1500.00"));
        current.max_allowed_balance = Some(money(MONEY_PROBE));
        let mut savings = Account::new("acc-savings", "EUR");
        savings.iban = Some("DE02120300000000202051".to_owned());
        savings.name = Some("Savings".to_owned());
        savings.account_type = Some("SVGS".to_owned());
        savings.owner_names = vec!["Alice Example".to_owned()];
        savings.balances = vec![balance("closingBooked", "0.10", "EUR")];

        let current_rows = vec![
            transaction(1, Booked, "0.10", Some("0.10")),
            transaction(2, Booked, "0.20", Some("0.30")),
            transaction(3, Booked, "-0.30", Some("0.00")),
            transaction(4, Booked, MONEY_PROBE, Some(MONEY_PROBE)),
            transaction(5, Booked, "-12.34", Some("9007199254740980.67")),
            transaction(6, Pending, "-5.00", None),
            transaction(7, Pending, "1000000.01", None),
        ];
        let savings_rows = vec![transaction(8, Booked, "0.10", Some("0.10"))];

        let card = Card {
            bank_id: "card-1".to_owned(),
            masked_pan: Some("492181xxxxxx4321".to_owned()),
            name: Some("Alice Example Visa".to_owned()),
            currency: "EUR".to_owned(),
            credit_limit: Some(money("3000.00")),
            balances: vec![balance("interimAvailable", "2999.70", "EUR")],
            balances_unavailable: None,
        };
        let card_rows = vec![
            CardTransaction {
                bank_id: Some("card-tx-1".to_owned()),
                status: Booked,
                transaction_date: Some(day(3)),
                booking_date: Some(day(4)),
                amount: money("-0.30"),
                currency: "EUR".to_owned(),
                original_amount: Some(money("-0.33")),
                original_currency: Some("USD".to_owned()),
                description: Some("Coffee".to_owned()),
                merchant_name: Some("Corner Cafe".to_owned()),
                merchant_category_code: Some("5814".to_owned()),
            },
            CardTransaction {
                bank_id: Some("card-tx-2".to_owned()),
                status: Pending,
                transaction_date: Some(day(20)),
                booking_date: None,
                amount: money(MONEY_PROBE),
                currency: "EUR".to_owned(),
                original_amount: None,
                original_currency: None,
                description: Some("Refund".to_owned()),
                merchant_name: Some("Big Store".to_owned()),
                merchant_category_code: None,
            },
        ];
        Self {
            owners,
            accounts: vec![current, savings],
            transactions: vec![current_rows, savings_rows],
            cards: vec![card],
            card_transactions: vec![card_rows],
            window: DateWindow {
                from: day(1),
                to: day(28),
            },
        }
    }

    /// Every amount in the dataset, to check that a money probe survived [`BankDouble::adapt`].
    ///
    /// [`BankDouble::adapt`]: super::BankDouble::adapt
    pub fn amounts(&self) -> Vec<Decimal> {
        let balances = self
            .accounts
            .iter()
            .flat_map(|a| &a.balances)
            .chain(self.cards.iter().flat_map(|c| &c.balances))
            .map(|b| b.amount);
        let limits = self.accounts.iter().flat_map(|a| {
            [a.min_allowed_balance, a.max_allowed_balance]
                .into_iter()
                .flatten()
        });
        let rows = self
            .transactions
            .iter()
            .flatten()
            .flat_map(|t| [Some(t.amount), t.balance_after].into_iter().flatten());
        let card_rows = self
            .card_transactions
            .iter()
            .flatten()
            .flat_map(|t| [Some(t.amount), t.original_amount].into_iter().flatten());
        let limits_of_cards = self.cards.iter().filter_map(|c| c.credit_limit);
        balances
            .chain(limits)
            .chain(rows)
            .chain(card_rows)
            .chain(limits_of_cards)
            .collect()
    }
}
