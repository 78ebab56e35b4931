//! [`ChainSettings`] and the deterministic genesis block.
//!
//! Owns what makes two nodes with the same config agree on block 1. It must not read the
//! config file or the clock: everything comes from [`ChainSettings`].

use crate::pb::aelf_block::BlockHeader;
use crate::pb::network_types::BlockWithTransactions;
use crate::types::Hash;
use protobuf::well_known_types::timestamp::Timestamp;
use protobuf::MessageField;

/// The height of the genesis block; heights start at 1 in aelf.
pub const GENESIS_HEIGHT: i64 = 1;

/// The chain's fixed parameters, mapped from the node config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainSettings {
    /// The chain id every block must carry (e.g. 9992731 for "AELF").
    pub chain_id: i32,
    /// The genesis block's time, in Unix seconds.
    pub genesis_time: i64,
    /// How far below the best tip a block becomes irreversible (LIB = best − depth, ≥ 1).
    pub irreversible_depth: i64,
}

/// Block 1 of the chain the settings describe: height 1, previous hash zero, the configured
/// chain id and time, every merkle root zero (the transactions root of an empty body), version 0,
/// no signer, no signature, no extra data, empty bloom and no transactions.
pub fn genesis_block(settings: &ChainSettings) -> BlockWithTransactions {
    let header = BlockHeader {
        version: 0,
        chain_id: settings.chain_id,
        previous_block_hash: MessageField::some(Hash::ZERO.to_proto()),
        merkle_tree_root_of_transactions: MessageField::some(Hash::ZERO.to_proto()),
        merkle_tree_root_of_world_state: MessageField::some(Hash::ZERO.to_proto()),
        merkle_tree_root_of_transaction_status: MessageField::some(Hash::ZERO.to_proto()),
        bloom: Vec::new(),
        height: GENESIS_HEIGHT,
        extra_data: Vec::new(),
        time: MessageField::some(Timestamp {
            seconds: settings.genesis_time,
            nanos: 0,
            ..Default::default()
        }),
        signer_pubkey: Vec::new(),
        signature: Vec::new(),
        ..Default::default()
    };
    BlockWithTransactions {
        header: MessageField::some(header),
        transactions: Vec::new(),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::BlockWithTransactionsExt;

    fn settings(genesis_time: i64) -> ChainSettings {
        ChainSettings {
            chain_id: 9_992_731,
            genesis_time,
            irreversible_depth: 8,
        }
    }

    #[test]
    fn genesis_hashes_and_depends_on_every_setting() {
        let a = genesis_block(&settings(1_767_225_600));
        let hash = a.block_hash().unwrap();
        assert_eq!(
            genesis_block(&settings(1_767_225_600))
                .block_hash()
                .unwrap(),
            hash
        );
        assert_ne!(
            genesis_block(&settings(1_767_225_601))
                .block_hash()
                .unwrap(),
            hash
        );
        let other_chain = ChainSettings {
            chain_id: 1,
            ..settings(1_767_225_600)
        };
        assert_ne!(genesis_block(&other_chain).block_hash().unwrap(), hash);
        assert_eq!(a.computed_transactions_root().unwrap(), Hash::ZERO);
    }
}
