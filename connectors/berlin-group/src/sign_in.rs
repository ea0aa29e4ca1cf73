//! Sign-in: create the consent, take the owner through the bank's SCA, and check the
//! consent is valid when SCA is over.
//!
//! The approach comes from the bank's answer: its `ASPSP-SCA-Approach` header when it sends
//! one, else its links (`scaRedirect`, `scaOAuth`, `startAuthorisationWithPsuIdentification`,
//! `startAuthorisationWithPsuAuthentication`, ...); the bank's preference in `banks.toml`
//! only asks (`TPP-Redirect-Preferred`, `TPP-Decoupled-Preferred`).
//!
//! - Redirect (and OAuth2): the owner goes to the bank's page and comes back.
//! - Decoupled: the owner names their bank login, approves in the bank's app, and the widget
//!   polls the authorisation's `scaStatus` (a [`SignInStep::Wait`] each time).
//! - Embedded: login and password in the widget's form, the SCA method when the bank offers
//!   several, then the one-time code.
//!
//! Each call makes a fixed, small number of requests and never waits. Once a consent exists,
//! every failure deletes it before it is reported: a sign-in that fails leaves no access
//! standing at the bank.

use std::collections::BTreeMap;
use std::time::Duration;

use aisle_sdk::{
    BankSession, ChoiceOption, ConnectorError, FormField, FormFieldKind, SignInCallback,
    SignInProgress, SignInRequest, SignInStep,
};
use chrono::Utc;
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::BerlinGroupConnector;
use crate::client::{Answer, parse, with_psu};
use crate::consent::{self, Access};
use crate::errors::{self, Request};
use crate::iban;
use crate::oauth;
use crate::options::{ConsentMode, ScaApproach};
use crate::state::{
    ConfirmingPending, DecoupledPending, EmbeddedPending, EmbeddedStage, IdentificationPending,
    Identified, OAuthPending, Owner, Pending, ScaPending, SessionSecret,
};
use crate::wire;

/// The form field of the account-selection step (dedicated-accounts consent).
pub const ACCOUNT_REFERENCE_FIELD: &str = "accountReference";
/// The owner's login at the bank (`PSU-ID`), asked for by the decoupled and embedded steps.
pub const PSU_ID_FIELD: &str = "psuId";
/// The owner's bank password (embedded).
pub const PASSWORD_FIELD: &str = "password";
/// The SCA method chosen among several (embedded).
pub const SCA_METHOD_FIELD: &str = "scaMethod";
/// The one-time code (embedded).
pub const OTP_FIELD: &str = "otp";

/// How long the widget waits between two polls when the bank gives no pace of its own.
const DEFAULT_POLL: Duration = Duration::from_secs(3);
/// The bank's `Retry-After` is honoured within these bounds: a bank asking for less would
/// have the widget hammer it, one asking for more would outlast the owner's patience.
const POLL_BOUNDS: (Duration, Duration) = (Duration::from_secs(1), Duration::from_secs(30));

/// The approach a bank's answer fixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Approach {
    Redirect,
    Decoupled,
    Embedded,
    /// The bank left it open: an explicit start follows, and its answer decides.
    Open,
}

/// The approach an answer fixes: the `ASPSP-SCA-Approach` header, else its links.
fn approach(header: Option<&str>, answer: &wire::ScaAnswer) -> Result<Approach, ConnectorError> {
    match header {
        // The spec subsumes OAuth under REDIRECT.
        Some("REDIRECT" | "OAUTH") => return Ok(Approach::Redirect),
        Some("DECOUPLED") => return Ok(Approach::Decoupled),
        Some("EMBEDDED") => return Ok(Approach::Embedded),
        Some(other) => {
            return Err(errors::protocol(
                format!("the bank named an unknown SCA approach {other:?}"),
                "",
            ));
        }
        None => {}
    }
    let links = &answer.links;
    let has = |name: &str| links.get(name).is_some();
    Ok(if has("scaRedirect") || has("scaOAuth") {
        Approach::Redirect
    } else if has("startAuthorisationWithPsuAuthentication")
        || has("startAuthorisationWithEncryptedPsuAuthentication")
        || has("updatePsuAuthentication")
        || has("selectAuthenticationMethod")
        || has("authoriseTransaction")
        || !answer.sca_methods.is_empty()
    {
        Approach::Embedded
    } else if has("startAuthorisationWithPsuIdentification") || has("updatePsuIdentification") {
        // Identification without a password: the owner authenticates in the bank's app
        // (consentResponseExample3_Decoupled).
        Approach::Decoupled
    } else {
        Approach::Open
    })
}

