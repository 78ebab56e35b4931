//! `PeerLifecycle`: the one place where peers enter and leave the pool. It admits a peer
//! whose handshake succeeded (the pure [`admission`](super::peer_pool::admission) decision,
//! applied), marks it connected when the handshake is confirmed, and removes it —
//! always through [`PeerLifecycle::remove`], with a [`Removal`] reason that decides whether
//! the remote is told goodbye and whether its endpoint is dialed again (spec 5.5, 8.2).
//!
//! Layer 2: it sees peers only as [`Peer`] trait objects and sends them the trait's commands
//! (health check, disconnect); it must not know the transport, and it does not dial (the
//! transport and the scheduler do, through [`super::connector::PeerConnector`]). Everything
//! that closes a peer may block for that peer's goodbye, so callers are worker threads.

use super::endpoint::Endpoint;
use super::inbound::InboundBroadcasts;
use super::node_table::{NodeRecord, NodeTable};
use super::peer::{short_key, Peer};
use super::peer_pool::admission::{decide, Admission, Arrival, Incumbent};
use super::peer_pool::{PeerPool, PoolError};
use super::reconnection::Reconnections;
use crate::metrics::metrics;
use crate::network::broadcast::QueueKind;
use crate::types::{Clock, UnixMillis};
use log::{debug, info, warn};
use parking_lot::Mutex;
use std::fmt;
use std::sync::Arc;

/// Threads that close peers at shutdown, at most.
pub const SHUTDOWN_DISCONNECT_THREADS: usize = 16;

/// Why a peer leaves the pool. Each reason fixes two things: whether the remote is told
/// goodbye ([`Removal::says_goodbye`]) and what happens to its endpoint afterwards
/// ([`Removal::aftermath`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Removal {
    /// The remote said goodbye (Disconnect RPC or stream DISCONNECT).
    GoodbyeReceived,
    /// The connection failed (spec 5.5: an unrecoverable request or send, a closed stream).
    Failed(String),
    /// A health check failed (spec 8.1).
    HealthCheck(String),
    /// One of its send queues took nothing for `waited_ms` (ours: `stalled_send_timeout_ms`).
    Stalled { queue: QueueKind, waited_ms: u64 },
    /// It never confirmed its handshake within the connection timeout, or our confirmation
    /// failed.
    Unconfirmed,
    /// A reputation verdict (a disconnect or a ban of its host).
    Penalty(String),
    /// An operator removed it (API or netctl).
    Operator,
    /// The node is stopping; `goodbye` tells the remote (`[network] goodbye_on_shutdown`). The
    /// C# node stops without one, so its peers see the connection drop and dial it again; a
    /// goodbye makes a C# peer forget us.
    Shutdown { goodbye: bool },
}

/// What happens to a removed peer's endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aftermath {
    /// Dialed again when the C# rules say so: an outbound or boot-node peer, or any persistent
    /// peer.
    RedialPerPolicy,
    /// Dialed again only when it is one of our persistent peers (C# cancels the reconnection
    /// on any explicit disconnect).
    RedialIfPersistent,
    /// Never dialed again on its own: a pending reconnection is cancelled.
    Forget,
    /// Nothing changes (the node is stopping, or the peer never became one).
    Nothing,
}

impl Removal {
    /// Whether the remote is sent a goodbye before the connection closes.
    pub fn says_goodbye(&self) -> bool {
        match self {
            Removal::Operator => true,
            Removal::Shutdown { goodbye } => *goodbye,
            _ => false,
        }
    }

    pub fn aftermath(&self) -> Aftermath {
        match self {
            Removal::Failed(_) | Removal::HealthCheck(_) | Removal::Stalled { .. } => {
                Aftermath::RedialPerPolicy
            }
            Removal::GoodbyeReceived => Aftermath::RedialIfPersistent,
            Removal::Penalty(_) | Removal::Operator => Aftermath::Forget,
            Removal::Unconfirmed | Removal::Shutdown { .. } => Aftermath::Nothing,
        }
    }
}

impl fmt::Display for Removal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Removal::GoodbyeReceived => f.write_str("said goodbye"),
            Removal::Failed(reason) => f.write_str(reason),
            Removal::HealthCheck(reason) => write!(f, "health check failed: {reason}"),
            Removal::Stalled { queue, waited_ms } => write!(
                f,
                "stalled: its {} stream took nothing for {waited_ms} ms",
                queue.label()
            ),
            Removal::Unconfirmed => f.write_str("never confirmed"),
            Removal::Penalty(reason) => write!(f, "penalty: {reason}"),
            Removal::Operator => f.write_str("removed by an operator"),
            Removal::Shutdown { .. } => f.write_str("node stopping"),
        }
    }
}

