//! Sign-in: create the consent, take the owner through the bank's SCA (redirect or OAuth2),
//! and check the consent is valid when they come back.
//!
//! Each call makes a fixed, small number of requests and never waits: when the owner comes
//! back and the consent is not valid yet, `complete_sign_in` answers `ScaRequired` and the
//! caller decides whether to ask again later (a redirect-approach callback can be completed
//! again with the same `pending`; an OAuth2 one cannot, its code being single-use).

use std::collections::BTreeMap;

use aisle_sdk::{
    BankSession, ConnectorError, FormField, FormFieldKind, SignInCallback, SignInProgress,
    SignInRequest, SignInStep,
};
use chrono::Utc;
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::BerlinGroupConnector;
use crate::client::{parse, with_psu};
use crate::consent::{self, Access};
use crate::errors::{self, Request};
use crate::iban;
use crate::oauth;
use crate::options::ConsentMode;
use crate::state::{OAuthPending, Owner, Pending, ScaPending, SessionSecret};
use crate::wire;

/// The form field of the account-selection step (dedicated-accounts consent).
pub const ACCOUNT_REFERENCE_FIELD: &str = "accountReference";

impl BerlinGroupConnector {
    pub(crate) async fn begin(
        &self,
        request: &SignInRequest,
    ) -> Result<SignInStep, ConnectorError> {
        let owner = Owner::from(request);
        match self.options.consent_mode {
            ConsentMode::AllAccounts => self.create_consent(&owner, &Access::AllAccounts).await,
            ConsentMode::BankOffered => self.create_consent(&owner, &Access::BankOffered).await,
            ConsentMode::DedicatedAccounts => Ok(SignInStep::Form {
                fields: vec![FormField {
                    name: ACCOUNT_REFERENCE_FIELD.to_owned(),
                    label: "IBAN of each account to share (separate several with commas)"
                        .to_owned(),
                    kind: FormFieldKind::Text,
                }],
                pending: Pending::AccountSelection(owner).encode()?,
            }),
        }
    }

    pub(crate) async fn complete(
        &self,
        callback: &SignInCallback,
    ) -> Result<SignInProgress, ConnectorError> {
        match Pending::decode(&callback.pending)? {
            Pending::AccountSelection(owner) => {
                // The SDK has no "the owner typed something wrong" class; a refused answer to
                // the bank's own questions is the nearest.
                let ibans = callback
                    .params
                    .get(ACCOUNT_REFERENCE_FIELD)
                    .and_then(|text| iban::parse_list(text))
                    .ok_or(ConnectorError::InvalidCredentials)?;
                let step = self
                    .create_consent(&owner, &Access::Dedicated(&ibans))
                    .await?;
                Ok(SignInProgress::Next(step))
            }
            Pending::Sca(pending) => self
                .finish_sca(pending, &callback.params)
                .await
                .map(SignInProgress::Done),
        }
    }

    /// `POST /v1/consents`, then the explicit authorisation start if the bank wants one,
    /// then the step that sends the owner to SCA.
    async fn create_consent(
        &self,
        owner: &Owner,
        access: &Access<'_>,
    ) -> Result<SignInStep, ConnectorError> {
        let url = self.client.endpoint(&["v1", "consents"])?;
        let body = consent::request_body(
            access,
            self.profile.supports,
            &self.options,
            Utc::now().date_naive(),
        )?;
        let builder = self.sign_in_request(Method::POST, url, owner).json(&body);
        let answer = self.client.send(builder, Request::Other).await?;
        let created: wire::ConsentCreated = parse(&answer.body)?;
        let has_sca_link = |links: &wire::Links| {
            links.get("scaRedirect").is_some() || links.get("scaOAuth").is_some()
        };
        let links = match created.links.get("startAuthorisation") {
            Some(start) if !has_sca_link(&created.links) => {
                self.start_authorisation(owner, start).await?
            }
            _ => created.links,
        };
        self.sca_step(owner, created.consent_id, &links).await
    }

    /// `POST /v1/consents/{id}/authorisations` (the bank's `startAuthorisation` link), which
    /// answers with the SCA link.
    async fn start_authorisation(
        &self,
        owner: &Owner,
        href: &str,
    ) -> Result<wire::Links, ConnectorError> {
        let url = self.client.resolve_api_link(href)?;
        let builder = self
            .sign_in_request(Method::POST, url, owner)
            .json(&json!({}));
        let answer = self.client.send(builder, Request::Other).await?;
        let started: wire::AuthorisationStarted = parse(&answer.body)?;
        Ok(started.links)
    }

    /// A request made while the owner signs in: where to send them back, and who they are.
    fn sign_in_request(
        &self,
        method: Method,
        url: url::Url,
        owner: &Owner,
    ) -> reqwest::RequestBuilder {
        let builder = self
            .client
            .request(method, url)
            .header("TPP-Redirect-URI", &owner.redirect_uri)
            // Aisle's callback reads the outcome from the parameters, so one URI serves both.
            .header("TPP-Nok-Redirect-URI", &owner.redirect_uri)
            .header("TPP-Redirect-Preferred", "true");
        with_psu(
            builder,
            owner.psu_id.as_deref(),
            owner.psu_ip_address.as_deref(),
        )
    }

