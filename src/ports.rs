//! Local TCP ports for whatever starts nodes on this machine: `aelf-devnet` (with
//! `--base-port 0`), `aelf-netbench` and the tests pick their nodes' P2P and API ports here.
//!
//! Owns [`free_port`] only. It must not be used by a node for its own listeners (a node
//! binds the port its config names, or port 0 and reads back what it got).

use std::io;
use std::net::TcpListener;

/// A port on 127.0.0.1 nobody listens on now (the kernel's pick). Another process may take it
/// before the caller binds it; callers that start many listeners should expect a rare clash.
pub fn free_port() -> io::Result<u16> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| io::Error::new(e.kind(), format!("cannot find a free port: {e}")))
}