/// The outcome of [`PeerLifecycle::admit`]. The loser of the decision has been closed.
#[derive(Clone)]
pub enum Admitted {
    /// The newcomer is in the pool (added, or in place of an incumbent now closed).
    Entered,
    /// Our dial lost a cross-dial: the newcomer is closed, the incumbent stays and is returned.
    Kept(Arc<dyn Peer>),
    /// The newcomer is refused and closed: a key already present (`REPEATED_CONNECTION`) or
    /// an exhausted budget (`CONNECTION_REFUSED`).
    Refused(PoolError),
}

/// The pool's gatekeeper (see the module documentation).
pub struct PeerLifecycle {
    pool: Arc<PeerPool>,
    nodes: Arc<NodeTable>,
    reconnections: Arc<Reconnections>,
    /// Inbound peers at these endpoints are dialed again after a failure too.
    boot_nodes: Vec<Endpoint>,
    inbound: Arc<InboundBroadcasts>,
    clock: Arc<dyn Clock>,
}

impl PeerLifecycle {
    pub fn new(
        pool: Arc<PeerPool>,
        nodes: Arc<NodeTable>,
        reconnections: Arc<Reconnections>,
        boot_nodes: Vec<Endpoint>,
        inbound: Arc<InboundBroadcasts>,
        clock: Arc<dyn Clock>,
    ) -> PeerLifecycle {
        PeerLifecycle {
            pool,
            nodes,
            reconnections,
            boot_nodes,
            inbound,
            clock,
        }
    }

    pub fn pool(&self) -> &Arc<PeerPool> {
        &self.pool
    }

    /// The nodes we know of (discovery's table, GetNodes answers).
    pub fn nodes(&self) -> &Arc<NodeTable> {
        &self.nodes
    }

    /// Lost peers waiting to be dialed again.
    pub fn reconnections(&self) -> &Arc<Reconnections> {
        &self.reconnections
    }

    pub fn boot_nodes(&self) -> &[Endpoint] {
        &self.boot_nodes
    }

    pub fn now(&self) -> UnixMillis {
        self.clock.now_millis()
    }

    /// Admits `peer`, which arrived as `arrival`, by the [`decide`] rule: gathers what is
    /// known of the incumbent holding its key (health-checking it when the rule asks), then
    /// adds or swaps atomically. A swap that loses a race with another change of the entry
    /// counts as a refusal (`REPEATED_CONNECTION`), or for our dial as keeping the entry.
    /// Whichever connection loses is closed here, without a goodbye.
    pub fn admit(&self, peer: Arc<dyn Peer>, arrival: Arrival) -> Admitted {
        let now = self.now();
        let existing = self.pool.get(peer.pubkey_hex());
        let mut facts = existing.as_ref().map(|e| Incumbent {
            received_handshake_ns: e.last_received_handshake_time(),
            invalid: e.is_invalid(now),
            responsive: None,
        });
        let mut decision = decide(arrival, facts.as_ref());
        if decision == Admission::Probe {
            if let (Some(facts), Some(existing)) = (facts.as_mut(), existing.as_ref()) {
                facts.responsive = Some(existing.check_health().is_ok());
            }
            decision = decide(arrival, facts.as_ref());
        }
        let outcome = match (decision, existing) {
            (Admission::Add, _) | (_, None) => match self.pool.try_add(peer.clone(), now) {
                Ok(()) => Admitted::Entered,
                Err(e) => Admitted::Refused(e),
            },
            (Admission::Replace, Some(existing)) => {
                if self
                    .pool
                    .try_replace(peer.pubkey_hex(), &existing, peer.clone())
                {
                    info!(
                        "peer {} at {}: the new connection replaces the old one",
                        short_key(peer.pubkey_hex()),
                        peer.endpoint()
                    );
                    existing.disconnect(false);
                    return Admitted::Entered;
                }
                match arrival {
                    Arrival::Dialed { .. } => Admitted::Kept(existing),
                    _ => Admitted::Refused(PoolError::AlreadyPresent),
                }
            }
            (Admission::KeepIncumbent, Some(existing)) => Admitted::Kept(existing),
            (Admission::RefuseRepeated | Admission::Probe, Some(_)) => {
                Admitted::Refused(PoolError::AlreadyPresent)
            }
        };
        if !matches!(outcome, Admitted::Entered) {
            peer.disconnect(false);
        }
        outcome
    }

