//! Storage faults (root only, on tmpfs mounts the test makes; skipped with a message
//! elsewhere): a data directory that fills up while the node syncs gives a clear error and
//! leaves a store that opens consistently; a read-only data directory is refused at start
//! with the path in the message.

use crate::support::daemon::{config, Daemon, Node};
use crate::support::free_port;
use crate::support::http::http;
use aelf_net::chain::{Chain, ChainSettings, EmbeddedChain};
use aelf_net::config::Config;
use std::path::Path;
use std::process::Command;

/// A tmpfs of `size` mounted on `dir`; unmounted on drop.
struct Mount(std::path::PathBuf);

impl Mount {
    fn tmpfs(dir: &Path, size: &str) -> Option<Mount> {
        let root = unsafe { libc::geteuid() } == 0;
        let mounted = root
            && Command::new("mount")
                .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
                .arg(dir)
                .status()
                .is_ok_and(|s| s.success());
        mounted.then(|| Mount(dir.to_owned()))
    }

    fn read_only(&self) {
        let status = Command::new("mount")
            .args(["-o", "remount,ro"])
            .arg(&self.0)
            .status()
            .unwrap();
        assert!(status.success(), "remount read-only");
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn settings() -> ChainSettings {
    Config::default().chain_settings()
}

#[test]
fn a_full_disk_stops_storing_with_a_clear_error_and_the_store_stays_consistent() {
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let data_b = dir_b.path().join("data");
    std::fs::create_dir_all(&data_b).unwrap();
    let Some(mount) = Mount::tmpfs(&data_b, "3m") else {
        eprintln!("skipped: mounting a tmpfs needs root");
        return;
    };
    let (port_a, port_b) = (free_port(), free_port());
    let producer = "[producer]\nenabled = true\ntransactions_per_block = 200\n";
    let a = Node::start(config(dir_a.path(), port_a, &[], "1.9.0.0", producer));
    let mut b = Node::start(config(dir_b.path(), port_b, &[port_a], "1.9.0.0", ""));
    // Blocks of 200 transactions fill 3 MiB within a few dozen blocks.
    let line = b.daemon.wait_for("No space left on device");
    assert!(line.contains("WARN") || line.contains("ERROR"), "{line}");
    let stuck = b.status().best_height;
    assert!(stuck > 1, "B stored blocks before the disk filled");
    // Still up: the API answers and the process stops cleanly on SIGTERM.
    assert_eq!(http(b.api, "GET", "/api/net/networkInfo", "").0, 200);
    b.daemon.signal(libc::SIGTERM);
    let _ = b.daemon.wait_exit();
    a.stop();

    // What is on the full disk opens as a consistent chain: a copy (the mount is full).
    let copy = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(&data_b).unwrap().flatten() {
        std::fs::copy(entry.path(), copy.path().join(entry.file_name())).unwrap();
    }
    drop(mount);
    let chain = EmbeddedChain::open(copy.path(), settings()).expect("the store opens");
    let best = chain.best_chain();
    assert!(
        best.height >= 1 && best.height <= stuck,
        "{best:?} vs {stuck}"
    );
    for h in 1..=best.height {
        assert!(
            chain.block_by_height(h).unwrap().is_some(),
            "block {h} readable"
        );
    }
}

#[test]
fn a_read_only_data_dir_is_refused_at_start_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let Some(mount) = Mount::tmpfs(&data, "8m") else {
        eprintln!("skipped: mounting a tmpfs needs root");
        return;
    };
    // A node ran here once (key and chain exist), then the disk went read-only.
    drop(EmbeddedChain::open(&data, settings()).unwrap());
    mount.read_only();
    let path = config(dir.path(), free_port(), &[], "1.9.0.0", "");
    let mut daemon = Daemon::start(&path, &[]);
    let status = daemon.wait_exit();
    assert!(!status.success(), "a read-only data dir is refused");
    let said = daemon.lines_so_far().join("\n");
    assert!(
        said.contains(&data.display().to_string()),
        "names the path: {said}"
    );
}
