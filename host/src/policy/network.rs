//! Network grants: which destinations a module may reach, over TCP
//! (`wasi:sockets`) and HTTP(S) (`wasi:http/outgoing-handler`).
//!
//! A destination is written the same way in a manifest (what the plugin
//! asks for) and in the config (what the operator grants, a subset):
//!
//! - TCP: `HOST:PORT`, e.g. `127.0.0.1:6379`, `redis.internal:6379`,
//!   `10.0.0.0/8:9100-9199`, `[::1]:6379`, `*.svc.cluster.local:*`;
//! - HTTP: a URL prefix `SCHEME://HOST[:PORT]/PATH`, e.g.
//!   `http://127.0.0.1:8080/stub_status` (port 80 or 443 by default);
//!
//! where `HOST` is a name, `*.suffix` (any name below it), an IP address, a
//! network (`10.0.0.0/8`, `[fd00::/8]`) or `*`, and `PORT` a number, a range
//! `A-B` or `*`.
//!
//! Names are resolved by the host, never by the guest, and what a name
//! resolves to is checked again ([`AddressRule`]): by default a name (or
//! `*`) may lead anywhere except to link-local addresses (169.254.0.0/16,
//! where clouds serve instance credentials, and fe80::/10), which only a
//! grant naming the address reaches; a grant may pin its name to networks
//! (`resolves_to`). Unspecified, multicast and broadcast addresses are
//! never reached. The runtime connects to the very address that was
//! checked, so a name that resolves differently a moment later (DNS
//! rebinding) changes nothing.
//!
//! Nothing here touches a socket: `runtime::wasi::sockets` and
//! `runtime::wasi::http` ask and enforce.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use anyhow::{Context, Result, bail, ensure};
use ipnet::IpNet;

/// Which hosts a pattern matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostPattern {
    /// `*`: every host.
    Any,
    /// One name, lower case, without a trailing dot.
    Name(String),
    /// `*.example.com`: every name below `example.com` (not the name itself).
    Suffix(String),
    /// One address.
    Ip(IpAddr),
    /// A network.
    Net(IpNet),
}

/// A concrete host: a name or an address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    /// A DNS name, lower case, without a trailing dot.
    Name(String),
    /// An IP address.
    Ip(IpAddr),
}

/// An inclusive range of ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ports {
    lo: u16,
    hi: u16,
}

/// `HOST:PORT`, as asked for or granted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpPattern {
    /// Which hosts.
    pub host: HostPattern,
    /// Which ports.
    pub ports: Ports,
}

/// `SCHEME://HOST[:PORT]/PATH`: the URLs beginning so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlPattern {
    /// `https` rather than `http`.
    pub https: bool,
    /// Which hosts.
    pub host: HostPattern,
    /// Which ports.
    pub ports: Ports,
    /// The path prefix (starts with `/`).
    pub path: String,
}

/// A concrete TCP destination, `host:port` (a `target` of type `address`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// Where.
    pub host: Host,
    /// Which port.
    pub port: u16,
}

/// A concrete HTTP destination: a URL's scheme, host, port and path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpTarget {
    /// `https` rather than `http`.
    pub https: bool,
    /// Where.
    pub host: Host,
    /// Which port (the scheme's default when the URL has none).
    pub port: u16,
    /// Path and query, starting with `/`.
    pub path: String,
}

/// Where the addresses of a name (or of `*`) may lie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddressRule {
    /// Anywhere but link-local.
    Default,
    /// Only inside these networks (`resolves_to`).
    Only(Vec<IpNet>),
}

/// One TCP grant as the host enforces it.
#[derive(Debug, Clone)]
pub struct TcpRule {
    /// What it grants.
    pub pattern: TcpPattern,
    /// Where its names may lead.
    pub addresses: AddressRule,
    /// As the operator wrote it.
    pub shown: String,
}

/// One HTTP grant as the host enforces it.
#[derive(Debug, Clone)]
pub struct HttpRule {
    /// What it grants.
    pub pattern: UrlPattern,
    /// Where its names may lead.
    pub addresses: AddressRule,
    /// The only CA trusted for HTTPS under this grant; the system's roots
    /// when `None`.
    pub ca_file: Option<PathBuf>,
    /// As the operator wrote it.
    pub shown: String,
}

/// A TCP grant as written in the config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpGrantSpec<'a> {
    /// `HOST:PORT`.
    pub address: &'a str,
    /// `resolves_to`, if given.
    pub resolves_to: Option<&'a [String]>,
}

/// An HTTP grant as written in the config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpGrantSpec<'a> {
    /// The URL prefix.
    pub url: &'a str,
    /// `resolves_to`, if given.
    pub resolves_to: Option<&'a [String]>,
    /// `ca_file`, if given.
    pub ca_file: Option<&'a std::path::Path>,
}

/// The network grants of one module.
#[derive(Debug, Clone, Default)]
pub struct NetworkPolicy {
    tcp: Vec<TcpRule>,
    http: Vec<HttpRule>,
}

