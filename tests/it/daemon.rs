//! The `aelf-netd` binary as an operator runs it: start, log its identity, reload on SIGHUP,
//! stop on SIGTERM/SIGINT with status 0, and refuse bad input with a clear message.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};

use crate::support::free_port;
use crate::support::wait::DEADLINE;
use crossbeam_channel::{unbounded, Receiver};

const BIN: &str = env!("CARGO_BIN_EXE_aelf-netd");

pub(crate) struct Daemon {
    pid: i32,
    lines: Receiver<String>,
    exited: Receiver<std::io::Result<ExitStatus>>,
    seen: Vec<String>,
}

impl Daemon {
    pub(crate) fn start(config: &Path, extra: &[&str]) -> Daemon {
        let mut child: Child = Command::new(BIN)
            .arg("--config")
            .arg(config)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn aelf-netd");
        let pid = child.id() as i32;
        let stderr = child.stderr.take().expect("piped stderr");
        // Test-only channels: the daemon's output is short and read to the end.
        let (line_tx, lines) = unbounded();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = line_tx.send(line);
            }
        });
        let (exit_tx, exited) = unbounded();
        std::thread::spawn(move || {
            let _ = exit_tx.send(child.wait());
        });
        Daemon {
            pid,
            lines,
            exited,
            seen: Vec::new(),
        }
    }

    /// Waits (at most [`DEADLINE`] in all) for a new log line containing `needle` and returns
    /// it.
    pub(crate) fn wait_for(&mut self, needle: &str) -> String {
        let end = std::time::Instant::now() + DEADLINE;
        loop {
            match self.lines.recv_deadline(end) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no line with {needle:?}; output so far:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Every line logged so far (reads what has arrived without waiting).
    pub(crate) fn lines_so_far(&mut self) -> &[String] {
        while let Ok(line) = self.lines.try_recv() {
            self.seen.push(line);
        }
        &self.seen
    }

    pub(crate) fn signal(&self, signal: i32) {
        // SAFETY: plain kill(2) on the pid of a child we spawned and have not reaped.
        assert_eq!(unsafe { libc::kill(self.pid, signal) }, 0);
    }

    pub(crate) fn wait_exit(&mut self) -> ExitStatus {
        match self.exited.recv_timeout(DEADLINE) {
            Ok(status) => status.expect("wait for aelf-netd"),
            Err(_) => {
                self.signal(libc::SIGKILL);
                panic!("aelf-netd did not exit; output:\n{}", self.seen.join("\n"))
            }
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.exited.try_recv().is_err() {
            unsafe { libc::kill(self.pid, libc::SIGKILL) };
        }
    }
}

/// A config listening on `port` on loopback; `network` lines go into `[network]`, `extra` is
/// appended as further sections.
/// Unless `extra` has an `[api]` section, the operator API listens on an ephemeral port (the
/// daemon logs it), so daemons under test never collide.
pub(crate) fn write_config_with(dir: &Path, port: u16, network: &str, extra: &str) -> PathBuf {
    let path = dir.join("aelf-netd.toml");
    let data_dir = dir.join("data");
    let api = if extra.contains("[api]") {
        ""
    } else {
        "[api]\nlisten = \"127.0.0.1:0\"\n"
    };
    let text = format!(
        "[node]\ndata_dir = {:?}\n\n[network]\nlisten_address = \"127.0.0.1\"\nlistening_port = {port}\n{network}\n\n{extra}\n{api}",
        data_dir.display().to_string()
    );
    std::fs::write(&path, text).unwrap();
    path
}

fn write_config(dir: &Path, extra: &str) -> PathBuf {
    write_config_with(dir, free_port(), "", extra)
}

/// The word after `marker` in `line`.
pub(crate) fn value_after<'a>(line: &'a str, marker: &str) -> &'a str {
    let rest = &line[line.find(marker).expect("marker") + marker.len()..];
    rest.split_whitespace().next().unwrap_or("")
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
