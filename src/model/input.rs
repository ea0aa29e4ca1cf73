//! Values a client sends, parsed once at the edge into types that can only hold what the
//! service accepts. Whatever reaches the database through them, PostgreSQL also accepts:
//! no NUL, no control character, no date outside years 1–9999. Each type's OpenAPI schema
//! states the same rules, so the document and the parser cannot drift apart.

use std::borrow::Cow;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{
    PartialSchema, ToSchema,
    openapi::{
        RefOr,
        schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type},
    },
};

/// Why a value was refused: a sentence for the developer, to follow the field's name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidInput(Cow<'static, str>);

impl InvalidInput {
    fn new(reason: impl Into<Cow<'static, str>>) -> Self {
        Self(reason.into())
    }
}

/// Free text: 1 to `max_chars` characters, not all blank, and no control character (Unicode
/// category Cc, which includes NUL): PostgreSQL refuses NUL in `text`, and the others only
/// ever arrive by mistake or in an attack on logs.
const FREE_TEXT_PATTERN: &str = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$";

fn free_text(text: &str, max_chars: usize) -> Result<&str, InvalidInput> {
    if text.chars().any(char::is_control) {
        return Err(InvalidInput::new("must not contain control characters"));
    }
    let trimmed = text.trim();
    if trimmed.is_empty() || text.chars().count() > max_chars {
        return Err(InvalidInput::new(format!(
            "must be 1 to {max_chars} characters, not all blank"
        )));
    }
    Ok(trimmed)
}

fn string_schema(
    description: &str,
    min: usize,
    max: usize,
    pattern: &str,
    example: &str,
) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
        .min_length(Some(min))
        .max_length(Some(max))
        .pattern(Some(pattern))
        .examples([json!(example)])
        .into()
}

/// Implements the schema traits for a type whose schema is built by `$schema`.
macro_rules! schema {
    ($type:ty, $schema:expr) => {
        impl PartialSchema for $type {
            fn schema() -> RefOr<Schema> {
                $schema
            }
        }
        impl ToSchema for $type {}
    };
}

/// The client's own id for the owner: 1–255 characters, no control characters, surrounding
/// blanks removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OwnerExternalId(String);

impl OwnerExternalId {
    pub const MAX_CHARS: usize = 255;

