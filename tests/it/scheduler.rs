//! The scheduler across processes (issue 5): a killed peer is dialed again once it is back, a
//! node that knows one boot node finds a third node through discovery, and a peer that floods
//! invalid transactions is dropped and its host refused until the ban ends. Periods are short
//! (1 s) through the config; every wait is on a log line or a condition, with a deadline.

use crate::support::daemon::{config_with_network, value_after, Node};
use crate::support::http::http;
use crate::support::wait::wait_until;
use crate::support::wire_peer::{headers, stream_all, WirePeer};
use crate::support::{free_port, STREAM};
use aelf_net::chain::{synthetic_transactions, ChainTip};
use aelf_net::crypto::NodeKey;
use aelf_net::pb::network_types::HandshakeError;
use aelf_net::pb::peer_service::HealthCheckRequest;
use aelf_net::types::Hash;

/// One-second health checks, reconnection and discovery periods, and `extra_network`.
fn fast(extra_network: &str) -> String {
    format!("peer_reconnection_period_ms = 1000\npeer_discovery_period_ms = 1000\n{extra_network}")
}

/// A stream-mode config with `network_lines` added to its `[network]` section.
fn config_with(
    dir: &std::path::Path,
    port: u16,
    boot: &[u16],
    network_lines: &str,
    extra: &str,
) -> std::path::PathBuf {
    config_with_network(dir, port, boot, STREAM, network_lines, extra)
}

#[test]
fn a_killed_peer_is_reconnected_when_it_comes_back() {
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (port_a, port_b) = (free_port(), free_port());
    let b_config = config_with(dir_b.path(), port_b, &[], &fast(""), "");
    let mut b = Node::start(b_config.clone());
    let mut a = Node::start(config_with(dir_a.path(), port_a, &[port_b], &fast(""), ""));
    a.daemon.wait_for("peer connected:");
    b.daemon.wait_for("peer connected:");

    b.daemon.signal(libc::SIGKILL);
    b.daemon.wait_exit();
    a.daemon.wait_for("reconnection scheduled");
    // Two failed attempts (one and two periods later) before B is back.
    let target = format!("reconnection to 127.0.0.1:{port_b} failed");
    a.daemon.wait_for(&target);
    a.daemon.wait_for(&target);
    let (_, body) = http(a.api, "GET", "/api/net/reconnections", "");
    let waiting: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(waiting[0]["Endpoint"], format!("127.0.0.1:{port_b}"));
    assert!(waiting[0]["RetryCount"].as_u64().unwrap() >= 2, "{body}");
    let mut b = Node::start(b_config);
    a.daemon
        .wait_for(&format!("reconnected to 127.0.0.1:{port_b}"));
    // B has no boot nodes: the connection is A's doing.
    let line = b.daemon.wait_for("peer connected:");
    assert!(line.contains("(inbound)"), "{line}");
    a.stop();
    b.stop();
}

#[test]
fn discovery_finds_a_third_node_through_the_only_boot_node() {
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let (port_a, port_b, port_c) = (free_port(), free_port(), free_port());
    let quiet = "enable_peer_discovery = false";
    let mut b = Node::start(config_with(dirs[1].path(), port_b, &[], &fast(quiet), ""));
    let mut c = Node::start(config_with(
        dirs[2].path(),
        port_c,
        &[port_b],
        &fast(quiet),
        "",
    ));
    c.daemon.wait_for("peer connected:");
    b.daemon.wait_for("peer connected:");
    let mut a = Node::start(config_with(
        dirs[0].path(),
        port_a,
        &[port_b],
        &fast(""),
        "",
    ));
    a.daemon
        .wait_for(&format!("at 127.0.0.1:{port_b} (outbound)"));
    // B tells A about C; A checks that C answers, keeps it and dials it.
    let line = a
        .daemon
        .wait_for(&format!("at 127.0.0.1:{port_c} (outbound)"));
    assert!(line.contains("peer connected"), "{line}");
    let report = a.daemon.wait_for("discovery: asked");
    assert!(value_after(&report, "asked ").parse::<usize>().unwrap() >= 1);
    let (_, body) = http(a.api, "GET", "/api/net/nodes", "");
    assert!(body.contains(&format!("127.0.0.1:{port_c}")), "{body}");
    c.daemon
        .wait_for(&format!("at 127.0.0.1:{port_a} (inbound)"));
    for node in [a, b, c] {
        node.stop();
    }
}

