//! The AIS consent: what is asked for, and what its status means for a sign-in.

use aisle_sdk::{ConnectorError, Supports};
use chrono::{Days, NaiveDate};
use serde_json::{Value, json};

use crate::errors;
use crate::iban::Iban;
use crate::options::Options;
use crate::state::Granted;
use crate::wire::ConsentInformation;

/// Which accounts a consent covers.
#[derive(Debug)]
pub enum Access<'a> {
    AllAccounts,
    BankOffered,
    Dedicated(&'a [Iban]),
}

impl Access<'_> {
    /// The consent's `access` object. Balances and transactions are asked for only where the
    /// bank's profile says it serves them: a consent for more than is read is wider access
    /// than the owner needs to give.
    fn to_json(&self, supports: Supports) -> Value {
        let mut access = serde_json::Map::new();
        match self {
            Self::AllAccounts => {
                access.insert("allPsd2".into(), json!("allAccounts"));
            }
            Self::BankOffered => {
                // Empty lists ask the owner to choose at the bank (consentsExample_without_Accounts).
                if supports.balances {
                    access.insert("balances".into(), json!([]));
                }
                if supports.transactions {
                    access.insert("transactions".into(), json!([]));
                }
                if access.is_empty() {
                    access.insert("accounts".into(), json!([]));
                }
            }
            Self::Dedicated(ibans) => {
                let references: Vec<Value> =
                    ibans.iter().map(|i| json!({"iban": i.as_str()})).collect();
                access.insert("accounts".into(), Value::Array(references.clone()));
                if supports.balances {
                    access.insert("balances".into(), Value::Array(references.clone()));
                }
                if supports.transactions {
                    access.insert("transactions".into(), Value::Array(references));
                }
            }
        }
        Value::Object(access)
    }
}

/// The body of `POST /v1/consents`. Single access: one import, so the consent is not
/// recurring and lives only as long as the sign-in and its import need.
pub fn request_body(
    access: &Access<'_>,
    supports: Supports,
    options: &Options,
    today: NaiveDate,
) -> Result<Value, ConnectorError> {
    let valid_until = today
        .checked_add_days(Days::new(u64::from(options.consent_validity_days.max(1))))
        .ok_or_else(|| errors::protocol("the calendar ran out", ""))?;
    Ok(json!({
        "access": access.to_json(supports),
        "recurringIndicator": false,
        "validUntil": valid_until.to_string(),
        // One-off access: the spec says 1 ("For a one-off access, this attribute is set to 1").
        "frequencyPerDay": 1,
        "combinedServiceIndicator": false,
    }))
}

/// Whether SCA is over but the bank has not made the consent valid yet: `received` (it is
/// still processing) or `partiallyAuthorised` (another owner must still authorise). Both may
/// still turn valid, so the sign-in waits rather than fails.
pub fn awaiting_authorisation(status: &str) -> bool {
    matches!(status, "received" | "partiallyAuthorised")
}

/// What a consent status means at the end of a sign-in: only `valid` lets it finish.
pub fn require_valid(status: &str) -> Result<(), ConnectorError> {
    match status {
        "valid" => Ok(()),
        "rejected" => Err(ConnectorError::InvalidCredentials),
        // Not authorised yet (or only by some of several owners): SCA is still to be done.
        "received" | "partiallyAuthorised" => Err(ConnectorError::ScaRequired),
        "expired" | "revokedByPsu" | "terminatedByTpp" => Err(ConnectorError::ConsentExpired),
        other => Err(errors::protocol(
            format!("the consent has an unknown status {other:?}"),
            "",
        )),
    }
}

/// Checks the consent as read back after SCA, and says what it grants when that is
/// narrower than every account: the consent is then used exactly as granted (reads outside
/// it answer `Unsupported`, which the receipt records). A consent whose `validUntil` has
/// passed, or that grants nothing, is refused.
pub fn check_read_back(
    information: &ConsentInformation,
    today: NaiveDate,
) -> Result<Option<Granted>, ConnectorError> {
    if let Some(status) = &information.consent_status {
        require_valid(status)?;
    }
    if let Some(valid_until) = information.valid_until.as_deref() {
        let day = valid_until
            .get(..10)
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            .ok_or_else(|| errors::protocol("the consent's validUntil is not a date", ""))?;
        if day < today {
            return Err(ConnectorError::ConsentExpired);
        }
    }
    let recurring = match &information.recurring_indicator {
        Some(Value::Bool(flag)) => *flag,
        Some(Value::String(text)) => text.eq_ignore_ascii_case("true"),
        _ => false,
    };
    if recurring {
        tracing::info!("the bank granted a recurring consent where single access was asked");
    }
    granted(information.access.as_ref())
}

