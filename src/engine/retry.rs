//! Retrying bank calls: transient failures back off exponentially with jitter; a rate limit
//! with a short `Retry-After` waits that long. Both are bounded.

use std::{future::Future, time::Duration};

use aisle_sdk::ConnectorError;
use backon::{ExponentialBuilder, Retryable};

/// How patient the engine is with one bank call.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub attempts: usize,
    pub first_delay: Duration,
    pub max_delay: Duration,
    /// A `Retry-After` longer than this ends the import instead of waiting.
    pub longest_rate_limit_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        // Six tries: a bank failing a quarter of its calls at random still fails one call in
        // about 4,000 for good, rather than one in 256 with four.
        Self {
            attempts: 6,
            first_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
            longest_rate_limit_wait: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// Runs `call` until it succeeds, fails for good, or the attempts run out. `on_retry`
    /// hears of each failure that is retried, with the wait before the next attempt.
    pub async fn run<T, F, Fut>(
        &self,
        call: F,
        mut on_retry: impl FnMut(&ConnectorError, Duration),
    ) -> Result<T, ConnectorError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, ConnectorError>>,
    {
        let backoff = ExponentialBuilder::default()
            .with_min_delay(self.first_delay)
            .with_max_delay(self.max_delay)
            .with_max_times(self.attempts.saturating_sub(1))
            .with_jitter();
        let longest_wait = self.longest_rate_limit_wait;
        call.retry(backoff)
            .when(move |e| match e {
                ConnectorError::Transient(_) => true,
                ConnectorError::RateLimited { retry_after } => {
                    retry_after.is_none_or(|wait| wait <= longest_wait)
                }
                _ => false,
            })
            .adjust(|e, delay| match e {
                ConnectorError::RateLimited {
                    retry_after: Some(wait),
                } => Some(*wait),
                _ => delay,
            })
            .notify(|e, delay| {
                tracing::info!(error = %e, ?delay, "retrying a bank call");
                on_retry(e, delay);
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn quick() -> RetryPolicy {
        RetryPolicy {
            attempts: 3,
            first_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(2),
            longest_rate_limit_wait: Duration::from_secs(1),
        }
    }

    #[tokio::test]
    async fn a_transient_failure_is_retried_until_it_succeeds() {
        let calls = AtomicUsize::new(0);
        let result = quick()
            .run(
                || async {
                    match calls.fetch_add(1, Ordering::SeqCst) {
                        0 | 1 => Err(ConnectorError::Transient("503".into())),
                        _ => Ok(7),
                    }
                },
                |_, _| {},
            )
            .await;
        assert_eq!(result, Ok(7));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_permanent_failure_is_not_retried() {
        let calls = AtomicUsize::new(0);
        let result: Result<(), _> = quick()
            .run(
                || async {
                    calls.fetch_add(1, Ordering::SeqCst);
                    Err(ConnectorError::InvalidCredentials)
                },
                |_, _| {},
            )
            .await;
        assert_eq!(result, Err(ConnectorError::InvalidCredentials));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_short_retry_after_is_waited_out_before_the_next_call() {
        let started = tokio::time::Instant::now();
        let calls = AtomicUsize::new(0);
        let result = quick()
            .run(
                || async {
                    match calls.fetch_add(1, Ordering::SeqCst) {
                        0 => Err(ConnectorError::RateLimited {
                            retry_after: Some(Duration::from_secs(1)),
                        }),
                        _ => Ok(started.elapsed()),
                    }
                },
                |_, _| {},
            )
            .await;
        let waited = result.expect("the second call succeeds");
        assert!(waited >= Duration::from_secs(1), "retried after {waited:?}");
        assert!(waited < Duration::from_secs(2), "retried after {waited:?}");
    }

    #[tokio::test]
    async fn a_long_retry_after_ends_the_call_at_once() {
        let calls = AtomicUsize::new(0);
        let long = ConnectorError::RateLimited {
            retry_after: Some(Duration::from_secs(3600)),
        };
        let result: Result<(), _> = quick()
            .run(
                || async {
                    calls.fetch_add(1, Ordering::SeqCst);
                    Err(long.clone())
                },
                |_, _| {},
            )
            .await;
        assert_eq!(result, Err(long));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
