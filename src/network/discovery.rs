//! `Discovery`: one round of node discovery (C# `PeerDiscoveryWorker`,
//! `PeerDiscoveryJobProcessor`, spec 8.3): re-check the oldest known node, ask up to five
//! random peers for the nodes they know, keep the reachable new ones, and dial from the table
//! while the pool has room.
//!
//! Owns the order and the rules of a round. The table ([`NodeTable`]) holds the state; dials
//! and reachability probes go through [`PeerConnector`] and block for their deadlines, so a
//! round runs on a scheduler worker thread, never on the scheduler thread itself.

use super::connector::PeerConnector;
use super::endpoint::Endpoint;
use super::node_table::{AddRefusal, NodeRecord, NodeTable};
use super::peer::Peer;
use super::service::NetworkService;
use rand::seq::SliceRandom;
use std::sync::Arc;

/// Peers asked per round (C# `NetworkConstants.DefaultDiscoveryPeersToRequestCount`).
pub const DISCOVERY_PEERS_TO_REQUEST: usize = 5;
/// Nodes asked of each (C# `NetworkConstants.DefaultDiscoveryMaxNodesToRequest`).
pub const DISCOVERY_MAX_NODES_TO_REQUEST: i32 = 10;
/// Table entries tried per round when the pool has room (C# `PeerDiscoveryWorker`).
pub const DISCOVERY_DIAL_CANDIDATES: usize = 10;

/// What became of one node a peer told us about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Learned {
    /// It is us.
    Own,
    /// Known endpoint; its key was replaced.
    Updated,
    /// Known endpoint, same key.
    Known,
    /// It did not answer.
    Unreachable,
    /// New and kept.
    Added,
    /// Not kept: the table is full and its oldest entry still answers, or its subnet is full.
    Discarded,
    /// Kept in place of the oldest entry, which no longer answers.
    Replaced(Endpoint),
}

/// What one round did, for the log and the operator.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiscoveryReport {
    /// The oldest entry re-checked, and whether it answered (kept) or not (removed).
    pub refreshed: Option<(Endpoint, bool)>,
    pub asked: usize,
    pub nodes_received: usize,
    pub added: usize,
    pub updated: usize,
    pub unreachable: usize,
    pub discarded: usize,
    pub dialed: usize,
    pub connected: usize,
    pub table_size: usize,
}

impl DiscoveryReport {
    /// Whether the round changed anything an operator follows: nodes found, a node dropped
    /// from the table, a peer connected. Such rounds are logged at INFO; a round that changed
    /// nothing (an idle node's every minute) at DEBUG.
    pub fn is_eventful(&self) -> bool {
        self.added > 0 || self.connected > 0 || matches!(self.refreshed, Some((_, false)))
    }
}

/// See the module documentation.
pub struct Discovery {
    nodes: Arc<NodeTable>,
    own_pubkey_hex: String,
}

impl Discovery {
    pub fn new(nodes: Arc<NodeTable>, own_pubkey_hex: String) -> Discovery {
        Discovery {
            nodes,
            own_pubkey_hex,
        }
    }

    pub fn nodes(&self) -> &Arc<NodeTable> {
        &self.nodes
    }

    /// Step 1: re-checks the oldest entry; it goes to the fresh end when it answers and leaves
    /// the table when it does not.
    pub fn refresh(&self, probe: &dyn PeerConnector) -> Option<(Endpoint, bool)> {
        let oldest = self.nodes.oldest()?;
        let reachable = probe.is_reachable(&oldest.endpoint);
        if reachable {
            self.nodes.refreshed(&oldest.endpoint);
        } else {
            self.nodes.remove(&oldest.endpoint);
        }
        Some((oldest.endpoint, reachable))
    }