    /// The handshake of `peer` is confirmed (ours answered, or the remote's ConfirmHandshake
    /// arrived): it becomes ready, enters the node table, and the OS layer hears of it.
    pub fn connected(&self, peer: &dyn Peer) {
        peer.mark_connected();
        info!(
            "peer connected: {} at {} ({})",
            short_key(peer.pubkey_hex()),
            peer.endpoint(),
            if peer.is_inbound() {
                "inbound"
            } else {
                "outbound"
            }
        );
        let record = NodeRecord {
            endpoint: peer.endpoint().clone(),
            pubkey: peer.pubkey().to_vec(),
        };
        if !self.nodes.add(record.clone()) {
            self.nodes.update(&record);
        }
        self.inbound.peer_connected(peer);
    }

    /// The remote named by `pubkey_hex` confirmed its handshake (ConfirmHandshake RPC or
    /// CONFIRM_HAND_SHAKE); `false` when no pool peer has that key.
    pub fn confirm_inbound(&self, pubkey_hex: &str) -> bool {
        match self.pool.get(pubkey_hex) {
            Some(peer) => {
                self.connected(peer.as_ref());
                true
            }
            None => {
                debug!("ConfirmHandshake from unknown peer {pubkey_hex}");
                false
            }
        }
    }

    /// Removes `peer` for `why`: see [`PeerLifecycle::remove_then`], with nothing to do
    /// before the close.
    pub fn remove(&self, peer: &Arc<dyn Peer>, why: Removal) -> bool {
        self.remove_then(peer, why, || {})
    }

    /// The one way out of the pool. Removes exactly `peer` (not a newer connection holding
    /// its key); when that removed it, applies `why`'s [`Aftermath`] to its endpoint; runs
    /// `before_close` (a stream reply that must still go out on the connection); then closes
    /// it, with a goodbye when `why` [says one](Removal::says_goodbye). The close happens even
    /// when someone else removed it first (closing is idempotent). Returns whether this call
    /// removed it.
    pub fn remove_then(
        &self,
        peer: &Arc<dyn Peer>,
        why: Removal,
        before_close: impl FnOnce(),
    ) -> bool {
        let removed = self.pool.remove_exact(peer.pubkey_hex(), peer);
        if removed {
            self.aftermath(peer.as_ref(), &why);
        }
        before_close();
        peer.disconnect(why.says_goodbye());
        removed
    }

    /// Removes the pool peer with key `pubkey_hex` for `why`; `false` when there is none.
    pub fn remove_key(&self, pubkey_hex: &str, why: Removal) -> bool {
        match self.pool.get(pubkey_hex) {
            Some(peer) => self.remove(&peer, why),
            None => false,
        }
    }

    /// Removes every pool peer on `host` for `why`; how many this call removed.
    pub fn remove_host(&self, host: &str, why: Removal) -> usize {
        self.pool
            .peers_by_host(host)
            .iter()
            .filter(|peer| self.remove(peer, why.clone()))
            .count()
    }

    /// Removes the peers that stayed unconfirmed past the connection timeout (C# `IsInvalid`);
    /// how many.
    pub fn purge_unconfirmed(&self) -> usize {
        let now = self.now();
        let stale: Vec<Arc<dyn Peer>> = self
            .pool
            .peers(true)
            .into_iter()
            .filter(|p| p.is_invalid(now))
            .collect();
        for peer in &stale {
            info!(
                "dropping {} at {}: never confirmed",
                short_key(peer.pubkey_hex()),
                peer.endpoint()
            );
            self.remove(peer, Removal::Unconfirmed);
        }
        stale.len()
    }

    /// Removes every peer (node shutdown). Peers are closed in parallel, by up to
    /// [`SHUTDOWN_DISCONNECT_THREADS`] scoped threads, so the stop takes about one peer's worst
    /// case (a dead peer's goodbye waits out its deadline), not the sum over all peers.
    pub fn remove_all(&self, why: Removal) {
        let peers = Mutex::new(self.pool.peers(true));
        let next = || peers.lock().pop();
        let threads = SHUTDOWN_DISCONNECT_THREADS.min(peers.lock().len());
        std::thread::scope(|scope| {
            for _ in 0..threads {
                scope.spawn(|| {
                    while let Some(peer) = next() {
                        self.remove(&peer, why.clone());
                    }
                });
            }
        });
    }

