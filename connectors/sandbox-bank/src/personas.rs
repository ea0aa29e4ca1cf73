//! Who banks at the sandbox: the fixed facts about each persona, i.e. what accounts and cards
//! it has, how its bank behaves ([`Knobs`]) and how its rows deviate ([`RowQuirk`]). The
//! generated history lives in [`crate::ledger`]; the README describes each persona.

use std::time::Duration;

use crate::knobs::{Fault, Hostility, Knobs};

/// The logins the sandbox bank knows (the `PSU-ID` a TPP sends, or the login typed on the SCA
/// page). The crate README says what each one shows.
pub const PERSONAS: &[&str] = &[
    "alice",
    "bob",
    "dave",
    "big",
    "slow",
    "flaky",
    "expiring",
    "garbage",
    "locked",
    "short-sca",
    "twins",
    "broken-balance",
    "capped",
    "trio",
    // Hostile personas: one per reply that must not hurt an importer.
    "overflow",
    "endless-pages",
    "link-cycle",
    "huge-body",
    "nul-bytes",
    "redirect-away",
    // SCA and report personas: decoupled and embedded approaches, the spec's report shapes.
    "decoupled",
    "decoupled-refused",
    "embedded",
    "mixed",
    "report-download",
];

/// A persona: a login, the products it holds and how its bank behaves.
#[derive(Debug, Clone, Copy)]
pub struct Persona {
    pub login: &'static str,
    /// The name the bank prints as `ownerName`.
    pub owner_name: &'static str,
    /// Named owners with their roles, for joint or business accounts (Berlin Group `ownerNames`).
    pub owners: &'static [(&'static str, &'static str)],
    pub knobs: Knobs,
    /// How the persona's transaction rows deviate from a tidy bank's.
    pub quirk: RowQuirk,
    /// How the persona authenticates when the TPP asks for decoupled or embedded SCA.
    pub sca: ScaTraits,
    pub accounts: &'static [AccountPlan],
    pub cards: &'static [CardPlan],
}

/// A deliberate flaw in a persona's transaction rows, for importers to cope with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowQuirk {
    None,
    /// Rows carry no `transactionId`, and some days hold two identical booked rows (see
    /// [`TWIN_DAYS_AGO`]), so an importer must fingerprint rows and still keep both twins.
    TwinsWithoutIds,
    /// One booked row in the last 60 days (id [`BROKEN_BALANCE_ROW`], see
    /// [`BROKEN_BALANCE_DAYS_AGO`]) has a `balanceAfterTransaction` 1.00 above its predecessor
    /// plus its amount; every later balance carries the same 1.00.
    BrokenBalance,
    /// Booked amounts are quoted without a sign (the direction is the side the row names)
    /// while pending ones are signed, as in the spec's first transactions example.
    UnsignedBooked,
    /// The transactions report is only offered as a download (`_links.download`, the spec's
    /// second transactions example) instead of rows.
    ReportAsDownload,
}

/// How many days before today the twins persona shows a pair of identical booked rows: one
/// day inside the free 90 days, one that needs the SCA history window.
pub const TWIN_DAYS_AGO: &[u64] = &[7, 120];

/// The `transactionId` of the one row whose balance does not add up.
pub const BROKEN_BALANCE_ROW: &str = "broken-balance-row";

/// The broken row is the last booked row on or before this many days ago.
pub const BROKEN_BALANCE_DAYS_AGO: u64 = 30;

/// What kind of activity an account shows; drives the generator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activity {
    /// Monthly salary in, rent out, one to three card or transfer debits on most days.
    Household,
    /// A monthly saving transfer in and a little interest.
    Savings,
    /// Customer payments in several times a week; suppliers, payroll and tax out.
    Business,
    /// A shop till: about 150 card takings a day and a nightly sweep of most of them.
    Retail,
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

/// Two years, what most personas' accounts go back.
const TWO_YEARS: u32 = 730;

const fn current_account(account_number: &'static str) -> AccountPlan {
    AccountPlan {
        name: "Main account",
        product: "Girokonto",
        cash_account_type: "CACC",
        account_number,
        opening_cents: 250_000,
        activity: Activity::Household,
    }
}

