//! Whose address a request is: the TCP peer's, or — when the peer is a reverse proxy the operator
//! listed in `--trusted-proxies` — the client's as that proxy reports it in `X-Forwarded-For` or
//! `X-Real-IP`. Pure: headers in, one address out.
//!
//! Anyone can write `X-Forwarded-For`, so only hops added by trusted proxies are believed: the
//! list is read from the right (each proxy appends the address it saw) and the first address that
//! is not itself a trusted proxy is the client. A left-most entry is never taken on its own word.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// One `ADDRESS/PREFIX` block (or a bare address: all of its bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

/// Why a `--trusted-proxies` entry is not a CIDR block.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CidrError {
    #[error("{0:?} is not an IP address")]
    Address(String),
    #[error("{0:?} is not a prefix length for this address family")]
    Prefix(String),
}

impl Cidr {
    pub fn parse(text: &str) -> Result<Cidr, CidrError> {
        let text = text.trim();
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text, None),
        };
        let network: IpAddr = addr.parse().map_err(|_| CidrError::Address(addr.to_owned()))?;
        let network = canonical(network);
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => match p.parse::<u8>() {
                Ok(p) if p <= max => p,
                _ => return Err(CidrError::Prefix(p.to_owned())),
            },
        };
        Ok(Cidr { network, prefix })
    }

    pub fn contains(&self, addr: IpAddr) -> bool {
        match (self.network, canonical(addr)) {
            (IpAddr::V4(net), IpAddr::V4(a)) => {
                same_prefix(u128::from(net.to_bits()) << 96, u128::from(a.to_bits()) << 96, self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(a)) => same_prefix(net.to_bits(), a.to_bits(), self.prefix),
            _ => false,
        }
    }
}

fn same_prefix(a: u128, b: u128, prefix: u8) -> bool {
    let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
    a & mask == b & mask
}

/// An IPv4 client seen through an IPv6 socket (`::ffff:a.b.c.d`) is the IPv4 client.
pub fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
        v4 => v4,
    }
}

/// The reverse proxies whose forwarding headers are believed; empty by default (none are).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<Cidr>);

impl TrustedProxies {
    /// A comma-separated list of CIDR blocks (blanks ignored).
    pub fn parse(list: &str) -> Result<TrustedProxies, CidrError> {
        let blocks = list.split(',').map(str::trim).filter(|s| !s.is_empty()).map(Cidr::parse);
        Ok(TrustedProxies(blocks.collect::<Result<_, _>>()?))
    }

    pub fn contains(&self, addr: IpAddr) -> bool {
        self.0.iter().any(|block| block.contains(addr))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The client's address for a request that came from `peer`, given the values of its
    /// `X-Forwarded-For` headers (in order) and of `X-Real-IP`.
    pub fn client<'a>(
        &self,
        peer: IpAddr,
        forwarded_for: impl IntoIterator<Item = &'a [u8]>,
        real_ip: Option<&[u8]>,
    ) -> IpAddr {
        let peer = canonical(peer);
        if !self.contains(peer) {
            return peer;
        }
        let hops: Vec<&[u8]> = forwarded_for.into_iter().flat_map(|value| value.split(|&b| b == b',')).collect();
        if hops.is_empty() {
            return real_ip.and_then(parse_hop).unwrap_or(peer);
        }
        // From the right: each trusted proxy vouches for the hop on its left.
        let mut client = peer;
        for hop in hops.iter().rev() {
            match parse_hop(hop) {
                Some(addr) => {
                    client = addr;
                    if !self.contains(addr) {
                        break;
                    }
                }
                // Garbage written by someone: the last address a trusted proxy gave stands.
                None => break,
            }
        }
        client
    }
}

