//! Embedded chains for the tests: an "AELF" chain holding only its genesis block, in a
//! temporary directory.

use aelf_net::chain::{ChainSettings, EmbeddedChain};
use aelf_net::types::chain_id_from_name;
use std::sync::Arc;
use tempfile::TempDir;

/// The development settings of the tests' "AELF" chain: one miner, 4-second slots.
pub fn test_settings() -> ChainSettings {
    ChainSettings::development(
        chain_id_from_name("AELF").expect("AELF is a chain name"),
        1_767_225_600,
    )
}

/// An embedded "AELF" chain with only its genesis block, in a fresh temporary directory (kept
/// alive by the returned guard).
pub fn genesis_chain() -> (Arc<EmbeddedChain>, TempDir) {
    chain_with(test_settings())
}

/// [`genesis_chain`] with `miners` development miners.
pub fn genesis_chain_with_miners(miners: u32) -> (Arc<EmbeddedChain>, TempDir) {
    let mut settings = test_settings();
    settings.consensus.miners = miners;
    chain_with(settings)
}

fn chain_with(settings: ChainSettings) -> (Arc<EmbeddedChain>, TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let chain = EmbeddedChain::open(dir.path(), settings).expect("open chain");
    (Arc::new(chain), dir)
}

/// The time of a block's header, in Unix milliseconds.
pub fn block_time(block: &aelf_net::pb::network_types::BlockWithTransactions) -> i64 {
    block
        .header
        .as_ref()
        .map(|h| aelf_net::types::timestamp_millis(&h.time))
        .unwrap_or(0)
}

/// Grows `chain` by `count` valid AEDPoS blocks with no transactions, each at the earliest
/// time a miner may produce it (from genesis on: in the past); returns them.
pub fn grow(
    chain: &EmbeddedChain,
    count: usize,
) -> Vec<aelf_net::pb::network_types::BlockWithTransactions> {
    use aelf_net::chain::{build_block, Chain};
    let mut not_before = 0;
    (0..count)
        .map(|_| {
            let block = build_block(chain, not_before, Vec::new()).expect("build a block");
            not_before = block_time(&block);
            chain.attach_block(block.clone()).expect("attach a block");
            block
        })
        .collect()
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
    use aelf_net::chain::{build_block, Chain, SYNTHETIC_METHOD};
    use aelf_net::pb::aelf_core::Transaction;
    use aelf_net::types::Address;
    use protobuf::MessageField;
    let key = aelf_net::crypto::NodeKey::generate();
    let from = key.address().to_proto();
    let to = Address::from_pubkey(b"bulky sink").to_proto();
    let first_parent = chain.best_chain().hash;
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
        let block = build_block(chain, 0, transactions).expect("build a bulky block");
        chain.attach_block(block).expect("attach a bulky block");
    }
    first_parent
}

/// A block on `tip` carrying `txs`, signed by `key` and stamped `time_ms`, without consensus
/// data: for tests of what the network layer (or `inspect`) does with a block before the chain
/// judges it.
pub fn unchecked_block(
    tip: &aelf_net::chain::ChainTip,
    chain_id: i32,
    key: &aelf_net::crypto::NodeKey,
    time_ms: i64,
    txs: Vec<aelf_net::pb::aelf_core::Transaction>,
) -> aelf_net::pb::network_types::BlockWithTransactions {
    let production = aelf_net::chain::aedpos::Production {
        consensus: Vec::new(),
        time_ms,
    };
    aelf_net::chain::build_signed_block(tip, chain_id, key, &production, txs)
        .expect("build a block")
}
