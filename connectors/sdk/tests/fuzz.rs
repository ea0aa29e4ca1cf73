//! Fuzzes the SDK's readers of bank replies: the lenient amount, date and code readers every
//! connector uses, `http::parse`, `Retry-After` and the redaction of quoted bodies. Each
//! surface is fed arbitrary bytes and JSON close to what banks send; every call must return
//! (`Ok` or a `ConnectorError`) and never panic. See `aisle_sdk::fuzzing` for the case count.

use aisle_sdk::fuzzing::{self, Json, Shape, bytes_body, exact_amount, run, shaped_body};
use aisle_sdk::lenient::{self, amount, date};
use aisle_sdk::redact::redact;
use aisle_sdk::{ConnectorError, http, parse_retry_after};
use chrono::{DateTime, Utc};
use proptest::prelude::*;
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

/// What every `Protocol` error quoting a bank must keep: a short snippet, and no run of five
/// digits or more (an account number) in it or in the message.
fn redacted(error: &ConnectorError) -> Result<(), TestCaseError> {
    if let ConnectorError::Protocol { message, snippet } = error {
        prop_assert!(
            snippet.chars().count() <= 200,
            "snippet too long: {snippet:?}"
        );
        for text in [message, snippet] {
            prop_assert!(!has_digit_run(text, 5), "unredacted digits in {text:?}");
        }
    }
    Ok(())
}

fn has_digit_run(text: &str, len: usize) -> bool {
    let mut run = 0;
    text.chars().any(|c| {
        run = if c.is_ascii_digit() { run + 1 } else { 0 };
        run >= len
    })
}

/// `text` as the raw JSON of a string field.
fn quoted(text: &str) -> Box<RawValue> {
    RawValue::from_string(Json::Text(text.to_owned()).render()).expect("a JSON string")
}

fn read_amount(raw: &RawValue) -> Result<(), TestCaseError> {
    if let Err(error) = amount(raw) {
        redacted(&error)?;
    }
    Ok(())
}

#[test]
fn amounts_from_arbitrary_bytes_are_read_or_refused() {
    run("sdk amount from bytes", bytes_body(), |body| {
        // The body as a whole field's raw JSON where it is JSON, and as a string's text always.
        if let Ok(raw) = serde_json::from_str::<Box<RawValue>>(&body) {
            read_amount(&raw)?;
        }
        read_amount(&quoted(&body))
    });
}

#[test]
fn amounts_from_amount_like_json_are_read_or_refused() {
    run(
        "sdk amount from JSON",
        fuzzing::json(&Shape::Amount),
        |doc| {
            match serde_json::from_str::<Box<RawValue>>(&doc.render()) {
                Ok(raw) => read_amount(&raw),
                // Deep nesting and spliced text are not JSON: nothing reaches the reader.
                Err(_) => Ok(()),
            }
        },
    );
}

#[test]
fn amounts_are_read_exactly_as_written_never_through_a_float() {
    run("sdk exact amounts", exact_amount(), |(expected, text)| {
        // A credit may carry an explicit '+'; either may be padded inside its string.
        let signed = if expected.is_sign_negative() {
            format!(" {text} ")
        } else {
            format!(" +{text} ")
        };
        for raw in [Json::Number(text.clone()), Json::Text(signed)] {
            let raw = RawValue::from_string(raw.render()).expect("valid JSON");
            let read = amount(&raw).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(read, Some(expected));
            // Equal as numbers is not enough: the scale the bank wrote is kept.
            prop_assert_eq!(read.map(|d| d.to_string()), Some(text.clone()));
        }
        Ok(())
    });
}

