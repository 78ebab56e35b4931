//! The seven scenarios, one module each: `fanout`, `slow` (a slow peer), `sync`, `propagate`,
//! `peers`, `serve` (health checks on a stream busy with block requests), `wan` (propagation
//! over a namespaced devnet whose links add latency). Each measures ours
//! and, where the issue asks, the raw grpcio baseline in the same run, and adds rows to the
//! report. `sinks` drives the sink child process fanout and slow share.
//!
//! This file owns what every scenario shares: scratch folders, the CPU clock, waiting with a
//! deadline, starting a node in this process, percentiles, channels to sinks. It must not
//! hold a scenario's own steps or figures.

pub mod fanout;
pub mod peers;
pub mod propagate;
pub mod serve;
mod sinks;
pub mod slow;
pub mod sync;
pub mod wan;

use aelf_net::config::Config;
use aelf_net::grpc::channel::{connect, DEFAULT_MAX_MESSAGE_LENGTH};
use aelf_net::node::Node;
use aelf_net::ports::free_port;
use aelf_net::types::{NodeVersion, SystemClock};
use grpcio::{Channel, Environment};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// No single wait in a scenario lasts longer than this.
const DEADLINE: Duration = Duration::from_secs(120);

/// A scratch folder removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(what: &str) -> Result<Scratch, String> {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("aelf-netbench-{}-{what}-{n}", std::process::id()));
        std::fs::create_dir_all(&path)
            .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        Ok(Scratch(path))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// User + system CPU time of this process.
pub fn cpu_time() -> Duration {
    // SAFETY: getrusage fills the struct we pass.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// Polls `done` every few ms until it holds or [`DEADLINE`] passes.
pub fn wait(what: &str, mut done: impl FnMut() -> bool) -> Result<(), String> {
    let end = Instant::now() + DEADLINE;
    while !done() {
        if Instant::now() > end {
            return Err(format!("timed out waiting for {what}"));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    Ok(())
}

/// A node in this process on loopback, with `tweak` applied to its config.
pub fn start_node(
    dir: &Path,
    version: &str,
    tweak: impl FnOnce(&mut Config),
) -> Result<Node, String> {
    let mut c = Config::default();
    c.node.data_dir = dir.to_path_buf();
    c.node.node_version = NodeVersion::parse(version).map_err(|e| e.to_string())?;
    c.network.listen_address = "127.0.0.1".parse().map_err(|e| format!("{e}"))?;
    c.network.listening_port = free_port().map_err(|e| e.to_string())?;
    c.network.enable_peer_discovery = false;
    c.network.max_peers_per_ip_address = 0;
    c.api.listen = "127.0.0.1:0".parse().map_err(|e| format!("{e}"))?;
    tweak(&mut c);
    Node::start(c, Arc::new(SystemClock)).map_err(|e| format!("node: {e}"))
}

pub fn pool_len(node: &Node) -> usize {
    node.network_service().pool().peers(false).len()
}

/// Percentile (nearest rank) of sorted samples.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// A pinned TLS channel to a loopback sink.
pub fn channel(env: &Arc<Environment>, port: u16) -> Result<Channel, String> {
    connect(
        "127.0.0.1",
        port,
        env.clone(),
        Duration::from_secs(10),
        DEFAULT_MAX_MESSAGE_LENGTH,
    )
    .map(|(c, _)| c)
    .map_err(|e| format!("cannot reach sink {port}: {e}"))
}
