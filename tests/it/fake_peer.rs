//! `FakePeer`: a [`Peer`] whose state the test sets by hand and which records what it is sent,
//! for the pool scenarios and the network service's broadcast and request rules.

use aelf_net::chain::Chain;
use aelf_net::network::broadcast::{BroadcastItem, EnqueueError, QueueStats};
use aelf_net::network::endpoint::Endpoint;
use aelf_net::network::knowledge::{PeerKnowledge, RemoteChainState};
use aelf_net::network::node_table::NodeRecord;
use aelf_net::network::peer::{Peer, PeerCore, PeerInfo, PeerMode, PeerProfile, PeerRequestError};
use aelf_net::pb::network_types::BlockWithTransactions;
use aelf_net::types::{Hash, UnixMillis};
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::Arc;

/// The time every fake peer is created at.
pub const NOW: UnixMillis = 1_800_000_000_000;

/// What a fake peer answers to a block request.
pub type BlocksAnswer = Result<Vec<BlockWithTransactions>, PeerRequestError>;

pub struct FakePeer {
    pub pubkey: Vec<u8>,
    pub pubkey_hex: String,
    pub endpoint: Endpoint,
    pub inbound: bool,
    pub connection_time: AtomicI64,
    pub connected: AtomicBool,
    pub ready: AtomicBool,
    /// Enqueue answers QueueFull.
    pub full: AtomicBool,
    pub knowledge: PeerKnowledge,
    /// Items enqueued, in order.
    pub sent: Mutex<Vec<Arc<BroadcastItem>>>,
    /// Answers to `request_block` / `request_blocks`, taken in order (empty → no blocks).
    pub answers: Mutex<VecDeque<BlocksAnswer>>,
    /// When set, `request_blocks` answers from this chain's best chain instead (as a real
    /// peer's server does), and counts the requests.
    pub serves: Mutex<Option<Arc<dyn Chain>>>,
    pub block_requests: AtomicUsize,
    pub disconnects: AtomicUsize,
    /// What `request_nodes` answers.
    pub nodes: Mutex<Vec<NodeRecord>>,
    /// The trait's shared state; the getters below override what the test sets by hand.
    core: PeerCore,
}

impl FakePeer {
    /// A confirmed, ready peer created at [`NOW`], with a key derived from `seed`.
    pub fn new(seed: u8, endpoint: &str, inbound: bool) -> FakePeer {
        let mut pubkey = vec![4u8; 65];
        pubkey[1] = seed;
        let endpoint = Endpoint::parse(endpoint).expect("test endpoint");
        let core = PeerCore::new(
            PeerInfo {
                pubkey: pubkey.clone(),
                pubkey_hex: hex::encode(&pubkey),
                endpoint: endpoint.clone(),
                inbound,
                connection_time: NOW,
                protocol_version: 1,
                node_version: "1.4.0.0".into(),
            },
            Vec::new(),
            Vec::new(),
            0,
            0,
            PeerKnowledge::new(RemoteChainState::default()),
        );
        FakePeer {
            core,
            pubkey_hex: hex::encode(&pubkey),
            pubkey,
            endpoint,
            inbound,
            connection_time: AtomicI64::new(NOW),
            connected: AtomicBool::new(true),
            ready: AtomicBool::new(true),
            full: AtomicBool::new(false),
            knowledge: PeerKnowledge::new(RemoteChainState::default()),
            sent: Mutex::new(Vec::new()),
            answers: Mutex::new(VecDeque::new()),
            serves: Mutex::new(None),
            block_requests: AtomicUsize::new(0),
            disconnects: AtomicUsize::new(0),
            nodes: Mutex::new(Vec::new()),
        }
    }

    pub fn unconfirmed(self, connection_time: UnixMillis) -> FakePeer {
        self.connected.store(false, Ordering::SeqCst);
        self.ready.store(false, Ordering::SeqCst);
        self.connection_time
            .store(connection_time, Ordering::SeqCst);
        self
    }

    pub fn not_ready(self) -> FakePeer {
        self.ready.store(false, Ordering::SeqCst);
        self
    }

    pub fn arc(self) -> Arc<dyn Peer> {
        Arc::new(self)
    }

    /// Kinds and ids of what was enqueued.
    pub fn sent_ids(&self) -> Vec<Hash> {
        self.sent.lock().iter().map(|i| i.id).collect()
    }

    fn next_answer(&self) -> BlocksAnswer {
        self.answers.lock().pop_front().unwrap_or(Ok(Vec::new()))
    }
}

impl Peer for FakePeer {
    fn core(&self) -> &PeerCore {
        &self.core
    }
    fn pubkey_hex(&self) -> &str {
        &self.pubkey_hex
    }
    fn pubkey(&self) -> &[u8] {
        &self.pubkey
    }
    fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }
    fn is_inbound(&self) -> bool {
        self.inbound
    }
    fn connection_time(&self) -> UnixMillis {
        self.connection_time.load(Ordering::SeqCst)
    }
    fn is_connected(&self) -> bool {
        self.connected.load(Ordering::SeqCst)
    }
    fn is_ready(&self) -> bool {
        self.is_connected() && self.ready.load(Ordering::SeqCst)
    }
    fn profile(&self) -> PeerProfile {
        PeerProfile {
            protocol_version: 1,
            node_version: "1.4.0.0".into(),
            mode: PeerMode::Legacy,
            connection_status: if self.is_ready() { "Ready" } else { "Idle" },
            unauthenticated_requests: 0,
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
    fn mark_connected(&self) {
        self.connected.store(true, Ordering::SeqCst);
    }
    fn confirm_handshake(&self) -> Result<(), PeerRequestError> {
        Ok(())
    }
    fn check_health(&self) -> Result<(), PeerRequestError> {
        Ok(())
    }
    fn disconnect(&self, _graceful: bool) {
        self.connected.store(false, Ordering::SeqCst);
        self.disconnects.fetch_add(1, Ordering::SeqCst);
    }
    fn knowledge(&self) -> &PeerKnowledge {
        &self.knowledge
    }
    fn enqueue(&self, item: Arc<BroadcastItem>) -> Result<(), EnqueueError> {
        if !self.is_ready() {
            return Err(EnqueueError::NotReady);
        }
        if self.full.load(Ordering::SeqCst) {
            return Err(EnqueueError::QueueFull);
        }
        self.sent.lock().push(item);
        Ok(())
    }
    fn queue_stats(&self) -> QueueStats {
        QueueStats::default()
    }
    fn request_block(
        &self,
        _hash: &Hash,
    ) -> Result<Option<BlockWithTransactions>, PeerRequestError> {
        self.next_answer().map(|blocks| blocks.into_iter().next())
    }
    fn request_blocks(
        &self,
        previous: &Hash,
        count: i32,
    ) -> Result<Vec<BlockWithTransactions>, PeerRequestError> {
        if let Some(chain) = self.serves.lock().as_ref() {
            self.block_requests.fetch_add(1, Ordering::SeqCst);
            let count = usize::try_from(count).unwrap_or(0);
            return Ok(chain.blocks_after(previous, count).unwrap());
        }
        self.next_answer()
    }
    fn request_nodes(&self, _max_count: i32) -> Result<Vec<NodeRecord>, PeerRequestError> {
        Ok(self.nodes.lock().clone())
    }
}
