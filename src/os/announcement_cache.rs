//! TEMPORARY STUB.
use crate::types::Hash;
pub const ANNOUNCEMENT_CACHE_CAPACITY: usize = 100;
pub struct AnnouncementCache {
    m: parking_lot::Mutex<std::collections::HashMap<Hash, Vec<String>>>,
}
impl AnnouncementCache {
    pub fn new(_capacity: usize) -> AnnouncementCache {
        AnnouncementCache {
            m: Default::default(),
        }
    }
    pub fn add(&self, hash: Hash, _height: i64, sender: &str) -> bool {
        let mut m = self.m.lock();
        match m.get_mut(&hash) {
            Some(v) => {
                v.push(sender.into());
                false
            }
            None => {
                m.insert(hash, vec![]);
                true
            }
        }
    }
    pub fn next_alternate(&self, hash: &Hash) -> Option<String> {
        self.m.lock().get_mut(hash).and_then(|v| v.pop())
    }
    pub fn len(&self) -> usize {
        self.m.lock().len()
    }
}
