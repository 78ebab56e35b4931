//! A minimal in-memory [`Peer`] for the unit tests of this layer.

use super::broadcast::{BroadcastItem, EnqueueError, QueueStats};
use super::endpoint::Endpoint;
use super::knowledge::{PeerKnowledge, RemoteChainState};
use super::node_table::NodeRecord;
use super::peer::{Peer, PeerMode, PeerProfile, PeerRequestError};
use crate::pb::network_types::BlockWithTransactions;
use crate::types::{Hash, UnixMillis};
use std::sync::{Arc, OnceLock};

/// A peer that only holds the state the pool reads.
pub(crate) struct StubPeer {
    pub key: String,
    pub endpoint: Endpoint,
    pub inbound: bool,
    pub connected: bool,
    pub connection_time: UnixMillis,
    /// What `request_nodes` answers.
    pub nodes: Vec<NodeRecord>,
    /// `check_health` fails (unrecoverable).
    pub unhealthy: bool,
    /// How long its transaction queue's send has been waiting (`queue_stats`).
    pub stalled_ms: u64,
}

impl Peer for StubPeer {
    fn pubkey_hex(&self) -> &str {
        &self.key
    }
    fn pubkey(&self) -> &[u8] {
        &[]
    }
    fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }
    fn is_inbound(&self) -> bool {
        self.inbound
    }
    fn connection_time(&self) -> UnixMillis {
        self.connection_time
    }
    fn is_connected(&self) -> bool {
        self.connected
    }
    fn is_ready(&self) -> bool {
        self.connected
    }
    fn profile(&self) -> PeerProfile {
        PeerProfile {
            protocol_version: 1,
            node_version: "1.0.0.0".into(),
            mode: PeerMode::Legacy,
            connection_status: if self.connected { "Ready" } else { "Idle" },
        }
    }
    fn inbound_session_id(&self) -> &[u8] {
        &[]
    }
    fn last_received_handshake_time(&self) -> i128 {
        0
    }
    fn last_sent_handshake_time(&self) -> i128 {
        0
    }
    fn mark_connected(&self) {}
    fn confirm_handshake(&self) -> Result<(), PeerRequestError> {
        Ok(())
    }
    fn check_health(&self) -> Result<(), PeerRequestError> {
        if self.unhealthy {
            return Err(PeerRequestError::unrecoverable("stub: unhealthy"));
        }
        Ok(())
    }
    fn disconnect(&self, _graceful: bool) {}
    /// One knowledge shared by every stub: the pool tests never read it.
    fn knowledge(&self) -> &PeerKnowledge {
        static KNOWLEDGE: OnceLock<PeerKnowledge> = OnceLock::new();
        KNOWLEDGE.get_or_init(|| PeerKnowledge::new(RemoteChainState::default()))
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
