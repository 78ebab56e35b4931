//! `InboundBroadcasts`: what happens to a block, announcement, transaction or LIB announcement a
//! peer sends us, on either transport (the four broadcast-stream handlers of spec 1.2 and their
//! stream-mode twins): peer lookup, the peer's seen caches and sync state, the
//! `ref_block_number` filter, LIB tracking — and the [`NetworkEvent`]s handed up to the OS layer.
//!
//! Owns the receive rules and the bounded event queues. Every method is quick and never blocks
//! (the gRPC layer calls them on completion-queue threads): a full event queue drops the event
//! and counts it. It must not validate or attach blocks (the OS layer does).

use super::peer::Peer;
use super::peer_pool::PeerPool;
use super::penalty::{Offence, PenaltyReporter};
use super::sync_state::INITIAL_SYNC_OFFSET;
use crate::chain::Chain;
use crate::pb::aelf_core::Transaction;
use crate::pb::network_types::{BlockAnnouncement, BlockWithTransactions, LibAnnouncement};
use crate::types::{block_hash, transaction_id, Clock, Hash};
use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};
use log::{debug, warn};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use thiserror::Error;

/// Received full blocks waiting for the OS layer at most (blocks can be large).
pub const BLOCK_EVENT_QUEUE: usize = 64;
/// Other network events waiting for the OS layer at most.
pub const EVENT_QUEUE: usize = 8_192;

/// What the network tells the OS layer (spec 5.6, 9).
#[derive(Debug, Clone, PartialEq)]
pub enum NetworkEvent {
    /// A peer sent a full block we had not seen from it (C# `BlockReceivedEvent`).
    BlockReceived {
        block: BlockWithTransactions,
        hash: Hash,
        height: i64,
        sender: String,
    },
    /// A peer announced a block (C# `AnnouncementReceivedEventData`).
    AnnouncementReceived {
        hash: Hash,
        height: i64,
        sender: String,
    },
    /// A peer sent a transaction (C# `TransactionsReceivedEvent`).
    TransactionReceived {
        transaction: Transaction,
        id: Hash,
        sender: String,
    },
    /// A peer completed its handshake (C# `PeerConnectedEventData`).
    PeerConnected {
        pubkey_hex: String,
        best_hash: Hash,
        best_height: i64,
    },
    /// The boot nodes have been dialed: initial sync may start (C# `NetworkInitializedEvent`).
    NetworkInitialized,
}

/// Why a received item ends its stream (legacy) or gets an error reply (stream mode).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum InboundError {
    /// The sender is not in the pool (C# throws CANCELLED).
    #[error("unknown peer {0}")]
    UnknownPeer(String),
    /// The item cannot be hashed (C# throws, status UNKNOWN).
    #[error("malformed {what}: {reason}")]
    Malformed { what: &'static str, reason: String },
}

/// The sending half of the OS layer's event queues.
pub struct NetworkEvents {
    blocks: Sender<NetworkEvent>,
    other: Sender<NetworkEvent>,
    dropped: AtomicU64,
}

/// The receiving half, kept by the OS layer's event thread.
pub struct NetworkEventReceivers {
    pub blocks: Receiver<NetworkEvent>,
    pub other: Receiver<NetworkEvent>,
}

/// Creates the two bounded event queues (full blocks apart, so big blocks are bounded by a
/// small count).
pub fn network_events(
    block_capacity: usize,
    capacity: usize,
) -> (NetworkEvents, NetworkEventReceivers) {
    let (blocks, blocks_rx) = bounded(block_capacity.max(1));
    let (other, other_rx) = bounded(capacity.max(1));
    (
        NetworkEvents {
            blocks,
            other,
            dropped: AtomicU64::new(0),
        },
        NetworkEventReceivers {
            blocks: blocks_rx,
            other: other_rx,
        },
    )
}

impl NetworkEvents {
    /// Hands `event` up without blocking; a full queue drops it (counted, logged).
    pub fn publish(&self, event: NetworkEvent) {
        let queue = match event {
            NetworkEvent::BlockReceived { .. } => &self.blocks,
            _ => &self.other,
        };
        match queue.try_send(event) {
            Ok(()) => {}
            Err(TrySendError::Full(event)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                warn!("event queue full, dropping {}", describe(&event));
            }
            Err(TrySendError::Disconnected(event)) => {
                debug!("event handler gone, dropping {}", describe(&event));
            }
        }
    }