impl NetworkPolicy {
    /// No network at all.
    pub fn none() -> NetworkPolicy {
        NetworkPolicy::default()
    }

    /// Builds the policy from the operator's grants; every error names the
    /// grant.
    pub fn new(tcp: &[TcpGrantSpec<'_>], http: &[HttpGrantSpec<'_>]) -> Result<NetworkPolicy> {
        let mut policy = NetworkPolicy::default();
        for g in tcp {
            let pattern =
                TcpPattern::parse(g.address).with_context(|| format!("tcp: {}", g.address))?;
            let addresses = AddressRule::parse(g.resolves_to)
                .with_context(|| format!("tcp: {}: resolves_to", g.address))?;
            ensure!(
                addresses == AddressRule::Default || pattern.host.is_by_name(),
                "tcp: {}: resolves_to applies to names; this grant names addresses already",
                g.address
            );
            policy.tcp.push(TcpRule {
                shown: shown(g.address, g.resolves_to, None),
                pattern,
                addresses,
            });
        }
        for g in http {
            let pattern = UrlPattern::parse(g.url).with_context(|| format!("http: {}", g.url))?;
            let addresses = AddressRule::parse(g.resolves_to)
                .with_context(|| format!("http: {}: resolves_to", g.url))?;
            ensure!(
                addresses == AddressRule::Default || pattern.host.is_by_name(),
                "http: {}: resolves_to applies to names; this grant names addresses already",
                g.url
            );
            if let Some(ca) = g.ca_file {
                ensure!(
                    pattern.https,
                    "http: {}: ca_file is for https URLs only",
                    g.url
                );
                ensure!(
                    ca.is_file(),
                    "http: {}: ca_file {} is not a readable file",
                    g.url,
                    ca.display()
                );
            }
            policy.http.push(HttpRule {
                shown: shown(g.url, g.resolves_to, g.ca_file),
                pattern,
                addresses,
                ca_file: g.ca_file.map(std::path::Path::to_path_buf),
            });
        }
        Ok(policy)
    }

    /// Whether nothing is granted.
    pub fn is_empty(&self) -> bool {
        self.tcp.is_empty() && self.http.is_empty()
    }

    /// Whether any TCP destination is granted.
    pub fn has_tcp(&self) -> bool {
        !self.tcp.is_empty()
    }

    /// The HTTP grants.
    pub fn http_grants(&self) -> &[HttpRule] {
        &self.http
    }

