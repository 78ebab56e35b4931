//! The `PeerService` server: thin handlers on grpcio's completion-queue threads, the
//! authentication checker (spec 3.2), and the handshake worker threads that run everything that
//! may block (dial-back, stream handshakes, disconnects). `RequestByStream` is served by
//! [`super::stream::back_peer`].
//!
//! Owns the mapping of RPCs to the connection service and of outcomes to replies or statuses.
//! Handlers never block: work that may wait on the network goes to a bounded worker queue, and
//! the reply is completed by a future on the completion queue when the worker answers.

use super::connection::{short, ConnectionService};
use super::error::{inbound_status, overloaded, unauthenticated};
use super::metadata::{caller_ip, caller_pubkey, caller_session, gzip_headers};
use super::services::CoreServices;
use super::stream::back_peer;
use crate::metrics::metrics;
use crate::network::broadcast::BroadcastKind;
use crate::network::inbound::InboundError;
use crate::network::node_table::{NodeTable, MAX_NODES_PER_RESPONSE};
use crate::network::peer_pool::PeerPool;
use crate::pb::aelf_core::Transaction;
use crate::pb::network_types::{
    BlockAnnouncement, BlockList, BlockReply, BlockRequest, BlockWithTransactions, BlocksRequest,
    ConfirmHandshakeRequest, DisconnectReason, HandshakeReply, HandshakeRequest, LibAnnouncement,
    NodeInfo, NodeList, NodesRequest,
};
use crate::pb::peer_service::{
    HealthCheckReply, HealthCheckRequest, PingRequest, PongReply, StreamMessage, VoidReply,
};
use crate::pb::peer_service_grpc::PeerService;
use crate::thread::{Work, WorkerPool};
use crossbeam_channel::Sender;
use futures_util::TryStreamExt as _;
use grpcio::{
    CheckResult, ClientStreamingSink, DuplexSink, RequestStream, RpcContext, RpcStatus,
    RpcStatusCode, ServerChecker, UnarySink,
};
use log::debug;
use std::sync::Arc;

/// RPCs the C# AuthInterceptor lets through without a session (spec 3.2).
const UNAUTHENTICATED_METHODS: [&[u8]; 3] = [
    b"/PeerService/Ping",
    b"/PeerService/DoHandshake",
    b"/PeerService/RequestByStream",
];
/// Jobs waiting for a handshake worker at most; more are refused with RESOURCE_EXHAUSTED.
pub const HANDSHAKE_QUEUE: usize = 64;

/// Runs `work` on a worker and completes `sink` with its result on the completion queue. A
/// full queue answers RESOURCE_EXHAUSTED at once.
fn offload<T: Send + 'static>(
    ctx: &RpcContext,
    workers: &Option<Sender<Work>>,
    sink: UnarySink<T>,
    work: impl FnOnce() -> Result<T, RpcStatus> + Send + 'static,
) {
    let (tx, rx) = futures_channel::oneshot::channel();
    let job: Work = Box::new(move || {
        let _ = tx.send(work());
    });
    if !submit(workers, job) {
        ctx.spawn(async move {
            let _ = sink.fail(overloaded("the worker pool")).await;
        });
        return;
    }
    ctx.spawn(async move {
        let result = match rx.await {
            Ok(result) => result,
            Err(_) => Err(RpcStatus::with_message(
                RpcStatusCode::INTERNAL,
                "worker stopped".into(),
            )),
        };
        let _ = match result {
            Ok(reply) => sink.success(reply).await,
            Err(status) => sink.fail(status).await,
        };
    });
}

/// Queues `job` on a handshake worker; `false` when the queue is full or gone.
fn submit(workers: &Option<Sender<Work>>, job: Work) -> bool {
    workers
        .as_ref()
        .is_some_and(|queue| queue.try_send(job).is_ok())
}

/// Up to `min(max_count, 10)` random entries of the node table (GetNodes, unary or stream).
pub fn node_list(nodes: &NodeTable, max_count: i32) -> NodeList {
    let n = usize::try_from(max_count)
        .unwrap_or(0)
        .min(MAX_NODES_PER_RESPONSE);
    let nodes = nodes
        .random(n)
        .into_iter()
        .map(|node| NodeInfo {
            endpoint: node.endpoint.to_string(),
            pubkey: node.pubkey,
            ..Default::default()
        })
        .collect();
    NodeList {
        nodes,
        ..Default::default()
    }
}

