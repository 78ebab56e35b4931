//! Chain event subscribers: one bounded queue each, never blocking the sender.
//!
//! Owns the subscriber list and the drop accounting. It must not block: a full queue loses the
//! event for that subscriber only, which is counted and logged (the first drop and then every
//! power of two, so a stuck subscriber cannot flood the log).

use super::ChainEvent;
use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};
use log::warn;
use parking_lot::Mutex;

struct Subscriber {
    /// Which subscriber (in subscription order), for the log.
    id: u64,
    tx: Sender<ChainEvent>,
    dropped: u64,
}

/// The live subscribers. Subscribers whose receiver is gone are removed on the next send.
#[derive(Default)]
pub(super) struct Subscribers {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    list: Vec<Subscriber>,
    next_id: u64,
    dropped_total: u64,
}

impl Subscribers {
    /// A new subscriber with a queue of `capacity` events (at least 1).
    pub fn subscribe(&self, capacity: usize) -> Receiver<ChainEvent> {
        let (tx, rx) = bounded(capacity.max(1));
        let mut inner = self.inner.lock();
        let id = inner.next_id;
        inner.next_id += 1;
        inner.list.push(Subscriber { id, tx, dropped: 0 });
        rx
    }

    /// Offers each event to every subscriber, in order, without waiting.
    pub fn send(&self, events: &[ChainEvent]) {
        if events.is_empty() {
            return;
        }
        let mut inner = self.inner.lock();
        let mut dropped_now = 0;
        inner.list.retain_mut(|s| {
            for event in events {
                match s.tx.try_send(*event) {
                    Ok(()) => {}
                    Err(TrySendError::Full(_)) => {
                        s.dropped += 1;
                        dropped_now += 1;
                        if s.dropped.is_power_of_two() {
                            warn!(
                                "chain event subscriber {} is full: {} events dropped so far (latest {event:?})",
                                s.id, s.dropped
                            );
                        }
                    }
                    Err(TrySendError::Disconnected(_)) => return false,
                }
            }
            true
        });
        inner.dropped_total += dropped_now;
    }

    /// Events dropped so far because a subscriber's queue was full, over all subscribers.
    pub fn dropped_total(&self) -> u64 {
        self.inner.lock().dropped_total
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Hash;

    fn accepted(height: i64) -> ChainEvent {
        ChainEvent::BlockAccepted {
            hash: Hash::ZERO,
            height,
        }
    }

    #[test]
    fn full_queues_drop_and_count_closed_ones_are_removed() {
        let subs = Subscribers::default();
        let small = subs.subscribe(0);
        let big = subs.subscribe(10);
        let gone = subs.subscribe(10);
        drop(gone);
        subs.send(&[accepted(2), accepted(3), accepted(4)]);
        assert_eq!(small.try_iter().collect::<Vec<_>>(), vec![accepted(2)]);
        assert_eq!(big.try_iter().count(), 3);
        assert_eq!(subs.dropped_total(), 2);
        assert_eq!(subs.inner.lock().list.len(), 2);
    }
}
