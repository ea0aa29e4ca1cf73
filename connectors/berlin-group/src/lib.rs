//! The Berlin Group NextGenPSD2 (XS2A) account-information connector.
//!
//! Sign-in creates a single-access AIS consent (all accounts, bank-offered, or dedicated
//! accounts: [`ConsentMode`]), takes the owner through the bank's SCA — the redirect
//! approach (`scaRedirect`) or the OAuth2 approach (`scaOAuth`, with PKCE) — and checks the
//! consent is valid when they come back. The session secret holds the consent id and, with
//! OAuth2, the access token; every read sends `Consent-ID` (and `Authorization: Bearer`).
//! `end_session` deletes the consent and revokes the token.
//!
//! The calls, headers and error mapping are listed in this crate's README.

mod client;
mod consent;
mod errors;
#[doc(hidden)]
pub mod fuzzing;
mod iban;
mod mapping;
mod oauth;
mod options;
mod reads;
mod session_end;
mod sign_in;
mod snippet;
mod state;
mod wire;

use aisle_sdk::{
    Account, BankProfile, BankSession, Card, CardTransaction, Connector, ConnectorError,
    DateWindow, Owner, Page, PageCursor, SignInCallback, SignInProgress, SignInRequest, SignInStep,
    Transaction,
};
use async_trait::async_trait;
use url::Url;

use crate::client::BankClient;
use crate::options::Options;

pub use crate::options::{AmountSigns, ConsentMode, ScaApproach};
pub use crate::sign_in::{
    ACCOUNT_REFERENCE_FIELD, OTP_FIELD, PASSWORD_FIELD, PSU_ID_FIELD, SCA_METHOD_FIELD,
};

/// The Berlin Group profile defaults; the bank registry overrides them per bank.
pub fn default_profile() -> BankProfile {
    BankProfile::default()
}

/// A connector to one Berlin Group bank.
#[derive(Debug, Clone)]
pub struct BerlinGroupConnector {
    client: BankClient,
    profile: BankProfile,
    options: Options,
}

impl BerlinGroupConnector {
    /// `base_url` is the bank's XS2A root (the part before `/v1`); `http` carries the
    /// service's timeouts (and, at a real bank, the TPP's eIDAS client certificate).
    /// Defaults: an all-accounts consent, the redirect SCA approach (OAuth2 needs a client
    /// id), balances asked with the account list, amount signs detected per page, four
    /// unattended reads a day, a consent valid until tomorrow.
    pub fn new(base_url: Url, profile: BankProfile, http: reqwest::Client) -> Self {
        Self {
            client: BankClient::new(base_url, http, profile.max_body_bytes),
            profile,
            options: Options::default(),
        }
    }

    /// Which accounts the consent asks for.
    pub fn with_consent_mode(mut self, mode: ConsentMode) -> Self {
        self.options.consent_mode = mode;
        self
    }

    /// The TPP's client id at the bank's OAuth2 authorisation server. Without it a bank that
    /// offers only the OAuth2 SCA approach answers `Unsupported`; with it, OAuth2 is used
    /// whenever the bank offers it.
    pub fn with_oauth_client_id(mut self, client_id: impl Into<String>) -> Self {
        self.options.oauth_client_id = Some(client_id.into());
        self
    }

    /// Whether to ask for balances with the account list (`withBalance=true`). Off, each
    /// account's balances are read with a call of their own.
    pub fn with_balances_in_account_list(mut self, ask: bool) -> Self {
        self.options.balances_in_account_list = ask;
        self
    }

    /// How the bank signs transaction amounts.
    pub fn with_amount_signs(mut self, signs: AmountSigns) -> Self {
        self.options.amount_signs = signs;
        self
    }

    /// The SCA approach the bank is asked to prefer; the bank's answer decides.
    pub fn with_sca_preference(mut self, approach: ScaApproach) -> Self {
        self.options.sca_preference = approach;
        self
    }

    /// The TPP's own IPv4 address, sent as `PSU-IP-Address` where the owner's cannot be: an
    /// IPv6 owner at a bank that takes IPv4 only, or a sign-in without the owner present
    /// (the spec: "If not available, the TPP shall use the IP Address used by the TPP").
    pub fn with_tpp_ip_address(mut self, address: std::net::Ipv4Addr) -> Self {
        self.options.tpp_ip_address = Some(address);
        self
    }

    /// Whether the bank takes an IPv6 `PSU-IP-Address` (default: no, the spec types the
    /// header `ipv4`).
    pub fn with_psu_ipv6(mut self, accepted: bool) -> Self {
        self.options.psu_ipv6 = accepted;
        self
    }

    /// How many days after today the consent's `validUntil` lies (at least 1).
    pub fn with_consent_validity_days(mut self, days: u32) -> Self {
        self.options.consent_validity_days = days;
        self
    }
}

#[async_trait]
impl Connector for BerlinGroupConnector {
    fn profile(&self) -> &BankProfile {
        &self.profile
    }

    async fn begin_sign_in(&self, request: &SignInRequest) -> Result<SignInStep, ConnectorError> {
        self.begin(request).await
    }

    async fn complete_sign_in(
        &self,
        callback: &SignInCallback,
    ) -> Result<SignInProgress, ConnectorError> {
        self.complete(callback).await
    }

    async fn owners(&self, session: &BankSession) -> Result<Vec<Owner>, ConnectorError> {
        self.read_owners(session).await
    }

    async fn accounts(&self, session: &BankSession) -> Result<Vec<Account>, ConnectorError> {
        self.read_accounts(session).await
    }

    async fn transactions(
        &self,
        session: &BankSession,
        account: &Account,
        window: DateWindow,
        page: Option<&PageCursor>,
    ) -> Result<Page<Transaction>, ConnectorError> {
        self.read_transactions(session, account, window, page).await
    }

    async fn cards(&self, session: &BankSession) -> Result<Vec<Card>, ConnectorError> {
        self.read_cards(session).await
    }

    async fn card_transactions(
        &self,
        session: &BankSession,
        card: &Card,
        window: DateWindow,
        page: Option<&PageCursor>,
    ) -> Result<Page<CardTransaction>, ConnectorError> {
        self.read_card_transactions(session, card, window, page)
            .await
    }

    async fn end_session(&self, session: &BankSession) -> Result<(), ConnectorError> {
        self.end(session).await
    }
}
