//! `PeerPool`: this node's peers keyed by public key, the inbound handshakes in progress, the
//! host blacklist, and the admission rules over them (C# `PeerPool`, spec 4.7–4.9), plus
//! separate inbound and outbound budgets (beyond the C# node, as reth and geth keep dial slots).
//!
//! Policy and state only: time comes in as `now`, nothing here reads the clock, opens or closes
//! a connection, or logs. Removing or replacing a peer hands the old object back (or leaves it
//! with the caller), and the caller disconnects it.
//!
//! # Budgets (ours)
//!
//! * Overall: `max_peers` as in C# `IsFull` — peers that are not [`Peer::is_invalid`] count,
//!   in-progress handshakes do not.
//! * Inbound: valid inbound peers **plus** in-progress inbound handshakes must stay below
//!   `max_inbound_peers`; the marks reserve places, so concurrent handshakes cannot overshoot.
//! * Outbound: valid outbound peers must stay below `max_outbound_peers`; the C# node does not
//!   even check `max_peers` for dials (spec 12 item 8), we check both.
//! * [`PeerPool::try_add`] is the final authority: it re-checks `max_peers` and the budget of
//!   the peer's direction over pool peers only (not marks: the peer being added still holds its
//!   own mark), so racing dials or handshakes cannot overfill the pool.
//!   [`PeerPool::try_replace`] keeps one entry per key and checks no budget.
//!
//! What happens when a newcomer's key is already held (cross-dial, stale entry, stream
//! replacement) is the pure decision in [`admission`]; the lifecycle applies it with
//! `try_add` / `try_replace`.

pub mod admission;

use super::blacklist::HostBlacklist;
use super::endpoint::Endpoint;
use super::peer::{Peer, PeerDirection};
use crate::pb::network_types::HandshakeError;
use crate::types::UnixMillis;
use parking_lot::RwLock;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use thiserror::Error;

/// Default `max_peers`: 25 peers in all, as the C# node (`NetworkConstants.DefaultMaxPeers`).
pub const DEFAULT_MAX_PEERS: u32 = 25;
/// Default `max_peers_per_ip_address`: one peer per IP (C#
/// `NetworkConstants.DefaultMaxPeersPerIpAddress`).
pub const DEFAULT_MAX_PEERS_PER_IP_ADDRESS: u32 = 1;
/// Default `max_inbound_peers`: 17 of the 25 places, so an inbound flood always leaves room for
/// our own dials (ours, not in the C# node).
pub const DEFAULT_MAX_INBOUND_PEERS: u32 = 17;
/// Default `max_outbound_peers`: 8 places, about a third of 25 for our own dials, like geth's
/// dial ratio (ours, not in the C# node).
pub const DEFAULT_MAX_OUTBOUND_PEERS: u32 = 8;
/// Most inbound handshakes in progress at once over all hosts (ours; the C# map is unbounded),
/// so an inbound flood cannot grow memory even with every limit set to 0.
pub const MAX_HANDSHAKING_PEERS: usize = 1024;

/// Hosts exempt from the per-IP limit. The C# node exempts exactly the string "127.0.0.1"; we
/// also exempt "::1", the IPv6 loopback, since we accept IPv6 callers (our IPv6 fix).
const IP_LIMIT_EXEMPT_HOSTS: [&str; 2] = ["127.0.0.1", "::1"];

/// Pool limits; 0 means "no limit" for each (the `[network]` keys of the same names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolLimits {
    /// Peers in all that are not invalid (C# `MaxPeers`).
    pub max_peers: u32,
    /// Pool peers plus inbound handshakes per host (C# `MaxPeersPerIpAddress`).
    pub max_peers_per_ip_address: u32,
    /// Inbound peers plus inbound handshakes (ours).
    pub max_inbound_peers: u32,
    /// Outbound peers (ours).
    pub max_outbound_peers: u32,
}

