//! The devnet's state file (`<dir>/devnet.state`): which node runs as which pid, where its API
//! and P2P port are, the namespace it runs in, the relay process's pid; and the checks and
//! signals on those pids.
//!
//! Owns the file's format and the pid primitives. It must not decide when to start or stop
//! anything: `start` and `stop` do.

use aelf_net::api::client::ApiClient;
use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The state file `start` writes and `stop`/`status` read.
const STATE_FILE: &str = "devnet.state";

/// One started node as the state file records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeState {
    pub index: u16,
    pub pid: i32,
    pub api: SocketAddr,
    pub p2p: SocketAddr,
    /// The namespace the node runs in, if any.
    pub netns: Option<String>,
}

impl NodeState {
    /// The node's API as the devnet reaches it: quick to give up (2 s to connect, 5 s in all).
    pub fn api_client(&self) -> ApiClient {
        ApiClient::to(self.api)
            .with_connect_timeout(Duration::from_secs(2))
            .with_timeout(Duration::from_secs(5))
    }
}

/// What `start` made: nodes, the relay process, namespaces.
#[derive(Debug, Default)]
pub struct State {
    pub nodes: Vec<NodeState>,
    pub relay_pid: Option<i32>,
}

impl State {
    pub fn path(dir: &Path) -> PathBuf {
        dir.join(STATE_FILE)
    }

    pub fn load(dir: &Path) -> Result<State, String> {
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

    pub fn save(&self, dir: &Path) -> Result<(), String> {
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

pub fn alive(pid: i32) -> bool {
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

pub fn signal(pid: i32, sig: i32) {
    // SAFETY: plain kill(2) on a pid we started.
    unsafe {
        libc::kill(pid, sig);
    }
}
