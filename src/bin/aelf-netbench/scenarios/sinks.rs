//! The sink child process (`aelf-netbench sinks`) as the fanout and slow-peer scenarios drive
//! it: spawned with N sinks (some stalled), asked for counts and resets over its stdin/stdout.
//!
//! Owns the parent's side of that line protocol; the child's side is `serve_sinks` in
//! `main.rs`, the sinks themselves `sink.rs`. It must not measure anything.

use std::io::{BufRead, BufReader, Write as _};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

/// Sinks in a child process (`aelf-netbench sinks`), so the sender's CPU is its own.
pub struct SinkProcess {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    pub ports: Vec<u16>,
}

impl SinkProcess {
    pub fn spawn(count: usize, stall: usize) -> Result<SinkProcess, String> {
        let me = std::env::current_exe().map_err(|e| e.to_string())?;
        let mut child = Command::new(me)
            .args([
                "sinks",
                "--count",
                &count.to_string(),
                "--stall",
                &stall.to_string(),
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start the sinks: {e}"))?;
        let stdin = child.stdin.take().ok_or("no sink stdin")?;
        let mut stdout = BufReader::new(child.stdout.take().ok_or("no sink stdout")?);
        let mut ports = Vec::new();
        loop {
            let mut line = String::new();
            if stdout.read_line(&mut line).map_err(|e| e.to_string())? == 0 {
                return Err("the sink process ended early".into());
            }
            match line.split_whitespace().collect::<Vec<_>>().as_slice() {
                ["port", p] => {
                    ports.push(p.parse().map_err(|_| format!("bad sink line {line:?}"))?)
                }
                ["ready"] => break,
                _ => return Err(format!("bad sink line {line:?}")),
            }
        }
        Ok(SinkProcess {
            child,
            stdin,
            stdout,
            ports,
        })
    }

    fn ask(&mut self, command: &str) -> Result<String, String> {
        writeln!(self.stdin, "{command}").map_err(|e| e.to_string())?;
        let mut line = String::new();
        self.stdout
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        Ok(line)
    }

    pub fn counts(&mut self) -> Result<Vec<u64>, String> {
        let line = self.ask("counts")?;
        line.split_whitespace()
            .skip(1)
            .map(|c| c.parse().map_err(|_| format!("bad counts {line:?}")))
            .collect()
    }

    pub fn reset(&mut self) -> Result<(), String> {
        self.ask("reset").map(drop)
    }
}

impl Drop for SinkProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
