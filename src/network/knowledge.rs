//! `PeerKnowledge`: what this node knows about one remote — the blocks and transactions it has
//! seen (spec 5.3), its chain tips (from its handshake, LIB from its LIB announcements), whether
//! it has finished its own initial sync (C# peer `SyncState`), and the metrics of our block
//! requests to it (spec 6.3).
//!
//! Owns that state for one peer and nothing else. Every peer kind embeds one; it must not hold
//! transport handles or decide anything (the network service and the OS layer read it).

use super::request_metrics::RequestMetrics;
use super::seen_cache::SeenCache;
use crate::pb::network_types::HandshakeData;
use crate::types::{Hash, UnixMillis};
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// The remote's chain tips as last announced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RemoteChainState {
    pub best_hash: Hash,
    pub best_height: i64,
    pub lib_hash: Hash,
    pub lib_height: i64,
}

impl RemoteChainState {
    /// The tips a handshake announces (hashes that are not 32 bytes read as zero).
    pub fn from_handshake(data: &HandshakeData) -> RemoteChainState {
        let hash = |h: Option<&crate::pb::aelf_core::Hash>| {
            h.and_then(|h| Hash::from_proto(h).ok()).unwrap_or_default()
        };
        RemoteChainState {
            best_hash: hash(data.best_chain_hash.as_ref()),
            best_height: data.best_chain_height,
            lib_hash: hash(data.last_irreversible_block_hash.as_ref()),
            lib_height: data.last_irreversible_block_height,
        }
    }
}

/// One peer's knowledge (see the module documentation).
pub struct PeerKnowledge {
    known_blocks: SeenCache,
    known_transactions: SeenCache,
    chain: Mutex<RemoteChainState>,
    /// Set when the remote sends us a block, an announcement or a LIB announcement: it is
    /// producing or relaying, so its own initial sync is over (C# `SyncState.Finished`).
    sync_finished: AtomicBool,
    metrics: RequestMetrics,
}

impl PeerKnowledge {
    pub fn new(chain: RemoteChainState) -> PeerKnowledge {
        PeerKnowledge {
            known_blocks: SeenCache::known_blocks(),
            known_transactions: SeenCache::known_transactions(),
            chain: Mutex::new(chain),
            sync_finished: AtomicBool::new(false),
            metrics: RequestMetrics::new(),
        }
    }

    /// Records that the remote knows `hash`; false if it was already recorded.
    pub fn try_add_known_block(&self, hash: Hash, now: UnixMillis) -> bool {
        self.known_blocks.try_add(hash, now)
    }

    pub fn knows_block(&self, hash: &Hash) -> bool {
        self.known_blocks.contains(hash)
    }

    /// Records that the remote knows transaction `id`; false if it was already recorded.
    pub fn try_add_known_transaction(&self, id: Hash, now: UnixMillis) -> bool {
        self.known_transactions.try_add(id, now)
    }

    pub fn knows_transaction(&self, id: &Hash) -> bool {
        self.known_transactions.contains(id)
    }

    pub fn known_blocks(&self) -> &SeenCache {
        &self.known_blocks
    }

    pub fn known_transactions(&self) -> &SeenCache {
        &self.known_transactions
    }

    pub fn chain_state(&self) -> RemoteChainState {
        *self.chain.lock()
    }

    /// Takes a LIB announced by the remote if it is higher than the one we know (C#
    /// `UpdateLastKnownLib`). True when it was taken.
    pub fn update_lib(&self, hash: Hash, height: i64) -> bool {
        let mut chain = self.chain.lock();
        if height > chain.lib_height {
            chain.lib_hash = hash;
            chain.lib_height = height;
            true
        } else {
            false
        }
    }

    pub fn mark_sync_finished(&self) {
        self.sync_finished.store(true, Ordering::Relaxed);
    }

    pub fn is_sync_finished(&self) -> bool {
        self.sync_finished.load(Ordering::Relaxed)
    }

    pub fn metrics(&self) -> &RequestMetrics {
        &self.metrics
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lib_only_moves_up() {
        let k = PeerKnowledge::new(RemoteChainState::default());
        assert!(k.update_lib(Hash([1; 32]), 100));
        assert!(k.update_lib(Hash([2; 32]), 101));
        assert!(!k.update_lib(Hash([3; 32]), 90));
        let state = k.chain_state();
        assert_eq!((state.lib_hash, state.lib_height), (Hash([2; 32]), 101));
    }

    #[test]
    fn known_caches_record_once() {
        let k = PeerKnowledge::new(RemoteChainState::default());
        let h = Hash([9; 32]);
        assert!(!k.knows_block(&h));
        assert!(k.try_add_known_block(h, 1_000));
        assert!(k.knows_block(&h));
        assert!(!k.try_add_known_block(h, 1_001));
        assert!(k.try_add_known_transaction(h, 1_000));
        assert!(!k.try_add_known_transaction(h, 1_000));
        assert!(k.knows_transaction(&h));
    }
}
