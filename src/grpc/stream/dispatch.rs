//! What a stream peer's `stream-<id>` thread does with the requests the remote sends (C#
//! `StreamService`, spec 7.5): authentication, the handlers, and the reply on the same stream.
//!
//! Requests do not wait for each other (the C# node starts each one without awaiting the
//! previous). The inbox thread takes them in order, authenticates them and answers the cheap
//! ones itself — HEALTH_CHECK, PING, CONFIRM_HAND_SHAKE, DISCONNECT, GET_NODES and the four
//! broadcasts, which only parse and queue an event, so their order is kept. The block reads,
//! REQUEST_BLOCK and REQUEST_BLOCKS, go to the node-wide `stream-server-<i>` workers
//! (`[threads] stream_servers`, a queue of [`STREAM_SERVER_QUEUE`], at a lowered CPU priority,
//! nice +10, set by the transport that owns them), at most [`MAX_SERVING_PER_PEER`] of one
//! peer's at a time; the peer's next ones wait in its backlog (at most [`BACKLOG_PER_PEER`])
//! and are handed on as the served ones finish. A block read
//! that finds the backlog or the workers' queue full is answered at once with a "busy" error
//! reply ([`ERROR_META_KEY`]) — a C# sender reads it as an empty answer (no blocks) and asks
//! again or elsewhere instead of waiting out three timeouts and marking us unstable. Every
//! reply, from the thread or a worker, goes through the link's single writer; all but the
//! served block reads take its ahead lane, so they are not written after batches of blocks
//! that were queued first.
//!
//! Must not touch pool membership except through the lifecycle (the closed stream, DISCONNECT),
//! nor hold the peer itself in a worker job (a job keeps a clone of the link, which goes
//! nowhere once the peer closed it).
//!
//! Authentication applies to requests of every type except PING, HAND_SHAKE and HEALTH_CHECK:
//! the pool's entry for the remote's key must be this very stream peer, and
//! `meta["session-id-bin"]` must be the hex of the session id we gave it. Anything else is
//! dropped without a reply, as the C# node does (spec 12 quirk 16): the sender sees a timeout.
//! Those drops are counted ([`unauthenticated_dropped`], and per peer) and logged at debug.
//!
//! A malformed inner message, or an item the receive rules refuse, ends only that message: it is
//! logged and answered with an error reply ([`error_reply`]).

use super::link::Link;
use super::stream_peer::StreamPeer;
use super::{needs_auth, request_latency_ms, type_name, StreamError, ERROR_META_KEY};
use crate::grpc::metadata::SESSION_ID_METADATA_KEY;
use crate::grpc::upcalls::Upcalls;
use crate::network::broadcast::BroadcastKind;
use crate::network::inbound::InboundError;
use crate::network::lifecycle::Removal;
use crate::network::peer::{short_key, Peer};
use crate::network::penalty::Offence;
use crate::network::service::NetworkService;
use crate::pb::aelf_core::Transaction;
use crate::pb::network_types::{
    BlockAnnouncement, BlockRequest, BlockWithTransactions, BlocksRequest, DisconnectReason,
    LibAnnouncement, NodesRequest,
};
use crate::pb::peer_service::{
    HealthCheckReply, MessageType, PongReply, StreamMessage, StreamType, VoidReply,
};
use crate::thread::WorkerHandle;
use crossbeam_channel::{bounded, select, Receiver, Sender};
use log::{debug, info, warn};
use protobuf::{EnumOrUnknown, Message};
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

/// Block reads of one peer on the stream-server workers at most (queued or running).
pub const MAX_SERVING_PER_PEER: usize = 4;
/// Block reads of one peer waiting for one of its [`MAX_SERVING_PER_PEER`] places at most;
/// more are answered "busy".
pub const BACKLOG_PER_PEER: usize = 64;
/// Block reads waiting for a stream-server worker, over all peers, at most; more are answered
/// "busy". Room for 64 peers at their [`MAX_SERVING_PER_PEER`].
pub const STREAM_SERVER_QUEUE: usize = 256;
/// The reason in a "busy" error reply.
pub const BUSY: &str = "busy: too many block requests in flight";

