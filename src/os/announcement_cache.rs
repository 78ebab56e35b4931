//! `AnnouncementCache`: which peers announced which block (C# `AnnouncementCacheProvider`,
//! spec 5.6), so a block is fetched once, from its first announcer, and the later announcers
//! are the alternates when that fetch fails.
//!
//! Owns a bounded map (the last [`ANNOUNCEMENT_CACHE_CAPACITY`] hashes, each with at most
//! [`MAX_ALTERNATES`] announcers). It must not fetch anything.

use crate::types::Hash;
use parking_lot::Mutex;
use std::collections::{HashMap, VecDeque};

/// Block hashes remembered (C#: the last 100).
pub const ANNOUNCEMENT_CACHE_CAPACITY: usize = 100;
/// Alternate announcers kept per block; more are ignored.
pub const MAX_ALTERNATES: usize = 32;

struct Entry {
    /// Announcers not handed out yet, in order of arrival.
    alternates: VecDeque<String>,
    /// Every alternate was handed out and none is left: the next announcer starts a new fetch
    /// (C# returns true when the sender queue is empty).
    exhausted: bool,
}

struct Inner {
    entries: HashMap<Hash, Entry>,
    /// Insertion order, for forgetting the oldest.
    order: VecDeque<Hash>,
}

/// See the module documentation.
pub struct AnnouncementCache {
    capacity: usize,
    inner: Mutex<Inner>,
}

impl AnnouncementCache {
    pub fn new(capacity: usize) -> AnnouncementCache {
        AnnouncementCache {
            capacity: capacity.max(1),
            inner: Mutex::new(Inner {
                entries: HashMap::new(),
                order: VecDeque::new(),
            }),
        }
    }

    /// Records that `sender` announced `hash`. True when the caller should fetch from `sender`
    /// now: the first sighting of the hash, or a new announcer after every earlier one failed.
    /// Otherwise `sender` is queued as an alternate (unless already queued).
    pub fn add(&self, hash: Hash, _height: i64, sender: &str) -> bool {
        let mut inner = self.inner.lock();
        if let Some(entry) = inner.entries.get_mut(&hash) {
            if entry.exhausted {
                entry.exhausted = false;
                return true;
            }
            if entry.alternates.len() < MAX_ALTERNATES
                && !entry.alternates.iter().any(|s| s == sender)
            {
                entry.alternates.push_back(sender.to_owned());
            }
            return false;
        }
        inner.order.push_back(hash);
        while inner.order.len() > self.capacity {
            if let Some(old) = inner.order.pop_front() {
                inner.entries.remove(&old);
            }
        }
        inner.entries.insert(
            hash,
            Entry {
                alternates: VecDeque::new(),
                exhausted: false,
            },
        );
        true
    }

    /// Takes the next alternate announcer of `hash`; `None` when there is none left (the next
    /// announcer then starts a new fetch) or the hash is unknown.
    pub fn next_alternate(&self, hash: &Hash) -> Option<String> {
        let mut inner = self.inner.lock();
        let entry = inner.entries.get_mut(hash)?;
        let next = entry.alternates.pop_front();
        if next.is_none() {
            entry.exhausted = true;
        }
        next
    }

    pub fn len(&self) -> usize {
        self.inner.lock().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_announcer_fetches_the_others_are_alternates_in_order() {
        let cache = AnnouncementCache::new(10);
        let h = Hash([1; 32]);
        assert!(cache.add(h, 5, "a"));
        assert!(!cache.add(h, 5, "b"));
        assert!(!cache.add(h, 5, "c"));
        assert!(!cache.add(h, 5, "b"), "listed once");
        assert_eq!(cache.next_alternate(&h).as_deref(), Some("b"));
        assert_eq!(cache.next_alternate(&h).as_deref(), Some("c"));
        assert_eq!(cache.next_alternate(&h), None);
        // Everyone failed: the next announcer starts a new fetch.
        assert!(cache.add(h, 5, "d"));
        assert!(!cache.add(h, 5, "e"));
        assert_eq!(cache.next_alternate(&Hash([2; 32])), None);
    }

    #[test]
    fn forgets_the_oldest_hashes_and_bounds_alternates() {
        let cache = AnnouncementCache::new(2);
        for i in 0..3u8 {
            assert!(cache.add(Hash([i; 32]), 1, "a"));
        }
        assert_eq!(cache.len(), 2);
        assert!(cache.add(Hash([0; 32]), 1, "a"), "forgotten, so new again");
        let h = Hash([9; 32]);
        cache.add(h, 1, "first");
        for i in 0..(MAX_ALTERNATES + 10) {
            cache.add(h, 1, &format!("p{i}"));
        }
        let mut n = 0;
        while cache.next_alternate(&h).is_some() {
            n += 1;
        }
        assert_eq!(n, MAX_ALTERNATES);
    }
}
