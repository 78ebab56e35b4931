//! TLS for the peer service (spec 3.7): the node's self-signed identity made at every start, the
//! server credentials built from it, and the C# dialer's certificate pre-fetch.
//!
//! Owns certificate generation and the throw-away rustls client that reads a remote's leaf
//! certificate before dialing. It must not touch grpcio channels or channel arguments (that is
//! `channel.rs`), peers or the pool. Nothing here may panic on bytes that come from the network:
//! every failure of the pre-fetch is a [`TlsError`] naming the step that failed.

use log::debug;
use rcgen::{
    date_time_ymd, CertificateParams, DistinguishedName, DnType, KeyPair, SanType, SerialNumber,
};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme};
use std::fmt;
use std::io::{self, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use thiserror::Error;

/// The name every aelf node's certificate carries and every client checks (C#
/// `GrpcConstants.DefaultTlsCommonName`). Used as the subject/issuer CN, the only SAN, the SNI of
/// the pre-fetch and the channels' `grpc.ssl_target_name_override`.
pub const TLS_COMMON_NAME: &str = "aelf";

/// Budget of the whole certificate pre-fetch (resolve, connect, TLS handshake, close), 3 000 ms
/// (C# `NetworkConstants.DefaultSslCertifFetchTimeout`).
pub const SSL_CERT_FETCH_TIMEOUT_MS: u64 = 3000;

/// ALPN protocol offered by the pre-fetch: gRPC C-core servers insist on `h2`.
const ALPN_H2: &[u8] = b"h2";

/// How far back the certificate's notBefore lies, so that a peer whose clock is up to a day
/// behind ours still accepts it (the C# node uses today 00:00 UTC).
const NOT_BEFORE_MARGIN: Duration = Duration::from_secs(24 * 60 * 60);

/// Everything that can go wrong while making our identity or pre-fetching a remote certificate.
#[derive(Debug, Error)]
pub enum TlsError {
    /// rcgen could not make the key or the certificate.
    #[error("cannot generate the TLS identity: {0}")]
    Generate(#[source] rcgen::Error),
    /// The host name did not resolve.
    #[error("cannot resolve {host}: {source}")]
    Resolve {
        host: String,
        #[source]
        source: io::Error,
    },
    /// The host name resolved to no address at all.
    #[error("{host} resolves to no address")]
    NoAddress { host: String },
    /// The TCP connection was refused or failed.
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        addr: String,
        #[source]
        source: io::Error,
    },
    /// The pre-fetch budget ran out during the step `what`.
    #[error("certificate fetch from {addr} timed out during {what} (budget {budget:?})")]
    Timeout {
        what: &'static str,
        addr: String,
        budget: Duration,
    },
    /// A socket error other than a timeout during the step `what`.
    #[error("certificate fetch from {addr} failed during {what}: {source}")]
    Io {
        what: &'static str,
        addr: String,
        #[source]
        source: io::Error,
    },
    /// The remote did not complete a TLS handshake (garbage, alert, early close).
    #[error("TLS handshake failed: {0}")]
    Handshake(String),
    /// The handshake completed without a server certificate.
    #[error("the remote presented no certificate")]
    NoCertificate,
    /// The rustls client could not be configured (a bug, not a network condition).
    #[error("cannot configure the TLS client: {0}")]
    Config(String),
}

// === impl TlsIdentity ===

/// The node's TLS key and self-signed certificate, both PEM. A fresh one is made at every start
/// (spec 3.7); it is never stored. `Debug` never shows the key.
#[derive(Clone)]
pub struct TlsIdentity {
    /// The certificate: subject = issuer = `CN=aelf`, SAN `DNS:aelf`, ECDSA P-256.
    cert_pem: String,
    /// The PKCS#8 private key. Wiped (best effort) on drop.
    key_pem: String,
}

impl TlsIdentity {
    /// Makes a new ECDSA P-256 key and a self-signed certificate for it: subject and issuer
    /// `CN=aelf`, one SAN `DNS:aelf`, a random serial in [1, 2^63−1] as the C# node's,
    /// notBefore one day ago, notAfter 9999-12-31 23:59:59 UTC (C# `DateTime.MaxValue`).
    ///
    /// The C# node uses RSA-2048; rcgen with ring cannot make RSA keys, and BoringSSL (C-core)
    /// and .NET both accept P-256 (spec 3.7).
    pub fn generate() -> Result<TlsIdentity, TlsError> {
        let key = KeyPair::generate().map_err(TlsError::Generate)?;
        let mut params = CertificateParams::default();
        let mut name = DistinguishedName::new();
        name.push(DnType::CommonName, TLS_COMMON_NAME);
        params.distinguished_name = name;
        let san = TLS_COMMON_NAME.try_into().map_err(TlsError::Generate)?;
        params.subject_alt_names = vec![SanType::DnsName(san)];
        let serial = (rand::random::<u64>() & i64::MAX as u64).max(1);
        params.serial_number = Some(SerialNumber::from_slice(&serial.to_be_bytes()));
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        params.not_before =
            date_time_ymd(1970, 1, 1) + since_epoch.saturating_sub(NOT_BEFORE_MARGIN);
        params.not_after = date_time_ymd(9999, 12, 31) + Duration::from_secs(24 * 60 * 60 - 1);
        let cert = params.self_signed(&key).map_err(TlsError::Generate)?;
        Ok(TlsIdentity {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    /// The certificate, PEM (`-----BEGIN CERTIFICATE-----`).
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The private key, PKCS#8 PEM. Never log it.
    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }
}

impl fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsIdentity")
            .field("cert_pem", &format_args!("<{} bytes>", self.cert_pem.len()))
            .field("key_pem", &format_args!("<redacted>"))
            .finish()
    }
}

impl Drop for TlsIdentity {
    fn drop(&mut self) {
        let mut key = std::mem::take(&mut self.key_pem).into_bytes();
        key.fill(0);
        std::hint::black_box(&key);
    }
}

/// The server side of spec 3.7: our certificate and key, no client certificate requested (as the
/// C# `SslServerCredentials`).
pub fn server_credentials(identity: &TlsIdentity) -> grpcio::ServerCredentials {
    grpcio::ServerCredentialsBuilder::new()
        .add_cert(
            identity.cert_pem.clone().into_bytes(),
            identity.key_pem.clone().into_bytes(),
        )
        .build()
}

// === certificate pre-fetch ===

/// The C# dialer's certificate pre-fetch (`PeerDialer`, spec 3.7 step 1): connects to
/// `host:port`, runs a TLS handshake that accepts any certificate (SNI `aelf`, ALPN `h2`),
/// returns the server's leaf certificate as PEM, sends close_notify and closes the socket.
///
/// `host` may be an IP literal (IPv6 with or without brackets) or a name. Connect, handshake and
/// close share one deadline `timeout` after the start; a name lookup goes through the system
/// resolver, whose own timeout applies, and the deadline is checked when it returns.
pub fn fetch_certificate(host: &str, port: u16, timeout: Duration) -> Result<String, TlsError> {
    // Clamped so that the deadline cannot overflow `Instant`; a day is "no limit" here.
    let timeout = timeout.min(Duration::from_secs(24 * 60 * 60));
    let deadline = Instant::now() + timeout;
    let addrs = resolve(host, port)?;
    let label = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let mut tcp = connect_any(&addrs, &label, deadline, timeout)?;
    let result = handshake(&mut tcp, &label, deadline, timeout);
    let _ = tcp.shutdown(Shutdown::Both);
    result
}

/// `host` as socket addresses, without a lookup when it is an IP literal.
fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, TlsError> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let addrs: Vec<SocketAddr> = (bare, port)
        .to_socket_addrs()
        .map_err(|source| TlsError::Resolve {
            host: host.to_owned(),
            source,
        })?
        .collect();
    if addrs.is_empty() {
        return Err(TlsError::NoAddress {
            host: host.to_owned(),
        });
    }
    Ok(addrs)
}

