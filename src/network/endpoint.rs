//! `Endpoint`: a peer address as written in configs and peer lists (`host`, `host:port`,
//! `[ipv6]:port`), parsed by the rules of C# `AElfPeerEndpointHelper.TryParse`.
//!
//! Owns the text form of an endpoint only. It must not resolve names or open sockets: the host
//! stays the string that was written (a DNS name or an IP literal), as in C#'s `DnsEndPoint`.

use std::fmt;
use std::str::FromStr;
use thiserror::Error;

/// The port used when an endpoint names none (C# `NetworkConstants.DefaultPeerPort`).
pub const DEFAULT_PEER_PORT: u16 = 6800;

/// Why a string is not a peer endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EndpointError {
    #[error("endpoint is empty")]
    Empty,
    #[error("endpoint {0:?} has no host")]
    EmptyHost(String),
    #[error("endpoint {0:?}: the host must not contain white space")]
    HostWhitespace(String),
    #[error("endpoint {0:?}: '[' without a matching \"]\" or \"]:port\"")]
    Bracket(String),
    #[error("endpoint {endpoint:?}: port {port:?} is not a number in 1..=65535")]
    Port { endpoint: String, port: String },
}

/// A peer endpoint: a host (DNS name or IP literal, IPv6 without brackets) and a port.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
}

impl Endpoint {
    /// Parses `host`, `host:port`, `[ipv6]:port`, `[ipv6]` or a bare IPv6 literal (`::1`).
    ///
    /// Surrounding white space is ignored. A string starting with `[` is the bracketed form:
    /// `[addr]:port` takes the port after the last `]:`, `[addr]` the default port. Otherwise,
    /// with exactly one `:` the part after it is the port; with none, or more than one (a bare
    /// IPv6 literal), the whole string is the host on [`DEFAULT_PEER_PORT`]. A port is decimal
    /// digits (no sign, no white space) in 1..=65535. The host is non-empty, without white
    /// space or stray brackets.
    pub fn parse(s: &str) -> Result<Endpoint, EndpointError> {
        let text = s.trim();
        if text.is_empty() {
            return Err(EndpointError::Empty);
        }
        let (host, port) = if text.starts_with('[') {
            split_bracketed(text)?
        } else if text.matches(':').count() == 1 {
            match text.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (text, None),
            }
        } else {
            // No `:` is a bare host; more than one is a bare IPv6 literal such as `::1`.
            (text, None)
        };
        let port = match port {
            None => DEFAULT_PEER_PORT,
            Some(p) => parse_port(p).ok_or_else(|| EndpointError::Port {
                endpoint: text.to_owned(),
                port: p.to_owned(),
            })?,
        };
        if host.is_empty() {
            return Err(EndpointError::EmptyHost(text.to_owned()));
        }
        if host.chars().any(char::is_whitespace) {
            return Err(EndpointError::HostWhitespace(text.to_owned()));
        }
        if host.contains(['[', ']']) {
            return Err(EndpointError::Bracket(text.to_owned()));
        }
        Ok(Endpoint {
            host: host.to_owned(),
            port,
        })
    }
}

/// Splits the bracketed form `[addr]:port` (port after the last `]:`) or `[addr]`.
fn split_bracketed(text: &str) -> Result<(&str, Option<&str>), EndpointError> {
    let inner = text.strip_prefix('[').unwrap_or(text);
    if let Some(idx) = inner.rfind("]:") {
        return Ok((&inner[..idx], Some(&inner[idx + 2..])));
    }
    match inner.strip_suffix(']') {
        Some(host) => Ok((host, None)),
        None => Err(EndpointError::Bracket(text.to_owned())),
    }
}

/// A port: ASCII digits only (no sign), value in 1..=65535.
fn parse_port(p: &str) -> Option<u16> {
    if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    p.parse::<u16>().ok().filter(|&port| port != 0)
}

impl FromStr for Endpoint {
    type Err = EndpointError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Endpoint::parse(s)
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> (String, u16) {
        let e = Endpoint::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"));
        (e.host, e.port)
    }

    fn ep(host: &str, port: u16) -> (String, u16) {
        (host.to_owned(), port)
    }

    #[test]
    fn empty_and_blank_are_invalid() {
        assert_eq!(Endpoint::parse(""), Err(EndpointError::Empty));
        assert_eq!(Endpoint::parse(" \t\n"), Err(EndpointError::Empty));
    }

