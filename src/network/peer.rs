//! `Peer`: the core layer's view of a connected (or connecting) peer, implemented by the gRPC
//! layer's peer objects (legacy, stream, stream-back; spec 4.1); and [`PeerCore`], the
//! transport-independent state each of them embeds (identity, sessions, handshake stamps,
//! knowledge, confirmation), which gives the trait its identity and state methods.
//!
//! Narrow on purpose: identity, direction, confirmation state, the session, and the few commands
//! the connection logic sends down. It must not expose transport types (no grpcio, no channels)
//! and holds no policy: admission is the pool's ([`crate::network::peer_pool::admission`]),
//! entering and leaving the pool the lifecycle's ([`crate::network::lifecycle`]).

use crate::network::broadcast::{BroadcastItem, EnqueueError, QueueStats};
use crate::network::endpoint::Endpoint;
use crate::network::knowledge::PeerKnowledge;
use crate::network::node_table::NodeRecord;
use crate::pb::network_types::{BlockWithTransactions, HandshakeData};
use crate::types::{timestamp_nanos, Hash, UnixMillis};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use thiserror::Error;

/// How long a peer may stay unconfirmed before it is invalid: ten seconds, in ms
/// (C# `NetworkConstants.PeerConnectionTimeout`). Invalid peers do not count toward a full pool
/// and are purged by the health check.
pub const PEER_CONNECTION_TIMEOUT_MS: i64 = 10_000;

/// How bad a failed request or broadcast is for the peer (C# `NetworkExceptionType`, spec 3.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureKind {
    /// The connection is gone: drop the peer (and maybe reconnect).
    Unrecoverable,
    /// The transport is struggling: try to recover the connection.
    PeerUnstable,
    /// The remote's handler failed (status UNKNOWN): keep the peer.
    HandlerException,
    /// Any other call failure (deadline, unavailable on a ready channel): keep the peer.
    Rpc,
}

/// A request to a peer failed: how bad it is, and a text saying why (for logs, not for
/// matching).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{message}")]
pub struct PeerRequestError {
    pub kind: FailureKind,
    pub message: String,
    /// The remote did not answer within the request's deadline (a reputation offence).
    pub timed_out: bool,
}

impl PeerRequestError {
    pub fn new(kind: FailureKind, message: impl Into<String>) -> PeerRequestError {
        PeerRequestError {
            kind,
            message: message.into(),
            timed_out: false,
        }
    }

    /// Marks the failure as a timeout.
    pub fn timed_out(mut self, timed_out: bool) -> PeerRequestError {
        self.timed_out = timed_out;
        self
    }

    /// A failure that ends the connection.
    pub fn unrecoverable(message: impl Into<String>) -> PeerRequestError {
        PeerRequestError::new(FailureKind::Unrecoverable, message)
    }
}

/// The first 16 hex digits of a public key, for logs.
pub fn short_key(pubkey_hex: &str) -> &str {
    pubkey_hex.get(..16).unwrap_or(pubkey_hex)
}

/// Who opened the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PeerDirection {
    /// The remote dialed us (C# `IsInbound = true`).
    Inbound,
    /// We dialed the remote.
    Outbound,
}

impl PeerDirection {
    pub fn from_inbound(inbound: bool) -> PeerDirection {
        if inbound {
            PeerDirection::Inbound
        } else {
            PeerDirection::Outbound
        }
    }
}

/// How we talk to a peer: unary calls and server streams (legacy) or one bidirectional
/// `RequestByStream` (stream mode, spec 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PeerMode {
    Legacy,
    Stream,
}

impl PeerMode {
    pub fn name(self) -> &'static str {
        match self {
            PeerMode::Legacy => "legacy",
            PeerMode::Stream => "stream",
        }
    }
}

/// A peer as operators see it: what its handshake said and the state of its transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerProfile {
    /// `HandshakeData.version` (1 on every aelf network).
    pub protocol_version: i32,
    /// `HandshakeData.node_version`, e.g. "1.4.0.0".
    pub node_version: String,
    pub mode: PeerMode,
    /// The channel state as C# names it (`Idle`, `Connecting`, `Ready`, `TransientFailure`,
    /// `Shutdown`).
    pub connection_status: &'static str,
    /// Requests from the remote dropped because they failed authentication. Counted per peer
    /// in stream mode; a legacy call that fails it is refused before it reaches a peer (0).
    pub unauthenticated_requests: u64,
}

