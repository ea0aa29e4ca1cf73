//! Opening sign-ins is unauthenticated (the widget runs before any client authentication) and
//! each one may create a consent at a bank in Aisle's name, so each address may open only so
//! many per minute. A GCRA limit per IP (`governor`), forgotten once an address is idle.
//!
//! An IPv6 user is handed a whole /64 (often far more), so a limit per IPv6 address would be
//! no limit at all: IPv6 addresses share their quota with their /64.

use std::{
    net::{IpAddr, Ipv6Addr},
    num::NonZeroU32,
    time::Duration,
};

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
            .check_key(&throttle_key(ip))
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }
}

/// The key `ip` is counted under: an IPv4 address itself, an IPv6 address its /64.
fn throttle_key(ip: IpAddr) -> IpAddr {
    match crate::client_addr::canonical(ip) {
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !u128::from(u64::MAX);
            IpAddr::V6(Ipv6Addr::from(prefix))
        }
        v4 => v4,
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

    #[test]
    fn addresses_of_one_ipv6_64_share_a_quota_and_a_mapped_ipv4_shares_its_address_quota() {
        let throttle = SignInThrottle::per_minute(NonZeroU32::new(2).unwrap());
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff:1:2:3".parse().unwrap();
        let next_64: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert!(throttle.check(Some(a)).is_ok());
        assert!(throttle.check(Some(b)).is_ok());
        assert!(throttle.check(Some(b)).is_err());
        assert!(throttle.check(Some(next_64)).is_ok());

        let v4: IpAddr = "192.0.2.1".parse().unwrap();
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert!(throttle.check(Some(v4)).is_ok());
        assert!(throttle.check(Some(mapped)).is_ok());
        assert!(throttle.check(Some(v4)).is_err());
    }
}
