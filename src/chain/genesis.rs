//! [`ChainSettings`] and the deterministic genesis block.
//!
//! Owns what makes two nodes with the same config agree on block 1 (or, following a real
//! chain, on the checkpoint they start from). It must not read the
//! config file or the clock: everything comes from [`ChainSettings`].

use super::aedpos::{development_key, DevelopmentParams};
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
    /// The development chain's AEDPoS parameters (its miners and their time slots).
    pub consensus: DevelopmentConsensus,
    /// A development chain of our own, or following a real one from a checkpoint.
    pub mode: ChainMode,
}

/// Where the chain starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChainMode {
    /// Our own chain: the genesis block [`genesis_block`] makes, mined by the development
    /// miners.
    Development,
    /// A real aelf chain, followed from a trusted checkpoint: the block with this hash at this
    /// height is fetched from peers (by hash, so a peer cannot substitute another) and becomes
    /// the first stored block and the first LIB; the AEDPoS rules are learned from its header.
    Follow {
        checkpoint: super::ChainTip,
        /// The chain's genesis hash, shown by the API (`GenesisBlockHash`); zero when unknown.
        genesis_hash: Hash,
    },
}

/// What every node of a development chain must agree on for its consensus: the miners are the
/// development keys 1..=`miners` ([`development_key`]), round 1 starts one interval after the
/// genesis time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DevelopmentConsensus {
    /// Candidates (development keys 1..=miners), ≥ 1.
    pub miners: u32,
    /// The time slot of one miner, in milliseconds (C# `MiningInterval`, 4000).
    pub mining_interval_ms: i64,
    /// Miners per term; 0 = every candidate.
    pub miners_per_term: u32,
    /// A term's length in seconds (C# `PeriodSeconds`, 604800 on mainnet).
    pub term_period_seconds: i64,
}

impl Default for DevelopmentConsensus {
    /// One miner, 4-second slots, week-long terms.
    fn default() -> DevelopmentConsensus {
        DevelopmentConsensus {
            miners: 1,
            mining_interval_ms: 4000,
            miners_per_term: 0,
            term_period_seconds: 604_800,
        }
    }
}

impl ChainSettings {
    /// A development chain with the default consensus ([`DevelopmentConsensus::default`]).
    pub fn development(chain_id: i32, genesis_time: i64) -> ChainSettings {
        ChainSettings {
            chain_id,
            genesis_time,
            consensus: DevelopmentConsensus::default(),
            mode: ChainMode::Development,
        }
    }

    /// The AEDPoS parameters the rules and the producer use.
    pub fn development_params(&self) -> DevelopmentParams {
        let c = &self.consensus;
        let interval = c.mining_interval_ms.max(1);
        DevelopmentParams {
            candidates: self
                .development_miner_keys()
                .iter()
                .map(|k| k.pubkey().to_vec())
                .collect(),
            miners_per_term: c.miners_per_term as usize,
            start_ms: self
                .genesis_time
                .saturating_mul(1000)
                .saturating_add(interval),
            mining_interval_ms: interval,
            term_period_seconds: c.term_period_seconds,
        }
    }

    /// The keys of the development miners (public knowledge: development chains only).
    pub fn development_miner_keys(&self) -> Vec<crate::crypto::NodeKey> {
        (1..=self.consensus.miners.max(1))
            .map(development_key)
            .collect()
    }
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
        ChainSettings::development(9_992_731, genesis_time)
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
