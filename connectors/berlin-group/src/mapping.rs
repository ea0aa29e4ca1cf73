//! From the bank's JSON ([`crate::wire`]) to Aisle's domain types.

use aisle_sdk::{
    Account, Balance, Card, CardTransaction, ConnectorError, Owner, OwnerKind, Transaction,
    TransactionStatus,
};
use rust_decimal::Decimal;
use serde_json::Value;
use serde_json::value::RawValue;

use aisle_sdk::lenient::{self, date};

use crate::errors::protocol;
use crate::options::AmountSigns;
use crate::wire;

/// A decimal from an `amount` field's raw JSON (see [`lenient::amount`]); an amount field
/// that is there must hold an amount.
pub fn decimal(raw: &RawValue) -> Result<Decimal, ConnectorError> {
    lenient::amount(raw)?.ok_or_else(|| protocol("an amount is empty", raw.get()))
}

fn non_empty(text: Option<String>) -> Option<String> {
    text.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty())
}

pub fn balance(raw: wire::Balance) -> Result<Balance, ConnectorError> {
    Ok(Balance {
        balance_type: raw.balance_type,
        amount: decimal(&raw.balance_amount.amount)?,
        currency: raw.balance_amount.currency,
        reference_date: date(raw.reference_date.as_deref())?,
    })
}

fn balances(raw: Vec<wire::Balance>) -> Result<Vec<Balance>, ConnectorError> {
    raw.into_iter().map(balance).collect()
}

/// An account's owners and their roles: the `ownerNames` list when given, else `ownerName`
/// as the owner.
fn named_owners(raw: &wire::AccountDetails) -> Vec<(String, OwnerKind)> {
    if raw.owner_names.is_empty() {
        raw.owner_name
            .iter()
            .map(|name| (name.clone(), OwnerKind::Owner))
            .collect()
    } else {
        raw.owner_names
            .iter()
            .map(|o| (o.name.clone(), owner_kind(o.role.as_deref())))
            .collect()
    }
}

/// An account; `balances` replaces the inline ones when the caller fetched them separately.
pub fn account(
    raw: wire::AccountDetails,
    fetched_balances: Option<Vec<wire::Balance>>,
) -> Result<Account, ConnectorError> {
    let owner_names = named_owners(&raw)
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    let bank_id = raw
        .resource_id
        .ok_or_else(|| protocol("an account has no resourceId", ""))?;
    Ok(Account {
        bank_id,
        iban: raw.iban,
        bban: raw.bban,
        masked_pan: raw.masked_pan,
        currency: raw.currency,
        name: raw.name.or(raw.display_name),
        product: raw.product,
        account_type: raw.cash_account_type,
        status: raw.status,
        owner_names,
        balances: balances(fetched_balances.unwrap_or(raw.balances))?,
        opened_on: None,
        valid_until: None,
        min_allowed_balance: None,
        max_allowed_balance: None,
        balances_unavailable: None,
    })
}

fn owner_kind(role: Option<&str>) -> OwnerKind {
    match role.map(str::to_ascii_lowercase).as_deref() {
        None | Some("owner") => OwnerKind::Owner,
        Some("co-owner" | "coowner" | "co_owner" | "jointowner") => OwnerKind::CoOwner,
        Some("legalrepresentative" | "attorney" | "authorisedrepresentative") => {
            OwnerKind::Attorney
        }
        Some(_) => OwnerKind::Other,
    }
}

/// The distinct owners named across `accounts`, in the order they first appear.
pub fn owners(accounts: &[wire::AccountDetails]) -> Vec<Owner> {
    let mut owners: Vec<Owner> = Vec::new();
    for account in accounts {
        for (name, kind) in named_owners(account) {
            let name = name.trim().to_owned();
            if name.is_empty() || owners.iter().any(|o| o.name == name) {
                continue;
            }
            owners.push(Owner {
                name,
                title: None,
                kind,
                address: None,
                birth_date: None,
                email: None,
                phone: None,
                national_id: None,
                nationality: None,
            });
        }
    }
    owners
}

