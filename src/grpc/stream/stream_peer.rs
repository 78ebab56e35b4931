//! `StreamPeer`: a peer connected in stream mode, on either side of the call — the dialer's
//! stream peer (C# `GrpcStreamPeer`, which also keeps the pinned channel) or the listener's
//! back peer (C# `GrpcStreamBackPeer`, which writes on the server call's response stream).
//!
//! Owns the peer's [`Link`], its requests over the stream (through [`super::request`]), its
//! send queues and its `stream-<id>` inbox thread, which runs the serving loop of
//! [`super::dispatch`] (block reads it hands on to workers that hold a clone of the link, not
//! the peer). Identity and confirmation state live in the shared [`PeerCore`]. It
//! must not decide pool membership: [`crate::network::lifecycle::PeerLifecycle`] does, also
//! when the stream closes.

use super::link::Link;
use super::request::{attempt_once, request, stream_failure, stream_request_error};
use super::{
    peer_info, StreamError, BLOCKS_REQUEST_TIMEOUT, BLOCK_REQUEST_TIMEOUT, CHECK_HEALTH_TIMEOUT,
    CLOSE_GRACE, CONFIRM_HANDSHAKE_TIMEOUT, TIMEOUT_META_KEY,
};
use crate::grpc::client::{block_request, blocks_request, PeerClient};
use crate::grpc::metadata::{PUBKEY_METADATA_KEY, REQUEST_BLOCKS_POLICY, SESSION_ID_METADATA_KEY};
use crate::grpc::peer::{PeerContext, PeerInfo, RemoteChainState};
use crate::grpc::sender::{BroadcastTransport, PeerSenders};
use crate::network::broadcast::{BroadcastItem, BroadcastKind, EnqueueError, QueueStats};
use crate::network::knowledge::PeerKnowledge;
use crate::network::node_table::NodeRecord;
use crate::network::peer::{
    handshake_time_ns, FailureKind, Peer, PeerCore, PeerMode, PeerProfile, PeerRequestError,
};
use crate::pb::network_types::{
    disconnect_reason, BlockList, BlockReply, BlockWithTransactions, ConfirmHandshakeRequest,
    DisconnectReason, HandshakeData, NodeList, NodesRequest,
};
use crate::pb::peer_service::{HealthCheckRequest, MessageType, StreamMessage};
use crate::types::Hash;
use crossbeam_channel::{bounded, Receiver, Sender};
use log::debug;
use parking_lot::Mutex;
use protobuf::Message;
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::thread::{JoinHandle, ThreadId};
use std::time::Duration;

/// Which end of the call a stream peer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamRole {
    /// We dialed and opened the call (C# `GrpcStreamPeer`).
    Dialer,
    /// The remote dialed; we answer on the server call (C# `GrpcStreamBackPeer`).
    Back,
}

/// Everything a stream peer is made of, apart from its link.
pub struct StreamPeerParts {
    pub info: PeerInfo,
    pub role: StreamRole,
    /// The dialer's client (channel); `None` for a back peer.
    pub client: Option<PeerClient>,
    pub own_pubkey_hex: String,
    /// The session id the remote put in its stream handshake; we present it.
    pub outbound_session: Vec<u8>,
    /// The remote's handshake whose chain tips and time we keep.
    pub received: HandshakeData,
    pub context: PeerContext,
}

/// A stream-mode peer (see the module documentation).
pub struct StreamPeer {
    core: PeerCore,
    role: StreamRole,
    client: Option<PeerClient>,
    /// `public-key`, `peer-info` and `session-id-bin` (hex): the meta of every request we send.
    request_meta: HashMap<String, String>,
    context: PeerContext,
    /// The broadcast queues and sender threads, from [`StreamPeer::start`] on.
    senders: Mutex<Option<PeerSenders>>,
    link: Link,
    /// Set by [`StreamPeer::start`]: from then on the peer owns the link and closes it. A back
    /// peer that was never admitted leaves its call open (the error reply goes out on it).
    started: AtomicBool,
    /// Dropping it stops the inbox thread.
    stop: Mutex<Option<Sender<()>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    thread_id: Mutex<Option<ThreadId>>,
    /// Requests from the remote dropped because they failed authentication.
    unauthenticated: AtomicU64,
}

