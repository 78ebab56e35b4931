//! `NetworkService`: the core network operations the OS layer uses (C# `NetworkService` and
//! `GrpcRequestProcessor`): who gets which broadcast (spec 5.4), block requests to a chosen peer
//! with the failure policy of spec 5.5, and the answers to RequestBlock / RequestBlocks (spec 1.2,
//! 6.2).
//!
//! Owns those rules; a peer they drop leaves through [`PeerLifecycle::remove`] with the reason.
//! It must not know the transport (peers are [`Peer`] trait objects) and never blocks on a
//! queue: broadcasts only enqueue. Requests block the calling thread for the
//! request's own deadlines, so they are made from OS-layer worker threads.

use super::broadcast::{BroadcastItem, EncodeError, EnqueueError, QueueKind};
use super::endpoint::Endpoint;
use super::lifecycle::{PeerLifecycle, Removal};
use super::peer::short_key;
use super::peer::{FailureKind, Peer, PeerRequestError};
use super::peer_pool::PeerPool;
use super::penalty::{Offence, PenaltyReporter, Verdict};
use super::reconnection::Reconnections;
use super::request_metrics::{
    block_request_info, blocks_request_info, RequestMetric, GET_BLOCK, GET_BLOCKS,
};
use super::sync_state::SyncState;
use crate::chain::Chain;
use crate::pb::aelf_core::Transaction;
use crate::pb::network_types::{
    BlockList, BlockReply, BlockRequest, BlockWithTransactions, BlocksRequest,
};
use crate::types::{Clock, Hash, UnixMillis};
use log::{debug, info, warn};
use protobuf::MessageField;
use std::sync::Arc;
use std::time::Instant;
use thiserror::Error;

/// Blocks older than this are neither broadcast nor announced: ten minutes
/// (C# `DefaultMaxBlockAgeToBroadcastInMinutes`).
pub const MAX_BLOCK_AGE_TO_BROADCAST_MS: i64 = 10 * 60 * 1000;
/// Most blocks one RequestBlocks is answered with; more asked → nothing
/// (C# `GrpcConstants.MaxSendBlockCountLimit`).
pub const MAX_SEND_BLOCK_COUNT_LIMIT: i32 = 50;

/// Why a request to a peer gave nothing.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NetworkError {
    /// No pool peer has that key (C# `InvalidOperationException "Could not find peer"`).
    #[error("Could not find peer {0}.")]
    UnknownPeer(String),
    /// The request failed; the peer was handled per spec 5.5.
    #[error("request to {peer} failed: {error}")]
    Request {
        peer: String,
        error: PeerRequestError,
    },
}

/// Counts of one broadcast: how many peers got it queued, and why the others did not.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BroadcastReport {
    pub queued: usize,
    pub already_known: usize,
    pub queue_full: usize,
    pub not_ready: usize,
}

/// The network operations (see the module documentation).
pub struct NetworkService {
    pool: Arc<PeerPool>,
    chain: Arc<dyn Chain>,
    clock: Arc<dyn Clock>,
    sync: Arc<SyncState>,
    /// Admission and removal: every peer this service drops leaves through it.
    lifecycle: Arc<PeerLifecycle>,
    penalties: PenaltyReporter,
}

impl NetworkService {
    pub fn new(
        pool: Arc<PeerPool>,
        chain: Arc<dyn Chain>,
        clock: Arc<dyn Clock>,
        sync: Arc<SyncState>,
        lifecycle: Arc<PeerLifecycle>,
        penalties: PenaltyReporter,
    ) -> NetworkService {
        NetworkService {
            pool,
            chain,
            clock,
            sync,
            lifecycle,
            penalties,
        }
    }

    /// The time by this service's clock.
    pub fn now(&self) -> UnixMillis {
        self.clock.now_millis()
    }

    /// Lost peers waiting to be dialed again.
    pub fn reconnections(&self) -> &Arc<Reconnections> {
        self.lifecycle.reconnections()
    }

    pub fn boot_nodes(&self) -> &[Endpoint] {
        self.lifecycle.boot_nodes()
    }

    /// Where peers enter and leave the pool.
    pub fn lifecycle(&self) -> &Arc<PeerLifecycle> {
        &self.lifecycle
    }

    pub fn pool(&self) -> &Arc<PeerPool> {
        &self.pool
    }

    pub fn sync_state(&self) -> &Arc<SyncState> {
        &self.sync
    }