impl Default for PoolLimits {
    fn default() -> PoolLimits {
        PoolLimits {
            max_peers: DEFAULT_MAX_PEERS,
            max_peers_per_ip_address: DEFAULT_MAX_PEERS_PER_IP_ADDRESS,
            max_inbound_peers: DEFAULT_MAX_INBOUND_PEERS,
            max_outbound_peers: DEFAULT_MAX_OUTBOUND_PEERS,
        }
    }
}

impl PoolLimits {
    /// Every limit off (0).
    pub fn unlimited() -> PoolLimits {
        PoolLimits {
            max_peers: 0,
            max_peers_per_ip_address: 0,
            max_inbound_peers: 0,
            max_outbound_peers: 0,
        }
    }
}

/// Why a connection is not admitted. Every variant is answered to a handshake with
/// `CONNECTION_REFUSED` (C# `AddHandshakingPeer` failing), see [`AdmissionRefusal::handshake_error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Error)]
pub enum AdmissionRefusal {
    #[error("host is blacklisted")]
    Blacklisted,
    #[error("the pool is full (max_peers)")]
    PoolFull,
    #[error("no inbound places left (max_inbound_peers)")]
    InboundFull,
    #[error("no outbound places left (max_outbound_peers)")]
    OutboundFull,
    #[error("host is at its peer limit (max_peers_per_ip_address)")]
    OverIpLimit,
    #[error("this key is already handshaking from this host")]
    AlreadyHandshaking,
    #[error("too many handshakes in progress")]
    TooManyHandshakes,
}

impl AdmissionRefusal {
    /// What the connection logic answers: always `CONNECTION_REFUSED`.
    pub fn handshake_error(&self) -> HandshakeError {
        HandshakeError::CONNECTION_REFUSED
    }
}

/// Why [`PeerPool::try_add`] did not add a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Error)]
pub enum PoolError {
    /// A peer with this key is in the pool: answered with `REPEATED_CONNECTION` (C#
    /// `TryAddPeer` failing).
    #[error("a peer with this key is already in the pool")]
    AlreadyPresent,
    /// `max_peers` reached: answered with `CONNECTION_REFUSED`.
    #[error("the pool is full (max_peers)")]
    PoolFull,
    /// `max_inbound_peers` reached: answered with `CONNECTION_REFUSED`.
    #[error("no inbound places left (max_inbound_peers)")]
    InboundFull,
    /// `max_outbound_peers` reached: answered with `CONNECTION_REFUSED`.
    #[error("no outbound places left (max_outbound_peers)")]
    OutboundFull,
}

impl PoolError {
    /// What the connection logic answers: `REPEATED_CONNECTION` for a key already present,
    /// `CONNECTION_REFUSED` for an exhausted budget.
    pub fn handshake_error(&self) -> HandshakeError {
        match self {
            PoolError::AlreadyPresent => HandshakeError::REPEATED_CONNECTION,
            PoolError::PoolFull | PoolError::InboundFull | PoolError::OutboundFull => {
                HandshakeError::CONNECTION_REFUSED
            }
        }
    }
}

impl From<BudgetRefusal> for PoolError {
    fn from(r: BudgetRefusal) -> PoolError {
        match r {
            BudgetRefusal::PoolFull => PoolError::PoolFull,
            BudgetRefusal::DirectionFull(PeerDirection::Inbound) => PoolError::InboundFull,
            BudgetRefusal::DirectionFull(PeerDirection::Outbound) => PoolError::OutboundFull,
        }
    }
}

impl From<BudgetRefusal> for AdmissionRefusal {
    fn from(r: BudgetRefusal) -> AdmissionRefusal {
        match r {
            BudgetRefusal::PoolFull => AdmissionRefusal::PoolFull,
            BudgetRefusal::DirectionFull(PeerDirection::Inbound) => AdmissionRefusal::InboundFull,
            BudgetRefusal::DirectionFull(PeerDirection::Outbound) => AdmissionRefusal::OutboundFull,
        }
    }
}