impl StreamPeer {
    /// A peer on `link`. Its inbox thread starts with [`StreamPeer::start`].
    pub fn new(parts: StreamPeerParts, link: Link) -> StreamPeer {
        let request_meta = HashMap::from([
            (PUBKEY_METADATA_KEY.to_owned(), parts.own_pubkey_hex.clone()),
            (
                crate::grpc::metadata::PEER_INFO_METADATA_KEY.to_owned(),
                peer_info(&parts.info.pubkey_hex),
            ),
            (
                SESSION_ID_METADATA_KEY.to_owned(),
                hex::encode(&parts.outbound_session),
            ),
        ]);
        StreamPeer {
            core: PeerCore::new(
                parts.info,
                parts.outbound_session,
                handshake_time_ns(&parts.received),
                PeerKnowledge::new(RemoteChainState::from_handshake(&parts.received)),
            ),
            context: parts.context,
            senders: Mutex::new(None),
            role: parts.role,
            client: parts.client,
            request_meta,
            link,
            started: AtomicBool::new(false),
            stop: Mutex::new(None),
            thread: Mutex::new(None),
            thread_id: Mutex::new(None),
            unauthenticated: AtomicU64::new(0),
        }
    }

    /// Starts the inbox thread (`stream-<id>`), which runs `serve` with a weak handle on the
    /// peer and the channel that closes when the peer stops it; from now on the peer owns its
    /// link. (The serving loop is [`super::dispatch`]'s, handed in so this module stays below
    /// it.)
    pub fn start(
        self: &Arc<Self>,
        serve: impl FnOnce(Weak<StreamPeer>, Receiver<()>) + Send + 'static,
    ) -> std::io::Result<()> {
        let weak = Arc::downgrade(self);
        let senders = PeerSenders::start(
            &self.core.info.pubkey_hex,
            self.context.capacities,
            self.context.failures.clone(),
            |_, _| Box::new(StreamBroadcast { peer: weak.clone() }),
        )?;
        *self.senders.lock() = Some(senders);
        let (stop_tx, stop_rx) = bounded::<()>(0);
        *self.stop.lock() = Some(stop_tx);
        // Before the thread runs: a request it handles may already close the peer.
        self.started.store(true, Ordering::SeqCst);
        // The thread waits until its id and handle are recorded, so a disconnect it runs
        // itself knows not to join it.
        let (go_tx, go) = bounded::<()>(1);
        let weak = Arc::downgrade(self);
        let name = format!(
            "stream-{}",
            self.core.info.pubkey_hex.get(2..10).unwrap_or("?")
        );
        let spawned = crate::thread::spawn(&name, move || {
            if go.recv().is_ok() {
                serve(weak, stop_rx);
            }
            Ok(())
        });
        let handle = match spawned {
            Ok(handle) => handle,
            Err(e) => {
                self.started.store(false, Ordering::SeqCst);
                drop(self.stop.lock().take());
                if let Some(senders) = self.senders.lock().take() {
                    senders.stop();
                }
                return Err(e);
            }
        };
        *self.thread_id.lock() = Some(handle.thread().id());
        *self.thread.lock() = Some(handle);
        let _ = go_tx.send(());
        Ok(())
    }

    pub fn info(&self) -> &PeerInfo {
        &self.core.info
    }

    pub fn role(&self) -> StreamRole {
        self.role
    }

    pub fn link(&self) -> &Link {
        &self.link
    }

    /// The session id we present (hex, as in stream meta).
    pub fn outbound_session_hex(&self) -> String {
        hex::encode(&self.core.outbound_session)
    }

    pub fn chain_state(&self) -> RemoteChainState {
        self.knowledge().chain_state()
    }

