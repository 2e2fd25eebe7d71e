//! The SSRF guard: Bandmate fetches `uploadUrl`/`fileUrl` and posts to `callBackUrl` on
//! behalf of whoever holds a key, so it refuses addresses inside the machine's own networks.
//!
//! Refused unless the configured [`AllowList`] permits them: loopback (`127.0.0.0/8`, `::1`),
//! private (RFC 1918 `10/8`, `172.16/12`, `192.168/16`; IPv6 unique-local `fc00::/7`, the
//! deprecated site-local `fec0::/10` and the local-use NAT64 prefix `64:ff9b:1::/48`),
//! link-local (`169.254/16`, `fe80::/10`; this covers the cloud metadata address
//! `169.254.169.254`), carrier-grade NAT (`100.64/10`, RFC 6598), the unspecified and
//! broadcast addresses, multicast, the documentation/benchmark ranges, and the IPv6 forms
//! that embed an IPv4 address (IPv4-mapped, NAT64, 6to4, Teredo: see [`embedded_v4`]), which
//! are judged as the address they embed. Alibaba's metadata address `100.100.100.200` is
//! inside the CGNAT range. The check runs on literal IPs in URLs, on every redirect hop and on
//! every DNS answer (through [`GuardedResolver`], so the address checked is the address
//! connected to). Names are looked up with the system resolver unless [`Guard::with_lookup`]
//! replaces it; the answers are checked the same way either way.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

/// A CIDR block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Parse `a.b.c.d/n`, `v6/n` or a single address.
    pub fn parse(s: &str) -> Result<Self, String> {
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse()
            .map_err(|_| format!("'{s}' is not an IP address or CIDR block"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|&n| n <= max)
                .ok_or_else(|| format!("'{s}' has an invalid prefix length (0 to {max})"))?,
            None => max,
        };
        Ok(Self { addr, prefix })
    }

    /// Whether `ip` lies in the block.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// Addresses and host names let through despite the guard (`fetch.allow`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList {
    blocks: Vec<Cidr>,
    hosts: Vec<String>,
}

impl AllowList {
    /// Parse the config entries: CIDRs, single IPs or host names.
    pub fn parse(entries: &[String]) -> Result<Self, String> {
        let mut out = Self::default();
        for e in entries {
            let e = e.trim();
            if e.is_empty() {
                continue;
            }
            let looks_numeric = e.contains('/')
                || e.contains(':')
                || e.chars().all(|c| c.is_ascii_digit() || c == '.');
            if looks_numeric {
                out.blocks
                    .push(Cidr::parse(e).map_err(|m| format!("fetch.allow: {m}"))?);
            } else if e
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
            {
                out.hosts.push(e.to_ascii_lowercase());
            } else {
                return Err(format!("fetch.allow: '{e}' is not a CIDR, IP or host name"));
            }
        }
        Ok(out)
    }

    /// Whether an address is allowed: it, or the IPv4 address it embeds, is in a block.
    pub fn allows_ip(&self, ip: IpAddr) -> bool {
        let v4 = match ip {
            IpAddr::V6(v) => embedded_v4(v).map(IpAddr::V4),
            IpAddr::V4(_) => None,
        };
        self.blocks
            .iter()
            .any(|b| b.contains(ip) || v4.is_some_and(|v4| b.contains(v4)))
    }

    /// Whether a host name is allowed (then its DNS answers are not checked).
    pub fn allows_host(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.hosts.contains(&host)
    }
}

/// Why an address is refused, in words for an error message (`None`: a public address).
pub fn forbidden_kind(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v) => forbidden_v4(v),
        IpAddr::V6(v) => {
            if let Some(v4) = embedded_v4(v) {
                return forbidden_v4(v4);
            }
            let seg = v.segments();
            if v.is_loopback() {
                Some("loopback")
            } else if v.is_unspecified() {
                Some("unspecified")
            } else if v.is_multicast() {
                Some("multicast")
            } else if seg[0] & 0xfe00 == 0xfc00 {
                Some("private")
            } else if seg[0] & 0xffc0 == 0xfe80 {
                Some("link-local")
            } else if seg[0] & 0xffc0 == 0xfec0 {
                // Site-local (RFC 3879 deprecated it; a network may still route it inside).
                Some("private")
            } else if seg[0] == 0x64 && seg[1] == 0xff9b && seg[2] == 1 {
                // The local-use translation prefix 64:ff9b:1::/48 (RFC 8215): a NAT64 of the
                // operator's own, into IPv4 networks whose addresses it may place anywhere.
                Some("private")
            } else if seg[0] == 0x2001 && seg[1] == 0x0db8 {
                Some("reserved")
            } else if seg[0] == 0x2001 && seg[1] == 2 && seg[2] == 0 {
                // Benchmarking 2001:2::/48 (RFC 5180), as 198.18.0.0/15 for IPv4.
                Some("reserved")
            } else if seg[0] == 0x0100 && seg[1..4].iter().all(|&s| s == 0) {
                // Discard-only 100::/64 (RFC 6666).
                Some("reserved")
            } else if seg[0] == 0 && seg[1] == 0 && seg[2..6].iter().all(|&s| s == 0) {
                // Deprecated IPv4-compatible ::a.b.c.d
                Some("reserved")
            } else {
                None
            }
        }
    }
}

