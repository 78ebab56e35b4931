//! Penalties: what a peer's misbehaviour costs it. Offences are reported from wherever they are
//! seen (receive rules, the event thread, block sync, requests) through a [`PenaltyReporter`];
//! the scheduler thread judges them with [`Penalties`] and enforces the verdict.
//!
//! Two rules decide, the C# node's first:
//! - invalid transactions (spec 8.4): more than `peer_invalid_transaction_limit` distinct ones
//!   from one host within `peer_invalid_transaction_timeout_ms` ban the host; a peer that served
//!   inconsistent blocks (spec 8.5) bans its host at once;
//! - reputation (ours, after reth and Substrate): each peer has a score that starts at 0, drops
//!   by the offence's weight and decays back toward 0 with a half-life. At or below
//!   `disconnect_threshold` the peer is dropped, at or below `ban_threshold` its host is banned.
//!
//! Owns the counters and scores. Pure state: the time is passed in; nothing here touches the
//! pool, the transport or the log.

use crate::types::{Hash, UnixMillis};
use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Offence reports waiting for the scheduler at most; more are dropped (counted).
pub const PENALTY_QUEUE: usize = 4_096;
/// Peers with a score kept at most; past it the score nearest 0 is forgotten.
pub const MAX_SCORED_PEERS: usize = 4_096;
/// Hosts with invalid-transaction records kept at most; past it the quietest is forgotten.
pub const MAX_TRACKED_HOSTS: usize = 4_096;

/// Something a peer did wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offence {
    /// A transaction no honest C# node relays: malformed, a malformed address, over the size
    /// limit, or a bad signature (see `os::tx_rules`).
    InvalidTransaction(Hash),
    /// A block or message whose signature does not verify, or a block its signer may not
    /// produce (the AEDPoS rules refuse it: not a miner, outside its slot, consensus data
    /// that does not parse or contradicts the round).
    BadSignature,
    /// A message that does not decode or breaks the receive rules.
    MalformedMessage,
    /// Served blocks that do not fit together (C# abnormal peer).
    InconsistentBlocks,
    /// A request to it timed out.
    RequestTimeout,
}

impl Offence {
    pub fn name(&self) -> &'static str {
        match self {
            Offence::InvalidTransaction(_) => "invalid transaction",
            Offence::BadSignature => "bad signature",
            Offence::MalformedMessage => "malformed message",
            Offence::InconsistentBlocks => "inconsistent blocks",
            Offence::RequestTimeout => "request timeout",
        }
    }
}

/// One reported offence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PenaltyReport {
    pub pubkey_hex: String,
    pub offence: Offence,
    /// What exactly happened, for the log.
    pub detail: String,
}

/// The sending end of the offence queue: never blocks; a full queue drops the report (counted).
#[derive(Clone)]
pub struct PenaltyReporter {
    tx: Sender<PenaltyReport>,
    dropped: Arc<AtomicU64>,
}

