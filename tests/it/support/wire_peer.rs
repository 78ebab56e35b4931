//! Peers written from the wire format up, not from our peer code: hand-built signed
//! handshakes and call metadata, [`WirePeer`] (a C#-like legacy peer with its own TLS
//! `PeerService` server that records what a node broadcasts to it), client streams written to
//! their end, and a raw client of an in-process node.

use super::node::TestNode;
use aelf_net::crypto::NodeKey;
use aelf_net::grpc::channel::{connect, server_channel_args, DEFAULT_MAX_MESSAGE_LENGTH};
use aelf_net::grpc::tls::{server_credentials, TlsIdentity};
use aelf_net::pb::aelf_core::{Hash as PbHash, Transaction};
use aelf_net::pb::network_types::{
    BlockAnnouncement, BlockWithTransactions, ConfirmHandshakeRequest, Handshake, HandshakeData,
    HandshakeError, HandshakeReply, HandshakeRequest, LibAnnouncement,
};
use aelf_net::pb::peer_service::{
    HealthCheckReply, HealthCheckRequest, PingRequest, PongReply, VoidReply,
};
use aelf_net::pb::peer_service_grpc::{create_peer_service, PeerService, PeerServiceClient};
use aelf_net::types::{handshake_hash, timestamp_from_millis, Clock, SystemClock};
use crossbeam_channel::{unbounded, Receiver, Sender};
use futures_util::{SinkExt as _, TryStreamExt as _};
use grpcio::{
    CallOption, ClientCStreamReceiver, ClientCStreamSender, ClientStreamingSink, EnvBuilder,
    Environment, MetadataBuilder, RequestStream, RpcContext, RpcStatusCode, Server, ServerBuilder,
    UnarySink, WriteFlags,
};
use parking_lot::Mutex;
use protobuf::MessageField;
use std::sync::Arc;
use std::time::Duration;

