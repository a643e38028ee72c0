//! Which IP addresses an outbound fetch may connect to: public unicast
//! addresses only. Everything RFC 6890 and its successors set apart —
//! private, loopback, link-local, unique-local, shared (CGNAT), multicast,
//! unspecified, broadcast, documentation, benchmarking, reserved, and the
//! IPv6 forms that embed an IPv4 address (mapped, NAT64, 6to4, Teredo) —
//! is refused, so a client metadata document URL cannot make the server
//! reach into its own network (draft-ietf-oauth-client-id-metadata-document
//! §"Server Side Request Forgery (SSRF) Attacks"). Loopback alone can be let
//! through, for development.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an address is not public, in words for an error description;
/// `None` for a public unicast address.
pub fn special_use(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => special_use_v4(v4),
        IpAddr::V6(v6) => special_use_v6(v6),
    }
}

/// Whether `ip` is a loopback address, in either family (an IPv4-mapped
/// `::ffff:127.0.0.1` included).
pub fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
    }
}

/// Why a fetch may not connect to `ip`, or `None` when it may: public
/// addresses always, loopback ones only when `allow_loopback`.
pub fn refusal(ip: IpAddr, allow_loopback: bool) -> Option<&'static str> {
    if allow_loopback && is_loopback(ip) {
        return None;
    }
    special_use(ip)
}

fn in_v4(ip: Ipv4Addr, network: [u8; 4], prefix: u32) -> bool {
    let mask = if prefix == 0 { 0 } else { u32::MAX << (32 - prefix) };
    u32::from(ip) & mask == u32::from(Ipv4Addr::from(network)) & mask
}

fn special_use_v4(ip: Ipv4Addr) -> Option<&'static str> {
    // (network, prefix length, what it is): RFC 6890 and the IANA IPv4
    // Special-Purpose Address Registry.
    const RANGES: [([u8; 4], u32, &str); 14] = [
        ([0, 0, 0, 0], 8, "an unspecified (\"this network\") address"),
        ([10, 0, 0, 0], 8, "a private address"),
        ([100, 64, 0, 0], 10, "a shared (carrier-grade NAT) address"),
        ([127, 0, 0, 0], 8, "a loopback address"),
        ([169, 254, 0, 0], 16, "a link-local address"),
        ([172, 16, 0, 0], 12, "a private address"),
        ([192, 0, 0, 0], 24, "an IETF protocol assignment address"),
        ([192, 0, 2, 0], 24, "a documentation address"),
        ([192, 88, 99, 0], 24, "a 6to4 relay address"),
        ([192, 168, 0, 0], 16, "a private address"),
        ([198, 18, 0, 0], 15, "a benchmarking address"),
        ([198, 51, 100, 0], 24, "a documentation address"),
        ([203, 0, 113, 0], 24, "a documentation address"),
        ([224, 0, 0, 0], 4, "a multicast address"),
    ];
    if let Some((_, _, kind)) = RANGES
        .iter()
        .find(|(network, prefix, _)| in_v4(ip, *network, *prefix))
    {
        return Some(kind);
    }
    // 240.0.0.0/4, reserved, with the limited broadcast address in it.
    in_v4(ip, [240, 0, 0, 0], 4).then_some("a reserved or broadcast address")
}

fn in_v6(ip: Ipv6Addr, network: [u16; 8], prefix: u32) -> bool {
    let mask = if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - prefix)
    };
    u128::from(ip) & mask == u128::from(Ipv6Addr::from(network)) & mask
}

/// The IPv4 address in the last 32 bits of `ip`.
fn low_v4(ip: Ipv6Addr) -> Ipv4Addr {
    let [.., a, b, c, d] = ip.octets();
    Ipv4Addr::new(a, b, c, d)
}