    /// The grants, one per item, as the operator wrote them.
    pub fn shown(&self) -> impl Iterator<Item = String> + '_ {
        self.tcp
            .iter()
            .map(|g| format!("tcp {}", g.shown))
            .chain(self.http.iter().map(|g| format!("http {}", g.shown)))
    }

    /// Load-time warnings: grants of every host.
    pub fn warnings(&self) -> Vec<String> {
        let tcp = self
            .tcp
            .iter()
            .filter(|g| g.pattern.host == HostPattern::Any)
            .map(|g| format!("tcp {}", g.shown));
        let http = self
            .http
            .iter()
            .filter(|g| g.pattern.host == HostPattern::Any)
            .map(|g| format!("http {}", g.shown));
        tcp.chain(http)
            .map(|g| format!("the grant {g} reaches every host by name (all but link-local addresses); name the hosts if you can"))
            .collect()
    }

    /// May the guest look `name` up? Only names that some TCP grant
    /// reaches by name: a lookup of anything else would already leak to
    /// whoever serves that name's DNS.
    pub fn lookup(&self, name: &str) -> Result<(), String> {
        let host = Host::parse(name).map_err(|e| format!("{e:#}"))?;
        match &host {
            // Addresses need no lookup; the connection is checked.
            Host::Ip(_) => Ok(()),
            Host::Name(n) => {
                if self.tcp.iter().any(|g| g.pattern.host.matches_name(n)) {
                    Ok(())
                } else {
                    Err("no tcp grant names it".to_string())
                }
            }
        }
    }

    /// May the host hand the guest `ip` as an address of `name` (which it
    /// looked up for it)?
    pub fn resolved(&self, name: &str, ip: IpAddr) -> Result<(), String> {
        let ip = ip.to_canonical();
        let mut why = None;
        for g in self
            .tcp
            .iter()
            .filter(|g| g.pattern.host.matches_name(name))
        {
            match g.addresses.allows(ip) {
                Ok(()) => return Ok(()),
                Err(e) => why = Some(e),
            }
        }
        Err(format!(
            "{name} resolved to {ip}, {}",
            why.unwrap_or_else(|| "which no tcp grant allows".into())
        ))
    }

    /// May the guest connect to `addr`? `names` are the names whose lookup
    /// for this guest returned that address.
    pub fn connect(&self, addr: SocketAddr, names: &[String]) -> Result<(), String> {
        let ip = addr.ip().to_canonical();
        never(ip)?;
        let mut why = None;
        for g in self
            .tcp
            .iter()
            .filter(|g| g.pattern.ports.contains(addr.port()))
        {
            let reached = match &g.pattern.host {
                HostPattern::Ip(_) | HostPattern::Net(_) => g.pattern.host.matches_ip(ip),
                HostPattern::Any => match g.addresses.allows(ip) {
                    Ok(()) => true,
                    Err(e) => {
                        why = Some(e);
                        false
                    }
                },
                HostPattern::Name(_) | HostPattern::Suffix(_) => names
                    .iter()
                    .any(|n| g.pattern.host.matches_name(n) && g.addresses.allows(ip).is_ok()),
            };
            if reached {
                return Ok(());
            }
        }
        // The caller names the destination; the reason says why.
        Err(why.unwrap_or_else(|| {
            if names.is_empty() {
                "no tcp grant covers it".to_string()
            } else {
                format!("no tcp grant covers it (looked up as {})", names.join(", "))
            }
        }))
    }

    /// The grant that covers an HTTP request to `target`, if any.
    pub fn http(&self, target: &HttpTarget) -> Result<&HttpRule, String> {
        clean_path(&target.path)?;
        self.http
            .iter()
            .find(|g| g.pattern.matches(target))
            .ok_or_else(|| "no http grant covers it".to_string())
    }

    /// May an HTTP request to `target` under `grant` go to `ip` (the
    /// target's address, or one its name resolved to)?
    pub fn http_address(grant: &HttpRule, target: &HttpTarget, ip: IpAddr) -> Result<(), String> {
        let ip = ip.to_canonical();
        never(ip)?;
        match (&grant.pattern.host, &target.host) {
            (HostPattern::Ip(_) | HostPattern::Net(_), _) => {
                if grant.pattern.host.matches_ip(ip) {
                    Ok(())
                } else {
                    Err(format!("{ip} is outside the grant"))
                }
            }
            (_, Host::Ip(_)) | (_, Host::Name(_)) => grant.addresses.allows(ip).map_err(|e| {
                if let Host::Name(n) = &target.host {
                    format!("{n} resolved to {ip}, {e}")
                } else {
                    e
                }
            }),
        }
    }

    /// Whether a `target` parameter of type `address` lies within the TCP
    /// grants (by what it says; where a name leads is checked when the
    /// guest connects).
    pub fn covers_address(&self, target: &Address) -> Result<(), String> {
        let ok = self.tcp.iter().any(|g| {
            g.pattern.ports.contains(target.port)
                && match &target.host {
                    Host::Ip(ip) => {
                        g.pattern.host.matches_ip(*ip)
                            && (g.pattern.host.is_explicit_ip() || g.addresses.allows(*ip).is_ok())
                    }
                    Host::Name(n) => g.pattern.host.matches_name(n),
                }
        });
        if ok {
            Ok(())
        } else {
            Err(format!("{target} is not within the module's tcp grants"))
        }
    }

    /// Whether a `target` parameter of type `url` lies within the HTTP
    /// grants.
    pub fn covers_url(&self, target: &HttpTarget) -> Result<(), String> {
        let grant = self
            .http(target)
            .map_err(|_| format!("{target} is not within the module's http grants"))?;
        if let Host::Ip(ip) = &target.host {
            NetworkPolicy::http_address(grant, target, *ip)
                .map_err(|e| format!("{target}: {e}"))?;
        }
        Ok(())
    }
}

/// Addresses no grant reaches.
fn never(ip: IpAddr) -> Result<(), String> {
    let bad = match ip {
        IpAddr::V4(v4) => {
            v4.is_unspecified() || v4.is_multicast() || v4.is_broadcast() || v4.octets()[0] == 0
        }
        IpAddr::V6(v6) => v6.is_unspecified() || v6.is_multicast(),
    };
    if bad {
        Err(format!(
            "{ip} is an unspecified, multicast or broadcast address, never reached"
        ))
    } else {
        Ok(())
    }
}

fn is_link_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) == 0xfe80,
    }
}

impl AddressRule {
    fn parse(nets: Option<&[String]>) -> Result<AddressRule> {
        let Some(nets) = nets else {
            return Ok(AddressRule::Default);
        };
        ensure!(!nets.is_empty(), "must list at least one network");
        let nets = nets
            .iter()
            .map(|n| parse_net(n).with_context(|| format!("{n:?}")))
            .collect::<Result<Vec<_>>>()?;
        Ok(AddressRule::Only(nets))
    }