    pub fn parse(text: &str) -> Result<Self, InvalidInput> {
        free_text(text, Self::MAX_CHARS).map(|id| Self(id.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

schema!(
    OwnerExternalId,
    string_schema(
        "The client's own id for the owner. Surrounding blanks are removed.",
        1,
        OwnerExternalId::MAX_CHARS,
        FREE_TEXT_PATTERN,
        "customer-4711",
    )
);

/// A bank's id in the registry, e.g. `sandbox`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BankId(String);

impl BankId {
    pub fn parse(text: &str) -> Result<Self, InvalidInput> {
        let well_formed = (1..=64).contains(&text.len())
            && text.starts_with(|c: char| c.is_ascii_alphanumeric())
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if well_formed {
            Ok(Self(text.to_string()))
        } else {
            Err(InvalidInput::new(
                "must be a bank id from GET /v1/banks: 1 to 64 letters, digits, `-`, `_` or `.`",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

schema!(
    BankId,
    string_schema(
        "A bank's id, as listed by `GET /v1/banks`.",
        1,
        64,
        "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
        "sandbox",
    )
);

/// The language of the sign-in pages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Locale {
    #[default]
    En,
    De,
    Pl,
}

impl Locale {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::De => "de",
            Self::Pl => "pl",
        }
    }
}

/// An ISO 3166-1 alpha-2 country code, upper case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CountryCode(String);

impl CountryCode {
    pub fn parse(text: &str) -> Result<Self, InvalidInput> {
        if text.len() == 2 && text.bytes().all(|b| b.is_ascii_alphabetic()) {
            Ok(Self(text.to_ascii_uppercase()))
        } else {
            Err(InvalidInput::new("must be an ISO 3166-1 alpha-2 code"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

schema!(
    CountryCode,
    string_schema(
        "ISO 3166-1 alpha-2; read in any case.",
        2,
        2,
        "^[A-Za-z]{2}$",
        "DE",
    )
);

/// The persona a sandbox sign-in uses: what a person would type in a bank's login field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SandboxLogin(String);

impl SandboxLogin {
    pub fn parse(text: &str) -> Result<Self, InvalidInput> {
        free_text(text, 64).map(|login| Self(login.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

schema!(
    SandboxLogin,
    string_schema(
        "The sandbox persona to sign in as, e.g. `alice`.",
        1,
        64,
        FREE_TEXT_PATTERN,
        "alice",
    )
);

/// A client's `Idempotency-Key`: 1–255 visible ASCII characters (no space), as the IETF
/// draft's examples and every major API use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub const MAX_LEN: usize = 255;
    pub const PATTERN: &str = "^[!-~]{1,255}$";

    pub fn parse(text: &str) -> Result<Self, InvalidInput> {
        if (1..=Self::MAX_LEN).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_graphic()) {
            Ok(Self(text.to_string()))
        } else {
            Err(InvalidInput::new(
                "must be 1 to 255 visible ASCII characters, without spaces",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A calendar day, `YYYY-MM-DD`, in years 1–9999: the `date` of RFC 3339 and of JSON
/// Schema, which PostgreSQL and every client can hold. chrono alone also reads year 0 and
/// negative years.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Day(NaiveDate);

impl Day {
    pub fn parse(text: &str) -> Result<Self, InvalidInput> {
        let well_formed = text.len() == 10
            && text.bytes().enumerate().all(|(i, b)| {
                if i == 4 || i == 7 {
                    b == b'-'
                } else {
                    b.is_ascii_digit()
                }
            });
        let date = well_formed
            .then(|| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok())
            .flatten()
            .filter(|date| (1..=9999).contains(&date.year()));
        date.map(Self)
            .ok_or_else(|| InvalidInput::new("must be a date, YYYY-MM-DD, in years 0001 to 9999"))
    }

    /// The day, refused if it lies after `today`.
    pub fn not_after(self, today: NaiveDate) -> Result<NaiveDate, InvalidInput> {
        if self.0 > today {
            Err(InvalidInput::new("must not lie in the future"))
        } else {
            Ok(self.0)
        }
    }

    pub fn date(self) -> NaiveDate {
        self.0
    }
}

schema!(
    Day,
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date)))
        .description(Some("A day, `YYYY-MM-DD`, in years 0001 to 9999."))
        .pattern(Some(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"))
        .examples([json!("2026-01-31")])
        .into()
);

/// How many months of history an auto import fetches: 1 to 120 (ten years; banks keep less,
/// and the import reads what the bank has). Stored as `smallint`, whose column checks the same
/// range.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, sqlx::Type,
)]
#[serde(try_from = "i64", into = "i16")]
#[sqlx(transparent)]
pub struct AutoImportMonths(i16);

impl AutoImportMonths {
    pub const MAX: i16 = 120;

    pub fn new(months: i64) -> Result<Self, InvalidInput> {
        i16::try_from(months)
            .ok()
            .filter(|months| (1..=Self::MAX).contains(months))
            .map(Self)
            .ok_or_else(|| InvalidInput::new("must be a whole number of months, 1 to 120"))
    }

    pub fn get(self) -> i16 {
        self.0
    }

    /// The first day an import started on `today` asks for: `today` minus these months (the
    /// last day of a shorter month when the day does not exist there).
    pub fn since(self, today: NaiveDate) -> NaiveDate {
        today
            .checked_sub_months(chrono::Months::new(self.0.unsigned_abs().into()))
            .unwrap_or(NaiveDate::MIN)
    }
}

impl TryFrom<i64> for AutoImportMonths {
    type Error = InvalidInput;
    fn try_from(months: i64) -> Result<Self, InvalidInput> {
        Self::new(months)
    }
}

impl From<AutoImportMonths> for i16 {
    fn from(months: AutoImportMonths) -> Self {
        months.0
    }
}

schema!(
    AutoImportMonths,
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .description(Some("Months of history an auto import fetches, 1 to 120."))
        .minimum(Some(1))
        .maximum(Some(AutoImportMonths::MAX))
        .examples([json!(12)])
        .into()
);

/// What a sign-in's opener says about auto import: `false` turns it off for this sign-in,
/// `{"months": N}` asks for N months, `true` (or leaving it out) keeps the client's setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum AutoImportOption {
    /// `false`: no auto import for this sign-in; `true`: the client's setting.
    Switch(bool),
    Months(MonthsOption),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MonthsOption {
    pub months: AutoImportMonths,
}

impl AutoImportOption {
    pub fn choice(self) -> AutoImportChoice {
        match self {
            Self::Switch(true) => AutoImportChoice::ClientSetting,
            Self::Switch(false) => AutoImportChoice::Off,
            Self::Months(MonthsOption { months }) => AutoImportChoice::Months(months),
        }
    }
}

/// What a sign-in's opener asks of auto import.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AutoImportChoice {
    /// As the client's setting says.
    #[default]
    ClientSetting,
    /// No auto import for this sign-in.
    Off,
    /// This many months instead of the setting's.
    Months(AutoImportMonths),
}

macro_rules! string_conversions {
    ($($type:ty),*) => {$(
        impl TryFrom<String> for $type {
            type Error = InvalidInput;
            fn try_from(text: String) -> Result<Self, InvalidInput> {
                Self::parse(&text)
            }
        }
    )*};
}

string_conversions!(OwnerExternalId, BankId, CountryCode, SandboxLogin, Day);

impl From<OwnerExternalId> for String {
    fn from(id: OwnerExternalId) -> Self {
        id.0
    }
}
impl From<BankId> for String {
    fn from(id: BankId) -> Self {
        id.0
    }
}
impl From<CountryCode> for String {
    fn from(code: CountryCode) -> Self {
        code.0
    }
}
impl From<SandboxLogin> for String {
    fn from(login: SandboxLogin) -> Self {
        login.0
    }
}
impl From<Day> for String {
    fn from(day: Day) -> Self {
        day.0.format("%Y-%m-%d").to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_owner_id_with_a_nul_or_another_control_character_is_refused() {
        assert!(OwnerExternalId::parse("a\u{0}b").is_err());
        assert!(OwnerExternalId::parse("a\u{1b}[31mb").is_err());
        assert!(OwnerExternalId::parse("a\u{85}b").is_err());
        assert_eq!(OwnerExternalId::parse(" o-1 ").unwrap().as_str(), "o-1");
    }

    #[test]
    fn an_owner_id_is_counted_in_characters_not_bytes() {
        assert!(OwnerExternalId::parse(&"é".repeat(255)).is_ok());
        assert!(OwnerExternalId::parse(&"é".repeat(256)).is_err());
        assert!(OwnerExternalId::parse("   ").is_err());
    }

    #[test]
    fn a_day_outside_years_1_to_9999_or_not_in_iso_form_is_refused() {
        for text in [
            "-0001-01-01",
            "0000-01-01",
            "+10000-01-01",
            "2026-1-01",
            "2026-02-30",
        ] {
            assert!(Day::parse(text).is_err(), "{text}");
        }
        assert_eq!(
            Day::parse("0001-01-01").unwrap().date(),
            NaiveDate::from_ymd_opt(1, 1, 1).unwrap()
        );
        assert!(Day::parse("9999-12-31").is_ok());
    }

    #[test]
    fn an_idempotency_key_with_a_space_or_past_255_characters_is_refused() {
        assert!(IdempotencyKey::parse("order 42").is_err());
        assert!(IdempotencyKey::parse("").is_err());
        assert!(IdempotencyKey::parse(&"k".repeat(256)).is_err());
        assert!(IdempotencyKey::parse("order-42_~!").is_ok());
    }

    #[test]
    fn auto_import_months_are_1_to_120_and_count_back_from_today() {
        assert!(AutoImportMonths::new(0).is_err());
        assert!(AutoImportMonths::new(121).is_err());
        assert!(AutoImportMonths::new(-1).is_err());
        let day = |text: &str| NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap();
        let twelve = AutoImportMonths::new(12).unwrap();
        assert_eq!(twelve.since(day("2026-11-30")), day("2025-11-30"));
        let one = AutoImportMonths::new(1).unwrap();
        assert_eq!(one.since(day("2026-03-31")), day("2026-02-28"));
        assert!(serde_json::from_str::<AutoImportOption>(r#"{"months": 0}"#).is_err());
        assert!(serde_json::from_str::<AutoImportOption>(r#"{"months": 3, "x": 1}"#).is_err());
        assert_eq!(
            serde_json::from_str::<AutoImportOption>(r#"{"months": 3}"#)
                .unwrap()
                .choice(),
            AutoImportChoice::Months(AutoImportMonths::new(3).unwrap())
        );
        assert_eq!(
            serde_json::from_str::<AutoImportOption>("false")
                .unwrap()
                .choice(),
            AutoImportChoice::Off
        );
    }

    #[test]
    fn a_bank_id_is_short_and_plain() {
        assert!(BankId::parse("sandbox-partner").is_ok());
        assert!(BankId::parse(&"b".repeat(65)).is_err());
        assert!(BankId::parse("bank\u{0}").is_err());
        assert!(BankId::parse("-bank").is_err());
    }
}