static BUSY_REFUSED: AtomicU64 = AtomicU64::new(0);

/// Stream block requests answered "busy", over the whole process.
pub fn busy_refused() -> u64 {
    BUSY_REFUSED.load(Ordering::Relaxed)
}

static UNAUTHENTICATED: AtomicU64 = AtomicU64::new(0);

/// Stream requests dropped for failed authentication, over the whole process.
pub fn unauthenticated_dropped() -> u64 {
    UNAUTHENTICATED.load(Ordering::Relaxed)
}

/// Counts one dropped unauthenticated request.
pub(crate) fn note_unauthenticated() {
    UNAUTHENTICATED.fetch_add(1, Ordering::Relaxed);
}

/// Starts `peer`'s inbox thread on the requests its reader forwards to `inbox`: they are
/// taken one after another — block reads handed to `servers` — until the reader ends (the
/// stream closed: the peer leaves the pool as failed) or the peer stops the thread.
pub fn start_serving(
    peer: &Arc<StreamPeer>,
    upcalls: Upcalls,
    servers: WorkerHandle,
    inbox: Receiver<StreamMessage>,
) -> std::io::Result<()> {
    peer.start(move |peer, stop| {
        let mut reads = BlockReads::new(servers);
        run_inbox(&peer, &upcalls, &mut reads, &inbox, &stop)
    })
}

fn run_inbox(
    peer: &Weak<StreamPeer>,
    upcalls: &Upcalls,
    reads: &mut BlockReads,
    inbox: &Receiver<StreamMessage>,
    stop: &Receiver<()>,
) {
    let finished = reads.finished.clone();
    loop {
        select! {
            recv(inbox) -> message => match message {
                Ok(message) => {
                    let Some(peer) = peer.upgrade() else { return };
                    handle_request(&peer, upcalls, reads, message);
                }
                Err(_) => {
                    if let Some(peer) = peer.upgrade() {
                        let entry: Arc<dyn Peer> = peer;
                        upcalls
                            .lifecycle
                            .remove(&entry, Removal::Failed("stream closed".into()));
                    }
                    return;
                }
            },
            recv(finished) -> _ => reads.one_finished(),
            recv(stop) -> _ => return,
        }
    }
}

/// A block read handed to a worker: what it needs to answer without the peer.
struct BlockRead {
    request: StreamMessage,
    session: Option<String>,
    link: Link,
    network: Arc<NetworkService>,
    pubkey_hex: String,
    /// The peer, for logs.
    label: String,
}

impl BlockRead {
    fn serve(self) {
        let result = serve_block_read(&self.network, &self.pubkey_hex, &self.request);
        let reply = answer(
            &self.network,
            &self.pubkey_hex,
            &self.label,
            &self.request,
            result,
            self.session,
        );
        // A served read is the large reply the ahead lane passes; a refused one is small.
        let ahead = reply.message.is_empty();
        send_reply(&self.link, &self.label, &self.request, reply, ahead);
    }

    /// Answers "busy" at once.
    fn refuse(self) {
        BUSY_REFUSED.fetch_add(1, Ordering::Relaxed);
        debug!(
            "{} request {} from {}: {BUSY}",
            type_name(&self.request),
            self.request.request_id,
            self.label
        );
        let reply = error_reply(&self.request, BUSY, self.session);
        send_reply(&self.link, &self.label, &self.request, reply, true);
    }
}

/// One peer's block reads: how many are on the workers, the ones waiting for a place, and the
/// channel on which the workers say one finished. Owned by the inbox thread.
struct BlockReads {
    servers: WorkerHandle,
    serving: usize,
    backlog: VecDeque<BlockRead>,
    done: Sender<()>,
    finished: Receiver<()>,
}

impl BlockReads {
    fn new(servers: WorkerHandle) -> BlockReads {
        // Never full: at most MAX_SERVING_PER_PEER reads are out, each sends once.
        let (done, finished) = bounded(MAX_SERVING_PER_PEER);
        BlockReads {
            servers,
            serving: 0,
            backlog: VecDeque::new(),
            done,
            finished,
        }
    }

