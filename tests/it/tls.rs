//! TLS as the C# node does it (spec 3.7): the self-signed `aelf` identity, the certificate
//! pre-fetch and the pinned channel, against a real grpcio server with real TLS on 127.0.0.1.
//!
//! Owns only these tests and the ping-only test service; nothing here sleeps. Every server is
//! shut down at the end of its test.

use aelf_net::grpc::channel::{
    connect, pinned_channel, server_channel_args, DEFAULT_MAX_MESSAGE_LENGTH,
};
use aelf_net::grpc::tls::{
    fetch_certificate, server_credentials, TlsError, TlsIdentity, TLS_COMMON_NAME,
};
use aelf_net::pb::peer_service::{PingRequest, PongReply};
use aelf_net::pb::peer_service_grpc::{create_peer_service, PeerService, PeerServiceClient};
use grpcio::{
    CallOption, Channel, EnvBuilder, Environment, RpcContext, RpcStatusCode, Server, ServerBuilder,
    UnarySink,
};
use rustls::client::danger::ServerCertVerifier;
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::RootCertStore;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// Deadline of every call and every outer "it returned" check: generous, never waited for when
/// things work.
const GENEROUS: Duration = Duration::from_secs(20);

/// Budget of the pre-fetches that are expected to succeed.
const FETCH_BUDGET: Duration = Duration::from_secs(10);

/// A `PeerService` that answers `Ping` and leaves every other method to the generated default
/// (UNIMPLEMENTED).
#[derive(Clone)]
struct PingOnly;

impl PeerService for PingOnly {
    fn ping(&mut self, ctx: RpcContext, _req: PingRequest, sink: UnarySink<PongReply>) {
        ctx.spawn(async move {
            let _ = sink.success(PongReply::new()).await;
        });
    }
}

/// A TLS peer service on 127.0.0.1 with a fresh identity and the node's server arguments.
struct TestServer {
    server: Server,
    port: u16,
    identity: TlsIdentity,
}

impl TestServer {
    fn start() -> TestServer {
        let env = Arc::new(
            EnvBuilder::new()
                .cq_count(1)
                .name_prefix("tls-test-server")
                .build(),
        );
        let identity = TlsIdentity::generate().expect("generate identity");
        let mut server = ServerBuilder::new(env.clone())
            .channel_args(server_channel_args(&env, DEFAULT_MAX_MESSAGE_LENGTH).build_args())
            .register_service(create_peer_service(PingOnly))
            .build()
            .expect("build server");
        let port = server
            .add_listening_port("127.0.0.1:0", server_credentials(&identity))
            .expect("listen");
        server.start();
        TestServer {
            server,
            port,
            identity,
        }
    }

    fn shutdown(mut self) {
        let done = self.server.shutdown();
        self.server.cancel_all_calls();
        futures_executor::block_on(done).expect("server shutdown");
    }
}

fn client_env() -> Arc<Environment> {
    Arc::new(
        EnvBuilder::new()
            .cq_count(1)
            .name_prefix("tls-test-client")
            .build(),
    )
}

/// One Ping on `channel`. `wait` = wait for the channel to become ready (within the deadline)
/// instead of failing as soon as a connection attempt fails.
fn ping(channel: &Channel, wait: bool) -> grpcio::Result<PongReply> {
    PeerServiceClient::new(channel.clone()).ping_opt(
        &PingRequest::new(),
        CallOption::default().timeout(GENEROUS).wait_for_ready(wait),
    )
}

fn der(pem: &str) -> CertificateDer<'static> {
    CertificateDer::from_pem_slice(pem.as_bytes()).expect("a PEM certificate")
}

/// A port on 127.0.0.1 with nothing listening (bound, then released).
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// The pre-fetch returns exactly the certificate the server presents.
#[test]
fn fetch_returns_the_servers_certificate() {
    let server = TestServer::start();
    let pem = fetch_certificate("127.0.0.1", server.port, FETCH_BUDGET).expect("fetch");
    assert_eq!(der(&pem), der(server.identity.cert_pem()));
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----\n"));
    server.shutdown();
}

/// A channel pinned to the fetched certificate carries a Ping, and so does `connect`'s.
#[test]
fn pinned_channel_pings() {
    let server = TestServer::start();
    let env = client_env();
    let pem = fetch_certificate("127.0.0.1", server.port, FETCH_BUDGET).expect("fetch");
    let channel = pinned_channel(
        env.clone(),
        "127.0.0.1",
        server.port,
        &pem,
        DEFAULT_MAX_MESSAGE_LENGTH,
    );
    ping(&channel, true).expect("ping over the pinned channel");

    let (dialed, dialed_pem) = connect(
        "127.0.0.1",
        server.port,
        env,
        FETCH_BUDGET,
        DEFAULT_MAX_MESSAGE_LENGTH,
    )
    .expect("connect");
    assert_eq!(der(&dialed_pem), der(server.identity.cert_pem()));
    ping(&dialed, true).expect("ping over connect's channel");
    drop((channel, dialed));
    server.shutdown();
}

/// A channel pinned to another certificate (or to something that is no certificate) is refused
/// by its own TLS check: the Ping fails with UNAVAILABLE instead of reaching the server.
#[test]
fn channel_pinned_to_another_certificate_fails() {
    let server = TestServer::start();
    let env = client_env();
    let other = TlsIdentity::generate().expect("generate");
    for root in [other.cert_pem(), "not a certificate"] {
        let channel = pinned_channel(
            env.clone(),
            "127.0.0.1",
            server.port,
            root,
            DEFAULT_MAX_MESSAGE_LENGTH,
        );
        let err = ping(&channel, false).expect_err("ping must fail");
        match &err {
            grpcio::Error::RpcFailure(status) => {
                assert_eq!(status.code(), RpcStatusCode::UNAVAILABLE, "{err:?}")
            }
            other => panic!("unexpected error {other:?}"),
        }
    }
    server.shutdown();
}

