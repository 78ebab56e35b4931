//! Following a chain from a checkpoint, across processes: four producing nodes are the four
//! development miners of a chain with three miners per term and terms a few seconds long (so
//! the miner list rotates), and a fifth node in follow mode, given only a producer's LIB as its
//! checkpoint and that producer as boot node, fetches the checkpoint by hash, follows round
//! and term changes, and reaches the same best block and LIB; after a restart it goes on from
//! its store.

use crate::support::daemon::{config, wait_converged, Node};
use crate::support::http::http;
use crate::support::wait::wait_until;
use crate::support::{free_port, STREAM};
use std::collections::HashSet;

/// Four development miners, three per term, a term every 10 s, 800 ms slots.
const CHAIN: &str =
    "[chain]\nminers = 4\nminers_per_term = 3\nterm_period_seconds = 10\nmining_interval_ms = 800\n";

/// The signer of the best-chain block at `height`, as the API shows it.
fn signer_at(node: &Node, height: i64) -> Option<String> {
    let path = format!("/api/blockChain/blockByHeight?blockHeight={height}");
    let (code, body) = http(node.api, "GET", &path, "");
    if code != 200 {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(&body).ok()?;
    v["Header"]["SignerPubkey"].as_str().map(str::to_owned)
}

#[test]
fn a_follower_from_a_checkpoint_reaches_the_producers_best_block_and_lib() {
    let dirs: Vec<tempfile::TempDir> = (0..5).map(|_| tempfile::tempdir().unwrap()).collect();
    let ports: Vec<u16> = (0..5).map(|_| free_port()).collect();
    let producer = |miner: usize| format!("[producer]\nenabled = true\nminer = {miner}\n\n{CHAIN}");
    let a = Node::start(config(dirs[0].path(), ports[0], &[], STREAM, &producer(1)));
    let others: Vec<Node> = (2..=4)
        .map(|m| {
            let path = config(
                dirs[m - 1].path(),
                ports[m - 1],
                &[ports[0]],
                STREAM,
                &producer(m),
            );
            Node::start(path)
        })
        .collect();
    wait_until("the producers' LIB past genesis", || {
        a.status().lib_height > 1
    });
    let checkpoint = a.status();

    let follow = format!(
        "[chain]\nmode = \"follow\"\ncheckpoint_height = {}\ncheckpoint_hash = \"{}\"\n",
        checkpoint.lib_height, checkpoint.lib_hash
    );
    let config_b = config(dirs[4].path(), ports[4], &[ports[0]], STREAM, &follow);
    let mut b = Node::start(config_b.clone());
    b.daemon.wait_for("checkpoint");
    // Until it holds the checkpoint a follower names it as its best block and LIB.
    let early = b.status();
    assert!(early.best_height >= checkpoint.lib_height, "{early:?}");

    // Long enough for two term changes (a new miner list every 10 s, about 10 blocks a second).
    let agreed = wait_converged(&[&a, &b], checkpoint.best_height + 250);
    assert!(agreed.lib_height > checkpoint.lib_height, "{agreed:?}");
    // Blocks by all four miners, so the follower took every new miner list from the headers.
    let signers: HashSet<String> = (checkpoint.lib_height + 1..=agreed.best_height)
        .filter_map(|h| signer_at(&b, h))
        .collect();
    assert_eq!(signers.len(), 4, "{signers:?}");
    // Nothing below the checkpoint.
    assert_eq!(signer_at(&b, checkpoint.lib_height - 1), None);
    assert!(signer_at(&b, checkpoint.lib_height).is_some());

    // Restarted, it goes on from its store.
    b.stop();
    let b = Node::start(config_b);
    let restarted = b.status();
    assert!(restarted.best_height >= agreed.best_height, "{restarted:?}");
    wait_converged(&[&a, &b], agreed.best_height + 20);
    b.stop();
    for node in others {
        node.stop();
    }
    a.stop();
}
