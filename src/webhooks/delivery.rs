//! The delivery worker, and every transition of a delivery: claimed for an attempt, then
//! succeeded, retried later, or failed; its endpoint disabled when it is gone or keeps
//! failing. Any number of workers run side by side: a delivery is claimed by one at a time
//! (`for update skip locked`) for a lease that lapses if the worker dies mid-attempt, so a
//! killed worker's delivery is sent again by whoever runs next. Delivery is therefore at
//! least once; `webhook-id` (the event's id) lets the receiver drop repeats.

use std::{future::Future, sync::Arc, time::Duration};

use chrono::Utc;
use rand::Rng;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue};
use sqlx::PgPool;
use tokio::{sync::Semaphore, task::JoinSet};
use uuid::Uuid;

use super::{
    guard::{Answer, GuardedClient, SendError},
    signing::SigningSecret,
};
use crate::{
    config::WebhooksConfig,
    sealing::SecretSealer,
    store::webhooks::{self, AttemptLog, Claimed, DeliveryState, DisabledReason},
};

/// Time past an attempt's timeout for its worker to record the outcome before the claim
/// lapses and the delivery is due again. Short is safe: an outcome recorded after the claim
/// lapsed is fenced out, and the worst case is one more (deduplicable) delivery.
const LEASE_MARGIN: Duration = Duration::from_secs(5);

/// Sends due deliveries until stopped.
pub struct Deliverer {
    pub pool: PgPool,
    pub sealer: SecretSealer,
    pub settings: WebhooksConfig,
}

/// What an attempt leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// A 2xx: delivered.
    Delivered,
    /// Try again after this long.
    Retry(Duration),
    /// Out of attempts.
    GiveUp,
    /// `410 Gone`: the receiver asks never to be called again.
    Gone,
}

impl Deliverer {
    /// Claims and sends due deliveries, up to `settings.concurrency` at once, until `shutdown`;
    /// then lets the attempts in flight finish.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) {
        let this = Arc::new(self);
        let slots = Arc::new(Semaphore::new(this.settings.concurrency.max(1)));
        let mut attempts = JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            while attempts.try_join_next().is_some() {}
            let free = slots.available_permits();
            let mut claimed_all = false;
            if free > 0 {
                match this.claim(free).await {
                    Ok(claimed) => {
                        claimed_all = claimed.len() == free;
                        for delivery in claimed {
                            let Ok(slot) = slots.clone().acquire_owned().await else {
                                break;
                            };
                            let this = this.clone();
                            attempts.spawn(async move {
                                this.attempt(delivery).await;
                                drop(slot);
                            });
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot claim webhook deliveries"),
                }
            }
            if claimed_all {
                // More may be due: claim again as soon as a slot frees.
                tokio::select! {
                    () = &mut shutdown => break,
                    _ = attempts.join_next() => {}
                }
                continue;
            }
            tokio::select! {
                () = &mut shutdown => break,
                () = tokio::time::sleep(this.settings.poll_interval) => {}
                Some(_) = attempts.join_next(), if !attempts.is_empty() => {}
            }
        }
        while attempts.join_next().await.is_some() {}
    }

    async fn claim(&self, limit: usize) -> Result<Vec<Claimed>, sqlx::Error> {
        let lease = self.settings.attempt_timeout + LEASE_MARGIN;
        webhooks::claim_due(&self.pool, i64::try_from(limit).unwrap_or(1), lease).await
    }

    /// One attempt at one claimed delivery, and its outcome recorded.
    async fn attempt(&self, claimed: Claimed) {
        let attempted_at = Utc::now();
        let started = std::time::Instant::now();
        let sent = self.send(&claimed, attempted_at.timestamp()).await;
        let latency = started.elapsed();
        let verdict = verdict(&self.settings, claimed.attempt, &sent);
        tracing::info!(
            endpoint_id = %claimed.endpoint_id,
            event_id = %claimed.event_id,
            attempt = claimed.attempt,
            status = sent.as_ref().ok().map(|answer| answer.status),
            error = sent.as_ref().err().map(tracing::field::display),
            ?verdict,
            "webhook attempt"
        );
        let recorded = self
            .record(&claimed, attempted_at, latency, &sent, verdict)
            .await;
        if let Err(e) = recorded {
            // The claim lapses and the delivery is sent again: at least once.
            tracing::warn!(error = %e, event_id = %claimed.event_id, "cannot record a webhook attempt");
        }
    }