/// Twenty pre-fetches in a row (TLS handshake, close_notify, close, no HTTP/2, as the C# dialer
/// does) leave the server healthy.
#[test]
fn repeated_prefetches_leave_the_server_healthy() {
    let server = TestServer::start();
    let expected = der(server.identity.cert_pem());
    for _ in 0..20 {
        let pem = fetch_certificate("127.0.0.1", server.port, FETCH_BUDGET).expect("fetch");
        assert_eq!(der(&pem), expected);
    }
    let channel = pinned_channel(
        client_env(),
        "127.0.0.1",
        server.port,
        server.identity.cert_pem(),
        DEFAULT_MAX_MESSAGE_LENGTH,
    );
    ping(&channel, true).expect("ping after the pre-fetches");
    drop(channel);
    server.shutdown();
}

/// Nothing listening: a Connect error, at once.
#[test]
fn fetch_from_a_closed_port_fails_with_connect() {
    let port = closed_port();
    let start = Instant::now();
    let err = fetch_certificate("127.0.0.1", port, FETCH_BUDGET).expect_err("must fail");
    assert!(matches!(err, TlsError::Connect { .. }), "{err:?}");
    assert!(start.elapsed() < GENEROUS);
}

/// A listener that accepts TCP and never speaks TLS: a Timeout in the handshake, bounded by the
/// budget.
#[test]
fn fetch_from_a_silent_listener_times_out() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let start = Instant::now();
    let err = fetch_certificate("127.0.0.1", port, Duration::from_millis(500))
        .expect_err("must time out");
    let elapsed = start.elapsed();
    assert!(
        matches!(
            err,
            TlsError::Timeout {
                what: "handshake",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(elapsed < GENEROUS, "took {elapsed:?}");
    drop(listener);
}

/// A listener that answers the ClientHello with garbage: a Handshake error, no panic.
#[test]
fn fetch_from_a_garbage_listener_fails_with_handshake() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let garbage = thread::spawn(move || {
        let (mut socket, _) = listener.accept().expect("accept");
        socket
            .set_read_timeout(Some(GENEROUS))
            .expect("read timeout");
        socket
            .write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n\x00\xff\x16\x03\x03garbage")
            .expect("write garbage");
        // Keep the socket open until the client gives up, so the client reads the garbage
        // rather than a reset.
        drain(&mut socket);
    });
    let err = fetch_certificate("127.0.0.1", port, FETCH_BUDGET).expect_err("must fail");
    assert!(matches!(err, TlsError::Handshake(_)), "{err:?}");
    garbage.join().expect("garbage thread");
}

fn drain(socket: &mut TcpStream) {
    let mut buf = [0u8; 1024];
    while let Ok(n) = socket.read(&mut buf) {
        if n == 0 {
            break;
        }
    }
}

/// Every identity is new; its certificate names `aelf` (CN of subject and issuer, SAN), is
/// accepted by webpki for `aelf` when it is its own trust anchor, is not for another name, and is
/// valid from a day ago until far into the future.
#[test]
fn generated_identities_are_fresh_and_named_aelf() {
    let first = TlsIdentity::generate().expect("generate");
    let second = TlsIdentity::generate().expect("generate");
    assert_ne!(first.cert_pem(), second.cert_pem());
    assert_ne!(first.key_pem(), second.key_pem());
    assert!(first.key_pem().contains("PRIVATE KEY"));

    let cert = der(first.cert_pem());
    // commonName OID 2.5.4.3, then a UTF8String (0x0c) or PrintableString (0x13) of 4 bytes.
    let cn_count = [0x0c_u8, 0x13]
        .iter()
        .map(|tag| {
            let mut needle = vec![0x06, 0x03, 0x55, 0x04, 0x03, *tag, 0x04];
            needle.extend_from_slice(TLS_COMMON_NAME.as_bytes());
            cert.windows(needle.len()).filter(|w| *w == needle).count()
        })
        .sum::<usize>();
    assert_eq!(cn_count, 2, "CN=aelf as both issuer and subject");

    let mut roots = RootCertStore::empty();
    roots.add(cert.clone()).expect("trust anchor");
    let verifier = WebPkiServerVerifier::builder_with_provider(
        Arc::new(roots),
        Arc::new(rustls::crypto::ring::default_provider()),
    )
    .build()
    .expect("verifier");
    let verify = |name: &'static str, at: UnixTime| {
        verifier.verify_server_cert(
            &cert,
            &[],
            &ServerName::try_from(name).expect("name"),
            &[],
            at,
        )
    };
    let day = 24 * 60 * 60;
    let now = UnixTime::now().as_secs();
    verify("aelf", UnixTime::now()).expect("valid for aelf now");
    let year_2100 = 4_102_444_800;
    verify(
        "aelf",
        UnixTime::since_unix_epoch(Duration::from_secs(year_2100)),
    )
    .expect("still valid in 2100");
    verify("other", UnixTime::now()).expect_err("not valid for another name");
    verify(
        "aelf",
        UnixTime::since_unix_epoch(Duration::from_secs(now - day + 60)),
    )
    .expect("valid since a day ago");
    verify(
        "aelf",
        UnixTime::since_unix_epoch(Duration::from_secs(now - 2 * day)),
    )
    .expect_err("not valid two days ago");
}
