//! Helpers shared by the test modules, one file per kind: in-process nodes and services
//! (`node`), embedded chains (`chain`), `aelf-netd` processes and their configs (`daemon`), the
//! operator API over HTTP (`http`), the one wait (`wait`), peers written from the wire format
//! up (`wire_peer`); here, free ports and the two node versions. Fake peers in memory are the
//! library's `aelf_net::testing::FakePeer`.

pub mod chain;
pub mod daemon;
pub mod http;
pub mod node;
pub mod wait;
pub mod wire_peer;

/// A node version below `support_stream_min_version`: legacy mode.
pub const LEGACY: &str = "1.3.0.0";
/// The default node version: stream mode.
pub const STREAM: &str = "1.9.0.0";

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    aelf_net::ports::free_port().expect("a free port on 127.0.0.1")
}