/// The identifier of an `accountReference`, whichever the bank gives. Banks send `{}`, an
/// array of references, or `null` too; those give the first identifier found, or none.
fn reference(raw: Option<&Value>) -> Option<String> {
    match raw? {
        Value::Object(fields) => ["iban", "bban", "maskedPan", "pan", "msisdn"]
            .iter()
            .find_map(|key| fields.get(*key).and_then(Value::as_str))
            .map(str::trim)
            .filter(|id| !id.is_empty())
            .map(str::to_owned),
        Value::Array(items) => items.iter().find_map(|item| reference(Some(item))),
        _ => None,
    }
}

/// The identifier of one `accountReference` value (see [`reference`]).
pub fn reference_of(raw: &Value) -> Option<String> {
    reference(Some(raw))
}

/// Whether a row names the other party only as creditor, or only as debtor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    CreditorOnly,
    DebtorOnly,
    Unclear,
}

fn side(raw: &wire::Transaction) -> Side {
    let named = |name: &Option<String>, account: &Option<Value>| {
        name.as_deref().is_some_and(|n| !n.trim().is_empty())
            || reference(account.as_ref()).is_some()
    };
    match (
        named(&raw.creditor_name, &raw.creditor_account),
        named(&raw.debtor_name, &raw.debtor_account),
    ) {
        (true, false) => Side::CreditorOnly,
        (false, true) => Side::DebtorOnly,
        _ => Side::Unclear,
    }
}

/// The rows of a report page, booked then pending, each with its status.
fn rows<T>(report: wire::Report<T>) -> impl Iterator<Item = (T, TransactionStatus)> {
    let booked = report
        .booked
        .into_iter()
        .map(|t| (t, TransactionStatus::Booked));
    let pending = report
        .pending
        .into_iter()
        .map(|t| (t, TransactionStatus::Pending));
    booked.chain(pending)
}

/// Applies an explicit debit/credit indicator to an amount the bank quotes unsigned.
fn signed(amount: Decimal, indicator: Option<&str>) -> Decimal {
    match indicator.map(str::to_ascii_uppercase).as_deref() {
        Some("DBIT" | "DEBIT" | "D") => -amount.abs(),
        Some("CRDT" | "CREDIT" | "C") => amount.abs(),
        _ => amount,
    }
}

/// The rows of one report page (booked, then pending), signed so that debits are negative.
///
/// Banks differ: most sign amounts (`"-256.67"`, `"+256.67"`), some quote every amount
/// unsigned and leave the direction to the side the counterparty is named on. With
/// [`AmountSigns::Auto`] the decision is made per list: booked and pending rows come from
/// different systems at many banks (the spec's own first example quotes booked amounts
/// unsigned next to a signed pending one), so a list holding any negative amount is taken
/// as signed, and a list without one is read the unsigned way, where a row naming only a
/// creditor is a debit.
pub fn transactions(
    report: wire::Report<wire::Transaction>,
    signs: AmountSigns,
) -> Result<Vec<Transaction>, ConnectorError> {
    let mut mapped = list(report.booked, TransactionStatus::Booked, signs)?;
    mapped.extend(list(report.pending, TransactionStatus::Pending, signs)?);
    Ok(mapped)
}

/// One list of a report page, all of `status`, signed as the list itself shows.
fn list(
    rows: Vec<wire::Transaction>,
    status: TransactionStatus,
    signs: AmountSigns,
) -> Result<Vec<Transaction>, ConnectorError> {
    let amounts = rows
        .iter()
        .map(|raw| decimal(&raw.transaction_amount.amount))
        .collect::<Result<Vec<_>, _>>()?;
    let unsigned = match signs {
        AmountSigns::Signed => false,
        AmountSigns::Unsigned => true,
        AmountSigns::Auto => !amounts.iter().any(Decimal::is_sign_negative),
    };
    rows.into_iter()
        .zip(amounts)
        .map(|(raw, amount)| {
            let amount = if unsigned {
                match side(&raw) {
                    Side::CreditorOnly => -amount.abs(),
                    Side::DebtorOnly => amount.abs(),
                    Side::Unclear => amount,
                }
            } else {
                amount
            };
            transaction(raw, status, amount)
        })
        .collect()
}

