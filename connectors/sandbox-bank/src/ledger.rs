//! A persona's generated bank data: accounts and cards with their booked and pending rows.
//!
//! Every day's rows come from a PRNG seeded by persona, product and date, so a given date
//! always shows the same rows and ids; the history spans `today - history_days ..= today`.
//! The two row quirks (twins, a broken balance) are placed relative to today, so they stay
//! inside the windows an importer reads.

use chrono::{Datelike, Days, NaiveDate};
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::activity::{self, CardDraft, Draft};
use crate::personas::{
    AccountPlan, BANK_CODE, BROKEN_BALANCE_DAYS_AGO, BROKEN_BALANCE_ROW, CardPlan, Persona,
    RowQuirk, TWIN_DAYS_AGO, german_iban,
};

/// Everything the bank holds for one persona, as of `today`.
#[derive(Debug)]
pub struct PersonaData {
    pub persona: &'static Persona,
    pub today: NaiveDate,
    pub accounts: Vec<AccountData>,
    pub cards: Vec<CardData>,
}

/// A payment account with its rows in booking order.
#[derive(Debug)]
pub struct AccountData {
    pub resource_id: String,
    pub iban: String,
    pub plan: &'static AccountPlan,
    pub booked: Vec<AccountRow>,
    pub pending: Vec<AccountRow>,
    pub closing_booked: Decimal,
}

/// One account movement. Debits are negative; the counterparty is the creditor of a debit
/// and the debtor of a credit.
#[derive(Debug, Clone)]
pub struct AccountRow {
    pub id: String,
    /// `None` for pending rows.
    pub booking_date: Option<NaiveDate>,
    pub value_date: NaiveDate,
    pub amount: Decimal,
    pub counterparty_name: String,
    pub counterparty_iban: Option<String>,
    pub remittance: String,
    pub bank_transaction_code: &'static str,
    /// `None` for pending rows.
    pub balance_after: Option<Decimal>,
}

/// A credit card account with its rows in booking order.
#[derive(Debug)]
pub struct CardData {
    pub resource_id: String,
    pub plan: &'static CardPlan,
    pub booked: Vec<CardRow>,
    pub pending: Vec<CardRow>,
    /// What the card owes, as a negative balance.
    pub closing_booked: Decimal,
}

/// One card movement: purchases negative, repayments positive.
#[derive(Debug, Clone)]
pub struct CardRow {
    pub id: String,
    pub transaction_date: NaiveDate,
    /// `None` for pending rows.
    pub booking_date: Option<NaiveDate>,
    pub amount: Decimal,
    /// The amount in the merchant's currency, for foreign purchases.
    pub original: Option<(Decimal, &'static str)>,
    pub details: String,
    pub merchant_category_code: Option<&'static str>,
    pub card_acceptor_id: Option<String>,
}

impl PersonaData {
    pub fn account(&self, resource_id: &str) -> Option<&AccountData> {
        self.accounts.iter().find(|a| a.resource_id == resource_id)
    }

    pub fn card(&self, resource_id: &str) -> Option<&CardData> {
        self.cards.iter().find(|c| c.resource_id == resource_id)
    }
}

/// The rows of `booked`, ordered by booking date, that were booked within `from..=to`.
fn booked_within<T>(
    booked: &[T],
    booking_date: impl Fn(&T) -> Option<NaiveDate>,
    from: NaiveDate,
    to: NaiveDate,
) -> &[T] {
    let start = booked.partition_point(|r| booking_date(r).is_some_and(|d| d < from));
    let end = booked.partition_point(|r| booking_date(r).is_some_and(|d| d <= to));
    booked.get(start..end.max(start)).unwrap_or_default()
}

impl AccountData {
    /// The booked rows of `from..=to`, in booking order, found by bisection: `big` holds over
    /// a hundred thousand rows and every page request asks for a slice of them.
    pub fn booked_within(&self, from: NaiveDate, to: NaiveDate) -> &[AccountRow] {
        booked_within(&self.booked, |r| r.booking_date, from, to)
    }

    /// The booked balance plus what is pending: what the owner may spend.
    pub fn available(&self) -> Decimal {
        self.closing_booked + self.pending.iter().map(|r| r.amount).sum::<Decimal>()
    }
}

impl CardData {
    /// The booked rows of `from..=to`, in booking order.
    pub fn booked_within(&self, from: NaiveDate, to: NaiveDate) -> &[CardRow] {
        booked_within(&self.booked, |r| r.booking_date, from, to)
    }