    /// Whether a name (or `*`) may lead to `ip`.
    pub fn allows(&self, ip: IpAddr) -> Result<(), String> {
        let ip = ip.to_canonical();
        never(ip)?;
        match self {
            AddressRule::Default if is_link_local(ip) => Err(format!(
                "{ip} is link-local (where clouds serve instance credentials), reached only by a grant naming the address"
            )),
            AddressRule::Default => Ok(()),
            AddressRule::Only(nets) if nets.iter().any(|n| n.contains(&ip)) => Ok(()),
            AddressRule::Only(nets) => Err(format!(
                "outside the grant's resolves_to ({})",
                nets.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }
}

fn shown(what: &str, resolves_to: Option<&[String]>, ca: Option<&std::path::Path>) -> String {
    let mut s = what.to_string();
    if let Some(nets) = resolves_to {
        s.push_str(&format!(" (resolves to {})", nets.join(", ")));
    }
    if let Some(ca) = ca {
        s.push_str(&format!(" (CA {})", ca.display()));
    }
    s
}

fn parse_net(s: &str) -> Result<IpNet> {
    if let Ok(net) = s.parse::<IpNet>() {
        ensure!(
            net == net.trunc(),
            "{s} has host bits set (did you mean {}?)",
            net.trunc()
        );
        return Ok(net);
    }
    let ip: IpAddr = s
        .parse()
        .map_err(|_| anyhow::anyhow!("not an IP address or network (a.b.c.d/len, x::y/len)"))?;
    Ok(IpNet::from(ip))
}

impl HostPattern {
    /// Parses `*`, `*.suffix`, an address, a network (IPv6 in brackets) or
    /// a name.
    pub fn parse(s: &str) -> Result<HostPattern> {
        if s == "*" {
            return Ok(HostPattern::Any);
        }
        if let Some(inner) = s.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            ensure!(inner.contains(':'), "brackets are for IPv6 addresses");
            return ip_or_net(inner);
        }
        ensure!(!s.contains(':'), "write an IPv6 address in brackets: [{s}]");
        if s.chars().next().is_some_and(|c| c.is_ascii_digit())
            && s.chars()
                .all(|c| c.is_ascii_digit() || c == '.' || c == '/')
        {
            return ip_or_net(s);
        }
        if let Some(suffix) = s.strip_prefix("*.") {
            return Ok(HostPattern::Suffix(check_name(suffix)?));
        }
        ensure!(
            !s.contains('*'),
            "a host pattern is `*`, `*.example.com`, a name, an address or a network"
        );
        Ok(HostPattern::Name(check_name(s)?))
    }

    /// Whether the pattern reaches hosts by name (rather than naming
    /// addresses).
    pub fn is_by_name(&self) -> bool {
        matches!(
            self,
            HostPattern::Any | HostPattern::Name(_) | HostPattern::Suffix(_)
        )
    }

    fn is_explicit_ip(&self) -> bool {
        matches!(self, HostPattern::Ip(_) | HostPattern::Net(_))
    }

    /// Whether the pattern matches the (normalised) name.
    pub fn matches_name(&self, name: &str) -> bool {
        match self {
            HostPattern::Any => true,
            HostPattern::Name(n) => n == name,
            HostPattern::Suffix(s) => name
                .strip_suffix(s.as_str())
                .is_some_and(|rest| rest.len() > 1 && rest.ends_with('.')),
            HostPattern::Ip(_) | HostPattern::Net(_) => false,
        }
    }

    /// Whether the pattern matches the address (names never do).
    pub fn matches_ip(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        match self {
            HostPattern::Any => true,
            HostPattern::Ip(a) => *a == ip,
            HostPattern::Net(n) => n.contains(&ip),
            HostPattern::Name(_) | HostPattern::Suffix(_) => false,
        }
    }

    fn matches(&self, host: &Host) -> bool {
        match host {
            Host::Name(n) => self.matches_name(n),
            Host::Ip(ip) => self.matches_ip(*ip),
        }
    }

    /// Whether every host this pattern (a manifest's request) covers
    /// includes every host `other` (a grant) matches.
    pub fn covers(&self, other: &HostPattern) -> bool {
        match (self, other) {
            (HostPattern::Any, _) => true,
            (_, HostPattern::Any) => false,
            (HostPattern::Name(a), HostPattern::Name(b)) => a == b,
            (HostPattern::Suffix(_), HostPattern::Name(b)) => self.matches_name(b),
            (HostPattern::Suffix(a), HostPattern::Suffix(b)) => a == b || self.matches_name(b),
            (HostPattern::Ip(a), HostPattern::Ip(b)) => a == b,
            (HostPattern::Net(a), HostPattern::Ip(b)) => a.contains(b),
            (HostPattern::Net(a), HostPattern::Net(b)) => a.contains(b),
            _ => false,
        }
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostPattern::Any => f.write_str("*"),
            HostPattern::Name(n) => f.write_str(n),
            HostPattern::Suffix(s) => write!(f, "*.{s}"),
            HostPattern::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
            HostPattern::Ip(ip) => write!(f, "{ip}"),
            HostPattern::Net(n @ IpNet::V6(_)) => write!(f, "[{n}]"),
            HostPattern::Net(n) => write!(f, "{n}"),
        }
    }
}

fn ip_or_net(s: &str) -> Result<HostPattern> {
    if s.contains('/') {
        let net: IpNet = s
            .parse()
            .map_err(|_| anyhow::anyhow!("{s:?} is not a network (a.b.c.d/len)"))?;
        ensure!(
            net == net.trunc(),
            "{s} has host bits set (did you mean {}?)",
            net.trunc()
        );
        Ok(HostPattern::Net(net))
    } else {
        let ip: IpAddr = s
            .parse()
            .map_err(|_| anyhow::anyhow!("{s:?} is not an IP address"))?;
        Ok(HostPattern::Ip(ip.to_canonical()))
    }
}

/// Checks and normalises a DNS name: letters, digits, `-` and `_` in
/// labels of at most 63, at most 253 in all; lower case, no trailing dot.
fn check_name(s: &str) -> Result<String> {
    let name = s.strip_suffix('.').unwrap_or(s).to_ascii_lowercase();
    ensure!(!name.is_empty(), "empty host name");
    ensure!(name.len() <= 253, "host name longer than 253 characters");
    for label in name.split('.') {
        ensure!(
            !label.is_empty() && label.len() <= 63,
            "{s:?} is not a valid host name (empty or over-long label)"
        );
        ensure!(
            label
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            "{s:?} is not a valid host name (letters, digits, '-' and '_' only; IDNs in punycode)"
        );
    }
    Ok(name)
}

impl Host {
    /// Parses a name or an address (IPv6 with or without brackets).
    pub fn parse(s: &str) -> Result<Host> {
        let bare = s
            .strip_prefix('[')
            .and_then(|r| r.strip_suffix(']'))
            .unwrap_or(s);
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return Ok(Host::Ip(ip.to_canonical()));
        }
        Ok(Host::Name(check_name(s)?))
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Name(n) => f.write_str(n),
            Host::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
            Host::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

impl Ports {
    /// Every port.
    pub const ALL: Ports = Ports { lo: 1, hi: 65535 };

