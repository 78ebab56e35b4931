//! `NodeTable`: the nodes this node knows of, serves to `GetNodes` and dials from (C#
//! `NodeManager` with `DiscoveredNodeCacheProvider`, spec 8.3). Nodes enter it when a peer
//! connects and through discovery ([`crate::network::discovery`]).
//!
//! Owns the entries and their freshness order (oldest first, what the refresh re-checks).
//! Bounded by `[network] peer_discovery_max_nodes_to_keep` and, beyond the C# node, by
//! `peer_discovery_max_nodes_per_subnet`: at most that many entries per public IPv4 /24 (IPv6
//! /64), so one operator cannot fill the table. Loopback, private and link-local addresses and
//! DNS names are not limited (as geth exempts LAN addresses). Pure state: no I/O.

use crate::network::endpoint::Endpoint;
use crate::pb::network_types::{NodeInfo, NodeList};
use parking_lot::Mutex;
use rand::seq::SliceRandom;
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

/// Most nodes one `GetNodes` reply carries (C# `GrpcConstants.DefaultDiscoveryMaxNodesToResponse`).
pub const MAX_NODES_PER_RESPONSE: usize = 10;

/// A known node: where it listens and who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRecord {
    pub endpoint: Endpoint,
    /// The node's 65-byte public key.
    pub pubkey: Vec<u8>,
}

impl NodeRecord {
    /// The usable entries of a `GetNodes` reply, at most [`MAX_NODES_PER_RESPONSE`]: entries
    /// whose endpoint does not parse or whose key is not 65 bytes are skipped.
    pub fn from_node_list(list: &NodeList) -> Vec<NodeRecord> {
        list.nodes
            .iter()
            .filter(|n| n.pubkey.len() == PUBKEY_LEN)
            .filter_map(|n| {
                Endpoint::parse(&n.endpoint)
                    .ok()
                    .map(|endpoint| NodeRecord {
                        endpoint,
                        pubkey: n.pubkey.clone(),
                    })
            })
            .take(MAX_NODES_PER_RESPONSE)
            .collect()
    }
}

/// Length of a node's public key (uncompressed secp256k1).
const PUBKEY_LEN: usize = 65;

/// Why a node was not added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddRefusal {
    Known,
    Full,
    /// Its subnet already has the most entries allowed.
    SubnetFull,
}

/// The subnet an endpoint is counted in for the diversity limit, `None` when it is exempt.
pub fn subnet_of(endpoint: &Endpoint) -> Option<String> {
    match endpoint.host.parse::<IpAddr>().ok()? {
        IpAddr::V4(ip) => {
            if ip.is_loopback() || ip.is_private() || ip.is_link_local() || ip.is_unspecified() {
                return None;
            }
            let [a, b, c, _] = ip.octets();
            Some(format!("{a}.{b}.{c}.0/24"))
        }
        IpAddr::V6(ip) => {
            let s = ip.segments();
            let local = ip.is_loopback()
                || ip.is_unspecified()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80;
            if local {
                return None;
            }
            Some(format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3]))
        }
    }
}

#[derive(Default)]
struct Entries {
    nodes: HashMap<Endpoint, Vec<u8>>,
    /// Freshness order, oldest first; holds exactly the endpoints of `nodes`.
    order: VecDeque<Endpoint>,
    per_subnet: HashMap<String, usize>,
}

impl Entries {
    fn forget(&mut self, endpoint: &Endpoint) -> bool {
        if self.nodes.remove(endpoint).is_none() {
            return false;
        }
        self.order.retain(|e| e != endpoint);
        if let Some(net) = subnet_of(endpoint) {
            if let Some(n) = self.per_subnet.get_mut(&net) {
                *n -= 1;
                if *n == 0 {
                    self.per_subnet.remove(&net);
                }
            }
        }
        true
    }
}

/// Known nodes keyed by endpoint, at most `capacity` of them.
pub struct NodeTable {
    capacity: usize,
    /// Most entries per subnet; 0 = no limit.
    per_subnet: usize,
    entries: Mutex<Entries>,
}

impl NodeTable {
    /// A table of at most `capacity` nodes, with no subnet limit.
    pub fn new(capacity: usize) -> NodeTable {
        NodeTable::with_subnet_limit(capacity, 0)
    }

    /// A table of at most `capacity` nodes, `per_subnet` of them (0 = any number) per subnet.
    pub fn with_subnet_limit(capacity: usize, per_subnet: usize) -> NodeTable {
        NodeTable {
            capacity,
            per_subnet,
            entries: Mutex::new(Entries::default()),
        }
    }

