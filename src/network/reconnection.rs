//! `Reconnections`: the peers waiting to be dialed again and when (C#
//! `PeerReconnectionStateProvider` and `ReconnectionService`, spec 8.2), plus our persistent
//! peers, which are never given up.
//!
//! Owns the per-endpoint retry state and the backoff rule. Pure state: the time is passed in,
//! nothing here dials, reads the clock or logs; the scheduler thread ([`crate::os::scheduler`])
//! takes the due entries, dials them and reports back.

use super::endpoint::Endpoint;
use crate::types::UnixMillis;
use parking_lot::Mutex;
use std::collections::HashMap;

/// Endpoints waiting at most; more are refused (ours: the C# map is unbounded).
pub const RECONNECTION_CAPACITY: usize = 1_024;

/// How lost peers are retried (from `[network]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconnectionPolicy {
    /// `peer_reconnection_period_ms`: the first retry comes one period after the loss, then
    /// 2, 4, 8 … periods after each failure.
    pub period_ms: i64,
    /// `maximum_reconnection_time_ms`: an entry whose next attempt would fall later than this
    /// after the loss is given up; 0 = never.
    pub max_time_ms: i64,
    /// `persistent_peers`: retried forever, their backoff capped at `persistent_max_backoff_ms`.
    pub persistent: Vec<Endpoint>,
    pub persistent_max_backoff_ms: i64,
}

/// One endpoint waiting to be dialed again (C# `ReconnectingPeer`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconnectingPeer {
    pub endpoint: Endpoint,
    /// The key the peer had ("" when it never connected, e.g. a boot node that failed at
    /// start).
    pub pubkey_hex: String,
    pub next_attempt: UnixMillis,
    pub retry_count: u32,
    pub disconnection_time: UnixMillis,
    /// Retried forever with capped backoff (persistent peers, and boot nodes while the node has
    /// no peer at all).
    pub forever: bool,
}

/// What a failed attempt led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryOutcome {
    /// Tried again at this time.
    Retry {
        next_attempt: UnixMillis,
        retry_count: u32,
    },
    /// The maximum reconnection time is over: the entry is gone.
    GaveUp,
    /// The endpoint was not waiting (cancelled meanwhile).
    NotPending,
}

/// See the module documentation.
pub struct Reconnections {
    policy: ReconnectionPolicy,
    entries: Mutex<HashMap<Endpoint, ReconnectingPeer>>,
}

impl Reconnections {
    pub fn new(policy: ReconnectionPolicy) -> Reconnections {
        Reconnections {
            policy,
            entries: Mutex::new(HashMap::new()),
        }
    }

    pub fn policy(&self) -> &ReconnectionPolicy {
        &self.policy
    }

    /// Whether `endpoint` is one of the configured persistent peers.
    pub fn is_persistent(&self, endpoint: &Endpoint) -> bool {
        self.policy.persistent.contains(endpoint)
    }

    /// Schedules the lost peer at `endpoint`: first attempt one period from `now` (C#
    /// `SchedulePeerForReconnection`). `false` when it is already waiting, or the book is full.
    pub fn schedule(&self, endpoint: &Endpoint, pubkey_hex: &str, now: UnixMillis) -> bool {
        let forever = self.is_persistent(endpoint);
        self.insert(ReconnectingPeer {
            endpoint: endpoint.clone(),
            pubkey_hex: pubkey_hex.to_owned(),
            next_attempt: now.saturating_add(self.policy.period_ms),
            retry_count: 0,
            disconnection_time: now,
            forever,
        })
    }

    /// Schedules `endpoint` for an attempt right away, retried forever (persistent peers at
    /// start, boot nodes of a node left without peers). `false` when already waiting or full.
    pub fn schedule_now(&self, endpoint: &Endpoint, now: UnixMillis) -> bool {
        self.insert(ReconnectingPeer {
            endpoint: endpoint.clone(),
            pubkey_hex: String::new(),
            next_attempt: now,
            retry_count: 0,
            disconnection_time: now,
            forever: true,
        })
    }

