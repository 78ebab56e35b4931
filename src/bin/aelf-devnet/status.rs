//! `aelf-devnet status`: one line per node (height, LIB, peers) from each node's API.
//!
//! Owns that report. It reads only: it must not start, stop or change anything.

use crate::state::{alive, State};
use std::path::Path;

/// Prints one line per node of the devnet in `dir`.
pub fn status(dir: &Path) -> Result<(), String> {
    let state = State::load(dir)?;
    for node in &state.nodes {
        let api = node.api_client();
        let chain = api.get("/api/blockChain/chainStatus").ok();
        let peers = api.get("/api/net/networkInfo").ok();
        match (alive(node.pid), chain, peers) {
            (true, Some(c), Some(p)) => println!(
                "node {}  height {}  lib {}  peers {}  api http://{}",
                node.index,
                c["BestChainHeight"],
                c["LastIrreversibleBlockHeight"],
                p["Connections"],
                node.api
            ),
            (true, _, _) => println!(
                "node {}  running, API not answering  api http://{}",
                node.index, node.api
            ),
            (false, _, _) => println!("node {}  down", node.index),
        }
    }
    Ok(())
}