    /// Requests from the remote dropped because they failed authentication.
    pub fn unauthenticated_requests(&self) -> u64 {
        self.unauthenticated.load(Ordering::Relaxed)
    }

    pub(crate) fn count_unauthenticated(&self) {
        self.unauthenticated.fetch_add(1, Ordering::Relaxed);
    }

    /// Whether the stream is closed (either side ended, a write failed, or we disconnected).
    pub fn is_closed(&self) -> bool {
        self.core.is_shut_down() || self.link.is_closed()
    }

    /// Sends `payload` as a `message_type` request and waits for the reply (spec 7.4): up to
    /// `timeout` (default [`super::STREAM_WAIT_TIME`]) per attempt, three attempts except for
    /// HAND_SHAKE, CONFIRM_HAND_SHAKE and DISCONNECT. Fails at once when the peer is closed.
    pub fn request(
        &self,
        message_type: MessageType,
        payload: &dyn protobuf::MessageDyn,
        timeout: Option<Duration>,
    ) -> Result<StreamMessage, StreamError> {
        if self.core.is_shut_down() {
            return Err(StreamError::Closed);
        }
        self.send_request(message_type, payload, timeout)
    }

    fn send_request(
        &self,
        message_type: MessageType,
        payload: &dyn protobuf::MessageDyn,
        timeout: Option<Duration>,
    ) -> Result<StreamMessage, StreamError> {
        let bytes = payload
            .write_to_bytes_dyn()
            .map_err(|e| StreamError::Codec(message_type, e.to_string()))?;
        request(
            &self.link,
            &self.request_meta,
            message_type,
            bytes,
            timeout,
            &[],
        )
    }

    /// Sends already-encoded `payload` as a `message_type` request (the broadcasts).
    fn request_bytes(
        &self,
        message_type: MessageType,
        payload: &[u8],
    ) -> Result<StreamMessage, StreamError> {
        if self.core.is_shut_down() {
            return Err(StreamError::Closed);
        }
        request(
            &self.link,
            &self.request_meta,
            message_type,
            payload.to_vec(),
            None,
            &[],
        )
    }

    /// GET_NODES over the stream (2000 ms).
    pub fn get_nodes(&self, max_count: i32) -> Result<NodeList, StreamError> {
        let request = NodesRequest {
            max_count,
            ..Default::default()
        };
        let reply = self.request(MessageType::GET_NODES, &request, Some(CHECK_HEALTH_TIMEOUT))?;
        NodeList::parse_from_bytes(&reply.message)
            .map_err(|e| StreamError::Codec(MessageType::GET_NODES, e.to_string()))
    }

    /// Whether `other` is this very peer object (the pool's entry for its key, say).
    pub fn is(&self, other: &Arc<dyn Peer>) -> bool {
        std::ptr::eq(
            Arc::as_ptr(other) as *const (),
            self as *const StreamPeer as *const (),
        )
    }
}

impl fmt::Display for StreamPeer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.role {
            StreamRole::Dialer => "streamPeer",
            StreamRole::Back => "streamBackPeer",
        };
        write!(
            f,
            "{{ {kind} listening-port: {}, {} }}",
            self.core.info.endpoint,
            peer_info(&self.core.info.pubkey_hex)
        )
    }
}

impl Peer for StreamPeer {
    fn core(&self) -> &PeerCore {
        &self.core
    }

    fn enqueue(&self, item: Arc<BroadcastItem>) -> Result<(), EnqueueError> {
        if !self.is_ready() {
            return Err(EnqueueError::NotReady);
        }
        match self.senders.lock().as_ref() {
            Some(senders) => senders.enqueue(item),
            None => Err(EnqueueError::NotReady),
        }
    }

    fn queue_stats(&self) -> QueueStats {
        self.senders
            .lock()
            .as_ref()
            .map(PeerSenders::stats)
            .unwrap_or_default()
    }

