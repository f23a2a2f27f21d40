//! Who may read `GET /metrics` on the public port: loopback, and the blocks `--metrics-allowed`
//! lists. Pure: the peer and the request's forwarding headers in, a yes or no out.
//!
//! "Private addresses may" is not a rule that holds: behind Docker's userland proxy (or any NAT in
//! front) every outsider arrives from a private address. So nothing but loopback is allowed
//! unless the operator names the scraper's network, and a request that a proxy forwarded for
//! someone (`X-Forwarded-For`, `X-Real-IP`) must name allowed addresses only: a proxy on the same
//! machine forwarding outsiders does not make them loopback. Those headers can be forged, but only
//! to be refused.

use std::net::IpAddr;

use crate::address::proxies::{canonical, parse_hop, Cidr, CidrError};

/// The blocks besides loopback whose peers may read `/metrics`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetricsAccess(Vec<Cidr>);

impl MetricsAccess {
    /// A comma-separated list of CIDR blocks (blanks ignored); empty: loopback only.
    pub fn parse(list: &str) -> Result<MetricsAccess, CidrError> {
        let blocks = list.split(',').map(str::trim).filter(|s| !s.is_empty()).map(Cidr::parse);
        Ok(MetricsAccess(blocks.collect::<Result<_, _>>()?))
    }

    fn admits(&self, addr: IpAddr) -> bool {
        canonical(addr).is_loopback() || self.0.iter().any(|block| block.contains(addr))
    }

    /// Whether a request from `peer`, with these `X-Forwarded-For` values and `X-Real-IP`, may
    /// read the metrics: the peer and every address a proxy named must be admitted.
    pub fn allows<'a>(
        &self,
        peer: IpAddr,
        forwarded_for: impl IntoIterator<Item = &'a [u8]>,
        real_ip: Option<&[u8]>,
    ) -> bool {
        let hops = forwarded_for.into_iter().flat_map(|value| value.split(|&b| b == b','));
        self.admits(peer) && hops.chain(real_ip).all(|hop| parse_hop(hop).is_some_and(|addr| self.admits(addr)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn loopback_and_listed_blocks_only() {
        let none = MetricsAccess::default();
        assert!(none.allows(ip("127.0.0.1"), [], None));
        assert!(none.allows(ip("::1"), [], None));
        assert!(none.allows(ip("::ffff:127.0.0.1"), [], None));
        assert!(!none.allows(ip("172.17.0.1"), [], None), "Docker's userland proxy: anyone");
        assert!(!none.allows(ip("10.0.0.5"), [], None));
        let listed = MetricsAccess::parse("10.0.0.0/8, 2001:db8::/32").unwrap();
        assert!(listed.allows(ip("10.9.8.7"), [], None));
        assert!(listed.allows(ip("2001:db8::1"), [], None));
        assert!(!listed.allows(ip("192.168.1.1"), [], None));
        assert!(MetricsAccess::parse("10.0.0.0/33").is_err());
    }

    #[test]
    fn what_a_proxy_forwarded_must_be_allowed_too() {
        let access = MetricsAccess::default();
        let peer = ip("127.0.0.1");
        assert!(access.allows(peer, [&b"127.0.0.1"[..]], None), "nginx's own loopback client");
        assert!(!access.allows(peer, [&b"203.0.113.9"[..]], None), "an outsider through a local proxy");
        assert!(!access.allows(peer, [&b"127.0.0.1, 203.0.113.9"[..]], None));
        assert!(!access.allows(peer, [], Some(&b"203.0.113.9"[..])));
        assert!(!access.allows(peer, [&b"garbage"[..]], None), "unreadable: refused");
        assert!(access.allows(peer, [&b"[::1]:443"[..]], Some(&b"127.0.0.1"[..])));
    }
}
