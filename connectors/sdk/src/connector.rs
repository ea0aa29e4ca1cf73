use std::collections::BTreeMap;
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

    /// Takes the owner's answer to the last step: the query parameters the bank's redirect
    /// brought back, or the fields of the form. Either the sign-in is done or another step
    /// follows (a one-time code after the credentials, say).
    async fn complete_sign_in(
        &self,
        callback: &SignInCallback,
    ) -> Result<SignInProgress, ConnectorError>;

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
    /// Ask the bank for strong customer authentication even where it could skip it, so that
    /// history older than the free 90 days can be read.
    pub force_sca: bool,
}

/// The next step of a sign-in. `pending` is connector-defined state Aisle keeps (encrypted)
/// between steps and hands back in [`SignInCallback::pending`]; it may hold secrets.
#[derive(Clone)]
pub enum SignInStep {
    /// Send the owner's browser to `url`; the bank sends it back to the request's
    /// `redirect_uri` with query parameters that go into [`SignInCallback::params`].
    Redirect { url: String, pending: String },
    /// Show the owner a form with these fields; their answers go into
    /// [`SignInCallback::params`], keyed by [`FormField::name`].
    Form {
        fields: Vec<FormField>,
        pending: String,
    },
    /// Show the owner one choice among `options` (the SCA method when the bank offers
    /// several); the chosen [`ChoiceOption::value`] goes into [`SignInCallback::params`]
    /// under `name`.
    Choose {
        name: String,
        label: String,
        options: Vec<ChoiceOption>,
        pending: String,
    },
    /// The owner approves elsewhere (the bank's app, decoupled SCA): show `message` while
    /// waiting, and complete the sign-in again with empty params no sooner than `poll_after`.
    Wait {
        message: String,
        poll_after: std::time::Duration,
        pending: String,
    },
}

/// One option of a [`SignInStep::Choose`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChoiceOption {
    /// What is answered when this option is chosen; opaque to Aisle.
    pub value: String,
    /// What the owner sees.
    pub label: String,
}

impl fmt::Debug for SignInStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Redirect { url, .. } => f
                .debug_struct("Redirect")
                .field("url", url)
                .field("pending", &"[redacted]")
                .finish(),
            Self::Form { fields, .. } => f
                .debug_struct("Form")
                .field("fields", fields)
                .field("pending", &"[redacted]")
                .finish(),
            Self::Choose { name, options, .. } => f
                .debug_struct("Choose")
                .field("name", name)
                .field("options", options)
                .field("pending", &"[redacted]")
                .finish(),
            Self::Wait { poll_after, .. } => f
                .debug_struct("Wait")
                .field("poll_after", poll_after)
                .field("pending", &"[redacted]")
                .finish(),
        }
    }
}

/// One field of a sign-in form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormField {
    /// The key of the answer in [`SignInCallback::params`] (`accountReference`, `otp`, ...).
    pub name: String,
    /// What the owner sees, in English.
    pub label: String,
    pub kind: FormFieldKind,
}

/// How a form field is entered and shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormFieldKind {
    Text,
    /// A calendar date, answered as `YYYY-MM-DD`.
    Date,
    Phone,
    /// A secret the owner types: never echoed, never logged.
    Secret,
    /// A one-time code the bank sent the owner.
    OneTimeCode,
}

/// What Aisle has when the owner answered a step.
#[derive(Clone)]
pub struct SignInCallback {
    /// The `pending` state of the step being answered.
    pub pending: String,
    /// The redirect's query parameters, or the form's fields.
    pub params: BTreeMap<String, String>,
}

impl fmt::Debug for SignInCallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignInCallback")
            .field("pending", &"[redacted]")
            .field("params", &self.params.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Where a sign-in stands after the owner answered a step.
#[derive(Debug, Clone)]
pub enum SignInProgress {
    Done(BankSession),
    Next(SignInStep),
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
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PageCursor(pub String);

/// One page of a listing.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<PageCursor>,
}