    /// GET_NODES over the stream (the C# stream peer overrides GetNodes).
    fn request_nodes(&self, max_count: i32) -> Result<Vec<NodeRecord>, PeerRequestError> {
        self.get_nodes(max_count)
            .map(|list| NodeRecord::from_node_list(&list))
            .map_err(|e| stream_request_error(&e, format!("GET_NODES to {self}: {e}")))
    }

    /// REQUEST_BLOCK over the stream (2000 ms, up to three attempts).
    fn request_block(
        &self,
        hash: &Hash,
    ) -> Result<Option<BlockWithTransactions>, PeerRequestError> {
        let request = block_request(hash);
        let to_error =
            |e: StreamError| stream_request_error(&e, format!("block request to {self}: {e}"));
        let reply = self
            .request(
                MessageType::REQUEST_BLOCK,
                &request,
                Some(BLOCK_REQUEST_TIMEOUT),
            )
            .map_err(to_error)?;
        let reply = BlockReply::parse_from_bytes(&reply.message).map_err(|e| {
            to_error(StreamError::Codec(
                MessageType::REQUEST_BLOCK,
                e.to_string(),
            ))
        })?;
        Ok(reply.block.into_option())
    }

    /// The dialer asks with unary RequestBlocks on its channel (the C# stream peer does not
    /// override it); the back peer with REQUEST_BLOCKS over the stream (5000 ms, three attempts).
    fn request_blocks(
        &self,
        previous: &Hash,
        count: i32,
    ) -> Result<Vec<BlockWithTransactions>, PeerRequestError> {
        let request = blocks_request(previous, count);
        if let Some(client) = &self.client {
            return client
                .request_blocks(&self.core.outbound_session, &request, REQUEST_BLOCKS_POLICY)
                .map(|list| list.blocks)
                .map_err(PeerRequestError::from);
        }
        let to_error =
            |e: StreamError| stream_request_error(&e, format!("blocks request to {self}: {e}"));
        let reply = self
            .request(
                MessageType::REQUEST_BLOCKS,
                &request,
                Some(BLOCKS_REQUEST_TIMEOUT),
            )
            .map_err(to_error)?;
        BlockList::parse_from_bytes(&reply.message)
            .map(|list| list.blocks)
            .map_err(|e| {
                to_error(StreamError::Codec(
                    MessageType::REQUEST_BLOCKS,
                    e.to_string(),
                ))
            })
    }

    /// Connected, the stream open, and (dialer) the channel usable.
    fn is_ready(&self) -> bool {
        self.is_connected()
            && !self.link.is_closed()
            && self.client.as_ref().is_none_or(PeerClient::is_usable)
    }

    /// A back peer has no channel of its own: its status is that of the stream.
    fn profile(&self) -> PeerProfile {
        let connection_status = match &self.client {
            Some(client) => client.connection_status(),
            None if self.link.is_closed() => "Shutdown",
            None => "Ready",
        };
        PeerProfile {
            protocol_version: self.core.info.protocol_version,
            node_version: self.core.info.node_version.clone(),
            mode: PeerMode::Stream,
            connection_status,
            unauthenticated_requests: self.unauthenticated_requests(),
        }
    }

    /// CONFIRM_HAND_SHAKE over the stream: 3000 ms, a single attempt, an error without reply.
    fn confirm_handshake(&self) -> Result<(), PeerRequestError> {
        self.request(
            MessageType::CONFIRM_HAND_SHAKE,
            &ConfirmHandshakeRequest::new(),
            Some(CONFIRM_HANDSHAKE_TIMEOUT),
        )
        .map(drop)
        .map_err(|e| {
            PeerRequestError::new(
                stream_failure(&e),
                format!("confirm handshake with {self}: {e}"),
            )
        })
    }