/// A persona with one household current account and no cards.
const fn household(
    login: &'static str,
    owner_name: &'static str,
    accounts: &'static [AccountPlan],
    knobs: Knobs,
) -> Persona {
    Persona {
        login,
        owner_name,
        owners: &[],
        knobs,
        quirk: RowQuirk::None,
        sca: ScaTraits::TIDY,
        accounts,
        cards: &[],
    }
}

const ALICE_ACCOUNTS: &[AccountPlan] = &[
    current_account("0012345678"),
    AccountPlan {
        name: "Savings",
        product: "Tagesgeld",
        cash_account_type: "SVGS",
        account_number: "0012345679",
        opening_cents: 500_000,
        activity: Activity::Savings,
    },
];

const ALICE: Persona = Persona {
    login: "alice",
    owner_name: "Alice Example",
    owners: &[],
    knobs: Knobs::with_history(TWO_YEARS),
    quirk: RowQuirk::None,
    sca: ScaTraits::TIDY,
    accounts: ALICE_ACCOUNTS,
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
    knobs: Knobs::with_history(TWO_YEARS),
    quirk: RowQuirk::None,
    sca: ScaTraits::TIDY,
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

const DAVE: Persona = household(
    "dave",
    "Dave Example",
    &[current_account("0023456781")],
    Knobs::with_history(3650),
);

const BIG: Persona = household(
    "big",
    "Big Kiosk GmbH",
    &[AccountPlan {
        name: "Kiosk takings",
        product: "Business Account",
        cash_account_type: "CACC",
        account_number: "0034567812",
        opening_cents: 1_000_000,
        activity: Activity::Retail,
    }],
    Knobs::with_history(TWO_YEARS),
);

const SLOW: Persona = household(
    "slow",
    "Sam Slow",
    &[current_account("0045678123")],
    Knobs {
        extra_latency: Duration::from_millis(500),
        ..Knobs::with_history(TWO_YEARS)
    },
);

const FLAKY: Persona = household(
    "flaky",
    "Fran Flaky",
    &[current_account("0056781234")],
    Knobs {
        fault: Fault::Flaky,
        ..Knobs::with_history(TWO_YEARS)
    },
);

const EXPIRING: Persona = household(
    "expiring",
    "Eve Expiring",
    &[current_account("0067812345")],
    Knobs {
        fault: Fault::ExpiresAfter(6),
        ..Knobs::with_history(TWO_YEARS)
    },
);

const GARBAGE: Persona = household(
    "garbage",
    "Gary Garbage",
    &[current_account("0078123456")],
    Knobs {
        fault: Fault::GarbageTransactions,
        ..Knobs::with_history(TWO_YEARS)
    },
);

const LOCKED: Persona = household(
    "locked",
    "Lou Locked",
    &[current_account("0081234567")],
    Knobs {
        fault: Fault::Locked,
        ..Knobs::with_history(TWO_YEARS)
    },
);

const SHORT_SCA: Persona = Persona {
    login: "short-sca",
    owner_name: "Sasha Short",
    knobs: Knobs {
        sca_history_window: Duration::from_secs(5),
        ..Knobs::with_history(TWO_YEARS)
    },
    accounts: &[
        current_account("0013579246"),
        AccountPlan {
            account_number: "0013579247",
            ..ALICE_ACCOUNTS[1]
        },
    ],
    cards: &[CardPlan {
        name: "Sasha Short Visa",
        masked_pan: "492181xxxxxx8642",
        ..ALICE.cards[0]
    }],
    ..ALICE
};

const TWINS: Persona = Persona {
    quirk: RowQuirk::TwinsWithoutIds,
    ..household(
        "twins",
        "Tia Twins",
        &[current_account("0024681357")],
        Knobs::with_history(TWO_YEARS),
    )
};

const BROKEN_BALANCE: Persona = Persona {
    quirk: RowQuirk::BrokenBalance,
    ..household(
        "broken-balance",
        "Bea Broken",
        &[current_account("0035792468")],
        Knobs::with_history(TWO_YEARS),
    )
};

const CAPPED: Persona = household(
    "capped",
    "Cap Capped",
    &[current_account("0046813579")],
    Knobs {
        max_days_per_request: Some(31),
        page_size: 25,
        ..Knobs::with_history(TWO_YEARS)
    },
);

/// The benchmark's owner (`just bench`): three household accounts, two years.
const TRIO: Persona = household(
    "trio",
    "Theo Trio",
    &[
        current_account("0055500001"),
        current_account("0055500002"),
        current_account("0055500003"),
    ],
    Knobs::with_history(TWO_YEARS),
);

// Hostile personas: a household account whose transactions report is hostile in one way
// (`Hostility`); accounts, balances and consents behave.

/// The logins whose transactions report is hostile (see [`Hostility`]): an importer must end
/// each of their imports with a protocol error, and nothing that reads every persona's books
/// can read theirs.
pub const HOSTILE_PERSONAS: &[&str] = &[
    "overflow",
    "endless-pages",
    "link-cycle",
    "huge-body",
    "nul-bytes",
    "redirect-away",
];

const fn hostile(
    login: &'static str,
    owner_name: &'static str,
    accounts: &'static [AccountPlan],
    hostility: Hostility,
) -> Persona {
    household(
        login,
        owner_name,
        accounts,
        Knobs {
            fault: Fault::Hostile(hostility),
            ..Knobs::with_history(TWO_YEARS)
        },
    )
}

const OVERFLOW: Persona = hostile(
    "overflow",
    "Otto Overflow",
    &[current_account("0066600001")],
    Hostility::Overflow,
);

const ENDLESS_PAGES: Persona = hostile(
    "endless-pages",
    "Ed Endless",
    &[current_account("0066600002")],
    Hostility::EndlessPages,
);

const LINK_CYCLE: Persona = hostile(
    "link-cycle",
    "Lin Cycle",
    &[current_account("0066600003")],
    Hostility::LinkCycle,
);

const HUGE_BODY: Persona = hostile(
    "huge-body",
    "Hugo Body",
    &[current_account("0066600004")],
    Hostility::HugeBody,
);

const NUL_BYTES: Persona = hostile(
    "nul-bytes",
    "Nula Bytes",
    &[current_account("0066600005")],
    Hostility::NulBytes,
);

const REDIRECT_AWAY: Persona = hostile(
    "redirect-away",
    "Reid Away",
    &[current_account("0066600006")],
    Hostility::RedirectAway,
);

// SCA and report personas: how a bank's decoupled and embedded approaches and the spec's
// report shapes look to an importer. Under the redirect approach they sign in like alice.

/// How a persona authenticates at the bank's decoupled and embedded SCA.
#[derive(Debug, Clone, Copy)]
pub struct ScaTraits {
    /// What the persona does in the bank's app when a decoupled authorisation asks.
    pub app: AppDecision,
    /// The SCA methods the embedded approach offers; with one, it is chosen at once.
    pub methods: &'static [ScaMethod],
}

impl ScaTraits {
    /// Approves in the app at once; one method, SMS.
    pub const TIDY: Self = Self {
        app: AppDecision::Approve {
            after: Duration::ZERO,
        },
        methods: &[SMS],
    };
}

/// What a persona does with a decoupled authorisation in the bank's app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppDecision {
    /// Approves it this long after the authorisation started.
    Approve { after: Duration },
    /// Refuses it this long after the authorisation started.
    Refuse { after: Duration },
}

