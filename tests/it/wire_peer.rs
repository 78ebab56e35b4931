//! A peer written here from the wire format up — generated stubs, a hand-built signed
//! `HandshakeData`, raw metadata — does a legacy handshake with the `aelf-netd` daemon,
//! including the daemon's dial-back to it, so the server is checked by something other than
//! our own peer code.

use crate::support::daemon::{write_config_with, Daemon};
use crate::support::free_port;
use crate::support::wait::DEADLINE;
use crate::support::wire_peer::{headers, signed_handshake};
use aelf_net::crypto::{verify, NodeKey};
use aelf_net::grpc::channel::{connect, server_channel_args, DEFAULT_MAX_MESSAGE_LENGTH};
use aelf_net::grpc::tls::{server_credentials, TlsIdentity};
use aelf_net::pb::network_types::{ConfirmHandshakeRequest, DisconnectReason, HandshakeError};
use aelf_net::pb::peer_service::{
    HealthCheckReply, HealthCheckRequest, PingRequest, PongReply, VoidReply,
};
use aelf_net::pb::peer_service_grpc::{create_peer_service, PeerService, PeerServiceClient};
use aelf_net::types::{handshake_hash, timestamp_millis, Clock, SystemClock};
use crossbeam_channel::{bounded, Sender};
use grpcio::{EnvBuilder, RpcContext, RpcStatusCode, ServerBuilder, UnarySink};
use std::sync::Arc;
use std::time::Duration;

/// The wire peer's own server: answers the daemon's dial-back Ping and records its Disconnect.
#[derive(Clone)]
struct WireServer {
    pings: Sender<()>,
    goodbyes: Sender<Vec<u8>>,
}

impl PeerService for WireServer {
    fn ping(&mut self, ctx: RpcContext, _req: PingRequest, sink: UnarySink<PongReply>) {
        let _ = self.pings.try_send(());
        ctx.spawn(async move {
            let _ = sink.success(PongReply::new()).await;
        });
    }

    fn disconnect(&mut self, ctx: RpcContext, _req: DisconnectReason, sink: UnarySink<VoidReply>) {
        let session = ctx
            .request_headers()
            .iter()
            .find(|(k, _)| *k == "session-id-bin")
            .map(|(_, v)| v.to_vec())
            .unwrap_or_default();
        let _ = self.goodbyes.try_send(session);
        ctx.spawn(async move {
            let _ = sink.success(VoidReply::new()).await;
        });
    }
}

#[test]
fn a_hand_written_peer_completes_a_legacy_handshake_with_dial_back() {
    // Our side: a TLS server for the dial-back, on its own port.
    let (ping_tx, pings) = bounded(16);
    let (bye_tx, goodbyes) = bounded(16);
    let env = Arc::new(
        EnvBuilder::new()
            .cq_count(1)
            .name_prefix("wire-peer")
            .build(),
    );
    let (server, our_port) = serve(
        &env,
        WireServer {
            pings: ping_tx,
            goodbyes: bye_tx,
        },
    );

    // The daemon.
    let dir = tempfile::tempdir().unwrap();
    let (mut daemon, daemon_port, client) =
        daemon_and_client(&env, dir.path(), "goodbye_on_shutdown = true");

    // Handshake data built field by field and signed over SHA-256 of its encoding.
    let key = NodeKey::generate();
    let our_session = vec![9, 8, 7, 6, 5];
    let request = signed_handshake(&key, our_port, &our_session, "1.3.0.0");
    let reply = client
        .do_handshake_opt(&request, headers(&key.pubkey_hex(), None))
        .unwrap();
    assert_eq!(
        reply.error.enum_value_or_default(),
        HandshakeError::HANDSHAKE_OK
    );
    pings
        .recv_timeout(DEADLINE)
        .expect("the daemon pinged us back");

    // The reply is the daemon's own handshake, signed by the key it logs.
    let theirs = reply.handshake.as_ref().unwrap();
    let their_data = theirs.handshake_data.as_ref().unwrap();
    assert!(verify(
        &handshake_hash(their_data),
        &theirs.signature,
        &their_data.pubkey
    )
    .is_ok());
    assert_eq!(their_data.listening_port, i32::from(daemon_port));
    assert_eq!(theirs.session_id.len(), 5);
    let their_session = theirs.session_id.clone();

    // Authenticated calls carry the session the daemon gave us.
    let health = |session: &[u8]| {
        client
            .check_health_opt(
                &HealthCheckRequest::new(),
                headers(&key.pubkey_hex(), Some(session)),
            )
            .map(drop)
            .map_err(|e| match e {
                grpcio::Error::RpcFailure(s) => s.code(),
                other => panic!("{other}"),
            })
    };
    assert_eq!(
        health(&our_session),
        Err(RpcStatusCode::CANCELLED),
        "our own session is not theirs"
    );
    client
        .confirm_handshake_opt(
            &ConfirmHandshakeRequest::new(),
            headers(&key.pubkey_hex(), Some(&their_session)),
        )
        .unwrap();
    assert_eq!(health(&their_session), Ok(()));
    let line = daemon.wait_for("peer connected:");
    assert!(
        line.contains(&format!("127.0.0.1:{our_port}")) && line.contains("inbound"),
        "{line}"
    );

    // A graceful stop (with goodbye_on_shutdown) says goodbye over the dial-back channel, with
    // our session.
    daemon.signal(libc::SIGTERM);
    assert_eq!(daemon.wait_exit().code(), Some(0));
    assert_eq!(
        goodbyes
            .recv_timeout(DEADLINE)
            .expect("Disconnect from the daemon"),
        our_session
    );

    stop(server);
}