    fn insert(&self, entry: ReconnectingPeer) -> bool {
        let mut entries = self.entries.lock();
        if entries.contains_key(&entry.endpoint) || entries.len() >= RECONNECTION_CAPACITY {
            return false;
        }
        entries.insert(entry.endpoint.clone(), entry);
        true
    }

    /// Forgets `endpoint` (C# `CancelReconnection`); `false` if it was not waiting.
    pub fn cancel(&self, endpoint: &Endpoint) -> bool {
        self.entries.lock().remove(endpoint).is_some()
    }

    pub fn is_pending(&self, endpoint: &Endpoint) -> bool {
        self.entries.lock().contains_key(endpoint)
    }

    pub fn get(&self, endpoint: &Endpoint) -> Option<ReconnectingPeer> {
        self.entries.lock().get(endpoint).cloned()
    }

    /// The entries whose next attempt is before `max_time`, or all of them for `None` (C#
    /// `GetPeersReadyForReconnection`), soonest first.
    pub fn ready(&self, max_time: Option<UnixMillis>) -> Vec<ReconnectingPeer> {
        let mut list: Vec<ReconnectingPeer> = self
            .entries
            .lock()
            .values()
            .filter(|e| max_time.is_none_or(|t| e.next_attempt < t))
            .cloned()
            .collect();
        list.sort_by(|a, b| {
            (a.next_attempt, &a.endpoint.host).cmp(&(b.next_attempt, &b.endpoint.host))
        });
        list
    }

    /// Every waiting entry, soonest first (for operators).
    pub fn list(&self) -> Vec<ReconnectingPeer> {
        self.ready(None)
    }

    /// An attempt on `endpoint` failed at `now`: the next one comes `period × 2^retries` later
    /// (capped for entries retried forever), or the entry is given up when that is past the
    /// maximum reconnection time.
    pub fn attempt_failed(&self, endpoint: &Endpoint, now: UnixMillis) -> RetryOutcome {
        let mut entries = self.entries.lock();
        let Some(entry) = entries.get_mut(endpoint) else {
            return RetryOutcome::NotPending;
        };
        entry.retry_count = entry.retry_count.saturating_add(1);
        let mut wait = self
            .policy
            .period_ms
            .saturating_mul(2i64.saturating_pow(entry.retry_count));
        if entry.forever {
            wait = wait.min(
                self.policy
                    .persistent_max_backoff_ms
                    .max(self.policy.period_ms),
            );
        }
        entry.next_attempt = now.saturating_add(wait);
        let deadline = entry
            .disconnection_time
            .saturating_add(self.policy.max_time_ms);
        if !entry.forever && self.policy.max_time_ms != 0 && entry.next_attempt > deadline {
            entries.remove(endpoint);
            return RetryOutcome::GaveUp;
        }
        RetryOutcome::Retry {
            next_attempt: entry.next_attempt,
            retry_count: entry.retry_count,
        }
    }

