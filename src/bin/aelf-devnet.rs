//! `aelf-devnet`: a local aelf-net network in one command (`make devnet`, `make devnet-stop`,
//! `make devnet-status`).
//!
//! `start` writes one config per node under `--dir`, starts N `aelf-netd` processes in the
//! background (node 1 produces blocks, or the nodes `--producers` names; node i boots from
//! nodes i−1 and i−2, not a full mesh), waits until each API answers and prints the
//! addresses. `stop` stops them with SIGTERM (then SIGKILL after a grace period) and removes
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

use aelf_net::api::client::ApiClient;
use aelf_net::ports::free_port;
use clap::{Parser, Subcommand};
use std::fs;
use std::net::{SocketAddr, TcpListener};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long `start` waits for each node's API, and `stop` for each node to exit.
const STARTUP_WAIT: Duration = Duration::from_secs(30);
const STOP_WAIT: Duration = Duration::from_secs(20);
/// The state file `start` writes and `stop`/`status` read.
const STATE_FILE: &str = "devnet.state";
/// Relay links, one per line: `listen target latency_ms dialer target_node`.
const RELAYS_FILE: &str = "relays.txt";
/// The nodes `partition` cut off from the rest, space-separated; absent or empty: no cut.
const CUT_FILE: &str = "cut.txt";
/// In `--netns` mode: the reconnection (and health-check) period, and the longest wait between
/// two dials of a lost link.
const NETNS_RECONNECT_MS: u64 = 2000;
/// Port every node listens on inside its namespace.
const NETNS_P2P_PORT: u16 = 6800;
const NETNS_API_PORT: u16 = 8000;
/// First port of the relays' listeners on the host side.
const RELAY_BASE_PORT: u16 = 20000;

#[derive(Parser, Debug)]
#[command(
    name = "aelf-devnet",
    version,
    about = "A local aelf-net network for development"
)]
struct Args {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
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
struct SoakArgs {
    #[arg(long, default_value = ".devnet")]
    dir: PathBuf,
    /// How long to run.
    #[arg(long, default_value_t = 5)]
    minutes: u64,
    /// Transactions sent per second, spread over the nodes' APIs.
    #[arg(long, default_value_t = 200)]
    tx_per_s: usize,
    /// Seconds between samples.
    #[arg(long, default_value_t = 15)]
    sample_s: u64,
    /// Markdown report to write.
    #[arg(long, default_value = "docs/soak.md")]
    report: PathBuf,
}

#[derive(clap::Args, Debug)]
struct StartArgs {
    /// Number of nodes.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    nodes: u16,
    /// Folder for configs, data and logs (created; keep it out of git).
    #[arg(long, default_value = ".devnet")]
    dir: PathBuf,
    /// The aelf-netd binary.
    #[arg(long, default_value = "target/release/aelf-netd")]
    bin: PathBuf,
    /// P2P port of node 1 (node i gets base + i − 1); 0 picks free ports.
    #[arg(long, default_value_t = 16801)]
    base_port: u16,
    /// API port of node 1 (node i gets base + i − 1); 0 picks free ports.
    #[arg(long, default_value_t = 18001)]
    api_base_port: u16,
    /// Block interval of the producers.
    #[arg(long, default_value_t = 1000)]
    producer_interval_ms: u64,
    /// The nodes that produce blocks, comma-separated node numbers, each optionally with its
    /// own interval in milliseconds: `1,3@700`.
    #[arg(long, value_delimiter = ',', default_value = "1", value_parser = parse_producer)]
    producers: Vec<Producer>,
    /// `[chain] irreversible_depth` of every node (the node's default when not given). Two
    /// halves of a partition can only converge on a fork above both halves' LIB.
    #[arg(long)]
    irreversible_depth: Option<u64>,
    /// `[node] node_version` of every node (below 1.4.0.0 the nodes talk legacy mode).
    #[arg(long, default_value = "1.9.0.0")]
    node_version: String,
    /// Run each node in its own network namespace (root only).
    #[arg(long)]
    netns: bool,
    /// With --netns: delay added each way on every link.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// With --netns: share of the packets arriving at each node that are dropped (0..=100).
    #[arg(long, default_value_t = 0.0)]
    loss_percent: f64,
    /// With --netns: bandwidth cap of each node's link (tbf), 0 for none.
    #[arg(long, default_value_t = 0)]
    rate_kbit: u64,
}

/// A producing node and, if it has its own, its block interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Producer {
    node: u16,
    interval_ms: Option<u64>,
}

