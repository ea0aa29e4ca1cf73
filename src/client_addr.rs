//! Where a request comes from, for the IP allowlist and the sign-in throttle.
//!
//! Behind a proxy the peer is the proxy, and the client's address is in `X-Forwarded-For`. Each
//! proxy *appends* the address it received the request from, so only the entries on the right,
//! written by proxies Aisle trusts, are facts; anything further left was written by whoever sent
//! the request and is worth nothing. The client is therefore the right-most entry that is not a
//! trusted proxy, reached by walking from the peer leftwards through trusted hops only. Taking
//! the left-most entry instead, as Aisle once did, let a caller choose its own address: a stolen
//! key then passed any allowlist, and a script could open sign-ins from endless made-up
//! addresses.
//!
//! Addresses are compared in canonical form: an IPv4-mapped IPv6 address (`::ffff:10.0.0.1`,
//! what a dual-stack listener reports for an IPv4 peer) is the IPv4 address it carries, so an
//! allowlist or proxy list written in IPv4 matches it.

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;
use ipnet::{IpNet, Ipv4Net};

/// The address of the client behind `peer`, the connection's remote address, given the proxies
/// Aisle trusts. With no trusted proxies (the default), `X-Forwarded-For` is never read.
pub fn client_addr(peer: IpAddr, headers: &HeaderMap, trusted_proxies: &[IpNet]) -> IpAddr {
    let mut client = canonical(peer);
    if !is_within(client, trusted_proxies) {
        return client;
    }
    // A request may carry the header several times; together they form one list, in order.
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .collect();
    for hop in hops.into_iter().rev() {
        // An entry a trusted proxy did not write in a form we read ends the chain: the last
        // address we know to be true is the hop that handed it over.
        let Some(hop) = parse_hop(hop) else {
            return client;
        };
        client = hop;
        if !is_within(client, trusted_proxies) {
            return client;
        }
    }
    // Every hop is a trusted proxy: the request started inside the trusted network.
    client
}

/// `ip` with an IPv4-mapped IPv6 address written as the IPv4 address it carries.
pub fn canonical(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

/// `net` with an IPv4-mapped IPv6 network (`::ffff:10.0.0.0/104`) written as the IPv4 network it
/// covers, so that it contains canonical addresses.
pub fn canonical_net(net: IpNet) -> IpNet {
    match net {
        IpNet::V6(v6) if v6.prefix_len() >= 96 => match v6.addr().to_ipv4_mapped() {
            Some(v4) => Ipv4Net::new(v4, v6.prefix_len() - 96)
                .map(IpNet::V4)
                .unwrap_or(net),
            None => net,
        },
        _ => net,
    }
}

/// Whether `ip`, in whichever form, is inside one of `nets`, in whichever form.
pub fn is_within(ip: IpAddr, nets: &[IpNet]) -> bool {
    let ip = canonical(ip);
    nets.iter().any(|net| canonical_net(*net).contains(&ip))
}

/// One `X-Forwarded-For` entry: an address, or an address with a port as some proxies write it
/// (`203.0.113.7:51234`, `[2001:db8::7]:51234`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    hop.parse::<IpAddr>()
        .or_else(|_| hop.parse::<SocketAddr>().map(|addr| addr.ip()))
        .ok()
        .map(canonical)
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append("x-forwarded-for", HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn nets(texts: &[&str]) -> Vec<IpNet> {
        texts.iter().map(|t| t.parse().unwrap()).collect()
    }

    #[test]
    fn without_trusted_proxies_the_forwarded_header_is_ignored() {
        let headers = forwarded(&["198.51.100.1"]);
        assert_eq!(
            client_addr(ip("203.0.113.9"), &headers, &[]),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn a_caller_that_is_not_a_trusted_proxy_cannot_name_its_own_address() {
        let headers = forwarded(&["10.1.2.3"]);
        let proxies = nets(&["10.0.0.0/8"]);
        assert_eq!(
            client_addr(ip("203.0.113.9"), &headers, &proxies),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn an_entry_the_caller_wrote_before_the_proxy_appended_is_not_taken() {
        // The caller sent `X-Forwarded-For: 10.9.9.9`; the proxy appended the real address.
        let headers = forwarded(&["10.9.9.9, 203.0.113.9"]);
        let proxies = nets(&["10.0.0.0/8"]);
        assert_eq!(
            client_addr(ip("10.0.0.2"), &headers, &proxies),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn the_client_is_the_right_most_hop_that_is_not_a_trusted_proxy() {
        let headers = forwarded(&["198.51.100.1, 203.0.113.9", "10.0.0.5"]);
        let proxies = nets(&["10.0.0.0/8"]);
        assert_eq!(
            client_addr(ip("10.0.0.2"), &headers, &proxies),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn hops_written_with_ports_or_mapped_forms_are_read() {
        let proxies = nets(&["10.0.0.0/8"]);
        for (entry, expected) in [
            ("203.0.113.9:51234", "203.0.113.9"),
            ("[2001:db8::7]:443", "2001:db8::7"),
            ("::ffff:203.0.113.9", "203.0.113.9"),
        ] {
            let headers = forwarded(&[entry]);
            assert_eq!(
                client_addr(ip("10.0.0.2"), &headers, &proxies),
                ip(expected),
                "{entry}"
            );
        }
    }

    #[test]
    fn an_unreadable_hop_leaves_the_last_trusted_address_as_the_client() {
        let headers = forwarded(&["203.0.113.9, not-an-address"]);
        let proxies = nets(&["10.0.0.0/8"]);
        assert_eq!(
            client_addr(ip("10.0.0.2"), &headers, &proxies),
            ip("10.0.0.2")
        );
    }

    #[test]
    fn a_request_from_inside_the_trusted_network_is_the_left_most_hop() {
        let headers = forwarded(&["10.0.0.7, 10.0.0.5"]);
        let proxies = nets(&["10.0.0.0/8"]);
        assert_eq!(
            client_addr(ip("10.0.0.2"), &headers, &proxies),
            ip("10.0.0.7")
        );
    }

    #[test]
    fn a_mapped_peer_matches_a_proxy_list_written_in_ipv4_and_the_other_way_round() {
        let headers = forwarded(&["203.0.113.9"]);
        assert_eq!(
            client_addr(ip("::ffff:10.0.0.2"), &headers, &nets(&["10.0.0.0/8"])),
            ip("203.0.113.9")
        );
        assert_eq!(
            client_addr(ip("10.0.0.2"), &headers, &nets(&["::ffff:10.0.0.0/104"])),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn a_mapped_address_is_within_an_ipv4_allowlist() {
        assert!(is_within(ip("::ffff:192.0.2.4"), &nets(&["192.0.2.0/24"])));
        assert!(is_within(ip("192.0.2.4"), &nets(&["::ffff:192.0.2.0/120"])));
        assert!(!is_within(ip("::ffff:192.0.3.4"), &nets(&["192.0.2.0/24"])));
    }
}