    pub fn chain(&self) -> &Arc<dyn Chain> {
        &self.chain
    }

    /// Whether a block stamped `block_time_ms` is too old to broadcast (C# `IsOldBlock`).
    pub fn is_old_block(&self, block_time_ms: UnixMillis) -> bool {
        block_time_ms < self.clock.now_millis() - MAX_BLOCK_AGE_TO_BROADCAST_MS
    }

    /// Queues `item` for each ready peer in `peers` that does not know it yet. Blocks and
    /// announcements are marked known for every peer they are queued to (C# marks them in the
    /// send callback, success or not); transactions are not (spec 12 quirk 12 is the wire
    /// behaviour either way; marking only on receipt keeps a failed send retryable).
    fn fan_out(&self, item: BroadcastItem, peers: Vec<Arc<dyn Peer>>) -> BroadcastReport {
        let item = Arc::new(item);
        let now = self.clock.now_millis();
        let mut report = BroadcastReport::default();
        for peer in peers {
            let knowledge = peer.knowledge();
            let known = match item.kind {
                super::broadcast::BroadcastKind::Transaction => {
                    knowledge.knows_transaction(&item.id)
                }
                super::broadcast::BroadcastKind::LibAnnouncement => false,
                _ => knowledge.knows_block(&item.id),
            };
            if known {
                report.already_known += 1;
                continue;
            }
            match peer.enqueue(item.clone()) {
                Ok(()) => {
                    report.queued += 1;
                    if matches!(
                        item.kind,
                        super::broadcast::BroadcastKind::Block
                            | super::broadcast::BroadcastKind::Announcement
                    ) {
                        knowledge.try_add_known_block(item.id, now);
                    }
                }
                Err(EnqueueError::QueueFull) => {
                    report.queue_full += 1;
                    debug!(
                        "{} queue of {} full: dropped {} {}",
                        item.kind.name(),
                        peer.endpoint(),
                        item.kind.name(),
                        item.id
                    );
                }
                Err(EnqueueError::NotReady) => report.not_ready += 1,
            }
        }
        report
    }

    /// Broadcasts a block this node produced: to `first` (the next producer, when known)
    /// before every other ready peer (spec 5.4). Old blocks and an unsynced node send nothing.
    pub fn broadcast_block(
        &self,
        block: &BlockWithTransactions,
        hash: Hash,
        first: Option<&str>,
    ) -> Result<BroadcastReport, EncodeError> {
        let Some(header) = block.header.as_ref() else {
            return Ok(BroadcastReport::default());
        };
        let time = header.time.as_ref().map(crate::types::timestamp_millis);
        if !self.sync.is_finished() || time.is_none_or(|t| self.is_old_block(t)) {
            return Ok(BroadcastReport::default());
        }
        let item = BroadcastItem::block(block, hash, header.height)?;
        let mut peers = self.pool.peers(false);
        if let Some(first) = first {
            if let Some(i) = peers.iter().position(|p| p.pubkey_hex() == first) {
                let next = peers.remove(i);
                peers.insert(0, next);
            }
        }
        Ok(self.fan_out(item, peers))
    }

    /// Announces an accepted block stamped `block_time_ms` to every ready peer that does not
    /// know it (spec 5.4).
    pub fn broadcast_announcement(
        &self,
        hash: Hash,
        height: i64,
        block_time_ms: UnixMillis,
    ) -> Result<BroadcastReport, EncodeError> {
        if !self.sync.is_finished() || self.is_old_block(block_time_ms) {
            return Ok(BroadcastReport::default());
        }
        let item = BroadcastItem::announcement(hash, height)?;
        Ok(self.fan_out(item, self.pool.peers(false)))
    }

    /// Sends a transaction accepted into the pool to every ready peer that does not know it,
    /// whatever the sync state.
    pub fn broadcast_transaction(
        &self,
        tx: &Transaction,
        id: Hash,
    ) -> Result<BroadcastReport, EncodeError> {
        let item = BroadcastItem::transaction(tx, id)?;
        Ok(self.fan_out(item, self.pool.peers(false)))
    }

    /// Announces a new last irreversible block to every ready peer.
    pub fn broadcast_lib(&self, hash: Hash, height: i64) -> Result<BroadcastReport, EncodeError> {
        if !self.sync.is_finished() {
            return Ok(BroadcastReport::default());
        }
        let item = BroadcastItem::lib_announcement(hash, height)?;
        Ok(self.fan_out(item, self.pool.peers(false)))
    }