    /// Serves `read` on a worker when the peer has a place, queues it in the backlog
    /// otherwise; answers "busy" when neither has room.
    fn offer(&mut self, read: BlockRead) {
        if self.serving < MAX_SERVING_PER_PEER {
            self.submit(read);
        } else if self.backlog.len() < BACKLOG_PER_PEER {
            self.backlog.push_back(read);
        } else {
            read.refuse();
        }
    }

    fn submit(&mut self, read: BlockRead) {
        // The read goes back out of the job if the queue refuses it, to be answered "busy".
        let slot = Arc::new(parking_lot::Mutex::new(Some(read)));
        let job_slot = slot.clone();
        let done = self.done.clone();
        let job = Box::new(move || {
            let read = job_slot.lock().take();
            if let Some(read) = read {
                read.serve();
            }
            let _ = done.try_send(());
        });
        if self.servers.try_execute(job) {
            self.serving += 1;
        } else if let Some(read) = slot.lock().take() {
            read.refuse();
        }
    }

    /// A worker finished one: the next in the backlog takes its place.
    fn one_finished(&mut self) {
        self.serving = self.serving.saturating_sub(1);
        while self.serving < MAX_SERVING_PER_PEER {
            let Some(read) = self.backlog.pop_front() else {
                break;
            };
            self.submit(read);
        }
    }
}

/// A REPLY to `request` carrying `payload`; `session_hex` goes into the meta for replies to
/// authenticated requests (C# `ProcessRequestAsync`).
pub fn reply_to(
    request: &StreamMessage,
    payload: Vec<u8>,
    session_hex: Option<String>,
) -> StreamMessage {
    let mut meta = HashMap::new();
    if let Some(session) = session_hex {
        meta.insert(SESSION_ID_METADATA_KEY.to_owned(), session);
    }
    StreamMessage {
        stream_type: EnumOrUnknown::new(StreamType::REPLY),
        message_type: request.message_type,
        request_id: request.request_id.clone(),
        message: payload,
        meta,
        ..Default::default()
    }
}

/// An error REPLY to `request`: empty payload, the reason in [`ERROR_META_KEY`].
pub fn error_reply(
    request: &StreamMessage,
    reason: &str,
    session_hex: Option<String>,
) -> StreamMessage {
    let mut reply = reply_to(request, Vec::new(), session_hex);
    reply
        .meta
        .insert(ERROR_META_KEY.to_owned(), reason.to_owned());
    reply
}

/// The reply payload of the requests that need no peer: HEALTH_CHECK and PING. `None` for
/// every other type.
pub fn unauthenticated_reply(request: &StreamMessage) -> Option<Vec<u8>> {
    let bytes = match request.message_type.enum_value() {
        Ok(MessageType::HEALTH_CHECK) => HealthCheckReply::new().write_to_bytes(),
        Ok(MessageType::PING) => PongReply::new().write_to_bytes(),
        _ => return None,
    };
    bytes.ok()
}

/// Whether `request` passes authentication for `peer` (C# `ValidContext`).
fn authenticated(peer: &Arc<StreamPeer>, upcalls: &Upcalls, request: &StreamMessage) -> bool {
    let in_pool = upcalls
        .lifecycle
        .pool()
        .get(peer.pubkey_hex())
        .is_some_and(|entry| peer.is(&entry));
    let ours = peer.inbound_session_id();
    in_pool
        && !ours.is_empty()
        && request
            .meta
            .get(SESSION_ID_METADATA_KEY)
            .map(String::as_str)
            == Some(hex::encode(ours).as_str())
}

/// What to do after the reply went out.
enum After {
    Nothing,
    /// The remote said goodbye: the peer leaves the pool before the reply goes out (so the
    /// remote sees us gone when its DISCONNECT returns), and the stream closes after it.
    Leave,
}

/// Whether a request is a block read, served on a stream-server worker.
pub fn is_block_read(request: &StreamMessage) -> bool {
    let t = request.message_type.value();
    t == MessageType::REQUEST_BLOCK as i32 || t == MessageType::REQUEST_BLOCKS as i32
}