    /// Step 2 for one node a peer sent: ours and known ones are not probed; a new one is kept
    /// only if it answers, and when the table is full only in place of an oldest entry that
    /// no longer answers.
    pub fn consider(&self, node: NodeRecord, probe: &dyn PeerConnector) -> Learned {
        if hex::encode(&node.pubkey) == self.own_pubkey_hex {
            return Learned::Own;
        }
        if self.nodes.get(&node.endpoint).is_some() {
            return if self.nodes.update(&node) {
                Learned::Updated
            } else {
                Learned::Known
            };
        }
        if !probe.is_reachable(&node.endpoint) {
            return Learned::Unreachable;
        }
        match self.nodes.try_add(node.clone()) {
            Ok(()) => Learned::Added,
            Err(AddRefusal::Known) => Learned::Known,
            Err(AddRefusal::SubnetFull) => Learned::Discarded,
            Err(AddRefusal::Full) => {
                let Some(oldest) = self.nodes.oldest() else {
                    return Learned::Discarded;
                };
                if probe.is_reachable(&oldest.endpoint) {
                    self.nodes.refreshed(&oldest.endpoint);
                    return Learned::Discarded;
                }
                self.nodes.remove(&oldest.endpoint);
                match self.nodes.try_add(node) {
                    Ok(()) => Learned::Replaced(oldest.endpoint),
                    Err(_) => Learned::Discarded,
                }
            }
        }
    }

    /// Step 3's choice: up to [`DISCOVERY_DIAL_CANDIDATES`] random entries that are neither
    /// waiting for a reconnection nor already a pool peer (by key).
    pub fn dial_candidates(&self, network: &NetworkService) -> Vec<NodeRecord> {
        let pool = network.pool();
        self.nodes
            .random(DISCOVERY_DIAL_CANDIDATES)
            .into_iter()
            .filter(|n| !network.reconnections().is_pending(&n.endpoint))
            .filter(|n| pool.get(&hex::encode(&n.pubkey)).is_none())
            .collect()
    }