/// A budget check's failure, before it is named for its caller.
#[derive(Debug, Clone, Copy)]
enum BudgetRefusal {
    PoolFull,
    DirectionFull(PeerDirection),
}

// === impl PoolState ===

/// Everything behind the pool's lock.
#[derive(Default)]
struct PoolState {
    /// The peers, keyed by lowercase pubkey hex; one per remote identity.
    peers: HashMap<String, Arc<dyn Peer>>,
    /// Inbound handshakes in progress: host → pubkey hex (C# `_handshakingPeers`). A host entry
    /// exists only while it holds at least one key.
    handshaking: HashMap<String, HashSet<String>>,
    /// Number of (host, pubkey) pairs in `handshaking`, at most [`MAX_HANDSHAKING_PEERS`].
    handshaking_total: usize,
}

impl PoolState {
    /// Peers that are not invalid, of one direction or of both.
    fn valid_count(&self, now: UnixMillis, direction: Option<PeerDirection>) -> usize {
        self.peers
            .values()
            .filter(|p| !p.is_invalid(now))
            .filter(|p| direction.is_none_or(|d| p.direction() == d))
            .count()
    }

    fn is_full(&self, limits: &PoolLimits, now: UnixMillis) -> bool {
        limits.max_peers != 0 && self.valid_count(now, None) >= limits.max_peers as usize
    }

    /// Overall and per-direction budget; `with_marks` counts inbound handshakes as inbound.
    fn check_budget(
        &self,
        limits: &PoolLimits,
        direction: PeerDirection,
        with_marks: bool,
        now: UnixMillis,
    ) -> Result<(), BudgetRefusal> {
        if self.is_full(limits, now) {
            return Err(BudgetRefusal::PoolFull);
        }
        let (max, marks) = match direction {
            PeerDirection::Inbound if with_marks => {
                (limits.max_inbound_peers, self.handshaking_total)
            }
            PeerDirection::Inbound => (limits.max_inbound_peers, 0),
            PeerDirection::Outbound => (limits.max_outbound_peers, 0),
        };
        if max != 0 && self.valid_count(now, Some(direction)) + marks >= max as usize {
            return Err(BudgetRefusal::DirectionFull(direction));
        }
        Ok(())
    }

    fn is_over_ip_limit(&self, limits: &PoolLimits, host: &str) -> bool {
        let limit = limits.max_peers_per_ip_address;
        if limit == 0 || IP_LIMIT_EXEMPT_HOSTS.contains(&host) {
            return false;
        }
        let peers = self
            .peers
            .values()
            .filter(|p| p.endpoint().host == host)
            .count();
        let handshaking = self.handshaking.get(host).map_or(0, HashSet::len);
        peers + handshaking >= limit as usize
    }
}

// === impl PeerPool ===

/// This node's peers and the admission rules over them. Shared as `Arc<PeerPool>` by the
/// connection logic, the server's authentication and the workers; every method takes `&self`.
pub struct PeerPool {
    /// Fixed at start from `[network]`.
    limits: PoolLimits,
    /// Peers and handshake marks, under one lock so checks and inserts are atomic.
    state: RwLock<PoolState>,
    /// Hosts refused for a while; has its own lock, never taken while `state` is held.
    blacklist: HostBlacklist,
}

impl PeerPool {
    pub fn new(limits: PoolLimits) -> PeerPool {
        PeerPool {
            limits,
            state: RwLock::new(PoolState::default()),
            blacklist: HostBlacklist::default(),
        }
    }

    pub fn limits(&self) -> PoolLimits {
        self.limits
    }

    pub fn blacklist(&self) -> &HostBlacklist {
        &self.blacklist
    }