/// What an `access` object grants: `None` for every account (`allPsd2`, or no access object
/// to compare), else the accounts it lists.
fn granted(access: Option<&Value>) -> Result<Option<Granted>, ConnectorError> {
    let Some(access) = access.and_then(Value::as_object) else {
        return Ok(None);
    };
    if access.contains_key("allPsd2") {
        return Ok(None);
    }
    let listed = |key: &str| -> Vec<String> {
        access
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(crate::mapping::reference_of)
            .collect()
    };
    let balances = listed("balances");
    let transactions = listed("transactions");
    let mut accounts = listed("accounts");
    for id in balances.iter().chain(&transactions) {
        if !accounts.contains(id) {
            accounts.push(id.clone());
        }
    }
    if accounts.is_empty() {
        return Err(errors::protocol(
            "the bank granted a consent without any account",
            "",
        ));
    }
    tracing::info!(
        accounts = accounts.len(),
        "the consent covers only the accounts the bank lists"
    );
    Ok(Some(Granted {
        accounts,
        balances,
        transactions,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aisle_sdk::BankProfile;

    #[test]
    fn consent_statuses_map_to_what_the_sign_in_can_do_next() {
        assert_eq!(require_valid("valid"), Ok(()));
        assert_eq!(
            require_valid("rejected"),
            Err(ConnectorError::InvalidCredentials)
        );
        assert_eq!(require_valid("received"), Err(ConnectorError::ScaRequired));
        assert_eq!(
            require_valid("partiallyAuthorised"),
            Err(ConnectorError::ScaRequired)
        );
        for gone in ["expired", "revokedByPsu", "terminatedByTpp"] {
            assert_eq!(require_valid(gone), Err(ConnectorError::ConsentExpired));
        }
        assert!(matches!(
            require_valid("dormant"),
            Err(ConnectorError::Protocol { .. })
        ));
    }

    #[test]
    fn a_bank_offered_consent_leaves_out_what_the_bank_does_not_serve() {
        let mut supports = BankProfile::default().supports;
        supports.balances = false;
        assert_eq!(
            Access::BankOffered.to_json(supports),
            json!({"transactions": []})
        );
        supports.transactions = false;
        assert_eq!(
            Access::BankOffered.to_json(supports),
            json!({"accounts": []})
        );
    }
}

#[cfg(test)]
mod read_back_tests {
    use super::*;

    fn information(value: Value) -> ConsentInformation {
        serde_json::from_value(value).expect("consent information")
    }

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("date")
    }

    #[test]
    fn a_consent_read_back_with_a_past_valid_until_is_refused_as_expired() {
        let read = information(json!({"consentStatus": "valid", "validUntil": "2017-11-01",
            "access": {"allPsd2": "allAccounts"}}));
        assert_eq!(
            check_read_back(&read, day("2026-11-28")),
            Err(ConnectorError::ConsentExpired)
        );
        assert_eq!(check_read_back(&read, day("2017-11-01")), Ok(None));
    }

    #[test]
    fn a_consent_read_back_with_listed_accounts_is_used_as_granted() {
        let read = information(json!({"consentStatus": "valid", "validUntil": "2099-01-01",
            "access": {"balances": [{"iban": "DE1"}], "transactions": [{"iban": "DE1"}, {"maskedPan": "1234****5678"}]}}));
        let granted = check_read_back(&read, day("2026-11-28"))
            .expect("valid")
            .expect("narrower");
        assert_eq!(granted.accounts, ["DE1", "1234****5678"]);
        assert_eq!(granted.balances, ["DE1"]);
        let empty = information(json!({"consentStatus": "valid", "access": {"accounts": []}}));
        assert!(matches!(
            check_read_back(&empty, day("2026-11-28")),
            Err(ConnectorError::Protocol { .. })
        ));
    }
}
