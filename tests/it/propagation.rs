//! Multi-process end to end, in legacy mode (node_version 1.3.0.0) and stream mode (the
//! default version) each: `aelf-netd` processes in a line A–B–C–D, each naming its neighbours
//! as boot nodes, with a producer on A. Every block reaches D and all agree on best chain and
//! LIB; a transaction submitted at D (operator API) is included by A exactly once; a node
//! started 200 blocks behind catches up; a middle node killed with SIGKILL and restarted
//! loses nothing and the chain converges. Chains are read through the operator API.

use crate::support::daemon::{config, value_after, wait_converged, Node};
use crate::support::{free_port, LEGACY, STREAM};
use aelf_net::chain::{synthetic_transactions, ChainSettings, EmbeddedChain};
use aelf_net::crypto::NodeKey;
use aelf_net::types::chain_id_from_name;
use protobuf::Message;
use std::path::{Path, PathBuf};

/// The nodes, borrowed.
fn all(nodes: &[Node]) -> Vec<&Node> {
    nodes.iter().collect()
}

const PRODUCER: &str = "[producer]\nenabled = true\n";

#[test]
fn legacy_line_propagates_blocks_and_a_transaction_and_survives_a_crash() {
    line(LEGACY);
}

#[test]
fn stream_line_propagates_blocks_and_a_transaction_and_survives_a_crash() {
    line(STREAM);
}

fn line(version: &str) {
    let dirs: Vec<tempfile::TempDir> = (0..4).map(|_| tempfile::tempdir().unwrap()).collect();
    let ports: Vec<u16> = (0..4).map(|_| free_port()).collect();
    let neighbours = |i: usize| -> Vec<u16> {
        let mut v = Vec::new();
        if i > 0 {
            v.push(ports[i - 1]);
        }
        if i < 3 {
            v.push(ports[i + 1]);
        }
        v
    };
    let configs: Vec<PathBuf> = (0..4)
        .map(|i| {
            let extra = if i == 0 { PRODUCER } else { "" };
            config(dirs[i].path(), ports[i], &neighbours(i), version, extra)
        })
        .collect();
    // Each starts after its left neighbour, which it dials.
    let mut nodes: Vec<Node> = Vec::new();
    for config in &configs {
        let mut node = Node::start(config.clone());
        if !nodes.is_empty() {
            node.daemon.wait_for("peer connected:");
        }
        nodes.push(node);
    }
    // Past a round change, so the consensus LIB has moved (the same on every node).
    let agreed = wait_converged(&all(&nodes), 24);
    assert!(
        agreed.lib_height > 1 && agreed.lib_height < agreed.best_height,
        "{agreed:?}"
    );

    // A transaction submitted at D reaches A's pool and is included once.
    let key = NodeKey::generate();
    let tip = aelf_net::chain::ChainTip {
        hash: aelf_net::types::Hash::from_hex(&agreed.best_hash).unwrap(),
        height: agreed.best_height,
    };
    let tx = synthetic_transactions(&key, &tip, 1, 7).remove(0);
    let raw = hex::encode(tx.write_to_bytes().unwrap());
    let (code, body) = nodes[3].send_transaction(&raw);
    assert_eq!(code, 200, "{body}");
    let line = nodes[0].daemon.wait_for(" txs 1");
    let included_at: i64 = value_after(&line, "height ").parse().unwrap();
    // The same transaction again at B: a duplicate everywhere, never included twice; B answers
    // its id again, as the C# node does (a client's retry is not an error).
    let (code, again) = nodes[1].send_transaction(&raw);
    assert_eq!((code, again), (200, body), "B has seen it");
    wait_converged(&all(&nodes), included_at + 10);
    let with_txs = nodes[0]
        .daemon
        .lines_so_far()
        .iter()
        .filter(|l| l.contains("block mined") && !l.ends_with(" txs 0"))
        .count();
    assert_eq!(with_txs, 1, "the transaction is included exactly once");

    // B crashes and comes back: it re-dials A and C and nothing is lost.
    let b = nodes.remove(1);
    let b_config = b.config.clone();
    let mut b = b;
    b.daemon.signal(libc::SIGKILL);
    b.daemon.wait_exit();
    let height_at_crash = nodes[0].status().best_height;
    let b = Node::start(b_config);
    nodes.insert(1, b);
    wait_converged(&all(&nodes), height_at_crash + 10);
    for node in nodes {
        node.stop();
    }
}

/// A data dir whose chain already holds `n` valid blocks past genesis (stamped from genesis on).
fn prebuilt_chain(dir: &Path, n: usize) {
    let chain = EmbeddedChain::open(
        &dir.join("data"),
        ChainSettings::development(chain_id_from_name("AELF").unwrap(), 1_767_225_600),
    )
    .unwrap();
    crate::support::chain::grow(&chain, n);
}

#[test]
fn a_node_two_hundred_blocks_behind_catches_up_in_both_modes() {
    for version in [LEGACY, STREAM] {
        let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (port_a, port_b) = (free_port(), free_port());
        prebuilt_chain(dir_a.path(), 200);
        let a = Node::start(config(dir_a.path(), port_a, &[], version, PRODUCER));
        assert!(a.status().best_height >= 201);
        let mut b = Node::start(config(dir_b.path(), port_b, &[port_a], version, ""));
        let agreed = wait_converged(&[&a, &b], 205);
        // The consensus LIB, the same on both.
        assert!(
            agreed.lib_height > 1 && agreed.lib_height < agreed.best_height,
            "{agreed:?}"
        );
        b.daemon.wait_for("synced ");
        b.stop();
        a.stop();
    }
}