    /// Adds `peer` under its key (C# `TryAddPeer`). Fails if the key is present, and — ours —
    /// if `max_peers` or the budget of the peer's direction is used up by valid pool peers
    /// (handshake marks are not counted here, see the module doc).
    pub fn try_add(&self, peer: Arc<dyn Peer>, now: UnixMillis) -> Result<(), PoolError> {
        let mut state = self.state.write();
        if state.peers.contains_key(peer.pubkey_hex()) {
            return Err(PoolError::AlreadyPresent);
        }
        state.check_budget(&self.limits, peer.direction(), false, now)?;
        state.peers.insert(peer.pubkey_hex().to_owned(), peer);
        Ok(())
    }

    /// Replaces the entry for `pubkey` with `new` only if it is still `old` (compare-and-swap by
    /// `Arc::ptr_eq`, C# `TryReplace`). No budget is checked: the entry count does not change.
    /// The caller disconnects `old`.
    pub fn try_replace(&self, pubkey: &str, old: &Arc<dyn Peer>, new: Arc<dyn Peer>) -> bool {
        let mut state = self.state.write();
        match state.peers.get_mut(pubkey) {
            Some(current) if Arc::ptr_eq(current, old) => {
                *current = new;
                true
            }
            _ => false,
        }
    }

    /// Takes the peer out of the pool; the caller disconnects it.
    pub fn remove(&self, pubkey: &str) -> Option<Arc<dyn Peer>> {
        self.state.write().peers.remove(pubkey)
    }

    /// Removes the entry for `pubkey` only if it is `peer` itself (not a replacement).
    pub fn remove_exact(&self, pubkey: &str, peer: &Arc<dyn Peer>) -> bool {
        let mut state = self.state.write();
        if state
            .peers
            .get(pubkey)
            .is_some_and(|p| Arc::ptr_eq(p, peer))
        {
            state.peers.remove(pubkey);
            true
        } else {
            false
        }
    }

    pub fn get(&self, pubkey: &str) -> Option<Arc<dyn Peer>> {
        self.state.read().peers.get(pubkey).cloned()
    }

    /// The peer at exactly this endpoint: host string and port (C# `FindPeerByEndpoint`; a
    /// hostname and the IP it resolves to are different endpoints).
    pub fn find_by_endpoint(&self, endpoint: &Endpoint) -> Option<Arc<dyn Peer>> {
        self.state
            .read()
            .peers
            .values()
            .find(|p| p.endpoint() == endpoint)
            .cloned()
    }

    /// Peers whose endpoint host is exactly `host` (C# `GetPeersByHost`), oldest first.
    pub fn peers_by_host(&self, host: &str) -> Vec<Arc<dyn Peer>> {
        self.collect(|p| p.endpoint().host == host)
    }

    /// Ready peers, or every peer with `include_failing` (C# `GetPeers`), oldest first.
    pub fn peers(&self, include_failing: bool) -> Vec<Arc<dyn Peer>> {
        self.collect(|p| include_failing || p.is_ready())
    }

    fn collect(&self, keep: impl Fn(&dyn Peer) -> bool) -> Vec<Arc<dyn Peer>> {
        let mut list: Vec<Arc<dyn Peer>> = self
            .state
            .read()
            .peers
            .values()
            .filter(|p| keep(p.as_ref()))
            .cloned()
            .collect();
        list.sort_by(|a, b| {
            (a.connection_time(), a.pubkey_hex()).cmp(&(b.connection_time(), b.pubkey_hex()))
        });
        list
    }

