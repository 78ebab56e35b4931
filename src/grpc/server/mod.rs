//! The `PeerService` server: thin handlers on grpcio's completion-queue threads, handing work
//! that may block (dial-back, stream handshakes, disconnects) to the `handshake-<i>` workers and
//! block reads to the `block-server-<i>` workers. `auth` checks every call first;
//! `stream_service` serves `RequestByStream`.
//!
//! Owns the mapping of RPCs to the connection service and the upcalls, and of outcomes to
//! replies or statuses. Handlers never block: work that may wait goes to a bounded worker
//! queue, and the reply is completed by a future on the completion queue when the worker
//! answers.

pub mod auth;
pub mod stream_service;

use super::connection::ConnectionService;
use super::error::{inbound_status, overloaded};
use super::metadata::{caller_ip, caller_pubkey, gzip_headers};
use super::upcalls::Upcalls;
use crate::metrics::metrics;
use crate::network::broadcast::BroadcastKind;
use crate::network::inbound::InboundError;
use crate::network::lifecycle::Removal;
use crate::network::peer::short_key;
use crate::pb::aelf_core::Transaction;
use crate::pb::network_types::{
    BlockAnnouncement, BlockList, BlockReply, BlockRequest, BlockWithTransactions, BlocksRequest,
    ConfirmHandshakeRequest, DisconnectReason, HandshakeReply, HandshakeRequest, LibAnnouncement,
    NodeList, NodesRequest,
};
use crate::pb::peer_service::{
    HealthCheckReply, HealthCheckRequest, PingRequest, PongReply, StreamMessage, VoidReply,
};
use crate::pb::peer_service_grpc::PeerService;
use crate::thread::{Work, WorkerPool};
use crossbeam_channel::Sender;
use futures_util::TryStreamExt as _;
use grpcio::{
    ClientStreamingSink, DuplexSink, RequestStream, RpcContext, RpcStatus, RpcStatusCode, UnarySink,
};
use log::debug;
use std::sync::Arc;

/// Jobs waiting for a handshake worker at most; more are refused with RESOURCE_EXHAUSTED.
pub const HANDSHAKE_QUEUE: usize = 64;
/// Block reads (RequestBlock, RequestBlocks) waiting for a block-server worker at most; more
/// are refused with RESOURCE_EXHAUSTED.
pub const BLOCK_SERVER_QUEUE: usize = 64;

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

fn reply<T: Send + 'static>(ctx: &RpcContext, sink: UnarySink<T>, value: T) {
    ctx.spawn(async move {
        let _ = sink.success(value).await;
    });
}

/// The `PeerService` implementation; cloned for every completion queue.
#[derive(Clone)]
pub struct PeerServiceImpl {
    connections: Arc<ConnectionService>,
    upcalls: Upcalls,
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
            upcalls: connections.upcalls().clone(),
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
                    debug!("{method} from {}: {e}", short_key(&caller));
                    return;
                }
            }
        };
        let _ = match result {
            Ok(()) => sink.success(VoidReply::new()).await,
            Err(e) => {
                debug!("{method} from {} ends: {e}", short_key(&caller));
                sink.fail(inbound_status(&e)).await
            }
        };
    });
}

impl PeerService for PeerServiceImpl {
    fn request_block(&mut self, ctx: RpcContext, req: BlockRequest, sink: UnarySink<BlockReply>) {
        let requester = caller_pubkey(ctx.request_headers());
        let network = self.upcalls.network.clone();
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
        if self.upcalls.compress_blocks {
            sink.set_headers(gzip_headers());
        }
        let network = self.upcalls.network.clone();
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
        let inbound = self.upcalls.inbound.clone();
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
        let inbound = self.upcalls.inbound.clone();
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
        let inbound = self.upcalls.inbound.clone();
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
        let inbound = self.upcalls.inbound.clone();
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
        let list = self.connections.nodes().node_list(req.max_count);
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
            self.upcalls.lifecycle.confirm_inbound(&pubkey);
        }
        reply(&ctx, sink, VoidReply::new());
    }

    fn disconnect(&mut self, ctx: RpcContext, req: DisconnectReason, sink: UnarySink<VoidReply>) {
        let pubkey = caller_pubkey(ctx.request_headers());
        let lifecycle = self.upcalls.lifecycle.clone();
        offload(&ctx, &self.workers, sink, move || {
            if let Some(pubkey) = pubkey {
                log::info!("peer {} says goodbye ({:?})", short_key(&pubkey), req.why);
                // The remote is leaving: nothing is sent back (C# `DisconnectAsync(false)`).
                lifecycle.remove_key(&pubkey, Removal::GoodbyeReceived);
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
        stream_service::serve(
            &ctx,
            stream,
            sink,
            caller,
            self.connections.clone(),
            move |job| submit(&workers, job),
        );
    }
}
