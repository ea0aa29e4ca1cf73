//! Opening sign-ins is unauthenticated (the widget runs before any client authentication) and
//! each one may create a consent at a bank in Aisle's name, so each address may open only so
//! many per minute. A GCRA limit per IP (`governor`), forgotten once an address is idle.

use std::{net::IpAddr, num::NonZeroU32, time::Duration};

use governor::{
    Quota, RateLimiter, clock::Clock, clock::DefaultClock, state::keyed::DefaultKeyedStateStore,
};

/// Above this many tracked addresses, idle ones are dropped before the next check.
const TRACKED_ADDRESSES: usize = 10_000;

pub struct SignInThrottle {
    limiter: RateLimiter<IpAddr, DefaultKeyedStateStore<IpAddr>, DefaultClock>,
}

impl SignInThrottle {
    /// `per_minute` sign-in starts (widget opens, bank picks, retries) per address, in bursts
    /// of as many.
    pub fn per_minute(per_minute: NonZeroU32) -> Self {
        Self {
            limiter: RateLimiter::hashmap(Quota::per_minute(per_minute)),
        }
    }

    /// Whether `ip` may start another step now; if not, how long until it may. An unknown
    /// address (no peer information) is not limited here.
    pub fn check(&self, ip: Option<IpAddr>) -> Result<(), Duration> {
        let Some(ip) = ip else { return Ok(()) };
        if self.limiter.len() > TRACKED_ADDRESSES {
            self.limiter.retain_recent();
        }
        self.limiter
            .check_key(&ip)
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_over_its_quota_waits_while_another_address_goes_on() {
        let throttle = SignInThrottle::per_minute(NonZeroU32::new(3).unwrap());
        let (busy, other) = (Some([10, 0, 0, 1].into()), Some([10, 0, 0, 2].into()));
        for _ in 0..3 {
            assert!(throttle.check(busy).is_ok());
        }
        let wait = throttle.check(busy).unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(20),
            "{wait:?}"
        );
        assert!(throttle.check(other).is_ok());
        assert!(throttle.check(None).is_ok());
    }
}