    pub fn len(&self) -> usize {
        self.entries.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PERIOD: i64 = 60_000;
    const DAY: i64 = 86_400_000;

    fn ep(s: &str) -> Endpoint {
        Endpoint::parse(s).unwrap()
    }

    fn book(persistent: &[&str]) -> Reconnections {
        Reconnections::new(ReconnectionPolicy {
            period_ms: PERIOD,
            max_time_ms: DAY,
            persistent: persistent.iter().map(|s| ep(s)).collect(),
            persistent_max_backoff_ms: 10 * PERIOD,
        })
    }

    /// Scenarios 112 and 113: one entry per endpoint, ready filter, cancel.
    #[test]
    fn schedule_once_filter_by_next_attempt_and_cancel() {
        let book = book(&[]);
        let a = ep("10.0.0.1:6800");
        assert!(book.schedule(&a, "aa", 1_000));
        assert!(!book.schedule(&a, "aa", 2_000), "already scheduled");
        let entry = book.get(&a).unwrap();
        assert_eq!(
            (
                entry.next_attempt,
                entry.retry_count,
                entry.disconnection_time
            ),
            (1_000 + PERIOD, 0, 1_000)
        );
        assert!(
            book.ready(Some(1_000 + PERIOD)).is_empty(),
            "strictly before"
        );
        assert_eq!(book.ready(Some(1_001 + PERIOD)).len(), 1);
        assert_eq!(book.ready(Some(1_000 + 2 * 60_000 + PERIOD)).len(), 1);
        assert_eq!(book.ready(None).len(), 1);
        assert!(book.cancel(&a));
        assert!(!book.cancel(&a));
        assert!(!book.cancel(&ep("10.0.0.9:1")), "unknown");
    }

    /// Scenario 139: a failure doubles the wait (2^retries periods).
    #[test]
    fn failures_back_off_exponentially() {
        let book = book(&[]);
        let a = ep("10.0.0.1:6800");
        book.schedule(&a, "aa", 0);
        let now = PERIOD;
        assert_eq!(
            book.attempt_failed(&a, now),
            RetryOutcome::Retry {
                next_attempt: now + 2 * PERIOD,
                retry_count: 1
            }
        );
        let now = 3 * PERIOD;
        match book.attempt_failed(&a, now) {
            RetryOutcome::Retry {
                next_attempt,
                retry_count,
            } => {
                assert_eq!(retry_count, 2);
                assert_eq!(next_attempt, now + 4 * PERIOD);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            book.attempt_failed(&ep("1.1.1.1:1"), now),
            RetryOutcome::NotPending
        );
    }

    /// Scenario 140: past the maximum reconnection time the entry is given up; 0 never gives up.
    #[test]
    fn gives_up_after_the_maximum_time_unless_it_is_zero() {
        let book = book(&[]);
        let a = ep("10.0.0.1:6800");
        book.schedule(&a, "aa", 0);
        let mut outcome = RetryOutcome::NotPending;
        let mut now = 0;
        for _ in 0..20 {
            now += PERIOD;
            outcome = book.attempt_failed(&a, now);
            if outcome == RetryOutcome::GaveUp {
                break;
            }
        }
        assert_eq!(outcome, RetryOutcome::GaveUp);
        assert!(!book.is_pending(&a));
        assert!(now <= DAY, "given up before a day of attempts");

        let never = Reconnections::new(ReconnectionPolicy {
            max_time_ms: 0,
            ..book.policy().clone()
        });
        never.schedule(&a, "aa", 0);
        for i in 0..100 {
            assert!(matches!(
                never.attempt_failed(&a, i * DAY),
                RetryOutcome::Retry { .. }
            ));
        }
    }

    #[test]
    fn persistent_peers_are_retried_forever_with_capped_backoff() {
        let book = book(&["10.0.0.2:6800"]);
        let p = ep("10.0.0.2:6800");
        assert!(book.is_persistent(&p));
        book.schedule(&p, "pp", 0);
        let mut now = 0;
        for _ in 0..200 {
            now += DAY;
            match book.attempt_failed(&p, now) {
                RetryOutcome::Retry { next_attempt, .. } => {
                    assert!(next_attempt - now <= 10 * PERIOD)
                }
                other => panic!("{other:?}"),
            }
        }
        let b = ep("10.0.0.3:6800");
        assert!(book.schedule_now(&b, 5));
        assert_eq!(book.ready(Some(6)).len(), 1, "due at once");
        assert!(book.get(&b).unwrap().forever);
    }

    #[test]
    fn the_book_is_bounded() {
        let book = book(&[]);
        for i in 0..RECONNECTION_CAPACITY {
            let e = Endpoint {
                host: format!("10.1.{}.{}", i / 256, i % 256),
                port: 1,
            };
            assert!(book.schedule(&e, "k", 0));
        }
        assert!(!book.schedule(&ep("10.9.9.9:1"), "k", 0));
        assert_eq!(book.len(), RECONNECTION_CAPACITY);
    }
}
