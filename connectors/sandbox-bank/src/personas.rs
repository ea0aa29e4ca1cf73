//! Who banks at the sandbox: the fixed facts about each persona. The generated history lives
//! in [`crate::ledger`]; this module only says what accounts and cards a persona has.

/// The logins the sandbox bank knows (the `PSU-ID` a TPP sends).
pub const PERSONAS: &[&str] = &["alice", "bob"];

/// A persona: a login and the products it holds.
#[derive(Debug, Clone, Copy)]
pub struct Persona {
    pub login: &'static str,
    /// The name the bank prints as `ownerName`.
    pub owner_name: &'static str,
    /// Named owners with their roles, for joint or business accounts (Berlin Group `ownerNames`).
    pub owners: &'static [(&'static str, &'static str)],
    /// How many days back the bank keeps this persona's transactions.
    pub history_days: u32,
    pub accounts: &'static [AccountPlan],
    pub cards: &'static [CardPlan],
}

/// What kind of activity an account shows; drives the generator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activity {
    /// Monthly salary in, rent out, one to three card or transfer debits on most days.
    Household,
    /// A monthly saving transfer in and a little interest.
    Savings,
    /// Customer payments in several times a week; suppliers, payroll and tax out.
    Business,
}

/// One payment account of a persona.
#[derive(Debug, Clone, Copy)]
pub struct AccountPlan {
    pub name: &'static str,
    pub product: &'static str,
    pub cash_account_type: &'static str,
    /// The 10-digit account number inside the German IBAN.
    pub account_number: &'static str,
    /// Balance on the first day of history, in cents.
    pub opening_cents: i64,
    pub activity: Activity,
}

/// One credit card of a persona.
#[derive(Debug, Clone, Copy)]
pub struct CardPlan {
    pub name: &'static str,
    pub product: &'static str,
    pub masked_pan: &'static str,
    pub credit_limit_cents: i64,
}

/// The bank code of the sandbox bank inside its IBANs.
pub const BANK_CODE: &str = "10020030";

const ALICE: Persona = Persona {
    login: "alice",
    owner_name: "Alice Example",
    owners: &[],
    history_days: 730,
    accounts: &[
        AccountPlan {
            name: "Main account",
            product: "Girokonto",
            cash_account_type: "CACC",
            account_number: "0012345678",
            opening_cents: 250_000,
            activity: Activity::Household,
        },
        AccountPlan {
            name: "Savings",
            product: "Tagesgeld",
            cash_account_type: "SVGS",
            account_number: "0012345679",
            opening_cents: 500_000,
            activity: Activity::Savings,
        },
    ],
    cards: &[CardPlan {
        name: "Alice Example Visa",
        product: "Visa Classic",
        masked_pan: "492181xxxxxx4321",
        credit_limit_cents: 300_000,
    }],
};

const BOB: Persona = Persona {
    login: "bob",
    owner_name: "Bob Builder GmbH",
    // "co-owner" is a proprietary role: the spec lists "owner", "legalRepresentative" and
    // "authorisedUser" as examples of proprietary codes, and banks add their own.
    owners: &[("Bob Builder", "owner"), ("Carol Builder", "co-owner")],
    history_days: 730,
    accounts: &[AccountPlan {
        name: "Bob Builder GmbH",
        product: "Business Account",
        cash_account_type: "CACC",
        account_number: "0098765432",
        opening_cents: 1_500_000,
        activity: Activity::Business,
    }],
    cards: &[],
};

/// The persona with this login, if the bank knows it.
pub fn persona(login: &str) -> Option<&'static Persona> {
    [&ALICE, &BOB].into_iter().find(|p| p.login == login)
}

/// A German IBAN with correct ISO 7064 check digits, so validators downstream accept it.
pub fn german_iban(bank_code: &str, account_number: &str) -> String {
    let bban = format!("{bank_code}{account_number}");
    // Move "DE00" to the end and turn letters into numbers (D = 13, E = 14).
    let digits = format!("{bban}131400");
    let remainder = digits.bytes().fold(0u32, |acc, b| {
        (acc * 10 + u32::from(b.saturating_sub(b'0'))) % 97
    });
    format!("DE{:02}{bban}", 98 - remainder)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_login_is_a_persona() {
        for login in PERSONAS {
            assert!(persona(login).is_some(), "{login}");
        }
        assert!(persona("mallory").is_none());
    }

    #[test]
    fn ibans_carry_valid_check_digits() {
        // The well-known example IBAN from the ISO 13616 documentation.
        assert_eq!(
            german_iban("37040044", "0532013000"),
            "DE89370400440532013000"
        );
    }
}
