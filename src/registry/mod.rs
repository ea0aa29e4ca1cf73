//! The bank registry: which banks Aisle reaches, through which connector, with what profile.
//! Read from `connectors/banks.toml` at start; secrets come from the configuration.

mod connectors;

use std::{collections::BTreeMap, path::Path, sync::Arc};

use aisle_sdk::{BankProfileOverrides, Connector};
use serde::Deserialize;

use crate::config::BankSecrets;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegistryFile {
    bank: Vec<BankEntry>,
}

/// One bank as the registry file describes it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BankEntry {
    pub id: String,
    pub name: String,
    /// ISO 3166-1 alpha-2.
    pub country: String,
    pub connector: String,
    pub base_url: String,
    /// `redirect` (the bank's SCA page) or `form` (an Aisle-hosted form).
    pub sign_in: String,
    /// Sandbox banks accept headless sign-in for tests and demos.
    #[serde(default)]
    pub sandbox: bool,
    #[serde(default)]
    pub profile: BankProfileOverrides,
    /// Connector settings that are not secret (consent mode, partner reference, ...).
    #[serde(default)]
    pub options: ConnectorOptions,
}

/// What a connector needs to know about one bank beyond its URL and profile. Each connector
/// reads the options it understands and refuses none: a key for another connector is unused.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectorOptions {
    /// Berlin Group: `all-accounts` (default), `bank-offered` or `dedicated-accounts`.
    pub consent_mode: Option<String>,
    /// Berlin Group: Aisle's OAuth2 client id at banks using the OAuth SCA approach.
    pub oauth_client_id: Option<String>,
    /// Berlin Group: the SCA approach to ask the bank for, `redirect` (default), `decoupled`
    /// or `embedded`; the bank's answer decides.
    pub sca_approach: Option<String>,
    /// Partner account API: Aisle's partner reference and programme code.
    pub partner_reference: Option<String>,
    pub program_code: Option<String>,
    /// Account service API: Aisle's client id (the secret comes from the configuration).
    pub client_id: Option<String>,
}

/// A bank with its ready connector.
#[derive(Clone)]
pub struct Bank {
    pub entry: BankEntry,
    pub connector: Arc<dyn Connector>,
}

pub struct Registry {
    banks: BTreeMap<String, Bank>,
}

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("cannot read the bank registry {0}: {1}")]
    Read(String, std::io::Error),
    #[error("the bank registry is malformed: {0}")]
    Parse(#[from] toml::de::Error),
    #[error("bank {bank}: {problem}")]
    Bank { bank: String, problem: String },
}

impl Registry {
    /// Loads the registry. `sandbox_url`, when given, moves sandbox banks to that host (their
    /// paths stay: one sandbox process serves several faces). `secrets` are per bank, keyed
    /// by the bank id with `-` written `_` (so they fit environment variable names).
    pub fn load(
        path: &Path,
        sandbox_url: Option<&str>,
        secrets: &BTreeMap<String, BankSecrets>,
        http: reqwest::Client,
    ) -> Result<Self, RegistryError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| RegistryError::Read(path.display().to_string(), e))?;
        let file: RegistryFile = toml::from_str(&text)?;
        let mut banks = BTreeMap::new();
        for mut entry in file.bank {
            if let (true, Some(url)) = (entry.sandbox, sandbox_url) {
                entry.base_url =
                    move_to_host(&entry.base_url, url).map_err(|problem| RegistryError::Bank {
                        bank: entry.id.clone(),
                        problem,
                    })?;
            }
            let secrets = secrets.get(&entry.id.replace('-', "_"));
            let connector = connectors::build(&entry, secrets, http.clone())?;
            if banks.contains_key(&entry.id) {
                return Err(RegistryError::Bank {
                    bank: entry.id,
                    problem: "listed twice".into(),
                });
            }
            banks.insert(entry.id.clone(), Bank { entry, connector });
        }
        Ok(Self { banks })
    }

    pub fn get(&self, id: &str) -> Option<&Bank> {
        self.banks.get(id)
    }

    /// Every bank, ordered by id.
    pub fn banks(&self) -> impl Iterator<Item = &Bank> {
        self.banks.values()
    }
}

/// A registry of exactly these banks (a test's, with a connector of its own making).
impl FromIterator<Bank> for Registry {
    fn from_iter<I: IntoIterator<Item = Bank>>(banks: I) -> Self {
        Self {
            banks: banks
                .into_iter()
                .map(|bank| (bank.entry.id.clone(), bank))
                .collect(),
        }
    }
}

/// `base_url` with the scheme, host and port of `host_url`, keeping its path.
fn move_to_host(base_url: &str, host_url: &str) -> Result<String, String> {
    let mut base = url::Url::parse(base_url).map_err(|e| format!("base_url: {e}"))?;
    let host = url::Url::parse(host_url).map_err(|e| format!("sandbox_bank.url: {e}"))?;
    base.set_scheme(host.scheme())
        .and_then(|()| base.set_host(host.host_str()).map_err(|_| ()))
        .and_then(|()| base.set_port(host.port()))
        .map_err(|()| format!("cannot move {base_url} to {host_url}"))?;
    Ok(base.to_string().trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sandbox_bank_moves_host_and_keeps_its_path() {
        assert_eq!(
            move_to_host("http://127.0.0.1:8090/partner", "http://127.0.0.1:40123").unwrap(),
            "http://127.0.0.1:40123/partner"
        );
        assert_eq!(
            move_to_host("http://127.0.0.1:8090", "http://localhost:9").unwrap(),
            "http://localhost:9"
        );
    }
}
