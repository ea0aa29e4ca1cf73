//! Headless sign-in at a sandbox bank: the same consent and SCA flow an owner goes through,
//! with the SCA step approved by us instead of a browser. Only for banks marked sandbox.

use std::collections::BTreeMap;

use aisle_sdk::{
    ConnectorError, FormField, SignInCallback, SignInProgress, SignInRequest, SignInStep,
};
use chrono::NaiveDate;
use uuid::Uuid;

use super::session::{IssuedSession, Issuer, SignedIn};
use crate::{commands::start::EnqueueError, registry::Registry, store::clients};

pub struct HeadlessSignIn<'a> {
    pub client_id: Uuid,
    pub bank_id: &'a str,
    pub login: &'a str,
    pub owner_external_id: &'a str,
    pub max_import_date: Option<NaiveDate>,
    pub force_sca: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum SandboxSignInError {
    #[error("`{0}` is not a sandbox bank")]
    NotASandboxBank(String),
    #[error("the bank refused the sign-in: {0}")]
    Bank(#[from] ConnectorError),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// The client's auto import could not be queued, so no session was issued either.
    #[error("auto import: {0}")]
    AutoImport(#[source] EnqueueError),
}

impl From<EnqueueError> for SandboxSignInError {
    fn from(e: EnqueueError) -> Self {
        match e {
            EnqueueError::Database(db) => Self::Database(db),
            other => Self::AutoImport(other),
        }
    }
}

pub struct SandboxSignIn<'a> {
    pub pool: &'a sqlx::PgPool,
    pub registry: &'a Registry,
    pub issuer: Issuer<'a>,
    pub public_url: &'a str,
}

impl SandboxSignIn<'_> {
    pub async fn sign_in(
        &self,
        request: &HeadlessSignIn<'_>,
    ) -> Result<IssuedSession, SandboxSignInError> {
        let bank = self
            .registry
            .get(request.bank_id)
            .filter(|bank| bank.entry.sandbox)
            .ok_or_else(|| SandboxSignInError::NotASandboxBank(request.bank_id.to_string()))?;
        let mut step = bank
            .connector
            .begin_sign_in(&SignInRequest {
                psu_id: Some(request.login.to_string()),
                psu_ip_address: None,
                redirect_uri: format!("{}/signin/callback", self.public_url.trim_end_matches('/')),
                max_import_date: request.max_import_date,
                force_sca: request.force_sca,
            })
            .await?;
        // Answer each step as the persona would, until the bank has a session for us. A real
        // bank never needs more than a few steps; a sandbox that asks forever is a bug.
        let mut steps = 0;
        let bank_session = loop {
            steps += 1;
            if steps > MAX_STEPS {
                return Err(ConnectorError::protocol("the sign-in never ended", "").into());
            }
            let callback = match step {
                SignInStep::Redirect { url, pending } => SignInCallback {
                    params: approve(&url).await?,
                    pending,
                },
                SignInStep::Form { fields, pending } => SignInCallback {
                    params: fill(request.login, &fields)?,
                    pending,
                },
                // The persona takes the first method the bank offers.
                SignInStep::Choose {
                    name,
                    options,
                    pending,
                    ..
                } => SignInCallback {
                    params: options
                        .into_iter()
                        .next()
                        .map(|o| BTreeMap::from([(name, o.value)]))
                        .unwrap_or_default(),
                    pending,
                },
                // A decoupled persona approves in "its app" on its own: ask again at the
                // bank's pace.
                SignInStep::Wait {
                    poll_after,
                    pending,
                    ..
                } => {
                    tokio::time::sleep(poll_after).await;
                    SignInCallback {
                        params: BTreeMap::new(),
                        pending,
                    }
                }
            };
            match bank.connector.complete_sign_in(&callback).await? {
                SignInProgress::Done(session) => break session,
                SignInProgress::Next(next) => step = next,
            }
        };

        // A headless sign-in follows the client's auto import setting, like any other.
        let mut tx = self.pool.begin().await?;
        let auto_import_months = clients::auto_import_months(&mut *tx, request.client_id).await?;
        let issued = self
            .issuer
            .issue(
                &mut tx,
                &SignedIn {
                    client_id: request.client_id,
                    bank_id: &bank.entry.id,
                    owner_external_id: request.owner_external_id,
                    max_import_date: request.max_import_date,
                    force_sca: request.force_sca,
                    auto_import_months,
                },
                &bank_session,
            )
            .await?;
        tx.commit().await?;
        Ok(issued)
    }
}

/// The most steps a headless sign-in answers (credentials, a one-time code, SCA, ...).
const MAX_STEPS: usize = 5;

/// The persona's answers to a form, from the sandbox bank's published test values.
fn fill(login: &str, fields: &[FormField]) -> Result<BTreeMap<String, String>, SandboxSignInError> {
    fields
        .iter()
        .map(|field| {
            aisle_sandbox_bank::form_answer(login, &field.name)
                .map(|answer| (field.name.clone(), answer))
                .ok_or(SandboxSignInError::Bank(ConnectorError::InvalidCredentials))
        })
        .collect()
}

/// Approves the SCA step as the owner's browser would: posts the bank's page with the test
/// password and code, and returns the query parameters the bank sends the owner back with.
async fn approve(sca_page: &str) -> Result<BTreeMap<String, String>, ConnectorError> {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .map_err(|e| ConnectorError::Transient(e.to_string()))?;
    let response = http
        .post(sca_page)
        .form(&[
            ("password", aisle_sandbox_bank::TEST_PASSWORD),
            ("otp", aisle_sandbox_bank::TEST_OTP),
            ("decision", "approve"),
        ])
        .send()
        .await
        .map_err(|e| ConnectorError::Transient(e.to_string()))?;
    let status = response.status();
    let location = response
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| url::Url::parse(value).ok());
    match location {
        Some(back) if status == reqwest::StatusCode::SEE_OTHER => {
            Ok(back.query_pairs().into_owned().collect())
        }
        _ => Err(ConnectorError::protocol(
            format!("the sandbox bank's SCA page answered {status} without a way back"),
            "",
        )),
    }
}
