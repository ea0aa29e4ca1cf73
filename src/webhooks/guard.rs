//! The delivery client: it sends only where a client's endpoint may safely point.
//!
//! A webhook URL is chosen by a client, so without care it could make Aisle call its own
//! network (a database's admin page, the cloud metadata service at 169.254.169.254). The host
//! is resolved once, every address it resolves to is checked, and the request connects to
//! those checked addresses only: a DNS answer that changes between the check and the connect
//! (rebinding) is never asked for. No proxy from the environment is used (it would resolve the
//! host again), no redirect is followed, and each attempt has a timeout.

use std::{
    fmt,
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    time::{Duration, Instant},
};

use reqwest::{header::HeaderMap, redirect::Policy};
use url::{Host, Url};

/// The longest start of a receiver's answer kept in the delivery log.
pub const SNIPPET_LEN: usize = 1024;

/// Why an address may not be called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Loopback,
    Private,
    LinkLocal,
    Unspecified,
    Multicast,
    /// Broadcast, documentation, benchmarking, "this network" and other special ranges.
    Reserved,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Loopback => "a loopback address",
            Self::Private => "a private address",
            Self::LinkLocal => "a link-local address",
            Self::Unspecified => "the unspecified address",
            Self::Multicast => "a multicast address",
            Self::Reserved => "a reserved address",
        })
    }
}

/// Why `ip` may not be called from the public internet's side, if it may not.
pub fn refusal(ip: IpAddr) -> Option<Refusal> {
    match ip {
        IpAddr::V4(v4) => refusal_v4(v4),
        IpAddr::V6(v6) => refusal_v6(v6),
    }
}

fn refusal_v4(ip: Ipv4Addr) -> Option<Refusal> {
    let [a, b, c, _] = ip.octets();
    if ip.is_unspecified() {
        Some(Refusal::Unspecified)
    } else if ip.is_loopback() {
        Some(Refusal::Loopback)
    } else if ip.is_private() || (a == 100 && (64..128).contains(&b)) {
        // 100.64.0.0/10 is carrier-grade NAT space: private in all but name.
        Some(Refusal::Private)
    } else if ip.is_link_local() {
        Some(Refusal::LinkLocal)
    } else if ip.is_multicast() {
        Some(Refusal::Multicast)
    } else if a == 0
        || a >= 240
        || ip.is_documentation()
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (b == 18 || b == 19))
    {
        Some(Refusal::Reserved)
    } else {
        None
    }
}

fn refusal_v6(ip: Ipv6Addr) -> Option<Refusal> {
    // An IPv4 address written as IPv6 reaches the IPv4 host: judge that host.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return refusal_v4(v4);
    }
    let segments = ip.segments();
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        // NAT64's well-known prefix: the last 32 bits are the IPv4 host it reaches.
        let [.., hi, lo] = segments;
        return refusal_v4(Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo)));
    }
    if segments[0] == 0x2002 {
        // 6to4: bits 16..48 are the IPv4 host.
        return refusal_v4(Ipv4Addr::from(
            (u32::from(segments[1]) << 16) | u32::from(segments[2]),
        ));
    }
    if ip.is_unspecified() {
        Some(Refusal::Unspecified)
    } else if ip.is_loopback() {
        Some(Refusal::Loopback)
    } else if ip.is_unique_local() || segments[0] & 0xffc0 == 0xfec0 {
        // fc00::/7, and fec0::/10 (the deprecated site-local range).
        Some(Refusal::Private)
    } else if ip.is_unicast_link_local() {
        Some(Refusal::LinkLocal)
    } else if ip.is_multicast() {
        Some(Refusal::Multicast)
    } else if segments[..6] == [0; 6] || (segments[0] == 0x2001 && segments[1] == 0xdb8) {
        // ::/96 (IPv4-compatible, deprecated) and 2001:db8::/32 (documentation).
        Some(Refusal::Reserved)
    } else {
        None
    }
}

/// Why an attempt got no answer.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("refused: {host} resolves to {ip}, {reason}")]
    Refused {
        host: String,
        ip: IpAddr,
        reason: Refusal,
    },
    #[error("the URL has no host")]
    NoHost,
    #[error("{0} does not resolve")]
    Unresolvable(String),
    #[error("no answer within {} s", .0.as_secs())]
    Timeout(Duration),
    #[error("could not connect: {0}")]
    Connect(String),
    #[error("the request failed: {0}")]
    Request(String),
}