    fn one(port: u16) -> Ports {
        Ports { lo: port, hi: port }
    }

    /// Parses `*`, `N` or `A-B`.
    pub fn parse(s: &str) -> Result<Ports> {
        if s == "*" {
            return Ok(Ports::ALL);
        }
        let port = |p: &str| -> Result<u16> {
            let n: u16 = p
                .parse()
                .map_err(|_| anyhow::anyhow!("{p:?} is not a port (1-65535)"))?;
            ensure!(n > 0, "port 0 is not a destination");
            Ok(n)
        };
        match s.split_once('-') {
            Some((a, b)) => {
                let (lo, hi) = (port(a)?, port(b)?);
                ensure!(lo <= hi, "port range {s} is empty");
                Ok(Ports { lo, hi })
            }
            None => Ok(Ports::one(port(s)?)),
        }
    }

    /// Whether `port` is in the range.
    pub fn contains(&self, port: u16) -> bool {
        (self.lo..=self.hi).contains(&port)
    }

    fn covers(&self, other: &Ports) -> bool {
        self.lo <= other.lo && other.hi <= self.hi
    }
}

impl fmt::Display for Ports {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if *self == Ports::ALL {
            f.write_str("*")
        } else if self.lo == self.hi {
            write!(f, "{}", self.lo)
        } else {
            write!(f, "{}-{}", self.lo, self.hi)
        }
    }
}

/// Splits `HOST:PORT` (IPv6 hosts in brackets).
fn split_host_port(s: &str) -> Result<(&str, &str)> {
    if s.starts_with('[') {
        let end = s.find(']').context("unclosed '['")?;
        let (host, rest) = s.split_at(end + 1);
        let port = rest
            .strip_prefix(':')
            .context("expected :PORT after the bracketed address")?;
        return Ok((host, port));
    }
    s.rsplit_once(':')
        .context("expected HOST:PORT (IPv6 addresses in brackets: [::1]:6379)")
}

impl TcpPattern {
    /// Parses `HOST:PORT`.
    pub fn parse(s: &str) -> Result<TcpPattern> {
        let (host, port) = split_host_port(s)?;
        Ok(TcpPattern {
            host: HostPattern::parse(host)?,
            ports: Ports::parse(port)?,
        })
    }

    /// Whether this (a manifest's request) covers `other` (a grant).
    pub fn covers(&self, other: &TcpPattern) -> bool {
        self.host.covers(&other.host) && self.ports.covers(&other.ports)
    }
}

impl fmt::Display for TcpPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.ports)
    }
}

fn default_port(https: bool) -> u16 {
    if https { 443 } else { 80 }
}

fn parse_scheme(s: &str) -> Result<(bool, &str)> {
    let (scheme, rest) = s
        .split_once("://")
        .context("expected a URL (http://HOST[:PORT]/PATH)")?;
    let https = match scheme.to_ascii_lowercase().as_str() {
        "http" => false,
        "https" => true,
        other => bail!("scheme {other:?} is not http or https"),
    };
    Ok((https, rest))
}