/// `N` or `N@ms`.
fn parse_producer(text: &str) -> Result<Producer, String> {
    let (node, interval) = match text.split_once('@') {
        Some((node, ms)) => (node, Some(ms)),
        None => (text, None),
    };
    let node = node
        .trim()
        .parse::<u16>()
        .ok()
        .filter(|n| *n >= 1)
        .ok_or_else(|| format!("{text:?}: a producer is a node number from 1, optionally @ms"))?;
    let interval_ms = interval
        .map(|ms| {
            ms.trim()
                .parse::<u64>()
                .ok()
                .filter(|ms| *ms >= 1)
                .ok_or_else(|| format!("{text:?}: the interval after @ is milliseconds from 1"))
        })
        .transpose()?;
    Ok(Producer { node, interval_ms })
}

/// One started node as the state file records it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct NodeState {
    index: u16,
    pid: i32,
    api: SocketAddr,
    p2p: SocketAddr,
    /// The namespace the node runs in, if any.
    netns: Option<String>,
}

impl NodeState {
    /// The node's API as the devnet reaches it: quick to give up (2 s to connect, 5 s in all).
    fn api_client(&self) -> ApiClient {
        ApiClient::to(self.api)
            .with_connect_timeout(Duration::from_secs(2))
            .with_timeout(Duration::from_secs(5))
    }
}

/// What `start` made: nodes, the relay process, namespaces.
#[derive(Debug, Default)]
struct State {
    nodes: Vec<NodeState>,
    relay_pid: Option<i32>,
}

impl State {
    fn path(dir: &Path) -> PathBuf {
        dir.join(STATE_FILE)
    }

    fn load(dir: &Path) -> Result<State, String> {
        let text = fs::read_to_string(State::path(dir)).map_err(|e| {
            format!(
                "no devnet in {} ({e}); start one with `make devnet`",
                dir.display()
            )
        })?;
        let mut state = State::default();
        for (n, line) in text.lines().enumerate() {
            let bad = || format!("{}:{}: unreadable line {line:?}", STATE_FILE, n + 1);
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                ["node", index, pid, api, p2p, rest @ ..] => state.nodes.push(NodeState {
                    index: index.parse().map_err(|_| bad())?,
                    pid: pid.parse().map_err(|_| bad())?,
                    api: api.parse().map_err(|_| bad())?,
                    p2p: p2p.parse().map_err(|_| bad())?,
                    netns: rest.first().map(|s| s.to_string()),
                }),
                ["relay", pid] => state.relay_pid = Some(pid.parse().map_err(|_| bad())?),
                [] => {}
                _ => return Err(bad()),
            }
        }
        Ok(state)
    }

    fn save(&self, dir: &Path) -> Result<(), String> {
        let mut text = String::new();
        for n in &self.nodes {
            text.push_str(&format!("node {} {} {} {}", n.index, n.pid, n.api, n.p2p));
            if let Some(ns) = &n.netns {
                text.push_str(&format!(" {ns}"));
            }
            text.push('\n');
        }
        if let Some(pid) = self.relay_pid {
            text.push_str(&format!("relay {pid}\n"));
        }
        fs::write(State::path(dir), text).map_err(|e| format!("cannot write the state file: {e}"))
    }
}