/// Handles one request from `peer`'s remote: a block read goes to `reads`, anything else is
/// answered here on the same stream.
fn handle_request(
    peer: &Arc<StreamPeer>,
    upcalls: &Upcalls,
    reads: &mut BlockReads,
    request: StreamMessage,
) {
    let auth = needs_auth(&request);
    if auth && !authenticated(peer, upcalls, &request) {
        note_unauthenticated();
        peer.count_unauthenticated();
        debug!(
            "dropping unauthenticated {} request {} from {peer}",
            type_name(&request),
            request.request_id
        );
        return;
    }
    let session = auth.then(|| peer.outbound_session_hex());
    if is_block_read(&request) {
        reads.offer(BlockRead {
            request,
            session,
            link: peer.link().clone(),
            network: upcalls.network.clone(),
            pubkey_hex: peer.pubkey_hex().to_owned(),
            label: peer.to_string(),
        });
        return;
    }
    let label: &dyn fmt::Display = peer.as_ref();
    let (result, after) = match handle(peer, upcalls, &request) {
        Ok((payload, after)) => (Ok(payload), after),
        Err(e) => (Err(e), After::Nothing),
    };
    let reply = answer(
        &upcalls.network,
        peer.pubkey_hex(),
        label,
        &request,
        result,
        session,
    );
    let send = || send_reply(peer.link(), label, &request, reply, true);
    match after {
        After::Nothing => send(),
        After::Leave => {
            let entry: Arc<dyn Peer> = peer.clone();
            upcalls
                .lifecycle
                .remove_then(&entry, Removal::GoodbyeReceived, send);
        }
    }
}

/// The reply to `request` from what handling it gave: the payload, or an error reply (logged;
/// an undecodable request is reported as an offence of `pubkey_hex`).
fn answer(
    network: &NetworkService,
    pubkey_hex: &str,
    label: &dyn fmt::Display,
    request: &StreamMessage,
    result: Result<Vec<u8>, HandleError>,
    session: Option<String>,
) -> StreamMessage {
    match result {
        Ok(payload) => reply_to(request, payload, session),
        Err(e) => {
            let kind = type_name(request);
            warn!(
                "refusing {kind} request {} from {label}: {e}",
                request.request_id
            );
            if let HandleError::Codec(codec) = &e {
                network.report(
                    pubkey_hex,
                    Offence::MalformedMessage,
                    format!("undecodable {kind} request: {codec}"),
                );
            }
            error_reply(request, &e.to_string(), session)
        }
    }
}

/// Writes `reply` to `request` through the link's single writer: small replies (`ahead`) go
/// before the block batches waiting there.
fn send_reply(
    link: &Link,
    label: &dyn fmt::Display,
    request: &StreamMessage,
    reply: StreamMessage,
    ahead: bool,
) {
    let kind = type_name(request);
    let sent = if ahead {
        link.send_ahead(reply)
    } else {
        link.send(reply)
    };
    match sent {
        Ok(()) => debug!(
            "answered {kind} request {} from {label} (latency {:?} ms)",
            request.request_id,
            request_latency_ms(&request.request_id)
        ),
        // The peer is gone (a block read finishing after its DISCONNECT, say).
        Err(StreamError::Closed) => debug!(
            "not answering {kind} request {} from {label}: the stream is closed",
            request.request_id
        ),
        Err(e) => warn!(
            "cannot reply to {kind} request {} from {label}: {e}",
            request.request_id
        ),
    }
}