/// The IPv4 address an IPv6 address stands for, when it has one a packet can reach:
///
/// - IPv4-mapped `::ffff:a.b.c.d` (RFC 4291), the address itself on a dual-stack socket;
/// - NAT64 `64:ff9b::a.b.c.d` (RFC 6052 well-known prefix), the last 32 bits;
/// - 6to4 `2002:AABB:CCDD::/48` (RFC 3056), bits 16..48;
/// - Teredo `2001:0::/32` (RFC 4380), the client address: the last 32 bits inverted.
pub fn embedded_v4(v: Ipv6Addr) -> Option<Ipv4Addr> {
    let seg = v.segments();
    let o = v.octets();
    if let Some(v4) = v.to_ipv4_mapped() {
        Some(v4)
    } else if seg[0] == 0x64 && seg[1] == 0xff9b && seg[2..6].iter().all(|&s| s == 0) {
        Some(Ipv4Addr::new(o[12], o[13], o[14], o[15]))
    } else if seg[0] == 0x2002 {
        Some(Ipv4Addr::new(o[2], o[3], o[4], o[5]))
    } else if seg[0] == 0x2001 && seg[1] == 0 {
        Some(Ipv4Addr::from(
            u32::from_be_bytes([o[12], o[13], o[14], o[15]]) ^ 0xffff_ffff,
        ))
    } else {
        None
    }
}

fn forbidden_v4(v: Ipv4Addr) -> Option<&'static str> {
    let o = v.octets();
    if v == Ipv4Addr::new(169, 254, 169, 254) || v == Ipv4Addr::new(100, 100, 100, 200) {
        Some("metadata")
    } else if v.is_loopback() {
        Some("loopback")
    } else if v.is_private() {
        Some("private")
    } else if v.is_link_local() {
        Some("link-local")
    } else if o[0] == 100 && (o[1] & 0xc0) == 64 {
        Some("private")
    } else if v.is_unspecified() || o[0] == 0 {
        Some("unspecified")
    } else if v.is_broadcast()
        || v.is_multicast()
        || o[0] >= 240
        || v.is_documentation()
        || (o[0] == 198 && (o[1] & 0xfe) == 18)
        || (o[0] == 192 && o[1] == 0 && o[2] == 0)
    {
        Some("reserved")
    } else {
        None
    }
}

/// A refusal by the guard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The host name or literal in the URL.
    pub host: String,
    /// The offending address.
    pub ip: IpAddr,
    /// `loopback`, `private`, `link-local`, `metadata`, …
    pub kind: &'static str,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let literal =
            self.host.trim_start_matches('[').trim_end_matches(']') == self.ip.to_string();
        if literal {
            write!(
                f,
                "{} is a {} address, which is not allowed",
                self.ip, self.kind
            )
        } else {
            write!(
                f,
                "{} resolves to {}, a {} address, which is not allowed",
                self.host, self.ip, self.kind
            )
        }
    }
}

impl std::error::Error for Refused {}

/// The guard: the allow-list plus the checks.
#[derive(Clone, Default)]
pub struct Guard {
    allow: AllowList,
    /// Looks names up instead of the system resolver (`None`: the system resolver).
    lookup: Option<Arc<dyn reqwest::dns::Resolve>>,
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard")
            .field("allow", &self.allow)
            .field("custom_lookup", &self.lookup.is_some())
            .finish()
    }
}

impl Guard {
    /// A guard with this allow-list, resolving names with the system resolver.
    pub fn new(allow: AllowList) -> Self {
        Self {
            allow,
            lookup: None,
        }
    }

