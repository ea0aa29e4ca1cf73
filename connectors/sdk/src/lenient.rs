//! Reading the values banks send loosely: amounts as decimal strings or bare JSON numbers,
//! dates with or without dashes, blank strings that mean "absent". Every connector parses
//! these the same way, and money never passes through a float on the way.

use std::str::FromStr;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde_json::value::RawValue;

use crate::ConnectorError;
use crate::redact::protocol;

/// An amount from its raw JSON: a decimal string, or a JSON number read from its own digits.
/// `null` and a blank string are no amount. A leading `+` and scientific notation are read.
pub fn amount(raw: &RawValue) -> Result<Option<Decimal>, ConnectorError> {
    let json = raw.get().trim();
    let text = if json == "null" {
        return Ok(None);
    } else if json.starts_with('"') {
        let text: String = serde_json::from_str(json)
            .map_err(|e| protocol(&format!("unreadable amount: {e}"), json))?;
        let text = text.trim().to_owned();
        if text.is_empty() {
            return Ok(None);
        }
        text
    } else {
        json.to_owned()
    };
    // A leading '+' is legal in banks' decimal strings but not to rust_decimal.
    let digits = text.strip_prefix('+').unwrap_or(&text);
    Decimal::from_str(digits)
        .or_else(|_| Decimal::from_scientific(digits))
        .map(Some)
        .map_err(|e| protocol(&format!("unreadable amount: {e}"), &text))
}

/// A calendar date: `YYYY-MM-DD`, `YYYYMMDD`, or a timestamp whose first ten characters are
/// the date. Absent or blank is no date.
pub fn date(raw: Option<&str>) -> Result<Option<NaiveDate>, ConnectorError> {
    let Some(text) = raw.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let parsed = if text.len() == 8 && text.bytes().all(|b| b.is_ascii_digit()) {
        NaiveDate::parse_from_str(text, "%Y%m%d")
    } else {
        NaiveDate::from_str(text.get(..10).unwrap_or(text))
    };
    parsed
        .map(Some)
        .map_err(|e| protocol(&format!("unreadable date: {e}"), text))
}

/// The text trimmed, or nothing when it is blank.
pub fn non_empty(text: Option<&str>) -> Option<String> {
    text.map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
}

/// An ISO 3166-1 alpha-2 code, upper-cased; anything else is dropped rather than passed on
/// under a field that promises alpha-2.
pub fn country(raw: Option<&str>) -> Option<String> {
    let code = non_empty(raw)?.to_ascii_uppercase();
    (code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase())).then_some(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(json: &str) -> Box<RawValue> {
        RawValue::from_string(json.to_owned()).expect("test JSON")
    }

    #[test]
    fn amounts_are_read_exactly_from_strings_and_numbers() {
        let exact = |json: &str| amount(&raw(json)).ok().flatten().map(|d| d.to_string());
        assert_eq!(exact(r#""-1000.00""#).as_deref(), Some("-1000.00"));
        assert_eq!(exact(r#"" +256.67 ""#).as_deref(), Some("256.67"));
        assert_eq!(
            exact("9007199254740993.01").as_deref(),
            Some("9007199254740993.01")
        );
        assert_eq!(exact("1.5e2").as_deref(), Some("150"));
        assert_eq!(exact("null"), None);
        assert_eq!(exact(r#""  ""#), None);
        assert!(amount(&raw(r#""twelve""#)).is_err());
        assert!(amount(&raw("true")).is_err());
    }

    #[test]
    fn dates_come_with_or_without_dashes_or_as_timestamps() {
        let day = NaiveDate::from_ymd_opt(1990, 4, 12);
        assert_eq!(date(Some("1990-04-12")).ok().flatten(), day);
        assert_eq!(date(Some("19900412")).ok().flatten(), day);
        assert_eq!(date(Some("1990-04-12T10:00:00Z")).ok().flatten(), day);
        assert_eq!(date(Some(" ")).ok().flatten(), None);
        assert!(date(Some("12.04.1990")).is_err());
    }

    #[test]
    fn only_two_letter_codes_pass_as_countries() {
        assert_eq!(country(Some(" de ")).as_deref(), Some("DE"));
        assert_eq!(country(Some("DEU")), None);
        assert_eq!(non_empty(Some("  ")), None);
    }
}
