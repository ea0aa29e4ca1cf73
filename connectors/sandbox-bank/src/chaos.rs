//! The chaos dial: a share of AIS data calls and consent terminations fail the way a bank's
//! front does under load (a 503, a 429, a cut connection, an answer that never comes), so
//! an importer's retries, timeouts and clean-up can be proven against it.
//!
//! Faults strike in front of the bank: a faulted call is not admitted, so it neither counts
//! against the consent nor changes it. Consent creation, the SCA page and the consent reads
//! are never faulted (signing in is not what chaos tests). Hostile personas are spared too:
//! their own reply is what is under test, and a fault on top would hide its outcome.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::stream;
use rand::Rng;

use crate::errors::BankError;
use crate::knobs::Fault;
use crate::middleware::persona_of;
use crate::state::BankState;

/// How long a timeout fault holds its answer unless configured: longer than an importer
/// should wait for one bank call.
pub const DEFAULT_TIMEOUT_HOLD: Duration = Duration::from_secs(35);

/// The share of faultable calls that fail, from 0.0 (none) to 1.0 (all).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct FaultRate(f64);

impl FaultRate {
    pub const NONE: Self = Self(0.0);

    pub fn new(rate: f64) -> Result<Self, FaultRateError> {
        if (0.0..=1.0).contains(&rate) {
            Ok(Self(rate))
        } else {
            Err(FaultRateError(rate.to_string()))
        }
    }

    pub fn get(self) -> f64 {
        self.0
    }
}

impl fmt::Display for FaultRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for FaultRate {
    type Err = FaultRateError;

    fn from_str(raw: &str) -> Result<Self, FaultRateError> {
        let rate: f64 = raw.parse().map_err(|_| FaultRateError(raw.to_owned()))?;
        Self::new(rate)
    }
}

/// A fault rate outside 0.0..=1.0 (or not a number at all).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a fault rate is a number from 0.0 to 1.0, not {0:?}")]
pub struct FaultRateError(String);

/// The chaos dials of the whole bank.
#[derive(Debug, Clone, Copy)]
pub struct Chaos {
    pub fault_rate: FaultRate,
    /// How long a timeout fault holds its answer.
    pub timeout_hold: Duration,
}

impl Default for Chaos {
    fn default() -> Self {
        Self {
            fault_rate: FaultRate::NONE,
            timeout_hold: DEFAULT_TIMEOUT_HOLD,
        }
    }
}

/// One way a faulted call fails; drawn with equal odds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Strike {
    /// `503 SERVICE_UNAVAILABLE`.
    Unavailable,
    /// `429 ACCESS_EXCEEDED` with `Retry-After: 1`.
    RateLimited,
    /// The connection is cut while the answer is under way.
    Reset,
    /// The answer is held for the timeout hold, then a 503 that nobody should still await.
    Timeout,
}

impl fmt::Display for Strike {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Unavailable => "503",
            Self::RateLimited => "429",
            Self::Reset => "reset",
            Self::Timeout => "timeout",
        })
    }
}

fn draw(rate: FaultRate) -> Option<Strike> {
    if rate.get() <= 0.0 {
        return None;
    }
    let mut rng = rand::rng();
    if rng.random::<f64>() >= rate.get() {
        return None;
    }
    Some(match rng.random_range(0..4u8) {
        0 => Strike::Unavailable,
        1 => Strike::RateLimited,
        2 => Strike::Reset,
        _ => Strike::Timeout,
    })
}

/// Middleware on the faultable routes: fails the call at the configured rate, else passes it
/// on to the bank.
pub async fn strike(State(state): State<BankState>, request: Request, next: Next) -> Response {
    let hostile =
        persona_of(&state, &request).is_some_and(|p| matches!(p.knobs.fault, Fault::Hostile(_)));
    let chaos = *state.chaos();
    let strike = if hostile {
        None
    } else {
        draw(chaos.fault_rate)
    };
    let Some(strike) = strike else {
        return next.run(request).await;
    };
    tracing::debug!(%strike, path = request.uri().path(), "chaos fault");
    match strike {
        Strike::Unavailable => BankError::service_unavailable().into_response(),
        Strike::RateLimited => BankError::access_exceeded(1).into_response(),
        Strike::Reset => cut_off(),
        Strike::Timeout => {
            tokio::time::sleep(chaos.timeout_hold).await;
            BankError::service_unavailable().into_response()
        }
    }
}

/// A 200 whose body fails after its first bytes: hyper then aborts the connection, and the
/// client sees a transport error, as when a bank's proxy drops the line.
fn cut_off() -> Response {
    let chunks: [Result<Bytes, std::io::Error>; 2] = [
        Ok(Bytes::from_static(b"{\"accounts\":[")),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "chaos: connection cut",
        )),
    ];
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(stream::iter(chunks)),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fault_rate_is_a_share_from_zero_to_one() {
        assert_eq!("0.25".parse::<FaultRate>().map(FaultRate::get), Ok(0.25));
        assert_eq!("1".parse::<FaultRate>().map(FaultRate::get), Ok(1.0));
        for bad in ["-0.1", "1.5", "NaN", "often"] {
            assert!(bad.parse::<FaultRate>().is_err(), "{bad}");
        }
    }

    #[test]
    fn no_call_is_faulted_at_rate_zero_and_every_call_at_rate_one() {
        assert!((0..1000).all(|_| draw(FaultRate::NONE).is_none()));
        let all = FaultRate::new(1.0).expect("valid rate");
        let strikes: Vec<Strike> = (0..1000).filter_map(|_| draw(all)).collect();
        assert_eq!(strikes.len(), 1000);
        for kind in [
            Strike::Unavailable,
            Strike::RateLimited,
            Strike::Reset,
            Strike::Timeout,
        ] {
            // Equal odds: each of four kinds shows up about 250 times in 1000.
            let seen = strikes.iter().filter(|s| **s == kind).count();
            assert!((150..350).contains(&seen), "{kind}: {seen}");
        }
    }
}
