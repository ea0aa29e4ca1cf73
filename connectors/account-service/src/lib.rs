//! A retail bank's Account Service connector: the customer, their accounts and balances,
//! after a form sign-in in two steps.
//!
//! Step one takes the owner's legal id and phone number: `POST /valid-legal-id` turns the
//! legal id into the customer's CIF, `POST /valid-phone-number` checks the number and makes
//! the bank text a one-time code. Step two takes the code and sends it back through
//! `POST /valid-phone-number`. The session then holds the CIF: every later call is
//! authorised by Aisle's client credentials. See `README.md` for the wire contract.

mod client;
mod errors;
#[doc(hidden)]
pub mod fuzzing;
mod mapping;
mod wire;

use aisle_sdk::http::{Answer, Secret, parse};
use aisle_sdk::{
    Account, BankProfile, BankSession, Card, CardTransaction, Connector, ConnectorError,
    DateWindow, FormField, FormFieldKind, Owner, Page, PageCursor, SignInCallback, SignInProgress,
    SignInRequest, SignInStep, Supports, Transaction,
};
use async_trait::async_trait;
use chrono::Utc;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::client::ServiceClient;
use crate::errors::Stage;

/// The form field holding the owner's legal id (national identity document number).
pub const LEGAL_ID_FIELD: &str = "legalId";
/// The form field holding the owner's phone number.
pub const PHONE_NUMBER_FIELD: &str = "phoneNumber";
/// The form field holding the one-time code the bank texted.
pub const OTP_FIELD: &str = "otp";

/// The Account Service gives the customer, accounts and balances; no history, no cards.
pub fn default_profile() -> BankProfile {
    BankProfile {
        supports: Supports {
            owners: true,
            balances: true,
            transactions: false,
            cards: false,
            pending: false,
            balances_with_transactions: false,
        },
        ..BankProfile::default()
    }
}

/// A connector to one bank's Account Service.
#[derive(Debug, Clone)]
pub struct AccountServiceConnector {
    client: ServiceClient,
    profile: BankProfile,
}

/// Where a sign-in stands between its steps; Aisle keeps it encrypted as `pending`.
#[derive(Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "camelCase")]
enum Pending {
    /// The legal id and phone number are asked for.
    Credentials,
    /// A code was texted; the answer goes with these.
    #[serde(rename_all = "camelCase")]
    Otp {
        cif: String,
        phone_number: String,
        otp_reference: Option<String>,
    },
}

/// What a session remembers: whose data it reads.
#[derive(Serialize, Deserialize)]
struct SessionSecret {
    cif: String,
}

impl SessionSecret {
    /// Reads the secret this connector wrote; its content never goes into the error.
    fn read(session: &BankSession) -> Result<Self, ConnectorError> {
        serde_json::from_str(&session.secret).map_err(|_| {
            ConnectorError::protocol("the session secret was not written by this connector", "")
        })
    }
}

fn to_json(value: &impl Serialize) -> Result<String, ConnectorError> {
    serde_json::to_string(value)
        .map_err(|e| ConnectorError::protocol(format!("cannot write the sign-in state: {e}"), ""))
}

fn form(fields: Vec<FormField>, pending: &Pending) -> Result<SignInStep, ConnectorError> {
    Ok(SignInStep::Form {
        fields,
        pending: to_json(pending)?,
    })
}

fn field(name: &str, label: &str, kind: FormFieldKind) -> FormField {
    FormField {
        name: name.to_owned(),
        label: label.to_owned(),
        kind,
    }
}

/// The legal id as the bank files it: upper case, no spaces.
fn legal_id(typed: &str) -> Option<String> {
    let compact: String = typed
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_uppercase();
    (!compact.is_empty() && compact.bytes().all(|b| b.is_ascii_alphanumeric())).then_some(compact)
}

/// The phone number without the spaces, dashes, dots and brackets people type; a leading
/// `00` becomes `+`. A local number stays local: only the bank knows its country.
fn phone_number(typed: &str) -> Option<String> {
    let typed = typed.trim();
    let (plus, rest) = match typed.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => match typed.strip_prefix("00") {
            Some(rest) => (true, rest),
            None => (false, typed),
        },
    };
    let mut digits = String::new();
    for c in rest.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '.' | '/' | '(' | ')' => {}
            _ => return None,
        }
    }
    if digits.len() < 4 {
        return None;
    }
    Some(if plus { format!("+{digits}") } else { digits })
}

/// The one-time code as typed, without spaces; `None` when it is not a code.
fn one_time_code(typed: &str) -> Option<String> {
    let code: String = typed.chars().filter(|c| !c.is_whitespace()).collect();
    (!code.is_empty() && code.bytes().all(|b| b.is_ascii_alphanumeric())).then_some(code)
}