    /// Events dropped because a queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

fn describe(event: &NetworkEvent) -> String {
    match event {
        NetworkEvent::BlockReceived { hash, height, .. } => format!("block {height} {hash}"),
        NetworkEvent::AnnouncementReceived { hash, height, .. } => {
            format!("announcement {height} {hash}")
        }
        NetworkEvent::TransactionReceived { id, .. } => format!("transaction {id}"),
        NetworkEvent::PeerConnected { pubkey_hex, .. } => format!("peer connected {pubkey_hex}"),
        NetworkEvent::NetworkInitialized => "network initialized".into(),
    }
}

/// The receive rules (see the module documentation).
pub struct InboundBroadcasts {
    pool: Arc<PeerPool>,
    chain: Arc<dyn Chain>,
    clock: Arc<dyn Clock>,
    events: NetworkEvents,
    /// Malformed items are offences of their sender.
    penalties: PenaltyReporter,
}

impl InboundBroadcasts {
    pub fn new(
        pool: Arc<PeerPool>,
        chain: Arc<dyn Chain>,
        clock: Arc<dyn Clock>,
        events: NetworkEvents,
        penalties: PenaltyReporter,
    ) -> InboundBroadcasts {
        InboundBroadcasts {
            pool,
            chain,
            clock,
            events,
            penalties,
        }
    }

    /// A malformed item from `sender`: reported as its offence, returned as the error.
    fn malformed(&self, sender: &str, what: &'static str, reason: String) -> InboundError {
        self.penalties.report(
            sender,
            Offence::MalformedMessage,
            format!("malformed {what}: {reason}"),
        );
        InboundError::Malformed { what, reason }
    }

    pub fn events(&self) -> &NetworkEvents {
        &self.events
    }

    fn peer(&self, sender: &str) -> Result<Arc<dyn Peer>, InboundError> {
        self.pool
            .get(sender)
            .ok_or_else(|| InboundError::UnknownPeer(sender.to_owned()))
    }

    /// A full block: the sender has finished syncing; a block it had not sent before goes up.
    pub fn on_block(&self, sender: &str, block: BlockWithTransactions) -> Result<(), InboundError> {
        let peer = self.peer(sender)?;
        peer.knowledge().mark_sync_finished();
        let header = block
            .header
            .as_ref()
            .ok_or_else(|| self.malformed(sender, "block", "no header".into()))?;
        let hash =
            block_hash(header).map_err(|e| self.malformed(sender, "block", e.to_string()))?;
        let height = header.height;
        if !peer
            .knowledge()
            .try_add_known_block(hash, self.clock.now_millis())
        {
            return Ok(());
        }
        self.events.publish(NetworkEvent::BlockReceived {
            block,
            hash,
            height,
            sender: sender.to_owned(),
        });
        Ok(())
    }

    /// An announcement: ignored without a hash; a new one marks the sender synced and goes up.
    pub fn on_announcement(
        &self,
        sender: &str,
        announcement: &BlockAnnouncement,
    ) -> Result<(), InboundError> {
        let Some(hash) = announcement
            .block_hash
            .as_ref()
            .and_then(|h| Hash::from_proto(h).ok())
        else {
            return Ok(());
        };
        let peer = self.peer(sender)?;
        if !peer
            .knowledge()
            .try_add_known_block(hash, self.clock.now_millis())
        {
            return Ok(());
        }
        peer.knowledge().mark_sync_finished();
        self.events.publish(NetworkEvent::AnnouncementReceived {
            hash,
            height: announcement.block_height,
            sender: sender.to_owned(),
        });
        Ok(())
    }

    /// A transaction: dropped when it refers to a block far above our chain; a new one goes up.
    pub fn on_transaction(&self, sender: &str, tx: Transaction) -> Result<(), InboundError> {
        let best = self.chain.best_chain().height;
        if tx.ref_block_number > best.saturating_add(INITIAL_SYNC_OFFSET) {
            return Ok(());
        }
        let peer = self.peer(sender)?;
        let id = transaction_id(&tx)
            .map_err(|e| self.malformed(sender, "transaction", e.to_string()))?;
        if !peer
            .knowledge()
            .try_add_known_transaction(id, self.clock.now_millis())
        {
            return Ok(());
        }
        self.events.publish(NetworkEvent::TransactionReceived {
            transaction: tx,
            id,
            sender: sender.to_owned(),
        });
        Ok(())
    }

    /// A LIB announcement: ignored without a hash; otherwise the sender's LIB (if higher) and
    /// sync state are updated. Nothing goes up.
    pub fn on_lib_announcement(
        &self,
        sender: &str,
        lib: &LibAnnouncement,
    ) -> Result<(), InboundError> {
        let Some(hash) = lib.lib_hash.as_ref().and_then(|h| Hash::from_proto(h).ok()) else {
            return Ok(());
        };
        let peer = self.peer(sender)?;
        peer.knowledge().update_lib(hash, lib.lib_height);
        peer.knowledge().mark_sync_finished();
        Ok(())
    }

    /// A peer completed its handshake: the OS layer syncs toward its best chain.
    pub fn peer_connected(&self, peer: &dyn Peer) {
        let state = peer.knowledge().chain_state();
        self.events.publish(NetworkEvent::PeerConnected {
            pubkey_hex: peer.pubkey_hex().to_owned(),
            best_hash: state.best_hash,
            best_height: state.best_height,
        });
    }

    /// The boot nodes have been dialed.
    pub fn network_initialized(&self) {
        self.events.publish(NetworkEvent::NetworkInitialized);
    }
}