/// One way the bank confirms a PSU in the embedded approach (`scaMethods`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScaMethod {
    /// `authenticationMethodId`.
    pub id: &'static str,
    /// `authenticationType`.
    pub kind: &'static str,
    pub name: &'static str,
    /// What the bank asks once the method is chosen (`challengeData.additionalInformation`).
    pub prompt: &'static str,
}

const SMS: ScaMethod = ScaMethod {
    id: "sms",
    kind: "SMS_OTP",
    name: "SMS to +49 *** ***89",
    prompt: "Enter the code we sent by SMS to +49 *** ***89",
};

const PUSH: ScaMethod = ScaMethod {
    id: "push",
    kind: "PUSH_OTP",
    name: "Code in the Sandbox Bank app",
    prompt: "Enter the code your Sandbox Bank app shows",
};

/// How long the decoupled personas take in the app: long enough for a widget to show its
/// waiting screen and poll a few times.
pub const DECOUPLED_DECISION_AFTER: Duration = Duration::from_secs(4);

const DECOUPLED: Persona = Persona {
    sca: ScaTraits {
        app: AppDecision::Approve {
            after: DECOUPLED_DECISION_AFTER,
        },
        ..ScaTraits::TIDY
    },
    ..household(
        "decoupled",
        "Dora Decoupled",
        &[current_account("0077700001")],
        Knobs::with_history(TWO_YEARS),
    )
};

