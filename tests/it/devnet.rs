//! `aelf-devnet` as `make devnet` runs it: N daemons that find each other through one or two
//! boot nodes, produce and share blocks, report through `status`, and stop cleanly; and the
//! network-namespace mode with relayed, delayed links, one node cut off, and two producing
//! halves partitioned and healed (root only: skipped with a message elsewhere).

use crate::support::http::{http, parse};
use crate::support::wait::wait_until;
use std::net::SocketAddr;
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
        "--mining-interval-ms",
        "800",
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
    if !extra.contains(&"--netns") {
        // Only the namespaced devnet's relays can cut links.
        let out = devnet(&["partition", "--dir", dir, "--nodes", "1"]);
        assert_eq!(out.status.code(), Some(1));
        assert!(
            text(&out).contains("needs a devnet started with --netns"),
            "{}",
            text(&out)
        );
    }

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

/// A running 4-node devnet, each node in its own network namespace; stopped when dropped,
/// even after a failed assertion.
struct NamespacedDevnet {
    /// What `start` printed.
    printed: String,
    dir: tempfile::TempDir,
}

impl NamespacedDevnet {
    /// Starts one with `extra` arguments, or `None` (after saying so) where namespaces are
    /// not permitted.
    fn start(extra: &[&str]) -> Option<NamespacedDevnet> {
        if !netns_permitted() {
            eprintln!("skipped: network namespaces need root and iproute2 here");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_str().unwrap();
        let mut args = vec![
            "start", "--nodes", "4", "--dir", d, "--bin", NETD, "--netns",
        ];
        args.extend_from_slice(extra);
        let out = devnet(&args);
        let printed = text(&out);
        assert!(out.status.success(), "start: {printed}");
        Some(NamespacedDevnet { printed, dir })
    }

    fn dir(&self) -> &str {
        self.dir.path().to_str().unwrap()
    }
}

impl Drop for NamespacedDevnet {
    fn drop(&mut self) {
        let _ = devnet(&["stop", "--dir", self.dir()]);
    }
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

/// Faults on real links (root only): with 100 ms each way and 10 % of the packets dropped on
/// every link (TCP retransmits), blocks reach every node; a node cut off by taking its link
/// down misses blocks while the others go on, and catches up once the link is back.
#[test]
fn lossy_links_deliver_and_a_partitioned_node_catches_up() {
    let Some(net) = NamespacedDevnet::start(&[
        "--mining-interval-ms",
        "800",
        "--latency-ms",
        "100",
        "--loss-percent",
        "10",
    ]) else {
        return;
    };
    let (d, printed) = (net.dir(), &net.printed);
    wait_until("blocks at every node over lossy, slow links", || {
        all_up(d, 4, 5)
    });

    // Node 4's host-side link: `av<id>h4`, from its namespace `aelfnet-<id>-4`.
    let id = printed
        .split_whitespace()
        .find_map(|w| w.strip_prefix("aelfnet-")?.strip_suffix("-4"))
        .expect("node 4's namespace")
        .to_owned();
    // Every node's namespace drops 10 % (1000 in 10 000) of the packets arriving there.
    for n in 1..=4 {
        let rules = Command::new("ip")
            .args([
                "netns",
                "exec",
                &format!("aelfnet-{id}-{n}"),
                "nft",
                "list",
                "ruleset",
            ])
            .output()
            .expect("run nft");
        let rules = text(&rules);
        assert!(
            rules.contains("numgen random mod 10000 < 1000 drop"),
            "node {n}: {rules}"
        );
    }
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

/// The hash of the best chain's block at `height` on the node whose API is `api`, if it has
/// one there.
fn hash_at(api: SocketAddr, height: i64) -> Option<String> {
    let (code, body) = http(
        api,
        "GET",
        &format!("/api/blockChain/blockByHeight?blockHeight={height}"),
        "",
    );
    (code == 200).then(|| parse(&body)["BlockHash"].as_str().map(str::to_owned))?
}

/// A partition of the network into two halves that both produce, for 30 s, then healed (root
/// only). Every node is an AEDPoS miner (four miners); nodes 1 and 2 are one half, 3 and 4 the
/// other. During the cut neither half holds the 2/3 + 1 of the miners (3 of 4) that confirm a
/// block, so nothing more becomes irreversible and both halves go on building their own
/// branch above the LIB. Once the links come back every node ends on one branch, through the
/// fork: the other half's blocks since the cut are off its best chain.
#[test]
fn two_producing_halves_converge_after_a_partition() {
    let Some(net) =
        NamespacedDevnet::start(&["--producers", "1,2,3,4", "--mining-interval-ms", "800"])
    else {
        return;
    };
    let (d, printed) = (net.dir(), &net.printed);
    let apis: Vec<SocketAddr> = printed
        .split_whitespace()
        .filter_map(|w| w.strip_prefix("http://")?.parse().ok())
        .collect();
    assert_eq!(apis.len(), 4, "{printed}");
    wait_until("every node up and connected", || all_up(d, 4, 5));
    let height_of = |node: usize| status(d).get(node).copied().flatten().map(|(h, _)| h);
    // Both producers build on one chain before the cut.
    let before = height_of(0).expect("node 1 answers");
    wait_until("one chain before the cut", || {
        let a = hash_at(apis[0], before);
        a.is_some() && (1..4).all(|n| hash_at(apis[n], before) == a)
    });

    let out = devnet(&["partition", "--dir", d, "--nodes", "3,4"]);
    assert!(out.status.success(), "partition: {}", text(&out));
    let cut_at = std::time::Instant::now();
    let cut = (0..4).map(height_of).max().flatten().expect("heights");
    // Each half keeps only its own link, and both halves go on producing.
    wait_until("the halves apart, each producing", || {
        let s = status(d);
        s.iter().all(|n| n.is_some_and(|(_, peers)| peers == 1))
            && s[0].is_some_and(|(h, _)| h >= cut + 10)
            && s[2].is_some_and(|(h, _)| h >= cut + 5)
    });
    let fork_probe = cut + 5;
    let half_a = hash_at(apis[0], fork_probe).expect("node 1 past the probe");
    let half_b = hash_at(apis[2], fork_probe).expect("node 3 past the probe");
    assert_ne!(half_a, half_b, "two chains during the partition");
    assert_eq!(hash_at(apis[1], fork_probe).as_ref(), Some(&half_a));
    assert_eq!(hash_at(apis[3], fork_probe).as_ref(), Some(&half_b));
    // The cut lasts 30 s in all (the fault's length, not a synchronisation).
    wait_until("30 s of partition", || {
        cut_at.elapsed() >= std::time::Duration::from_secs(30)
    });

    let out = devnet(&["heal", "--dir", d]);
    assert!(out.status.success(), "heal: {}", text(&out));
    let heal_at = std::time::Instant::now();
    let healed = (0..4).filter_map(height_of).max().expect("heights");
    // Whichever branch wins, every node ends on it.
    wait_until("every node on one branch", || {
        let a = hash_at(apis[0], healed);
        a.is_some() && (1..4).all(|n| hash_at(apis[n], healed) == a)
    });
    eprintln!(
        "partition: cut at height {cut}; after {:?} the highest at {healed}; converged {:?} after \
         the heal",
        heal_at - cut_at,
        heal_at.elapsed()
    );
    // The probe is one half's block everywhere: the other half left its own blocks.
    let winner = hash_at(apis[0], fork_probe).expect("node 1 at the probe");
    assert!(winner == half_a || winner == half_b, "{winner}");
    for (n, api) in apis.iter().enumerate() {
        assert_eq!(
            hash_at(*api, fork_probe),
            Some(winner.clone()),
            "node {}",
            n + 1
        );
    }
    wait_until("the links back", || {
        status(d)
            .iter()
            .all(|n| n.is_some_and(|(_, peers)| peers >= 2))
    });
}