/// An `aelf-netd` in `dir` with `network_lines` in its `[network]` section, started, and a
/// client of its peer service: (daemon, its P2P port, client).
fn daemon_and_client(
    env: &Arc<grpcio::Environment>,
    dir: &std::path::Path,
    network_lines: &str,
) -> (Daemon, u16, PeerServiceClient) {
    let daemon_port = free_port();
    let config = write_config_with(dir, daemon_port, network_lines, "");
    let mut daemon = Daemon::start(&config, &[]);
    daemon.wait_for("node started");
    let (channel, _) = connect(
        "127.0.0.1",
        daemon_port,
        env.clone(),
        Duration::from_secs(10),
        DEFAULT_MAX_MESSAGE_LENGTH,
    )
    .unwrap();
    (daemon, daemon_port, PeerServiceClient::new(channel))
}

/// Stops a test server: shutdown, open calls cancelled.
fn stop(mut server: grpcio::Server) {
    let done = server.shutdown();
    server.cancel_all_calls();
    let _ = futures_executor::block_on(done);
}

/// A dial-back server that answers Ping and leaves every CheckHealth unanswered (its sinks are
/// kept, so the calls stay open until the caller's deadline), recording when each arrived.
#[derive(Clone)]
struct SilentServer {
    health_checks: Sender<i64>,
    held: Arc<parking_lot::Mutex<Vec<UnarySink<HealthCheckReply>>>>,
}

impl PeerService for SilentServer {
    fn ping(&mut self, ctx: RpcContext, _req: PingRequest, sink: UnarySink<PongReply>) {
        ctx.spawn(async move {
            let _ = sink.success(PongReply::new()).await;
        });
    }

    fn check_health(
        &mut self,
        _ctx: RpcContext,
        _req: HealthCheckRequest,
        sink: UnarySink<HealthCheckReply>,
    ) {
        let _ = self.health_checks.try_send(SystemClock.now_millis());
        self.held.lock().push(sink);
    }
}

/// A TLS `PeerService` on a free loopback port; (server, port).
fn serve(
    env: &Arc<grpcio::Environment>,
    service: impl PeerService + Clone + Send + 'static,
) -> (grpcio::Server, u16) {
    let mut server = ServerBuilder::new(env.clone())
        .channel_args(server_channel_args(env, DEFAULT_MAX_MESSAGE_LENGTH).build_args())
        .register_service(create_peer_service(service))
        .build()
        .unwrap();
    let port = server
        .add_listening_port(
            "127.0.0.1:0",
            server_credentials(&TlsIdentity::generate().unwrap()),
        )
        .unwrap();
    server.start();
    (server, port)
}

/// Issue scenario (C# `DoHandshakeAsync`): a second handshake with the same key replaces a
/// confirmed peer that no longer answers its health check; the reply handshake is built only
/// after that check gave up and the old peer was dropped, so its stamp is fresh (the C#
/// dialer refuses a reply stamped more than 1.5 s before it arrives).
#[test]
fn a_replacing_handshake_is_answered_with_a_handshake_stamped_after_the_replacement() {
    let env = Arc::new(
        EnvBuilder::new()
            .cq_count(1)
            .name_prefix("wire-peer")
            .build(),
    );
    let (health_tx, health_checks) = bounded(16);
    let silent = SilentServer {
        health_checks: health_tx,
        held: Arc::default(),
    };
    let (old_server, old_port) = serve(&env, silent.clone());
    let (new_server, new_port) = serve(&env, silent);

    let dir = tempfile::tempdir().unwrap();
    let (mut daemon, _, client) = daemon_and_client(&env, dir.path(), "");
    let key = NodeKey::generate();

    // The first connection: handshake, confirm; the daemon now holds a confirmed peer.
    let request = signed_handshake(&key, old_port, &[1, 1, 1], "1.3.0.0");
    let reply = client
        .do_handshake_opt(&request, headers(&key.pubkey_hex(), None))
        .unwrap();
    assert_eq!(
        reply.error.enum_value_or_default(),
        HandshakeError::HANDSHAKE_OK
    );
    client
        .confirm_handshake_opt(
            &ConfirmHandshakeRequest::new(),
            headers(&key.pubkey_hex(), Some(&reply.handshake.session_id)),
        )
        .unwrap();
    daemon.wait_for("peer connected:");

    // The same key again, from another port: the daemon health-checks the old peer (which
    // never answers), replaces it, and only then answers.
    let request = signed_handshake(&key, new_port, &[2, 2, 2], "1.3.0.0");
    let reply = client
        .do_handshake_opt(&request, headers(&key.pubkey_hex(), None))
        .unwrap();
    assert_eq!(
        reply.error.enum_value_or_default(),
        HandshakeError::HANDSHAKE_OK
    );
    let probed_at = health_checks
        .recv_timeout(DEADLINE)
        .expect("the old peer was health-checked");
    let stamped_at = timestamp_millis(&reply.handshake.handshake_data.time);
    // The reply is built once the check (which waits out its 2 s deadline) gave up, so after
    // the check reached the old peer; one built before the replacement predates it. (Not a
    // bound on the margin: on a loaded machine the check can arrive late in its deadline.)
    assert!(
        stamped_at >= probed_at,
        "reply stamped at {stamped_at}, before the old peer was probed at {probed_at}"
    );

    daemon.signal(libc::SIGTERM);
    assert_eq!(daemon.wait_exit().code(), Some(0));
    stop(old_server);
    stop(new_server);
}
