//! A client's own settings, as the API reads and writes them: how long imported data is kept,
//! and whether Aisle imports by itself after a sign-in.

use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{
    PartialSchema, ToSchema,
    openapi::{
        RefOr,
        schema::{ObjectBuilder, Schema, Type},
    },
};

/// How long a finished command's imported rows are kept, in seconds: 60 s to 366 days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i32")]
pub struct RetentionSeconds(i32);

impl RetentionSeconds {
    pub const MIN: i32 = 60;
    /// 366 days: a leap year, so "a year" always fits.
    pub const MAX: i32 = 366 * 24 * 60 * 60;

    pub fn new(seconds: i64) -> Result<Self, String> {
        i32::try_from(seconds)
            .ok()
            .filter(|s| (Self::MIN..=Self::MAX).contains(s))
            .map(Self)
            .ok_or_else(|| {
                format!(
                    "must be whole seconds from {} (a minute) to {} (366 days)",
                    Self::MIN,
                    Self::MAX
                )
            })
    }

    pub fn get(self) -> i32 {
        self.0
    }
}

impl TryFrom<i64> for RetentionSeconds {
    type Error = String;

    fn try_from(seconds: i64) -> Result<Self, String> {
        Self::new(seconds)
    }
}

impl From<RetentionSeconds> for i32 {
    fn from(retention: RetentionSeconds) -> Self {
        retention.0
    }
}

impl PartialSchema for RetentionSeconds {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .description(Some(
                "How long a finished command's imported data is kept, in seconds (60 to \
                 31622400, i.e. a minute to 366 days); then it is deleted.",
            ))
            .minimum(Some(Self::MIN))
            .maximum(Some(Self::MAX))
            .examples([serde_json::json!(86400)])
            .into()
    }
}

impl ToSchema for RetentionSeconds {}

/// How many months of history an automatic import asks for: 1 to 120.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i16")]
pub struct AutoImportMonths(i16);

impl AutoImportMonths {
    pub const MIN: i16 = 1;
    pub const MAX: i16 = 120;

    pub fn new(months: i64) -> Result<Self, String> {
        i16::try_from(months)
            .ok()
            .filter(|m| (Self::MIN..=Self::MAX).contains(m))
            .map(Self)
            .ok_or_else(|| format!("must be {} to {} months", Self::MIN, Self::MAX))
    }

    pub fn get(self) -> i16 {
        self.0
    }
}

impl TryFrom<i64> for AutoImportMonths {
    type Error = String;

    fn try_from(months: i64) -> Result<Self, String> {
        Self::new(months)
    }
}

impl From<AutoImportMonths> for i16 {
    fn from(months: AutoImportMonths) -> Self {
        months.0
    }
}

impl PartialSchema for AutoImportMonths {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .description(Some("Months of history to import, 1 to 120."))
            .minimum(Some(Self::MIN))
            .maximum(Some(Self::MAX))
            .examples([serde_json::json!(3)])
            .into()
    }
}

impl ToSchema for AutoImportMonths {}

/// Aisle posts the Default Import itself once a sign-in issues a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AutoImport {
    pub months: AutoImportMonths,
}

/// A client's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(examples(json!({"retentionSeconds": 86400, "autoImport": {"months": 3}})))]
pub struct ClientSettings {
    pub retention_seconds: RetentionSeconds,
    /// `null`: off.
    #[schema(required)]
    pub auto_import: Option<AutoImport>,
}

/// A change to a client's settings: a field left out is left as it is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(examples(json!({"retentionSeconds": 3600, "autoImport": null})))]
pub struct SettingsChange {
    /// Applies to data already kept too: a shorter retention deletes older data at the
    /// retention job's next pass.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = RetentionSeconds)]
    pub retention_seconds: Option<RetentionSeconds>,
    /// `null` turns automatic imports off.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<AutoImport>)]
    pub auto_import: Option<Option<AutoImport>>,
}

/// A field that is present: `Some` of whatever it holds (`null` included, where the field's
/// type allows it), so that a missing field (`None`, by `default`) differs from a `null` one.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_is_a_minute_to_366_days() {
        assert!(RetentionSeconds::new(59).is_err());
        assert_eq!(RetentionSeconds::new(60).unwrap().get(), 60);
        assert_eq!(RetentionSeconds::new(31_622_400).unwrap().get(), 31_622_400);
        assert!(RetentionSeconds::new(31_622_401).is_err());
        assert!(RetentionSeconds::new(i64::MAX).is_err());
    }

    #[test]
    fn a_change_tells_a_missing_auto_import_from_a_null_one() {
        let change: SettingsChange = serde_json::from_str("{}").unwrap();
        assert_eq!(change, SettingsChange::default());
        let change: SettingsChange = serde_json::from_str(r#"{"autoImport":null}"#).unwrap();
        assert_eq!(change.auto_import, Some(None));
        let change: SettingsChange =
            serde_json::from_str(r#"{"autoImport":{"months":12},"retentionSeconds":3600}"#)
                .unwrap();
        assert_eq!(
            change.auto_import,
            Some(Some(AutoImport {
                months: AutoImportMonths::new(12).unwrap()
            }))
        );
        assert_eq!(change.retention_seconds, RetentionSeconds::new(3600).ok());
        for refused in [
            r#"{"retentionSeconds":null}"#,
            r#"{"retentionSeconds":59}"#,
            r#"{"retentionSeconds":"PT1H"}"#,
            r#"{"autoImport":{"months":0}}"#,
            r#"{"autoImport":{"months":121}}"#,
            r#"{"autoImport":{}}"#,
            r#"{"autoImport":{"months":3,"extra":1}}"#,
            r#"{"retention":60}"#,
        ] {
            assert!(
                serde_json::from_str::<SettingsChange>(refused).is_err(),
                "{refused}"
            );
        }
    }
}
