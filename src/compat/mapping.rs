//! Aisle's values in Kontomatik's terms: command states and progress, error codes as exception
//! names, and the import result as `result/owners|accounts|creditCards`. The README's
//! "Coming from Kontomatik" section is the table of these mappings; keep them in step.

use iso_currency::Currency;
use rust_decimal::Decimal;

use super::xml::{
    AccountXml, AccountsXml, CreditCardXml, CreditCardsXml, MoneyTransactionXml,
    MoneyTransactionsXml, OwnerXml, OwnersXml, ResultXml, text,
};
use crate::model::{
    command::{CommandErrorCode, CommandState, Progress, Stage},
    receipt::{Receipt, ShortfallReason},
    result::{
        AccountView, BalanceView, CardTransactionView, CardView, ImportResult, OwnerView,
        TransactionView,
    },
};

/// The command name Kontomatik gives a Default Import.
pub const DEFAULT_IMPORT: &str = "DefaultImportCommand";

/// `state`: Aisle's three states, with an `Internal` error written `fatal` (Kontomatik's
/// "unexpected failure"). Aisle never answers `setup`: a command is queued at once.
pub fn state(state: CommandState, code: Option<CommandErrorCode>) -> &'static str {
    match (state, code) {
        (CommandState::InProgress, _) => "in_progress",
        (CommandState::Successful, _) => "successful",
        (CommandState::Error, Some(CommandErrorCode::Internal)) => "fatal",
        (CommandState::Error, _) => "error",
    }
}

/// `progress/value`, 0 to 100: the stages in order, with the history stage (where an import
/// spends its time) spread over 20..90 by windows fetched.
pub fn progress_value(state: CommandState, progress: &Progress) -> u8 {
    if state != CommandState::InProgress {
        return 100;
    }
    match progress.stage {
        Stage::Queued => 0,
        Stage::Accounts => 10,
        Stage::History => {
            let total = u64::from(progress.windows_total.max(1));
            let done = u64::from(progress.windows_done).min(total);
            // At most 20 + 70: the cast cannot truncate.
            (20 + 70 * done / total) as u8
        }
        Stage::Storing => 90,
        Stage::Done | Stage::Failed => 100,
    }
}

/// The exception name a command error is reported with: Kontomatik's where it has one for the
/// same case, its nearest where a Kontomatik client's handling of it is right, else Aisle's.
pub fn exception_name(code: CommandErrorCode) -> &'static str {
    match code {
        CommandErrorCode::SessionExpired => "SessionExpired",
        // Kontomatik has no public name; the cure is the same as for an expired session: the
        // owner signs in again, with fresh SCA.
        CommandErrorCode::ScaRequired => "SessionExpired",
        CommandErrorCode::InvalidCredentials => "InvalidCredentials",
        CommandErrorCode::AccessBlocked => "AccessBlocked",
        CommandErrorCode::BankUnavailable | CommandErrorCode::BankRateLimited => {
            "ServiceTemporarilyUnavailable"
        }
        CommandErrorCode::BankProtocolError => "BankProtocolError",
        CommandErrorCode::Timeout => "Timeout",
        CommandErrorCode::Internal => "Internal",
    }
}

/// The message of a command's exception: Aisle's own code first, so nothing the mapping
/// merges is lost, then what happened.
pub fn exception_message(code: CommandErrorCode, detail: Option<&str>) -> String {
    match detail.map(text) {
        Some(detail) if !detail.is_empty() => format!("{code}: {detail}"),
        _ => code.to_string(),
    }
}

/// An amount with at least its currency's minor digits (`-20.00` EUR, `1500` JPY, `1.250`
/// KWD). More digits than that are kept, never rounded away; a currency ISO 4217 does not know
/// keeps the bank's scale.
pub fn amount(value: Decimal, currency: &str) -> String {
    let Some(digits) = Currency::from_code(currency).and_then(Currency::exponent) else {
        return value.to_string();
    };
    let mut value = value.normalize();
    let digits = u32::from(digits);
    if value.scale() < digits {
        value.rescale(digits);
    }
    value.to_string()
}

/// The import result as `result`.
pub fn result(result: &ImportResult) -> ResultXml {
    ResultXml {
        owners: OwnersXml {
            owner: result.owners.iter().map(owner).collect(),
        },
        accounts: AccountsXml {
            account: result.accounts.iter().map(account).collect(),
        },
        credit_cards: CreditCardsXml {
            credit_card: result.cards.iter().map(card).collect(),
        },
    }
}