    /// Signs the event for this attempt and sends it.
    async fn send(&self, claimed: &Claimed, timestamp: i64) -> Result<Answer, SendError> {
        let secret = self
            .sealer
            .open(&claimed.secret_sealed, claimed.endpoint_id.as_bytes())
            .ok()
            .and_then(|text| SigningSecret::parse(&text).ok())
            .ok_or_else(|| {
                tracing::error!(endpoint_id = %claimed.endpoint_id, "a webhook secret does not open with the configured key");
                SendError::Request("the endpoint's secret cannot be read; contact support".into())
            })?;
        let url = claimed
            .url
            .parse()
            .map_err(|_| SendError::Request("the endpoint's URL does not parse".into()))?;
        let body = serde_json::to_vec(&claimed.payload.0)
            .map_err(|e| SendError::Request(e.to_string()))?;
        let webhook_id = claimed.event_id.to_string();
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        for (name, value) in [
            ("webhook-id", webhook_id.clone()),
            ("webhook-timestamp", timestamp.to_string()),
            (
                "webhook-signature",
                secret.sign(&webhook_id, timestamp, &body),
            ),
        ] {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        }
        GuardedClient {
            allow_private: self.settings.allow_private,
            timeout: self.settings.attempt_timeout,
        }
        .post(&url, headers, body)
        .await
    }

    /// Logs the attempt and moves the delivery (and, if need be, its endpoint) on, in one
    /// transaction.
    async fn record(
        &self,
        claimed: &Claimed,
        attempted_at: chrono::DateTime<Utc>,
        latency: Duration,
        sent: &Result<Answer, SendError>,
        verdict: Verdict,
    ) -> Result<(), sqlx::Error> {
        let error = sent.as_ref().err().map(ToString::to_string);
        let mut tx = self.pool.begin().await?;
        webhooks::insert_attempt(
            &mut tx,
            &AttemptLog {
                endpoint_id: claimed.endpoint_id,
                event_id: claimed.event_id,
                attempt: claimed.attempt,
                attempted_at,
                status: sent.as_ref().ok().map(|answer| answer.status),
                latency,
                response_snippet: sent.as_ref().ok().map(|answer| answer.snippet.as_str()),
                error: error.as_deref(),
            },
        )
        .await?;
        let now = Utc::now();
        let (state, next) = match verdict {
            Verdict::Delivered => (DeliveryState::Succeeded, now),
            Verdict::Retry(delay) => (
                DeliveryState::Pending,
                now + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::hours(12)),
            ),
            Verdict::GiveUp | Verdict::Gone => (DeliveryState::Failed, now),
        };
        let settled = webhooks::settle_delivery(
            &mut tx,
            claimed.endpoint_id,
            claimed.event_id,
            claimed.attempt,
            state,
            next,
        )
        .await?;
        // A later claim took this delivery over: its own attempt judges the endpoint.
        if settled {
            self.judge_endpoint(&mut tx, claimed.endpoint_id, sent, verdict)
                .await?;
        }
        tx.commit().await
    }

    async fn judge_endpoint(
        &self,
        conn: &mut sqlx::PgConnection,
        endpoint_id: Uuid,
        sent: &Result<Answer, SendError>,
        verdict: Verdict,
    ) -> Result<(), sqlx::Error> {
        match verdict {
            Verdict::Delivered => webhooks::endpoint_answered(conn, endpoint_id).await,
            Verdict::Gone => {
                tracing::warn!(%endpoint_id, "webhook endpoint answered 410 Gone: disabled");
                webhooks::disable_endpoint(
                    conn,
                    endpoint_id,
                    DisabledReason::Gone,
                    "the endpoint answered 410 Gone",
                )
                .await
            }
            Verdict::Retry(_) | Verdict::GiveUp => {
                let disable_after = self.settings.disable_after;
                if !webhooks::endpoint_failed(conn, endpoint_id, disable_after).await? {
                    return Ok(());
                }
                tracing::warn!(%endpoint_id, "webhook endpoint kept failing: disabled");
                let last = match sent {
                    Ok(answer) => format!("answered {}", answer.status),
                    Err(e) => e.to_string(),
                };
                let detail = format!(
                    "every attempt failed for more than {} s; the last one: {last}",
                    disable_after.as_secs()
                );
                webhooks::disable_endpoint(conn, endpoint_id, DisabledReason::KeptFailing, &detail)
                    .await
            }
        }
    }
}