fn alive(pid: i32) -> bool {
    // Signal 0 checks existence; a zombie child of ours does not count.
    // SAFETY: kill with signal 0 sends nothing.
    let exists = unsafe { libc::kill(pid, 0) == 0 };
    exists && !is_zombie(pid)
}

fn is_zombie(pid: i32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

fn signal(pid: i32, sig: i32) {
    // SAFETY: plain kill(2) on a pid we started.
    unsafe {
        libc::kill(pid, sig);
    }
}

/// The port is free on loopback now.
fn check_free(port: u16) -> Result<(), String> {
    TcpListener::bind(("127.0.0.1", port)).map(drop).map_err(|e| {
        format!("port {port} is in use ({e}); another devnet? try `make devnet-stop`, or other ports")
    })
}

/// Runs a command that sets up or tears down the network; its error output on failure.
fn run(program: &str, args: &[&str]) -> Result<(), String> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`{program} {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Where node `i` (1-based) listens, and the namespace plan when `--netns`.
struct Layout {
    p2p: Vec<SocketAddr>,
    api: Vec<SocketAddr>,
    /// (namespace, host-side veth, namespace-side veth, subnet prefix "10.x.i").
    netns: Option<Vec<(String, String, String, String)>>,
}

fn layout(a: &StartArgs) -> Result<Layout, String> {
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
            netns.push((
                format!("aelfnet-{id}-{i}"),
                format!("av{id}h{i}"),
                format!("av{id}n{i}"),
                prefix.clone(),
            ));
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
fn boot_of(i: usize) -> Vec<usize> {
    (i.saturating_sub(2)..i).collect()
}

fn node_config(a: &StartArgs, dir: &Path, i: usize, boots: &[String], l: &Layout) -> String {
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
    let producer = a.producers.iter().find(|p| usize::from(p.node) == i + 1);
    let chain = a.irreversible_depth.map_or(String::new(), |d| {
        format!("\n[chain]\nirreversible_depth = {d}\n")
    });
    format!(
        "# Written by aelf-devnet for node {n}.\n[node]\ndata_dir = {data:?}\nnode_version = {version:?}\n\n\
         [network]\nlisten_address = \"{ip}\"\nlistening_port = {port}\nboot_nodes = [{boots}]\n{netns_rules}\n\
         [producer]\nenabled = {producing}\ninterval_ms = {interval}\n\n[api]\nlisten = \"{api}\"\n{chain}",
        n = i + 1,
        data = dir.join("data").display().to_string(),
        version = a.node_version,
        ip = l.p2p[i].ip(),
        port = l.p2p[i].port(),
        boots = boots.join(", "),
        producing = producer.is_some(),
        interval = producer
            .and_then(|p| p.interval_ms)
            .unwrap_or(a.producer_interval_ms),
        api = l.api[i],
    )
}

/// The nftables table, in each node's namespace, that drops packets at random.
const LOSS_TABLE: &str = "aelfnet_loss";

/// Creates the namespaces and veth links of `plan`, with `tbf` caps and random packet loss
/// when asked.
fn make_netns(
    plan: &[(String, String, String, String)],
    rate_kbit: u64,
    loss_percent: f64,
) -> Result<(), String> {
    for (ns, host, inner, prefix) in plan {
        run("ip", &["netns", "add", ns])?;
        run(
            "ip",
            &["link", "add", host, "type", "veth", "peer", "name", inner],
        )?;
        run("ip", &["link", "set", inner, "netns", ns])?;
        run(
            "ip",
            &["addr", "add", &format!("{prefix}.1/24"), "dev", host],
        )?;
        run("ip", &["link", "set", host, "up"])?;
        // `program args…` run inside the namespace.
        let in_ns = |program: &str, args: &[&str]| {
            let mut all = vec!["netns", "exec", ns.as_str(), program];
            all.extend_from_slice(args);
            run("ip", &all)
        };
        in_ns(
            "ip",
            &["addr", "add", &format!("{prefix}.2/24"), "dev", inner],
        )?;
        in_ns("ip", &["link", "set", inner, "up"])?;
        in_ns("ip", &["link", "set", "lo", "up"])?;
        if loss_percent > 0.0 {
            // Dropped on the way in, so the sender learns of it only as TCP does: no ACK. A
            // relayed link crosses one node's input per direction, so each direction of every
            // link loses `loss_percent` of its data packets.
            let per_10k = ((loss_percent * 100.0).round() as u32)
                .min(10_000)
                .to_string();
            in_ns("nft", &["add", "table", "inet", LOSS_TABLE])?;
            in_ns(
                "nft",
                &[
                    "add",
                    "chain",
                    "inet",
                    LOSS_TABLE,
                    "in",
                    "{ type filter hook input priority 0 ; policy accept ; }",
                ],
            )?;
            in_ns(
                "nft",
                &[
                    "add", "rule", "inet", LOSS_TABLE, "in", "numgen", "random", "mod", "10000",
                    "lt", &per_10k, "drop",
                ],
            )?;
        }
        if rate_kbit > 0 {
            let rate = format!("{rate_kbit}kbit");
            run(
                "tc",
                &[
                    "qdisc", "add", "dev", host, "root", "tbf", "rate", &rate, "burst", "32kbit",
                    "latency", "400ms",
                ],
            )?;
        }
    }
    Ok(())
}

fn remove_netns(names: impl Iterator<Item = String>) {
    for ns in names {
        // Deleting the namespace deletes its veth end, and with it the host end.
        if let Err(e) = run("ip", &["netns", "del", &ns]) {
            eprintln!("aelf-devnet: {e}");
        }
    }
}

fn start(a: &StartArgs) -> Result<(), String> {
    if let Ok(state) = State::load(&a.dir) {
        if state.nodes.iter().any(|n| alive(n.pid)) {
            return Err(format!(
                "a devnet is already running in {}; stop it first (`make devnet-stop`)",
                a.dir.display()
            ));
        }
    }
    if !a.bin.exists() {
        return Err(format!(
            "{} not found; build it first (`make release`)",
            a.bin.display()
        ));
    }
    if !(0.0..=100.0).contains(&a.loss_percent) {
        return Err("--loss-percent must be within 0..=100".into());
    }
    if let Some(p) = a.producers.iter().find(|p| p.node > a.nodes) {
        return Err(format!(
            "--producers names node {} of a devnet of {}",
            p.node, a.nodes
        ));
    }
    fs::create_dir_all(&a.dir).map_err(|e| format!("cannot create {}: {e}", a.dir.display()))?;
    let dir = fs::canonicalize(&a.dir).map_err(|e| e.to_string())?;
    let l = layout(a)?;
    let n = a.nodes as usize;
    let mut state = State::default();

    // Boot addresses: the node itself, or (netns) a relay on the dialer's host-side address.
    let mut relays = String::new();
    let mut boots: Vec<Vec<String>> = Vec::new();
    for i in 0..n {
        let mut list = Vec::new();
        for j in boot_of(i) {
            match &l.netns {
                None => list.push(l.p2p[j].to_string()),
                Some(plan) => {
                    let listen = format!("{}.1:{}", plan[i].3, RELAY_BASE_PORT + j as u16);
                    relays.push_str(&format!(
                        "{listen} {} {} {} {}\n",
                        l.p2p[j],
                        a.latency_ms,
                        i + 1,
                        j + 1
                    ));
                    list.push(listen);
                }
            }
        }
        boots.push(list);
    }
    if let Some(plan) = &l.netns {
        if a.loss_percent > 0.0 && Command::new("nft").arg("--version").output().is_err() {
            return Err(
                "--loss-percent needs nft (Debian package nftables; `make deps` installs it)"
                    .into(),
            );
        }
        if let Err(e) = make_netns(plan, a.rate_kbit, a.loss_percent) {
            remove_netns(plan.iter().map(|p| p.0.clone()));
            return Err(e);
        }
        fs::write(dir.join(RELAYS_FILE), &relays).map_err(|e| e.to_string())?;
        let me = std::env::current_exe().map_err(|e| e.to_string())?;
        let log = fs::File::create(dir.join("relay.log")).map_err(|e| e.to_string())?;
        let child = Command::new(me)
            .args(["relay", "--dir"])
            .arg(&dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .process_group(0)
            .spawn()
            .map_err(|e| format!("cannot start the relay: {e}"))?;
        state.relay_pid = Some(child.id() as i32);
        state.save(&dir)?;
    }

    for i in 0..n {
        let node_dir = dir.join(format!("node-{}", i + 1));
        fs::create_dir_all(&node_dir).map_err(|e| e.to_string())?;
        let config = node_dir.join("aelf-netd.toml");
        fs::write(&config, node_config(a, &node_dir, i, &boots[i], &l))
            .map_err(|e| e.to_string())?;
        let log = fs::File::create(node_dir.join("aelf-netd.log")).map_err(|e| e.to_string())?;
        let netns = l.netns.as_ref().map(|plan| plan[i].0.clone());
        let mut command = match &netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]).arg(&a.bin);
                c
            }
            None => Command::new(&a.bin),
        };
        let child = command
            .arg("--config")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            // Its own process group: a Ctrl-C on `make devnet` does not reach the nodes.
            .process_group(0)
            .spawn()
            .map_err(|e| format!("cannot start node {}: {e}", i + 1))?;
        state.nodes.push(NodeState {
            index: i as u16 + 1,
            pid: child.id() as i32,
            api: l.api[i],
            p2p: l.p2p[i],
            netns,
        });
        state.save(&dir)?;
        // Each node is up before the next one dials it.
        wait_up(state.nodes.last().ok_or("no node started")?, &dir)?;
    }
    println!(
        "devnet of {n} nodes in {}; `make devnet-status`, `make devnet-stop`",
        dir.display()
    );
    Ok(())
}

/// Waits until `node`'s API answers, then prints where it is.
fn wait_up(node: &NodeState, dir: &Path) -> Result<(), String> {
    let end = Instant::now() + STARTUP_WAIT;
    let api = node.api_client();
    while api.get("/api/blockChain/chainStatus").is_err() {
        if !alive(node.pid) || Instant::now() > end {
            return Err(format!(
                "node {} did not come up; see {}/node-{}/aelf-netd.log (stop the rest with `make devnet-stop`)",
                node.index,
                dir.display(),
                node.index
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let ns = node
        .netns
        .as_ref()
        .map_or(String::new(), |ns| format!("  netns {ns}"));
    println!(
        "node {}  api http://{}  p2p {}  pid {}{ns}",
        node.index, node.api, node.p2p, node.pid
    );
    Ok(())
}

fn stop(dir: &Path) -> Result<(), String> {
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

fn status(dir: &Path) -> Result<(), String> {
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

mod relay {
    //! A TCP relay per link that delays every chunk by a fixed latency each way (packet loss
    //! is the namespaces' nftables rule, below TCP). A link can be cut: its open connections
    //! are shut down and new ones closed at once, until it is restored.

    use parking_lot::Mutex;
    use std::collections::HashMap;
    use std::io::{Read, Write};
    use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    /// Chunks in flight per direction at most (the relay's window).
    const IN_FLIGHT: usize = 1024;

    pub struct Link {
        pub listen: SocketAddr,
        pub target: SocketAddr,
        pub latency: Duration,
        /// The node numbers at the two ends: the dialer and the node dialed.
        pub ends: (u16, u16),
    }

    /// Whether a link is cut, and its open connections (both sockets of each), so that
    /// cutting can shut them down.
    #[derive(Default)]
    pub struct LinkState {
        cut: AtomicBool,
        open: Mutex<HashMap<u64, [TcpStream; 2]>>,
        next_id: AtomicU64,
    }

    impl LinkState {
        /// Cuts (shutting every open connection down) or restores the link.
        pub fn set_cut(&self, cut: bool) {
            if self.cut.swap(cut, Ordering::SeqCst) == cut || !cut {
                return;
            }
            for (_, pair) in self.open.lock().drain() {
                for stream in pair {
                    let _ = stream.shutdown(Shutdown::Both);
                }
            }
        }

        fn is_cut(&self) -> bool {
            self.cut.load(Ordering::SeqCst)
        }
    }

    /// Serves one link forever (a thread per accepted connection and direction).
    pub fn serve(link: Link, state: Arc<LinkState>) -> std::io::Result<()> {
        let listener = TcpListener::bind(link.listen)?;
        for inbound in listener.incoming().flatten() {
            if state.is_cut() {
                let _ = inbound.shutdown(Shutdown::Both);
                continue;
            }
            let Some(outbound) = connect_with_retries(link.target) else {
                continue;
            };
            let _ = inbound.set_nodelay(true);
            let _ = outbound.set_nodelay(true);
            let id = state.next_id.fetch_add(1, Ordering::SeqCst);
            {
                let mut open = state.open.lock();
                // Checked under the lock `set_cut` drains: a cut cannot slip in between.
                if state.is_cut() {
                    continue;
                }
                open.insert(id, [inbound.try_clone()?, outbound.try_clone()?]);
            }
            let latency = link.latency;
            let mut pumps = Vec::new();
            for (from, to) in [
                (inbound.try_clone()?, outbound.try_clone()?),
                (outbound, inbound),
            ] {
                pumps.push(std::thread::spawn(move || pump(from, to, latency)));
            }
            let state = state.clone();
            std::thread::spawn(move || {
                for pump in pumps {
                    let _ = pump.join();
                }
                state.open.lock().remove(&id);
            });
        }
        Ok(())
    }

    /// The target may still be starting: a few tries over two seconds.
    fn connect_with_retries(target: SocketAddr) -> Option<TcpStream> {
        for _ in 0..20 {
            if let Ok(stream) = TcpStream::connect(target) {
                return Some(stream);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        None
    }

    /// Reads chunks from `from` and writes each to `to` once its time has come.
    fn pump(mut from: TcpStream, mut to: TcpStream, latency: Duration) {
        let (tx, rx) = crossbeam_channel::bounded::<(Instant, Vec<u8>)>(IN_FLIGHT);
        let writer = std::thread::spawn(move || {
            let mut last = Instant::now();
            for (due, chunk) in rx {
                // In order: a delayed chunk holds back those after it, as TCP does.
                let due = due.max(last);
                let now = Instant::now();
                if due > now {
                    std::thread::sleep(due - now);
                }
                last = due;
                if to.write_all(&chunk).is_err() {
                    break;
                }
            }
            let _ = to.shutdown(Shutdown::Write);
        });
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let due = Instant::now() + latency;
                    if tx.send((due, buf[..n].to_vec())).is_err() {
                        break;
                    }
                }
            }
        }
        drop(tx);
        let _ = writer.join();
    }
}

mod soak {
    //! The soak run: steady signed transactions into every node's API, and samples of each
    //! node's `/metrics` over time, written as a Markdown table.

    use super::{NodeState, SoakArgs, State};
    use aelf_net::api::client::{Answer, ApiClient};
    use aelf_net::chain::{synthetic_transactions, ChainTip};
    use aelf_net::crypto::NodeKey;
    use aelf_net::types::Hash;
    use protobuf::Message;
    use std::fmt::Write as _;
    use std::time::{Duration, Instant};

    /// One sample of one node.
    struct Sample {
        at_s: u64,
        node: u16,
        height: i64,
        rss_mib: f64,
        threads: f64,
        queued: f64,
        dropped: f64,
        pool: f64,
    }

    /// Sum of the samples of `name` (any labels) in Prometheus text.
    fn metric(text: &str, name: &str) -> f64 {
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .filter(|l| l.split(['{', ' ']).next() == Some(name))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    pub fn run(a: &SoakArgs) -> Result<(), String> {
        let state = State::load(&a.dir)?;
        let apis: Vec<ApiClient> = state.nodes.iter().map(NodeState::api_client).collect();
        let first = apis.first().ok_or("the devnet has no nodes")?;
        let key = NodeKey::generate();
        let started = Instant::now();
        let end = started + Duration::from_secs(a.minutes * 60);
        let mut samples = Vec::new();
        let (mut sent, mut refused, mut nonce) = (0u64, 0u64, 0u64);
        let mut next_sample = Instant::now();
        eprintln!(
            "soak: {} tx/s for {} min, a sample every {} s",
            a.tx_per_s, a.minutes, a.sample_s
        );
        while Instant::now() < end {
            let second = Instant::now();
            if let Ok(status) = first.get("/api/blockChain/chainStatus") {
                let hash = status["BestChainHash"].as_str().unwrap_or("");
                let tip = ChainTip {
                    hash: Hash::from_hex(hash).unwrap_or(Hash::ZERO),
                    height: status["BestChainHeight"].as_i64().unwrap_or(1),
                };
                let txs = synthetic_transactions(&key, &tip, a.tx_per_s, nonce);
                for (i, tx) in txs.iter().enumerate() {
                    let api = &apis[i % apis.len()];
                    let raw = hex::encode(tx.write_to_bytes().unwrap_or_default());
                    let body = serde_json::json!({ "RawTransaction": raw });
                    match api.post("/api/blockChain/sendTransaction", &body) {
                        Ok(_) => sent += 1,
                        Err(_) => refused += 1,
                    }
                }
                nonce += a.tx_per_s as u64;
            }
            if Instant::now() >= next_sample {
                next_sample += Duration::from_secs(a.sample_s.max(1));
                let at_s = started.elapsed().as_secs();
                for (node, api) in state.nodes.iter().zip(&apis) {
                    let Some(text) = api
                        .request("GET", "/metrics", None)
                        .ok()
                        .filter(Answer::is_success)
                        .map(|a| a.body)
                    else {
                        continue;
                    };
                    samples.push(Sample {
                        at_s,
                        node: node.index,
                        height: metric(&text, "aelf_net_chain_best_height") as i64,
                        rss_mib: metric(&text, "process_resident_memory_bytes") / 1024.0 / 1024.0,
                        threads: metric(&text, "process_threads"),
                        queued: metric(&text, "aelf_net_queue_depth"),
                        dropped: metric(&text, "aelf_net_queue_dropped_total"),
                        pool: metric(&text, "aelf_net_transaction_pool_size"),
                    });
                }
                eprintln!("soak: {at_s} s, {sent} tx accepted, {refused} refused");
            }
            if let Some(rest) = Duration::from_secs(1).checked_sub(second.elapsed()) {
                std::thread::sleep(rest);
            }
        }
        let mut md = String::new();
        let _ = writeln!(
            md,
            "# Soak run\n\nGenerated by `make soak` (`aelf-devnet soak`); never edited by hand.\n"
        );
        let _ = writeln!(
            md,
            "{} nodes, {} min, {} transactions/s offered through the nodes' APIs: {sent} accepted, \
             {refused} refused (duplicates, a full pool, or a node busy). One row per node and \
             sample; flat RSS, threads and queues under steady load are the goal.\n",
            state.nodes.len(),
            a.minutes,
            a.tx_per_s
        );
        let _ = writeln!(
            md,
            "| s | node | height | RSS MiB | threads | queued items | dropped (total) | tx pool |"
        );
        let _ = writeln!(md, "|---|---|---|---|---|---|---|---|");
        for s in &samples {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {:.1} | {:.0} | {:.0} | {:.0} | {:.0} |",
                s.at_s, s.node, s.height, s.rss_mib, s.threads, s.queued, s.dropped, s.pool
            );
        }
        std::fs::write(&a.report, md)
            .map_err(|e| format!("cannot write {}: {e}", a.report.display()))?;
        println!("soak report: {}", a.report.display());
        Ok(())
    }
}

/// The node numbers in the cut file (one side of a partition); empty when there is no cut.
fn read_cut(dir: &Path) -> Vec<u16> {
    fs::read_to_string(dir.join(CUT_FILE))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect()
}

fn partition(dir: &Path, nodes: &[u16]) -> Result<(), String> {
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

fn heal(dir: &Path) -> Result<(), String> {
    State::load(dir)?;
    match fs::remove_file(dir.join(CUT_FILE)) {
        Ok(()) => println!("every link relays again"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => println!("no partition to heal"),
        Err(e) => return Err(e.to_string()),
    }
    Ok(())
}

/// How often the relay process looks at the cut file.
const CUT_POLL: Duration = Duration::from_millis(100);

fn relay(dir: &Path) -> Result<(), String> {
    let text = fs::read_to_string(dir.join(RELAYS_FILE)).map_err(|e| e.to_string())?;
    let mut links = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let w: Vec<&str> = line.split_whitespace().collect();
        let [listen, target, latency, dialer, dialed] = w.as_slice() else {
            return Err(format!("bad relay line {line:?}"));
        };
        let node = |w: &str| {
            w.parse()
                .map_err(|_| format!("bad node number in {line:?}"))
        };
        let link = relay::Link {
            listen: listen
                .parse()
                .map_err(|_| format!("bad address in {line:?}"))?,
            target: target
                .parse()
                .map_err(|_| format!("bad address in {line:?}"))?,
            latency: Duration::from_millis(
                latency
                    .parse()
                    .map_err(|_| format!("bad latency in {line:?}"))?,
            ),
            ends: (node(dialer)?, node(dialed)?),
        };
        eprintln!(
            "relay {} -> {} (node {} to {}, {:?})",
            link.listen, link.target, link.ends.0, link.ends.1, link.latency
        );
        links.push(link);
    }
    let mut states = Vec::new();
    for link in links {
        let state = Arc::new(relay::LinkState::default());
        states.push((link.ends, state.clone()));
        std::thread::spawn(move || {
            if let Err(e) = relay::serve(link, state) {
                eprintln!("relay stopped: {e}");
            }
        });
    }
    // A link is cut while exactly one of its ends is on the cut side.
    let mut last = Vec::new();
    loop {
        let side = read_cut(dir);
        if side != last {
            eprintln!("cut side now {side:?}");
            for ((a, b), state) in &states {
                state.set_cut(side.contains(a) != side.contains(b));
            }
            last = side;
        }
        std::thread::sleep(CUT_POLL);
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let result = match &args.command {
        Cmd::Start(a) => start(a),
        Cmd::Stop { dir } => stop(dir),
        Cmd::Status { dir } => status(dir),
        Cmd::Soak(a) => soak::run(a),
        Cmd::Partition { dir, nodes } => partition(dir, nodes),
        Cmd::Heal { dir } => heal(dir),
        Cmd::Relay { dir } => relay(dir),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("aelf-devnet: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{parse_producer, Producer};

    #[test]
    fn producers_are_node_numbers_with_an_optional_interval() {
        assert_eq!(
            parse_producer("3"),
            Ok(Producer {
                node: 3,
                interval_ms: None
            })
        );
        assert_eq!(
            parse_producer("1@700"),
            Ok(Producer {
                node: 1,
                interval_ms: Some(700)
            })
        );
        for bad in ["", "0", "x", "1@", "1@0", "1@x", "-1", "70000"] {
            assert!(parse_producer(bad).is_err(), "{bad:?}");
        }
    }
}