    /// Adds a node at the fresh end (C# `AddNode` + enqueue); `false` when the table is full,
    /// the endpoint is known or its subnet is full.
    pub fn add(&self, node: NodeRecord) -> bool {
        self.try_add(node).is_ok()
    }

    /// [`NodeTable::add`], saying why not.
    pub fn try_add(&self, node: NodeRecord) -> Result<(), AddRefusal> {
        let mut entries = self.entries.lock();
        if entries.nodes.contains_key(&node.endpoint) {
            return Err(AddRefusal::Known);
        }
        if entries.nodes.len() >= self.capacity {
            return Err(AddRefusal::Full);
        }
        let net = subnet_of(&node.endpoint);
        if let Some(net) = &net {
            let used = entries.per_subnet.get(net).copied().unwrap_or(0);
            if self.per_subnet != 0 && used >= self.per_subnet {
                return Err(AddRefusal::SubnetFull);
            }
        }
        if let Some(net) = net {
            *entries.per_subnet.entry(net).or_default() += 1;
        }
        entries.order.push_back(node.endpoint.clone());
        entries.nodes.insert(node.endpoint, node.pubkey);
        Ok(())
    }

    /// Replaces the stored key of a known endpoint when it differs (C# `UpdateNode`).
    pub fn update(&self, node: &NodeRecord) -> bool {
        match self.entries.lock().nodes.get_mut(&node.endpoint) {
            Some(pubkey) if *pubkey != node.pubkey => {
                pubkey.clone_from(&node.pubkey);
                true
            }
            _ => false,
        }
    }

    pub fn remove(&self, endpoint: &Endpoint) -> bool {
        self.entries.lock().forget(endpoint)
    }

    pub fn get(&self, endpoint: &Endpoint) -> Option<NodeRecord> {
        self.entries
            .lock()
            .nodes
            .get(endpoint)
            .map(|pubkey| NodeRecord {
                endpoint: endpoint.clone(),
                pubkey: pubkey.clone(),
            })
    }

    /// The least recently checked or added node (the refresh checks it next).
    pub fn oldest(&self) -> Option<NodeRecord> {
        let entries = self.entries.lock();
        let endpoint = entries.order.front()?;
        entries.nodes.get(endpoint).map(|pubkey| NodeRecord {
            endpoint: endpoint.clone(),
            pubkey: pubkey.clone(),
        })
    }

    /// Moves a known node to the fresh end (it was just found reachable); `false` if unknown.
    pub fn refreshed(&self, endpoint: &Endpoint) -> bool {
        let mut entries = self.entries.lock();
        if !entries.nodes.contains_key(endpoint) {
            return false;
        }
        entries.order.retain(|e| e != endpoint);
        entries.order.push_back(endpoint.clone());
        true
    }

    /// Endpoints oldest first.
    pub fn endpoints(&self) -> Vec<Endpoint> {
        self.entries.lock().order.iter().cloned().collect()
    }

    /// Every entry, oldest first (one lock for the whole list).
    pub fn records(&self) -> Vec<NodeRecord> {
        let entries = self.entries.lock();
        entries
            .order
            .iter()
            .filter_map(|endpoint| {
                entries.nodes.get(endpoint).map(|pubkey| NodeRecord {
                    endpoint: endpoint.clone(),
                    pubkey: pubkey.clone(),
                })
            })
            .collect()
    }

