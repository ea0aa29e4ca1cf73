use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::{
    Account, BankProfile, Card, CardTransaction, ConnectorError, DateWindow, Owner, Transaction,
};

/// One bank protocol family. Many banks can share one connector; each bank gets its own
/// instance, built with the bank's base URL and profile.
#[async_trait]
pub trait Connector: Send + Sync {
    /// What this bank can do.
    fn profile(&self) -> &BankProfile;

    /// Starts a sign-in: the bank either needs the owner redirected to its SCA page or a form.
    async fn begin_sign_in(&self, request: &SignInRequest) -> Result<SignInStep, ConnectorError>;

    /// Finishes a sign-in once the owner is back from the bank.
    async fn complete_sign_in(
        &self,
        callback: &SignInCallback,
    ) -> Result<BankSession, ConnectorError>;

    async fn owners(&self, session: &BankSession) -> Result<Vec<Owner>, ConnectorError>;

    /// The accounts the consent covers, each with its balances.
    async fn accounts(&self, session: &BankSession) -> Result<Vec<Account>, ConnectorError>;

    /// One page of an account's booked and pending transactions inside `window`.
    async fn transactions(
        &self,
        session: &BankSession,
        account: &Account,
        window: DateWindow,
        page: Option<&PageCursor>,
    ) -> Result<Page<Transaction>, ConnectorError>;

    /// The card accounts the consent covers, each with its balances.
    async fn cards(&self, session: &BankSession) -> Result<Vec<Card>, ConnectorError>;

    /// One page of a card's transactions inside `window`.
    async fn card_transactions(
        &self,
        session: &BankSession,
        card: &Card,
        window: DateWindow,
        page: Option<&PageCursor>,
    ) -> Result<Page<CardTransaction>, ConnectorError>;

    /// Ends the access at the bank (deletes the consent, revokes the token).
    async fn end_session(&self, session: &BankSession) -> Result<(), ConnectorError>;
}

/// What Aisle knows when an owner starts signing in.
#[derive(Debug, Clone)]
pub struct SignInRequest {
    /// The owner's login at the bank when the bank wants it up front (Berlin Group `PSU-ID`).
    pub psu_id: Option<String>,
    /// The owner's IP address, when the owner is present.
    pub psu_ip_address: Option<String>,
    /// Where the bank sends the owner back after SCA.
    pub redirect_uri: String,
    /// The oldest day of history the owner agreed to share, when the sign-in limited it.
    pub max_import_date: Option<chrono::NaiveDate>,
}

/// The next step of a sign-in.
#[derive(Debug, Clone)]
pub enum SignInStep {
    /// Send the owner to `url`; keep `pending` to complete the sign-in afterwards.
    Redirect { url: String, pending: String },
}

/// What Aisle has when the owner is back from the bank.
#[derive(Debug, Clone)]
pub struct SignInCallback {
    /// The `pending` state from [`SignInStep::Redirect`].
    pub pending: String,
}

/// The access a completed sign-in yields. `secret` is connector-defined (a consent id, a
/// token); it is never logged.
#[derive(Clone)]
pub struct BankSession {
    pub secret: String,
    /// When the owner passed strong customer authentication.
    pub sca_at: DateTime<Utc>,
}

impl fmt::Debug for BankSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BankSession")
            .field("secret", &"[redacted]")
            .field("sca_at", &self.sca_at)
            .finish()
    }
}

/// Where the next page of a listing starts; opaque to everyone but the connector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageCursor(pub String);

/// One page of a listing.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<PageCursor>,
}
