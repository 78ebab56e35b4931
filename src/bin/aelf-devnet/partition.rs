//! `aelf-devnet partition` and `heal`: they write, or remove, the cut file naming one side of
//! the cut; the relay process (see `relay`) follows it.
//!
//! Owns the cut file. It must not touch links or processes itself.

use crate::state::State;
use std::fs;
use std::path::Path;

/// The nodes `partition` cut off from the rest, space-separated; absent or empty: no cut.
pub const CUT_FILE: &str = "cut.txt";

/// The node numbers in the cut file (one side of a partition); empty when there is no cut.
pub fn read_cut(dir: &Path) -> Vec<u16> {
    fs::read_to_string(dir.join(CUT_FILE))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect()
}

/// Cuts `nodes` off from the rest of the `--netns` devnet in `dir`.
pub fn partition(dir: &Path, nodes: &[u16]) -> Result<(), String> {
    let state = State::load(dir)?;
    if state.relay_pid.is_none() {
        return Err(
            "a partition needs a devnet started with --netns (its relays make the cut)".into(),
        );
    }
    if let Some(n) = nodes
        .iter()
        .find(|n| !state.nodes.iter().any(|node| node.index == **n))
    {
        return Err(format!("there is no node {n} in this devnet"));
    }
    let side: Vec<String> = nodes.iter().map(u16::to_string).collect();
    fs::write(dir.join(CUT_FILE), side.join(" ")).map_err(|e| e.to_string())?;
    println!("nodes {} cut off from the others", side.join(","));
    Ok(())
}

/// Lifts the cut, if any.
pub fn heal(dir: &Path) -> Result<(), String> {
    State::load(dir)?;
    match fs::remove_file(dir.join(CUT_FILE)) {
        Ok(()) => println!("every link relays again"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => println!("no partition to heal"),
        Err(e) => return Err(e.to_string()),
    }
    Ok(())
}