impl UrlPattern {
    /// Parses `SCHEME://HOST[:PORT][/PATH]`.
    pub fn parse(s: &str) -> Result<UrlPattern> {
        let (https, rest) = parse_scheme(s)?;
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, "/"),
        };
        ensure!(
            !authority.contains('@'),
            "a URL pattern has no user information"
        );
        ensure!(
            !path.contains(['?', '#']),
            "a URL pattern is a path prefix, without query or fragment"
        );
        clean_path(path).map_err(anyhow::Error::msg)?;
        let (host, ports) = if authority.ends_with(']') || !authority.contains(':') {
            (authority, Ports::one(default_port(https)))
        } else {
            let (h, p) = split_host_port(authority)?;
            (h, Ports::parse(p)?)
        };
        Ok(UrlPattern {
            https,
            host: HostPattern::parse(host)?,
            ports,
            path: path.to_string(),
        })
    }

    fn matches(&self, t: &HttpTarget) -> bool {
        self.https == t.https
            && self.host.matches(&t.host)
            && self.ports.contains(t.port)
            && path_within(&self.path, &t.path)
    }

    /// Whether this (a manifest's request) covers `other` (a grant).
    pub fn covers(&self, other: &UrlPattern) -> bool {
        self.https == other.https
            && self.host.covers(&other.host)
            && self.ports.covers(&other.ports)
            && path_within(&self.path, &other.path)
    }
}

impl fmt::Display for UrlPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.https { "https" } else { "http" };
        write!(f, "{scheme}://{}:{}{}", self.host, self.ports, self.path)
    }
}

/// Whether `path` (with its query, if any) lies under the prefix: equal,
/// or continuing with `/` or `?` (a prefix ending in `/` takes anything
/// after it), so that `/status` does not grant `/statusx`.
fn path_within(prefix: &str, path: &str) -> bool {
    match path.strip_prefix(prefix) {
        None => false,
        Some(rest) => rest.is_empty() || prefix.ends_with('/') || rest.starts_with(['/', '?']),
    }
}

/// Refuses paths a server could read as something other than their text:
/// `.` and `..` segments (also percent-encoded), encoded slashes and
/// backslashes. A granted prefix then means the same to the server.
fn clean_path(path: &str) -> Result<(), String> {
    if !path.starts_with('/') {
        return Err(format!("the path {path:?} does not start with '/'"));
    }
    let bare = path.split(['?', '#']).next().unwrap_or(path);
    let lower = bare.to_ascii_lowercase();
    if lower.contains('\\') || lower.contains("%2f") || lower.contains("%5c") {
        return Err(format!(
            "the path {path:?} holds a backslash or an encoded slash"
        ));
    }
    let decoded = lower.replace("%2e", ".");
    if decoded.split('/').any(|seg| seg == "." || seg == "..") {
        return Err(format!("the path {path:?} holds a '.' or '..' segment"));
    }
    Ok(())
}