    /// HEALTH_CHECK over the stream, one attempt of 2000 ms, for both roles. (The C# dialer
    /// side also sends a unary CheckHealth first; the stream check covers the same connection.)
    fn check_health(&self) -> Result<(), PeerRequestError> {
        let payload = HealthCheckRequest::new()
            .write_to_bytes()
            .map_err(|e| PeerRequestError::new(FailureKind::HandlerException, e.to_string()))?;
        if self.core.is_shut_down() {
            return Err(PeerRequestError::unrecoverable(format!(
                "{self}: {}",
                StreamError::Closed
            )));
        }
        // One attempt, as the trait promises: not through `request`'s retries.
        let mut meta = self.request_meta.clone();
        meta.insert(
            TIMEOUT_META_KEY.to_owned(),
            CHECK_HEALTH_TIMEOUT.as_millis().to_string(),
        );
        match attempt_once(
            &self.link,
            &meta,
            MessageType::HEALTH_CHECK,
            &payload,
            CHECK_HEALTH_TIMEOUT,
        ) {
            Ok(Some(_)) => Ok(()),
            Ok(None) => Err(StreamError::TimedOut(
                MessageType::HEALTH_CHECK,
                CHECK_HEALTH_TIMEOUT,
            )),
            Err(e) => Err(e),
        }
        .map_err(|e| stream_request_error(&e, format!("health check of {self}: {e}")))
    }

    /// Closes the peer. `graceful` on a confirmed peer first sends DISCONNECT over the stream
    /// (one attempt, up to 3000 ms for the reply) — for both roles. The C# back peer marks
    /// itself closed before its send and so never notifies the remote (spec 12 quirk 3); ours
    /// really sends it. Unlike the C# dialer side, nothing is sent on a non-graceful close
    /// (the remote notices the call ending) and no unary Disconnect follows (the remote has
    /// already removed us). Then the stream is closed in order and the inbox thread joined.
    fn disconnect(&self, graceful: bool) {
        let (was_connected, first) = self.core.begin_shutdown();
        if !first {
            return;
        }
        if !self.started.load(Ordering::SeqCst) {
            // Never admitted: the call is not ours to close.
            return;
        }
        if graceful && was_connected && !self.link.is_closed() {
            let reason = DisconnectReason {
                why: disconnect_reason::Reason::SHUTDOWN.into(),
                ..Default::default()
            };
            if let Err(e) = self.send_request(MessageType::DISCONNECT, &reason, None) {
                debug!("DISCONNECT to {self} not answered: {e}");
            }
        }
        drop(self.stop.lock().take());
        self.link.close(CLOSE_GRACE);
        let senders = self.senders.lock().take();
        if let Some(senders) = senders {
            senders.stop();
        }
        let own_thread = *self.thread_id.lock() == Some(std::thread::current().id());
        if !own_thread {
            if let Some(handle) = self.thread.lock().take() {
                let _ = handle.join();
            }
        }
    }
}

/// The stream-mode transport of one send queue: each item is a REQUEST over the stream that
/// waits for its VoidReply (spec 5.2), through the peer's single writer.
struct StreamBroadcast {
    peer: Weak<StreamPeer>,
}

fn broadcast_type(kind: BroadcastKind) -> MessageType {
    match kind {
        BroadcastKind::Block => MessageType::BLOCK_BROADCAST,
        BroadcastKind::Transaction => MessageType::TRANSACTION_BROADCAST,
        BroadcastKind::Announcement => MessageType::ANNOUNCEMENT_BROADCAST,
        BroadcastKind::LibAnnouncement => MessageType::LIB_ANNOUNCEMENT_BROADCAST,
    }
}

impl BroadcastTransport for StreamBroadcast {
    fn send(&mut self, item: &BroadcastItem) -> Result<(), PeerRequestError> {
        let Some(peer) = self.peer.upgrade() else {
            return Err(PeerRequestError::unrecoverable("peer gone"));
        };
        peer.request_bytes(broadcast_type(item.kind), &item.bytes)
            .map(drop)
            .map_err(|e| {
                PeerRequestError::new(
                    stream_failure(&e),
                    format!("{} to {peer}: {e}", item.kind.name()),
                )
            })
    }
}

impl Drop for StreamPeer {
    fn drop(&mut self) {
        self.disconnect(false);
    }
}
