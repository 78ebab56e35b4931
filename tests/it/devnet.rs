//! `aelf-devnet` as `make devnet` runs it: N daemons that find each other through one or two
//! boot nodes, produce and share blocks, report through `status`, and stop cleanly; and the
//! network-namespace mode with relayed, delayed links (root only: skipped with a message
//! elsewhere).

use crate::propagation::wait_until;
use std::path::Path;
use std::process::{Command, Output};

const DEVNET: &str = env!("CARGO_BIN_EXE_aelf-devnet");
const NETD: &str = env!("CARGO_BIN_EXE_aelf-netd");

fn devnet(args: &[&str]) -> Output {
    Command::new(DEVNET)
        .args(args)
        .output()
        .expect("run aelf-devnet")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `(height, peers)` of every node in `status`, or `None` for a node that is down.
fn status(dir: &str) -> Vec<Option<(i64, i64)>> {
    let out = devnet(&["status", "--dir", dir]);
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            let after = |key: &str| {
                words
                    .iter()
                    .position(|w| *w == key)
                    .and_then(|i| words.get(i + 1))
                    .and_then(|v| v.parse().ok())
            };
            Some((after("height")?, after("peers")?))
        })
        .collect()
}

/// Every node up, at least `height` high, with at least one peer.
fn all_up(dir: &str, nodes: usize, height: i64) -> bool {
    let s = status(dir);
    s.len() == nodes
        && s.iter()
            .all(|n| n.is_some_and(|(h, p)| h >= height && p >= 1))
}

/// Starts, checks and stops a devnet; what `start` printed.
fn start_and_check(dir: &Path, extra: &[&str], nodes: usize) -> String {
    let dir = dir.to_str().unwrap();
    let n = nodes.to_string();
    let mut args = vec![
        "start",
        "--nodes",
        &n,
        "--dir",
        dir,
        "--bin",
        NETD,
        "--base-port",
        "0",
        "--api-base-port",
        "0",
        "--producer-interval-ms",
        "300",
    ];
    args.extend_from_slice(extra);
    let out = devnet(&args);
    assert!(out.status.success(), "start: {}", text(&out));
    let printed = text(&out);
    assert_eq!(printed.matches("api http://").count(), nodes, "{printed}");
    // A second start on the same folder is refused while the first runs.
    let again = devnet(&args);
    assert_eq!(again.status.code(), Some(1));
    assert!(text(&again).contains("already running"), "{}", text(&again));

    // Stops the devnet even when an assertion fails, showing the nodes' logs.
    struct StopOnDrop<'a>(&'a str, bool);
    impl Drop for StopOnDrop<'_> {
        fn drop(&mut self) {
            if self.1 {
                return;
            }
            for log in std::fs::read_dir(self.0).into_iter().flatten().flatten() {
                let path = log.path().join("aelf-netd.log");
                if let Ok(text) = std::fs::read_to_string(&path) {
                    eprintln!("== {}\n{text}", path.display());
                }
            }
            eprintln!("{}", text(&devnet(&["status", "--dir", self.0])));
            eprintln!("{}", text(&devnet(&["stop", "--dir", self.0])));
        }
    }
    let mut guard = StopOnDrop(dir, false);
    wait_until("every node up, producing and connected", || {
        all_up(dir, nodes, 4)
    });

    guard.1 = true;
    let out = devnet(&["stop", "--dir", dir]);
    assert!(out.status.success(), "stop: {}", text(&out));
    assert_eq!(
        text(&out).matches("stopped").count(),
        nodes,
        "{}",
        text(&out)
    );
    assert!(text(&devnet(&["status", "--dir", dir])).contains("no devnet in"));
    printed
}

/// Root with iproute2 that may create namespaces.
fn netns_permitted() -> bool {
    let root = unsafe { libc::geteuid() } == 0;
    root && Command::new("ip")
        .args(["netns", "add", "aelfnet-probe"])
        .status()
        .is_ok_and(|s| s.success())
        && Command::new("ip")
            .args(["netns", "del", "aelfnet-probe"])
            .status()
            .is_ok_and(|s| s.success())
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(out.status.success(), "ip {args:?}: {}", text(&out));
}

#[test]
fn a_loopback_devnet_starts_syncs_reports_and_stops() {
    let dir = tempfile::tempdir().unwrap();
    start_and_check(dir.path(), &[], 3);
}

#[test]
fn a_namespaced_devnet_with_delayed_links_where_permitted() {
    if !netns_permitted() {
        eprintln!("skipped: network namespaces need root and iproute2 here");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let printed = start_and_check(
        dir.path(),
        &[
            "--netns",
            "--latency-ms",
            "20",
            "--loss-percent",
            "1",
            "--rate-kbit",
            "20000",
        ],
        3,
    );
    let made: Vec<&str> = printed
        .split_whitespace()
        .filter(|w| w.starts_with("aelfnet-"))
        .collect();
    assert_eq!(made.len(), 3, "{printed}");
    let left = Command::new("ip").args(["netns", "list"]).output().unwrap();
    let left = String::from_utf8_lossy(&left.stdout);
    assert!(
        made.iter().all(|ns| !left.contains(ns)),
        "namespaces removed: {left}"
    );
}

/// Faults on real links (root only): with 100 ms each way and 10 % of chunks hit by a
/// retransmission delay on every link, blocks reach every node; a node cut off by taking its
/// link down misses blocks while the others go on, and catches up once the link is back.
#[test]
fn lossy_links_deliver_and_a_partitioned_node_catches_up() {
    if !netns_permitted() {
        eprintln!("skipped: network namespaces need root and iproute2 here");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let out = devnet(&[
        "start",
        "--nodes",
        "4",
        "--dir",
        d,
        "--bin",
        NETD,
        "--producer-interval-ms",
        "300",
        "--netns",
        "--latency-ms",
        "100",
        "--loss-percent",
        "10",
    ]);
    let printed = text(&out);
    assert!(out.status.success(), "start: {printed}");
    struct Stop<'a>(&'a str);
    impl Drop for Stop<'_> {
        fn drop(&mut self) {
            let _ = devnet(&["stop", "--dir", self.0]);
        }
    }
    let _stop = Stop(d);
    wait_until("blocks at every node over lossy, slow links", || {
        all_up(d, 4, 5)
    });

    // Node 4's host-side link: `av<id>h4`, from its namespace `aelfnet-<id>-4`.
    let id = printed
        .split_whitespace()
        .find_map(|w| w.strip_prefix("aelfnet-")?.strip_suffix("-4"))
        .expect("node 4's namespace")
        .to_owned();
    let link = format!("av{id}h4");
    ip(&["link", "set", &link, "down"]);
    let height_of = |node: usize| status(d).get(node).copied().flatten().map(|(h, _)| h);
    let cut = height_of(0).expect("node 1 answers");
    wait_until("node 4 unreachable", || height_of(3).is_none());
    wait_until("the others go on without node 4", || {
        height_of(0).is_some_and(|h| h >= cut + 10)
    });
    ip(&["link", "set", &link, "up"]);
    let healed = height_of(0).expect("node 1 answers");
    wait_until("node 4 catches up after the partition", || {
        height_of(3).is_some_and(|h| h >= healed)
    });
}