/// Time left until `deadline`, or a timeout error for step `what`.
fn remaining(
    deadline: Instant,
    what: &'static str,
    label: &str,
    budget: Duration,
) -> Result<Duration, TlsError> {
    match deadline.checked_duration_since(Instant::now()) {
        Some(left) if !left.is_zero() => Ok(left),
        _ => Err(TlsError::Timeout {
            what,
            addr: label.to_owned(),
            budget,
        }),
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Connects to the first address that accepts, each attempt bounded by the time left.
fn connect_any(
    addrs: &[SocketAddr],
    label: &str,
    deadline: Instant,
    budget: Duration,
) -> Result<TcpStream, TlsError> {
    let mut last = None;
    for addr in addrs {
        let left = remaining(deadline, "connect", label, budget)?;
        match TcpStream::connect_timeout(addr, left) {
            Ok(tcp) => {
                let _ = tcp.set_nodelay(true);
                return Ok(tcp);
            }
            Err(e) => last = Some(e),
        }
    }
    match last {
        Some(e) if is_timeout(&e) => Err(TlsError::Timeout {
            what: "connect",
            addr: label.to_owned(),
            budget,
        }),
        Some(source) => Err(TlsError::Connect {
            addr: label.to_owned(),
            source,
        }),
        None => Err(TlsError::NoAddress {
            host: label.to_owned(),
        }),
    }
}

/// Drives a rustls client handshake on `tcp` until it completes, then reads the leaf and closes.
fn handshake(
    tcp: &mut TcpStream,
    label: &str,
    deadline: Instant,
    budget: Duration,
) -> Result<String, TlsError> {
    let io_err = |what: &'static str, source: io::Error| {
        if is_timeout(&source) {
            TlsError::Timeout {
                what,
                addr: label.to_owned(),
                budget,
            }
        } else {
            TlsError::Io {
                what,
                addr: label.to_owned(),
                source,
            }
        }
    };
    let server_name = ServerName::try_from(TLS_COMMON_NAME)
        .map_err(|e| TlsError::Config(e.to_string()))?
        .to_owned();
    let mut conn = ClientConnection::new(client_config()?, server_name)
        .map_err(|e| TlsError::Handshake(e.to_string()))?;

    while conn.is_handshaking() {
        if conn.wants_write() {
            let left = remaining(deadline, "handshake", label, budget)?;
            tcp.set_write_timeout(Some(left))
                .map_err(|e| io_err("handshake", e))?;
            conn.write_tls(tcp).map_err(|e| io_err("handshake", e))?;
            continue;
        }
        let left = remaining(deadline, "handshake", label, budget)?;
        tcp.set_read_timeout(Some(left))
            .map_err(|e| io_err("handshake", e))?;
        let read = match conn.read_tls(tcp) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io_err("handshake", e)),
        };
        if read == 0 {
            return Err(TlsError::Handshake(
                "the remote closed the connection during the handshake".to_owned(),
            ));
        }
        if let Err(e) = conn.process_new_packets() {
            // Best effort: tell the remote why (rustls queued an alert), within the budget.
            if let Ok(left) = remaining(deadline, "handshake", label, budget) {
                if tcp.set_write_timeout(Some(left)).is_ok() {
                    let _ = conn.write_tls(tcp);
                }
            }
            return Err(TlsError::Handshake(e.to_string()));
        }
    }

    let leaf = conn
        .peer_certificates()
        .and_then(|chain| chain.first())
        .ok_or(TlsError::NoCertificate)?;
    let pem = der_to_pem(leaf.as_ref());
    debug!(
        "fetched the certificate of {label} ({:?}, ALPN {:?})",
        conn.protocol_version(),
        conn.alpn_protocol().map(String::from_utf8_lossy)
    );

    conn.send_close_notify();
    while conn.wants_write() {
        let left = remaining(deadline, "close", label, budget)?;
        tcp.set_write_timeout(Some(left))
            .map_err(|e| io_err("close", e))?;
        conn.write_tls(tcp).map_err(|e| io_err("close", e))?;
    }
    let _ = tcp.flush();
    Ok(pem)
}

