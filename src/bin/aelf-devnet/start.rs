//! `aelf-devnet start`: writes one config per node, sets up the namespaces and the relay
//! process with `--netns`, starts the `aelf-netd` processes one after the other and waits until
//! each API answers.
//!
//! Owns the order of starting and the state it records. It must not stop nodes (`stop` does),
//! nor decide ports or configs (`layout`) or how namespaces are made (`netns`).

use crate::cli::StartArgs;
use crate::layout::{boot_of, layout, node_config};
use crate::netns::{make_netns, remove_netns};
use crate::relay::{RELAYS_FILE, RELAY_BASE_PORT};
use crate::state::{alive, NodeState, State};
use std::fs;
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long `start` waits for each node's API.
const STARTUP_WAIT: Duration = Duration::from_secs(30);

/// Starts the devnet `a` describes; on success every node's API answers.
pub fn start(a: &StartArgs) -> Result<(), String> {
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
                    let listen = format!("{}.1:{}", plan[i].prefix, RELAY_BASE_PORT + j as u16);
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
            remove_netns(plan.iter().map(|p| p.name.clone()));
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
        let netns = l.netns.as_ref().map(|plan| plan[i].name.clone());
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