/// The link that starts an authorisation, whichever name the bank gives it.
fn start_link(links: &wire::Links) -> Option<&str> {
    [
        "startAuthorisation",
        "startAuthorisationWithPsuIdentification",
        "startAuthorisationWithPsuAuthentication",
        "startAuthorisationWithAuthenticationMethodSelection",
    ]
    .iter()
    .find_map(|name| links.get(name))
}

impl BerlinGroupConnector {
    pub(crate) async fn begin(
        &self,
        request: &SignInRequest,
    ) -> Result<SignInStep, ConnectorError> {
        let mut owner = Owner::from(request);
        owner.psu_ip_address = self.psu_ip_address(request.psu_ip_address.as_deref());
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

    /// The `PSU-IP-Address` to send for an owner at `raw` (their address as Aisle saw it).
    /// The spec types the header `ipv4`: an IPv4-mapped IPv6 address is sent as the IPv4 it
    /// is; a real IPv6 address goes as it is only to a bank that takes one, else the TPP's
    /// own IPv4 address stands in when configured, as the spec says for an address not
    /// available. Without any owner address the TPP's stands in too (the header is mandatory
    /// on `POST /v1/consents`).
    fn psu_ip_address(&self, raw: Option<&str>) -> Option<String> {
        use std::net::IpAddr;
        let tpp = self.options.tpp_ip_address.map(|ip| ip.to_string());
        let Some(address) = raw.and_then(|r| r.trim().parse::<IpAddr>().ok()) else {
            return tpp;
        };
        match address {
            IpAddr::V4(v4) => Some(v4.to_string()),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Some(v4.to_string()),
                None if self.options.psu_ipv6 => Some(v6.to_string()),
                None => tpp.or_else(|| {
                    tracing::info!(
                        "an IPv6 owner address goes to a bank that takes IPv4 (set tpp_ip_address)"
                    );
                    Some(v6.to_string())
                }),
            },
        }
    }

    pub(crate) async fn complete(
        &self,
        callback: &SignInCallback,
    ) -> Result<SignInProgress, ConnectorError> {
        let params = &callback.params;
        match Pending::decode(&callback.pending)? {
            Pending::AccountSelection(owner) => {
                // The SDK has no "the owner typed something wrong" class; a refused answer to
                // the bank's own questions is the nearest.
                let ibans = params
                    .get(ACCOUNT_REFERENCE_FIELD)
                    .and_then(|text| iban::parse_list(text))
                    .ok_or(ConnectorError::InvalidCredentials)?;
                let step = self
                    .create_consent(&owner, &Access::Dedicated(&ibans))
                    .await?;
                Ok(SignInProgress::Next(step))
            }
            Pending::Sca(pending) => {
                let secret = SessionSecret::from_consent(pending.consent_id.clone());
                let outcome = self.finish_sca(pending, params).await;
                self.or_delete(&secret, outcome).await
            }
            Pending::Identification(pending) => {
                let secret = SessionSecret::from_consent(pending.consent_id.clone());
                let outcome = self.identified(&pending, params).await;
                self.or_delete(&secret, outcome).await
            }
            Pending::Decoupled(pending) => {
                let secret = SessionSecret::from_consent(pending.consent_id.clone());
                let outcome = self.poll_decoupled(pending).await;
                self.or_delete(&secret, outcome).await
            }
            Pending::Embedded(pending) => {
                let secret = SessionSecret::from_consent(pending.consent_id.clone());
                let outcome = self.embedded_answer(pending, params).await;
                self.or_delete(&secret, outcome).await
            }
            Pending::Confirming(pending) => {
                let secret = pending.secret.clone();
                let outcome = self.confirm(pending.secret, pending.psu_ip_address).await;
                self.or_delete(&secret, outcome).await
            }
        }
    }

    /// `outcome`, after deleting the consent when it is a failure: nothing completes a
    /// failed sign-in, and its consent must not stay valid at the bank.
    async fn or_delete<T>(
        &self,
        secret: &SessionSecret,
        outcome: Result<T, ConnectorError>,
    ) -> Result<T, ConnectorError> {
        if let Err(error) = &outcome {
            if let Err(left) = self.delete_consent(secret).await {
                tracing::warn!(%error, %left, "a failed sign-in's consent could not be deleted");
            } else {
                tracing::info!(%error, "a failed sign-in's consent was deleted");
            }
        }
        outcome
    }

