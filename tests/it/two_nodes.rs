//! Two `aelf-netd` processes that name each other as boot nodes: they connect (in legacy mode
//! with node_version 1.3.0.0, in stream mode with the default 1.9.0.0), reconnect after one is
//! killed and restarted, and on a graceful stop either say goodbye (`goodbye_on_shutdown`) or,
//! by default and as the C# node, just close, so that a peer that dialed the stopped node
//! dials it again when it is back.

use crate::support::daemon::{
    config, config_with_network, value_after, write_config_with, Daemon, Node,
};
use crate::support::http::http_with;
use crate::support::{free_port, LEGACY};

/// A config with the legacy version, saying goodbye on shutdown.
fn legacy_config(dir: &std::path::Path, port: u16, boot: u16) -> std::path::PathBuf {
    config_with_network(dir, port, &[boot], LEGACY, "goodbye_on_shutdown = true", "")
}

/// A config with the default node_version (1.9.0.0): stream mode.
fn stream_config(dir: &std::path::Path, port: u16, boot: u16) -> std::path::PathBuf {
    write_config_with(
        dir,
        port,
        &format!("boot_nodes = [\"127.0.0.1:{boot}\"]"),
        "",
    )
}

#[test]
fn boot_nodes_connect_reconnect_after_a_crash_and_say_goodbye() {
    run(legacy_config, false);
}

#[test]
fn stream_mode_boot_nodes_connect_reconnect_after_a_crash_and_say_goodbye() {
    run(stream_config, true);
}

/// The shared scenario; `stream` also checks that the dialer opened a stream.
fn run(config: fn(&std::path::Path, u16, u16) -> std::path::PathBuf, stream: bool) {
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (port_a, port_b) = (free_port(), free_port());
    let config_a = config(dir_a.path(), port_a, port_b);
    let config_b = config(dir_b.path(), port_b, port_a);

    let mut a = Daemon::start(&config_a, &[]);
    a.wait_for("node started");
    let mut b = Daemon::start(&config_b, &[]);
    // B dials its boot node A; A had found nobody at B when it started.
    if stream {
        let line = b.wait_for("stream handshake with");
        assert!(line.contains(&format!("127.0.0.1:{port_a}")), "{line}");
    }
    let line = b.wait_for("peer connected:");
    assert!(
        line.contains(&format!("127.0.0.1:{port_a}")) && line.contains("outbound"),
        "{line}"
    );
    let line = a.wait_for("peer connected:");
    assert!(
        line.contains(&format!("127.0.0.1:{port_b}")) && line.contains("inbound"),
        "{line}"
    );

    // B crashes and comes back with the same key: A replaces the dead connection.
    b.signal(libc::SIGKILL);
    b.wait_exit();
    let mut b = Daemon::start(&config_b, &[]);
    b.wait_for("peer connected:");
    a.wait_for("peer connected:");

    a.signal(libc::SIGTERM);
    assert_eq!(a.wait_exit().code(), Some(0));
    if stream {
        // By default a stop says nothing: B sees the connection drop and will dial A again.
        let line = b.wait_for(&format!("at 127.0.0.1:{port_a} lost ("));
        assert!(line.contains("reconnection scheduled"), "{line}");
    } else {
        // With goodbye_on_shutdown, B hears the goodbye.
        b.wait_for("says goodbye");
    }
    b.signal(libc::SIGTERM);
    assert_eq!(b.wait_exit().code(), Some(0));
}

/// A hub whose four stream-mode peers are frozen (SIGSTOP: their sockets accept but nothing
/// answers) says goodbye to all of them in parallel: its stop takes about one peer's DISCONNECT
/// deadline (3 s), not four of them in a row.
#[test]
fn shutdown_says_goodbye_to_unresponsive_peers_in_parallel() {
    let hub_dir = tempfile::tempdir().unwrap();
    let hub_port = free_port();
    let mut hub = Node::start(config_with_network(
        hub_dir.path(),
        hub_port,
        &[],
        "1.9.0.0",
        "goodbye_on_shutdown = true",
        "",
    ));
    let dirs: Vec<tempfile::TempDir> = (0..4).map(|_| tempfile::tempdir().unwrap()).collect();
    let leaves: Vec<Node> = dirs
        .iter()
        .map(|d| {
            let mut leaf = Node::start(config(d.path(), free_port(), &[hub_port], "1.9.0.0", ""));
            leaf.daemon.wait_for("peer connected:");
            hub.daemon.wait_for("peer connected:");
            leaf
        })
        .collect();
    for leaf in &leaves {
        leaf.daemon.signal(libc::SIGSTOP);
    }
    hub.daemon.signal(libc::SIGTERM);
    let line = hub.daemon.wait_for("node stopped in ");
    let ms: u64 = value_after(&line, "node stopped in ").parse().unwrap();
    assert_eq!(hub.daemon.wait_exit().code(), Some(0));
    // One after the other: at least 4 × 3 s.
    assert!(ms < 9_000, "stopping took {ms} ms");
    for leaf in &leaves {
        leaf.daemon.signal(libc::SIGCONT);
    }
    for leaf in leaves {
        leaf.stop();
    }
}

/// Issue scenario: a C#-like peer B dialed us (A) on an operator's command — not a boot node,
/// not persistent, discovery off — so it treats a goodbye as final and a failure as a reason to
/// dial again, as the C# node does. A restarts with its default config: no goodbye, so B dials
/// it again and they are connected once more. (With a goodbye on shutdown B would never come
/// back: see the legacy run of `boot_nodes_connect_…`, where the goodbye arrives.)
#[test]
fn a_restarted_node_is_dialed_again_by_the_peer_that_had_dialed_it() {
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (port_a, port_b) = (free_port(), free_port());
    let config_a = config(dir_a.path(), port_a, &[], "1.9.0.0", "");
    let config_b = config_with_network(
        dir_b.path(),
        port_b,
        &[],
        "1.9.0.0",
        "enable_peer_discovery = false\npeer_reconnection_period_ms = 1000",
        "[api]\nlisten = \"127.0.0.1:0\"\nbasic_auth_user = \"op\"\nbasic_auth_password = \"pw\"",
    );
    let mut a = Node::start(config_a.clone());
    let mut b = Node::start(config_b);
    let auth = format!("Basic {}", base64_op_pw());
    let (code, body) = http_with(
        b.api,
        "POST",
        "/api/net/peer",
        &format!(r#"{{"Address":"127.0.0.1:{port_a}"}}"#),
        &[("Authorization", &auth)],
    );
    assert_eq!((code, body.as_str()), (200, "true"));
    a.daemon.wait_for("peer connected:");

    a.daemon.signal(libc::SIGTERM);
    assert_eq!(a.daemon.wait_exit().code(), Some(0));
    let line = b.daemon.wait_for(&format!("at 127.0.0.1:{port_a} lost ("));
    assert!(line.contains("reconnection scheduled"), "{line}");

    let mut a = Daemon::start(&config_a, &[]);
    let line = a.wait_for("peer connected:");
    assert!(line.contains(&format!("127.0.0.1:{port_b}")), "{line}");
    a.signal(libc::SIGTERM);
    assert_eq!(a.wait_exit().code(), Some(0));
    b.daemon.signal(libc::SIGTERM);
    assert_eq!(b.daemon.wait_exit().code(), Some(0));
}

/// `op:pw` in base64, for the Basic auth header.
fn base64_op_pw() -> &'static str {
    "b3A6cHc="
}