impl AccountServiceConnector {
    /// `base_url` is the service's root (the part before `/get-customer-by-id`).
    /// `client_id` and `client_secret` are the credentials the bank issued to Aisle; the
    /// secret is never printed.
    pub fn new(
        base_url: Url,
        profile: BankProfile,
        http: reqwest::Client,
        client_id: String,
        client_secret: String,
    ) -> Self {
        Self {
            client: ServiceClient::new(
                base_url,
                http,
                client_id,
                Secret::new("client secret", client_secret),
                profile.max_body_bytes,
            ),
            profile,
        }
    }

    /// The `data` of a `00` answer, or the classified error.
    fn data<T: DeserializeOwned>(
        &self,
        operation: &str,
        answer: &Answer,
        stage: Stage,
    ) -> Result<T, ConnectorError> {
        let head: Option<wire::Head> = serde_json::from_str(&answer.body).ok();
        match &head {
            Some(h) if h.code == errors::SUCCESS && answer.status.is_success() => {
                let success: wire::Success<T> = parse(&answer.body)?;
                Ok(success.data)
            }
            _ => {
                tracing::debug!(
                    operation,
                    status = %answer.status,
                    code = head.as_ref().map(|h| h.code.as_str()),
                    "the account service refused the request"
                );
                Err(errors::classify(answer, head.as_ref(), stage))
            }
        }
    }

    /// Step one: legal id to CIF, then the phone check that makes the bank text a code.
    async fn check_credentials(
        &self,
        callback: &SignInCallback,
    ) -> Result<SignInProgress, ConnectorError> {
        let answer = |name: &str| callback.params.get(name).map(String::as_str);
        let legal_id = answer(LEGAL_ID_FIELD)
            .and_then(legal_id)
            .ok_or(ConnectorError::InvalidCredentials)?;
        let phone_number = answer(PHONE_NUMBER_FIELD)
            .and_then(phone_number)
            .ok_or(ConnectorError::InvalidCredentials)?;

        let operation = "valid-legal-id";
        let reply = self
            .client
            .post(
                operation,
                &wire::LegalIdRequest {
                    legal_id: &legal_id,
                },
            )
            .await?;
        let checked: wire::LegalIdCheck = self.data(operation, &reply, Stage::SignIn)?;
        if checked.valid == Some(false) {
            return Err(ConnectorError::InvalidCredentials);
        }
        if checked
            .customer_status
            .as_deref()
            .is_some_and(|s| s.trim().eq_ignore_ascii_case("BLOCKED"))
        {
            return Err(ConnectorError::AccessBlocked);
        }
        let cif = checked
            .cif
            .filter(|c| !c.trim().is_empty())
            .ok_or_else(|| ConnectorError::protocol("valid-legal-id gave no cif", ""))?;

        let operation = "valid-phone-number";
        let request = wire::PhoneRequest {
            cif: &cif,
            phone_number: &phone_number,
            otp_reference: None,
            otp: None,
        };
        let reply = self.client.post(operation, &request).await?;
        let sent: wire::PhoneCheck = self.data(operation, &reply, Stage::SignIn)?;
        if sent.valid == Some(false) {
            return Err(ConnectorError::InvalidCredentials);
        }
        let step = form(
            vec![field(
                OTP_FIELD,
                "The one-time code the bank sent to your phone",
                FormFieldKind::OneTimeCode,
            )],
            &Pending::Otp {
                cif,
                phone_number,
                otp_reference: sent.otp_reference,
            },
        )?;
        Ok(SignInProgress::Next(step))
    }

    /// Step two: the code goes back through the phone check.
    async fn check_code(
        &self,
        callback: &SignInCallback,
        cif: String,
        phone_number: &str,
        otp_reference: Option<&str>,
    ) -> Result<SignInProgress, ConnectorError> {
        let otp = callback
            .params
            .get(OTP_FIELD)
            .and_then(|c| one_time_code(c))
            .ok_or(ConnectorError::InvalidCredentials)?;
        let operation = "valid-phone-number";
        let request = wire::PhoneRequest {
            cif: &cif,
            phone_number,
            otp_reference,
            otp: Some(&otp),
        };
        let reply = self.client.post(operation, &request).await?;
        let verified: wire::PhoneCheck = self.data(operation, &reply, Stage::SignIn)?;
        // Only an explicit yes lets the owner in: a code check is no place for defaults.
        if verified.valid != Some(true) {
            return Err(ConnectorError::InvalidCredentials);
        }
        Ok(SignInProgress::Done(BankSession {
            secret: to_json(&SessionSecret { cif })?,
            sca_at: Utc::now(),
        }))
    }
}

#[async_trait]
impl Connector for AccountServiceConnector {
    fn profile(&self) -> &BankProfile {
        &self.profile
    }