    pub fn available(&self) -> Decimal {
        Decimal::new(self.plan.credit_limit_cents, 2)
            + self.closing_booked
            + self.pending.iter().map(|r| r.amount).sum::<Decimal>()
    }
}

/// Generates `persona`'s data as of `today`.
pub fn generate(persona: &'static Persona, today: NaiveDate) -> PersonaData {
    let history_start = today
        .checked_sub_days(Days::new(u64::from(persona.knobs.history_days)))
        .unwrap_or(NaiveDate::MIN);
    let ibans: Vec<String> = persona
        .accounts
        .iter()
        .map(|plan| german_iban(BANK_CODE, plan.account_number))
        .collect();
    let accounts = persona
        .accounts
        .iter()
        .enumerate()
        .map(|(index, plan)| {
            let context = activity::Context {
                login: persona.login,
                owner_name: persona.owner_name,
                index,
                own_ibans: &ibans,
            };
            account(
                persona,
                index,
                plan,
                &ibans[index],
                &context,
                history_start,
                today,
            )
        })
        .collect();
    let cards = persona
        .cards
        .iter()
        .enumerate()
        .map(|(index, plan)| card(persona, index, plan, history_start, today))
        .collect();
    PersonaData {
        persona,
        today,
        accounts,
        cards,
    }
}

fn account(
    persona: &Persona,
    index: usize,
    plan: &'static AccountPlan,
    iban: &str,
    context: &activity::Context<'_>,
    start: NaiveDate,
    today: NaiveDate,
) -> AccountData {
    let twin_days: Vec<NaiveDate> = match persona.quirk {
        RowQuirk::TwinsWithoutIds => TWIN_DAYS_AGO
            .iter()
            .filter_map(|back| today.checked_sub_days(Days::new(*back)))
            .collect(),
        _ => Vec::new(),
    };
    let mut balance = Decimal::new(plan.opening_cents, 2);
    let mut booked = Vec::new();
    for date in start.iter_days().take_while(|d| *d <= today) {
        let mut drafts = activity::account_day(plan.activity, context, date);
        if twin_days.contains(&date) {
            drafts.extend([activity::twin_ticket(), activity::twin_ticket()]);
        }
        for (seq, draft) in drafts.into_iter().enumerate() {
            balance += draft.amount;
            booked.push(row(plan, "T", date, seq, draft, Some(date), Some(balance)));
        }
    }
    if persona.quirk == RowQuirk::BrokenBalance && index == 0 {
        balance += break_balance(&mut booked, today);
    }
    let pending = activity::account_pending(plan.activity, context, today)
        .into_iter()
        .enumerate()
        .map(|(seq, (date, draft))| row(plan, "P", date, seq, draft, None, None))
        .collect();
    AccountData {
        resource_id: resource_id(persona.login, "account", index),
        iban: iban.to_owned(),
        plan,
        booked,
        pending,
        closing_booked: balance,
    }
}

/// How far the broken-balance persona's books are off from its broken row on.
const BALANCE_ERROR: Decimal = Decimal::from_parts(100, 0, 0, false, 2);

/// Renames the last row booked on or before [`BROKEN_BALANCE_DAYS_AGO`] to
/// [`BROKEN_BALANCE_ROW`] and lifts its balance and every later one by [`BALANCE_ERROR`], as a
/// bank would whose booking lost a fee: the chain breaks at that one row and is whole again
/// after it. Returns what to add to the closing balance, so it stays the newest row's.
fn break_balance(booked: &mut [AccountRow], today: NaiveDate) -> Decimal {
    let Some(cutoff) = today.checked_sub_days(Days::new(BROKEN_BALANCE_DAYS_AGO)) else {
        return Decimal::ZERO;
    };
    let Some(broken) = booked
        .iter()
        .rposition(|r| r.booking_date.is_some_and(|d| d <= cutoff))
    else {
        return Decimal::ZERO;
    };
    booked[broken].id = BROKEN_BALANCE_ROW.to_owned();
    for row in &mut booked[broken..] {
        row.balance_after = row.balance_after.map(|b| b + BALANCE_ERROR);
    }
    BALANCE_ERROR
}

fn row(
    plan: &AccountPlan,
    prefix: &str,
    date: NaiveDate,
    seq: usize,
    draft: Draft,
    booking_date: Option<NaiveDate>,
    balance_after: Option<Decimal>,
) -> AccountRow {
    AccountRow {
        id: format!(
            "{prefix}{}{}{seq:02}",
            plan.account_number,
            date.format("%Y%m%d")
        ),
        booking_date,
        value_date: date,
        amount: draft.amount,
        counterparty_name: draft.counterparty_name,
        counterparty_iban: draft.counterparty_iban,
        remittance: draft.remittance,
        bank_transaction_code: draft.bank_transaction_code,
        balance_after,
    }
}

fn card(
    persona: &Persona,
    index: usize,
    plan: &'static CardPlan,
    start: NaiveDate,
    today: NaiveDate,
) -> CardData {
    let mut owed = Decimal::ZERO;
    let mut booked = Vec::new();
    let mut pending = Vec::new();
    let card_key = format!("{}/card{index}", persona.login);
    for date in start.iter_days().take_while(|d| *d <= today) {
        let mut drafts = Vec::new();
        // The monthly statement is settled from the current account on the 3rd.
        if date.day() == 3 && owed < Decimal::ZERO {
            drafts.push(CardDraft::repayment(-owed));
        }
        drafts.extend(activity::card_day(&card_key, date, today));
        for (seq, draft) in drafts.into_iter().enumerate() {
            let id = format!("C{index}{}{seq:02}", date.format("%Y%m%d"));
            // Purchases are booked the next day, so today's purchases are still pending.
            let booking_date = if draft.is_repayment {
                Some(date)
            } else {
                date.checked_add_days(Days::new(1)).filter(|d| *d <= today)
            };
            let row = CardRow {
                id,
                transaction_date: date,
                booking_date,
                amount: draft.amount,
                original: draft.original,
                details: draft.details,
                merchant_category_code: draft.merchant_category_code,
                card_acceptor_id: draft.card_acceptor_id,
            };
            if booking_date.is_some() {
                owed += row.amount;
                booked.push(row);
            } else {
                pending.push(row);
            }
        }
    }
    // Booking order, not purchase order: a purchase booked today sorts after today's repayment.
    booked.sort_by(|a, b| a.booking_date.cmp(&b.booking_date).then(a.id.cmp(&b.id)));
    CardData {
        resource_id: resource_id(persona.login, "card", index),
        plan,
        booked,
        pending,
        closing_booked: owed,
    }
}

/// A stable, opaque resource id: the same persona and product always get the same id.
fn resource_id(login: &str, kind: &str, index: usize) -> String {
    let high = activity::fnv1a(format!("{login}/{kind}").as_bytes());
    Uuid::from_u64_pair(high, index as u64).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::personas::{PERSONAS, persona};

    fn alice_on(today: NaiveDate) -> PersonaData {
        let alice = persona("alice").expect("alice is a persona");
        generate(alice, today)
    }

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
    }