    /// Look names up with `lookup` instead of the system resolver; its answers are checked
    /// exactly like the system resolver's (tests map names to addresses with it).
    pub fn with_lookup(mut self, lookup: Arc<dyn reqwest::dns::Resolve>) -> Self {
        self.lookup = Some(lookup);
        self
    }

    /// Check one resolved address for `host`.
    pub fn check_ip(&self, host: &str, ip: IpAddr) -> Result<(), Refused> {
        if self.allow.allows_host(host) || self.allow.allows_ip(ip) {
            return Ok(());
        }
        match forbidden_kind(ip) {
            Some(kind) => Err(Refused {
                host: host.to_string(),
                ip,
                kind,
            }),
            None => Ok(()),
        }
    }

    /// Check a URL whose host is a literal IP (names are checked at resolution). `localhost`
    /// is refused here too, without asking DNS.
    pub fn check_url(&self, url: &url::Url) -> Result<(), Refused> {
        match url.host() {
            Some(url::Host::Ipv4(v)) => self.check_ip(&v.to_string(), IpAddr::V4(v)),
            Some(url::Host::Ipv6(v)) => self.check_ip(&v.to_string(), IpAddr::V6(v)),
            Some(url::Host::Domain(d)) => {
                let d = d.trim_end_matches('.').to_ascii_lowercase();
                if (d == "localhost" || d.ends_with(".localhost")) && !self.allow.allows_host(&d) {
                    self.check_ip(&d, IpAddr::V4(Ipv4Addr::LOCALHOST))
                } else {
                    Ok(())
                }
            }
            None => Ok(()),
        }
    }

    /// A DNS resolver for reqwest that drops refused answers (and fails when none is left).
    pub fn resolver(&self) -> GuardedResolver {
        GuardedResolver {
            guard: Arc::new(self.clone()),
        }
    }
}

