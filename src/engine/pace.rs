//! Keeping an import under the bank's rate: a per-second limit (GCRA, from `governor`) and the
//! bank's daily request budget for the consent.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU32, Ordering};

use aisle_sdk::{BankProfile, ConnectorError};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use super::retry::RetryPolicy;

/// One import's pace at one bank.
pub struct Pace {
    per_second: Option<DefaultDirectRateLimiter>,
    daily_budget: Option<u32>,
    used: AtomicU32,
}

impl Pace {
    pub fn for_bank(profile: &BankProfile) -> Self {
        Self {
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
        if let Some(limiter) = &self.per_second {
            limiter.until_ready().await;
        }
        self.used.fetch_add(1, Ordering::Relaxed);
    }

    /// One bank call, paced and retried: every attempt waits for the per-second limit and
    /// counts against the budget.
    pub async fn call<T, F, Fut>(&self, retry: &RetryPolicy, call: F) -> Result<T, ConnectorError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, ConnectorError>>,
    {
        retry
            .run(|| async {
                self.request().await;
                call().await
            })
            .await
    }

    /// Requests made so far.
    pub fn used(&self) -> u32 {
        self.used.load(Ordering::Relaxed)
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
        let pace = Pace::for_bank(&profile);
        assert!(pace.budget_left());
        pace.request().await;
        pace.request().await;
        assert!(!pace.budget_left());
        assert_eq!(pace.used(), 2);
    }

    #[tokio::test]
    async fn a_bank_without_limits_never_runs_out() {
        let pace = Pace::for_bank(&BankProfile::default());
        for _ in 0..100 {
            pace.request().await;
        }
        assert!(pace.budget_left());
    }
}
