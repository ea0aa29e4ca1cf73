//! Reading the values banks send loosely: amounts as decimal strings or bare JSON numbers,
//! dates with or without dashes, blank strings that mean "absent", codes sent as numbers,
//! `null` for an empty list. Every connector parses these the same way, and money never
//! passes through a float on the way.

use std::str::FromStr;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer};
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
    if !is_decimal_number(&text) {
        return Err(protocol("unreadable amount: not a decimal number", &text));
    }
    // A leading '+' is legal in banks' decimal strings but not to rust_decimal.
    let digits = text.strip_prefix('+').unwrap_or(&text);
    Decimal::from_str(digits)
        .or_else(|_| Decimal::from_scientific(digits))
        .map(Some)
        .map_err(|e| protocol(&format!("unreadable amount: {e}"), &text))
}

/// JSON's number grammar, with a leading `+` allowed and leading zeros tolerated:
/// `[+-]digits[.digits][e[+-]digits]`. rust_decimal alone is laxer: it reads `+-12` as −12 and
/// `1_000` as 1000, and a bank that sends either has sent garbage, not money.
fn is_decimal_number(text: &str) -> bool {
    fn digits(bytes: &[u8]) -> usize {
        bytes.iter().take_while(|b| b.is_ascii_digit()).count()
    }
    let bytes = text.as_bytes();
    let mut at = usize::from(matches!(bytes.first(), Some(b'+' | b'-')));
    let whole = digits(&bytes[at..]);
    at += whole;
    let mut fraction = 0;
    if bytes.get(at) == Some(&b'.') {
        at += 1;
        fraction = digits(&bytes[at..]);
        at += fraction;
    }
    if whole + fraction == 0 {
        return false;
    }
    if matches!(bytes.get(at), Some(b'e' | b'E')) {
        at += 1;
        at += usize::from(matches!(bytes.get(at), Some(b'+' | b'-')));
        let exponent = digits(&bytes[at..]);
        if exponent == 0 {
            return false;
        }
        at += exponent;
    }
    at == bytes.len()
}

/// An optional amount field: absent, `null` and blank are all no amount.
pub fn optional_amount(raw: Option<&RawValue>) -> Result<Option<Decimal>, ConnectorError> {
    Ok(raw.map(amount).transpose()?.flatten())
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

/// The parts that are not blank, trimmed and joined with `separator`; nothing when no part
/// is left.
pub fn joined<'a>(
    parts: impl IntoIterator<Item = Option<&'a str>>,
    separator: &str,
) -> Option<String> {
    let parts: Vec<String> = parts.into_iter().filter_map(non_empty).collect();
    (!parts.is_empty()).then(|| parts.join(separator))
}

/// An ISO 3166-1 alpha-2 code, upper-cased; anything else is dropped rather than passed on
/// under a field that promises alpha-2.
pub fn country(raw: Option<&str>) -> Option<String> {
    let code = non_empty(raw)?.to_ascii_uppercase();
    (code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase())).then_some(code)
}

/// A response code as text, trimmed. A bank that sends it as a JSON number (`8`) loses its
/// leading zeros; they are put back to `digits` places. A protocol's `deserialize_with` calls
/// this through a one-line function that names its width.
pub fn code<'de, D: Deserializer<'de>>(deserializer: D, digits: usize) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Code {
        Text(String),
        Number(u64),
    }
    Ok(match Code::deserialize(deserializer)? {
        Code::Text(text) => text.trim().to_owned(),
        Code::Number(n) => format!("{n:0digits$}"),
    })
}