    #[test]
    fn the_same_day_yields_the_same_data() {
        let first = alice_on(day(2025, 3, 14));
        let second = alice_on(day(2025, 3, 14));
        let ids = |d: &PersonaData| -> Vec<(String, Decimal)> {
            d.accounts
                .iter()
                .flat_map(|a| a.booked.iter().chain(&a.pending))
                .map(|r| (r.id.clone(), r.amount))
                .collect()
        };
        assert_eq!(ids(&first), ids(&second));
        assert_eq!(
            first.accounts[0].resource_id,
            second.accounts[0].resource_id
        );
    }

    #[test]
    fn a_past_day_keeps_its_rows_when_today_moves_on() {
        let earlier = alice_on(day(2025, 3, 14));
        let later = alice_on(day(2025, 3, 20));
        let rows_on = |d: &PersonaData, date: NaiveDate| -> Vec<(String, Decimal)> {
            d.accounts[0]
                .booked
                .iter()
                .filter(|r| r.booking_date == Some(date))
                .map(|r| (r.id.clone(), r.amount))
                .collect()
        };
        assert_eq!(
            rows_on(&earlier, day(2025, 3, 1)),
            rows_on(&later, day(2025, 3, 1))
        );
    }

    #[test]
    fn alice_has_two_accounts_one_card_and_two_years_of_history() {
        let today = day(2025, 3, 14);
        let data = alice_on(today);
        assert_eq!(data.accounts.len(), 2);
        assert_eq!(data.cards.len(), 1);
        let main = &data.accounts[0];
        let first = main.booked.first().and_then(|r| r.booking_date);
        assert_eq!(first, Some(today - Days::new(730)));
        assert!(main.booked.len() > 1000, "{} rows", main.booked.len());
        assert!(data.accounts[1].booked.len() < main.booked.len() / 5);
        assert!(!data.cards[0].booked.is_empty());
    }

    /// The booked rows whose balance is not the previous balance plus their amount.
    fn balance_breaks(account: &AccountData) -> Vec<&str> {
        let mut balance = Decimal::new(account.plan.opening_cents, 2);
        let mut breaks = Vec::new();
        for row in &account.booked {
            if row.balance_after != Some(balance + row.amount) {
                breaks.push(row.id.as_str());
            }
            balance = row.balance_after.unwrap_or(balance + row.amount);
        }
        breaks
    }

    #[test]
    fn balances_after_each_row_add_up_to_the_closing_balance_for_every_tidy_persona() {
        let today = day(2025, 3, 14);
        for login in PERSONAS.iter().filter(|l| **l != "broken-balance") {
            let data = generate(persona(login).expect("a persona"), today);
            for account in &data.accounts {
                assert_eq!(balance_breaks(account), Vec::<&str>::new(), "{login}");
                let newest = account.booked.last().and_then(|r| r.balance_after);
                assert_eq!(newest, Some(account.closing_booked), "{login}");
            }
        }
    }

