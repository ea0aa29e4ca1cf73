//! IBANs the owner types into the account-selection form of a dedicated-accounts consent.
//! Checked here so a typo is refused before a consent is created for an account that does
//! not exist. `iban_validate` knows each country's length and BBAN format as well as the
//! ISO 7064 check digits.

use std::fmt;

use iban::IbanLike;

/// A valid IBAN, upper case, without spaces.
#[derive(Clone, PartialEq, Eq)]
pub struct Iban(iban::Iban);

impl Iban {
    /// Reads an IBAN as people write it: any case, spaces anywhere.
    pub fn parse(text: &str) -> Option<Self> {
        let compact: String = text
            .chars()
            .filter(|c| !c.is_whitespace())
            .map(|c| c.to_ascii_uppercase())
            .collect();
        compact.parse().ok().map(Self)
    }

    pub fn as_str(&self) -> &str {
        self.0.electronic_str()
    }
}

/// Account numbers never reach a log in full.
impl fmt::Debug for Iban {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.as_str();
        let country = self.0.country_code();
        let last = text.get(text.len().saturating_sub(4)..).unwrap_or("");
        write!(f, "Iban({country}..{last})")
    }
}

/// The IBANs in a form answer: separated by commas, semicolons or new lines (spaces inside
/// one IBAN are how people write them). `None` when any is not an IBAN or none is given.
pub fn parse_list(text: &str) -> Option<Vec<Iban>> {
    let mut ibans: Vec<Iban> = Vec::new();
    for part in text.split([',', ';', '\n']) {
        if part.trim().is_empty() {
            continue;
        }
        let iban = Iban::parse(part)?;
        if !ibans.contains(&iban) {
            ibans.push(iban);
        }
    }
    (!ibans.is_empty()).then_some(ibans)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ibans_from_the_spec_examples_are_accepted_with_or_without_spaces() {
        assert!(Iban::parse("DE40100100103307118608").is_some());
        assert!(Iban::parse("de02 1001 0010 9307 1186 03").is_some());
        assert!(Iban::parse("FR7612345987650123456789014").is_some());
    }

    #[test]
    fn a_typo_is_caught_by_the_check_digits() {
        assert!(Iban::parse("DE40100100103307118609").is_none());
        assert!(Iban::parse("not an iban").is_none());
    }

    #[test]
    fn an_iban_of_the_wrong_length_for_its_country_is_refused_though_its_digits_hold() {
        // Valid MOD 97 check digits, but a German IBAN has 22 characters, not 20.
        assert!(Iban::parse("DE771001001033071186").is_none());
    }

    #[test]
    fn a_list_is_split_deduplicated_and_refused_as_a_whole_when_one_is_wrong() {
        let list =
            parse_list("DE40100100103307118608, DE02100100109307118603;\nDE40100100103307118608")
                .expect("two ibans");
        assert_eq!(list.len(), 2);
        assert!(parse_list("DE40100100103307118608, DE00").is_none());
        assert!(parse_list(" , ").is_none());
    }

    #[test]
    fn debug_shows_only_the_country_and_the_last_digits() {
        let iban = Iban::parse("DE40100100103307118608").expect("iban");
        assert_eq!(format!("{iban:?}"), "Iban(DE..8608)");
    }
}