/// The pre-fetch client: ring provider, TLS 1.2 and 1.3, any certificate, ALPN `h2`, no client
/// certificate. Built per fetch (cheap next to a TCP connect and a handshake).
fn client_config() -> Result<Arc<ClientConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(AcceptAnyCertificate {
        provider: provider.clone(),
    });
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.alpn_protocols = vec![ALPN_H2.to_vec()];
    // A fresh connection per fetch: a resumed session would carry no certificate.
    config.resumption = rustls::client::Resumption::disabled();
    Ok(Arc::new(config))
}

/// Accepts any server certificate, as the C# pre-fetch does (spec 3.7: the certificate is pinned
/// right after, not validated). Handshake signatures are still verified against the presented
/// certificate, so the remote at least proves it holds the certificate's key.
#[derive(Debug)]
struct AcceptAnyCertificate {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

// === PEM encoding ===

/// `der` as a PEM `CERTIFICATE` block, 64 base64 characters per line (RFC 7468), the form
/// BoringSSL's PEM reader and grpcio's root-cert argument take.
fn der_to_pem(der: &[u8]) -> String {
    let b64 = base64(der);
    let mut pem = String::with_capacity(b64.len() + b64.len() / 64 + 64);
    pem.push_str("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        // base64 output is ASCII, so every chunk is valid UTF-8.
        pem.push_str(std::str::from_utf8(line).unwrap_or_default());
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    pem
}

/// Standard base64 with padding (RFC 4648 section 4).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let sextet = |shift: u32| char::from(ALPHABET[((n >> shift) & 0x3f) as usize]);
        out.push(sextet(18));
        out.push(sextet(12));
        out.push(if chunk.len() > 1 { sextet(6) } else { '=' });
        out.push(if chunk.len() > 2 { sextet(0) } else { '=' });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::pem::PemObject;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        let vectors: [(&[u8], &str); 7] = [
            (b"", ""),
            (b"f", "Zg=="),
            (b"fo", "Zm8="),
            (b"foo", "Zm9v"),
            (b"foob", "Zm9vYg=="),
            (b"fooba", "Zm9vYmE="),
            (b"foobar", "Zm9vYmFy"),
        ];
        for (input, expected) in vectors {
            assert_eq!(base64(input), expected);
        }
    }