    #[test]
    fn the_broken_balance_persona_breaks_once_at_its_named_row_within_60_days() {
        let today = day(2025, 3, 14);
        let data = generate(persona("broken-balance").expect("a persona"), today);
        let account = &data.accounts[0];
        assert_eq!(balance_breaks(account), [BROKEN_BALANCE_ROW]);
        let broken = account
            .booked
            .iter()
            .position(|r| r.id == BROKEN_BALANCE_ROW)
            .expect("the broken row");
        let before = account.booked[broken - 1].balance_after.expect("booked");
        let row = &account.booked[broken];
        assert_eq!(
            row.balance_after,
            Some(before + row.amount + Decimal::new(100, 2))
        );
        assert!(row.booking_date.is_some_and(|d| d > today - Days::new(60)));
        let newest = account.booked.last().and_then(|r| r.balance_after);
        assert_eq!(newest, Some(account.closing_booked));
    }

    #[test]
    fn the_twins_persona_books_two_identical_rows_on_each_twin_day() {
        let today = day(2025, 3, 14);
        let data = generate(persona("twins").expect("a persona"), today);
        for back in TWIN_DAYS_AGO {
            let date = today - Days::new(*back);
            let rows: Vec<_> = data.accounts[0]
                .booked
                .iter()
                .filter(|r| r.booking_date == Some(date))
                .map(|r| {
                    (
                        r.value_date,
                        r.amount,
                        r.counterparty_name.clone(),
                        r.remittance.clone(),
                    )
                })
                .collect();
            let pairs = rows
                .iter()
                .enumerate()
                .filter(|(i, r)| rows[i + 1..].contains(r))
                .count();
            assert!(pairs >= 1, "no identical pair on {date}");
        }
    }

    #[test]
    fn big_books_over_a_hundred_thousand_rows_in_two_years() {
        let data = generate(persona("big").expect("a persona"), day(2025, 3, 14));
        assert!(
            data.accounts[0].booked.len() >= 100_000,
            "{}",
            data.accounts[0].booked.len()
        );
    }

    #[test]
    fn dave_goes_back_ten_years() {
        let today = day(2025, 3, 14);
        let data = generate(persona("dave").expect("a persona"), today);
        let first = data.accounts[0].booked.first().and_then(|r| r.booking_date);
        assert_eq!(first, Some(today - Days::new(3650)));
    }

    #[test]
    fn a_slice_by_booking_date_holds_exactly_the_rows_of_those_days() {
        let data = alice_on(day(2025, 3, 14));
        let main = &data.accounts[0];
        let (from, to) = (day(2025, 2, 1), day(2025, 2, 28));
        let expected: Vec<&str> = main
            .booked
            .iter()
            .filter(|r| r.booking_date.is_some_and(|d| from <= d && d <= to))
            .map(|r| r.id.as_str())
            .collect();
        let sliced: Vec<&str> = main
            .booked_within(from, to)
            .iter()
            .map(|r| r.id.as_str())
            .collect();
        assert_eq!(sliced, expected);
        assert!(main.booked_within(to, from).is_empty());
    }

    #[test]
    fn pending_rows_fall_in_the_last_three_days_and_amounts_have_two_decimals() {
        let today = day(2025, 3, 14);
        let data = alice_on(today);
        let main = &data.accounts[0];
        assert!(!main.pending.is_empty());
        for row in &main.pending {
            assert!(row.value_date > today - Days::new(3) && row.value_date <= today);
            assert!(row.booking_date.is_none() && row.balance_after.is_none());
        }
        for row in main.booked.iter().chain(&main.pending) {
            assert_eq!(row.amount.scale(), 2, "{}", row.id);
        }
    }

    #[test]
    fn transaction_ids_are_unique() {
        let data = alice_on(day(2025, 3, 14));
        let mut ids: Vec<&str> = data
            .accounts
            .iter()
            .flat_map(|a| a.booked.iter().chain(&a.pending).map(|r| r.id.as_str()))
            .chain(
                data.cards
                    .iter()
                    .flat_map(|c| c.booked.iter().chain(&c.pending).map(|r| r.id.as_str())),
            )
            .collect();
        let total = ids.len();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), total);
    }

    #[test]
    fn bob_has_one_business_account_and_no_cards() {
        let bob = persona("bob").expect("bob is a persona");
        let data = generate(bob, day(2025, 3, 14));
        assert_eq!(data.accounts.len(), 1);
        assert_eq!(data.accounts[0].plan.product, "Business Account");
        assert!(data.cards.is_empty());
        assert!(data.accounts[0].booked.len() > 300);
    }
}
