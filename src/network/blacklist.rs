//! `HostBlacklist`: hosts refused for a while, keyed by the exact host string (C#
//! `BlackListedPeerProvider`, spec 4.9 and scenario 111).
//!
//! Owns the host → (expiry, reason) map only. Pure state: the time is passed in as `now`, nothing here
//! reads the clock, disconnects a peer or logs. Bounded by [`MAX_BLACKLISTED_HOSTS`], so a flood
//! of bans cannot grow memory. Callers decide which host string to list (an IP literal for
//! inbound peers, the dialed host for outbound ones); no normalisation happens here.

use crate::types::UnixMillis;
use parking_lot::Mutex;
use std::collections::HashMap;

/// How long a removed offender is refused: five minutes, in seconds
/// (C# `NetworkConstants.DefaultPeerRemovalSeconds`; used for abnormal peers and
/// invalid-transaction offenders, spec 8.4–8.5).
pub const DEFAULT_PEER_REMOVAL_SECONDS: i64 = 300;

/// How long an operator's `DELETE /api/net/peer` refuses the host: `int.MaxValue` seconds,
/// about 68 years, i.e. for good (C# `NetAppService.RemovePeerAsync`).
pub const OPERATOR_REMOVAL_SECONDS: i64 = i32::MAX as i64;

/// Most hosts listed at once (ours; the C# map is unbounded). Past it, expired entries are
/// purged and then the entry that expires first makes room.
pub const MAX_BLACKLISTED_HOSTS: usize = 65_536;

/// Longest reason kept with a ban, in bytes (longer ones are cut at a character boundary).
pub const MAX_BAN_REASON_LEN: usize = 200;

/// One listed host, as operators see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ban {
    pub host: String,
    /// When the listing ends (unix ms).
    pub expiry: UnixMillis,
    /// Why the host was listed ("" when no reason was given).
    pub reason: String,
}

#[derive(Debug)]
struct Listing {
    expiry: UnixMillis,
    reason: String,
}

/// Host → expiry (unix ms) and reason. A host is listed while `now <= expiry` (C# `IsOverdue`
/// is `now > expiry`).
#[derive(Debug)]
pub struct HostBlacklist {
    /// Most entries kept; at least 1.
    capacity: usize,
    /// The listed hosts and when each listing ends. Behind a mutex so that the lazy removal in
    /// [`HostBlacklist::is_listed`] works through `&self`.
    hosts: Mutex<HashMap<String, Listing>>,
}

impl Default for HostBlacklist {
    fn default() -> HostBlacklist {
        HostBlacklist::with_capacity(MAX_BLACKLISTED_HOSTS)
    }
}

fn overdue(expiry: UnixMillis, now: UnixMillis) -> bool {
    now > expiry
}

impl HostBlacklist {
    /// A blacklist holding at most `capacity` hosts (at least 1).
    pub fn with_capacity(capacity: usize) -> HostBlacklist {
        HostBlacklist {
            capacity: capacity.max(1),
            hosts: Mutex::new(HashMap::new()),
        }
    }

    /// Lists `host` for `duration_ms` from `now` (C# `AddHostToBlackList`). Expired entries are
    /// purged first. A host still listed is left as it is — its expiry is **not** extended — and
    /// `false` is returned. A negative duration counts as 0; the expiry saturates instead of
    /// overflowing. When the list is full, the entry expiring first (ties: smallest host) is
    /// evicted to make room.
    pub fn add(&self, host: &str, duration_ms: i64, now: UnixMillis) -> bool {
        self.ban(host, duration_ms, "", now)
    }

    /// [`HostBlacklist::add`] with the reason operators are shown (cut to
    /// [`MAX_BAN_REASON_LEN`] bytes).
    pub fn ban(&self, host: &str, duration_ms: i64, reason: &str, now: UnixMillis) -> bool {
        let mut hosts = self.hosts.lock();
        hosts.retain(|_, l| !overdue(l.expiry, now));
        if hosts.contains_key(host) {
            return false;
        }
        while hosts.len() >= self.capacity {
            let first = hosts
                .iter()
                .min_by(|a, b| (a.1.expiry, a.0).cmp(&(b.1.expiry, b.0)))
                .map(|(h, _)| h.clone());
            match first {
                Some(h) => hosts.remove(&h),
                None => break,
            };
        }
        let mut reason = reason.to_owned();
        if reason.len() > MAX_BAN_REASON_LEN {
            let mut cut = MAX_BAN_REASON_LEN;
            while !reason.is_char_boundary(cut) {
                cut -= 1;
            }
            reason.truncate(cut);
        }
        hosts.insert(
            host.to_owned(),
            Listing {
                expiry: now.saturating_add(duration_ms.max(0)),
                reason,
            },
        );
        crate::metrics::metrics().banned();
        true
    }

    /// Drops the listings that ended before `now` and returns them (so each unban can be
    /// logged once).
    pub fn purge_expired(&self, now: UnixMillis) -> Vec<Ban> {
        let mut hosts = self.hosts.lock();
        let ended: Vec<String> = hosts
            .iter()
            .filter(|(_, l)| overdue(l.expiry, now))
            .map(|(h, _)| h.clone())
            .collect();
        let mut bans: Vec<Ban> = ended
            .into_iter()
            .filter_map(|host| {
                hosts.remove(&host).map(|l| Ban {
                    host,
                    expiry: l.expiry,
                    reason: l.reason,
                })
            })
            .collect();
        bans.sort_by(|a, b| a.host.cmp(&b.host));
        bans
    }

