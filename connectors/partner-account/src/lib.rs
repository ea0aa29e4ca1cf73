//! The partner "Get Account Information" API (v1.5) connector: one account's owner and
//! details, read by account reference with a token the bank issued to Aisle as a partner.
//!
//! Sign-in is a form: the owner types the account reference and their birth date; the
//! connector reads the account and accepts the owner when the birth dates match. The session
//! then holds only the account reference, since every later call is authorised by the
//! partner token, not by the owner. See `README.md` for the wire contract.

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
use chrono::{FixedOffset, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::client::PartnerClient;
use crate::errors::Stage;

/// The form field holding the account number or IBAN.
pub const ACCOUNT_REFERENCE_FIELD: &str = "accountReference";
/// The form field holding the owner's birth date, `YYYY-MM-DD`.
pub const BIRTH_DATE_FIELD: &str = "birthDate";

/// The partner API gives one owner and one account, without balances or history.
pub fn default_profile() -> BankProfile {
    BankProfile {
        supports: Supports {
            owners: true,
            balances: false,
            transactions: false,
            cards: false,
            pending: false,
            balances_with_transactions: false,
        },
        ..BankProfile::default()
    }
}

/// A connector to one bank's partner API.
#[derive(Debug, Clone)]
pub struct PartnerAccountConnector {
    client: PartnerClient,
    profile: BankProfile,
}

/// What a session remembers: the account, as the owner identified it at sign-in.
// No `Debug`: it holds the account number.
#[derive(Serialize, Deserialize)]
struct SessionSecret {
    accno: String,
    #[serde(rename = "accnoType")]
    accno_type: String,
}

impl SessionSecret {
    /// Reads the secret this connector wrote; its content never goes into the error.
    fn read(session: &BankSession) -> Result<Self, ConnectorError> {
        serde_json::from_str(&session.secret).map_err(|_| {
            ConnectorError::protocol("the session secret was not written by this connector", "")
        })
    }
}

/// `accnoType` for an account number.
const ACCNO: &str = "ACCNO";
/// `accnoType` for an IBAN.
const IBAN: &str = "IBAN";

impl PartnerAccountConnector {
    /// `base_url` is the API root (the part before `/account`). `auth_token` is the secret
    /// the bank issued to Aisle (`X-Auth-Token`); `partner_reference` and `program_code` are
    /// Aisle's partner identifier and the programme it is enrolled in, both given by the bank.
    pub fn new(
        base_url: Url,
        profile: BankProfile,
        http: reqwest::Client,
        auth_token: String,
        partner_reference: String,
        program_code: String,
    ) -> Self {
        Self {
            client: PartnerClient::new(
                base_url,
                http,
                Secret::new("X-Auth-Token", auth_token),
                partner_reference,
                program_code,
                profile.max_body_bytes,
            ),
            profile,
        }
    }

    /// The UTC offset of the clock `localDate` and `localTime` are written in (UTC unless
    /// the bank asks for its own zone).
    pub fn with_local_offset(mut self, offset: FixedOffset) -> Self {
        self.client.set_local_offset(offset);
        self
    }

    /// Reads the account's information, `0000` or a classified error.
    async fn read(
        &self,
        secret: &SessionSecret,
        stage: Stage,
    ) -> Result<wire::AccountInformation, ConnectorError> {
        let answer = self
            .client
            .get_account(&secret.accno, &secret.accno_type)
            .await?;
        account_information(&answer, stage)
    }
}

/// The account's information from a `0000` answer, or the answer as a classified error.
fn account_information(
    answer: &Answer,
    stage: Stage,
) -> Result<wire::AccountInformation, ConnectorError> {
    let head: Option<wire::Head> = serde_json::from_str(&answer.body).ok();
    match &head {
        Some(h) if h.response_code == errors::SUCCESS && answer.status.is_success() => {
            let success: wire::Success = parse(&answer.body)?;
            Ok(success.data)
        }
        _ => {
            let error = errors::classify(answer, head.as_ref(), stage);
            tracing::debug!(
                status = %answer.status,
                response_code = head.as_ref().map(|h| h.response_code.as_str()),
                "the partner API refused the request"
            );
            Err(error)
        }
    }
}

/// The reference the owner typed, without the spaces people put in IBANs; `None` when it
/// holds anything but letters and digits.
fn account_reference(typed: &str) -> Option<SessionSecret> {
    let compact: String = typed
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_uppercase();
    if compact.is_empty() || !compact.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    let accno_type = if mapping::is_iban(&compact, None) {
        IBAN
    } else {
        ACCNO
    };
    Some(SessionSecret {
        accno: compact,
        accno_type: accno_type.to_owned(),
    })
}

#[async_trait]
impl Connector for PartnerAccountConnector {
    fn profile(&self) -> &BankProfile {
        &self.profile
    }

    async fn begin_sign_in(&self, _request: &SignInRequest) -> Result<SignInStep, ConnectorError> {
        Ok(SignInStep::Form {
            fields: vec![
                FormField {
                    name: ACCOUNT_REFERENCE_FIELD.to_owned(),
                    label: "Account number or IBAN".to_owned(),
                    kind: FormFieldKind::Text,
                },
                FormField {
                    name: BIRTH_DATE_FIELD.to_owned(),
                    label: "Date of birth".to_owned(),
                    kind: FormFieldKind::Date,
                },
            ],
            // One step, nothing to carry over.
            pending: String::new(),
        })
    }

    async fn complete_sign_in(
        &self,
        callback: &SignInCallback,
    ) -> Result<SignInProgress, ConnectorError> {
        let answer = |name: &str| callback.params.get(name).map(|v| v.trim());
        let secret = answer(ACCOUNT_REFERENCE_FIELD)
            .and_then(account_reference)
            .ok_or(ConnectorError::InvalidCredentials)?;
        let typed_birth_date = answer(BIRTH_DATE_FIELD)
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            .ok_or(ConnectorError::InvalidCredentials)?;
        let info = self.read(&secret, Stage::SignIn).await?;
        let owner = info
            .owner
            .as_ref()
            .ok_or_else(|| ConnectorError::protocol("the answer names no owner", ""))?;
        // Without the bank's birth date there is nothing to check the owner against, and
        // letting them in unchecked would hand anyone's data to whoever knows an account number.
        let known_birth_date =
            aisle_sdk::lenient::date(owner.birth_date.as_deref())?.ok_or_else(|| {
                ConnectorError::protocol(
                    "the owner has no birth date to check the answer against",
                    "",
                )
            })?;
        if known_birth_date != typed_birth_date {
            tracing::info!("the birth date typed at sign-in does not match the account owner's");
            return Err(ConnectorError::InvalidCredentials);
        }
        let secret = serde_json::to_string(&secret)
            .map_err(|e| ConnectorError::protocol(format!("cannot write the session: {e}"), ""))?;
        Ok(SignInProgress::Done(BankSession {
            secret,
            sca_at: Utc::now(),
        }))
    }

    async fn owners(&self, session: &BankSession) -> Result<Vec<Owner>, ConnectorError> {
        let info = self
            .read(&SessionSecret::read(session)?, Stage::Data)
            .await?;
        let owner = info
            .owner
            .as_ref()
            .ok_or_else(|| ConnectorError::protocol("the answer names no owner", ""))?;
        Ok(vec![mapping::owner(owner)?])
    }

    async fn accounts(&self, session: &BankSession) -> Result<Vec<Account>, ConnectorError> {
        let info = self
            .read(&SessionSecret::read(session)?, Stage::Data)
            .await?;
        let account = info
            .account
            .as_ref()
            .ok_or_else(|| ConnectorError::protocol("the answer has no account", ""))?;
        Ok(vec![mapping::account(account, info.owner.as_ref())?])
    }

    async fn transactions(
        &self,
        _session: &BankSession,
        _account: &Account,
        _window: DateWindow,
        _page: Option<&PageCursor>,
    ) -> Result<Page<Transaction>, ConnectorError> {
        Err(ConnectorError::Unsupported(
            "transactions (the partner API gives owner and account details only)",
        ))
    }

    async fn cards(&self, _session: &BankSession) -> Result<Vec<Card>, ConnectorError> {
        Err(ConnectorError::Unsupported(
            "cards (the partner API gives owner and account details only)",
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
            "card transactions (the partner API gives owner and account details only)",
        ))
    }

    /// Nothing to revoke: the bank granted no per-owner token or consent, every call rides on
    /// the partner token. Aisle erasing the session's secret ends the access.
    async fn end_session(&self, _session: &BankSession) -> Result<(), ConnectorError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_references_lose_their_spaces_and_say_whether_they_are_ibans() {
        let iban = account_reference(" de27 1002 0030 0012 3456 78 ").expect("an IBAN");
        assert_eq!(
            (iban.accno.as_str(), iban.accno_type.as_str()),
            ("DE27100200300012345678", IBAN)
        );
        let number = account_reference("0012345678").expect("an account number");
        assert_eq!(number.accno_type, ACCNO);
        assert!(account_reference("00/123").is_none());
        assert!(account_reference("   ").is_none());
    }

    #[test]
    fn debug_output_hides_the_partner_token() {
        let connector = PartnerAccountConnector::new(
            Url::parse("https://bank.example/partner").expect("url"),
            default_profile(),
            reqwest::Client::new(),
            "tok-very-secret".to_owned(),
            "AISLE".to_owned(),
            "AIS".to_owned(),
        );
        let printed = format!("{connector:?}");
        assert!(!printed.contains("tok-very-secret"), "{printed}");
        assert!(printed.contains("[redacted]"));
    }
}