/// Reads an explicit `null` like an absent field (`#[serde(default, deserialize_with = ...)]`):
/// banks send both.
pub fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(json: &str) -> Box<RawValue> {
        RawValue::from_string(json.to_owned()).expect("test JSON")
    }

    #[test]
    fn amounts_are_read_exactly_from_strings_and_numbers() {
        let value = |json: &str| amount(&raw(json)).ok().flatten();
        let exact = |json: &str| value(json).map(|d| d.to_string());
        assert_eq!(exact(r#""-1000.00""#).as_deref(), Some("-1000.00"));
        assert_eq!(value(r#""-1000.00""#), Some(Decimal::new(-100000, 2)));
        assert_eq!(exact(r#"" +256.67 ""#).as_deref(), Some("256.67"));
        assert_eq!(value(r#"" +25.5 ""#), Some(Decimal::new(2550, 2)));
        assert_eq!(value(r#""2480.55""#), Some(Decimal::new(248055, 2)));
        assert_eq!(
            exact("9007199254740993.01").as_deref(),
            Some("9007199254740993.01")
        );
        assert_eq!(
            value("9007199254740993.01"),
            Some(Decimal::new(900719925474099301, 2))
        );
        // 17 significant digits: a float would round this to ...567.9 or worse.
        assert_eq!(
            value("1234567890123456.78"),
            Some(Decimal::new(123456789012345678, 2))
        );
        assert_eq!(exact("1.5e2").as_deref(), Some("150"));
        assert_eq!(value("1.5E3"), Some(Decimal::new(1500, 0)));
        assert_eq!(amount(&raw("null")).ok(), Some(None));
        assert_eq!(amount(&raw(r#""""#)).ok(), Some(None));
        assert_eq!(amount(&raw(r#""  ""#)).ok(), Some(None));
        assert_eq!(exact(r#"".5""#).as_deref(), Some("0.5"));
        assert_eq!(exact(r#""7.""#).as_deref(), Some("7"));
        for refused in [
            r#""twelve""#,
            r#""12,50""#,
            r#""1.234,56""#,
            "true",
            "{}",
            r#""+-12""#,
            r#""-+12""#,
            r#""--12""#,
            r#""1_000""#,
            r#""1e""#,
            r#"".""#,
            r#""-""#,
            r#""12 34""#,
        ] {
            assert!(
                matches!(amount(&raw(refused)), Err(ConnectorError::Protocol { .. })),
                "{refused}"
            );
        }
    }

    #[test]
    fn an_optional_amount_is_none_when_absent_null_or_blank() {
        assert_eq!(optional_amount(None).ok(), Some(None));
        assert_eq!(optional_amount(Some(&raw("null"))).ok(), Some(None));
        assert_eq!(optional_amount(Some(&raw(r#"" ""#))).ok(), Some(None));
        assert_eq!(
            optional_amount(Some(&raw("12.5"))).ok(),
            Some(Some(Decimal::new(125, 1)))
        );
        assert!(optional_amount(Some(&raw(r#""12,50""#))).is_err());
    }

    #[test]
    fn dates_come_with_or_without_dashes_or_as_timestamps() {
        let day = NaiveDate::from_ymd_opt(1990, 4, 12);
        assert_eq!(date(Some("1990-04-12")).ok().flatten(), day);
        assert_eq!(date(Some("19900412")).ok().flatten(), day);
        assert_eq!(date(Some("1990-04-12T10:00:00Z")).ok().flatten(), day);
        assert_eq!(date(Some("1990-04-12T00:00:00Z")).ok().flatten(), day);
        assert_eq!(date(Some(" ")).ok(), Some(None));
        assert!(date(Some("12.04.1990")).is_err());
    }

    #[test]
    fn only_two_letter_codes_pass_as_countries() {
        assert_eq!(country(Some(" de ")).as_deref(), Some("DE"));
        assert_eq!(country(Some("DEU")), None);
        assert_eq!(non_empty(Some("  ")), None);
    }

    #[test]
    fn blank_parts_are_left_out_of_a_joined_text() {
        assert_eq!(
            joined([Some(" Alice "), None, Some("Example")], " ").as_deref(),
            Some("Alice Example")
        );
        assert_eq!(
            joined([Some(""), Some("Berlin")], " ").as_deref(),
            Some("Berlin")
        );
        assert_eq!(joined([Some(" "), None], " "), None);
    }

    #[derive(Debug, Deserialize)]
    struct Envelope {
        #[serde(deserialize_with = "four_digits")]
        code: String,
        #[serde(default, deserialize_with = "null_as_default")]
        list: Vec<u8>,
    }

    fn four_digits<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
        code(deserializer, 4)
    }

    #[test]
    fn codes_sent_as_numbers_get_their_leading_zeros_back() {
        let read = |json: &str| serde_json::from_str::<Envelope>(json).map(|e| e.code).ok();
        assert_eq!(read(r#"{"code":" 0008 "}"#).as_deref(), Some("0008"));
        assert_eq!(read(r#"{"code":8}"#).as_deref(), Some("0008"));
        assert_eq!(read(r#"{"code":12345}"#).as_deref(), Some("12345"));
        assert_eq!(read(r#"{"code":true}"#), None);
    }

    #[test]
    fn a_null_list_reads_as_an_empty_one() {
        let read = |json: &str| serde_json::from_str::<Envelope>(json).map(|e| e.list).ok();
        assert_eq!(read(r#"{"code":"0","list":null}"#), Some(Vec::new()));
        assert_eq!(read(r#"{"code":"0"}"#), Some(Vec::new()));
        assert_eq!(read(r#"{"code":"0","list":[1,2]}"#), Some(vec![1, 2]));
    }
}