fn reply<T: Send + 'static>(ctx: &RpcContext, sink: UnarySink<T>, value: T) {
    ctx.spawn(async move {
        let _ = sink.success(value).await;
    });
}

/// The `PeerService` implementation; cloned for every completion queue.
#[derive(Clone)]
pub struct PeerServiceImpl {
    connections: Arc<ConnectionService>,
    services: CoreServices,
    workers: Option<Sender<Work>>,
    block_servers: Option<Sender<Work>>,
}

impl PeerServiceImpl {
    pub fn new(
        connections: Arc<ConnectionService>,
        workers: &WorkerPool,
        block_servers: &WorkerPool,
    ) -> PeerServiceImpl {
        PeerServiceImpl {
            services: connections.lifecycle().services().clone(),
            connections,
            workers: workers.sender(),
            block_servers: block_servers.sender(),
        }
    }
}

/// Reads a broadcast stream on the completion queue, handing each item to `handle` with the
/// caller's key (spec 1.2). The stream ends with VoidReply when the client half-closes,
/// CANCELLED when the caller is not (or no longer) a pool peer, UNKNOWN on a malformed item.
fn read_broadcasts<T: protobuf::Message + Send + 'static>(
    ctx: &RpcContext,
    kind: BroadcastKind,
    stream: RequestStream<T>,
    sink: ClientStreamingSink<VoidReply>,
    handle: impl Fn(&str, T) -> Result<(), InboundError> + Send + 'static,
) {
    let caller = caller_pubkey(ctx.request_headers()).unwrap_or_default();
    let method = String::from_utf8_lossy(ctx.method()).into_owned();
    ctx.spawn(async move {
        let mut stream = stream;
        let result = loop {
            match stream.try_next().await {
                Ok(Some(item)) => {
                    metrics().received(kind.index(), item.compute_size() as usize);
                    if let Err(e) = handle(&caller, item) {
                        break Err(e);
                    }
                }
                Ok(None) => break Ok(()),
                Err(e) => {
                    debug!("{method} from {}: {e}", short(&caller));
                    return;
                }
            }
        };
        let _ = match result {
            Ok(()) => sink.success(VoidReply::new()).await,
            Err(e) => {
                debug!("{method} from {} ends: {e}", short(&caller));
                sink.fail(inbound_status(&e)).await
            }
        };
    });
}

impl PeerService for PeerServiceImpl {
    fn request_block(&mut self, ctx: RpcContext, req: BlockRequest, sink: UnarySink<BlockReply>) {
        let requester = caller_pubkey(ctx.request_headers());
        let network = self.services.network.clone();
        offload(&ctx, &self.block_servers, sink, move || {
            Ok(network.serve_block(requester.as_deref(), &req))
        });
    }

    fn request_blocks(
        &mut self,
        ctx: RpcContext,
        req: BlocksRequest,
        mut sink: UnarySink<BlockList>,
    ) {
        if self.services.compress_blocks {
            sink.set_headers(gzip_headers());
        }
        let network = self.services.network.clone();
        offload(&ctx, &self.block_servers, sink, move || {
            Ok(network.serve_blocks(&req))
        });
    }

    fn block_broadcast_stream(
        &mut self,
        ctx: RpcContext,
        stream: RequestStream<BlockWithTransactions>,
        sink: ClientStreamingSink<VoidReply>,
    ) {
        let inbound = self.services.inbound.clone();
        read_broadcasts(
            &ctx,
            BroadcastKind::Block,
            stream,
            sink,
            move |caller, block| inbound.on_block(caller, block),
        );
    }

    fn transaction_broadcast_stream(
        &mut self,
        ctx: RpcContext,
        stream: RequestStream<Transaction>,
        sink: ClientStreamingSink<VoidReply>,
    ) {
        let inbound = self.services.inbound.clone();
        read_broadcasts(
            &ctx,
            BroadcastKind::Transaction,
            stream,
            sink,
            move |caller, tx| inbound.on_transaction(caller, tx),
        );
    }

    fn announcement_broadcast_stream(
        &mut self,
        ctx: RpcContext,
        stream: RequestStream<BlockAnnouncement>,
        sink: ClientStreamingSink<VoidReply>,
    ) {
        let inbound = self.services.inbound.clone();
        read_broadcasts(
            &ctx,
            BroadcastKind::Announcement,
            stream,
            sink,
            move |caller, announcement| inbound.on_announcement(caller, &announcement),
        );
    }

