//! Who signs in through the sandbox's form faces (the partner account API and the account
//! service): the personas' identity papers, phone numbers and the accounts those faces show.
//!
//! Kept apart from [`crate::personas`], which drives the Berlin Group face's generated
//! history: the form faces need facts that face never shows (birth dates, ID card numbers,
//! phone numbers) and fixed balances, not a ledger. Logins, names and account numbers are the
//! same, so one persona looks like one person whichever face a demo uses.

use rust_decimal::Decimal;

/// The one-time code the account service face "texts": it sends no SMS, so the code is fixed.
pub const TEST_OTP: &str = "123456";

/// A persona as the form faces know them.
#[derive(Debug, Clone, Copy)]
pub struct Identity {
    pub login: &'static str,
    pub title: &'static str,
    pub first_name: &'static str,
    pub last_name: &'static str,
    /// `YYYY-MM-DD`.
    pub birth_date: &'static str,
    pub street: &'static str,
    pub postal_code: &'static str,
    pub city: &'static str,
    /// ISO 3166-1 alpha-2 country of residence.
    pub country: &'static str,
    pub email: &'static str,
    /// E.164.
    pub phone_number: &'static str,
    /// ISO 3166-1 alpha-2.
    pub nationality: &'static str,
    /// The ID card number: the account service's `legalId`.
    pub legal_id: &'static str,
    /// The account service's customer number.
    pub cif: &'static str,
    /// Blocked at the bank: both faces refuse the persona.
    pub blocked: bool,
    /// Other people on the customer record: (full name, role).
    pub related_parties: &'static [(&'static str, &'static str)],
    /// The first account is the one the persona names at the partner face.
    pub accounts: &'static [FormAccount],
}

/// One account as the form faces show it.
#[derive(Debug, Clone, Copy)]
pub struct FormAccount {
    /// The 10-digit account number, the same as inside the Berlin Group face's IBAN.
    pub number: &'static str,
    pub iban: &'static str,
    pub name: &'static str,
    pub product: &'static str,
    /// `CURRENT` or `SAVINGS`.
    pub kind: &'static str,
    pub currency: &'static str,
    /// `ACTIVE` or `BLOCKED`.
    pub status: &'static str,
    pub opened_on: &'static str,
    pub valid_until: Option<&'static str>,
    pub overdraft_cents: i64,
    /// The most the account may hold, where the product caps it.
    pub max_balance_cents: Option<i64>,
    pub available_cents: i64,
    pub ledger_cents: i64,
    /// Holders: (name, role).
    pub holders: &'static [(&'static str, &'static str)],
}

impl Identity {
    pub fn full_name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name)
    }
}

impl FormAccount {
    /// The lowest balance allowed: the overdraft limit below zero.
    pub fn min_balance(&self) -> Decimal {
        Decimal::new(-self.overdraft_cents, 2)
    }
}

/// Cents as a two-decimal amount string (`"-1000.00"`).
pub fn money(cents: i64) -> String {
    Decimal::new(cents, 2).to_string()
}

const ALICE: Identity = Identity {
    login: "alice",
    title: "Ms",
    first_name: "Alice",
    last_name: "Example",
    birth_date: "1990-04-12",
    street: "Musterstraße 1",
    postal_code: "10115",
    city: "Berlin",
    country: "DE",
    email: "alice@example.com",
    phone_number: "+4915100000001",
    nationality: "DE",
    legal_id: "T220001293",
    cif: "10000001",
    blocked: false,
    related_parties: &[],
    accounts: &[
        FormAccount {
            number: "0012345678",
            iban: "DE27100200300012345678",
            name: "Main account",
            product: "Girokonto",
            kind: "CURRENT",
            currency: "EUR",
            status: "ACTIVE",
            opened_on: "2016-05-02",
            valid_until: Some("2030-12-31"),
            overdraft_cents: 100_000,
            max_balance_cents: Some(5_000_000),
            available_cents: 248_055,
            ledger_cents: 253_055,
            holders: &[("Alice Example", "OWNER")],
        },
        FormAccount {
            number: "0012345679",
            iban: "DE97100200300012345679",
            name: "Savings",
            product: "Tagesgeld",
            kind: "SAVINGS",
            currency: "EUR",
            status: "ACTIVE",
            opened_on: "2018-11-15",
            valid_until: None,
            overdraft_cents: 0,
            max_balance_cents: Some(25_000_000),
            available_cents: 512_040,
            ledger_cents: 512_040,
            holders: &[("Alice Example", "OWNER")],
        },
    ],
};

const BOB: Identity = Identity {
    login: "bob",
    title: "Mr",
    first_name: "Bob",
    last_name: "Builder",
    birth_date: "1975-09-30",
    street: "Baustraße 7",
    postal_code: "80331",
    city: "München",
    country: "DE",
    email: "bob@builder.example",
    phone_number: "+4915100000002",
    nationality: "AT",
    legal_id: "L01X00T471",
    cif: "10000002",
    blocked: false,
    related_parties: &[("Carol Builder", "CO_OWNER")],
    accounts: &[FormAccount {
        number: "0098765432",
        iban: "DE20100200300098765432",
        name: "Bob Builder GmbH",
        product: "Business Account",
        kind: "CURRENT",
        currency: "EUR",
        status: "ACTIVE",
        opened_on: "2019-03-01",
        valid_until: None,
        overdraft_cents: 500_000,
        max_balance_cents: None,
        available_cents: 1_523_410,
        ledger_cents: 1_573_410,
        holders: &[("Bob Builder", "OWNER"), ("Carol Builder", "CO_OWNER")],
    }],
};

