//! The peers scenario: `aelf-netd` as its own process with N idle peers added through its API;
//! RSS and threads per peer, and handshakes/s.
//!
//! Owns the daemon's run and the rows. It must not touch the other scenarios.

use super::{wait, Scratch};
use crate::report::{Report, Row};
use crate::sink::{genesis_chain, Sink};
use crate::Sizes;
use aelf_net::api::client::ApiClient;
use aelf_net::ports::free_port;
use grpcio::EnvBuilder;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `VmRSS` (bytes) and `Threads` of a process.
pub(crate) fn process_stats(pid: u32) -> Result<(f64, f64), String> {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(|e| e.to_string())?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    Ok((field("VmRSS:") * 1024.0, field("Threads:")))
}

/// The node under test as its own process, so its RSS and threads are its own.
struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        // SAFETY: kill(2) on our own child.
        unsafe { libc::kill(self.0.id() as i32, libc::SIGTERM) };
        let _ = self.0.wait();
    }
}

/// Runs the scenario: a row per peer count.
pub fn run(sizes: &Sizes, report: &mut Report) -> Result<(), String> {
    let bin = std::env::current_exe()
        .map_err(|e| e.to_string())?
        .with_file_name("aelf-netd");
    if !bin.exists() {
        return Err(format!("{} not found (build the workspace)", bin.display()));
    }
    let env = Arc::new(EnvBuilder::new().cq_count(2).name_prefix("peer").build());
    let chain_dir = Scratch::new("peers-chain")?;
    let chain = genesis_chain(&chain_dir.0)?;
    for &count in &sizes.peer_counts {
        let sinks: Vec<Sink> = (0..count)
            .map(|_| Sink::start(&env, &chain, false, None))
            .collect::<Result<_, _>>()?;
        let dir = Scratch::new("peers-node")?;
        let api_port = free_port().map_err(|e| e.to_string())?;
        let api: SocketAddr = ([127, 0, 0, 1], api_port).into();
        let config = dir.0.join("aelf-netd.toml");
        let limit = count + 8;
        std::fs::write(
            &config,
            format!(
                "[node]\ndata_dir = {:?}\nnode_version = \"1.3.0.0\"\n[network]\nlisten_address = \"127.0.0.1\"\nlistening_port = {}\n\
                 max_peers = {limit}\nmax_outbound_peers = {limit}\nmax_peers_per_ip_address = 0\nenable_peer_discovery = false\n\
                 [api]\nlisten = \"{api}\"\nbasic_auth_user = \"bench\"\nbasic_auth_password = \"bench\"\n[threads]\napi_workers = 8\n[log]\nlevel = \"error\"\n",
                dir.0.join("data").display().to_string(),
                free_port().map_err(|e| e.to_string())?,
            ),
        )
        .map_err(|e| e.to_string())?;
        let child = Command::new(&bin)
            .arg("--config")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start aelf-netd: {e}"))?;
        let daemon = Daemon(child);
        let pid = daemon.0.id();
        let client = ApiClient::to(api)
            .with_timeout(Duration::from_secs(60))
            .with_basic_auth("bench", "bench");
        wait("the daemon's API", || {
            client
                .request("GET", "/api/net/networkInfo", None)
                .is_ok_and(|a| a.status == 200)
        })?;
        let (rss0, threads0) = process_stats(pid)?;
        let ports: Vec<u16> = sinks.iter().map(|s| s.port).collect();
        let t0 = Instant::now();
        let workers: Vec<_> = ports
            .chunks(ports.len().div_ceil(8).max(1))
            .map(|chunk| {
                let chunk = chunk.to_vec();
                let client = client.clone();
                std::thread::spawn(move || {
                    for port in chunk {
                        let body = format!(r#"{{"Address":"127.0.0.1:{port}"}}"#);
                        let _ = client.request("POST", "/api/net/peer", Some(&body));
                    }
                })
            })
            .collect();
        for w in workers {
            let _ = w.join();
        }
        wait("every peer connected", || {
            client
                .request("GET", "/api/net/networkInfo", None)
                .is_ok_and(|a| {
                    serde_json::from_str::<serde_json::Value>(&a.body)
                        .is_ok_and(|v| v["Connections"].as_u64() == Some(count as u64))
                })
        })?;
        let connect_s = t0.elapsed().as_secs_f64();
        let (rss1, threads1) = process_stats(pid)?;
        drop(daemon);
        drop(sinks);
        let per = |a: f64, b: f64| (b - a) / count as f64;
        report.add(Row {
            scenario: "peers",
            case: format!("{count} idle peers"),
            figures: vec![
                ("rss_kib_per_peer", per(rss0, rss1) / 1024.0),
                ("threads_per_peer", per(threads0, threads1)),
                ("handshakes_per_s", count as f64 / connect_s),
                ("node_rss_mib", rss1 / 1024.0 / 1024.0),
                ("node_threads", threads1),
            ],
            note: "goals: at most 256 KiB and 5 threads per idle peer; 500 peers on 2 cores".into(),
        });
    }
    Ok(())
}
