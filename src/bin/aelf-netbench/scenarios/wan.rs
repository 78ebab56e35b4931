//! The wan scenario: propagation over links with real latency. An `aelf-devnet --netns` network
//! (each node an `aelf-netd` process in its own network namespace, every boot link through the
//! devnet's relay that adds [`LINK_LATENCY_MS`] each way; node i boots from nodes i−1 and i−2),
//! node 1 producing. Mined → accepted at every node is read from the nodes' own logs (the
//! "best chain" line each node writes when a block joins its best chain, RFC 3339 timestamps
//! from one clock), and a hop is set against the link's round trip: the producer's own block
//! goes to its peers in full (half a round trip), every later hop is announce one way, then
//! request and reply (1.5 round trips at the least).
//!
//! Owns the devnet's lifetime and the log reading. It must not touch the other scenarios.
//! Needs root and iproute2 (`make deps`); elsewhere it reports that it was skipped.

use super::{percentile, wait, Scratch};
use crate::report::{Report, Row};
use crate::Sizes;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Latency the relay adds on every link, each way.
pub const LINK_LATENCY_MS: u64 = 20;
/// Development slot length of the devnet's producer.
const MINING_INTERVAL_MS: u64 = 1_000;
/// Every node has synced to at least this height before blocks are measured (its links are up).
const READY_HEIGHT: i64 = 3;

/// A binary built beside this one.
fn sibling(name: &str) -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let path = exe.with_file_name(name);
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "{} is missing: build every binary first (`make release`)",
            path.display()
        ))
    }
}

/// Whether network namespaces can be made here (root, iproute2).
fn namespaces_permitted() -> bool {
    // SAFETY: reads the effective user id.
    let root = unsafe { libc::geteuid() } == 0;
    let ip = |args: &[&str]| {
        Command::new("ip")
            .args(args)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    root && ip(&["netns", "add", "aelfnet-bench-probe"])
        && ip(&["netns", "del", "aelfnet-bench-probe"])
}

/// Runs `aelf-devnet` with `args`; its output, or why it failed.
fn devnet(bin: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new(bin)
        .args(args)
        .output()
        .map_err(|e| format!("{}: {e}", bin.display()))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        Ok(text)
    } else {
        Err(format!("aelf-devnet {}: {text}", args.join(" ")))
    }
}

/// Stops the devnet when dropped (a failed run leaves no namespaces or processes behind).
struct Running<'a> {
    bin: &'a Path,
    dir: &'a str,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        let _ = devnet(self.bin, &["stop", "--dir", self.dir]);
    }
}

/// Milliseconds since the epoch of an RFC 3339 UTC timestamp such as
/// `2026-12-06T20:34:53.719626921Z` (the log's own format); `None` for anything else.
fn rfc3339_millis(stamp: &str) -> Option<f64> {
    let (date, time) = stamp.split_once('T')?;
    let mut d = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let time = time.trim_end_matches('Z');
    let mut t = time.splitn(3, ':');
    let (hh, mm) = (
        t.next()?.parse::<f64>().ok()?,
        t.next()?.parse::<f64>().ok()?,
    );
    let ss = t.next()?.parse::<f64>().ok()?;
    // Days from the civil date (proleptic Gregorian), as in Howard Hinnant's algorithm.
    let (y, m) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 86_400) as f64 + hh * 3_600.0 + mm * 60.0 + ss) * 1e3)
}

/// When each block (height, hash) joined a node's best chain, from its log.
fn accepted_times(log: &Path) -> HashMap<(i64, String), f64> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let mut out = HashMap::new();
    for line in text.lines() {
        let Some((_, rest)) = line.split_once("best chain: height ") else {
            continue;
        };
        let mut words = rest.split_whitespace();
        let (Some(height), Some("hash"), Some(hash)) = (words.next(), words.next(), words.next())
        else {
            continue;
        };
        let (Some(stamp), Ok(height)) = (line.split_whitespace().next(), height.parse::<i64>())
        else {
            continue;
        };
        if let Some(ms) = rfc3339_millis(stamp) {
            out.entry((height, hash.to_owned())).or_insert(ms);
        }
    }
    out
}

/// Hops from node 0 when node i boots from nodes i−1 and i−2 (links both ways).
fn hops(nodes: usize) -> Vec<usize> {
    (0..nodes).map(|i| i.div_ceil(2)).collect()
}