fn owner(owner: &OwnerView) -> OwnerXml {
    OwnerXml {
        name: owned(&owner.name),
        address: owner.address.as_deref().map(owned),
        kind: Some(owned(&owner.kind)),
        phone: owner.phone.as_deref().map(owned),
        email: owner.email.as_deref().map(owned),
        nationality: owner.nationality.as_deref().map(owned),
        birth_date: owner.birth_date.map(|d| d.to_string()),
    }
}

fn account(account: &AccountView) -> AccountXml {
    let currency = &account.currency;
    let oldest_row = account
        .transactions
        .booked
        .iter()
        .chain(&account.transactions.pending)
        .filter_map(|t| t.booking_date.or(t.value_date))
        .min();
    let owners = (!account.owner_names.is_empty()).then(|| OwnersXml {
        owner: account
            .owner_names
            .iter()
            .map(|name| OwnerXml {
                name: owned(name),
                address: None,
                kind: None,
                phone: None,
                email: None,
                nationality: None,
                birth_date: None,
            })
            .collect(),
    });
    AccountXml {
        partial_due_to_timeout: partial(account.receipt.as_deref()),
        name: owned(
            account
                .name
                .as_deref()
                .or(account.product.as_deref())
                .unwrap_or(&account.bank_account_id),
        ),
        friendly_name: account
            .product
            .as_deref()
            .filter(|product| account.name.as_deref() != Some(product))
            .map(owned),
        iban: owned(
            account
                .iban
                .as_deref()
                .or(account.bban.as_deref())
                .or(account.masked_pan.as_deref())
                .unwrap_or(&account.bank_account_id),
        ),
        currency_balance: balance(&account.balances, BOOKED).map(|b| amount(b, currency)),
        currency_funds_available: balance(&account.balances, AVAILABLE)
            .map(|b| amount(b, currency)),
        currency_name: owned(currency),
        active_since_at_least: account.opened_on.or(oldest_row).map(|d| d.to_string()),
        owners,
        money_transactions: MoneyTransactionsXml {
            money_transaction: account
                .transactions
                .pending
                .iter()
                .chain(&account.transactions.booked)
                .map(transaction)
                .collect(),
        },
    }
}

fn transaction(row: &TransactionView) -> MoneyTransactionXml {
    let party = row.counterparty_name.as_deref().map(owned);
    MoneyTransactionXml {
        transaction_on: row.value_date.or(row.booking_date).map(|d| d.to_string()),
        booked_on: row.booking_date.or(row.value_date).map(|d| d.to_string()),
        currency_amount: amount(row.amount, &row.currency),
        currency_balance: row.balance_after.map(|b| amount(b, &row.currency)),
        title: row.description.as_deref().map(owned),
        party_iban: party.as_ref().map(|_| {
            row.counterparty_account
                .as_deref()
                .map(owned)
                .unwrap_or_default()
        }),
        party,
        kind: row.bank_transaction_code.as_deref().map(owned),
        status: status(&row.status),
    }
}

fn card(card: &CardView) -> CreditCardXml {
    let currency = &card.currency;
    CreditCardXml {
        partial_due_to_timeout: partial(card.receipt.as_deref()),
        card_id: owned(&card.bank_card_id),
        number: card.masked_pan.as_deref().map(owned),
        currency_balance: balance(&card.balances, BOOKED).map(|b| amount(b, currency)),
        currency_funds_available: balance(&card.balances, AVAILABLE).map(|b| amount(b, currency)),
        currency_name: owned(currency),
        limit: card.credit_limit.map(|l| amount(l, currency)),
        money_transactions: MoneyTransactionsXml {
            money_transaction: card
                .transactions
                .pending
                .iter()
                .chain(&card.transactions.booked)
                .map(card_transaction)
                .collect(),
        },
    }
}

fn card_transaction(row: &CardTransactionView) -> MoneyTransactionXml {
    let party = row.merchant_name.as_deref().map(owned);
    MoneyTransactionXml {
        transaction_on: row
            .transaction_date
            .or(row.booking_date)
            .map(|d| d.to_string()),
        booked_on: row
            .booking_date
            .or(row.transaction_date)
            .map(|d| d.to_string()),
        currency_amount: amount(row.amount, &row.currency),
        currency_balance: None,
        title: row.description.as_deref().map(owned),
        party_iban: party.as_ref().map(|_| String::new()),
        party,
        kind: None,
        status: status(&row.status),
    }
}

