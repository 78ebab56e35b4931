//! Two `aelf-netd` processes that name each other as boot nodes: they connect (in legacy mode
//! with node_version 1.3.0.0, in stream mode with the default 1.9.0.0), reconnect after one is
//! killed and restarted, and say goodbye on a graceful stop.

use crate::support::daemon::{config, value_after, write_config_with, Daemon, Node};
use crate::support::{free_port, LEGACY};

/// A config with the legacy version.
fn legacy_config(dir: &std::path::Path, port: u16, boot: u16) -> std::path::PathBuf {
    config(dir, port, &[boot], LEGACY, "")
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

    // A graceful stop of A tells B.
    a.signal(libc::SIGTERM);
    assert_eq!(a.wait_exit().code(), Some(0));
    b.wait_for("says goodbye");
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
    let mut hub = Node::start(config(hub_dir.path(), hub_port, &[], "1.9.0.0", ""));
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