    /// Pool entries, invalid ones included.
    pub fn len(&self) -> usize {
        self.state.read().peers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `max_peers` is set and reached by peers that are not invalid (C# `IsFull`); unconfirmed
    /// peers younger than the connection timeout count.
    pub fn is_full(&self, now: UnixMillis) -> bool {
        self.state.read().is_full(&self.limits, now)
    }

    /// Pool peers on `host` plus inbound handshakes from it reach `max_peers_per_ip_address`
    /// (C# `IsOverIpLimit`). Never with limit 0, nor for the loopback hosts "127.0.0.1" (as in
    /// C#) and "::1" (our IPv6 fix).
    pub fn is_over_ip_limit(&self, host: &str) -> bool {
        self.state.read().is_over_ip_limit(&self.limits, host)
    }

    /// Whether one more inbound connection fits (ours): the pool is not full and valid inbound
    /// peers plus inbound handshakes stay below `max_inbound_peers`.
    pub fn can_accept_inbound(&self, now: UnixMillis) -> Result<(), AdmissionRefusal> {
        let state = self.state.read();
        Ok(state.check_budget(&self.limits, PeerDirection::Inbound, true, now)?)
    }

    /// Whether we may dial a node on `host`: C# `ConnectAsync` pre-checks 2–3 (blacklist, per-IP
    /// limit), then — ours, the C# node dials regardless — the pool is not full and valid
    /// outbound peers stay below `max_outbound_peers`. The same-endpoint check (pre-check 1)
    /// stays with the caller, which must disconnect an invalid peer it finds.
    pub fn can_dial_outbound(&self, host: &str, now: UnixMillis) -> Result<(), AdmissionRefusal> {
        if self.blacklist.is_listed(host, now) {
            return Err(AdmissionRefusal::Blacklisted);
        }
        let state = self.state.read();
        if state.is_over_ip_limit(&self.limits, host) {
            return Err(AdmissionRefusal::OverIpLimit);
        }
        Ok(state.check_budget(&self.limits, PeerDirection::Outbound, false, now)?)
    }

    /// Marks an inbound handshake from (`host`, `pubkey`) in progress if it may proceed (C#
    /// `AddHandshakingPeer`). Refused, in this order: blacklisted host; pool full; inbound
    /// budget used up (ours); host over its IP limit; the pair already marked; already
    /// [`MAX_HANDSHAKING_PEERS`] marks (ours). The caller removes the mark when the handshake
    /// ends, whatever its outcome, unless this refused it (then the mark is someone else's).
    pub fn add_handshaking(
        &self,
        host: &str,
        pubkey: &str,
        now: UnixMillis,
    ) -> Result<(), AdmissionRefusal> {
        if self.blacklist.is_listed(host, now) {
            return Err(AdmissionRefusal::Blacklisted);
        }
        let mut state = self.state.write();
        state.check_budget(&self.limits, PeerDirection::Inbound, true, now)?;
        if state.is_over_ip_limit(&self.limits, host) {
            return Err(AdmissionRefusal::OverIpLimit);
        }
        if state
            .handshaking
            .get(host)
            .is_some_and(|keys| keys.contains(pubkey))
        {
            return Err(AdmissionRefusal::AlreadyHandshaking);
        }
        if state.handshaking_total >= MAX_HANDSHAKING_PEERS {
            return Err(AdmissionRefusal::TooManyHandshakes);
        }
        state
            .handshaking
            .entry(host.to_owned())
            .or_default()
            .insert(pubkey.to_owned());
        state.handshaking_total += 1;
        Ok(())
    }

    /// Forgets the inbound handshake (`host`, `pubkey`) (C# `RemoveHandshakingPeer`); the host's
    /// entry goes with its last key. `false` if the pair was not marked.
    pub fn remove_handshaking(&self, host: &str, pubkey: &str) -> bool {
        let mut guard = self.state.write();
        let state = &mut *guard;
        let Some(keys) = state.handshaking.get_mut(host) else {
            return false;
        };
        let removed = keys.remove(pubkey);
        if keys.is_empty() {
            state.handshaking.remove(host);
        }
        if removed {
            state.handshaking_total = state.handshaking_total.saturating_sub(1);
        }
        removed
    }

    /// Inbound handshakes in progress from `host`.
    pub fn handshaking_from(&self, host: &str) -> usize {
        self.state
            .read()
            .handshaking
            .get(host)
            .map_or(0, HashSet::len)
    }

    /// Inbound handshakes in progress over all hosts.
    pub fn handshaking_count(&self) -> usize {
        self.state.read().handshaking_total
    }
}

#[cfg(test)]
mod tests;