/// Booked rows are `DONE` (the only status Kontomatik recorded); pending ones `PENDING`.
fn status(status: &str) -> &'static str {
    if status == "pending" {
        "PENDING"
    } else {
        "DONE"
    }
}

/// Balance types for `currencyBalance`, most authoritative first (Berlin Group names).
const BOOKED: &[&str] = &[
    "closingBooked",
    "interimBooked",
    "expected",
    "openingBooked",
];
/// Balance types for `currencyFundsAvailable`.
const AVAILABLE: &[&str] = &["interimAvailable", "closingAvailable", "forwardAvailable"];

fn balance(balances: &[BalanceView], preference: &[&str]) -> Option<Decimal> {
    preference.iter().find_map(|kind| {
        balances
            .iter()
            .find(|b| b.balance_type == *kind)
            .map(|b| b.amount)
    })
}

/// `partialDueToTimeout="true"` when the receipt says history is missing. A range that was
/// only read in smaller windows (`PeriodInvalidShrunk`) is complete, and so is the history of
/// an account whose balances alone were unreadable (`BalancesUnavailable`).
fn partial(receipt: Option<&Receipt>) -> Option<bool> {
    receipt
        .is_some_and(|receipt| {
            receipt.shortfalls.iter().any(|s| {
                !matches!(
                    s.reason,
                    ShortfallReason::PeriodInvalidShrunk | ShortfallReason::BalancesUnavailable
                )
            })
        })
        .then_some(true)
}

/// A bank's text as the reply may carry it.
fn owned(value: &str) -> String {
    text(value).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decimal(value: &str) -> Decimal {
        value.parse().unwrap()
    }

    #[test]
    fn amounts_carry_their_currencys_minor_digits_and_never_lose_any() {
        assert_eq!(amount(decimal("-20"), "EUR"), "-20.00");
        assert_eq!(amount(decimal("12.5"), "PLN"), "12.50");
        assert_eq!(amount(decimal("1500.00"), "JPY"), "1500");
        assert_eq!(amount(decimal("1.25"), "KWD"), "1.250");
        assert_eq!(amount(decimal("0.125"), "EUR"), "0.125");
        assert_eq!(amount(decimal("7.1"), "XYZ"), "7.1");
    }

    #[test]
    fn progress_runs_from_zero_to_a_hundred_through_the_stages() {
        let at = |stage, windows_done, windows_total| Progress {
            stage,
            windows_done,
            windows_total,
        };
        let running = CommandState::InProgress;
        assert_eq!(progress_value(running, &at(Stage::Queued, 0, 0)), 0);
        assert_eq!(progress_value(running, &at(Stage::History, 0, 0)), 20);
        assert_eq!(progress_value(running, &at(Stage::History, 5, 10)), 55);
        assert_eq!(progress_value(running, &at(Stage::History, 12, 10)), 90);
        assert_eq!(
            progress_value(CommandState::Error, &at(Stage::Failed, 0, 0)),
            100
        );
    }

    #[test]
    fn only_an_internal_failure_is_fatal() {
        for code in [
            CommandErrorCode::SessionExpired,
            CommandErrorCode::ScaRequired,
            CommandErrorCode::InvalidCredentials,
            CommandErrorCode::AccessBlocked,
            CommandErrorCode::BankUnavailable,
            CommandErrorCode::BankRateLimited,
            CommandErrorCode::BankProtocolError,
            CommandErrorCode::Timeout,
        ] {
            assert_eq!(state(CommandState::Error, Some(code)), "error", "{code}");
        }
        assert_eq!(
            state(CommandState::Error, Some(CommandErrorCode::Internal)),
            "fatal"
        );
    }

    #[test]
    fn an_exception_message_keeps_aisles_own_code() {
        assert_eq!(
            exception_message(CommandErrorCode::ScaRequired, Some("the bank wants SCA")),
            "ScaRequired: the bank wants SCA"
        );
        assert_eq!(
            exception_message(CommandErrorCode::Timeout, None),
            "Timeout"
        );
    }
}