    /// A dial of `endpoint` at start failed: it is tried again later, as the C# node retries
    /// a boot node that fails at start.
    pub fn startup_dial_failed(&self, endpoint: &Endpoint) {
        self.reconnections.schedule(endpoint, "", self.now());
    }

    /// The boot nodes and persistent peers have been dialed once: the OS layer may start.
    pub fn network_initialized(&self) {
        self.inbound.network_initialized();
    }

    /// What happens to `peer`'s endpoint now that it has left the pool for `why`.
    fn aftermath(&self, peer: &dyn Peer, why: &Removal) {
        let endpoint = peer.endpoint();
        let key = short_key(peer.pubkey_hex());
        if let Removal::Stalled { queue, waited_ms } = why {
            warn!(
                "peer {key} at {endpoint} took nothing from its {} stream for {waited_ms} ms: \
                 disconnecting it",
                queue.label(),
            );
            metrics().stalled_peer_dropped(queue.index());
        }
        let persistent = self.reconnections.is_persistent(endpoint);
        let redial = match why.aftermath() {
            Aftermath::Nothing => {
                debug!("peer {key} at {endpoint} removed ({why})");
                return;
            }
            Aftermath::RedialPerPolicy => {
                persistent || !peer.is_inbound() || self.boot_nodes.contains(endpoint)
            }
            Aftermath::RedialIfPersistent => persistent,
            Aftermath::Forget => false,
        };
        if redial {
            self.reconnections
                .schedule(endpoint, peer.pubkey_hex(), self.now());
            info!("peer {key} at {endpoint} lost ({why}); reconnection scheduled");
        } else {
            self.reconnections.cancel(endpoint);
            info!("peer {key} at {endpoint} lost ({why})");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::peer_pool::PoolLimits;
    use crate::network::test_support::{network_service_with, NOW};
    use crate::testing::FakePeer;
    use crate::types::ManualClock;
    use std::sync::atomic::Ordering;

    fn ep(port: u16) -> Endpoint {
        Endpoint {
            host: "10.0.0.1".into(),
            port,
        }
    }

    /// A lifecycle whose boot node is port 2 and persistent peer port 3, with a stub of each
    /// kind (outbound port 1, boot node inbound port 2, persistent inbound port 3, plain
    /// inbound port 4) in the pool.
    struct Fixture {
        lifecycle: Arc<PeerLifecycle>,
        peers: Vec<(Arc<FakePeer>, Arc<dyn Peer>)>,
        _dir: tempfile::TempDir,
    }

    fn fixture() -> Fixture {
        let (service, dir) = network_service_with(
            PoolLimits::unlimited(),
            vec![ep(2)],
            vec![ep(3)],
            ManualClock::new(NOW),
        );
        let lifecycle = service.lifecycle().clone();
        let peers = [(1, false), (2, true), (3, true), (4, true)]
            .into_iter()
            .map(|(port, inbound)| {
                let stub = Arc::new(
                    FakePeer::named(&format!("{port:02x}"), ep(port), inbound).connected_at(NOW),
                );
                let peer: Arc<dyn Peer> = stub.clone();
                lifecycle.pool().try_add(peer.clone(), NOW).unwrap();
                (stub, peer)
            })
            .collect();
        Fixture {
            lifecycle,
            peers,
            _dir: dir,
        }
    }

    /// How a fake peer was closed: (closes, of which with a goodbye).
    fn closes(stub: &FakePeer) -> (usize, usize) {
        (
            stub.disconnects.load(Ordering::SeqCst),
            stub.goodbyes.load(Ordering::SeqCst),
        )
    }

    /// Removes every fixture peer for `why`; which endpoints (ports) are then waiting to be
    /// dialed again, and how each peer was closed.
    fn after(why: Removal) -> (Vec<u16>, Vec<(usize, usize)>) {
        let f = fixture();
        for (_, peer) in &f.peers {
            assert!(f.lifecycle.remove(peer, why.clone()), "{why}");
            assert!(f.lifecycle.pool().get(peer.pubkey_hex()).is_none());
        }
        let redial = (1..=4)
            .filter(|p| f.lifecycle.reconnections().is_pending(&ep(*p)))
            .collect();
        let closes = f.peers.iter().map(|(stub, _)| closes(stub)).collect();
        (redial, closes)
    }

    #[test]
    fn a_failure_redials_outbound_boot_and_persistent_peers_without_a_goodbye() {
        for why in [
            Removal::Failed("stream closed".into()),
            Removal::HealthCheck("timed out".into()),
            Removal::Stalled {
                queue: QueueKind::Transactions,
                waited_ms: 60_000,
            },
        ] {
            let (redial, closes) = after(why);
            assert_eq!(redial, vec![1, 2, 3]);
            assert!(closes.iter().all(|c| *c == (1, 0)));
        }
    }

    #[test]
    fn a_goodbye_redials_only_a_persistent_peer() {
        let (redial, closes) = after(Removal::GoodbyeReceived);
        assert_eq!(redial, vec![3]);
        assert!(closes.iter().all(|c| *c == (1, 0)));
    }

    #[test]
    fn a_penalty_or_an_operator_forgets_the_endpoint_and_only_the_operator_says_goodbye() {
        let (redial, closes) = after(Removal::Penalty("spam".into()));
        assert!(redial.is_empty());
        assert!(closes.iter().all(|c| *c == (1, 0)));
        let (redial, closes) = after(Removal::Operator);
        assert!(redial.is_empty());
        assert!(closes.iter().all(|c| *c == (1, 1)));
    }

    #[test]
    fn a_penalty_cancels_a_pending_reconnection() {
        let f = fixture();
        let (_, outbound) = &f.peers[0];
        f.lifecycle.reconnections().schedule(&ep(1), "01", NOW);
        f.lifecycle
            .remove(outbound, Removal::Penalty("spam".into()));
        assert!(!f.lifecycle.reconnections().is_pending(&ep(1)));
    }

    #[test]
    fn shutdown_schedules_nothing_and_says_goodbye_only_when_configured() {
        let (redial, closes) = after(Removal::Shutdown { goodbye: false });
        assert!(redial.is_empty());
        assert!(closes.iter().all(|c| *c == (1, 0)));
        let (redial, closes) = after(Removal::Shutdown { goodbye: true });
        assert!(redial.is_empty());
        assert!(closes.iter().all(|c| *c == (1, 1)));
        let (redial, _) = after(Removal::Unconfirmed);
        assert!(redial.is_empty());
    }

    #[test]
    fn only_the_pool_entry_itself_is_removed_but_the_object_is_closed_anyway() {
        let f = fixture();
        let (stub, old) = &f.peers[0];
        // A newer connection with the same key took the entry.
        let newer: Arc<dyn Peer> = FakePeer::named("01", ep(1), false).arc();
        assert!(f.lifecycle.pool().try_replace("01", old, newer.clone()));
        assert!(!f.lifecycle.remove(old, Removal::Failed("late".into())));
        assert!(f
            .lifecycle
            .pool()
            .get("01")
            .is_some_and(|p| Arc::ptr_eq(&p, &newer)));
        assert_eq!(closes(stub), (1, 0));
        // Not removed by this call: no reconnection either.
        assert!(!f.lifecycle.reconnections().is_pending(&ep(1)));
    }

    #[test]
    fn the_goodbye_reply_goes_out_between_leaving_the_pool_and_the_close() {
        let f = fixture();
        let (stub, peer) = &f.peers[3];
        let lifecycle = f.lifecycle.clone();
        let key = peer.pubkey_hex().to_owned();
        let mut seen = None;
        f.lifecycle.remove_then(peer, Removal::GoodbyeReceived, || {
            seen = Some((lifecycle.pool().get(&key).is_none(), closes(stub).0));
        });
        assert_eq!(seen, Some((true, 0)), "out of the pool, not yet closed");
        assert_eq!(closes(stub), (1, 0));
    }

    #[test]
    fn admission_closes_the_loser() {
        let f = fixture();
        // A stream handshake replaces the plain inbound peer on port 4 and closes it.
        let (old_stub, _) = &f.peers[3];
        let newcomer = Arc::new(FakePeer::named("04", ep(4), true).unconfirmed(NOW));
        let entered = f.lifecycle.admit(newcomer.clone(), Arrival::InboundStream);
        assert!(matches!(entered, Admitted::Entered));
        assert_eq!(closes(old_stub), (1, 0));
        // A legacy handshake for a key whose entry answers is refused and closed itself.
        let repeated = Arc::new(FakePeer::named("04", ep(4), true).unconfirmed(NOW));
        let refused = f.lifecycle.admit(repeated.clone(), Arrival::Inbound);
        assert!(matches!(
            refused,
            Admitted::Refused(PoolError::AlreadyPresent)
        ));
        assert_eq!(closes(&repeated), (1, 0));
        assert_eq!(closes(&newcomer), (0, 0));
    }
}
