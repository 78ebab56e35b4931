//! AEDPoS from block headers: the consensus rules every chain mode runs.
//!
//! Owns the consensus state a block leaves behind ([`ConsensusState`]: the round in force, the
//! previous round, the term, the continuous-blocks counter and the confirmed irreversible
//! height), the checks of a header against its parent's state ([`apply_header`]), the last
//! irreversible block rule, and what the development producer writes ([`next_production`]).
//! Pure: it must not read the store, the clock or the network; the chain hands it headers and
//! keeps one state per block.
//!
//! SKELETON: the bodies below are placeholders that accept every header and never advance the
//! irreversible height; the rules replace them.

use crate::pb::aelf_block::BlockHeader;
use std::sync::Arc;
use thiserror::Error;

/// The `extra_data` key of the consensus data.
pub const CONSENSUS_KEY: &str = "Consensus";

/// Why a header's consensus data was refused.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ConsensusError {
    #[error("the header has no consensus data")]
    Missing,
    #[error("the consensus data does not parse: {0}")]
    Unparseable(String),
    #[error("the consensus state is corrupt: {0}")]
    CorruptState(String),
}

/// The consensus state after one block. Cheap to clone.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsensusState {
    inner: Arc<StateInner>,
}

#[derive(Debug, Clone, PartialEq, Default)]
struct StateInner {
    irreversible_height: i64,
    round_number: i64,
    term_number: i64,
    miners: Vec<String>,
}

/// What a producer writes into its block.
#[derive(Debug, Clone, PartialEq)]
pub struct Production {
    /// The value of `extra_data["Consensus"]`.
    pub consensus: Vec<u8>,
    /// The block's time (Unix milliseconds).
    pub time_ms: i64,
}

/// The fixed parameters of a development chain's consensus (from `[chain]`). Every node of
/// the chain must agree on them: they decide the first round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevelopmentParams {
    /// The candidates' 65-byte public keys, in order.
    pub candidates: Vec<Vec<u8>>,
    /// Miners per term (0 = every candidate); term t's list starts at candidate (t − 1) mod len.
    pub miners_per_term: usize,
    /// The first round's first slot (Unix milliseconds; the genesis time).
    pub start_ms: i64,
    /// The time slot length I.
    pub mining_interval_ms: i64,
    /// A term lasts this long (C# `PeriodSeconds`, 604800 on mainnet).
    pub term_period_seconds: i64,
}

/// The deterministic key of development miner `i` (1-based). Public knowledge: for
/// development chains only.
pub fn development_key(i: u32) -> crate::crypto::NodeKey {
    let seed = crate::types::sha256(format!("aelf-net development miner {i}").as_bytes());
    crate::crypto::NodeKey::from_bytes(seed.0).unwrap_or_else(crate::crypto::NodeKey::generate)
}

impl ConsensusState {
    /// The state before block 2 of a development chain: round 1 of term 1.
    pub fn development(params: &DevelopmentParams) -> Result<ConsensusState, ConsensusError> {
        Ok(ConsensusState {
            inner: Arc::new(StateInner {
                round_number: 1,
                term_number: 1,
                miners: params.candidates.iter().map(hex::encode).collect(),
                ..Default::default()
            }),
        })
    }

    /// What a follower knows after a trusted checkpoint block, from its header alone.
    pub fn from_checkpoint(header: &BlockHeader) -> Result<ConsensusState, ConsensusError> {
        let _ = header;
        Ok(ConsensusState {
            inner: Arc::new(StateInner::default()),
        })
    }

    /// The state as stored beside its block.
    pub fn encode(&self) -> Vec<u8> {
        Vec::new()
    }

    /// A state written by [`ConsensusState::encode`].
    pub fn decode(bytes: &[u8]) -> Result<ConsensusState, ConsensusError> {
        let _ = bytes;
        Ok(ConsensusState {
            inner: Arc::new(StateInner::default()),
        })
    }

    /// The confirmed irreversible height after this block; 0 while none is known.
    pub fn irreversible_height(&self) -> i64 {
        self.inner.irreversible_height
    }

    pub fn round_number(&self) -> i64 {
        self.inner.round_number
    }

    pub fn term_number(&self) -> i64 {
        self.inner.term_number
    }

    /// The miners of the round in force, hex public keys.
    pub fn miners(&self) -> Vec<String> {
        self.inner.miners.clone()
    }
}

/// Checks `header` (its hash and signature already verified by the chain) against the state
/// after its parent; returns the state after it.
pub fn apply_header(
    parent: &ConsensusState,
    header: &BlockHeader,
) -> Result<ConsensusState, ConsensusError> {
    let _ = header;
    Ok(parent.clone())
}

/// What the miner `pubkey` writes if it may produce the block at `parent_height + 1` on top of
/// `parent` at `now_ms`; `None` when it is not its turn.
pub fn next_production(
    params: &DevelopmentParams,
    parent: &ConsensusState,
    parent_height: i64,
    pubkey: &[u8],
    now_ms: i64,
) -> Option<Production> {
    let _ = (params, parent, parent_height, pubkey, now_ms);
    None
}
