//! [`FakePeer`]: a [`Peer`] whose state the test sets by hand and which records what it is
//! sent and asked.

use crate::chain::Chain;
use crate::network::broadcast::{BroadcastItem, EnqueueError, QueueStats};
use crate::network::endpoint::Endpoint;
use crate::network::knowledge::{PeerKnowledge, RemoteChainState};
use crate::network::node_table::NodeRecord;
use crate::network::peer::{Peer, PeerCore, PeerInfo, PeerMode, PeerProfile, PeerRequestError};
use crate::pb::network_types::BlockWithTransactions;
use crate::types::{Hash, UnixMillis};
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

/// The time a fake peer is connected at unless the test says otherwise.
pub const NOW: UnixMillis = 1_800_000_000_000;

/// What a fake peer answers to a block request.
pub type BlocksAnswer = Result<Vec<BlockWithTransactions>, PeerRequestError>;

/// A peer in memory. Every field is public: a test reads what the peer was sent and changes
/// its state (the atomics and mutexes) while the code under test holds it.
pub struct FakePeer {
    pub pubkey: Vec<u8>,
    pub pubkey_hex: String,
    pub endpoint: Endpoint,
    pub inbound: bool,
    pub connection_time: AtomicI64,
    /// Its handshake is confirmed; `disconnect` clears it, `mark_connected` sets it.
    pub connected: AtomicBool,
    /// Ready for traffic once connected (`is_ready` needs both).
    pub ready: AtomicBool,
    /// Enqueue answers QueueFull.
    pub full: AtomicBool,
    /// `check_health` fails (unrecoverable).
    pub unhealthy: AtomicBool,
    /// How long its transaction queue's send has been waiting (`queue_stats`).
    pub stalled_ms: AtomicU64,
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
    /// Of those, the ones that told the remote goodbye (`graceful`).
    pub goodbyes: AtomicUsize,
    /// What `request_nodes` answers (at most the count asked).
    pub nodes: Mutex<Vec<NodeRecord>>,
    /// The trait's shared state, made from the same identity; the getters below read the
    /// fields above instead, so a test can change them while the peer is in use.
    core: PeerCore,
}

impl FakePeer {
    /// A confirmed, ready peer connected at [`NOW`], with a 65-byte key derived from `seed`.
    pub fn new(seed: u8, endpoint: &str, inbound: bool) -> FakePeer {
        let mut pubkey = vec![4u8; 65];
        pubkey[1] = seed;
        let pubkey_hex = hex::encode(&pubkey);
        FakePeer::with_key(
            pubkey,
            pubkey_hex,
            Endpoint::parse(endpoint).expect("test endpoint"),
            inbound,
        )
    }

    /// A confirmed, ready peer connected at [`NOW`] whose `pubkey_hex` is `key` as given (any
    /// text: tests name peers "k6800" or "04"); its key bytes are `key` decoded, or empty when
    /// it is not hex.
    pub fn named(key: &str, endpoint: Endpoint, inbound: bool) -> FakePeer {
        let pubkey = hex::decode(key).unwrap_or_default();
        FakePeer::with_key(pubkey, key.to_owned(), endpoint, inbound)
    }

    fn with_key(
        pubkey: Vec<u8>,
        pubkey_hex: String,
        endpoint: Endpoint,
        inbound: bool,
    ) -> FakePeer {
        let core = PeerCore::new(
            PeerInfo {
                pubkey: pubkey.clone(),
                pubkey_hex: pubkey_hex.clone(),
                endpoint: endpoint.clone(),
                inbound,
                connection_time: NOW,
                protocol_version: 1,
                node_version: "1.4.0.0".into(),
            },
            Vec::new(),
            0,
            PeerKnowledge::new(RemoteChainState::default()),
        );
        FakePeer {
            core,
            pubkey_hex,
            pubkey,
            endpoint,
            inbound,
            connection_time: AtomicI64::new(NOW),
            connected: AtomicBool::new(true),
            ready: AtomicBool::new(true),
            full: AtomicBool::new(false),
            unhealthy: AtomicBool::new(false),
            stalled_ms: AtomicU64::new(0),
            knowledge: PeerKnowledge::new(RemoteChainState::default()),
            sent: Mutex::new(Vec::new()),
            answers: Mutex::new(VecDeque::new()),
            serves: Mutex::new(None),
            block_requests: AtomicUsize::new(0),
            disconnects: AtomicUsize::new(0),
            goodbyes: AtomicUsize::new(0),
            nodes: Mutex::new(Vec::new()),
        }
    }

    /// Connected (confirmed) at `time` instead of [`NOW`].
    pub fn connected_at(self, time: UnixMillis) -> FakePeer {
        self.connection_time.store(time, Ordering::SeqCst);
        self
    }

    /// Not confirmed yet (nor ready), its connection started at `connection_time`.
    pub fn unconfirmed(self, connection_time: UnixMillis) -> FakePeer {
        self.connected.store(false, Ordering::SeqCst);
        self.ready.store(false, Ordering::SeqCst);
        self.connection_time
            .store(connection_time, Ordering::SeqCst);
        self
    }

    /// Confirmed but not ready: enqueue answers NotReady.
    pub fn not_ready(self) -> FakePeer {
        self.ready.store(false, Ordering::SeqCst);
        self
    }

    /// Fails its health checks.
    pub fn unhealthy(self) -> FakePeer {
        self.unhealthy.store(true, Ordering::SeqCst);
        self
    }

    /// Its transaction queue's send has waited `ms`.
    pub fn stalled(self, ms: u64) -> FakePeer {
        self.stalled_ms.store(ms, Ordering::SeqCst);
        self
    }

    /// Answers `request_nodes` with `nodes`.
    pub fn knowing(self, nodes: Vec<NodeRecord>) -> FakePeer {
        *self.nodes.lock() = nodes;
        self
    }

    pub fn arc(self) -> Arc<dyn Peer> {
        Arc::new(self)
    }

    /// The ids of what was enqueued, in order.
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
    fn mark_connected(&self) {
        self.connected.store(true, Ordering::SeqCst);
    }
    fn confirm_handshake(&self) -> Result<(), PeerRequestError> {
        Ok(())
    }
    fn check_health(&self) -> Result<(), PeerRequestError> {
        if self.unhealthy.load(Ordering::SeqCst) {
            return Err(PeerRequestError::unrecoverable("fake peer: unhealthy"));
        }
        Ok(())
    }
    fn disconnect(&self, graceful: bool) {
        self.connected.store(false, Ordering::SeqCst);
        self.disconnects.fetch_add(1, Ordering::SeqCst);
        if graceful {
            self.goodbyes.fetch_add(1, Ordering::SeqCst);
        }
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
        let mut stats = QueueStats::default();
        stats.transactions.stalled_ms = self.stalled_ms.load(Ordering::SeqCst);
        stats
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
    fn request_nodes(&self, max_count: i32) -> Result<Vec<NodeRecord>, PeerRequestError> {
        let max = usize::try_from(max_count).unwrap_or(0);
        Ok(self.nodes.lock().iter().take(max).cloned().collect())
    }
}