/// A reqwest resolver that resolves with the system resolver (or the guard's own lookup) and
/// applies the [`Guard`] to every answer.
#[derive(Clone)]
pub struct GuardedResolver {
    guard: Arc<Guard>,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let guard = self.guard.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = match &guard.lookup {
                Some(lookup) => lookup.resolve(name).await?.collect(),
                None => tokio::net::lookup_host((host.as_str(), 0)).await?.collect(),
            };
            let mut ok = Vec::new();
            let mut first_refusal = None;
            for a in addrs {
                match guard.check_ip(&host, a.ip()) {
                    Ok(()) => ok.push(a),
                    Err(r) => {
                        first_refusal.get_or_insert(r);
                    }
                }
            }
            if ok.is_empty() {
                let err: Box<dyn std::error::Error + Send + Sync> = match first_refusal {
                    Some(r) => Box::new(r),
                    None => format!("{host} has no address").into(),
                };
                return Err(err);
            }
            Ok(Box::new(ok.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Find a [`Refused`] in an error's source chain (reqwest wraps resolver errors).
pub fn find_refusal(e: &(dyn std::error::Error + 'static)) -> Option<Refused> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(r) = err.downcast_ref::<Refused>() {
            return Some(r.clone());
        }
        cur = err.source();
    }
    None
}

/// Whether an address is refused by default (no allow-list).
pub fn is_forbidden(ip: IpAddr) -> bool {
    forbidden_kind(ip).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn classifies_addresses() {
        for (a, k) in [
            ("127.0.0.1", "loopback"),
            ("127.8.9.1", "loopback"),
            ("10.1.2.3", "private"),
            ("172.16.0.1", "private"),
            ("172.31.255.255", "private"),
            ("192.168.1.1", "private"),
            ("169.254.169.254", "metadata"),
            ("169.254.1.1", "link-local"),
            ("100.64.0.1", "private"),
            ("100.100.100.200", "metadata"),
            ("0.0.0.0", "unspecified"),
            ("::1", "loopback"),
            ("::", "unspecified"),
            ("fd00::1", "private"),
            ("fe80::1", "link-local"),
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:10.0.0.1", "private"),
            ("64:ff9b::a9fe:a9fe", "metadata"),
            ("224.0.0.1", "reserved"),
            ("255.255.255.255", "reserved"),
        ] {
            assert_eq!(forbidden_kind(ip(a)), Some(k), "{a}");
        }
        for a in [
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700::1111",
            "1.1.1.1",
        ] {
            assert_eq!(forbidden_kind(ip(a)), None, "{a}");
        }
    }

    #[test]
    fn ipv6_forms_embedding_ipv4_are_judged_by_it() {
        for (a, embedded, k) in [
            // IPv4-mapped and NAT64 (64:ff9b::/96).
            (
                "::ffff:169.254.169.254",
                "169.254.169.254",
                Some("metadata"),
            ),
            ("64:ff9b::10.1.2.3", "10.1.2.3", Some("private")),
            ("64:ff9b::7f00:1", "127.0.0.1", Some("loopback")),
            ("64:ff9b::8.8.8.8", "8.8.8.8", None),
            // 6to4: 2002:AABB:CCDD::/48, the IPv4 address in bits 16..48, whatever follows.
            ("2002:a01:203::", "10.1.2.3", Some("private")),
            ("2002:7f00:1::", "127.0.0.1", Some("loopback")),
            (
                "2002:a9fe:a9fe:1:2:3:4:5",
                "169.254.169.254",
                Some("metadata"),
            ),
            ("2002:c0a8:101::1", "192.168.1.1", Some("private")),
            ("2002:a9fe:101::", "169.254.1.1", Some("link-local")),
            ("2002:6464:64c8::", "100.100.100.200", Some("metadata")),
            ("2002:0:0::", "0.0.0.0", Some("unspecified")),
            ("2002:808:808::1", "8.8.8.8", None),
            // Teredo: 2001:0:SSSS:SSSS:flags:port:CCCC:CCCC, the client address inverted.
            // 10.1.2.3 = 0a01:0203, inverted f5fe:fdfc; the server part (4136:e378) is ignored.
            (
                "2001:0:4136:e378:8000:63bf:f5fe:fdfc",
                "10.1.2.3",
                Some("private"),
            ),
            (
                "2001:0:4136:e378:8000:63bf:80ff:fffe",
                "127.0.0.1",
                Some("loopback"),
            ),
            (
                "2001:0:a01:203:0:0:5601:5601",
                "169.254.169.254",
                Some("metadata"),
            ),
            ("2001::3f57:fefe", "192.168.1.1", Some("private")),
            ("2001:0:4136:e378:8000:63bf:f7f7:f7f7", "8.8.8.8", None),
        ] {
            let v6: Ipv6Addr = a.parse().unwrap();
            assert_eq!(embedded_v4(v6), Some(embedded.parse().unwrap()), "{a}");
            assert_eq!(forbidden_kind(IpAddr::V6(v6)), k, "{a}");
        }
        // Neighbours of those prefixes embed nothing and are judged as IPv6.
        for (a, k) in [
            ("2001:db8::a01:203", Some("reserved")),
            ("2001:1::f5fe:fdfc", None),
            ("2003:a01:203::", None),
            ("64:ff9b:1::a01:203", Some("private")),
            ("64:ff9b:2::a01:203", None),
            ("fec0::1", Some("private")),
            ("feff::1", Some("private")),
            ("ff00::1", Some("multicast")),
            ("2001:2::1", Some("reserved")),
            ("2001:2:1::1", None),
            ("100::1", Some("reserved")),
            ("100:0:0:1::1", None),
            ("2606:4700::1111", None),
        ] {
            let v6: Ipv6Addr = a.parse().unwrap();
            assert_eq!(embedded_v4(v6), None, "{a}");
            assert_eq!(forbidden_kind(IpAddr::V6(v6)), k, "{a}");
        }
        // In URLs the refusal names the literal; the allow-list sees the embedded address.
        let e = Guard::default()
            .check_url(&url::Url::parse("http://[2002:a9fe:a9fe::]/latest/meta-data").unwrap())
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "2002:a9fe:a9fe:: is a metadata address, which is not allowed"
        );
        let allowed = Guard::new(AllowList::parse(&["10.0.0.0/8".into()]).unwrap());
        assert!(allowed.check_ip("x", ip("2002:a01:203::")).is_ok());
        assert!(allowed.check_ip("x", ip("::ffff:10.9.9.9")).is_ok());
        assert!(allowed.check_ip("x", ip("2002:c0a8:101::")).is_err());
    }

    #[test]
    fn allow_list_lets_through() {
        let allow = AllowList::parse(&["127.0.0.0/8".into(), "files.internal".into()]).unwrap();
        let g = Guard::new(allow);
        assert!(g.check_ip("x", ip("127.0.0.1")).is_ok());
        assert!(g.check_ip("x", ip("10.0.0.1")).is_err());
        assert!(g.check_ip("files.internal", ip("10.0.0.1")).is_ok());
        let e = Guard::default()
            .check_ip("a.test", ip("10.0.0.1"))
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "a.test resolves to 10.0.0.1, a private address, which is not allowed"
        );
    }

