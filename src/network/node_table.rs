//! `NodeTable`: the nodes this node knows of and serves to `GetNodes` (C# `NodeManager`,
//! spec 8.3). Nodes enter it when a peer connects; discovery (a later issue) adds the rest.
//!
//! Bounded by `[network] peer_discovery_max_nodes_to_keep`. Pure state: no I/O.

use crate::network::endpoint::Endpoint;
use parking_lot::Mutex;
use rand::seq::SliceRandom;
use std::collections::HashMap;

/// Most nodes one `GetNodes` reply carries (C# `GrpcConstants.DefaultDiscoveryMaxNodesToResponse`).
pub const MAX_NODES_PER_RESPONSE: usize = 10;

/// A known node: where it listens and who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRecord {
    pub endpoint: Endpoint,
    /// The node's 65-byte public key.
    pub pubkey: Vec<u8>,
}

/// Known nodes keyed by endpoint, at most `capacity` of them.
pub struct NodeTable {
    capacity: usize,
    nodes: Mutex<HashMap<Endpoint, Vec<u8>>>,
}

impl NodeTable {
    pub fn new(capacity: usize) -> NodeTable {
        NodeTable {
            capacity,
            nodes: Mutex::new(HashMap::new()),
        }
    }

    /// Adds a node; `false` when the table is full or the endpoint is known (C# `AddNode`).
    pub fn add(&self, node: NodeRecord) -> bool {
        let mut nodes = self.nodes.lock();
        if nodes.len() >= self.capacity || nodes.contains_key(&node.endpoint) {
            return false;
        }
        nodes.insert(node.endpoint, node.pubkey);
        true
    }

    /// Replaces the stored key of a known endpoint when it differs (C# `UpdateNode`).
    pub fn update(&self, node: &NodeRecord) -> bool {
        match self.nodes.lock().get_mut(&node.endpoint) {
            Some(pubkey) if *pubkey != node.pubkey => {
                pubkey.clone_from(&node.pubkey);
                true
            }
            _ => false,
        }
    }

    pub fn remove(&self, endpoint: &Endpoint) -> bool {
        self.nodes.lock().remove(endpoint).is_some()
    }

    pub fn get(&self, endpoint: &Endpoint) -> Option<NodeRecord> {
        self.nodes.lock().get(endpoint).map(|pubkey| NodeRecord {
            endpoint: endpoint.clone(),
            pubkey: pubkey.clone(),
        })
    }

    pub fn len(&self) -> usize {
        self.nodes.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Up to `n` nodes in random order (C# `GetRandomNodes`).
    pub fn random(&self, n: usize) -> Vec<NodeRecord> {
        let mut all: Vec<NodeRecord> = self
            .nodes
            .lock()
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
}
