//! What Aisle keeps for this connector between calls, encrypted and opaque to everyone else:
//! a sign-in's `pending` state and a session's `secret`. Both are small JSON documents.
//!
//! A `pending` or `secret` that is not JSON is read as a bare consent id: that is what this
//! connector handed out before it spoke OAuth, and sign-ins or sessions in flight during an
//! upgrade keep working.

use std::fmt;

use aisle_sdk::{ConnectorError, SignInRequest};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

/// Where a sign-in stands between two steps.
#[derive(Clone, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "camelCase")]
pub enum Pending {
    /// The owner is asked which accounts to share (dedicated-accounts consent); no consent
    /// exists at the bank yet.
    AccountSelection(Owner),
    /// A consent exists and the owner is at the bank's SCA page.
    Sca(ScaPending),
    /// A consent exists; the owner is asked for their bank login (and, embedded, password)
    /// before the authorisation starts.
    Identification(IdentificationPending),
    /// Decoupled SCA: the owner approves in the bank's app; the authorisation's `scaStatus`
    /// is polled.
    Decoupled(DecoupledPending),
    /// Embedded SCA: the owner chooses an SCA method or types the one-time code.
    Embedded(EmbeddedPending),
    /// SCA is over but the consent is not valid yet (`received`, `partiallyAuthorised`): its
    /// status is polled.
    Confirming(ConfirmingPending),
}

/// Which SCA approach a form asks the owner's login for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Identified {
    Decoupled,
    Embedded,
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IdentificationPending {
    pub consent_id: String,
    pub approach: Identified,
    /// The link that starts the authorisation.
    pub start: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub psu_ip_address: Option<String>,
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DecoupledPending {
    pub consent_id: String,
    /// The authorisation's `scaStatus` link.
    pub status: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub psu_ip_address: Option<String>,
}

/// What the embedded authorisation waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum EmbeddedStage {
    /// The owner chooses among several SCA methods (`selectAuthenticationMethod`).
    SelectMethod,
    /// The owner types the one-time code (`authoriseTransaction`).
    OneTimeCode,
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EmbeddedPending {
    pub consent_id: String,
    pub stage: EmbeddedStage,
    /// The authorisation link the owner's answer is sent to.
    pub href: String,
    pub psu_id: String,
    /// The methods offered, at [`EmbeddedStage::SelectMethod`]: an answer must be one of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub method_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub psu_ip_address: Option<String>,
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfirmingPending {
    pub secret: SessionSecret,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub psu_ip_address: Option<String>,
}

/// What the sign-in knows about the owner, for the calls made while they are present.
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Owner {
    pub redirect_uri: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub psu_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub psu_ip_address: Option<String>,
}

impl From<&SignInRequest> for Owner {
    fn from(request: &SignInRequest) -> Self {
        Self {
            redirect_uri: request.redirect_uri.clone(),
            psu_id: request.psu_id.clone(),
            psu_ip_address: request.psu_ip_address.clone(),
        }
    }
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScaPending {
    pub consent_id: String,
    /// Sent as `PSU-IP-Address` on the calls that finish the sign-in: the owner is present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub psu_ip_address: Option<String>,
    /// Present when the bank chose the OAuth2 SCA approach.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth: Option<OAuthPending>,
}

/// The OAuth2 authorisation-code flow in progress (RFC 6749 section 4.1 with PKCE).
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OAuthPending {
    pub state: String,
    pub code_verifier: String,
    pub redirect_uri: String,
    pub token_endpoint: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_endpoint: Option<String>,
}

/// A session's access at the bank.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionSecret {
    pub consent_id: String,
    /// The OAuth2 access token, sent as `Authorization: Bearer` next to `Consent-ID`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
    /// Where `end_session` revokes the token (RFC 7009), when the bank has such an endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_endpoint: Option<String>,
    /// What the bank granted, when narrower than every account (the owner picked accounts at
    /// the bank, or the bank lists them instead of `allPsd2`). Absent: everything asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub granted: Option<Granted>,
}

/// The accounts a consent lists under each kind of access, by identifier (IBAN, BBAN,
/// masked PAN or PAN, as the bank wrote them).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Granted {
    #[serde(default)]
    pub accounts: Vec<String>,
    #[serde(default)]
    pub balances: Vec<String>,
    #[serde(default)]
    pub transactions: Vec<String>,
}

impl fmt::Debug for Pending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::AccountSelection(_) => "Pending::AccountSelection([redacted])",
            Self::Sca(_) => "Pending::Sca([redacted])",
            Self::Identification(_) => "Pending::Identification([redacted])",
            Self::Decoupled(_) => "Pending::Decoupled([redacted])",
            Self::Embedded(_) => "Pending::Embedded([redacted])",
            Self::Confirming(_) => "Pending::Confirming([redacted])",
        })
    }
}