/// What attempt number `attempt` (from 1) leads to, given what the receiver did.
fn verdict(settings: &WebhooksConfig, attempt: i32, sent: &Result<Answer, SendError>) -> Verdict {
    let retry_after = match sent {
        Ok(answer) if (200..300).contains(&answer.status) => return Verdict::Delivered,
        Ok(answer) if answer.status == 410 => return Verdict::Gone,
        Ok(answer) => answer.retry_after,
        Err(_) => None,
    };
    if u32::try_from(attempt).unwrap_or(u32::MAX) >= settings.max_attempts {
        return Verdict::GiveUp;
    }
    Verdict::Retry(retry_delay(settings, attempt, retry_after))
}

/// The wait after failed attempt `attempt`: `retry_base` × 4^(attempt − 1), at most
/// `retry_cap`, with ±20 % jitter so receivers that failed together are not retried together;
/// never shorter than the receiver's `Retry-After` (itself capped, so no receiver parks a
/// delivery for ever). The defaults (30 s, 12 h, 8 attempts) wait 30 s, 2 min, 8 min, 32 min,
/// 2.1 h, 8.5 h and 12 h: about a day.
fn retry_delay(settings: &WebhooksConfig, attempt: i32, retry_after: Option<Duration>) -> Duration {
    let exponent = u32::try_from(attempt.saturating_sub(1))
        .unwrap_or(0)
        .min(16);
    let backoff = settings
        .retry_base
        .saturating_mul(4u32.saturating_pow(exponent))
        .min(settings.retry_cap);
    let jittered = backoff.mul_f64(rand::rng().random_range(0.8..=1.2));
    match retry_after {
        Some(wait) => jittered.max(wait.min(settings.retry_cap)),
        None => jittered,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answered(status: u16, retry_after: Option<Duration>) -> Result<Answer, SendError> {
        Ok(Answer {
            status,
            retry_after,
            snippet: String::new(),
        })
    }

    #[test]
    fn the_default_schedule_spans_about_a_day_in_eight_attempts() {
        let settings = WebhooksConfig::default();
        let mut total = Duration::ZERO;
        let mut attempt = 1;
        while let Verdict::Retry(wait) = verdict(&settings, attempt, &answered(500, None)) {
            total += wait;
            attempt += 1;
        }
        assert_eq!(attempt, 8, "the eighth attempt is the last");
        let hours = total.as_secs_f64() / 3600.0;
        assert!((18.0..=30.0).contains(&hours), "{hours} h");
    }

    #[test]
    fn each_wait_grows_within_its_jitter_and_stops_at_the_cap() {
        let settings = WebhooksConfig::default();
        for attempt in 1..=10 {
            let nominal = (settings.retry_base * 4u32.pow(attempt as u32 - 1))
                .min(settings.retry_cap)
                .as_secs_f64();
            let wait = retry_delay(&settings, attempt, None).as_secs_f64();
            assert!(
                wait >= nominal * 0.8 - 1e-6 && wait <= nominal * 1.2 + 1e-6,
                "{attempt}: {wait}"
            );
        }
    }

    #[test]
    fn a_retry_after_longer_than_the_backoff_is_honoured_up_to_the_cap() {
        let settings = WebhooksConfig::default();
        let hour = Duration::from_secs(3600);
        assert_eq!(
            verdict(&settings, 1, &answered(429, Some(hour))),
            Verdict::Retry(hour)
        );
        assert_eq!(
            retry_delay(&settings, 1, Some(Duration::from_secs(10 * 24 * 3600))),
            settings.retry_cap
        );
    }

    #[test]
    fn a_2xx_delivers_a_410_is_gone_and_the_last_attempt_gives_up() {
        let settings = WebhooksConfig::default();
        assert_eq!(
            verdict(&settings, 3, &answered(204, None)),
            Verdict::Delivered
        );
        assert_eq!(verdict(&settings, 1, &answered(410, None)), Verdict::Gone);
        assert_eq!(
            verdict(
                &settings,
                8,
                &Err(SendError::Timeout(Duration::from_secs(10)))
            ),
            Verdict::GiveUp
        );
        assert!(matches!(
            verdict(&settings, 1, &answered(302, None)),
            Verdict::Retry(_)
        ));
    }
}
