//! Building each bank's connector from its registry entry, options and secrets.

use std::sync::Arc;

use aisle_account_service::AccountServiceConnector;
use aisle_berlin_group::{BerlinGroupConnector, ConsentMode, ScaApproach};
use aisle_partner_account::PartnerAccountConnector;
use aisle_sandbox_bank::{
    account_service::AccountServiceFace, partner_account::PartnerAccountFace,
};
use aisle_sdk::Connector;

use super::{BankEntry, RegistryError};
use crate::config::{BankSecrets, Secret};

pub fn build(
    entry: &BankEntry,
    secrets: Option<&BankSecrets>,
    http: reqwest::Client,
) -> Result<Arc<dyn Connector>, RegistryError> {
    let problem = |problem: String| RegistryError::Bank {
        bank: entry.id.clone(),
        problem,
    };
    let base_url =
        url::Url::parse(&entry.base_url).map_err(|e| problem(format!("base_url: {e}")))?;
    let options = &entry.options;
    // A sandbox bank's credentials are the sandbox's published test values unless the
    // configuration says otherwise; a real bank's must be configured.
    let secret = |pick: fn(&BankSecrets) -> Option<&Secret>, sandbox: String, name: &str| match (
        secrets.and_then(pick),
        entry.sandbox,
    ) {
        (Some(secret), _) => Ok(secret.expose().to_owned()),
        (None, true) => Ok(sandbox),
        (None, false) => Err(problem(format!(
            "needs {name}: set AISLE_BANK_SECRETS__{}__{}",
            entry.id.replace('-', "_").to_uppercase(),
            name.to_uppercase()
        ))),
    };
    let setting = |value: &Option<String>, sandbox: String, name: &str| match (value, entry.sandbox)
    {
        (Some(value), _) => Ok(value.clone()),
        (None, true) => Ok(sandbox),
        (None, false) => Err(problem(format!("needs options.{name} in the registry"))),
    };
    match entry.connector.as_str() {
        "berlin-group" => {
            let profile = aisle_berlin_group::default_profile().with_overrides(&entry.profile);
            let mode = match options.consent_mode.as_deref() {
                None | Some("all-accounts") => ConsentMode::AllAccounts,
                Some("bank-offered") => ConsentMode::BankOffered,
                Some("dedicated-accounts") => ConsentMode::DedicatedAccounts,
                Some(other) => return Err(problem(format!("unknown consent_mode `{other}`"))),
            };
            let mut connector =
                BerlinGroupConnector::new(base_url, profile, http).with_consent_mode(mode);
            if let Some(client_id) = &options.oauth_client_id {
                connector = connector.with_oauth_client_id(client_id.clone());
            }
            connector = connector.with_sca_preference(match options.sca_approach.as_deref() {
                None | Some("redirect") => ScaApproach::Redirect,
                Some("decoupled") => ScaApproach::Decoupled,
                Some("embedded") => ScaApproach::Embedded,
                Some(other) => return Err(problem(format!("unknown sca_approach `{other}`"))),
            });
            Ok(Arc::new(connector))
        }
        "partner-account" => {
            let profile = aisle_partner_account::default_profile().with_overrides(&entry.profile);
            let face = PartnerAccountFace::default();
            Ok(Arc::new(PartnerAccountConnector::new(
                base_url,
                profile,
                http,
                secret(|s| s.auth_token.as_ref(), face.auth_token, "auth_token")?,
                setting(
                    &options.partner_reference,
                    face.partner_reference,
                    "partner_reference",
                )?,
                setting(&options.program_code, face.program_code, "program_code")?,
            )))
        }
        "account-service" => {
            let profile = aisle_account_service::default_profile().with_overrides(&entry.profile);
            let face = AccountServiceFace::default();
            Ok(Arc::new(AccountServiceConnector::new(
                base_url,
                profile,
                http,
                setting(&options.client_id, face.client_id, "client_id")?,
                secret(
                    |s| s.client_secret.as_ref(),
                    face.client_secret,
                    "client_secret",
                )?,
            )))
        }
        other => Err(problem(format!("unknown connector `{other}`"))),
    }
}
