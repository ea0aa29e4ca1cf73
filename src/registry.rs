//! The bank registry: which banks Aisle reaches, through which connector, with what profile.
//! Read from `connectors/banks.toml` at start.

use std::{collections::BTreeMap, path::Path, sync::Arc};

use aisle_berlin_group::BerlinGroupConnector;
use aisle_sdk::{BankProfileOverrides, Connector};
use serde::Deserialize;

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
    /// Loads the registry. `sandbox_url`, when given, replaces the base URL of sandbox banks.
    pub fn load(
        path: &Path,
        sandbox_url: Option<&str>,
        http: reqwest::Client,
    ) -> Result<Self, RegistryError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| RegistryError::Read(path.display().to_string(), e))?;
        let file: RegistryFile = toml::from_str(&text)?;
        let mut banks = BTreeMap::new();
        for mut entry in file.bank {
            if let (true, Some(url)) = (entry.sandbox, sandbox_url) {
                entry.base_url = url.to_string();
            }
            let connector = build_connector(&entry, http.clone())?;
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

fn build_connector(
    entry: &BankEntry,
    http: reqwest::Client,
) -> Result<Arc<dyn Connector>, RegistryError> {
    let problem = |problem: String| RegistryError::Bank {
        bank: entry.id.clone(),
        problem,
    };
    let base_url =
        url::Url::parse(&entry.base_url).map_err(|e| problem(format!("base_url: {e}")))?;
    match entry.connector.as_str() {
        "berlin-group" => {
            let profile = aisle_berlin_group::default_profile().with_overrides(&entry.profile);
            Ok(Arc::new(BerlinGroupConnector::new(base_url, profile, http)))
        }
        other => Err(problem(format!("unknown connector `{other}`"))),
    }
}