/// One hop: `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1` or `[2001:db8::1]:80`, spaces around.
pub fn parse_hop(hop: &[u8]) -> Option<IpAddr> {
    let text = std::str::from_utf8(hop).ok()?.trim();
    if let Ok(addr) = text.parse::<IpAddr>() {
        return Some(canonical(addr));
    }
    if let Some(rest) = text.strip_prefix('[') {
        let (inside, _) = rest.split_once(']')?;
        return inside.parse::<Ipv6Addr>().ok().map(|a| canonical(IpAddr::V6(a)));
    }
    let (host, port) = text.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    host.parse::<Ipv4Addr>().ok().map(IpAddr::V4)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn proxies(list: &str) -> TrustedProxies {
        TrustedProxies::parse(list).unwrap()
    }

    #[test]
    fn cidr_blocks_parse_and_match() {
        let block = Cidr::parse("10.0.0.0/8").unwrap();
        assert!(block.contains(ip("10.200.1.2")));
        assert!(block.contains(ip("::ffff:10.0.0.1")), "an IPv4-mapped address is the IPv4 one");
        assert!(!block.contains(ip("11.0.0.1")));
        assert!(!block.contains(ip("::1")));
        assert!(Cidr::parse("192.0.2.7").unwrap().contains(ip("192.0.2.7")));
        assert!(!Cidr::parse("192.0.2.7").unwrap().contains(ip("192.0.2.8")));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains(ip("203.0.113.9")));
        let v6 = Cidr::parse("2001:db8::/32").unwrap();
        assert!(v6.contains(ip("2001:db8:ffff::1")));
        assert!(!v6.contains(ip("2001:db9::1")));
        assert_eq!(Cidr::parse("10.0.0.0/33"), Err(CidrError::Prefix("33".into())));
        assert_eq!(Cidr::parse("nonsense/8"), Err(CidrError::Address("nonsense".into())));
        assert!(Cidr::parse("::/129").is_err());
        assert!(TrustedProxies::parse(" 127.0.0.1 , 10.0.0.0/8,").unwrap().contains(ip("10.1.1.1")));
        assert!(TrustedProxies::parse("").unwrap().is_empty());
    }

    #[test]
    fn headers_are_ignored_unless_the_peer_is_a_trusted_proxy() {
        let none = TrustedProxies::default();
        assert_eq!(none.client(ip("198.51.100.1"), [&b"203.0.113.5"[..]], Some(b"203.0.113.6")), ip("198.51.100.1"));
        let trusted = proxies("10.0.0.0/8");
        assert_eq!(trusted.client(ip("198.51.100.1"), [&b"203.0.113.5"[..]], None), ip("198.51.100.1"));
    }

    #[test]
    fn the_right_most_untrusted_hop_is_the_client() {
        let trusted = proxies("10.0.0.0/8");
        let peer = ip("10.0.0.2");
        // The client wrote a forged hop first; nginx appended the address it saw.
        assert_eq!(trusted.client(peer, [&b"1.1.1.1, 203.0.113.5"[..]], None), ip("203.0.113.5"));
        // Two trusted proxies in a row, and the list split over two headers.
        assert_eq!(trusted.client(peer, [&b"1.1.1.1, 203.0.113.5"[..], b"10.0.0.9"], None), ip("203.0.113.5"));
        assert_eq!(trusted.client(peer, [&b"[2001:db8::7]:443"[..]], None), ip("2001:db8::7"));
        assert_eq!(trusted.client(peer, [&b"203.0.113.5:5000"[..]], None), ip("203.0.113.5"));
        // Only trusted hops: the left-most of them.
        assert_eq!(trusted.client(peer, [&b"10.0.0.7,10.0.0.8"[..]], None), ip("10.0.0.7"));
        // Garbage stops the walk at the last address a trusted proxy vouched for.
        assert_eq!(trusted.client(peer, [&b"203.0.113.5, nonsense, 10.0.0.8"[..]], None), ip("10.0.0.8"));
        assert_eq!(trusted.client(peer, [&b"nonsense"[..]], None), peer);
    }

    #[test]
    fn x_real_ip_counts_only_without_x_forwarded_for() {
        let trusted = proxies("127.0.0.1");
        let peer = ip("127.0.0.1");
        assert_eq!(trusted.client(peer, [], Some(b" 203.0.113.5 ")), ip("203.0.113.5"));
        assert_eq!(trusted.client(peer, [&b"198.51.100.3"[..]], Some(b"203.0.113.5")), ip("198.51.100.3"));
        assert_eq!(trusted.client(peer, [], Some(b"garbage")), peer);
        assert_eq!(trusted.client(peer, [], None), peer);
    }
}
