//! `aelf-devnet`: a local aelf-net network in one command (`make devnet`, `make devnet-stop`,
//! `make devnet-status`).
//!
//! `start` writes one config per node under `--dir`, starts N `aelf-netd` processes in the
//! background (node 1 produces blocks, or the nodes `--producers` names, the k-th of them
//! AEDPoS development miner k of a chain of `--miners` miners in `--mining-interval-ms` slots;
//! node i boots from nodes i−1 and i−2, not a full mesh), waits until each API answers and
//! prints the addresses. `stop` stops them with SIGTERM (then SIGKILL after a grace period) and removes
//! what `start` made outside the folder. `status` prints one line per node.
//!
//! With `--netns` (root only) every node runs in its own network namespace joined to the host
//! by a veth pair, and every boot link goes through a user-space relay owned by the devnet
//! that adds `--latency-ms` each way (see [`relay`]); `--loss-percent` drops that share of the
//! packets arriving in each node's namespace (an nftables rule: this kernel has no `netem`),
//! so TCP really retransmits; `--rate-kbit` caps each node's link with `tbf`. Discovery is off
//! in that mode so that every connection is a relayed link, and the boot nodes are persistent
//! peers retried every 2 s at most (health checks every 2 s too), so links come back soon
//! after a cut heals. `partition` cuts every relayed link between a set of nodes and the rest
//! (the relays close those connections and refuse new ones); `heal` restores them.
//!
//! One module per job: `cli` (the command line), `state` (the state file and pids), `layout`
//! (ports, boot nodes, node configs), `netns` (namespaces, loss, rate caps), `relay` (the
//! relayed links), `start`, `stop`, `status`, `partition` (and `heal`), `soak`. This file owns
//! the dispatch only: it must not do any command's work itself.

mod cli;
mod layout;
mod netns;
mod partition;
mod relay;
mod soak;
mod start;
mod state;
mod status;
mod stop;

use clap::Parser;
use cli::{Args, Cmd};
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = Args::parse();
    let result = match &args.command {
        Cmd::Start(a) => start::start(a),
        Cmd::Stop { dir } => stop::stop(dir),
        Cmd::Status { dir } => status::status(dir),
        Cmd::Soak(a) => soak::run(a),
        Cmd::Partition { dir, nodes } => partition::partition(dir, nodes),
        Cmd::Heal { dir } => partition::heal(dir),
        Cmd::Relay { dir } => relay::run(dir),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("aelf-devnet: {e}");
            ExitCode::FAILURE
        }
    }
}