    async fn begin_sign_in(&self, _request: &SignInRequest) -> Result<SignInStep, ConnectorError> {
        form(
            vec![
                field(LEGAL_ID_FIELD, "ID card number", FormFieldKind::Text),
                field(
                    PHONE_NUMBER_FIELD,
                    "Mobile phone number registered at the bank",
                    FormFieldKind::Phone,
                ),
            ],
            &Pending::Credentials,
        )
    }

    async fn complete_sign_in(
        &self,
        callback: &SignInCallback,
    ) -> Result<SignInProgress, ConnectorError> {
        let pending: Pending = serde_json::from_str(&callback.pending).map_err(|_| {
            ConnectorError::protocol("the sign-in state was not written by this connector", "")
        })?;
        match pending {
            Pending::Credentials => self.check_credentials(callback).await,
            Pending::Otp {
                cif,
                phone_number,
                otp_reference,
            } => {
                self.check_code(callback, cif, &phone_number, otp_reference.as_deref())
                    .await
            }
        }
    }

    async fn owners(&self, session: &BankSession) -> Result<Vec<Owner>, ConnectorError> {
        let secret = SessionSecret::read(session)?;
        let operation = "get-customer-by-id";
        let reply = self
            .client
            .get(operation, &[("cif", secret.cif.as_str())])
            .await?;
        let customer: wire::Customer = self.data(operation, &reply, Stage::Data)?;
        mapping::owners(&customer)
    }

    async fn accounts(&self, session: &BankSession) -> Result<Vec<Account>, ConnectorError> {
        let secret = SessionSecret::read(session)?;
        let operation = "get-list-account-by-customer";
        let reply = self
            .client
            .get(operation, &[("cif", secret.cif.as_str())])
            .await?;
        let list: wire::AccountList = self.data(operation, &reply, Stage::Data)?;
        let mut accounts = Vec::with_capacity(list.accounts.len());
        // The list has no balances; each account's details do.
        for summary in &list.accounts {
            let number = mapping::account_number(summary)?;
            let operation = "get-account-info";
            let request = wire::AccountInfoRequest {
                cif: &secret.cif,
                account_number: &number,
            };
            let reply = self.client.post(operation, &request).await?;
            let info: wire::AccountInfo = self.data(operation, &reply, Stage::Data)?;
            accounts.push(mapping::account(summary, &info)?);
        }
        Ok(accounts)
    }

    async fn transactions(
        &self,
        _session: &BankSession,
        _account: &Account,
        _window: DateWindow,
        _page: Option<&PageCursor>,
    ) -> Result<Page<Transaction>, ConnectorError> {
        Err(ConnectorError::Unsupported(
            "transactions (the Account Service has no transaction history)",
        ))
    }

    async fn cards(&self, _session: &BankSession) -> Result<Vec<Card>, ConnectorError> {
        Err(ConnectorError::Unsupported(
            "cards (the Account Service lists payment accounts only)",
        ))
    }

    async fn card_transactions(
        &self,
        _session: &BankSession,
        _card: &Card,
        _window: DateWindow,
        _page: Option<&PageCursor>,
    ) -> Result<Page<CardTransaction>, ConnectorError> {
        Err(ConnectorError::Unsupported(
            "card transactions (the Account Service lists payment accounts only)",
        ))
    }

    /// Nothing to revoke: the bank issued no per-owner token or consent; every call rides on
    /// Aisle's client credentials. Aisle erasing the session's secret (the CIF) ends the access.
    async fn end_session(&self, _session: &BankSession) -> Result<(), ConnectorError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_lose_their_punctuation_and_keep_their_country() {
        assert_eq!(
            phone_number(" +49 (151) 000-000.01 ").as_deref(),
            Some("+4915100000001")
        );
        assert_eq!(
            phone_number("0049 151 00000001").as_deref(),
            Some("+4915100000001")
        );
        assert_eq!(
            phone_number("0151 00000001").as_deref(),
            Some("015100000001")
        );
        assert_eq!(phone_number("+49 151 CALLME"), None);
        assert_eq!(phone_number("+12"), None);
    }

    #[test]
    fn legal_ids_and_codes_lose_their_spaces() {
        assert_eq!(legal_id(" t22 000 1293 ").as_deref(), Some("T220001293"));
        assert_eq!(legal_id("T22-0001293"), None);
        assert_eq!(one_time_code(" 123 456 ").as_deref(), Some("123456"));
        assert_eq!(one_time_code(""), None);
    }

    #[test]
    fn debug_output_hides_the_client_secret() {
        let connector = AccountServiceConnector::new(
            Url::parse("https://bank.example/account-service").expect("url"),
            default_profile(),
            reqwest::Client::new(),
            "aisle".to_owned(),
            "cs-very-secret".to_owned(),
        );
        let printed = format!("{connector:?}");
        assert!(!printed.contains("cs-very-secret"), "{printed}");
        assert!(printed.contains("[redacted]"));
    }
}
