//! Helpers shared by the test modules.

use aelf_net::chain::{ChainSettings, EmbeddedChain};
use aelf_net::types::chain_id_from_name;
use std::sync::Arc;
use tempfile::TempDir;

/// An embedded "AELF" chain with only its genesis block, in a fresh temporary directory (kept
/// alive by the returned guard).
pub fn genesis_chain() -> (Arc<EmbeddedChain>, TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let chain = EmbeddedChain::open(
        dir.path(),
        ChainSettings {
            chain_id: chain_id_from_name("AELF").expect("AELF is a chain name"),
            genesis_time: 1_767_225_600,
            irreversible_depth: 8,
        },
    )
    .expect("open chain");
    (Arc::new(chain), dir)
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}