/// One row; `amount` is the row's amount as the page's sign convention reads it.
fn transaction(
    raw: wire::Transaction,
    status: TransactionStatus,
    amount: Decimal,
) -> Result<Transaction, ConnectorError> {
    let amount = signed(amount, raw.credit_debit_indicator.as_deref());
    // A row naming only one side names the other party, whatever its sign says (a refund
    // from a shop the owner once paid is still the shop). A row naming both: the other
    // party is whom a debit paid or who paid a credit; the other side is the owner.
    let creditor_side = match side(&raw) {
        Side::CreditorOnly => true,
        Side::DebtorOnly => false,
        Side::Unclear => amount.is_sign_negative(),
    };
    let (counterparty_name, counterparty_account) = if creditor_side {
        (
            non_empty(raw.creditor_name),
            reference(raw.creditor_account.as_ref()),
        )
    } else {
        (
            non_empty(raw.debtor_name),
            reference(raw.debtor_account.as_ref()),
        )
    };
    let description = non_empty(raw.remittance_information_unstructured)
        .or_else(|| {
            non_empty(Some(
                raw.remittance_information_unstructured_array.join(" "),
            ))
        })
        .or_else(|| non_empty(raw.additional_information));
    let balance_after = raw
        .balance_after_transaction
        .map(|b| decimal(&b.balance_amount.amount))
        .transpose()?;
    Ok(Transaction {
        bank_id: non_empty(raw.transaction_id).or_else(|| non_empty(raw.entry_reference)),
        status,
        booking_date: date(raw.booking_date.as_deref())?,
        value_date: date(raw.value_date.as_deref())?,
        amount,
        currency: raw.transaction_amount.currency,
        counterparty_name,
        counterparty_account,
        description,
        bank_transaction_code: non_empty(raw.bank_transaction_code)
            .or_else(|| non_empty(raw.proprietary_bank_transaction_code)),
        balance_after,
    })
}

/// A card account. `fetched` replaces the inline balances when the caller read them apart;
/// with `debit_accounting` the bank quotes debt positive, so balances flip to Aisle's
/// debits-are-negative rule. The credit limit is a limit, not a debt, and stays as quoted.
pub fn card(
    raw: wire::CardAccountDetails,
    fetched: Option<Vec<wire::Balance>>,
    debit_accounting: bool,
) -> Result<Card, ConnectorError> {
    let bank_id = raw
        .resource_id
        .ok_or_else(|| protocol("a card account has no resourceId", ""))?;
    let flip = |mut b: Balance| {
        if debit_accounting {
            b.amount = -b.amount;
        }
        b
    };
    Ok(Card {
        bank_id,
        masked_pan: raw.masked_pan,
        name: raw.name.or(raw.display_name).or(raw.product),
        currency: raw.currency,
        credit_limit: raw.credit_limit.map(|l| decimal(&l.amount)).transpose()?,
        balances: balances(fetched.unwrap_or(raw.balances))?
            .into_iter()
            .map(flip)
            .collect(),
        balances_unavailable: None,
    })
}

/// The rows of one card report page (booked, then pending); see [`card_transaction`].
pub fn card_transactions(
    report: wire::Report<wire::CardTransaction>,
    debit_accounting: bool,
) -> Result<Vec<CardTransaction>, ConnectorError> {
    rows(report)
        .map(|(raw, status)| card_transaction(raw, status, debit_accounting))
        .collect()
}