    fn pool_peer(&self, pubkey_hex: &str) -> Result<Arc<dyn Peer>, NetworkError> {
        self.pool
            .get(pubkey_hex)
            .ok_or_else(|| NetworkError::UnknownPeer(pubkey_hex.to_owned()))
    }

    /// One block by hash from `pubkey_hex` (C# `GetBlockByHashAsync`). A handler failure on the
    /// remote reads as "no block"; other failures are handled per spec 5.5 and returned.
    pub fn get_block(
        &self,
        pubkey_hex: &str,
        hash: &Hash,
    ) -> Result<Option<BlockWithTransactions>, NetworkError> {
        let peer = self.pool_peer(pubkey_hex)?;
        let started = Instant::now();
        let request_time = self.clock.now_millis();
        match peer.request_block(hash) {
            Ok(block) => {
                peer.knowledge().metrics().record(RequestMetric {
                    method: GET_BLOCK,
                    info: block_request_info(hash),
                    round_trip_ms: started.elapsed().as_millis() as i64,
                    request_time,
                });
                Ok(block)
            }
            Err(e) => self.request_failed(&peer, e).map(|()| None),
        }
    }

    /// Up to `count` blocks after `previous` from `pubkey_hex` (C# `GetBlocksAsync`).
    pub fn get_blocks(
        &self,
        pubkey_hex: &str,
        previous: &Hash,
        count: i32,
    ) -> Result<Vec<BlockWithTransactions>, NetworkError> {
        let peer = self.pool_peer(pubkey_hex)?;
        let started = Instant::now();
        let request_time = self.clock.now_millis();
        match peer.request_blocks(previous, count) {
            Ok(blocks) => {
                peer.knowledge().metrics().record(RequestMetric {
                    method: GET_BLOCKS,
                    info: blocks_request_info(previous, count),
                    round_trip_ms: started.elapsed().as_millis() as i64,
                    request_time,
                });
                Ok(blocks)
            }
            Err(e) => self.request_failed(&peer, e).map(|()| Vec::new()),
        }
    }

    /// A handler failure is an empty success; anything else goes through the failure policy.
    fn request_failed(
        &self,
        peer: &Arc<dyn Peer>,
        error: PeerRequestError,
    ) -> Result<(), NetworkError> {
        if error.kind == FailureKind::HandlerException {
            debug!("{} could not answer: {error}", peer.endpoint());
            return Ok(());
        }
        if error.timed_out {
            self.report(
                peer.pubkey_hex(),
                Offence::RequestTimeout,
                error.message.clone(),
            );
        }
        self.handle_failure(peer.pubkey_hex(), &error);
        Err(NetworkError::Request {
            peer: peer.pubkey_hex().to_owned(),
            error,
        })
    }

    /// The failure policy of spec 5.5: an unrecoverable failure removes the peer and, for an
    /// outbound or boot-node peer, schedules its reconnection; an unstable peer whose
    /// transport is already down is treated the same (its sender threads keep retrying while
    /// the transport may still recover); other failures keep the peer.
    pub fn handle_failure(&self, pubkey_hex: &str, error: &PeerRequestError) {
        let Some(peer) = self.pool.get(pubkey_hex) else {
            return;
        };
        let drop_it = match error.kind {
            FailureKind::Unrecoverable => true,
            FailureKind::PeerUnstable => !peer.is_ready(),
            FailureKind::HandlerException | FailureKind::Rpc => false,
        };
        if !drop_it {
            debug!("{} failed a request, keeping it: {error}", peer.endpoint());
            return;
        }
        self.lifecycle
            .remove(&peer, Removal::Failed(error.to_string()));
    }

    /// A failed health check (spec 8.1): an unrecoverable or unstable peer is dropped and
    /// handed to the reconnection rules; other failures are ignored.
    pub fn health_check_failed(&self, peer: &Arc<dyn Peer>, error: &PeerRequestError) {
        if !matches!(
            error.kind,
            FailureKind::Unrecoverable | FailureKind::PeerUnstable
        ) {
            debug!(
                "{} health check failed, keeping it: {error}",
                peer.endpoint()
            );
            return;
        }
        self.lifecycle
            .remove(peer, Removal::HealthCheck(error.to_string()));
    }