impl fmt::Debug for SessionSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionSecret")
            .field("consent_id", &"[redacted]")
            .field("oauth", &self.access_token.is_some())
            .finish()
    }
}

impl Pending {
    pub fn encode(&self) -> Result<String, ConnectorError> {
        encode(self)
    }

    pub fn decode(raw: &str) -> Result<Self, ConnectorError> {
        decode(raw, |consent_id| {
            Self::Sca(ScaPending {
                consent_id,
                psu_ip_address: None,
                oauth: None,
            })
        })
    }
}

impl SessionSecret {
    /// The secret of a consent known by its id alone (no OAuth2 token, nothing narrowed).
    pub fn from_consent(consent_id: String) -> Self {
        Self {
            consent_id,
            access_token: None,
            revocation_endpoint: None,
            granted: None,
        }
    }

    pub fn encode(&self) -> Result<String, ConnectorError> {
        encode(self)
    }

    pub fn decode(raw: &str) -> Result<Self, ConnectorError> {
        decode(raw, |consent_id| Self {
            consent_id,
            access_token: None,
            revocation_endpoint: None,
            granted: None,
        })
    }
}

fn encode<T: Serialize>(value: &T) -> Result<String, ConnectorError> {
    // The snippet stays empty: whatever failed to serialise may be secret.
    serde_json::to_string(value)
        .map_err(|e| ConnectorError::protocol(format!("could not keep the sign-in state: {e}"), ""))
}

fn decode<T: DeserializeOwned>(
    raw: &str,
    bare_consent_id: impl FnOnce(String) -> T,
) -> Result<T, ConnectorError> {
    let raw = raw.trim();
    if raw.starts_with('{') {
        return serde_json::from_str(raw).map_err(|e| {
            // Only the position: serde's message may quote a value, and values here are secret.
            ConnectorError::protocol(
                format!(
                    "unreadable connector state ({:?} at column {})",
                    e.classify(),
                    e.column()
                ),
                "",
            )
        });
    }
    if raw.is_empty() {
        return Err(ConnectorError::protocol("the connector state is empty", ""));
    }
    Ok(bare_consent_id(raw.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_secret_survives_the_round_trip() {
        let secret = SessionSecret {
            consent_id: "c-1".to_owned(),
            access_token: Some("t".to_owned()),
            revocation_endpoint: None,
            granted: Some(Granted::default()),
        };
        let encoded = secret.encode().expect("encodes");
        assert_eq!(SessionSecret::decode(&encoded).ok(), Some(secret));
    }

    #[test]
    fn a_bare_consent_id_is_still_a_session() {
        let secret = SessionSecret::decode("consent-1").expect("legacy secret");
        assert_eq!(secret.consent_id, "consent-1");
        assert!(secret.access_token.is_none());
        assert!(matches!(
            Pending::decode("consent-1"),
            Ok(Pending::Sca(ScaPending { oauth: None, .. }))
        ));
    }

    #[test]
    fn a_garbled_state_is_a_protocol_error_without_its_content() {
        let error = SessionSecret::decode(r#"{"accessToken":"secret-token"}"#);
        let Err(ConnectorError::Protocol { message, snippet }) = error else {
            panic!("a secret without a consent id is unreadable");
        };
        assert!(snippet.is_empty());
        assert!(!message.contains("secret-token"));
    }

    #[test]
    fn debug_output_hides_the_consent_and_the_token() {
        let secret = SessionSecret {
            consent_id: "c-1".to_owned(),
            access_token: Some("tok".to_owned()),
            revocation_endpoint: None,
            granted: None,
        };
        let shown = format!("{secret:?}");
        assert!(!shown.contains("c-1") && !shown.contains("tok"), "{shown}");
    }
}
