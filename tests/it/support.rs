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

/// A node's pool and core network services around `chain`, synced (it serves and broadcasts at
/// once), with the given pool limits; and the OS layer's event queues they publish to.
pub fn test_core(
    chain: Arc<EmbeddedChain>,
    clock: Arc<dyn aelf_net::types::Clock>,
    limits: aelf_net::network::peer_pool::PoolLimits,
) -> (
    aelf_net::grpc::services::NetworkCore,
    aelf_net::network::inbound::NetworkEventReceivers,
) {
    aelf_net::grpc::services::NetworkCore::new(
        chain,
        clock,
        aelf_net::grpc::services::NetworkCoreSettings {
            limits,
            capacities: Default::default(),
            compress_blocks: true,
            boot_nodes: Vec::new(),
            sync: Arc::new(aelf_net::network::sync_state::SyncState::finished()),
        },
    )
}
