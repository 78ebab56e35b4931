//! `aelf-netd` processes under test: [`Daemon`] (the process and its log), the config files
//! they read, and [`Node`] (a daemon and its operator API) with the chain status it reports.

use super::http::http;
use super::wait::{wait_until, DEADLINE};
use crossbeam_channel::{unbounded, Receiver};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};

/// The daemon's binary.
pub const BIN: &str = env!("CARGO_BIN_EXE_aelf-netd");

/// A running `aelf-netd`, its log (stderr) read line by line; killed when dropped.
pub struct Daemon {
    pid: i32,
    lines: Receiver<String>,
    exited: Receiver<std::io::Result<ExitStatus>>,
    seen: Vec<String>,
}

impl Daemon {
    pub fn start(config: &Path, extra: &[&str]) -> Daemon {
        let mut child: Child = Command::new(BIN)
            .arg("--config")
            .arg(config)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn aelf-netd");
        let pid = child.id() as i32;
        let stderr = child.stderr.take().expect("piped stderr");
        // Test-only channels: the daemon's output is short and read to the end.
        let (line_tx, lines) = unbounded();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = line_tx.send(line);
            }
        });
        let (exit_tx, exited) = unbounded();
        std::thread::spawn(move || {
            let _ = exit_tx.send(child.wait());
        });
        Daemon {
            pid,
            lines,
            exited,
            seen: Vec::new(),
        }
    }

    /// Waits (at most [`DEADLINE`] in all) for a new log line containing `needle` and returns
    /// it.
    pub fn wait_for(&mut self, needle: &str) -> String {
        let end = std::time::Instant::now() + DEADLINE;
        loop {
            match self.lines.recv_deadline(end) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no line with {needle:?}; output so far:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Every line logged so far (reads what has arrived without waiting).
    pub fn lines_so_far(&mut self) -> &[String] {
        while let Ok(line) = self.lines.try_recv() {
            self.seen.push(line);
        }
        &self.seen
    }

    pub fn signal(&self, signal: i32) {
        // SAFETY: plain kill(2) on the pid of a child we spawned and have not reaped.
        assert_eq!(unsafe { libc::kill(self.pid, signal) }, 0);
    }

    /// Waits for the exit, then for the rest of its log (the reader thread may still hold the
    /// last lines when the process is reaped), so `lines_so_far` has all of it.
    pub fn wait_exit(&mut self) -> ExitStatus {
        match self.exited.recv_timeout(DEADLINE) {
            Ok(status) => {
                let end = std::time::Instant::now() + DEADLINE;
                // Ends when the reader sees end of file and drops its sender.
                while let Ok(line) = self.lines.recv_deadline(end) {
                    self.seen.push(line);
                }
                status.expect("wait for aelf-netd")
            }
            Err(_) => {
                self.signal(libc::SIGKILL);
                panic!("aelf-netd did not exit; output:\n{}", self.seen.join("\n"))
            }
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.exited.try_recv().is_err() {
            unsafe { libc::kill(self.pid, libc::SIGKILL) };
        }
    }
}

/// A config listening on `port` on loopback; `network` lines go into `[network]`, `extra` is
/// appended as further sections.
/// Unless `extra` has an `[api]` section, the operator API listens on an ephemeral port (the
/// daemon logs it), so daemons under test never collide.
pub fn write_config_with(dir: &Path, port: u16, network: &str, extra: &str) -> PathBuf {
    let path = dir.join("aelf-netd.toml");
    let data_dir = dir.join("data");
    let api = if extra.contains("[api]") {
        ""
    } else {
        "[api]\nlisten = \"127.0.0.1:0\"\n"
    };
    // Test chains mine in 800 ms slots: a block every 100 ms within a slot.
    let chain = if extra.contains("[chain]") {
        ""
    } else {
        "[chain]\nmining_interval_ms = 800\n"
    };
    let text = format!(
        "[node]\ndata_dir = {:?}\n\n[network]\nlisten_address = \"127.0.0.1\"\nlistening_port = {port}\n{network}\n\n{extra}\n{api}{chain}",
        data_dir.display().to_string()
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// The word after `marker` in `line`.
pub fn value_after<'a>(line: &'a str, marker: &str) -> &'a str {
    let rest = &line[line.find(marker).expect("marker") + marker.len()..];
    rest.split_whitespace().next().unwrap_or("")
}

/// Best and LIB of a node, as its API reports them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub best_height: i64,
    pub best_hash: String,
    pub lib_height: i64,
    pub lib_hash: String,
}

/// One daemon and where its API listens.
pub struct Node {
    pub daemon: Daemon,
    pub api: SocketAddr,
    pub config: PathBuf,
}

impl Node {
    /// Starts a daemon on `config` and waits until its API listens and the node has started.
    pub fn start(config: PathBuf) -> Node {
        let mut daemon = Daemon::start(&config, &[]);
        let line = daemon.wait_for("operator API listening on http://");
        let api = line
            .rsplit("http://")
            .next()
            .and_then(|a| a.trim().parse().ok())
            .unwrap_or_else(|| panic!("no API address in {line}"));
        daemon.wait_for("node started");
        Node {
            daemon,
            api,
            config,
        }
    }

    pub fn status(&self) -> Status {
        let (code, body) = http(self.api, "GET", "/api/blockChain/chainStatus", "");
        assert_eq!(code, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        Status {
            best_height: v["BestChainHeight"].as_i64().unwrap(),
            best_hash: v["BestChainHash"].as_str().unwrap().to_owned(),
            lib_height: v["LastIrreversibleBlockHeight"].as_i64().unwrap(),
            lib_hash: v["LastIrreversibleBlockHash"].as_str().unwrap().to_owned(),
        }
    }

    /// POST sendTransaction with the hex of a transaction's bytes: (status, body).
    pub fn send_transaction(&self, raw_hex: &str) -> (u16, String) {
        let body = format!(r#"{{"RawTransaction":"{raw_hex}"}}"#);
        http(self.api, "POST", "/api/blockChain/sendTransaction", &body)
    }

    /// SIGTERM, and the daemon exits with status 0.
    pub fn stop(mut self) {
        self.daemon.signal(libc::SIGTERM);
        assert_eq!(self.daemon.wait_exit().code(), Some(0));
    }
}

/// Until every node reports the same best chain (and so the same LIB), at least `height` high.
pub fn wait_converged(nodes: &[&Node], height: i64) -> Status {
    let mut agreed = None;
    wait_until(&format!("all nodes at one best chain >= {height}"), || {
        let statuses: Vec<Status> = nodes.iter().map(|n| n.status()).collect();
        let first = statuses[0].clone();
        if first.best_height >= height && statuses.iter().all(|s| *s == first) {
            agreed = Some(first);
            return true;
        }
        false
    });
    agreed.unwrap()
}

/// A node's config: loopback port, boot nodes, version, and extra sections.
pub fn config(dir: &Path, port: u16, boot: &[u16], version: &str, extra: &str) -> PathBuf {
    config_with_network(dir, port, boot, version, "", extra)
}

/// [`config`] with `network_lines` added to its `[network]` section.
pub fn config_with_network(
    dir: &Path,
    port: u16,
    boot: &[u16],
    version: &str,
    network_lines: &str,
    extra: &str,
) -> PathBuf {
    let boot: Vec<String> = boot.iter().map(|p| format!("\"127.0.0.1:{p}\"")).collect();
    let path = write_config_with(
        dir,
        port,
        &format!("boot_nodes = [{}]\n{network_lines}", boot.join(", ")),
        extra,
    );
    let text = std::fs::read_to_string(&path).unwrap().replacen(
        "[node]\n",
        &format!("[node]\nnode_version = \"{version}\"\n"),
        1,
    );
    std::fs::write(&path, text).unwrap();
    path
}
