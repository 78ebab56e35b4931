//! The command line of `aelf-devnet`: the subcommands, their arguments and defaults, and the
//! node numbers of `--producers`.
//!
//! Owns parsing only: it must not read the devnet folder, start or stop anything.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "aelf-devnet",
    version,
    about = "A local aelf-net network for development"
)]
pub struct Args {
    #[command(subcommand)]
    pub command: Cmd,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Start N nodes.
    Start(StartArgs),
    /// Stop the nodes (SIGTERM, then SIGKILL after 20 s) and remove namespaces and relays.
    Stop {
        #[arg(long, default_value = ".devnet")]
        dir: PathBuf,
    },
    /// One line per node: height, LIB, peers.
    Status {
        #[arg(long, default_value = ".devnet")]
        dir: PathBuf,
    },
    /// Put a running devnet under steady transaction load and record each node's RSS,
    /// threads, queue depths and drops over time (`make soak`).
    Soak(SoakArgs),
    /// Cut every link between the given nodes and the others (a `--netns` devnet only).
    Partition {
        #[arg(long, default_value = ".devnet")]
        dir: PathBuf,
        /// One side of the cut: node numbers, comma-separated (e.g. 3,4).
        #[arg(long, value_delimiter = ',', required = true)]
        nodes: Vec<u16>,
    },
    /// Undo `partition`: every link relays again.
    Heal {
        #[arg(long, default_value = ".devnet")]
        dir: PathBuf,
    },
    /// Run the relays listed in <dir>/relays.txt (started by `start --netns`).
    #[command(hide = true)]
    Relay {
        #[arg(long)]
        dir: PathBuf,
    },
}

#[derive(clap::Args, Debug)]
pub struct SoakArgs {
    #[arg(long, default_value = ".devnet")]
    pub dir: PathBuf,
    /// How long to run.
    #[arg(long, default_value_t = 5)]
    pub minutes: u64,
    /// Transactions sent per second, spread over the nodes' APIs.
    #[arg(long, default_value_t = 200)]
    pub tx_per_s: usize,
    /// Seconds between samples.
    #[arg(long, default_value_t = 15)]
    pub sample_s: u64,
    /// Markdown report to write.
    #[arg(long, default_value = "docs/soak.md")]
    pub report: PathBuf,
}

#[derive(clap::Args, Debug)]
pub struct StartArgs {
    /// Number of nodes.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub nodes: u16,
    /// Folder for configs, data and logs (created; keep it out of git).
    #[arg(long, default_value = ".devnet")]
    pub dir: PathBuf,
    /// The aelf-netd binary.
    #[arg(long, default_value = "target/release/aelf-netd")]
    pub bin: PathBuf,
    /// P2P port of node 1 (node i gets base + i − 1); 0 picks free ports.
    #[arg(long, default_value_t = 16801)]
    pub base_port: u16,
    /// API port of node 1 (node i gets base + i − 1); 0 picks free ports.
    #[arg(long, default_value_t = 18001)]
    pub api_base_port: u16,
    /// `[chain] mining_interval_ms` of every node: one AEDPoS miner's time slot (up to 8
    /// blocks each).
    #[arg(long, default_value_t = 1000)]
    pub mining_interval_ms: u64,
    /// `[chain] miners`: the development miners of the chain (default: one per producing
    /// node). The k-th producing node is miner k; miners beyond the producing nodes never
    /// produce (their slots stay empty, and below 2/3 + 1 producing nothing is confirmed).
    #[arg(long)]
    pub miners: Option<u32>,
    /// The nodes that produce blocks, comma-separated node numbers: `1,3`.
    #[arg(long, value_delimiter = ',', default_value = "1", value_parser = parse_producer)]
    pub producers: Vec<Producer>,
    /// `[node] node_version` of every node (below 1.4.0.0 the nodes talk legacy mode).
    #[arg(long, default_value = "1.9.0.0")]
    pub node_version: String,
    /// Run each node in its own network namespace (root only).
    #[arg(long)]
    pub netns: bool,
    /// With --netns: delay added each way on every link.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// With --netns: share of the packets arriving at each node that are dropped (0..=100).
    #[arg(long, default_value_t = 0.0)]
    pub loss_percent: f64,
    /// With --netns: bandwidth cap of each node's link (tbf), 0 for none.
    #[arg(long, default_value_t = 0)]
    pub rate_kbit: u64,
}

/// A producing node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Producer {
    pub node: u16,
}

/// A node number from 1.
fn parse_producer(text: &str) -> Result<Producer, String> {
    let node = text
        .trim()
        .parse::<u16>()
        .ok()
        .filter(|n| *n >= 1)
        .ok_or_else(|| format!("{text:?}: a producer is a node number from 1"))?;
    Ok(Producer { node })
}

impl StartArgs {
    /// `[chain] miners` of every node.
    pub fn miner_count(&self) -> u32 {
        self.miners
            .unwrap_or(self.producers.len() as u32)
            .clamp(1, 64)
    }

    /// The development miner node `node` (1-based) is: k for the k-th producing node.
    pub fn miner_of(&self, node: usize) -> Option<u32> {
        self.producers
            .iter()
            .position(|p| usize::from(p.node) == node)
            .map(|k| k as u32 + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::{parse_producer, Producer};

    #[test]
    fn producers_are_node_numbers() {
        assert_eq!(parse_producer("3"), Ok(Producer { node: 3 }));
        for bad in ["", "0", "x", "1@700", "-1", "70000"] {
            assert!(parse_producer(bad).is_err(), "{bad:?}");
        }
    }
}