    /// `POST /v1/consents`, then whatever the bank's answer asks for next.
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
        let secret = SessionSecret::from_consent(created.consent_id.clone());
        let step = self
            .after_consent(owner, created, answer.sca_approach.as_deref())
            .await;
        self.or_delete(&secret, step).await
    }

    /// The step a freshly created consent leads to.
    async fn after_consent(
        &self,
        owner: &Owner,
        created: wire::ConsentCreated,
        header: Option<&str>,
    ) -> Result<SignInStep, ConnectorError> {
        let consent_id = created.consent_id;
        let answer = created.sca;
        match approach(header, &answer)? {
            Approach::Redirect => {
                let links = match (start_link(&answer.links), has_sca_link(&answer.links)) {
                    (Some(start), false) => {
                        let started = self.start_authorisation(owner, start, None).await?;
                        if let Some(step) = self.decoupled_start(&consent_id, owner, &started)? {
                            return Ok(step);
                        }
                        started.1.links
                    }
                    _ => answer.links,
                };
                self.sca_step(owner, consent_id, &links).await
            }
            Approach::Decoupled | Approach::Embedded | Approach::Open => {
                let start = start_link(&answer.links)
                    .ok_or_else(|| errors::protocol("the consent came without an SCA link", ""))?;
                let fixed = approach(header, &answer)?;
                let wanted = match fixed {
                    Approach::Decoupled => Identified::Decoupled,
                    Approach::Embedded => Identified::Embedded,
                    // The bank lets the TPP choose: the preference decides.
                    _ => match self.options.sca_preference {
                        ScaApproach::Embedded => Identified::Embedded,
                        ScaApproach::Decoupled => Identified::Decoupled,
                        ScaApproach::Redirect => {
                            let started = self.start_authorisation(owner, start, None).await?;
                            if let Some(step) =
                                self.decoupled_start(&consent_id, owner, &started)?
                            {
                                return Ok(step);
                            }
                            return self.sca_step(owner, consent_id, &started.1.links).await;
                        }
                    },
                };
                if answer
                    .links
                    .get("startAuthorisationWithEncryptedPsuAuthentication")
                    .is_some()
                    && answer
                        .links
                        .get("startAuthorisationWithPsuAuthentication")
                        .is_none()
                {
                    return Err(ConnectorError::Unsupported(
                        "the embedded SCA approach with an encrypted password",
                    ));
                }
                self.identification_form(
                    IdentificationPending {
                        consent_id,
                        approach: wanted,
                        start: start.to_owned(),
                        psu_ip_address: owner.psu_ip_address.clone(),
                    },
                    owner.psu_id.as_deref(),
                )
                .await
            }
        }
    }

    /// The form asking the owner's bank login (and password, embedded). An owner whose
    /// login is already known skips it in the decoupled approach.
    async fn identification_form(
        &self,
        pending: IdentificationPending,
        psu_id: Option<&str>,
    ) -> Result<SignInStep, ConnectorError> {
        if let (Identified::Decoupled, Some(id)) = (pending.approach, psu_id) {
            let mut params = BTreeMap::new();
            params.insert(PSU_ID_FIELD.to_owned(), id.to_owned());
            return match self.identified(&pending, &params).await? {
                SignInProgress::Next(step) => Ok(step),
                SignInProgress::Done(_) => Err(errors::protocol(
                    "the bank finished SCA before the owner approved",
                    "",
                )),
            };
        }
        let mut fields = vec![FormField {
            name: PSU_ID_FIELD.to_owned(),
            label: "Your login at the bank".to_owned(),
            kind: FormFieldKind::Text,
        }];
        if pending.approach == Identified::Embedded {
            fields.push(FormField {
                name: PASSWORD_FIELD.to_owned(),
                label: "Your password at the bank".to_owned(),
                kind: FormFieldKind::Secret,
            });
        }
        Ok(SignInStep::Form {
            fields,
            pending: Pending::Identification(pending).encode()?,
        })
    }

    /// The owner named themselves (and, embedded, gave their password): start the
    /// authorisation with that.
    async fn identified(
        &self,
        pending: &IdentificationPending,
        params: &BTreeMap<String, String>,
    ) -> Result<SignInProgress, ConnectorError> {
        let field = |name: &str| {
            params
                .get(name)
                .map(|v| v.trim())
                .filter(|v| !v.is_empty())
                .ok_or(ConnectorError::InvalidCredentials)
        };
        let psu_id = field(PSU_ID_FIELD)?.to_owned();
        let owner = Owner {
            redirect_uri: String::new(),
            psu_id: Some(psu_id.clone()),
            psu_ip_address: pending.psu_ip_address.clone(),
        };
        let body = match pending.approach {
            Identified::Decoupled => None,
            Identified::Embedded => Some(json!({"psuData": {"password": field(PASSWORD_FIELD)?}})),
        };
        let started = self
            .start_authorisation(&owner, &pending.start, body)
            .await?;
        if let Some(step) = self.decoupled_start(&pending.consent_id, &owner, &started)? {
            return Ok(SignInProgress::Next(step));
        }
        let (_, answer) = started;
        match pending.approach {
            Identified::Embedded => {
                self.embedded_next(
                    &pending.consent_id,
                    psu_id,
                    pending.psu_ip_address.clone(),
                    answer,
                )
                .await
            }
            Identified::Decoupled => Err(errors::protocol(
                "the bank answered a decoupled start without an SCA status link",
                "",
            )),
        }
    }

    /// `POST` an authorisation start (`startAuthorisation...`), with `body` (the embedded
    /// password) or `{}`; the answer's approach header and body.
    async fn start_authorisation(
        &self,
        owner: &Owner,
        href: &str,
        body: Option<Value>,
    ) -> Result<(Option<String>, wire::ScaAnswer), ConnectorError> {
        let url = self.client.resolve_api_link(href)?;
        let builder = self
            .sign_in_request(Method::POST, url, owner)
            .json(&body.unwrap_or_else(|| json!({})));
        let answer = self.client.send(builder, Request::Other).await?;
        Ok((answer.sca_approach.clone(), parse(&answer.body)?))
    }

    /// When an authorisation answer is decoupled (its header says so, or it names no other
    /// way forward and gives an `scaStatus` link), the waiting step.
    fn decoupled_start(
        &self,
        consent_id: &str,
        owner: &Owner,
        (header, answer): &(Option<String>, wire::ScaAnswer),
    ) -> Result<Option<SignInStep>, ConnectorError> {
        let decoupled = match header.as_deref() {
            Some("DECOUPLED") => true,
            Some(_) => false,
            None => {
                !has_sca_link(&answer.links)
                    && answer.links.get("authoriseTransaction").is_none()
                    && answer.links.get("selectAuthenticationMethod").is_none()
                    && answer.sca_methods.is_empty()
                    && answer.psu_message.is_some()
            }
        };
        if !decoupled {
            return Ok(None);
        }
        let status = answer.links.get("scaStatus").ok_or_else(|| {
            errors::protocol(
                "a decoupled authorisation came without an scaStatus link",
                "",
            )
        })?;
        let pending = DecoupledPending {
            consent_id: consent_id.to_owned(),
            status: status.to_owned(),
            message: answer
                .psu_message
                .clone()
                .unwrap_or_else(|| "Please approve the access in your bank's app.".to_owned()),
            psu_ip_address: owner.psu_ip_address.clone(),
        };
        Ok(Some(wait(
            pending.message.clone(),
            DEFAULT_POLL,
            Pending::Decoupled(pending),
        )?))
    }

    /// One poll of a decoupled authorisation: `GET` its `scaStatus`.
    async fn poll_decoupled(
        &self,
        pending: DecoupledPending,
    ) -> Result<SignInProgress, ConnectorError> {
        let url = self.client.resolve_api_link(&pending.status)?;
        let secret = SessionSecret::from_consent(pending.consent_id.clone());
        let builder = with_psu(
            self.client.consented(Method::GET, url, &secret, false),
            None,
            pending.psu_ip_address.as_deref(),
        );
        let answer = self.client.send(builder, Request::Other).await?;
        let status: wire::ScaAnswer = parse(&answer.body)?;
        match sca_progress(status.sca_status.as_deref())? {
            ScaProgress::Finalised => self.confirm(secret, pending.psu_ip_address).await,
            ScaProgress::Waiting => {
                let pace = poll_pace(&answer);
                let message = pending.message.clone();
                Ok(SignInProgress::Next(wait(
                    message,
                    pace,
                    Pending::Decoupled(pending),
                )?))
            }
        }
    }

    /// The embedded step an authorisation answer leads to: the method choice, the
    /// one-time code, or the end of SCA.
    async fn embedded_next(
        &self,
        consent_id: &str,
        psu_id: String,
        psu_ip_address: Option<String>,
        answer: wire::ScaAnswer,
    ) -> Result<SignInProgress, ConnectorError> {
        if let ScaProgress::Finalised = sca_progress(answer.sca_status.as_deref())? {
            let secret = SessionSecret::from_consent(consent_id.to_owned());
            return self.confirm(secret, psu_ip_address).await;
        }
        let links = &answer.links;
        if let (Some(href), true) = (
            links.get("selectAuthenticationMethod"),
            answer.sca_methods.len() > 1 || links.get("authoriseTransaction").is_none(),
        ) {
            if answer.sca_methods.is_empty() {
                return Err(errors::protocol(
                    "the bank asks for an SCA method but offers none",
                    "",
                ));
            }
            let options = answer
                .sca_methods
                .iter()
                .map(|m| ChoiceOption {
                    value: m.authentication_method_id.clone(),
                    label: method_label(m),
                })
                .collect();
            let pending = EmbeddedPending {
                consent_id: consent_id.to_owned(),
                stage: EmbeddedStage::SelectMethod,
                href: href.to_owned(),
                psu_id,
                method_ids: answer
                    .sca_methods
                    .iter()
                    .map(|m| m.authentication_method_id.clone())
                    .collect(),
                psu_ip_address,
            };
            return Ok(SignInProgress::Next(SignInStep::Choose {
                name: SCA_METHOD_FIELD.to_owned(),
                label: "How would you like to confirm?".to_owned(),
                options,
                pending: Pending::Embedded(pending).encode()?,
            }));
        }
        let href = links.get("authoriseTransaction").ok_or_else(|| {
            errors::protocol("the embedded authorisation came without a next step", "")
        })?;
        let method = answer
            .chosen_sca_method
            .as_ref()
            .or_else(|| answer.sca_methods.first())
            .map(method_label);
        let hint = answer
            .challenge_data
            .as_ref()
            .and_then(|c| c.additional_information.clone());
        let label = match (method, hint) {
            (_, Some(hint)) => hint,
            (Some(method), None) => format!("The one-time code from {method}"),
            (None, None) => "The one-time code the bank sent you".to_owned(),
        };
        let pending = EmbeddedPending {
            consent_id: consent_id.to_owned(),
            stage: EmbeddedStage::OneTimeCode,
            href: href.to_owned(),
            psu_id,
            method_ids: Vec::new(),
            psu_ip_address,
        };
        Ok(SignInProgress::Next(SignInStep::Form {
            fields: vec![FormField {
                name: OTP_FIELD.to_owned(),
                label,
                kind: FormFieldKind::OneTimeCode,
            }],
            pending: Pending::Embedded(pending).encode()?,
        }))
    }

    /// The owner chose an SCA method or typed the code: `PUT` it to the authorisation.
    async fn embedded_answer(
        &self,
        pending: EmbeddedPending,
        params: &BTreeMap<String, String>,
    ) -> Result<SignInProgress, ConnectorError> {
        let (field, key) = match pending.stage {
            EmbeddedStage::SelectMethod => (SCA_METHOD_FIELD, "authenticationMethodId"),
            EmbeddedStage::OneTimeCode => (OTP_FIELD, "scaAuthenticationData"),
        };
        let value = params
            .get(field)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
            .ok_or(ConnectorError::InvalidCredentials)?;
        if pending.stage == EmbeddedStage::SelectMethod
            && !pending.method_ids.iter().any(|id| id == value)
        {
            return Err(ConnectorError::InvalidCredentials);
        }
        let url = self.client.resolve_api_link(&pending.href)?;
        let owner = Owner {
            redirect_uri: String::new(),
            psu_id: Some(pending.psu_id.clone()),
            psu_ip_address: pending.psu_ip_address.clone(),
        };
        let builder = with_psu(
            self.client.request(Method::PUT, url),
            owner.psu_id.as_deref(),
            owner.psu_ip_address.as_deref(),
        )
        .json(&json!({ key: value }));
        let answer = self.client.send(builder, Request::Other).await?;
        let answer: wire::ScaAnswer = parse(&answer.body)?;
        if pending.stage == EmbeddedStage::OneTimeCode
            && !matches!(
                sca_progress(answer.sca_status.as_deref())?,
                ScaProgress::Finalised
            )
        {
            return Err(errors::protocol(
                "the bank did not finish SCA after the one-time code",
                "",
            ));
        }
        self.embedded_next(
            &pending.consent_id,
            pending.psu_id,
            pending.psu_ip_address,
            answer,
        )
        .await
    }

    /// A request made while the owner signs in: where to send them back, which approach
    /// Aisle prefers, and who the owner is.
    fn sign_in_request(
        &self,
        method: Method,
        url: url::Url,
        owner: &Owner,
    ) -> reqwest::RequestBuilder {
        let preference = self.options.sca_preference;
        let mut builder = self.client.request(method, url).header(
            "TPP-Redirect-Preferred",
            if preference == ScaApproach::Redirect {
                "true"
            } else {
                "false"
            },
        );
        if preference == ScaApproach::Decoupled {
            builder = builder.header("TPP-Decoupled-Preferred", "true");
        }
        if !owner.redirect_uri.is_empty() {
            builder = builder
                .header("TPP-Redirect-URI", &owner.redirect_uri)
                // Aisle's callback reads the outcome from the parameters, so one URI serves both.
                .header("TPP-Nok-Redirect-URI", &owner.redirect_uri);
        }
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
                return Err(errors::protocol(
                    "the redirect approach came without an SCA link",
                    "",
                ));
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
    ) -> Result<SignInProgress, ConnectorError> {
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
            granted: None,
        };
        self.confirm(secret, pending.psu_ip_address).await
    }

    /// SCA is over: the consent's status must be valid (or it is polled again while the
    /// bank still works on it, as `received` and `partiallyAuthorised` allow), then the
    /// consent is read back and checked.
    async fn confirm(
        &self,
        mut secret: SessionSecret,
        psu_ip_address: Option<String>,
    ) -> Result<SignInProgress, ConnectorError> {
        let ip = psu_ip_address.as_deref();
        let status: wire::ConsentStatus = self.read_consent(&secret, &["status"], ip).await?;
        if consent::awaiting_authorisation(&status.consent_status) {
            let pending = ConfirmingPending {
                secret,
                psu_ip_address,
            };
            return Ok(SignInProgress::Next(wait(
                "Waiting for the bank to confirm the access.".to_owned(),
                DEFAULT_POLL,
                Pending::Confirming(pending),
            )?));
        }
        consent::require_valid(&status.consent_status)?;
        let information: wire::ConsentInformation = self.read_consent(&secret, &[], ip).await?;
        secret.granted = consent::check_read_back(&information, Utc::now().date_naive())?;
        Ok(SignInProgress::Done(BankSession {
            secret: secret.encode()?,
            sca_at: Utc::now(),
        }))
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

/// Whether a link sends the owner to the bank's own SCA (redirect or OAuth2).
fn has_sca_link(links: &wire::Links) -> bool {
    links.get("scaRedirect").is_some() || links.get("scaOAuth").is_some()
}

/// The waiting step: `message` shown, the sign-in completed again after `poll_after`.
fn wait(
    message: String,
    poll_after: Duration,
    pending: Pending,
) -> Result<SignInStep, ConnectorError> {
    Ok(SignInStep::Wait {
        message,
        poll_after,
        pending: pending.encode()?,
    })
}

/// How long to wait before polling again: the bank's `Retry-After`, within bounds.
fn poll_pace(answer: &Answer) -> Duration {
    answer
        .retry_after
        .as_deref()
        .and_then(|raw| aisle_sdk::parse_retry_after(raw, Utc::now()))
        .map_or(DEFAULT_POLL, |d| d.clamp(POLL_BOUNDS.0, POLL_BOUNDS.1))
}

/// Where an authorisation's SCA stands.
enum ScaProgress {
    Finalised,
    Waiting,
}

/// An authorisation's `scaStatus`: done, still going, or failed for good.
fn sca_progress(status: Option<&str>) -> Result<ScaProgress, ConnectorError> {
    match status {
        // `exempted`: the bank needed no SCA; the consent status says the rest.
        Some("finalised" | "exempted") => Ok(ScaProgress::Finalised),
        Some(
            "received" | "psuIdentified" | "psuAuthenticated" | "scaMethodSelected" | "started"
            | "unconfirmed",
        )
        | None => Ok(ScaProgress::Waiting),
        Some("failed") => Err(ConnectorError::InvalidCredentials),
        Some(other) => Err(errors::protocol(
            format!("the authorisation has an unknown scaStatus {other:?}"),
            "",
        )),
    }
}

/// What the owner sees for an SCA method: its name, else its type.
fn method_label(method: &wire::ScaMethod) -> String {
    method
        .name
        .clone()
        .or_else(|| method.authentication_type.clone())
        .unwrap_or_else(|| method.authentication_method_id.clone())
}
