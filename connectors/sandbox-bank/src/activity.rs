//! What happens on one day of a persona's life: the rows each kind of account or card shows.
//!
//! Each day draws from its own PRNG, seeded by persona, product and date, so adding days at
//! the end never changes earlier days.

use std::fmt::Display;

use chrono::{Datelike, Days, NaiveDate};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rust_decimal::Decimal;

use crate::personas::{Activity, german_iban};

/// What an account generator knows about the account it fills.
pub struct Context<'a> {
    pub login: &'a str,
    /// The owner, named as the counterparty of transfers between the persona's own accounts.
    pub owner_name: &'a str,
    pub index: usize,
    /// The persona's own IBANs, so transfers between its accounts name each other.
    pub own_ibans: &'a [String],
}

/// One account row before the ledger gives it an id and a running balance.
#[derive(Debug)]
pub struct Draft {
    pub amount: Decimal,
    pub counterparty_name: String,
    pub counterparty_iban: Option<String>,
    pub remittance: String,
    pub bank_transaction_code: &'static str,
}

/// One card row before the ledger gives it an id and dates.
#[derive(Debug)]
pub struct CardDraft {
    pub amount: Decimal,
    pub original: Option<(Decimal, &'static str)>,
    pub details: String,
    pub merchant_category_code: Option<&'static str>,
    pub card_acceptor_id: Option<String>,
    pub is_repayment: bool,
}

impl CardDraft {
    pub fn repayment(amount: Decimal) -> Self {
        Self {
            amount,
            original: None,
            details: "Payment received - thank you".to_owned(),
            merchant_category_code: None,
            card_acceptor_id: None,
            is_repayment: true,
        }
    }
}

/// 64-bit FNV-1a: a hash that, unlike std's, is specified and so stable across Rust releases.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn day_rng(key: &str, date: NaiveDate) -> StdRng {
    StdRng::seed_from_u64(fnv1a(format!("{key}/{date}").as_bytes()))
}

/// An amount between `low` and `high` cents, with two decimals.
fn cents(rng: &mut StdRng, low: i64, high: i64) -> Decimal {
    Decimal::new(rng.random_range(low..=high), 2)
}

fn pick<'a, T>(rng: &mut StdRng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

