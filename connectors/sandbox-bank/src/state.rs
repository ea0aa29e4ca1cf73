//! What the bank remembers between requests: consents, and each persona's generated data.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;

use crate::chaos::Chaos;
use crate::knobs::Fault;
use crate::ledger::{self, PersonaData};
use crate::personas::{Persona, ScaMethod};

/// Shared by every handler.
#[derive(Clone)]
pub struct BankState {
    inner: Arc<Inner>,
}

struct Inner {
    consents: RwLock<HashMap<String, Consent>>,
    data: Mutex<HashMap<&'static str, Arc<PersonaData>>>,
    latency: Duration,
    chaos: Chaos,
    /// Requests that reached the redirect-away persona's other host carrying `Consent-ID`.
    consent_id_leaks: AtomicU64,
}

/// A Berlin Group consent status, as the bank spells it on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentStatus {
    Received,
    Valid,
    /// The PSU denied it or failed SCA.
    Rejected,
    TerminatedByTpp,
}

impl ConsentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Received => "received",
            Self::Valid => "valid",
            Self::Rejected => "rejected",
            Self::TerminatedByTpp => "terminatedByTpp",
        }
    }
}

/// A consent a TPP asked for.
#[derive(Debug, Clone)]
pub struct Consent {
    pub id: String,
    /// `None` until the PSU names themself on the SCA page, when the TPP sent no `PSU-ID`.
    pub persona: Option<&'static Persona>,
    /// `TPP-Redirect-URI`, exactly as the TPP sent it.
    pub redirect_uri: String,
    /// `TPP-Nok-Redirect-URI`, where a failed SCA goes if the TPP gave one.
    pub nok_redirect_uri: Option<String>,
    pub access: Value,
    pub recurring_indicator: bool,
    pub valid_until: NaiveDate,
    pub frequency_per_day: u32,
    pub status: ConsentStatus,
    /// When the PSU approved it.
    pub sca_at: Option<DateTime<Utc>>,
    /// AIS data calls admitted while the consent was valid; drives the flaky persona.
    pub data_calls: u32,
    /// Successful AIS data calls, plus those still running; drives the expiring persona.
    pub spent_calls: u32,
    /// How the PSU authenticates, chosen when the consent was created.
    pub approach: ScaApproach,
    /// The authorisation a decoupled or embedded SCA started, if any.
    pub authorisation: Option<Authorisation>,
}

/// The SCA approach the bank chose for a consent (`ASPSP-SCA-Approach`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScaApproach {
    Redirect,
    Decoupled,
    Embedded,
}

impl ScaApproach {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Redirect => "REDIRECT",
            Self::Decoupled => "DECOUPLED",
            Self::Embedded => "EMBEDDED",
        }
    }
}

/// An authorisation sub-resource of a consent (`/v1/consents/{id}/authorisations/{id}`).
#[derive(Debug, Clone)]
pub struct Authorisation {
    pub id: String,
    pub stage: AuthorisationStage,
    /// When it started: a decoupled persona decides a fixed time after.
    pub started: std::time::Instant,
}

/// Where an authorisation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthorisationStage {
    /// Decoupled: the PSU is asked in the bank's app.
    InApp,
    /// Embedded: the password was right; the PSU picks one of several methods.
    MethodsOffered,
    /// Embedded: a method is chosen; the one-time code is awaited.
    MethodSelected(&'static ScaMethod),
    Finalised,
    Failed,
}

impl AuthorisationStage {
    /// The `scaStatus` the bank reports.
    pub fn sca_status(self) -> &'static str {
        match self {
            Self::InApp => "started",
            Self::MethodsOffered => "psuAuthenticated",
            Self::MethodSelected(_) => "scaMethodSelected",
            Self::Finalised => "finalised",
            Self::Failed => "failed",
        }
    }
}

impl Consent {
    /// The status as the TPP sees it now: a valid consent past `validUntil`, or past its
    /// persona's call budget, has expired.
    pub fn status_on(&self, today: NaiveDate) -> &'static str {
        match self.status {
            ConsentStatus::Valid if self.valid_until < today || self.budget_spent() => "expired",
            status => status.as_str(),
        }
    }

    fn budget_spent(&self) -> bool {
        match self.persona.map(|p| p.knobs.fault) {
            Some(Fault::ExpiresAfter(calls)) => self.spent_calls >= calls,
            _ => false,
        }
    }

    /// Where the PSU goes after a failed or denied SCA, with `error` appended.
    pub fn nok_location(&self, error: &str) -> String {
        let target = self
            .nok_redirect_uri
            .as_deref()
            .unwrap_or(&self.redirect_uri);
        match url::Url::parse(target) {
            Ok(mut url) => {
                url.query_pairs_mut().append_pair("error", error);
                url.into()
            }
            // Consent creation only accepts absolute URLs, so this is a safety net, not a path.
            Err(_) => format!("{target}?error={error}"),
        }
    }
}

impl BankState {
    pub fn new(latency: Duration, chaos: Chaos) -> Self {
        Self {
            inner: Arc::new(Inner {
                consents: RwLock::new(HashMap::new()),
                data: Mutex::new(HashMap::new()),
                latency,
                chaos,
                consent_id_leaks: AtomicU64::new(0),
            }),
        }
    }

    pub fn latency(&self) -> Duration {
        self.inner.latency
    }

    pub fn chaos(&self) -> &Chaos {
        &self.inner.chaos
    }

    pub fn count_consent_id_leak(&self) {
        self.inner.consent_id_leaks.fetch_add(1, Ordering::Relaxed);
    }

    pub fn consent_id_leaks(&self) -> u64 {
        self.inner.consent_id_leaks.load(Ordering::Relaxed)
    }

    /// Every consent the bank knows, ordered by id.
    pub fn consents(&self) -> Vec<Consent> {
        let consents = self
            .inner
            .consents
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let mut all: Vec<Consent> = consents.values().cloned().collect();
        all.sort_by(|a, b| a.id.cmp(&b.id));
        all
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
        let cached = {
            let cache = self
                .inner
                .data
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            cache.get(persona.login).cloned()
        };
        match cached {
            Some(data) if data.today == today => data,
            // Generated outside the lock: `big` takes a moment, and other personas' requests
            // should not wait for it. Two racing requests both generate the same data.
            _ => {
                let data = Arc::new(ledger::generate(persona, today));
                let mut cache = self
                    .inner
                    .data
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                cache.insert(persona.login, Arc::clone(&data));
                data
            }
        }
    }
}