/// Why a request could not be handled: its inner message does not parse, or the receive rules
/// refused the item.
#[derive(Debug, thiserror::Error)]
enum HandleError {
    #[error(transparent)]
    Codec(#[from] protobuf::Error),
    #[error(transparent)]
    Refused(#[from] InboundError),
}

/// Counts a broadcast item arriving over a stream.
fn count_received(kind: BroadcastKind, bytes: usize) {
    crate::metrics::metrics().received(kind.index(), bytes);
}

fn received(result: Result<(), InboundError>) -> Result<(), HandleError> {
    result.map_err(HandleError::Refused)
}

/// The reply payload of a REQUEST_BLOCK or REQUEST_BLOCKS from `requester` (a VoidReply for
/// any other type).
fn serve_block_read(
    network: &NetworkService,
    requester: &str,
    request: &StreamMessage,
) -> Result<Vec<u8>, HandleError> {
    let body = &request.message[..];
    Ok(match request.message_type.enum_value() {
        Ok(MessageType::REQUEST_BLOCK) => {
            let request = BlockRequest::parse_from_bytes(body)?;
            network
                .serve_block(Some(requester), &request)
                .write_to_bytes()?
        }
        Ok(MessageType::REQUEST_BLOCKS) => {
            let request = BlocksRequest::parse_from_bytes(body)?;
            network.serve_blocks(&request).write_to_bytes()?
        }
        _ => VoidReply::new().write_to_bytes()?,
    })
}

/// The reply payload of a request answered on the inbox thread, and what follows it.
fn handle(
    peer: &Arc<StreamPeer>,
    upcalls: &Upcalls,
    request: &StreamMessage,
) -> Result<(Vec<u8>, After), HandleError> {
    let body = &request.message[..];
    let void = || VoidReply::new().write_to_bytes();
    // The identity for processing is the sender's key as its meta states it (C#
    // `meta["public-key"]`); authentication already tied it to this peer's session.
    let sender = peer.pubkey_hex();
    let payload = match request.message_type.enum_value() {
        Ok(MessageType::HEALTH_CHECK) => HealthCheckReply::new().write_to_bytes()?,
        Ok(MessageType::PING) => PongReply::new().write_to_bytes()?,
        Ok(MessageType::CONFIRM_HAND_SHAKE) => {
            upcalls.lifecycle.confirm_inbound(peer.pubkey_hex());
            void()?
        }
        Ok(MessageType::GET_NODES) => {
            let request = NodesRequest::parse_from_bytes(body)?;
            upcalls
                .lifecycle
                .nodes()
                .node_list(request.max_count)
                .write_to_bytes()?
        }
        Ok(MessageType::DISCONNECT) => {
            let reason = DisconnectReason::parse_from_bytes(body)?;
            info!(
                "peer {} says goodbye over the stream ({:?})",
                short_key(peer.pubkey_hex()),
                reason.why
            );
            return Ok((void()?, After::Leave));
        }
        // Served on a worker (`serve_block_read`); never reaches here.
        Ok(MessageType::REQUEST_BLOCK) | Ok(MessageType::REQUEST_BLOCKS) => {
            return serve_block_read(&upcalls.network, sender, request).map(|p| (p, After::Nothing))
        }
        Ok(MessageType::BLOCK_BROADCAST) => {
            count_received(BroadcastKind::Block, body.len());
            let block = BlockWithTransactions::parse_from_bytes(body)?;
            received(upcalls.inbound.on_block(sender, block))?;
            void()?
        }
        Ok(MessageType::TRANSACTION_BROADCAST) => {
            count_received(BroadcastKind::Transaction, body.len());
            let tx = Transaction::parse_from_bytes(body)?;
            received(upcalls.inbound.on_transaction(sender, tx))?;
            void()?
        }
        Ok(MessageType::ANNOUNCEMENT_BROADCAST) => {
            count_received(BroadcastKind::Announcement, body.len());
            let announcement = BlockAnnouncement::parse_from_bytes(body)?;
            received(upcalls.inbound.on_announcement(sender, &announcement))?;
            void()?
        }
        Ok(MessageType::LIB_ANNOUNCEMENT_BROADCAST) => {
            count_received(BroadcastKind::LibAnnouncement, body.len());
            let lib = LibAnnouncement::parse_from_bytes(body)?;
            received(upcalls.inbound.on_lib_announcement(sender, &lib))?;
            void()?
        }
        // HAND_SHAKE is only meaningful to the listener's server call; here, like ANY and
        // unknown types, it gets a VoidReply (C# `StreamService` without a method).
        Ok(MessageType::HAND_SHAKE) | Ok(MessageType::ANY) | Err(_) => {
            warn!(
                "unhandled {} request {} from {peer}",
                type_name(request),
                request.request_id
            );
            void()?
        }
    };
    Ok((payload, After::Nothing))
}
