//! What of a bank's body may reach a log. Bodies carry consent ids, tokens, account numbers
//! and names; a [`aisle_sdk::ConnectorError::Protocol`] snippet is logged, so those are
//! blanked before the snippet is kept.

use serde_json::Value;

/// Keys whose string values never reach a log, whatever they hold.
const BLANKED_KEYS: &[&str] = &[
    "consentId",
    "authorisationId",
    "access_token",
    "refresh_token",
    "id_token",
    "code",
    "code_verifier",
    "state",
    "iban",
    "bban",
    "pan",
    "maskedPan",
    "maskedPAN",
    "msisdn",
    "ownerName",
    "psuName",
    "creditorName",
    "debtorName",
    "ultimateCreditor",
    "ultimateDebtor",
];

const BLANK: &str = "[redacted]";

/// `body` with secrets and account numbers blanked: by key where it is JSON, and, JSON or
/// not, every long identifier-like word (an IBAN, a UUID, a token in prose or in a link).
pub fn redacted(body: &str) -> String {
    let text = match serde_json::from_str::<Value>(body) {
        Ok(mut value) => {
            blank_keys(&mut value);
            value.to_string()
        }
        Err(_) => body.to_owned(),
    };
    blank_identifiers(&text)
}

fn blank_keys(value: &mut Value) {
    match value {
        Value::Object(fields) => {
            for (key, field) in fields.iter_mut() {
                if BLANKED_KEYS.contains(&key.as_str()) && field.is_string() {
                    *field = Value::String(BLANK.to_owned());
                } else {
                    blank_keys(field);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(blank_keys),
        _ => {}
    }
}

/// A word of 12 or more identifier characters with at least four digits looks like an
/// account number, a consent id or a token rather than prose.
fn looks_like_an_identifier(word: &str) -> bool {
    word.chars().count() >= 12 && word.chars().filter(char::is_ascii_digit).count() >= 4
}

fn blank_identifiers(text: &str) -> String {
    let is_word_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if looks_like_an_identifier(word) {
            out.push_str(BLANK);
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for c in text.chars() {
        if is_word_char(c) {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consent_ids_tokens_and_account_numbers_are_blanked() {
        let body = r#"{"consentId":"abc","access_token":"2YotnFZFEjr1zCsicMWpAA","transactions":{"booked":[{"creditorAccount":{"iban":"DE67100100101306118605"},"transactionAmount":{"currency":"EUR","amount":"-256.67"}}]}}"#;
        let snippet = redacted(body);
        assert!(!snippet.contains("abc"));
        assert!(!snippet.contains("2YotnFZFEjr1zCsicMWpAA"));
        assert!(!snippet.contains("DE67100100101306118605"));
        assert!(
            snippet.contains("-256.67"),
            "amounts help debugging: {snippet}"
        );
    }

    #[test]
    fn identifiers_in_prose_are_blanked_but_words_stay() {
        let text =
            "Consent 99391c7e-ad88-49ec-a2ad-99ddcb1f7721 for DE02100100109307118603 expired";
        assert_eq!(redacted(text), "Consent [redacted] for [redacted] expired");
    }
}
