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

/// Grows `chain` by `blocks` blocks of `txs` unsigned transactions carrying `param_bytes` of
/// params each (the chain checks no transaction signature), so that reading and encoding
/// them is real work. Returns the hash the first of them follows.
pub fn grow_with_bulky_blocks(
    chain: &EmbeddedChain,
    blocks: usize,
    txs: usize,
    param_bytes: usize,
) -> aelf_net::types::Hash {
    use aelf_net::chain::{build_block_on, Chain, SYNTHETIC_METHOD};
    use aelf_net::pb::aelf_core::Transaction;
    use aelf_net::types::Address;
    use protobuf::MessageField;
    let key = aelf_net::crypto::NodeKey::generate();
    let from = key.address().to_proto();
    let to = Address::from_pubkey(b"bulky sink").to_proto();
    let first_parent = chain.best_chain().hash;
    let start_ms = 1_767_225_600_000;
    for b in 0..blocks {
        let tip = chain.best_chain();
        let transactions = (0..txs)
            .map(|i| Transaction {
                from: MessageField::some(from.clone()),
                to: MessageField::some(to.clone()),
                ref_block_number: tip.height,
                method_name: SYNTHETIC_METHOD.to_owned(),
                params: [(b * txs + i).to_be_bytes().to_vec(), vec![7; param_bytes]].concat(),
                ..Default::default()
            })
            .collect();
        let block = build_block_on(
            &tip,
            chain.chain_id(),
            &key,
            start_ms + (b as i64 + 1) * 1_000,
            transactions,
        )
        .expect("build a bulky block");
        chain.attach_block(block).expect("attach a bulky block");
    }
    first_parent
}