/// The deadline of the wire peer's calls.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// A signed handshake request announcing `listening_port` and `session`, built field by field.
pub fn signed_handshake(
    key: &NodeKey,
    listening_port: u16,
    session: &[u8],
    node_version: &str,
) -> HandshakeRequest {
    let zero = PbHash {
        value: vec![0; 32],
        ..Default::default()
    };
    let data = HandshakeData {
        chain_id: 9992731,
        version: 1,
        listening_port: i32::from(listening_port),
        pubkey: key.pubkey().to_vec(),
        best_chain_hash: MessageField::some(zero.clone()),
        best_chain_height: 1,
        last_irreversible_block_hash: MessageField::some(zero),
        last_irreversible_block_height: 1,
        time: MessageField::some(timestamp_from_millis(SystemClock.now_millis())),
        node_version: node_version.into(),
        ..Default::default()
    };
    HandshakeRequest {
        handshake: MessageField::some(Handshake {
            signature: key.sign(&handshake_hash(&data)).to_vec(),
            handshake_data: MessageField::some(data),
            session_id: session.to_vec(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// `public-key` (and `session-id-bin`) headers with a 30 s deadline.
pub fn headers(pubkey_hex: &str, session: Option<&[u8]>) -> CallOption {
    let mut md = MetadataBuilder::new();
    md.add_str("public-key", pubkey_hex).unwrap();
    if let Some(s) = session {
        md.add_bytes("session-id-bin", s).unwrap();
    }
    CallOption::default()
        .headers(md.build())
        .timeout(CALL_TIMEOUT)
}

/// A block stream held open and never read.
type HeldStream = (
    RequestStream<BlockWithTransactions>,
    ClientStreamingSink<VoidReply>,
);

/// The wire peer's server: answers the dial-back Ping, forwards what the daemon broadcasts
/// (or, with `stall_blocks`, holds block streams open without ever reading them).
#[derive(Clone)]
struct WireServer {
    blocks: Sender<BlockWithTransactions>,
    announcements: Sender<BlockAnnouncement>,
    stall_blocks: bool,
    held: Arc<Mutex<Vec<HeldStream>>>,
}

/// Reads a broadcast stream to its end, handing each item to `each`.
fn drain<T: Send + 'static>(
    ctx: &RpcContext,
    stream: RequestStream<T>,
    sink: ClientStreamingSink<VoidReply>,
    each: impl Fn(T) + Send + 'static,
) {
    ctx.spawn(async move {
        let mut stream = stream;
        while let Ok(Some(item)) = stream.try_next().await {
            each(item);
        }
        let _ = sink.success(VoidReply::new()).await;
    });
}

impl PeerService for WireServer {
    fn ping(&mut self, ctx: RpcContext, _req: PingRequest, sink: UnarySink<PongReply>) {
        ctx.spawn(async move {
            let _ = sink.success(PongReply::new()).await;
        });
    }

    /// A C# peer answers health checks: a node asks before replacing a peer it holds.
    fn check_health(
        &mut self,
        ctx: RpcContext,
        _req: HealthCheckRequest,
        sink: UnarySink<HealthCheckReply>,
    ) {
        ctx.spawn(async move {
            let _ = sink.success(HealthCheckReply::new()).await;
        });
    }

    fn block_broadcast_stream(
        &mut self,
        ctx: RpcContext,
        stream: RequestStream<BlockWithTransactions>,
        sink: ClientStreamingSink<VoidReply>,
    ) {
        if self.stall_blocks {
            self.held.lock().push((stream, sink));
            return;
        }
        let blocks = self.blocks.clone();
        drain(&ctx, stream, sink, move |b| {
            let _ = blocks.send(b);
        });
    }

    fn announcement_broadcast_stream(
        &mut self,
        ctx: RpcContext,
        stream: RequestStream<BlockAnnouncement>,
        sink: ClientStreamingSink<VoidReply>,
    ) {
        let announcements = self.announcements.clone();
        drain(&ctx, stream, sink, move |a| {
            let _ = announcements.send(a);
        });
    }

    fn transaction_broadcast_stream(
        &mut self,
        ctx: RpcContext,
        stream: RequestStream<Transaction>,
        sink: ClientStreamingSink<VoidReply>,
    ) {
        drain(&ctx, stream, sink, |_| {});
    }

    fn lib_announcement_broadcast_stream(
        &mut self,
        ctx: RpcContext,
        stream: RequestStream<LibAnnouncement>,
        sink: ClientStreamingSink<VoidReply>,
    ) {
        drain(&ctx, stream, sink, |_| {});
    }
}

/// A wire peer: key, server, and what its server received.
pub struct WirePeer {
    pub key: NodeKey,
    env: Arc<Environment>,
    server: Server,
    pub port: u16,
    /// Blocks the node broadcast to it.
    pub blocks: Receiver<BlockWithTransactions>,
    /// Announcements the node broadcast to it.
    pub announcements: Receiver<BlockAnnouncement>,
}

impl WirePeer {
    pub fn start(stall_blocks: bool) -> WirePeer {
        let (blocks_tx, blocks) = unbounded();
        let (ann_tx, announcements) = unbounded();
        let env = Arc::new(EnvBuilder::new().cq_count(1).name_prefix("wire").build());
        let mut server = ServerBuilder::new(env.clone())
            .channel_args(server_channel_args(&env, DEFAULT_MAX_MESSAGE_LENGTH).build_args())
            .register_service(create_peer_service(WireServer {
                blocks: blocks_tx,
                announcements: ann_tx,
                stall_blocks,
                held: Arc::new(Mutex::new(Vec::new())),
            }))
            .build()
            .unwrap();
        let port = server
            .add_listening_port(
                "127.0.0.1:0",
                server_credentials(&TlsIdentity::generate().unwrap()),
            )
            .unwrap();
        server.start();
        WirePeer {
            key: NodeKey::generate(),
            env,
            server,
            port,
            blocks,
            announcements,
        }
    }

    /// Legacy handshake and confirmation with the daemon at `daemon_port`: the client and the
    /// session the daemon gave us.
    pub fn connect(&self, daemon_port: u16) -> (PeerServiceClient, Vec<u8>) {
        let (client, reply) = self.handshake(daemon_port);
        assert_eq!(
            reply.error.enum_value_or_default(),
            HandshakeError::HANDSHAKE_OK
        );
        let session = reply.handshake.session_id.clone();
        client
            .confirm_handshake_opt(
                &ConfirmHandshakeRequest::new(),
                headers(&self.key.pubkey_hex(), Some(&session)),
            )
            .unwrap();
        (client, session)
    }

    /// A TLS channel to the daemon at `daemon_port`, on this peer's environment.
    pub fn dial(&self, daemon_port: u16) -> grpcio::Channel {
        let (channel, _) = connect(
            "127.0.0.1",
            daemon_port,
            self.env.clone(),
            Duration::from_secs(10),
            DEFAULT_MAX_MESSAGE_LENGTH,
        )
        .unwrap();
        channel
    }

    /// A legacy DoHandshake to the daemon at `daemon_port`, whatever it answers.
    pub fn handshake(&self, daemon_port: u16) -> (PeerServiceClient, HandshakeReply) {
        let client = PeerServiceClient::new(self.dial(daemon_port));
        let request = signed_handshake(&self.key, self.port, &[1, 2, 3, 4, 5], "1.3.0.0");
        let reply = client
            .do_handshake_opt(&request, headers(&self.key.pubkey_hex(), None))
            .unwrap();
        (client, reply)
    }

    pub fn stop(mut self) {
        let done = self.server.shutdown();
        self.server.cancel_all_calls();
        let _ = futures_executor::block_on(done);
    }
}

/// Writes `items` on a client stream, half-closes it and returns how the call ended.
pub fn stream_all<T>(
    (mut sink, receiver): (ClientCStreamSender<T>, ClientCStreamReceiver<VoidReply>),
    items: Vec<T>,
) -> Result<VoidReply, RpcStatusCode> {
    let sent = futures_executor::block_on(async {
        for item in items {
            sink.send((item, WriteFlags::default())).await?;
        }
        sink.close().await
    });
    let result = futures_executor::block_on(receiver);
    match (sent, result) {
        (_, Ok(reply)) => Ok(reply),
        (_, Err(grpcio::Error::RpcFailure(s))) => Err(s.code()),
        (_, Err(other)) => panic!("{other}"),
    }
}

/// A raw client of `node`, on a client environment of its own.
pub fn raw_client(node: &TestNode) -> PeerServiceClient {
    let env = Arc::new(
        EnvBuilder::new()
            .cq_count(1)
            .name_prefix("test-client")
            .build(),
    );
    let (channel, _) = connect(
        "127.0.0.1",
        node.port,
        env,
        Duration::from_secs(5),
        104_857_600,
    )
    .expect("connect");
    PeerServiceClient::new(channel)
}
