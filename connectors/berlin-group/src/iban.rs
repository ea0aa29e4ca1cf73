//! IBANs the owner types into the account-selection form of a dedicated-accounts consent.
//! Checked here (ISO 13616 check digits) so a typo is refused before a consent is created
//! for an account that does not exist.

use std::fmt;

/// A syntactically valid IBAN, upper case, without spaces.
#[derive(Clone, PartialEq, Eq)]
pub struct Iban(String);

impl Iban {
    pub fn parse(text: &str) -> Option<Self> {
        let compact: String = text
            .chars()
            .filter(|c| !c.is_whitespace())
            .map(|c| c.to_ascii_uppercase())
            .collect();
        let bytes = compact.as_bytes();
        let well_formed = (15..=34).contains(&bytes.len())
            && bytes[..2].iter().all(u8::is_ascii_uppercase)
            && bytes[2..4].iter().all(u8::is_ascii_digit)
            && bytes.iter().all(u8::is_ascii_alphanumeric);
        (well_formed && check_digits_hold(&compact)).then_some(Self(compact))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Account numbers never reach a log in full.
impl fmt::Debug for Iban {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let country = self.0.get(..2).unwrap_or("");
        let last = self.0.get(self.0.len().saturating_sub(4)..).unwrap_or("");
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

/// ISO 7064 MOD 97-10: the first four characters moved to the end, letters as 10..35, the
/// number modulo 97 is 1.
fn check_digits_hold(iban: &str) -> bool {
    let rearranged = iban.chars().skip(4).chain(iban.chars().take(4));
    let mut remainder: u32 = 0;
    for c in rearranged {
        let Some(value) = c.to_digit(36) else {
            return false;
        };
        remainder = if value < 10 {
            (remainder * 10 + value) % 97
        } else {
            (remainder * 100 + value) % 97
        };
    }
    remainder == 1
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