    pub fn len(&self) -> usize {
        self.entries.lock().nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn is_full(&self) -> bool {
        self.len() >= self.capacity
    }

    /// The answer to GetNodes (unary or stream): up to `min(max_count, 10)` random entries.
    pub fn node_list(&self, max_count: i32) -> NodeList {
        let n = usize::try_from(max_count)
            .unwrap_or(0)
            .min(MAX_NODES_PER_RESPONSE);
        let nodes = self
            .random(n)
            .into_iter()
            .map(|node| NodeInfo {
                endpoint: node.endpoint.to_string(),
                pubkey: node.pubkey,
                ..Default::default()
            })
            .collect();
        NodeList {
            nodes,
            ..Default::default()
        }
    }

    /// Up to `n` nodes in random order (C# `GetRandomNodes`).
    pub fn random(&self, n: usize) -> Vec<NodeRecord> {
        let mut all: Vec<NodeRecord> = self
            .entries
            .lock()
            .nodes
            .iter()
            .map(|(endpoint, pubkey)| NodeRecord {
                endpoint: endpoint.clone(),
                pubkey: pubkey.clone(),
            })
            .collect();
        all.shuffle(&mut rand::rng());
        all.truncate(n);
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(port: u16, key: u8) -> NodeRecord {
        NodeRecord {
            endpoint: Endpoint::parse(&format!("10.0.0.1:{port}")).unwrap(),
            pubkey: vec![key; 65],
        }
    }

    #[test]
    fn bounded_and_keyed_by_endpoint() {
        let table = NodeTable::new(2);
        assert!(table.add(node(1, 1)));
        assert!(!table.add(node(1, 2)), "duplicate endpoint");
        assert!(table.add(node(2, 2)));
        assert!(!table.add(node(3, 3)), "full");
        assert_eq!(table.random(10).len(), 2);
        assert_eq!(table.random(1).len(), 1);
        assert!(table.update(&node(1, 9)));
        assert!(!table.update(&node(1, 9)), "same key: no change");
        assert_eq!(table.get(&node(1, 0).endpoint).unwrap().pubkey, vec![9; 65]);
        assert!(table.remove(&node(1, 0).endpoint));
        assert!(!table.remove(&node(1, 0).endpoint));
        assert_eq!(table.len(), 1);
    }

    fn at(host: &str, port: u16) -> NodeRecord {
        NodeRecord {
            endpoint: Endpoint {
                host: host.into(),
                port,
            },
            pubkey: vec![port as u8; 65],
        }
    }

    #[test]
    fn node_lists_keep_only_usable_entries() {
        use crate::pb::network_types::NodeInfo;
        let info = |endpoint: &str, len: usize| NodeInfo {
            endpoint: endpoint.into(),
            pubkey: vec![4; len],
            ..Default::default()
        };
        let mut list = NodeList::new();
        list.nodes = vec![
            info("10.0.0.1:1", 65),
            info("bad:port", 65),
            info("10.0.0.2:2", 33),
        ];
        list.nodes
            .extend((0..20).map(|i| info(&format!("10.0.1.{i}:7"), 65)));
        let records = NodeRecord::from_node_list(&list);
        assert_eq!(records.len(), MAX_NODES_PER_RESPONSE);
        assert_eq!(records[0].endpoint.port, 1);
        assert_eq!(records[1].endpoint.host, "10.0.1.0");
    }

    /// Scenario 114: freshness order is FIFO; a refreshed node goes to the tail.
    #[test]
    fn freshness_order_is_fifo_and_refresh_moves_to_the_tail() {
        let table = NodeTable::new(10);
        table.add(node(1, 1));
        table.add(node(2, 2));
        table.add(node(3, 3));
        assert_eq!(table.oldest().unwrap().endpoint.port, 1);
        assert!(table.refreshed(&node(1, 0).endpoint));
        let ports: Vec<u16> = table.endpoints().iter().map(|e| e.port).collect();
        assert_eq!(ports, vec![2, 3, 1]);
        let records: Vec<u16> = table.records().iter().map(|r| r.endpoint.port).collect();
        assert_eq!(records, ports);
        table.remove(&node(2, 0).endpoint);
        assert_eq!(table.oldest().unwrap().endpoint.port, 3);
        assert!(!table.refreshed(&node(2, 0).endpoint));
    }

    #[test]
    fn public_subnets_are_limited_and_local_ones_are_not() {
        let table = NodeTable::with_subnet_limit(100, 2);
        assert!(table.add(at("8.8.8.1", 1)));
        assert!(table.add(at("8.8.8.2", 1)));
        assert_eq!(table.try_add(at("8.8.8.3", 1)), Err(AddRefusal::SubnetFull));
        assert!(table.add(at("8.8.9.3", 1)), "another /24");
        for port in 1..10 {
            assert!(table.add(at("127.0.0.1", port)));
            assert!(table.add(at("192.168.1.1", port)));
        }
        assert!(table.add(at("2001:db8:1:1::1", 1)));
        assert!(table.add(at("2001:db8:1:1::2", 1)));
        assert!(!table.add(at("2001:db8:1:1::3", 1)));
        assert!(table.add(at("fe80::1", 1)));
        assert!(table.add(at("node.example", 1)));
        table.remove(&at("8.8.8.1", 1).endpoint);
        assert!(table.add(at("8.8.8.3", 1)), "room again in that /24");
        assert_eq!(subnet_of(&at("10.1.2.3", 1).endpoint), None);
        assert_eq!(
            subnet_of(&at("1.2.3.4", 1).endpoint).as_deref(),
            Some("1.2.3.0/24")
        );
    }
}