    /// One whole round. The peers are asked in parallel (one scoped thread each); a failed
    /// GetNodes is handled by the failure policy and counts as an empty answer.
    pub fn run_round(
        &self,
        network: &NetworkService,
        connector: &dyn PeerConnector,
    ) -> DiscoveryReport {
        let mut report = DiscoveryReport {
            refreshed: self.refresh(connector),
            ..Default::default()
        };
        let mut peers: Vec<Arc<dyn Peer>> = network.pool().peers(false);
        peers.shuffle(&mut rand::rng());
        peers.truncate(DISCOVERY_PEERS_TO_REQUEST);
        report.asked = peers.len();
        let outcomes: Vec<Vec<Learned>> = std::thread::scope(|scope| {
            let handles: Vec<_> = peers
                .iter()
                .map(|peer| {
                    scope.spawn(
                        move || match peer.request_nodes(DISCOVERY_MAX_NODES_TO_REQUEST) {
                            Ok(nodes) => nodes
                                .into_iter()
                                .map(|n| self.consider(n, connector))
                                .collect(),
                            Err(e) => {
                                network.handle_failure(peer.pubkey_hex(), &e);
                                Vec::new()
                            }
                        },
                    )
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_default())
                .collect()
        });
        for learned in outcomes.into_iter().flatten() {
            report.nodes_received += 1;
            match learned {
                Learned::Added | Learned::Replaced(_) => report.added += 1,
                Learned::Updated => report.updated += 1,
                Learned::Unreachable => report.unreachable += 1,
                Learned::Discarded => report.discarded += 1,
                Learned::Own | Learned::Known => {}
            }
        }
        let now = network.now();
        if !network.pool().is_full(now) {
            for node in self.dial_candidates(network) {
                if network.pool().is_full(network.now()) {
                    break;
                }
                report.dialed += 1;
                if let Ok(true) = connector.dial(&node.endpoint) {
                    report.connected += 1;
                }
            }
        }
        report.table_size = self.nodes.len();
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_round_that_found_dropped_or_connected_something_is_an_event() {
        let quiet = DiscoveryReport {
            asked: 3,
            nodes_received: 5,
            updated: 5,
            table_size: 5,
            refreshed: Some((Endpoint::parse("10.0.0.1:6800").unwrap(), true)),
            ..Default::default()
        };
        assert!(!quiet.is_eventful());
        for eventful in [
            DiscoveryReport {
                added: 1,
                ..Default::default()
            },
            DiscoveryReport {
                connected: 1,
                ..Default::default()
            },
            DiscoveryReport {
                refreshed: Some((Endpoint::parse("10.0.0.1:6800").unwrap(), false)),
                ..Default::default()
            },
        ] {
            assert!(eventful.is_eventful());
        }
    }
    use crate::network::connector::DialError;
    use crate::network::peer_pool::{PeerPool, PoolLimits};
    use crate::network::test_support::{network_service, NOW};
    use crate::testing::FakePeer;
    use parking_lot::Mutex;
    use std::collections::HashSet;

    const OWN: u8 = 0xEE;

    /// Answers reachability from a set of reachable ports; dials succeed for `dialable` ports
    /// and add a fake peer to the pool.
    struct Probe {
        reachable: HashSet<u16>,
        pool: Arc<PeerPool>,
        probed: Mutex<Vec<u16>>,
        dialed: Mutex<Vec<u16>>,
    }

    impl PeerConnector for Probe {
        fn dial(&self, endpoint: &Endpoint) -> Result<bool, DialError> {
            self.dialed.lock().push(endpoint.port);
            if !self.reachable.contains(&endpoint.port) {
                return Err(DialError("refused".into()));
            }
            let peer = stub(&format!("dialed{}", endpoint.port), endpoint.port, vec![]);
            Ok(self.pool.try_add(Arc::new(peer), NOW).is_ok())
        }
        fn is_reachable(&self, endpoint: &Endpoint) -> bool {
            self.probed.lock().push(endpoint.port);
            self.reachable.contains(&endpoint.port)
        }
        fn purge_unconfirmed(&self) -> usize {
            0
        }
    }

    fn record(host: &str, port: u16, key: u8) -> NodeRecord {
        NodeRecord {
            endpoint: Endpoint {
                host: host.into(),
                port,
            },
            pubkey: vec![key; 65],
        }
    }

    fn stub(key: &str, port: u16, nodes: Vec<NodeRecord>) -> FakePeer {
        let endpoint = Endpoint {
            host: "127.0.0.1".into(),
            port,
        };
        FakePeer::named(key, endpoint, false)
            .connected_at(NOW)
            .knowing(nodes)
    }

    fn setup(
        capacity: usize,
        reachable: &[u16],
        limits: PoolLimits,
    ) -> (Discovery, Arc<NetworkService>, Probe, tempfile::TempDir) {
        let (network, dir) = network_service(limits);
        let probe = Probe {
            reachable: reachable.iter().copied().collect(),
            pool: network.pool().clone(),
            probed: Mutex::new(Vec::new()),
            dialed: Mutex::new(Vec::new()),
        };
        let discovery = Discovery::new(Arc::new(NodeTable::new(capacity)), hex::encode([OWN; 65]));
        (discovery, network, probe, dir)
    }

    fn add_peer(network: &NetworkService, key: &str, port: u16, nodes: Vec<NodeRecord>) {
        network
            .pool()
            .try_add(Arc::new(stub(key, port, nodes)), NOW)
            .unwrap();
    }

    /// Scenario 117: four peers (nothing, an unreachable node, ourselves, a good node) → only
    /// the good node is stored.
    #[test]
    fn only_reachable_foreign_nodes_are_stored() {
        let (discovery, network, probe, _dir) = setup(10, &[8003], PoolLimits::unlimited());
        add_peer(&network, "p1", 1, vec![]);
        add_peer(&network, "p2", 2, vec![record("192.168.100.100", 8001, 1)]);
        add_peer(
            &network,
            "p3",
            3,
            vec![record("192.168.100.100", 8002, OWN)],
        );
        add_peer(&network, "p4", 4, vec![record("192.168.100.100", 8003, 3)]);
        let report = discovery.run_round(&network, &probe);
        assert_eq!(report.asked, 4);
        assert_eq!(report.added, 1);
        assert_eq!(report.unreachable, 1);
        let stored: Vec<u16> = discovery
            .nodes()
            .endpoints()
            .iter()
            .map(|e| e.port)
            .collect();
        assert_eq!(stored, vec![8003]);
        assert!(
            !probe.probed.lock().contains(&8002),
            "our own node is not probed"
        );
    }

    /// Scenario 118: the refresh keeps a reachable oldest entry and removes an unreachable one.
    #[test]
    fn refresh_rechecks_the_oldest_entry() {
        let (discovery, _network, probe, _dir) = setup(10, &[8000], PoolLimits::unlimited());
        discovery.nodes().add(record("10.0.0.1", 8000, 1));
        discovery.nodes().add(record("10.0.0.1", 8001, 2));
        assert!(discovery.refresh(&probe).unwrap().1);
        assert_eq!(discovery.nodes().len(), 2);
        assert!(!discovery.refresh(&probe).unwrap().1);
        let left: Vec<u16> = discovery
            .nodes()
            .endpoints()
            .iter()
            .map(|e| e.port)
            .collect();
        assert_eq!(left, vec![8000]);
    }

    /// Scenarios 119 and 120: a new node is stored and queued once; a known endpoint gets the
    /// new key and is not duplicated.
    #[test]
    fn known_endpoints_are_updated_not_duplicated() {
        let (discovery, _network, probe, _dir) = setup(10, &[9000], PoolLimits::unlimited());
        assert_eq!(
            discovery.consider(record("10.0.0.1", 9000, 1), &probe),
            Learned::Added
        );
        assert_eq!(discovery.nodes().endpoints().len(), 1);
        assert_eq!(
            discovery.consider(record("10.0.0.1", 9000, 2), &probe),
            Learned::Updated
        );
        assert_eq!(
            discovery.consider(record("10.0.0.1", 9000, 2), &probe),
            Learned::Known
        );
        assert_eq!(discovery.nodes().len(), 1);
        assert_eq!(
            discovery
                .nodes()
                .get(&record("10.0.0.1", 9000, 0).endpoint)
                .unwrap()
                .pubkey,
            vec![2; 65]
        );
    }

    /// Scenario 121: a full table keeps a reachable oldest entry (the new node is discarded)
    /// and replaces an unreachable one.
    #[test]
    fn a_full_table_replaces_only_a_dead_oldest_entry() {
        let (discovery, _network, probe, _dir) =
            setup(5, &[1, 2, 3, 4, 5, 100, 101], PoolLimits::unlimited());
        for port in 1..=5 {
            assert!(discovery.nodes().add(record("10.0.0.1", port, port as u8)));
        }
        assert_eq!(
            discovery.consider(record("10.0.0.1", 100, 100), &probe),
            Learned::Discarded
        );
        assert_eq!(
            discovery.nodes().endpoints().last().unwrap().port,
            1,
            "oldest requeued"
        );

        let (discovery, _network, probe, _dir) =
            setup(5, &[2, 3, 4, 5, 100], PoolLimits::unlimited());
        for port in 1..=5 {
            discovery.nodes().add(record("10.0.0.1", port, port as u8));
        }
        assert_eq!(
            discovery.consider(record("10.0.0.1", 100, 100), &probe),
            Learned::Replaced(record("10.0.0.1", 1, 0).endpoint)
        );
        assert_eq!(discovery.nodes().endpoints().last().unwrap().port, 100);
        assert_eq!(discovery.nodes().len(), 5);
    }

    /// Scenarios 122 and 123: with room in the pool a discovered node is dialed; a full pool
    /// stores it without dialing.
    #[test]
    fn discovered_nodes_are_dialed_only_while_the_pool_has_room() {
        let (discovery, network, probe, _dir) = setup(10, &[7000], PoolLimits::unlimited());
        add_peer(&network, "p1", 1, vec![record("10.0.0.7", 7000, 7)]);
        let report = discovery.run_round(&network, &probe);
        assert_eq!((report.dialed, report.connected), (1, 1));
        assert!(network.pool().get("dialed7000").is_some());

        let limits = PoolLimits {
            max_peers: 1,
            ..PoolLimits::unlimited()
        };
        let (discovery, network, probe, _dir) = setup(10, &[7000], limits);
        add_peer(&network, "p1", 1, vec![record("10.0.0.7", 7000, 7)]);
        let report = discovery.run_round(&network, &probe);
        assert_eq!((report.added, report.dialed), (1, 0));
        assert!(probe.dialed.lock().is_empty());
    }

    /// Scenarios 124 and 125: nodes waiting for a reconnection and nodes whose key is already
    /// in the pool are not dialed.
    #[test]
    fn pending_reconnections_and_pool_keys_are_skipped() {
        let (discovery, network, probe, _dir) = setup(10, &[7000, 7001], PoolLimits::unlimited());
        add_peer(&network, "p1", 1, vec![]);
        discovery.nodes().add(record("10.0.0.7", 7000, 7));
        network
            .reconnections()
            .schedule(&record("10.0.0.7", 7000, 7).endpoint, "", NOW);
        let in_pool = hex::encode([8u8; 65]);
        add_peer(&network, &in_pool, 2, vec![]);
        discovery.nodes().add(record("10.0.0.8", 7001, 8));
        let report = discovery.run_round(&network, &probe);
        assert_eq!(report.dialed, 0);
        assert!(probe.dialed.lock().is_empty());
    }
}