    #[test]
    fn host_alone_takes_the_default_port() {
        assert_eq!(ok("aelf.bp1.cn"), ep("aelf.bp1.cn", DEFAULT_PEER_PORT));
        assert_eq!(ok("0.0.0.0"), ep("0.0.0.0", 6800));
    }

    #[test]
    fn host_and_port() {
        assert_eq!(ok("aelf.bp1.cn:8907"), ep("aelf.bp1.cn", 8907));
        assert_eq!(ok("127.0.0.1:13000"), ep("127.0.0.1", 13000));
        assert_eq!(ok("0.0.0.0:100"), ep("0.0.0.0", 100));
        assert_eq!(ok("h:1"), ep("h", 1));
        assert_eq!(ok("h:65535"), ep("h", 65535));
    }

    #[test]
    fn bad_ports_are_invalid() {
        for bad in [
            "aelf.bp1.cn:8907333",
            "aelf.bp1.cn:abcs",
            "h:0",
            "h:65536",
            "h:",
            "h:-1",
            "h:+80",
            "h: 80",
            "[1fff:0:a88:85a3::ac1f]:8907333",
            "[::1]:0",
            "[::1]:",
            "[::1]:x",
        ] {
            assert!(
                matches!(Endpoint::parse(bad), Err(EndpointError::Port { .. })),
                "{bad:?}: {:?}",
                Endpoint::parse(bad)
            );
        }
    }

    #[test]
    fn bracketed_ipv6_with_port() {
        assert_eq!(
            ok("[1fff:0:a88:85a3::ac1f]:8001"),
            ep("1fff:0:a88:85a3::ac1f", 8001)
        );
        assert_eq!(ok("[::1]:6801"), ep("::1", 6801));
    }

    #[test]
    fn bare_ipv6_is_the_host_on_the_default_port() {
        assert_eq!(ok("::1"), ep("::1", DEFAULT_PEER_PORT));
        assert_eq!(ok("::"), ep("::", DEFAULT_PEER_PORT));
        assert_eq!(ok("fe80::1:2"), ep("fe80::1:2", DEFAULT_PEER_PORT));
        assert_eq!(ok("[::1]"), ep("::1", DEFAULT_PEER_PORT));
    }

    #[test]
    fn unbalanced_bracket_is_invalid() {
        assert!(matches!(
            Endpoint::parse("[::1"),
            Err(EndpointError::Bracket(_))
        ));
        for bad in ["[::1]x", "a]:80", "[a]]:80", "x[::1]"] {
            assert!(
                matches!(Endpoint::parse(bad), Err(EndpointError::Bracket(_))),
                "{bad:?}: {:?}",
                Endpoint::parse(bad)
            );
        }
    }

    #[test]
    fn surrounding_whitespace_is_trimmed() {
        assert_eq!(ok("  node1:6801\t"), ep("node1", 6801));
        assert_eq!(ok(" ::1 "), ep("::1", DEFAULT_PEER_PORT));
    }

    #[test]
    fn host_must_be_non_empty() {
        for bad in [":6800", "[]:6800", "[]"] {
            assert!(
                matches!(Endpoint::parse(bad), Err(EndpointError::EmptyHost(_))),
                "{bad:?}: {:?}",
                Endpoint::parse(bad)
            );
        }
        assert!(matches!(
            Endpoint::parse("a b:80"),
            Err(EndpointError::HostWhitespace(_))
        ));
    }

    #[test]
    fn display_round_trips() {
        for (text, shown) in [
            ("node1", "node1:6800"),
            ("node1:7000", "node1:7000"),
            ("::1", "[::1]:6800"),
            ("[1fff::ac1f]:8001", "[1fff::ac1f]:8001"),
        ] {
            let e = Endpoint::parse(text).unwrap();
            assert_eq!(e.to_string(), shown);
            assert_eq!(Endpoint::parse(shown), Ok(e));
        }
        assert_eq!("h:1".parse::<Endpoint>(), Endpoint::parse("h:1"));
    }

    #[test]
    fn errors_say_why() {
        let msg = Endpoint::parse("h:99999").unwrap_err().to_string();
        assert!(msg.contains("99999") && msg.contains("1..=65535"), "{msg}");
        assert_eq!(
            Endpoint::parse("").unwrap_err().to_string(),
            "endpoint is empty"
        );
    }
}
