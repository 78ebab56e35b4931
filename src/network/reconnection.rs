//! Reconnection requests: the narrow interface through which a dropped peer is handed to
//! whoever re-dials it (C# `TrySchedulePeerReconnectionAsync`, spec 5.5 and 8.2), and
//! [`ReconnectionQueue`], the bounded, de-duplicated list of endpoints waiting for it.
//!
//! Owns only the hand-over. It must not dial or wait: the scheduler thread drains the queue
//! and applies the reconnection periods.

use super::endpoint::Endpoint;
use log::warn;
use parking_lot::Mutex;
use std::collections::VecDeque;

/// Endpoints waiting to be re-dialed at most; more are refused (logged).
pub const RECONNECTION_QUEUE_CAPACITY: usize = 1_024;

/// Takes peers that must be re-dialed.
pub trait ReconnectionScheduler: Send + Sync {
    /// `endpoint` (the peer `pubkey_hex`) was dropped and should be dialed again.
    fn schedule(&self, endpoint: &Endpoint, pubkey_hex: &str);
}

/// A peer waiting to be re-dialed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reconnection {
    pub endpoint: Endpoint,
    pub pubkey_hex: String,
}

/// Bounded and de-duplicated by endpoint, oldest first.
#[derive(Default)]
pub struct ReconnectionQueue {
    waiting: Mutex<VecDeque<Reconnection>>,
}

impl ReconnectionQueue {
    pub fn new() -> ReconnectionQueue {
        ReconnectionQueue::default()
    }

    /// Everything waiting, oldest first; the queue is left empty.
    pub fn take_all(&self) -> Vec<Reconnection> {
        self.waiting.lock().drain(..).collect()
    }

    pub fn len(&self) -> usize {
        self.waiting.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl ReconnectionScheduler for ReconnectionQueue {
    fn schedule(&self, endpoint: &Endpoint, pubkey_hex: &str) {
        let mut waiting = self.waiting.lock();
        if waiting.iter().any(|r| &r.endpoint == endpoint) {
            return;
        }
        if waiting.len() >= RECONNECTION_QUEUE_CAPACITY {
            warn!("reconnection queue full, not re-dialing {endpoint}");
            return;
        }
        waiting.push_back(Reconnection {
            endpoint: endpoint.clone(),
            pubkey_hex: pubkey_hex.to_owned(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_each_endpoint_once_in_order() {
        let queue = ReconnectionQueue::new();
        let a = Endpoint::parse("127.0.0.1:1").unwrap();
        let b = Endpoint::parse("127.0.0.1:2").unwrap();
        queue.schedule(&a, "aa");
        queue.schedule(&b, "bb");
        queue.schedule(&a, "aa");
        let taken = queue.take_all();
        assert_eq!(taken.len(), 2);
        assert_eq!(taken[0].endpoint, a);
        assert!(queue.is_empty());
    }
}
