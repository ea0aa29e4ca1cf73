//! The AIS consent: what is asked for, and what its status means for a sign-in.

use aisle_sdk::{ConnectorError, Supports};
use chrono::{Days, NaiveDate};
use serde_json::{Value, json};

use crate::errors;
use crate::iban::Iban;
use crate::options::Options;
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
        "frequencyPerDay": options.frequency_per_day.max(1),
        "combinedServiceIndicator": false,
    }))
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

/// Checks the consent as read back after SCA. The status must still be valid; a consent the
/// bank made recurring is not refused (it is deleted after the import anyway) but noted.
pub fn check_read_back(information: &ConsentInformation) -> Result<(), ConnectorError> {
    if let Some(status) = &information.consent_status {
        require_valid(status)?;
    }
    let recurring = match &information.recurring_indicator {
        Some(Value::Bool(flag)) => *flag,
        Some(Value::String(text)) => text.eq_ignore_ascii_case("true"),
        _ => false,
    };
    if recurring {
        tracing::info!("the bank granted a recurring consent where single access was asked");
    }
    let granted = information
        .access
        .as_ref()
        .and_then(Value::as_object)
        .map(|access| access.keys().cloned().collect::<Vec<_>>())
        .unwrap_or_default();
    tracing::debug!(
        ?granted,
        valid_until = information.valid_until.as_deref().unwrap_or("?"),
        "consent read back"
    );
    Ok(())
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