impl Address {
    /// Parses `HOST:PORT`.
    pub fn parse(s: &str) -> Result<Address> {
        let (host, port) = split_host_port(s)?;
        let port: u16 = port
            .parse()
            .ok()
            .filter(|p| *p > 0)
            .with_context(|| format!("{port:?} is not a port (1-65535)"))?;
        Ok(Address {
            host: Host::parse(host)?,
            port,
        })
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

impl HttpTarget {
    /// Parses an absolute `http` or `https` URL.
    pub fn parse(s: &str) -> Result<HttpTarget> {
        let uri: http::Uri = s.parse().map_err(|e| anyhow::anyhow!("{s:?}: {e}"))?;
        HttpTarget::from_uri(&uri).map_err(|e| anyhow::anyhow!("{s:?}: {e}"))
    }

    /// The destination of a request URI (absolute, `http` or `https`,
    /// without user information).
    pub fn from_uri(uri: &http::Uri) -> Result<HttpTarget, String> {
        let https = match uri.scheme_str().map(str::to_ascii_lowercase).as_deref() {
            Some("http") => false,
            Some("https") => true,
            Some(other) => return Err(format!("scheme {other:?} is not http or https")),
            None => return Err("the URL has no scheme".into()),
        };
        let authority = uri.authority().ok_or("the URL has no host")?;
        if authority.as_str().contains('@') {
            return Err("user information in the URL is refused".into());
        }
        let host = Host::parse(authority.host()).map_err(|e| format!("{e:#}"))?;
        let port = match authority.port_u16() {
            Some(0) => return Err("port 0 is not a destination".into()),
            Some(p) => p,
            None => default_port(https),
        };
        let path = uri
            .path_and_query()
            .map(|p| p.as_str())
            .filter(|p| !p.is_empty())
            .unwrap_or("/");
        let path = if path.starts_with('?') {
            format!("/{path}")
        } else {
            path.to_string()
        };
        Ok(HttpTarget {
            https,
            host,
            port,
            path,
        })
    }
}

impl fmt::Display for HttpTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.https { "https" } else { "http" };
        write!(f, "{scheme}://{}:{}{}", self.host, self.port, self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(tcp: &[(&str, Option<&[&str]>)], http: &[&str]) -> NetworkPolicy {
        let owned: Vec<(String, Option<Vec<String>>)> = tcp
            .iter()
            .map(|(a, r)| {
                (
                    a.to_string(),
                    r.map(|r| r.iter().map(|s| s.to_string()).collect()),
                )
            })
            .collect();
        let tcp: Vec<TcpGrantSpec<'_>> = owned
            .iter()
            .map(|(a, r)| TcpGrantSpec {
                address: a,
                resolves_to: r.as_deref(),
            })
            .collect();
        let http: Vec<HttpGrantSpec<'_>> = http
            .iter()
            .map(|u| HttpGrantSpec {
                url: u,
                resolves_to: None,
                ca_file: None,
            })
            .collect();
        NetworkPolicy::new(&tcp, &http).unwrap()
    }

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn patterns_parse_and_print() {
        for (text, shown) in [
            ("127.0.0.1:6379", "127.0.0.1:6379"),
            ("Redis.Internal.:6379", "redis.internal:6379"),
            ("10.0.0.0/8:9100-9199", "10.0.0.0/8:9100-9199"),
            ("[::1]:*", "[::1]:*"),
            ("[fd00::/8]:443", "[fd00::/8]:443"),
            ("*.svc.cluster.local:*", "*.svc.cluster.local:*"),
            ("*:6379", "*:6379"),
        ] {
            assert_eq!(TcpPattern::parse(text).unwrap().to_string(), shown);
        }
        for bad in [
            "127.0.0.1",
            "::1:6379",
            "10.0.0.1/8:1",
            "a*b:1",
            "host:0",
            "host:9-1",
            "ho st:1",
            "host:http",
        ] {
            assert!(TcpPattern::parse(bad).is_err(), "{bad}");
        }
        let u = UrlPattern::parse("http://127.0.0.1:8080/stub_status").unwrap();
        assert_eq!(u.to_string(), "http://127.0.0.1:8080/stub_status");
        assert_eq!(
            UrlPattern::parse("https://example.com")
                .unwrap()
                .to_string(),
            "https://example.com:443/"
        );
        assert_eq!(
            UrlPattern::parse("http://*:*/").unwrap().to_string(),
            "http://*:*/"
        );
        for bad in [
            "ftp://x/",
            "http://u@x/",
            "http://x/a?b",
            "http://x/a/../b",
            "x/y",
        ] {
            assert!(UrlPattern::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tcp_grants_by_address_and_by_name() {
        let p = policy(
            &[
                ("127.0.0.1:6379", None),
                ("10.0.0.0/8:9100-9199", None),
                ("localhost:7000", None),
                ("db.internal:5432", Some(&["10.1.0.0/16"])),
            ],
            &[],
        );
        assert!(p.connect(addr("127.0.0.1:6379"), &[]).is_ok());
        assert!(p.connect(addr("127.0.0.1:6380"), &[]).is_err());
        assert!(p.connect(addr("127.0.0.2:6379"), &[]).is_err());
        assert!(p.connect(addr("10.9.9.9:9150"), &[]).is_ok());
        assert!(p.connect(addr("10.9.9.9:9200"), &[]).is_err());
        // A name grant reaches what the name was looked up as, nothing else.
        assert!(p.lookup("localhost").is_ok());
        assert!(p.lookup("LOCALHOST.").is_ok());
        assert!(p.lookup("evil.example").is_err());
        assert!(p.lookup("127.0.0.9").is_ok());
        assert!(
            p.connect(addr("127.0.0.1:7000"), &["localhost".into()])
                .is_ok()
        );
        assert!(p.connect(addr("127.0.0.1:7000"), &[]).is_err());
        assert!(
            p.connect(addr("127.0.0.1:7001"), &["localhost".into()])
                .is_err()
        );
        // resolves_to pins a name to networks.
        assert!(
            p.resolved("db.internal", "10.1.2.3".parse().unwrap())
                .is_ok()
        );
        let e = p
            .resolved("db.internal", "127.0.0.1".parse().unwrap())
            .unwrap_err();
        assert!(e.contains("outside the grant's resolves_to"), "{e}");
        assert!(
            p.connect(addr("127.0.0.1:5432"), &["db.internal".into()])
                .is_err()
        );
        assert!(
            p.connect(addr("10.1.0.7:5432"), &["db.internal".into()])
                .is_ok()
        );
        // Never: unspecified, multicast, broadcast.
        assert!(p.connect(addr("0.0.0.0:6379"), &[]).is_err());
        assert!(p.connect(addr("[::ffff:127.0.0.1]:6379"), &[]).is_ok());
    }

    #[test]
    fn names_never_lead_to_link_local_unless_the_address_is_granted() {
        let p = policy(&[("metadata.example:80", None), ("*:443", None)], &[]);
        let e = p
            .resolved("metadata.example", "169.254.169.254".parse().unwrap())
            .unwrap_err();
        assert!(e.contains("link-local"), "{e}");
        assert!(p.connect(addr("169.254.169.254:443"), &[]).is_err());
        assert!(p.connect(addr("93.184.216.34:443"), &[]).is_ok());
        assert!(!p.warnings().is_empty());
        let explicit = policy(&[("169.254.169.254:80", None)], &[]);
        assert!(explicit.connect(addr("169.254.169.254:80"), &[]).is_ok());
    }

    #[test]
    fn http_grants_are_url_prefixes() {
        let p = policy(
            &[],
            &[
                "http://127.0.0.1:8080/stub_status",
                "https://*.example.com/api/",
            ],
        );
        let t = |s: &str| HttpTarget::parse(s).unwrap();
        assert!(p.http(&t("http://127.0.0.1:8080/stub_status")).is_ok());
        assert!(p.http(&t("http://127.0.0.1:8080/stub_status?x=1")).is_ok());
        assert!(p.http(&t("http://127.0.0.1:8080/stub_status/x")).is_ok());
        assert!(p.http(&t("http://127.0.0.1:8080/stub_statusx")).is_err());
        assert!(p.http(&t("http://127.0.0.1:8080/")).is_err());
        assert!(p.http(&t("http://127.0.0.1:8081/stub_status")).is_err());
        assert!(p.http(&t("https://127.0.0.1:8080/stub_status")).is_err());
        assert!(
            p.http(&t("http://127.0.0.1:8080/stub_status/../admin"))
                .is_err()
        );
        assert!(
            p.http(&t("http://127.0.0.1:8080/stub_status/%2e%2E/admin"))
                .is_err()
        );
        assert!(p.http(&t("http://127.0.0.1:8080/stub_status%2fx")).is_err());
        assert!(p.http(&t("https://a.example.com/api/v1")).is_ok());
        assert!(p.http(&t("https://example.com/api/v1")).is_err());
        assert!(HttpTarget::parse("http://user:pw@127.0.0.1:8080/").is_err());
        let g = p.http(&t("https://a.example.com/api/v1")).unwrap();
        let target = t("https://a.example.com/api/v1");
        assert!(NetworkPolicy::http_address(g, &target, "93.184.216.34".parse().unwrap()).is_ok());
        assert!(NetworkPolicy::http_address(g, &target, "169.254.1.1".parse().unwrap()).is_err());
        let g = p.http(&t("http://127.0.0.1:8080/stub_status")).unwrap();
        let target = t("http://127.0.0.1:8080/stub_status");
        assert!(NetworkPolicy::http_address(g, &target, "127.0.0.1".parse().unwrap()).is_ok());
        assert!(NetworkPolicy::http_address(g, &target, "127.0.0.2".parse().unwrap()).is_err());
    }

    #[test]
    fn requests_cover_grants() {
        let tcp = |s| TcpPattern::parse(s).unwrap();
        assert!(tcp("*:*").covers(&tcp("127.0.0.1:6379")));
        assert!(tcp("*:6379").covers(&tcp("redis.internal:6379")));
        assert!(!tcp("*:6379").covers(&tcp("redis.internal:6380")));
        assert!(tcp("10.0.0.0/8:*").covers(&tcp("10.1.0.0/16:1-100")));
        assert!(!tcp("10.0.0.0/8:*").covers(&tcp("redis:1")));
        assert!(tcp("*.example.com:1").covers(&tcp("*.a.example.com:1")));
        assert!(!tcp("*.example.com:1").covers(&tcp("example.com:1")));
        assert!(!tcp("redis:1").covers(&tcp("*:1")));
        let url = |s| UrlPattern::parse(s).unwrap();
        assert!(url("http://*:*/").covers(&url("http://127.0.0.1:8080/stub_status")));
        assert!(!url("http://*:*/").covers(&url("https://127.0.0.1:8080/stub_status")));
        assert!(url("http://*:*/status").covers(&url("http://x:1/status/a")));
        assert!(!url("http://*:*/status").covers(&url("http://x:1/statusx")));
    }

    #[test]
    fn targets_are_checked_against_grants() {
        let p = policy(
            &[
                ("127.0.0.1:6379", None),
                ("localhost:*", None),
                ("*:443", None),
            ],
            &["http://127.0.0.1:8080/stub_status"],
        );
        let a = |s| Address::parse(s).unwrap();
        assert!(p.covers_address(&a("127.0.0.1:6379")).is_ok());
        assert!(p.covers_address(&a("localhost:1234")).is_ok());
        assert!(p.covers_address(&a("127.0.0.1:6380")).is_err());
        assert!(p.covers_address(&a("169.254.169.254:443")).is_err());
        assert!(p.covers_address(&a("example.org:443")).is_ok());
        let u = |s| HttpTarget::parse(s).unwrap();
        assert!(
            p.covers_url(&u("http://127.0.0.1:8080/stub_status"))
                .is_ok()
        );
        assert!(p.covers_url(&u("http://127.0.0.1:8080/other")).is_err());
        assert!(Address::parse("127.0.0.1").is_err());
        assert!(Address::parse("[::1]:6379").is_ok());
    }
}
