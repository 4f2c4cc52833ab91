//! Which proxies are believed about where a request comes from (`X-Forwarded-For`):
//! only those listed in `REELSMITH_TRUSTED_PROXIES`, so that a client cannot name an
//! address of its choosing (to dodge throttling, or to have someone else throttled).

use http::HeaderMap;
use std::net::IpAddr;

/// Address ranges (CIDRs) of trusted proxies.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    ranges: Vec<(IpAddr, u8)>,
}

impl TrustedProxies {
    /// Parses `10.0.0.0/8, 127.0.0.1, ::1/128` (a bare address is a range of one).
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut ranges = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (address, bits) = match part.split_once('/') {
                Some((address, bits)) => (address, Some(bits)),
                None => (part, None),
            };
            let address: IpAddr = address
                .trim()
                .parse()
                .map_err(|_| format!("`{part}` is not an address or a CIDR range"))?;
            let max = if address.is_ipv4() { 32 } else { 128 };
            let bits = match bits {
                Some(bits) => bits
                    .trim()
                    .parse::<u8>()
                    .ok()
                    .filter(|b| *b <= max)
                    .ok_or_else(|| format!("`{part}` has a prefix length outside 0–{max}"))?,
                None => max,
            };
            ranges.push((address, bits));
        }
        Ok(Self { ranges })
    }

    pub fn contains(&self, address: IpAddr) -> bool {
        let address = canonical(address);
        self.ranges
            .iter()
            .any(|(network, bits)| match (canonical(*network), address) {
                (IpAddr::V4(net), IpAddr::V4(ip)) => {
                    prefix_matches(&net.octets(), &ip.octets(), *bits)
                }
                (IpAddr::V6(net), IpAddr::V6(ip)) => {
                    prefix_matches(&net.octets(), &ip.octets(), *bits)
                }
                _ => false,
            })
    }

    /// The client behind `peer` (a trusted proxy): the rightmost `X-Forwarded-For`
    /// address that is not itself a trusted proxy (what each proxy appended), or the
    /// peer when the header says nothing usable.
    pub fn client_behind(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let forwarded = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .collect::<Vec<_>>();
        let mut client = peer;
        for hop in forwarded.iter().rev() {
            match hop.parse::<IpAddr>() {
                Ok(address) => {
                    client = address;
                    if !self.contains(address) {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
        client
    }
}

/// IPv4 addresses mapped into IPv6 compare as IPv4.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(address),
        v4 => v4,
    }
}

fn prefix_matches(network: &[u8], address: &[u8], bits: u8) -> bool {
    let (whole, rest) = ((bits / 8) as usize, bits % 8);
    if network[..whole] != address[..whole] {
        return false;
    }
    if rest == 0 {
        return true;
    }
    let mask = 0xffu8 << (8 - rest);
    network[whole] & mask == address[whole] & mask
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn ranges_parse_and_match() {
        let trusted = TrustedProxies::parse("10.0.0.0/8, 127.0.0.1, fd00::/8").unwrap();
        assert!(trusted.contains(ip("10.200.3.4")));
        assert!(trusted.contains(ip("127.0.0.1")));
        assert!(trusted.contains(ip("::ffff:127.0.0.1")));
        assert!(trusted.contains(ip("fd12::1")));
        assert!(!trusted.contains(ip("11.0.0.1")));
        assert!(!trusted.contains(ip("127.0.0.2")));
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
        assert!(TrustedProxies::parse("nonsense").is_err());
        assert!(!TrustedProxies::default().contains(ip("127.0.0.1")));
    }

    #[test]
    fn the_client_is_the_nearest_untrusted_hop() {
        let trusted = TrustedProxies::parse("10.0.0.0/8").unwrap();
        let mut headers = HeaderMap::new();
        // A client claiming 1.1.1.1, seen by our edge proxy as 203.0.113.9.
        headers.insert(
            "x-forwarded-for",
            "1.1.1.1, 203.0.113.9, 10.0.0.2".parse().unwrap(),
        );
        assert_eq!(
            trusted.client_behind(ip("10.0.0.1"), &headers),
            ip("203.0.113.9")
        );
        let empty = HeaderMap::new();
        assert_eq!(
            trusted.client_behind(ip("10.0.0.1"), &empty),
            ip("10.0.0.1")
        );
    }
}