/// What the remote told us about itself in its handshake, and where we reached it.
#[derive(Debug, Clone)]
pub struct PeerInfo {
    /// The remote's 65-byte public key.
    pub pubkey: Vec<u8>,
    /// `pubkey` as lowercase hex: the pool key.
    pub pubkey_hex: String,
    /// Where the remote listens (dialed endpoint, or `caller_ip:listening_port`).
    pub endpoint: Endpoint,
    pub inbound: bool,
    /// When the peer object was created (unix ms).
    pub connection_time: UnixMillis,
    pub protocol_version: i32,
    pub node_version: String,
}

/// When a handshake was stamped, in unix ns (0 when it carries no time): what the cross-dial
/// tie-break compares.
pub fn handshake_time_ns(data: &HandshakeData) -> i128 {
    data.time.as_ref().map(timestamp_nanos).unwrap_or(0)
}

/// The state every peer object holds whatever its transport: who the remote is, the two
/// session ids, the handshake stamps, what we know of it, and whether its handshake is
/// confirmed. Transports embed one and hand it out through [`Peer::core`], which gives them
/// the trait's identity and state methods.
pub struct PeerCore {
    pub info: PeerInfo,
    /// The session id the remote put in its handshake; we present it on our calls (C#
    /// `Info.SessionId`).
    pub outbound_session: Vec<u8>,
    /// Our handshake to the remote: the session id the remote must present (C#
    /// `InboundSessionId`) and when it was stamped. Set once, by
    /// [`PeerCore::record_sent_handshake`]: an accepted peer's reply handshake is built only
    /// after the pool took the peer (as the C# node does), so its stamp is fresh.
    sent: OnceLock<(Vec<u8>, i128)>,
    /// When the remote's handshake was stamped (unix ns): the cross-dial tie-break.
    last_received_handshake: i128,
    knowledge: PeerKnowledge,
    /// Set once the handshake is confirmed; cleared on disconnect.
    connected: AtomicBool,
    /// Set by the first disconnect; a closed peer never becomes connected again.
    shut_down: AtomicBool,
}

impl PeerCore {
    /// A core for a peer whose handshake was stamped `received_ns`, with `knowledge` seeded
    /// from it. Our own handshake is recorded later ([`PeerCore::record_sent_handshake`]).
    pub fn new(
        info: PeerInfo,
        outbound_session: Vec<u8>,
        received_ns: i128,
        knowledge: PeerKnowledge,
    ) -> PeerCore {
        PeerCore {
            info,
            outbound_session,
            sent: OnceLock::new(),
            last_received_handshake: received_ns,
            knowledge,
            connected: AtomicBool::new(false),
            shut_down: AtomicBool::new(false),
        }
    }

    /// Records the handshake we sent the remote: its session id (which the remote must then
    /// present) and its stamp (unix ns). Only the first record counts.
    pub fn record_sent_handshake(&self, session: Vec<u8>, sent_ns: i128) {
        let _ = self.sent.set((session, sent_ns));
    }

    /// Whether a disconnect has begun.
    pub fn is_shut_down(&self) -> bool {
        self.shut_down.load(Ordering::SeqCst)
    }

    /// Starts the close: clears `connected` and returns `(was_connected, first)`, where
    /// `first` is false when an earlier disconnect already began (the caller then does
    /// nothing more).
    pub fn begin_shutdown(&self) -> (bool, bool) {
        let was_connected = self.connected.swap(false, Ordering::SeqCst);
        let first = !self.shut_down.swap(true, Ordering::SeqCst);
        (was_connected, first)
    }
}