/// A merchant: name, city, category code, cents range of a typical purchase.
type Merchant = (&'static str, &'static str, &'static str, i64, i64);

const MERCHANTS: &[Merchant] = &[
    ("REWE Markt", "Berlin", "5411", 800, 9500),
    ("Lidl", "Berlin", "5411", 500, 6000),
    ("dm-drogerie markt", "Berlin", "5912", 300, 4500),
    ("Deutsche Bahn", "Berlin", "4112", 1500, 14900),
    ("BVG Ticket", "Berlin", "4111", 300, 9900),
    ("Aral Tankstelle", "Potsdam", "5541", 2000, 9000),
    ("Cafe Einstein", "Berlin", "5814", 350, 2500),
    ("Amazon EU S.a.r.l.", "Luxembourg", "5942", 900, 15000),
    ("Zalando SE", "Berlin", "5651", 2000, 12000),
    ("MediaMarkt", "Berlin", "5732", 1500, 30000),
];

const FOREIGN_MERCHANTS: &[(Merchant, &str)] = &[
    (("Apple.com/bill", "Cupertino", "5818", 99, 2999), "USD"),
    (("Uber *Trip", "San Francisco", "4121", 800, 4500), "USD"),
    (("Pret A Manger", "London", "5814", 400, 1500), "GBP"),
];

const CUSTOMERS: &[&str] = &[
    "Hausbau Meier KG",
    "Stadtwerke Neustadt",
    "Dachdeckerei Vogel",
    "Immobilien Krause GmbH",
];

const SUPPLIERS: &[&str] = &[
    "Baustoffe Nord GmbH",
    "Holzhandel Schulz",
    "Werkzeug Wagner",
    "Mietgeraete Berlin",
];

/// A counterparty's IBAN, stable per name, at some other bank.
fn counterparty_iban(name: &str) -> String {
    let number = format!("{:010}", fnv1a(name.as_bytes()) % 10_000_000_000);
    german_iban("50010517", &number)
}

fn debit(name: &str, cents_amount: Decimal, remittance: String, code: &'static str) -> Draft {
    Draft {
        amount: -cents_amount,
        counterparty_name: name.to_owned(),
        counterparty_iban: Some(counterparty_iban(name)),
        remittance,
        bank_transaction_code: code,
    }
}

fn credit(name: &str, cents_amount: Decimal, remittance: String, code: &'static str) -> Draft {
    Draft {
        amount: cents_amount,
        ..debit(name, Decimal::ZERO, remittance, code)
    }
}

fn card_payment(rng: &mut StdRng) -> Draft {
    let (name, city, _, low, high) = *pick(rng, MERCHANTS);
    let amount = cents(rng, low, high);
    Draft {
        amount: -amount,
        counterparty_name: name.to_owned(),
        counterparty_iban: None,
        remittance: format!("{name} {city} // card payment"),
        bank_transaction_code: "PMNT-CCRD-POSD",
    }
}

/// The twins persona's ticket, bought twice in a row at the same machine: two rows alike in
/// every field, as banks print them.
pub fn twin_ticket() -> Draft {
    Draft {
        amount: Decimal::new(-380, 2),
        counterparty_name: "BVG Ticket".to_owned(),
        counterparty_iban: None,
        remittance: "BVG Ticket Berlin // card payment".to_owned(),
        bank_transaction_code: "PMNT-CCRD-POSD",
    }
}

/// The booked rows of an account on `date`.
pub fn account_day(activity: Activity, ctx: &Context<'_>, date: NaiveDate) -> Vec<Draft> {
    let key = format!("{}/account{}", ctx.login, ctx.index);
    let mut rng = day_rng(&key, date);
    let month = date.format("%B %Y");
    let mut rows = Vec::new();
    match activity {
        Activity::Household => {
            if date.day() == 1 {
                let rent = Decimal::new(95_000, 2);
                rows.push(debit(
                    "Hausverwaltung Schmidt",
                    rent,
                    format!("Miete {month}"),
                    "PMNT-ICDT-STDO",
                ));
            }
            if date.day() == 15
                && let Some(savings) = ctx.own_ibans.get(ctx.index + 1)
            {
                rows.push(Draft {
                    counterparty_iban: Some(savings.clone()),
                    ..debit(
                        ctx.owner_name,
                        Decimal::new(20_000, 2),
                        "Sparplan".to_owned(),
                        "PMNT-ICDT-STDO",
                    )
                });
            }
            if date.day() == 25 {
                let salary = cents(&mut rng, 480_000, 500_000);
                rows.push(credit(
                    "ACME Software GmbH",
                    salary,
                    format!("Gehalt {month}"),
                    "PMNT-RCDT-ESCT",
                ));
            }
            // Five days out of six show spending.
            if rng.random_ratio(5, 6) {
                household_spending(&mut rng, &month, &mut rows);
            }
        }
        Activity::Savings => {
            if date.day() == 1 {
                let interest = cents(&mut rng, 50, 900);
                rows.push(credit(
                    "Sandbox Bank",
                    interest,
                    format!("Zinsen {month}"),
                    "PMNT-RCDT-OTHR",
                ));
            }
            if date.day() == 15
                && let Some(main) = ctx.index.checked_sub(1).and_then(|i| ctx.own_ibans.get(i))
            {
                rows.push(Draft {
                    counterparty_iban: Some(main.clone()),
                    ..credit(
                        ctx.owner_name,
                        Decimal::new(20_000, 2),
                        "Sparplan".to_owned(),
                        "PMNT-RCDT-ESCT",
                    )
                });
            }
        }
        Activity::Business => {
            let weekday = date.weekday().number_from_monday() <= 5;
            if weekday && rng.random_ratio(3, 5) {
                let name = *pick(&mut rng, CUSTOMERS);
                let amount = cents(&mut rng, 50_000, 800_000);
                let invoice = rng.random_range(100..999);
                rows.push(credit(
                    name,
                    amount,
                    format!("Rechnung RE-{}-{invoice}", date.year()),
                    "PMNT-RCDT-ESCT",
                ));
            }
            if weekday && rng.random_ratio(2, 5) {
                let name = *pick(&mut rng, SUPPLIERS);
                let amount = cents(&mut rng, 10_000, 300_000);
                rows.push(debit(
                    name,
                    amount,
                    format!("Lieferung {month}"),
                    "PMNT-ICDT-ESCT",
                ));
            }
            if date.day() == 28 {
                rows.push(debit(
                    "Lohn und Gehalt",
                    Decimal::new(420_000, 2),
                    format!("Loehne {month}"),
                    "PMNT-ICDT-ESCT",
                ));
            }
            if date.day() == 10 && date.month() % 3 == 1 {
                let tax = cents(&mut rng, 250_000, 600_000);
                rows.push(debit(
                    "Finanzamt Berlin",
                    tax,
                    format!("USt {month}"),
                    "PMNT-ICDT-ESCT",
                ));
            }
        }
        Activity::Retail => retail_day(&mut rng, date, &month.to_string(), &mut rows),
    }
    rows
}

/// A household's spending on a day it spends: one to three card payments, or now and then a
/// direct debit for a bill.
fn household_spending(rng: &mut StdRng, month: impl Display, rows: &mut Vec<Draft>) {
    for _ in 0..rng.random_range(1..=3) {
        if rng.random_ratio(1, 8) {
            let name = *pick(rng, &["Stadtwerke Berlin", "Telekom", "HUK24"]);
            let amount = cents(rng, 2_000, 12_000);
            rows.push(debit(
                name,
                amount,
                format!("Kd-Nr 4711 {month}"),
                "PMNT-RDDT-ESDD",
            ));
        } else {
            rows.push(card_payment(rng));
        }
    }
}

/// A shop's day: the till's card takings, one by one, then most of them swept away at night
/// so the balance stays a shop's and not a fortune.
fn retail_day(rng: &mut StdRng, date: NaiveDate, month: &str, rows: &mut Vec<Draft>) {
    if date.day() == 1 {
        rows.push(debit(
            "Gewerbeimmobilien Lang",
            Decimal::new(180_000, 2),
            format!("Ladenmiete {month}"),
            "PMNT-ICDT-STDO",
        ));
    }
    let mut takings = Decimal::ZERO;
    for _ in 0..rng.random_range(140..=160) {
        let amount = cents(rng, 150, 2_500);
        takings += amount;
        let terminal = rng.random_range(1..=3);
        rows.push(Draft {
            amount,
            counterparty_name: "Kartenzahlung".to_owned(),
            counterparty_iban: None,
            remittance: format!("Kartenumsatz Terminal {terminal}"),
            bank_transaction_code: "PMNT-CCRD-POSC",
        });
    }
    let sweep = (takings * Decimal::new(90, 2)).round_dp(2);
    rows.push(debit(
        "Big Kiosk GmbH Treasury",
        sweep,
        format!("Tagesabschoepfung {date}"),
        "PMNT-ICDT-BOOK",
    ));
}

/// The pending rows of an account as of `today`: a few from the last three days.
pub fn account_pending(
    activity: Activity,
    ctx: &Context<'_>,
    today: NaiveDate,
) -> Vec<(NaiveDate, Draft)> {
    if activity != Activity::Household {
        return Vec::new();
    }
    let key = format!("{}/account{}/pending", ctx.login, ctx.index);
    let mut rng = day_rng(&key, today);
    (0..rng.random_range(2..=3u64))
        .filter_map(|_| {
            let back = rng.random_range(0..3u64);
            let date = today.checked_sub_days(Days::new(back))?;
            Some((date, card_payment(&mut rng)))
        })
        .collect()
}

/// The card purchases of `date`; today always has at least one, so a card shows pending rows.
pub fn card_day(key: &str, date: NaiveDate, today: NaiveDate) -> Vec<CardDraft> {
    let mut rng = day_rng(key, date);
    let count = match rng.random_range(0..10) {
        0..=4 if date == today => 1,
        0..=4 => 0,
        5..=8 => 1,
        _ => 2,
    };
    (0..count)
        .map(|_| {
            if rng.random_ratio(1, 8) {
                let ((name, city, mcc, low, high), currency) = *pick(&mut rng, FOREIGN_MERCHANTS);
                let original = cents(&mut rng, low, high);
                // A fixed sandbox rate; real cards add a markup.
                let amount = (original * Decimal::new(92, 2)).round_dp(2);
                purchase(name, city, mcc, amount, Some((-original, currency)))
            } else {
                let (name, city, mcc, low, high) = *pick(&mut rng, MERCHANTS);
                let amount = cents(&mut rng, low, high);
                purchase(name, city, mcc, amount, None)
            }
        })
        .collect()
}

fn purchase(
    name: &str,
    city: &str,
    mcc: &'static str,
    amount: Decimal,
    original: Option<(Decimal, &'static str)>,
) -> CardDraft {
    CardDraft {
        amount: -amount,
        original,
        details: format!("{name} {city}"),
        merchant_category_code: Some(mcc),
        card_acceptor_id: Some(format!("ACQ{:08}", fnv1a(name.as_bytes()) % 100_000_000)),
        is_repayment: false,
    }
}