/// Runs the scenario: one row (or a row saying why it was skipped).
pub fn run(sizes: &Sizes, report: &mut Report) -> Result<(), String> {
    let n = sizes.wan_nodes;
    if n < 2 {
        return Ok(());
    }
    let case = format!("{n} nodes, {LINK_LATENCY_MS} ms each way per link");
    if !namespaces_permitted() {
        report.add(Row {
            scenario: "wan",
            case,
            figures: Vec::new(),
            note: "skipped: network namespaces need root and iproute2 (`make deps`)".into(),
        });
        return Ok(());
    }
    let (bin, netd) = (sibling("aelf-devnet")?, sibling("aelf-netd")?);
    let scratch = Scratch::new("wan")?;
    let dir = scratch.0.to_str().ok_or("scratch path is not UTF-8")?;
    let (nodes, latency, interval) = (
        n.to_string(),
        LINK_LATENCY_MS.to_string(),
        MINING_INTERVAL_MS.to_string(),
    );
    let netd_path = netd.to_str().ok_or("aelf-netd path is not UTF-8")?;
    devnet(
        &bin,
        &[
            "start",
            "--nodes",
            &nodes,
            "--dir",
            dir,
            "--bin",
            netd_path,
            "--netns",
            "--latency-ms",
            &latency,
            "--mining-interval-ms",
            &interval,
        ],
    )?;
    let running = Running { bin: &bin, dir };
    let logs: Vec<PathBuf> = (1..=n)
        .map(|i| scratch.0.join(format!("node-{i}")).join("aelf-netd.log"))
        .collect();
    let top = |log: &PathBuf| accepted_times(log).keys().map(|(h, _)| *h).max();
    wait("every node synced over the delayed links", || {
        logs.iter()
            .all(|l| top(l).is_some_and(|h| h >= READY_HEIGHT))
    })?;
    // Blocks mined from now on are measured.
    let first = top(&logs[0]).unwrap_or(READY_HEIGHT) + 1;
    let last = first + sizes.propagate_blocks as i64;
    // Every node has every measured block.
    let everywhere = || {
        let times: Vec<_> = logs.iter().map(|l| accepted_times(l)).collect();
        let produced: Vec<(i64, String)> = times[0]
            .keys()
            .filter(|(h, _)| (first..last).contains(h))
            .cloned()
            .collect();
        (produced.len() >= sizes.propagate_blocks
            && times
                .iter()
                .all(|t| produced.iter().all(|b| t.contains_key(b))))
        .then_some((times, produced))
    };
    wait(
        "blocks accepted at every node over the delayed links",
        || everywhere().is_some(),
    )?;
    let (times, produced) = everywhere().ok_or("the blocks went missing from the logs")?;
    drop(running);
    let dist = hops(n);
    let rtt = 2.0 * LINK_LATENCY_MS as f64;
    // The wire's own share of d hops: the full block (half a round trip), then 1.5 each.
    let floor = |d: usize| 0.5 * rtt + 1.5 * rtt * d.saturating_sub(1) as f64;
    let (mut latencies, mut per_hop, mut overhead) = (Vec::new(), Vec::new(), Vec::new());
    for block in &produced {
        let mined = times[0][block];
        for i in 1..n {
            let ms = (times[i][block] - mined).max(0.0);
            let d = dist[i].max(1);
            latencies.push(ms);
            per_hop.push(ms / d as f64);
            overhead.push((ms - floor(d)) / d as f64);
        }
    }
    latencies.sort_by(f64::total_cmp);
    per_hop.sort_by(f64::total_cmp);
    overhead.sort_by(f64::total_cmp);
    let hop50 = percentile(&per_hop, 50.0);
    report.add(Row {
        scenario: "wan",
        case: format!("{case}, {} blocks", produced.len()),
        figures: vec![
            ("p50_ms", percentile(&latencies, 50.0)),
            ("p99_ms", percentile(&latencies, 99.0)),
            ("max_hops", *dist.iter().max().unwrap_or(&0) as f64),
            ("per_hop_p50_ms", hop50),
            ("link_round_trip_ms", rtt),
            ("per_hop_over_link_round_trip", hop50 / rtt),
            ("per_hop_beyond_the_wire_p50_ms", percentile(&overhead, 50.0)),
        ],
        note: format!(
            "aelf-netd processes in network namespaces; a hop costs {:.2}x the link's round trip, {:.1} ms beyond what the wire takes (0.5 round trip for the producer's full block, 1.5 for each announce-request-reply hop after it)",
            hop50 / rtt,
            percentile(&overhead, 50.0)
        ),
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_timestamps_read_as_epoch_milliseconds() {
        assert_eq!(rfc3339_millis("1970-01-01T00:00:01.5Z"), Some(1_500.0));
        let a = rfc3339_millis("2026-12-06T20:34:53.719626921Z").unwrap();
        let b = rfc3339_millis("2026-12-07T00:00:00Z").unwrap();
        assert!((b - a - 12_306_280.373).abs() < 0.01, "{}", b - a);
        assert_eq!(rfc3339_millis("not a time"), None);
    }

    #[test]
    fn hops_follow_the_devnet_boot_links() {
        assert_eq!(hops(6), vec![0, 1, 1, 2, 2, 3]);
    }
}