/// What the receiver answered.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    /// Its `Retry-After`, in seconds or as an HTTP date.
    pub retry_after: Option<Duration>,
    /// The start of its body, at most [`SNIPPET_LEN`] bytes, lossily decoded.
    pub snippet: String,
}

/// Sends webhook requests under this module's rules.
#[derive(Debug, Clone)]
pub struct GuardedClient {
    /// Whether private, loopback and link-local destinations are allowed (the dev stack's).
    pub allow_private: bool,
    /// The whole attempt's limit: connecting, sending, and reading the answer's start.
    pub timeout: Duration,
}

impl GuardedClient {
    /// POSTs `body` with `headers` to `url`, connecting only to addresses it checked.
    pub async fn post(
        &self,
        url: &Url,
        headers: HeaderMap,
        body: Vec<u8>,
    ) -> Result<Answer, SendError> {
        let started = Instant::now();
        let (host, addrs) = tokio::time::timeout(self.timeout, self.resolve(url))
            .await
            .map_err(|_| SendError::Timeout(self.timeout))??;
        let mut client = reqwest::Client::builder()
            .redirect(Policy::none())
            .no_proxy()
            .connect_timeout(self.timeout)
            .user_agent(concat!("aisle-webhooks/", env!("CARGO_PKG_VERSION")));
        if let Some(domain) = host {
            client = client.resolve_to_addrs(&domain, &addrs);
        }
        let client = client
            .build()
            .map_err(|e| SendError::Request(e.to_string()))?;
        let remaining = self.timeout.saturating_sub(started.elapsed());
        let exchange = async {
            let mut response = client
                .post(url.clone())
                .headers(headers)
                .body(body)
                .send()
                .await?;
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|value| value.to_str().ok())
                .and_then(parse_retry_after);
            let mut start = Vec::new();
            while start.len() < SNIPPET_LEN
                && let Some(chunk) = response.chunk().await?
            {
                start.extend_from_slice(&chunk);
            }
            start.truncate(SNIPPET_LEN);
            Ok::<_, reqwest::Error>(Answer {
                status,
                retry_after,
                snippet: String::from_utf8_lossy(&start).into_owned(),
            })
        };
        match tokio::time::timeout(remaining, exchange).await {
            Err(_) => Err(SendError::Timeout(self.timeout)),
            Ok(Err(e)) if e.is_timeout() => Err(SendError::Timeout(self.timeout)),
            Ok(Err(e)) if e.is_connect() => Err(SendError::Connect(root_cause(&e))),
            Ok(Err(e)) => Err(SendError::Request(root_cause(&e))),
            Ok(Ok(answer)) => Ok(answer),
        }
    }

    /// The addresses to connect to, each checked; with the domain to pin them to, when the
    /// URL names one rather than an address.
    async fn resolve(&self, url: &Url) -> Result<(Option<String>, Vec<SocketAddr>), SendError> {
        let port = url.port_or_known_default().unwrap_or(443);
        let (domain, addrs) = match url.host().ok_or(SendError::NoHost)? {
            Host::Ipv4(ip) => (None, vec![SocketAddr::new(ip.into(), port)]),
            Host::Ipv6(ip) => (None, vec![SocketAddr::new(ip.into(), port)]),
            Host::Domain(domain) => {
                let addrs: Vec<SocketAddr> = tokio::net::lookup_host((domain, port))
                    .await
                    .map_err(|_| SendError::Unresolvable(domain.to_string()))?
                    .collect();
                (Some(domain.to_string()), addrs)
            }
        };
        let host = url.host_str().unwrap_or_default();
        if addrs.is_empty() {
            return Err(SendError::Unresolvable(host.to_string()));
        }
        if !self.allow_private {
            // Every address, not just the first: the connection may use any of them.
            for addr in &addrs {
                if let Some(reason) = refusal(addr.ip()) {
                    return Err(SendError::Refused {
                        host: host.to_string(),
                        ip: addr.ip(),
                        reason,
                    });
                }
            }
        }
        Ok((domain, addrs))
    }
}

/// `Retry-After` as seconds or an HTTP date; a date in the past is no wait.
fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    Some(
        (at.with_timezone(&chrono::Utc) - chrono::Utc::now())
            .to_std()
            .unwrap_or(Duration::ZERO),
    )
}