    /// [`HostBlacklist::add`] with the duration in seconds, as the C# node counts it
    /// (e.g. [`DEFAULT_PEER_REMOVAL_SECONDS`], [`OPERATOR_REMOVAL_SECONDS`]).
    pub fn add_for_seconds(&self, host: &str, seconds: i64, now: UnixMillis) -> bool {
        self.add(host, seconds.saturating_mul(1000), now)
    }

    /// Unlists `host` (C# `RemoveHostFromBlackList`); `false` if it was not listed.
    pub fn remove(&self, host: &str) -> bool {
        self.hosts.lock().remove(host).is_some()
    }

    /// Whether `host` is listed at `now` (C# `IsIpBlackListed`); an expired entry is dropped on
    /// the way.
    pub fn is_listed(&self, host: &str, now: UnixMillis) -> bool {
        let mut hosts = self.hosts.lock();
        match hosts.get(host) {
            Some(l) if !overdue(l.expiry, now) => true,
            Some(_) => {
                hosts.remove(host);
                false
            }
            None => false,
        }
    }

    /// When the listing of `host` ends, if it is listed at `now`.
    pub fn expiry(&self, host: &str, now: UnixMillis) -> Option<UnixMillis> {
        self.hosts
            .lock()
            .get(host)
            .map(|l| l.expiry)
            .filter(|e| !overdue(*e, now))
    }

    /// The hosts listed at `now` with their expiry, sorted by host (for the operator API).
    pub fn entries(&self, now: UnixMillis) -> Vec<(String, UnixMillis)> {
        self.bans(now)
            .into_iter()
            .map(|b| (b.host, b.expiry))
            .collect()
    }

    /// The bans in force at `now` with their reasons, sorted by host (for the operator API).
    pub fn bans(&self, now: UnixMillis) -> Vec<Ban> {
        let mut list: Vec<Ban> = self
            .hosts
            .lock()
            .iter()
            .filter(|(_, l)| !overdue(l.expiry, now))
            .map(|(h, l)| Ban {
                host: h.clone(),
                expiry: l.expiry,
                reason: l.reason.clone(),
            })
            .collect();
        list.sort_by(|a, b| a.host.cmp(&b.host));
        list
    }

    /// Entries stored, expired ones not yet purged included.
    pub fn len(&self) -> usize {
        self.hosts.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most entries kept.
    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listed_until_expiry_inclusive_then_dropped_lazily() {
        let list = HostBlacklist::default();
        assert!(list.add("1.2.3.4", 1000, 0));
        assert!(list.is_listed("1.2.3.4", 1000));
        assert_eq!(list.expiry("1.2.3.4", 0), Some(1000));
        assert!(!list.is_listed("1.2.3.4", 1001));
        assert_eq!(list.len(), 0, "the expired entry was dropped by the lookup");
    }

    #[test]
    fn re_adding_a_listed_host_does_not_extend_it() {
        let list = HostBlacklist::default();
        assert!(list.add("h", 1000, 0));
        assert!(!list.add("h", 5000, 500));
        assert_eq!(list.entries(500), vec![("h".to_owned(), 1000)]);
        assert!(list.add("h", 1000, 1001), "expired: it may be listed again");
        assert_eq!(list.expiry("h", 1001), Some(2001));
    }

    #[test]
    fn add_purges_expired_entries() {
        let list = HostBlacklist::default();
        assert!(list.add("a", 10, 0));
        assert!(list.add("b", 10, 100));
        assert_eq!(list.len(), 1);
        assert_eq!(list.entries(100), vec![("b".to_owned(), 110)]);
    }

    #[test]
    fn remove_reports_whether_listed() {
        let list = HostBlacklist::default();
        assert!(!list.remove("h"));
        assert!(list.add("h", 10, 0));
        assert!(list.remove("h"));
        assert!(!list.remove("h"));
        assert!(!list.is_listed("h", 0));
    }

    #[test]
    fn full_list_evicts_the_earliest_expiry() {
        let list = HostBlacklist::with_capacity(2);
        assert!(list.add("late", 500, 0));
        assert!(list.add("early", 100, 0));
        assert!(list.add("new", 300, 0));
        let hosts: Vec<_> = list.entries(0).into_iter().map(|(h, _)| h).collect();
        assert_eq!(hosts, vec!["late".to_owned(), "new".to_owned()]);
        assert_eq!(HostBlacklist::with_capacity(0).capacity(), 1);
    }

    #[test]
    fn bans_keep_their_reason_and_expired_ones_are_purged_once() {
        let list = HostBlacklist::default();
        assert!(list.ban("a", 100, "invalid transactions", 0));
        assert!(list.ban("b", 500, &"x".repeat(1000), 0));
        let bans = list.bans(50);
        assert_eq!(bans[0].reason, "invalid transactions");
        assert_eq!(bans[1].reason.len(), MAX_BAN_REASON_LEN);
        assert_eq!(list.purge_expired(100), vec![]);
        let ended = list.purge_expired(101);
        assert_eq!(ended.len(), 1);
        assert_eq!(ended[0].host, "a");
        assert_eq!(list.purge_expired(101), vec![]);
        assert_eq!(list.len(), 1);
    }

    #[test]
    fn huge_and_negative_durations_do_not_overflow() {
        let list = HostBlacklist::default();
        let now = i64::MAX - 5;
        assert!(list.add_for_seconds("c", OPERATOR_REMOVAL_SECONDS, now));
        assert_eq!(list.expiry("c", now), Some(i64::MAX));
        assert!(list.is_listed("c", i64::MAX));
        assert!(list.add_for_seconds("d", i64::MAX, 0));
        assert!(list.add("e", -5, 10));
        assert_eq!(list.expiry("e", 10), Some(10));
        assert!(!list.is_listed("e", 11));
    }
}