/// A card row. With `debit_accounting` the bank quotes purchases positive, so signs flip to
/// Aisle's debits-are-negative rule.
fn card_transaction(
    raw: wire::CardTransaction,
    status: TransactionStatus,
    debit_accounting: bool,
) -> Result<CardTransaction, ConnectorError> {
    let flip = |d: Decimal| if debit_accounting { -d } else { d };
    let original = raw
        .original_amount
        .map(|o| Ok::<_, ConnectorError>((flip(decimal(&o.amount)?), o.currency)))
        .transpose()?;
    let details = non_empty(raw.transaction_details);
    Ok(CardTransaction {
        bank_id: non_empty(raw.card_transaction_id),
        status,
        transaction_date: date(raw.transaction_date.as_deref())?,
        booking_date: date(raw.booking_date.as_deref())?,
        amount: flip(decimal(&raw.transaction_amount.amount)?),
        currency: raw.transaction_amount.currency,
        original_amount: original.as_ref().map(|(amount, _)| *amount),
        original_currency: original.map(|(_, currency)| currency),
        // The spec has no merchant name field; `transactionDetails` is where banks print it,
        // and `cardAcceptorId` is the acquirer's id for the merchant when that is all there is.
        merchant_name: details.clone().or_else(|| non_empty(raw.card_acceptor_id)),
        description: details.or_else(|| non_empty(raw.proprietary_bank_transaction_code)),
        merchant_category_code: non_empty(raw.merchant_category_code),
    })
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;
    use serde_json::json;

    fn amount(json: &str) -> Result<Decimal, ConnectorError> {
        let raw: Box<RawValue> = serde_json::from_str(json).expect("json");
        decimal(&raw)
    }

    #[test]
    fn amounts_are_read_from_strings_and_numbers_without_losing_digits() {
        assert_eq!(amount(r#""-256.67""#).ok(), Some(Decimal::new(-25667, 2)));
        assert_eq!(amount(r#"" +256.67 ""#).ok(), Some(Decimal::new(25667, 2)));
        assert_eq!(amount("1234.10").ok(), Some(Decimal::new(123410, 2)));
        // 2^53 + 1 with cents: an f64 on the way would turn it into ...992 or ...994.
        assert_eq!(
            amount("9007199254740993.01").ok(),
            Decimal::from_str("9007199254740993.01").ok()
        );
        assert_eq!(amount("1.5e2").ok(), Some(Decimal::new(150, 0)));
        assert!(matches!(
            amount(r#""12,50""#),
            Err(ConnectorError::Protocol { .. })
        ));
        assert!(matches!(
            amount("null"),
            Err(ConnectorError::Protocol { .. })
        ));
    }

    fn page(booked: Value) -> wire::Report<wire::Transaction> {
        serde_json::from_str(&json!({"booked": booked, "_links": {}}).to_string())
            .expect("wire report")
    }

    fn one(booked: Value, signs: AmountSigns) -> Transaction {
        let mut rows = transactions(page(json!([booked])), signs).expect("maps");
        rows.pop().expect("one row")
    }

    #[test]
    fn the_counterparty_of_a_debit_is_the_creditor_and_of_a_credit_the_debtor() {
        let debit = one(
            json!({"transactionAmount": {"currency": "EUR", "amount": "-10.00"},
                   "creditorName": "Shop", "creditorAccount": {"iban": "DE1"},
                   "debtorName": "Me"}),
            AmountSigns::Auto,
        );
        assert_eq!(debit.counterparty_name.as_deref(), Some("Shop"));
        assert_eq!(debit.counterparty_account.as_deref(), Some("DE1"));
        let credit = one(
            json!({"transactionAmount": {"currency": "EUR", "amount": "5"},
                   "debtorName": "Employer",
                   "remittanceInformationUnstructuredArray": ["Salary", "March"]}),
            AmountSigns::Auto,
        );
        assert_eq!(credit.counterparty_name.as_deref(), Some("Employer"));
        assert_eq!(credit.description.as_deref(), Some("Salary March"));
    }

    #[test]
    fn an_unsigned_amount_with_a_debit_indicator_becomes_negative() {
        let debit = one(
            json!({"transactionAmount": {"currency": "EUR", "amount": "10.00"},
                   "creditDebitIndicator": "DBIT"}),
            AmountSigns::Signed,
        );
        assert_eq!(debit.amount, Decimal::new(-1000, 2));
    }

    #[test]
    fn a_plus_sign_is_a_credit() {
        let credit = one(
            json!({"transactionAmount": {"currency": "EUR", "amount": "+256.67"},
                   "debtorName": "John Miles"}),
            AmountSigns::Auto,
        );
        assert_eq!(credit.amount, Decimal::new(25667, 2));
    }

    #[test]
    fn an_unsigned_page_reads_a_creditor_only_row_as_a_debit() {
        let rows = json!([
            {"transactionAmount": {"currency": "EUR", "amount": "256.67"}, "creditorName": "John Miles"},
            {"transactionAmount": {"currency": "EUR", "amount": "343.01"}, "debtorName": "Paul Simpson"}
        ]);
        let mapped = transactions(page(rows.clone()), AmountSigns::Auto).expect("maps");
        let amounts: Vec<Decimal> = mapped.iter().map(|t| t.amount).collect();
        assert_eq!(amounts, [Decimal::new(-25667, 2), Decimal::new(34301, 2)]);
        assert_eq!(mapped[0].counterparty_name.as_deref(), Some("John Miles"));
        // A bank pinned to signed amounts is taken at its word.
        let trusted = transactions(page(rows), AmountSigns::Signed).expect("maps");
        assert_eq!(trusted[0].amount, Decimal::new(25667, 2));
    }

    #[test]
    fn a_signed_page_is_taken_at_its_word() {
        let rows = json!([
            {"transactionAmount": {"currency": "EUR", "amount": "256.67"}, "creditorName": "Refund Co"},
            {"transactionAmount": {"currency": "EUR", "amount": "-1.00"}, "creditorName": "Shop"}
        ]);
        let mapped = transactions(page(rows), AmountSigns::Auto).expect("maps");
        assert_eq!(mapped[0].amount, Decimal::new(25667, 2));
    }

    #[test]
    fn empty_and_array_valued_account_references_are_tolerated() {
        let empty = one(
            json!({"transactionAmount": {"currency": "EUR", "amount": "-1"},
                   "creditorName": "Shop", "creditorAccount": {}}),
            AmountSigns::Auto,
        );
        assert_eq!(empty.counterparty_account, None);
        let listed = one(
            json!({"transactionAmount": {"currency": "EUR", "amount": "-1"},
                   "creditorAccount": [{}, {"bban": "123"}]}),
            AmountSigns::Auto,
        );
        assert_eq!(listed.counterparty_account.as_deref(), Some("123"));
    }

    #[test]
    fn debit_accounting_cards_flip_purchases_to_negative() {
        let raw: wire::CardTransaction = serde_json::from_str(
            &json!({
                "transactionAmount": {"currency": "EUR", "amount": "12.00"},
                "originalAmount": {"currency": "USD", "amount": "13.00"},
                "transactionDetails": "Coffee Shop"
            })
            .to_string(),
        )
        .expect("wire card transaction");
        let mapped = card_transaction(raw, TransactionStatus::Booked, true).expect("maps");
        assert_eq!(mapped.amount, Decimal::new(-1200, 2));
        assert_eq!(mapped.original_amount, Some(Decimal::new(-1300, 2)));
        assert_eq!(mapped.merchant_name.as_deref(), Some("Coffee Shop"));
    }

    #[test]
    fn co_owners_are_told_apart_and_names_are_not_repeated() {
        let accounts: Vec<wire::AccountDetails> = serde_json::from_value(json!([
            {"currency": "EUR", "ownerName": "Firm",
             "ownerNames": [{"name": "Bob", "role": "owner"}, {"name": "Carol", "role": "co-owner"}]},
            {"currency": "EUR", "ownerName": "Bob"}
        ]))
        .expect("wire accounts");
        let owners = owners(&accounts);
        let named: Vec<(&str, OwnerKind)> =
            owners.iter().map(|o| (o.name.as_str(), o.kind)).collect();
        assert_eq!(
            named,
            [("Bob", OwnerKind::Owner), ("Carol", OwnerKind::CoOwner)]
        );
    }
}
