//! What the bank remembers between requests: consents, and each persona's generated data.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;

use crate::ledger::{self, PersonaData};
use crate::personas::Persona;

/// Shared by every handler.
#[derive(Clone)]
pub struct BankState {
    inner: Arc<Inner>,
}

struct Inner {
    consents: RwLock<HashMap<String, Consent>>,
    data: Mutex<HashMap<&'static str, Arc<PersonaData>>>,
    pub latency: Duration,
}

/// A Berlin Group consent status, as the bank spells it on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentStatus {
    Received,
    Valid,
    TerminatedByTpp,
}

impl ConsentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Received => "received",
            Self::Valid => "valid",
            Self::TerminatedByTpp => "terminatedByTpp",
        }
    }
}

/// A consent a TPP asked for.
#[derive(Debug, Clone)]
pub struct Consent {
    pub id: String,
    pub persona: &'static Persona,
    pub redirect_uri: String,
    pub access: Value,
    pub recurring_indicator: bool,
    pub valid_until: NaiveDate,
    pub frequency_per_day: u32,
    pub status: ConsentStatus,
    /// When the PSU approved it.
    pub sca_at: Option<DateTime<Utc>>,
}

impl Consent {
    /// The status as the TPP sees it now: a valid consent past `validUntil` has expired.
    pub fn status_on(&self, today: NaiveDate) -> &'static str {
        match self.status {
            ConsentStatus::Valid if self.valid_until < today => "expired",
            status => status.as_str(),
        }
    }
}

impl BankState {
    pub fn new(latency: Duration) -> Self {
        Self {
            inner: Arc::new(Inner {
                consents: RwLock::new(HashMap::new()),
                data: Mutex::new(HashMap::new()),
                latency,
            }),
        }
    }

    pub fn latency(&self) -> Duration {
        self.inner.latency
    }

    /// The bank's calendar day; history is generated relative to it.
    pub fn today(&self) -> NaiveDate {
        Utc::now().date_naive()
    }

    pub fn insert_consent(&self, consent: Consent) {
        // A poisoned lock only means a handler panicked mid-request; the map is still whole.
        let mut consents = self
            .inner
            .consents
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        consents.insert(consent.id.clone(), consent);
    }

    pub fn consent(&self, id: &str) -> Option<Consent> {
        let consents = self
            .inner
            .consents
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        consents.get(id).cloned()
    }

    /// Applies `change` to the consent `id`; `None` when there is no such consent.
    pub fn update_consent<T>(&self, id: &str, change: impl FnOnce(&mut Consent) -> T) -> Option<T> {
        let mut consents = self
            .inner
            .consents
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        consents.get_mut(id).map(change)
    }

    /// The persona's data as of today, generated on first use and cached for the day.
    pub fn persona_data(&self, persona: &'static Persona) -> Arc<PersonaData> {
        let today = self.today();
        let mut cache = self
            .inner
            .data
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match cache.get(persona.login) {
            Some(data) if data.today == today => Arc::clone(data),
            _ => {
                let data = Arc::new(ledger::generate(persona, today));
                cache.insert(persona.login, Arc::clone(&data));
                data
            }
        }
    }
}