/// The innermost cause of a transport error: reqwest's own message says only "error sending
/// request".
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judged(ip: &str) -> Option<Refusal> {
        refusal(ip.parse().unwrap())
    }

    #[test]
    fn every_private_loopback_link_local_unspecified_and_multicast_address_is_refused() {
        let refused = [
            ("127.0.0.1", Refusal::Loopback),
            ("127.255.0.9", Refusal::Loopback),
            ("::1", Refusal::Loopback),
            ("10.1.2.3", Refusal::Private),
            ("172.16.0.1", Refusal::Private),
            ("172.31.255.255", Refusal::Private),
            ("192.168.1.1", Refusal::Private),
            ("100.64.0.1", Refusal::Private),
            ("fd00::1", Refusal::Private),
            ("fc00::1", Refusal::Private),
            ("fec0::1", Refusal::Private),
            ("169.254.169.254", Refusal::LinkLocal),
            ("fe80::1", Refusal::LinkLocal),
            ("0.0.0.0", Refusal::Unspecified),
            ("::", Refusal::Unspecified),
            ("224.0.0.1", Refusal::Multicast),
            ("239.255.255.250", Refusal::Multicast),
            ("ff02::1", Refusal::Multicast),
            ("255.255.255.255", Refusal::Reserved),
            ("0.1.2.3", Refusal::Reserved),
            ("192.0.2.1", Refusal::Reserved),
            ("198.18.0.1", Refusal::Reserved),
            ("240.0.0.1", Refusal::Reserved),
            ("2001:db8::1", Refusal::Reserved),
            ("::10.0.0.1", Refusal::Reserved),
        ];
        for (ip, reason) in refused {
            assert_eq!(judged(ip), Some(reason), "{ip}");
        }
    }

    #[test]
    fn an_ipv4_address_wrapped_in_ipv6_is_judged_as_the_ipv4_host_it_reaches() {
        assert_eq!(judged("::ffff:127.0.0.1"), Some(Refusal::Loopback));
        assert_eq!(judged("::ffff:10.0.0.1"), Some(Refusal::Private));
        assert_eq!(judged("::ffff:169.254.169.254"), Some(Refusal::LinkLocal));
        assert_eq!(judged("64:ff9b::a00:1"), Some(Refusal::Private));
        assert_eq!(judged("2002:7f00:1::"), Some(Refusal::Loopback));
        assert_eq!(judged("::ffff:93.184.216.34"), None);
    }

    #[test]
    fn public_addresses_are_allowed() {
        for ip in [
            "93.184.216.34",
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700::1111",
        ] {
            assert_eq!(judged(ip), None, "{ip}");
        }
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        assert_eq!(parse_retry_after("120"), Some(Duration::from_secs(120)));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    fn client(allow_private: bool) -> GuardedClient {
        GuardedClient {
            allow_private,
            timeout: Duration::from_secs(2),
        }
    }

    async fn refused(url: &str) -> Refusal {
        match client(false)
            .post(&url.parse().unwrap(), HeaderMap::new(), Vec::new())
            .await
        {
            Err(SendError::Refused { reason, .. }) => reason,
            other => panic!("{url}: {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_url_naming_or_resolving_to_a_refused_address_is_never_called() {
        assert_eq!(refused("https://127.0.0.1/hook").await, Refusal::Loopback);
        assert_eq!(refused("https://[::1]:8443/hook").await, Refusal::Loopback);
        assert_eq!(refused("https://10.0.0.7/hook").await, Refusal::Private);
        assert_eq!(refused("https://[fd12::7]/hook").await, Refusal::Private);
        assert_eq!(
            refused("http://169.254.169.254/latest/meta-data").await,
            Refusal::LinkLocal
        );
        assert_eq!(refused("https://[fe80::1]/hook").await, Refusal::LinkLocal);
        assert_eq!(refused("https://0.0.0.0/hook").await, Refusal::Unspecified);
        assert_eq!(refused("https://224.0.0.1/hook").await, Refusal::Multicast);
        assert_eq!(
            refused("https://[::ffff:127.0.0.1]/hook").await,
            Refusal::Loopback
        );
        // A name is resolved before the check: localhost is refused as what it resolves to.
        assert_eq!(refused("https://localhost/hook").await, Refusal::Loopback);
    }
}
