//! The client's address behind reverse proxies.
//!
//! Per-address rate limits (logins, registrations, codes, linking) count requests by the
//! client's IP address. Behind a reverse proxy or a load balancer every connection comes from
//! the proxy, so without this every subscriber would share one address and one limit. The
//! operator lists the proxies it runs ([`TrustedProxies`]); when a connection comes from one of
//! them, the client is the right-most address of `X-Forwarded-For` that is **not** a trusted
//! proxy (each proxy appends the address it saw, so entries to the left of it are whatever
//! the client chose to send and are never believed). A connection from any other address is
//! its own client, whatever headers it sends.

use std::net::IpAddr;

use ipnet::IpNet;
use poem::http::header::HeaderMap;
use poem::{Endpoint, Request};

/// The reverse proxies whose `X-Forwarded-For` is believed: addresses and networks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

/// Why a list of trusted proxies was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is neither an IP address nor a network (10.0.0.0/8, fd00::/8)")]
pub struct InvalidProxy(pub String);

impl TrustedProxies {
    /// No proxy is trusted: the connection's peer is the client.
    pub fn none() -> Self {
        Self::default()
    }

    /// Parses a comma-separated list of addresses (`127.0.0.1`) and networks (`10.0.0.0/8`);
    /// spaces and empty items are ignored.
    pub fn parse(list: &str) -> Result<Self, InvalidProxy> {
        list.split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(|item| {
                item.parse::<IpNet>()
                    .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| InvalidProxy(item.to_owned()))
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    /// Whether no proxy is trusted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `ip` is a trusted proxy.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client of a connection from `peer` carrying `headers`: `peer` itself unless it is
    /// a trusted proxy; otherwise the right-most `X-Forwarded-For` entry that is not a trusted
    /// proxy (the left-most entry if all are). A malformed entry stops the walk: the address
    /// to its right is the client, since whoever wrote that entry is not a proxy we run.
    pub fn client_of(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.contains(peer) {
            return peer;
        }
        let entries: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        let mut client = peer;
        for entry in entries.iter().rev() {
            match parse_entry(entry) {
                Some(ip) => {
                    client = ip;
                    if !self.contains(ip) {
                        break;
                    }
                }
                None => break,
            }
        }
        client
    }
}

/// The client address the proxy layer found, kept in the request's extensions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddress(pub IpAddr);

/// Records each request's [`ClientAddress`] (only when some proxy is trusted; otherwise the
/// peer address is read directly).
pub(crate) async fn record_client_address<E: Endpoint>(
    next: E,
    mut req: Request,
    proxies: &TrustedProxies,
) -> poem::Result<E::Output> {
    if let Some(peer) = req.remote_addr().as_socket_addr().map(|a| a.ip()) {
        let client = proxies.client_of(peer, req.headers());
        req.extensions_mut().insert(ClientAddress(client));
    }
    next.call(req).await
}

/// An `X-Forwarded-For` entry: an IP address, possibly with a port (`1.2.3.4:5678`,
/// `[::1]:5678`), as some proxies write it.
fn parse_entry(entry: &str) -> Option<IpAddr> {
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    entry
        .parse::<std::net::SocketAddr>()
        .ok()
        .map(|a| canonical(a.ip()))
}

/// IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`, how a dual-stack socket reports IPv4 peers)
/// as the IPv4 address, so that `10.0.0.0/8` matches them.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use poem::http::HeaderValue;

    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn xff(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append("x-forwarded-for", HeaderValue::from_str(v).unwrap());
        }
        headers
    }

    #[test]
    fn parses_addresses_and_networks_and_refuses_the_rest() {
        let proxies = TrustedProxies::parse(" 127.0.0.1, 10.0.0.0/8,,fd00::/8 ").unwrap();
        assert!(proxies.contains(ip("127.0.0.1")));
        assert!(proxies.contains(ip("10.20.30.40")));
        assert!(proxies.contains(ip("::ffff:10.1.1.1")));
        assert!(proxies.contains(ip("fd12::1")));
        assert!(!proxies.contains(ip("127.0.0.2")));
        assert!(TrustedProxies::parse("").unwrap().is_empty());
        assert_eq!(
            TrustedProxies::parse("127.0.0.1,localhost"),
            Err(InvalidProxy("localhost".to_owned()))
        );
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
    }

    #[test]
    fn an_untrusted_peer_is_its_own_client_whatever_it_sends() {
        let proxies = TrustedProxies::parse("10.0.0.1").unwrap();
        let h = xff(&["203.0.113.7"]);
        assert_eq!(
            proxies.client_of(ip("198.51.100.1"), &h),
            ip("198.51.100.1")
        );
        assert_eq!(
            TrustedProxies::none().client_of(ip("10.0.0.1"), &h),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn behind_trusted_proxies_the_right_most_untrusted_entry_is_the_client() {
        let proxies = TrustedProxies::parse("10.0.0.0/8").unwrap();
        // The client spoofed 1.1.1.1; the edge proxy appended the address it saw.
        let h = xff(&["1.1.1.1, 203.0.113.7", "10.0.0.2"]);
        assert_eq!(proxies.client_of(ip("10.0.0.1"), &h), ip("203.0.113.7"));
        // With a port, and IPv6 in brackets.
        let h = xff(&["203.0.113.8:51234"]);
        assert_eq!(proxies.client_of(ip("10.0.0.1"), &h), ip("203.0.113.8"));
        let h = xff(&["[2001:db8::5]:443"]);
        assert_eq!(proxies.client_of(ip("10.0.0.1"), &h), ip("2001:db8::5"));
        // No header: the proxy itself. All entries trusted: the left-most.
        assert_eq!(
            proxies.client_of(ip("10.0.0.1"), &HeaderMap::new()),
            ip("10.0.0.1")
        );
        let h = xff(&["10.9.9.9, 10.0.0.2"]);
        assert_eq!(proxies.client_of(ip("10.0.0.1"), &h), ip("10.9.9.9"));
        // Garbage stops the walk at the last address a trusted proxy wrote.
        let h = xff(&["203.0.113.9, not-an-ip, 10.0.0.2"]);
        assert_eq!(proxies.client_of(ip("10.0.0.1"), &h), ip("10.0.0.2"));
    }
}