    /// A peer that left a send waiting `waited_ms` on its `queue` stream (it stopped reading
    /// it) is dropped, which frees its queues, and handed to the reconnection rules like a
    /// failed peer. Ours: the C# node keeps such a peer with its queue full.
    pub fn drop_stalled(&self, peer: &Arc<dyn Peer>, queue: QueueKind, waited_ms: u64) {
        self.lifecycle
            .remove(peer, Removal::Stalled { queue, waited_ms });
    }

    /// Reports an offence by `pubkey_hex` for the scheduler to judge (never blocks).
    pub fn report(&self, pubkey_hex: &str, offence: Offence, detail: impl Into<String>) {
        let detail = detail.into();
        debug!("{} by {}: {detail}", offence.name(), short_key(pubkey_hex));
        self.penalties.report(pubkey_hex, offence, detail);
    }

    /// A peer that served inconsistent blocks (C# `AbnormalPeerFoundEventData`).
    pub fn report_abnormal(&self, pubkey_hex: &str, reason: &str) {
        warn!("abnormal peer {}: {reason}", short_key(pubkey_hex));
        self.penalties
            .report(pubkey_hex, Offence::InconsistentBlocks, reason);
    }

    /// Carries out a verdict on `pubkey_hex` (whose host is `host`): a ban lists the host for
    /// its duration and drops every pool peer on it; a disconnect drops the peer. Neither is
    /// dialed again. Returns the peers dropped.
    pub fn enforce(&self, pubkey_hex: &str, host: &str, verdict: &Verdict) -> usize {
        match verdict {
            Verdict::Keep => 0,
            Verdict::Disconnect { reason } => {
                info!(
                    "dropping peer {} at {host}: {reason}",
                    short_key(pubkey_hex)
                );
                usize::from(
                    self.lifecycle
                        .remove_key(pubkey_hex, Removal::Penalty(reason.clone())),
                )
            }
            Verdict::Ban {
                reason,
                duration_ms,
            } => {
                if self
                    .pool
                    .blacklist()
                    .ban(host, *duration_ms, reason, self.now())
                {
                    warn!(
                        "banned host {host} for {} s (peer {}): {reason}",
                        duration_ms / 1000,
                        short_key(pubkey_hex)
                    );
                }
                self.lifecycle
                    .remove_host(host, Removal::Penalty(reason.clone()))
            }
        }
    }

    /// The answer to RequestBlock (spec 1.2): the block, when synced and stored; it becomes
    /// known for the requester. Empty otherwise.
    pub fn serve_block(&self, requester: Option<&str>, request: &BlockRequest) -> BlockReply {
        let empty = BlockReply::new();
        let Some(hash) = request.hash.as_ref().and_then(|h| Hash::from_proto(h).ok()) else {
            return empty;
        };
        if !self.sync.is_finished() {
            return empty;
        }
        match self.chain.block_by_hash(&hash) {
            Ok(Some(block)) => {
                if let Some(peer) = requester.and_then(|key| self.pool.get(key)) {
                    peer.knowledge()
                        .try_add_known_block(hash, self.clock.now_millis());
                }
                BlockReply {
                    block: MessageField::some(block),
                    ..Default::default()
                }
            }
            Ok(None) => empty,
            Err(e) => {
                warn!("cannot read block {hash} to serve it: {e}");
                empty
            }
        }
    }

    /// The answer to RequestBlocks (spec 1.2): up to `count` (1..=50) best-chain blocks after
    /// `previous_block_hash`, when synced. Anything else is an empty list — also a previous
    /// hash off the best chain, where the C# node fails the call; an empty answer tells a C#
    /// peer the same without an error.
    pub fn serve_blocks(&self, request: &BlocksRequest) -> BlockList {
        let empty = BlockList::new();
        let Some(previous) = request
            .previous_block_hash
            .as_ref()
            .and_then(|h| Hash::from_proto(h).ok())
        else {
            return empty;
        };
        if !self.sync.is_finished()
            || request.count <= 0
            || request.count > MAX_SEND_BLOCK_COUNT_LIMIT
        {
            return empty;
        }
        match self.chain.blocks_after(&previous, request.count as usize) {
            Ok(blocks) => BlockList {
                blocks,
                ..Default::default()
            },
            Err(e) => {
                warn!("cannot read blocks after {previous} to serve them: {e}");
                empty
            }
        }
    }
}