const DECOUPLED_REFUSED: Persona = Persona {
    sca: ScaTraits {
        app: AppDecision::Refuse {
            after: DECOUPLED_DECISION_AFTER,
        },
        ..ScaTraits::TIDY
    },
    ..household(
        "decoupled-refused",
        "Rufus Refused",
        &[current_account("0077700002")],
        Knobs::with_history(TWO_YEARS),
    )
};

const EMBEDDED: Persona = Persona {
    sca: ScaTraits {
        methods: &[SMS, PUSH],
        ..ScaTraits::TIDY
    },
    ..household(
        "embedded",
        "Emma Embedded",
        &[current_account("0077700003")],
        Knobs::with_history(TWO_YEARS),
    )
};

const MIXED: Persona = Persona {
    quirk: RowQuirk::UnsignedBooked,
    ..household(
        "mixed",
        "Max Mixed",
        &[current_account("0077700004")],
        Knobs::with_history(TWO_YEARS),
    )
};

const REPORT_DOWNLOAD: Persona = Persona {
    quirk: RowQuirk::ReportAsDownload,
    ..household(
        "report-download",
        "Rita Report",
        &[current_account("0077700005")],
        Knobs::with_history(TWO_YEARS),
    )
};

const ALL: &[&Persona] = &[
    &ALICE,
    &BOB,
    &DAVE,
    &BIG,
    &SLOW,
    &FLAKY,
    &EXPIRING,
    &GARBAGE,
    &LOCKED,
    &SHORT_SCA,
    &TWINS,
    &BROKEN_BALANCE,
    &CAPPED,
    &TRIO,
    &OVERFLOW,
    &ENDLESS_PAGES,
    &LINK_CYCLE,
    &HUGE_BODY,
    &NUL_BYTES,
    &REDIRECT_AWAY,
    &DECOUPLED,
    &DECOUPLED_REFUSED,
    &EMBEDDED,
    &MIXED,
    &REPORT_DOWNLOAD,
];

/// The persona with this login, if the bank knows it.
pub fn persona(login: &str) -> Option<&'static Persona> {
    ALL.iter().copied().find(|p| p.login == login)
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
    fn every_listed_login_is_a_persona_and_every_persona_is_listed() {
        for login in PERSONAS {
            assert!(persona(login).is_some(), "{login}");
        }
        let logins: Vec<&str> = ALL.iter().map(|p| p.login).collect();
        assert_eq!(logins, PERSONAS);
        assert!(persona("mallory").is_none());
    }

    #[test]
    fn the_hostile_logins_are_exactly_the_personas_with_a_hostile_report() {
        let hostile: Vec<&str> = ALL
            .iter()
            .filter(|p| matches!(p.knobs.fault, Fault::Hostile(_)))
            .map(|p| p.login)
            .collect();
        assert_eq!(hostile, HOSTILE_PERSONAS);
    }

    #[test]
    fn no_two_personas_share_an_account_number() {
        let mut numbers: Vec<&str> = ALL
            .iter()
            .flat_map(|p| p.accounts.iter().map(|a| a.account_number))
            .collect();
        let total = numbers.len();
        numbers.sort_unstable();
        numbers.dedup();
        assert_eq!(numbers.len(), total);
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