#[test]
fn dates_are_read_as_written_or_refused() {
    let texts = prop_oneof![fuzzing::date(), bytes_body()];
    run("sdk date", texts, |text| match date(Some(&text)) {
        Ok(Some(day)) => {
            // The reader is lenient ("2026-1-5" is a date too), but a date written in full
            // must be the day it names.
            let trimmed = text.trim();
            let full = trimmed.get(..10).filter(|head| {
                head.bytes().enumerate().all(|(i, b)| {
                    if i == 4 || i == 7 {
                        b == b'-'
                    } else {
                        b.is_ascii_digit()
                    }
                })
            });
            if let Some(full) = full {
                prop_assert_eq!(day.format("%Y-%m-%d").to_string(), full);
            }
            Ok(())
        }
        Ok(None) => {
            prop_assert!(text.trim().is_empty());
            Ok(())
        }
        Err(error) => redacted(&error),
    });
}

/// An envelope like the partner API's: a code that may come as a number, and a list that
/// may come as `null`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)] // Read to reach the readers; nothing looks at the fields.
struct Envelope {
    #[serde(deserialize_with = "four_digits")]
    response_code: String,
    #[serde(default, deserialize_with = "lenient::null_as_default")]
    amounts: Vec<Box<RawValue>>,
    country: Option<String>,
}

fn four_digits<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    lenient::code(deserializer, 4)
}

const ENVELOPE: Shape = Shape::Object(&[
    (
        "responseCode",
        Shape::Code(&["0000", "0001", "0008", "0096"]),
    ),
    ("amounts", Shape::List(&Shape::Amount)),
    ("country", Shape::Text),
]);

fn parse_envelope(body: &str) -> Result<(), TestCaseError> {
    match http::parse::<Envelope>(body) {
        Ok(envelope) => {
            prop_assert_eq!(
                envelope.response_code.trim(),
                envelope.response_code.as_str()
            );
            for raw in &envelope.amounts {
                read_amount(raw)?;
            }
            if let Some(code) = lenient::country(envelope.country.as_deref()) {
                prop_assert!(code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase()));
            }
            Ok(())
        }
        Err(error) => redacted(&error),
    }
}

#[test]
fn envelopes_from_arbitrary_bytes_parse_or_are_redacted_protocol_errors() {
    run("sdk http::parse from bytes", bytes_body(), |body| {
        if let Err(error) = http::parse::<serde_json::Value>(&body) {
            redacted(&error)?;
        }
        parse_envelope(&body)
    });
}

#[test]
fn envelopes_from_structured_json_parse_or_are_redacted_protocol_errors() {
    run(
        "sdk http::parse from JSON",
        shaped_body(&ENVELOPE),
        |body| parse_envelope(&body),
    );
}

#[test]
fn retry_after_headers_of_any_form_give_a_delay_or_none() {
    let now = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
        .expect("an instant")
        .with_timezone(&Utc);
    let headers = prop_oneof![
        fuzzing::retry_after().prop_map(Option::unwrap_or_default),
        bytes_body()
    ];
    run("sdk Retry-After", headers, |raw| {
        parse_retry_after(&raw, now);
        Ok(())
    });
}

#[test]
fn redaction_keeps_every_character_and_no_account_number() {
    let texts = prop_oneof![bytes_body(), shaped_body(&ENVELOPE), "[0-9 -]{0,64}"];
    run("sdk redact", texts, |text| {
        let out = redact(&text);
        prop_assert_eq!(out.chars().count(), text.chars().count());
        prop_assert!(!has_digit_run(&out, 5), "{out:?}");
        Ok(())
    });
}

#[test]
fn text_readers_never_fail_on_any_text() {
    let parts = proptest::collection::vec(proptest::option::of(fuzzing::text()), 0..4);
    run("sdk text readers", parts, |parts| {
        let joined = lenient::joined(parts.iter().map(Option::as_deref), " ");
        prop_assert!(joined.is_none_or(|j| !j.trim().is_empty()));
        for part in parts.iter().flatten() {
            prop_assert!(lenient::non_empty(Some(part)).is_none_or(|t| t == t.trim()));
            lenient::country(Some(part));
        }
        Ok(())
    });
}
