//! `SeenCache`: the per-peer record of block hashes or transaction ids a peer is known to have
//! (C# `BoundedExpirationCache`, spec 5.3), bounded in count and in age.
//!
//! Owns only the set and its order of insertion. It must not read the clock (time is an
//! argument) nor decide what to do with a hit.
//!
//! One deliberate difference (spec 12 quirk 7): the C# cache refuses new entries while it is
//! full of unexpired ones, and the receive path then drops real traffic as "already known"
//! (more than 10 000 transactions from one peer within 10 s are discarded). This one evicts its
//! oldest entry instead; a C# peer cannot tell, and no item is lost.

use crate::types::{Hash, UnixMillis};
use parking_lot::Mutex;
use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};

/// Known blocks per peer (C# `GrpcPeer.BlockCacheMaxItems`).
pub const KNOWN_BLOCKS_CAPACITY: usize = 1024;
/// How long a known block is remembered, ms (C# `QueuedBlockTimeout`).
pub const KNOWN_BLOCKS_EXPIRY_MS: i64 = 100_000;
/// Known transactions per peer (C# `TransactionCacheMaxItems`).
pub const KNOWN_TRANSACTIONS_CAPACITY: usize = 10_000;
/// How long a known transaction is remembered, ms (C# `QueuedTransactionTimeout`).
pub const KNOWN_TRANSACTIONS_EXPIRY_MS: i64 = 10_000;

struct Entries {
    /// Insertion order with the time of insertion; `set` holds the same hashes.
    order: VecDeque<(Hash, UnixMillis)>,
    set: HashSet<Hash>,
}

/// See the module documentation.
pub struct SeenCache {
    capacity: usize,
    expiry_ms: i64,
    entries: Mutex<Entries>,
    evicted: AtomicU64,
}

impl SeenCache {
    /// At most `capacity` hashes (0 is taken as 1), each for `expiry_ms`.
    pub fn new(capacity: usize, expiry_ms: i64) -> SeenCache {
        SeenCache {
            capacity: capacity.max(1),
            expiry_ms,
            entries: Mutex::new(Entries {
                order: VecDeque::new(),
                set: HashSet::new(),
            }),
            evicted: AtomicU64::new(0),
        }
    }

    pub fn known_blocks() -> SeenCache {
        SeenCache::new(KNOWN_BLOCKS_CAPACITY, KNOWN_BLOCKS_EXPIRY_MS)
    }

    pub fn known_transactions() -> SeenCache {
        SeenCache::new(KNOWN_TRANSACTIONS_CAPACITY, KNOWN_TRANSACTIONS_EXPIRY_MS)
    }

    /// Drops the entries strictly older than the expiry, oldest first.
    fn purge(&self, entries: &mut Entries, now: UnixMillis) {
        while let Some(&(hash, time)) = entries.order.front() {
            if time.saturating_add(self.expiry_ms) >= now {
                break;
            }
            entries.order.pop_front();
            entries.set.remove(&hash);
        }
    }

    /// Purges expired entries, then: present → false; else inserts (evicting the oldest when
    /// full) → true.
    pub fn try_add(&self, hash: Hash, now: UnixMillis) -> bool {
        let mut entries = self.entries.lock();
        self.purge(&mut entries, now);
        if entries.set.contains(&hash) {
            return false;
        }
        if entries.order.len() >= self.capacity {
            if let Some((oldest, _)) = entries.order.pop_front() {
                entries.set.remove(&oldest);
                self.evicted.fetch_add(1, Ordering::Relaxed);
            }
        }
        entries.order.push_back((hash, now));
        entries.set.insert(hash);
        true
    }

    /// Whether `hash` is recorded, expired or not (C# `HasHash` without cleaning).
    pub fn contains(&self, hash: &Hash) -> bool {
        self.entries.lock().set.contains(hash)
    }

    /// Whether `hash` is recorded and unexpired at `now`.
    pub fn contains_fresh(&self, hash: &Hash, now: UnixMillis) -> bool {
        let mut entries = self.entries.lock();
        self.purge(&mut entries, now);
        entries.set.contains(hash)
    }

    pub fn len(&self) -> usize {
        self.entries.lock().order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Entries evicted because the cache was full.
    pub fn evicted(&self) -> u64 {
        self.evicted.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(n: u32) -> Hash {
        let mut b = [0u8; 32];
        b[..4].copy_from_slice(&n.to_be_bytes());
        Hash(b)
    }

    #[test]
    fn absent_then_added_then_present() {
        let cache = SeenCache::new(10, 10_000);
        assert!(!cache.contains(&h(1)));
        assert!(cache.try_add(h(1), 0));
        assert!(cache.contains(&h(1)));
        assert!(!cache.try_add(h(1), 1));
    }

    #[test]
    fn expired_entries_stay_until_a_cleaning_call() {
        let cache = SeenCache::new(10, 4);
        cache.try_add(h(1), 0);
        assert!(
            cache.contains(&h(1)),
            "a lookup without cleaning still sees it"
        );
        assert!(!cache.contains_fresh(&h(1), 1_000));
        assert!(cache.is_empty());
    }

    #[test]
    fn expiry_is_strictly_older_than_the_window() {
        let cache = SeenCache::new(10, 100);
        cache.try_add(h(1), 0);
        assert!(cache.contains_fresh(&h(1), 100));
        assert!(!cache.contains_fresh(&h(1), 101));
    }

    #[test]
    fn a_new_add_after_expiry_clears_the_old_ones() {
        let cache = SeenCache::new(10, 1_000);
        for i in 0..10 {
            assert!(cache.try_add(h(i), 0));
        }
        assert!(cache.try_add(h(99), 1_500));
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.evicted(), 0);
    }

    #[test]
    fn a_full_cache_evicts_its_oldest_entry_instead_of_refusing() {
        let cache = SeenCache::new(2, 10_000);
        assert!(cache.try_add(h(1), 0));
        assert!(cache.try_add(h(2), 1));
        assert!(
            cache.try_add(h(3), 2),
            "the C# cache refuses here (quirk 7)"
        );
        assert!(!cache.contains(&h(1)));
        assert!(cache.contains(&h(2)) && cache.contains(&h(3)));
        assert_eq!((cache.len(), cache.evicted()), (2, 1));
    }

    #[test]
    fn capacity_zero_holds_one() {
        let cache = SeenCache::new(0, 10);
        assert!(cache.try_add(h(1), 0));
        assert!(cache.try_add(h(2), 0));
        assert_eq!(cache.len(), 1);
    }
}
