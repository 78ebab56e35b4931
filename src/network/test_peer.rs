//! A minimal in-memory [`Peer`] for the unit tests of this layer.

use super::broadcast::{BroadcastItem, EnqueueError, QueueStats};
use super::endpoint::Endpoint;
use super::knowledge::{PeerKnowledge, RemoteChainState};
use super::node_table::NodeRecord;
use super::peer::{Peer, PeerCore, PeerInfo, PeerMode, PeerProfile, PeerRequestError};
use crate::pb::network_types::BlockWithTransactions;
use crate::types::{Hash, UnixMillis};
use std::sync::Arc;

/// A peer that only holds the state the pool reads.
pub(crate) struct StubPeer {
    pub core: PeerCore,
    /// What `request_nodes` answers.
    pub nodes: Vec<NodeRecord>,
    /// `check_health` fails (unrecoverable).
    pub unhealthy: bool,
    /// How long its transaction queue's send has been waiting (`queue_stats`).
    pub stalled_ms: u64,
    /// The `graceful` flag of each `disconnect` call, in order.
    pub disconnects: parking_lot::Mutex<Vec<bool>>,
}

impl StubPeer {
    /// A stub with key `key` at `endpoint`, created at `connection_time`, confirmed or not.
    pub fn new(
        key: &str,
        endpoint: Endpoint,
        inbound: bool,
        connected: bool,
        connection_time: UnixMillis,
    ) -> StubPeer {
        let core = PeerCore::new(
            PeerInfo {
                pubkey: Vec::new(),
                pubkey_hex: key.to_owned(),
                endpoint,
                inbound,
                connection_time,
                protocol_version: 1,
                node_version: "1.0.0.0".into(),
            },
            Vec::new(),
            Vec::new(),
            0,
            0,
            PeerKnowledge::new(RemoteChainState::default()),
        );
        let stub = StubPeer {
            core,
            nodes: Vec::new(),
            unhealthy: false,
            stalled_ms: 0,
            disconnects: parking_lot::Mutex::new(Vec::new()),
        };
        if connected {
            stub.mark_connected();
        }
        stub
    }
}

impl Peer for StubPeer {
    fn core(&self) -> &PeerCore {
        &self.core
    }
    fn is_ready(&self) -> bool {
        self.is_connected()
    }
    fn profile(&self) -> PeerProfile {
        PeerProfile {
            protocol_version: 1,
            node_version: "1.0.0.0".into(),
            mode: PeerMode::Legacy,
            connection_status: if self.is_connected() { "Ready" } else { "Idle" },
            unauthenticated_requests: 0,
        }
    }
    fn confirm_handshake(&self) -> Result<(), PeerRequestError> {
        Ok(())
    }
    fn check_health(&self) -> Result<(), PeerRequestError> {
        if self.unhealthy {
            return Err(PeerRequestError::unrecoverable("stub: unhealthy"));
        }
        Ok(())
    }
    fn disconnect(&self, graceful: bool) {
        self.disconnects.lock().push(graceful);
    }
    fn enqueue(&self, _item: Arc<BroadcastItem>) -> Result<(), EnqueueError> {
        Err(EnqueueError::NotReady)
    }
    fn queue_stats(&self) -> QueueStats {
        let mut stats = QueueStats::default();
        stats.transactions.stalled_ms = self.stalled_ms;
        stats
    }
    fn request_block(
        &self,
        _hash: &Hash,
    ) -> Result<Option<BlockWithTransactions>, PeerRequestError> {
        Ok(None)
    }
    fn request_blocks(
        &self,
        _previous: &Hash,
        _count: i32,
    ) -> Result<Vec<BlockWithTransactions>, PeerRequestError> {
        Ok(Vec::new())
    }
    fn request_nodes(&self, max_count: i32) -> Result<Vec<NodeRecord>, PeerRequestError> {
        Ok(self
            .nodes
            .iter()
            .take(max_count.max(0) as usize)
            .cloned()
            .collect())
    }
}