const LOCKED: Identity = Identity {
    login: "locked",
    title: "Mr",
    first_name: "Leo",
    last_name: "Locked",
    birth_date: "1982-01-15",
    street: "Schlossallee 13",
    postal_code: "20095",
    city: "Hamburg",
    country: "DE",
    email: "leo.locked@example.com",
    phone_number: "+4915100000003",
    nationality: "DE",
    legal_id: "C01X00T478",
    cif: "10000003",
    blocked: true,
    related_parties: &[],
    accounts: &[FormAccount {
        number: "0055555555",
        iban: "DE72100200300055555555",
        name: "Main account",
        product: "Girokonto",
        kind: "CURRENT",
        currency: "EUR",
        status: "BLOCKED",
        opened_on: "2020-07-01",
        valid_until: None,
        overdraft_cents: 0,
        max_balance_cents: None,
        available_cents: 10_000,
        ledger_cents: 10_000,
        holders: &[("Leo Locked", "OWNER")],
    }],
};

/// Everyone the form faces know.
pub const IDENTITIES: &[Identity] = &[ALICE, BOB, LOCKED];

pub fn by_login(login: &str) -> Option<&'static Identity> {
    IDENTITIES.iter().find(|i| i.login == login)
}

pub fn by_cif(cif: &str) -> Option<&'static Identity> {
    IDENTITIES.iter().find(|i| i.cif == cif.trim())
}

/// The customer with this ID card number, typed in any case and with spaces.
pub fn by_legal_id(legal_id: &str) -> Option<&'static Identity> {
    let typed: String = legal_id.chars().filter(|c| !c.is_whitespace()).collect();
    IDENTITIES
        .iter()
        .find(|i| i.legal_id.eq_ignore_ascii_case(&typed))
}

/// The account with this account number or IBAN, and whose it is.
pub fn by_account(
    reference: &str,
    is_iban: bool,
) -> Option<(&'static Identity, &'static FormAccount)> {
    IDENTITIES.iter().find_map(|identity| {
        identity
            .accounts
            .iter()
            .find(|a| {
                if is_iban {
                    a.iban.eq_ignore_ascii_case(reference)
                } else {
                    a.number == reference
                }
            })
            .map(|account| (identity, account))
    })
}

/// The value `login` types into the sign-in form field `field`.
pub fn form_answer(login: &str, field: &str) -> Option<String> {
    let identity = by_login(login)?;
    let answer = match field {
        "accountReference" => identity.accounts.first()?.number,
        "birthDate" => identity.birth_date,
        "legalId" => identity.legal_id,
        "phoneNumber" => identity.phone_number,
        "otp" => TEST_OTP,
        _ => return None,
    };
    Some(answer.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIELDS: [&str; 5] = [
        "accountReference",
        "birthDate",
        "legalId",
        "phoneNumber",
        "otp",
    ];

    #[test]
    fn every_persona_answers_every_form_field_and_strangers_answer_nothing() {
        for login in ["alice", "bob", "locked"] {
            for field in FIELDS {
                assert!(form_answer(login, field).is_some(), "{login} {field}");
            }
        }
        assert_eq!(form_answer("mallory", "birthDate"), None);
        assert_eq!(form_answer("alice", "password"), None);
        assert_eq!(form_answer("alice", "otp").as_deref(), Some("123456"));
    }

    #[test]
    fn dates_are_calendar_dates() {
        let parses = |d: &str| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_ok();
        for identity in IDENTITIES {
            assert!(parses(identity.birth_date), "{}", identity.login);
            for account in identity.accounts {
                assert!(parses(account.opened_on), "{}", account.number);
                assert!(account.valid_until.is_none_or(parses), "{}", account.number);
            }
        }
    }

    #[test]
    fn ibans_carry_valid_check_digits_and_contain_the_account_number() {
        for account in IDENTITIES.iter().flat_map(|i| i.accounts) {
            assert!(account.iban.ends_with(account.number), "{}", account.iban);
            // ISO 13616: move the first four characters to the end, letters to numbers, mod 97.
            let rearranged = format!("{}{}", &account.iban[4..], &account.iban[..4]);
            let remainder = rearranged.chars().fold(0u32, |acc, c| {
                let value = c.to_digit(36).expect("alphanumeric");
                if value < 10 {
                    (acc * 10 + value) % 97
                } else {
                    (acc * 100 + value) % 97
                }
            });
            assert_eq!(remainder, 1, "{}", account.iban);
        }
    }

    #[test]
    fn logins_cifs_legal_ids_and_account_numbers_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for identity in IDENTITIES {
            assert!(seen.insert(identity.login));
            assert!(seen.insert(identity.cif));
            assert!(seen.insert(identity.legal_id));
            for account in identity.accounts {
                assert!(seen.insert(account.number));
            }
        }
    }

    #[test]
    fn customers_are_found_by_legal_id_in_any_case_and_accounts_by_either_reference() {
        assert_eq!(by_legal_id(" t220001293 ").map(|i| i.login), Some("alice"));
        assert_eq!(
            by_account("de20100200300098765432", true).map(|(i, _)| i.login),
            Some("bob")
        );
        assert_eq!(
            by_account("0098765432", false).map(|(i, _)| i.login),
            Some("bob")
        );
        assert!(by_account("0098765432", true).is_none());
    }
}