    fn lib_announcement_broadcast_stream(
        &mut self,
        ctx: RpcContext,
        stream: RequestStream<LibAnnouncement>,
        sink: ClientStreamingSink<VoidReply>,
    ) {
        let inbound = self.services.inbound.clone();
        read_broadcasts(
            &ctx,
            BroadcastKind::LibAnnouncement,
            stream,
            sink,
            move |caller, lib| inbound.on_lib_announcement(caller, &lib),
        );
    }

    fn ping(&mut self, ctx: RpcContext, _req: PingRequest, sink: UnarySink<PongReply>) {
        reply(&ctx, sink, PongReply::new());
    }

    fn check_health(
        &mut self,
        ctx: RpcContext,
        _req: HealthCheckRequest,
        sink: UnarySink<HealthCheckReply>,
    ) {
        reply(&ctx, sink, HealthCheckReply::new());
    }

    fn get_nodes(&mut self, ctx: RpcContext, req: NodesRequest, sink: UnarySink<NodeList>) {
        let list = node_list(self.connections.nodes(), req.max_count);
        reply(&ctx, sink, list);
    }

    fn do_handshake(
        &mut self,
        ctx: RpcContext,
        req: HandshakeRequest,
        sink: UnarySink<HandshakeReply>,
    ) {
        let caller = caller_ip(&ctx.peer());
        let connections = self.connections.clone();
        offload(&ctx, &self.workers, sink, move || {
            let handshake = req.handshake.into_option().unwrap_or_default();
            let reply = connections.accept_handshake(caller, &handshake);
            let result = match &reply {
                Ok(r) => format!("{:?}", r.error.enum_value_or_default()),
                Err(_) => "MALFORMED".to_owned(),
            };
            metrics().handshake(true, &result);
            reply
        });
    }

    fn confirm_handshake(
        &mut self,
        ctx: RpcContext,
        _req: ConfirmHandshakeRequest,
        sink: UnarySink<VoidReply>,
    ) {
        if let Some(pubkey) = caller_pubkey(ctx.request_headers()) {
            self.connections.confirm_inbound(&pubkey);
        }
        reply(&ctx, sink, VoidReply::new());
    }

    fn disconnect(&mut self, ctx: RpcContext, req: DisconnectReason, sink: UnarySink<VoidReply>) {
        let pubkey = caller_pubkey(ctx.request_headers());
        let connections = self.connections.clone();
        offload(&ctx, &self.workers, sink, move || {
            if let Some(pubkey) = pubkey {
                log::info!(
                    "peer {} says goodbye ({:?})",
                    super::connection::short(&pubkey),
                    req.why
                );
                // The remote is leaving: nothing is sent back (C# `DisconnectAsync(false)`).
                connections.remote_left(&pubkey);
            }
            Ok(VoidReply::new())
        });
    }

    fn request_by_stream(
        &mut self,
        ctx: RpcContext,
        stream: RequestStream<StreamMessage>,
        sink: DuplexSink<StreamMessage>,
    ) {
        let caller = caller_ip(&ctx.peer());
        let workers = self.workers.clone();
        back_peer::serve(
            &ctx,
            stream,
            sink,
            caller,
            self.connections.clone(),
            move |job| submit(&workers, job),
        );
    }
}

/// Server-side authentication (C# `AuthInterceptor`, spec 3.2): except for Ping, DoHandshake
/// and RequestByStream, the `public-key` header must name a pool peer and `session-id-bin`
/// must equal the session id we gave it; otherwise the call ends with CANCELLED.
#[derive(Clone)]
pub struct AuthChecker {
    pool: Arc<PeerPool>,
}

impl AuthChecker {
    pub fn new(pool: Arc<PeerPool>) -> AuthChecker {
        AuthChecker { pool }
    }
}

impl ServerChecker for AuthChecker {
    fn check(&mut self, ctx: &RpcContext) -> CheckResult {
        if UNAUTHENTICATED_METHODS.contains(&ctx.method()) {
            return CheckResult::Continue;
        }
        let headers = ctx.request_headers();
        let Some(peer) = caller_pubkey(headers).and_then(|key| self.pool.get(&key)) else {
            return CheckResult::Abort(unauthenticated("unknown peer"));
        };
        if caller_session(headers) != Some(peer.inbound_session_id()) {
            return CheckResult::Abort(unauthenticated("wrong session"));
        }
        CheckResult::Continue
    }

    fn box_clone(&self) -> Box<dyn ServerChecker> {
        Box::new(self.clone())
    }
}