impl PenaltyReporter {
    pub fn report(&self, pubkey_hex: &str, offence: Offence, detail: impl Into<String>) {
        let report = PenaltyReport {
            pubkey_hex: pubkey_hex.to_owned(),
            offence,
            detail: detail.into(),
        };
        match self.tx.try_send(report) {
            Ok(()) | Err(TrySendError::Disconnected(_)) => {}
            Err(TrySendError::Full(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Reports dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// A reporter and the receiving end the scheduler drains.
pub fn penalty_queue(capacity: usize) -> (PenaltyReporter, Receiver<PenaltyReport>) {
    let (tx, rx) = bounded(capacity.max(1));
    (
        PenaltyReporter {
            tx,
            dropped: Arc::new(AtomicU64::new(0)),
        },
        rx,
    )
}

/// How much each offence costs (score points; the score starts at 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffenceWeights {
    pub invalid_transaction: u32,
    pub bad_signature: u32,
    pub malformed_message: u32,
    pub inconsistent_blocks: u32,
    pub request_timeout: u32,
}

impl OffenceWeights {
    fn of(&self, offence: &Offence) -> u32 {
        match offence {
            Offence::InvalidTransaction(_) => self.invalid_transaction,
            Offence::BadSignature => self.bad_signature,
            Offence::MalformedMessage => self.malformed_message,
            Offence::InconsistentBlocks => self.inconsistent_blocks,
            Offence::RequestTimeout => self.request_timeout,
        }
    }
}

/// The `[reputation]` settings and the C# invalid-transaction rule's.
#[derive(Debug, Clone, PartialEq)]
pub struct PenaltySettings {
    /// `peer_invalid_transaction_limit` (C# default 50).
    pub invalid_transaction_limit: usize,
    /// `peer_invalid_transaction_timeout_ms` (C# default 10 000).
    pub invalid_transaction_window_ms: i64,
    /// How long a banned host is refused (C# `DefaultPeerRemovalSeconds`, 300 s).
    pub ban_duration_ms: i64,
    /// Time for a score to halve on its way back to 0.
    pub half_life_ms: i64,
    /// At or below this score (negative) the peer is dropped.
    pub disconnect_threshold: i64,
    /// At or below this score (at most `disconnect_threshold`) its host is banned.
    pub ban_threshold: i64,
    pub weights: OffenceWeights,
}

/// What to do about a peer after an offence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Keep,
    /// Drop the peer (no reconnection).
    Disconnect {
        reason: String,
    },
    /// Drop every peer on the host and refuse the host for `duration_ms`.
    Ban {
        reason: String,
        duration_ms: i64,
    },
}

#[derive(Debug, Clone, Copy)]
struct Score {
    value: f64,
    at: UnixMillis,
}

/// Invalid transactions per host within the window (C# `PeerInvalidTransactionProvider`).
#[derive(Debug, Default)]
pub struct InvalidTransactions {
    hosts: HashMap<String, VecDeque<(Hash, UnixMillis)>>,
}

impl InvalidTransactions {
    /// Records `id` from `host` at `now`; `true` while the host is within the limit (C#
    /// `TryMarkInvalidTransaction`): an id already recorded changes nothing, records older than
    /// the window are purged first.
    pub fn mark(
        &mut self,
        host: &str,
        id: Hash,
        now: UnixMillis,
        limit: usize,
        window_ms: i64,
    ) -> bool {
        if !self.hosts.contains_key(host) && self.hosts.len() >= MAX_TRACKED_HOSTS {
            let quietest = self
                .hosts
                .iter()
                .min_by_key(|(_, r)| r.back().map(|(_, t)| *t).unwrap_or(i64::MIN))
                .map(|(h, _)| h.clone());
            if let Some(h) = quietest {
                self.hosts.remove(&h);
            }
        }
        let records = self.hosts.entry(host.to_owned()).or_default();
        if records.iter().any(|(known, _)| *known == id) {
            return true;
        }
        while records
            .front()
            .is_some_and(|(_, t)| t.saturating_add(window_ms) < now)
        {
            records.pop_front();
        }
        records.push_back((id, now));
        records.len() <= limit
    }

    /// Forgets the host's records (C# `TryRemoveInvalidRecord`).
    pub fn clear(&mut self, host: &str) -> bool {
        self.hosts.remove(host).is_some()
    }
}

/// Scores and counters (see the module documentation).
pub struct Penalties {
    settings: PenaltySettings,
    scores: HashMap<String, Score>,
    invalid: InvalidTransactions,
}

impl Penalties {
    pub fn new(settings: PenaltySettings) -> Penalties {
        Penalties {
            settings,
            scores: HashMap::new(),
            invalid: InvalidTransactions::default(),
        }
    }

    pub fn settings(&self) -> &PenaltySettings {
        &self.settings
    }

    fn decayed(&self, score: Score, now: UnixMillis) -> f64 {
        let elapsed = (now - score.at).max(0) as f64;
        let half_life = self.settings.half_life_ms.max(1) as f64;
        score.value * 0.5f64.powf(elapsed / half_life)
    }

    /// The peer's score at `now` (0 for a peer never penalised), rounded toward 0.
    pub fn score(&self, pubkey_hex: &str, now: UnixMillis) -> i64 {
        self.scores
            .get(pubkey_hex)
            .map(|s| self.decayed(*s, now).trunc() as i64)
            .unwrap_or(0)
    }

    /// Lowers the score of `pubkey_hex` by `weight`; returns the new score.
    fn lower(&mut self, pubkey_hex: &str, weight: u32, now: UnixMillis) -> i64 {
        if !self.scores.contains_key(pubkey_hex) && self.scores.len() >= MAX_SCORED_PEERS {
            let nearest_zero = self
                .scores
                .iter()
                .map(|(k, s)| (k.clone(), self.decayed(*s, now)))
                .max_by(|a, b| a.1.total_cmp(&b.1))
                .map(|(k, _)| k);
            if let Some(k) = nearest_zero {
                self.scores.remove(&k);
            }
        }
        let current = self
            .scores
            .get(pubkey_hex)
            .map(|s| self.decayed(*s, now))
            .unwrap_or(0.0);
        let value = (current - f64::from(weight)).max(i64::MIN as f64 / 2.0);
        self.scores
            .insert(pubkey_hex.to_owned(), Score { value, at: now });
        value.trunc() as i64
    }

    /// Judges `offence` by the peer `pubkey_hex` on `host` at `now`.
    pub fn judge(
        &mut self,
        pubkey_hex: &str,
        host: &str,
        offence: Offence,
        now: UnixMillis,
    ) -> Verdict {
        let weight = self.settings.weights.of(&offence);
        let score = self.lower(pubkey_hex, weight, now);
        let ban = |reason: String| Verdict::Ban {
            reason,
            duration_ms: self.settings.ban_duration_ms,
        };
        match offence {
            Offence::InconsistentBlocks => {
                return ban("served inconsistent blocks".into());
            }
            Offence::InvalidTransaction(id) => {
                let within = self.invalid.mark(
                    host,
                    id,
                    now,
                    self.settings.invalid_transaction_limit,
                    self.settings.invalid_transaction_window_ms,
                );
                if !within {
                    self.invalid.clear(host);
                    return ban(format!(
                        "more than {} invalid transactions within {} ms",
                        self.settings.invalid_transaction_limit,
                        self.settings.invalid_transaction_window_ms
                    ));
                }
            }
            _ => {}
        }
        if score <= self.settings.ban_threshold {
            ban(format!(
                "reputation {score} at or below the ban threshold {} (last: {})",
                self.settings.ban_threshold,
                offence.name()
            ))
        } else if score <= self.settings.disconnect_threshold {
            Verdict::Disconnect {
                reason: format!(
                    "reputation {score} at or below the disconnect threshold {} (last: {})",
                    self.settings.disconnect_threshold,
                    offence.name()
                ),
            }
        } else {
            Verdict::Keep
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> Hash {
        Hash::from_slice(&[n; 32]).unwrap()
    }

    pub(crate) fn settings() -> PenaltySettings {
        PenaltySettings {
            invalid_transaction_limit: 5,
            invalid_transaction_window_ms: 1_000,
            ban_duration_ms: 300_000,
            half_life_ms: 60_000,
            disconnect_threshold: -1_000,
            ban_threshold: -2_000,
            weights: OffenceWeights {
                invalid_transaction: 0,
                bad_signature: 500,
                malformed_message: 200,
                inconsistent_blocks: 1_000,
                request_timeout: 50,
            },
        }
    }

    /// Scenario 126: limit 5, repeats count once, other hosts unaffected, clear starts over.
    #[test]
    fn invalid_transactions_are_limited_per_host() {
        let mut t = InvalidTransactions::default();
        for n in 0..5 {
            assert!(t.mark("h", id(n), 0, 5, 1_000));
        }
        assert!(t.mark("h", id(0), 0, 5, 1_000), "a repeat changes nothing");
        assert!(!t.mark("h", id(5), 0, 5, 1_000), "sixth distinct");
        assert!(t.mark("other", id(5), 0, 5, 1_000));
        assert!(t.clear("h"));
        assert!(t.mark("h", id(9), 0, 5, 1_000));
    }

    /// Scenario 127: the window slides.
    #[test]
    fn old_records_leave_the_window() {
        let mut t = InvalidTransactions::default();
        for n in 0..6 {
            t.mark("h", id(n), 0, 5, 1_000);
        }
        assert!(t.mark("h", id(7), 1_500, 5, 1_000));
    }

    /// Scenarios 128–130: the sixth distinct invalid transaction from one host bans it, shared
    /// by peers on that host; one transaction reported six times does not.
    #[test]
    fn the_invalid_transaction_rule_bans_the_host() {
        let mut p = Penalties::new(settings());
        for n in 0..5 {
            assert_eq!(
                p.judge("k1", "h", Offence::InvalidTransaction(id(n)), 0),
                Verdict::Keep
            );
        }
        assert!(matches!(
            p.judge("k1", "h", Offence::InvalidTransaction(id(5)), 0),
            Verdict::Ban {
                duration_ms: 300_000,
                ..
            }
        ));

        let mut p = Penalties::new(settings());
        for n in 0..4 {
            p.judge("a", "shared", Offence::InvalidTransaction(id(n)), 0);
        }
        assert_eq!(
            p.judge("b", "shared", Offence::InvalidTransaction(id(4)), 0),
            Verdict::Keep
        );
        assert!(matches!(
            p.judge("b", "shared", Offence::InvalidTransaction(id(5)), 0),
            Verdict::Ban { .. }
        ));

        let mut p = Penalties::new(settings());
        for _ in 0..6 {
            assert_eq!(
                p.judge("k", "h", Offence::InvalidTransaction(id(1)), 0),
                Verdict::Keep
            );
        }
    }

    #[test]
    fn inconsistent_blocks_ban_at_once() {
        let mut p = Penalties::new(settings());
        assert!(matches!(
            p.judge("k", "h", Offence::InconsistentBlocks, 0),
            Verdict::Ban { .. }
        ));
    }

    #[test]
    fn scores_drop_by_weight_and_decay_by_half_life() {
        let mut p = Penalties::new(settings());
        assert_eq!(
            p.judge("k", "h", Offence::MalformedMessage, 0),
            Verdict::Keep
        );
        assert_eq!(p.score("k", 0), -200);
        assert_eq!(p.score("k", 60_000), -100);
        assert_eq!(p.score("k", 600_000), 0);
        assert_eq!(p.score("never", 0), 0);
    }

    #[test]
    fn thresholds_disconnect_then_ban() {
        let mut p = Penalties::new(settings());
        assert_eq!(p.judge("k", "h", Offence::BadSignature, 0), Verdict::Keep);
        assert!(matches!(
            p.judge("k", "h", Offence::BadSignature, 0),
            Verdict::Disconnect { .. }
        ));
        p.judge("k", "h", Offence::BadSignature, 0);
        assert!(matches!(
            p.judge("k", "h", Offence::BadSignature, 0),
            Verdict::Ban { .. }
        ));
    }

    /// An honest peer's occasional timeouts (one every 10 s, for an hour) never reach the
    /// disconnect threshold with the default weights.
    #[test]
    fn occasional_timeouts_are_forgiven() {
        let mut p = Penalties::new(settings());
        for i in 0..360 {
            assert_eq!(
                p.judge("k", "h", Offence::RequestTimeout, i * 10_000),
                Verdict::Keep
            );
        }
    }

    #[test]
    fn scores_and_hosts_are_bounded() {
        let mut p = Penalties::new(settings());
        for i in 0..MAX_SCORED_PEERS + 10 {
            p.judge(&format!("k{i}"), "h", Offence::RequestTimeout, 0);
        }
        assert_eq!(p.scores.len(), MAX_SCORED_PEERS);
        let mut t = InvalidTransactions::default();
        for i in 0..MAX_TRACKED_HOSTS + 10 {
            t.mark(&format!("h{i}"), id(1), i as i64, 5, 1_000);
        }
        assert_eq!(t.hosts.len(), MAX_TRACKED_HOSTS);
    }

    #[test]
    fn a_full_queue_drops_and_counts() {
        let (reporter, rx) = penalty_queue(1);
        reporter.report("k", Offence::MalformedMessage, "x");
        reporter.report("k", Offence::MalformedMessage, "y");
        assert_eq!(reporter.dropped(), 1);
        assert_eq!(rx.try_recv().unwrap().detail, "x");
    }
}
