//! `aelf-devnet stop`: SIGTERM to every node, SIGKILL to those still running after a grace
//! period, then the relay process, the namespaces and the state file go.
//!
//! Owns stopping. It must not touch the nodes' data, configs or logs: they stay in the folder.

use crate::netns::remove_netns;
use crate::state::{alive, signal, State};
use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

/// How long `stop` waits for each node to exit before killing it.
const STOP_WAIT: Duration = Duration::from_secs(20);

/// Stops the devnet in `dir` and removes what `start` made outside it.
pub fn stop(dir: &Path) -> Result<(), String> {
    let state = State::load(dir)?;
    for node in &state.nodes {
        if alive(node.pid) {
            signal(node.pid, libc::SIGTERM);
        }
    }
    let end = Instant::now() + STOP_WAIT;
    for node in &state.nodes {
        while alive(node.pid) && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(50));
        }
        if alive(node.pid) {
            eprintln!(
                "aelf-devnet: node {} did not stop in time; killing it",
                node.index
            );
            signal(node.pid, libc::SIGKILL);
        } else {
            println!("node {} stopped", node.index);
        }
    }
    if let Some(pid) = state.relay_pid {
        signal(pid, libc::SIGKILL);
    }
    remove_netns(state.nodes.iter().filter_map(|n| n.netns.clone()));
    fs::remove_file(State::path(dir)).map_err(|e| e.to_string())?;
    Ok(())
}
