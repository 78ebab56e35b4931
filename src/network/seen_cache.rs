//! TEMPORARY STUB (replaced by the real module before commit).
use crate::types::{Hash, UnixMillis};
pub const KNOWN_BLOCKS_CAPACITY: usize = 1024;
pub const KNOWN_BLOCKS_EXPIRY_MS: i64 = 100_000;
pub const KNOWN_TRANSACTIONS_CAPACITY: usize = 10_000;
pub const KNOWN_TRANSACTIONS_EXPIRY_MS: i64 = 10_000;
pub struct SeenCache {
    set: parking_lot::Mutex<std::collections::HashSet<Hash>>,
}
impl SeenCache {
    pub fn new(_capacity: usize, _expiry_ms: i64) -> SeenCache {
        SeenCache {
            set: Default::default(),
        }
    }
    pub fn known_blocks() -> SeenCache {
        Self::new(0, 0)
    }
    pub fn known_transactions() -> SeenCache {
        Self::new(0, 0)
    }
    pub fn try_add(&self, hash: Hash, _now: UnixMillis) -> bool {
        self.set.lock().insert(hash)
    }
    pub fn contains(&self, hash: &Hash) -> bool {
        self.set.lock().contains(hash)
    }
    pub fn contains_fresh(&self, hash: &Hash, _now: UnixMillis) -> bool {
        self.contains(hash)
    }
    pub fn len(&self) -> usize {
        self.set.lock().len()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn evicted(&self) -> u64 {
        0
    }
}
