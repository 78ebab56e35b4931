//! Sinks: minimal `PeerService` servers on real TLS that a node can dial in legacy mode (they
//! answer DoHandshake with a valid signed handshake, ConfirmHandshake, Ping and CheckHealth),
//! count what is broadcast to them, and, when loaded with blocks, answer RequestBlocks. The
//! same sinks receive from our node and from the raw grpcio baseline, so both are measured
//! against one receiver.
//!
//! A stalled sink holds its broadcast streams open and never reads them (the slow peer).

use aelf_net::chain::{Chain, EmbeddedChain};
use aelf_net::crypto::NodeKey;
use aelf_net::grpc::channel::{server_channel_args, DEFAULT_MAX_MESSAGE_LENGTH};
use aelf_net::grpc::tls::{server_credentials, TlsIdentity};
use aelf_net::network::handshake::{Authorization, HandshakeProvider};
use aelf_net::pb::aelf_core::Transaction;
use aelf_net::pb::network_types::{
    BlockList, BlockWithTransactions, BlocksRequest, ConfirmHandshakeRequest, HandshakeError,
    HandshakeReply, HandshakeRequest,
};
use aelf_net::pb::peer_service::{
    HealthCheckReply, HealthCheckRequest, PingRequest, PongReply, VoidReply,
};
use aelf_net::pb::peer_service_grpc::{create_peer_service, PeerService};
use aelf_net::types::{block_hash, Hash, SystemClock};
use futures_util::TryStreamExt as _;
use grpcio::{
    ClientStreamingSink, Environment, RequestStream, RpcContext, Server, ServerBuilder, UnarySink,
};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Streams a stalled sink holds unread.
type Held = (RequestStream<Transaction>, ClientStreamingSink<VoidReply>);

/// What one sink has received.
#[derive(Default)]
pub struct Counters {
    pub transactions: AtomicU64,
    pub bytes: AtomicU64,
}

/// Blocks a sink serves to RequestBlocks: the chain in height order and each hash's position.
pub struct ServedChain {
    pub blocks: Vec<BlockWithTransactions>,
    pub index: HashMap<Hash, usize>,
}

impl ServedChain {
    pub fn new(blocks: Vec<BlockWithTransactions>) -> ServedChain {
        let index = blocks
            .iter()
            .enumerate()
            .filter_map(|(i, b)| Some((block_hash(b.header.as_ref()?).ok()?, i)))
            .collect();
        ServedChain { blocks, index }
    }
}

#[derive(Clone)]
struct SinkService {
    handshakes: Arc<HandshakeProvider>,
    counters: Arc<Counters>,
    stalled: bool,
    held: Arc<Mutex<Vec<Held>>>,
    served: Option<Arc<ServedChain>>,
}

impl PeerService for SinkService {
    fn do_handshake(
        &mut self,
        ctx: RpcContext,
        _req: HandshakeRequest,
        sink: UnarySink<HandshakeReply>,
    ) {
        let reply = HandshakeReply {
            handshake: Some(self.handshakes.build()).into(),
            error: HandshakeError::HANDSHAKE_OK.into(),
            ..HandshakeReply::default()
        };
        ctx.spawn(async move {
            let _ = sink.success(reply).await;
        });
    }

    fn confirm_handshake(
        &mut self,
        ctx: RpcContext,
        _req: ConfirmHandshakeRequest,
        sink: UnarySink<VoidReply>,
    ) {
        ctx.spawn(async move {
            let _ = sink.success(VoidReply::new()).await;
        });
    }

    fn ping(&mut self, ctx: RpcContext, _req: PingRequest, sink: UnarySink<PongReply>) {
        ctx.spawn(async move {
            let _ = sink.success(PongReply::new()).await;
        });
    }

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

    fn request_blocks(&mut self, ctx: RpcContext, req: BlocksRequest, sink: UnarySink<BlockList>) {
        let mut list = BlockList::new();
        if let (Some(served), Some(previous)) = (&self.served, req.previous_block_hash.as_ref()) {
            let after = Hash::from_proto(previous)
                .ok()
                .and_then(|h| served.index.get(&h).copied());
            if let Some(i) = after {
                let count = usize::try_from(req.count).unwrap_or(0);
                list.blocks = served
                    .blocks
                    .iter()
                    .skip(i + 1)
                    .take(count)
                    .cloned()
                    .collect();
            }
        }
        ctx.spawn(async move {
            let _ = sink.success(list).await;
        });
    }

    fn transaction_broadcast_stream(
        &mut self,
        ctx: RpcContext,
        stream: RequestStream<Transaction>,
        sink: ClientStreamingSink<VoidReply>,
    ) {
        if self.stalled {
            self.held.lock().push((stream, sink));
            return;
        }
        let counters = self.counters.clone();
        ctx.spawn(async move {
            let mut stream = stream;
            while let Ok(Some(tx)) = stream.try_next().await {
                counters.transactions.fetch_add(1, Ordering::Relaxed);
                let size = protobuf::Message::compute_size(&tx);
                counters.bytes.fetch_add(size, Ordering::Relaxed);
            }
            let _ = sink.success(VoidReply::new()).await;
        });
    }

    fn block_broadcast_stream(
        &mut self,
        ctx: RpcContext,
        stream: RequestStream<BlockWithTransactions>,
        sink: ClientStreamingSink<VoidReply>,
    ) {
        ctx.spawn(async move {
            let mut stream = stream;
            while let Ok(Some(_)) = stream.try_next().await {}
            let _ = sink.success(VoidReply::new()).await;
        });
    }
}

/// A running sink: its port, identity and counters.
pub struct Sink {
    pub port: u16,
    pub counters: Arc<Counters>,
    _server: Server,
}

/// The chain every sink's handshake refers to: the default chain's genesis.
pub fn genesis_chain(dir: &std::path::Path) -> Result<Arc<EmbeddedChain>, String> {
    EmbeddedChain::open(dir, aelf_net::config::Config::default().chain_settings())
        .map(Arc::new)
        .map_err(|e| format!("cannot open the sinks' chain: {e}"))
}

impl Sink {
    /// Starts a sink on an ephemeral loopback port with a fresh key.
    pub fn start(
        env: &Arc<Environment>,
        chain: &Arc<EmbeddedChain>,
        stalled: bool,
        served: Option<Arc<ServedChain>>,
    ) -> Result<Sink, String> {
        let identity = TlsIdentity::generate().map_err(|e| e.to_string())?;
        let counters = Arc::new(Counters::default());
        // The port is known only after binding; the handshake's listening port is not checked
        // by a dialer, so 0 is fine.
        let handshakes = Arc::new(HandshakeProvider::new(
            NodeKey::generate(),
            chain.clone() as Arc<dyn Chain>,
            0,
            "1.3.0.0".into(),
            Arc::new(SystemClock),
            Authorization::Any,
        ));
        let service = SinkService {
            handshakes,
            counters: counters.clone(),
            stalled,
            held: Arc::new(Mutex::new(Vec::new())),
            served,
        };
        let mut server = ServerBuilder::new(env.clone())
            .channel_args(server_channel_args(env, DEFAULT_MAX_MESSAGE_LENGTH).build_args())
            .register_service(create_peer_service(service))
            .build()
            .map_err(|e| format!("cannot build a sink: {e}"))?;
        let port = server
            .add_listening_port("127.0.0.1:0", server_credentials(&identity))
            .map_err(|e| format!("cannot listen: {e}"))?;
        server.start();
        Ok(Sink {
            port,
            counters,
            _server: server,
        })
    }

    pub fn received(&self) -> u64 {
        self.counters.transactions.load(Ordering::Relaxed)
    }
}