#[test]
fn a_flood_of_invalid_transactions_bans_the_host_until_the_ban_ends() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut node = Node::start(config_with(
        dir.path(),
        port,
        &[],
        "",
        "[reputation]\nban_duration_ms = 15000\n",
    ));
    let wire = WirePeer::start(false);
    let (client, session) = wire.connect(port);
    node.daemon.wait_for("peer connected:");

    // Sixty transactions, well formed and referring to the node's best block, but with
    // signatures that do not verify.
    let key = NodeKey::generate();
    let status = node.status();
    let tip = ChainTip {
        hash: Hash::from_hex(&status.best_hash).unwrap(),
        height: status.best_height,
    };
    let txs: Vec<_> = synthetic_transactions(&key, &tip, 60, 1)
        .into_iter()
        .map(|mut tx| {
            tx.signature = vec![7; 65];
            tx
        })
        .collect();
    let opt = || headers(&wire.key.pubkey_hex(), Some(&session));
    let call = client.transaction_broadcast_stream_opt(opt()).unwrap();
    let _ = stream_all(call, txs);
    let line = node.daemon.wait_for("banned host 127.0.0.1");
    assert!(line.contains("invalid transactions"), "{line}");
    let (code, body) = http(node.api, "GET", "/api/net/bans", "");
    assert_eq!(code, 200, "{body}");
    let bans: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(bans[0]["Host"], "127.0.0.1");
    assert!(bans[0]["Reason"]
        .as_str()
        .unwrap()
        .contains("invalid transactions"));

    // Out of the pool: its session is no longer accepted.
    assert!(client
        .check_health_opt(&HealthCheckRequest::new(), opt())
        .is_err());
    // Refused while the ban lasts.
    let (_, reply) = wire.handshake(port);
    assert_ne!(
        reply.error.enum_value_or_default(),
        HandshakeError::HANDSHAKE_OK
    );
    // Welcome again once it is lifted.
    node.daemon.wait_for("ban of host 127.0.0.1 lifted");
    let (_client, _session) = wire.connect(port);
    wire.stop();
    node.stop();
}

/// A peer that stops reading altogether (its process frozen with SIGSTOP) while blocks and
/// transactions flow: its queues on the producer stay within their capacities (drops are
/// counted), the health check drops it, and once it runs again it is reconnected and catches
/// up.
#[test]
fn a_frozen_peer_is_dropped_with_bounded_queues_and_rejoins_when_it_thaws() {
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (port_a, port_b) = (free_port(), free_port());
    let producer = "[producer]\nenabled = true\ntransactions_per_block = 50\n";
    let a = Node::start(config_with(dir_a.path(), port_a, &[], &fast(""), producer));
    let b = Node::start(config_with(dir_b.path(), port_b, &[port_a], &fast(""), ""));
    let peers = |node: &Node| {
        let (_, body) = http(node.api, "GET", "/api/net/peers", "");
        serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.as_array().map(Vec::len))
            .unwrap_or(0)
    };
    wait_until("A and B connected", || peers(&a) == 1 && peers(&b) == 1);

    b.daemon.signal(libc::SIGSTOP);
    // Per-peer capacities: blocks 50, transactions 100, announcements 200.
    let mut deepest = 0.0f64;
    wait_until("A drops the frozen peer", || {
        let (_, text) = http(a.api, "GET", "/metrics", "");
        let depth: f64 = text
            .lines()
            .filter(|l| l.starts_with("aelf_net_queue_depth{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum();
        deepest = deepest.max(depth);
        peers(&a) == 0
    });
    assert!(deepest <= 350.0, "queues stayed bounded: {deepest}");

    b.daemon.signal(libc::SIGCONT);
    wait_until("B back in A's pool", || peers(&a) == 1);
    let height = a.status().best_height;
    wait_until("B catches up", || b.status().best_height >= height);
    a.stop();
    b.stop();
}

/// An idle node (no peers, nothing to find) logs its discovery rounds at DEBUG, not INFO: INFO
/// is kept for events (a node found or dropped, a peer connected).
#[test]
fn an_idle_discovery_round_is_logged_at_debug() {
    let dir = tempfile::tempdir().unwrap();
    let config = crate::support::daemon::write_config_with(
        dir.path(),
        crate::support::free_port(),
        "peer_discovery_period_ms = 200",
        "[log]\nlevel = \"debug\"",
    );
    let mut daemon = crate::support::daemon::Daemon::start(&config, &[]);
    let line = daemon.wait_for("discovery: asked 0 peer(s)");
    assert!(line.contains("[DEBUG]"), "{line}");
    daemon.signal(libc::SIGTERM);
    assert_eq!(daemon.wait_exit().code(), Some(0));
}
