//! The `aelf-netd` binary as an operator runs it: start, log its identity, reload on SIGHUP,
//! stop on SIGTERM/SIGINT with status 0, and refuse bad input with a clear message.

use crate::support::daemon::{value_after, write_config_with, Daemon, BIN};
use crate::support::free_port;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A config on a free port with `extra` sections.
fn write_config(dir: &Path, extra: &str) -> PathBuf {
    write_config_with(dir, free_port(), "", extra)
}

#[test]
fn starts_logs_identity_and_stops_on_sigterm_keeping_its_identity() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "");

    let mut first = Daemon::start(&config, &[]);
    let pubkey = value_after(&first.wait_for("node pubkey "), "node pubkey ").to_owned();
    assert_eq!(pubkey.len(), 130);
    let chain = first.wait_for("chain id ");
    assert!(chain.contains("AELF (9992731)"), "{chain}");
    let genesis = value_after(&chain, "genesis hash ").to_owned();
    first.wait_for("node started");
    first.signal(libc::SIGTERM);
    let status = first.wait_exit();
    assert_eq!(status.code(), Some(0), "SIGTERM exits 0");
    assert!(dir.path().join("data/node.key").exists());

    let mut second = Daemon::start(&config, &[]);
    let again = second.wait_for("node pubkey ");
    assert_eq!(
        value_after(&again, "node pubkey "),
        pubkey,
        "same key after restart"
    );
    assert_eq!(
        value_after(&second.wait_for("chain id "), "genesis hash "),
        genesis
    );
    second.wait_for("node started");
    second.signal(libc::SIGINT);
    assert_eq!(second.wait_exit().code(), Some(0), "SIGINT exits 0");
}

#[test]
fn sighup_applies_the_log_level_and_names_what_needs_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = write_config_with(dir.path(), port, "", "[log]\nlevel = \"info\"");
    let mut daemon = Daemon::start(&config, &[]);
    daemon.wait_for("node started");

    write_config_with(
        dir.path(),
        port,
        "max_peers = 7",
        "[log]\nlevel = \"debug\"",
    );
    daemon.signal(libc::SIGHUP);
    let level = daemon.wait_for("reload: log level");
    assert!(level.to_lowercase().contains("debug"), "{level}");
    let restart = daemon.wait_for("take effect after a restart");
    assert!(restart.contains("[network]"), "{restart}");

    // A broken file on reload is reported and the node keeps running.
    std::fs::write(&config, "[network]\nmax_peers = \"many\"\n").unwrap();
    daemon.signal(libc::SIGHUP);
    let failed = daemon.wait_for("reload failed");
    assert!(failed.contains("network.max_peers"), "{failed}");

    daemon.signal(libc::SIGTERM);
    assert_eq!(daemon.wait_exit().code(), Some(0));
}

#[test]
fn data_dir_flag_overrides_the_config() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "");
    let elsewhere = dir.path().join("elsewhere");
    let mut daemon = Daemon::start(&config, &["--data-dir", elsewhere.to_str().unwrap()]);
    daemon.wait_for("node started");
    assert!(elsewhere.join("node.key").exists());
    assert!(!dir.path().join("data").exists());
    daemon.signal(libc::SIGTERM);
    assert_eq!(daemon.wait_exit().code(), Some(0));
}

#[test]
fn malformed_key_file_is_a_startup_error_and_is_not_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "");
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    let key_file = dir.path().join("data/node.key");
    std::fs::write(&key_file, "not a key\n").unwrap();

    let mut daemon = Daemon::start(&config, &[]);
    let error = daemon.wait_for("cannot start");
    assert!(error.contains("node.key"), "{error}");
    assert_eq!(daemon.wait_exit().code(), Some(1));
    assert_eq!(std::fs::read_to_string(&key_file).unwrap(), "not a key\n");
}

#[test]
fn check_config_validates_and_exits() {
    let dir = tempfile::tempdir().unwrap();
    let good = write_config(dir.path(), "");
    let out = Command::new(BIN)
        .arg("--config")
        .arg(&good)
        .arg("--check-config")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(!dir.path().join("data").exists(), "checking starts nothing");

    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[network]\nmax_peer = 3\n").unwrap();
    let out = Command::new(BIN)
        .arg("--config")
        .arg(&bad)
        .arg("--check-config")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("bad.toml") && stderr.contains("max_peer"),
        "{stderr}"
    );

    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("conf/aelf-netd.toml");
    let out = Command::new(BIN)
        .arg("--config")
        .arg(&shipped)
        .arg("--check-config")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn netctl_makes_a_key_file_prints_its_identity_and_never_overwrites() {
    const CTL: &str = env!("CARGO_BIN_EXE_aelf-netctl");
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("node.key");
    let out = Command::new(CTL)
        .args(["keygen", "--out"])
        .arg(&key)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let made = String::from_utf8_lossy(&out.stdout).to_string();
    let shown = Command::new(CTL)
        .args(["pubkey", "--key-file"])
        .arg(&key)
        .output()
        .unwrap();
    assert_eq!(shown.status.code(), Some(0));
    let shown = String::from_utf8_lossy(&shown.stdout).to_string();
    let pubkey_line = shown.lines().find(|l| l.starts_with("pubkey: ")).unwrap();
    assert_eq!(pubkey_line.len(), "pubkey: ".len() + 130);
    assert!(made.contains(pubkey_line), "{made} / {shown}");
    let before = std::fs::read(&key).unwrap();
    let again = Command::new(CTL)
        .args(["keygen", "--out"])
        .arg(&key)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("refusing to overwrite"));
    assert_eq!(std::fs::read(&key).unwrap(), before);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