    /// The redirect to the bank's SCA: its `scaRedirect` page, or, for the OAuth2 approach,
    /// its authorisation server. With both on offer, OAuth2 is used when a client id is set.
    async fn sca_step(
        &self,
        owner: &Owner,
        consent_id: String,
        links: &wire::Links,
    ) -> Result<SignInStep, ConnectorError> {
        let client_id = self.options.oauth_client_id.as_deref();
        let mut pending = ScaPending {
            consent_id,
            psu_ip_address: owner.psu_ip_address.clone(),
            oauth: None,
        };
        let url = match (links.get("scaRedirect"), links.get("scaOAuth"), client_id) {
            (_, Some(metadata_link), Some(client_id)) => {
                let metadata_url = self.client.resolve_link(metadata_link)?;
                let metadata = oauth::metadata(&self.client, metadata_url).await?;
                let authorisation = oauth::authorisation(
                    &metadata,
                    client_id,
                    &pending.consent_id,
                    &owner.redirect_uri,
                )?;
                pending.oauth = Some(authorisation.pending);
                authorisation.url
            }
            (Some(redirect), _, _) => self.client.resolve_link(redirect)?,
            (None, Some(_), None) => {
                return Err(ConnectorError::Unsupported(
                    "the OAuth2 SCA approach without an OAuth client id",
                ));
            }
            (None, None, _) => {
                let embedded_or_decoupled = links.names().any(|name| {
                    name.starts_with("startAuthorisationWith")
                        || name.starts_with("updatePsu")
                        || name == "selectAuthenticationMethod"
                        || name == "authoriseTransaction"
                });
                return Err(if embedded_or_decoupled {
                    ConnectorError::Unsupported("the embedded and decoupled SCA approaches")
                } else {
                    errors::protocol("the consent came without an SCA link", "")
                });
            }
        };
        Ok(SignInStep::Redirect {
            url: url.to_string(),
            pending: Pending::Sca(pending).encode()?,
        })
    }

    /// The owner is back from SCA: check the callback, get the token (OAuth2), then read the
    /// consent's status and the consent itself.
    async fn finish_sca(
        &self,
        pending: ScaPending,
        params: &BTreeMap<String, String>,
    ) -> Result<BankSession, ConnectorError> {
        if let Some(error) = params.get("error") {
            return Err(callback_error(error));
        }
        if params
            .get("consentId")
            .is_some_and(|returned| *returned != pending.consent_id)
        {
            return Err(errors::protocol(
                "the bank sent the owner back for another consent",
                "",
            ));
        }
        let access_token = match &pending.oauth {
            Some(flow) => Some(self.oauth_token(flow, params).await?),
            None => None,
        };
        let secret = SessionSecret {
            consent_id: pending.consent_id,
            access_token,
            revocation_endpoint: pending.oauth.and_then(|flow| flow.revocation_endpoint),
        };
        let ip = pending.psu_ip_address.as_deref();

        let status: wire::ConsentStatus = self.read_consent(&secret, &["status"], ip).await?;
        consent::require_valid(&status.consent_status)?;
        let information: wire::ConsentInformation = self.read_consent(&secret, &[], ip).await?;
        consent::check_read_back(&information)?;

        Ok(BankSession {
            secret: secret.encode()?,
            sca_at: Utc::now(),
        })
    }

    /// The access token an OAuth2 callback's `code` is traded for, once its `state` is
    /// found to be the one sent.
    async fn oauth_token(
        &self,
        flow: &OAuthPending,
        params: &BTreeMap<String, String>,
    ) -> Result<String, ConnectorError> {
        let state = params.get("state").map(String::as_str).unwrap_or("");
        if !oauth::state_matches(&flow.state, state) {
            return Err(errors::protocol(
                "the OAuth state of the callback is not the one sent",
                "",
            ));
        }
        let code = params
            .get("code")
            .filter(|c| !c.is_empty())
            .ok_or_else(|| errors::protocol("the OAuth callback has no code", ""))?;
        let client_id = self.options.oauth_client_id.as_deref();
        oauth::exchange_code(&self.client, flow, client_id, code).await
    }

    /// `GET /v1/consents/{id}` and the `suffix` segments under it, as the sign-in finishes:
    /// with the owner's address (`psu_ip_address`), as they are present, and the OAuth2 token
    /// when there is one.
    async fn read_consent<T: DeserializeOwned>(
        &self,
        secret: &SessionSecret,
        suffix: &[&str],
        psu_ip_address: Option<&str>,
    ) -> Result<T, ConnectorError> {
        let mut segments = vec!["v1", "consents", secret.consent_id.as_str()];
        segments.extend_from_slice(suffix);
        let url = self.client.endpoint(&segments)?;
        let builder = with_psu(
            self.client.consented(Method::GET, url, secret, false),
            None,
            psu_ip_address,
        );
        let answer = self.client.send(builder, Request::Other).await?;
        parse(&answer.body)
    }
}

/// The `error` a bank (redirect) or its authorisation server (OAuth2, RFC 6749 4.1.2.1)
/// sends the owner back with.
fn callback_error(error: &str) -> ConnectorError {
    match error {
        "access_blocked" => ConnectorError::AccessBlocked,
        "server_error" | "temporarily_unavailable" => {
            ConnectorError::Transient(format!("the bank's SCA failed with {error}"))
        }
        // invalid_credentials, access_denied and whatever else: the owner did not get through.
        _ => ConnectorError::InvalidCredentials,
    }
}