fn special_use_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if ip.is_unspecified() {
        return Some("an unspecified address");
    }
    if ip.is_loopback() {
        return Some("a loopback address");
    }
    // ::ffff:0:0/96 (IPv4-mapped) and 64:ff9b::/96 (NAT64, RFC 6052) reach
    // the IPv4 address they carry: judge that one.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return special_use_v4(v4);
    }
    if in_v6(ip, [0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96) {
        return special_use_v4(low_v4(ip));
    }
    // Only 2000::/3 is global unicast; everything else (IPv4-compatible,
    // discard-only, local NAT64, unique-local, link-local, site-local,
    // multicast, unassigned) is not for a fetch.
    if !in_v6(ip, [0x2000, 0, 0, 0, 0, 0, 0, 0], 3) {
        return Some(if in_v6(ip, [0xfc00, 0, 0, 0, 0, 0, 0, 0], 7) {
            "a unique-local address"
        } else if in_v6(ip, [0xfe80, 0, 0, 0, 0, 0, 0, 0], 10) {
            "a link-local address"
        } else if in_v6(ip, [0xff00, 0, 0, 0, 0, 0, 0, 0], 8) {
            "a multicast address"
        } else {
            "a special-use address"
        });
    }
    // Within 2000::/3: IETF protocol assignments (Teredo, benchmarking,
    // ORCHID among them), documentation, 6to4.
    const RANGES: [([u16; 8], u32, &str); 4] = [
        (
            [0x2001, 0, 0, 0, 0, 0, 0, 0],
            23,
            "an IETF protocol assignment address",
        ),
        ([0x2001, 0x0db8, 0, 0, 0, 0, 0, 0], 32, "a documentation address"),
        ([0x2002, 0, 0, 0, 0, 0, 0, 0], 16, "a 6to4 address"),
        ([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20, "a documentation address"),
    ];
    RANGES
        .iter()
        .find(|(network, prefix, _)| in_v6(ip, *network, *prefix))
        .map(|(_, _, kind)| *kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn public_addresses_pass() {
        for text in [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.215.14",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.169.0.1",
            "198.20.0.1",
            "223.255.255.255",
            "2606:4700:4700::1111",
            "2a00:1450:4001:80b::200e",
            "2001:4860:4860::8888",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
        ] {
            assert_eq!(special_use(ip(text)), None, "{text}");
            assert_eq!(refusal(ip(text), false), None, "{text}");
        }
    }

    #[test]
    fn special_use_ipv4_addresses_are_refused() {
        for (text, kind) in [
            ("0.0.0.0", "unspecified"),
            ("0.1.2.3", "unspecified"),
            ("10.0.0.1", "private"),
            ("10.255.255.255", "private"),
            ("100.64.0.1", "carrier-grade NAT"),
            ("100.127.255.254", "carrier-grade NAT"),
            ("127.0.0.1", "loopback"),
            ("127.255.0.9", "loopback"),
            ("169.254.169.254", "link-local"),
            ("172.16.0.1", "private"),
            ("172.31.255.255", "private"),
            ("192.0.0.8", "IETF"),
            ("192.0.2.1", "documentation"),
            ("192.88.99.1", "6to4"),
            ("192.168.1.1", "private"),
            ("198.18.0.1", "benchmarking"),
            ("198.19.255.255", "benchmarking"),
            ("198.51.100.7", "documentation"),
            ("203.0.113.9", "documentation"),
            ("224.0.0.1", "multicast"),
            ("239.255.255.250", "multicast"),
            ("240.0.0.1", "reserved"),
            ("255.255.255.255", "broadcast"),
        ] {
            let found = special_use(ip(text)).unwrap_or_else(|| panic!("{text} passed"));
            assert!(found.contains(kind), "{text}: {found}");
        }
    }

    #[test]
    fn special_use_ipv6_addresses_are_refused() {
        for (text, kind) in [
            ("::", "unspecified"),
            ("::1", "loopback"),
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:10.1.2.3", "private"),
            ("::ffff:169.254.169.254", "link-local"),
            ("::ffff:0.0.0.0", "unspecified"),
            ("64:ff9b::a00:1", "private"),
            ("64:ff9b::7f00:1", "loopback"),
            ("64:ff9b:1::1", "special-use"),
            ("::127.0.0.1", "special-use"),
            ("100::1", "special-use"),
            ("fc00::1", "unique-local"),
            ("fd12:3456:789a::1", "unique-local"),
            ("fe80::1", "link-local"),
            ("febf::1", "link-local"),
            ("fec0::1", "special-use"),
            ("ff02::1", "multicast"),
            ("ff0e::1", "multicast"),
            ("2001::1", "IETF"),
            ("2001:2::1", "IETF"),
            ("2001:10::1", "IETF"),
            ("2001:db8::1", "documentation"),
            ("2002:a00:1::1", "6to4"),
            ("3fff::1", "documentation"),
            ("4000::1", "special-use"),
        ] {
            let found = special_use(ip(text)).unwrap_or_else(|| panic!("{text} passed"));
            assert!(found.contains(kind), "{text}: {found}");
        }
    }

    #[test]
    fn loopback_passes_only_when_allowed_and_nothing_else_does() {
        for text in ["127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1"] {
            assert!(is_loopback(ip(text)), "{text}");
            assert_eq!(refusal(ip(text), true), None, "{text}");
            assert!(refusal(ip(text), false).is_some(), "{text}");
        }
        for text in [
            "10.0.0.1",
            "169.254.169.254",
            "fe80::1",
            "::",
            "0.0.0.0",
            "fd00::1",
        ] {
            assert!(
                refusal(ip(text), true).is_some(),
                "{text} passed with loopback allowed"
            );
        }
    }
}
