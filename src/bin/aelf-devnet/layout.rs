//! Where each node of a devnet listens and what its config says: loopback ports (fixed from a
//! base, or the kernel's pick), or the addresses of the namespace plan with `--netns`; each
//! node's boot nodes (the one or two before it); the `aelf-netd.toml` it gets.
//!
//! Owns the plan only. It must not create namespaces, write files or start processes.

use crate::cli::StartArgs;
use crate::netns::Namespace;
use aelf_net::ports::free_port;
use std::net::{SocketAddr, TcpListener};
use std::path::Path;

/// In `--netns` mode: the reconnection (and health-check) period, and the longest wait between
/// two dials of a lost link.
const NETNS_RECONNECT_MS: u64 = 2000;
/// Port every node listens on inside its namespace.
const NETNS_P2P_PORT: u16 = 6800;
const NETNS_API_PORT: u16 = 8000;

/// The port is free on loopback now.
fn check_free(port: u16) -> Result<(), String> {
    TcpListener::bind(("127.0.0.1", port)).map(drop).map_err(|e| {
        format!("port {port} is in use ({e}); another devnet? try `make devnet-stop`, or other ports")
    })
}

/// Where node `i` (1-based) listens, and the namespace plan when `--netns`.
pub struct Layout {
    pub p2p: Vec<SocketAddr>,
    pub api: Vec<SocketAddr>,
    /// One namespace per node, in node order.
    pub netns: Option<Vec<Namespace>>,
}

pub fn layout(a: &StartArgs) -> Result<Layout, String> {
    let n = a.nodes as usize;
    if a.netns {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return Err("--netns needs root (network namespaces and veth links); run without it for a loopback devnet".into());
        }
        let id = std::process::id() % 10_000;
        let second = 100 + (std::process::id() % 100) as u8;
        let mut netns = Vec::new();
        let (mut p2p, mut api) = (Vec::new(), Vec::new());
        for i in 1..=n {
            let prefix = format!("10.{second}.{i}");
            netns.push(Namespace {
                name: format!("aelfnet-{id}-{i}"),
                host: format!("av{id}h{i}"),
                inner: format!("av{id}n{i}"),
                prefix: prefix.clone(),
            });
            p2p.push(
                format!("{prefix}.2:{NETNS_P2P_PORT}")
                    .parse()
                    .map_err(|e| format!("{e}"))?,
            );
            api.push(
                format!("{prefix}.2:{NETNS_API_PORT}")
                    .parse()
                    .map_err(|e| format!("{e}"))?,
            );
        }
        return Ok(Layout {
            p2p,
            api,
            netns: Some(netns),
        });
    }
    let ports = |base: u16| -> Result<Vec<u16>, String> {
        (0..n)
            .map(|i| {
                if base == 0 {
                    free_port().map_err(|e| e.to_string())
                } else {
                    let port = base
                        .checked_add(i as u16)
                        .ok_or_else(|| format!("port {base} + {i} is past 65535"))?;
                    check_free(port).map(|()| port)
                }
            })
            .collect()
    };
    let addr = |p: u16| SocketAddr::from(([127, 0, 0, 1], p));
    Ok(Layout {
        p2p: ports(a.base_port)?.into_iter().map(addr).collect(),
        api: ports(a.api_base_port)?.into_iter().map(addr).collect(),
        netns: None,
    })
}

/// Boot nodes of node `i` (0-based): the one or two before it.
pub fn boot_of(i: usize) -> Vec<usize> {
    (i.saturating_sub(2)..i).collect()
}

/// The `aelf-netd.toml` of node `i` (0-based), whose files go to `dir`, booting from `boots`.
pub fn node_config(a: &StartArgs, dir: &Path, i: usize, boots: &[String], l: &Layout) -> String {
    let boots: Vec<String> = boots.iter().map(|b| format!("\"{b}\"")).collect();
    // Relayed links all come from the host side of a node's veth: one IP for all of them.
    let netns_rules = if a.netns {
        format!(
            "enable_peer_discovery = false\nmax_peers_per_ip_address = 0\n\
             persistent_peers = [{}]\npersistent_peer_max_backoff_ms = {NETNS_RECONNECT_MS}\n\
             peer_reconnection_period_ms = {NETNS_RECONNECT_MS}\n",
            boots.join(", ")
        )
    } else {
        String::new()
    };
    let miner = a.miner_of(i + 1);
    let chain = format!(
        "\n[chain]\nminers = {}\nmining_interval_ms = {}\n",
        a.miner_count(),
        a.mining_interval_ms
    );
    format!(
        "# Written by aelf-devnet for node {n}.\n[node]\ndata_dir = {data:?}\nnode_version = {version:?}\n\n\
         [network]\nlisten_address = \"{ip}\"\nlistening_port = {port}\nboot_nodes = [{boots}]\n{netns_rules}\n\
         [producer]\nenabled = {producing}\nminer = {miner}\n\n[api]\nlisten = \"{api}\"\n{chain}",
        n = i + 1,
        data = dir.join("data").display().to_string(),
        version = a.node_version,
        ip = l.p2p[i].ip(),
        port = l.p2p[i].port(),
        boots = boots.join(", "),
        producing = miner.is_some(),
        miner = miner.unwrap_or(1),
        api = l.api[i],
    )
}
