//! Embedded chains for the tests: an "AELF" chain holding only its genesis block, in a
//! temporary directory.

use aelf_net::chain::{ChainSettings, EmbeddedChain};
use aelf_net::types::chain_id_from_name;
use std::sync::Arc;
use tempfile::TempDir;

/// An embedded "AELF" chain with only its genesis block, in a fresh temporary directory (kept
/// alive by the returned guard).
pub fn genesis_chain() -> (Arc<EmbeddedChain>, TempDir) {
    genesis_chain_with_depth(8)
}

/// [`genesis_chain`] with the LIB `irreversible_depth` blocks below the best tip.
pub fn genesis_chain_with_depth(irreversible_depth: i64) -> (Arc<EmbeddedChain>, TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let chain = EmbeddedChain::open(
        dir.path(),
        ChainSettings {
            chain_id: chain_id_from_name("AELF").expect("AELF is a chain name"),
            genesis_time: 1_767_225_600,
            irreversible_depth,
        },
    )
    .expect("open chain");
    (Arc::new(chain), dir)
}