    #[test]
    fn literal_urls_and_localhost() {
        let g = Guard::default();
        let u = |s: &str| url::Url::parse(s).unwrap();
        assert!(g.check_url(&u("http://127.0.0.1:8080/x")).is_err());
        assert!(g.check_url(&u("http://[::1]/x")).is_err());
        assert!(g.check_url(&u("http://localhost/x")).is_err());
        assert!(g.check_url(&u("http://169.254.169.254/latest")).is_err());
        assert!(g.check_url(&u("https://example.com/a.mp3")).is_ok());
        let allowed = Guard::new(AllowList::parse(&["localhost".into()]).unwrap());
        assert!(allowed.check_url(&u("http://localhost/x")).is_ok());
    }

    #[tokio::test]
    async fn dns_answers_are_checked() {
        use reqwest::dns::Resolve;
        let refused = Guard::default()
            .resolver()
            .resolve("localhost".parse().unwrap())
            .await
            .err()
            .expect("localhost resolves to loopback");
        let r = find_refusal(refused.as_ref()).expect("a Refused in the chain");
        assert_eq!(r.kind, "loopback");
        assert!(r.to_string().starts_with("localhost resolves to "), "{r}");
        let allowed = Guard::new(AllowList::parse(&["127.0.0.0/8".into(), "::1".into()]).unwrap());
        let addrs: Vec<_> = allowed
            .resolver()
            .resolve("localhost".parse().unwrap())
            .await
            .unwrap()
            .collect();
        assert!(!addrs.is_empty());
    }

    #[tokio::test]
    async fn a_replaced_lookup_is_checked_like_dns() {
        use reqwest::dns::Resolve;
        /// Answers every name with these addresses.
        struct Table(Vec<&'static str>);
        impl Resolve for Table {
            fn resolve(&self, _: reqwest::dns::Name) -> reqwest::dns::Resolving {
                let addrs: Vec<SocketAddr> =
                    self.0.iter().map(|a| SocketAddr::new(ip(a), 0)).collect();
                Box::pin(async move { Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs) })
            }
        }
        let resolve = |g: Guard, answers: Vec<&'static str>| async move {
            g.with_lookup(Arc::new(Table(answers)))
                .resolver()
                .resolve("music.example".parse().unwrap())
                .await
                .map(|a| a.map(|a| a.ip().to_string()).collect::<Vec<_>>())
        };
        let both = vec!["10.1.2.3", "8.8.8.8"];
        // The refused answer is dropped, the public one kept; allowed, both are kept.
        let got = resolve(Guard::default(), both.clone()).await.unwrap();
        assert_eq!(got, ["8.8.8.8"]);
        let allowed = Guard::new(AllowList::parse(&["10.0.0.0/8".into()]).unwrap());
        let got = resolve(allowed, both).await.unwrap();
        assert_eq!(got, ["10.1.2.3", "8.8.8.8"]);
        // Nothing left: the first refusal is the error.
        let e = resolve(Guard::default(), vec!["2002:a9fe:a9fe::", "10.1.2.3"])
            .await
            .unwrap_err();
        assert_eq!(
            find_refusal(e.as_ref()).expect("a Refused").to_string(),
            "music.example resolves to 2002:a9fe:a9fe::, a metadata address, which is not allowed"
        );
    }

    #[test]
    fn literal_refusals_read_well() {
        let e = Guard::default()
            .check_ip("10.0.0.1", ip("10.0.0.1"))
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "10.0.0.1 is a private address, which is not allowed"
        );
    }

    #[test]
    fn cidr_parsing() {
        assert!(Cidr::parse("10.0.0.0/33").is_err());
        assert!(Cidr::parse("nope").is_err());
        let c = Cidr::parse("10.0.0.0/8").unwrap();
        assert!(c.contains(ip("10.255.0.1")));
        assert!(!c.contains(ip("11.0.0.1")));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains(ip("1.2.3.4")));
        assert!(Cidr::parse("::/0").unwrap().contains(ip("::1")));
        assert!(AllowList::parse(&["bad host!".into()]).is_err());
    }
}