    #[test]
    fn pem_round_trips_through_rustls() {
        let identity = TlsIdentity::generate().expect("generate");
        let der = CertificateDer::from_pem_slice(identity.cert_pem().as_bytes()).expect("parse");
        let pem = der_to_pem(der.as_ref());
        assert_eq!(pem, identity.cert_pem().replace("\r\n", "\n"));
        let back = CertificateDer::from_pem_slice(pem.as_bytes()).expect("reparse");
        assert_eq!(back, der);
    }

    #[test]
    fn debug_never_shows_the_key() {
        let identity = TlsIdentity::generate().expect("generate");
        let shown = format!("{identity:?}");
        assert!(shown.contains("<redacted>"));
        assert!(!shown.contains("PRIVATE KEY"));
        assert!(!shown.contains(identity.key_pem().lines().nth(1).unwrap_or("-")));
    }

    #[test]
    fn ip_literals_are_not_looked_up() {
        assert_eq!(
            resolve("[::1]", 6800).expect("v6"),
            vec!["[::1]:6800".parse::<SocketAddr>().unwrap()]
        );
        assert_eq!(
            resolve("::1", 6800).expect("bare v6"),
            vec!["[::1]:6800".parse::<SocketAddr>().unwrap()]
        );
        assert_eq!(
            resolve("127.0.0.1", 1).expect("v4"),
            vec!["127.0.0.1:1".parse::<SocketAddr>().unwrap()]
        );
    }
}