/// A remote node as the pool and the connection logic see it.
pub trait Peer: Send + Sync + 'static {
    /// The transport-independent state of the peer, behind the identity and state methods
    /// below.
    fn core(&self) -> &PeerCore;

    /// Lowercase hex of the remote's 65-byte public key: the pool key.
    fn pubkey_hex(&self) -> &str {
        &self.core().info.pubkey_hex
    }
    /// The remote's 65-byte public key.
    fn pubkey(&self) -> &[u8] {
        &self.core().info.pubkey
    }
    /// Where the remote listens: `ip:listening_port` for inbound peers, the dialed endpoint for
    /// outbound ones.
    fn endpoint(&self) -> &Endpoint {
        &self.core().info.endpoint
    }
    fn is_inbound(&self) -> bool {
        self.core().info.inbound
    }
    /// When the peer object was created (unix ms).
    fn connection_time(&self) -> UnixMillis {
        self.core().info.connection_time
    }
    /// Set once ConfirmHandshake completed.
    fn is_connected(&self) -> bool {
        self.core().connected.load(Ordering::SeqCst)
    }
    /// Connected and its transport usable.
    fn is_ready(&self) -> bool;
    /// Versions, mode and transport state, for operators.
    fn profile(&self) -> PeerProfile;

    /// Inbound or outbound, from [`Peer::is_inbound`].
    fn direction(&self) -> PeerDirection {
        PeerDirection::from_inbound(self.is_inbound())
    }

    /// Unconfirmed for longer than [`PEER_CONNECTION_TIMEOUT_MS`] (C# `IsInvalid`). Saturating,
    /// so a connection time near the end of time cannot overflow.
    fn is_invalid(&self, now: UnixMillis) -> bool {
        !self.is_connected()
            && self
                .connection_time()
                .saturating_add(PEER_CONNECTION_TIMEOUT_MS)
                < now
    }

    /// The session id we gave the remote; it must present it on authenticated calls. Empty
    /// until our handshake is recorded, and an empty session never authenticates.
    fn inbound_session_id(&self) -> &[u8] {
        self.core().sent.get().map_or(&[], |(session, _)| session)
    }
    /// When the remote's handshake was stamped (unix ns): the cross-dial tie-break (spec 4.2).
    fn last_received_handshake_time(&self) -> i128 {
        self.core().last_received_handshake
    }
    /// When our handshake to the remote was stamped (unix ns).
    fn last_sent_handshake_time(&self) -> i128 {
        self.core().sent.get().map_or(0, |(_, stamp)| *stamp)
    }
    /// Marks the handshake confirmed; ignored once the peer was disconnected.
    fn mark_connected(&self) {
        let core = self.core();
        if !core.shut_down.load(Ordering::SeqCst) {
            core.connected.store(true, Ordering::SeqCst);
        }
    }
    /// Sends our ConfirmHandshake to the remote (outbound connections).
    fn confirm_handshake(&self) -> Result<(), PeerRequestError>;
    /// Asks the remote whether it still knows us (CheckHealth, one attempt).
    fn check_health(&self) -> Result<(), PeerRequestError>;
    /// Closes the peer; `graceful` tells the remote first. Idempotent.
    fn disconnect(&self, graceful: bool);

    /// What we know about the remote: its seen caches, chain tips, sync state and request
    /// metrics.
    fn knowledge(&self) -> &PeerKnowledge {
        &self.core().knowledge
    }
    /// Queues an item for the peer's sender thread of its kind. Never blocks: a peer that is
    /// not ready refuses, a full queue drops the item for this peer only (counted).
    fn enqueue(&self, item: Arc<BroadcastItem>) -> Result<(), EnqueueError>;
    /// Items waiting in, and dropped from, the peer's send queues.
    fn queue_stats(&self) -> QueueStats;
    /// Asks the remote for one block (RequestBlock / REQUEST_BLOCK). `Ok(None)`: it has none to
    /// give (unknown, not synced, or an empty reply).
    fn request_block(&self, hash: &Hash)
        -> Result<Option<BlockWithTransactions>, PeerRequestError>;
    /// Asks the remote for up to `count` blocks after `previous` on its best chain
    /// (RequestBlocks / REQUEST_BLOCKS).
    fn request_blocks(
        &self,
        previous: &Hash,
        count: i32,
    ) -> Result<Vec<BlockWithTransactions>, PeerRequestError>;
    /// Asks the remote for up to `max_count` nodes it knows (GetNodes / GET_NODES), as
    /// [`NodeRecord::from_node_list`] reads the reply.
    fn request_nodes(&self, max_count: i32) -> Result<Vec<NodeRecord>, PeerRequestError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::testing::FakePeer;

    fn stub(connected: bool, connection_time: UnixMillis) -> FakePeer {
        let endpoint = Endpoint {
            host: "1.2.3.4".into(),
            port: 6800,
        };
        let peer = FakePeer::named("04", endpoint, true);
        if connected {
            peer.connected_at(connection_time)
        } else {
            peer.unconfirmed(connection_time)
        }
    }

    #[test]
    fn unconfirmed_peer_turns_invalid_strictly_after_the_timeout() {
        let peer = stub(false, 1_000);
        assert!(!peer.is_invalid(1_000 + PEER_CONNECTION_TIMEOUT_MS));
        assert!(peer.is_invalid(1_001 + PEER_CONNECTION_TIMEOUT_MS));
        assert_eq!(peer.direction(), PeerDirection::Inbound);
    }

    #[test]
    fn confirmed_peer_is_never_invalid_and_late_times_do_not_overflow() {
        assert!(!stub(true, 0).is_invalid(i64::MAX));
        assert!(!stub(false, i64::MAX - 1).is_invalid(i64::MAX));
    }
}
