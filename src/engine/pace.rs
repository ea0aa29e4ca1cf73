//! Keeping an import under the bank's rate: a per-second limit (GCRA, from `governor`) and the
//! bank's daily request budget for the consent. Every bank call an import makes passes here,
//! so this is also where bank calls, retries and rate-limit waits are counted.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use aisle_sdk::{BankProfile, ConnectorError};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use super::retry::RetryPolicy;

/// Which bank operation a call is: the `endpoint` label of the bank-call metrics. A fixed
/// name, so a series never carries an account id or a URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Owners,
    Accounts,
    Cards,
    Transactions,
    CardTransactions,
}

impl Endpoint {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owners => "owners",
            Self::Accounts => "accounts",
            Self::Cards => "cards",
            Self::Transactions => "transactions",
            Self::CardTransactions => "card_transactions",
        }
    }
}

/// One import's pace at one bank.
pub struct Pace {
    /// The bank's id, the `bank` label of what is recorded here.
    bank: String,
    per_second: Option<DefaultDirectRateLimiter>,
    daily_budget: Option<u32>,
    used: AtomicU32,
}

impl Pace {
    pub fn for_bank(bank: &str, profile: &BankProfile) -> Self {
        Self {
            bank: bank.to_owned(),
            per_second: profile
                .requests_per_second
                .and_then(NonZeroU32::new)
                .map(|rate| RateLimiter::direct(Quota::per_second(rate))),
            daily_budget: profile.requests_per_day,
            used: AtomicU32::new(0),
        }
    }

    /// Whether the daily budget still has room for one more request. Retries of a request
    /// count too (see [`Pace::request`]), so a budget can be overshot by a retry or two —
    /// the bank answers that with a 429, which the engine handles.
    pub fn budget_left(&self) -> bool {
        self.daily_budget
            .is_none_or(|budget| self.used.load(Ordering::Relaxed) < budget)
    }

    /// Waits for the per-second limit, then counts one request against the budget.
    async fn request(&self) {
        if let Some(limiter) = &self.per_second
            && limiter.check().is_err()
        {
            // Only a call the limiter held back counts as a wait; `check` took the cell of
            // one that was let through at once.
            let started = Instant::now();
            limiter.until_ready().await;
            self.record_wait(WaitSource::Pace, started.elapsed());
        }
        self.used.fetch_add(1, Ordering::Relaxed);
    }

    /// One bank call, paced and retried: every attempt waits for the per-second limit and
    /// counts against the budget.
    pub async fn call<T, F, Fut>(
        &self,
        retry: &RetryPolicy,
        endpoint: Endpoint,
        call: F,
    ) -> Result<T, ConnectorError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, ConnectorError>>,
    {
        retry
            .run(
                || async {
                    self.request().await;
                    let started = Instant::now();
                    let answer = call().await;
                    self.record_call(endpoint, &answer, started.elapsed());
                    answer
                },
                |error, delay| self.record_retry(endpoint, error, delay),
            )
            .await
    }

    /// Requests made so far.
    pub fn used(&self) -> u32 {
        self.used.load(Ordering::Relaxed)
    }

    fn record_call<T>(
        &self,
        endpoint: Endpoint,
        answer: &Result<T, ConnectorError>,
        took: Duration,
    ) {
        let status = match answer {
            Ok(_) => "ok",
            Err(error) => error_class(error),
        };
        metrics::counter!(
            "aisle_bank_calls_total",
            "bank" => self.bank.clone(),
            "endpoint" => endpoint.as_str(),
            "status" => status,
        )
        .increment(1);
        metrics::histogram!(
            "aisle_bank_call_duration_seconds",
            "bank" => self.bank.clone(),
            "endpoint" => endpoint.as_str(),
        )
        .record(took.as_secs_f64());
    }

    fn record_retry(&self, endpoint: Endpoint, error: &ConnectorError, delay: Duration) {
        metrics::counter!(
            "aisle_bank_retries_total",
            "bank" => self.bank.clone(),
            "endpoint" => endpoint.as_str(),
            "reason" => error_class(error),
        )
        .increment(1);
        if matches!(error, ConnectorError::RateLimited { .. }) {
            self.record_wait(WaitSource::RetryAfter, delay);
        }
    }

    fn record_wait(&self, source: WaitSource, waited: Duration) {
        let source = match source {
            WaitSource::Pace => "pace",
            WaitSource::RetryAfter => "retry_after",
        };
        metrics::counter!(
            "aisle_bank_rate_limit_waits_total",
            "bank" => self.bank.clone(),
            "source" => source,
        )
        .increment(1);
        metrics::histogram!(
            "aisle_bank_rate_limit_wait_seconds",
            "bank" => self.bank.clone(),
            "source" => source,
        )
        .record(waited.as_secs_f64());
    }
}

/// Why an import waited before a bank call.
#[derive(Debug, Clone, Copy)]
enum WaitSource {
    /// Aisle's own per-second limit for the bank (its profile's `requests_per_second`).
    Pace,
    /// The bank answered 429; the wait is its `Retry-After`, or the backoff without one.
    RetryAfter,
}

/// A failed call's class, as a metric label: the error's kind, never its message.
fn error_class(error: &ConnectorError) -> &'static str {
    match error {
        ConnectorError::Transient(_) => "transient",
        ConnectorError::RateLimited { .. } => "rate_limited",
        ConnectorError::PeriodInvalid => "period_invalid",
        ConnectorError::ScaRequired => "sca_required",
        ConnectorError::ConsentExpired => "consent_expired",
        ConnectorError::InvalidCredentials => "invalid_credentials",
        ConnectorError::AccessBlocked => "access_blocked",
        ConnectorError::Unsupported(_) => "unsupported",
        ConnectorError::Protocol { .. } => "protocol",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_daily_budget_runs_out_after_its_requests() {
        let profile = BankProfile {
            requests_per_day: Some(2),
            ..BankProfile::default()
        };
        let pace = Pace::for_bank("sandbox", &profile);
        assert!(pace.budget_left());
        pace.request().await;
        pace.request().await;
        assert!(!pace.budget_left());
        assert_eq!(pace.used(), 2);
    }

    #[tokio::test]
    async fn a_bank_without_limits_never_runs_out() {
        let pace = Pace::for_bank("sandbox", &BankProfile::default());
        for _ in 0..100 {
            pace.request().await;
        }
        assert!(pace.budget_left());
    }
}
